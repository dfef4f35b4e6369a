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
- the background's tone has broadband noise beside it: the power of its lines at
  most :data:`NOISY_DB` over the background's broadband noise (measured away from
  every harmonic up to half the sample rate; other notes are not in it: they come
  and go). A pure tone or a held note from the first sample to the last (a test sine,
  an organ, a long tone in a quiet room) is a note; a machine's tone sits in its
  airflow or motor noise.

The voicing gate takes such frames as aperiodic: they measure the noise floor and
never start a note. What it cannot learn: a fan switched on in the middle of a
stream plays until it fills 80 % of the stream's memory (about 15 s), and a
recording with digital silence over a fifth of it has silence for its background.
Units: power spectra in dB (a full-scale sine about -6 dB at its peak bin), f0 in
Hz; spectra are numpy ``[n_frames, n_bins]``.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from .pitch.base import centered_frames

__all__ = ["BackgroundSpectrum", "background_frames", "background_tone", "frame_spectra",
           "power_db", "recording_background", "spectrum_size", "tone_lines",
           "BACKGROUND_QUANTILE"]

#: The background spectrum is this quantile of each bin's power (dB) over time: a
#: tone sounding in 80 % of a recording's frames is in it, a melody's notes are not.
BACKGROUND_QUANTILE = 0.2
#: Spectra: Hann windows of at least this long (s; resolves harmonics 4 bins apart
#: from 62 Hz up at any rate), harmonics up to this many below TOP_HZ.
WINDOW_S, TOP_HZ, HARMONICS = 0.064, 5000.0, 10
MIN_SPACING_BINS = 4.0
#: The tests (dB) of the module doc.
LINE_DB, STEADY_DB, ABOVE_DB, NOISY_DB = 6.0, 3.0, 6.0, 3.0
#: How far under its mean the BACKGROUND_QUANTILE of a bin of noise lies (dB): its
#: power is exponentially distributed.
NOISE_QUANTILE_DB = -10.0 * math.log10(-math.log(1.0 - BACKGROUND_QUANTILE))
#: The background is known after this much audio (s: a stream's frames play nothing
#: until then, as its first ones may hold a fan). Silence counts: it is background
#: too (a note after it plays at once). A stream forgets with this time constant (s)
#: and reads its quantiles again every REFRESH_S (the background changes slowly).
MIN_SECONDS, MEMORY_S, REFRESH_S = 0.1, 10.0, 0.1
#: The histograms' bins (dB).
LOW_DB, HIGH_DB, STEP_DB = -160.0, 10.0, 1.0
#: Offline, frames are analysed this many at a time (memory, not results).
CHUNK_FRAMES = 256


def spectrum_size(sample_rate: int) -> int:
    """The FFT size (samples, a power of 2) of at least :data:`WINDOW_S` at
    ``sample_rate``."""
    return 2 ** int(math.ceil(math.log2(WINDOW_S * sample_rate) - 1e-9))


def power_db(windows: np.ndarray) -> np.ndarray:
    """``[n, n_fft]`` windows -> ``[n, n_fft // 2 + 1]`` Hann power spectra, dB (a
    full-scale sine about -6 dB at its peak; floored at :data:`LOW_DB`)."""
    window = np.hanning(windows.shape[1] + 1)[:-1]
    power = np.abs(np.fft.rfft(windows * window, axis=1)) ** 2 / window.sum() ** 2
    return np.maximum(10.0 * np.log10(power + 1e-30), LOW_DB)


def frame_spectra(audio: np.ndarray, sample_rate: int, hop: int,
                  frames: np.ndarray) -> np.ndarray:
    """Power spectra (dB ``[len(frames), n_bins]``, :func:`power_db`) of the windows
    of mono ``audio`` centred on samples ``k * hop`` for ``k`` in ``frames`` (zeros
    beyond its ends)."""
    x = np.asarray(audio, np.float64)
    need = (int(np.max(frames)) + 1) * hop if len(frames) else 0
    x = torch.from_numpy(np.pad(x, (0, max(0, need - len(x)))))
    windows = centered_frames(x, spectrum_size(sample_rate), hop)
    return power_db(windows[torch.from_numpy(np.asarray(frames, np.int64))].numpy())


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
    steady = tone_lines(background, f0_hz, sample_rate)
    if len(steady) < 2:  # a narrow resonance's band holds one
        return False
    n_bins = power.shape[0]
    lines = _series(n_bins, sample_rate, f0_hz)[0]
    near = np.clip(lines[:, None] + np.arange(-1, 2), 0, n_bins - 1)
    bg = 10.0 ** (background[0] / 10.0)
    if (10.0 ** (power[near] / 10.0)).max(axis=1).sum() \
            > bg[near].max(axis=1).sum() * 10.0 ** (ABOVE_DB / 10.0):
        return False
    # the tone's power (its lines, two bins either side: Hann's main lobe) against the
    # broadband noise of the background: the mean of the bins two or more from any of
    # its harmonics up to half the sample rate (a bright note's own are no noise) over
    # the whole spectrum (DC left out), as a quantile reads noise NOISE_QUANTILE_DB
    # under its mean (a steady tone about as its mean)
    tone = bg[np.clip(steady[:, None] + np.arange(-2, 3), 0, n_bins - 1)].sum()
    every = np.round(np.arange(1, int(sample_rate / 2 / f0_hz) + 1) * f0_hz
                     * 2.0 * (n_bins - 1) / sample_rate).astype(int)
    rest = np.ones(n_bins, bool)
    rest[np.clip(every[:, None] + np.arange(-2, 3), 0, n_bins - 1)] = False
    rest[0] = False
    if not rest.any():
        return False
    noise = bg[rest].mean() * (n_bins - 1) * 10.0 ** (NOISE_QUANTILE_DB / 10.0)
    return bool(tone <= noise * 10.0 ** (NOISY_DB / 10.0))


