"""Preprocessing and decoders, checked against a real Magenta model's outputs."""

from pathlib import Path

import numpy as np
import pytest
import torch

from timbral.interop.magenta_weights import decoder_state_dict
from timbral.models import F0LoudnessPreprocessor, RnnFcDecoder

DATA = Path(__file__).parent / "data" / "magenta_solo_tiny" / "solo_tiny_expected.npz"


@pytest.fixture(scope="module")
def magenta():
    return dict(np.load(DATA))


def _variables(magenta):
    return {k[4:]: v for k, v in magenta.items() if k.startswith("var/")}


def _decoder(magenta, dtype=torch.float32):
    variables = _variables(magenta)
    decoder = RnnFcDecoder(rnn_channels=64, ch=64, layers_per_stack=2)
    decoder.load_state_dict(decoder_state_dict(variables, decoder))
    return decoder.to(dtype).eval()


def test_preprocessor_scales_like_magenta(magenta):
    out = F0LoudnessPreprocessor()({"f0_hz": torch.tensor(magenta["pre_f0_hz"]),
                                    "loudness_db": torch.tensor(magenta["pre_loudness_db"])})
    assert np.abs(out["f0_scaled"].numpy() - magenta["pre_f0_scaled"]).max() < 1e-6
    assert np.abs(out["ld_scaled"].numpy() - magenta["pre_ld_scaled"]).max() < 1e-6


@pytest.mark.parametrize("variant", ["", "givenld_"])
def test_decoder_reproduces_magenta(magenta, variant):
    inputs = {"ld_scaled": torch.tensor(magenta[f"{variant}pre_ld_scaled"]),
              "f0_scaled": torch.tensor(magenta["pre_f0_scaled"])}
    for dtype, tol in ((torch.float64, 2e-6), (torch.float32, 5e-5)):
        decoder = _decoder(magenta, dtype)
        with torch.no_grad():
            outputs, state = decoder({k: v.to(dtype) for k, v in inputs.items()})
        for name in ("amps", "harmonic_distribution", "noise_magnitudes"):
            err = np.abs(outputs[name].double().numpy() - magenta[f"{variant}dec_{name}"]).max()
            assert err < tol, (name, dtype, err)
        assert state.shape == (1, 1, 64)


def test_decoder_state_continues_a_stream(magenta):
    decoder = _decoder(magenta)
    x = {"ld_scaled": torch.tensor(magenta["pre_ld_scaled"]),
         "f0_scaled": torch.tensor(magenta["pre_f0_scaled"])}
    with torch.no_grad():
        whole, _ = decoder(x)
        first, state = decoder({k: v[:, :100] for k, v in x.items()})
        second, _ = decoder({k: v[:, 100:] for k, v in x.items()}, state)
    joined = torch.cat([first["amps"], second["amps"]], dim=1)
    assert torch.allclose(joined, whole["amps"], atol=1e-6)


def test_mapping_errors_name_the_variable(magenta):
    variables = _variables(magenta)
    del variables["model/decoder/dense_out/bias"]
    with pytest.raises(ValueError, match="dense_out/bias"):
        decoder_state_dict(variables, RnnFcDecoder(64, ch=64, layers_per_stack=2))
    with pytest.raises(ValueError, match="shape"):
        decoder_state_dict(_variables(magenta), RnnFcDecoder(32, ch=64, layers_per_stack=2))


def test_tiny_decoder_shapes_and_gradients():
    decoder = RnnFcDecoder(rnn_channels=256, ch=512, layers_per_stack=0)
    assert sum(p.numel() for p in decoder.parameters()) == pytest.approx(0.23e6, rel=0.05)
    x = {"ld_scaled": torch.rand(2, 30, 1, requires_grad=True), "f0_scaled": torch.rand(2, 30, 1)}
    outputs, _ = decoder(x)
    assert outputs["harmonic_distribution"].shape == (2, 30, 60)
    sum(o.sum() for o in outputs.values()).backward()
    assert x["ld_scaled"].grad.abs().sum() > 0
    with pytest.raises(ValueError, match="f0_scaled"):
        decoder({"ld_scaled": torch.rand(2, 30, 1)})


def test_full_decoder_has_magentas_size():
    assert sum(p.numel() for p in RnnFcDecoder().parameters()) == pytest.approx(4.8e6, rel=0.05)


def test_decoder_and_synths_reproduce_magentas_audio(magenta):
    """Magenta's model end to end: decoder -> Harmonic + FilteredNoise (the same noise)
    -> Add -> Reverb, against Magenta's output with an exact-phase harmonic."""
    from timbral import effects, synths

    decoder = _decoder(magenta)
    with torch.no_grad():
        raw, _ = decoder({"ld_scaled": torch.tensor(magenta["pre_ld_scaled"]),
                          "f0_scaled": torch.tensor(magenta["pre_f0_scaled"])})
        harmonic = synths.Harmonic(16000, 16000)(raw["amps"], raw["harmonic_distribution"],
                                                  torch.tensor(magenta["pre_f0_hz"]))
        noise_proc = synths.FilteredNoise(16000, window_size=0)
        noise = noise_proc.get_signal(**noise_proc.get_controls(raw["noise_magnitudes"]),
                                      noise=torch.tensor(magenta["in_noise_fixed"]))
        reverb = effects.Reverb(trainable=True, reverb_length=4000)
        reverb.ir.copy_(torch.tensor(magenta["var/model/processor_group/reverb/ir"]))
        audio = reverb(harmonic + noise)
    target = magenta["audio_synth_fixed_noise_np64harm"]
    assert np.abs(audio.numpy() - target).max() < 1e-5  # peak 0.15
