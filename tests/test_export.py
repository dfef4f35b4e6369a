"""Exporting a model's streaming step: TorchScript and ONNX against PyTorch."""

import argparse

import numpy as np
import pytest
import torch

from timbral.models import Autoencoder, preset_config, save_model_folder
from timbral.models.export import ExportedStep, StreamStep, compare_export, export_step
from timbral.models.rendering import PositionalNoise, render


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = Autoencoder(preset_config("realtime", reverb="ir")).eval()
    with torch.no_grad():
        ir = model.processor_group.processors[-1].ir
        ir.normal_(0, 1e-2).mul_(torch.exp(-torch.arange(ir.shape[0]) / 2000.0))
        model.decoder.dense_out.bias[61:] += 3.0  # audible noise
    return model


def _run_exported(exported: ExportedStep, f0, ld, seed):
    """Drive an exported step over features like timbral.stream does."""
    meta = exported.metadata
    frames, hop = meta["frames_per_call"], meta["hop"]
    noise = PositionalNoise(seed)
    state = exported.initial_state()
    out = []
    for c in range(len(f0) // frames):
        start = c * frames * hop
        audio, state = exported.step(f0[None, c * frames:(c + 1) * frames],
                                     ld[None, c * frames:(c + 1) * frames],
                                     noise.slice(start, start + frames * hop)[None].numpy(),
                                     state)
        out.append(audio[0])
    return np.concatenate(out), -meta["first_offset"]


def test_torchscript_export_renders_like_offline(model, tmp_path):
    path = tmp_path / "rt.pt"
    meta = export_step(model, path, "torchscript")
    assert meta["sample_rate"] == 16000 and meta["hop"] == 320 and meta["first_offset"] == -384
    assert meta["state"][0] == "decoder/h" and "reverb/spectra" in meta["state"]
    diff = compare_export(model, path)
    assert diff["max_abs"] <= 1e-5 * max(1.0, diff["peak"]) and diff["peak"] > 0.05
    # driven frame by frame over a glide, the exported step gives the offline render
    n = 60
    t = np.arange(n) / 50
    f0 = (220 * 2 ** (0.5 * np.sin(3 * t))).astype(np.float32)
    ld = (-30 + 20 * np.sin(1.3 * t)).astype(np.float32)
    out, lag = _run_exported(ExportedStep(path), f0, ld, seed=5)
    offline = render(model, f0, ld, seed=5)
    m = len(out) - lag - 2 * 320
    np.testing.assert_allclose(out[lag:lag + m], offline[:m], atol=2e-6)


@pytest.mark.parametrize("frames", [1, 2])
def test_onnx_export_matches_pytorch_in_onnxruntime(model, tmp_path, frames):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    path = tmp_path / f"rt{frames}.onnx"
    meta = export_step(model, path, "onnx", frames=frames)
    exported = ExportedStep(path)
    assert exported.format == "onnx" and exported.metadata == meta
    assert meta["samples_per_call"] == 320 * frames
    diff = compare_export(model, path, calls=6)
    assert diff["max_abs"] <= 1e-5 * max(1.0, diff["peak"]) and diff["peak"] > 0.05
    # the state carried by onnxruntime over many calls stays on the PyTorch stream
    n = 40
    f0 = np.full(n, 330.0, np.float32)
    ld = np.linspace(-50, -10, n).astype(np.float32)
    out, _ = _run_exported(exported, f0, ld, seed=2)
    step = StreamStep(model).eval()
    state = step.initial_state()
    noise = PositionalNoise(2)
    ref = []
    with torch.inference_mode():
        for c in range(n):
            audio, *state = step(torch.from_numpy(f0[None, c:c + 1]),
                                 torch.from_numpy(ld[None, c:c + 1]),
                                 noise.slice(c * 320, (c + 1) * 320)[None], *state)
            ref.append(audio[0].numpy())
    np.testing.assert_allclose(out, np.concatenate(ref), atol=1e-5)


@pytest.mark.parametrize("reverb", ["exp_decay", "none"])
def test_export_follows_the_models_reverb(tmp_path, reverb):
    torch.manual_seed(1)
    model = Autoencoder(preset_config("realtime", reverb=reverb)).eval()
    meta = export_step(model, tmp_path / "rt.pt", "torchscript")
    assert ("reverb/spectra" in meta["state"]) == (reverb != "none")
    diff = compare_export(model, tmp_path / "rt.pt")
    assert diff["max_abs"] <= 1e-5 * max(1.0, diff["peak"]) and diff["peak"] > 1e-3


def test_export_command(model, tmp_path, capsys):
    from timbral.cli import stream as stream_cli

    folder = tmp_path / "rt"
    model.config["name"] = "rt"
    save_model_folder(folder, model, None, "# rt\n")
    parser = argparse.ArgumentParser()
    stream_cli.register(parser.add_subparsers())
    out = tmp_path / "rt.pt"
    args = parser.parse_args(["export", str(folder), "--format", "torchscript",
                              "--output", str(out)])
    args.func(args)
    text = capsys.readouterr().out
    assert out.exists() and "320 samples per call" in text and "max |difference|" in text
    with pytest.raises(FileExistsError):
        args.func(args)


def test_export_refuses_what_it_cannot_stream(tmp_path):
    config = preset_config("realtime")
    config["processor_group"]["config"]["dag"][0]["processor"]["config"][
        "amp_resample_method"] = "cubic"
    with pytest.raises(ValueError, match="needs 'window' or 'linear' amplitude resampling"):
        export_step(Autoencoder(config), tmp_path / "x.pt", "torchscript")
    with pytest.raises(ValueError, match="format"):
        export_step(Autoencoder(preset_config("realtime")), tmp_path / "x.pt", "tflite")
    for frames, says in ((0, "frames: expected an integer >= 1, got 0"),
                         (10 ** 8, "frames: expected 1 to 1000 frames per call")):  # 128 GB
        with pytest.raises(ValueError, match=says):
            export_step(Autoencoder(preset_config("realtime")), tmp_path / "x.pt",
                        "torchscript", frames=frames)
    assert not (tmp_path / "x.pt").exists()
    audio = tmp_path / "take.wav"  # a model's name must be its format's: not an audio file
    audio.write_bytes(b"RIFF")
    for name, says in ((audio, "an onnx"), (tmp_path / "x.onnx", "a torchscript"),
                       (tmp_path / "x.pt", "an onnx")):
        fmt = says.split()[1]
        with pytest.raises(ValueError, match=f"{name.name}: {says} file is named"):
            export_step(Autoencoder(preset_config("realtime")), name, fmt, overwrite=True)
    assert audio.read_bytes() == b"RIFF"
