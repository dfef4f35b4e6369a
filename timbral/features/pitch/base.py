"""The pitch-tracker interface: :class:`PitchTracker` in, :class:`PitchTrack` out.

Every tracker takes mono float32 audio at its own ``sample_rate`` and a hop in
samples, and returns one frame per ``hop_length`` samples, frame ``i`` centred
on sample ``i * hop_length`` (``n_samples // hop_length + 1`` frames, the
'center' convention of :func:`timbral.spectral_ops.compute_loudness`).

The f0 curve is continuous, because a DDSP decoder needs an f0 on every frame;
voicing lives in the confidence, which is 0 on silence (:func:`silent_frames`)
for every tracker. Frames a tracker calls unvoiced (confidence
below its ``fill_threshold``, by default its voicing threshold, or no estimate
at all) get an f0 interpolated linearly in log frequency between the nearest
voiced frames, held at the ends.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch

from ...validation import as_mono_audio, check_size

#: f0 used when a signal has no voiced frame at all and no estimate anywhere (Hz).
FALLBACK_F0_HZ = 440.0
#: Frames whose surroundings (``SILENCE_WINDOW_S``, centred) have an RMS below this
#: (dB re full scale) are silence: confidence 0 whatever the tracker says. Networks
#: that normalise each frame (CREPE) are confident on digital silence.
SILENCE_DB = -90.0
SILENCE_WINDOW_S = 0.064


@dataclass
class PitchTrack:
    """f0 and voicing confidence of one signal, one value per frame.

    Attributes:
      f0_hz: ``[n_frames]`` float32 Hz, finite and > 0 on every frame
        (unvoiced frames hold/interpolate the nearest voiced estimate).
      confidence: ``[n_frames]`` float32 in [0, 1], the voicing confidence.
    """

    f0_hz: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return int(self.f0_hz.shape[0])


class PitchTracker:
    """Base class of pitch trackers.

    Subclasses set ``name``, ``sample_rate`` (the rate they want their input
    at, Hz), ``voicing_threshold`` (the confidence from which a frame counts
    as voiced, the tracker's natural threshold), optionally
    ``fill_threshold`` (below it the f0 estimate is replaced by the
    interpolation; None: the voicing threshold), and implement
    :meth:`_track`, which receives validated input.
    """

    name: str = "base"
    sample_rate: int = 16000
    voicing_threshold: float = 0.5
    fill_threshold: Optional[float] = None

    def track(self, audio, hop_length: int) -> PitchTrack:
        """f0 and confidence of mono ``audio``.

        Args:
          audio: ``[n_samples]`` float array (or tensor) at ``self.sample_rate``.
          hop_length: samples between frame centres (64 at 16 kHz = 250 frames/s).

        Returns:
          A :class:`PitchTrack` of ``n_samples // hop_length + 1`` frames.

        Raises ValueError for empty, non-mono or non-finite audio and a
        ``hop_length`` below 1.
        """
        audio = as_mono_audio(audio)
        hop_length = check_size(hop_length, "hop_length")
        n_frames = audio.shape[0] // hop_length + 1
        f0, confidence = self._track(audio, hop_length)
        if f0.shape != (n_frames,) or confidence.shape != (n_frames,):  # a bug, not bad input
            raise RuntimeError(f"{self.name}: returned {f0.shape} frames, expected {n_frames}")
        confidence = np.where(silent_frames(audio, hop_length, self.sample_rate), 0.0,
                              confidence)
        fill = self.voicing_threshold if self.fill_threshold is None else self.fill_threshold
        return finish_track(f0, confidence, fill)

    def _track(self, audio: np.ndarray, hop_length: int) -> Tuple[np.ndarray, np.ndarray]:
        """Raw ``(f0_hz, confidence)``, each ``[n_frames]``; f0 may be 0/NaN
        where the tracker has no estimate."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, sample_rate={self.sample_rate})"


def is_silent(mean_square) -> np.ndarray:
    """Whether signals of this mean square (full scale 1) are below :data:`SILENCE_DB`."""
    return np.asarray(mean_square) < 10.0 ** (SILENCE_DB / 10)


def silent_frames(audio: np.ndarray, hop_length: int, sample_rate: int) -> np.ndarray:
    """``[n_frames]`` bool: frame ``i`` (centred on sample ``i * hop_length``) has an
    RMS below :data:`SILENCE_DB` over the :data:`SILENCE_WINDOW_S` around it."""
    half = max(1, int(round(SILENCE_WINDOW_S * sample_rate / 2)))
    energy = np.concatenate([[0.0], np.cumsum(np.square(audio, dtype=np.float64))])
    centres = np.arange(audio.shape[0] // hop_length + 1) * hop_length
    lo = np.clip(centres - half, 0, audio.shape[0])
    hi = np.clip(centres + half, 0, audio.shape[0])
    return is_silent((energy[hi] - energy[lo]) / (2 * half))


def fill_unvoiced(f0_hz: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Replace f0 on unvoiced frames by linear interpolation in log frequency
    between the nearest voiced frames (held constant before the first and after
    the last). Without any voiced frame, every usable raw estimate (finite,
    > 0) is used the same way; without any, :data:`FALLBACK_F0_HZ`."""
    f0 = np.asarray(f0_hz, dtype=np.float64)
    usable = np.isfinite(f0) & (f0 > 0)
    keep = voiced & usable
    if not keep.any():
        keep = usable
    if not keep.any():
        return np.full(f0.shape, FALLBACK_F0_HZ, np.float32)
    idx = np.arange(f0.shape[0])
    log_f0 = np.interp(idx, idx[keep], np.log(f0[keep]))
    return np.exp(log_f0).astype(np.float32)


def finish_track(f0_hz: np.ndarray, confidence: np.ndarray, threshold: float) -> PitchTrack:
    """Clip the confidence to [0, 1] and make f0 continuous (see
    :func:`fill_unvoiced`), keeping the estimates where ``confidence >= threshold``."""
    confidence = np.nan_to_num(np.asarray(confidence, np.float32), nan=0.0)
    confidence = np.clip(confidence, 0.0, 1.0)
    f0 = fill_unvoiced(f0_hz, confidence >= threshold)
    return PitchTrack(f0_hz=f0, confidence=confidence)


def centered_frames(audio: torch.Tensor, frame_size: int, hop_length: int) -> torch.Tensor:
    """``[n_frames, frame_size]`` frames of 1-D ``audio``, frame ``i`` centred
    on sample ``i * hop_length`` (zeros beyond the ends); a view where possible."""
    n_frames = audio.shape[-1] // hop_length + 1
    padded = torch.nn.functional.pad(audio, (frame_size // 2, frame_size // 2))
    return padded.unfold(-1, frame_size, hop_length)[:n_frames]


def package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it (some of the
    trackers' packages import torchaudio at the top level, which must not load
    here). Raises ValueError naming the pip package when it is missing."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the '{package}' package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))
