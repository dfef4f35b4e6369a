"""Side-by-side speed of this tree against another commit, on the same machine in one run.

    .venv/bin/python benchmarks/ab.py --base HEAD~3 [--rounds 5] [--threads 1]

Extracts ``--base`` (``git archive``) into a temporary folder and times the same
workloads, through public names both versions have, in child processes that
alternate between the two trees round after round, so drift of a shared machine
hits both alike. Prints each workload's median seconds per tree and the ratio
(this tree / base; below 1 is faster).

Workloads: the synths (harmonic + filtered noise, forward and backward, a batch of
4 examples of 4 s), the multi-scale spectral loss (forward and backward), offline
rendering of 10 s of features with the shipped flute (a model both trees ship), timbre
transfer of the example clip with it, and one streamed frame of ``violin_realtime``
(onnxruntime step).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
import timbral
from timbral import losses, synths
from timbral.models.rendering import render
from timbral.stream import StreamSynth
from timbral.zoo import EXAMPLE_CLIP, load_model

def best(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return float(np.median(times))

out = {}
torch.manual_seed(0)
harmonic, noise = synths.Harmonic(64000, 16000), synths.FilteredNoise(64000, crossfade=True)
amps = torch.randn(4, 1000, 1, requires_grad=True)
dist = torch.randn(4, 1000, 60, requires_grad=True)
mags = torch.randn(4, 1000, 65, requires_grad=True)
f0 = torch.full((4, 1000, 1), 220.0)
def synth():
    (harmonic(amps, dist, f0) + noise(mags)).square().mean().backward()
out["synths fwd+bwd"] = best(synth, 5)
loss_fn = losses.SpectralLoss(loudness_weight=0.0)
a, b = torch.randn(4, 64000), torch.randn(4, 64000, requires_grad=True)
out["spectral loss fwd+bwd"] = best(lambda: loss_fn(a, b).backward(), 5)
flute = load_model("flute")
t = np.arange(1000) / 100.0
f0_curve = (330 * 2 ** (0.2 * np.sin(2 * t))).astype(np.float32)
ld_curve = (-30 + 10 * np.sin(1.3 * t)).astype(np.float32)
out["render 10 s"] = best(lambda: render(flute, f0_curve, ld_curve), 3)
clip, sr = timbral.load_audio(EXAMPLE_CLIP)
out["transfer example clip"] = best(lambda: timbral.transfer(clip, sr, flute), 3)
stream = StreamSynth(load_model("violin_realtime"), backend="onnxruntime")
one_f0, one_ld = np.float32([220.0]), np.float32([-30.0])
def frames():
    for _ in range(200):
        stream.process(one_f0, one_ld)
out["stream frame (x200)"] = best(frames, 3)
print("RESULT " + json.dumps(out))
"""


def run(tree: Path, threads: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(threads)], env=env, cwd=tree,
                          capture_output=True, text=True)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode or line is None:
        sys.exit(f"ab.py: the workloads failed in {tree}:\n{proc.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=5, help="alternations (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    if args.rounds < 1 or args.threads < 1:
        sys.exit("ab.py: --rounds and --threads must be at least 1")
    archive = subprocess.run(["git", "archive", args.base], cwd=ROOT, capture_output=True)
    if archive.returncode:
        sys.exit(f"ab.py: cannot read commit {args.base!r}: {archive.stderr.decode().strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        trees = {"base": Path(tmp), "this": ROOT}
        results = {name: [] for name in trees}
        for r in range(args.rounds):
            for name in (("base", "this") if r % 2 == 0 else ("this", "base")):
                results[name].append(run(trees[name], args.threads))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    commit = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    print(f"median seconds over {args.rounds} alternating rounds, {args.threads} thread(s); "
          f"base = {args.base} ({commit}), this = the working tree")
    print(f"{'workload':26s} {'base':>9s} {'this':>9s} {'this/base':>9s}")
    for key in results["base"][0]:
        old = statistics.median(r[key] for r in results["base"])
        new = statistics.median(r[key] for r in results["this"])
        print(f"{key:26s} {old:9.4f} {new:9.4f} {new / old:9.3f}")


if __name__ == "__main__":
    main()
