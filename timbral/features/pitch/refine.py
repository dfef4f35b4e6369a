"""A neural tracker at a coarse hop, refined to the fine grid by DSP.

The networks cost per frame, and a 4 ms hop (250 frames/s, what DDSP wants)
is 6x the frames of a 25 ms hop. Here the network runs at ``coarse_hop``
only, to settle the hard questions (which octave, voiced or not); every fine
frame then gets its f0 from its harmonics' instantaneous frequencies
(:func:`harmonic_refine`), which is more precise than the networks' 20-cent
(CREPE) or 33-cent (PESTO) bins. Where the coarse f0 jumps between two coarse
frames (a note change), both neighbours' pitches are refined and the one the
spectrum supports better is kept, so note changes land on the fine grid.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

import numpy as np
import torch

from ..background import background_frames, recording_background, spectrum_size, tone_lines
from .base import PitchTracker, centered_frames, fill_unvoiced
from .crepe import WINDOW, CrepeTracker, cents_to_hz, frame_activations, local_average_cents

#: Neighbouring coarse pitches further apart than this (cents) are a note change.
JUMP_CENTS = 60.0
#: Coarse frames below this confidence take interpolated candidates (as do those
#: whose decoded path holds less than this, when it comes out of such frames).
COARSE_FILL = 0.1


#: The longest analysis (s): 2048 samples at 16 kHz, 5 periods of 39 Hz.
MAX_WINDOW_S = 0.128


def window_sizes(f0_hz: np.ndarray, sample_rate: int, periods: float) -> np.ndarray:
    """Analysis sizes: the power of two that holds ``periods`` periods, at least 256
    samples and at most :data:`MAX_WINDOW_S` (a cap of 2048 samples held two periods
    of E1 at 48 kHz: a stream read it 82 cents flat)."""
    want = periods * sample_rate / np.maximum(f0_hz, 1.0)
    return np.clip(2 ** np.ceil(np.log2(want)), 256,
                   int(MAX_WINDOW_S * sample_rate)).astype(np.int64)


class HarmonicFit(NamedTuple):
    """What :func:`harmonic_refine` found on each analysed frame."""

    f0_hz: np.ndarray  #: refined f0, Hz
    hnr_db: np.ndarray  #: power at the harmonics' peaks / power half-way between them, dB
    odd_even_db: np.ndarray  #: power at odd harmonics (1, 3, 5..) / at even ones, dB
    #: with ``levels``: ``[n, max_harmonics]`` power at each harmonic's peak and half-way
    #: to its neighbours (the mean of both sides), 0 where it is unusable; else None
    peak_power: Optional[np.ndarray] = None
    trough_power: Optional[np.ndarray] = None


def harmonic_refine(audio: torch.Tensor, hop_length: int, f0_hz: np.ndarray, sample_rate: int,
                    periods: float = 5.0, max_freq: float = 5000.0, max_harmonics: int = 30,
                    passes: int = 2, frames: Optional[np.ndarray] = None,
                    levels: bool = False) -> HarmonicFit:
    """Refine a rough f0 on every frame from the instantaneous frequencies of
    its harmonics.

    For frame ``i`` (centred on sample ``i * hop_length``) a Hann window of
    ``periods`` periods of ``f0_hz[i]`` (:func:`window_sizes`) is
    analysed; near each harmonic ``k * f0`` (below ``max_freq``, at most
    ``max_harmonics``) the strongest bin is taken, its instantaneous
    frequency read by reassignment (the spectrum with the window's derivative)
    and divided by ``k``; the estimates are averaged weighted by the bins'
    power. ``passes`` rounds, each starting from the previous estimate.
    Estimates more than 20 % away from the start are ignored.

    Args:
      audio: 1-D float32 tensor.
      hop_length: samples between frame centres.
      f0_hz: ``[n]`` rough f0 in Hz (finite, > 0), one per analysed frame.
      sample_rate: Hz.
      frames: indices of the ``n`` frames to analyse (default: all,
        ``0 .. n - 1``).
      levels: also return each harmonic's peak and trough power.

    Returns:
      A :class:`HarmonicFit` of ``[n]`` float64 arrays (and, with ``levels``,
      ``[n, max_harmonics]`` ones). The harmonic-to-noise
      ratio (the harmonics' peaks against the power half-way between harmonics,
      on both sides of each) is about 0-7 dB for noise and 20-30 dB for a clean
      note; it is near 0 dB too when the true f0 is half the estimate (then the
      "troughs" hold the odd harmonics). The odd/even ratio is very low when the true
      f0 is twice the estimate (the odd "harmonics" are empty). Frames
      without any usable harmonic keep their input f0 and get -100 dB HNR;
      without an even harmonic, +100 dB odd/even.
    """
    out = np.asarray(f0_hz, np.float64).copy()
    hnr, odd_even = np.zeros_like(out), np.zeros_like(out)
    peaks = np.zeros((out.shape[0], max_harmonics)) if levels else None
    troughs_out = np.zeros((out.shape[0], max_harmonics)) if levels else None
    frames = np.arange(out.shape[0]) if frames is None else np.asarray(frames)
    sizes = window_sizes(out, sample_rate, periods)
    harmonics = torch.arange(1, max_harmonics + 1, dtype=torch.float64)
    for size in np.unique(sizes):
        sel = np.nonzero(sizes == size)[0]
        n = int(size)
        x = centered_frames(audio, n, hop_length)[torch.from_numpy(frames[sel])].double()
        t = torch.arange(n, dtype=torch.float64)
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * t / n)
        d_window = (math.pi / n) * torch.sin(2 * math.pi * t / n)  # d window / d sample
        spec = torch.fft.rfft(x * window)
        power = spec.real.square() + spec.imag.square()
        d_spec = torch.fft.rfft(x * d_window)
        # instantaneous frequency of each bin, Hz (reassignment)
        correction = (d_spec * spec.conj()).imag / power.clamp_min(1e-30)
        inst_hz = (torch.arange(n // 2 + 1) / n - correction / (2 * math.pi)) * sample_rate
        f0 = torch.from_numpy(out[sel])
        for _ in range(passes):
            centre = harmonics * f0[:, None] * n / sample_rate  # [frames, harmonics], in bins
            usable = harmonics * f0[:, None] < min(max_freq, 0.45 * sample_rate)
            half = (0.3 * f0 * n / sample_rate).clamp_min(1.0)  # search +-30 % of the spacing
            reach = int(min(6, math.ceil(float(half.max()))))
            offsets = torch.arange(-reach, reach + 1)
            bins = (centre.round().long()[..., None] + offsets).clamp(1, n // 2 - 1)
            inside = (bins - centre[..., None]).abs() <= half[:, None, None]
            cand = power.gather(1, bins.flatten(1)).view(bins.shape) * inside
            best = cand.argmax(-1, keepdim=True)
            peak_bin = bins.gather(-1, best)[..., 0]
            peak_power = cand.gather(-1, best)[..., 0]
            estimate = inst_hz.gather(1, peak_bin) / harmonics
            ok = usable & ((estimate - f0[:, None]).abs() < 0.2 * f0[:, None])
            weight = peak_power * ok
            total = weight.sum(1)
            f0 = torch.where(total > 0, (weight * estimate).sum(1) / total.clamp_min(1e-30), f0)
        # harmonic-to-noise ratio: power at the harmonics' peaks against the power
        # half-way between harmonics, on both sides of each (with one harmonic under the
        # top, the trough below it alone can lie under a hiss's band)
        troughs = []
        for side in (-0.5, 0.5):
            trough_bin = ((harmonics + side) * f0[:, None] * n / sample_rate).round().long()
            troughs.append(power.gather(1, trough_bin.clamp(1, n // 2)))
        trough = 0.5 * (troughs[0] + troughs[1]) * ok
        hnr_db = 10 * torch.log10((peak_power * ok).sum(1).clamp_min(1e-30)
                                  / trough.sum(1).clamp_min(1e-30))
        hnr_db = torch.where(ok.any(1), hnr_db, torch.full_like(hnr_db, -100.0))
        found = peak_power * ok
        odd, even = found[:, 0::2].sum(1), found[:, 1::2].sum(1)
        ratio_db = 10 * torch.log10(odd.clamp_min(1e-30) / even.clamp_min(1e-30))
        out[sel] = f0.numpy()
        hnr[sel] = hnr_db.numpy()
        if levels:
            peaks[sel], troughs_out[sel] = found.numpy(), trough.numpy()
        odd_even[sel] = torch.where(ok[:, 1::2].any(1), ratio_db,
                                    torch.full_like(ratio_db, 100.0)).numpy()
    return HarmonicFit(out, hnr, odd_even, peaks, troughs_out)


def overtones_db(fit: HarmonicFit) -> np.ndarray:
    """For a fit made with ``levels``: how far the overtones stand over the spectrum
    half-way between harmonics, ``[n]`` dB: of harmonics 2 to 6, the second clearest
    (each one's peak over its troughs); NaN where fewer than two lie under the fit's top
    (a note from about 1.7 kHz up at a 5 kHz top: unknown, not absent). Two, because
    noise through a resonance read an octave low has one "overtone", the resonance
    itself; a clarinet's even harmonics are weak, but its 3rd and 5th are not. A note's
    stand 10-50 dB (9 and up in pink noise at 0 dB SNR); noise through a resonance,
    which has a pitch but no harmonics, and a pure tone stand -5 to 9 dB."""
    peaks, troughs = fit.peak_power[:, 1:6], fit.trough_power[:, 1:6]
    usable = (peaks > 0) & (troughs > 0)
    ratio = np.where(usable, 10.0 * np.log10(np.where(usable, peaks, 1.0)
                                             / np.where(usable, troughs, 1.0)), -np.inf)
    second = np.sort(ratio, axis=1)[:, -2]
    return np.where(np.isfinite(second), second, np.nan)


#: A divided f0's own harmonics (those the estimate lacks) are partials when their
#: peaks stand this far (dB) over their troughs, with this much (dB) of the power of
#: the harmonics both share, and its fundamental this far over its own troughs: a
#: note a fifth away ringing into the estimate's fills some of them, but not that.
#: On 22 instruments' scales a correct estimate's stand -5 dB (median; 17 at the
#: 99th percentile, most of them far under the shared ones), a third's 18 dB at -3 dB.
UNSHARED_HNR_DB, UNSHARED_SHARE_DB, UNSHARED_FUNDAMENTAL_DB = 12.0, -15.0, 10.0
#: ... and for f0 / 3 whatever the estimate's HNR, those harmonics at most this far
#: under the shared ones (an oboe's A4 read as E6: 6-8 dB; a note with the tail of
#: one a twelfth below 12 dB under it must stay)
THIRD_SHARE_DB = -10.0


def unshared_levels(fit: HarmonicFit, divisor: int):
    """For a fit of ``f0 / divisor`` (made with ``levels``): its harmonics that are
    not the estimate's (``k`` not a multiple of ``divisor``), their peaks against
    their troughs and against the shared harmonics' peaks, and its fundamental's
    peak against its troughs; dB, ``[n]`` each."""
    own = np.arange(1, fit.peak_power.shape[1] + 1) % divisor != 0

    def db(power):
        return 10 * np.log10(np.maximum(power, 1e-30))

    peaks = db(fit.peak_power[:, own].sum(axis=1))
    return (peaks - db(fit.trough_power[:, own].sum(axis=1)),
            peaks - db(fit.peak_power[:, ~own].sum(axis=1)),
            db(fit.peak_power[:, 0]) - db(fit.trough_power[:, 0]))


def fix_octaves(audio: torch.Tensor, hop_length: int, f0_hz: np.ndarray, sample_rate: int,
                periods: float, fmin: float = 30.0, fmax: float = 4200.0) -> np.ndarray:
    """Move estimates that lock onto a harmonic (or a sub-harmonic) to the f0
    (``[n_frames]`` f0 at frames ``i * hop_length`` in and out).

    Down to ``f0 / 2`` or ``f0 / 3`` when the estimate's HNR is lowish (< 15 dB:
    strong partials between its harmonics) and either the divided one fits at least
    6 dB better than the estimate analysed with the same (longer) window (a longer
    window resolves any sound's partials better, so against the estimate's own
    short-window HNR a noisy held note would move to a sub-harmonic), or the divided
    one's own harmonics, those the estimate lacks, are partials
    (:func:`unshared_levels`): at least :data:`UNSHARED_HNR_DB` over their troughs,
    within :data:`UNSHARED_SHARE_DB` of the shared ones, the fundamental
    :data:`UNSHARED_FUNDAMENTAL_DB` over its own troughs (a cello's C2 read on its
    third harmonic has its first, second and fourth 6-21 dB under its third; the HNR
    test is blind to a third, whose troughs fall half-way between the true
    harmonics, so for ``f0 / 3`` the partials alone suffice, whatever the estimate's
    HNR, when they are within :data:`THIRD_SHARE_DB` of the shared ones: an oboe's
    held A4 read on its third harmonic for 0.7 s had an HNR of 50-60 dB). Up to
    ``2 * f0`` when its odd harmonics hold 15 dB less power than its even ones (they
    are not there), up to ``fmax``: past CREPE's top (1975 Hz) it reads a note an
    octave low, which only this move puts right (a piccolo's or a flute's C7; C8 is
    4186 Hz). The decisions are median-filtered over 5 frames, so a note moves as a
    whole.
    """
    fit = harmonic_refine(audio, hop_length, f0_hz, sample_rate, periods)
    shift = np.zeros(f0_hz.shape[0])
    best = np.full(f0_hz.shape[0], -np.inf)
    for divisor in (2, 3):
        sub = harmonic_refine(audio, hop_length, f0_hz / divisor, sample_rate, periods,
                              levels=True)
        same = harmonic_refine(audio, hop_length, f0_hz, sample_rate, periods * divisor)
        own_hnr, own_share, fundamental = unshared_levels(sub, divisor)
        partials = ((own_hnr >= UNSHARED_HNR_DB) & (own_share >= UNSHARED_SHARE_DB)
                    & (fundamental >= UNSHARED_FUNDAMENTAL_DB))
        # the HNR test cannot see a third (its troughs fall between the true
        # harmonics): there the partials alone decide
        lowish = (fit.hnr_db < 15) | (partials & (own_share >= THIRD_SHARE_DB)
                                      if divisor == 3 else False)
        better = (lowish & (sub.hnr_db > best)
                  & ((sub.hnr_db > same.hnr_db + 6) | partials) & (f0_hz / divisor >= fmin))
        shift[better], best[better] = -np.log2(divisor), sub.hnr_db[better]
    shift[(fit.odd_even_db < -15) & (f0_hz * 2 <= fmax)] = 1.0
    if shift.shape[0] >= 3:
        # Reflect, not repeat, at the ends: repeating would give an edge frame (often
        # an attack or a half-empty window) three of the five votes.
        padded = np.pad(shift, 2, mode="reflect" if shift.shape[0] >= 5 else "symmetric")
        shift = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
    return f0_hz * 2.0 ** shift


#: A pitch whose overtones (:func:`overtones_db`) stand under this (dB) has none: noise
#: through a resonance (wind), a pure tone; not an instrument's note.
BARE_OVERTONES_DB = 8.0
#: Where the coarse network reads such a pitch, that band (this many cents either
#: side) is taken out of the frame and the network asked again: a resonance's narrow
#: band can hide a louder note from a small network (CREPE tiny read a violin's E6
#: in 310 Hz wind at 10 dB SNR as the wind on most frames). The second reading
#: stands where it lies over MASK_CENTS / 3 away, the network is sure of it (0.5),
#: its overtones stand UNMASKED_OVERTONES_DB or more ...
MASK_CENTS, UNMASKED_OVERTONES_DB = 300.0, 12.0
#: ... and it is no harmonic or subharmonic of the first, within this (cents).
HARMONIC_CENTS = 25.0
#: A background tone's lines are taken out this many bins either side (the network's
#: 1024-sample frames are not windowed: the leakage reaches further than a Hann's).
LINE_BINS = 3


def unmask_notes(audio: torch.Tensor, hop_length: int, f0_hz: np.ndarray, sample_rate: int,
                 periods: float, crepe: CrepeTracker, frames: np.ndarray) -> np.ndarray:
    """``f0_hz`` (``[n_frames]`` Hz at frames ``i * hop_length`` of 16 kHz ``audio``)
    with those of ``frames`` (indices: the frames the network heard something in)
    whose pitch has no overtones, as has a neighbour's, read again by ``crepe`` with
    that pitch's band taken out (:data:`MASK_CENTS`), and those whose pitch is the
    recording's steady background tone (a fan's blade:
    :func:`~timbral.features.background.background_tone`) read again with the
    background's lines taken out (:data:`LINE_BINS`); overtones measured over
    ``periods`` periods. Returns float64 ``[n_frames]`` Hz."""
    f0_hz = np.asarray(f0_hz, np.float64)
    if frames.size == 0:
        return f0_hz
    fit = harmonic_refine(audio, hop_length, f0_hz[frames], sample_rate, periods, levels=True,
                          frames=frames)
    bare = np.zeros(f0_hz.shape[0] + 2, bool)  # padded: the ends have no bare neighbour
    bare[frames + 1] = overtones_db(fit) < BARE_OVERTONES_DB
    # with a neighbour as bare, as wind is (a note's odd frame, at a change, is not)
    windy = np.flatnonzero(bare[1:-1] & (bare[:-2] | bare[2:]))
    bins = np.fft.rfftfreq(WINDOW, 1.0 / sample_rate)
    masks = {int(k): np.abs(1200.0 * np.log2(np.maximum(bins, 1.0) / f0_hz[k])) <= MASK_CENTS
             for k in windy}
    samples = audio.numpy()
    background = recording_background(samples, sample_rate, hop_length, f0_hz.shape[0])
    steady = []
    if background is not None:
        candidates = np.zeros(f0_hz.shape[0], bool)
        candidates[frames] = True
        candidates[list(masks)] = False
        steady = np.flatnonzero(background_frames(samples, sample_rate, hop_length,
                                                  f0_hz, candidates, background))
        line_hz = sample_rate / spectrum_size(sample_rate)  # the background's bins
        for k in steady:
            lines = tone_lines(background, f0_hz[k], sample_rate) * line_hz
            masks[int(k)] = np.abs(bins[:, None] - lines).min(axis=1) \
                <= LINE_BINS * sample_rate / WINDOW
    if not masks:
        return f0_hz
    idx = np.array(sorted(masks))
    windows = centered_frames(audio, WINDOW, hop_length)[torch.from_numpy(idx)]
    spectra = np.fft.rfft(windows.double().numpy(), axis=1)
    spectra[np.stack([masks[int(k)] for k in idx])] = 0.0
    masked = torch.from_numpy(np.fft.irfft(spectra, WINDOW, axis=1)).float()
    act = frame_activations(crepe.net, masked, crepe.batch_size, crepe.device)
    sure = act.max(axis=1) >= 0.5
    again = cents_to_hz(local_average_cents(act[sure], act[sure].argmax(axis=1)))
    idx = idx[sure]
    # not a harmonic or a subharmonic of the masked pitch: those are the masked sound's
    # own partials (a clarinet's fifth harmonic, its fundamental gone) or fit them (a
    # piccolo's); where the background's lines were taken out, only not a subharmonic
    # (a note over a fan's 108 Hz lies near one of its many harmonics)
    ratio = again / f0_hz[idx]
    related = np.abs(1200.0 * np.log2(np.maximum(ratio, 1.0 / ratio)
                                      / np.round(np.maximum(ratio, 1.0 / ratio))))
    related = (related <= HARMONIC_CENTS) & ((ratio < 1.0) | ~np.isin(idx, steady))
    apart = (np.maximum(ratio, 1.0 / ratio) > 2.0 ** (MASK_CENTS / 3 / 1200.0)) & ~related
    idx, again = idx[apart], again[apart]
    out = f0_hz.copy()
    if idx.size:
        clear = overtones_db(harmonic_refine(audio, hop_length, again, sample_rate, periods,
                                             levels=True, frames=idx))
        takes = clear >= UNMASKED_OVERTONES_DB
        out[idx[takes]] = again[takes]
    return out


def hnr_confidence(hnr_db: np.ndarray) -> np.ndarray:
    """Harmonic-to-noise ratio (dB) -> voicing confidence in [0, 1]: a
    logistic centred on 12 dB, 3 dB wide (noise stays below 0.2, clean notes
    reach 1)."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(hnr_db) - 12.0) / 3.0))


