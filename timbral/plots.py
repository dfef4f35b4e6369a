"""Pictures of audio and controls: matplotlib figures, and PNG files written atomically.

Each picture has a ``*_figure`` function returning a ``matplotlib.figure.Figure``
(notebooks display it inline) and a ``plot_*`` function writing it as a PNG.
Figures are built without pyplot, so importing this module never changes the
matplotlib backend a notebook or application has chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
from matplotlib.figure import Figure

from . import dsp
from .features.notes import DEFAULT_MIN_DB
from .files import atomic_output

#: Spectrogram dB are relative to full scale: a full-scale sine's peak bin is 0 dB.
#: Colours span this many dB below the top of the scale.
SPECTROGRAM_RANGE_DB = 80.0
#: Bins quieter than this (dB re full scale) are drawn at it: digital silence.
SPECTROGRAM_FLOOR_DB = -120.0
#: f0 frames with at least this confidence count as voiced (for the pitch axis).
VOICED_CONFIDENCE = 0.5
#: Frames within this many dB of the loudness floor (-80 dB) count as silent.
SILENT_MARGIN_DB = 10.0


def _save(fig: Figure, path, overwrite: bool) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: pictures are written as PNG; use a .png name")
    with atomic_output(path, overwrite) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    return path


def _subplots(rows: int, figsize, **kwargs):
    fig = Figure(figsize=figsize)
    axes = fig.subplots(rows, 1, **kwargs)
    return fig, axes


def _colorbar(fig: Figure, mappable, ax, label: str):
    """A colour bar just right of ``ax`` that leaves ``ax``'s width alone (so panels
    sharing the time axis stay aligned)."""
    bar = fig.colorbar(mappable, cax=ax.inset_axes([1.01, 0.0, 0.015, 1.0]))
    bar.set_label(label)
    return bar


def spectrogram_db(audio, sample_rate: int, fft_size: Optional[int] = None) -> np.ndarray:
    """Magnitude spectrogram in dB re full scale, float64 ``[bins, frames]``.

    ``audio``: mono ``[n_samples]``. ``fft_size`` None: 1024 at 16 kHz, scaled
    to ``sample_rate`` (a power of two), so every rate gets about 64 ms frames.
    Bins are floored at :data:`SPECTROGRAM_FLOOR_DB` (silence is the floor).
    """
    if fft_size is None:
        fft_size = 2 ** max(8, int(round(np.log2(1024 * sample_rate / 16000))))
    audio = torch.as_tensor(np.asarray(audio, dtype=np.float32)).reshape(1, -1)
    mag = dsp.compute_mag(audio, fft_size, 0.75)[0].double().numpy()
    full_scale = fft_size / 4.0  # a unit sine's peak under the periodic Hann window
    floor = 10.0 ** (SPECTROGRAM_FLOOR_DB / 20.0)
    return 20.0 * np.log10(np.maximum(mag / full_scale, floor)).T


def _scale_top(*spectrograms: np.ndarray) -> float:
    """The top of a shared colour scale: the loudest bin, but never so low that
    silence would rise above the bottom."""
    return max(SPECTROGRAM_FLOOR_DB + SPECTROGRAM_RANGE_DB,
               *(float(db.max()) for db in spectrograms))


def _draw_spectrogram(ax, db: np.ndarray, seconds: float, sample_rate: int, top_db: float,
                      max_khz: Optional[float], title: str):
    image = ax.imshow(db, origin="lower", aspect="auto", cmap="magma",
                      extent=(0, seconds, 0, sample_rate / 2000.0),
                      vmin=top_db - SPECTROGRAM_RANGE_DB, vmax=top_db)
    ax.set_ylim(0, max_khz or sample_rate / 2000.0)
    ax.set_ylabel("kHz")
    ax.set_xlabel("seconds")
    if title:
        ax.set_title(title)
    return image


def specplot(audio, sample_rate: int, ax=None, fft_size: Optional[int] = None,
             title: str = ""):
    """Draw the spectrogram of ``audio`` ``[n_samples]`` on ``ax``, with a colour bar.

    dB re full scale (:func:`spectrogram_db`); colours span
    :data:`SPECTROGRAM_RANGE_DB` below the loudest bin (silence stays dark).
    Returns ``ax``.
    """
    if ax is None:
        ax = Figure(figsize=(10, 4)).subplots()
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    db = spectrogram_db(audio, sample_rate, fft_size)
    image = _draw_spectrogram(ax, db, np.size(audio) / sample_rate, sample_rate,
                              _scale_top(db), None, title)
    _colorbar(ax.figure, image, ax, "dB re full scale")
    return ax


def plot_synthesis(audio, sample_rate: int, controls: Dict[str, torch.Tensor], path,
                   frame_rate: int, title: str = "", overwrite: bool = False) -> Path:
    """Spectrogram of ``audio`` over the f0 (MIDI) and amplitude (dB) that drove it."""
    fig, axes = _subplots(3, (10, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1]})
    specplot(audio, sample_rate, axes[0], title=title).set_xlabel("")
    t = np.arange(controls["f0_hz"].shape[1]) / frame_rate
    axes[1].plot(t, dsp.hz_to_midi(controls["f0_hz"][0, :, 0]).numpy(), color="tab:blue")
    axes[1].set_ylabel("f0 (MIDI)")
    amp_db = dsp.amplitude_to_db(controls["amplitudes"][0, :, 0]).numpy()
    axes[2].plot(t, amp_db, color="tab:orange")
    axes[2].set_ylabel("amplitude (dB)")
    axes[2].set_xlabel("seconds")
    for ax in axes[1:]:
        ax.grid(alpha=0.3)
    return _save(fig, path, overwrite)


def features_figure(features: Dict[str, object], title: str = "") -> Figure:
    """f0 (MIDI, coloured by confidence), voicing confidence and loudness (dB) over time.

    The pitch axis spans the voiced (confidence >= :data:`VOICED_CONFIDENCE`),
    sounding (louder than the -80 dB floor + :data:`SILENT_MARGIN_DB`) frames:
    a tracker's guesses in silence and noise would stretch it over the whole
    MIDI range. ``features``: :func:`~timbral.features.compute_audio_features`'s
    dict (``[n_frames]`` curves, ``frame_rate``, ``pitch_tracker``).
    """
    f0 = np.asarray(features["f0_hz"], dtype=np.float32)
    confidence = np.asarray(features["f0_confidence"], dtype=np.float64)
    loudness = np.asarray(features["loudness_db"], dtype=np.float64)
    t = np.arange(len(f0)) / float(features["frame_rate"])
    fig, axes = _subplots(3, (10, 6.5), sharex=True)
    midi = dsp.hz_to_midi(torch.from_numpy(f0)).numpy()
    dots = axes[0].scatter(t, midi, c=confidence, cmap="Blues", vmin=0, vmax=1, s=3)
    _colorbar(fig, dots, axes[0], "confidence")
    voiced = confidence >= VOICED_CONFIDENCE
    shown = voiced & (loudness > DEFAULT_MIN_DB + SILENT_MARGIN_DB) & (f0 > 0)
    if shown.any():
        axes[0].set_ylim(float(midi[shown].min()) - 2.0, float(midi[shown].max()) + 2.0)
    axes[0].set_ylabel("f0 (MIDI)")
    axes[1].plot(t, confidence, color="tab:green", label="confidence")
    axes[1].axhline(VOICED_CONFIDENCE, color="gray", linestyle="--", linewidth=1,
                    label=f"voiced (>= {VOICED_CONFIDENCE:g})")
    axes[1].set_ylabel("confidence")
    axes[1].set_ylim(-0.05, 1.05)
    axes[1].legend(loc="upper right", fontsize=8)
    axes[2].plot(t, loudness, color="tab:orange")
    axes[2].set_ylabel("loudness (dB)")
    axes[2].set_xlabel("seconds")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].set_title(title or f"features ({features['pitch_tracker']}, "
                               f"{features['frame_rate']} frames/s)")
    return fig


def plot_features(features: Dict[str, object], path, title: str = "",
                  overwrite: bool = False) -> Path:
    """:func:`features_figure` written as a PNG."""
    return _save(features_figure(features, title), path, overwrite)


def training_curve_figure(history, title: str = "") -> Figure:
    """Training and validation loss against step.

    ``history``: rows of a run's ``metrics.jsonl`` (``step``, ``seconds``,
    ``train_loss``: the mean over the steps since the previous row, and
    ``validation_loss`` where measured). Every row is a dot, so a run of one
    row still shows; the legend gives the last values, the numbers a run's
    summary ends with.
    """
    fig, ax = _subplots(1, (8, 4.5))
    for key, label, color in (("train_loss", "train", "tab:blue"),
                              ("validation_loss", "validation", "tab:orange")):
        points = [(r["step"], r[key]) for r in history if key in r]
        if points:
            ax.plot(*zip(*points), color=color, marker="o", markersize=3,
                    label=f"{label} (last {points[-1][1]:.3f})")
    ax.axhline(5.0, color="gray", linestyle="--", linewidth=1, label="5.0 (good)")
    if history:
        ax.set_xlim(0, max(r["step"] for r in history) * 1.03)
    ax.set_xlabel("step")
    ax.set_ylabel("SpectralLoss (mag + logmag)")
    ax.grid(alpha=0.3)
    ax.legend()
    if history and not title:
        title = f"{history[-1]['step']} steps in {history[-1]['seconds'] / 60:.1f} min"
    ax.set_title(title)
    return fig


def plot_training_curve(history, path, title: str = "", overwrite: bool = False) -> Path:
    """:func:`training_curve_figure` written as a PNG."""
    return _save(training_curve_figure(history, title), path, overwrite)


def transfer_figure(result, title: str = "") -> Figure:
    """The notebook's adjust plots for a :class:`~timbral.transfer.TransferResult`:
    note-on ratio with the threshold and mask, original vs adjusted loudness (dB),
    original vs adjusted f0 (MIDI)."""
    features = result.features
    t = np.arange(len(result.mask_on)) / float(features["frame_rate"])
    fig, axes = _subplots(3, (10, 7.5), sharex=True)
    axes[0].plot(t, result.note_on_ratio, color="tab:purple", label="note-on ratio")
    axes[0].axhline(result.threshold, color="gray", linestyle="--", label="threshold")
    axes[0].fill_between(t, 0, result.mask_on * max(1.0, float(np.max(result.note_on_ratio))),
                         color="tab:green", alpha=0.15, step="mid", label="note on")
    axes[0].set_ylabel("notes")
    axes[1].plot(t, features["loudness_db"], color="tab:gray", label="original")
    axes[1].plot(t, result.loudness_db, color="tab:orange", label="adjusted")
    axes[1].set_ylabel("loudness (dB)")
    original = dsp.hz_to_midi(torch.from_numpy(np.asarray(features["f0_hz"], np.float32)))
    adjusted = dsp.hz_to_midi(torch.from_numpy(np.asarray(result.f0_hz, np.float32)))
    on = np.asarray(result.mask_on)
    axes[2].plot(t, np.where(on, original.numpy(), np.nan), color="tab:gray", label="original")
    axes[2].plot(t, np.where(on, adjusted.numpy(), np.nan), color="tab:blue", label="adjusted")
    axes[2].set_ylabel("f0 (MIDI, note-on)")
    axes[2].set_xlabel("seconds")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[0].set_title(title or "timbre transfer")
    return fig


def plot_transfer(result, path, title: str = "", overwrite: bool = False) -> Path:
    """:func:`transfer_figure` written as a PNG."""
    return _save(transfer_figure(result, title), path, overwrite)


def spectrograms_figure(audio_in, rate_in: int, audio_out, rate_out: int,
                        titles=("input", "output")) -> Figure:
    """Input and output spectrograms, one above the other, on one scale.

    Both panels share the colour scale (dB re full scale, the loudest bin of
    either at the top: a silent output is dark, not rescaled into noise) and
    the frequency range (up to the lower of the two Nyquist frequencies).
    """
    fig, axes = _subplots(2, (10, 6.5), sharex=True)
    dbs = [spectrogram_db(audio_in, rate_in), spectrogram_db(audio_out, rate_out)]
    top = _scale_top(*dbs)
    max_khz = min(rate_in, rate_out) / 2000.0
    for ax, db, audio, rate, title in zip(axes, dbs, (audio_in, audio_out), (rate_in, rate_out),
                                          titles):
        image = _draw_spectrogram(ax, db, np.size(audio) / rate, rate, top, max_khz, title)
        _colorbar(fig, image, ax, "dB re full scale")
    axes[0].set_xlabel("")
    return fig


def plot_spectrograms(audio_in, rate_in: int, audio_out, rate_out: int, path,
                      titles=("input", "output"), overwrite: bool = False) -> Path:
    """:func:`spectrograms_figure` written as a PNG."""
    return _save(spectrograms_figure(audio_in, rate_in, audio_out, rate_out, titles), path,
                 overwrite)
