"""Dataset statistics: Magenta's quantile transform, hand-computed summaries, JSON files."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from timbral.data.statistics import (STAT_KEYS, QuantileTransform, compute_dataset_statistics,
                                     load_statistics, save_statistics, trim_frames,
                                     validate_statistics)

FIXTURE = Path(__file__).parent / "data" / "magenta_solo_tiny" / "solo_tiny_expected.npz"


def _hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


# ------------------------------------------------------------ quantile transform
def test_quantile_transform_matches_magenta_fixture():
    z = np.load(FIXTURE)
    qt = QuantileTransform(z["qt_quantiles_"][:, 0], z["qt_references_"])
    assert qt.n_quantiles == 1000
    np.testing.assert_allclose(qt.transform(z["qt_in_db"]), z["qt_transform"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(qt.inverse_transform(z["qt_in_unit"]), z["qt_inverse_transform"],
                               rtol=0, atol=1e-9)
    # through the JSON form too
    again = QuantileTransform.from_dict(json.loads(json.dumps(qt.to_dict())))
    np.testing.assert_array_equal(again.transform(z["qt_in_db"]), z["qt_transform"])
    np.testing.assert_array_equal(again.references, np.linspace(0, 1, 1000))


def test_fit_is_percentiles_and_round_trips():
    values = np.arange(100.0)[::-1]
    qt = QuantileTransform.fit(values)  # fewer values than 1000: one quantile each
    assert qt.n_quantiles == 100
    np.testing.assert_allclose(qt.quantiles, np.arange(100.0), atol=1e-9)
    np.testing.assert_allclose(qt.references, np.linspace(0, 1, 100))
    rng = np.random.default_rng(0)
    data = rng.normal(-20, 5, 5000)
    qt = QuantileTransform.fit(data, n_quantiles=1000)
    np.testing.assert_array_equal(qt.quantiles,
                                  np.percentile(data, np.linspace(0, 1, 1000) * 100))
    x = rng.uniform(qt.quantiles[0], qt.quantiles[-1], 200)
    np.testing.assert_allclose(qt.inverse_transform(qt.transform(x)), x, atol=1e-9)
    u = rng.uniform(0, 1, 200)
    np.testing.assert_allclose(qt.transform(qt.inverse_transform(u)), u, atol=1e-9)
    # ends and clamping
    assert qt.transform([qt.quantiles[0] - 10, qt.quantiles[-1] + 10]).tolist() == [0.0, 1.0]
    assert qt.inverse_transform([0.0, 1.0]).tolist() == [qt.quantiles[0], qt.quantiles[-1]]
    # the fitted data itself becomes uniform
    assert abs(np.mean(qt.transform(data)) - 0.5) < 1e-3


def test_repeated_quantiles_map_to_the_middle():
    qt = QuantileTransform.fit(np.array([1.0, 2.0, 2.0, 2.0, 3.0]))
    np.testing.assert_array_equal(qt.quantiles, [1, 2, 2, 2, 3])
    assert qt.transform([2.0])[0] == pytest.approx(0.5)
    assert qt.transform(torch.tensor([1.0, 3.0])).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("change, match", [
    ({"quantiles": [3.0, 2.0, 1.0]}, "non-decreasing"),
    ({"n_quantiles": 4}, "n_quantiles is 4"),
    ({"references": [0.0, 0.5]}, "3 quantiles but 2 references"),
    ({"references": [0.0, 0.5, 0.9]}, "from 0 to 1"),
    ({"output_distribution": "normal"}, "uniform"),
    ({"quantiles": [1.0, float("nan"), 2.0]}, "finite"),
])
def test_quantile_dict_errors(change, match):
    d = QuantileTransform([1.0, 2.0, 3.0]).to_dict()
    d.update(change)
    with pytest.raises(ValueError, match=match):
        QuantileTransform.from_dict(d)


# --------------------------------------------------------------- statistics
def _example(midi, confidence, loudness):
    return {"f0_hz": _hz(midi), "f0_confidence": np.asarray(confidence, dtype=np.float64),
            "loudness_db": np.asarray(loudness, dtype=np.float64)}


def _dataset():
    # A: confident, -20 dB, MIDI 69 then 81.  B: no confidence, -60 dB, MIDI 57.
    # C: confident on its first half (MIDI 60), not on its second half (MIDI 72), -20 dB.
    a = _example([69] * 50 + [81] * 50, np.ones(100), np.full(100, -20.0))
    b = _example([57] * 100, np.zeros(100), np.full(100, -60.0))
    c = _example([60] * 50 + [72] * 50, [1.0] * 50 + [0.0] * 50, np.full(100, -20.0))
    return [a, b, c]


def test_statistics_hand_computed():
    stats = compute_dataset_statistics(_dataset(), frame_rate=250, trim_end_frames=0)
    assert stats["format"] == "timbral.statistics" and stats["version"] == 1
    assert stats["frame_rate"] == 250 and isinstance(stats["frame_rate"], int)
    assert all(isinstance(stats[k], float) for k in STAT_KEYS)
    # All frames: pitch 69 x50, 81 x50, 57 x100, 60 x50, 72 x50.
    pitch = np.array([69] * 50 + [81] * 50 + [57] * 100 + [60] * 50 + [72] * 50, float)
    assert stats["mean_pitch"] == pytest.approx(pitch.mean())
    assert stats["std_pitch"] == pytest.approx(pitch.std())
    assert stats["max_pitch"] == pytest.approx(81) and stats["min_pitch"] == pytest.approx(57)
    assert stats["mean_max_pitch"] == pytest.approx((81 + 57 + 72) / 3)
    assert stats["mean_min_pitch"] == pytest.approx((69 + 57 + 60) / 3)
    assert stats["mean_loudness"] == pytest.approx(-100 / 3)
    assert stats["std_loudness"] == pytest.approx(np.std([-20] * 200 + [-60] * 100))
    assert stats["mean_max_loudness"] == pytest.approx(-100 / 3)
    # Note-on frames. The reference loudness is the whole dataset's mean (-33.3 dB),
    # so the ratio is smoothed(conf^2) * 60 / (46.67 * 0.49): on where >= 0.381,
    # i.e. where at least 16 of the 40 frames i-19 .. i+20 are confident.
    # A: every frame (its last frame still has 20/40). B: none.
    # C: frames 0..53 (frame 53 sees confident frames 34..49 = 16; frame 54 only 15).
    note_pitch = np.array([69] * 50 + [81] * 50 + [60] * 50 + [72] * 4, float)
    assert stats["mean_pitch_note"] == pytest.approx(note_pitch.mean())
    assert stats["std_pitch_note"] == pytest.approx(note_pitch.std())
    assert stats["max_pitch_note"] == pytest.approx(81)
    assert stats["min_pitch_note"] == pytest.approx(60)
    # B has no note-on frames, so it does not count in the per-example means
    assert stats["mean_max_pitch_note"] == pytest.approx((81 + 72) / 2)
    assert stats["mean_min_pitch_note"] == pytest.approx((69 + 60) / 2)
    assert stats["mean_loudness_note"] == pytest.approx(-20.0)
    assert stats["std_loudness_note"] == pytest.approx(0.0)
    qt = stats["quantile_transform"]
    assert qt["n_quantiles"] == 154 and qt["output_distribution"] == "uniform"
    assert qt["quantiles"] == [-20.0] * 154
    np.testing.assert_allclose(qt["references"], np.linspace(0, 1, 154))


def test_trim_scales_with_frame_rate():
    assert trim_frames(250) == 20 and trim_frames(50) == 4 and trim_frames(100) == 8
    # The last 20 frames (MIDI 81) are dropped at 250 Hz by default.
    example = _example([69] * 80 + [81] * 20, np.ones(100), np.full(100, -20.0))
    stats = compute_dataset_statistics([example], frame_rate=250)
    assert stats["max_pitch"] == pytest.approx(69) and stats["mean_pitch"] == pytest.approx(69)
    # At 50 Hz only 4 are: frames 76..79 still hold MIDI 81.
    stats = compute_dataset_statistics([example], frame_rate=50)
    assert stats["frame_rate"] == 50
    assert stats["mean_pitch"] == pytest.approx((80 * 69 + 16 * 81) / 96)
    assert stats["quantile_transform"]["n_quantiles"] == 96


def test_torch_inputs_and_any_iterable():
    gen = ({k: torch.as_tensor(v, dtype=torch.float32) for k, v in ex.items()}
           for ex in _dataset())
    stats = compute_dataset_statistics(gen, frame_rate=250, trim_end_frames=0)
    assert stats["max_pitch_note"] == pytest.approx(81, abs=1e-4)


def test_no_notes_raises():
    silent = _example([60] * 100, np.zeros(100), np.full(100, -80.0))
    with pytest.raises(ValueError, match="no notes detected in the training data"):
        compute_dataset_statistics([silent, silent], frame_rate=250)


@pytest.mark.parametrize("examples, kwargs, match", [
    ([], {}, "no examples"),
    ([{"f0_hz": np.ones(50), "loudness_db": np.ones(50)}], {}, "missing f0_confidence"),
    ([_example([60] * 50, np.ones(49), np.ones(50))], {}, "49 frames"),
    ([_example([60] * 20, np.ones(20), np.ones(20))], {}, "20 trimmed"),
    ([dict(_example([60] * 50, np.ones(50), np.ones(50)), frame_rate=100)], {}, "frame_rate"),
    ([_example([60] * 50, np.ones(50), np.ones(50))], {"frame_rate": 0}, "frame_rate"),
    ([[1, 2, 3]], {}, "mapping"),
])
def test_bad_examples(examples, kwargs, match):
    kwargs = {"frame_rate": 250, **kwargs}
    with pytest.raises(ValueError, match=match):
        compute_dataset_statistics(examples, **kwargs)


# ------------------------------------------------------------------ files
def test_save_load_round_trip(tmp_path):
    stats = compute_dataset_statistics(_dataset(), frame_rate=250, trim_end_frames=0)
    path = save_statistics(tmp_path / "model" / "statistics.json", stats)
    assert [p.name for p in path.parent.iterdir()] == ["statistics.json"]  # no temp left
    loaded = load_statistics(path)
    assert loaded == stats
    assert json.loads(path.read_text())["format"] == "timbral.statistics"
    # overwriting is the default; refusing is available
    save_statistics(path, stats)
    with pytest.raises(FileExistsError):
        save_statistics(path, stats, overwrite=False)


def test_validate_accepts_partial_magenta_imports_and_objects():
    qt = QuantileTransform([-30.0, -20.0, -10.0])
    d = validate_statistics({"format": "timbral.statistics", "version": 1, "frame_rate": 250.0,
                             "mean_pitch": np.float32(60.5), "mean_loudness": -20,
                             "quantile_transform": qt, "source": "magenta"})
    assert d["frame_rate"] == 250 and isinstance(d["mean_pitch"], float)
    assert d["quantile_transform"]["quantiles"] == [-30.0, -20.0, -10.0]
    assert d["source"] == "magenta"
    # what the Magenta importer writes when the frame rate is unknown, or an old
    # pickle without a quantile table
    d = validate_statistics({"format": "timbral.statistics", "version": 1, "frame_rate": None,
                             "mean_pitch": 60.0, "mean_power": -20.0})
    assert d["frame_rate"] is None and "quantile_transform" not in d


def _valid():
    return compute_dataset_statistics(_dataset(), frame_rate=250, trim_end_frames=0)


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(format="other"), "format"),
    (lambda d: d.update(version=2), "version"),
    (lambda d: d.pop("frame_rate"), "missing frame_rate"),
    (lambda d: d.update(max_power=math.inf), "max_power must be finite"),
    (lambda d: d.update(std_pitch=math.nan), "std_pitch must be finite"),
    (lambda d: d.update(mean_loudness="loud"), "mean_loudness must be a number"),
    (lambda d: d.update(frame_rate=-1), "frame_rate"),
    (lambda d: d["quantile_transform"].update(quantiles=d["quantile_transform"]["quantiles"][:-1]
                                              + [-99.0]), "non-decreasing"),
])
def test_validate_errors(edit, match):
    d = _valid()
    edit(d)
    with pytest.raises(ValueError, match=match) as info:
        validate_statistics(d)
    assert "\n" not in str(info.value)


def test_load_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_statistics(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "timbral.statistics", "version": 1}))
    with pytest.raises(ValueError, match="wrong.json: statistics: missing frame_rate"):
        load_statistics(wrong)
