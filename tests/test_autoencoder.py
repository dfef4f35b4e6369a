"""The autoencoder, its presets and configs, model folders and load_model."""

import json
import zipfile

import numpy as np
import pytest
import torch

from timbral.models import (PRESETS, Autoencoder, preset_config, read_model_folder,
                            save_model_folder, validate_config)
from timbral.zoo import load_model


def _features(model, n_frames, batch=2, f0=220.0, ld=-30.0):
    return {"f0_hz": torch.full((batch, n_frames), f0), "loudness_db": torch.full((batch, n_frames), ld)}


@pytest.mark.parametrize("preset,params,reverb_taps", [
    ("solo", 4_849_150, 48000), ("tiny", 248_314, 16000), ("cpu-fast", 823_166, 0),
    ("realtime", 823_166, 0)])
def test_presets_have_their_documented_sizes(preset, params, reverb_taps):
    model = Autoencoder(preset_config(preset))
    assert model.n_parameters == params
    # The reverb IR (when the preset has one) is the only parameter outside the decoder.
    assert model.n_parameters - sum(p.numel() for p in model.decoder.parameters()) == reverb_taps


def test_forward_renders_any_length_and_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = Autoencoder(preset_config("cpu-fast"))
    for n_frames in (200, 37):  # the example length and another one
        out = model(_features(model, n_frames))
        assert out["audio"].shape == (2, n_frames * model.hop)
        assert out["harmonic/controls/f0_hz"].shape == (2, n_frames, 1)
    out["audio"].square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.processor_group.processors[0].n_samples == 32000  # originals untouched


def test_synthesised_pitch_follows_f0():
    torch.manual_seed(0)
    model = Autoencoder(preset_config("tiny"))
    audio = model(_features(model, 250, batch=1, f0=440.0))["harmonic/signal"][0].detach()
    spectrum = np.abs(np.fft.rfft(audio[4000:].numpy() * np.hanning(len(audio) - 4000)))
    freqs = np.fft.rfftfreq(len(audio) - 4000, 1 / 16000)
    harmonics = freqs[np.argsort(spectrum)[-1]]
    assert harmonics % 440.0 < 2.0 or 440.0 - harmonics % 440.0 < 2.0


def test_config_errors_are_one_line():
    config = preset_config("tiny")
    with pytest.raises(ValueError, match="frame_rate 7 must divide"):
        validate_config(dict(config, frame_rate=7))
    with pytest.raises(ValueError, match="is this a timbral model config"):
        validate_config({"format": "other"})
    with pytest.raises(ValueError, match="unknown name 'huge'"):
        preset_config("huge")
    with pytest.raises(ValueError, match="reverb"):
        preset_config("tiny", reverb="hall")
    assert set(PRESETS) >= {"solo", "tiny", "cpu-fast"}
    for gain in (41, float("nan"), "loud", True):
        config = preset_config("cpu-fast")
        config["processor_group"]["config"]["dag"][0]["processor"]["config"]["gain_db"] = gain
        with pytest.raises(ValueError, match="gain_db: expected"):
            Autoencoder(config)


