"""Dataset statistics for auto-adjust: pitch/loudness summaries and a loudness CDF.

A model folder carries these so timbre transfer can move an input toward what
the model was trained on (octave shift toward ``mean_pitch``, quantile matching
of note-on loudness). They are computed the way Magenta's
``postprocessing.compute_dataset_statistics`` does, and stored as plain JSON
instead of a pickle::

    {"format": "timbral.statistics", "version": 1, "frame_rate": 250,
     "mean_pitch": ..., "max_pitch": ..., "min_pitch": ...,
     "mean_max_pitch": ..., "mean_min_pitch": ..., "std_pitch": ...,
     "mean_loudness": ..., ... "std_loudness": ...,
     "mean_pitch_note": ..., ... "std_loudness_note": ...,
     "quantile_transform": {"n_quantiles": 1000, "output_distribution": "uniform",
                            "quantiles": [...], "references": [...]}}

Pitch is in MIDI note numbers (``hz_to_midi(f0_hz)``), loudness in dB. Keys
without a suffix are over all frames; ``*_note`` keys over note-on frames only
(:func:`timbral.features.notes.detect_notes`). ``mean_max_*``/``mean_min_*``
are the mean over examples of each example's max/min (for ``*_note``: over
the examples that have note-on frames). Standard deviations are population
(``ddof=0``) like numpy's default.

Differences from Magenta, on purpose:

- Magenta trims 20 frames and smooths over 40 frames whatever the frame rate
  (its helper also mixed 50 Hz and 250 Hz frames); here both are durations
  (80 ms and 160 ms) converted to frames at the data's frame rate.
- Magenta treats *every* frame of an example without detected notes as note-on
  ("default to using full signal"), which puts silences into the note-on
  loudness table; here such examples simply contribute no note-on frames, and
  a dataset with no note-on frames at all is an error.
- Magenta's transformer fits on a random subsample of 100,000 frames when
  there are more (non-deterministic); here the quantiles use every frame.
- Magenta's power statistics (``*_power``) are not computed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional

import numpy as np
import torch

from ..core import hz_to_midi
from ..features.notes import (DEFAULT_MIN_DB, MAGENTA_FRAME_RATE, as_curve, check_confidence,
                              check_same_length, contiguous, detect_notes, smoothing_frames)
from ..files import atomic_output
from ..validation import as_tensor, check_document, check_finite, check_positive, check_size

__all__ = ["QuantileTransform", "compute_dataset_statistics", "validate_statistics",
           "save_statistics", "load_statistics", "trim_frames", "same_rate", "STATISTICS_FORMAT",
           "STATISTICS_VERSION", "STAT_KEYS", "REQUIRED_KEYS", "DEFAULT_N_QUANTILES"]

STATISTICS_FORMAT = "timbral.statistics"
STATISTICS_VERSION = 1
DEFAULT_N_QUANTILES = 1000
#: Magenta trims this many frames off the end of every example at 250 Hz (80 ms).
MAGENTA_TRIM_END = 20

_STAT_NAMES = ("mean", "max", "min", "mean_max", "mean_min", "std")
#: The 24 summary numbers, in the order they are written.
STAT_KEYS = tuple(f"{stat}_{what}{suffix}" for suffix in ("", "_note")
                  for what in ("pitch", "loudness") for stat in _STAT_NAMES)
#: What auto-adjust needs (older Magenta pickles carry little more than these).
REQUIRED_KEYS = ("mean_pitch", "quantile_transform")
#: Magenta's power statistics: not computed here, checked when an import carries them.
_POWER_KEYS = tuple(f"{stat}_power{suffix}" for suffix in ("", "_note") for stat in _STAT_NAMES)
_NUMERIC_KEYS = STAT_KEYS + _POWER_KEYS


# ------------------------------------------------------------------ quantiles
class QuantileTransform:
    """Empirical CDF of one variable, mapping values <-> uniform [0, 1].

    The maths of Magenta's ``QuantileTransformer`` (a stripped-down
    scikit-learn transformer, uniform output, one feature):

    - fit: ``references = linspace(0, 1, n)`` with ``n = min(n_quantiles,
      n_values)``; ``quantiles = nanpercentile(values, references * 100)``
      made non-decreasing (``maximum.accumulate``).
    - forward: ``0.5 * (interp(x, q, r) - interp(-x, -q[::-1], -r[::-1]))``
      (the mean of interpolating up and down, so repeated quantiles map to the
      middle of their range); values equal to ``q[-1]`` map to 1 and values
      equal to ``q[0]`` to 0 (in that order, so 0 wins if they coincide);
      outside the range clamps to 0 / 1.
    - inverse: ``interp(u, r, q)``; ``u == 1`` maps to ``q[-1]``, ``u == 0`` to
      ``q[0]``.

    Attributes ``quantiles`` and ``references`` are float64 ``[n]`` arrays.
    """

    def __init__(self, quantiles, references=None):
        q = np.asarray(quantiles, dtype=np.float64).reshape(-1)
        r = (np.linspace(0.0, 1.0, len(q)) if references is None
             else np.asarray(references, dtype=np.float64).reshape(-1))
        _check_table(q, r)
        self.quantiles = q
        self.references = r

    @property
    def n_quantiles(self) -> int:
        return int(len(self.quantiles))

    @classmethod
    def fit(cls, values, n_quantiles: int = DEFAULT_N_QUANTILES) -> "QuantileTransform":
        """Fit on ``values`` (any shape, flattened; finite), with at most
        ``n_quantiles`` quantiles (fewer when there are fewer values)."""
        values = _as_array(values, "values").reshape(-1)
        if values.size == 0:
            raise ValueError("values: cannot fit a quantile transform on zero values")
        n_quantiles = check_size(n_quantiles, "n_quantiles")
        return cls._fit(values, n_quantiles)

    @classmethod
    def _fit(cls, values: np.ndarray, n_quantiles: int) -> "QuantileTransform":
        n = max(1, min(n_quantiles, values.size))
        references = np.linspace(0.0, 1.0, n)
        quantiles = np.maximum.accumulate(np.nanpercentile(values, references * 100.0))
        return cls(quantiles, references)

    def transform(self, x) -> np.ndarray:
        """Values (e.g. dB, any shape) -> their CDF value in [0, 1], float64."""
        return self._transform(_as_array(x, "x"))

    def _transform(self, x: np.ndarray) -> np.ndarray:
        q, r = self.quantiles, self.references
        out = 0.5 * (np.interp(x, q, r) - np.interp(-x, -q[::-1], -r[::-1]))
        out[x == q[-1]] = 1.0
        out[x == q[0]] = 0.0
        return out

    def inverse_transform(self, u) -> np.ndarray:
        """CDF values in [0, 1] (any shape) -> values, float64."""
        return self._inverse_transform(_as_array(u, "u"))

    def _inverse_transform(self, u: np.ndarray) -> np.ndarray:
        q, r = self.quantiles, self.references
        out = np.interp(u, r, q)
        out[u == 1.0] = q[-1]
        out[u == 0.0] = q[0]
        return out

    def to_dict(self) -> dict:
        """The JSON form (``"quantile_transform"`` in the statistics file)."""
        return {"n_quantiles": self.n_quantiles, "output_distribution": "uniform",
                "quantiles": [float(v) for v in self.quantiles],
                "references": [float(v) for v in self.references]}

    @classmethod
    def from_dict(cls, d: Mapping) -> "QuantileTransform":
        """Rebuild from :meth:`to_dict`'s form; raises ValueError if malformed."""
        if not isinstance(d, Mapping):
            raise ValueError(f"quantile_transform: expected a mapping, got {type(d).__name__}")
        missing = [k for k in ("n_quantiles", "quantiles", "references") if k not in d]
        if missing:
            raise ValueError(f"quantile_transform: missing {', '.join(missing)}")
        distribution = d.get("output_distribution", "uniform")
        if distribution != "uniform":
            raise ValueError(f"quantile_transform: output_distribution must be 'uniform', "
                             f"got {distribution!r}")
        n = d["n_quantiles"]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"quantile_transform: n_quantiles must be an integer >= 1, "
                             f"got {n!r}")
        q, r = (_number_list(d[k], f"quantile_transform.{k}") for k in ("quantiles",
                                                                          "references"))
        if len(q) != n:
            raise ValueError(f"quantile_transform: n_quantiles is {n} but there are "
                             f"{len(q)} quantiles")
        return cls(q, r)

    def __repr__(self) -> str:
        return (f"QuantileTransform(n_quantiles={self.n_quantiles}, "
                f"range=[{self.quantiles[0]:.4g}, {self.quantiles[-1]:.4g}])")


