"""Timbre transfer end to end: audio in, the same performance on another instrument out.

The notebook's flow (SPEC section 6) as one function, :func:`transfer`:
features at the model's rate -> auto-adjust toward the model's training data
(on by default) -> manual pitch and loudness shifts -> chunked synthesis.
Unlike Magenta's model, the adjusted loudness is what the decoder sees.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

import numpy as np

from ..audio import check_sample_rate, resample_audio
from ..features import PitchTracker, compute_audio_features
from ..features.notes import detect_notes, smoothing_frames
from ..models import Autoencoder
from ..models.preprocessing import LD_RANGE_DB
from ..models.rendering import render
from ..validation import as_mono_audio
from ..zoo import load_model
from .adjust import AdjustResult, apply_manual_shifts, auto_adjust, check_controls

#: Audio rendered at once; longer inputs are chunked with state carried over.
CHUNK_SECONDS = 20.0


@dataclass
class TransferResult:
    """The output of :func:`transfer`.

    Attributes:
      audio: float32 ``[n_samples]`` output at ``sample_rate`` (as long as
        the input resampled to the model's rate).
      sample_rate: the model's sample rate (Hz).
      features: the input's features at the model's frame rate: ``f0_hz``,
        ``f0_confidence``, ``loudness_db`` (float32 ``[n_frames]``),
        ``frame_rate``, ``sample_rate``, ``pitch_tracker``.
      f0_hz, loudness_db: what the model was given (after adjust and shifts).
      mask_on, note_on_ratio, threshold: note detection (for plots).
      adjust: the :class:`~timbral.transfer.adjust.AdjustResult` (None if off).
      messages: what happened, for the user.
      timings: seconds spent in ``"model_load"``, ``"features"``,
        ``"adjust"`` and ``"synthesis"``.
    """

    audio: np.ndarray
    sample_rate: int
    features: Dict[str, object]
    f0_hz: np.ndarray
    loudness_db: np.ndarray
    mask_on: np.ndarray
    note_on_ratio: np.ndarray
    threshold: float
    adjust: Optional[AdjustResult]
    messages: List[str] = field(default_factory=list)
    timings: Dict[str, float] = field(default_factory=dict)

    @property
    def note_on_fraction(self) -> float:
        """Share of frames detected as note-on."""
        return float(np.mean(self.mask_on)) if len(self.mask_on) else 0.0


def transfer(audio, sample_rate: int, model: Union[str, Autoencoder], *, adjust: bool = True,
             threshold: float = 1.0, quiet: float = 20.0, autotune: float = 0.0,
             pitch_shift: float = 0.0, semitones: float = 0.0, loudness_shift: float = 0.0,
             pitch_tracker: Union[str, PitchTracker, None] = None, seed: int = 0,
             chunk_seconds: float = CHUNK_SECONDS) -> TransferResult:
    """Play ``audio``'s melody with ``model``'s instrument.

    Args:
      audio: mono ``[n_samples]`` float audio in [-1, 1] (numpy or torch).
      sample_rate: its rate (Hz); it is resampled to the model's.
      model: a loaded model, or anything :func:`timbral.load_model` takes
        (shipped name, folder, zip, Magenta folder).
      adjust: auto-adjust pitch register and loudness to the training data.
      threshold: note detection threshold (0..2).
      quiet: dB to lower note-off frames by (0..60), scaled by how far below
        the threshold they are.
      autotune: pull f0 toward the inferred major scale (0..1).
      pitch_shift: octaves to shift f0 by (-2..2), after auto-adjust.
      semitones: further shift in semitones (-24..24).
      loudness_shift: dB added to the loudness (-20..20), after auto-adjust.
      pitch_tracker: tracker name or object (None: the default tracker,
        whatever the model was trained with).
      seed: the noise synth's seed.
      chunk_seconds: synthesis chunk (bounds memory on long inputs).
    """
    timings: Dict[str, float] = {}
    start = time.perf_counter()
    if not isinstance(model, Autoencoder):
        model = load_model(model)
    timings["model_load"] = time.perf_counter() - start
    audio = as_mono_audio(audio)
    sample_rate = check_sample_rate(sample_rate)
    check_controls(threshold=threshold, quiet=quiet, autotune=autotune,
                   pitch_shift=pitch_shift, semitones=semitones, loudness_shift=loudness_shift)
    min_samples = 2 * model.hop * sample_rate / model.sample_rate
    if audio.shape[0] < min_samples:
        raise ValueError(f"audio: {audio.shape[0] / sample_rate * 1000:.1f} ms is too short to "
                         f"transfer; give at least {2000 / model.frame_rate:.0f} ms")

    start = time.perf_counter()
    audio = resample_audio(audio, sample_rate, model.sample_rate)
    # The default tracker, not the model's training tracker: f0 is f0, and the default
    # is both more accurate and 100x faster than the CREPE full Magenta's models used.
    features = compute_audio_features(audio, model.sample_rate, model.frame_rate,
                                      pitch_tracker,
                                      loudness_definition=model.config["loudness_definition"])
    timings["features"] = time.perf_counter() - start

    start = time.perf_counter()
    messages: List[str] = []
    adjusted = None
    if adjust:
        adjusted = auto_adjust(features, model.statistics, frame_rate=model.frame_rate,
                               threshold=threshold, quiet=quiet, autotune=autotune)
        f0, ld = adjusted.f0_hz, adjusted.loudness_db
        mask, ratio = adjusted.mask_on, adjusted.note_on_ratio
        messages += adjusted.messages
    else:
        f0, ld = features["f0_hz"], features["loudness_db"]
        mask, ratio = detect_notes(ld, features["f0_confidence"], note_threshold=threshold,
                                   smoothing=smoothing_frames(model.frame_rate))
    f0, ld = apply_manual_shifts(f0, ld, pitch_shift, semitones, loudness_shift)
    # Models never saw loudness below the -80 dB floor of compute_loudness: quieter
    # frames (after "quiet" or a negative shift) are silence to them, not extrapolation.
    ld = np.maximum(ld, -LD_RANGE_DB).astype(np.float32)
    timings["adjust"] = time.perf_counter() - start

    start = time.perf_counter()
    n_frames = -(-audio.shape[0] // model.hop)  # frames covering every sample
    output = render(model, f0[:n_frames], ld[:n_frames], n_samples=audio.shape[0],
                    chunk_seconds=chunk_seconds, seed=seed)
    timings["synthesis"] = time.perf_counter() - start
    return TransferResult(output, model.sample_rate, features, f0, ld, mask, ratio,
                          float(threshold), adjusted, messages, timings)