def test_the_harmonic_gain_scales_the_harmonics_by_exactly_its_decibels(tmp_path):
    """A calibrated harmonic synth (gain_db) is the same synth times 10 ** (dB / 20),
    in training's forward and in chunked rendering (the stateful graph), and it
    survives the model folder; the noise synth is untouched."""
    from timbral.models.rendering import render

    torch.manual_seed(3)
    plain = Autoencoder(preset_config("cpu-fast", reverb="none")).eval()
    config = preset_config("cpu-fast", reverb="none")
    config["processor_group"]["config"]["dag"][0]["processor"]["config"]["gain_db"] = 6.0
    louder = Autoencoder(config).eval()
    louder.load_state_dict(plain.state_dict())
    factor = 10 ** (6.0 / 20)
    feats = _features(plain, 60)
    with torch.no_grad():
        torch.manual_seed(5)  # the same noise for both
        a = plain(feats)
        torch.manual_seed(5)
        b = louder(feats)
    torch.testing.assert_close(b["harmonic/signal"], a["harmonic/signal"] * factor,
                               rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(b["filtered_noise/signal"], a["filtered_noise/signal"])
    f0, ld = feats["f0_hz"][0].numpy(), feats["loudness_db"][0].numpy()
    quieter = Autoencoder(preset_config("cpu-fast", reverb="none")).eval()
    quieter.load_state_dict(plain.state_dict())
    quieter.processor_group.processors[0].set_gain_db(-6.0)
    # with the same noise, louder - plain = H (g - 1) and plain - quieter = H (1 - 1 / g)
    out = {m: render(m, f0, ld, chunk_seconds=0.13) for m in (louder, plain, quieter)}
    np.testing.assert_allclose(out[louder] - out[plain], (out[plain] - out[quieter]) * factor,
                               atol=1e-5 * np.abs(out[plain]).max())
    save_model_folder(tmp_path / "m", louder, card="# m\n")
    assert read_model_folder(tmp_path / "m").processor_group.processors[0].gain_db == 6.0


@pytest.mark.parametrize("reverb, last", [("ir", "Reverb"), ("exp_decay", "ExpDecayReverb"),
                                          ("bands", "MultibandDecayReverb"), ("none", "Add")])
def test_the_reverb_option_picks_the_last_processor(reverb, last):
    model = Autoencoder(preset_config("cpu-fast", reverb=reverb))
    assert type(model.processor_group.processors[-1]).__name__ == last
    assert PRESETS["solo"]["reverb"] == "ir"  # Magenta's recipe keeps its room


def test_the_fullband_preset_reaches_the_top_of_the_band():
    """48 kHz, loss sizes x3, and harmonics of a G3 up to about 23.5 kHz: an untrained
    model given a flat distribution puts energy above 8 kHz (16 kHz models cannot)."""
    config = preset_config("fullband")
    assert config["sample_rate"] == 48000 and config["frame_rate"] == 100
    assert config["training"]["loss"]["fft_sizes"] == [6144, 3072, 1536, 768, 384, 192]
    harmonics = dict(config["decoder"]["config"]["output_splits"])["harmonic_distribution"]
    assert harmonics * 196.0 > 23000
    reverb = config["processor_group"]["config"]["dag"][-1]["processor"]
    assert reverb["type"] == "MultibandDecayReverb" and reverb["config"]["reverb_length"] == 48000
    from timbral.synths import Harmonic

    synth = Harmonic(48000, 48000)
    audio = synth(torch.ones(1, 100, 1), torch.zeros(1, 100, harmonics),
                  torch.full((1, 100, 1), 196.0))
    spectrum = torch.fft.rfft(audio[0]).abs().square()
    freqs = torch.fft.rfftfreq(48000, 1 / 48000)
    assert spectrum[freqs > 8000].sum() / spectrum.sum() > 0.5


def test_model_folder_round_trip_is_exact(tmp_path):
    torch.manual_seed(1)
    model = Autoencoder(preset_config("tiny")).eval()
    save_model_folder(tmp_path / "m", model, card="# m\n")
    loaded = read_model_folder(tmp_path / "m")
    feats = _features(model, 100)
    torch.manual_seed(5)
    a = model(feats)["audio"]
    torch.manual_seed(5)
    b = loaded(feats)["audio"]
    assert torch.equal(a, b)
    assert loaded.statistics is None and loaded.card == "# m\n"
    with pytest.raises(FileExistsError, match="already holds a model"):
        save_model_folder(tmp_path / "m", model)


def test_broken_model_folders_give_clear_errors(tmp_path):
    model = Autoencoder(preset_config("tiny"))
    folder = save_model_folder(tmp_path / "m", model)
    config = json.loads((folder / "config.json").read_text())

    config["decoder"]["config"]["rnn_channels"] = 128
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"dense_out.weight has shape \[126, 258\], config.json implies"):
        read_model_folder(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json: not valid JSON"):
        read_model_folder(folder)
    (folder / "config.json").unlink()
    with pytest.raises(ValueError, match="not a model folder"):
        load_model(folder)
    folder = save_model_folder(tmp_path / "m2", model)
    (folder / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match="unreadable weights"):
        read_model_folder(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ValueError, match="missing model.safetensors"):
        read_model_folder(folder)


def test_load_model_from_zip_and_refuses_traversal(tmp_path):
    torch.manual_seed(2)
    model = Autoencoder(preset_config("tiny")).eval()
    folder = save_model_folder(tmp_path / "flute", model)
    archive = tmp_path / "flute.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in folder.iterdir():
            z.write(f, f"flute/{f.name}")
    loaded = load_model(archive)
    assert loaded.name == "flute"
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 loaded.state_dict().values()))
    broken, two = tmp_path / "broken.zip", tmp_path / "two.zip"
    with zipfile.ZipFile(broken, "w") as z:
        z.write(folder / "config.json", "flute/config.json")
    with zipfile.ZipFile(two, "w") as z:
        for name in ("a", "b"):
            for f in folder.iterdir():
                z.write(f, f"{name}/{f.name}")
    with pytest.raises(ValueError, match=f"^{broken}: flute: missing model.safetensors"):
        load_model(broken)
    with pytest.raises(ValueError, match=r"two.zip: the zip holds 2 folders \(a, b\); zip one"):
        load_model(two)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../escaped.json", "{}")
    with pytest.raises(ValueError, match="refusing entry '../escaped.json'"):
        load_model(evil)
    assert not (tmp_path.parent / "escaped.json").exists()
    with pytest.raises(ValueError, match="not a shipped model"):
        load_model("no-such-model")
    with pytest.raises(ValueError, match="device: expected one of"):
        load_model("flute", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device cuda: PyTorch sees no CUDA device"):
            load_model("flute", device="cuda")
    else:
        assert load_model("flute", device="cuda").device.type == "cuda"
