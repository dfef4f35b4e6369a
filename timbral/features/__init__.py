"""Audio features for DDSP: f0 (Hz) with a voicing confidence, and loudness (dB).

One function, :func:`compute_audio_features`, turns mono audio into the three
frame-rate curves the models take. Frames follow the 'center' convention of
:func:`timbral.spectral_ops.compute_loudness`: frame ``i`` is centred on
sample ``i * hop`` (``hop = sample_rate / frame_rate``), so ``n_samples``
samples give ``n_samples // hop + 1`` frames (4 s at 16 kHz and 250 Hz: 1001).

Long inputs are analysed in chunks with context on both sides that is thrown
away afterwards, so memory stays proportional to the chunk, and every kept
frame saw the same audio around it as it would in one pass.
"""

from __future__ import annotations

from typing import Dict, Union

import numpy as np
import torch
from tqdm.auto import tqdm

from ..audio import check_sample_rate, resample_audio
from ..spectral_ops import compute_loudness, frame_hop
from ..validation import as_mono_audio, check_positive
from .pitch import DEFAULT_TRACKER, PitchTracker, available_trackers, get_pitch_tracker

__all__ = ["compute_audio_features", "frame_count", "get_pitch_tracker", "available_trackers",
           "DEFAULT_TRACKER", "DEFAULT_FRAME_RATE", "PitchTracker"]

DEFAULT_FRAME_RATE = 250
CHUNK_SECONDS = 30.0  # audio analysed at once; longer inputs are cut into chunks
CONTEXT_SECONDS = 1.0  # extra audio each side of a chunk, analysed then discarded


def frame_count(n_samples: int, sample_rate: int, frame_rate: float = DEFAULT_FRAME_RATE) -> int:
    """Frames the features of ``n_samples`` samples have: ``n_samples // hop + 1``."""
    return n_samples // frame_hop(sample_rate, frame_rate) + 1


def _chunks(n_samples: int, hop: int, chunk_frames: int, context_frames: int):
    """Yield (first frame, end frame, first sample, end sample, offset): analyse
    samples [s0, s1) and keep its frames offset .. offset + (end - first)."""
    n_frames = n_samples // hop + 1
    for first in range(0, n_frames, chunk_frames):
        end = min(n_frames, first + chunk_frames)
        s0 = max(0, first - context_frames) * hop
        s1 = min(n_samples, (end + context_frames) * hop)
        yield first, end, s0, s1, first - s0 // hop


def compute_audio_features(audio, sample_rate: int, frame_rate: float = DEFAULT_FRAME_RATE,
                           pitch_tracker: Union[str, PitchTracker, None] = None,
                           loudness_definition: str = "v2",
                           chunk_seconds: float = CHUNK_SECONDS,
                           progress: bool = False) -> Dict[str, object]:
    """f0, voicing confidence and loudness of mono audio at ``frame_rate``.

    Args:
      audio: mono ``[n_samples]`` float array or tensor in [-1, 1].
      sample_rate: its rate in Hz.
      frame_rate: feature frames per second; must divide ``sample_rate``
        (and the tracker's own rate).
      pitch_tracker: a name from :func:`available_trackers`, a tracker object,
        or None for :data:`DEFAULT_TRACKER`.
      loudness_definition: 'v2' (Magenta's current definition) or 'v1' (the one
        Magenta's 2021 pretrained models were trained on); frames are centred
        either way.
      chunk_seconds: inputs longer than this are analysed in chunks (memory
        bound); results match a single pass.
      progress: show a progress bar over chunks.

    Returns:
      ``{"f0_hz", "f0_confidence", "loudness_db"}``: float32 ``[n_frames]``
      numpy arrays (f0 is a finite estimate > 0 on every frame, the confidence
      in [0, 1] says where it is voiced); plus ``"frame_rate"``,
      ``"sample_rate"``, ``"pitch_tracker"`` (its name) and
      ``"loudness_definition"``.
    """
    audio = as_mono_audio(audio)
    sample_rate = check_sample_rate(sample_rate)
    hop = frame_hop(sample_rate, frame_rate)
    chunk_seconds = check_positive(chunk_seconds, "chunk_seconds")
    tracker = pitch_tracker if isinstance(pitch_tracker, PitchTracker) \
        else get_pitch_tracker(pitch_tracker)
    tracker_hop = frame_hop(tracker.sample_rate, frame_rate)
    tracker_audio = resample_audio(audio, sample_rate, tracker.sample_rate)

    n_frames = audio.shape[0] // hop + 1
    chunk_frames = max(1, int(chunk_seconds * frame_rate))
    context_frames = int(CONTEXT_SECONDS * frame_rate)
    loudness = np.empty(n_frames, np.float32)
    f0 = np.empty(n_frames, np.float32)
    confidence = np.empty(n_frames, np.float32)
    bar = tqdm(total=n_frames, unit="frame", disable=not progress, desc="features")
    for first, end, s0, s1, offset in _chunks(audio.shape[0], hop, chunk_frames, context_frames):
        keep = slice(offset, offset + end - first)
        ld = compute_loudness(torch.from_numpy(audio[s0:s1]), sample_rate, frame_rate,
                              padding="center", definition=loudness_definition)
        loudness[first:end] = ld[0, keep].numpy()
        t0 = s0 // hop * tracker_hop
        t1 = tracker_audio.shape[0] if s1 == audio.shape[0] else s1 // hop * tracker_hop
        track = tracker.track(tracker_audio[t0:t1], tracker_hop)
        # The tracker's frame count can differ by one at the very end (rounding of
        # the resampled length): hold its last frame.
        idx = np.minimum(np.arange(keep.start, keep.stop), len(track.f0_hz) - 1)
        f0[first:end] = track.f0_hz[idx]
        confidence[first:end] = track.confidence[idx]
        bar.update(end - first)
    bar.close()
    return {"f0_hz": f0, "f0_confidence": confidence, "loudness_db": loudness,
            "frame_rate": frame_rate, "sample_rate": sample_rate, "pitch_tracker": tracker.name,
            "loudness_definition": loudness_definition}
