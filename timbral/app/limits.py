"""What `timbral serve` accepts: the limits, with their defaults (no web imports here)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    """What the server accepts (all configurable on ``timbral serve``'s command line)."""

    max_upload_mb: float = 50.0    #: largest audio upload (MB = 10^6 bytes)
    max_model_mb: float = 100.0    #: largest model zip upload, unzipped size and model
    max_seconds: float = 300.0     #: longest audio accepted (seconds)
    max_midi_mb: float = 5.0       #: largest MIDI file upload
    max_midi_seconds: float = 600.0  #: longest MIDI rendering (the score's length, seconds)
    max_midi_voices: int = 32      #: most voices (notes sounding at once) a MIDI file may need
    jobs: int = 1                  #: transfers computed at once
    max_queue: int = 16            #: further transfers allowed to wait
    session_minutes: float = 60.0  #: idle time after which a session's files are deleted
    max_sessions: int = 50         #: sessions kept at once (the longest idle are dropped)

    def __post_init__(self):
        for name in ("max_upload_mb", "max_model_mb", "max_seconds", "max_midi_mb",
                     "max_midi_seconds", "session_minutes"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"--{name.replace('_', '-')}: expected a positive number, got "
                                 f"{value!r}")
        for name, low in (("jobs", 1), ("max_queue", 0), ("max_sessions", 1),
                          ("max_midi_voices", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise ValueError(f"--{name.replace('_', '-')}: expected an integer >= {low}, got "
                                 f"{value!r}")


#: Field name -> default, for the command line.
DEFAULTS = {f.name: f.default for f in fields(Limits)}
