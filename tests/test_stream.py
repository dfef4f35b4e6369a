"""Streaming timbre transfer: exactness against offline rendering, latency, clicks, memory."""

import argparse
import gc
import math
import os
import re

import numpy as np
import pytest
import soundfile as sf
import torch

from timbral.cli.common import CommandError
from timbral.data.statistics import compute_dataset_statistics
from timbral.features import compute_audio_features
from timbral.features.voicing import BARE_SECONDS
from timbral.models import Autoencoder, preset_config, save_model_folder
from timbral.models.rendering import render
from timbral.stream import (StreamingAdjust, StreamProcessor, StreamSynth, engine_delay,
                            stream_audio)

SR = 16000


def _model(preset="realtime", crossfade=True, noise=True, seed=0, sample_rate=SR):
    """A random-weight model with an audible reverb tail (and optionally no noise)."""
    torch.manual_seed(seed)
    config = preset_config(preset, sample_rate=sample_rate, reverb="ir")
    config["processor_group"]["config"]["dag"][1]["processor"]["config"]["crossfade"] = crossfade
    model = Autoencoder(config).eval()
    with torch.no_grad():
        ir = model.processor_group.processors[-1].ir
        ir.normal_(0, 1e-2).mul_(torch.exp(-torch.arange(ir.shape[0]) / 2000.0))
        bias = model.decoder.dense_out.bias
        bias[61:] += 3.0 if noise else -100.0  # louder noise, or none at all
    return model


@pytest.fixture(scope="module")
def model():
    return _model()


def _glide(seconds=3.0, rate=SR):
    """A gliding, swelling tone: pitch 180-270 Hz, a fade in and out."""
    t = np.arange(int(seconds * rate)) / rate
    f = 220 * 2 ** (0.3 * np.sin(2 * np.pi * 0.7 * t))
    envelope = np.clip(3 * np.sin(np.pi * t / seconds), 0, 1)
    return (0.3 * np.sin(2 * np.pi * np.cumsum(f) / rate) * envelope).astype(np.float32)


@pytest.mark.parametrize("preset,crossfade", [("realtime", True), ("realtime", False),
                                              ("tiny", True)])
def test_stateful_synthesis_equals_offline_rendering(preset, crossfade):
    """Frames fed one, three or seven at a time give the offline render, delayed."""
    model = _model(preset, crossfade)
    n = int(1.2 * model.frame_rate)
    t = np.arange(n) / model.frame_rate
    f0 = (220 * 2 ** (0.5 * np.sin(3 * t))).astype(np.float32)
    ld = (-30 + 20 * np.sin(1.3 * t)).astype(np.float32)
    offline = render(model, f0, ld, seed=3)
    for chunk in (1, 3, 7):
        backend = {1: "jit", 3: "torch", 7: "auto"}[chunk]  # every path
        synth = StreamSynth(model, seed=3, backend=backend)
        out = np.concatenate([synth.process(f0[i:i + chunk], ld[i:i + chunk])
                              for i in range(0, n - n % chunk, chunk)])
        assert np.abs(out[:-synth.first_offset]).max() < 1e-6  # before model time 0: silence
        streamed = out[-synth.first_offset:]
        m = len(streamed) - 2 * model.hop  # the offline render holds its last frame
        np.testing.assert_allclose(streamed[:m], offline[:m], atol=2e-6)
    assert np.abs(offline).max() > 0.1


def test_block_size_invariance_and_offline_equality(model):
    """The whole engine (causal features, adjust, synthesis) gives the same output for
    blocks of 64, 160 and 1024 samples, and that output is the offline rendering of
    the features it streamed (tolerance 1e-5 of a ~0.4 peak: float32 rounding)."""
    x = _glide()
    outputs = {}
    for block in (64, 160, 1024):
        processor = StreamProcessor(model, block, record=True, seed=1)
        outputs[block] = (stream_audio(processor, x), processor)
    reference, processor = outputs[64]
    for block, (out, _) in outputs.items():
        assert out.shape == x.shape
        np.testing.assert_allclose(out, reference, atol=1e-5, err_msg=f"block {block}")
    f0 = np.array(processor.record["f0_adjusted"], np.float32)
    ld = np.array(processor.record["loudness_adjusted"], np.float32)
    offline = render(model, f0, ld, seed=1)
    m = min(len(offline), len(reference)) - 2 * model.hop
    np.testing.assert_allclose(reference[:m], offline[:m], atol=1e-5)
    assert np.abs(reference).max() > 0.1
    # the causal tracker follows the glide (180-270 Hz) once the tone has started
    f0_raw = np.array(processor.record["f0_hz"])[10:-10]
    assert 170 < f0_raw.min() and f0_raw.max() < 285


