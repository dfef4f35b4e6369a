"""`timbral transcribe`: a (polyphonic) recording -> a MIDI file of its notes."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import CommandError


def _transcribe(args: argparse.Namespace) -> None:
    from ..audio import mono_message, read_audio
    from ..files import check_writable, refuse_existing
    from ..transcribe import transcribe, write_midi
    from ..transcribe.transcription import check_decoding

    check_decoding(args.onset_threshold, args.frame_threshold, args.min_note_length,
                   names=("--onset-threshold", "--frame-threshold", "--min-note-length"))
    output = Path(args.output)
    if output.suffix.lower() not in (".mid", ".midi"):
        raise CommandError(f"--output {output}: MIDI files are written as .mid; use a .mid name")
    if args.plot and Path(args.plot).suffix.lower() != ".png":
        raise CommandError(f"--plot {args.plot}: pictures are written as PNG; use a .png name")
    paths = [output] + ([Path(args.plot)] if args.plot else [])
    refuse_existing(*paths, overwrite=args.overwrite, inputs=[args.input])
    for path in paths:
        check_writable(path)
    start = time.perf_counter()
    audio, rate, channels = read_audio(args.input)
    try:
        result = transcribe(audio, rate, onset_threshold=args.onset_threshold,
                            frame_threshold=args.frame_threshold,
                            min_note_length=args.min_note_length,
                            without_onsets=args.without_onsets,
                            keep_partials=args.keep_partials)
    except ValueError as exc:
        raise ValueError(f"{args.input}: {exc}") from None
    if channels > 1:
        print(mono_message(channels, "transcribed"))
    if not result.notes:  # an empty file would only be refused by `timbral play`
        raise CommandError(f"{args.input}: no notes found in {result.duration:.1f} s (silence, "
                           f"or nothing heard as notes); nothing written. A lower "
                           f"--onset-threshold or --frame-threshold finds fainter notes")
    write_midi(result, output, overwrite=args.overwrite)
    print(f"{args.input}: {result.summary()} in {result.duration:.1f} s; wrote {output} in "
          f"{time.perf_counter() - start:.2f} s")
    if args.plot:
        from ..transcribe.plot import plot_transcription

        plot_transcription(result, args.plot, title=f"{Path(args.input).name}: "
                                                    f"{result.summary()}",
                           overwrite=args.overwrite)
        print(f"wrote {args.plot}")


def register(sub) -> None:
    from ..transcribe.notes import FRAME_THRESHOLD, MIN_NOTE_LENGTH, ONSET_THRESHOLD

    tr = sub.add_parser(
        "transcribe", help="write the notes of a recording (chords too) as a MIDI file",
        description="Polyphonic note transcription with Spotify's basic-pitch network (its "
                    "ONNX model from the basic-pitch package, run with onnxruntime): notes, "
                    "pitch bends and velocities from the recording's loudness, one voice per "
                    "MIDI channel. `timbral play OUT.mid --model NAME` plays the file; "
                    "`timbral transfer IN --model NAME --polyphonic` does both at once. See "
                    "docs/transcribe.md.")
    tr.add_argument("input", help="audio file (wav, flac, ogg, mp3, ...)")
    tr.add_argument("--output", required=True, help="MIDI file to write (.mid)")
    tr.add_argument("--plot", help="piano roll over the network's note posteriors (.png)")
    tr.add_argument("--onset-threshold", type=float, default=ONSET_THRESHOLD, metavar="P",
                    help=f"onset posterior (0..1) that starts a note (default "
                         f"{ONSET_THRESHOLD:g}; lower: more notes)")
    tr.add_argument("--frame-threshold", type=float, default=FRAME_THRESHOLD, metavar="P",
                    help=f"note posterior (0..1) that keeps a note sounding (default "
                         f"{FRAME_THRESHOLD:g})")
    tr.add_argument("--min-note-length", type=float, default=MIN_NOTE_LENGTH, metavar="S",
                    help=f"shorter notes are dropped (seconds, default {MIN_NOTE_LENGTH:g})")
    tr.add_argument("--without-onsets", action="store_true",
                    help="also find notes whose onset the network missed (basic-pitch's "
                         "'melodia trick'; more notes, more false ones on piano and guitar)")
    tr.add_argument("--keep-partials", action="store_true",
                    help="keep faint notes on a harmonic of a louder note in a recording "
                         "without chords (the network hears strong partials of a clarinet, "
                         "a saxophone or a trumpet as notes; they are left out by default)")
    tr.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    tr.set_defaults(func=_transcribe)
