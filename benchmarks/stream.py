"""Real-time streaming: latency and compute per block on ONE core, against the targets.

    OMP_NUM_THREADS=1 python benchmarks/stream.py                  # 16 and 48 kHz, blocks 64-1024
    OMP_NUM_THREADS=1 python benchmarks/stream.py --minutes 10     # + memory over a 10-minute stream
    OMP_NUM_THREADS=1 python benchmarks/stream.py --model NAME     # a trained model (same cost)

For each sample rate and block size: the engine's algorithmic latency (block
+ delay, where the delay is the lookahead plus the synthesis' own lag, see
``timbral.stream.engine``) and the compute time per block, on one thread
pinned to one CPU: mean, 99th percentile and max, as a share of the block's
duration. The input is the example clip (a clarinet phrase) looped; the
model is the realtime preset (random weights unless --model: the cost does
not depend on the weights). Targets: latency <= 32 ms with compute <= 50 %
of the block (mean; the p99/max column shows whether a callback of that
size can also meet it every time: a block smaller than a frame carries a
whole frame's work now and then).

Then the cost of one frame by stage, the exported step in onnxruntime, and
(with --minutes) resident memory sampled every minute of a long stream.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

BLOCKS = (64, 128, 160, 256, 320, 512, 1024)


def one_core() -> str:
    torch.set_num_threads(1)
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return f"pinned to CPU {cpus[-1]}"
    except (AttributeError, OSError):
        return "not pinned"


def make_model(name, rate: int, frame_rate=None):
    from timbral.models import Autoencoder, preset_config
    from timbral.zoo import load_model

    if name:
        return load_model(name)
    torch.manual_seed(0)
    config = preset_config("realtime", sample_rate=rate)
    if frame_rate:
        config["frame_rate"] = frame_rate
    model = Autoencoder(config).eval()
    with torch.no_grad():
        ir = model.processor_group.processors[-1].ir
        ir.normal_(0, 1e-2).mul_(torch.exp(-torch.arange(ir.shape[0]) / 2000.0))
    return model


def clip(rate: int, seconds: float) -> np.ndarray:
    from timbral.audio import load_audio
    from timbral.zoo import EXAMPLE_CLIP

    audio, _ = load_audio(EXAMPLE_CLIP, sample_rate=rate)
    return np.tile(audio, int(np.ceil(seconds * rate / len(audio))))[:int(seconds * rate)]


def blocks_table(model, blocks, seconds: float) -> None:
    from timbral.stream import StreamProcessor, stream_audio

    rate = model.sample_rate
    audio = clip(rate, seconds)
    print(f"\n{rate} Hz, {model.frame_rate:g} frames/s (hop {model.hop}), {seconds:g} s per "
          f"block size; times in ms")
    print(f"{'block':>6} {'ms':>6} {'delay':>6} {'latency':>8} {'mean':>6} {'p99':>6} "
          f"{'max':>6} {'mean%':>6} {'p99%':>6}  target")
    for block in blocks:
        processor = StreamProcessor(model, block)
        stream_audio(processor, audio[:rate], compensate=False)  # warm up
        processor.reset()
        stream_audio(processor, audio, compensate=False)
        s = processor.stats.summary(block, rate)
        delay_ms = processor.delay / rate * 1000
        ok = processor.latency_ms <= 32.0 and s["mean_ms"] <= 0.5 * s["block_ms"]
        every = s["p99_ms"] <= 0.5 * s["block_ms"]
        print(f"{block:>6} {s['block_ms']:>6.1f} {delay_ms:>6.1f} {processor.latency_ms:>8.1f} "
              f"{s['mean_ms']:>6.2f} {s['p99_ms']:>6.2f} {s['max_ms']:>6.2f} "
              f"{100 * s['mean_ms'] / s['block_ms']:>5.0f}% {100 * s['p99_ms'] / s['block_ms']:>5.0f}%"
              f"  {'met' if ok else 'missed'}{' (p99 too)' if ok and every else ''}")


def stage_costs(model, frames: int = 300) -> None:
    """Milliseconds per frame of each stage, one frame at a time."""
    from timbral.data.statistics import compute_dataset_statistics
    from timbral.stream import CausalFeatures, StreamingAdjust, StreamSynth

    rate, hop = model.sample_rate, model.hop
    audio = clip(rate, (frames + 10) * hop / rate + 1)
    features = CausalFeatures(rate, model.frame_rate)
    size = features.window_size
    windows = [audio[k * hop:k * hop + size][None] for k in range(frames)]
    t = np.arange(500) / model.frame_rate
    stats = compute_dataset_statistics([{"f0_hz": 440 * 2 ** np.sin(t), "f0_confidence":
                                         np.full(500, 0.9), "loudness_db": -30 + 5 * np.sin(t)}],
                                       model.frame_rate)
    adjust = StreamingAdjust(stats, model.frame_rate, autotune=0.5)
    times = {}

    def timed(name, fn):
        for _ in range(10):
            fn(0)
        start = time.perf_counter()
        for k in range(frames):
            fn(k)
        times[name] = (time.perf_counter() - start) / frames * 1000

    timed("f0 (CREPE tiny + refine)", lambda k: features.pitch(windows[k]))
    timed("loudness", lambda k: features.loudness(windows[k]))
    timed("auto-adjust (autotune on)", lambda k: adjust(220.0 * 2 ** (k % 5 / 12), 0.9,
                                                          -30.0 + (k % 7)))
    for backend, name in (("torch", "eager PyTorch"), ("jit", "TorchScript trace"),
                          ("onnxruntime", "onnxruntime")):
        try:
            synth = StreamSynth(model, backend=backend)
        except ValueError as exc:
            print(f"({backend} skipped: {exc})")
            continue
        timed(f"synthesis ({name})",
              lambda k: synth.process(np.float32([220.0]), np.float32([-30.0])))
    try:
        import tempfile

        from timbral.models.export import ExportedStep, export_step

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "step.onnx")
            export_step(model, path, "onnx")
            exported = ExportedStep(path, threads=1)
            state = exported.initial_state()
            noise = np.zeros((1, hop), np.float32)
            f0, ld = np.float32([[220.0]]), np.float32([[-30.0]])

            def run(k):
                nonlocal state
                _, state = exported.step(f0, ld, noise, state)

            timed("exported .onnx file (ExportedStep)", run)
    except ValueError as exc:
        print(f"(onnx skipped: {exc})")
    frame_ms = 1000.0 / model.frame_rate
    print(f"\none frame ({frame_ms:g} ms of audio) by stage, ms:")
    for name, ms in times.items():
        print(f"  {name:<34} {ms:6.2f}  ({100 * ms / frame_ms:4.1f} % of a core at "
              f"{model.frame_rate:g} frames/s)")


def memory_soak(model, minutes: float, block: int) -> None:
    from timbral.stream import StreamProcessor

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

    rate = model.sample_rate
    audio = clip(rate, 60.0)
    audio = audio[:len(audio) // block * block]
    processor = StreamProcessor(model, block)
    readings = []
    start = time.perf_counter()
    with torch.inference_mode():
        for minute in range(int(np.ceil(minutes))):
            for i in range(0, len(audio), block):
                processor.process(audio[i:i + block])
            readings.append(rss_mb())
    took = time.perf_counter() - start
    s = processor.stats.summary(block, rate)
    print(f"\n{minutes:g}-minute stream, block {block}: {took:.0f} s of compute "
          f"(real-time factor {took / (minutes * 60):.2f}); resident memory by minute (MB): "
          + " ".join(f"{r:.1f}" for r in readings))
    print(f"growth after minute 1: {readings[-1] - readings[0]:+.2f} MB; compute per block "
          f"mean {s['mean_ms']:.2f} ms, max {s['max_ms']:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model (default: realtime preset)")
    parser.add_argument("--rates", type=int, nargs="+", default=[16000, 48000])
    parser.add_argument("--blocks", type=int, nargs="+", default=list(BLOCKS))
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per block size")
    parser.add_argument("--frame-rate", type=float, default=None,
                        help="override the preset's 50 frames/s (e.g. 100 to compare)")
    parser.add_argument("--minutes", type=float, default=0.0, help="memory soak length")
    parser.add_argument("--soak-block", type=int, default=320)
    args = parser.parse_args()
    where = one_core()
    print(f"torch {torch.__version__}, 1 thread, {where}; load average "
          f"{os.getloadavg()[0]:.2f} (other work on the machine slows every figure)")
    rates = [None] if args.model else args.rates
    for rate in rates:
        model = make_model(args.model, rate, args.frame_rate)
        blocks_table(model, args.blocks, args.seconds)
    model = make_model(args.model, 16000, args.frame_rate)
    stage_costs(model)
    if args.minutes:
        memory_soak(model, args.minutes, args.soak_block)


if __name__ == "__main__":
    main()
