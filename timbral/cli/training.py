"""`timbral render`, `timbral prepare`, `timbral train`: from recordings to a model."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def _render(args: argparse.Namespace) -> None:
    from ..data.corpus import render_corpus

    paths = render_corpus(args.instrument, args.minutes, args.output, seed=args.seed,
                          clip_seconds=args.clip_seconds, soundfont=args.soundfont)
    print(f"{len(paths)} clip(s) of {args.instrument} in {args.output}")


def _shard(text: str):
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N (e.g. 0/4), got {text!r}") from None
    return k, n


def _prepare(args: argparse.Namespace) -> None:
    from ..data.dataset import prepare_dataset

    try:
        manifest = prepare_dataset(args.inputs, args.output, sample_rate=args.sample_rate,
                                   frame_rate=args.frame_rate,
                                   pitch_tracker=args.pitch_tracker,
                                   loudness_definition=args.loudness,
                                   validation_fraction=args.validation_fraction,
                                   min_seconds=args.min_seconds, workers=args.workers,
                                   shard=args.shard, validation_files=args.validation_files)
    except KeyboardInterrupt:
        raise KeyboardInterrupt("the files prepared so far are kept; the same command goes on "
                                "from them") from None
    # the skipped files were each named in a warning as they were found
    skipped = f", {len(manifest['skipped'])} skipped" if manifest["skipped"] else ""
    reused = f", {manifest['reused']} of them prepared before" if manifest["reused"] else ""
    if args.shard:
        print(f"shard {args.shard[0]}/{args.shard[1]}: {len(manifest['files'])} file(s) done"
              f"{reused}{skipped}; run once more without --shard to write the manifest")
    else:
        print(f"{args.output}: {len(manifest['files'])} file(s){reused}{skipped}, "
              f"{manifest['seconds'] / 60:.1f} min of audio")


def _train(args: argparse.Namespace) -> None:
    from ..train import TrainingInterrupted, train

    try:
        result = train(args.dataset, args.output, preset=args.preset, reverb=args.reverb,
                       steps=args.steps,
                       batch_size=args.batch_size, learning_rate=args.learning_rate,
                       resume=args.resume, seed=args.seed, max_minutes=args.max_minutes,
                       name=args.name, checkpoint_every=args.checkpoint_every,
                       init_from=args.init_from)
    except TrainingInterrupted as exc:  # say it in the command's words
        raise KeyboardInterrupt(f"stopped after step {exc.step} with its checkpoint saved; "
                                f"continue with: timbral train {args.dataset} --output "
                                f"{args.output} --resume") from None
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
        return
    print(f"{result.steps} steps in {result.seconds / 60:.1f} min: train loss "
          f"{result.train_loss:.3f}, validation loss {result.validation_loss:.3f}")
    print(f"wrote {Path(args.output)} (model card: {Path(args.output) / 'model_card.md'}, "
          f"curve: {Path(args.output) / 'train' / 'curve.png'})")


def register(sub) -> None:
    from ..data.dataset import DEFAULT_FRAME_RATE
    from ..data.melodies import INSTRUMENTS
    from ..features import DEFAULT_TRACKER
    from ..features.pitch import TRACKERS
    from ..models import DEFAULT_PRESET, PRESETS
    from ..models.config import REVERBS

    render = sub.add_parser(
        "render", help="render SoundFont performances of an instrument (training material)",
        description="Generate expressive phrases for an instrument and render them with "
                    "FluidSynth from a General MIDI SoundFont, as FLAC clips with their notes.")
    render.add_argument("instrument", choices=sorted(INSTRUMENTS))
    render.add_argument("--output", required=True, help="folder for the clips")
    render.add_argument("--minutes", type=float, default=5.0, help="total duration (default 5)")
    render.add_argument("--clip-seconds", type=float, default=30.0, help="clip length (default 30)")
    render.add_argument("--seed", type=int, default=0, help="first phrase seed (default 0)")
    render.add_argument("--soundfont", help="SoundFont file or name (default: FluidR3_GM)")
    render.set_defaults(func=_render)

    prep = sub.add_parser(
        "prepare", help="turn recordings into a training dataset",
        description="Decode, resample, compute features once and cache them, split off "
                    "validation audio and compute the dataset statistics. Re-running skips "
                    "finished files.")
    prep.add_argument("inputs", nargs="+", help="audio files and/or folders")
    prep.add_argument("--output", required=True, help="dataset folder")
    prep.add_argument("--sample-rate", type=int, default=16000, help="Hz (default 16000)")
    prep.add_argument("--frame-rate", type=int, default=DEFAULT_FRAME_RATE,
                      help=f"feature frames per second; models at any rate dividing it can "
                           f"train on the dataset (default {DEFAULT_FRAME_RATE})")
    prep.add_argument("--pitch-tracker", choices=list(TRACKERS), default=None,
                      help=f"default {DEFAULT_TRACKER}")
    prep.add_argument("--loudness", choices=("v2", "v1"), default="v2",
                      help="loudness definition (default v2)")
    prep.add_argument("--validation-fraction", type=float, default=0.1,
                      help="share of each file (its end) held out for validation (default 0.1)")
    prep.add_argument("--validation-files", nargs="+", default=[], metavar="PATTERN",
                      help="hold out whole files whose names match these patterns (e.g. "
                           "'*mov8*') for validation instead; the others are split by "
                           "--validation-fraction")
    prep.add_argument("--min-seconds", type=float, default=2.0,
                      help="skip files shorter than this (default 2)")
    prep.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    prep.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                      help="only files K, K+N, ... of the sorted list, K from 0 to N-1 (for "
                           "many machines sharing the output)")
    prep.set_defaults(func=_prepare)

    tr = sub.add_parser(
        "train", help="train a model on a prepared dataset",
        description="Train a DDSP autoencoder; writes a model folder (config.json, "
                    "model.safetensors, statistics.json, model_card.md) and train/ with the "
                    "checkpoint, metrics, TensorBoard logs and the loss curve. Launch with "
                    "`torchrun --nproc_per_node=N` for data-parallel training.")
    tr.add_argument("dataset", help="folder written by `timbral prepare`")
    tr.add_argument("--output", required=True, help="model folder")
    tr.add_argument("--preset", choices=sorted(PRESETS),
                    help=f"model preset (default {DEFAULT_PRESET})")
    tr.add_argument("--reverb", choices=REVERBS, default=None,
                    help="the room the model learns: ir (free impulse response, Magenta's), "
                         "exp_decay (gain and decay), bands (gain and decay per octave band) "
                         "or none (default: the preset's)")
    tr.add_argument("--steps", type=int, help="optimiser steps (default: the preset's)")
    tr.add_argument("--batch-size", type=int, help="examples per step (default: the preset's)")
    tr.add_argument("--learning-rate", type=float, help="initial learning rate")
    tr.add_argument("--max-minutes", type=float, help="stop after this much wall time")
    tr.add_argument("--checkpoint-every", type=int,
                    help="steps between checkpoints and validations (default: the preset's)")
    tr.add_argument("--seed", type=int, help="random seed (default 0)")
    tr.add_argument("--name", help="model name (default: the folder's name)")
    tr.add_argument("--resume", action="store_true",
                    help="continue from the output folder's last checkpoint")
    tr.add_argument("--init-from", metavar="MODEL",
                    help="start from this model's weights (a shipped name or a folder; at "
                         "another rate or size too: harmonics, noise bands and room bands "
                         "are mapped) instead of random ones")
    tr.set_defaults(func=_train)
