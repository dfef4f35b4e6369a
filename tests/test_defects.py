"""What a demanding user (or a full disk) found: each command as a user types it, its exit
status, its one-line message, and what is or is not on disk afterwards."""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from timbral import cli
from timbral.audio import load_audio, read_audio, save_audio
from timbral.features import compute_audio_features
from timbral.features.pitch import PitchTracker

SR = 16000


def _tone(seconds=2.0, hz=440.0, amplitude=0.3, rate=SR):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _run(*args, limit_bytes=None, timeout=300):
    """``timbral ARGS`` in a fresh process (optionally with files limited to
    ``limit_bytes``: writes beyond fail as on a full disk)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-m", "timbral", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, OMP_NUM_THREADS="1"),
                          preexec_fn=limit if limit_bytes else None)


def _one_error_line(err: str, command: str) -> str:
    """The last stderr line, checked to be the command's one-line error."""
    assert "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"timbral {command}: error: "), err
    return line


def _clips(tmp_path, *seconds):
    """A folder ``clips`` of tones ``c0.wav``, ``c1.wav``, ... of these lengths (s), each
    its own pitch."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for i, length in enumerate(seconds):
        sf.write(folder / f"c{i}.wav", _tone(seconds=length, hz=330 + 50 * i), SR)
    return folder


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


@pytest.fixture
def recordings(tmp_path):
    """A folder a user might hand over: two good takes, two of one name, and junk."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    sf.write(folder / "a.wav", _tone(hz=440), SR)
    sf.write(folder / "x.wav", _tone(hz=330), SR)
    sf.write(folder / "x.mp3", _tone(hz=392), SR, format="MP3")
    (folder / "notes.wav").write_text("a text file named .wav")
    sf.write(folder / "click.wav", _tone(0.01), SR)  # 10 ms
    return folder


# ----------------------------------------------------------------- folder transfer

def test_folder_transfer_skips_bad_files_names_them_and_fails_at_the_end(recordings, tmp_path):
    out = tmp_path / "out"
    result = _run("transfer", recordings, "--model", "violin", "--output", out)
    err = result.stderr
    assert result.returncode == 2
    warned = [line for line in err.splitlines() if line.startswith("timbral: warning: skipped")]
    assert len(warned) == 2
    assert any("notes.wav" in w and "cannot decode" in w for w in warned)
    assert any("click.wav" in w and "too short" in w for w in warned)
    last = _one_error_line(err, "transfer")
    assert "2 of 5 file(s) failed" in last and "notes.wav" in last and "click.wav" in last
    # Every good file was transferred, the two of one name to two names.
    assert _files(out) == ["a.wav", "x_mp3.wav", "x_wav.wav"]
    for name in _files(out):
        audio, rate = sf.read(out / name)
        assert rate == SR and len(audio) == 2 * SR


def test_output_names_that_would_collide_are_told_apart_before_any_work(recordings,
                                                                         tmp_path, capsys):
    for junk in ("notes.wav", "click.wav"):
        (recordings / junk).unlink()
    (recordings / "sub").mkdir()
    sf.write(recordings / "sub" / "x.wav", _tone(hz=262), SR)
    out = tmp_path / "out"
    assert cli.main(["transfer", str(recordings), "--model", "violin", "--output",
                     str(out), "--plots"]) == 0
    names = _files(out)
    assert [n for n in names if n.endswith(".wav")] == ["a.wav", "x_mp3.wav", "x_wav.wav",
                                                        "x_wav_2.wav"]
    assert len(names) == 4 * 3  # each with its two pictures
    # --overwrite replaces each output with its own input's result, never another's.
    before = {n: sf.read(out / n)[0] for n in names if n.endswith(".wav")}
    assert cli.main(["transfer", str(recordings), "--model", "violin", "--output",
                     str(out), "--overwrite"]) == 0
    for name, audio in before.items():
        np.testing.assert_allclose(sf.read(out / name)[0], audio, atol=1e-4)
    # An existing output is refused before anything is written.
    (out / "a.wav").unlink()
    capsys.readouterr()
    assert cli.main(["transfer", str(recordings), "--model", "violin", "--output",
                     str(out)]) == 2
    assert "already exists; choose another name or pass --overwrite" in capsys.readouterr().err
    assert not (out / "a.wav").exists()


def test_overwrite_never_replaces_an_input(recordings, capsys):
    original = (recordings / "a.wav").read_bytes()
    for args in ([str(recordings / "a.wav"), "--output", str(recordings / "a.wav")],
                 [str(recordings), "--output", str(recordings)]):
        assert cli.main(["transfer", *args, "--model", "violin", "--overwrite"]) == 2
        line = _one_error_line(capsys.readouterr().err, "transfer")
        assert "is an input; the output may not replace it" in line
    assert (recordings / "a.wav").read_bytes() == original
    # every command that reads a file, by its own name or a hard link to it
    import mido

    here = recordings.parent
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=69, time=0),
                                       mido.Message("note_off", note=69, time=480)]))
    for name in ("score.wav", "score.png"):  # a score under an output's name
        midi.save(str(here / name))
    for name in ("link.wav", "link.npz", "link.png"):  # the recording under other names
        (here / name).unlink(missing_ok=True)
        os.link(recordings / "a.wav", here / name)
    wav = str(recordings / "a.wav")
    for argv in (["stream", wav, "--model", "violin_realtime", "--output", str(here / "link.wav")],
                 ["features", str(here / "link.npz"), "--output", str(here / "link.npz")],
                 ["transcribe", wav, "--output", "x.mid", "--plot", str(here / "link.png")],
                 ["play", str(here / "score.wav"), "--model", "flute", "--output",
                  str(here / "score.wav")],
                 ["play", str(here / "score.png"), "--model", "flute", "--output", "x.wav",
                  "--plot", str(here / "score.png")]):
        assert cli.main([*argv, "--overwrite"]) == 2, argv
        assert "is an input; the output may not replace it" in capsys.readouterr().err
    assert (recordings / "a.wav").read_bytes() == original
    assert mido.MidiFile(str(here / "score.wav")).length > 0


