"""Folders of rendered performances: training material from a SoundFont.

:func:`render_corpus` writes ``n`` clips of generated phrases for one
instrument (each its own seed, so corpora with disjoint seeds never share a
melody) as FLAC files plus, beside each, the exact note list as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from ..files import atomic_output
from ..validation import check_positive
from .melodies import get_instrument
from .soundfont import render_melody


def render_corpus(instrument: str, minutes: float, folder, seed: int = 0,
                  clip_seconds: float = 30.0, soundfont=None, sample_rate: int = 16000,
                  progress: bool = True) -> List[Path]:
    """Render ``minutes`` of ``instrument`` into ``folder`` as clips; returns their paths.

    Args:
      instrument: a name of :data:`timbral.data.INSTRUMENTS`.
      minutes: total duration to render.
      folder: output folder (created); existing clips with the same names are kept,
        so an interrupted render can be re-run.
      seed: the first clip's phrase seed; clip ``i`` uses ``seed + i``.
      clip_seconds: length of each clip.
      soundfont: SoundFont path or name (None: the default General MIDI one).
      sample_rate: output rate (Hz).
      progress: show a progress bar.

    Clip ``i`` is ``<instrument>_<seed + i>.flac`` with ``.notes.json`` beside it
    (onset and offset in seconds, MIDI pitch, velocity).
    """
    inst = get_instrument(instrument)
    minutes = check_positive(minutes, "minutes")
    clip_seconds = check_positive(clip_seconds, "clip_seconds")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n_clips = max(1, int(np.ceil(minutes * 60 / clip_seconds)))
    paths = []
    for i in tqdm(range(n_clips), desc=f"render {inst.name}", unit="clip", disable=not progress):
        path = folder / f"{inst.name}_{seed + i}.flac"
        notes_path = path.with_suffix(".notes.json")
        if not (path.exists() and notes_path.exists()):
            rendering = render_melody(inst, clip_seconds, seed=seed + i, soundfont=soundfont,
                                      sample_rate=sample_rate)
            with atomic_output(notes_path, overwrite=True) as tmp:
                tmp.write_text(json.dumps({
                    "instrument": inst.name, "program": inst.program, "seed": seed + i,
                    "soundfont": str(rendering.soundfont),
                    "notes": [[n.onset, n.offset, n.pitch, n.velocity] for n in rendering.notes]}))
            with atomic_output(path, overwrite=True) as tmp:
                sf.write(tmp, rendering.audio, sample_rate, format="FLAC", subtype="PCM_24")
        paths.append(path)
    return paths
