"""`timbral transfer`: recordings in, the same performances on another instrument out."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from .common import (CommandError, add_device_option, add_transfer_controls, check_device,
                     transfer_controls)

OUTPUT_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def _output_names(inputs: Sequence[Path]) -> List[str]:
    """Each input's output name in a folder (no extension): its stem; inputs that
    share one get their extension too (``x.mp3``, ``x.wav`` -> ``x_mp3``, ``x_wav``)
    and a number while that still clashes (two folders' ``x.wav``: ``x_wav``,
    ``x_wav_2``). Compared without case, as some file systems do."""
    stems: dict = {}
    for path in inputs:
        stems[path.stem.lower()] = stems.get(path.stem.lower(), 0) + 1
    taken, names = set(), []
    for path in inputs:
        base = path.stem if stems[path.stem.lower()] == 1 else f"{path.stem}_{path.suffix[1:]}"
        name, k = base, 1
        while name.lower() in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name.lower())
        names.append(name)
    return names


def _pairs(args: argparse.Namespace) -> List[Tuple[Path, Path]]:
    """(input, output) for every file to transfer."""
    from ..audio import find_audio_files

    output = Path(args.output)
    folder = args.output.endswith(("/", os.sep)) or output.is_dir()
    # an output folder inside an input folder: its earlier outputs are not inputs
    inputs = find_audio_files(args.inputs, exclude=output if folder else None)
    if not inputs:
        raise CommandError(f"no audio files found in {', '.join(args.inputs)}")
    if not folder and output.suffix:
        if output.suffix.lower() not in OUTPUT_SUFFIXES:
            raise CommandError(f"--output {output}: {output.suffix} is not an audio format "
                               f"timbral writes ({', '.join(OUTPUT_SUFFIXES)}); to name a "
                               f"folder, end it with /")
        if not (len(args.inputs) == 1 and Path(args.inputs[0]).is_file()):
            raise CommandError(f"--output {output}: several inputs need an output folder, not "
                               f"a file name")
        return [(inputs[0], output)]
    return [(path, output / f"{name}.wav") for path, name in zip(inputs, _output_names(inputs))]


def _pictures(args: argparse.Namespace, out: Path, many: bool
              ) -> Tuple[Optional[Path], Optional[Path]]:
    """The (plot, spectrogram) pictures written with ``out``."""
    if many or args.plots:
        return ((out.with_suffix(".png"), out.with_suffix(".spectrogram.png")) if args.plots
                else (None, None))
    return (Path(args.plot) if args.plot else None,
            Path(args.spectrogram) if args.spectrogram else None)


def _check(args: argparse.Namespace, pairs: List[Tuple[Path, Path]], many: bool) -> None:
    """Every output, before any work: writable, not existing (unless --overwrite),
    never one of the inputs, never one name twice."""
    from ..audio import check_sample_rate
    from ..files import refuse_existing
    from ..transfer.files import check_mix, check_outputs

    if args.jobs < 1:
        raise CommandError(f"--jobs {args.jobs}: expected 1 or more files at once")
    check_mix(args.mix, "--mix")
    if args.sample_rate is not None:
        check_sample_rate(args.sample_rate, "--sample-rate")
    if many and (args.plot or args.spectrogram):
        raise CommandError("--plot and --spectrogram take one input; for several, --plots "
                           "writes <name>.png and <name>.spectrogram.png beside each output")
    if args.plots and (args.plot or args.spectrogram):
        raise CommandError("--plots writes the pictures beside the output; --plot and "
                           "--spectrogram name them: give one or the other")
    check_device(args.device)
    outputs = [path for _, out in pairs for path in (out, *filter(None, _pictures(args, out,
                                                                                   many)))]
    written = set()
    for path in outputs:
        if path.resolve() in written:
            raise CommandError(f"{path}: named for two outputs; give each its own name")
        written.add(path.resolve())
    # every output against every input in one call: a set lookup each
    refuse_existing(*outputs, overwrite=True, inputs=[source for source, _ in pairs])
    for _, out in pairs:
        check_outputs(out, *_pictures(args, out, many), overwrite=args.overwrite,
                      sample_rate=args.sample_rate)


def _report(done, many: bool) -> None:
    name = str(done.input_path) if many else done.input_path.name  # sub/a.wav is not a.wav
    for message in done.result.messages:
        print(f"{name}: {message}")
    t = done.timings
    print(f"{name}: {done.seconds:.1f} s -> {done.output_path} (mono, {done.sample_rate} Hz; "
          f"decode {t['decode']:.2f} s, features {t['features']:.2f} s, adjust "
          f"{t['adjust']:.3f} s, synthesis {t['synthesis']:.2f} s, encode {t['encode']:.2f} s)")


class _Stopped(Exception):
    """A file computed after Ctrl-C: it is not written."""


def _each(pairs, results, bar, failed: list, many: bool) -> None:
    """Report each file's result as it comes, in order; ``failed`` gets the bad ones."""
    for (source, _), done in zip(pairs, results):
        with bar.external_write_mode():  # lines above the bar, not through it
            if isinstance(done, ValueError):
                reason = str(done)  # it names the file unless about something else
                if not reason.startswith(str(source)):
                    reason = f"{source}: {reason}"
                warnings.warn(f"skipped {reason}")
                failed.append(source)
            else:
                _report(done, many)
        bar.update()


