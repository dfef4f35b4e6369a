"""`timbral play`: a MIDI file played by one or more models; and what `timbral live
--midi` runs (its options are the `live` command's, in stream.py)."""

from __future__ import annotations

import argparse
import time
from typing import Dict

from .common import CommandError, check_live_args

def _track_models(entries) -> Dict[int, str]:
    """``["3=flute", ...]`` -> ``{3: "flute"}``."""
    out = {}
    for entry in entries or ():
        track, sep, model = entry.partition("=")
        if not sep or not track.strip().isdigit() or not model.strip():
            raise CommandError(f"--track-model {entry}: expected TRACK=MODEL, e.g. 3=flute")
        out[int(track)] = model.strip()
    return out


def _play(args: argparse.Namespace) -> None:
    from ..audio import save_audio
    from ..midi import OVERRIDES, play_score, read_midi
    from ..midi.controls import READ_MIDI_KEYWORDS, from_args
    from ..transfer.files import check_outputs
    from ..validation import check_seed
    from ..zoo import load_model

    options = from_args(args)
    check_outputs(args.output, plot=args.plot, overwrite=args.overwrite, inputs=[args.score])
    names = _track_models(args.track_model)
    check_seed(args.seed)
    start = time.perf_counter()
    model = load_model(args.model)  # a wrong name is said before the file's tracks are
    loaded = {args.model: model}
    for name in names.values():
        if name not in loaded:
            loaded[name] = load_model(name)
    track_models = {track: loaded[name] for track, name in names.items()}
    score = read_midi(args.score, **{k: options[k] for k in READ_MIDI_KEYWORDS})
    for index, name, count in score.tracks:
        if count:
            print(f"track {index}{f' {name!r}' if name else ''}: {count} notes")
    overrides = {name: options[name] for name in OVERRIDES}
    result = play_score(score, model, track_models, legato=options["legato"],
                        overrides=overrides, seed=args.seed, progress=None)
    for message in result.messages:
        print(message)
    save_audio(args.output, result.audio, result.sample_rate, overwrite=args.overwrite)
    print(f"wrote {args.output} ({result.duration:.1f} s, {len(result.voices)} voice(s)) in "
          f"{time.perf_counter() - start:.1f} s")
    if args.plot:
        from ..midi.plot import plot_roll

        plot_roll(result, args.plot, overwrite=args.overwrite)
        print(f"wrote {args.plot}")


def live_midi(args: argparse.Namespace) -> None:
    """`timbral live --midi [PORT]`: a MIDI keyboard played through a model."""
    from ..midi.live import NoteEngine, midi_ports, play_live
    from ..stream.live import LiveAudioError
    from ..zoo import load_model

    try:
        if args.list_devices:
            ports = midi_ports()
            print("\n".join(f"MIDI input: {name}" for name in ports) or "no MIDI inputs found")
            return
        check_live_args(args, "flute")
        midi_ports()  # fails early, in one line, without MIDI
        model = load_model(args.model, device=args.device)
        engine = NoteEngine(model, args.block_size, voices=args.voices, seed=args.seed)
        for message in engine.messages:
            print(message)
        ms = 1000.0 / engine.sample_rate
        block = args.block_size
        print(f"model {model.name}: {engine.n_voices} voice(s), blocks of {block} samples "
              f"({block * ms:.1f} ms), frames every {engine.hop * ms:.1f} ms")
        reports = play_live(engine, args.midi or None, args.output_device, args.duration)
        opened = next(reports)
        print(f"playing (device latency out {opened.latency_out_ms:.1f} ms); Ctrl-C stops")
        for r in reports:
            if r.summary:
                print(f"compute per block: mean {r.summary['mean_ms']:.2f} ms, max "
                      f"{r.summary['max_ms']:.2f} ms of {r.summary['block_ms']:.1f} ms; "
                      f"underruns {r.problems}")
    except LiveAudioError as exc:
        raise CommandError(str(exc)) from None


def register(sub) -> None:
    from ..midi.controls import add_arguments as add_play_options

    pl = sub.add_parser(
        "play", help="play a MIDI file with a model (several voices, each model's phrasing)",
        description="Play a standard MIDI file: notes, velocity, pitch bend, CC7/CC11 and "
                    "tempo become f0 and loudness curves shaped by the model's expression "
                    "profile (expression.json: attack, release, vibrato, portamento, scoop, "
                    "loudness range), overlapping notes become separate voices, and each voice "
                    "goes through the model's synthesis. See docs/midi.md.")
    pl.add_argument("score", help="standard MIDI file (.mid)")
    pl.add_argument("--model", required=True,
                    help="shipped model name, model folder or zip: plays every track")
    pl.add_argument("--output", required=True, help="output audio file (.wav/.flac/.ogg/.mp3)")
    pl.add_argument("--track-model", action="append", metavar="TRACK=MODEL",
                    help="play a track with another model, e.g. 3=flute (repeatable)")
    # --track, --channel, --transpose, --tempo-scale, --legato and the expression
    # overrides: the one table the web app's MIDI options come from too.
    add_play_options(pl)
    pl.add_argument("--plot", help="piano roll under the output's f0 and loudness (.png)")
    pl.add_argument("--seed", type=int, default=0, help="noise seed")
    pl.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    pl.set_defaults(func=_play)
