"""Speed and memory of the DDSP synthesizers (issue 2's targets).

Harmonic(100 harmonics) + FilteredNoise(65 bands), batch 16 x 4 s at 16 kHz,
250 frames per second, raw network-like controls through the processors
(exp_sigmoid scaling included), on the CPU with 2 threads:

    python benchmarks/synth.py [--threads 2] [--repeats 5]

Prints best-of-N wall times for forward (inference), forward with autograd
and forward+backward, for a realistic melody f0 (100-1000 Hz, most upper
harmonics above Nyquist) and the worst case (f0 = 50 Hz: all 100 harmonics
sound). Also the same Harmonic computed the textbook way (every per-harmonic
envelope materialised, as Magenta does) for comparison, and the peak memory
each variant adds (measured in a child process from its max RSS).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

BATCH, SECONDS, SR, FRAME_RATE, HARMONICS, BANDS = 16, 4, 16000, 250, 100, 65


def make_inputs(case: str, requires_grad: bool, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    n_frames = SECONDS * FRAME_RATE
    t = torch.arange(n_frames) / FRAME_RATE
    if case == "worst":
        f0 = torch.full((BATCH, n_frames, 1), 50.0)
    else:  # a note per half second, 100-1000 Hz, with vibrato
        notes = 100.0 * 10 ** torch.rand(BATCH, SECONDS * 2, generator=gen)
        f0 = notes.repeat_interleave(FRAME_RATE // 2, dim=1)[..., None]
        f0 = f0 * (1 + 0.01 * torch.sin(2 * torch.pi * 5.5 * t))[None, :, None]
    inputs = {"amps": torch.randn(BATCH, n_frames, 1, generator=gen),
              "harmonic_distribution": torch.randn(BATCH, n_frames, HARMONICS, generator=gen),
              "noise_magnitudes": torch.randn(BATCH, n_frames, BANDS, generator=gen)}
    for v in inputs.values():
        v.requires_grad_(requires_grad)
    inputs["f0_hz"] = f0
    return inputs


def build(textbook: bool):
    from timbral import core, synths

    n_samples = SECONDS * SR
    harmonic = synths.Harmonic(n_samples, SR)
    noise = synths.FilteredNoise(n_samples)

    def textbook_signal(amplitudes, harmonic_distribution, f0_hz):
        freqs = core.resample(core.get_harmonic_frequencies(f0_hz, HARMONICS), n_samples)
        amps = core.resample(amplitudes * harmonic_distribution, n_samples, "window")
        return core.oscillator_bank(freqs, amps, SR)

    def run(x):
        controls = harmonic.get_controls(x["amps"], x["harmonic_distribution"], x["f0_hz"])
        audio = textbook_signal(**controls) if textbook else harmonic.get_signal(**controls)
        return audio + noise(x["noise_magnitudes"])

    return run


def time_mode(run, case: str, mode: str, repeats: int) -> float:
    best = float("inf")
    for i in range(repeats + 1):  # the first run warms up
        x = make_inputs(case, requires_grad=mode != "forward")
        start = time.perf_counter()
        if mode == "forward":
            with torch.no_grad():
                run(x)
        elif mode == "forward_autograd":
            run(x)
        else:
            run(x).square().mean().backward()
        elapsed = time.perf_counter() - start
        if i:
            best = min(best, elapsed)
    return best


def child(args) -> None:
    """Measure one (variant, case, mode) and print JSON: seconds and peak RSS added."""
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    run = build(args.variant == "textbook")
    make_inputs(args.case, True)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = time_mode(run, args.case, args.mode, args.repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-textbook", action="store_true",
                        help="skip the slow materialised-envelope comparison")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="timbral", help=argparse.SUPPRESS)
    parser.add_argument("--case", default="melody", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="forward", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    per_tensor = BATCH * SECONDS * SR * HARMONICS * 4 / 2 ** 20
    print(f"Harmonic({HARMONICS}) + FilteredNoise({BANDS}), batch {BATCH} x {SECONDS} s at "
          f"{SR} Hz, {args.threads} threads, best of {args.repeats}")
    print(f"(one float32 [batch, samples, harmonics] tensor would be {per_tensor:.0f} MiB)")
    print(f"{'variant':<10} {'f0':<7} {'mode':<17} {'seconds':>8} {'peak MiB':>9}")
    variants = ["timbral"] + ([] if args.skip_textbook else ["textbook"])
    for variant in variants:
        for case in ("melody", "worst"):
            for mode in ("forward", "forward_autograd", "forward_backward"):
                repeats = args.repeats if variant == "timbral" else 1
                cmd = [sys.executable, __file__, "--child", "--variant", variant, "--case", case,
                       "--mode", mode, "--threads", str(args.threads), "--repeats", str(repeats)]
                result = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                                   text=True).stdout)
                print(f"{variant:<10} {case:<7} {mode:<17} {result['seconds']:8.3f} "
                      f"{result['peak_mib']:9.0f}", flush=True)


if __name__ == "__main__":
    main()
