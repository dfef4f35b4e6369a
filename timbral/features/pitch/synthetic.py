"""Harmonic test signals with exactly known f0, and the scores of a track.

Used by the tests and by ``benchmarks/pitch.py``: every signal is a sum
of harmonics whose phase integrates a per-sample f0 (float64), so the true f0
at each frame centre is known exactly; an amplitude envelope says where it is
voiced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np

from .base import PitchTrack


@dataclass
class TestSignal:
    """``audio [n]`` float32 with its per-sample truth ``f0_hz [n]`` and
    ``envelope [n]`` (0 = silent, ~1 = full level)."""

    __test__ = False  # not a pytest test class

    audio: np.ndarray
    f0_hz: np.ndarray
    envelope: np.ndarray
    sample_rate: int

    def frame_truth(self, hop_length: int, margin_s: float = 0.032):
        """Per frame (centred on ``i * hop``): ``(f0_hz, voiced, unvoiced)``.

        ``voiced``: the envelope at the centre is >= 0.3; ``unvoiced``: it is
        0 everywhere within +-``margin_s``; frames that are neither (onsets,
        decays) count in no voicing score.
        """
        centres = np.arange(self.audio.shape[0] // hop_length + 1) * hop_length
        centres = np.minimum(centres, self.audio.shape[0] - 1)
        margin = int(margin_s * self.sample_rate)
        padded = np.pad(self.envelope, margin)
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * margin + 1)[centres]
        return (self.f0_hz[centres], self.envelope[centres] >= 0.3,
                windows.max(axis=1) == 0)


def harmonic_audio(f0_hz: np.ndarray, envelope: np.ndarray, sample_rate: int,
                   harmonic_amps: Sequence[float]) -> np.ndarray:
    """Sum of harmonics ``k * f0`` (those below 0.47 * sample_rate) with
    amplitudes ``harmonic_amps[k - 1]``, scaled to peak 0.5 * envelope."""
    phase = np.cumsum(2 * np.pi * np.asarray(f0_hz, np.float64) / sample_rate)
    out = np.zeros_like(phase)
    for k, amp in enumerate(harmonic_amps, start=1):
        below = k * f0_hz < 0.47 * sample_rate
        out += amp * np.sin(k * phase) * below
    out *= envelope / max(np.abs(out).max(), 1e-9) * 0.5
    return out.astype(np.float32)


def timbre(rng: np.random.Generator, n_harmonics: int = 40) -> np.ndarray:
    """Random harmonic amplitudes: a 1/k**p roll-off (p in [0.6, 2]), each
    harmonic jittered by +-6 dB; a quarter of the time weak even harmonics
    (clarinet-like), a quarter of the time a fundamental 20-30 dB down (low
    reeds and strings)."""
    k = np.arange(1, n_harmonics + 1)
    amps = k ** -rng.uniform(0.6, 2.0) * 10 ** (rng.uniform(-6, 6, n_harmonics) / 20)
    kind = rng.random()
    if kind < 0.25:
        amps[1::2] *= 0.1
    elif kind < 0.5:
        amps[0] *= 10 ** (-rng.uniform(20, 30) / 20)
    return amps


def _ramp(n: int, attack: int, release: int) -> np.ndarray:
    """Envelope of ``n`` samples: linear attack and release, 1 in between."""
    env = np.ones(n)
    attack, release = min(attack, n // 2), min(release, n // 2)
    env[:attack] = np.linspace(0, 1, attack, endpoint=False)
    env[n - release:] = np.linspace(1, 0, release)
    return env


def _segments(kind: str, rng: np.random.Generator, sample_rate: int, pitch):
    """Endless ``(log2 f0 [m], envelope [m])`` segments of a signal ``kind``."""
    sr = sample_rate
    last = np.log2(pitch())
    while True:
        target = np.log2(pitch())
        if kind == "notes":  # a note, then a silence
            m = int(rng.uniform(0.15, 0.7) * sr)
            yield np.full(m, target), _ramp(m, int(0.015 * sr), int(0.05 * sr))
            gap = int(rng.uniform(0.05, 0.4) * sr)
            yield np.full(gap, target), np.zeros(gap)
            continue
        if kind == "legato":  # no gaps: instant jumps or 30 ms slides, light vibrato
            m = int(rng.uniform(0.15, 0.6) * sr)
            curve = np.full(m, target)
            if rng.random() < 0.5:
                k = int(0.03 * sr)
                curve[:k] = np.linspace(last, target, k)
            depth = rng.uniform(0, 15)
        elif kind == "vibrato":  # held notes, 4-7 Hz vibrato 20-100 cents deep
            m = int(rng.uniform(0.8, 2.0) * sr)
            curve, depth = np.full(m, target), rng.uniform(20, 100)
        elif kind == "glide":  # exponential glides
            m = int(rng.uniform(0.5, 2.0) * sr)
            curve, depth = np.linspace(last, target, m), 0.0
        else:
            raise ValueError(f"kind: expected 'notes', 'legato', 'glide' or 'vibrato', "
                             f"got {kind!r}")
        t = np.arange(m) / sr
        curve = curve + depth / 1200 * np.sin(2 * np.pi * rng.uniform(4, 7) * t
                                              + rng.uniform(0, 2 * np.pi))
        last = target
        if kind != "legato" and rng.random() < 0.3:  # a breath: this note fades, then a pause
            gap = int(rng.uniform(0.1, 0.3) * sr)
            yield curve, _ramp(m, int(0.02 * sr), int(0.04 * sr))
            yield np.full(gap, curve[-1]), np.zeros(gap)
        else:
            yield curve, np.ones(m)


def make_signal(kind: str, seconds: float = 10.0, sample_rate: int = 16000, seed: int = 0,
                fmin: float = 80.0, fmax: float = 1500.0, snr_db: Optional[float] = None,
                noise_floor_db: float = -60.0) -> TestSignal:
    """A test signal of ``kind``:

    - ``'notes'``: notes of 0.15-0.7 s separated by 0.05-0.4 s silences;
    - ``'legato'``: notes without gaps (instant jumps or 30 ms slides), light vibrato;
    - ``'glide'``: exponential glides between random pitches, some pauses;
    - ``'vibrato'``: held notes with 4-7 Hz vibrato, 20-100 cents deep, some pauses.

    Pitches are log-uniform in [fmin, fmax] Hz, off any tuning grid; the
    level wobbles +-3 dB; the timbre is random (:func:`timbre`). White noise
    is added at ``snr_db`` below the voiced RMS (if given), else at
    ``noise_floor_db`` dBFS (so silence is never exactly digital zero).
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    amps = timbre(rng)
    pitch = lambda: 2 ** rng.uniform(np.log2(fmin), np.log2(fmax))
    curves, envs, total = [], [], 0
    for curve, env in _segments(kind, rng, sample_rate, pitch):
        curves.append(curve)
        envs.append(env)
        total += curve.shape[0]
        if total >= n:
            break
    f0 = 2 ** np.concatenate(curves)[:n]
    env = np.concatenate(envs)[:n]
    t = np.arange(n) / sample_rate
    env = env * 10 ** (3 * np.sin(2 * np.pi * 0.37 * t + rng.uniform(0, 6)) / 20 - 3 / 20)
    audio = harmonic_audio(f0, env, sample_rate, amps).astype(np.float64)
    if snr_db is not None:
        noise_rms = np.sqrt(np.mean(audio[env >= 0.3] ** 2)) * 10 ** (-snr_db / 20)
    else:
        noise_rms = 10 ** (noise_floor_db / 20)
    audio += noise_rms * rng.standard_normal(n)
    return TestSignal(audio.astype(np.float32), f0, env, sample_rate)


