"""Magenta's dataset_statistics.pkl, read with an allow-list unpickler."""

import io
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from timbral.interop.statistics import (QUANTILE_TRANSFORMER_PATHS, QuantileTransformer,
                                        load_magenta_statistics, statistics_from_pickle_data)

from magenta_writers import MagentaPickler, write_magenta_statistics

FIXTURE = Path(__file__).parent / "data" / "magenta_solo_tiny"
PICKLE = FIXTURE / "solo_tiny" / "dataset_statistics.pkl"


@pytest.fixture(scope="module")
def stats():
    return load_magenta_statistics(PICKLE, frame_rate=250)


def test_statistics_are_magentas_values_exactly(stats):
    info = json.loads((FIXTURE / "solo_tiny_expected.json").read_text())
    keys = info["dataset_statistics_pkl"]["keys"]
    floats = {k: v["value"] for k, v in keys.items() if k != "quantile_transform"}
    assert len(floats) == 36
    assert {k: v for k, v in stats.items() if k in floats} == floats
    assert set(stats) == set(floats) | {"format", "version", "frame_rate", "quantile_transform"}
    assert stats["format"] == "timbral.statistics" and stats["version"] == 1
    assert stats["frame_rate"] == 250
    assert all(type(stats[k]) is float for k in floats)
    json.dumps(stats, allow_nan=False)  # plain JSON data


def test_quantile_table_is_magentas_exactly(stats):
    expected = np.load(FIXTURE / "solo_tiny_expected.npz")
    table = stats["quantile_transform"]
    assert table["n_quantiles"] == 1000 and table["output_distribution"] == "uniform"
    assert np.array_equal(np.array(table["quantiles"]), expected["qt_quantiles_"][:, 0])
    assert np.array_equal(np.array(table["references"]), expected["qt_references_"])


def test_statistics_drive_timbrals_quantile_transform(stats):
    """The imported table is valid timbral statistics and maps loudness as Magenta's did."""
    from timbral.data.statistics import QuantileTransform, validate_statistics

    expected = np.load(FIXTURE / "solo_tiny_expected.npz")
    assert validate_statistics(stats) == stats
    table = QuantileTransform.from_dict(stats["quantile_transform"])
    assert np.abs(table.transform(expected["qt_in_db"][:, 0])
                  - expected["qt_transform"][:, 0]).max() < 1e-9
    assert np.abs(table.inverse_transform(expected["qt_in_unit"][:, 0])
                  - expected["qt_inverse_transform"][:, 0]).max() < 1e-9


def test_frame_rate_unknown_by_default():
    assert load_magenta_statistics(PICKLE)["frame_rate"] is None


@pytest.mark.parametrize("class_path", QUANTILE_TRANSFORMER_PATHS +
                         ("sklearn.preprocessing._data.QuantileTransformer",))
def test_write_then_read_round_trips(tmp_path, stats, class_path):
    path = tmp_path / "dataset_statistics.pkl"
    write_magenta_statistics(path, stats, class_path=class_path)
    assert class_path.rsplit(".", 1)[0].encode() in path.read_bytes()
    assert b"numpy.core.multiarray" in path.read_bytes()  # numpy 1.x names, as ddsp wrote
    assert load_magenta_statistics(path, frame_rate=250) == stats


def test_old_statistics_with_few_keys(tmp_path):
    old = {"format": "timbral.statistics", "version": 1, "frame_rate": None,
           "mean_pitch": 60.5, "mean_loudness": -30.25, "mean_max_loudness": -10.0,
           "quantile_transform": {"n_quantiles": 3, "output_distribution": "uniform",
                                  "quantiles": [-50.0, -30.0, -10.0],
                                  "references": [0.0, 0.5, 1.0]}}
    path = tmp_path / "old.pkl"
    write_magenta_statistics(path, old, class_path=QUANTILE_TRANSFORMER_PATHS[1])
    assert load_magenta_statistics(path) == old


class _RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("payload, refused", [
    ("command", f"{os.system.__module__}.system"),
    ({"mean_pitch": np.float32(60), "x": np.load}, "numpy.load"),
    ({"mean_pitch": eval}, "builtins.eval"),
    ({"mean_pitch": Path("x")}, f"pathlib.{type(Path('x')).__name__}"),
])
def test_refuses_anything_outside_the_allow_list(tmp_path, payload, refused):
    marker = tmp_path / "ran"
    data = pickle.dumps(_RunsACommand(marker) if payload == "command" else payload)
    with pytest.raises(ValueError) as info:
        statistics_from_pickle_data(data, "dataset_statistics.pkl")
    assert str(info.value) == (f"dataset_statistics.pkl: refuses to load {refused}; only "
                               f"numbers, arrays and Magenta's QuantileTransformer are allowed")
    assert not marker.exists()


class _PersistentPickler(pickle.Pickler):
    def persistent_id(self, obj):
        return "id" if obj == "persistent" else None


def test_refuses_persistent_references():
    buffer = io.BytesIO()
    _PersistentPickler(buffer).dump({"a": "persistent"})
    with pytest.raises(ValueError, match="refuses persistent references"):
        statistics_from_pickle_data(buffer.getvalue())


@pytest.mark.parametrize("data, message", [
    (PICKLE.read_bytes()[:5000], "not a readable statistics pickle"),
    (b"garbage", "not a readable statistics pickle"),
    (pickle.dumps([1.0, 2.0]), "expected a dict of named statistics, got list"),
    (pickle.dumps({"quantile_transform": 3.0}), "is a float, expected Magenta's"),
])
def test_bad_pickles_are_one_clear_error(data, message):
    with pytest.raises(ValueError, match=message) as info:
        statistics_from_pickle_data(data, "dataset_statistics.pkl")
    assert str(info.value).startswith("dataset_statistics.pkl: ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("change, message", [
    ({"references": [0.0, 1.0]}, "1000 quantiles but 2 references"),
    ({"output_distribution": "normal"}, "output_distribution is 'normal'"),
])
def test_malformed_quantile_transform(tmp_path, stats, change, message):
    path = tmp_path / "s.pkl"
    write_magenta_statistics(path, dict(stats, quantile_transform=dict(
        stats["quantile_transform"], **change)))
    with pytest.raises(ValueError, match=message):
        load_magenta_statistics(path)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read the statistics"):
        load_magenta_statistics(tmp_path / "none.pkl")


def test_writer_refuses_values_float32_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="not a float32 value"):
        write_magenta_statistics(tmp_path / "s.pkl", {"mean_pitch": 0.1})


def test_unfitted_quantile_transform():
    buffer = io.BytesIO()
    MagentaPickler(buffer, QUANTILE_TRANSFORMER_PATHS[0]).dump(
        {"mean_pitch": np.float32(60.0), "quantile_transform": QuantileTransformer()})
    with pytest.raises(ValueError, match="lacks \\['quantiles_', 'references_'\\]; was it fitted"):
        statistics_from_pickle_data(buffer.getvalue())
