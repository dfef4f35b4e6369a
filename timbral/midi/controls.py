"""The options of playing a MIDI file, defined once.

``timbral play`` and the web app's MIDI upload (``POST /api/session/{sid}/midi``)
take the same options: :data:`OPTIONS` is their one definition (name, kind,
default, range, step, unit, label, help). The score options are the keywords
of :func:`timbral.midi.read_midi` (track, channel, transpose, tempo scale;
their bounds are :mod:`timbral.midi.score`'s, which ``read_midi`` checks) and
of :func:`timbral.midi.play_score` (legato); then one expression override per
:data:`timbral.midi.OVERRIDES` entry (its unit and bounds).

The helpers here check values coming from the command line
(:func:`add_arguments`, :func:`from_args`), from Python (:func:`check_options`)
or from a query string (:func:`from_query`), and describe the options for the
web page (:func:`as_json`). Errors are one-line ValueErrors naming the option,
its range and unit. ``read_midi`` and ``play_score`` check their arguments
again, with their own messages.

An option's ``name`` is its keyword of ``read_midi`` or ``play_score`` (or its
key of ``OVERRIDES``), its query parameter in the web app and its ``argparse``
dest; its command-line flag is the name with dashes (``--tempo-scale``).
"""

from __future__ import annotations

from typing import Dict, List, Mapping

from ..options import Option, OptionTable, Value
from .curves import LEGATO_GAP
from .expression import OVERRIDES
from .score import (MAX_CHANNEL, MAX_TEMPO_SCALE, MAX_TRANSPOSE, MIN_CHANNEL,
                    MIN_TEMPO_SCALE)

__all__ = ["OPTIONS", "READ_MIDI_KEYWORDS", "add_arguments", "as_json", "check_options",
           "from_args", "from_query"]


def _option(name, kind, default, minimum, maximum, step, unit, label, help, **more) -> Option:
    return Option(name, kind, default, minimum, maximum, unit, label, help, step=step, **more)


#: Steps of the page's inputs for the overrides, by unit (0.01 otherwise).
_STEPS = {"cents": 1.0, "Hz": 0.1, "s": 0.01}

#: The options, in the order ``timbral play --help`` and the web page show them.
_OPTIONS = (
    _option("track", "int", None, 0, None, 1, "", "Track",
            "Play only this track (0-based, in file order).", unset="every track"),
    _option("channel", "int", None, MIN_CHANNEL, MAX_CHANNEL, 1, "", "Channel",
            "Play only this channel (1-based, as musicians count).",
            unset="every channel but 10 (General MIDI percussion)"),
    _option("transpose", "float", 0.0, -MAX_TRANSPOSE, MAX_TRANSPOSE, 1.0, "semitones",
            "Transpose", "Move every note by this many semitones (may be fractional)."),
    _option("tempo_scale", "float", 1.0, MIN_TEMPO_SCALE, MAX_TEMPO_SCALE, 0.05, "x",
            "Tempo scale", "Play this many times faster (2: twice as fast, 0.5: half as "
                           "fast)."),
    _option("legato", "bool", False, None, None, None, "", "Legato",
            f"Slur the notes of a voice that follow each other within {LEGATO_GAP:g} s."),
) + tuple(
    _option(name, "override", None, low, high, _STEPS.get(unit, 0.01), unit,
            name.replace("_", " ").capitalize(), f"{text[0].upper()}{text[1:]}.",
            unset="the model's expression profile")
    for name, (unit, low, high, text) in OVERRIDES.items())

#: The options that are keywords of :func:`timbral.midi.read_midi`.
READ_MIDI_KEYWORDS = ("track", "channel", "transpose", "tempo_scale")

OPTIONS = OptionTable(_OPTIONS, "option", "MIDI options")


def check_options(values: Mapping) -> Dict[str, Value]:
    """Every option, checked, from ``values`` (name -> Python value) or its default,
    in :data:`OPTIONS` order: ints (or None) for track and channel, floats for
    numbers (None: the model's profile), a bool for legato. One-line ValueErrors."""
    return OPTIONS.check(values)


def add_arguments(parser) -> None:
    """Add an option per :data:`OPTIONS` entry to ``timbral play``'s parser (dest = the
    option's name, flag = the name with dashes)."""
    OPTIONS.add_arguments(parser)


def from_args(args) -> Dict[str, Value]:
    """The checked options of parsed arguments: the keywords of ``read_midi``
    (:data:`READ_MIDI_KEYWORDS`), ``legato`` and the expression overrides of
    ``play_score``."""
    return OPTIONS.from_args(args)


def from_query(values: Mapping[str, str]) -> Dict[str, Value]:
    """Every option from a query string of ``POST /api/session/{sid}/midi`` (text;
    missing or empty: the default), checked as :func:`check_options` does."""
    return OPTIONS.from_query(values)


def as_json() -> List[dict]:
    """The options for the web page (:meth:`timbral.options.OptionTable.as_json`)."""
    return OPTIONS.as_json()
