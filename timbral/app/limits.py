"""What `timbral serve` accepts: the limits, with their defaults (no web imports here)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields


def _limit(default, help: str):
    """A limit and its ``timbral serve`` flag's help (the flag is the name with dashes)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Limits:
    """What the server accepts (each a flag of ``timbral serve``; MB = 10^6 bytes)."""

    max_upload_mb: float = _limit(50.0, "largest audio upload in MB")
    max_model_mb: float = _limit(100.0, "largest model zip upload in MB, and the most it may "
                                        "expand to or its config may describe")
    max_seconds: float = _limit(300.0, "longest audio accepted, in seconds")
    max_midi_mb: float = _limit(5.0, "largest MIDI file upload in MB")
    max_midi_seconds: float = _limit(600.0, "longest MIDI score played, in seconds at the "
                                            "chosen tempo")
    max_midi_voices: int = _limit(32, "most voices (notes sounding at once) a MIDI file may "
                                      "need; each is rendered in full")
    jobs: int = _limit(1, "transfers computed at once")
    max_queue: int = _limit(16, "transfers allowed to wait beyond those")
    session_minutes: float = _limit(60.0, "delete a page's files after this long idle")
    max_sessions: int = _limit(50, "pages served at once; the longest idle is dropped beyond")

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


#: Field name -> default.
DEFAULTS = {f.name: f.default for f in fields(Limits)}


def add_limit_arguments(parser) -> None:
    """A flag per limit (``--max-upload-mb``; dest = the field's name)."""
    for f in fields(Limits):
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default),
                            default=f.default,
                            help=f"{f.metadata['help']} (default %(default)g)")
