"""Recipes of the shipped models: recordings recipes need their data, held-out passages
are exactly the validation regions, and the card's table compares models side by side."""

import numpy as np
import pytest

from timbral.data.dataset import TrainingData
from timbral.recipes.build import RECIPES, build, heldout_passages, metrics_table


def test_a_recordings_recipe_asks_for_its_data(tmp_path):
    assert RECIPES["violin"].recordings and "CC BY 3.0" in RECIPES["violin"].credits
    assert "John Garner" in RECIPES["violin"].credits and "MinJi Kim" in RECIPES["violin"].credits
    with pytest.raises(ValueError, match="pass --data with the folder"):
        build("violin", tmp_path, data=None)
    with pytest.raises(ValueError, match="pass --data"):
        build("violin", tmp_path, data=tmp_path / "missing")
    assert not any(tmp_path.iterdir())  # refused before any work


def test_the_shipped_folder_is_replaced_only_with_overwrite(tmp_path):
    with pytest.raises(ValueError, match="pass --overwrite to replace it or --output DIR"):
        build("flute", tmp_path)
    assert not any(tmp_path.iterdir())  # refused before any work


def test_heldout_passages_are_the_validation_regions(violin_dataset):
    data = TrainingData(violin_dataset)
    passages = heldout_passages(violin_dataset)
    regions = [(i, a, b) for i, a, b in data.regions("validation") if b > a]
    assert len(passages) == len(regions) > 0
    for (audio, rate), (item, a, b) in zip(passages, regions):
        assert rate == data.sample_rate
        np.testing.assert_array_equal(audio, data.items[item]["audio"][a:b])
    # the same passages at another rate last as long
    doubled = heldout_passages(violin_dataset, 2 * data.sample_rate)
    for (audio, rate), (twice, rate2) in zip(passages, doubled):
        assert rate2 == 2 * rate and abs(len(twice) - 2 * len(audio)) <= 2


def test_the_card_table_puts_models_side_by_side():
    mine = {"spectral_loss": 6.5, "f0_cents_median": 3.25, "loudness_l1_db": 1.5}
    other = {"spectral_loss": 8.75, "f0_cents_median": 4.0, "loudness_l1_db": 2.5}
    table = metrics_table(mine, {"violin_soundfont": other}, tracker="pesto")
    lines = table.strip().splitlines()
    assert lines[0] == "| held-out resynthesis | value | violin_soundfont | target |"
    assert lines[2] == "| SpectralLoss (mag + logmag) | 6.50 | 8.75 | <= 5.0 |"
    assert "(pesto, median) | 3.2 cents | 4.0 cents |" in lines[3]


def test_full_band_is_measured_against_the_recording():
    """On a 48 kHz recording, the power above 8 kHz of each model's output is compared
    with the recording's at its own rate: a 16 kHz model has none, a 48 kHz one some;
    the card's table says so, and gives the 48 kHz model's loss at its own rate."""
    import numpy as np
    import torch

    from timbral.models import Autoencoder, preset_config
    from timbral.recipes.evaluate import evaluate_resynthesis

    rate = 48000
    t = np.arange(rate) / rate
    clip = (sum(0.3 / h * np.sin(2 * np.pi * 440.0 * h * t) for h in range(1, 40))
            ).astype(np.float32)  # harmonics to 17 kHz
    torch.manual_seed(0)
    narrow = Autoencoder(preset_config("cpu-fast")).eval()
    wide = Autoencoder(preset_config("fullband")).eval()
    m16 = evaluate_resynthesis(narrow, [(clip, rate)], tracker="crepe-tiny")
    m48 = evaluate_resynthesis(wide, [(clip, rate)], tracker="crepe-tiny")
    assert m16["high_band_db"] == -np.inf and "spectral_loss_native" not in m16
    assert np.isfinite(m48["high_band_db"]) and m48["spectral_loss_native"] > 0
    table = metrics_table(m48, {"violin": m16}, tracker="crepe-tiny")
    row = [line for line in table.splitlines() if line.startswith("| power above 8 kHz")][0]
    assert row.endswith("| none | within 6 dB |")
    assert "| SpectralLoss at the model's rate" in table and "| - | reported |" in table
