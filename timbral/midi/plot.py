"""A played score as a picture: the piano roll under each voice's output f0 and loudness.

The output is measured, not assumed: each voice's rendered audio goes through
:func:`timbral.features.compute_audio_features` (the project's pitch tracker
and loudness), so the picture shows what the models played against what the
file asked for. Only where the voice has notes (and their release) is measured:
every voice's audio lasts the whole score, and tracking silence would cost
voices x score length. Notes above the tracker's range (:data:`MAX_F0_HZ`)
get no measured line: the tracker would give a wrong pitch there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba

from ..core import hz_to_midi
from ..features import compute_audio_features
from ..features.voicing import MAX_F0_HZ
from ..files import atomic_output
from .play import MidiRendering

#: Frames per second of the measured output curves.
PLOT_FRAME_RATE = 100
#: Output f0 is drawn where the tracker is at least this confident and the voice sounds.
VOICED_CONFIDENCE, SOUNDING_DB = 0.5, -60.0
#: Measured from this long before a note (s) to this long after it ends (its release).
LEAD_S, RELEASE_S = 0.1, 1.0


def measured_curves(played, sample_rate: int):
    """A voice's output f0 (MIDI, NaN where unvoiced or silent) and loudness (dB,
    NaN where not measured), float64 ``[n_frames]`` at :data:`PLOT_FRAME_RATE`
    (frame ``i`` at ``i / PLOT_FRAME_RATE`` s), measured over its notes' spans; no
    f0 where the voice was asked for more than :data:`MAX_F0_HZ`."""
    hop = sample_rate / PLOT_FRAME_RATE
    n_frames = int(len(played.audio) / hop) + 1
    midi, loudness = np.full(n_frames, np.nan), np.full(n_frames, np.nan)
    spans: list = []
    for note in sorted(played.voice.notes, key=lambda n: n.onset):
        first = max(0, int((note.onset - LEAD_S) * PLOT_FRAME_RATE))
        last = min(n_frames - 1, int(np.ceil((note.offset + RELEASE_S) * PLOT_FRAME_RATE)))
        if spans and first <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], last)
        elif first < last:
            spans.append([first, last])
    asked = np.interp(np.arange(n_frames) / PLOT_FRAME_RATE,
                      np.arange(len(played.f0_hz)) / played.frame_rate, played.f0_hz)
    for first, last in spans:
        audio = played.audio[int(round(first * hop)):int(round(last * hop)) + 1]
        features = compute_audio_features(audio, sample_rate, PLOT_FRAME_RATE)
        n = min(len(features["f0_hz"]), n_frames - first)
        f0 = hz_to_midi(torch.from_numpy(features["f0_hz"][:n])).numpy()
        ld = features["loudness_db"][:n].astype(np.float64)
        shown = (features["f0_confidence"][:n] >= VOICED_CONFIDENCE) & (ld > SOUNDING_DB) \
            & (asked[first:first + n] <= MAX_F0_HZ)
        midi[first:first + n] = np.where(shown, f0, np.nan)
        loudness[first:first + n] = ld
    return midi, loudness


def roll_figure(rendering: MidiRendering, title: str = "") -> Figure:
    """Top: the notes (boxes, one colour per voice, darker = louder velocity) and
    each voice's output f0 (MIDI) measured from its audio; bottom: each voice's
    output loudness (dB), solid, and the loudness it was asked for, dotted."""
    fig = Figure(figsize=(12, 7))
    roll, loud = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    colours = [f"C{i % 10}" for i in range(len(rendering.voices))]
    for played, colour in zip(rendering.voices, colours):
        notes = played.voice.notes  # one collection per voice: a patch per note cost 1.7 ms each
        boxes = [[(n.onset, n.pitch - 0.4), (n.offset, n.pitch - 0.4), (n.offset, n.pitch + 0.4),
                  (n.onset, n.pitch + 0.4)] for n in notes]
        faces = np.tile(to_rgba(colour), (len(notes), 1))
        faces[:, 3] = [0.15 + 0.5 * n.velocity / 127 for n in notes]
        roll.add_collection(PolyCollection(boxes, facecolors=faces, linewidths=0))
        midi, loudness = measured_curves(played, rendering.sample_rate)
        t = np.arange(len(midi)) / PLOT_FRAME_RATE
        roll.plot(t, midi, color=colour, linewidth=1.0,
                  label=f"{played.voice.label} ({played.model_name})")
        loud.plot(t, loudness, color=colour, linewidth=1.0)
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


__all__ = ["measured_curves", "plot_roll", "roll_figure"]
