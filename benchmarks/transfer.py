"""End-to-end timbre transfer time for a 10 s clip, split by stage (target: <= 1.0 s).

    python benchmarks/transfer.py [--model violin] [--threads 2] [--repeats 3]
    python benchmarks/transfer.py --long-minutes 10     # peak memory of a 10-minute input

The model is loaded once (as a server or a batch job would); then, best of N:
decode (reading the example clip), features (default tracker, then CREPE full),
adjust, synthesis, encode (writing a wav). The long-input mode transfers a
generated 10-minute performance in a child process and prints its peak RSS
(target: <= 2 GB).
"""

from __future__ import annotations

import argparse
import io
import resource
import subprocess
import sys
import time

import numpy as np
import soundfile as sf
import torch


def stages(model, audio_path, tracker, repeats: int) -> dict:
    from timbral.audio import load_audio
    from timbral.transfer import transfer

    best: dict = {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        audio, rate = load_audio(audio_path)
        decode = time.perf_counter() - t0
        result = transfer(audio, rate, model, pitch_tracker=tracker)
        t0 = time.perf_counter()
        buffer = io.BytesIO()
        sf.write(buffer, result.audio, result.sample_rate, format="WAV", subtype="PCM_16")
        encode = time.perf_counter() - t0
        times = {"decode": decode, **{k: v for k, v in result.timings.items()
                                      if k != "model_load"}, "encode": encode}
        times["total"] = sum(times.values())
        if not best or times["total"] < best["total"]:
            best = times
    return best


def long_input(model_name: str, minutes: float) -> None:
    from timbral.transfer import transfer
    from timbral.zoo import EXAMPLE_CLIP, load_model

    model = load_model(model_name)
    clip, rate = sf.read(EXAMPLE_CLIP, dtype="float32")
    audio = np.tile(clip, int(np.ceil(minutes * 60 * rate / len(clip))))[:int(minutes * 60 * rate)]
    t0 = time.perf_counter()
    result = transfer(audio, rate, model)
    took = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{minutes:g} min input: output {len(result.audio) / result.sample_rate / 60:.2f} min, "
          f"{took:.1f} s, peak memory {peak:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="violin_soundfont")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long-minutes", type=float)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.long_minutes and args.child:
        long_input(args.model, args.long_minutes)
        return
    if args.long_minutes:
        subprocess.run([sys.executable, __file__, "--child", "--model", args.model,
                        "--long-minutes", str(args.long_minutes), "--threads",
                        str(args.threads)], check=True)
        return
    from timbral.features import DEFAULT_TRACKER
    from timbral.zoo import EXAMPLE_CLIP, load_model

    t0 = time.perf_counter()
    model = load_model(args.model)
    print(f"model {args.model}: loaded in {time.perf_counter() - t0:.2f} s; clip "
          f"{EXAMPLE_CLIP.name} ({sf.info(EXAMPLE_CLIP).duration:.1f} s), {args.threads} threads")
    print(f"{'tracker':<20} {'decode':>7} {'features':>8} {'adjust':>7} {'synth':>7} "
          f"{'encode':>7} {'total':>7}")
    for tracker, repeats in ((DEFAULT_TRACKER, args.repeats), ("crepe-full", 1)):
        t = stages(model, EXAMPLE_CLIP, tracker, repeats)
        print(f"{tracker:<20} {t['decode']:>7.3f} {t['features']:>8.3f} {t['adjust']:>7.3f} "
              f"{t['synthesis']:>7.3f} {t['encode']:>7.3f} {t['total']:>7.3f}")


if __name__ == "__main__":
    main()
