"""Shared pieces of the command line."""

from __future__ import annotations


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def add_transfer_controls(parser) -> None:
    """The notebook's controls, shared by `transfer`, `stream` and `live`."""
    parser.add_argument("--no-adjust", action="store_true", help="turn auto-adjust off")
    parser.add_argument("--threshold", type=float, default=1.0,
                        help="note detection threshold (0..2, default 1)")
    parser.add_argument("--quiet", type=float, default=20.0,
                        help="dB to lower the loudness of non-notes (0..60, default 20)")
    parser.add_argument("--autotune", type=float, default=0.0,
                        help="pull f0 toward the inferred major scale (0..1, default 0)")
    parser.add_argument("--pitch-shift", type=float, default=0.0, metavar="OCTAVES",
                        help="shift f0 by octaves after auto-adjust (-2..2)")
    parser.add_argument("--semitones", type=float, default=0.0,
                        help="and by semitones (-24..24)")
    parser.add_argument("--loudness-shift", type=float, default=0.0, metavar="DB",
                        help="add dB to the loudness after auto-adjust (-20..20)")


def transfer_controls(args) -> dict:
    """The keyword arguments of :func:`timbral.transfer.transfer` those options give."""
    return dict(adjust=not args.no_adjust, threshold=args.threshold, quiet=args.quiet,
                autotune=args.autotune, pitch_shift=args.pitch_shift,
                semitones=args.semitones, loudness_shift=args.loudness_shift)
