"""The user-facing controls of timbre transfer, defined once.

Offline transfer (:func:`timbral.transfer.transfer`), the streaming engine
(:class:`timbral.stream.StreamProcessor`), the command line and the web app
take the same controls: :data:`CONTROLS` is their one definition (name,
default, range, unit, help). The helpers here check values coming from
Python (:func:`check_controls`), the command line (:func:`add_arguments`,
:func:`from_args`) or JSON (:func:`from_json`) with the same one-line
messages, and describe the controls for the web page (:func:`as_json`).

A control's ``name`` is its keyword argument of ``transfer()`` and
``StreamProcessor``, its key in the web app's JSON and its ``argparse`` dest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Union

__all__ = ["Control", "CONTROLS", "check_controls", "add_arguments", "from_args", "from_json",
           "as_json"]

Value = Union[float, bool]


@dataclass(frozen=True)
class Control:
    """One transfer control.

    Attributes:
      name: keyword argument, JSON key and argparse dest (``pitch_shift``).
      default: value when not given.
      minimum, maximum: the accepted range, inclusive (None for ``bool``).
      unit: unit of the value ("dB", "octaves"; "" when it has none).
      label: short name for the web page.
      help: one or two sentences for ``--help`` and the web page.
      kind: "float" (a number, a slider on the page) or "bool" (a checkbox).
      flag: command-line option (a ``bool`` flag turns a True default off).
      step: slider step on the web page (None for ``bool``).
      adjust_only: acts only when auto-adjust is on.
    """

    name: str
    default: Value
    minimum: Optional[float]
    maximum: Optional[float]
    unit: str
    label: str
    help: str
    kind: str
    flag: str
    step: Optional[float] = None
    adjust_only: bool = False

    @property
    def range_text(self) -> str:
        """The range of a number control: ``"from 0 to 60 dB"``."""
        unit = f" {self.unit}" if self.unit else ""
        return f"from {self.minimum:g} to {self.maximum:g}{unit}"

    def check(self, value) -> Value:
        """``value`` as this control's type, or a one-line ValueError naming the
        control, its range and unit."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name}: expected true or false, got {value!r}")
            return value
        # Parsed here, not by timbral.validation, which imports torch: the CLI's
        # option parsing must stay light.
        if isinstance(value, bool):
            raise ValueError(f"{self.name}: expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: expected a number, got {value!r}") from None
        if not (math.isfinite(number) and self.minimum <= number <= self.maximum):
            raise ValueError(f"{self.name}: expected a finite number {self.range_text}, "
                             f"got {number:g}")
        return number


#: The controls, in the order the command line and the web page show them (the page
#: shows the switches first, so they come first here too).
CONTROLS = (
    Control("adjust", True, None, None, "", "Auto-adjust",
            "Move the pitch register and loudness toward what the instrument was trained on.",
            kind="bool", flag="--no-adjust"),
    Control("hold_pitch", False, None, None, "", "Hold pitch through consonants",
            "For singing: keep a note sounding at its pitch through consonants and breaths "
            "inside a phrase (up to 0.25 s).",
            kind="bool", flag="--hold-pitch"),
    Control("gate", 0.5, 0.0, 1.0, "", "Noise gate",
            "How clearly pitched and how far above the recording's own noise floor a sound "
            "must be to play; the rest (noise, breath, consonants) is silence. 0 turns the "
            "gate off.",
            kind="float", flag="--gate", step=0.05),
    Control("threshold", 1.0, 0.0, 2.0, "", "Note threshold",
            "How clearly a frame must sound like a note to count as one (higher: fewer notes).",
            kind="float", flag="--threshold", step=0.01),
    Control("quiet", 20.0, 0.0, 60.0, "dB", "Quiet between notes",
            "How much softer the frames between notes are made (auto-adjust).",
            kind="float", flag="--quiet", step=1.0, adjust_only=True),
    Control("autotune", 0.0, 0.0, 1.0, "", "Autotune",
            "Pull the pitch toward the notes of the inferred major scale (auto-adjust).",
            kind="float", flag="--autotune", step=0.01, adjust_only=True),
    Control("pitch_shift", 0.0, -2.0, 2.0, "octaves", "Pitch shift",
            "Move the melody by octaves, after auto-adjust.",
            kind="float", flag="--pitch-shift", step=1.0),
    Control("semitones", 0.0, -24.0, 24.0, "semitones", "Pitch shift",
            "Move the melody by semitones too, after auto-adjust.",
            kind="float", flag="--semitones", step=1.0),
    Control("loudness_shift", 0.0, -20.0, 20.0, "dB", "Loudness shift",
            "Play louder or softer, after auto-adjust.",
            kind="float", flag="--loudness-shift", step=1.0),
)

