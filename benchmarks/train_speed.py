"""Training speed of every model preset: optimiser steps per second on this machine.

    python benchmarks/train_speed.py [--threads 2] [--steps 20]

Each preset trains on random audio-shaped batches of its own example length
and batch size (synthetic features and targets: the speed does not depend on
the data), with the real loss, clipping and Adam step. Prints steps/s,
seconds of audio consumed per second, and the peak memory of a child process
per preset.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch


def measure(preset: str, steps: int, threads: int) -> dict:
    from timbral.losses import SpectralLoss
    from timbral.models import Autoencoder, preset_config

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    config = preset_config(preset)
    t = config["training"]
    model = Autoencoder(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=t["learning_rate"], eps=t["adam_eps"])
    loss_fn = SpectralLoss(**t["loss"])
    batch, n_frames = t["batch_size"], int(config["example_seconds"] * config["frame_rate"])
    time_axis = torch.arange(n_frames) / config["frame_rate"]
    f0 = 200 * 2 ** torch.sin(time_axis + torch.rand(batch, 1) * 6)
    ld = -30 + 20 * torch.sin(3 * time_axis + torch.rand(batch, 1) * 6)
    target = torch.randn(batch, n_frames * model.hop) * 0.1

    def step():
        loss = loss_fn(target, model({"f0_hz": f0, "loudness_db": ld})["audio"])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip_norm"])
        optimizer.step()

    for _ in range(3):  # warm-up
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    per_second = steps / (time.perf_counter() - start)
    return {"preset": preset, "parameters": model.n_parameters, "batch": batch,
            "example_seconds": config["example_seconds"], "steps_per_s": per_second,
            "audio_s_per_s": per_second * batch * config["example_seconds"],
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.steps, args.threads)))
        return
    from timbral.models import PRESETS

    print(f"{'preset':<10} {'params':>8} {'batch':>5} {'example':>7} {'steps/s':>8} "
          f"{'audio s/s':>9} {'peak MiB':>8}")
    for preset in PRESETS:
        steps = max(3, args.steps // 5) if preset == "solo" else args.steps
        out = subprocess.run([sys.executable, __file__, "--child", preset, "--steps", str(steps),
                              "--threads", str(args.threads)], capture_output=True, text=True,
                             check=True)
        r = json.loads(out.stdout)
        print(f"{r['preset']:<10} {r['parameters'] / 1e6:>7.2f}M {r['batch']:>5} "
              f"{r['example_seconds']:>6.1f}s {r['steps_per_s']:>8.2f} "
              f"{r['audio_s_per_s']:>9.1f} {r['peak_mib']:>8.0f}")


if __name__ == "__main__":
    main()