def _as_array(x, name: str) -> np.ndarray:
    t = as_tensor(contiguous(x), name)
    check_finite(t, name)
    return t.detach().to("cpu", torch.float64).numpy().copy()


def _number_list(values, name: str) -> np.ndarray:
    if isinstance(values, (str, bytes, Mapping)):
        raise ValueError(f"{name}: expected a list of numbers")
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a list of numbers") from None
    return arr


def _check_table(q: np.ndarray, r: np.ndarray) -> None:
    if len(q) == 0:
        raise ValueError("quantile_transform: has no quantiles")
    if len(r) != len(q):
        raise ValueError(f"quantile_transform: {len(q)} quantiles but {len(r)} references")
    if not (np.isfinite(q).all() and np.isfinite(r).all()):
        raise ValueError("quantile_transform: quantiles and references must be finite")
    if np.any(np.diff(q) < 0):
        raise ValueError("quantile_transform: quantiles must be non-decreasing")
    if np.any(np.diff(r) <= 0):
        raise ValueError("quantile_transform: references must be increasing")
    if r[0] != 0.0 or (len(r) > 1 and r[-1] != 1.0):
        raise ValueError(f"quantile_transform: references must run from 0 to 1, got "
                         f"{r[0]:.6g} .. {r[-1]:.6g}")


