"""Auto-adjust for timbre transfer: move an input's pitch and loudness toward
what a model was trained on (the flow of Magenta's timbre-transfer notebook).

:func:`auto_adjust` runs the whole flow on one input's features:

1. note-on frames: :func:`~timbral.features.notes.detect_notes` (the
   threshold control, smoothing scaled to the frame rate), among the frames
   the voicing gate plays when it is given (``voiced``);
2. octave shift: whole octaves toward the dataset's ``mean_pitch``
   (:func:`octave_rule`, :func:`shift_f0`);
3. loudness: quantile (CDF) matching of the note-on loudness onto the
   dataset's note-on loudness table (:func:`fit_quantile_transform`,
   :class:`LoudnessMatch`), no stretch of levels widened more than twice;
4. quiet: note-off frames lowered by ``quiet * (1 - note_on_ratio)`` dB
   (:func:`quiet_drop_db`);
5. autotune (``amount > 0``): :func:`get_tuning_factor`,
   :func:`infer_major_key`, then :func:`tune_f0`.

:func:`apply_manual_shifts` is the notebook's manual step (pitch in octaves
and/or semitones, loudness in dB), applied after auto-adjust, and
:func:`floor_loudness` keeps the result at or above the models' -80 dB floor,
and at it on the frames the voicing gate does not play
(:mod:`timbral.features.voicing`): silence, not a quieter note.

The streaming auto-adjust (:mod:`timbral.stream.adjust`) applies the same
rules (:func:`octave_rule`, :func:`shift_f0`, :class:`LoudnessMatch`,
:func:`quiet_drop_db`, :func:`tune_f0`) frame by frame, with running statistics instead of the
whole input's.

Units: f0 in Hz (0 = unvoiced), pitch in MIDI note numbers (floats),
loudness in dB, confidence in [0, 1]. Curves are 1-D ``[n_frames]`` (numpy or
torch; ``[1, n_frames]`` accepted); results are numpy float64, except the two
pipeline outputs (:class:`AdjustResult` curves and :func:`apply_manual_shifts`)
which are float32 like :func:`timbral.features.compute_audio_features`.

Differences from Magenta, on purpose:

- :func:`auto_tune` in scale mode honours the tuning factor (Magenta snaps to
  the in-tune major scale whatever the detected detuning, so a 30-cent-sharp
  performance is pulled 30 cents flat instead of onto its own, detuned scale).
- Unvoiced frames (f0 = 0 Hz) stay 0 Hz through autotune (Magenta turns them
  into MIDI 0 = 8.18 Hz and may pull them toward a scale note).
- Quiet never raises a frame: a note-off frame whose ratio is between 1 and a
  note threshold above 1 is left as is (Magenta's ``quiet * (1 - ratio)``
  turns negative there and makes it up to ``quiet`` dB *louder*).
- :func:`get_tuning_factor` counts note changes by comparing integer note
  numbers, not floats (Magenta's exact float comparison sees spurious changes
  from rounding), and survives constant costs (Magenta divides by a zero
  standard deviation and picks -0.5).
- Note smoothing is 160 ms at any frame rate (Magenta: 40 frames).
- A silent input (mean loudness at the floor) has no notes instead of NaNs.
- Loudness matching widens the input's note-on range, and any stretch of it
  (read on a :data:`MATCH_GRID_DB` grid), at most
  :data:`MAX_LOUDNESS_EXPANSION` times (:class:`LoudnessMatch`): Magenta maps a
  held tone's 1 dB wobble onto the dataset's 30 dB, a deep tremolo (in Magenta
  the adjusted loudness never reaches the model, here it does); and a tone
  held between a fade in and out, whose sustain's 1e-6 dB wobble fills the
  middle of its CDF, onto 18 dB of flicker; and a phrase's loudest frames onto
  the dataset's rare loudest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from ..core import hz_to_midi, midi_to_hz
from ..data.statistics import REQUIRED_KEYS, QuantileTransform, same_rate, validate_statistics
from ..features.notes import (as_curve, check_confidence, check_same_length, contiguous,
                              detect_notes, smoothing_frames)
from ..models.preprocessing import LD_RANGE_DB
from ..validation import as_tensor, check_bool, check_number, check_size
from .controls import check_controls

__all__ = ["AdjustResult", "auto_adjust", "apply_manual_shifts", "floor_loudness",
           "fit_quantile_transform", "get_tuning_factor", "auto_tune", "infer_major_key",
           "tune_f0", "shift_f0", "shift_ld", "octave_rule", "octave_shift_to_dataset",
           "quiet_drop_db", "LoudnessMatch", "loudness_spread", "MAX_MIDI", "MAX_F0_HZ",
           "KEY_NAMES", "MAX_LOUDNESS_EXPANSION", "SPREAD_QUANTILES", "VIBRATO_SECONDS",
           "note_centres"]

#: f0 is clipped to this MIDI note (Magenta's notebook: ``midi_to_hz(110)``).
MAX_MIDI = 110.0
#: ``midi_to_hz(110)`` = 4698.64 Hz.
MAX_F0_HZ = float(midi_to_hz(torch.tensor(MAX_MIDI, dtype=torch.float64)))
#: Names of the 12 major keys by root pitch class (MIDI note % 12), as Magenta prints them.
KEY_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
#: Candidate tuning factors: 1-cent steps over [-0.5, 0.5] semitones.
TUNING_FACTORS = np.linspace(-0.5, 0.5, 101)
#: Autotune reads the tuning and the key from the notes' running median pitch over
#: this long (s, about a vibrato cycle): frame by frame, a singer's in-tune vibrato of
#: +-50 cents read as 39 cents sharp, and one of +-80 cents as half a semitone off.
VIBRATO_SECONDS = 0.2
_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
#: Major scale notes of every key, MIDI -12 .. 143 (wider than Magenta's 0 .. 130).
_ALL_SCALES = np.stack([np.ravel([_MAJOR + 12 * octave for octave in range(-1, 12)]) + root
                        for root in range(12)]).astype(np.float64)

#: The CDF values between which a loudness distribution's spread is measured (5 % of
#: frames cut at each end: a note's attack and release frames are not its dynamics).
SPREAD_QUANTILES = (0.05, 0.95)
#: Loudness matching widens the input's note-on spread, and any stretch of its levels
#: (dB of output per dB of input), at most this many times.
MAX_LOUDNESS_EXPANSION = 2.0
#: Loudness matching reads the input's levels on a grid this fine (dB), about the
#: least change of level heard: finer, it would follow the sampling noise of a short
#: input's CDF, and the slope limit would flatten its dynamics.
MATCH_GRID_DB = 1.0

QuantileLike = Union[QuantileTransform, Mapping]


# -------------------------------------------------------------- validation
def _mask(mask_on, name: str, n: int) -> np.ndarray:
    t = as_tensor(contiguous(mask_on), name)
    while t.ndim > 1 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 1 or t.shape[0] != n:
        raise ValueError(f"{name}: expected a boolean mask of shape [{n}], "
                         f"got {list(as_tensor(mask_on, name).shape)}")
    values = t.detach().cpu().numpy()
    if not np.isin(values, (0, 1)).all():
        raise ValueError(f"{name}: expected booleans (or 0/1), got other values")
    return values.astype(bool)


def _quantile(q: QuantileLike, name: str) -> QuantileTransform:
    if isinstance(q, QuantileTransform):
        return q
    if isinstance(q, Mapping):
        return QuantileTransform.from_dict(q)
    raise ValueError(f"{name}: expected a QuantileTransform or its dict form, "
                     f"got {type(q).__name__}")


def _check_key(key) -> int:
    key = check_size(key, "key", 0)
    if key > 11:
        raise ValueError(f"key: expected a pitch class 0 (C) .. 11 (B), got {key}")
    return key


def _midi(f0_hz: np.ndarray) -> np.ndarray:
    return hz_to_midi(torch.from_numpy(f0_hz)).numpy()


def _hz(f0_midi: np.ndarray) -> np.ndarray:
    return midi_to_hz(torch.from_numpy(f0_midi)).numpy()


# ------------------------------------------------------------------ shifts
def shift_f0(f0_hz, octaves: float) -> np.ndarray:
    """``f0_hz * 2 ** octaves``, clipped to [0, :data:`MAX_F0_HZ`] (MIDI 110).

    ``f0_hz``: ``[n_frames]`` Hz; ``octaves`` may be fractional (semitones / 12).
    """
    return _shift_f0(as_curve(f0_hz, "f0_hz"), check_number(octaves, "octaves"))


def _shift_f0(f0_hz: np.ndarray, octaves: float) -> np.ndarray:
    return np.clip(f0_hz * 2.0 ** octaves, 0.0, MAX_F0_HZ)


def shift_ld(loudness_db, db: float) -> np.ndarray:
    """``loudness_db + db`` (``[n_frames]`` dB; not clipped, like Magenta)."""
    return as_curve(loudness_db, "loudness_db") + check_number(db, "db")


def octave_rule(input_pitch: float, mean_pitch: float) -> float:
    """Whole octaves Magenta's rule shifts ``input_pitch`` by, in the direction of
    ``mean_pitch`` (both MIDI); the result may land farther from it.

    Magenta's notebook rule, kept as is: ``d = (mean_pitch - input_pitch) /
    12`` octaves, then ``floor(d)`` if ``d > 1.5`` else ``ceil(d)``. Note the
    rule is not symmetric rounding: an input 0.3 octave below the dataset
    goes up a whole octave, one 0.3 octave above stays, and 1.2 octaves below
    goes up 2.

    Returns:
      octaves as a float with an integer value (0.0, 1.0, -2.0, ...).
    """
    diff = (check_number(mean_pitch, "mean_pitch")
            - check_number(input_pitch, "input_pitch")) / 12.0
    return float(np.floor(diff) if diff > 1.5 else np.ceil(diff)) + 0.0  # no -0.0


def octave_shift_to_dataset(f0_hz, mask_on, mean_pitch: float) -> float:
    """Whole octaves the input's note-on pitch is shifted by for ``mean_pitch``:
    :func:`octave_rule` on the mean of ``hz_to_midi(f0_hz)[mask_on]``.

    Args:
      f0_hz: ``[n_frames]`` Hz.
      mask_on: ``[n_frames]`` bool note-on frames (at least one).
      mean_pitch: the dataset's mean pitch in MIDI (statistics ``mean_pitch``).

    Returns:
      octaves as a float with an integer value (0.0, 1.0, -2.0, ...).
    """
    f0 = as_curve(f0_hz, "f0_hz")
    mask = _mask(mask_on, "mask_on", len(f0))
    if not mask.any():
        raise ValueError("mask_on: has no note-on frames; cannot compare pitch")
    return _octave_shift(f0, mask, mean_pitch)


def _octave_shift(f0_hz: np.ndarray, mask: np.ndarray, mean_pitch: float) -> float:
    return octave_rule(float(np.mean(_midi(f0_hz)[mask])), mean_pitch)


def apply_manual_shifts(f0_hz, loudness_db, pitch_shift_octaves: float = 0.0,
                        semitones: float = 0.0,
                        loudness_shift_db: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """The notebook's manual step: shift pitch and loudness.

    ``f0_hz * 2 ** (pitch_shift_octaves + semitones / 12)`` clipped to
    [0, MIDI 110] and ``loudness_db + loudness_shift_db``. Returns float32
    ``(f0_hz, loudness_db)``, each ``[n_frames]``.
    """
    f0 = as_curve(f0_hz, "f0_hz")
    ld = as_curve(loudness_db, "loudness_db")
    check_same_length(f0_hz=f0, loudness_db=ld)
    octaves = (check_number(pitch_shift_octaves, "pitch_shift_octaves")
               + check_number(semitones, "semitones") / 12.0)
    ld = ld + check_number(loudness_shift_db, "loudness_shift_db")
    return _shift_f0(f0, octaves).astype(np.float32), ld.astype(np.float32)


def floor_loudness(loudness_db: np.ndarray, voiced: Optional[np.ndarray] = None) -> np.ndarray:
    """``loudness_db`` (numpy, any shape, dtype kept) raised to at least -80 dB,
    and exactly -80 dB where ``voiced`` (bool, the same shape) is False.

    Models never saw loudness below the -80 dB floor of
    :func:`~timbral.spectral_ops.compute_loudness`: quieter frames (after
    "quiet" or a negative shift) are silence to them, not something to
    extrapolate. Frames the voicing gate (:mod:`timbral.features.voicing`)
    does not play are set to that floor after every shift, so they are
    silence whatever the shifts, not a quieter note.
    """
    ld = np.maximum(np.asarray(loudness_db), -LD_RANGE_DB)
    if voiced is None:
        return ld
    return np.where(voiced, ld, -LD_RANGE_DB).astype(ld.dtype)


def quiet_drop_db(note_on_ratio, quiet: float) -> np.ndarray:
    """dB to take off a note-off frame: ``quiet * max(0, 1 - note_on_ratio)``.

    ``note_on_ratio``: a float or ``[n_frames]`` array (the ratio of
    :func:`~timbral.features.notes.detect_notes`); ``quiet``: dB. A frame
    whose ratio is above 1 is not raised (Magenta's ``quiet * (1 - ratio)``
    would). Returns float64 of the ratio's shape.
    """
    ratio = np.asarray(note_on_ratio, dtype=np.float64)
    return check_number(quiet, "quiet", minimum=0.0) * np.maximum(0.0, 1.0 - ratio)


# ---------------------------------------------------------------- loudness
def loudness_spread(inverse_cdf) -> float:
    """dB between the :data:`SPREAD_QUANTILES` of a loudness distribution.

    ``inverse_cdf`` maps CDF values (a float64 array) to dB: a
    :class:`QuantileTransform`'s ``inverse_transform``, or the streaming
    adjust's running histogram read backwards.
    """
    low, high = inverse_cdf(np.array(SPREAD_QUANTILES))
    return float(high - low)


class LoudnessMatch:
    """Quantile matching of note-on loudness onto a dataset's, for a narrow input too.

    ``LoudnessMatch(target)(u, input_spread_db)`` gives the dataset's loudness
    (dB) for input frames at CDF values ``u`` (``[n]`` in [0, 1], in the
    input's own note-on loudness distribution, whose :func:`loudness_spread`
    is ``input_spread_db``): quantile matching, ``target.inverse_transform(u)``,
    with the input's spread widened at most :data:`MAX_LOUDNESS_EXPANSION`
    times. When the dataset's spread is wider than that, every matched value
    is pulled toward the dataset's median: ``median + gain * (matched -
    median)``, ``gain = MAX_LOUDNESS_EXPANSION * input_spread_db / spread``. A
    melody's usual 15-30 dB range is matched as Magenta matches it; a held
    tone's fraction-of-a-dB wobble stays a wobble around the dataset's median
    instead of a tremolo over the whole training range. Returns float64 ``[n]``.
    What reaches the model is :meth:`curve`, which also holds every stretch of
    the input's levels to that widening.

    Attributes ``target``, ``median`` and ``spread`` (dB) describe the dataset's
    distribution (computed once: the streaming adjust calls this every frame).
    """

    def __init__(self, target: QuantileTransform):
        self.target = target
        self.median = float(target.inverse_transform(np.array([0.5]))[0])
        self.spread = loudness_spread(target.inverse_transform)

    def __call__(self, u, input_spread_db: float) -> np.ndarray:
        matched = self.target.inverse_transform(u)
        widest = MAX_LOUDNESS_EXPANSION * max(0.0, float(input_spread_db))
        if self.spread <= widest:
            return matched
        return self.median + (widest / self.spread) * (matched - self.median)

    def curve(self, grid_db: np.ndarray, u: np.ndarray, input_spread_db: float,
              input_median_db: float) -> np.ndarray:
        """The matched loudness (dB, ``[m]``) at input levels ``grid_db`` (``[m]``,
        increasing, dB), where the input's CDF is ``u``: this match with its slope held
        to :data:`MAX_LOUDNESS_EXPANSION` dB per dB, and its value at the input's median
        level kept (``input_median_db`` must lie on the grid, of 2 points or more). Many
        frames at nearly one level (a held tone's 1e-6 dB wobble) fill a steep stretch
        of the input's CDF; matched as they are, their order would spread them over the
        dataset's range, a tremolo of up to 18 dB."""
        matched = self(u, input_spread_db)
        rise = np.clip(np.diff(matched), 0.0, MAX_LOUDNESS_EXPANSION * np.diff(grid_db))
        capped = np.concatenate([[0.0], np.cumsum(rise)])
        # the match takes the input's median (u = 0.5) to the dataset's, narrowed or not
        return capped + self.median - np.interp(input_median_db, grid_db, capped)


def fit_quantile_transform(loudness_db, mask_on, inv_quantile: Optional[QuantileLike] = None
                           ) -> Tuple[QuantileTransform, np.ndarray]:
    """Quantile-match the note-on loudness of an input onto a dataset's.

    Magenta's ``fit_quantile_transform``: fit a :class:`QuantileTransform`
    (1000 quantiles at most) on ``loudness_db[mask_on]``, map those frames to
    uniform [0, 1] with it, then back to dB with ``inv_quantile``'s inverse,
    so the note-on frames end up with the dataset's loudness distribution
    (louder frames never quieter than softer ones). Note-off frames are unchanged. Unlike
    Magenta, no stretch of the input's levels is widened more than
    :data:`MAX_LOUDNESS_EXPANSION` times (:meth:`LoudnessMatch.curve`, on a
    :data:`MATCH_GRID_DB` grid): a narrow input is not stretched over the
    dataset's whole range, nor a held tone's wobble, nor a phrase's loudest
    frames up to the dataset's rare loudest.

    Args:
      loudness_db: ``[n_frames]`` dB.
      mask_on: ``[n_frames]`` bool note-on frames (at least one).
      inv_quantile: the dataset's transform (statistics ``quantile_transform``,
        as a :class:`QuantileTransform` or its dict), or None.

    Returns:
      ``(fitted transform of the input, loudness)``: float64 ``[n_frames]``,
      adjusted when ``inv_quantile`` is given, else an unchanged copy.
    """
    ld = as_curve(loudness_db, "loudness_db")
    mask = _mask(mask_on, "mask_on", len(ld))
    if not mask.any():
        raise ValueError("mask_on: has no note-on frames to fit a quantile transform on")
    inv = None if inv_quantile is None else _quantile(inv_quantile, "inv_quantile")
    return _fit_quantile_transform(ld, mask, inv)


def _fit_quantile_transform(ld: np.ndarray, mask: np.ndarray,
                            inv: Optional[QuantileTransform]):
    fitted = QuantileTransform.fit(ld[mask], 1000)
    out = ld.copy()
    if inv is not None:
        low, high = fitted.quantiles[0], fitted.quantiles[-1]
        first = np.floor(low / MATCH_GRID_DB) * MATCH_GRID_DB
        grid = first + MATCH_GRID_DB * np.arange(int((high - first) // MATCH_GRID_DB) + 2)
        curve = LoudnessMatch(inv).curve(grid, fitted.transform(grid),
                                         loudness_spread(fitted.inverse_transform),
                                         float(fitted.inverse_transform(np.array([0.5]))[0]))
        out[mask] = np.interp(ld[mask], grid, curve)
    return fitted, out


# ------------------------------------------------------------------ tuning
def note_centres(f0_midi, mask_on, frames: int) -> np.ndarray:
    """The pitch (MIDI, ``[n_frames]``) of each run of note-on frames as its running
    median over ``frames`` frames (an odd count: an even one takes one more; the run's
    end values repeated past its ends): a vibrato reads as its centre, and a note
    change stays a step (a mean would blend the two notes). Other frames are left as
    they are."""
    f0 = np.asarray(f0_midi, np.float64).copy()
    mask = np.asarray(mask_on, bool)
    half = max(0, int(frames) // 2)
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    for start, end in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
        padded = np.pad(f0[start:end], half, mode="edge")
        f0[start:end] = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1),
                                  axis=1)
    return f0


def get_tuning_factor(f0_midi, f0_confidence, mask_on) -> float:
    """Global detuning (semitones, in [-0.5, 0.5]) that best explains the notes.

    Magenta's ``get_tuning_factor``: for each candidate ``t`` on a 1-cent
    grid, each note-on frame's deviation from the nearest note of the grid
    ``t + integers`` (in (-0.5, 0.5]) gives ``cost_diffs(t) =
    mean(confidence * |deviation|)``, and the number of changes of that
    nearest note between consecutive note-on frames gives ``cost_deltas(t) =
    mean(confidence[:-1] * changed)``. Both are standardised over the
    candidates ((x - mean) / std; a constant cost contributes 0) and summed;
    the first minimum wins. A melody played 23 cents sharp gives ~0.23.

    Args:
      f0_midi: ``[n_frames]`` pitch in MIDI.
      f0_confidence: ``[n_frames]`` in [0, 1] (weights).
      mask_on: ``[n_frames]`` bool note-on frames (at least one).

    Returns:
      the tuning factor in semitones (0.23 = 23 cents sharp).
    """
    f0 = as_curve(f0_midi, "f0_midi")
    conf = as_curve(f0_confidence, "f0_confidence")
    check_same_length(f0_midi=f0, f0_confidence=conf)
    check_confidence(conf)
    mask = _mask(mask_on, "mask_on", len(f0))
    if not mask.any():
        raise ValueError("mask_on: has no note-on frames to estimate the tuning from")
    return _tuning_factor(f0, conf, mask)


def _standardise(x: np.ndarray) -> np.ndarray:
    std = np.std(x)
    return np.zeros_like(x) if std == 0 else (x - np.mean(x)) / std


def _tuning_factor(f0_midi: np.ndarray, conf: np.ndarray, mask: np.ndarray) -> float:
    f0 = f0_midi[mask][:, None]
    weights = conf[mask][:, None]
    rel = f0 - TUNING_FACTORS[None, :]
    diffs = rel % 1.0
    diffs[diffs > 0.5] -= 1.0
    cost_diffs = np.mean(weights * np.abs(diffs), axis=0)
    if len(f0) > 1:
        notes = np.rint(rel - diffs)  # the integer note each frame sits nearest to
        changed = (np.diff(notes, axis=0) != 0).astype(np.float64)
        cost_deltas = np.mean(weights[:-1] * changed, axis=0)
    else:
        cost_deltas = np.zeros_like(cost_diffs)
    cost = _standardise(cost_deltas) + _standardise(cost_diffs)
    return float(TUNING_FACTORS[int(np.argmin(cost))])


def infer_major_key(f0_midi, mask_on, tuning_factor: float = 0.0) -> int:
    """Root pitch class (0 = C .. 11 = B) of the major scale closest to the notes.

    The key whose scale notes (shifted by ``tuning_factor`` semitones) are
    nearest, on average over note-on frames, to ``f0_midi``; ties go to the
    lower pitch class (Magenta's rule). :data:`KEY_NAMES` names it.
    """
    f0 = as_curve(f0_midi, "f0_midi")
    mask = _mask(mask_on, "mask_on", len(f0))
    if not mask.any():
        raise ValueError("mask_on: has no note-on frames to infer a key from")
    return _infer_key(f0[mask] - check_number(tuning_factor, "tuning_factor"))


def _infer_key(rel_on: np.ndarray) -> int:
    # [time, key]: distance to the nearest note of each key's scale
    nearest = np.min(np.abs(rel_on[:, None, None] - _ALL_SCALES[None]), axis=-1)
    return int(np.argmin(np.mean(nearest, axis=0)))


def auto_tune(f0_midi, tuning_factor: float, mask_on, amount: float = 0.0,
              chromatic: bool = False) -> np.ndarray:
    """Pull f0 toward the nearest note of the (detuned) major scale or chromatic grid.

    Every voiced frame moves by ``amount`` times its distance to the nearest
    note of the target grid: the chromatic grid ``tuning_factor + integers``
    or, by default, the major scale (inferred from the note-on frames,
    :func:`infer_major_key`) shifted by ``tuning_factor``. ``amount`` 1 lands
    exactly on the grid, 0 changes nothing. Frames with ``f0_midi <= 0``
    (unvoiced, 0 Hz) are left as they are.

    Unlike Magenta, the tuning factor applies in scale mode too.

    Args:
      f0_midi: ``[n_frames]`` pitch in MIDI.
      tuning_factor: detuning in semitones (:func:`get_tuning_factor`).
      mask_on: ``[n_frames]`` bool note-on frames (used to infer the key).
      amount: 0..1.
      chromatic: snap to every semitone instead of the major scale.

    Returns:
      float64 ``[n_frames]`` pitch in MIDI.
    """
    f0 = as_curve(f0_midi, "f0_midi")
    mask = _mask(mask_on, "mask_on", len(f0))
    tuning_factor = check_number(tuning_factor, "tuning_factor")
    amount = check_number(amount, "amount")
    check_bool(chromatic, "chromatic")
    if not chromatic and not mask.any():
        raise ValueError("mask_on: has no note-on frames to infer a scale from")
    key = None if chromatic else _infer_key(f0[mask] - tuning_factor)
    return _pull(f0, tuning_factor, key, amount)


def _pull(f0_midi: np.ndarray, tuning_factor: float, key: Optional[int],
          amount: float) -> np.ndarray:
    """Voiced frames ``amount`` of the way to the nearest note of the major
    scale of ``key`` (None: every semitone), shifted by ``tuning_factor``."""
    rel = f0_midi - tuning_factor
    if key is None:
        diff = rel % 1.0
        diff[diff > 0.5] -= 1.0
    else:
        to_notes = rel[:, None] - _ALL_SCALES[key][None, :]
        nearest = np.argmin(np.abs(to_notes), axis=-1)
        diff = np.take_along_axis(to_notes, nearest[:, None], axis=-1)[:, 0]
    voiced = f0_midi > 0.0
    return np.where(voiced, f0_midi - amount * diff, f0_midi)


def tune_f0(f0_hz, tuning_factor: float, key: int, amount: float) -> np.ndarray:
    """Autotune in Hz: :func:`auto_tune` toward a given major key.

    Each voiced frame's pitch moves ``amount`` of the way to the nearest note
    of the major scale of ``key`` (0 = C .. 11 = B, :func:`infer_major_key`)
    shifted by ``tuning_factor`` semitones (:func:`get_tuning_factor`); the
    result is clipped to [0, :data:`MAX_F0_HZ`] and unvoiced frames (0 Hz)
    stay 0 Hz.

    Args:
      f0_hz: ``[n_frames]`` Hz.
      tuning_factor: detuning in semitones.
      key: root pitch class of the major scale.
      amount: 0..1 (1 lands on the scale).

    Returns:
      float64 ``[n_frames]`` Hz.
    """
    return _tune_f0(as_curve(f0_hz, "f0_hz"), check_number(tuning_factor, "tuning_factor"),
                    _check_key(key), check_number(amount, "amount"))


def _tune_f0(f0_hz: np.ndarray, tuning_factor: float, key: int, amount: float) -> np.ndarray:
    tuned = _pull(_midi(f0_hz), tuning_factor, key, amount)
    return np.where(f0_hz > 0.0, np.clip(_hz(tuned), 0.0, MAX_F0_HZ), 0.0)


# ----------------------------------------------------------------- the flow
@dataclass
class AdjustResult:
    """What :func:`auto_adjust` did.

    Attributes:
      f0_hz: float32 ``[n_frames]`` adjusted f0 (Hz).
      loudness_db: float32 ``[n_frames]`` adjusted loudness (dB).
      mask_on: bool ``[n_frames]`` note-on frames (computed even when the
        adjustment is skipped, for plots).
      note_on_ratio: float64 ``[n_frames]`` the detection ratio (plot it
        against the threshold).
      threshold: the note threshold used.
      adjusted: False when auto-adjust was skipped (see ``messages``).
      octave_shift: whole octaves f0 was shifted by (0.0 if skipped).
      tuning_factor: detuning in semitones when autotune ran, else None.
      key: inferred major key name when autotune ran, else None.
      messages: what happened, one line each, for the user.
    """

    f0_hz: np.ndarray
    loudness_db: np.ndarray
    mask_on: np.ndarray
    note_on_ratio: np.ndarray
    threshold: float = 1.0
    adjusted: bool = False
    octave_shift: float = 0.0
    tuning_factor: Optional[float] = None
    key: Optional[str] = None
    messages: List[str] = field(default_factory=list)


def auto_adjust(features: Mapping, statistics: Optional[Mapping], *,
                frame_rate: Optional[float] = None, threshold: float = 1.0,
                quiet: float = 20.0, autotune: float = 0.0,
                voiced: Optional[np.ndarray] = None) -> AdjustResult:
    """The notebook's auto-adjust of one input toward a model's training data.

    Args:
      features: mapping with 1-D ``f0_hz`` (Hz), ``f0_confidence`` ([0, 1]),
        ``loudness_db`` (dB) of equal length (and optionally ``frame_rate``).
      statistics: the model's dataset statistics
        (:mod:`timbral.data.statistics` form, validated here), or None when
        the model has none. Auto-adjust uses ``mean_pitch`` (all frames, as
        Magenta's notebook does) and ``quantile_transform``; without them it
        is skipped with a message.
      frame_rate: the features' frame rate in Hz (sets the note smoothing);
        None: ``features["frame_rate"]``.
      threshold: note threshold (0..2; higher marks fewer frames note-on).
      quiet: dB by which note-off frames are lowered, scaled by
        ``1 - note_on_ratio`` (0..60).
      autotune: amount of pitch correction toward the inferred major scale
        (0..1; 0 = off).
      voiced: bool ``[n_frames]``, the frames the voicing gate plays
        (:func:`~timbral.features.voicing.gate_voicing`), or None (all): a
        note-on frame must be voiced too. The others keep their loudness here;
        :func:`floor_loudness` silences them after the manual shifts.

    Returns:
      an :class:`AdjustResult`. When no notes are detected or there are no
      usable statistics, the curves are returned unchanged (as float32) with a message
      and ``adjusted=False``.
    """
    if not isinstance(features, Mapping):
        raise ValueError(f"features: expected a mapping, got {type(features).__name__}")
    missing = [k for k in ("f0_hz", "f0_confidence", "loudness_db") if k not in features]
    if missing:
        raise ValueError(f"features: missing {', '.join(missing)}")
    if frame_rate is None:
        if "frame_rate" not in features:
            raise ValueError("frame_rate: not given and features have no 'frame_rate'")
        frame_rate = features["frame_rate"]
    elif "frame_rate" in features and not same_rate(features["frame_rate"], frame_rate):
        raise ValueError(f"frame_rate: {frame_rate} differs from the features' "
                         f"{features['frame_rate']}")
    smoothing = smoothing_frames(frame_rate)
    f0 = as_curve(features["f0_hz"], "features.f0_hz")
    conf = as_curve(features["f0_confidence"], "features.f0_confidence")
    ld = as_curve(features["loudness_db"], "features.loudness_db")
    check_same_length(f0_hz=f0, f0_confidence=conf, loudness_db=ld)
    check_confidence(conf, "features.f0_confidence")
    controls = check_controls(dict(threshold=threshold, quiet=quiet, autotune=autotune))
    threshold, quiet, autotune = (controls[k] for k in ("threshold", "quiet", "autotune"))
    stats = None if statistics is None else validate_statistics(statistics)

    mask, ratio = detect_notes(ld, conf, note_threshold=threshold, smoothing=smoothing)
    if voiced is not None:
        mask &= _mask(voiced, "voiced", len(ld))
    result = AdjustResult(f0.astype(np.float32), ld.astype(np.float32), mask, ratio,
                          threshold=threshold)
    if stats is None:
        result.messages.append("Skipping auto-adjust: the model has no dataset statistics.")
        return result
    missing = [k for k in REQUIRED_KEYS if k not in stats]
    if missing:
        result.messages.append(f"Skipping auto-adjust: the model's dataset statistics have no "
                               f"{' or '.join(missing)}.")
        return result
    if not mask.any():  # a lower threshold cannot help where the gate plays nothing
        result.messages.append(
            "Skipping auto-adjust: no notes detected (the noise gate plays no frame)."
            if voiced is not None and not np.any(voiced) else
            "Skipping auto-adjust: no notes detected (try a lower note threshold).")
        return result

    octaves = _octave_shift(f0, mask, stats["mean_pitch"])
    if octaves:  # the numbers: the notebook's rule may land farther from the data's mean
        result.messages.append(f"Shifted pitch by {octaves:+.0f} octave(s) by the "
                               f"notebook's rule (the notes average MIDI "
                               f"{np.mean(_midi(f0)[mask]):.1f}, the data "
                               f"{stats['mean_pitch']:.1f}; a pitch shift adds to it).")
    f0 = _shift_f0(f0, octaves)
    inv = QuantileTransform.from_dict(stats["quantile_transform"])
    _, ld = _fit_quantile_transform(ld, mask, inv)
    result.messages.append(f"Matched the loudness of {int(mask.sum())} note-on frames to "
                           f"the training data.")
    off = ~mask
    ld[off] -= quiet_drop_db(ratio[off], quiet)

    if autotune > 0.0:
        centres = note_centres(_midi(f0), mask, round(VIBRATO_SECONDS * frame_rate))
        tuning = _tuning_factor(centres, conf, mask)
        key = _infer_key(centres[mask] - tuning)
        f0 = _tune_f0(f0, tuning, key, autotune)
        result.tuning_factor = tuning
        result.key = KEY_NAMES[key]
        result.messages.append(f"Autotune {autotune:.0%}: key {KEY_NAMES[key]} major, tuning "
                               f"offset {tuning * 100:+.0f} cents.")

    result.f0_hz = f0.astype(np.float32)
    result.loudness_db = ld.astype(np.float32)
    result.adjusted = True
    result.octave_shift = octaves
    return result