def test_latency_of_the_realtime_preset(model):
    """Algorithmic latency (block + delay) <= 32 ms at 16 kHz for blocks up to 10 ms
    and for one-frame blocks; the delay is the least that never underruns."""
    hop, first = model.hop, -384
    assert (hop, StreamSynth(model, backend="torch").first_offset) == (320, first)
    for block in (64, 128, 160, 320):
        processor = StreamProcessor(model, block, backend="torch")
        assert processor.delay == -first - math.gcd(block, hop)
        assert processor.latency_ms <= 32.0, (block, processor.latency_ms)
    assert engine_delay(None, hop, 0, first) == 383  # blocks of any size: the worst case
    # a lookahead that is not a whole number of blocks costs up to a block more
    assert engine_delay(320, hop, 256, first) == 384 and engine_delay(320, hop, 320, first) == 384
    # a delay one sample shorter would underrun for some block
    processor = StreamProcessor(model, 128, adjust=False, backend="torch")
    processor.delay -= 1
    processor.reset()
    with pytest.raises(RuntimeError, match="underrun"):
        for _ in range(20):
            processor.process(np.zeros(128, np.float32))


def test_causal_features_match_offline_ones_with_lookahead(model):
    """With half a loudness window of lookahead the loudness is the offline one
    exactly; the causal f0 of a steady tone is within a cent."""
    t = np.arange(int(2.0 * SR)) / SR
    x = (0.4 * np.sin(2 * np.pi * 261.63 * t)).astype(np.float32)
    offline = compute_audio_features(x, SR, model.frame_rate, "crepe-tiny-refined")
    processor = StreamProcessor(model, 128, lookahead=256, adjust=False, record=True)
    stream_audio(processor, x)
    ld = np.array(processor.record["loudness_db"])
    n = len(offline["loudness_db"])
    np.testing.assert_allclose(ld[:n], offline["loudness_db"], atol=1e-4)
    f0 = np.array(processor.record["f0_hz"])[5:n - 5]
    assert np.abs(1200 * np.log2(f0 / 261.63)).max() < 1.0
    assert processor.delay == 256 + 384 - 64


def test_frames_further_apart_than_the_loudness_window():
    """A 48 kHz model at 50 frames/s (hop 960 > the 512-sample loudness window):
    the window widens to 1024 samples at the same level, offline and streamed
    (identical with half a window of lookahead), and transfer runs."""
    from timbral.dsp.spectral import compute_loudness, loudness_window
    from timbral.transfer import transfer

    rate = 48000
    assert loudness_window("v2", 960) == 1024 and loudness_window("v2", 480) == 512
    t = np.arange(2 * rate) / rate
    tone = torch.from_numpy(0.5 * np.sin(2 * np.pi * 440 * t))[None]
    noise = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, len(t)))[None]
    for x in (tone, noise):
        wide, usual = compute_loudness(x, rate, 50)[0, 5:-5], compute_loudness(x, rate, 100)[0]
        assert abs(float(wide.mean()) - float(usual[10:-10].mean())) < 0.1
    model = Autoencoder(preset_config("realtime", sample_rate=rate)).eval()
    x = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    result = transfer(x, rate, model, adjust=False)
    assert result.audio.shape == x.shape
    offline = compute_audio_features(x, rate, 50)["loudness_db"]
    processor = StreamProcessor(model, 960, lookahead=512, adjust=False, record=True)
    stream_audio(processor, x)
    ld = np.array(processor.record["loudness_db"])[:len(offline)]
    np.testing.assert_allclose(ld, offline[:len(ld)], atol=1e-4)


