"""Quality of the shipped instruments, measured anew (BENCHMARKS.md and the model cards).

    python benchmarks/zoo_quality.py [--models flute trumpet ...] [--workdir DIR]
    python benchmarks/zoo_quality.py --real-violin zoo-work/violin/dataset [--also FOLDER ...]
    python benchmarks/zoo_quality.py --transfer-only [--voice speech.wav]

For each SoundFont model: held-out renders of its own instrument (phrase seeds from
100000, never trained on; the same ones `timbral zoo build` evaluates), resynthesised
from their own features. With --real-violin (the dataset `timbral zoo build violin`
prepares): every violin model (and --also model folders, e.g. a full-band one) on the
held-out passages of the real recordings, the spectral loss computed at 16 kHz for
every model; SpectralLoss (mag + logmag), the output's f0 against the
input's (both measured with CREPE full) and the loudness L1 on note-on frames.
Then the transfer checks, output f0 (CREPE full) against the adjusted f0 on
note-on frames: a held-out trumpet phrase transferred (with auto-adjust) to
violin, flute and tenor sax, and the example clip (a clarinet phrase) to every
shipped model.
"""

from __future__ import annotations

import argparse
import tempfile

import torch

from timbral.audio import load_audio
from timbral.zoo import EXAMPLE_CLIP, load_model, shipped_models
from timbral.recipes.build import RECIPES, heldout_clips, heldout_passages, metric_cell
from timbral.recipes.evaluate import evaluate_resynthesis, evaluate_transfer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--workdir", default=None, help="where held-out renders go")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--transfer-only", action="store_true")
    parser.add_argument("--real-violin", help="prepared dataset of the real violin recordings")
    parser.add_argument("--also", nargs="*", default=[], help="more model folders to measure "
                                                               "on the real violin passages")
    parser.add_argument("--voice", help="a voice recording for the transfer check")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    workdir = args.workdir or tempfile.mkdtemp(prefix="timbral-zoo-")
    names = args.models or list(shipped_models())
    if args.real_violin:
        passages = heldout_passages(args.real_violin)
        minutes = sum(len(a) / sr for a, sr in passages) / 60
        print(f"real violin, {len(passages)} held-out passages ({minutes:.1f} min), each "
              f"model given them at its own rate:\n")
        print("| model | SpectralLoss (16 kHz) | f0 (cents, median) | loudness L1 (dB) | "
              "SpectralLoss (own rate) | energy above 8 kHz vs input |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name in [n for n in names if "violin" in n] + args.also:
            model = load_model(name)
            m = evaluate_resynthesis(model, heldout_passages(args.real_violin, model.sample_rate))
            native = (metric_cell(m, "spectral_loss_native", "{:.2f}") + " | "
                      + metric_cell(m, "high_band_db", "{:+.1f} dB"))
            print(f"| {name} | {m['spectral_loss']:.2f} | {m['f0_cents_median']:.1f} | "
                  f"{m['loudness_l1_db']:.2f} | {native} |", flush=True)
    if not args.transfer_only and not args.real_violin:
        print("| model | SpectralLoss | f0 (cents, median) | loudness L1 (dB) |")
        print("| --- | ---: | ---: | ---: |")
        for name in [n for n in names if not RECIPES.get(n) or RECIPES[n].instrument]:
            clips = [load_audio(p) for p in heldout_clips(name, workdir)]
            m = evaluate_resynthesis(load_model(name), clips)
            print(f"| {name} | {m['spectral_loss']:.2f} | {m['f0_cents_median']:.1f} | "
                  f"{m['loudness_l1_db']:.2f} |", flush=True)
    trumpet = [load_audio(p) for p in heldout_clips("trumpet", workdir)][:1]
    print("\n| trumpet phrase -> | output f0 vs adjusted f0 (cents, median) | octave shift |")
    print("| --- | ---: | ---: |")
    for name in ("violin", "flute", "tenor_sax"):
        m = evaluate_transfer(load_model(name), trumpet)
        print(f"| {name} | {m['f0_cents_median']:.1f} | {m['octave_shift']:+.0f} |", flush=True)
    if args.real_violin and not args.transfer_only:
        return
    if args.voice:
        voice = [load_audio(args.voice)]
        print(f"\n| {args.voice} -> | output f0 vs adjusted f0 (cents, median) | octave shift |")
        print("| --- | ---: | ---: |")
        for name in names:
            m = evaluate_transfer(load_model(name), voice)
            print(f"| {name} | {m['f0_cents_median']:.1f} | {m['octave_shift']:+.0f} |",
                  flush=True)
    clip = [load_audio(EXAMPLE_CLIP)]
    print(f"\n| {EXAMPLE_CLIP.name} -> | output f0 vs adjusted f0 (cents, median) | octave shift |")
    print("| --- | ---: | ---: |")
    for name in names:
        m = evaluate_transfer(load_model(name), clip)
        print(f"| {name} | {m['f0_cents_median']:.1f} | {m['octave_shift']:+.0f} |", flush=True)


if __name__ == "__main__":
    main()
