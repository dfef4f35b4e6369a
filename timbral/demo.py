"""A melody rendered by a DDSP synthesizer graph from hand-written controls.

``timbral demo --synth``: no network, just
Harmonic + FilteredNoise -> Add -> Reverb wired as a :class:`ProcessorGroup`,
driven by controls a musician could draw (pitch with glides and vibrato,
note envelopes, a brightness that follows loudness, breath noise at onsets).
"""

from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import numpy as np
import torch

from .processors import Add, ProcessorGroup
from .processors.effects import Reverb
from .processors.synths import FilteredNoise, Harmonic

#: "Ode to Joy", first phrase: (MIDI note, beats).
ODE_TO_JOY: Tuple[Tuple[int, float], ...] = (
    (64, 1), (64, 1), (65, 1), (67, 1), (67, 1), (65, 1), (64, 1), (62, 1),
    (60, 1), (60, 1), (62, 1), (64, 1), (64, 1.5), (62, 0.5), (62, 2),
)


def melody_controls(notes: Sequence[Tuple[int, float]] = ODE_TO_JOY, bpm: float = 110.0,
                    frame_rate: int = 250, n_harmonics: int = 60, n_bands: int = 65,
                    seed: int = 0) -> Dict[str, torch.Tensor]:
    """Frame-rate synth controls for a monophonic melody.

    Returns float32 tensors ``f0_hz [1, n_frames, 1]`` (Hz), ``amplitudes [1,
    n_frames, 1]`` (linear), ``harmonic_distribution [1, n_frames,
    n_harmonics]`` (sums to 1) and ``noise_magnitudes [1, n_frames, n_bands]``
    (linear gains), with a second of release at the end.
    """
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    n_frames = int(round((sum(b for _, b in notes) * beat + 1.0) * frame_rate))
    t = np.arange(n_frames) / frame_rate
    midi = np.zeros(n_frames)
    amp = np.zeros(n_frames)
    onset_env = np.zeros(n_frames)
    start = 0.0
    for i, (note, beats) in enumerate(notes):
        dur = beats * beat
        on = (t >= start) & (t < start + dur)
        local = t[on] - start
        midi[on] = note
        attack = 1.0 - np.exp(-local / 0.03)
        release = np.clip((start + dur - t[on]) / 0.06, 0.0, 1.0)  # short gap between notes
        amp[on] = 0.35 * attack * release * (1.0 - 0.15 * local / dur)
        onset_env[on] = np.exp(-local / 0.05)
        start += dur
    midi[t >= start] = notes[-1][0]
    tail = t >= start
    amp[tail] = 0.0
    # 40 ms glides between notes, then delayed vibrato (5.5 Hz, +-0.25 semitone).
    kernel = np.ones(int(0.04 * frame_rate)) / int(0.04 * frame_rate)
    midi = np.convolve(np.pad(midi, (len(kernel) // 2, len(kernel) - 1 - len(kernel) // 2),
                              mode="edge"), kernel, mode="valid")
    vibrato_depth = 0.25 * np.clip((1.0 - onset_env) ** 2, 0.0, 1.0)
    midi = midi + vibrato_depth * np.sin(2 * math.pi * 5.5 * t)
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)

    # Brighter when louder: spectral tilt from k^-2.2 (soft) to k^-1.2 (loud).
    k = np.arange(1, n_harmonics + 1)
    loud = amp / 0.35
    tilt = 2.2 - 1.0 * loud
    dist = k[None, :] ** -tilt[:, None]
    dist[:, 1::2] *= 0.6  # weaker even harmonics, a little woodwind-like
    dist /= dist.sum(-1, keepdims=True)

    # Breath noise: a high-passed floor that follows the envelope, stronger at onsets.
    bands = np.linspace(0.0, 1.0, n_bands)
    shape = np.clip(bands * 3.0, 0.0, 1.0) * np.exp(-bands * 2.0)
    noise_level = 0.004 * loud + 0.02 * onset_env * (amp > 0)
    noise = noise_level[:, None] * shape[None, :] * (1.0 + 0.1 * rng.standard_normal((n_frames, 1)))

    def as_t(x):
        return torch.tensor(x, dtype=torch.float32)[None]

    return {"f0_hz": as_t(f0[:, None]), "amplitudes": as_t(amp[:, None]),
            "harmonic_distribution": as_t(dist), "noise_magnitudes": as_t(noise)}


def room_impulse_response(sample_rate: int = 16000, seconds: float = 1.2,
                          rt60: float = 0.9, wet_db: float = -16.0, seed: int = 0) -> torch.Tensor:
    """A simple room: exponentially decaying white noise, ``[1, n_taps]``.

    ``rt60`` is the time (s) for the tail to fall 60 dB; ``wet_db`` the tail's
    level relative to the dry sound.
    """
    gen = torch.Generator().manual_seed(seed)
    n = int(seconds * sample_rate)
    t = torch.arange(n, dtype=torch.float32) / sample_rate
    decay = torch.pow(10.0, -3.0 * t / rt60)
    noise = torch.rand(n, generator=gen) * 2.0 - 1.0
    return (10.0 ** (wet_db / 20.0)) * (decay * noise)[None] / math.sqrt(sample_rate * rt60 / 13.8)


def synth_graph(n_samples: int, sample_rate: int = 16000) -> ProcessorGroup:
    """Harmonic + FilteredNoise -> Add -> Reverb, taking already-scaled controls."""
    return ProcessorGroup([
        (Harmonic(n_samples, sample_rate, scale_fn=None),
         ["amplitudes", "harmonic_distribution", "f0_hz"]),
        (FilteredNoise(n_samples, scale_fn=None, crossfade=True, seed=0), ["noise_magnitudes"]),
        (Add(), ["filtered_noise/signal", "harmonic/signal"]),
        (Reverb(trainable=False), ["add/signal", "ir"]),
    ])


def render_melody(sample_rate: int = 16000, frame_rate: int = 250) -> Tuple[torch.Tensor,
                                                                         Dict[str, torch.Tensor]]:
    """Render :data:`ODE_TO_JOY` (peak 0.9); returns audio ``[n_samples]`` and the controls."""
    controls = melody_controls(frame_rate=frame_rate)
    n_frames = controls["f0_hz"].shape[1]
    graph = synth_graph(n_frames * (sample_rate // frame_rate), sample_rate)
    with torch.no_grad():
        audio = graph(dict(controls, ir=room_impulse_response(sample_rate)))[0]
    return audio * (0.9 / float(audio.abs().max())), controls  # peak at -0.9 dBFS
