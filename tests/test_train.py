"""Training: a short run end to end, kill -9 and resume, data-parallel ranks."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from timbral.train import read_checkpoint_info, train
from timbral.zoo import load_model

SMALL = dict(preset="cpu-fast", batch_size=2, checkpoint_every=2, progress=False)


def _cli(*args):
    return [sys.executable, "-m", "timbral", *map(str, args)]


def _weights(folder):
    return load_model(folder).state_dict()


@pytest.fixture(scope="module")
def reference_run(violin_dataset, tmp_path_factory):
    """An uninterrupted 8-step run."""
    out = tmp_path_factory.mktemp("runs") / "reference"
    result = train(violin_dataset, out, steps=8, **SMALL)
    return out, result


def test_a_run_writes_a_loadable_model_folder(reference_run, violin_dataset):
    from timbral.data.dataset import TrainingData

    out, result = reference_run
    # a training-loss row every step of a short run, validation every 2 (checkpoint_every)
    assert result.steps == 8 and [r["step"] for r in result.history] == list(range(1, 9))
    assert [r["step"] for r in result.history if "validation_loss" in r] == [2, 4, 6, 8]
    assert all(r.get("validation_loss", 1) > 0 for r in result.history)
    model = load_model(out)
    assert model.name == "reference" and model.config["pitch_tracker"] == "crepe-tiny-refined"
    assert model.statistics["frame_rate"] == 100
    assert "8 steps" in model.card and "cpu-fast" in model.card
    names = [Path(f["source"]).name for f in TrainingData(violin_dataset).manifest["files"]]
    assert names and all(name in model.card for name in names[:5])  # what it learned from
    assert (out / "train" / "curve.png").stat().st_size > 10000
    assert list((out / "train" / "tensorboard").iterdir())
    # The loss a model folder reports is what the model does on held-out audio.
    assert result.history[0]["train_loss"] > 0


def test_a_run_ends_with_its_output_level_calibrated(reference_run, violin_dataset):
    """The model folder carries the gain that makes its resynthesis of training
    windows as loud as they are: measured again, the gap is gone."""
    from timbral.data.dataset import TrainingData
    from timbral.train.calibration import level_gap_db

    out, _ = reference_run
    model = load_model(out)
    gain = model.processor_group.processors[0].gain_db
    dag = model.config["processor_group"]["config"]["dag"]
    assert dag[0]["processor"]["config"]["gain_db"] == gain != 0.0
    assert f"harmonics {gain:+.2f} dB" in model.card
    assert abs(level_gap_db(model, TrainingData(violin_dataset))) < 0.1


def test_kill_9_then_resume_continues_exactly(reference_run, violin_dataset, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen(_cli("train", violin_dataset, "--output", out, "--steps", 8,
                                 "--batch-size", 2, "--checkpoint-every", 2),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = out / "train" / "checkpoint.safetensors"
    deadline = time.time() + 120
    while time.time() < deadline:
        if checkpoint.exists() and read_checkpoint_info(checkpoint)[0] >= 4:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step, _ = read_checkpoint_info(checkpoint)
    assert 4 <= step < 8, "the run was not interrupted mid-way"
    assert not (out / "config.json").exists()  # no model folder yet
    assert not [p for p in (out / "train").iterdir() if p.name.startswith(".")]  # no temp files

    result = subprocess.run(_cli("train", violin_dataset, "--output", out, "--resume"),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    ref_out, ref = reference_run
    rows = [json.loads(line) for line in (out / "train" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9))
    for got, want in zip(rows, ref.history):
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-5)
    for name, value in _weights(out).items():
        torch.testing.assert_close(value, _weights(ref_out)[name], rtol=1e-5, atol=1e-6)


def test_refuses_to_clobber_or_resume_nothing(reference_run, violin_dataset, tmp_path):
    out, _ = reference_run
    with pytest.raises(ValueError, match="already exists; pass --resume"):
        train(violin_dataset, out, steps=2, **SMALL)
    for bad in (dict(batch_size=0), dict(checkpoint_every=0), dict(learning_rate=-1.0)):
        with pytest.raises(ValueError, match="expected"):
            train(violin_dataset, tmp_path / "bad", **{**SMALL, **bad})
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ValueError, match="nothing to resume"):
        train(violin_dataset, tmp_path / "new", resume=True, **SMALL)
    result = subprocess.run(_cli("train", tmp_path / "nowhere", "--output", tmp_path / "m"),
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such folder" in result.stderr


def test_torchrun_two_ranks_end_with_identical_weights(violin_dataset, tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.fail("torchrun is missing from the environment")
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", "-m", "timbral",
                             "train", str(violin_dataset), "--output", str(out), "--preset",
                             "tiny", "--steps", "3", "--batch-size", "2",
                             "--checkpoint-every", "3"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    ranks = json.loads((out / "train" / "ranks.json").read_text())
    assert ranks["world_size"] == 2
    assert ranks["weight_checksums"][0] == ranks["weight_checksums"][1]
    assert load_model(out).config["preset"] == "tiny"
