"""Timbre transfer end to end: audio in, the same performance on another instrument out.

The notebook's flow as one function, :func:`transfer`:
features at the model's rate -> the voicing gate (which frames have a note to
play, :mod:`timbral.features.voicing`) -> auto-adjust toward the model's
training data (on by default) -> manual pitch and loudness shifts -> chunked
synthesis. Unlike Magenta's model, the adjusted loudness is what the decoder
sees, and frames without a note are silence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

import numpy as np

from ..audio import check_sample_rate, fit_peak, resample_audio
from ..features import PitchTracker, compute_audio_features
from ..features.notes import detect_notes, smoothing_frames
from ..features.voicing import HUM_HZ, Voicing, gate_rules, gate_voicing
from ..models import Autoencoder
from ..models.rendering import render
from ..validation import as_mono_audio
from ..zoo import as_model
from .adjust import (MAX_F0_HZ, AdjustResult, apply_manual_shifts, auto_adjust,
                     floor_loudness)
from .controls import check_controls

#: Audio rendered at once; longer inputs are chunked with state carried over.
CHUNK_SECONDS = 20.0
#: The gate's message names the pitch range (or the resonance) when this share of frames
#: fell outside it (or held one).
IMPLAUSIBLE_SHARE = 0.05


@dataclass
class TransferResult:
    """The output of :func:`transfer`.

    Attributes:
      audio: float32 ``[n_samples]`` output at ``sample_rate`` (as long as
        the input resampled to the model's rate).
      sample_rate: the model's sample rate (Hz).
      features: the input's features at the model's frame rate: ``f0_hz``,
        ``f0_confidence``, ``loudness_db`` (float32 ``[n_frames]``),
        ``frame_rate``, ``sample_rate``, ``pitch_tracker``.
      f0_hz, loudness_db: what the model was given (after adjust and shifts).
      mask_on, note_on_ratio, threshold: note detection (for plots).
      adjust: the :class:`~timbral.transfer.adjust.AdjustResult` (None if off).
      messages: what happened, for the user.
      timings: seconds spent in ``"model_load"``, ``"features"``,
        ``"adjust"`` and ``"synthesis"``.
      voicing: what the voicing gate decided
        (:class:`~timbral.features.voicing.Voicing`; None with the gate off).
    """

    audio: np.ndarray
    sample_rate: int
    features: Dict[str, object]
    f0_hz: np.ndarray
    loudness_db: np.ndarray
    mask_on: np.ndarray
    note_on_ratio: np.ndarray
    threshold: float
    adjust: Optional[AdjustResult]
    messages: List[str] = field(default_factory=list)
    timings: Dict[str, float] = field(default_factory=dict)
    voicing: Optional[Voicing] = None

    @property
    def note_on_fraction(self) -> float:
        """Share of frames detected as note-on."""
        return float(np.mean(self.mask_on)) if len(self.mask_on) else 0.0

    @property
    def played_hz(self) -> np.ndarray:
        """The f0 (Hz) of every note-on frame, as played."""
        return self.f0_hz[self.mask_on]


def transfer(audio, sample_rate: int, model: Union[str, Autoencoder], *, adjust: bool = True,
             hold_pitch: bool = False, gate: float = 0.5, threshold: float = 1.0,
             quiet: float = 20.0, autotune: float = 0.0,
             pitch_shift: float = 0.0, semitones: float = 0.0, loudness_shift: float = 0.0,
             pitch_tracker: Union[str, PitchTracker, None] = None, seed: int = 0,
             chunk_seconds: float = CHUNK_SECONDS, progress: bool = False) -> TransferResult:
    """Play ``audio``'s melody with ``model``'s instrument.

    Args:
      audio: mono ``[n_samples]`` float audio in [-1, 1] (numpy or torch).
      sample_rate: its rate (Hz); it is resampled to the model's.
      model: a loaded model, or anything :func:`timbral.load_model` takes
        (shipped name, folder, zip, Magenta folder).
      adjust, hold_pitch, gate, threshold, quiet, autotune, pitch_shift,
        semitones, loudness_shift: the transfer controls (auto-adjust on/off,
        holding pitch through consonants, the noise gate 0..1, note
        threshold, quiet in dB, autotune amount, then manual shifts in
        octaves, semitones and dB); :data:`~timbral.transfer.controls.CONTROLS`
        gives each one's meaning, range and default.
      pitch_tracker: tracker name or object (None: the default tracker,
        whatever the model was trained with).
      seed: the noise synth's seed.
      chunk_seconds: synthesis chunk (bounds memory on long inputs).
      progress: show progress bars for the features and the synthesis.
    """
    timings: Dict[str, float] = {}
    start = time.perf_counter()
    model = as_model(model)
    timings["model_load"] = time.perf_counter() - start
    audio = as_mono_audio(audio)
    sample_rate = check_sample_rate(sample_rate)
    c = check_controls(dict(adjust=adjust, hold_pitch=hold_pitch, gate=gate,
                            threshold=threshold, quiet=quiet, autotune=autotune,
                            pitch_shift=pitch_shift, semitones=semitones,
                            loudness_shift=loudness_shift))
    min_samples = 2 * model.hop * sample_rate / model.sample_rate
    if audio.shape[0] < min_samples:
        raise ValueError(f"audio: {audio.shape[0] / sample_rate * 1000:.1f} ms is too short to "
                         f"transfer; give at least {2000 / model.frame_rate:.0f} ms")

    start = time.perf_counter()
    audio = resample_audio(audio, sample_rate, model.sample_rate)
    # The default tracker, not the model's training tracker: f0 is f0, and the default
    # is both more accurate and 100x faster than the CREPE full Magenta's models used.
    features = compute_audio_features(audio, model.sample_rate, model.frame_rate,
                                      pitch_tracker,
                                      loudness_definition=model.config["loudness_definition"],
                                      progress=progress)
    timings["features"] = time.perf_counter() - start

    start = time.perf_counter()
    messages: List[str] = []
    voicing, voiced, played = None, None, features
    rules = gate_rules(c["gate"], c["hold_pitch"])
    if rules is not None:
        voicing = gate_voicing(features["f0_hz"], features["f0_confidence"],
                               features["loudness_db"], model.frame_rate, rules,
                               audio, model.sample_rate)
        voiced = voicing.voiced
        played = dict(features, f0_hz=voicing.f0_hz)
    adjusted = None
    if c["adjust"]:
        adjusted = auto_adjust(played, model.statistics, frame_rate=model.frame_rate,
                               threshold=c["threshold"], quiet=c["quiet"],
                               autotune=c["autotune"], voiced=voiced)
        f0, ld = adjusted.f0_hz, adjusted.loudness_db
        mask, ratio = adjusted.mask_on, adjusted.note_on_ratio
        messages += adjusted.messages
    else:
        f0, ld = played["f0_hz"], played["loudness_db"]
        mask, ratio = detect_notes(ld, played["f0_confidence"], note_threshold=c["threshold"],
                                   smoothing=smoothing_frames(model.frame_rate))
        if voiced is not None:
            mask &= voiced
    if voicing is not None:
        messages.append(gate_message(voicing))
    f0, ld = apply_manual_shifts(f0, ld, c["pitch_shift"], c["semitones"], c["loudness_shift"])
    capped = float(np.mean(f0[mask] >= MAX_F0_HZ * 0.999)) if mask.any() else 0.0
    if capped > 0.0:
        messages.append(f"{share_text(capped)} of what is played would lie above MIDI 110 "
                        f"({MAX_F0_HZ:.0f} Hz) and is held there; shift less (pitch shift, "
                        f"semitones, or adjust off).")
    ld = floor_loudness(ld, voiced)
    timings["adjust"] = time.perf_counter() - start

    start = time.perf_counter()
    n_frames = -(-audio.shape[0] // model.hop)  # frames covering every sample
    output = render(model, f0[:n_frames], ld[:n_frames], n_samples=audio.shape[0],
                    chunk_seconds=chunk_seconds, seed=seed, progress=progress)
    timings["synthesis"] = time.perf_counter() - start
    output, said = fit_peak(output)
    messages.extend([said] if said else [])
    return TransferResult(output, model.sample_rate, features, f0, ld, mask, ratio,
                          c["threshold"], adjusted, messages, timings, voicing)


def share_text(share: float) -> str:
    """A share for a message: "37 %", or "under 1 %" rather than "0 %"."""
    return "under 1 %" if share < 0.005 else f"{share:.0%}".replace("%", " %")


def gate_message(voicing: Voicing) -> str:
    """One line for the user on what the voicing gate let play."""
    share = float(np.mean(voicing.voiced))
    floor = voicing.noise_floor_db
    where = "silence" if floor <= -80.0 else f"{floor:.0f} dB"
    rules = voicing.rules
    hum = " or ".join(f"{hz:g}" for hz in HUM_HZ)
    if voicing.hum >= IMPLAUSIBLE_SHARE:
        range_note = f"; {voicing.hum:.0%} of the frames hold mains hum ({hum} Hz), which is noise"
    elif voicing.implausible >= IMPLAUSIBLE_SHARE:
        range_note = (f"; {voicing.implausible:.0%} of the frames hold a pitch outside "
                      f"{rules.min_f0_hz:g}-{rules.max_f0_hz:g} Hz or mains hum ({hum} Hz), "
                      f"which never plays")
    elif voicing.noisy >= IMPLAUSIBLE_SHARE:
        range_note = (f"; {voicing.noisy:.0%} of the frames hold noise through a resonance "
                      f"(wind, a swoosh, a hiss, a whisper: a pitch without a note's overtones "
                      f"or line), which never plays")
    elif voicing.background >= IMPLAUSIBLE_SHARE:
        range_note = (f"; {voicing.background:.0%} of the frames hold a steady background "
                      f"tone (a fan, a machine), which is noise")
    else:
        range_note = ""
    if share == 0.0:
        return (f"Noise gate: no pitched sound above the noise floor ({where}); no frame "
                f"plays" + (range_note + "." if range_note else " (a lower gate lets more "
                                                                   "through)."))
    return f"Noise gate: {share:.0%} of frames play (noise floor: {where}){range_note}."
