"""A transcription as a picture: the piano roll over the network's note posteriorgram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..plots import _save
from .network import FRAME_RATE, LOWEST_KEY, N_KEYS
from .transcription import Transcription


def roll_figure(transcription: Transcription, title: str = "") -> Figure:
    """Top: the note posteriorgram (grey), each note as a box (darker = higher
    velocity) with its pitch bends as a line; bottom: the recording's loudness
    and each note's own (dB)."""
    fig = Figure(figsize=(12, 7))
    roll, loud = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    act = transcription.activations
    seconds = act.n_frames / FRAME_RATE
    roll.imshow(act.note.T, origin="lower", aspect="auto", cmap="Greys", vmin=0, vmax=1,
                extent=(0, seconds, LOWEST_KEY - 0.5, LOWEST_KEY + N_KEYS - 0.5), alpha=0.6)
    for note in transcription.notes:
        roll.add_patch(Rectangle((note.onset, note.key - 0.4), note.duration, 0.8,
                                 color="C0", alpha=0.15 + 0.6 * note.velocity / 127,
                                 linewidth=0))
        t = note.onset + np.arange(len(note.bend_cents)) / FRAME_RATE
        roll.plot(t, note.key + note.bend_cents / 100.0, color="C3", linewidth=0.8)
        loud.plot(note.onset + np.arange(len(note.loudness_db)) / FRAME_RATE, note.loudness_db,
                  color="C0", linewidth=0.7, alpha=0.7)
    loud.plot(np.arange(len(transcription.loudness_db)) / FRAME_RATE,
              transcription.loudness_db, color="k", linewidth=0.8, label="recording")
    keys = [n.key for n in transcription.notes] or [60]
    roll.set_ylim(min(keys) - 4, max(keys) + 4)
    roll.set_xlim(0, seconds)
    roll.set_ylabel("pitch (MIDI)")
    roll.set_title(title or f"{transcription.summary()}: notes (boxes), bends (red lines), "
                            f"note posteriors (grey)")
    loud.set_ylabel("loudness (dB)")
    loud.set_ylim(-85, None)
    loud.set_xlabel("seconds")
    loud.legend(loc="upper right", fontsize=7)
    for ax in (roll, loud):
        ax.grid(alpha=0.3)
    return fig


def plot_transcription(transcription: Transcription, path, title: str = "",
                       overwrite: bool = False) -> Path:
    """:func:`roll_figure` written as a PNG (atomically; an existing file only with
    ``overwrite``)."""
    return _save(roll_figure(transcription, title), path, overwrite)


__all__ = ["plot_transcription", "roll_figure"]
