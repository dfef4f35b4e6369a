"""Measuring a model: resynthesis quality and melody preservation on held-out audio.

- :func:`evaluate_resynthesis`: each clip's own features through the model
  (no adjust); SpectralLoss (mag + logmag) between input and output, the
  output's f0 against the input's (both measured with one tracker, CREPE full
  by default) in cents on note-on frames, and the loudness L1 there.
- :func:`evaluate_transfer`: a clip through :func:`timbral.transfer` with
  auto-adjust; the output's f0 against the adjusted f0 the model was given.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from ..audio import resample_audio
from ..features import compute_audio_features
from ..features.notes import sure_notes
from ..processors.losses import SpectralLoss
from ..models import Autoencoder
from ..models.rendering import render
from ..transfer import transfer

#: Frame rate of the f0 comparison (10 ms hop, CREPE's usual evaluation step).
EVAL_FRAME_RATE = 100
EVAL_TRACKER = "crepe-full"


#: Rate (Hz) the spectral loss of every model is computed at, so models of any rate compare.
LOSS_RATE = 16000
#: Where the band 16 kHz models cannot reach begins (Hz).
HIGH_BAND_HZ = 8000.0


def _cents(f0_out: np.ndarray, f0_ref: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.abs(1200.0 * np.log2(np.maximum(f0_out[mask], 1e-3) / np.maximum(f0_ref[mask], 1e-3)))


def resynthesize(model: Autoencoder, audio, sample_rate: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(input at the model's rate, the model's rendering of the input's own
    features)``, both float32 ``[n_samples]``; no auto-adjust."""
    audio = resample_audio(np.asarray(audio, np.float32), sample_rate, model.sample_rate)
    feats = compute_audio_features(audio, model.sample_rate, model.frame_rate,
                                   model.config.get("pitch_tracker"),
                                   loudness_definition=model.config["loudness_definition"])
    n_frames = -(-len(audio) // model.hop)
    output = render(model, feats["f0_hz"][:n_frames], feats["loudness_db"][:n_frames],
                    n_samples=len(audio))
    return audio, output


def _loss(loss_fn: SpectralLoss, audio: np.ndarray, output: np.ndarray) -> float:
    return float(loss_fn(torch.from_numpy(audio)[None], torch.from_numpy(output)[None]))


def _band_power(audio: np.ndarray, sample_rate: int, low_hz: float) -> float:
    """Mean square of the part of ``audio`` above ``low_hz`` (comparable across rates)."""
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    above = np.fft.rfftfreq(len(audio), 1.0 / sample_rate) > low_hz
    return float(2.0 * spectrum[above].sum() / len(audio) ** 2)


def evaluate_resynthesis(model: Autoencoder, clips: Sequence[Tuple[np.ndarray, int]],
                         tracker: str = EVAL_TRACKER) -> Dict[str, float]:
    """Resynthesis quality of ``model`` on ``clips`` (``(audio, sample_rate)`` pairs).

    Returns ``spectral_loss`` (mean over clips; both signals at
    :data:`LOSS_RATE`, so models of any rate compare), ``f0_cents_median``
    (over all note-on frames), ``loudness_l1_db`` (mean |input - output|
    loudness on note-on frames) and ``note_on_frames``. Models above
    :data:`LOSS_RATE` also get ``spectral_loss_native`` (at their own rate,
    FFT sizes scaled with it: x3 at 48 kHz, as Magenta's 48 kHz config); clips
    recorded above 16 kHz give ``high_band_db``: the output's power above
    8 kHz over the recording's (at its own rate), -inf for a model with none.
    """
    loss_fn = SpectralLoss(mag_weight=1.0, logmag_weight=1.0)
    scale = model.sample_rate / LOSS_RATE
    native_fn = SpectralLoss(fft_sizes=[int(round(n * scale)) for n in loss_fn.fft_sizes],
                             mag_weight=1.0, logmag_weight=1.0)
    losses, native, high, cents, ld_err = [], [], [], [], []
    for clip, rate in clips:
        audio, output = resynthesize(model, clip, rate)
        losses.append(_loss(loss_fn, resample_audio(audio, model.sample_rate, LOSS_RATE),
                            resample_audio(output, model.sample_rate, LOSS_RATE)))
        if model.sample_rate > LOSS_RATE:
            native.append(_loss(native_fn, audio, output))
        if rate > 2 * HIGH_BAND_HZ:
            with np.errstate(divide="ignore"):
                high.append(10 * np.log10(_band_power(output, model.sample_rate, HIGH_BAND_HZ))
                            - 10 * np.log10(_band_power(np.asarray(clip, np.float32), rate,
                                                        HIGH_BAND_HZ)))
        ref = compute_audio_features(audio, model.sample_rate, EVAL_FRAME_RATE, tracker)
        out = compute_audio_features(output, model.sample_rate, EVAL_FRAME_RATE, tracker)
        mask = sure_notes(ref["loudness_db"], ref["f0_confidence"], ref["frame_rate"])
        cents.append(_cents(out["f0_hz"], ref["f0_hz"], mask))
        ld_err.append(np.abs(out["loudness_db"] - ref["loudness_db"])[mask])
    all_cents = np.concatenate(cents)
    result = {"spectral_loss": float(np.mean(losses)),
              "f0_cents_median": float(np.median(all_cents)),
              "loudness_l1_db": float(np.mean(np.concatenate(ld_err))),
              "note_on_frames": int(all_cents.size)}
    if native:
        result["spectral_loss_native"] = float(np.mean(native))
    if high:
        result["high_band_db"] = float(np.mean(high))
    return result


def evaluate_transfer(model: Autoencoder, clips: Sequence[Tuple[np.ndarray, int]],
                      tracker: str = EVAL_TRACKER) -> Dict[str, float]:
    """Melody preservation of a transfer with auto-adjust: median cents between
    the output's f0 and the adjusted input f0 on note-on frames."""
    cents: List[np.ndarray] = []
    shifts = []
    for audio, rate in clips:
        result = transfer(audio, rate, model)
        target, on = np.asarray(result.f0_hz), np.asarray(result.mask_on)
        # Measured at the model's frame rate, so frame i of both is the same instant.
        out = compute_audio_features(result.audio, result.sample_rate, model.frame_rate, tracker)
        n = min(len(target), len(out["f0_hz"]))
        mask = on[:n] & (out["f0_confidence"][:n] > 0.5)
        cents.append(_cents(out["f0_hz"][:n], target[:n], mask))
        shifts.append(result.adjust.octave_shift if result.adjust else 0.0)
    all_cents = np.concatenate(cents)
    return {"f0_cents_median": float(np.median(all_cents)), "note_on_frames": int(all_cents.size),
            "octave_shift": float(np.mean(shifts))}