def test_an_unknown_output_extension_is_not_taken_for_a_folder(recordings, tmp_path, capsys):
    for output in (tmp_path / "song.wmv", tmp_path / "takes.v2"):
        assert cli.main(["transfer", str(recordings / "a.wav"), "--model", "violin",
                         "--output", str(output)]) == 2
        line = _one_error_line(capsys.readouterr().err, "transfer")
        assert "is not an audio format timbral writes" in line and "end it with /" in line
        assert not output.exists()
    # A name ending in / is a folder, whatever its dots.
    assert cli.main(["transfer", str(recordings / "a.wav"), "--model", "violin",
                     "--output", f"{tmp_path / 'takes.v2'}/"]) == 0
    assert _files(tmp_path / "takes.v2") == ["a.wav"]


def test_every_output_is_checked_before_any_work(recordings, tmp_path, capsys):
    wav = recordings / "a.wav"
    cases = [
        (["transfer", str(wav), "--model", "violin", "--output", str(tmp_path / "o.wav"),
          "--plot", str(tmp_path / "o.jpg")], "pictures are written as PNG"),
        (["transfer", str(wav), "--model", "violin", "--output", str(tmp_path / "o.wav"),
          "--spectrogram", str(tmp_path / "s.svg")], "pictures are written as PNG"),
        (["features", str(wav), "--output", str(tmp_path / "f.npz"), "--plot",
          str(tmp_path / "f.jpg")], "pictures are written as PNG"),
        (["transfer", str(wav), "--model", "violin", "--output", str(tmp_path / "o.wav"),
          "--jobs", "0"], "--jobs 0: expected 1 or more"),
        (["transfer", str(wav), "--model", "violin", "--output", str(tmp_path / "o.wav"),
          "--mix", "1.5"], "--mix: expected a share from 0"),
        (["transfer", str(wav), "--model", "violin", "--output", str(tmp_path / "o.wav"),
          "--sample-rate", "10"], "--sample-rate: 10 Hz is not a usable sample rate"),
    ]
    for args, message in cases:
        assert cli.main(args) == 2
        assert message in _one_error_line(capsys.readouterr().err, args[0])
    assert not list(tmp_path.glob("o.*")) and not list(tmp_path.glob("f.*"))


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_unwritable_output_is_refused_first_and_named(recordings, capsys):
    wav = str(recordings / "a.wav")
    for args in (["transfer", wav, "--model", "violin", "--output", "/proc/x.wav"],
                 ["features", wav, "--output", "/proc/x.npz"],
                 ["stream", wav, "--model", "violin_realtime", "--output", "/proc/x.wav"]):
        start = time.perf_counter()
        assert cli.main(args) == 2
        line = _one_error_line(capsys.readouterr().err, args[0])
        assert "/proc/x." in line and "cannot write" in line and ".timbral" not in line
        assert time.perf_counter() - start < 5  # refused before the work, not after


def test_a_full_disk_gives_one_line_and_leaves_nothing(tmp_path):
    out = tmp_path / "out.wav"
    long = tmp_path / "long.wav"
    sf.write(long, np.tile(_tone(), 5), SR)  # 10 s: 320 kB of 16-bit output
    result = _run("transfer", long, "--model", "violin", "--output", out,
                  limit_bytes=100_000)
    assert result.returncode == 2
    line = _one_error_line(result.stderr, "transfer")
    assert f"{out}: cannot write" in line
    assert _files(tmp_path) == ["long.wav"]  # no output, no temporary file


def test_a_full_disk_stops_training_with_one_line(violin_dataset, tmp_path):
    out = tmp_path / "model"
    result = _run("train", violin_dataset, "--output", out, "--steps", 2, "--batch-size", 2,
                  "--checkpoint-every", 2, limit_bytes=1_000_000)  # a checkpoint is ~10 MB
    assert result.returncode == 2
    line = _one_error_line(result.stderr, "train")
    assert "checkpoint.safetensors: cannot write" in line
    assert not (out / "train" / "checkpoint.safetensors").exists()
    assert not [p for p in (out / "train").iterdir() if p.name.startswith(".")]


def test_a_full_disk_on_the_model_folder_gives_one_line_and_no_model(tmp_path):
    """The weights of a model folder fail to write (files limited to 100 kB, the
    weights are ~1 MB): one line naming model.safetensors, no model folder left
    that would load (config.json comes last), no temporary file."""
    source = Path(__file__).parent / "data" / "magenta_solo_tiny" / "solo_tiny"
    out = tmp_path / "imported"
    result = _run("import-magenta", source, "--output", out, limit_bytes=100_000)
    assert result.returncode == 2
    line = _one_error_line(result.stderr, "import-magenta")
    assert f"{out / 'model.safetensors'}: cannot write" in line
    assert _files(tmp_path) == []


