"""The command line and the demo pipeline it runs: real files written and read back."""

import numpy as np
import pytest
import soundfile as sf
import torch

from timbral import cli, core, demo
from timbral.audio import save_audio


def test_synth_demo_writes_audio_and_picture(tmp_path, capsys):
    assert cli.main(["demo", "--synth", "--output", str(tmp_path)]) == 0
    audio, sr = sf.read(tmp_path / "melody.wav")
    assert sr == 16000 and audio.ndim == 1
    assert len(audio) % 64 == 0 and 8.0 < len(audio) / sr < 11.0  # whole 250 Hz frames
    assert np.abs(audio).max() == pytest.approx(0.9, abs=1e-3)
    png = (tmp_path / "melody.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000
    assert "wrote" in capsys.readouterr().out


def test_demo_melody_has_the_notes_it_was_given():
    """The first note (E4, 329.6 Hz) dominates the spectrum of the first 0.4 s."""
    audio, controls = demo.render_melody()
    first = audio[: int(0.4 * 16000)].numpy() * np.hanning(int(0.4 * 16000))
    spectrum = np.abs(np.fft.rfft(first))
    freqs = np.fft.rfftfreq(len(first), 1 / 16000)
    assert freqs[spectrum.argmax()] == pytest.approx(329.6, abs=5.0)
    assert core.hz_to_midi(controls["f0_hz"][0, 50, 0]).item() == pytest.approx(64.0, abs=0.3)


def test_synth_demo_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "melody.wav").write_bytes(b"precious")
    assert cli.main(["demo", "--synth", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and "--overwrite" in err and len(err.splitlines()) == 1
    assert (tmp_path / "melody.wav").read_bytes() == b"precious"
    assert not (tmp_path / "melody.png").exists()


def test_demo_rejects_a_frame_rate_that_does_not_divide_the_sample_rate(tmp_path, capsys):
    assert cli.main(["demo", "--synth", "--output", str(tmp_path), "--frame-rate", "300"]) == 2
    assert "--frame-rate 300" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_save_audio_round_trip_and_bad_input(tmp_path):
    tone = 0.5 * torch.sin(2 * torch.pi * 440 * torch.arange(1600) / 16000)
    path = save_audio(tmp_path / "tone.flac", tone, 16000)
    read, sr = sf.read(path)
    assert sr == 16000 and np.abs(read - tone.numpy()).max() < 1e-4
    with pytest.raises(FileExistsError):
        save_audio(path, tone, 16000)
    with pytest.raises(ValueError, match="NaN"):
        save_audio(tmp_path / "bad.wav", torch.tensor([0.0, float("nan")]), 16000)
    with pytest.raises(ValueError, match="format"):
        save_audio(tmp_path / "tone.xyz", tone, 16000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tone.flac"]  # no temp files left


def test_import_magenta_writes_a_model_folder(tmp_path, capsys):
    from pathlib import Path

    from timbral.zoo import load_model

    source = Path(__file__).parent / "data" / "magenta_solo_tiny" / "solo_tiny"
    out = tmp_path / "solo_tiny"
    assert cli.main(["import-magenta", str(source), "--output", str(out)]) == 0
    model = load_model(out)
    assert model.config["source"]["kind"] == "magenta" and model.statistics is not None
    assert model.config["loudness_definition"] == "v2" and "Imported" in model.card
    assert cli.main(["import-magenta", str(source), "--output", str(out)]) == 2
    assert cli.main(["import-magenta", str(out), "--output", str(tmp_path / "again")]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "not a Magenta model folder" in err
    assert not (tmp_path / "again").exists()
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    assert cli.main(["import-magenta", str(source), "--output", str(tmp_path / "a.wav"),
                     "--overwrite"]) == 2
    assert "--output " + str(tmp_path / "a.wav") + ": is a file; a model is written as a " \
        "folder" in capsys.readouterr().err
    import zipfile

    with zipfile.ZipFile(tmp_path / "two.zip", "w") as bundle:  # two models in one zip
        for name in ("a", "b"):
            for file in source.iterdir():
                bundle.write(file, f"{name}/{file.name}")
    assert cli.main(["import-magenta", str(tmp_path / "two.zip"), "--output",
                     str(tmp_path / "two")]) == 2
    assert (f"{tmp_path / 'two.zip'}: holds 2 Magenta model folders (a, b); unzip it and "
            f"pass one of them") in capsys.readouterr().err
    assert not (tmp_path / "two").exists()
    import shutil

    bare = tmp_path / "bare"  # no dataset_statistics.pkl: imported, with a warning
    shutil.copytree(source, bare, ignore=shutil.ignore_patterns("*.pkl"))
    with pytest.warns(UserWarning, match="no dataset_statistics.pkl, so transfer's auto-adjust"):
        assert cli.main(["import-magenta", str(bare), "--output", str(tmp_path / "b2")]) == 0
    assert load_model(tmp_path / "b2").statistics is None


def test_render_bounds_its_lengths_and_names_the_flags(tmp_path, capsys):
    """Absurd lengths are refused at once (1e9 minutes or a 1e-9 s clip hung listing
    clips; 1e308 minutes overflowed), each message naming the flag as typed."""
    for flag, says in (("--minutes=1e308", "--minutes: expected at most 6000"),
                       ("--minutes=1e9", "--minutes: expected at most 6000"),
                       ("--clip-seconds=1e-9", "--clip-seconds: expected 1 to 600 s"),
                       ("--clip-seconds=100000", "--clip-seconds: expected 1 to 600 s"),
                       ("--seed=-5", "--seed: expected an integer >= 0, got -5")):
        assert cli.main(["render", "flute", "--output", str(tmp_path / "r"), flag]) == 2
        assert f"timbral render: error: {says}" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_render_keeps_files_that_are_not_its_clips(tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "flute_0.flac").write_bytes(b"a recording of mine")
    assert cli.main(["render", "flute", "--output", str(folder), "--minutes", "0.2",
                     "--clip-seconds", "10"]) == 2
    assert "flute_0.flac: exists and is no rendered clip" in capsys.readouterr().err
    assert (folder / "flute_0.flac").read_bytes() == b"a recording of mine"
    assert cli.main(["render", "flute", "--output", str(folder / "flute_0.flac")]) == 2
    assert "flute_0.flac: is a file; give a folder for the clips" in capsys.readouterr().err
