"""Note-on detection from loudness and pitch confidence (Magenta's ``detect_notes``).

A frame is "note-on" when the pitch tracker is confident around it *and* it is
loud compared with the whole input::

    smoothed = box_filter(f0_confidence ** exponent, smoothing)
    ratio    = smoothed * (loudness_db - min_db)
               / ((mean(loudness_db) - min_db) * f0_confidence_threshold ** exponent)
    mask_on  = ratio >= note_threshold

The box filter averages ``smoothing`` frames with zeros beyond both ends and
keeps the input length, aligned like TensorFlow's ``conv1d(padding='SAME')``
that Magenta uses: output frame ``i`` averages input frames
``i - (smoothing - 1) // 2`` .. ``i + smoothing // 2`` (for the default 40:
``i - 19 .. i + 20``). ``numpy.convolve(mode='same')`` centres even windows
one frame earlier and is *not* the same filter.

Magenta's 40-frame window assumes 250 Hz frames (160 ms); use
:func:`smoothing_frames` for other frame rates.

Curves are 1-D ``[n_frames]`` float arrays (numpy or torch; ``[1, n_frames]``
is accepted); results are numpy.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

from ..validation import as_tensor, check_finite, check_number, check_positive, check_size

__all__ = ["detect_notes", "sure_notes", "note_on_ratio", "smoothing_frames", "box_smooth", "as_curve",
           "contiguous", "check_same_length", "check_confidence", "MAGENTA_FRAME_RATE",
           "MAGENTA_SMOOTHING", "DEFAULT_MIN_DB", "CONFIDENCE_EXPONENT", "CONFIDENCE_THRESHOLD"]

#: The frame rate Magenta's constants (40 smoothing frames, 20 trimmed frames) assume.
MAGENTA_FRAME_RATE = 250
#: Magenta's box-filter length in frames at 250 Hz (160 ms).
MAGENTA_SMOOTHING = 40
#: Loudness floor in dB (Magenta's ``-spectral_ops.DB_RANGE``; the v2 loudness floor).
DEFAULT_MIN_DB = -80.0
#: Magenta's power of the confidence before smoothing.
CONFIDENCE_EXPONENT = 2.0
#: Magenta's confidence that, at the reference loudness, sits at ratio 1.
CONFIDENCE_THRESHOLD = 0.7


def contiguous(x):
    """``x`` with numpy views of negative strides (``x[::-1]``) copied, since
    those cannot become tensors; anything else as it is."""
    return np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x


def as_curve(x, name: str) -> np.ndarray:
    """A frame-rate curve as a finite, non-empty float64 numpy ``[n_frames]``.

    Accepts numpy arrays, torch tensors (any device; detached) and lists, 1-D
    or with leading size-1 dimensions (``[1, n_frames]``, ``[1, n_frames, 1]``
    is *not* accepted: only leading batch dims of 1 are dropped).
    """
    t = as_tensor(contiguous(x), name)
    while t.ndim > 1 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 1:
        raise ValueError(f"{name}: expected shape [n_frames] or [1, n_frames], "
                         f"got {list(as_tensor(x, name).shape)}")
    if t.shape[0] == 0:
        raise ValueError(f"{name}: has zero frames")
    check_finite(t, name)
    return t.detach().to("cpu", torch.float64).numpy().copy()


def check_same_length(**curves: np.ndarray) -> int:
    """Raise unless all curves have the same number of frames; return it."""
    names = list(curves)
    n = len(curves[names[0]])
    for name in names[1:]:
        if len(curves[name]) != n:
            raise ValueError(f"{name}: has {len(curves[name])} frames but {names[0]} has {n}")
    return n


def check_confidence(confidence: np.ndarray, name: str = "f0_confidence") -> None:
    """Raise if a confidence curve has negative values (it should lie in [0, 1])."""
    if confidence.min() < 0.0:
        raise ValueError(f"{name}: expected values in [0, 1], got a minimum of "
                         f"{confidence.min():.4g}")


def smoothing_frames(frame_rate: float) -> int:
    """Box-filter length for :func:`detect_notes` at ``frame_rate`` Hz.

    Magenta smooths over 40 frames at 250 Hz, i.e. 160 ms; this returns the
    same duration in frames at another rate, rounded, at least 1
    (250 Hz -> 40, 100 Hz -> 16, 50 Hz -> 8).
    """
    frame_rate = check_positive(frame_rate, "frame_rate")
    return max(1, int(round(MAGENTA_SMOOTHING * frame_rate / MAGENTA_FRAME_RATE)))


def box_smooth(x, size: int) -> np.ndarray:
    """Moving average of ``size`` frames, zero padded, same length as ``x``.

    Output ``i`` is ``sum(x[i - (size - 1) // 2 : i + size // 2 + 1]) / size``
    with out-of-range frames counted as zeros (TensorFlow 'SAME' alignment,
    Magenta's ``smooth``). ``x``: 1-D ``[n_frames]``.
    """
    x = as_curve(x, "x")
    return _box_smooth(x, check_size(size, "size"))


def _box_smooth(x: np.ndarray, size: int) -> np.ndarray:
    before = (size - 1) // 2
    after = size - 1 - before
    padded = np.concatenate([np.zeros(before + 1), x, np.zeros(after)])
    csum = np.cumsum(padded)
    # window for output i covers padded[i + 1 .. i + size] (the leading 0 is cumsum's origin)
    return (csum[size:] - csum[:-size]) / size


def detect_notes(loudness_db, f0_confidence, note_threshold: float = 1.0,
                 exponent: float = CONFIDENCE_EXPONENT, smoothing: int = MAGENTA_SMOOTHING,
                 f0_confidence_threshold: float = CONFIDENCE_THRESHOLD,
                 min_db: float = DEFAULT_MIN_DB,
                 reference_db: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Note-on frames from loudness and pitch confidence (Magenta's definition).

    Args:
      loudness_db: ``[n_frames]`` loudness in dB (floored at ``min_db``).
      f0_confidence: ``[n_frames]`` pitch confidence in [0, 1].
      note_threshold: a frame is note-on where the ratio is >= this (the
        notebook's "note threshold", 0..2; higher keeps fewer frames).
      exponent: power applied to the confidence before smoothing.
      smoothing: box-filter length in frames (40 at 250 Hz; see
        :func:`smoothing_frames`).
      f0_confidence_threshold: the confidence that, at mean loudness, sits
        exactly at ratio 1.
      min_db: loudness floor in dB (the v2 loudness definition: -80).
      reference_db: the mean loudness the ratio is relative to; None (the
        default, Magenta's behaviour) uses this input's mean. Dataset
        statistics pass the mean over the whole training set.

    Returns:
      ``(mask_on, note_on_ratio)``: bool ``[n_frames]`` and float64
      ``[n_frames]``. If the reference loudness is at or below ``min_db``
      (silence), the ratio is 0 everywhere and no frame is note-on (Magenta
      divides by zero there).
    """
    loudness = as_curve(loudness_db, "loudness_db")
    confidence = as_curve(f0_confidence, "f0_confidence")
    check_same_length(loudness_db=loudness, f0_confidence=confidence)
    check_confidence(confidence)
    note_threshold = check_number(note_threshold, "note_threshold")
    exponent = check_number(exponent, "exponent")
    smoothing = check_size(smoothing, "smoothing")
    mean_db = float(np.mean(loudness)) if reference_db is None else reference_db
    ratio = note_on_ratio(_box_smooth(confidence ** exponent, smoothing), loudness, mean_db,
                          exponent, f0_confidence_threshold, min_db)
    return ratio >= note_threshold, ratio


def sure_notes(loudness_db, f0_confidence, frame_rate: float, sure: float = 0.5) -> np.ndarray:
    """Note-on frames (:func:`detect_notes`, smoothed for ``frame_rate``) whose own
    confidence is above ``sure``: where a recording's level and pitch can be
    compared with a model's (a less sure frame's level is mostly noise).

    Returns bool ``[n_frames]``.
    """
    mask, _ = detect_notes(loudness_db, f0_confidence, smoothing=smoothing_frames(frame_rate))
    return mask & (as_curve(f0_confidence, "f0_confidence") > sure)


def note_on_ratio(smoothed_confidence, loudness_db, reference_db: float,
                  exponent: float = CONFIDENCE_EXPONENT,
                  f0_confidence_threshold: float = CONFIDENCE_THRESHOLD,
                  min_db: float = DEFAULT_MIN_DB):
    """Magenta's note-on ratio from confidence already raised and smoothed.

    ``smoothed_confidence * (loudness_db - min_db) / ((reference_db - min_db)
    * f0_confidence_threshold ** exponent)``, or 0 where the reference
    loudness is at or below ``min_db`` (silence). The caller chooses how
    ``confidence ** exponent`` is smoothed and what the reference loudness is:
    :func:`detect_notes` (centred window, the input's mean) or the streaming
    auto-adjust (causal window, a running mean).

    Args:
      smoothed_confidence: ``[n_frames]`` numpy array or a float, in [0, 1].
      loudness_db: the same shape, dB.
      reference_db: the mean loudness (dB) the ratio is relative to.

    Returns:
      float64, the shape of ``loudness_db``. The scalars are checked; the
      curves are not (the callers have checked theirs).
    """
    reference_db = check_number(reference_db, "reference_db")
    exponent = check_number(exponent, "exponent")
    f0_confidence_threshold = check_positive(f0_confidence_threshold, "f0_confidence_threshold")
    min_db = check_number(min_db, "min_db")
    denominator = (reference_db - min_db) * f0_confidence_threshold ** exponent
    if denominator <= 0.0:
        return np.zeros_like(loudness_db, dtype=np.float64)
    return smoothed_confidence * (loudness_db - min_db) / denominator
