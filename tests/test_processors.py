"""Processor base class, Add, Crop and the ProcessorGroup DAG."""

import json

import pytest
import torch

from timbral import effects, processors, synths
from timbral.processors import Add, Crop, ProcessorGroup, processor_from_config


def _solo_instrument_group(n_samples=4000):
    """Magenta's solo-instrument DAG: Harmonic + FilteredNoise -> Add -> Reverb."""
    return ProcessorGroup([
        (synths.Harmonic(n_samples, 16000), ["amps", "harmonic_distribution", "f0_hz"]),
        (synths.FilteredNoise(n_samples, seed=1), ["noise_magnitudes"]),
        (Add(), ["filtered_noise/signal", "harmonic/signal"]),
        (effects.Reverb(trainable=True, reverb_length=800), ["add/signal"]),
    ])


def _inputs(n_frames=50, batch=2):
    torch.manual_seed(0)
    return {"amps": torch.randn(batch, n_frames, 1),
            "harmonic_distribution": torch.randn(batch, n_frames, 20),
            "f0_hz": torch.full((batch, n_frames, 1), 220.0),
            "noise_magnitudes": torch.randn(batch, n_frames, 65)}


def test_processor_call_is_get_signal_of_get_controls():
    harmonic = synths.Harmonic(4000, 16000)
    inputs = _inputs()
    args = (inputs["amps"], inputs["harmonic_distribution"], inputs["f0_hz"])
    out = harmonic(*args, return_outputs_dict=True)
    assert set(out) == {"amplitudes", "harmonic_distribution", "f0_hz", "signal"}
    assert torch.equal(out["signal"], harmonic.get_signal(**harmonic.get_controls(*args)))
    assert torch.equal(out["signal"], harmonic(*args))


def test_dag_outputs_are_addressable_and_summed():
    group = _solo_instrument_group()
    out = group(_inputs(), return_outputs_dict=True)
    assert torch.equal(out["add/signal"], out["harmonic/signal"] + out["filtered_noise/signal"])
    assert torch.equal(out["out/signal"], out["reverb/signal"])
    assert out["harmonic/controls/amplitudes"].shape == (2, 50, 1)
    assert out["out/signal"].shape == (2, 4000)
    assert torch.equal(group(_inputs()), out["out/signal"])


def test_config_round_trip_through_json_gives_identical_audio():
    group = _solo_instrument_group()
    with torch.no_grad():
        group.processors[-1].ir.normal_(0, 0.01)  # a "trained" reverb
    config = json.loads(json.dumps(group.get_config()))
    rebuilt = processor_from_config(config)
    rebuilt.load_state_dict(group.state_dict())
    assert [p.name for p in rebuilt.processors] == ["harmonic", "filtered_noise", "add", "reverb"]
    assert rebuilt.input_keys == group.input_keys
    assert torch.equal(rebuilt(_inputs()), group(_inputs()))


def test_gradients_flow_through_the_whole_dag():
    group = _solo_instrument_group()
    inputs = {k: v.requires_grad_() if k != "f0_hz" else v for k, v in _inputs().items()}
    group(inputs).square().mean().backward()
    for key in ("amps", "harmonic_distribution", "noise_magnitudes"):
        assert inputs[key].grad.abs().sum() > 0, key
    assert group.processors[-1].ir.grad.abs().sum() > 0


def test_crop_locations():
    x = torch.arange(10.0)[None]
    assert Crop(4, "front")(x).tolist() == [[4, 5, 6, 7, 8, 9]]
    assert Crop(4, "back")(x).tolist() == [[0, 1, 2, 3, 4, 5]]
    assert Crop(3, "middle")(x).tolist() == [[1, 2, 3, 4, 5, 6, 7]]
    with pytest.raises(ValueError, match="crop_location"):
        Crop(3, "sideways")


def test_dag_errors_name_the_problem():
    group = _solo_instrument_group()
    inputs = _inputs()
    del inputs["noise_magnitudes"]
    with pytest.raises(ValueError, match="noise_magnitudes"):
        group(inputs)
    with pytest.raises(ValueError, match="unique"):
        ProcessorGroup([(Add(), ["a", "b"]), (Add(), ["add/signal", "b"])])
    with pytest.raises(ValueError, match="dag"):
        ProcessorGroup([])
    with pytest.raises(ValueError, match="signal_two"):
        Add()(torch.zeros(1, 10), torch.zeros(1, 11))
    with pytest.raises(ValueError, match="unknown processor type"):
        processor_from_config({"type": "Nope", "config": {}})
    with pytest.raises(ValueError, match="scale_fn"):
        synths.Harmonic(100, scale_fn=lambda x: x).get_config()


def test_every_processor_type_is_registered():
    for name in ("Harmonic", "FilteredNoise", "Sinusoidal", "Wavetable", "Reverb",
                 "ExpDecayReverb", "FilteredNoiseReverb", "FIRFilter", "ModDelay", "Add",
                 "Crop", "ProcessorGroup"):
        assert issubclass(processors.PROCESSOR_TYPES[name], processors.Processor)
