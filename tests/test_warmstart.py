"""Starting a model from another's weights: the same model, another rate, another size."""

import numpy as np
import pytest
import torch

from timbral.models import Autoencoder, preset_config
from timbral.models.rendering import render
from timbral.models.warmstart import init_from
from timbral.zoo import load_model


def _peak_hz(audio, rate):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return np.fft.rfftfreq(len(audio), 1.0 / rate)[np.argmax(spectrum)]


def test_the_same_preset_starts_as_the_source():
    torch.manual_seed(1)
    source = Autoencoder(preset_config("cpu-fast", reverb="bands")).eval()
    torch.manual_seed(2)
    model = Autoencoder(preset_config("cpu-fast", reverb="bands")).eval()
    assert init_from(model, source) == []
    f0, ld = np.full(100, 330.0, np.float32), np.full(100, -25.0, np.float32)
    np.testing.assert_array_equal(render(model, f0, ld), render(source, f0, ld))


def test_a_16_khz_violin_becomes_a_48_khz_one_that_plays_the_same_notes():
    """Every weight has a counterpart; the 48 kHz start plays the pitch it is given with
    the 16 kHz model's harmonics, its noise bands below 8 kHz are the source's nearest
    and its room's octave bands the source's, the two new top bands repeating its top."""
    source = load_model("violin")
    model = Autoencoder(preset_config("fullband")).eval()
    assert init_from(model, source) == []
    f0, ld = np.full(150, 440.0, np.float32), np.full(150, -20.0, np.float32)
    out = render(model, f0, ld)
    assert _peak_hz(out[48000:96000], 48000) == pytest.approx(440.0, abs=1.0)
    ref = render(source, f0, ld)
    level = 10 * np.log10(np.mean(out[48000:] ** 2) / np.mean(ref[16000:] ** 2))
    assert abs(level) < 6.0  # the same instrument, give or take the new top octaves
    w, w0 = model.decoder.dense_out.weight, source.decoder.dense_out.weight
    noise, noise0 = w[121:], w0[61:]  # after amps (1) and the harmonics (120 / 60)
    for band in (0, 10, 42):  # 0, 1875 and 7875 Hz: source bands 0, 15 and 63 (125 Hz apart)
        torch.testing.assert_close(noise[band], noise0[round(band * 1.5)])
    torch.testing.assert_close(noise[128], noise0[64])  # 24 kHz: the source's top (8 kHz)
    room, room0 = model.processor_group.processors[3], source.processor_group.processors[3]
    torch.testing.assert_close(room.log_t60[:7], room0.log_t60)
    torch.testing.assert_close(room.log_t60[7:], room0.log_t60[6].expand(2))


def test_another_network_is_refused():
    model = Autoencoder(preset_config("solo"))
    other = Autoencoder(preset_config("tiny"))  # only the output layer's bias has its shape
    with pytest.raises(ValueError, match="its decoder differs from this preset's"):
        init_from(model, other)


def test_training_can_start_from_a_shipped_model(violin_dataset, tmp_path):
    from timbral.train import train

    result = train(violin_dataset, tmp_path / "m", steps=2, batch_size=2, checkpoint_every=2,
                   progress=False, init_from="violin_soundfont")
    assert result.steps == 2
    model = load_model(tmp_path / "m")
    assert model.config["init_from"] == "violin_soundfont"
    assert "starting from the weights of `violin_soundfont`" in model.card
