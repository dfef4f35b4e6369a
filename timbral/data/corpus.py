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
from ..validation import check_positive, check_seed
from .melodies import get_instrument
from .rendering import render_melody
from .soundfonts import resolve_soundfont


#: Clip lengths (s) and corpus length (minutes) rendered: a phrase is seconds long, and
#: a corpus is a training set, not a week of audio.
MIN_CLIP_SECONDS, MAX_CLIP_SECONDS, MAX_MINUTES = 1.0, 600.0, 6000.0


def render_corpus(instrument: str, minutes: float, folder, seed: int = 0,
                  clip_seconds: float = 30.0, soundfont=None, sample_rate: int = 16000,
                  progress: bool = True) -> List[Path]:
    """Render ``minutes`` of ``instrument`` into ``folder`` as clips; returns their paths.

    Args:
      instrument: a name of :data:`timbral.data.INSTRUMENTS`.
      minutes: total duration to render.
      folder: output folder (created); existing clips with the same names are kept,
        so an interrupted render can be re-run; if they were rendered with
        another SoundFont, clip length or sample rate, ValueError before any work.
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
    if not MIN_CLIP_SECONDS <= clip_seconds <= MAX_CLIP_SECONDS:
        raise ValueError(f"clip_seconds: expected {MIN_CLIP_SECONDS:g} to {MAX_CLIP_SECONDS:g} "
                         f"s, got {clip_seconds:g}")
    if minutes > MAX_MINUTES:
        raise ValueError(f"minutes: expected at most {MAX_MINUTES:g} ({MAX_MINUTES / 60:g} h) "
                         f"in one corpus, got {minutes:g}")
    seed = check_seed(seed)
    font = resolve_soundfont(soundfont).resolve()
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: is a file; give a folder for the clips (--output)")
    n_clips = max(1, int(np.ceil(minutes * 60 / clip_seconds)))
    paths = [folder / f"{inst.name}_{seed + i}.flac" for i in range(n_clips)]
    wanted = {"soundfont": str(font), "clip_seconds": clip_seconds, "sample_rate": sample_rate}
    for path in paths:  # before any work: kept clips must be what this call would render
        _check_kept(path, wanted)
    folder.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(tqdm(paths, desc=f"render {inst.name}", unit="clip",
                                  disable=not progress)):
        notes_path = path.with_suffix(".notes.json")
        if not (path.exists() and notes_path.exists()):
            rendering = render_melody(inst, clip_seconds, seed=seed + i, soundfont=font,
                                      sample_rate=sample_rate)
            with atomic_output(notes_path, overwrite=True) as tmp:
                tmp.write_text(json.dumps({
                    "instrument": inst.name, "program": inst.program, "seed": seed + i,
                    **wanted,
                    "notes": [[n.onset, n.offset, n.pitch, n.velocity] for n in rendering.notes]}))
            with atomic_output(path, overwrite=True) as tmp:
                sf.write(tmp, rendering.audio, sample_rate, format="FLAC", subtype="PCM_24")
    return paths


def _check_kept(path: Path, wanted: dict) -> None:
    """Raise (one line) if a file at ``path`` is not a clip of a corpus (no notes file
    beside it), or was rendered with another SoundFont, clip length or sample rate
    than ``wanted`` (keys absent from an older notes file are not compared)."""
    notes_path = path.with_suffix(".notes.json")
    if path.exists() and not notes_path.exists():  # not a clip this renders: someone's file
        raise ValueError(f"{path}: exists and is no rendered clip (no {notes_path.name} beside "
                         f"it); choose another --output folder")
    if not path.exists():
        return
    try:
        kept = json.loads(notes_path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{notes_path}: unreadable ({exc}); delete it and {path.name} to "
                         f"render that clip again") from None
    for key, value in wanted.items():
        old = kept.get(key)
        if key == "soundfont" and old is not None:
            old = str(Path(old).resolve())
        if old is not None and old != value:
            raise ValueError(f"{path.parent}: {path.name} was rendered with {key} {old}, not "
                             f"{value}; choose another --output folder (or delete the old clips)")
