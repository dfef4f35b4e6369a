"""Gin text parsing without gin (and the tests' gin writer)."""

import json
from pathlib import Path

import pytest

from timbral.interop.gin import Macro, Reference, parse_gin

from magenta_writers import format_gin, format_value

FIXTURE = Path(__file__).parent / "data" / "magenta_solo_tiny"


def test_magentas_operative_config_parses_like_gin():
    text = (FIXTURE / "solo_tiny" / "operative_config-0.gin").read_text()
    ours = parse_gin(text, "operative_config-0.gin")
    info = json.loads((FIXTURE / "solo_tiny_expected.json").read_text())["operative_config"]
    checked = 0
    for key, value in info["gin_bindings_resolved"].items():
        short = ".".join(key.split(".")[-2:])
        if short == "macro.value":  # gin's own storage of `batch_size = 4`
            continue
        if isinstance(value, str) and value.startswith("%"):  # we resolve macros
            assert ours[short] == {"%batch_size": 4, "%learning_rate": 0.003}[value]
        elif isinstance(value, str) and value.startswith(("(", "[", "@")):
            assert format_value(ours[short]) == value, short  # gin's repr of the value
        else:
            assert ours[short] == value and type(ours[short]) is type(value), short
        checked += 1
    assert checked == len(ours) == 65
    dag = ours["ProcessorGroup.dag"]
    assert dag[0] == (Reference("synths.Harmonic", evaluate=True),
                      ["amps", "harmonic_distribution", "f0_hz"])
    assert ours["Harmonic.scale_fn"] == Reference("core.exp_sigmoid")
    assert ours["Harmonic.scale_fn"].configurable == "exp_sigmoid"


SYNTAX = r'''
# a comment
import ddsp
import ddsp.training as ddsp2   # alias
from __gin__ import dynamic_registration

outer = %inner          # macro used before it is defined
inner = (1, -2.5e-3, +4)
Harmonic.n_samples = 64000  # trailing comment
scope_a/Harmonic.n_samples = 32000
synths.FilteredNoise.name = 'noise # not a comment'
Reverb.reverb_length = \
    48000
RnnFcDecoder.output_splits = (('amps', 1),
                              ('harmonic_distribution', 60),  # comment inside
                              ('noise_magnitudes', 65))
Foo.one_tuple = (3,)
Foo.parenthesised = (3)
Foo.empty = ()
Foo.nested_macro = [%outer, {'k': %inner, 2: None}]
Foo.flags = [True, False, None]
Foo.joined = 'ab' "cd"
Foo.refs = [@core.exp_sigmoid, @scope/synths.Harmonic(), @Bar()]
Foo.missing = %undefined_macro
Foo.hex = 0x10
Foo.last = 1
Foo.last = 2
'''


def test_gin_syntax():
    g = parse_gin(SYNTAX)
    assert g["Harmonic.n_samples"] == 64000
    assert g["scope_a/Harmonic.n_samples"] == 32000
    assert g["FilteredNoise.name"] == "noise # not a comment"
    assert g["Reverb.reverb_length"] == 48000
    assert g["RnnFcDecoder.output_splits"] == (("amps", 1), ("harmonic_distribution", 60),
                                               ("noise_magnitudes", 65))
    assert g["Foo.one_tuple"] == (3,) and g["Foo.parenthesised"] == 3 and g["Foo.empty"] == ()
    assert g["Foo.nested_macro"] == [(1, -0.0025, 4), {"k": (1, -0.0025, 4), 2: None}]
    assert g["Foo.flags"] == [True, False, None]
    assert g["Foo.joined"] == "abcd"
    assert g["Foo.refs"] == [Reference("core.exp_sigmoid"),
                             Reference("synths.Harmonic", "scope", True),
                             Reference("Bar", evaluate=True)]
    assert str(g["Foo.refs"][1]) == "@scope/synths.Harmonic()"
    assert g["Foo.missing"] == Macro("undefined_macro")
    assert g["Foo.hex"] == 16 and g["Foo.last"] == 2
    assert "outer" not in g and "inner" not in g  # macros are not bindings


def test_module_names_kept_only_to_disambiguate():
    text = """
import ddsp.training as ddsp2
a.Thing.x = 1
ddsp2.b.Thing.x = 2
c.Other.y = 3
Other.y = 4
"""
    g = parse_gin(text)
    assert g == {"a.Thing.x": 1, "ddsp.training.b.Thing.x": 2, "Other.y": 4}


def test_include_needs_a_loader():
    files = {"base.gin": "A.x = 1\nA.y = %m\nm = 5\n"}
    g = parse_gin("include 'base.gin'\nA.x = 2\n", include_loader=files.__getitem__)
    assert g == {"A.x": 2, "A.y": 5}
    with pytest.raises(ValueError, match="line 1: include 'base.gin'"):
        parse_gin("include 'base.gin'\n")


@pytest.mark.parametrize("text, message", [
    ("A.x = (1, 2\nB.y = 3\n", "line 1"),
    ("A.x = 1\nA.y 2\n", "line 2: expected '='"),
    ("A.x = foo\n", "line 1: unexpected 'foo'"),
    ("A.x = 1 2\n", "line 1: unexpected '2'"),
    ("A.x = -'a'\n", "line 1: expected a number"),
    ("A.x = [1 2]\n", "line 1: expected ','"),
    ("m = %m\nA.x = %m\n", "refers to itself"),
    ("A.x = {[1]: 2}\n", "not hashable"),
    ("A.x = 1\nB.y = 'abc\n", "line 2: unexpected \"'\""),
])
def test_malformed_gin_is_one_clear_error(text, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_gin(text, "bad.gin")
    assert "\n" not in str(info.value)


def test_format_gin_round_trips():
    bindings = {
        "processors.Add.name": "add",
        "Harmonic.n_samples": 64000,
        "Harmonic.scale_fn": Reference("core.exp_sigmoid"),
        "exp_sigmoid.threshold": 1e-07,
        "train.batch_size": Macro("batch_size"),
        "my_scope/Reverb.trainable": True,
        "RnnFcDecoder.output_splits": (("amps", 1), ("harmonic_distribution", 60),
                                       ("noise_magnitudes", 65), ("extra_long_output_name", 7)),
        "ProcessorGroup.dag": [(Reference("synths.Harmonic", evaluate=True),
                                ["amps", "harmonic_distribution", "f0_hz"]),
                               (Reference("effects.Reverb", "room", True), ["harmonic/signal"])],
        "Foo.one": (1,),
        "Foo.mapping": {"a": [1, 2.5], "b": None},
    }
    text = format_gin(bindings, macros={"batch_size": 16})
    assert "ProcessorGroup.dag = \\\n    [(@synths.Harmonic()" in text  # gin's wrapping
    assert "\n     (@room/effects.Reverb(), ['harmonic/signal'])]" in text
    assert "# Parameters for processors.Add:" in text
    parsed = parse_gin(text)
    expected = {k.replace("processors.Add", "Add"): v for k, v in bindings.items()}
    expected["train.batch_size"] = 16
    assert parsed == expected


def test_format_refuses_what_gin_cannot_hold():
    with pytest.raises(ValueError, match="cannot write a set"):
        format_gin({"A.x": {1, 2}})
    with pytest.raises(ValueError, match="not a 'Configurable.param' selector"):
        format_gin({"nodot": 1})
