"""`timbral demo`: timbre transfer of the shipped example clip (or, with --synth, a melody
rendered by a hand-wired synth graph)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import CommandError


def _demo(args: argparse.Namespace) -> None:
    if not args.synth:
        _transfer_demo(args)
        return
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


def _transfer_demo(args: argparse.Namespace) -> None:
    from ..files import refuse_existing
    from ..transfer.files import transfer_file
    from ..zoo import EXAMPLE_CLIP, load_model

    out = Path(args.output)
    stem = f"{EXAMPLE_CLIP.stem}_to_{args.model}"
    wav, png, adjust_png = out / f"{stem}.wav", out / f"{stem}.png", out / f"{stem}_adjust.png"
    refuse_existing(wav, png, adjust_png, overwrite=args.overwrite)
    start = time.perf_counter()
    model = load_model(args.model)
    loaded = time.perf_counter() - start
    done = transfer_file(
        EXAMPLE_CLIP, model, wav, plot=adjust_png, spectrogram=png, overwrite=args.overwrite,
        spectrogram_titles=(f"input: {EXAMPLE_CLIP.name} (a rendered clarinet phrase)",
                            f"output: the {args.model} model"))
    for message in done.result.messages:
        print(message)
    t = done.timings
    took = loaded + t["model load"] + t["features"] + t["adjust"] + t["synthesis"]
    print(f"transferred {done.seconds:.1f} s to {args.model} in {took:.2f} s (model load "
          f"{loaded:.2f} s, features {t['features']:.2f} s, synthesis "
          f"{t['synthesis']:.2f} s)")
    for path in (wav, png, adjust_png):
        print(f"wrote {path}")


def register(sub) -> None:
    demo = sub.add_parser(
        "demo", help="timbre transfer of the shipped example clip (wav + png)",
        description="Play the shipped example clip (a clarinet phrase) with a shipped model; "
                    "writes <clip>_to_<model>.wav, a spectrogram picture and the auto-adjust "
                    "plots into --output. With --synth, render a melody from hand-written "
                    "controls through Harmonic + FilteredNoise + Reverb instead (melody.wav, "
                    "melody.png).")
    demo.add_argument("--output", default="out", help="output folder (default: out)")
    demo.add_argument("--model", default="violin", help="shipped model (default: violin)")
    demo.add_argument("--synth", action="store_true",
                      help="render the synth-graph demo instead (no model needed)")
    demo.add_argument("--sample-rate", type=int, default=16000, help="Hz (default 16000)")
    demo.add_argument("--frame-rate", type=int, default=250,
                      help="control frames per second; must divide the sample rate")
    demo.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    demo.set_defaults(func=_demo)
