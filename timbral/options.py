"""User-facing options defined once: one table feeds argparse, Python, JSON and the web page.

A table (:class:`OptionTable`) of :class:`Option` entries (name, kind, default,
range, unit, label, help) checks values coming from Python
(:meth:`OptionTable.check`), the command line (:meth:`~OptionTable.add_arguments`,
:meth:`~OptionTable.from_args`), a JSON object (:meth:`~OptionTable.from_json`)
or a query string (:meth:`~OptionTable.from_query`) with the same one-line
messages, and describes itself for the web page (:meth:`~OptionTable.as_json`).
The transfer controls (:mod:`timbral.transfer.controls`) and the options of
playing a MIDI file (:mod:`timbral.midi.controls`) are such tables.

No torch here: the command line's option parsing stays light.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

Value = Union[None, bool, int, float]

__all__ = ["DEVICES", "Option", "OptionTable", "Value", "add_device_option"]

#: Where models and pitch trackers may run (``--device``).
DEVICES = ("cpu", "cuda")

_WHOLE = re.compile(r"^[+-]?[0-9]{1,9}$")


@dataclass(frozen=True)
class Option:
    """One option.

    Attributes:
      name: keyword argument, JSON key or query parameter, argparse dest
        (``pitch_shift``).
      kind: "float" (a number), "int" (a whole number, or None when the default
        is: ``unset``), "bool" (a switch) or "override" (a number, or None: ``unset``).
      default: value when not given.
      minimum, maximum: the accepted range, inclusive (None for "bool"; a None
        maximum: no upper bound here).
      unit: unit of the value ("dB", "octaves"; "x" for a factor; "" when none).
      label: short name for the web page.
      help: one or two sentences for ``--help`` and the web page.
      step: the page's input step (None for "bool").
      unset: what None means, when the default is None ("every track").
      flag: the command-line option (default: the name with dashes; a switch
        whose default is True turns it off, e.g. ``--no-adjust``).
      adjust_only: acts only when auto-adjust is on (transfer controls).
    """

    name: str
    kind: str
    default: Value
    minimum: Optional[float]
    maximum: Optional[float]
    unit: str
    label: str
    help: str
    step: Optional[float] = None
    unset: str = ""
    flag: str = ""
    adjust_only: bool = False

    def __post_init__(self):
        if not self.flag:
            object.__setattr__(self, "flag", "--" + self.name.replace("_", "-"))

    @property
    def range_text(self) -> str:
        """The range of a number: ``"from 0 to 60 dB"``, ``">= 0"`` (a factor's "x"
        is left out)."""
        unit = f" {self.unit}" if self.unit and self.unit != "x" else ""
        if self.maximum is None:
            return f">= {self.minimum:g}{unit}"
        return f"from {self.minimum:g} to {self.maximum:g}{unit}"

    def check(self, value) -> Value:
        """``value`` (a Python value) as this option's type, or a one-line ValueError
        naming the option, its range and unit."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name}: expected true or false, got {value!r}")
            return value
        if value is None and self.default is None:
            return None
        whole = self.kind == "int"
        if isinstance(value, bool) or not isinstance(value, numbers.Integral if whole
                                                     else numbers.Real):
            raise ValueError(f"{self.name}: expected a {'whole ' if whole else ''}number, "
                             f"got {value!r}")
        try:
            number = int(value) if whole else float(value)
        except OverflowError:  # an integer past float's range (a JSON 1000...0)
            number = math.inf
        if not ((whole or math.isfinite(number)) and self.minimum <= number
                and (self.maximum is None or number <= self.maximum)):
            noun = "a whole number" if whole else "a finite number"
            shown = (str(number) if len(str(number)) <= 20 else f"{str(number)[:17]}...") \
                if whole else f"{number:g}"
            raise ValueError(f"{self.name}: expected {noun} {self.range_text}, got {shown}")
        return number


