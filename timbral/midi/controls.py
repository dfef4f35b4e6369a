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

import math
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Union

from .curves import LEGATO_GAP
from .expression import OVERRIDES
from .score import (MAX_CHANNEL, MAX_TEMPO_SCALE, MAX_TRANSPOSE, MIN_CHANNEL,
                    MIN_TEMPO_SCALE)

__all__ = ["MidiOption", "OPTIONS", "READ_MIDI_KEYWORDS", "add_arguments", "as_json",
           "check_options", "from_args", "from_query"]

Value = Union[None, bool, int, float]


@dataclass(frozen=True)
class MidiOption:
    """One option of playing a MIDI file.

    Attributes:
      name: keyword of ``read_midi``/``play_score`` or key of ``OVERRIDES``, query
        parameter of the web app, argparse dest (``tempo_scale``).
      kind: "int" (a whole number, or None: all), "float" (a number), "bool" (a
        switch) or "override" (a number, or None: the model's expression profile).
      default: value when not given (None: every track/channel, or the model's).
      minimum, maximum: the accepted range, inclusive (None: no bound here; a
        track's upper bound is the file's).
      step: the page's input step (None for "bool").
      unit: "semitones", "cents", "Hz", "s", "x" (a factor) or "" when none.
      label: short name for the web page.
      help: one or two sentences for ``--help`` and the web page.
      unset: what None means, when the default is None ("every track").
    """

    name: str
    kind: str
    default: Value
    minimum: Optional[float]
    maximum: Optional[float]
    step: Optional[float]
    unit: str
    label: str
    help: str
    unset: str = ""

    @property
    def flag(self) -> str:
        """The command-line option: ``--tempo-scale``."""
        return "--" + self.name.replace("_", "-")

    @property
    def range_text(self) -> str:
        """The range of a number option: ``"from 1 to 16"``, ``"from -48 to 48
        semitones"``, ``">= 0"`` (a factor's "x" is left out)."""
        unit = f" {self.unit}" if self.unit and self.unit != "x" else ""
        if self.maximum is None:
            return f">= {self.minimum:g}{unit}"
        return f"from {self.minimum:g} to {self.maximum:g}{unit}"

    def check(self, value) -> Value:
        """``value`` (a Python value) as this option's type, or a one-line ValueError
        naming the option and its range."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name}: expected true or false, got {value!r}")
            return value
        if value is None and self.default is None:
            return None
        whole = self.kind == "int"
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            raise ValueError(f"{self.name}: expected a {'whole ' if whole else ''}number, "
                             f"got {value!r}")
        number = value if whole else float(value)
        if not (math.isfinite(number) and self.minimum <= number
                and (self.maximum is None or number <= self.maximum)):
            noun = "a whole number" if whole else "a finite number"
            raise ValueError(f"{self.name}: expected {noun} {self.range_text}, got {number:g}")
        return number


#: Steps of the page's inputs for the overrides, by unit (0.01 otherwise).
_STEPS = {"cents": 1.0, "Hz": 0.1, "s": 0.01}

#: The options, in the order ``timbral play --help`` and the web page show them.
OPTIONS = (
    MidiOption("track", "int", None, 0, None, 1, "", "Track",
               "Play only this track (0-based, in file order).", unset="every track"),
    MidiOption("channel", "int", None, MIN_CHANNEL, MAX_CHANNEL, 1, "", "Channel",
               "Play only this channel (1-based, as musicians count).",
               unset="every channel but 10 (General MIDI percussion)"),
    MidiOption("transpose", "float", 0.0, -MAX_TRANSPOSE, MAX_TRANSPOSE, 1.0, "semitones",
               "Transpose", "Move every note by this many semitones (may be fractional)."),
    MidiOption("tempo_scale", "float", 1.0, MIN_TEMPO_SCALE, MAX_TEMPO_SCALE, 0.05, "x",
               "Tempo scale", "Play this many times faster (2: twice as fast, 0.5: half as "
                              "fast)."),
    MidiOption("legato", "bool", False, None, None, None, "", "Legato",
               f"Slur the notes of a voice that follow each other within {LEGATO_GAP:g} s."),
) + tuple(
    MidiOption(name, "override", None, low, high, _STEPS.get(unit, 0.01), unit,
               name.replace("_", " ").capitalize(), f"{text[0].upper()}{text[1:]}.",
               unset="the model's expression profile")
    for name, (unit, low, high, text) in OVERRIDES.items())

#: The options that are keywords of :func:`timbral.midi.read_midi`.
READ_MIDI_KEYWORDS = ("track", "channel", "transpose", "tempo_scale")

_BY_NAME = {o.name: o for o in OPTIONS}
_WHOLE = re.compile(r"^[+-]?[0-9]{1,9}$")


def _refuse_unknown(names: Iterable[str]) -> None:
    unknown = sorted(str(n) for n in names if n not in _BY_NAME)
    if unknown:
        raise ValueError(f"unknown option(s): {', '.join(unknown)}; the MIDI options are "
                         f"{', '.join(_BY_NAME)}")


def check_options(values: Mapping) -> Dict[str, Value]:
    """Every option, checked, from ``values`` (name -> Python value) or its default.

    Returns a dict in :data:`OPTIONS` order: ints (or None) for track and
    channel, floats for numbers (semitones, a factor, the overrides' units;
    None: the model's profile), a bool for legato. Raises a one-line ValueError
    for an unknown name or a value of the wrong type or out of its range.
    """
    if not isinstance(values, Mapping):
        raise ValueError(f"MIDI options: expected a mapping of name -> value, "
                         f"got {type(values).__name__}")
    _refuse_unknown(values)
    return {o.name: o.check(values[o.name]) if o.name in values else o.default
            for o in OPTIONS}


def add_arguments(parser) -> None:
    """Add an option per :data:`OPTIONS` entry to an ``argparse`` parser (``timbral
    play``'s; dest = the option's name, flag = the name with dashes)."""
    for o in OPTIONS:
        if o.kind == "bool":
            parser.add_argument(o.flag, dest=o.name, action="store_true", default=o.default,
                                help=o.help)
            continue
        what = "A whole number" if o.kind == "int" else "A number"
        default = f"default: {o.unset}" if o.default is None else f"default {o.default:g}"
        parser.add_argument(o.flag, dest=o.name, type=int if o.kind == "int" else float,
                            default=o.default,
                            metavar=({"x": "factor", "": o.name}.get(o.unit, o.unit)).upper(),
                            help=f"{o.help} {what} {o.range_text}; {default}."
                                 .replace("%", "%%"))


def from_args(args) -> Dict[str, Value]:
    """The checked options of parsed arguments (:func:`add_arguments`' options): the
    keywords of ``read_midi`` (:data:`READ_MIDI_KEYWORDS`), ``legato`` and the
    expression overrides of ``play_score``."""
    return check_options({o.name: getattr(args, o.name) for o in OPTIONS})


def from_query(values: Mapping[str, str]) -> Dict[str, Value]:
    """Every option, from text values (a query string of ``POST
    /api/session/{sid}/midi``; missing or empty: the default), checked as
    :func:`check_options` does. A whole number is written in digits, a switch
    ``true`` or ``false``. One-line ValueErrors."""
    _refuse_unknown(values)
    out: Dict[str, Value] = {}
    for o in OPTIONS:
        text = str(values.get(o.name, "")).strip()
        if not text:
            out[o.name] = o.default
        elif o.kind == "bool":
            if text not in ("true", "false"):
                raise ValueError(f"{o.name}: expected true or false, got {text!r}")
            out[o.name] = text == "true"
        elif o.kind == "int":
            if not _WHOLE.match(text):
                raise ValueError(f"{o.name}: expected a whole number, got {text!r}")
            out[o.name] = o.check(int(text))
        else:
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{o.name}: expected a number, got {text!r}") from None
            out[o.name] = o.check(number)
    return out


def as_json() -> List[dict]:
    """The options for the web page, in :data:`OPTIONS` order.

    Each is ``{"id", "kind", "default", "min", "max", "step", "unit", "label",
    "help"}``; ``kind`` "bool" is a checkbox, the others a number box (empty:
    ``default`` None, which ``help`` explains).
    """
    return [{"id": o.name, "kind": o.kind, "default": o.default, "min": o.minimum,
             "max": o.maximum, "step": o.step, "unit": o.unit, "label": o.label,
             "help": f"{o.help} Empty: {o.unset}." if o.unset else o.help}
            for o in OPTIONS]
