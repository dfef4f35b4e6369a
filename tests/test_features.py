"""compute_audio_features and `timbral features`: frames, loudness, chunking, files, errors."""

import numpy as np
import pytest
import soundfile as sf
import torch

from timbral import cli, spectral_ops
from timbral.features import DEFAULT_TRACKER, compute_audio_features, frame_count
from timbral.features.pitch.synthetic import harmonic_audio

SR = 16000


def _melody(seconds=3.0, sr=SR):
    """Two notes (220 Hz then 330 Hz) with a silence between; true f0 per sample."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f0 = np.where(t < seconds / 2, 220.0, 330.0)
    env = ((t > 0.1) & (t < seconds / 2 - 0.25)) | (t > seconds / 2 + 0.1)
    env = np.convolve(env.astype(float), np.ones(160) / 160, mode="same")
    return harmonic_audio(f0, env, sr, [1.0 / k for k in range(1, 16)]), f0, env


def test_frames_loudness_and_pitch():
    audio, f0, env = _melody()
    features = compute_audio_features(audio, SR)
    n_frames = len(audio) // 64 + 1
    assert frame_count(len(audio), SR) == n_frames
    for key in ("f0_hz", "f0_confidence", "loudness_db"):
        assert features[key].shape == (n_frames,) and features[key].dtype == np.float32
    assert features["frame_rate"] == 250 and features["sample_rate"] == SR
    assert features["pitch_tracker"] == DEFAULT_TRACKER
    # One loudness definition: exactly spectral_ops.compute_loudness.
    expected = spectral_ops.compute_loudness(torch.from_numpy(audio), SR, 250)[0].numpy()
    assert np.array_equal(features["loudness_db"], expected)
    # Pitch on sustained frames within 10 cents; f0 finite and positive everywhere.
    centres = np.minimum(np.arange(n_frames) * 64, len(audio) - 1)
    sustained = env[centres] > 0.9
    cents = 1200 * np.abs(np.log2(features["f0_hz"][sustained] / f0[centres][sustained]))
    assert np.median(cents) < 10 and np.mean(cents < 50) > 0.95
    assert np.isfinite(features["f0_hz"]).all() and (features["f0_hz"] > 0).all()
    silent = env[centres] == 0
    assert features["f0_confidence"][sustained].mean() > 0.8
    assert features["f0_confidence"][silent].mean() < 0.3


def test_other_frame_rates_and_sample_rates():
    audio, _, _ = _melody(1.0)
    features = compute_audio_features(audio, SR, frame_rate=100)
    assert len(features["f0_hz"]) == len(audio) // 160 + 1
    fast = compute_audio_features(np.repeat(audio, 3), 48000, frame_rate=250)
    assert len(fast["f0_hz"]) == 3 * len(audio) // 192 + 1


def test_chunked_analysis_matches_one_pass():
    audio, _, _ = _melody(6.0)
    whole = compute_audio_features(audio, SR)
    chunked = compute_audio_features(audio, SR, chunk_seconds=1.3)
    assert np.array_equal(whole["loudness_db"], chunked["loudness_db"])
    cents = 1200 * np.abs(np.log2(chunked["f0_hz"] / whole["f0_hz"]))
    assert np.percentile(cents, 99) < 1.0
    assert np.abs(chunked["f0_confidence"] - whole["f0_confidence"]).max() < 0.05


@pytest.mark.parametrize("kwargs, message", [
    ({"audio": np.zeros(0, np.float32)}, "zero samples"),
    ({"audio": np.array([0.0, np.nan] * 100, np.float32)}, "NaN"),
    ({"audio": np.zeros((2, 100), np.float32)}, "mono"),
    ({"sample_rate": 10}, "sample rate"),
    ({"frame_rate": 300}, "frame_rate"),
    ({"pitch_tracker": "nope"}, "unknown name"),
])
def test_bad_input(kwargs, message):
    args = {"audio": np.zeros(1600, np.float32), "sample_rate": SR}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        compute_audio_features(**args)


def test_cli_features_writes_npz_and_plot(tmp_path, capsys):
    audio, _, _ = _melody(2.0)
    wav = tmp_path / "in.wav"
    sf.write(wav, audio, SR)
    out, png = tmp_path / "f.npz", tmp_path / "f.png"
    assert cli.main(["features", str(wav), "--output", str(out), "--plot", str(png)]) == 0
    with np.load(out) as data:
        assert set(data.files) >= {"f0_hz", "f0_confidence", "loudness_db", "frame_rate",
                                   "sample_rate"}
        assert data["f0_hz"].shape == (len(audio) // 64 + 1,) and int(data["frame_rate"]) == 250
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "real-time factor" in capsys.readouterr().out
    # Never overwrite without being asked.
    assert cli.main(["features", str(wav), "--output", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"not audio" * 50, "cannot decode")])
def test_cli_features_bad_files(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    assert cli.main(["features", str(bad), "--output", str(tmp_path / "f.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "f.npz").exists()
    assert cli.main(["features", str(tmp_path / "missing.wav"), "--output",
                     str(tmp_path / "f.npz")]) == 2
    assert "no such file" in capsys.readouterr().err
