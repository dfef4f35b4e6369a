"""Recipes for the shipped instruments: render, prepare, train, evaluate, write the folder.

``timbral zoo build NAME`` (or :func:`build`) reproduces a shipped model:

1. its audio: real recordings (``--data``), or ``minutes`` of generated phrases
   rendered from a SoundFont instrument with FluidSynth (phrase seeds 0, 1, ...);
2. prepare them (features with the default tracker, 500 Hz; the last 10 % of
   each recording is held out);
3. train the recipe's preset (``cpu-fast``; ``realtime`` for streaming, ``fullband``
   for 48 kHz) and room;
4. evaluate on held-out audio: the recordings' held-out passages, or renders of
   phrase seeds from 100000; never trained on;
5. write the model folder with the evaluation (and the data's credits) in its
   card, a picture of held-out audio against its resynthesis and, for
   recordings, a few seconds of each to listen to.

Every step skips work already done in ``workdir``, so an interrupted build
continues where it stopped (training resumes from its checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..audio import find_audio_files, load_audio, resample_audio, save_audio
from ..data.corpus import render_corpus
from ..data.dataset import TrainingData, prepare_dataset
from ..files import refuse_existing
from ..models import save_model_folder
from ..train import train
from ..zoo import MODELS_DIR, load_model
from .evaluate import EVAL_TRACKER, evaluate_resynthesis, resynthesize

HELDOUT_SEED = 100000
#: Seconds of held-out audio and of each resynthesis written beside the pictures.
EXAMPLE_SECONDS = 8.0


@dataclass(frozen=True)
class Recipe:
    """How one shipped model is made: from a SoundFont instrument (``instrument``
    and ``soundfont``: generated phrases rendered with FluidSynth) or from real
    recordings (``recordings``: a folder the builder is given; ``credits`` names
    their performers, source and license for the model card)."""

    description: str
    instrument: str = ""  # a name of timbral.data.INSTRUMENTS (General MIDI program and range)
    soundfont: str = ""  # a name find_soundfonts() knows
    recordings: str = ""  # what the --data folder must hold
    credits: str = ""
    minutes: float = 5.0
    steps: int = 5000
    preset: str = "cpu-fast"
    reverb: Optional[str] = None  # None: the preset's
    sample_rate: int = 16000
    compare_with: Tuple[str, ...] = ()  # shipped models measured on the same held-out audio
    # the tracker that measures f0 of input and output (plain CREPE tiny for minutes of
    # recordings: CREPE full takes about 4x real time on this 2-core machine)
    eval_tracker: str = EVAL_TRACKER
    init_from: str = ""  # a shipped model training starts from (it must be shipped)
    learning_rate: Optional[float] = None  # None: the preset's


BACH_VIOLIN_CREDITS = (
    "Real solo violin: J. S. Bach, Partita No. 1 in B minor BWV 1002 (movements 6-8) played "
    "by John Garner, and Sonata No. 2 in A minor BWV 1003 (movements 3-4) played by MinJi "
    "Kim; 12.9 minutes recorded in two rooms (MP3 44.1 kHz and Opus 48 kHz, stereo, mixed "
    "to mono). From the Bach Violin Dataset (Hao-Wen Dong, Cong Zhou, Taylor "
    "Berg-Kirkpatrick, Julian McAuley, \"Deep Performer: Score-to-Audio Music Performance "
    "Synthesis\", ICASSP 2022; github.com/salu133445/bach-violin-dataset), files under "
    "CC BY 3.0 only (https://creativecommons.org/licenses/by/3.0/). The recordings are the "
    "performers' work, used under that license with attribution.")

RECIPES: Dict[str, Recipe] = {
    "violin": Recipe(
        "Violin learned from real performances.", recordings="bach-violin",
        credits=BACH_VIOLIN_CREDITS, reverb="bands", compare_with=("violin_soundfont",),
        eval_tracker="crepe-tiny"),
    # From the 16 kHz violin: from scratch, the 48 kHz model shut its harmonics off within
    # a hundred steps and learned noise only (models/warmstart.py).
    "violin_fullband": Recipe(
        "Violin learned from real performances at 48 kHz, full bandwidth, starting from the "
        "16 kHz violin's weights.",
        recordings="bach-violin", credits=BACH_VIOLIN_CREDITS, preset="fullband",
        sample_rate=48000, compare_with=("violin",), eval_tracker="crepe-tiny",
        init_from="violin", steps=2000, learning_rate=5e-4),
    "violin_soundfont": Recipe("Violin (General MIDI 40) from FluidR3_GM.", "violin",
                               "FluidR3_GM"),
    "flute": Recipe("Flute (General MIDI 73) from FluidR3_GM.", "flute", "FluidR3_GM"),
    "flute2": Recipe("A second flute: MuseScore General's flute samples (General MIDI 73 of "
                     "MuseScore_General_Full.sf3), a different recording from FluidR3_GM's.",
                     "flute", "MuseScore_General_Full"),
    "trumpet": Recipe("Trumpet (General MIDI 56) from FluidR3_GM.", "trumpet", "FluidR3_GM"),
    "tenor_sax": Recipe("Tenor saxophone (General MIDI 66) from FluidR3_GM.", "tenor_sax",
                        "FluidR3_GM"),
    "violin_realtime": Recipe("Violin (General MIDI 40) from FluidR3_GM, realtime preset "
                              "(50 Hz frames) for `timbral live` and `timbral stream`.",
                              "violin", "FluidR3_GM", preset="realtime"),
}


def heldout_clips(name: str, workdir, minutes: float = 40 / 60) -> List[Path]:
    """Held-out renders of a SoundFont recipe's instrument (seeds never used in training)."""
    recipe = RECIPES[name]
    return render_corpus(recipe.instrument, minutes, Path(workdir) / name / "heldout",
                         seed=HELDOUT_SEED, clip_seconds=20.0, soundfont=recipe.soundfont,
                         progress=False)


