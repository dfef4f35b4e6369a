"""On a GPU: rendering, streaming, transfer and training give what they give on the CPU.

Skipped on machines without CUDA (the project's CI); run them where one is present:
``pytest -m cuda``.
"""

import numpy as np
import pytest
import torch

from timbral.models.rendering import render
from timbral.stream import StreamSynth
from timbral.zoo import load_model

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


def _features(n_frames=300):
    t = np.arange(n_frames) / 100.0
    f0 = 220.0 * 2 ** (np.floor(t * 2) / 12)  # a rising line of half steps
    loudness = np.where((t * 2) % 1 < 0.8, -25.0, -80.0)
    return f0.astype(np.float32), loudness.astype(np.float32)


@pytest.mark.parametrize("name", ["violin", "violin_realtime"])
def test_render_on_the_gpu_equals_the_cpu(name):
    f0, ld = _features()
    cpu = render(load_model(name), f0, ld, chunk_seconds=0.7)
    gpu = render(load_model(name).to("cuda"), f0, ld, chunk_seconds=0.7)
    np.testing.assert_allclose(gpu, cpu, atol=1e-4 * max(1.0, np.abs(cpu).max()))


def test_streaming_on_the_gpu_equals_the_cpu():
    f0, ld = _features(100)
    cpu = StreamSynth(load_model("violin_realtime"), backend="torch")
    gpu = StreamSynth(load_model("violin_realtime").to("cuda"))
    assert gpu.backend == "torch"
    a = np.concatenate([cpu.process(f0[i:i + 5], ld[i:i + 5]) for i in range(0, 100, 5)])
    b = np.concatenate([gpu.process(f0[i:i + 5], ld[i:i + 5]) for i in range(0, 100, 5)])
    np.testing.assert_allclose(b, a, atol=1e-4 * max(1.0, np.abs(a).max()))
    with pytest.raises(ValueError, match="runs on the CPU"):
        StreamSynth(load_model("violin_realtime").to("cuda"), backend="onnxruntime")


def test_transfer_with_device_cuda(tmp_path):
    from timbral import cli
    from timbral.zoo import EXAMPLE_CLIP

    out = tmp_path / "o.wav"
    assert cli.main(["transfer", str(EXAMPLE_CLIP), "--model", "violin", "--output", str(out),
                     "--device", "cuda"]) == 0
    assert out.stat().st_size > 10000


def test_training_steps_on_the_gpu(violin_dataset, tmp_path):
    from timbral.train import train

    result = train(violin_dataset, tmp_path / "m", steps=4, batch_size=2, checkpoint_every=2,
                   progress=False)
    assert result.steps == 4 and np.isfinite(result.train_loss)
    assert load_model(tmp_path / "m").config["output_gain_db"] != 0.0


def test_live_midi_engine_on_the_gpu_equals_the_cpu():
    import mido

    from timbral.midi.live import NoteEngine

    runs = []
    for device in ("cpu", "cuda"):
        engine = NoteEngine(load_model("violin_realtime").to(device), 128, voices=2)
        out = []
        for block in range(200):
            if block in (10, 60):
                engine.send(mido.Message("note_on", note=60 + block // 10, velocity=90))
            if block == 120:
                engine.send(mido.Message("note_off", note=61))
            out.append(engine.process())
        runs.append(np.concatenate(out))
    np.testing.assert_allclose(runs[1], runs[0], atol=1e-4 * max(1.0, np.abs(runs[0]).max()))
