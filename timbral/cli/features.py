"""`timbral features`: f0, confidence and loudness of an audio file."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import CommandError


def _features(args: argparse.Namespace) -> None:
    import numpy as np

    from ..audio import mono_message, read_audio
    from ..features import compute_audio_features
    from ..files import atomic_output, check_writable, refuse_existing

    # Every output is checked before any work: a long analysis must not end in a refusal.
    output = Path(args.output)
    if output.suffix.lower() != ".npz":
        raise CommandError(f"--output {output}: features are written as .npz; use a .npz name")
    plot = Path(args.plot) if args.plot else None
    if plot and plot.suffix.lower() != ".png":
        raise CommandError(f"--plot {plot}: pictures are written as PNG; use a .png name")
    refuse_existing(output, *filter(None, [plot]), overwrite=args.overwrite, inputs=[args.input])
    for path in filter(None, [output, plot]):
        check_writable(path)
    audio, sample_rate, channels = read_audio(args.input, args.sample_rate)
    start = time.perf_counter()
    features = compute_audio_features(audio, sample_rate, args.frame_rate, args.pitch_tracker,
                                      loudness_definition=args.loudness, progress=True)
    took = time.perf_counter() - start
    with atomic_output(output, args.overwrite) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{k: np.asarray(v) for k, v in features.items()})
    seconds = len(audio) / sample_rate
    if channels > 1:
        print(f"{args.input}: {mono_message(channels, 'analysed')}")
    print(f"{args.input}: {seconds:.1f} s -> {len(features['f0_hz'])} frames in {took:.2f} s "
          f"({features['pitch_tracker']}, real-time factor {took / seconds:.3f})")
    if features["sample_rate"] != sample_rate:
        print(f"analysed at {features['sample_rate']} Hz: {args.frame_rate:g} frames/s need a "
              f"whole number of samples per frame, which {sample_rate} Hz does not give")
    print(f"wrote {output}")
    if plot:
        from ..plots import plot_features

        plot_features(features, plot, title=f"{Path(args.input).name}", overwrite=args.overwrite)
        print(f"wrote {plot}")


def register(sub) -> None:
    from ..features import DEFAULT_FRAME_RATE, DEFAULT_TRACKER
    from ..features.pitch import TRACKERS

    feats = sub.add_parser("features", help="f0, confidence and loudness of an audio file",
                           description="Compute f0 (Hz), voicing confidence and A-weighted "
                                       "loudness (dB) of an audio file and write them as .npz "
                                       "(f0_hz, f0_confidence, loudness_db, frame_rate, "
                                       "sample_rate).")
    feats.add_argument("input", help="audio file (wav, flac, ogg, mp3, ...)")
    feats.add_argument("--output", required=True, help="output .npz file")
    feats.add_argument("--frame-rate", type=float, default=DEFAULT_FRAME_RATE,
                       help=f"frames per second (default {DEFAULT_FRAME_RATE})")
    feats.add_argument("--sample-rate", type=int, default=16000,
                       help="analyse at this rate in Hz (default 16000)")
    feats.add_argument("--pitch-tracker", default=None, choices=list(TRACKERS),
                       help=f"pitch tracker (default {DEFAULT_TRACKER})")
    feats.add_argument("--loudness", default="v2", choices=("v2", "v1"),
                       help="loudness definition (default v2; v1 for Magenta's 2021 models)")
    feats.add_argument("--plot", help="also draw the three curves into this .png")
    feats.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    feats.set_defaults(func=_features)