class OptionTable:
    """Options in the order the command line and the web page show them.

    Args:
      options: the :class:`Option` entries.
      noun: one of them, for messages ("control", "option").
      what: all of them, for messages ("controls", "MIDI options").
    """

    def __init__(self, options: Sequence[Option], noun: str, what: str):
        self.options = tuple(options)
        self.noun, self.what = noun, what
        self.by_name = {o.name: o for o in self.options}

    def __iter__(self):
        return iter(self.options)

    def __len__(self) -> int:
        return len(self.options)

    def __getitem__(self, index: int) -> Option:
        return self.options[index]

    def _refuse_unknown(self, names: Iterable[str]) -> None:
        unknown = sorted(str(n) for n in names if n not in self.by_name)
        if unknown:
            raise ValueError(f"unknown {self.noun}(s): {', '.join(unknown)}; the {self.what} "
                             f"are {', '.join(self.by_name)}")

    def check(self, values: Mapping) -> Dict[str, Value]:
        """Every option, checked, from ``values`` (name -> Python value) or its
        default, in table order. One-line ValueErrors for an unknown name or a
        value of the wrong type or out of its range."""
        if not isinstance(values, Mapping):
            raise ValueError(f"{self.what}: expected a mapping of name -> value, "
                             f"got {type(values).__name__}")
        self._refuse_unknown(values)
        return {o.name: o.check(values[o.name]) if o.name in values else o.default
                for o in self.options}

    def add_arguments(self, parser) -> None:
        """An ``argparse`` option per entry (dest = the name)."""
        for o in self.options:
            if o.kind == "bool":
                parser.add_argument(o.flag, dest=o.name, default=o.default,
                                    action="store_false" if o.default else "store_true",
                                    help=f"Turn {o.label.lower()} "
                                         f"{'off' if o.default else 'on'}. {o.help}")
                continue
            what = "A whole number" if o.kind == "int" else "A number"
            default = f"default: {o.unset}" if o.default is None else f"default {o.default:g}"
            parser.add_argument(o.flag, dest=o.name, type=int if o.kind == "int" else float,
                                default=o.default,
                                metavar={"x": "factor", "": o.name}.get(o.unit, o.unit).upper(),
                                help=f"{o.help} {what} {o.range_text}; {default}."
                                     .replace("%", "%%"))

    def from_args(self, args) -> Dict[str, Value]:
        """The checked options of parsed arguments (:meth:`add_arguments`' options)."""
        return self.check({o.name: getattr(args, o.name) for o in self.options})

    def from_json(self, payload: Mapping, ignore: Iterable[str] = ()) -> Dict[str, Value]:
        """The checked options of a decoded JSON object (missing ones: defaults).

        JSON types are strict: a number takes a JSON number (not a string or
        true/false), a switch true or false. Keys in ``ignore`` (those the
        caller reads itself) are skipped; any other unknown key is refused."""
        if not isinstance(payload, Mapping):
            raise ValueError(f"expected the {self.what} as a JSON object, "
                             f"got {type(payload).__name__}")
        ignore = set(ignore)
        return self.check({k: v for k, v in payload.items() if k not in ignore})

    def from_query(self, values: Mapping[str, str]) -> Dict[str, Value]:
        """Every option from text values (a query string; missing or empty: the
        default), checked as :meth:`check` does. A whole number is written in
        digits, a switch ``true`` or ``false``."""
        self._refuse_unknown(values)
        out: Dict[str, Value] = {}
        for o in self.options:
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

    def as_json(self) -> List[dict]:
        """The options for the web page: ``{"id", "label", "kind", "default", "min",
        "max", "step", "unit", "help", "adjust_only"}`` each; "bool" is a checkbox,
        the others a slider or number box (an empty box: ``default`` None, which
        ``help`` explains)."""
        return [{"id": o.name, "label": o.label, "kind": o.kind, "default": o.default,
                 "min": o.minimum, "max": o.maximum, "step": o.step, "unit": o.unit,
                 "help": f"{o.help} Empty: {o.unset}." if o.unset else o.help,
                 "adjust_only": o.adjust_only} for o in self.options]


def add_device_option(parser, what: str) -> None:
    """``--device cpu|cuda`` (checked with :func:`timbral.validation.check_device`);
    ``what`` says what runs there."""
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help=f"where {what} (default cpu; cuda needs a GPU and a CUDA "
                             f"build of PyTorch)")