_BY_NAME = {c.name: c for c in CONTROLS}


def _refuse_unknown(names: Iterable[str]) -> None:
    unknown = sorted(str(n) for n in names if n not in _BY_NAME)
    if unknown:
        raise ValueError(f"unknown control(s): {', '.join(unknown)}; the controls are "
                         f"{', '.join(_BY_NAME)}")


def check_controls(values: Mapping) -> Dict[str, Value]:
    """Every control, checked, from ``values`` (name -> value) or its default.

    Returns a dict in :data:`CONTROLS` order: floats for numbers, bools for
    switches. Raises a one-line ValueError for an unknown name or a value out
    of its control's range.
    """
    if not isinstance(values, Mapping):
        raise ValueError(f"controls: expected a mapping of name -> value, "
                         f"got {type(values).__name__}")
    _refuse_unknown(values)
    return {c.name: c.check(values[c.name]) if c.name in values else c.default
            for c in CONTROLS}


def add_arguments(parser) -> None:
    """Add an option per control to an ``argparse`` parser (dest = the control's name)."""
    for c in CONTROLS:
        if c.kind == "bool":
            parser.add_argument(c.flag, dest=c.name, default=c.default,
                                action="store_false" if c.default else "store_true",
                                help=f"Turn {c.label.lower()} {'off' if c.default else 'on'}. "
                                     f"{c.help}")
        else:
            parser.add_argument(c.flag, dest=c.name, type=float, default=c.default,
                                metavar=(c.unit or c.name).upper(),
                                help=f"{c.help} A number {c.range_text}; default "
                                     f"{c.default:g}.")


def from_args(args) -> Dict[str, Value]:
    """The checked controls of parsed arguments (:func:`add_arguments`' options),
    as keyword arguments of :func:`timbral.transfer.transfer` or ``StreamProcessor``."""
    return check_controls({c.name: getattr(args, c.name) for c in CONTROLS})


def from_json(payload: Mapping, ignore: Iterable[str] = ()) -> Dict[str, Value]:
    """The checked controls of a decoded JSON object (missing ones: defaults).

    JSON types are strict: a number control takes a JSON number (not a string
    or true/false), a switch takes true or false. Keys in ``ignore`` (those
    the caller reads itself, e.g. ``"model"``) are skipped; any other unknown
    key is refused. Errors are one-line ValueErrors.
    """
    if not isinstance(payload, Mapping):
        raise ValueError(f"expected the transfer controls as a JSON object, "
                         f"got {type(payload).__name__}")
    ignore = set(ignore)
    values = {k: v for k, v in payload.items() if k not in ignore}
    _refuse_unknown(values)
    for name, value in values.items():
        if _BY_NAME[name].kind == "float" and (isinstance(value, bool)
                                               or not isinstance(value, (int, float))):
            raise ValueError(f"{name}: expected a number, got {value!r}")
    return check_controls(values)


def as_json() -> List[dict]:
    """The controls for the web page, in :data:`CONTROLS` order.

    Each is ``{"id", "label", "kind", "default", "min", "max", "step", "unit",
    "help", "adjust_only"}``; ``kind`` "float" is a slider (``min``/``max``/``step``
    set), "bool" a checkbox (``min``/``max``/``step`` None).
    """
    return [{"id": c.name, "label": c.label, "kind": c.kind, "default": c.default,
             "min": c.minimum, "max": c.maximum, "step": c.step, "unit": c.unit,
             "help": c.help, "adjust_only": c.adjust_only} for c in CONTROLS]
