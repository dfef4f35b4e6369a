"""Timbre transfer of one audio file to files: what `timbral transfer`, `timbral demo`
and the web app all run.

:func:`transfer_file` decodes a file, transfers it with
:func:`~timbral.transfer.pipeline.transfer`, writes the result (at the model's
rate or another, optionally mixed with the original) and, if asked, the
pictures, and times each step. :func:`check_outputs` is its check of the
files it will write, which commands writing many call for all of them first.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Sequence

import numpy as np

from ..audio import (WRITE_FORMATS, check_output_rate, check_sample_rate, mono_message, read_audio,
                     resample_audio, save_audio)
from ..files import check_writable, refuse_existing
from .pipeline import TransferResult, share_text, transfer

#: matplotlib is not promised to be thread-safe: one picture is drawn at a time,
#: whichever thread (CLI jobs, web app workers) asks.
_PLOT_LOCK = threading.Lock()


@dataclass
class FileTransfer:
    """What :func:`transfer_file` did.

    Attributes:
      input_path, output_path: the file read and the audio written.
      result: the :class:`~timbral.transfer.pipeline.TransferResult` (the
        model's output at the model's rate, before any mix or resampling), or
        a :class:`~timbral.transcribe.PolyphonicResult` on the polyphonic path.
      sample_rate: the rate of the written file (Hz).
      plot, spectrogram: the pictures written (None if not asked for).
      timings: seconds spent in ``"decode"``, ``"model load"``,
        ``"features"``, ``"adjust"``, ``"synthesis"``, ``"encode"`` (with
        the mix and resampling) and, when a picture was drawn, ``"plots"``.
    """

    input_path: Path
    output_path: Path
    result: TransferResult
    sample_rate: int
    plot: Optional[Path] = None
    spectrogram: Optional[Path] = None
    timings: Dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Length of the output (seconds)."""
        return len(self.result.audio) / self.result.sample_rate


def check_outputs(output_path, plot=None, spectrogram=None, overwrite: bool = False,
                  inputs=(), sample_rate=None) -> None:
    """Raise a one-line error unless every file :func:`transfer_file` would write
    can be written: an audio format it writes (.wav, .flac, .ogg, .mp3) at
    ``sample_rate`` (when known), .png pictures, none of ``inputs``, nothing
    existing unless ``overwrite``, and a folder that takes files (see
    :func:`timbral.files.check_writable`).
    """
    output_path = Path(output_path)
    if output_path.suffix.lower() not in WRITE_FORMATS:
        raise ValueError(f"{output_path}: unsupported output format "
                         f"{output_path.suffix or '(no extension)'}; use one of "
                         f"{', '.join(WRITE_FORMATS)}")
    if sample_rate is not None:
        check_output_rate(output_path, sample_rate)
    pictures = [Path(p) for p in (plot, spectrogram) if p]
    for picture in pictures:
        if picture.suffix.lower() != ".png":
            raise ValueError(f"{picture}: pictures are written as PNG; use a .png name")
    refuse_existing(output_path, *pictures, overwrite=overwrite, inputs=inputs)
    for path in (output_path, *pictures):
        check_writable(path)


def check_mix(mix, name: str = "mix") -> float:
    """``mix`` as a float, or a one-line ValueError unless it is from 0 to 1."""
    if isinstance(mix, bool) or not isinstance(mix, (int, float)) or not 0.0 <= mix <= 1.0:
        raise ValueError(f"{name}: expected a share from 0 (the original) to 1 (the model), "
                         f"got {mix!r}")
    return float(mix)


def _mix(result: TransferResult, audio: np.ndarray, rate: int, mix: float,
         sample_rate: int) -> np.ndarray:
    """``mix`` x the model's output + (1 - ``mix``) x the original ``audio``
    (``[n_samples]`` at ``rate``), at ``sample_rate``, as long as the original."""
    wet = resample_audio(result.audio, result.sample_rate, sample_rate)
    if mix == 1.0:
        return wet
    dry = resample_audio(audio, rate, sample_rate)
    wet = np.pad(wet, (0, max(0, len(dry) - len(wet))))[:len(dry)]  # resampling rounds
    return (mix * wet + (1.0 - mix) * dry).astype(np.float32)


