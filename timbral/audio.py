"""Audio files at the edge of the library: reading, resampling and writing.

Everything that comes from a file is checked here once: after
:func:`load_audio` the rest of the library can trust it has finite, non-empty
mono float32 samples at a sane rate. Decoding is libsndfile's (through
``soundfile``: wav, flac, ogg/vorbis, opus, mp3, aiff and more), resampling is
``soxr`` (high quality, -140 dB spurs). Files are written atomically (a
temporary file in the same folder, then a rename), so an interrupted write
never leaves a half-written file, and an existing file is only replaced when
the caller says so.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np
import soundfile as sf
import soxr

from .files import atomic_output, write_error
from .validation import as_mono_audio

#: Sample rates accepted anywhere (Hz): below 1 kHz or above 768 kHz is a mistake.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 768000

#: File extensions treated as audio when a folder is searched.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au",
                    ".w64", ".caf")

#: Output formats by file extension (what soundfile's libsndfile writes).
WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}


#: The sample rates an MP3 (MPEG-1, 2 and 2.5 layer III) can hold.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
#: The highest rates FLAC and Ogg Vorbis hold (libsndfile's Vorbis encoder crashes the
#: process above about 200 kHz instead of refusing).
MAX_RATES = {"FLAC": 655350, "OGG": 192000}


def check_output_rate(path, sample_rate) -> int:
    """``sample_rate`` as an int once ``path``'s format (from its extension) can hold
    it; a one-line ValueError otherwise."""
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    sample_rate = check_sample_rate(sample_rate)
    if fmt == "MP3" and sample_rate not in MP3_RATES:
        raise ValueError(f"{path}: MP3 holds {', '.join(map(str, MP3_RATES))} Hz, not "
                         f"{sample_rate}; write .wav or .flac, or resample")
    if sample_rate > MAX_RATES.get(fmt, sample_rate):
        raise ValueError(f"{path}: {fmt} holds at most {MAX_RATES[fmt]} Hz, not {sample_rate}; "
                         f"write .wav, or resample")
    return sample_rate


def save_audio(path, audio, sample_rate: int, overwrite: bool = False) -> Path:
    """Write mono audio in [-1, 1] to ``path`` (format from the extension).

    Args:
      path: destination; .wav (16-bit PCM), .flac, .ogg or .mp3.
      audio: ``[n_samples]`` (or ``[1, n_samples]``) tensor or array.
      sample_rate: samples per second (an integer, 1 kHz to 768 kHz; MP3: one of
        :data:`MP3_RATES`; FLAC and Ogg: up to :data:`MAX_RATES`).
      overwrite: replace an existing file (otherwise
        :class:`~timbral.files.OutputExists`, a FileExistsError).

    Samples beyond [-1, 1] are clipped; NaN/inf raise ValueError. A failed
    write (full disk, permissions) raises a one-line OSError naming ``path``
    and leaves nothing behind.
    """
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported output format {path.suffix!r}; "
                         f"use one of {sorted(WRITE_FORMATS)}")
    audio = as_mono_audio(audio)
    sample_rate = check_output_rate(path, sample_rate)
    with atomic_output(path, overwrite) as tmp:
        subtype = "PCM_16" if fmt == "WAV" else None
        try:
            sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, format=fmt,
                     subtype=subtype)
        except sf.LibsndfileError as exc:  # libsndfile says only "System error."
            raise write_error(path, exc) from None
    return path


#: The highest peak an output keeps as it is; a louder one is scaled down to it.
MAX_PEAK = 0.99


def fit_peak(audio: np.ndarray, what: str = "output") -> Tuple[np.ndarray, Optional[str]]:
    """``audio`` (float32 ``[n]``) scaled down to :data:`MAX_PEAK` if it peaks above
    it (writing would clip it), and the one-line message saying so (None when it
    fits)."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak <= MAX_PEAK:
        return audio, None
    return ((audio * (MAX_PEAK / peak)).astype(np.float32),
            f"the {what} peaked at {peak:.2f}; scaled down by "
            f"{20 * np.log10(peak / MAX_PEAK):.1f} dB so it does not clip")


