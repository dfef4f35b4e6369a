"""Quality of the shipped instruments (issue 5's table), measured anew.

    python benchmarks/zoo_quality.py [--models violin flute ...] [--workdir DIR]
    python benchmarks/zoo_quality.py --transfer-only

For each model: held-out renders of its own instrument (phrase seeds from 100000,
never trained on; the same ones `timbral zoo build` evaluates), resynthesised from
their own features; SpectralLoss (mag + logmag), the output's f0 against the
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
from timbral.zoo.build import heldout_clips
from timbral.zoo.evaluate import evaluate_resynthesis, evaluate_transfer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--workdir", default=None, help="where held-out renders go")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--transfer-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    workdir = args.workdir or tempfile.mkdtemp(prefix="timbral-zoo-")
    names = args.models or list(shipped_models())
    if not args.transfer_only:
        print("| model | SpectralLoss | f0 (cents, median) | loudness L1 (dB) |")
        print("| --- | ---: | ---: | ---: |")
        for name in names:
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
    clip = [load_audio(EXAMPLE_CLIP)]
    print(f"\n| {EXAMPLE_CLIP.name} -> | output f0 vs adjusted f0 (cents, median) | octave shift |")
    print("| --- | ---: | ---: |")
    for name in names:
        m = evaluate_transfer(load_model(name), clip)
        print(f"| {name} | {m['f0_cents_median']:.1f} | {m['octave_shift']:+.0f} |", flush=True)


if __name__ == "__main__":
    main()
