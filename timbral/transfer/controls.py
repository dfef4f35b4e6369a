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

from typing import Dict, Iterable, List, Mapping

from ..options import Option, OptionTable, Value

__all__ = ["CONTROLS", "check_controls", "add_arguments", "from_args", "from_json", "as_json"]


def _control(name, default, minimum, maximum, unit, label, help, kind, **more) -> Option:
    return Option(name, kind, default, minimum, maximum, unit, label, help, **more)


#: The controls, in the order the command line and the web page show them (the page
#: shows the switches first, so they come first here too).
_CONTROLS = (
    _control("adjust", True, None, None, "", "Auto-adjust",
            "Auto-adjust moves the pitch register and loudness toward what the instrument "
            "was trained on.",
            kind="bool", flag="--no-adjust"),
    _control("hold_pitch", False, None, None, "", "Hold pitch through consonants",
            "For singing: keep a note sounding at its pitch through consonants and breaths "
            "inside a phrase (up to 0.25 s).",
            kind="bool", flag="--hold-pitch"),
    _control("gate", 0.5, 0.0, 1.0, "", "Noise gate",
            "How clearly pitched and how far above the recording's own noise floor a sound "
            "must be to play; the rest (noise, breath, consonants) is silence. 0 turns the "
            "gate off.",
            kind="float", flag="--gate", step=0.05),
    _control("threshold", 1.0, 0.0, 2.0, "", "Note threshold",
            "How clearly a frame must sound like a note to count as one (higher: fewer notes).",
            kind="float", flag="--threshold", step=0.01),
    _control("quiet", 20.0, 0.0, 60.0, "dB", "Quiet between notes",
            "How much softer the frames between notes are made (auto-adjust).",
            kind="float", flag="--quiet", step=1.0, adjust_only=True),
    _control("autotune", 0.0, 0.0, 1.0, "", "Autotune",
            "Pull the pitch toward the notes of the inferred major scale (auto-adjust).",
            kind="float", flag="--autotune", step=0.01, adjust_only=True),
    _control("pitch_shift", 0.0, -2.0, 2.0, "octaves", "Pitch shift",
            "Move the melody by octaves, after auto-adjust.",
            kind="float", flag="--pitch-shift", step=1.0),
    _control("semitones", 0.0, -24.0, 24.0, "semitones", "Transpose",
            "Move the melody by semitones too, after auto-adjust.",
            kind="float", flag="--semitones", step=1.0),
    _control("loudness_shift", 0.0, -20.0, 20.0, "dB", "Loudness shift",
            "Play louder or softer, after auto-adjust.",
            kind="float", flag="--loudness-shift", step=1.0),
)

CONTROLS = OptionTable(_CONTROLS, "control", "controls")


def check_controls(values: Mapping) -> Dict[str, Value]:
    """Every control, checked, from ``values`` (name -> value) or its default:
    floats for numbers, bools for switches, in :data:`CONTROLS` order. One-line
    ValueErrors for an unknown name or a value out of its control's range."""
    return CONTROLS.check(values)


def add_arguments(parser) -> None:
    """Add an option per control to an ``argparse`` parser (dest = the control's name)."""
    CONTROLS.add_arguments(parser)


def from_args(args) -> Dict[str, Value]:
    """The checked controls of parsed arguments (:func:`add_arguments`' options),
    as keyword arguments of :func:`timbral.transfer.transfer` or ``StreamProcessor``."""
    return CONTROLS.from_args(args)


def from_json(payload: Mapping, ignore: Iterable[str] = ()) -> Dict[str, Value]:
    """The checked controls of a decoded JSON object (missing ones: defaults; keys in
    ``ignore`` are the caller's; JSON types strict). One-line ValueErrors."""
    return CONTROLS.from_json(payload, ignore)


def as_json() -> List[dict]:
    """The controls for the web page (:meth:`timbral.options.OptionTable.as_json`)."""
    return CONTROLS.as_json()
