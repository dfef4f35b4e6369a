"""Oscillators: sinusoid banks, the harmonic synthesis kernel, wavetables, delays.

Where this differs from Magenta's ``ddsp.core`` on purpose it says so: phase
is accumulated exactly (float64, wrapped), and the harmonic kernel renders
block by block without storing per-harmonic envelopes (hand-written because it
carries the synth's speed and memory; see BENCHMARKS.md).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from ..validation import as_audio, as_tensor, check_positive, check_size
from .conversions import safe_divide, unit_to_hz
from .resampling import interpolation_taps, resample

TWO_PI = 2.0 * math.pi


def angular_cumsum(angular_frequency, dim: int = 1) -> torch.Tensor:
    """Exact phase accumulator: inclusive cumulative sum of radians per sample.

    The sum runs in float64 and is wrapped to [0, 2 pi) before returning in
    the input's dtype, so phase stays exact over hours of audio. (Magenta's
    default float32 cumsum drifts by ~0.5 in the waveform after 4 s; its own
    chunked ``angular_cumsum`` reduces but does not remove that.) The first
    output is ``angular_frequency[0]``: there is no initial phase.
    """
    omega = as_tensor(angular_frequency, "angular_frequency")
    if not -omega.ndim <= dim < omega.ndim:
        raise ValueError(f"angular_frequency: shape {list(omega.shape)} has no dimension {dim} "
                         f"to sum along (the samples' dimension)")
    phase = torch.cumsum(omega.to(torch.float64), dim=dim)
    return torch.remainder(phase, TWO_PI).to(omega.dtype)


def remove_above_nyquist(frequency_envelopes, amplitude_envelopes,
                         sample_rate: float = 16000) -> torch.Tensor:
    """Zero the amplitudes of oscillators whose frequency is >= Nyquist.

    Args:
      frequency_envelopes: oscillator frequencies (Hz), any shape broadcastable
        with ``amplitude_envelopes``.
      amplitude_envelopes: oscillator amplitudes.
      sample_rate: samples per second.
    """
    freq = as_tensor(frequency_envelopes, "frequency_envelopes")
    amps = as_tensor(amplitude_envelopes, "amplitude_envelopes")
    return torch.where(freq >= sample_rate / 2.0, torch.zeros_like(amps), amps)


def oscillator_bank(frequency_envelopes, amplitude_envelopes, sample_rate: float = 16000,
                    sum_sinusoids: bool = True,
                    use_angular_cumsum: bool = False) -> torch.Tensor:
    """Sum (or stack) sinusoids from sample-wise frequencies and amplitudes.

    Args:
      frequency_envelopes: ``[batch, n_samples, n_sinusoids]`` in Hz.
      amplitude_envelopes: ``[batch, n_samples, n_sinusoids]``.
      sample_rate: samples per second.
      sum_sinusoids: return ``[batch, n_samples]`` (True) or every sinusoid
        ``[batch, n_samples, n_sinusoids]``.
      use_angular_cumsum: accepted for compatibility with Magenta; phase is
        always accumulated exactly (:func:`angular_cumsum`), so both values give
        the same, drift-free result.

    Amplitudes are zeroed where the frequency is >= Nyquist. Phase is the
    inclusive cumulative sum of ``2 pi f / sample_rate`` (first sample is
    ``sin(omega_0)``). Memory is ``batch x n_samples x n_sinusoids``; for
    harmonic sounds :func:`harmonic_synthesis` needs far less.
    """
    del use_angular_cumsum  # exact accumulation either way (see docstring)
    freq = as_tensor(frequency_envelopes, "frequency_envelopes")
    amps = as_tensor(amplitude_envelopes, "amplitude_envelopes")
    sample_rate = check_positive(sample_rate, "sample_rate")
    if freq.ndim != 3 or amps.ndim != 3 or freq.shape[1] != amps.shape[1]:
        raise ValueError(f"envelopes: expected [batch, n_samples, n_sinusoids] frequencies and "
                         f"amplitudes of the same length, got {list(freq.shape)} and "
                         f"{list(amps.shape)}")
    amps = remove_above_nyquist(freq, amps, sample_rate)
    phase = angular_cumsum(freq * (TWO_PI / sample_rate), dim=1)
    audio = amps * torch.sin(phase)
    return audio.sum(-1) if sum_sinusoids else audio


def get_harmonic_frequencies(frequencies, n_harmonics: int) -> torch.Tensor:
    """Integer multiples of the fundamental: ``[..., 1]`` Hz -> ``[..., n_harmonics]`` Hz."""
    f0 = as_tensor(frequencies, "frequencies")
    n_harmonics = check_size(n_harmonics, "n_harmonics")
    ratios = torch.arange(1, n_harmonics + 1, dtype=f0.dtype, device=f0.device)
    return f0 * ratios


def normalize_harmonics(harmonic_distribution, f0_hz=None,
                        sample_rate: Optional[float] = None) -> torch.Tensor:
    """Make each frame's harmonic distribution sum to 1.

    With ``f0_hz`` ``[batch, n_frames, 1]`` and ``sample_rate`` given, harmonics
    at or above Nyquist are zeroed first (so the audible ones carry all the
    energy). ``harmonic_distribution`` is ``[batch, n_frames, n_harmonics]``.
    """
    dist = as_tensor(harmonic_distribution, "harmonic_distribution")
    if f0_hz is not None and sample_rate is not None:
        freqs = get_harmonic_frequencies(f0_hz, int(dist.shape[-1]))  # int(): traceable
        dist = remove_above_nyquist(freqs, dist, sample_rate)
    return safe_divide(dist, dist.sum(-1, keepdim=True))


def _pad_edge(x: torch.Tensor, pad: int) -> torch.Tensor:
    """``[batch, n]`` -> ``[batch, n + pad]``, repeating the last value."""
    return torch.cat([x, x[:, -1:].expand(-1, pad)], dim=1) if pad else x


class _HarmonicBank(torch.autograd.Function):
    """Sum of harmonics ``y[t] = sum_k A_k(t) sin(k phase[t])``, never materialising [B, T, K].

    ``A_k(t) = sum_m weight[t, m] * amps[index[t, m], k]`` is the resampled
    amplitude envelope (taps from :func:`interpolation_taps`) and harmonic k is
    silent where ``k * freq[t] >= sample_rate / 2``. Samples are cut into blocks
    of ``block`` steps that read a few consecutive frames, so each block is one
    small matmul ``sin [block, K] @ amps [K, frames]``. Backward recomputes the
    sines and cosines block by block instead of storing them: memory is
    O(batch x n_samples) plus one chunk, not O(batch x n_samples x K).
    """

    CHUNK_ELEMENTS = 1 << 20  # sin/cos values computed at once (4 MiB in float32)

    @staticmethod
    def _plan(index, weight, n_frames, block):
        """Per-block frame windows: ``(frames [n_blocks, nf], weights [n_blocks, block, nf])``,
        the ``nf`` consecutive frames each block reads and each sample's weight on them."""
        n_steps = index.shape[0]
        n_blocks = -(-n_steps // block)
        pad = n_blocks * block - n_steps
        if pad:
            index = torch.cat([index, index[-1:].expand(pad, -1)])
            weight = torch.cat([weight, weight.new_zeros(pad, weight.shape[1])])
        index = index.view(n_blocks, block, -1)
        first = index.amin(dim=(1, 2))
        local = index - first[:, None, None]
        nf = int(local.max()) + 1
        dense = weight.new_zeros(n_blocks, block, nf)
        dense.scatter_add_(2, local, weight.view(n_blocks, block, -1))
        frames = (first[:, None] + torch.arange(nf, device=index.device)).clamp(max=n_frames - 1)
        return frames, dense

    @staticmethod
    def _chunks(freq, n_blocks, block, n_harmonics, nyquist):
        """Yield (row, first block, end block, kk, sample mask or None, n_safe).

        Rows are processed one at a time so each only computes the harmonics
        below Nyquist for its own pitch range (a low note in one row does not
        make every row compute all harmonics).
        """
        batch = freq.shape[0]
        per_chunk = max(1, _HarmonicBank.CHUNK_ELEMENTS // (block * n_harmonics))
        n_chunks = -(-n_blocks // per_chunk)
        span = per_chunk * block
        f = _pad_edge(freq, n_chunks * span - freq.shape[1]).view(batch, n_chunks, span)
        f_min, f_max = f.amin(-1).tolist(), f.amax(-1).tolist()
        for row in range(batch):
            for c in range(n_chunks):
                b0, b1 = c * per_chunk, min(n_blocks, (c + 1) * per_chunk)
                lo, hi = f_min[row][c], f_max[row][c]
                # Harmonics with k * f >= Nyquist everywhere in the chunk are silent.
                k_on = n_harmonics if lo <= 0 else min(n_harmonics, math.ceil(nyquist / lo) - 1)
                if k_on < 1:
                    continue
                k_safe = n_harmonics if hi <= 0 else min(k_on, math.ceil(nyquist / hi) - 1)
                kk = torch.arange(1, k_on + 1, dtype=freq.dtype, device=freq.device)
                mask = None
                if k_safe < k_on:
                    f_chunk = freq[row, b0 * block:b1 * block].view(b1 - b0, block, 1)
                    mask = (f_chunk * kk[k_safe:]) < nyquist
                yield row, b0, b1, kk, mask, k_safe

    @staticmethod
    def forward(ctx, phase, freq, amps, frames, dense, nyquist):
        batch, n_steps = phase.shape
        n_blocks, block, _ = dense.shape
        pad = n_blocks * block - n_steps
        phase_p = F.pad(phase, (0, pad)).view(batch, n_blocks, block, 1)
        freq_p = _pad_edge(freq, pad)
        out = phase.new_zeros(batch, n_blocks, block)
        for row, b0, b1, kk, mask, k_safe in _HarmonicBank._chunks(
                freq_p, n_blocks, block, amps.shape[-1], nyquist):
            s = torch.sin(phase_p[row, b0:b1] * kk)  # [nb, block, k]
            if mask is not None:
                s[..., k_safe:] *= mask
            a = amps[row, frames[b0:b1], :kk.shape[0]]  # [nb, nf, k]
            out[row, b0:b1] = (torch.matmul(s, a.transpose(-1, -2)) * dense[b0:b1]).sum(-1)
        ctx.save_for_backward(phase_p, freq_p, amps, frames, dense)
        ctx.nyquist, ctx.n_steps = nyquist, n_steps
        return out.view(batch, -1)[:, :n_steps]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        phase_p, freq_p, amps, frames, dense = ctx.saved_tensors
        want_phase, _, want_amps = ctx.needs_input_grad[:3]
        batch, n_blocks, block, _ = phase_p.shape
        g = F.pad(grad_out, (0, n_blocks * block - ctx.n_steps)).view(batch, n_blocks, block)
        grad_phase = phase_p.new_zeros(batch, n_blocks, block) if want_phase else None
        grad_amps = torch.zeros_like(amps) if want_amps else None
        for row, b0, b1, kk, mask, k_safe in _HarmonicBank._chunks(
                freq_p, n_blocks, block, amps.shape[-1], ctx.nyquist):
            k_on = kk.shape[0]
            arg = phase_p[row, b0:b1] * kk  # [nb, block, k]
            g_frames = g[row, b0:b1, :, None] * dense[b0:b1]  # [nb, block, nf]
            if want_amps:
                s = torch.sin(arg)
                if mask is not None:
                    s[..., k_safe:] *= mask
                ga = torch.matmul(g_frames.transpose(-1, -2), s)  # [nb, nf, k]
                grad_amps[row, :, :k_on].index_add_(0, frames[b0:b1].reshape(-1),
                                                    ga.reshape(-1, k_on))
            if want_phase:
                c = torch.cos(arg).mul_(kk)
                if mask is not None:
                    c[..., k_safe:] *= mask
                a = amps[row, frames[b0:b1], :k_on]  # [nb, nf, k]
                grad_phase[row, b0:b1] = (torch.matmul(c, a.transpose(-1, -2))
                                          * g_frames).sum(-1)
        if grad_phase is not None:
            grad_phase = grad_phase.view(batch, -1)[:, :ctx.n_steps]
        return grad_phase, None, grad_amps, None, None, None


def harmonic_synthesis(frequencies, amplitudes, harmonic_shifts=None,
                       harmonic_distribution=None, n_samples: int = 64000,
                       sample_rate: float = 16000, amp_resample_method: str = "window",
                       use_angular_cumsum: bool = False, initial_phase=None) -> torch.Tensor:
    """Audio from a frame-wise monophonic harmonic oscillator bank.

    Args:
      frequencies: fundamental frequency ``[batch, n_frames, 1]`` in Hz.
      amplitudes: ``[batch, n_frames, 1]`` overall amplitude (or per-harmonic
        ``[batch, n_frames, n_harmonics]`` when no distribution is given).
      harmonic_shifts: optional inharmonicity ``[batch, n_frames,
        n_harmonics]``: harmonic k sounds at ``k * f0 * (1 + shift)``.
      harmonic_distribution: ``[batch, n_frames, n_harmonics]`` relative
        amplitudes; harmonic k's amplitude is ``amplitudes * distribution_k``.
      n_samples: output length.
      sample_rate: samples per second.
      amp_resample_method: how per-harmonic amplitudes reach the sample rate
        ('window' | 'linear' | 'cubic' | 'nearest'); frequencies are always
        upsampled linearly.
      use_angular_cumsum: accepted for Magenta compatibility; phase is always
        exact (see :func:`angular_cumsum`).
      initial_phase: the fundamental's phase (radians, ``[batch]`` or a
        number) before the first sample, to continue a signal rendered in
        pieces; None means 0. Harmonic k starts at k times it.

    Returns:
      ``[batch, n_samples]`` audio.

    Without shifts every harmonic's phase is ``k`` times the fundamental's
    (exact, since linear upsampling commutes with the factor k), so one phase
    accumulator serves all harmonics and the per-harmonic envelopes are never
    stored (see ``_HarmonicBank``).
    """
    del use_angular_cumsum  # exact accumulation either way
    f0 = as_tensor(frequencies, "frequencies")
    amps = as_tensor(amplitudes, "amplitudes")
    n_samples = check_size(n_samples, "n_samples")
    sample_rate = check_positive(sample_rate, "sample_rate")
    if harmonic_distribution is not None:
        harmonic_amps = amps * as_tensor(harmonic_distribution, "harmonic_distribution")
    else:
        harmonic_amps = amps
    n_harmonics = harmonic_amps.shape[-1]
    if harmonic_shifts is not None:
        shifts = as_tensor(harmonic_shifts, "harmonic_shifts")
        freqs = get_harmonic_frequencies(f0, shifts.shape[-1]) * (1.0 + shifts)
        freq_env = resample(freqs, n_samples, "linear")
        amp_env = resample(harmonic_amps.expand(-1, -1, shifts.shape[-1]), n_samples,
                           amp_resample_method)
        return oscillator_bank(freq_env, amp_env, sample_rate)

    # The envelope and phase are built in float64: float32 rounding of f0 would
    # bias the frequency and the phase error would grow with time.
    f0_env = resample(f0.to(torch.float64), n_samples, "linear")[..., 0]  # [B, T]
    omega = f0_env * (TWO_PI / sample_rate)
    if initial_phase is not None:  # folded into the first increment: exact in float64
        omega = omega.clone()
        omega[:, 0] += torch.as_tensor(initial_phase, dtype=torch.float64, device=omega.device)
    phase = angular_cumsum(omega, dim=1).to(harmonic_amps.dtype)
    f0_env = f0_env.to(harmonic_amps.dtype)
    n_frames = harmonic_amps.shape[1]
    index, weight = interpolation_taps(n_frames, n_samples, amp_resample_method, True,
                                       harmonic_amps.dtype, harmonic_amps.device)
    block = max(1, n_samples // n_frames)
    frames, dense = _HarmonicBank._plan(index, weight, n_frames, block)
    batch = max(phase.shape[0], harmonic_amps.shape[0])
    return _HarmonicBank.apply(phase.expand(batch, -1), f0_env.detach().expand(batch, -1),
                               harmonic_amps.expand(batch, -1, n_harmonics), frames, dense,
                               sample_rate / 2.0)


# Wavetables and delays ----------------------------------------------------------
def _read_tables(tables: torch.Tensor, rows: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """Linear-interpolated read of ``tables`` [batch, n_rows, n] at ``phase`` [batch,
    n_samples] (cycles), sample t reading row ``rows[t]``; tables wrap around."""
    n = tables.shape[-1]
    flat = torch.cat([tables, tables[..., :1]], dim=-1).reshape(tables.shape[0], -1)
    pos = torch.remainder(phase, 1.0) * n
    lo = torch.floor(pos).clamp(max=n - 1)
    frac = pos - lo
    base = (rows * (n + 1)).expand_as(phase) + lo.long()
    batch = max(flat.shape[0], base.shape[0])
    flat, base = flat.expand(batch, -1), base.expand(batch, -1)
    v0 = flat.gather(1, base)
    return v0 + frac * (flat.gather(1, base + 1) - v0)


def linear_lookup(phase, wavetables) -> torch.Tensor:
    """Read wavetables with linear interpolation.

    Args:
      phase: position in the table, in cycles [0, 1), ``[batch, n_samples]``
        or ``[batch, n_samples, 1]``.
      wavetables: ``[batch, n_wavetable]`` (one table) or ``[batch, n_samples,
        n_wavetable]`` (a table per sample). The table wraps around (its first
        value follows its last).

    Returns:
      ``[batch, n_samples]``.
    """
    phase = as_tensor(phase, "phase")
    tables = as_tensor(wavetables, "wavetables")
    if phase.ndim == 3:
        phase = phase[..., 0]
    if tables.ndim == 2:
        tables = tables[:, None, :]
        rows = torch.zeros(phase.shape[-1], dtype=torch.long, device=phase.device)
    else:
        rows = torch.arange(phase.shape[-1], device=phase.device)
    return _read_tables(tables, rows, phase)


def wavetable_synthesis(frequencies, amplitudes, wavetables, n_samples: int = 64000,
                        sample_rate: float = 16000) -> torch.Tensor:
    """Monophonic wavetable oscillator.

    Args:
      frequencies: ``[batch, n_frames, 1]`` Hz.
      amplitudes: ``[batch, n_frames, 1]`` (upsampled with windows).
      wavetables: ``[batch, n_wavetable]`` or ``[batch, n_frames, n_wavetable]``
        (one cycle per table; frame-wise tables are interpolated linearly
        between frames, read per frame so no per-sample tables are stored).
      n_samples: output length; sample_rate: samples per second.

    Returns:
      ``[batch, n_samples]``. Phase (in cycles) starts at 0 and is accumulated
      exactly.
    """
    tables = as_tensor(wavetables, "wavetables")
    n_samples = check_size(n_samples, "n_samples")
    amp_env = resample(amplitudes, n_samples, "window")[..., 0]
    freq_env = resample(as_tensor(frequencies, "frequencies").to(torch.float64), n_samples,
                        "linear")[..., 0]
    # Exclusive cumulative phase in cycles: the first sample reads the table start.
    cycles = torch.cumsum(freq_env / sample_rate, dim=1)
    cycles = torch.remainder(F.pad(cycles[:, :-1], (1, 0)), 1.0).to(tables.dtype)
    if tables.ndim == 2:
        tables = tables[:, None, :]
    if tables.shape[1] == 1:
        rows = torch.zeros(n_samples, dtype=torch.long, device=tables.device)
        audio = _read_tables(tables, rows, cycles)
    else:
        index, weight = interpolation_taps(tables.shape[1], n_samples, "linear", True,
                                           tables.dtype, tables.device)
        audio = sum(weight[:, m] * _read_tables(tables, index[:, m], cycles)
                    for m in range(index.shape[1]))
    return audio * amp_env


def _add_depth_axis(freqs: torch.Tensor, depth: int) -> torch.Tensor:
    """``[batch, time, n * depth]`` -> ``[batch, time, n, depth]``."""
    if freqs.shape[-1] % depth:
        raise ValueError(f"freqs: last dim {freqs.shape[-1]} is not a multiple of depth {depth}")
    return freqs.reshape(*freqs.shape[:-1], freqs.shape[-1] // depth, depth)


def frequencies_softmax(freqs, depth: int = 1, hz_min: float = 20.0,
                        hz_max: float = 8000.0) -> torch.Tensor:
    """Network outputs -> frequencies (Hz), log-spaced, via a softmax over bins.

    Args:
      freqs: ``[batch, time, n_sinusoids * depth]`` or ``[batch, time,
        n_sinusoids, depth]``.
      depth: softmax components per sinusoid when ``freqs`` is 3-D.
      hz_min, hz_max: frequency range.

    Returns:
      ``[batch, time, n_sinusoids]`` Hz: the softmax-weighted mean of ``depth``
      positions spread evenly (in MIDI) over [hz_min, hz_max]. As in Magenta,
      depth 1 always gives ``hz_min``.
    """
    freqs = as_tensor(freqs, "freqs")
    if freqs.ndim == 3:
        freqs = _add_depth_axis(freqs, check_size(depth, "depth"))
    probs = torch.softmax(freqs, dim=-1)
    bins = torch.linspace(0.0, 1.0, probs.shape[-1], dtype=probs.dtype, device=probs.device)
    return unit_to_hz((probs * bins).sum(-1), hz_min=hz_min, hz_max=hz_max)


def variable_length_delay(phase, audio, max_length: int = 512) -> torch.Tensor:
    """Delay audio by a time-varying amount with linear interpolation.

    Args:
      phase: delay as a fraction of ``max_length`` in [0, 1], ``[batch,
        n_samples]`` or ``[batch, n_samples, 1]``.
      audio: ``[batch, n_samples]``.
      max_length: longest delay in samples.

    Returns:
      ``[batch, n_samples]``: ``out[t] = audio[t - d]`` with ``d = phase[t] *
      max_length`` samples (fractional delays interpolated linearly), zeros
      before the start. Magenta's version wraps delays above ``max_length - 1``
      back toward the current sample; here they read the past as they should.
    """
    audio = as_audio(audio)
    phase = as_tensor(phase, "phase")
    if phase.ndim == 3:
        phase = phase[..., 0]
    max_length = check_size(max_length, "max_length")
    padded = F.pad(audio, (max_length, 0))
    t = torch.arange(audio.shape[-1], device=audio.device, dtype=phase.dtype)
    pos = t + max_length - phase.clamp(0.0, 1.0) * max_length
    lo = torch.floor(pos)
    frac = pos - lo
    lo = lo.long().clamp(0, padded.shape[-1] - 2)
    batch = max(padded.shape[0], lo.shape[0])
    padded, lo = padded.expand(batch, -1), lo.expand(batch, -1)
    v0 = padded.gather(1, lo)
    v1 = padded.gather(1, lo + 1)
    return v0 + frac * (v1 - v0)


__all__ = ['TWO_PI', 'angular_cumsum', 'remove_above_nyquist', 'oscillator_bank', 'get_harmonic_frequencies', 'normalize_harmonics', 'harmonic_synthesis', 'linear_lookup', 'wavetable_synthesis', 'frequencies_softmax', 'variable_length_delay']
