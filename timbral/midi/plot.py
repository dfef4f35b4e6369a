"""A played score as a picture: the piano roll under each voice's output f0 and loudness.

The output is measured, not assumed: each voice's rendered audio goes through
:func:`timbral.features.compute_audio_features` (the project's pitch tracker
and loudness), so the picture shows what the models played against what the
file asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..core import hz_to_midi
from ..features import compute_audio_features
from ..files import atomic_output
from .play import MidiRendering

#: Frames per second of the measured output curves.
PLOT_FRAME_RATE = 100
#: Output f0 is drawn where the tracker is at least this confident and the voice sounds.
VOICED_CONFIDENCE, SOUNDING_DB = 0.5, -60.0


def roll_figure(rendering: MidiRendering, title: str = "") -> Figure:
    """Top: the notes (boxes, one colour per voice, darker = louder velocity) and
    each voice's output f0 (MIDI) measured from its audio; bottom: each voice's
    output loudness (dB), solid, and the loudness it was asked for, dotted."""
    fig = Figure(figsize=(12, 7))
    roll, loud = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    colours = [f"C{i % 10}" for i in range(len(rendering.voices))]
    for played, colour in zip(rendering.voices, colours):
        for note in played.voice.notes:
            roll.add_patch(Rectangle((note.onset, note.pitch - 0.4), note.duration, 0.8,
                                     color=colour, alpha=0.15 + 0.5 * note.velocity / 127,
                                     linewidth=0))
        features = compute_audio_features(played.audio, rendering.sample_rate, PLOT_FRAME_RATE)
        t = np.arange(len(features["f0_hz"])) / PLOT_FRAME_RATE
        midi = hz_to_midi(torch.from_numpy(features["f0_hz"])).numpy()
        shown = ((features["f0_confidence"] >= VOICED_CONFIDENCE)
                 & (features["loudness_db"] > SOUNDING_DB))
        roll.plot(t, np.where(shown, midi, np.nan), color=colour, linewidth=1.0,
                  label=f"{played.voice.label} ({played.model_name})")
        loud.plot(t, features["loudness_db"], color=colour, linewidth=1.0)
        asked = np.arange(len(played.loudness_db)) / played.frame_rate
        loud.plot(asked, played.loudness_db, color=colour, linewidth=0.8, linestyle=":")
    pitches = [n.pitch for p in rendering.voices for n in p.voice.notes]
    roll.set_ylim(min(pitches) - 3, max(pitches) + 3)
    roll.set_xlim(0, rendering.duration)
    roll.set_ylabel("pitch (MIDI)")
    roll.legend(loc="upper right", fontsize=7)
    roll.set_title(title or f"{Path(rendering.score.path).name}: notes (boxes) and the "
                            f"output's f0 (lines)")
    loud.set_ylabel("loudness (dB)")
    loud.set_ylim(-85, None)
    loud.set_xlabel("seconds")
    for ax in (roll, loud):
        ax.grid(alpha=0.3)
    return fig


def plot_roll(rendering: MidiRendering, path, overwrite: bool = False) -> Path:
    """:func:`roll_figure` written as a PNG (atomically; an existing file only with
    ``overwrite``)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: pictures are written as PNG; use a .png name")
    fig = roll_figure(rendering)
    with atomic_output(path, overwrite) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    return path


__all__ = ["plot_roll", "roll_figure"]
