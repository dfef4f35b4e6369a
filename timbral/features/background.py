"""Steady background tones: a fan's blade, a machine's whine, under a recording.

A tracker is as sure of a fan's blade tone as of a held note, and a recording
with one has few aperiodic frames to measure its noise floor on (the voicing
gate's floor then comes from the loud frames between notes). What tells the
two apart is that the background is always there: the recording's *background
spectrum*, the :data:`BACKGROUND_QUANTILE` of each frequency bin's power over
its frames (a stream: a running one, :class:`BackgroundSpectrum`),
holds the tone's harmonic series, under the notes too. A frame is background
(:func:`background_tone`) where

- the background spectrum holds the frame's harmonic series, steadily: its power
  at two harmonics or more at least :data:`LINE_DB` over its power half-way to the
  harmonics on both sides (one is a narrow resonance's band), and each bin's median
  there at most :data:`STEADY_DB` over it (a melody's common notes, ringing on in a
  room, fill the background at their harmonics too, but come and go);
- the frame's harmonics stand at most :data:`ABOVE_DB` over the background's
  (a note at the fan's pitch, louder than it, is a note);
- the background's tone has broadband noise beside it: its harmonics' power at
  most :data:`NOISY_DB` over the rest of the background spectrum (other notes are
  not in it: they come and go). A pure tone
  from the first sample to the last (a test sine, a long synth note in a quiet
  room) is a note; a machine's tone sits in its airflow or motor noise.

The voicing gate takes such frames as aperiodic: they measure the noise floor and
never start a note. Units: power spectra in dB (full-scale sine about -6 dB at
its peak bin), f0 in Hz; spectra are numpy ``[n_frames, n_bins]``.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

__all__ = ["BackgroundSpectrum", "background_frames", "background_tone", "frame_windows",
           "power_db", "recording_background", "spectrum_size", "tone_lines",
           "BACKGROUND_QUANTILE"]

#: The background spectrum is this quantile of each bin's power (dB) over time: a
#: tone sounding in 80 % of a recording's frames is in it, a melody's notes are not.
BACKGROUND_QUANTILE = 0.2
#: Spectra: Hann windows of about this long (s; resolves harmonics 4 bins apart from
#: 62 Hz up at any rate), harmonics up to this many below TOP_HZ.
WINDOW_S, TOP_HZ, HARMONICS = 0.064, 5000.0, 10
MIN_SPACING_BINS = 4.0
#: The tests (dB) of the module doc.
LINE_DB, STEADY_DB, ABOVE_DB, NOISY_DB = 6.0, 3.0, 6.0, 6.0
#: How far under its mean the BACKGROUND_QUANTILE of a bin of noise lies (dB): its
#: power is exponentially distributed.
NOISE_QUANTILE_DB = -10.0 * math.log10(-math.log(1.0 - BACKGROUND_QUANTILE))
#: The background is known after this much audio (s: a stream's frames play nothing
#: until then, as its first ones may hold a fan); a stream forgets with this time
#: constant (s), reading its quantile from bins STEP_DB wide. Silence counts: it is
#: background too (a note after it plays at once).
MIN_SECONDS, MEMORY_S = 0.1, 10.0
LOW_DB, HIGH_DB, STEP_DB = -160.0, 10.0, 1.0


def spectrum_size(sample_rate: int) -> int:
    """The FFT size (samples, a power of 2) of about :data:`WINDOW_S` at ``sample_rate``."""
    return 2 ** int(round(math.log2(WINDOW_S * sample_rate)))


def power_db(windows: np.ndarray) -> np.ndarray:
    """``[n, n_fft]`` windows -> ``[n, n_fft // 2 + 1]`` Hann power spectra, dB (a
    full-scale sine about -6 dB at its peak; floored at :data:`LOW_DB`)."""
    window = np.hanning(windows.shape[1] + 1)[:-1]
    power = np.abs(np.fft.rfft(windows * window, axis=1)) ** 2 / window.sum() ** 2
    return np.maximum(10.0 * np.log10(power + 1e-30), LOW_DB)


def frame_windows(audio: np.ndarray, sample_rate: int, hop: int, n_frames: int) -> np.ndarray:
    """``[n_frames, n_fft]`` windows of mono ``audio`` centred on samples ``k * hop``
    (zeros outside it)."""
    n_fft = spectrum_size(sample_rate)
    audio = np.asarray(audio, np.float64)
    padded = np.concatenate([np.zeros(n_fft // 2), audio, np.zeros(n_fft + n_frames * hop)])
    return padded[(np.arange(n_frames) * hop)[:, None] + np.arange(n_fft)]


def _series(n_bins: int, sample_rate: int, f0_hz: float):
    """Bins of ``f0_hz``'s harmonics below :data:`TOP_HZ` and of the points half-way
    to the next (``[harmonics + 1]``, from half ``f0_hz`` up), or None where they lie
    under :data:`MIN_SPACING_BINS` apart."""
    bin_hz = sample_rate / (2.0 * (n_bins - 1))
    top = min(TOP_HZ, 0.45 * sample_rate)
    if not (f0_hz > 0 and f0_hz / bin_hz >= MIN_SPACING_BINS and f0_hz < top):
        return None
    h = np.arange(1, min(HARMONICS, int(top / f0_hz)) + 1)
    return (np.round(h * f0_hz / bin_hz).astype(int),
            np.round(np.append(h - 0.5, h[-1] + 0.5) * f0_hz / bin_hz).astype(int))


def tone_lines(background: np.ndarray, f0_hz: float, sample_rate: int) -> np.ndarray:
    """Bins (``[k]`` indices) of the harmonics of ``f0_hz`` that the ``background``
    (dB ``[2, n_bins]``: the background spectrum and each bin's median) holds as
    steady lines: at least :data:`LINE_DB` over the points half-way to the harmonics
    on both sides (not a slope's), their median at most :data:`STEADY_DB` over it."""
    low, median = background
    series = _series(low.shape[0], sample_rate, f0_hz)
    if series is None:
        return np.zeros(0, int)
    lines, mids = series
    near = np.clip(lines[:, None] + np.arange(-1, 2), 0, low.shape[0] - 1)
    peak = near[np.arange(len(lines)), np.argmax(low[near], axis=1)]
    return lines[(low[peak] >= np.maximum(low[mids[:-1]], low[mids[1:]]) + LINE_DB)
                 & (median[peak] - low[peak] <= STEADY_DB)]


def background_tone(power: np.ndarray, background: np.ndarray, f0_hz: float,
                    sample_rate: int) -> bool:
    """Whether one frame (``power``: its spectrum, dB ``[n_bins]``) at pitch
    ``f0_hz`` is the steady tone of the ``background`` (dB ``[2, n_bins]``: the
    background spectrum and each bin's median): the tests of the module doc."""
    # two lines at least: noise through a narrow resonance holds one
    if len(tone_lines(background, f0_hz, sample_rate)) < 2:
        return False
    lines = _series(len(power), sample_rate, f0_hz)[0]
    bg = 10.0 ** (background[0] / 10.0)
    bg_lines = np.stack([np.roll(bg, s) for s in (-1, 0, 1)]).max(axis=0)[lines].sum()
    mine = 10.0 ** (power / 10.0)
    frame_lines = np.stack([np.roll(mine, s) for s in (-1, 0, 1)]).max(axis=0)[lines].sum()
    if frame_lines > bg_lines * 10.0 ** (ABOVE_DB / 10.0):
        return False
    # the tone's power (its lines, two bins either side: Hann's main lobe) against the
    # rest of the background (DC left out), which as a quantile reads noise
    # NOISE_QUANTILE_DB under its mean (a steady tone about as its mean)
    near = np.zeros(len(bg), bool)
    near[0] = True
    for s in range(-2, 3):
        near[np.clip(lines + s, 0, len(bg) - 1)] = True
    tone = bg[near].sum() - bg[0]
    noise = bg[~near].sum() * 10.0 ** (NOISE_QUANTILE_DB / 10.0)
    return bool(tone <= noise * 10.0 ** (NOISY_DB / 10.0))


def recording_background(audio: np.ndarray, sample_rate: int, hop: int,
                         n_frames: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Offline: the power spectra (dB ``[n_frames, n_bins]``) of ``audio``'s frames
    (frame ``k`` centred on sample ``k * hop``) and its background (dB ``[2,
    n_bins]``: the background spectrum and each bin's median; None with under
    :data:`MIN_SECONDS` of sound)."""
    power = power_db(frame_windows(audio, sample_rate, hop, n_frames))
    if n_frames < MIN_SECONDS * sample_rate / hop:
        return power, None
    return power, np.quantile(power, [BACKGROUND_QUANTILE, 0.5], axis=0)


def background_frames(audio: np.ndarray, sample_rate: int, hop: int, f0_hz: np.ndarray,
                      candidates: np.ndarray) -> np.ndarray:
    """Offline: which ``candidates`` (bool ``[n_frames]``; frame ``k`` at sample
    ``k * hop``, pitch ``f0_hz[k]`` Hz) hold a steady background tone, against the
    whole recording's background spectrum. bool ``[n_frames]``."""
    n = len(f0_hz)
    out = np.zeros(n, bool)
    if not np.any(candidates):
        return out
    power, background = recording_background(audio, sample_rate, hop, n)
    if background is not None:
        for k in np.nonzero(candidates)[0]:
            out[k] = background_tone(power[k], background, float(f0_hz[k]), sample_rate)
    return out


class BackgroundSpectrum:
    """A stream's background spectrum: each bin's power (dB) of its
    frames goes into a histogram (:data:`STEP_DB` bins) whose counts decay with a
    :data:`MEMORY_S` time constant; :attr:`value` is their
    :data:`BACKGROUND_QUANTILE` and median (dB ``[2, n_bins]``; None until
    :data:`MIN_SECONDS` of frames)."""

    def __init__(self, sample_rate: int, frame_rate: float):
        self.n_fft = spectrum_size(sample_rate)
        self.needed = MIN_SECONDS * frame_rate
        self.decay = 1.0 - 1.0 / (MEMORY_S * frame_rate)
        self.edges = np.arange(LOW_DB, HIGH_DB + STEP_DB / 2, STEP_DB)
        self.reset()

    def reset(self) -> None:
        self.counts = np.zeros((self.n_fft // 2 + 1, len(self.edges) - 1))
        self.heard = 0
        self.value: Optional[np.ndarray] = None

    def update(self, power: np.ndarray, skip: bool) -> None:
        """Take one frame's spectrum (dB ``[n_bins]``) unless ``skip``."""
        if skip:
            return
        self.counts *= self.decay
        i = np.clip(((power - LOW_DB) // STEP_DB).astype(int), 0, self.counts.shape[1] - 1)
        self.counts[np.arange(len(i)), i] += 1.0
        self.heard += 1
        if self.heard >= self.needed:
            cdf = np.cumsum(self.counts, axis=1)
            self.value = np.stack([self.edges[np.argmax(cdf >= q * cdf[:, -1:], axis=1)]
                                   for q in (BACKGROUND_QUANTILE, 0.5)]) + STEP_DB / 2
