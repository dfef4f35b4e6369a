"""The transfer controls' one definition: argparse options, JSON and Python checks agree."""

import argparse
import json

import pytest

from timbral.stream import StreamingAdjust
from timbral.transfer.controls import (CONTROLS, add_arguments, as_json, check_controls,
                                       from_args, from_json)

NUMBERS = [c for c in CONTROLS if c.kind == "float"]


def _parser():
    parser = argparse.ArgumentParser(prog="timbral")
    add_arguments(parser)
    return parser


def _error(call) -> str:
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_table():
    names = [c.name for c in CONTROLS]
    assert names == ["adjust", "hold_pitch", "gate", "threshold", "quiet", "autotune",
                     "pitch_shift", "semitones", "loudness_shift"]
    for c in NUMBERS:
        assert c.minimum <= c.default <= c.maximum and c.step > 0 and c.flag.startswith("--")
    with pytest.raises(AttributeError):  # frozen
        CONTROLS[0].default = False


def test_argparse_options_carry_the_defaults_and_ranges():
    parser = _parser()
    defaults = parser.parse_args([])
    assert {c.name: getattr(defaults, c.name) for c in CONTROLS} == \
        {c.name: c.default for c in CONTROLS}
    assert from_args(defaults) == check_controls({})
    options = {a.dest: a for a in parser._actions}
    for c in NUMBERS:
        assert options[c.name].option_strings == [c.flag] and options[c.name].type is float
        assert f"from {c.minimum:g} to {c.maximum:g}" in options[c.name].help
        assert f"default {c.default:g}" in options[c.name].help
    assert options["quiet"].metavar == "DB" and "0 to 60 dB" in options["quiet"].help
    args = parser.parse_args(["--no-adjust", "--pitch-shift", "-1", "--semitones", "3",
                              "--loudness-shift", "-6", "--autotune", "0.5"])
    assert from_args(args) == dict(adjust=False, hold_pitch=False, gate=0.5, threshold=1.0,
                                   quiet=20.0, autotune=0.5, pitch_shift=-1.0, semitones=3.0,
                                   loudness_shift=-6.0)


def test_check_controls_fills_defaults_and_refuses_unknown_names():
    assert check_controls({"quiet": 30}) == dict(check_controls({}), quiet=30.0)
    assert isinstance(check_controls({"quiet": 30})["quiet"], float)
    assert "unknown control(s): pitch" in _error(lambda: check_controls({"pitch": 1.0}))
    assert _error(lambda: check_controls({"adjust": 1})) == \
        "adjust: expected true or false, got 1"
    assert _error(lambda: check_controls({"threshold": float("inf")})) == \
        "threshold: expected a finite number from 0 to 2, got inf"


def test_from_json_refuses_out_of_range_unknown_and_wrongly_typed_values():
    assert from_json({"quiet": 30, "model": "violin"}, ignore=("model",))["quiet"] == 30.0
    assert _error(lambda: from_json({"quiet": 70})) == \
        "quiet: expected a finite number from 0 to 60 dB, got 70"
    assert _error(lambda: from_json({"loudness": 3})).startswith("unknown control(s): loudness;")
    assert _error(lambda: from_json({"model": "violin"})).startswith("unknown control(s): model")
    assert _error(lambda: from_json({"quiet": "loud"})) == "quiet: expected a number, got 'loud'"
    assert _error(lambda: from_json({"semitones": "3"})) == "semitones: expected a number, got '3'"
    assert _error(lambda: from_json({"threshold": True})) == \
        "threshold: expected a number, got True"
    assert _error(lambda: from_json({"adjust": "yes"})) == \
        "adjust: expected true or false, got 'yes'"
    assert "JSON object" in _error(lambda: from_json([1, 2]))


@pytest.mark.parametrize("name, bad", [("quiet", 70.0), ("threshold", -0.5), ("autotune", 2.0)])
def test_cli_json_and_streaming_give_the_same_error(name, bad):
    flag = next(c.flag for c in CONTROLS if c.name == name)
    cli = _error(lambda: from_args(_parser().parse_args([flag, str(bad)])))
    web = _error(lambda: from_json({name: bad}))
    stream = _error(lambda: StreamingAdjust(None, 50, **{name: bad}))
    assert cli == web == stream
    assert cli.startswith(f"{name}: expected a finite number from ")


def test_as_json_describes_every_control_for_the_page():
    described = as_json()
    json.dumps(described)  # plain JSON
    assert [d["id"] for d in described] == [c.name for c in CONTROLS]
    quiet = next(d for d in described if d["id"] == "quiet")
    assert quiet == {"id": "quiet", "label": "Quiet between notes", "kind": "float",
                     "default": 20.0, "min": 0.0, "max": 60.0, "step": 1.0, "unit": "dB",
                     "help": quiet["help"], "adjust_only": True}
    adjust = described[0]
    assert adjust["kind"] == "bool" and adjust["default"] is True and adjust["min"] is None
