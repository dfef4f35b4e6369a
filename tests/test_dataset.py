"""Dataset preparation and the windows training reads."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from timbral.data.dataset import TrainingData, dataset_size, prepare_dataset, read_manifest
from timbral.data.statistics import load_statistics


def test_prepared_dataset_holds_features_split_and_statistics(violin_dataset):
    manifest = read_manifest(violin_dataset)
    assert len(manifest["files"]) == 2 and manifest["skipped"] == []
    assert manifest["settings"]["frame_rate"] == 500
    for entry in manifest["files"]:
        assert entry["n_samples"] == 8 * 16000
        assert entry["n_frames"] == 8 * 16000 // 32 + 1  # centred frames
        assert entry["validation_start"] == round(0.9 * 8 * 500) * 32
    size = dataset_size(violin_dataset)
    assert size["train_seconds"] == pytest.approx(14.4)
    stats = load_statistics(violin_dataset / "statistics.json")
    # The violin phrases stay inside the instrument's range (MIDI 55-88).
    assert 55 <= stats["min_pitch_note"] < stats["mean_pitch_note"] < stats["max_pitch_note"] <= 89


def test_windows_line_up_audio_and_features(violin_dataset):
    data = TrainingData(violin_dataset)
    item = data.items[1]
    w = data.window(1, 16000, 32000, frame_rate=100)
    assert w["audio"].shape == (32000,) and w["f0_hz"].shape == (200,)
    np.testing.assert_array_equal(w["audio"], item["audio"][16000:48000])
    # 100 Hz frame j is the 500 Hz frame 5 j, centred on sample 16000 + 160 j.
    np.testing.assert_array_equal(w["loudness_db"], item["loudness_db"][500:1500:5])
    rng = np.random.default_rng
    a = data.sample_batch(rng(3), 4, 2.0, 250)
    b = data.sample_batch(rng(3), 4, 2.0, 250)
    assert a["audio"].shape == (4, 32000) and a["f0_hz"].shape == (4, 500)
    np.testing.assert_array_equal(a["audio"], b["audio"])
    validation = list(data.examples("validation", 0.5, 0.5, 100))
    assert len(validation) == 2 * 1  # 0.8 s held out per file: one 0.5 s window each
    with pytest.raises(ValueError, match="cannot serve a model at 300 Hz"):
        data.window(0, 0, 3200, frame_rate=300)


def test_bad_files_are_skipped_and_listed(violin_clips, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(violin_clips, folder)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00not really a wav file at all")
    sf.write(folder / "short.wav", np.zeros(8000, np.float32) + 0.1, 16000)
    sf.write(folder / "silent.wav", np.zeros(16000 * 3, np.float32), 16000)
    with pytest.warns(UserWarning) as caught:
        manifest = prepare_dataset([folder], tmp_path / "ds", progress=False)
    reasons = {e["source"].rsplit("/", 1)[1]: e["reason"] for e in manifest["skipped"]}
    assert set(reasons) == {"corrupt.wav", "short.wav", "silent.wav"}
    assert "cannot decode" in reasons["corrupt.wav"]
    assert "too short" in reasons["short.wav"] and "silent" in reasons["silent.wav"]
    assert len(caught) == 3 and len(manifest["files"]) == 2


def test_rerun_skips_finished_files_and_shards_compose(violin_clips, tmp_path):
    out = tmp_path / "ds"
    prepare_dataset([violin_clips], out, shard=(0, 2), progress=False)
    prepare_dataset([violin_clips], out, shard=(1, 2), progress=False)
    assert not (out / "manifest.json").exists()
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "items").iterdir()}
    manifest = prepare_dataset([violin_clips], out, progress=False)
    assert len(manifest["files"]) == 2
    assert {p.name: p.stat().st_mtime_ns for p in (out / "items").iterdir()} == stamps
    with pytest.raises(ValueError, match="prepared with other settings"):
        prepare_dataset([violin_clips], out, frame_rate=250, progress=False)


def test_unusable_inputs_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio files found"):
        prepare_dataset([tmp_path / "empty"], tmp_path / "ds", progress=False)
    sf.write(tmp_path / "empty" / "quiet.flac", np.zeros(16000 * 3, np.float32), 16000)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no usable audio"):
        prepare_dataset([tmp_path / "empty"], tmp_path / "ds", progress=False)
    assert not (tmp_path / "ds" / "manifest.json").exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a timbral dataset"):
        prepare_dataset([tmp_path / "empty"], tmp_path / "other", progress=False)
    with pytest.raises(ValueError, match="not a prepared dataset"):
        read_manifest(tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_whole_files_can_be_held_out(violin_clips, tmp_path):
    """--validation-files keeps a whole recording out of training; the others split."""
    from timbral.data.dataset import TrainingData, prepare_dataset

    first = sorted(p.name for p in violin_clips.glob("*.flac"))[0]
    manifest = prepare_dataset([violin_clips], tmp_path / "d", progress=False,
                               validation_files=[first])
    held = [f for f in manifest["files"] if f["source"].endswith(first)]
    others = [f for f in manifest["files"] if not f["source"].endswith(first)]
    assert len(held) == 1 and held[0]["validation_start"] == 0
    assert all(0 < f["validation_start"] < f["n_samples"] for f in others)
    data = TrainingData(tmp_path / "d")
    trained = {item for item, a, b in data.regions("train") if b > a}
    assert trained == {i for i, f in enumerate(manifest["files"]) if f in others}
    with pytest.raises(ValueError, match="no input file matches"):
        prepare_dataset([violin_clips], tmp_path / "e", progress=False,
                        validation_files=["nothing*"])
    assert not (tmp_path / "e").exists()  # refused before any work


def test_windows_where_the_tracker_is_unsure_are_left_out(violin_dataset, tmp_path):
    """A recording whose sounding frames all have low f0 confidence (a double stop,
    noise) teaches no pitch: with max_unsure it is never drawn."""
    import shutil

    from timbral.data.dataset import TrainingData

    copy = tmp_path / "d"
    shutil.copytree(violin_dataset, copy)
    doubtful = sorted((copy / "items").glob("*.npz"))[0]
    with np.load(doubtful) as npz:
        arrays = dict(npz)
    arrays["f0_confidence"][:] = 0.1
    np.savez(doubtful, **arrays)
    data = TrainingData(copy)
    assert data.unsure_share(2.0, 100, max_unsure=1.0) == 0.0
    assert 0.3 < data.unsure_share(2.0, 100, max_unsure=0.2) < 0.7  # one file of two
    marked = np.float32(0.1)  # the doubtful file's confidence, found in no other frame
    kept = data.sample_batch(np.random.default_rng(0), 64, 2.0, 100, max_unsure=0.2)
    assert not np.any(kept["f0_confidence"] == marked)
    mixed = data.sample_batch(np.random.default_rng(1), 64, 2.0, 100, max_unsure=1.0)
    assert np.any(np.all(mixed["f0_confidence"] == marked, axis=1))


def test_recordings_inside_a_dataset_folder_are_told_from_its_items(tmp_path, monkeypatch):
    """Another dataset under the folder searched is left out (its items are not
    recordings); recordings kept inside the dataset they go into, a run from inside a
    dataset folder and a file named one by one are kept."""
    import warnings

    from timbral.data.dataset import FORMAT, _not_in_datasets

    for path in ("ds/raw/a.wav", "ds/items/x.flac", "rec/b.wav", "rec/inner/items/y.flac"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x")
    for folder in ("ds", "rec/inner"):
        (tmp_path / folder / "manifest.json").write_text(json.dumps({"format": FORMAT}))
    monkeypatch.chdir(tmp_path)

    def kept(files, inputs, output):
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            out = _not_in_datasets([Path(f) for f in files], inputs, Path(output))
        return [str(f) for f in out], [str(w.message) for w in said]

    assert kept(["ds/raw/a.wav"], ["ds/raw"], "ds") == (["ds/raw/a.wav"], [])
    assert kept(["rec/b.wav", "rec/inner/items/y.flac"], ["rec"], "out") == (
        ["rec/b.wav"], [f"left out {tmp_path / 'rec' / 'inner'}: a prepared dataset, not "
                        f"recordings"])
    monkeypatch.chdir(tmp_path / "ds")
    assert kept(["../rec/b.wav"], ["../rec"], "../d2") == (["../rec/b.wav"], [])
    assert kept(["items/x.flac"], ["items/x.flac"], "../d3") == (["items/x.flac"], [])