def cents_error(estimate_hz: np.ndarray, truth_hz: np.ndarray) -> np.ndarray:
    """``|1200 * log2(estimate / truth)|`` per frame."""
    return np.abs(1200.0 * np.log2(np.asarray(estimate_hz, np.float64) / truth_hz))


def score_track(track: PitchTrack, signal: TestSignal, hop_length: int,
                threshold: float) -> Dict[str, float]:
    """Scores of ``track`` against ``signal``'s truth.

    Returns ``median_cents`` and ``gross`` (fraction > 50 cents) over the
    truly voiced frames (using the track's f0 as delivered, filled frames
    included), ``recall`` (voiced frames with confidence >= ``threshold``)
    and ``false_alarm`` (truly unvoiced frames with confidence >=
    ``threshold``; NaN without any).
    """
    f0, voiced, unvoiced = signal.frame_truth(hop_length)
    err = cents_error(track.f0_hz, f0)[voiced]
    above = track.confidence >= threshold
    return {"median_cents": float(np.median(err)), "gross": float(np.mean(err > 50)),
            "recall": float(np.mean(above[voiced])),
            "false_alarm": float(np.mean(above[unvoiced])) if unvoiced.any() else float("nan"),
            "n_voiced": int(voiced.sum()), "n_unvoiced": int(unvoiced.sum())}
