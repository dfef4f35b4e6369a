"""Auto-adjust for streams: the notebook's adjustments with running statistics.

Offline auto-adjust (:func:`timbral.transfer.auto_adjust`) looks at a whole
clip: its mean loudness, the mean pitch of its notes, the distribution of its
note-on loudness. A stream has only its past, so :class:`StreamingAdjust`
keeps running versions of those and adjusts each frame as it arrives:

- note detection: Magenta's ratio
  (:func:`~timbral.features.notes.note_on_ratio`) with a *causal* box filter
  over the last ``smoothing_seconds`` (default 80 ms: half the offline 160 ms
  centred window, so a note's start is recognised with a similar delay) and
  the mean loudness of the stream so far (a cumulative mean that becomes an
  exponential one with a ``memory_seconds`` time constant), among the frames
  the voicing gate plays (the engine's :class:`~timbral.features.voicing.VoicingGate`);
- octave shift: Magenta's rule (:func:`~timbral.transfer.adjust.octave_rule`)
  on the running mean pitch of note-on frames, applied at the first note and
  afterwards changed only where a note starts (after a rest, or on the second
  frame of a step of a semitone or more in a legato line; never in the middle of a
  note, nor at a one-frame blip of the tracker); over the
  first note's first :data:`FIRST_NOTE_SECONDS` the rule reads the median of
  its frames, so one wrong frame at the attack (a harmonic the tracker caught
  before the note filled its window) does not set the octave for the phrase.
  After :data:`OCTAVE_SETTLE_SECONDS` of notes it changes only when the rule
  agrees :data:`OCTAVE_MARGIN` semitones either side of the running mean: a
  phrase whose mean lies near one of the rule's boundaries (the input's mean
  near the data's, say) flipped octaves mid-phrase. Against offline transfer,
  over 12 phrases and two models, the share of note frames played in another
  octave went from 0.132 to 0.095 (the first note still sets the first
  octave, which the phrase's mean may not share);
- loudness: quantile matching with the input's note-on loudness CDF taken
  from a decaying histogram (0.25 dB bins, ``memory_seconds``) that starts
  from the *dataset's* distribution with the weight of ``prior_seconds`` of
  note-on frames, so the mapping starts as the identity and moves toward the
  input's own as it plays (:meth:`~timbral.transfer.adjust.LoudnessMatch.curve`
  on every 1 dB edge, as offline, which also keeps a narrow input, a held
  tone, from being stretched); a prior of 0.5 s, as with 4 s the stream followed
  the input's recording level for 10-20 s (4-7 dB off offline for a melody 20 dB
  quieter);
- quiet: note-off frames lowered by ``quiet * max(0, 1 - ratio)`` dB
  (:func:`~timbral.transfer.adjust.quiet_drop_db`);
- autotune (``amount > 0``): the tuning factor and major key re-estimated
  every ``retune_seconds`` from the last ``memory_seconds`` (at most 10 s) of
  note-on frames (their running median over a vibrato cycle, as offline), each
  frame pulled toward the nearest note of that scale
  (:func:`~timbral.transfer.adjust.tune_f0`).

The rules are the offline ones (:mod:`timbral.transfer.adjust`); only the
statistics they are fed differ. Manual shifts are the engine's (they apply
with or without auto-adjust).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Mapping, Optional, Tuple

import numpy as np

from ..core import hz_to_midi
from ..data.statistics import REQUIRED_KEYS, QuantileTransform, validate_statistics
from ..features.notes import CONFIDENCE_EXPONENT, DEFAULT_MIN_DB, note_on_ratio
from ..transfer.adjust import (MATCH_GRID_DB, VIBRATO_SECONDS, LoudnessMatch, get_tuning_factor,
                               infer_major_key, loudness_spread, note_centres, octave_rule,
                               quiet_drop_db, shift_f0, tune_f0)
from ..transfer.controls import check_controls

#: Loudness histogram: bins (dB) for the running input CDF.
HIST_LOW_DB, HIST_HIGH_DB, HIST_STEP_DB = -80.0, 40.0, 0.25
#: The dataset's loudness spread counts as this much heard audio when the
#: input's spread is estimated (a note's first frames alone have none yet).
SPREAD_PRIOR_SECONDS = 0.25
#: Autotune looks at most this far back (frames are kept in a fixed ring).
TUNING_SECONDS = 10.0
#: The first note's octave is read from the median of its frames this long (s).
FIRST_NOTE_SECONDS = 0.2
#: After this much of notes (s), the octave changes only when the rule gives the new
#: shift for the running mean pitch OCTAVE_MARGIN semitones on either side of it.
OCTAVE_SETTLE_SECONDS, OCTAVE_MARGIN = 3.0, 2.0


def _cdf(counts: np.ndarray) -> Optional[np.ndarray]:
    """A histogram's CDF at its bin edges (None when it is empty)."""
    total = counts.sum()
    return None if total <= 0 else np.concatenate([[0.0], np.cumsum(counts) / total])


