"""`timbral demo`: render a melody with a hand-wired synth graph."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import CommandError


def _demo(args: argparse.Namespace) -> None:
    from ..audio import save_audio
    from ..files import refuse_existing
    from ..demo import render_melody
    from ..plots import plot_synthesis

    if args.sample_rate < 8000 or args.sample_rate > 192000:
        raise CommandError(f"--sample-rate {args.sample_rate}: expected 8000 to 192000 Hz")
    if args.frame_rate < 1 or args.sample_rate % args.frame_rate:
        raise CommandError(f"--frame-rate {args.frame_rate}: must be a positive divisor of the "
                           f"sample rate {args.sample_rate}")
    out = Path(args.output)
    wav, png = out / "melody.wav", out / "melody.png"
    refuse_existing(wav, png, overwrite=args.overwrite)
    start = time.perf_counter()
    audio, controls = render_melody(args.sample_rate, args.frame_rate)
    took = time.perf_counter() - start
    save_audio(wav, audio, args.sample_rate, overwrite=args.overwrite)
    plot_synthesis(audio, args.sample_rate, controls, png, args.frame_rate,
                   title="timbral demo: Harmonic + FilteredNoise + Reverb",
                   overwrite=args.overwrite)
    seconds = audio.shape[-1] / args.sample_rate
    print(f"synthesised {seconds:.1f} s of audio in {took:.2f} s")
    print(f"wrote {wav}")
    print(f"wrote {png}")


def register(sub) -> None:
    demo = sub.add_parser("demo", help="render a melody with a DDSP synth graph (wav + png)",
                          description="Render a melody with Harmonic + FilteredNoise + Reverb "
                                      "from hand-written controls; writes melody.wav and "
                                      "melody.png into --output.")
    demo.add_argument("--output", default="out", help="output folder (default: out)")
    demo.add_argument("--sample-rate", type=int, default=16000, help="Hz (default 16000)")
    demo.add_argument("--frame-rate", type=int, default=250,
                      help="control frames per second; must divide the sample rate")
    demo.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    demo.set_defaults(func=_demo)
