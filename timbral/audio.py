"""Audio files at the edge of the library: writing (and, later, reading) sound files.

Files are written atomically (a temporary file in the same folder, then a
rename), so an interrupted write never leaves a half-written file, and an
existing file is only replaced when the caller says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from .files import atomic_output

#: Output formats by file extension (what soundfile's libsndfile writes).
WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}


def save_audio(path, audio, sample_rate: int, overwrite: bool = False) -> Path:
    """Write mono audio in [-1, 1] to ``path`` (format from the extension).

    Args:
      path: destination; .wav (16-bit PCM), .flac, .ogg or .mp3.
      audio: ``[n_samples]`` (or ``[1, n_samples]``) tensor or array.
      sample_rate: samples per second.
      overwrite: replace an existing file (otherwise FileExistsError).

    Samples beyond [-1, 1] are clipped; NaN/inf raise ValueError.
    """
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported output format {path.suffix!r}; "
                         f"use one of {sorted(WRITE_FORMATS)}")
    if path.exists() and not overwrite:  # before any work on the audio
        raise FileExistsError(f"{path} already exists; choose another name or pass --overwrite")
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2 and audio.shape[0] == 1:
        audio = audio[0]
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"audio: expected [n_samples] mono audio, got shape {list(audio.shape)}")
    if not np.isfinite(audio).all():
        raise ValueError("audio: contains NaN or infinite samples; nothing was written")
    with atomic_output(path, overwrite) as tmp:
        subtype = "PCM_16" if fmt == "WAV" else None
        sf.write(tmp, np.clip(audio, -1.0, 1.0), int(sample_rate), format=fmt, subtype=subtype)
    return path
