"""`timbral transfer`: recordings in, the same performances on another instrument out."""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Tuple

from .common import CommandError, add_transfer_controls, transfer_controls

OUTPUT_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def _pairs(args: argparse.Namespace) -> List[Tuple[Path, Path]]:
    """(input, output) for every file to transfer."""
    from ..audio import find_audio_files

    inputs = find_audio_files(args.inputs)
    if not inputs:
        raise CommandError(f"no audio files found in {', '.join(args.inputs)}")
    output = Path(args.output)
    single = len(args.inputs) == 1 and Path(args.inputs[0]).is_file()
    if single and output.suffix.lower() in OUTPUT_SUFFIXES:
        return [(inputs[0], output)]
    if output.suffix.lower() in OUTPUT_SUFFIXES:
        raise CommandError(f"--output {output}: several inputs need an output folder, not a "
                           f"file name")
    return [(path, output / f"{path.stem}.wav") for path in inputs]


def _transfer(args: argparse.Namespace) -> None:
    from ..audio import load_audio, save_audio
    from ..files import refuse_existing
    from ..plots import plot_spectrograms, plot_transfer
    from ..transfer import transfer
    from ..zoo import load_model

    pairs = _pairs(args)
    many = len(pairs) > 1
    if many and (args.plot or args.spectrogram):
        raise CommandError("--plot and --spectrogram take one input; for several, --plots "
                           "writes <name>.png and <name>.spectrogram.png beside each output")
    pictures = []
    for _, out in pairs:
        if many and args.plots:
            pictures += [out.with_suffix(".png"), out.with_suffix(".spectrogram.png")]
    if args.plot:
        pictures.append(Path(args.plot))
    if args.spectrogram:
        pictures.append(Path(args.spectrogram))
    refuse_existing(*[out for _, out in pairs], *pictures, overwrite=args.overwrite)
    for _, out in pairs:  # fail before any work if an output cannot be written
        parent = out.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not _writable(parent):
            raise CommandError(f"--output {out}: cannot write into {parent}")

    start = time.perf_counter()
    model = load_model(args.model, loudness_definition=args.loudness)
    print(f"model {model.name}: loaded in {time.perf_counter() - start:.2f} s")
    options = dict(transfer_controls(args), pitch_tracker=args.pitch_tracker)

    def one(pair):
        source, out = pair
        t0 = time.perf_counter()
        audio, rate = load_audio(source)
        decode = time.perf_counter() - t0
        result = transfer(audio, rate, model, **options)
        t0 = time.perf_counter()
        save_audio(out, result.audio, result.sample_rate, overwrite=args.overwrite)
        encode = time.perf_counter() - t0
        plot = args.plot or (out.with_suffix(".png") if many and args.plots else None)
        spec = args.spectrogram or (out.with_suffix(".spectrogram.png")
                                    if many and args.plots else None)
        if plot:
            plot_transfer(result, plot, title=f"{source.name} -> {model.name}",
                          overwrite=args.overwrite)
        if spec:
            plot_spectrograms(audio, rate, result.audio, result.sample_rate, spec,
                              titles=(source.name, f"{model.name}"), overwrite=args.overwrite)
        return source, out, result, decode, encode

    from tqdm.auto import tqdm

    workers = min(args.jobs, len(pairs))
    with ThreadPoolExecutor(workers) as pool:
        jobs = pool.map(one, pairs)
        for source, out, result, decode, encode in tqdm(jobs, total=len(pairs), unit="file",
                                                        desc="transfer", disable=not many):
            for message in result.messages:
                print(f"{source.name}: {message}")
            t = result.timings
            seconds = len(result.audio) / result.sample_rate
            print(f"{source.name}: {seconds:.1f} s -> {out} (decode {decode:.2f} s, features "
                  f"{t['features']:.2f} s, adjust {t['adjust']:.3f} s, synthesis "
                  f"{t['synthesis']:.2f} s, encode {encode:.2f} s)")
    for path in (args.plot, args.spectrogram):
        if path:
            print(f"wrote {path}")


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def register(sub) -> None:
    from ..features import DEFAULT_TRACKER
    from ..features.pitch import TRACKERS

    tr = sub.add_parser(
        "transfer", help="play recordings with another instrument (timbre transfer)",
        description="Timbre transfer: extract f0 and loudness from each input, auto-adjust "
                    "them to the model's training data, apply manual shifts, and resynthesise "
                    "with the model. One input -> one output file; several inputs or a "
                    "folder -> an output folder of .wav files.")
    tr.add_argument("inputs", nargs="+", help="audio files or folders (wav, flac, ogg, mp3, ...)")
    tr.add_argument("--model", required=True,
                    help="shipped model name, model folder, model zip or Magenta folder")
    tr.add_argument("--output", required=True, help="output file (.wav/.flac/.ogg/.mp3) or folder")
    add_transfer_controls(tr)
    tr.add_argument("--pitch-tracker", choices=list(TRACKERS), default=None,
                    help=f"f0 tracker (default {DEFAULT_TRACKER})")
    tr.add_argument("--loudness", choices=("v1", "v2"), default=None,
                    help="override the model's loudness definition")
    tr.add_argument("--plot", help="one input: draw notes, loudness and f0 into this .png")
    tr.add_argument("--spectrogram", help="one input: input/output spectrograms into this .png")
    tr.add_argument("--plots", action="store_true",
                    help="several inputs: write both pictures beside each output")
    tr.add_argument("--jobs", type=int, default=2, help="files processed at once (default 2)")
    tr.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    tr.set_defaults(func=_transfer)
