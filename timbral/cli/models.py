"""`timbral models` and `timbral import-magenta`: what models there are, and bringing Magenta's in."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path


def _models(args: argparse.Namespace) -> None:
    from ..zoo import card_summary, list_models, load_model

    if args.name:
        model = load_model(args.name)
        print(model.card.strip() or f"{model.name}: no model card")
        return
    models = list_models()
    if not models:
        print("no shipped models are installed")
    width = max((len(entry["name"]) for entry in models), default=0)
    for entry in models:
        print(f"{entry['name']:<{width}}  {card_summary(entry['card'])}")
    print("`timbral models NAME` shows a model's card")


def _import_magenta(args: argparse.Namespace) -> None:
    from ..files import refuse_existing
    from ..interop.magenta import is_magenta_model
    from ..models import save_model_folder
    from ..zoo import load_model

    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise ValueError(f"--output {output}: is a file; a model is written as a folder")
    refuse_existing(output, overwrite=args.overwrite)
    if not is_magenta_model(args.source):
        raise ValueError(f"{args.source}: not a Magenta model folder or zip (expected "
                         f"operative_config-0.gin and ckpt-* files)")
    model = load_model(args.source, loudness_definition=args.loudness)
    if not model.statistics:
        warnings.warn(f"{args.source}: no dataset_statistics.pkl, so transfer's auto-adjust "
                      f"(octave and loudness matching) will be off with this model; import "
                      f"the folder with the pickle Magenta wrote beside the checkpoint")
    model.config["name"] = output.name
    card = (f"# {output.name}\n\nImported from the Magenta DDSP model folder "
            f"`{Path(args.source).name}` by `timbral import-magenta`.\n\n"
            f"- sample rate {model.sample_rate} Hz, {model.frame_rate:g} frames/s, "
            f"{model.n_parameters / 1e6:.2f} M parameters\n"
            f"- loudness definition: {model.config['loudness_definition']}\n"
            f"- dataset statistics: {'yes' if model.statistics else 'none'}\n")
    save_model_folder(output, model, model.statistics, card, overwrite=args.overwrite)
    print(f"wrote {output} ({model.n_parameters / 1e6:.2f} M parameters, loudness "
          f"{model.config['loudness_definition']})")


def _zoo_build(args: argparse.Namespace) -> None:
    from ..recipes.build import build
    from ..train import TrainingInterrupted

    try:
        folder = build(args.name, args.workdir, output=args.output, steps=args.steps,
                       max_minutes=args.max_minutes, docs=args.docs, overwrite=args.overwrite,
                       data=args.data)
    except TrainingInterrupted as exc:  # say it in the command's words
        raise KeyboardInterrupt(f"stopped after step {exc.step} with its checkpoint saved; "
                                f"the same command continues where it stopped") from None
    print(f"wrote {folder}")
    print((folder / "model_card.md").read_text().split("## Quality")[-1].strip())


def register(sub) -> None:
    from ..recipes.build import RECIPES

    ls = sub.add_parser("models", help="list the shipped models (or show one's card)",
                        description="List the models that ship with timbral, or print the "
                                    "model card of one (a shipped name, folder or zip).")
    ls.add_argument("name", nargs="?", help="show this model's card")
    ls.set_defaults(func=_models)

    imp = sub.add_parser(
        "import-magenta", help="convert a Magenta DDSP model folder or zip",
        description="Convert a model folder written by Magenta's ddsp (operative_config-0.gin, "
                    "ckpt-*.index/.data-*, dataset_statistics.pkl) into a timbral model folder. "
                    "The checkpoint is read without TensorFlow; the statistics pickle with a "
                    "restricted reader that only rebuilds numbers and arrays.")
    imp.add_argument("source", help="Magenta model folder or .zip")
    imp.add_argument("--output", required=True, help="timbral model folder to write")
    imp.add_argument("--loudness", choices=("v1", "v2"), default=None,
                     help="loudness definition the model expects (default: inferred)")
    imp.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    imp.set_defaults(func=_import_magenta)

    zoo = sub.add_parser("zoo", help="rebuild the shipped models from their recipes")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", metavar="ACTION")
    zoo_sub.required = True
    zb = zoo_sub.add_parser(
        "build", help="render, prepare, train and evaluate one shipped model",
        description="Reproduce a shipped model: take its recordings (--data) or render its "
                    "SoundFont instrument, prepare, train the recipe's preset (cpu-fast, "
                    "realtime or fullband), evaluate on held-out audio and write the model folder. "
                    "Re-running continues an interrupted build.")
    zb.add_argument("name", choices=sorted(RECIPES))
    zb.add_argument("--workdir", default="zoo-work", help="scratch folder (default zoo-work)")
    zb.add_argument("--output", help="model folder (default: the package's shipped folder, "
                                     "replaced only with --overwrite)")
    zb.add_argument("--steps", type=int, help="training steps (default: the recipe's)")
    zb.add_argument("--max-minutes", type=float, help="stop training after this wall time")
    zb.add_argument("--data", help="the folder of recordings a recordings recipe trains on "
                                   "(violin: the Bach Violin Dataset files, see its card)")
    zb.add_argument("--docs", help="write <name>.png (held-out input vs resynthesis) here, "
                                   "and for recordings a few seconds of audio")
    zb.add_argument("--overwrite", action="store_true",
                    help="replace an existing model folder (--output or the shipped "
                         "one) or --docs picture")
    zb.set_defaults(func=_zoo_build)
