"""Measure a shipped model's expression profile and write it into its folder.

    python scripts/expression_profile.py flute [flute2 trumpet ...]
    python scripts/expression_profile.py violin --dataset zoo-work/violin/dataset

A SoundFont recipe (timbral/recipes/build.py RECIPES) is measured on the renders it
trains on: its instrument's generated phrases (seeds 0, 1, ...; the recipe's minutes)
rendered with FluidSynth and prepared (500 frames/s) in --workdir (kept, so a second
run only measures; default: a temporary folder). A model
trained on recordings needs --dataset: the dataset it was trained on, prepared (what
`timbral zoo build` leaves in its workdir). The profile goes to
timbral/zoo/models/<name>/expression.json (or --output FOLDER).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from timbral.data.corpus import render_corpus
from timbral.data.dataset import prepare_dataset
from timbral.midi import ExpressionProfile, measure_expression
from timbral.models.folder import is_model_folder, save_expression
from timbral.recipes.build import RECIPES
from timbral.zoo import MODELS_DIR


def profile(name: str, dataset=None, workdir=None) -> dict:
    """The profile of recipe ``name``: from ``dataset``, or from its renders (made
    and prepared in ``workdir``/``name``, or a temporary folder)."""
    recipe = RECIPES[name]
    if dataset is not None:
        return measure_expression(dataset)
    if recipe.recordings:
        raise ValueError(f"{name}: trains on recordings ({recipe.recordings}); pass --dataset "
                         f"with the dataset it was trained on")
    with tempfile.TemporaryDirectory(prefix=f"timbral-expression-{name}-") as tmp:
        work = Path(workdir) / name if workdir else Path(tmp)
        audio = render_corpus(recipe.instrument, recipe.minutes, work / "audio", seed=0,
                              soundfont=recipe.soundfont)
        prepare_dataset(audio, work / "dataset", sample_rate=recipe.sample_rate)
        return measure_expression(work / "dataset")


def summary(d: dict) -> str:
    p = ExpressionProfile.from_dict(d)
    parts = [f"levels {p.levels_db[0]:.1f}..{p.levels_db[-1]:.1f} dB" if p.levels_db else "",
             f"attack {p.attack.seconds * 1000:.0f} ms" if p.attack else "",
             f"release {p.release.seconds * 1000:.0f} ms" if p.release else "",
             f"scoop {p.scoop.values[0]:+.0f} cents for {p.scoop.seconds * 1000:.0f} ms"
             if p.scoop else "",
             f"vibrato {p.vibrato.rate_hz:.2f} Hz {p.vibrato.depth_cents:.1f} cents after "
             f"{p.vibrato.delay_s:.2f} s (fade {p.vibrato.fade_s:.2f} s)" if p.vibrato else "",
             f"portamento {p.portamento_s * 1000:.0f} ms" if p.portamento_s is not None else ""]
    return "; ".join(x for x in parts if x) + f" (from {p.measured})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help=f"recipe names: {', '.join(RECIPES)}")
    parser.add_argument("--dataset", help="prepared dataset the model was trained on "
                                          "(one model only)")
    parser.add_argument("--workdir", help="keep renders and prepared data here (reruns "
                                          "only measure)")
    parser.add_argument("--output", help="model folder to write into (one model only; "
                                         "default: the shipped folder)")
    args = parser.parse_args()
    if (args.dataset or args.output) and len(args.models) > 1:
        parser.error("--dataset and --output take one model")
    for name in args.models:
        if name not in RECIPES:
            parser.error(f"{name}: no recipe; known: {', '.join(RECIPES)}")
        folder = Path(args.output) if args.output else MODELS_DIR / name
        if not is_model_folder(folder):
            parser.error(f"{folder}: not a model folder")
    for name in args.models:
        folder = Path(args.output) if args.output else MODELS_DIR / name
        try:
            d = profile(name, args.dataset, args.workdir)
        except ValueError as exc:
            print(f"{name}: error: {exc}", file=sys.stderr)
            return 2
        path = save_expression(folder, d)
        print(f"{name}: wrote {path}: {summary(d)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
