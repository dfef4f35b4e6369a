"""Speed of the multi-scale spectral loss and of loudness features.

SpectralLoss with Magenta's solo-instrument weights (mag 1 + logmag 1, FFT
sizes 2048..64), forward + backward on a batch of 16 x 4 s at 16 kHz, and
compute_loudness (v2) on 60 s of audio, on the CPU:

    python benchmarks/loss.py [--threads 2] [--repeats 5]

Prints the best of ``--repeats`` wall times after one warm-up run. For
reference, Magenta's TensorFlow versions on the same machine: its loss takes
0.37-0.45 s, its compute_loudness on 60 s 28 ms (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from timbral.losses import SpectralLoss
from timbral.spectral_ops import compute_loudness

BATCH, SECONDS, SR = 16, 4, 16000
LOUDNESS_SECONDS = 60


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def loss_step(loss: SpectralLoss, target: torch.Tensor, audio: torch.Tensor) -> None:
    audio.grad = None
    loss(target, audio).backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    generator = torch.Generator().manual_seed(0)
    target = torch.rand(BATCH, SECONDS * SR, generator=generator) * 2 - 1
    audio = (torch.rand(BATCH, SECONDS * SR, generator=generator) * 2 - 1).requires_grad_()
    loss = SpectralLoss(mag_weight=1.0, logmag_weight=1.0)
    seconds = best_time(lambda: loss_step(loss, target, audio), args.repeats)
    print(f"SpectralLoss(mag+logmag) forward+backward, {BATCH} x {SECONDS} s: "
          f"{seconds * 1e3:.0f} ms")

    long_audio = torch.rand(1, LOUDNESS_SECONDS * SR, generator=generator) * 2 - 1
    seconds = best_time(lambda: compute_loudness(long_audio), args.repeats)
    print(f"compute_loudness, {LOUDNESS_SECONDS} s: {seconds * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
