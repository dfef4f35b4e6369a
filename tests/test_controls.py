"""The transfer controls' one definition, and the MIDI options' one definition: argparse
options, JSON and Python checks agree."""

import argparse
import json
import math

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


# ---------------------------------------------------------------- MIDI files
def _play_parser() -> argparse.ArgumentParser:
    """`timbral play`'s own parser, as the command line builds it."""
    from timbral.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["play"]


def _play_args(*extra):
    return _play_parser().parse_args(["a.mid", "--model", "flute", "--output", "a.wav", *extra])


def test_timbral_play_and_the_web_page_take_their_midi_options_from_one_table():
    from timbral.midi import OVERRIDES
    from timbral.midi import controls as midi

    names = [o.name for o in midi.OPTIONS]
    assert names == ["track", "channel", "transpose", "tempo_scale", "legato", *OVERRIDES]
    actions = {a.dest: a for a in _play_parser()._actions}
    described = {d["id"]: d for d in midi.as_json()}
    json.dumps(list(described.values()))  # plain JSON
    assert list(described) == names
    for o in midi.OPTIONS:
        action, page = actions[o.name], described[o.name]
        assert action.option_strings == [o.flag] and action.default == o.default == \
            page["default"]
        assert (page["min"], page["max"], page["step"], page["unit"], page["kind"]) == \
            (o.minimum, o.maximum, o.step, o.unit, o.kind)
        assert o.help in action.help.replace("%%", "%") and page["help"].startswith(o.help)
        if o.kind == "bool":
            assert action.nargs == 0 and o.minimum is None
        else:
            assert action.type is (int if o.kind == "int" else float)
            assert o.range_text in action.help
            assert o.minimum <= (o.minimum if o.default is None else o.default) \
                <= (o.maximum if o.maximum is not None else math.inf)
    for name, (unit, low, high, _) in OVERRIDES.items():
        assert (described[name]["unit"], described[name]["min"], described[name]["max"]) == \
            (unit, low, high)
    # Defaults: what read_midi and play_score take when nothing is said.
    assert midi.from_args(_play_args()) == midi.check_options({}) == midi.from_query({}) == \
        {o.name: o.default for o in midi.OPTIONS}
    args = _play_args("--track", "1", "--channel", "2", "--transpose", "-2.5",
                      "--tempo-scale", "0.5", "--legato", "--vibrato-rate", "6")
    assert midi.from_args(args) == midi.from_query(
        {"track": "1", "channel": "2", "transpose": "-2.5", "tempo_scale": "0.5",
         "legato": "true", "vibrato_rate": "6"}) == dict(
        midi.check_options({}), track=1, channel=2, transpose=-2.5, tempo_scale=0.5,
        legato=True, vibrato_rate=6.0)


def test_midi_options_refuse_what_read_midi_refuses(tmp_path, capsys):
    """A value just beyond each of read_midi's bounds is refused by `timbral play`'s check,
    the web's and read_midi itself; the bounds themselves are accepted by all three."""
    import mido

    from timbral import cli
    from timbral.midi import controls as midi
    from timbral.midi import read_midi, score

    path = tmp_path / "a.mid"
    midi_file = mido.MidiFile(type=0)
    midi_file.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, time=0),
                                            mido.Message("note_off", note=60, time=480)]))
    midi_file.save(str(path))

    def refused_by_read_midi(name, value) -> bool:
        try:
            read_midi(path, **{name: value})
        except ValueError as exc:  # channel 16: no notes in this file, but a valid channel
            return str(exc).startswith(f"{name}: expected")
        return False

    options = {o.name: o for o in midi.OPTIONS}
    bounds = {"channel": (score.MIN_CHANNEL, score.MAX_CHANNEL),
              "transpose": (-score.MAX_TRANSPOSE, score.MAX_TRANSPOSE),
              "tempo_scale": (score.MIN_TEMPO_SCALE, score.MAX_TEMPO_SCALE)}
    for name, (low, high) in bounds.items():
        o = options[name]
        assert (o.minimum, o.maximum) == (low, high)
        kind, step = (int, 1) if o.kind == "int" else (float, 0.01)
        for value, beyond in ((low, low - step), (high, high + step)):
            assert midi.from_args(_play_args(o.flag, str(value)))[name] == value
            assert midi.from_query({name: str(value)})[name] == value
            assert not refused_by_read_midi(name, kind(value)), (name, value)
            expected = (f"{name}: expected a {'whole' if kind is int else 'finite'} number "
                        f"{o.range_text}, got {beyond:g}")  # one wording for CLI and web
            assert _error(lambda: midi.from_args(_play_args(o.flag, str(beyond)))) == expected
            assert _error(lambda: midi.from_query({name: str(beyond)})) == expected
            assert refused_by_read_midi(name, kind(beyond)), (name, beyond)
    # The command refuses before loading a model or reading the file.
    assert cli.main(["play", str(tmp_path / "none.mid"), "--model", "nonesuch", "--output",
                     str(tmp_path / "b.wav"), "--channel", "17"]) == 2
    assert capsys.readouterr().err.strip() == \
        "timbral play: error: --channel: expected a whole number from 1 to 16, got 17"
    assert not (tmp_path / "b.wav").exists()
    # Other refusals, in one line.
    for values, message in (({"track": -1}, "track: expected a whole number >= 0, got -1"),
                            ({"channel": 2.0}, "channel: expected a whole number, got 2.0"),
                            ({"legato": 1}, "legato: expected true or false, got 1"),
                            ({"vibrato": float("nan")},
                             "vibrato: expected a finite number from 0 to 200 cents, got nan"),
                            ({"octaves": 1}, "unknown option(s): octaves; the MIDI options "
                                             "are track, channel, transpose, tempo_scale")):
        assert _error(lambda: midi.check_options(values)).startswith(message)


def test_integers_past_floats_range_are_refused_in_one_line():
    """A JSON 1000...0 (400 digits) raised OverflowError (a 500 in the web app)."""
    from timbral.midi.controls import OPTIONS as MIDI
    from timbral.transfer.controls import CONTROLS

    with pytest.raises(ValueError, match=r"^gate: expected a finite number from 0 to 1, got "
                                         r"inf$"):
        CONTROLS.by_name["gate"].check(10 ** 400)
    with pytest.raises(ValueError, match=r"^channel: expected a whole number from 1 to 16, "
                                         r"got 10000000000000000\.\.\.$"):
        MIDI.by_name["channel"].check(10 ** 400)