def test_a_huge_model_config_is_refused_before_anything_is_built(recordings, tmp_path, capsys):
    from timbral.zoo import MODELS_DIR

    folder = tmp_path / "huge"
    shutil.copytree(MODELS_DIR / "violin", folder)
    config = json.loads((folder / "config.json").read_text())
    config["decoder"]["config"]["ch"] = 20000
    (folder / "config.json").write_text(json.dumps(config))
    start = time.perf_counter()
    assert cli.main(["transfer", str(recordings / "a.wav"), "--model", str(folder),
                     "--output", str(tmp_path / "o.wav")]) == 2
    line = _one_error_line(capsys.readouterr().err, "transfer")
    assert "config.json" in line and "M parameters, more than the 50 M" in line
    assert time.perf_counter() - start < 5 and not (tmp_path / "o.wav").exists()
    config["decoder"]["config"]["ch"] = 256
    reverb = {"type": "Reverb", "config": {"trainable": True, "reverb_length": 10**9}}
    config["processor_group"]["config"]["dag"].append({"processor": reverb,
                                                       "inputs": ["add/signal"]})
    (folder / "config.json").write_text(json.dumps(config))
    assert cli.main(["transfer", str(recordings / "a.wav"), "--model", str(folder),
                     "--output", str(tmp_path / "o.wav")]) == 2
    assert "GiB of memory, more than the 1 GiB" in capsys.readouterr().err
    config["processor_group"]["config"]["dag"].pop()
    for ch, says in ((10 ** 19, "config decoder: empty(): argument 'size' failed to unpack"),
                     (10 ** 12, "config decoder: Storage size calculation overflowed")):
        config["decoder"]["config"]["ch"] = ch  # torch's own refusals, one line (no C++ stack)
        (folder / "config.json").write_text(json.dumps(config))
        assert cli.main(["transfer", str(recordings / "a.wav"), "--model", str(folder),
                         "--output", str(tmp_path / "o.wav")]) == 2
        assert says in _one_error_line(capsys.readouterr().err, "transfer")
    (folder / "config.json").write_text("[" * 100_000)
    assert cli.main(["transfer", str(recordings / "a.wav"), "--model", str(folder),
                     "--output", str(tmp_path / "o.wav")]) == 2
    assert "nested too deeply to read" in _one_error_line(capsys.readouterr().err, "transfer")


# ----------------------------------------------------------------- training

