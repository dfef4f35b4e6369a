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