def test_what_a_stream_takes_in(model):
    """A [1, n] signal streams whole; a block is mono and real (a stereo block is refused,
    not interleaved into twice the samples); int16 PCM is scaled like a file; a second
    stream_audio on the same processor is a new stream, equal to the first."""
    x = (0.3 * np.sin(2 * np.pi * 330 * np.arange(SR) / SR)).astype(np.float32)
    processor = StreamProcessor(model, 320, adjust=False)
    first = stream_audio(processor, x[None])
    assert first.shape == x.shape
    np.testing.assert_array_equal(stream_audio(processor, x), first)
    pcm = np.round(x * 32768).astype(np.int16)
    np.testing.assert_array_equal(stream_audio(processor, pcm),
                                  stream_audio(processor, pcm.astype(np.float32) / 32768))
    processor.reset()
    assert processor.process(np.zeros((320, 1), np.float32)).shape == (320,)  # a device's frames
    for block, says in ((np.zeros((2, 320)), "expected mono"),
                        (np.zeros(320, np.complex64), "expected real numbers"),
                        ("abc", "expected real numbers"), (np.zeros(160), "expected 320")):
        with pytest.raises(ValueError, match=says):
            processor.process(block)


def test_causal_tracker_calls_digital_silence_unvoiced():
    from timbral.stream import CausalFeatures

    features = CausalFeatures(SR, 50)
    tone = 0.3 * np.sin(2 * np.pi * 330 * np.arange(features.window_size) / SR)
    windows = np.stack([np.zeros(features.window_size), tone]).astype(np.float32)
    conf = features.analyse(windows)["f0_confidence"]
    assert conf[0] == 0.0 and conf[1] > 0.5


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_causal_tracker_reads_a_low_e_at_any_rate(rate):
    """Regression: the refinement's longest window was 2048 samples at any rate, two
    periods of E1 (41.2 Hz) at 48 kHz: a stream read it 82 cents flat, and never
    played it. It is 128 ms now, as at 16 kHz."""
    from timbral.stream import CausalFeatures

    features = CausalFeatures(rate, 100)
    t = np.arange(features.window_size + 40 * rate // 100) / rate
    tone = sum(0.7 ** h * np.sin(2 * np.pi * 41.2 * (h + 1) * t + h) for h in range(8))
    ends = features.window_size + np.arange(40) * rate // 100
    windows = np.stack([tone[e - features.window_size:e] for e in ends]).astype(np.float32)
    f0 = features.analyse(0.1 * windows)["f0_hz"]
    assert np.abs(1200 * np.log2(f0[5:] / 41.2)).max() < 10


def test_no_clicks_at_block_or_frame_edges_on_a_steady_tone():
    """A steady tone in, a steady harmonic tone out: no sample-to-sample jump at a
    block or frame edge exceeds the signal's own largest slope elsewhere."""
    model = _model(noise=False)
    t = np.arange(int(2.0 * SR)) / SR
    x = (0.4 * np.sin(2 * np.pi * 261.63 * t)).astype(np.float32)
    block = 128
    processor = StreamProcessor(model, block, adjust=False, record=True)
    y = stream_audio(processor, x, compensate=False)
    # from a few frames into the note, which starts once the gate has seen a few of the
    # tone's frames (a sine has no overtones) move smoothly
    first = int(np.argmax(processor.record["voiced"]))
    assert 0 < first <= 8 + BARE_SECONDS * model.frame_rate + 4
    start = processor.delay + (first + 8) * model.hop
    y = y[start:]
    jumps = np.abs(np.diff(y))
    block_edges = np.arange(-start % block, len(jumps), block) - 1
    frame_edges = np.arange((-start - processor.first_offset) % model.hop, len(jumps),
                            model.hop) - 1
    edges = np.unique(np.concatenate([block_edges, frame_edges]))
    edges = edges[edges >= 0]
    inside = np.ones(len(jumps), bool)
    inside[edges] = False
    assert jumps[edges].max() <= jumps[inside].max()
    assert jumps[inside].max() > 0.01  # there is a tone
    # and the tone is steady: every frame-long stretch has the same energy (+-5 %)
    rms = np.sqrt(np.mean(y[:len(y) // model.hop * model.hop].reshape(-1, model.hop) ** 2, 1))
    assert rms.max() / rms.min() < 1.1


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _live_tensors() -> tuple[int, int]:
    """(count, bytes) of the torch tensors Python can reach, storages counted once."""
    gc.collect()
    tensors = [o for o in gc.get_objects() if issubclass(type(o), torch.Tensor)]
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return len(tensors), sum(storages.values())


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_memory_stays_flat_over_a_long_stream(model):
    """80 s of streaming (4000 frames): between 40 s and 80 s, Python and numpy
    allocations (tracemalloc) and the live torch tensors (count and bytes) do not
    grow at all. Resident memory only has to stay within 16 MB: the allocators'
    pools move it by 2-5 MB from one machine to the next, so the exact counts
    carry the test and RSS only catches a large leak outside Python's sight."""
    import tracemalloc

    block = 256
    processor = StreamProcessor(model, block)
    rng = np.random.default_rng(0)
    readings, traced, live = [], [], []
    tracemalloc.start()
    try:
        with torch.inference_mode():
            for second in range(80):
                t = (np.arange(SR) + second * SR) / SR
                x = 0.3 * np.sin(2 * np.pi * (220 + 50 * np.sin(t)) * t) \
                    + 0.01 * rng.standard_normal(SR)
                x = x.astype(np.float32)
                for i in range(0, SR - block + 1, block):
                    processor.process(x[i:i + block])
                if second in (39, 79):  # live memory: cyclic garbage collected first
                    live.append(_live_tensors())
                    traced.append(tracemalloc.get_traced_memory()[0] / 1e6)
                    readings.append(_rss_mb())
    finally:
        tracemalloc.stop()
    assert traced[1] - traced[0] < 0.1, traced
    assert live[1] == live[0], live
    assert readings[1] - readings[0] < 16.0, readings
    assert processor.stats.blocks == 80 * (SR // block)
    assert processor.stats.recent.shape == (1 << 16,)


def test_streaming_adjust_uses_running_statistics():
    """Octave shift toward the data from the first note on (never inside a note),
    note-on loudness mapped onto the dataset's, note-off frames lowered."""
    rate = 50
    # "dataset": notes around A5 (MIDI 81) at -20 dB (+-6)
    n = 400
    t = np.arange(n) / rate
    examples = [{"f0_hz": np.full(n, 880.0), "f0_confidence": np.full(n, 0.95),
                 "loudness_db": -20 + 6 * np.sin(2 * np.pi * 0.5 * t)}]
    stats = compute_dataset_statistics(examples, rate)
    adjust = StreamingAdjust(stats, rate, quiet=20.0)
    frames = []
    # input: silence, then notes around A3 (MIDI 57, two octaves down) at -40 dB, a gap
    for i in range(300):
        note = 20 <= i < 150 or 170 <= i < 300
        f0 = 220.0 if note else 100.0
        conf = 0.95 if note else 0.05
        ld = -40.0 + 3 * np.sin(i / 5) if note else -75.0
        frames.append(adjust(f0, conf, ld))
    on = np.array([f.note_on for f in frames])
    assert on[30:145].all() and not on[:15].any() and not on[160:165].any()
    shifts = np.array([f.octave_shift for f in frames])
    assert shifts[40] == 2.0  # from the first note on: two octaves up, toward A5
    # the shift only changes between notes
    changes = np.nonzero(np.diff(shifts))[0] + 1
    assert all(not on[i] or not on[i - 1] for i in changes)
    f0 = np.array([f.f0_hz for f in frames])
    np.testing.assert_allclose(f0[40:140], 880.0)
    ld = np.array([f.loudness_db for f in frames])
    # note-on loudness moves from the input's (-40) toward the dataset's (-26..-14),
    # within the first second of notes (a 4 s prior held it near -26 there)
    assert -27 < ld[250:290].mean() < -13 and ld[40:70].mean() > -24
    assert ld[160] < -75.0 - 10  # a note-off frame, lowered by "quiet"
    # without statistics only note detection runs
    plain = StreamingAdjust(None, rate)
    frame = plain(220.0, 0.95, -40.0)
    assert frame.f0_hz == 220.0 and frame.loudness_db == -40.0 and plain.messages


def test_streamed_octave_moves_at_note_starts_and_stops_flipping():
    """A legato line (no rest) whose first note lies far under the rest: the octave the
    first note set is corrected where a later note starts, never inside a note (it was
    kept to the phrase's end: no rest came). Later, detached notes whose running mean
    wanders across the rule's boundary (near the data's mean) no longer flip the octave
    at their rests."""
    rate = 50
    n = 400
    examples = [{"f0_hz": np.full(n, 880.0), "f0_confidence": np.full(n, 0.95),
                 "loudness_db": np.full(n, -20.0)}]
    stats = compute_dataset_statistics(examples, rate)  # mean pitch MIDI 81
    adjust = StreamingAdjust(stats, rate)
    # first note MIDI 66 (the rule: +2 octaves), then 0.25 s notes around MIDI 71 (+1)
    keys = [66] * 2 + [71, 72, 70, 71, 73, 71, 70, 72] * 6
    midi = np.repeat(keys, rate // 4)
    frames = [adjust(440.0 * 2 ** ((k - 69) / 12), 0.95, -20.0) for k in midi]
    shifts = np.array([f.octave_shift for f in frames])
    assert shifts[20] == 2.0 and shifts[-1] == 1.0
    changes = np.nonzero(np.diff(shifts[5:]))[0] + 6  # after the first note set it
    assert len(changes) and all(midi[i - 1] != midi[i - 2] for i in changes)  # 2nd frames
    # a one-frame blip of the tracker (an octave up) inside a note moves nothing
    adjust = StreamingAdjust(stats, rate)
    # (3.5 s of MIDI 71: +1; then a long 61, where the running mean reaches 66: +2)
    blipped = np.concatenate([np.full(175, 71), np.full(250, 61)])
    blipped[350] = 73
    shifts = np.array([adjust(440.0 * 2 ** ((k - 69) / 12), 0.95, -20.0).octave_shift
                       for k in blipped])
    assert (shifts[100:] == 1.0).all()
    # detached notes, 4 s at the data's mean, then wandering just under it (mean 80.5)
    adjust = StreamingAdjust(stats, rate)
    shifts = []
    for k in [81] * 16 + [79, 82, 80, 81, 80, 79, 82, 81] * 8:
        for i in range(rate // 4):
            rest = i == rate // 4 - 1
            shifts.append(adjust(440.0 * 2 ** ((k - 69) / 12), 0.0 if rest else 0.95,
                                 -80.0 if rest else -20.0).octave_shift)
    assert len(set(shifts[int(3.5 * rate):])) == 1


# ----------------------------------------------------------------------- CLI
def _parser():
    from timbral.cli import stream as stream_cli

    parser = argparse.ArgumentParser(prog="timbral")
    sub = parser.add_subparsers(dest="command")
    stream_cli.register(sub)
    return parser


@pytest.fixture(scope="module")
def model_folder(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "rt"
    model.config["name"] = "rt"
    save_model_folder(folder, model, None, "# rt\n\nrandom weights for tests\n")
    return folder


def test_stream_command_writes_an_aligned_file(model_folder, tmp_path, capsys):
    source = tmp_path / "in.wav"
    sf.write(source, _glide(1.5, 22050), 22050)  # resampled to the model's 16 kHz
    out = tmp_path / "out.wav"
    args = _parser().parse_args(["stream", str(source), "--model", str(model_folder),
                                 "--output", str(out), "--block", "160"])
    args.func(args)
    audio, rate = sf.read(out, dtype="float32")
    assert rate == SR and len(audio) == int(1.5 * SR) and np.abs(audio).max() > 0.01
    text = capsys.readouterr().out
    assert "latency 24.0 ms" in text and "p99" in text and "wrote" in text
    assert "no frame plays" not in text and "clipped" not in text
    folder = tmp_path / "streams"  # a folder, as transfer takes one: the input's name in it
    folder.mkdir()
    args = _parser().parse_args(["stream", str(source), "--model", str(model_folder),
                                 "--output", str(folder)])
    args.func(args)
    assert [p.name for p in folder.iterdir()] == ["in.wav"]
    # shorter than the tracker's window: silent, and said (it wrote silence and nothing else)
    sf.write(source, _glide(0.1, SR), SR)
    args = _parser().parse_args(["stream", str(source), "--model", str(model_folder),
                                 "--output", str(out), "--overwrite"])
    args.func(args)
    assert "Noise gate: no frame plays; the output is silent (the stream plays from 180 ms " \
        "on" in capsys.readouterr().out
    # a loudness shift past full scale: offline scales the output down, a stream clips
    sf.write(source, 0.99 * np.sin(2 * np.pi * 440 * np.arange(3 * SR) / SR), SR)
    args = _parser().parse_args(["stream", str(source), "--model", "violin", "--output",
                                 str(out), "--overwrite", "--loudness-shift", "20"])
    args.func(args)
    assert re.search(r"\d+ output samples \([\d.]+%\) pass full scale and are clipped; "
                     r"lower --loudness-shift", capsys.readouterr().out)


def test_stream_command_says_when_it_is_too_slow_for_live_use(model_folder, tmp_path,
                                                              monkeypatch, capsys):
    """crepe-full computes a 20 ms block in about 40 ms here: the file comes out
    right, and a live run would drop out; the command says so (as `live` does)."""
    from timbral.stream import StreamStats

    summary = StreamStats.summary
    monkeypatch.setattr(StreamStats, "summary", lambda self, *a, **k: dict(
        summary(self, *a, **k), mean_ms=37.6))
    source = tmp_path / "in.wav"
    sf.write(source, _glide(1.0, SR), SR)
    args = _parser().parse_args(["stream", str(source), "--model", str(model_folder),
                                 "--output", str(tmp_path / "out.wav")])
    args.func(args)
    said = capsys.readouterr().out
    assert "1.9x too slow for live use on this machine (a block takes longer to compute " \
        "than to play); try a larger --block or --device cuda (for the synthesis)" in said


def test_live_command_explains_what_is_missing(model_folder, capsys):
    args = _parser().parse_args(["live", "--model", str(model_folder), "--block", "256"])
    try:
        import sounddevice as sd

        has_devices = len(sd.query_devices()) > 0
    except (ImportError, OSError):
        has_devices = False
    if has_devices:
        pytest.skip("this machine has audio devices")
    with pytest.raises(CommandError, match="sounddevice|PortAudio|no audio"):
        args.func(args)


def test_live_command_runs_the_engine_in_the_audio_callback(model_folder, monkeypatch, capsys):
    """With a stand-in for sounddevice (one input, one output device), `live` opens a
    stream at the model's rate and block size and answers each callback with a block."""
    import sys
    import types

    calls = {"blocks": 0}

    class CallbackAbort(Exception):
        pass

    class FakeStream:
        latency = (0.005, 0.008)

        def __init__(self, samplerate, blocksize, device, channels, dtype, latency, callback):
            assert (samplerate, blocksize, channels, dtype) == (SR, 160, 1, "float32")
            self.callback, self.blocksize = callback, blocksize

        def __enter__(self):
            x = _glide(0.5)
            for i in range(0, len(x) - self.blocksize + 1, self.blocksize):
                out = np.zeros((self.blocksize, 1), np.float32)
                try:
                    self.callback(x[i:i + self.blocksize, None], out, self.blocksize, None,
                                  None)
                except CallbackAbort:  # as PortAudio does: the stream stops
                    break
                calls["blocks"] += 1
            calls["peak"] = float(np.abs(out).max())
            return self

        def __exit__(self, *exc):
            return False

    devices = [{"name": "mic", "max_input_channels": 1, "max_output_channels": 0,
                "default_samplerate": 48000.0},
               {"name": "speakers", "max_input_channels": 0, "max_output_channels": 2,
                "default_samplerate": 48000.0}]
    fake = types.SimpleNamespace(query_devices=lambda: devices, Stream=FakeStream,
                                 CallbackAbort=CallbackAbort)
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    args = _parser().parse_args(["live", "--model", str(model_folder), "--block", "160",
                                 "--input-device", "0", "--duration", "0.01"])
    args.func(args)
    assert calls["blocks"] == 50 and calls["peak"] > 0.01
    # a callback that fails stops the stream (PortAudio's CallbackAbort) and the command
    # says why, instead of printing the last figures on and on
    warm = StreamProcessor.process  # the warm-up's silence passes, the first sound fails
    monkeypatch.setattr(StreamProcessor, "process",
                        lambda self, block: warm(self, block) if not block.any() else 1 / 0)
    with pytest.raises(CommandError, match="the audio stopped: ZeroDivisionError"):
        args.func(args)
    monkeypatch.setattr(StreamProcessor, "process", warm)
    text = capsys.readouterr().out
    assert "latency 24.0 ms" in text and "compute per block" in text
    bad = _parser().parse_args(["live", "--model", str(model_folder), "--input-device", "1"])
    with pytest.raises(CommandError, match="not an input device"):
        bad.func(bad)
    listing = _parser().parse_args(["live", "--list-devices"])
    listing.func(listing)
    assert capsys.readouterr().out.splitlines() == [
        "  0 mic (in 1, out 0, 48000 Hz)", "  1 speakers (in 0, out 2, 48000 Hz)"]


def test_stream_command_handles_an_input_of_two_blocks(model_folder, tmp_path, capsys):
    source = tmp_path / "short.wav"
    sf.write(source, _glide(0.03), SR)  # 30 ms: two 320-sample blocks, no statistics
    out = tmp_path / "short_out.wav"
    args = _parser().parse_args(["stream", str(source), "--model", str(model_folder),
                                 "--output", str(out)])
    args.func(args)
    assert sf.info(out).frames == len(_glide(0.03))
    assert "wrote" in capsys.readouterr().out


def test_export_command_creates_the_folder_and_writes_whole_files(model_folder, tmp_path):
    out = tmp_path / "new" / "folder" / "rt.onnx"
    pytest.importorskip("onnx")
    args = _parser().parse_args(["export", str(model_folder), "--format", "onnx",
                                 "--output", str(out), "--no-check"])
    args.func(args)
    assert out.exists() and [p.name for p in out.parent.iterdir()] == ["rt.onnx"]


def test_stream_processor_checks_its_arguments(model):
    for kwargs, match in (({"block_size": 1.5}, "block_size"), ({"block_size": True}, "block_size"),
                          ({"lookahead": 10 ** 9}, "lookahead"), ({"lookahead": None}, "lookahead"),
                          ({"quiet": None}, "quiet"), ({"threshold": 5.0, "adjust": False},
                                                       "threshold"),
                          ({"pitch_tracker": "crepe-tny"}, "pitch_tracker")):
        with pytest.raises(ValueError, match=match):
            StreamProcessor(model, **kwargs)
    with pytest.raises(ValueError, match="block_size"):
        stream_audio(StreamProcessor(model, 320), np.zeros(640, np.float32), block_size=0)
    named = StreamProcessor("violin_realtime", 320)  # a shipped name, like transfer()
    assert named.model.frame_rate == 50


def _tone(f0: float, start: float, seconds: float = 1.2) -> np.ndarray:
    """Seven harmonics with 1 % vibrato, a 10 ms attack at ``start`` s, at 16 kHz."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))) / SR
    x = sum(0.3 / k * np.sin(k * phase) for k in range(1, 8))
    envelope = np.clip((t - start) / 0.01, 0, 1) * np.clip((seconds - t) / 0.05, 0, 1)
    return (x * envelope).astype(np.float32)


def test_an_attack_neither_chirps_nor_sets_the_octave_in_a_stream():
    """The tracker's first frame of an attack is often a harmonic of the note (1.3-2 kHz
    for these tones at some onsets): streamed, no played frame leaves the note (the gate
    starts a note on two frames that agree), and the octave auto-adjust picks is the
    offline one from the first note-on frame (it reads the first note's median, not its
    first frame); with the gate off (every frame plays, attack frames too), from the
    first 0.2 s on. Before, 6 of these 12 tones came out two octaves low."""
    from timbral.transfer import transfer
    from timbral.zoo import load_model

    model = load_model("violin_realtime")
    for f0 in (330.0, 440.0, 523.25):
        offline = None
        for start in (0.300, 0.312, 0.316, 0.320):
            x = _tone(f0, start)
            if offline is None:
                offline = transfer(x, SR, model).adjust.octave_shift
            for gate in (0.5, 0.0):
                processor = StreamProcessor(model, 320, record=True, gate=gate)
                stream_audio(processor, x)
                shift = np.array(processor.record["f0_adjusted"]) / np.maximum(
                    np.array(processor.record["f0_hz"]), 1e-9)
                note = np.nonzero(processor.record["note_on"])[0]
                settled = note if gate else note[int(0.2 * model.frame_rate) + 1:]
                assert np.allclose(np.log2(shift[settled]), offline, atol=0.02), (f0, start)
                if gate:  # what `timbral stream` says it did: one shift, from the note on
                    (when, octaves), = processor.adjuster.octave_changes
                    assert octaves == offline and abs(when - start) < 0.1
                    said = processor.adjuster.octave_message()
                    assert (said is None) if offline == 0 else \
                        f"octave(s) {offline:+.0f} from {when:.2f} s, by" in said
            processor = StreamProcessor(model, 320, record=True, adjust=False)
            stream_audio(processor, x)
            played = np.array(processor.record["voiced"])
            cents = 1200 * np.log2(np.array(processor.record["f0_adjusted"])[played] / f0)
            assert played.sum() > 40 and np.abs(cents).max() < 60, (f0, start, cents.max())


def test_a_live_stream_goes_on_through_bad_samples():
    """NaN, infinite and huge finite samples (1e19: its power overflowed float32 and
    left every later block raising) neither stop the stream nor leave it broken."""
    from timbral.zoo import load_model

    processor = StreamProcessor(load_model("violin_realtime"), 320)
    x = _tone(440.0, 0.0, 2.0)
    bad = [np.full(320, v, np.float32) for v in (np.nan, np.inf, -np.inf, 1e19, -3e38)]
    out = [processor.process(block) for block in bad]
    out += [processor.process(x[i:i + 320]) for i in range(0, len(x) - 319, 320)]
    out = np.concatenate(out)
    assert np.isfinite(out).all()
    assert np.sqrt(np.mean(out[-16000:] ** 2)) > 1e-3  # the tone after them plays


def test_the_newest_audio_tells_a_stream_the_input_stopped():
    """CausalLoudness.newest: on a steady tone or noise the newest 10 ms read within
    1 dB of the whole window; a tone that stopped 10 ms before the window's end reads
    far under it, while the window's loudness has dropped by under 6 dB."""
    from timbral.stream.features import CausalFeatures, CausalLoudness

    for rate, frame_rate, definition in ((16000, 50, "v2"), (48000, 50, "v2"), (16000, 250, "v1")):
        loudness = CausalLoudness(rate, frame_rate, definition)
        n = loudness.window_size
        t = np.arange(n) / rate
        tone = 0.3 * np.sin(2 * np.pi * 440 * t)
        noise = 0.1 * np.random.default_rng(0).standard_normal(n)
        stopped = np.where(t < t[-1] - 0.01, tone, 0.0)
        windows = np.stack([tone, noise, stopped]).astype(np.float32)
        ld = loudness(windows)
        change = loudness.newest(windows, ld, n)[0] - ld
        assert np.abs(change[:2]).max() < 1.0, (rate, definition, change)
        assert change[2] < -40.0
        assert ld[0] - ld[2] < 6.0
    # an attack: the newest 10 ms of a tone that began 40 ms ago are far louder than the
    # oldest of the tracker's 64 ms window; a steady tone's are not
    features = CausalFeatures(SR, 50)
    t = np.arange(features.window_size) / SR
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    windows = np.stack([tone, np.where(t >= t[-1] - 0.04, tone, 0.0)]).astype(np.float32)
    rise = features.analyse(windows)["window_rise_db"]
    assert abs(rise[0]) < 1.0 and rise[1] > 40.0
