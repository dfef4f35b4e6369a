"""Recipes for the shipped instruments: render, prepare, train, evaluate, write the folder.

``timbral zoo build violin`` (or :func:`build`) reproduces a shipped model:

1. render ``minutes`` of generated phrases for the instrument from its
   SoundFont with FluidSynth (phrase seeds 0, 1, ...);
2. prepare them (features with the default tracker, 500 Hz);
3. train the recipe's preset (``cpu-fast``, or ``realtime`` for streaming);
4. evaluate on held-out renders (phrase seeds from 100000, never trained on);
5. write the model folder with the evaluation in its card, and a picture of
   a held-out clip against its resynthesis.

Every step skips work already done in ``workdir``, so an interrupted build
continues where it stopped (training resumes from its checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from ..audio import load_audio
from ..data.corpus import render_corpus
from ..data.dataset import prepare_dataset
from ..files import refuse_existing
from ..models import save_model_folder
from ..train import train
from . import MODELS_DIR, load_model
from .evaluate import evaluate_resynthesis, resynthesize

HELDOUT_SEED = 100000


@dataclass(frozen=True)
class Recipe:
    """How one shipped model is made."""

    instrument: str  # a name of timbral.data.INSTRUMENTS (General MIDI program and range)
    soundfont: str  # a name find_soundfonts() knows
    description: str
    minutes: float = 5.0
    steps: int = 5000
    preset: str = "cpu-fast"


RECIPES: Dict[str, Recipe] = {
    "violin": Recipe("violin", "FluidR3_GM", "Violin (General MIDI 40) from FluidR3_GM."),
    "flute": Recipe("flute", "FluidR3_GM", "Flute (General MIDI 73) from FluidR3_GM."),
    "flute2": Recipe("flute", "MuseScore_General_Full",
                     "A second flute: MuseScore General's flute samples (General MIDI 73 of "
                     "MuseScore_General_Full.sf3), a different recording from FluidR3_GM's."),
    "trumpet": Recipe("trumpet", "FluidR3_GM", "Trumpet (General MIDI 56) from FluidR3_GM."),
    "tenor_sax": Recipe("tenor_sax", "FluidR3_GM",
                        "Tenor saxophone (General MIDI 66) from FluidR3_GM."),
    "violin_realtime": Recipe("violin", "FluidR3_GM",
                              "Violin (General MIDI 40) from FluidR3_GM, realtime preset "
                              "(50 Hz frames) for `timbral live` and `timbral stream`.",
                              preset="realtime"),
}


def heldout_clips(name: str, workdir, minutes: float = 40 / 60) -> List[Path]:
    """Held-out renders of a recipe's instrument (seeds never used in training)."""
    recipe = RECIPES[name]
    return render_corpus(recipe.instrument, minutes, Path(workdir) / name / "heldout",
                         seed=HELDOUT_SEED, clip_seconds=20.0, soundfont=recipe.soundfont,
                         progress=False)


def metrics_table(metrics: Dict[str, float]) -> str:
    """The evaluation as a markdown table (for model cards and BENCHMARKS.md)."""
    return ("| held-out resynthesis | value | target |\n|---|---|---|\n"
            f"| SpectralLoss (mag + logmag) | {metrics['spectral_loss']:.2f} | <= 5.0 |\n"
            f"| output f0 vs input f0 (CREPE full, median) | "
            f"{metrics['f0_cents_median']:.1f} cents | <= 15 |\n"
            f"| loudness L1 on note-on frames | {metrics['loudness_l1_db']:.2f} dB | <= 2 |\n")


def build(name: str, workdir, output=None, steps: Optional[int] = None,
          max_minutes: Optional[float] = None, docs=None, progress: bool = True,
          overwrite: bool = False) -> Path:
    """Build (or finish building) the shipped model ``name``; returns its folder.

    Args:
      name: a key of :data:`RECIPES`.
      workdir: scratch folder for renders, dataset and training run.
      output: model folder to write (default: the package's ``zoo/models/<name>``,
        which is always replaced: rebuilding it is the point).
      steps: training steps (default: the recipe's).
      max_minutes: stop training after this wall time.
      docs: folder for ``<name>.png`` (held-out input vs resynthesis), if given.
      progress: show progress bars.
      overwrite: replace an existing ``output`` folder or ``docs`` picture
        (checked before any work starts).
    """
    if name not in RECIPES:
        raise ValueError(f"model: no recipe named {name!r}; known: {sorted(RECIPES)}")
    recipe = RECIPES[name]
    picture = None if docs is None else Path(docs) / f"{name}.png"
    refuse_existing(*(p for p in (output, picture) if p is not None), overwrite=overwrite)
    work = Path(workdir) / name
    corpus = render_corpus(recipe.instrument, recipe.minutes, work / "audio", seed=0,
                           soundfont=recipe.soundfont, progress=progress)
    prepare_dataset([work / "audio"], work / "dataset", progress=progress)
    run = work / "model"
    resume = (run / "train" / "checkpoint.safetensors").exists()
    train(work / "dataset", run, preset=recipe.preset, steps=steps or recipe.steps,
          resume=resume, max_minutes=max_minutes, name=name, progress=progress)
    model = load_model(run)
    clips = [load_audio(p) for p in heldout_clips(name, workdir)]
    metrics = evaluate_resynthesis(model, clips)
    card = (f"{model.card.rstrip()}\n\n## Data\n\n{recipe.description} {len(corpus)} clips of "
            f"generated phrases ({recipe.minutes:g} min) rendered with FluidSynth; rebuild with "
            f"`timbral zoo build {name}`.\n\n## Quality\n\nOn {len(clips)} held-out renders "
            f"(phrases never trained on):\n\n{metrics_table(metrics)}")
    model.config["name"] = name
    folder = save_model_folder(output or MODELS_DIR / name, model, model.statistics, card,
                               overwrite=overwrite or output is None)
    if picture is not None:
        from ..plots import plot_spectrograms

        audio, output_audio = resynthesize(model, *clips[0])
        plot_spectrograms(audio, model.sample_rate, output_audio, model.sample_rate,
                          picture,
                          titles=(f"held-out {recipe.instrument} render",
                                  f"{name} model resynthesis (SpectralLoss "
                                  f"{metrics['spectral_loss']:.2f})"), overwrite=overwrite)
    return folder