def coarse_to_fine(values: np.ndarray, coarse_hop: int, hop_length: int, n_frames: int,
                   log: bool = False) -> np.ndarray:
    """Linear interpolation of coarse-frame ``values`` (frame ``j`` at sample
    ``j * coarse_hop``) onto fine frames ``i * hop_length``; in log space if ``log``."""
    pos = np.arange(n_frames) * hop_length / coarse_hop
    src = np.log(values) if log else values
    out = np.interp(pos, np.arange(values.shape[0]), src)
    return np.exp(out) if log else out


class RefinedTracker(PitchTracker):
    """``coarse`` network ('crepe-tiny' or 'pesto') every ``coarse_hop``
    samples (25 ms at 16 kHz), refined on every frame of any finer hop.

    Steps: the network's f0 and confidence every 25 ms; :func:`fix_octaves`
    on those, with windows of ``octave_periods`` periods (shorter than the
    refinement's ``periods``, so an attack is judged on its own sound rather
    than with the previous note's or the silence before it; 3 periods cut the
    SoundFont benchmark's gross errors from 2.2 % to 1.9 %); with CREPE, a
    pitch without overtones read again with its band taken out
    (:func:`unmask_notes`: a note behind wind); every fine
    frame refined from the log-interpolated coarse f0;
    where two coarse neighbours disagree by more than ``JUMP_CENTS``, both
    are refined and the one with the higher HNR kept.

    The CREPE coarse pass decodes with a Viterbi path that may also jump
    anywhere (``jump_prob``): at 20 ms steps CREPE's own prior (at most 11
    bins a frame) lags behind note changes for tens of milliseconds.

    Confidence: the larger of the network's (interpolated to the fine frames)
    and :func:`hnr_confidence` of the fine frame's spectrum, which recovers
    voiced frames the network doubts (e.g. unusual timbres) without letting
    noise through; voiced from 0.5, below it the f0 is interpolated.
    """

    def __init__(self, coarse: str = "crepe-tiny", coarse_hop: int = 400, device: str = "cpu",
                 periods: float = 5.0, jump_prob: float = 0.01, viterbi: bool = True,
                 octave_check: bool = True, octave_periods: float = 3.0):
        if coarse == "crepe-tiny":
            self.coarse = CrepeTracker("tiny", device, viterbi=viterbi, jump_prob=jump_prob)
        elif coarse == "pesto":
            from .pesto import PestoTracker

            self.coarse = PestoTracker(device)
        else:
            raise ValueError(f"coarse: expected 'crepe-tiny' or 'pesto', got {coarse!r}")
        self.coarse_hop, self.periods, self.octave_check = int(coarse_hop), periods, octave_check
        self.octave_periods = octave_periods
        self.name = f"{coarse}-refined"
        self.sample_rate = self.coarse.sample_rate
        self.voicing_threshold = self.coarse.voicing_threshold

    def _track(self, audio, hop_length):
        n_frames = audio.shape[0] // hop_length + 1
        coarse_hop = max(self.coarse_hop, hop_length)
        if isinstance(self.coarse, CrepeTracker):
            f0_c, conf_c, support = self.coarse.decode(self.coarse.activations(audio, coarse_hop))
        else:
            f0_c, conf_c = self.coarse._track(audio, coarse_hop)
            support = conf_c
        # Candidates: the coarse estimates wherever the network has any confidence,
        # but not a path the Viterbi prior carried out of silence into frames that
        # hear something else: at an attack after silence it held CREPE's reading of
        # the silence (its top bin, 1975 Hz) where the frame heard another pitch. Such
        # a path comes from a frame without confidence; one held from a confident
        # frame (through an octave blip, say) is kept. The frames dropped take the
        # note that follows them.
        kept = conf_c >= COARSE_FILL
        dropped = np.zeros_like(kept)
        for k in np.flatnonzero(kept & (support < COARSE_FILL)):
            if k == 0 or not kept[k - 1]:
                kept[k], dropped[k] = False, True
        f0_c = fill_unvoiced(f0_c, kept).astype(np.float64)
        for k in np.flatnonzero(dropped[:-1])[::-1]:
            f0_c[k] = f0_c[k + 1]
        x = torch.from_numpy(audio)
        if self.octave_check:
            f0_c = fix_octaves(x, coarse_hop, f0_c, self.sample_rate, self.octave_periods)
        if isinstance(self.coarse, CrepeTracker):
            f0_c = unmask_notes(x, coarse_hop, f0_c, self.sample_rate, self.octave_periods,
                                self.coarse, np.flatnonzero(kept))
        conf = coarse_to_fine(conf_c, coarse_hop, hop_length, n_frames)
        fit = harmonic_refine(x, hop_length, coarse_to_fine(f0_c, coarse_hop, hop_length,
                                                            n_frames, log=True),
                              self.sample_rate, self.periods)
        f0, hnr = fit.f0_hz, fit.hnr_db
        # Note changes between coarse frames: refine both neighbours' pitches, keep the
        # better-supported one.
        pos = np.arange(n_frames) * hop_length / coarse_hop
        before = np.minimum(np.floor(pos).astype(np.int64), f0_c.shape[0] - 1)
        after = np.minimum(before + 1, f0_c.shape[0] - 1)
        jump = np.abs(1200 * np.log2(f0_c[after] / f0_c[before])) > JUMP_CENTS
        if jump.any():
            idx = np.nonzero(jump)[0]
            a = harmonic_refine(x, hop_length, f0_c[before[idx]], self.sample_rate,
                                self.periods, frames=idx)
            b = harmonic_refine(x, hop_length, f0_c[after[idx]], self.sample_rate,
                                self.periods, frames=idx)
            f0[idx] = np.where(b.hnr_db > a.hnr_db, b.f0_hz, a.f0_hz)
            hnr[idx] = np.maximum(a.hnr_db, b.hnr_db)
        return f0, np.maximum(conf, hnr_confidence(hnr))
