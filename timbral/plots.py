"""Pictures of audio and controls: matplotlib figures, and PNG files written atomically.

Each picture has a ``*_figure`` function returning a ``matplotlib.figure.Figure``
(notebooks display it inline) and a ``plot_*`` function writing it as a PNG.
Figures are built without pyplot, so importing this module never changes the
matplotlib backend a notebook or application has chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np
import torch
from matplotlib.figure import Figure

from . import core, spectral_ops
from .files import atomic_output


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


def specplot(audio, sample_rate: int, ax=None, fft_size: int = 1024, title: str = ""):
    """Draw a log-magnitude spectrogram (dB) of ``audio`` ``[n_samples]`` on ``ax``."""
    audio = torch.as_tensor(np.asarray(audio, dtype=np.float32)).reshape(1, -1)
    logmag = spectral_ops.compute_logmag(audio, fft_size, 0.75)[0].numpy()
    db = logmag * (20.0 / np.log(10.0))
    if ax is None:
        ax = Figure(figsize=(10, 4)).subplots()
    extent = (0, audio.shape[-1] / sample_rate, 0, sample_rate / 2000.0)
    ax.imshow(db.T, origin="lower", aspect="auto", extent=extent, cmap="magma",
              vmin=db.max() - 80, vmax=db.max())
    ax.set_ylabel("kHz")
    ax.set_xlabel("seconds")
    if title:
        ax.set_title(title)
    return ax


def plot_synthesis(audio, sample_rate: int, controls: Dict[str, torch.Tensor], path,
                   frame_rate: int, title: str = "", overwrite: bool = False) -> Path:
    """Spectrogram of ``audio`` over the f0 (MIDI) and amplitude (dB) that drove it."""
    fig, axes = _subplots(3, (10, 7), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1, 1]})
    specplot(audio, sample_rate, axes[0], title=title)
    t = np.arange(controls["f0_hz"].shape[1]) / frame_rate
    axes[1].plot(t, core.hz_to_midi(controls["f0_hz"][0, :, 0]).numpy(), color="tab:blue")
    axes[1].set_ylabel("f0 (MIDI)")
    amp_db = core.amplitude_to_db(controls["amplitudes"][0, :, 0]).numpy()
    axes[2].plot(t, amp_db, color="tab:orange")
    axes[2].set_ylabel("amplitude (dB)")
    axes[2].set_xlabel("seconds")
    for ax in axes[1:]:
        ax.grid(alpha=0.3)
    return _save(fig, path, overwrite)


def plot_features(features: Dict[str, object], path, title: str = "",
                  overwrite: bool = False) -> Path:
    """f0 (MIDI, faded where unvoiced), voicing confidence and loudness (dB) over time."""
    f0 = np.asarray(features["f0_hz"])
    confidence = np.asarray(features["f0_confidence"])
    t = np.arange(len(f0)) / float(features["frame_rate"])
    fig, axes = _subplots(3, (10, 6.5), sharex=True)
    midi = core.hz_to_midi(torch.from_numpy(f0)).numpy()
    axes[0].scatter(t, midi, c=confidence, cmap="Blues", vmin=0, vmax=1, s=2)
    axes[0].set_ylabel("f0 (MIDI)")
    axes[1].plot(t, confidence, color="tab:green")
    axes[1].set_ylabel("confidence")
    axes[1].set_ylim(-0.05, 1.05)
    axes[2].plot(t, features["loudness_db"], color="tab:orange")
    axes[2].set_ylabel("loudness (dB)")
    axes[2].set_xlabel("seconds")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].set_title(title or f"features ({features['pitch_tracker']}, "
                               f"{features['frame_rate']} frames/s)")
    return _save(fig, path, overwrite)



def plot_training_curve(history, path, title: str = "", overwrite: bool = False) -> Path:
    """Training and validation loss against step (rows of a run's metrics.jsonl)."""
    fig, ax = _subplots(1, (8, 4.5))
    steps = [r["step"] for r in history]
    ax.plot(steps, [r["train_loss"] for r in history], label="train", color="tab:blue")
    val = [(r["step"], r["validation_loss"]) for r in history if "validation_loss" in r]
    if val:
        ax.plot(*zip(*val), label="validation", color="tab:orange", marker=".")
    ax.axhline(5.0, color="gray", linestyle="--", linewidth=1, label="5.0 (good)")
    ax.set_xlabel("step")
    ax.set_ylabel("SpectralLoss (mag + logmag)")
    ax.grid(alpha=0.3)
    ax.legend()
    if history and not title:
        title = f"{history[-1]['step']} steps in {history[-1]['seconds'] / 60:.1f} min"
    ax.set_title(title)
    return _save(fig, path, overwrite)


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
    original = core.hz_to_midi(torch.from_numpy(np.asarray(features["f0_hz"], np.float32)))
    adjusted = core.hz_to_midi(torch.from_numpy(np.asarray(result.f0_hz, np.float32)))
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
    """Input and output spectrograms, one above the other."""
    fig, axes = _subplots(2, (10, 6.5), sharex=True)
    specplot(audio_in, rate_in, axes[0], title=titles[0])
    specplot(audio_out, rate_out, axes[1], title=titles[1])
    axes[0].set_xlabel("")
    return fig


def plot_spectrograms(audio_in, rate_in: int, audio_out, rate_out: int, path,
                      titles=("input", "output"), overwrite: bool = False) -> Path:
    """:func:`spectrograms_figure` written as a PNG."""
    return _save(spectrograms_figure(audio_in, rate_in, audio_out, rate_out, titles), path,
                 overwrite)