def check_sample_rate(sample_rate, name: str = "sample_rate") -> int:
    """Return ``sample_rate`` as an int, raising unless it is in [1 kHz, 768 kHz]."""
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a sample rate in Hz, got {sample_rate!r}") from None
    if not (MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE) or rate != int(rate):
        raise ValueError(f"{name}: {sample_rate} Hz is not a usable sample rate; expected an "
                         f"integer from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE}")
    return int(rate)


def resample_audio(audio: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """High-quality resampling of mono float32 ``[n_samples]`` (soxr 'HQ')."""
    if sample_rate == target_rate:
        return audio
    return soxr.resample(audio, sample_rate, target_rate, quality="HQ").astype(np.float32)


#: A downmix this many dB under the channels' own level is warned of (they cancel).
CANCEL_DB = 20.0


class AudioFile(NamedTuple):
    """A decoded file: ``audio`` mono float32 ``[n_samples]`` at ``sample_rate``
    (Hz), and how many ``channels`` the file had before the downmix."""
    audio: np.ndarray
    sample_rate: int
    channels: int


#: libsndfile's message for data it cannot identify; misleading for a damaged file.
_UNKNOWN_FORMAT = "File does not exist or is not a regular file (possibly a pipe?)"
#: The file descriptor C libraries write their diagnostics to is process-wide:
#: one caller at a time may silence it.
_STDERR_LOCK = threading.Lock()
#: How libsndfile's bundled decoders (mpg123, vorbis) start their diagnostic lines.
DECODER_NOISE = ("Note: ", "Warning: ", "[src/", "Error: ", "error: ", "warning: ")


@contextmanager
def quiet_c_stderr(noise: Tuple[str, ...] = DECODER_NOISE) -> Iterator[None]:
    """Keep a C library's diagnostics, the lines starting with one of ``noise``
    (mpg123's "Note: Trying to resync...", ALSA's "ALSA lib ..."), off the
    terminal; whatever else reached stderr meanwhile is passed on."""
    with _STDERR_LOCK, tempfile.TemporaryFile() as captured:
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no file descriptor 2 (embedded): nothing to hide
            saved = None
        if saved is None:
            yield
            return
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            others = [line for line in captured.read().decode(errors="replace").splitlines(True)
                      if not line.startswith(noise)]
            if others and sys.stderr is not None:
                sys.stderr.write("".join(others))


def _truncated(file: sf.SoundFile, n_read: int) -> bool:
    """Whether the header promised more audio than ``file`` holds: libsndfile
    logs "data : 96000 (should be 31970)" for a WAV-like file and reports an
    MP3's length from its header (10 % of slack: a VBR file without one is
    only estimated)."""
    logged = any(line.startswith("data") and "should be" in line
                 for line in file.extra_info.splitlines())
    return logged or n_read < 0.9 * file.frames


def mono_message(channels: int, what: str = "transferred") -> Optional[str]:
    """What the user is told when a file of ``channels`` channels was made mono (None
    for a mono file); ``what`` says what was done with the mono signal."""
    if channels == 2:
        return f"the input is stereo: its mid channel, (left + right) / 2, was {what}"
    if channels > 2:
        return f"the input has {channels} channels: their mean was {what}"
    return None


def read_audio(path, sample_rate: Optional[int] = None) -> AudioFile:
    """Read an audio file as mono float32, saying how many channels it had.

    Args:
      path: any file libsndfile decodes (wav, flac, ogg, opus, mp3, aiff, ...),
        any sample rate, any number of channels (averaged to mono: for stereo
        that is the mid channel, (left + right) / 2).
      sample_rate: resample to this rate (Hz); None keeps the file's rate.

    Raises ValueError (one line, naming the file) for a missing or empty file,
    a directory, undecodable data, zero samples, NaN/inf samples or an absurd
    sample rate. Warns (naming the file) when the file is shorter than its
    header says (truncated), when float samples go beyond full scale (they
    are used as they are) and when the channels cancel in the mono mix (more
    than :data:`CANCEL_DB` under their own level); the caller says what the
    downmix did (:func:`mono_message`).
    """
    path = Path(path)
    if sample_rate is not None:
        sample_rate = check_sample_rate(sample_rate)
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, expected an audio file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty")
    try:
        with quiet_c_stderr(), sf.SoundFile(path) as f:
            audio = f.read(dtype="float32", always_2d=True)
            file_rate, truncated = f.samplerate, _truncated(f, audio.shape[0])
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        reason = str(exc).split("\n")[0]
        if reason.startswith("Error opening"):  # "Error opening 'PATH': why": the path is said
            reason = reason.split(": ", 1)[-1].rstrip(".")
        if _UNKNOWN_FORMAT in reason:
            reason = "not a format libsndfile knows, or a damaged file"
        raise ValueError(f"{path}: cannot decode audio ({reason}); convert it to wav, flac, "
                         f"ogg or mp3") from None
    file_rate = check_sample_rate(file_rate, f"{path}: sample rate")
    if audio.shape[0] == 0:
        raise ValueError(f"{path}: contains no audio samples")
    channels = audio.shape[1]
    if truncated:
        warnings.warn(f"{path}: shorter than its header says (a truncated file?); using the "
                      f"{audio.shape[0] / file_rate:.2f} s it holds", stacklevel=2)
    if not np.isfinite(audio).all():
        raise ValueError(f"{path}: contains NaN or infinite samples; repair or export the "
                         f"file again")
    peak = float(np.abs(audio).max())  # before the downmix, which could hide it
    if peak > 1.0:
        warnings.warn(f"{path}: samples reach {peak:.3g}, beyond full scale (1.0); they are "
                      f"used as they are", stacklevel=2)
    mixed = audio.mean(axis=1) if channels > 1 else audio[:, 0]
    if channels > 1:
        power = np.einsum("ij,ij->", audio, audio, dtype=np.float64) / audio.size  # no copy
        loss_db = 10 * np.log10(power / max(np.mean(np.square(mixed, dtype=np.float64)), 1e-30))
        if power > 1e-10 and loss_db > CANCEL_DB:
            warnings.warn(f"{path}: its channels cancel in the mono mix ({min(loss_db, 99):.0f} dB "
                          f"under them: one channel's polarity inverted?); invert one channel "
                          f"or keep one alone", stacklevel=2)
    audio = np.ascontiguousarray(mixed, dtype=np.float32)
    if sample_rate is not None:
        audio, file_rate = resample_audio(audio, file_rate, sample_rate), sample_rate
    return AudioFile(audio, file_rate, channels)


def load_audio(path, sample_rate: Optional[int] = None) -> Tuple[np.ndarray, int]:
    """Read an audio file as mono float32: :func:`read_audio` without the
    channel count (more than two channels averaged are warned of).

    Returns:
      ``(audio [n_samples] float32, sample_rate)``.
    """
    audio, rate, channels = read_audio(path, sample_rate)
    if channels > 2:
        warnings.warn(f"{path}: {mono_message(channels, 'used')}", stacklevel=2)
    return audio, rate


def find_audio_files(inputs: Iterable, exclude=None) -> List[Path]:
    """Audio files named by ``inputs``: files as given, folders searched
    recursively for :data:`AUDIO_EXTENSIONS` (leaving out the folder ``exclude``
    where it lies inside one: a command's output folder inside its input folder);
    sorted, duplicates removed.

    Raises ValueError for a path that does not exist.
    """
    skip = Path(exclude).resolve() if exclude is not None else None
    found = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            inner = skip if skip is not None and path.resolve() in skip.parents else None
            found += [p for p in path.rglob("*")
                      if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                      and (inner is None or inner not in p.resolve().parents)]
        elif path.exists():
            found.append(path)
        else:
            raise ValueError(f"{path}: no such file or folder")
    return sorted(set(found))