class BackgroundSpectrum:
    """A background spectrum from a histogram (:data:`STEP_DB` bins) of each bin's
    power (dB): :attr:`value` is its :data:`BACKGROUND_QUANTILE` and median (dB
    ``[2, n_bins]``; None until :data:`MIN_SECONDS` of frames). A stream's
    (``frame_rate`` given) forgets with a :data:`MEMORY_S` time constant and reads
    its quantiles again every :data:`REFRESH_S`; offline (``frame_rate`` None) every
    frame counts, and the quantiles are read when asked for."""

    def __init__(self, sample_rate: int, frame_rate: Optional[float] = None,
                 hop: Optional[int] = None):
        self.n_fft = spectrum_size(sample_rate)
        rate = frame_rate if frame_rate is not None else sample_rate / hop
        self.needed = MIN_SECONDS * rate
        self.decay = 1.0 if frame_rate is None else 1.0 - 1.0 / (MEMORY_S * frame_rate)
        self.refresh = 1 if frame_rate is None else max(1, int(round(REFRESH_S * frame_rate)))
        self.edges = np.arange(LOW_DB, HIGH_DB + STEP_DB / 2, STEP_DB)
        self.reset()

    def reset(self) -> None:
        self.counts = np.zeros((self.n_fft // 2 + 1, len(self.edges) - 1))
        self.heard = 0
        self._value: Optional[np.ndarray] = None
        self._read_at = -1

    def update(self, power: np.ndarray) -> None:
        """Take frames' spectra (dB ``[n, n_bins]``), oldest first."""
        for row in np.atleast_2d(power):
            if self.decay < 1.0:
                self.counts *= self.decay
            i = np.clip(((row - LOW_DB) // STEP_DB).astype(int), 0, self.counts.shape[1] - 1)
            self.counts[np.arange(len(i)), i] += 1.0
            self.heard += 1

    @property
    def value(self) -> Optional[np.ndarray]:
        if self.heard < self.needed:
            return None
        if self._value is None or self.heard - self._read_at >= self.refresh:
            cdf = np.cumsum(self.counts, axis=1)
            self._value = np.stack([self.edges[np.argmax(cdf >= q * cdf[:, -1:], axis=1)]
                                    for q in (BACKGROUND_QUANTILE, 0.5)]) + STEP_DB / 2
            self._read_at = self.heard
        return self._value


def recording_background(audio: np.ndarray, sample_rate: int, hop: int,
                         n_frames: int) -> Optional[np.ndarray]:
    """Offline: the background of ``audio``'s frames (frame ``k`` centred on sample
    ``k * hop``; dB ``[2, n_bins]``, :attr:`BackgroundSpectrum.value`), None with
    under :data:`MIN_SECONDS` of them."""
    spectrum = BackgroundSpectrum(sample_rate, hop=hop)
    for first in range(0, n_frames, CHUNK_FRAMES):
        frames = np.arange(first, min(n_frames, first + CHUNK_FRAMES))
        spectrum.update(frame_spectra(audio, sample_rate, hop, frames))
    return spectrum.value


def background_frames(audio: np.ndarray, sample_rate: int, hop: int, f0_hz: np.ndarray,
                      candidates: np.ndarray,
                      background: Optional[np.ndarray] = None) -> np.ndarray:
    """Offline: which ``candidates`` (bool ``[n_frames]``; frame ``k`` at sample
    ``k * hop``, pitch ``f0_hz[k]`` Hz) hold a steady background tone, against the
    whole recording's ``background`` (default :func:`recording_background`). bool
    ``[n_frames]``."""
    n = len(f0_hz)
    out = np.zeros(n, bool)
    if not np.any(candidates):
        return out
    if background is None:
        background = recording_background(audio, sample_rate, hop, n)
    if background is None:
        return out
    which = np.flatnonzero(candidates)
    for first in range(0, len(which), CHUNK_FRAMES):
        frames = which[first:first + CHUNK_FRAMES]
        power = frame_spectra(audio, sample_rate, hop, frames)
        for k, row in zip(frames, power):
            out[k] = background_tone(row, background, float(f0_hz[k]), sample_rate)
    return out