def heldout_passages(dataset, sample_rate: Optional[int] = None) -> List[Tuple[np.ndarray, int]]:
    """The validation passages of a prepared dataset (never trained on), as ``(audio,
    sample_rate)``: the last share of each recording, or whole held-out files.

    With ``sample_rate`` other than the dataset's, the same passages (in seconds)
    are cut from the original recordings resampled to it (a 48 kHz model gets
    its full band)."""
    data = TrainingData(dataset)
    passages = []
    for (item, start, end), entry in zip(data.regions("validation"), data.manifest["files"]):
        if end <= start:
            continue
        if sample_rate is None or sample_rate == data.sample_rate:
            passages.append((data.items[item]["audio"][start:end], data.sample_rate))
            continue
        audio, rate = load_audio(entry["source"])
        audio = resample_audio(audio, rate, sample_rate)
        passages.append((audio[start * sample_rate // data.sample_rate:
                               end * sample_rate // data.sample_rate], sample_rate))
    return passages


def metric_cell(metrics: Dict[str, float], key: str, fmt: str) -> str:
    """One figure of an evaluation for a table: ``fmt`` of it, "-" where it was not
    measured, "none" for no power at all (-inf dB)."""
    if key not in metrics:
        return "-"
    return "none" if metrics[key] == -np.inf else fmt.format(metrics[key])


def metrics_table(metrics: Dict[str, float], others: Dict[str, Dict[str, float]] = None,
                  tracker: str = EVAL_TRACKER) -> str:
    """The evaluation as a markdown table (for model cards and BENCHMARKS.md); ``others``
    adds a column per other model measured on the same audio; ``tracker`` measured f0."""
    others = others or {}
    head = "| held-out resynthesis | value |" + "".join(f" {n} |" for n in others) + " target |"
    rows = [("SpectralLoss (mag + logmag)", "spectral_loss", "{:.2f}", "<= 5.0"),
            (f"output f0 vs input f0 ({tracker}, median)", "f0_cents_median", "{:.1f} cents",
             "<= 15"),
            ("loudness L1 on note-on frames", "loudness_l1_db", "{:.2f} dB", "<= 2")]
    if "spectral_loss_native" in metrics:
        rows.append(("SpectralLoss at the model's rate (FFT sizes scaled with it)",
                     "spectral_loss_native", "{:.2f}", "reported"))
    if "high_band_db" in metrics:
        rows.append(("power above 8 kHz, output vs recording", "high_band_db", "{:+.1f} dB",
                     "within 6 dB"))

    lines = [head, "|---|---|" + "---|" * len(others) + "---|"]
    for label, key, fmt, target in rows:
        cells = [metric_cell(m, key, fmt) for m in (metrics, *others.values())]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(lines) + "\n"


def build(name: str, workdir, output=None, steps: Optional[int] = None,
          max_minutes: Optional[float] = None, docs=None, progress: bool = True,
          overwrite: bool = False, data=None) -> Path:
    """Build (or finish building) the shipped model ``name``; returns its folder.

    Args:
      name: a key of :data:`RECIPES`.
      workdir: scratch folder for renders, dataset and training run.
      output: model folder to write (default: the package's ``zoo/models/<name>``;
        replacing it, like any existing folder, needs ``overwrite``).
      steps: training steps (default: the recipe's).
      max_minutes: stop training after this wall time.
      docs: folder for ``<name>.png`` (held-out input vs resynthesis) and, for
        recordings, a few seconds of held-out audio and of each resynthesis (FLAC).
      progress: show progress bars.
      overwrite: replace an existing ``output`` folder or ``docs`` files (checked
        before any work starts).
      data: the folder of recordings a ``recordings`` recipe trains on.
    """
    if name not in RECIPES:
        raise ValueError(f"model: no recipe named {name!r}; known: {sorted(RECIPES)}")
    recipe = RECIPES[name]
    if recipe.recordings and (data is None or not Path(data).is_dir()):
        raise ValueError(f"{name}: trains on real recordings ({recipe.recordings}); pass --data "
                         f"with the folder that holds them (see `timbral models {name}` for "
                         f"their source)")
    if output is None and (MODELS_DIR / name).exists() and not overwrite:
        raise ValueError(f"{MODELS_DIR / name}: the shipped {name} model is there; pass "
                         f"--overwrite to replace it or --output DIR to write elsewhere")
    docs = None if docs is None else Path(docs)
    pictures = [] if docs is None else [docs / f"{name}.png"]
    if docs is not None and recipe.recordings:
        pictures += [docs / f"{name}_{kind}.flac" for kind in ("heldout", *_compared(recipe))]
    refuse_existing(*(p for p in (output, *pictures) if p is not None), overwrite=overwrite)
    work = Path(workdir) / name
    if recipe.recordings:
        sources = [Path(data)]
        size = f"{len(find_audio_files(sources))} recordings"
    else:
        sources = render_corpus(recipe.instrument, recipe.minutes, work / "audio", seed=0,
                                soundfont=recipe.soundfont, progress=progress)
        size = (f"{len(sources)} clips of generated phrases ({recipe.minutes:g} min) rendered "
                f"with FluidSynth")
        sources = [work / "audio"]
    prepare_dataset(sources, work / "dataset", sample_rate=recipe.sample_rate,
                    progress=progress)
    run = work / "model"
    resume = (run / "train" / "checkpoint.safetensors").exists()
    train(work / "dataset", run, preset=recipe.preset, reverb=recipe.reverb,
          steps=steps or recipe.steps, resume=resume, max_minutes=max_minutes, name=name,
          progress=progress, init_from=recipe.init_from or None,
          learning_rate=recipe.learning_rate)
    model = load_model(run)
    if recipe.recordings:
        clips = heldout_passages(work / "dataset")
        what = (f"the held-out passages (the last {TrainingData(work / 'dataset').manifest['validation_fraction']:.0%} "
                f"of each recording, {sum(len(a) / sr for a, sr in clips) / 60:.1f} min, never "
                f"trained on)")
    else:
        clips = [load_audio(p) for p in heldout_clips(name, workdir)]
        what = f"{len(clips)} held-out renders (phrases never trained on)"
    metrics = evaluate_resynthesis(model, clips, recipe.eval_tracker)
    others = {other: evaluate_resynthesis(load_model(other), clips, recipe.eval_tracker)
              for other in recipe.compare_with}
    data_text = (f"{recipe.credits}\n\n{size}" if recipe.recordings else size)
    rebuild = f"timbral zoo build {name}" + (" --data FOLDER" if recipe.recordings else "")
    card = (f"{model.card.rstrip()}\n\n## Data\n\n{recipe.description} {data_text}; rebuild "
            f"with `{rebuild}`.\n\n## Quality\n\nOn {what}"
            f"{', beside ' + ', '.join(others) + ' on the same audio' if others else ''}:\n\n"
            f"{metrics_table(metrics, others, recipe.eval_tracker)}")
    model.config["name"] = name
    folder = save_model_folder(output or MODELS_DIR / name, model, model.statistics, card,
                               overwrite=overwrite,
                               expression=model.expression)
    if docs is not None:
        _write_docs(docs, name, model, clips[0], metrics, recipe, overwrite)
    return folder


def _compared(recipe: Recipe) -> List[str]:
    return ["resynthesis", *[f"{other}_resynthesis" for other in recipe.compare_with]]


def _write_docs(docs: Path, name: str, model, clip, metrics, recipe: Recipe,
                overwrite: bool) -> None:
    """``<name>.png``: held-out input vs resynthesis; for recordings also FLACs of
    :data:`EXAMPLE_SECONDS` of the input and of each model's resynthesis."""
    from ..plots import plot_spectrograms

    audio, output_audio = resynthesize(model, *clip)
    source = recipe.instrument + " render" if recipe.instrument else "real violin passage"
    plot_spectrograms(audio, model.sample_rate, output_audio, model.sample_rate,
                      docs / f"{name}.png",
                      titles=(f"held-out {source}",
                              f"{name} model resynthesis (SpectralLoss "
                              f"{metrics['spectral_loss']:.2f})"), overwrite=overwrite)
    if not recipe.recordings:
        return
    n = int(EXAMPLE_SECONDS * model.sample_rate)
    save_audio(docs / f"{name}_heldout.flac", audio[:n], model.sample_rate, overwrite=overwrite)
    save_audio(docs / f"{name}_resynthesis.flac", output_audio[:n], model.sample_rate,
               overwrite=overwrite)
    for other in recipe.compare_with:
        other_model = load_model(other)
        _, other_audio = resynthesize(other_model, *clip)
        save_audio(docs / f"{other}_resynthesis.flac",
                   other_audio[:int(EXAMPLE_SECONDS * other_model.sample_rate)],
                   other_model.sample_rate, overwrite=overwrite)