def _transfer(args: argparse.Namespace) -> None:
    from ..features.pitch import get_pitch_tracker
    from ..transfer.files import transfer_file
    from ..zoo import load_model

    pairs = _pairs(args)
    many = len(pairs) > 1
    _check(args, pairs, many)
    controls = transfer_controls(args)
    start = time.perf_counter()
    model = load_model(args.model, loudness_definition=args.loudness, device=args.device)
    tracker = get_pitch_tracker(args.pitch_tracker, args.device)  # built once, not per thread
    from ..transcribe import PolyphonicTransfer

    run = PolyphonicTransfer(args.polyphonic or "hint")
    print(f"model {model.name}: loaded in {time.perf_counter() - start:.2f} s")

    stop = threading.Event()  # set on Ctrl-C: files still being computed write nothing
    written = []

    def computed(*call, **kwargs):
        result = run(*call, **kwargs)
        if stop.is_set():
            raise _Stopped
        return result

    def one(pair):
        source, out = pair
        plot, spectrogram = _pictures(args, out, many)
        try:
            done = transfer_file(source, model, out, controls, plot=plot,
                                 spectrogram=spectrogram, overwrite=args.overwrite,
                                 pitch_tracker=tracker, sample_rate=args.sample_rate,
                                 mix=args.mix, progress=not many, run=computed)
        except ValueError as exc:
            if not many:
                raise
            return exc  # this file is bad; the others go on
        written.append(out)
        return done

    from tqdm.auto import tqdm

    def results():
        """Each pair's result, in order; one job at a time runs here, in this thread,
        so Ctrl-C stops it at once (a worker thread would finish and write its file)."""
        workers = min(args.jobs, len(pairs))
        if workers == 1:
            yield from map(one, pairs)
            return
        with ThreadPoolExecutor(workers) as pool:
            jobs = [pool.submit(one, pair) for pair in pairs]
            try:
                for job in jobs:
                    yield job.result()
            # Ctrl-C, a full disk, or the reader stopping early (its close() raises
            # GeneratorExit here; after the last file, too, when nothing is left to stop)
            except BaseException:
                stop.set()
                running = sum(not job.cancel() and not job.done() for job in jobs)
                if running:  # they cannot be cut short: say why it takes a moment
                    tqdm.write(f"stopping once the {running} file(s) being computed are done "
                               f"(outputs not already being written are dropped)", file=sys.stderr)
                raise

    failed = []
    bar = tqdm(total=len(pairs), unit="file", desc="transfer", disable=not many)
    each = results()
    try:
        try:
            with bar:
                _each(pairs, each, bar, failed, many)
        finally:
            each.close()  # stops the pool and waits for its running jobs (they write nothing)
    except KeyboardInterrupt:
        if not many:
            raise
        raise KeyboardInterrupt(f"{len(written)} of {len(pairs)} output(s) were written; "
                                f"the others were not") from None
    for path in (args.plot, args.spectrogram):
        if path:
            print(f"wrote {path}")
    if failed:
        raise CommandError(f"{len(failed)} of {len(pairs)} file(s) failed (see the warnings "
                           f"above): {', '.join(str(p) for p in failed)}")


def register(sub) -> None:
    from ..features import DEFAULT_TRACKER
    from ..features.pitch import TRACKERS

    tr = sub.add_parser(
        "transfer", help="play recordings with another instrument (timbre transfer)",
        description="Timbre transfer: extract f0 and loudness from each input, auto-adjust "
                    "them to the model's training data, apply manual shifts, and resynthesise "
                    "with the model. One input -> one output file; several inputs or a "
                    "folder -> an output folder of .wav files (a file that cannot be "
                    "transferred is skipped with a warning, and the run fails at the end). "
                    "The output is mono: a stereo input's mid channel is transferred.")
    tr.add_argument("inputs", nargs="+", help="audio files or folders (wav, flac, ogg, mp3, ...)")
    tr.add_argument("--model", required=True,
                    help="shipped model name, model folder, model zip or Magenta folder")
    tr.add_argument("--output", required=True,
                    help="output file (.wav 16-bit, .flac, .ogg, .mp3) or folder (an existing "
                         "one, a name without extension, or any name ending in /)")
    add_transfer_controls(tr)
    tr.add_argument("--pitch-tracker", choices=list(TRACKERS), default=None,
                    help=f"f0 tracker (default {DEFAULT_TRACKER})")
    tr.add_argument("--loudness", choices=("v1", "v2"), default=None,
                    help="override the model's loudness definition")
    tr.add_argument("--sample-rate", type=int, default=None, metavar="HZ",
                    help="sample rate of the written audio (default: the model's, "
                         "usually 16000)")
    tr.add_argument("--mix", type=float, default=1.0, metavar="SHARE",
                    help="share of the model's output in the written audio, from 0 to 1; "
                         "the rest is the original recording (default 1: the model only)")
    add_device_option(tr, "the pitch tracker and the synthesis run")
    tr.add_argument("--polyphonic", nargs="?", const="auto", choices=("auto", "always"),
                    default=None,
                    help="chords too: transcribe the notes (basic-pitch) and play them as "
                         "`timbral play` does, each note as loud as in the recording. 'auto' "
                         "(the default of --polyphonic) keeps the pitch tracker for a "
                         "recording without chords; 'always' plays the notes whatever they are. "
                         "Takes --no-adjust, --pitch-shift, --semitones and --loudness-shift "
                         "(see docs/transcribe.md)")
    tr.add_argument("--plot", help="one input: draw notes, loudness and f0 into this .png")
    tr.add_argument("--spectrogram", help="one input: input/output spectrograms into this .png")
    tr.add_argument("--plots", action="store_true",
                    help="write both pictures beside each output (<name>.png, "
                         "<name>.spectrogram.png)")
    tr.add_argument("--jobs", type=int, default=2, help="files processed at once (default 2)")
    tr.add_argument("--overwrite", action="store_true",
                    help="replace existing outputs (never an input file)")
    tr.set_defaults(func=_transfer)
