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

import math
from typing import Dict, Optional, Union

import numpy as np
import torch
from tqdm.auto import tqdm

from ..audio import check_sample_rate, resample_audio
from ..dsp.spectral import compute_loudness, frame_hop
from ..validation import as_mono_audio, check_positive
from .pitch import DEFAULT_TRACKER, PitchTracker, available_trackers, get_pitch_tracker

__all__ = ["compute_audio_features", "analysis_rate", "frame_count", "get_pitch_tracker",
           "available_trackers", "DEFAULT_TRACKER", "DEFAULT_FRAME_RATE", "PitchTracker"]

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


def analysis_rate(sample_rate: int, frame_rate: float) -> int:
    """The rate features of ``sample_rate`` audio are computed at: ``sample_rate``
    itself when ``frame_rate`` divides it, otherwise the next rate above that a
    whole ``frame_rate`` divides (22050 Hz at 100 frames/s: 22100 Hz, 221
    samples per frame), so any file rate works with any whole frame rate."""
    sample_rate = check_sample_rate(sample_rate)
    frame_rate = check_positive(frame_rate, "frame_rate")
    if (sample_rate / frame_rate).is_integer() or not frame_rate.is_integer():
        return sample_rate  # frame_hop() then accepts it, or says why not
    return int(frame_rate) * math.ceil(sample_rate / frame_rate)


def compute_audio_features(audio, sample_rate: int, frame_rate: float = DEFAULT_FRAME_RATE,
                           pitch_tracker: Union[str, PitchTracker, None] = None,
                           loudness_definition: str = "v2",
                           chunk_seconds: float = CHUNK_SECONDS,
                           progress: bool = False,
                           silence_db: Optional[float] = None) -> Dict[str, object]:
    """f0, voicing confidence and loudness of mono audio at ``frame_rate``.

    Args:
      audio: mono ``[n_samples]`` float array or tensor in [-1, 1].
      sample_rate: its rate in Hz.
      frame_rate: feature frames per second; must divide the tracker's rate
        (16 kHz for the CREPE trackers). When it does not divide
        ``sample_rate``, the audio is resampled to :func:`analysis_rate` first.
      pitch_tracker: a name from :func:`available_trackers`, a tracker object,
        or None for :data:`DEFAULT_TRACKER`.
      loudness_definition: 'v2' (Magenta's current definition) or 'v1' (the one
        Magenta's 2021 pretrained models were trained on); frames are centred
        either way.
      chunk_seconds: inputs longer than this are analysed in chunks (memory
        bound); results match a single pass.
      progress: show a progress bar per stage (loudness, then pitch) over chunks.
      silence_db: if given, raise ValueError before tracking pitch when the
        loudness never exceeds this (dB): pitch tracking is the slow part.

    Returns:
      ``{"f0_hz", "f0_confidence", "loudness_db"}``: float32 ``[n_frames]``
      numpy arrays (f0 is a finite estimate > 0 on every frame, the confidence
      in [0, 1] says where it is voiced); plus ``"frame_rate"``,
      ``"sample_rate"`` (the analysis rate: frame ``i`` is centred on its
      sample ``i * hop``), ``"pitch_tracker"`` (its name) and
      ``"loudness_definition"``.
    """
    audio = as_mono_audio(audio)
    rate = analysis_rate(sample_rate, frame_rate)
    hop = frame_hop(rate, frame_rate)
    chunk_seconds = check_positive(chunk_seconds, "chunk_seconds")
    tracker = pitch_tracker if isinstance(pitch_tracker, PitchTracker) \
        else get_pitch_tracker(pitch_tracker)
    tracker_hop = frame_hop(tracker.sample_rate, frame_rate)
    audio, sample_rate = resample_audio(audio, int(sample_rate), rate), rate

    n_frames = audio.shape[0] // hop + 1
    chunk_frames = max(1, int(chunk_seconds * frame_rate))
    context_frames = int(CONTEXT_SECONDS * frame_rate)
    chunks = list(_chunks(audio.shape[0], hop, chunk_frames, context_frames))
    loudness = np.empty(n_frames, np.float32)
    for first, end, s0, s1, offset in tqdm(chunks, unit="chunk", desc="loudness",
                                           disable=not progress, leave=False):
        ld = compute_loudness(torch.from_numpy(audio[s0:s1]), sample_rate, frame_rate,
                              padding="center", definition=loudness_definition)
        loudness[first:end] = ld[0, offset:offset + end - first].numpy()
    if silence_db is not None and not float(loudness.max()) > silence_db:
        raise ValueError(f"silent (loudness never above {silence_db:g} dB)")

    tracker_audio = resample_audio(audio, sample_rate, tracker.sample_rate)
    f0 = np.empty(n_frames, np.float32)
    confidence = np.empty(n_frames, np.float32)
    for first, end, s0, s1, offset in tqdm(chunks, unit="chunk", desc=f"pitch ({tracker.name})",
                                           disable=not progress, leave=False):
        t0 = s0 // hop * tracker_hop
        t1 = tracker_audio.shape[0] if s1 == audio.shape[0] else s1 // hop * tracker_hop
        track = tracker.track(tracker_audio[t0:t1], tracker_hop)
        # The tracker's frame count can differ by one at the very end (rounding of
        # the resampled length): hold its last frame.
        idx = np.minimum(np.arange(offset, offset + end - first), len(track.f0_hz) - 1)
        f0[first:end] = track.f0_hz[idx]
        confidence[first:end] = track.confidence[idx]
    return {"f0_hz": f0, "f0_confidence": confidence, "loudness_db": loudness,
            "frame_rate": frame_rate, "sample_rate": sample_rate, "pitch_tracker": tracker.name,
            "loudness_definition": loudness_definition}