def _midi(hz: float) -> float:
    import torch

    return float(hz_to_midi(torch.tensor(hz, dtype=torch.float64)))


@dataclass
class AdjustedFrame:
    """One frame after :class:`StreamingAdjust`."""

    f0_hz: float
    loudness_db: float
    note_on: bool
    ratio: float
    octave_shift: float


class StreamingAdjust:
    """Frame-by-frame auto-adjust toward a model's training data (see module doc).

    Args:
      statistics: the model's dataset statistics (None or without
        ``mean_pitch``/``quantile_transform``: only note detection runs and
        :attr:`messages` says why).
      frame_rate: frames per second.
      threshold: note threshold (0..2).
      quiet: dB by which note-off frames are lowered (0..60).
      autotune: amount of pull toward the running major scale (0..1).
      smoothing_seconds, memory_seconds, prior_seconds, retune_seconds: see
        the module doc.
    """

    def __init__(self, statistics: Optional[Mapping], frame_rate: float, *,
                 threshold: float = 1.0, quiet: float = 20.0, autotune: float = 0.0,
                 smoothing_seconds: float = 0.08, memory_seconds: float = 30.0,
                 prior_seconds: float = 0.5, retune_seconds: float = 0.5):
        controls = check_controls(dict(threshold=threshold, quiet=quiet, autotune=autotune))
        self.frame_rate = float(frame_rate)
        self.threshold, self.quiet, self.autotune = (controls["threshold"], controls["quiet"],
                                                     controls["autotune"])
        self.smooth_n = max(1, int(round(smoothing_seconds * self.frame_rate)))
        self.memory_frames = max(1.0, memory_seconds * self.frame_rate)
        self.retune_every = max(1, int(round(retune_seconds * self.frame_rate)))
        self.first_frames = max(1, int(round(FIRST_NOTE_SECONDS * self.frame_rate)))
        self.settle_frames = int(round(OCTAVE_SETTLE_SECONDS * self.frame_rate))
        self.messages: List[str] = []
        stats = None if statistics is None else validate_statistics(statistics)
        self.enabled = stats is not None and all(k in stats for k in REQUIRED_KEYS)
        if stats is None:
            self.messages.append("Auto-adjust off: the model has no dataset statistics "
                                 "(only note detection runs).")
        elif not self.enabled:
            self.messages.append("Auto-adjust off: the model's statistics lack mean_pitch or "
                                 "quantile_transform.")
        self.edges = np.arange(HIST_LOW_DB, HIST_HIGH_DB + HIST_STEP_DB / 2, HIST_STEP_DB)
        self._grid_every = max(1, int(round(MATCH_GRID_DB / HIST_STEP_DB)))  # the match's grid
        self._prior = np.zeros(len(self.edges) - 1)
        if self.enabled:
            self.mean_pitch = float(stats["mean_pitch"])
            self.target = QuantileTransform.from_dict(stats["quantile_transform"])
            self.match = LoudnessMatch(self.target)
            self._spread_prior = max(1.0, SPREAD_PRIOR_SECONDS * self.frame_rate)
            cdf = self.target.transform(np.clip(self.edges, self.target.quantiles[0] - 1e-9,
                                                self.target.quantiles[-1] + 1e-9))
            pmf = np.diff(cdf)
            total = pmf.sum()
            if total > 0:
                self._prior = pmf / total * max(1.0, prior_seconds * self.frame_rate)
        n_tune = int(round(min(memory_seconds, TUNING_SECONDS) * self.frame_rate))
        self._tune_midi = np.zeros(max(1, n_tune))
        self._tune_conf = np.zeros(max(1, n_tune))
        self.reset()

    def reset(self) -> None:
        """Forget the stream (running statistics back to their start)."""
        self._conf = np.zeros(self.smooth_n)  # ring of conf ** exponent (zeros: silence before)
        self._conf_i = 0
        self.frames = 0
        self.mean_db = DEFAULT_MIN_DB
        self.notes = 0  # note-on frames seen
        self.mean_note_pitch = 0.0
        self.octave_shift = 0.0
        #: ``(seconds, octaves)``: when the notes' octave shift took each new value
        self.octave_changes: List[Tuple[float, float]] = []
        self._octave_set = False
        self._last_midi = 0.0  # the last note-on frame's pitch (MIDI)
        self._note_midi = 0.0  # the pitch its note started at
        self._first: Optional[List[float]] = []  # the first note's pitches; None once read
        self._heard = np.zeros_like(self._prior)  # the input's own note-on frames
        self._prior_weight = 1.0  # decays like the frames heard
        self._tune_n = 0
        self._tune_i = 0
        self.tuning: Optional[float] = None
        self.key: Optional[int] = None

    def octave_message(self) -> Optional[str]:
        """What the stream so far did to the notes' octave, for the user (None: nothing)."""
        shifts = self.octave_changes
        if not shifts or [o for _, o in shifts] == [0.0]:
            return None
        said = ", then ".join(f"{o:+.0f} from {t:.2f} s" for t, o in shifts[:6])
        more = f" and {len(shifts) - 6} later change(s)" if len(shifts) > 6 else ""
        return (f"Shifted pitch by octave(s) {said}{more}, by the notebook's rule on the notes "
                f"heard so far (the data's mean pitch is MIDI {self.mean_pitch:.1f}; a pitch "
                f"shift adds to it).")

    # ----------------------------------------------------------------- pieces
    def _rate(self, n: int) -> float:
        """Cumulative mean for the first frames, exponential afterwards."""
        return max(1.0 / n, 1.0 / self.memory_frames)

    def _match_loudness(self, db: float) -> float:
        """Note-on loudness through the offline rule, fed running statistics.

        The frame's CDF value comes from the histogram with its prior; the
        input's spread from the frames heard, pooled with the dataset's spread
        weighted as :data:`SPREAD_PRIOR_SECONDS` of frames (a note's first
        frames alone have no spread yet).
        """
        cdf = _cdf(self._prior * self._prior_weight + self._heard)
        if cdf is None:  # nothing heard and no prior: leave the frame as it is
            return db
        weight = self._heard.sum()
        heard = 0.0 if weight <= 0 else loudness_spread(
            lambda q: np.interp(q, _cdf(self._heard), self.edges))
        prior = self._spread_prior * self._prior_weight
        spread = (prior * self.match.spread + weight * heard) / (prior + weight)
        every = self._grid_every
        curve = self.match.curve(self.edges[::every], cdf[::every], spread,
                                 float(np.interp(0.5, cdf, self.edges)))
        return float(np.interp(db, self.edges[::every], curve))

    def _update_hist(self, db: float) -> None:
        decay = 1.0 - 1.0 / self.memory_frames
        self._heard *= decay
        self._prior_weight *= decay
        i = int(np.clip((db - HIST_LOW_DB) // HIST_STEP_DB, 0, len(self._heard) - 1))
        self._heard[i] += 1.0

    def _retune(self) -> None:
        n = min(self._tune_n, len(self._tune_midi))
        if n == 0:
            return
        midi, conf = self._tune_midi[:n], self._tune_conf[:n]
        if self._tune_n > len(self._tune_midi):  # ring: oldest first for the note changes
            order = np.roll(np.arange(n), -self._tune_i)
            midi, conf = midi[order], conf[order]
        mask = np.ones(n, bool)
        midi = note_centres(midi, mask, round(VIBRATO_SECONDS * self.frame_rate))
        self.tuning = get_tuning_factor(midi, conf, mask)
        self.key = infer_major_key(midi, mask, self.tuning)

    # ------------------------------------------------------------------ frame
    def __call__(self, f0_hz: float, confidence: float, loudness_db: float,
                 voiced: bool = True) -> AdjustedFrame:
        """Adjust one frame (Hz, [0, 1], dB; ``voiced``: the voicing gate plays
        it, else it cannot be note-on)."""
        self.frames += 1
        ld = float(loudness_db)
        self.mean_db += (ld - self.mean_db) * self._rate(self.frames)
        self._conf[self._conf_i] = float(confidence) ** CONFIDENCE_EXPONENT
        self._conf_i = (self._conf_i + 1) % self.smooth_n
        ratio = float(note_on_ratio(self._conf.mean(), ld, self.mean_db))
        note_on = bool(voiced) and ratio >= self.threshold
        f0 = float(f0_hz)
        if not self.enabled:
            return AdjustedFrame(f0, ld, note_on, ratio, 0.0)

        midi = _midi(f0) if f0 > 0 else 0.0
        young = False
        if note_on and f0 > 0:
            self.notes += 1
            self.mean_note_pitch += (midi - self.mean_note_pitch) * self._rate(self.notes)
            if self._first is not None:
                self._first.append(midi)
                young = len(self._first) <= self.first_frames
            self._update_hist(ld)
            if self.autotune > 0:
                i = self._tune_i
                self._tune_midi[i], self._tune_conf[i] = midi, float(confidence)
                self._tune_i = (i + 1) % len(self._tune_midi)
                self._tune_n += 1
        if self._first and not young:  # the first note's start is read: its median stands
            self.mean_note_pitch = float(np.median(self._first))
            self._first = None
        # the octave shift is set at the first note and afterwards changes only where a
        # note starts (see the module doc): after a rest, or where a legato line's pitch
        # moved a semitone from its note's and held a second frame (no tracker blip)
        new_note = not note_on or (f0 > 0 and abs(midi - self._note_midi) >= 1.0
                                   and abs(midi - self._last_midi) < 0.5)
        if note_on and f0 > 0:
            if new_note or not self._note_midi:
                self._note_midi = midi
            self._last_midi = midi
        if self.notes and (not self._octave_set or young):
            pitch = float(np.median(self._first)) if young else self.mean_note_pitch
            self.octave_shift = octave_rule(pitch, self.mean_pitch)
            self._octave_set = True
        elif self.notes and new_note:
            margin = OCTAVE_MARGIN if self.notes > self.settle_frames else 0.0
            low = octave_rule(self.mean_note_pitch - margin, self.mean_pitch)
            if low == octave_rule(self.mean_note_pitch + margin, self.mean_pitch):
                self.octave_shift = low
        f0 = float(shift_f0([f0], self.octave_shift)[0])
        if note_on and (not self.octave_changes
                        or self.octave_changes[-1][1] != self.octave_shift):
            self.octave_changes.append(((self.frames - 1) / self.frame_rate, self.octave_shift))

        if note_on:
            ld = self._match_loudness(ld)
        else:
            ld -= float(quiet_drop_db(ratio, self.quiet))

        if self.autotune > 0 and f0 > 0:
            if self._tune_n and (self.tuning is None or self.frames % self.retune_every == 0):
                self._retune()
            if self.tuning is not None:
                f0 = float(tune_f0([f0], self.tuning, self.key, self.autotune)[0])
        return AdjustedFrame(f0, ld, note_on, ratio, self.octave_shift)


__all__ = ["AdjustedFrame", "StreamingAdjust"]
