"""Level calibration: the harmonic level that makes a trained model as loud as its data.

A model trained with the multi-scale spectral loss on real recordings comes out
quieter than its input: the shipped violin was 1.9 to 2.7 dB low on every
training recording. The deficit is in the harmonics: the loss compares
magnitudes bin by bin, and a real violin's partials are smeared over
neighbouring bins by vibrato and the room, so the sharp partials that fit them
best under an L1 distance carry less energy than they do. (On the violin's
held-out passages, +2.5 dB on the harmonic synth took the loudness error from
2.50 to 1.35 dB for +0.13 of loss; the same gain on the whole output cost +0.31,
and +6 dB on the noise synth alone cost +0.69 and barely moved the level.) The
loss cannot see the level people hear first, so training ends by measuring the
gap on training windows and setting the harmonic synths' ``gain_db``.
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np
import torch

from ..data.dataset import TrainingData
from ..dsp.spectral import compute_loudness
from ..features.notes import detect_notes, smoothing_frames
from ..models import Autoencoder
from ..processors.synths import MAX_GAIN_DB, Harmonic

#: Training windows the gap is measured on (256 s of 2 s windows: 32 windows gave
#: 2.24-2.62 dB for the violin with three seeds), resynthesised a few at a time.
CALIBRATION_WINDOWS = 128
BATCH = 8
#: Frames with a less sure f0 are left out (their level is mostly noise).
SURE_CONFIDENCE = 0.5
#: Rounds of measure-and-correct (the noise synth does not follow the harmonic gain,
#: so one correction falls short; the violin settles within 0.05 dB in three).
ROUNDS = 3


def level_gap_db(model: Autoencoder, data: TrainingData, windows: int = CALIBRATION_WINDOWS,
                 seed: int = 0) -> float:
    """Median over note-on frames of (input - output) loudness, dB, for ``windows``
    random training windows resynthesised from their own features. Both loudness
    curves come from the same function on the same window, so framing and edges
    cancel."""
    config = model.config
    frame_rate, rate = config["frame_rate"], model.sample_rate
    batch = data.sample_batch(np.random.default_rng(seed), windows, config["example_seconds"],
                              frame_rate, config.get("training", {}).get("max_unsure", 1.0))
    was_training = model.training
    model.eval()
    outputs = []
    with torch.no_grad():
        for i in range(0, windows, BATCH):
            outputs.append(model({k: torch.from_numpy(np.ascontiguousarray(batch[k][i:i + BATCH]))
                                  for k in ("f0_hz", "loudness_db")})["audio"].cpu())
    model.train(was_training)
    levels = [compute_loudness(torch.as_tensor(x), rate, frame_rate, padding="center",
                               definition=config["loudness_definition"]).numpy()
              for x in (np.asarray(batch["audio"]), torch.cat(outputs).numpy())]
    gaps = []
    for ld_in, ld_out, confidence in zip(levels[0], levels[1], batch["f0_confidence"]):
        n = min(len(ld_in), len(ld_out), len(confidence))
        on, _ = detect_notes(ld_in[:n], confidence[:n], smoothing=smoothing_frames(frame_rate))
        on &= confidence[:n] > SURE_CONFIDENCE
        gaps.append(ld_in[:n][on] - ld_out[:n][on])
    gaps = np.concatenate(gaps)
    if gaps.size == 0:
        raise ValueError("dataset: no sounding frames with a sure pitch to calibrate the level on")
    return float(np.median(gaps))


def _harmonic_synths(model: Autoencoder) -> List[Tuple[Harmonic, dict]]:
    """The model's harmonic synths with their entries in ``model.config``."""
    dag = model.config["processor_group"]["config"]["dag"]
    return [(proc, node["processor"].setdefault("config", {}))
            for proc, node in zip(model.processor_group.processors, dag)
            if isinstance(proc, Harmonic)]


def calibrate_level(model: Autoencoder, data: TrainingData, windows: int = CALIBRATION_WINDOWS,
                    seed: int = 0) -> float:
    """Set the harmonic synths' ``gain_db`` (in the model and its config) so the
    resynthesis of training windows is as loud as they are; returns the gain
    (dB, rounded to 0.01, within +-:data:`MAX_GAIN_DB`), or 0.0 for a model
    without a harmonic synth (left as it is)."""
    synths = _harmonic_synths(model)
    if not synths:
        return 0.0
    gain = synths[0][0].gain_db
    for _ in range(ROUNDS):
        gain = round(float(np.clip(gain + level_gap_db(model, data, windows, seed),
                                   -MAX_GAIN_DB, MAX_GAIN_DB)), 2)
        for proc, config in synths:
            proc.set_gain_db(gain)
            config["gain_db"] = gain
    return gain