def transfer_file(input_path, model, output_path, controls: Optional[Mapping] = None, *,
                  plot=None, spectrogram=None, overwrite: bool = False,
                  pitch_tracker=None, name: Optional[str] = None,
                  spectrogram_titles: Optional[Sequence[str]] = None,
                  sample_rate: Optional[int] = None, mix: float = 1.0,
                  progress: bool = False, run: Optional[Callable] = None) -> FileTransfer:
    """Transfer the audio file ``input_path`` with ``model``; write the result.

    Args:
      input_path: any file :func:`timbral.audio.load_audio` decodes; a stereo
        file's mid channel is transferred (and a message says so).
      model: a loaded :class:`~timbral.models.Autoencoder` (or anything
        :func:`timbral.load_model` takes; loading is then timed as
        ``"model load"``).
      output_path: the audio to write: .wav (16-bit PCM), .flac, .ogg or .mp3,
        mono.
      controls: keyword arguments of :func:`~timbral.transfer.pipeline.transfer`
        (``adjust``, ``threshold``, ``quiet``, ``autotune``, ``pitch_shift``,
        ``semitones``, ``loudness_shift``); missing ones take its defaults.
      plot: also draw notes, loudness and f0 before and after adjusting
        into this .png.
      spectrogram: also draw the input's and the output's spectrograms
        into this .png.
      overwrite: replace existing outputs; otherwise
        :class:`~timbral.files.OutputExists` before any work if one exists.
      pitch_tracker: tracker name or object (None: the default).
      name: the input's name in the pictures' titles (default: the file's).
      spectrogram_titles: (input, output) titles of the spectrograms
        (default: the input's name and the model's).
      sample_rate: rate of the written file in Hz (None: the model's).
      mix: share of the model's output in the written file, from 0 to 1; the
        rest is the original recording (1: the model only).
      progress: show progress bars for the features and the synthesis.
      run: what transfers the decoded audio in place of
        :func:`~timbral.transfer.pipeline.transfer` (called the same way), e.g.
        :class:`timbral.transcribe.PolyphonicTransfer` for recordings with chords;
        a result other than a ``TransferResult`` draws ``plot`` with its own
        ``plot(path, title=, overwrite=)``.

    Raises ValueError (one line, naming the input file) for undecodable or
    too short audio, and for a control, rate or mix out of range; an unwritable
    output is refused (see :func:`check_outputs`) before any work.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    plot = Path(plot) if plot else None
    spectrogram = Path(spectrogram) if spectrogram else None
    mix = check_mix(mix)
    if sample_rate is not None:
        sample_rate = check_sample_rate(sample_rate, "sample_rate")
    check_outputs(output_path, plot, spectrogram, overwrite, inputs=[input_path],
                  sample_rate=sample_rate)
    start = time.perf_counter()
    audio, rate, channels = read_audio(input_path)
    decode = time.perf_counter() - start
    try:
        result = (run or transfer)(audio, rate, model, pitch_tracker=pitch_tracker,
                                   progress=progress, **dict(controls or {}))
    except ValueError as exc:  # e.g. too short: which file, when many are transferred
        raise ValueError(f"{input_path}: {exc}") from None
    if channels > 1:
        result.messages.append(mono_message(channels) + "; the output is mono")
    start = time.perf_counter()
    sample_rate = sample_rate or result.sample_rate
    played = result.played_hz
    lost = float(np.mean(played >= sample_rate / 2)) if len(played) and mix > 0 else 0.0
    if lost > 0.0:
        result.messages.append(f"At {sample_rate} Hz the file holds nothing above "
                               f"{sample_rate // 2} Hz: {share_text(lost)} of what is played is "
                               f"higher and is lost; write at a higher sample rate.")
    save_audio(output_path, _mix(result, audio, rate, mix, sample_rate), sample_rate,
               overwrite=overwrite)
    encode = time.perf_counter() - start
    t = result.timings
    timings = {"decode": decode, "model load": t["model_load"], "features": t["features"],
               "adjust": t["adjust"], "synthesis": t["synthesis"], "encode": encode}
    if plot or spectrogram:
        from ..plots import plot_spectrograms, plot_transfer  # matplotlib: only when drawing

        name = name or input_path.name
        model_name = model if isinstance(model, str) else getattr(model, "name", "") or "model"
        start = time.perf_counter()
        with _PLOT_LOCK:
            if plot and isinstance(result, TransferResult):
                plot_transfer(result, plot, title=f"{name} -> {model_name}", overwrite=overwrite)
            elif plot:
                result.plot(plot, title=f"{name} -> {model_name}", overwrite=overwrite)
            if spectrogram:
                plot_spectrograms(audio, rate, result.audio, result.sample_rate, spectrogram,
                                  titles=tuple(spectrogram_titles or (name, model_name)),
                                  overwrite=overwrite)
        timings["plots"] = time.perf_counter() - start
    return FileTransfer(input_path, output_path, result, sample_rate, plot, spectrogram,
                        timings)