def _poll(predicate, seconds=120.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_run_killed_before_its_first_checkpoint_starts_again(violin_dataset, tmp_path):
    out = tmp_path / "model"
    proc = subprocess.Popen([sys.executable, "-m", "timbral", "train", str(violin_dataset),
                             "--output", str(out), "--steps", "1000", "--batch-size", "2",
                             "--checkpoint-every", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert _poll(lambda: (out / "train" / "metrics.jsonl").exists())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (out / "train").is_dir() and not (out / "train" / "checkpoint.safetensors").exists()
    shutil.copytree(out, tmp_path / "killed")
    for extra in ([], ["--resume"]):  # either way, the run starts afresh
        shutil.rmtree(out)
        shutil.copytree(tmp_path / "killed", out)
        result = _run("train", violin_dataset, "--output", out, "--steps", 2, "--batch-size", 2,
                      "--checkpoint-every", 2, *extra)
        assert result.returncode == 0, result.stderr
        assert "stopped before the first checkpoint; starting again" in result.stderr
        assert (out / "config.json").exists()
        rows = (out / "train" / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(r)["step"] for r in rows] == [1, 2]  # a row a step, from step 1


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(violin_dataset, tmp_path):
    out = tmp_path / "model"
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "timbral", "train", str(violin_dataset),
                                 "--output", str(out), "--steps", "1000", "--batch-size", "2",
                                 "--checkpoint-every", "1000"],
                                stdout=subprocess.DEVNULL, stderr=err,
                                env=dict(os.environ, OMP_NUM_THREADS="1"))
        assert _poll(lambda: "loss=" in log.read_text())  # inside the training loop
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130
    text = log.read_text()
    assert "Traceback" not in text
    line = text.strip().splitlines()[-1]
    assert line.startswith("timbral train: interrupted: stopped after step ")
    assert f"continue with: timbral train {violin_dataset} --output {out} --resume" in line
    step = int(line.split("after step ")[1].split()[0])
    from timbral.train import read_checkpoint_info

    assert read_checkpoint_info(out / "train" / "checkpoint.safetensors")[0] == step
    assert not (out / "config.json").exists()
    result = _run("train", violin_dataset, "--output", out, "--resume", "--steps", step + 1)
    assert result.returncode == 0, result.stderr
    assert read_checkpoint_info(out / "train" / "checkpoint.safetensors")[0] == step + 1


def test_a_diverging_run_stops_with_one_line(violin_dataset, tmp_path):
    result = _run("train", violin_dataset, "--output", tmp_path / "m", "--steps", 6,
                  "--batch-size", 2, "--learning-rate", 1e30)
    assert result.returncode == 2
    line = _one_error_line(result.stderr, "train")
    assert "training diverged at step 2" in line and "lower learning rate" in line
    assert not (tmp_path / "m" / "config.json").exists()


def test_a_nan_loss_stops_the_run_and_the_checkpoint_is_kept(violin_dataset, tmp_path,
                                                               monkeypatch):
    from timbral.processors.losses import SpectralLoss
    from timbral.train import TrainingDiverged, read_checkpoint_info, train

    calls = {"n": 0}
    forward = SpectralLoss.forward

    def poisoned(self, target, audio):  # the third training step's loss is NaN
        calls["n"] += torch.is_grad_enabled()  # validation runs without gradients
        loss = forward(self, target, audio)
        return loss * float("nan") if calls["n"] == 3 and torch.is_grad_enabled() else loss

    monkeypatch.setattr(SpectralLoss, "forward", poisoned)
    out = tmp_path / "m"
    with pytest.warns(UserWarning, match="only 14 s of training audio"), \
            pytest.raises(TrainingDiverged, match=r"diverged at step 3 \(loss nan.*"
                                                  r"checkpoint of step 2 is kept: resume"):
        train(violin_dataset, out, steps=6, batch_size=2, checkpoint_every=2, progress=False)
    step, _ = read_checkpoint_info(out / "train" / "checkpoint.safetensors")
    assert step == 2


def test_train_on_a_missing_folder_says_so(tmp_path):
    result = _run("train", tmp_path / "nowhere", "--output", tmp_path / "m")
    assert result.returncode == 2
    assert "nowhere: no such folder" in _one_error_line(result.stderr, "train")
    assert not (tmp_path / "m").exists()


# ----------------------------------------------------------------- messages

def test_a_corrupt_mp3_reads_as_one_line_without_decoder_noise(tmp_path, capfd):
    good = tmp_path / "good.mp3"
    sf.write(good, _tone(3.0), SR, format="MP3")
    data = good.read_bytes()
    (tmp_path / "bad.mp3").write_bytes(data[:300] + bytes(range(256)) * 20)
    (tmp_path / "cut.mp3").write_bytes(data[:len(data) // 2])
    capfd.readouterr()
    with pytest.raises(ValueError) as info:
        load_audio(tmp_path / "bad.mp3")
    message = str(info.value)
    assert "bad.mp3: cannot decode audio (not a format libsndfile knows, or a damaged file)" \
        in message and "pipe" not in message and "\n" not in message
    with pytest.warns(UserWarning, match="cut.mp3: shorter than its header says"):
        audio, _ = load_audio(tmp_path / "cut.mp3")
    assert 0 < len(audio) < 2 * SR
    assert capfd.readouterr().err == ""  # mpg123's "Note: Trying to resync..." stays hidden


def test_prepare_refuses_zero_workers(violin_clips, tmp_path, capsys):
    assert cli.main(["prepare", str(violin_clips), "--output", str(tmp_path / "ds"),
                     "--workers", "0"]) == 2
    assert "workers: expected an integer >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_prepare_says_what_is_wrong_with_short_clips_and_a_file_for_a_folder(tmp_path, capsys):
    clips = _clips(tmp_path, 2.0, 2.0, 2.0)
    (clips / "empty.wav").write_bytes(b"")
    # 2 s clips: shorter than the statistics' 4 s windows, each counts whole
    with pytest.warns(UserWarning, match=f"^skipped {clips / 'empty.wav'}: the file is "
                                         f"empty$"):  # the name once
        assert cli.main(["prepare", str(clips), "--output", str(tmp_path / "ds")]) == 0
    assert "3 file(s), 1 skipped, 0.1 min" in capsys.readouterr().out  # not named again
    stats = json.loads((tmp_path / "ds" / "statistics.json").read_text())
    assert stats  # from all three clips' training parts
    for i in range(3):
        sf.write(clips / f"c{i}.wav", _tone(seconds=1.0, hz=330 + 50 * i), SR)
    with pytest.warns(UserWarning):
        assert cli.main(["prepare", str(clips), "--output", str(tmp_path / "short"),
                         "--min-seconds", "0.5"]) == 2
    assert ("the training part of every usable file is shorter than 1 s (3 file(s), 3.0 s in "
            "all); give longer recordings") in capsys.readouterr().err
    # its prepared items stay for a rerun with --min-seconds that fits
    assert len(list((tmp_path / "short" / "items").glob("*.json"))) == 3
    assert not (tmp_path / "short" / "manifest.json").exists()
    assert cli.main(["prepare", str(clips), "--output", str(clips / "c0.wav")]) == 2
    assert "c0.wav: is a file; give a folder for the dataset" in capsys.readouterr().err
    (clips / "text.wav").write_text("not audio")
    for name in ("c0.wav", "c1.wav", "c2.wav", "empty.wav"):
        (clips / name).unlink()
    with pytest.warns(UserWarning, match="cannot decode audio"):
        assert cli.main(["prepare", str(clips), "--output", str(tmp_path / "a" / "b")]) == 2
    assert "no usable audio among 1 file(s)" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()  # no empty folder left behind, nor its parents
    with pytest.warns(UserWarning, match="cannot decode audio"):
        assert cli.main(["prepare", str(clips), "--output", str(tmp_path / "ds")]) == 2
    assert (tmp_path / "ds" / "statistics.json").exists()  # an existing dataset keeps its files


def test_save_audio_speaks_python_to_python_and_flags_to_the_command_line(tmp_path, capsys):
    path = save_audio(tmp_path / "a.wav", _tone(), SR)
    with pytest.raises(FileExistsError) as info:
        save_audio(path, _tone(), SR)
    assert "overwrite=True" in str(info.value) and "--overwrite" not in str(info.value)
    assert cli.main(["features", str(path), "--output", str(tmp_path / "f.npz")]) == 0
    assert cli.main(["features", str(path), "--output", str(tmp_path / "f.npz")]) == 2
    line = _one_error_line(capsys.readouterr().err, "features")
    assert line.endswith("f.npz already exists; choose another name or pass --overwrite")


# ----------------------------------------------------------------- silent surprises

def test_render_with_another_soundfont_refuses_to_mix_clips(tmp_path, capsys):
    from timbral.data.soundfonts import find_soundfonts

    fonts = list(find_soundfonts())
    if len(fonts) < 2:
        pytest.skip("needs two SoundFonts installed")
    out = tmp_path / "clips"
    args = ["render", "violin", "--minutes", "0.05", "--clip-seconds", "3", "--output", str(out)]
    assert cli.main([*args, "--soundfont", fonts[0]]) == 0
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    assert cli.main([*args, "--soundfont", fonts[1]]) == 2
    line = _one_error_line(capsys.readouterr().err, "render")
    assert "was rendered with soundfont" in line and "choose another --output" in line
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert cli.main([*args, "--soundfont", fonts[0]]) == 0  # the same again: kept as they are
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_warnings_for_what_a_file_hides(tmp_path):
    loud = tmp_path / "loud.wav"
    sf.write(loud, _tone(amplitude=1.5), SR, subtype="FLOAT")
    with pytest.warns(UserWarning, match=r"loud.wav: samples reach 1.5, beyond full scale"):
        read_audio(loud)
    three = tmp_path / "three.wav"
    sf.write(three, np.stack([_tone()] * 3, axis=1), SR)
    with pytest.warns(UserWarning, match="three.wav: the input has 3 channels: their mean "
                                         "was used"):
        assert len(load_audio(three)[0]) == len(_tone())
    assert read_audio(three).channels == 3  # its callers say so (mono_message), once
    flipped = tmp_path / "flipped.wav"  # one channel's polarity inverted: the mix is silent
    sf.write(flipped, np.stack([_tone(), -_tone()], axis=1), SR)
    with pytest.warns(UserWarning, match=r"flipped.wav: its channels cancel in the mono mix "
                                         r"\(\d+ dB under them"):
        read_audio(flipped)
    one = tmp_path / "one.wav"  # one silent channel: 6 dB down, nothing to say
    sf.write(one, np.stack([_tone(), 0 * _tone()], axis=1), SR)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_audio(one)
    inf = tmp_path / "inf.wav"
    sf.write(inf, np.array([0.1, np.inf, 2.0], np.float32), SR, subtype="FLOAT")
    with warnings.catch_warnings():  # refused, not first warned of as "beyond full scale"
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="inf.wav: contains NaN or infinite samples"):
            read_audio(inf)
    cut = tmp_path / "cut.wav"
    sf.write(tmp_path / "whole.wav", _tone(3.0), SR)
    cut.write_bytes((tmp_path / "whole.wav").read_bytes()[:SR])  # a third of it
    with pytest.warns(UserWarning, match="cut.wav: shorter than its header says"):
        audio, _ = load_audio(cut)
    assert len(audio) < SR
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.stack([_tone(), _tone()], axis=1), SR)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stereo is ordinary: no warning
        assert read_audio(stereo).channels == 2


def test_features_of_any_file_rate(tmp_path):
    rate = 22050
    features = compute_audio_features(_tone(3.0, rate=rate), rate, 100, "crepe-tiny")
    assert features["frame_rate"] == 100 and features["sample_rate"] == 22100
    assert abs(len(features["f0_hz"]) - 301) <= 1
    voiced = features["f0_confidence"] > 0.5
    assert voiced.mean() > 0.8
    assert np.median(features["f0_hz"][voiced]) == pytest.approx(440.0, rel=0.005)


def test_silence_is_refused_before_the_pitch_tracker_runs():
    class Untouchable(PitchTracker):
        name, sample_rate = "untouchable", SR

        def track(self, audio, hop_length):
            raise AssertionError("the pitch tracker ran on silence")

    with pytest.raises(ValueError, match="silent"):
        compute_audio_features(np.zeros(3 * SR, np.float32), SR, 250, Untouchable(),
                               silence_db=-70.0)


# ----------------------------------------------------------------- what users expect

def test_transfer_writes_the_rate_and_mix_asked_and_says_stereo_is_mono(tmp_path, capsys):
    stereo = tmp_path / "duo.flac"
    tone = _tone(hz=440, rate=44100)
    sf.write(stereo, np.stack([tone, 0.5 * tone], axis=1), 44100)
    out = tmp_path / "duo_violin.wav"
    assert cli.main(["transfer", str(stereo), "--model", "violin", "--output", str(out),
                     "--sample-rate", "44100"]) == 0
    captured = capsys.readouterr()
    assert "duo.flac: the input is stereo: its mid channel" in captured.out
    assert "(mono, 44100 Hz" in captured.out
    assert "pitch (crepe-tiny-refined)" in captured.err  # progress per stage
    wet, rate = sf.read(out)
    assert rate == 44100 and wet.ndim == 1 and abs(len(wet) - 2 * 44100) <= 2
    dry_out = tmp_path / "dry.wav"
    assert cli.main(["transfer", str(stereo), "--model", "violin", "--output", str(dry_out),
                     "--sample-rate", "44100", "--mix", "0"]) == 0
    dry, _ = sf.read(dry_out)
    np.testing.assert_allclose(dry, 0.75 * tone, atol=2e-4)  # the original's mid channel, 16-bit
    assert cli.main(["features", str(stereo), "--output", str(tmp_path / "duo.npz")]) == 0
    assert "duo.flac: the input is stereo: its mid channel, (left + right) / 2, was analysed" \
        in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_device_cuda_without_cuda_is_one_line(recordings, tmp_path, capsys):
    assert cli.main(["transfer", str(recordings / "a.wav"), "--model", "violin", "--output",
                     str(tmp_path / "o.wav"), "--device", "cuda"]) == 2
    assert "--device cuda: PyTorch sees no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists()
    for command in (["stream", str(recordings / "a.wav"), "--model", "violin_realtime",
                     "--output", str(tmp_path / "s.wav")],
                    ["live", "--model", "violin_realtime", "--duration", "1"],
                    ["live", "--midi", "--model", "violin_realtime", "--duration", "1"],
                    ["serve", "--port", "0"]):
        assert cli.main([*command, "--device", "cuda"]) == 2, command
        assert "--device cuda: PyTorch sees no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "s.wav").exists()


def test_stream_says_what_transfer_says_of_short_and_many_channel_files(tmp_path, capsys):
    sf.write(tmp_path / "one.wav", np.array([0.5], np.float32), SR)
    six = _tone(seconds=0.5)
    sf.write(tmp_path / "six.wav", np.stack([six] * 6, axis=1), SR)
    assert cli.main(["stream", str(tmp_path / "one.wav"), "--model", "violin_realtime",
                     "--output", str(tmp_path / "one_out.wav")]) == 2
    assert "one.wav: 0.1 ms is too short to stream; give at least 20 ms" in capsys.readouterr().err
    assert not (tmp_path / "one_out.wav").exists()
    assert cli.main(["stream", str(tmp_path / "six.wav"), "--model", "violin_realtime",
                     "--output", str(tmp_path / "six_out.wav")]) == 0
    out, err = capsys.readouterr()
    assert "the input has 6 channels: their mean was streamed" in out
    assert "6 channels" not in err  # said once


def test_an_output_folder_inside_the_inputs_and_plots_for_one_file(tmp_path, capsys):
    """A second run into an output folder inside the input folder transfers the same
    files again (its earlier outputs are not inputs); --plots draws one input's too."""
    takes = tmp_path / "takes"
    takes.mkdir()
    sf.write(takes / "a.wav", _tone(hz=440), SR)
    argv = ["transfer", str(takes), "--model", "violin", "--output", f"{takes}/out/", "--plots"]
    for _ in range(2):
        assert cli.main([*argv, "--overwrite"]) == 0
        assert _files(takes) == ["a.wav", "out/a.png", "out/a.spectrogram.png", "out/a.wav"]
    capsys.readouterr()
    one = ["transfer", str(takes / "a.wav"), "--model", "violin", "--output",
           str(tmp_path / "one.wav"), "--plots"]
    assert cli.main(one) == 0
    assert {"one.png", "one.spectrogram.png", "one.wav"} <= set(_files(tmp_path))
    assert cli.main([*one, "--plot", str(tmp_path / "p.png"), "--overwrite"]) == 2
    assert "--plots writes the pictures beside the output" in capsys.readouterr().err


def test_prepare_into_its_own_input_folder_twice_and_other_surprises(tmp_path, capsys):
    """The dataset inside its input folder is not read as input the second time; the same
    audio twice is prepared once and said; a dataset re-prepared from other inputs says
    which files it leaves out; a frame rate of 0 and a manifest that is not an object get
    one line."""
    clips = _clips(tmp_path, 5.0, 5.0)
    sf.write(clips / "same.wav", _tone(seconds=5.0, hz=330), SR)  # c0 again
    data = clips / "ds"
    for said in ("2 file(s), 0.2 min", "2 file(s), 2 of them prepared before, 0.2 min"):
        with pytest.warns(UserWarning, match="same.wav: the same audio as .*c0.wav; prepared "
                                             "once"):
            assert cli.main(["prepare", str(clips), "--output", str(data)]) == 0
        assert said in capsys.readouterr().out
    with pytest.warns(UserWarning, match=r"listed 1 file\(s\) not given this time"):
        assert cli.main(["prepare", str(clips / "c0.wav"), "--output", str(data)]) == 0
    assert cli.main(["prepare", str(clips), "--output", str(tmp_path / "d0"),
                     "--frame-rate", "0"]) == 2
    assert "--frame-rate: expected an integer >= 1, got 0" in capsys.readouterr().err
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "manifest.json").write_text("[1, 2]")
    for argv in (["prepare", str(clips), "--output", str(tmp_path / "odd")],
                 ["train", str(tmp_path / "odd"), "--output", str(tmp_path / "m")]):
        assert cli.main(argv) == 2
        assert "not a timbral dataset" in _one_error_line(capsys.readouterr().err, argv[0])
    # the dataset inside the recordings' folder is not read as recordings by another run
    with pytest.warns(UserWarning, match=f"left out {data}: a prepared dataset, not "
                                         f"recordings"):
        assert cli.main(["prepare", str(clips), "--output", str(tmp_path / "d1")]) == 0
    assert "d1: 2 file(s)" in capsys.readouterr().out
    assert cli.main(["prepare", str(clips), "--output", str(tmp_path / "d2"),
                     "--sample-rate", "44100"]) == 2
    assert _one_error_line(capsys.readouterr().err, "prepare").endswith(
        "--frame-rate: 500 must divide the sample rate 44100; try 490 or 525 frames/s")