# ----------------------------------------------------------------- statistics
def trim_frames(frame_rate: float) -> int:
    """Frames trimmed off the end of every example at ``frame_rate``: Magenta's
    20 frames at 250 Hz (80 ms) as a duration, rounded (50 Hz -> 4)."""
    frame_rate = check_positive(frame_rate, "frame_rate")
    return int(round(MAGENTA_TRIM_END * frame_rate / MAGENTA_FRAME_RATE))


def _summary(per_example: List[np.ndarray], prefix: str) -> Dict[str, float]:
    """Magenta's get_stats over the non-empty arrays of ``per_example``."""
    kept = [x for x in per_example if x.size]
    flat = np.concatenate(kept)
    return {f"mean_{prefix}": float(np.mean(flat)), f"max_{prefix}": float(np.max(flat)),
            f"min_{prefix}": float(np.min(flat)),
            f"mean_max_{prefix}": float(np.mean([x.max() for x in kept])),
            f"mean_min_{prefix}": float(np.mean([x.min() for x in kept])),
            f"std_{prefix}": float(np.std(flat))}


def same_rate(value, frame_rate) -> bool:
    """Whether two frame rates (Hz; numbers or numeric strings) are equal as
    floats; False when either is not a number."""
    try:
        return float(value) == float(frame_rate)
    except (TypeError, ValueError):
        return False


def _frame_rate_value(frame_rate) -> object:
    frame_rate = check_positive(frame_rate, "frame_rate")
    return int(frame_rate) if float(frame_rate).is_integer() else frame_rate


def compute_dataset_statistics(examples: Iterable[Mapping], frame_rate: float,
                               trim_end_frames: Optional[int] = None,
                               n_quantiles: int = DEFAULT_N_QUANTILES,
                               min_db: float = DEFAULT_MIN_DB) -> dict:
    """Statistics of a training set for auto-adjust (see the module docstring).

    Args:
      examples: iterable of mappings, one per training example, each with 1-D
        ``f0_hz`` (Hz), ``f0_confidence`` ([0, 1]) and ``loudness_db`` (dB)
        of equal length (numpy, torch or lists; lengths may differ between
        examples). A ``frame_rate`` entry, if present, must equal
        ``frame_rate``.
      frame_rate: feature frames per second.
      trim_end_frames: frames dropped from the end of every example before
        anything is computed; None: :func:`trim_frames` (20 at 250 Hz).
      n_quantiles: size of the loudness quantile table (at most the number of
        note-on frames).
      min_db: loudness floor for note detection.

    Note detection uses :func:`~timbral.features.notes.detect_notes` on each
    trimmed example with the smoothing scaled to the frame rate and, like
    Magenta (which runs it on the whole batch at once), the mean loudness of
    the *whole* trimmed dataset as the reference.

    Returns:
      the statistics dict (JSON-ready, validated).

    Raises:
      ValueError: on malformed examples, or when no note-on frame is found.
    """
    frame_rate_value = _frame_rate_value(frame_rate)
    trim = (trim_frames(frame_rate_value) if trim_end_frames is None
            else check_size(trim_end_frames, "trim_end_frames", minimum=0))
    n_quantiles = check_size(n_quantiles, "n_quantiles")
    smoothing = smoothing_frames(frame_rate_value)

    pitch, loudness, confidence = [], [], []
    for i, example in enumerate(examples):
        if not isinstance(example, Mapping):
            raise ValueError(f"examples[{i}]: expected a mapping of feature arrays, got "
                             f"{type(example).__name__}")
        missing = [k for k in ("f0_hz", "f0_confidence", "loudness_db") if k not in example]
        if missing:
            raise ValueError(f"examples[{i}]: missing {', '.join(missing)}")
        if "frame_rate" in example and not same_rate(example["frame_rate"], frame_rate_value):
            raise ValueError(f"examples[{i}]: frame_rate {example['frame_rate']} differs from "
                             f"frame_rate={frame_rate_value}")
        curves = {k: as_curve(example[k], f"examples[{i}].{k}")
                  for k in ("f0_hz", "f0_confidence", "loudness_db")}
        n = check_same_length(**curves)
        check_confidence(curves["f0_confidence"], f"examples[{i}].f0_confidence")
        if n <= trim:
            raise ValueError(f"examples[{i}]: has {n} frames, not more than the "
                             f"{trim} trimmed from the end of each example")
        keep = slice(0, n - trim)
        pitch.append(hz_to_midi(torch.from_numpy(curves["f0_hz"][keep])).numpy())
        confidence.append(curves["f0_confidence"][keep])
        loudness.append(curves["loudness_db"][keep])
    if not loudness:
        raise ValueError("examples: no examples given")

    reference_db = float(np.mean(np.concatenate(loudness)))
    masks = [detect_notes(ld, conf, smoothing=smoothing, min_db=min_db,
                          reference_db=reference_db)[0]
             for ld, conf in zip(loudness, confidence)]
    n_on = int(sum(m.sum() for m in masks))
    if n_on == 0:
        raise ValueError(f"no notes detected in the training data: none of the "
                         f"{sum(len(m) for m in masks)} frames of {len(masks)} examples is "
                         f"note-on (pitch confidence too low, or silent audio?)")

    stats: dict = {"format": STATISTICS_FORMAT, "version": STATISTICS_VERSION,
                   "frame_rate": frame_rate_value}
    stats.update(_summary(pitch, "pitch"))
    stats.update(_summary(loudness, "loudness"))
    stats.update(_summary([p[m] for p, m in zip(pitch, masks)], "pitch_note"))
    stats.update(_summary([ld[m] for ld, m in zip(loudness, masks)], "loudness_note"))
    note_loudness = np.concatenate([ld[m] for ld, m in zip(loudness, masks)])
    stats["quantile_transform"] = QuantileTransform._fit(note_loudness, n_quantiles).to_dict()
    return validate_statistics(stats)


