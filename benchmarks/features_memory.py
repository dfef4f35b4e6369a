"""Peak memory of compute_audio_features against input length (chunked analysis).

For each length, a child process computes the features of a harmonic test
signal with the default tracker and reports its peak RSS increase; memory
should level off (bounded by the chunk), not grow with the length, let alone
its square:

    python benchmarks/features_memory.py [--minutes 1 5 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def child(minutes: float) -> None:
    import numpy as np

    from timbral.features import compute_audio_features
    from timbral.features.pitch.synthetic import make_signal

    sr = 16000
    piece = make_signal("vibrato", seconds=20.0, seed=0).audio
    audio = np.tile(piece, int(np.ceil(minutes * 60 / 20.0)))[: int(minutes * 60 * sr)]
    compute_audio_features(audio[:sr], sr)  # load the tracker before measuring
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    features = compute_audio_features(audio, sr)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(json.dumps({"frames": len(features["f0_hz"]), "seconds": seconds,
                      "peak_mib": peak / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0, 10.0])
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    print(f"{'minutes':>8} {'frames':>8} {'seconds':>8} {'RTF':>6} {'peak MiB':>9}")
    for minutes in args.minutes:
        out = subprocess.run([sys.executable, __file__, "--child", str(minutes)], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{minutes:8g} {r['frames']:8d} {r['seconds']:8.1f} "
              f"{r['seconds'] / (minutes * 60):6.3f} {r['peak_mib']:9.0f}", flush=True)


if __name__ == "__main__":
    main()