def test_train_leaves_what_is_not_its_own_and_reads_past_a_cut_metrics_line(violin_dataset,
                                                                          tmp_path, capsys):
    """A folder holding a train/ the user made is not taken for a stopped run (its files
    were overwritten); a metrics line cut short by a kill does not stop --resume; an absurd
    batch is refused before any memory is taken."""
    own = tmp_path / "mine"
    (own / "train").mkdir(parents=True)
    (own / "train" / "curve.png").write_text("precious")
    assert cli.main(["train", str(violin_dataset), "--output", str(own), "--steps", "2"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (own / "train" / "curve.png").read_text() == "precious"
    assert cli.main(["train", str(violin_dataset), "--output", str(tmp_path / "big"),
                     "--batch-size", "100000"]) == 2
    assert "--batch-size: expected at most 512, got 100,000" in capsys.readouterr().err
    out = tmp_path / "run"
    argv = ["train", str(violin_dataset), "--output", str(out), "--batch-size", "2",
            "--checkpoint-every", "2"]
    assert cli.main([*argv, "--steps", "2"]) == 0
    with open(out / "train" / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "seco')  # a kill -9 in the middle of a write
    assert cli.main([*argv, "--steps", "4", "--resume"]) == 0
    rows = (out / "train" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [1, 2, 3, 4]


def test_an_unfinished_run_is_named_and_a_file_is_no_model_folder(violin_dataset, tmp_path,
                                                                  capsys):
    out = tmp_path / "run"
    assert cli.main(["train", str(violin_dataset), "--output", str(out), "--steps", "2",
                     "--batch-size", "2", "--checkpoint-every", "2"]) == 0
    for name in ("config.json", "model.safetensors"):  # as a run stopped before its end is
        (out / name).unlink()
    assert cli.main(["models", str(out)]) == 2
    assert "a training run that has not finished" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert cli.main(["train", str(violin_dataset), "--output", str(tmp_path / "file")]) == 2
    assert "file: is a file; give a folder for the model" in capsys.readouterr().err


def test_prepare_rebuilds_a_damaged_item(tmp_path, capsys):
    clips = _clips(tmp_path, 5.0)
    data = tmp_path / "ds"
    assert cli.main(["prepare", str(clips), "--output", str(data)]) == 0
    item = next((data / "items").glob("*.flac"))
    item.write_bytes(item.read_bytes()[:len(item.read_bytes()) // 2])  # cut in half
    assert cli.main(["train", str(data), "--output", str(tmp_path / "m")]) == 2
    assert "damaged dataset item" in capsys.readouterr().err
    assert cli.main(["prepare", str(clips), "--output", str(data)]) == 0  # as it says to
    assert sf.read(item)[0].shape[0] == 5 * SR


def test_a_run_resumed_on_other_data_is_told(violin_dataset, tmp_path):
    clips = _clips(tmp_path, 6.0)
    other = tmp_path / "other"
    assert cli.main(["prepare", str(clips), "--output", str(other)]) == 0
    out = tmp_path / "run"
    argv = ["train", "--output", str(out), "--batch-size", "2", "--checkpoint-every", "2"]
    assert cli.main([argv[0], str(violin_dataset), *argv[1:], "--steps", "2"]) == 0
    with pytest.warns(UserWarning, match="not the data this run started on"):
        assert cli.main([argv[0], str(other), *argv[1:], "--steps", "4", "--resume"]) == 0


def test_a_resumed_run_says_which_settings_it_keeps(violin_dataset, tmp_path):
    """--preset, --reverb, --seed, --name and --init-from given to a resumed run that
    has its own are warned of in the flags' words; the run goes on with its own."""
    out = tmp_path / "run"
    argv = ["train", str(violin_dataset), "--output", str(out), "--batch-size", "2",
            "--checkpoint-every", "2"]
    assert cli.main([*argv, "--steps", "2", "--reverb", "exp_decay"]) == 0
    again = [*argv, "--steps", "4", "--resume", "--preset", "tiny", "--reverb", "none",
             "--seed", "5", "--name", "other", "--init-from", "violin"]
    with pytest.warns(UserWarning) as record:
        assert cli.main(again) == 0
    said = [warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in record]
    for flag, kept in (("--preset", "cpu-fast"), ("--reverb", "exp_decay"), ("--seed", "0"),
                       ("--name", "run")):
        assert any(s.startswith(f"timbral: warning: {flag}: a resumed run keeps its own "
                                f"({kept})") for s in said), (flag, said)
    assert any("--init-from: a resumed run goes on from its checkpoint" in s for s in said)
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "cpu-fast" and config["name"] == "run"
    assert config["training"]["steps"] == 4
    with warnings.catch_warnings():  # the run's own settings, given again: nothing to say
        warnings.filterwarnings("error", message=".*resumed run")
        assert cli.main([*argv, "--steps", "6", "--resume", "--preset", "cpu-fast",
                         "--reverb", "exp_decay", "--seed", "0"]) == 0


def test_a_preset_made_for_another_rate_is_told(violin_dataset, tmp_path):
    """fullband is made for 48 kHz: on 16 kHz data the run is warned (the model runs at
    the data's rate, as the config then says)."""
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="preset: fullband is made for 48000 Hz audio and "
                                         "this dataset is at 16000 Hz"):
        assert cli.main(["train", str(violin_dataset), "--output", str(out), "--preset",
                         "fullband", "--steps", "1", "--batch-size", "2",
                         "--checkpoint-every", "1"]) == 0
    assert json.loads((out / "config.json").read_text())["sample_rate"] == 16000


def test_ctrl_c_while_the_command_line_starts_is_one_line():
    """SIGINT 0.3 s in (torch still importing, which takes seconds): one line, exit 130,
    no traceback; the console script's entry point is the one run here."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from timbral.__main__ import "
                             "main; sys.exit(main())", "models"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a suite run in the background hands its children SIGINT ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.endswith("interrupted\n"), err
    assert "Traceback" not in err and err.count("\n") == 1, err


def test_ctrl_c_stops_a_transfer_and_writes_nothing(tmp_path):
    """SIGINT once the model is loaded: exit 130 within seconds and no output file (the
    one file ran in a worker thread, which went on to the end and wrote it)."""
    sf.write(tmp_path / "long.wav", _tone(seconds=180.0), SR)
    log = tmp_path / "stdout.txt"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "timbral", "transfer",
                                 str(tmp_path / "long.wav"), "--model", "violin", "--output",
                                 str(tmp_path / "out.wav")], stdout=out,
                                stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, OMP_NUM_THREADS="1"),
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        assert _poll(lambda: "loaded in" in log.read_text())
        proc.send_signal(signal.SIGINT)
        start = time.time()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.time() - start < 5.0, err
    assert err.strip().splitlines()[-1] == "timbral transfer: interrupted", err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav", "stdout.txt"]


def test_ctrl_c_in_a_parallel_folder_run_writes_no_more_files(tmp_path):
    """With --jobs 2 the files being computed when SIGINT comes finish computing (a thread
    cannot be cut short) but are not written; the message counts what was written."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        sf.write(folder / f"t{i}.wav", _tone(seconds=20.0, hz=220.0 + 30 * i), SR)
    log = tmp_path / "stdout.txt"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "timbral", "transfer", str(folder),
                                 "--model", "violin", "--output", str(tmp_path / "out"),
                                 "--jobs", "2"], stdout=out, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, OMP_NUM_THREADS="1"),
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        assert _poll(lambda: " -> " in log.read_text())  # the first file is written
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert 1 <= len(written) < 4 and set(written) <= {f"t{i}.wav" for i in range(4)}
    assert err.strip().splitlines()[-1] == (
        f"timbral transfer: interrupted: {len(written)} of 4 output(s) were written; the "
        f"others were not"), err


def test_messages_name_the_flags_the_user_typed(tmp_path, capsys):
    """--block 0 was refused as "block_size: ..."; "input_device 7: ..." names its flag."""
    from timbral.cli import _in_flags

    sf.write(tmp_path / "a.wav", _tone(seconds=0.5), SR)
    assert cli.main(["stream", str(tmp_path / "a.wav"), "--model", "violin_realtime",
                     "--output", str(tmp_path / "b.wav"), "--block", "0"]) == 2
    assert "error: --block: expected an integer >= 1, got 0" in capsys.readouterr().err
    assert _in_flags("input_device 7: not an input device", {"input_device": "--input-device"}) \
        == "--input-device 7: not an input device"


def test_the_api_refuses_tensors_it_cannot_read_and_takes_half_precision():
    """A 'meta' tensor (no values), a complex one (was cast to real with only torch's
    warning) and booleans get one line; bfloat16 is read as float32 (it raised a
    TypeError deep in numpy); a seeded noise synth sounds the same in float64."""
    from timbral.processors.synths import FilteredNoise

    x = _tone(seconds=0.5)
    for bad, says in ((torch.empty(8000, device="meta"), "a tensor on the 'meta' device"),
                      (torch.from_numpy(x).to(torch.complex64), "expected real numbers"),
                      (x > 0, "expected samples, got booleans")):
        with pytest.raises(ValueError, match=f"^audio: {says}"):
            compute_audio_features(bad, SR)
    half = compute_audio_features(torch.from_numpy(x).to(torch.bfloat16), SR)
    full = compute_audio_features(x, SR)
    assert np.median(np.abs(half["f0_hz"] - full["f0_hz"])) < 1.0
    noise = FilteredNoise(n_samples=1600, seed=3)
    magnitudes = torch.rand(1, 100, 65, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(noise.get_signal(magnitudes.double()).numpy(),
                               noise.get_signal(magnitudes).numpy(), atol=1e-5)


def test_a_processor_groups_stream_step_says_what_it_cannot_use():
    """The README's chunked example with its noise left out, or the wrong size, a hop of
    0, a numpy control, a missing one, frames that disagree: one line each (they were an
    AttributeError, a reshape error, a ZeroDivisionError, ...)."""
    from timbral import processors, synths

    group = processors.ProcessorGroup([
        (synths.Harmonic(640, 16000), ["amps", "harmonic_distribution", "f0_hz"]),
        (synths.FilteredNoise(640), ["noise_magnitudes"]),
        (processors.Add(), ["filtered_noise/signal", "harmonic/signal"])])
    channels = {"amps": 1, "harmonic_distribution": 8, "f0_hz": 1, "noise_magnitudes": 9}
    frames = {k: torch.rand(2, 10, c) for k, c in channels.items()}
    state = group.init_state(2, 64, channels)
    noise = torch.rand(2, 640) * 2 - 1
    assert group.process(frames, state, 64, noise=noise)[0].shape == (2, 640)
    for change, hop, says in (
            ({}, 0, "hop: expected an integer >= 1, got 0"),
            ({"noise": None}, 64, r"noise: expected a tensor \[2, 640\] \(uniform in \[-1, 1\)"
                                  r"\) for the noise synth, got None"),
            ({"noise": noise[:, :10]}, 64, r"noise: .* got a tensor \[2, 10\]"),
            ({"amps": frames["amps"].numpy()}, 64, r"inputs\['amps'\]: expected a tensor "
                                                   r"\[batch, frames, channels\], got a ndarray"),
            ({"f0_hz": None}, 64, r"inputs\['f0_hz'\]: .* got None"),
            ({"f0_hz": frames["f0_hz"][:, :5]}, 64, r"inputs\['f0_hz'\]: \[2, 5\] batch and "
                                                    r"frames, the other inputs \[2, 10\]")):
        given = dict(frames, **{k: v for k, v in change.items() if k != "noise"})
        given = {k: v for k, v in given.items() if v is not None}
        with pytest.raises(ValueError, match=f"^{says}$"):
            group.process(given, state, hop, noise=change.get("noise", noise))