def _finite_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"statistics: {name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"statistics: {name} must be finite, got {value}")
    return value


def validate_statistics(d: Mapping) -> dict:
    """Check a statistics dict; return a normalised copy (plain floats and lists).

    Checks: ``format`` is ``"timbral.statistics"``, ``version`` is 1,
    ``frame_rate`` is present and a positive number or None (unknown, e.g.
    imported from a Magenta pickle), every summary number present
    (:data:`STAT_KEYS`, and Magenta's ``*_power`` ones) is a finite number,
    and ``quantile_transform``, if present, is a well-formed table (a dict as
    in the module docstring, or a :class:`QuantileTransform`) with finite,
    non-decreasing quantiles. The summaries and the table are optional so
    that imports of old Magenta pickles (which carry only a few of them) load;
    auto-adjust needs :data:`REQUIRED_KEYS` and says so when they are missing.
    Other keys are kept unchecked.

    Raises:
      ValueError: one line naming the problem.
    """
    check_document(d, "statistics", STATISTICS_FORMAT, STATISTICS_VERSION)
    if "frame_rate" not in d:
        raise ValueError("statistics: missing frame_rate (use null if unknown)")
    out = dict(d)
    fr = d["frame_rate"]
    if fr is not None:
        if (isinstance(fr, bool) or not isinstance(fr, (int, float, np.integer, np.floating))
                or not math.isfinite(fr) or fr <= 0):
            raise ValueError(f"statistics: frame_rate must be a positive number or null, "
                             f"got {fr!r}")
        out["frame_rate"] = _frame_rate_value(fr)
    for key in _NUMERIC_KEYS:
        if key in d:
            out[key] = _finite_number(d[key], key)
    if "quantile_transform" in d:
        qt = d["quantile_transform"]
        if not isinstance(qt, QuantileTransform):
            qt = QuantileTransform.from_dict(qt)
        out["quantile_transform"] = qt.to_dict()
    return out


def save_statistics(path, d: Mapping, overwrite: bool = True) -> Path:
    """Validate ``d`` and write it as JSON to ``path`` atomically (a temporary
    file next to it, then ``os.replace``). Returns the path."""
    d = validate_statistics(d)
    try:
        text = json.dumps(d, indent=1, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"statistics: cannot be written as JSON: {exc}") from None
    path = Path(path)
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return path


def load_statistics(path) -> dict:
    """Read and validate a statistics JSON file (see :func:`validate_statistics`)."""
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text (JSON) file") from None
    try:
        return validate_statistics(d)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
