"""Pure tensor functions of DDSP: conversions, resampling, oscillators, filters.

Names and definitions follow Google Magenta's ``ddsp.core`` (v3.7) so ported
code reads the same and gives the same numbers (float32 tolerance). Where this
module differs on purpose it says so in the docstring (exact phase
accumulation; no empty-slice bug in delay cropping).

Conventions: audio is ``[batch, n_samples]``; frame-rate controls are
``[batch, n_frames, channels]`` (time before channels). Frequencies are in Hz,
phases in radians. Functions keep the dtype and device of their inputs.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from .validation import as_audio, as_tensor, check_choice, check_positive, check_size

TWO_PI = 2.0 * math.pi
RESAMPLE_METHODS = ("nearest", "linear", "cubic", "window")


# Unit conversions -------------------------------------------------------------
def midi_to_hz(notes, midi_zero_silence: bool = False) -> torch.Tensor:
    """MIDI note numbers (float) -> Hz: ``440 * 2 ** ((m - 69) / 12)``.

    With ``midi_zero_silence`` notes <= 0 map to 0 Hz (silence).
    """
    notes = as_tensor(notes, "notes")
    hz = 440.0 * torch.pow(2.0, (notes - 69.0) / 12.0)
    return torch.where(notes <= 0.0, torch.zeros_like(hz), hz) if midi_zero_silence else hz


def hz_to_midi(frequencies) -> torch.Tensor:
    """Hz -> MIDI note numbers ``12 * log2(f / 440) + 69``; f <= 0 maps to 0."""
    f = as_tensor(frequencies, "frequencies")
    positive = f > 0.0
    notes = 12.0 * torch.log2(torch.where(positive, f, torch.ones_like(f)) / 440.0) + 69.0
    return torch.where(positive, notes, torch.zeros_like(notes))


def unit_to_midi(unit, midi_min: float = 20.0, midi_max: float = 90.0,
                 clip: bool = False) -> torch.Tensor:
    """Map [0, 1] linearly to MIDI notes [midi_min, midi_max]."""
    unit = as_tensor(unit, "unit")
    unit = unit.clamp(0.0, 1.0) if clip else unit
    return midi_min + (midi_max - midi_min) * unit


def midi_to_unit(midi, midi_min: float = 20.0, midi_max: float = 90.0,
                 clip: bool = False) -> torch.Tensor:
    """Map MIDI notes [midi_min, midi_max] linearly to [0, 1]."""
    unit = (as_tensor(midi, "midi") - midi_min) / (midi_max - midi_min)
    return unit.clamp(0.0, 1.0) if clip else unit


def unit_to_hz(unit, hz_min: float, hz_max: float, clip: bool = False) -> torch.Tensor:
    """Map [0, 1] to [hz_min, hz_max] Hz, logarithmically (linear in MIDI)."""
    lo, hi = (float(hz_to_midi(torch.tensor(v, dtype=torch.float64))) for v in (hz_min, hz_max))
    return midi_to_hz(unit_to_midi(unit, lo, hi, clip))


def hz_to_unit(hz, hz_min: float, hz_max: float, clip: bool = False) -> torch.Tensor:
    """Map [hz_min, hz_max] Hz to [0, 1], logarithmically (linear in MIDI)."""
    lo, hi = (float(hz_to_midi(torch.tensor(v, dtype=torch.float64))) for v in (hz_min, hz_max))
    return midi_to_unit(hz_to_midi(hz), lo, hi, clip)


def exp_sigmoid(x, exponent: float = 10.0, max_value: float = 2.0,
                threshold: float = 1e-7) -> torch.Tensor:
    """``max_value * sigmoid(x) ** log(exponent) + threshold``.

    Bounds outputs to [threshold, max_value]; away from 0 the output changes by
    a factor ``exponent`` per unit of x. Magenta's scale function for synth
    amplitudes and filter magnitudes.
    """
    x = as_tensor(x, "x")
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold


def safe_log(x, eps: float = 1e-5) -> torch.Tensor:
    """``log(x)`` where x > 0 and ``log(eps)`` where x <= 0.

    Small positive values are not clamped (Magenta's definition), so
    ``safe_log(1e-7) == log(1e-7)``. Gradients stay finite at x <= 0.
    """
    x = as_tensor(x, "x")
    positive = x > 0.0
    safe_x = torch.where(positive, x, torch.full_like(x, eps))
    return torch.log(safe_x)


def safe_divide(numerator, denominator, eps: float = 1e-7) -> torch.Tensor:
    """``numerator / denominator`` with zeros in the denominator replaced by ``eps``."""
    denominator = as_tensor(denominator, "denominator")
    safe = torch.where(denominator == 0.0, torch.full_like(denominator, eps), denominator)
    return as_tensor(numerator, "numerator") / safe


def power_to_db(power, ref_db: float = 0.0, range_db: float = 80.0,
                amin: float = 1e-20) -> torch.Tensor:
    """Power -> dB: ``10 log10(max(power, amin)) - ref_db``, floored at ``-range_db``."""
    power = as_tensor(power, "power")
    db = 10.0 * torch.log10(power.clamp_min(amin)) - ref_db
    return db.clamp_min(-range_db)


def amplitude_to_db(amplitude, ref_db: float = 0.0, range_db: float = 80.0,
                    amin: float = 1e-20) -> torch.Tensor:
    """Amplitude -> dB (of the power ``amplitude ** 2``), as Magenta's ``amplitude_to_db``."""
    amplitude = as_tensor(amplitude, "amplitude")
    return power_to_db(amplitude ** 2, ref_db, range_db, amin)


def db_to_power(db) -> torch.Tensor:
    """dB -> power: ``10 ** (db / 10)``."""
    return torch.pow(10.0, as_tensor(db, "db") / 10.0)


def db_to_amplitude(db) -> torch.Tensor:
    """dB -> amplitude: ``10 ** (db / 20)``."""
    return torch.pow(10.0, as_tensor(db, "db") / 20.0)


# Resampling -------------------------------------------------------------------
def _keys_cubic_weights(frac: torch.Tensor, a: float = -0.75) -> torch.Tensor:
    """Keys cubic weights [..., 4] for taps -1, 0, 1, 2 at fractional offset ``frac``.

    ``frac`` is quantised to 1/1024 like TensorFlow's legacy bicubic table.
    """
    x = torch.round(frac * 1024.0) / 1024.0

    def near(d):  # |d| <= 1
        return ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a

    return torch.stack([far(x + 1.0), near(x), near(1.0 - x), far(2.0 - x)], dim=-1)


def interpolation_taps(n_frames: int, n_timesteps: int, method: str = "linear",
                       add_endpoint: bool = True, dtype=torch.float32,
                       device=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Which frames (and weights) each output step of :func:`resample` reads.

    Returns ``(index, weight)``, both ``[n_timesteps, n_taps]``, such that
    ``out[t] = sum_m weight[t, m] * x[index[t, m]]``. This is the one place the
    resampling rules live; :func:`resample` and the harmonic oscillator use it.

    Coordinates follow TensorFlow's legacy ``image.resize`` (no half-pixel
    centres): with ``add_endpoint`` output step t reads source position
    ``t * n_frames / n_timesteps`` (frame j sits at step ``j * hop`` and the
    steps after the last frame hold its value); without it the first and last
    steps align with the first and last frames (``align_corners``).
    'cubic' is Keys cubic (a = -0.75) with clamped edges; 'window' is
    :func:`upsample_with_windows`.
    """
    n_frames = check_size(n_frames, "n_frames")
    n_timesteps = check_size(n_timesteps, "n_timesteps")
    check_choice(method, "method", RESAMPLE_METHODS)
    t = torch.arange(n_timesteps, dtype=torch.float64, device=device)
    last = n_frames - 1

    if method == "window":
        n_intervals = n_frames if add_endpoint else n_frames - 1
        if n_intervals < 1 or n_frames + int(add_endpoint) >= n_timesteps:
            raise ValueError(f"n_timesteps: 'window' only upsamples; got {n_frames} frames "
                             f"-> {n_timesteps} steps")
        if n_timesteps % n_intervals:
            minus = "" if add_endpoint else " - 1"
            raise ValueError(f"n_timesteps: 'window' needs n_timesteps ({n_timesteps}) divisible "
                             f"by n_frames{minus} ({n_intervals})")
        hop = n_timesteps // n_intervals
        j = torch.div(t, hop, rounding_mode="floor")
        r = t - j * hop
        # Periodic Hann of length 2*hop: w[n] = 0.5 - 0.5 cos(pi n / hop).
        falling = 0.5 - 0.5 * torch.cos(math.pi * (r + hop) / hop)
        rising = 0.5 - 0.5 * torch.cos(math.pi * r / hop)
        index = torch.stack([j, (j + 1).clamp(max=last)], -1)
        weight = torch.stack([falling, rising], -1)
        return index.long(), weight.to(dtype)

    if add_endpoint:
        scale = n_frames / n_timesteps
    else:
        scale = (n_frames - 1) / (n_timesteps - 1) if n_timesteps > 1 else 0.0
    src = t * scale
    if method == "nearest":
        pos = torch.round(src) if not add_endpoint else torch.floor(src)
        index = pos.clamp(max=last)[:, None]
        weight = torch.ones_like(src)[:, None]
    elif method == "linear":
        lo = torch.floor(src)
        frac = src - lo
        index = torch.stack([lo.clamp(max=last), (lo + 1).clamp(max=last)], -1)
        weight = torch.stack([1.0 - frac, frac], -1)
    else:  # cubic
        lo = torch.floor(src)
        offsets = torch.arange(-1, 3, dtype=torch.float64, device=device)
        index = (lo[:, None] + offsets).clamp(0, last)
        weight = _keys_cubic_weights(src - lo)
    return index.long(), weight.to(dtype)


def _apply_taps(x: torch.Tensor, index: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Resample along dim 1 of ``x`` [batch, n_frames, ...] with taps from interpolation_taps."""
    weight = weight.to(x.dtype)
    out = None
    for m in range(index.shape[1]):
        w = weight[:, m].reshape((1, -1) + (1,) * (x.ndim - 2))
        term = x.index_select(1, index[:, m]) * w
        out = term if out is None else out + term
    return out


def resample(inputs, n_timesteps: int, method: str = "linear",
             add_endpoint: bool = True) -> torch.Tensor:
    """Interpolate frames to ``n_timesteps`` steps along the time axis.

    Args:
      inputs: ``[n_frames]``, ``[batch, n_frames]``, ``[batch, n_frames,
        channels]`` or ``[batch, n_frames, n_freq, channels]``.
      n_timesteps: number of output steps (e.g. samples). Up- or downsampling
        for 'nearest', 'linear' and 'cubic'; 'window' only upsamples.
      method: 'nearest' | 'linear' | 'cubic' | 'window' (see
        :func:`interpolation_taps` for the exact rules).
      add_endpoint: hold the last frame for one more hop (frames sit at
        ``j * n_timesteps / n_frames``); if False the ends are aligned.

    Returns:
      Same rank as ``inputs`` with ``n_timesteps`` on the time axis.
    """
    x = as_tensor(inputs, "inputs")
    if not 1 <= x.ndim <= 4:
        raise ValueError(f"inputs: expected 1 to 4 dims [batch, n_frames, ...], got {list(x.shape)}")
    squeeze = x.ndim == 1
    if squeeze:
        x = x[None]
    if method == "window" and x.ndim != 3:
        x3 = x[..., None] if x.ndim == 2 else None
        if x3 is None:
            raise ValueError("inputs: 'window' resampling needs [batch, n_frames, channels]")
        out = upsample_with_windows(x3, n_timesteps, add_endpoint)[..., 0]
    else:
        index, weight = interpolation_taps(x.shape[1], n_timesteps, method, add_endpoint,
                                           x.dtype, x.device)
        out = _apply_taps(x, index, weight)
    return out[0] if squeeze else out


def upsample_with_windows(inputs, n_timesteps: int, add_endpoint: bool = True) -> torch.Tensor:
    """Upsample ``[batch, n_frames, channels]`` with overlapping Hann windows.

    A raised-cosine crossfade between consecutive frames: with ``hop =
    n_timesteps / n_frames`` and ``w`` a periodic Hann window of length
    ``2 * hop``, ``out[t] = x[j] * w[r + hop] + x[j + 1] * w[r]`` where
    ``j = t // hop`` and ``r = t % hop`` (the last frame is repeated once when
    ``add_endpoint``). Smooth for amplitude envelopes. ``n_timesteps`` must be
    divisible by ``n_frames`` (``n_frames - 1`` without ``add_endpoint``).
    """
    x = as_tensor(inputs, "inputs")
    if x.ndim != 3:
        raise ValueError(f"inputs: expected shape [batch, n_frames, channels], got {list(x.shape)}")
    index, weight = interpolation_taps(x.shape[1], n_timesteps, "window", add_endpoint,
                                       x.dtype, x.device)
    return _apply_taps(x, index, weight)


# Oscillators ------------------------------------------------------------------
def angular_cumsum(angular_frequency, dim: int = 1) -> torch.Tensor:
    """Exact phase accumulator: inclusive cumulative sum of radians per sample.

    The sum runs in float64 and is wrapped to [0, 2 pi) before returning in
    the input's dtype, so phase stays exact over hours of audio. (Magenta's
    default float32 cumsum drifts by ~0.5 in the waveform after 4 s; its own
    chunked ``angular_cumsum`` reduces but does not remove that.) The first
    output is ``angular_frequency[0]``: there is no initial phase.
    """
    omega = as_tensor(angular_frequency, "angular_frequency")
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


# Convolution and filters --------------------------------------------------------
def next_power_of_2(n: int) -> int:
    """Smallest power of two >= ``n`` (and >= 1)."""
    return 1 << (max(int(n), 1) - 1).bit_length()


def get_fft_size(frame_size: int, ir_size: int, power_of_2: bool = True) -> int:
    """FFT length for convolving a frame with an IR: next power of 2 (or 5-smooth
    number) >= ``frame_size + ir_size - 1``."""
    n = frame_size + ir_size - 1
    if power_of_2:
        return next_power_of_2(n)
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def overlap_add(frames: torch.Tensor, hop_size: int) -> torch.Tensor:
    """``[..., n_frames, frame_length]`` -> ``[..., (n_frames - 1) * hop + frame_length]``.

    Each frame is cut into hop-long pieces; piece j of frame i lands on hop
    slot i + j, so the sum is ``ceil(frame_length / hop)`` shifted adds (several
    times faster than ``F.fold`` on the CPU).
    """
    *lead, n_frames, size = frames.shape
    pieces = -(-size // hop_size)
    frames = F.pad(frames, (0, pieces * hop_size - size))
    frames = frames.reshape(-1, n_frames, pieces, hop_size)
    out = frames.new_zeros(frames.shape[0], n_frames + pieces - 1, hop_size)
    for j in range(pieces):
        out[:, j:j + n_frames] += frames[:, :, j]
    out_len = (n_frames - 1) * hop_size + size
    return out.reshape(*lead, -1)[..., :out_len]


def crop_and_compensate_delay(audio: torch.Tensor, audio_size: int, ir_size: int,
                              padding: str, delay_compensation: int) -> torch.Tensor:
    """Crop a convolution's output to 'same' (``audio_size``) or 'valid'
    (``audio_size + ir_size - 1``) samples, dropping ``delay_compensation``
    samples at the start (if < 0: ``(ir_size - 1) // 2 - 1``, Magenta's default
    for the linear-phase IRs of :func:`frequency_impulse_response`, which
    leaves a 2-sample delay for even IR sizes)."""
    check_choice(padding, "padding", ("same", "valid"))
    crop_size = audio_size if padding == "same" else audio_size + ir_size - 1
    start = (ir_size - 1) // 2 - 1 if delay_compensation < 0 else delay_compensation
    start = min(start, audio.shape[-1] - crop_size)
    return audio[..., start:start + crop_size]


def fft_convolve(audio, impulse_response, padding: str = "same",
                 delay_compensation: int = -1) -> torch.Tensor:
    """Convolve audio with one IR (LTI) or a series of IRs (time-varying).

    Args:
      audio: ``[batch, n_samples]``.
      impulse_response: ``[batch, ir_size]`` (one filter) or ``[batch, n_frames,
        ir_size]`` (the audio is cut into ``n_frames`` non-overlapping blocks of
        ``ceil(n_samples / n_frames)`` samples, each convolved with its own IR,
        then overlap-added). A batch of 1 broadcasts.
      padding: 'same' (output ``n_samples``) or 'valid' (``n_samples + ir_size - 1``).
      delay_compensation: samples dropped at the start; < 0 means the default
        of :func:`crop_and_compensate_delay`.

    Returns:
      ``[batch, n_samples]`` ('same') or ``[batch, n_samples + ir_size - 1]``.
    """
    audio = as_audio(audio)
    ir = as_tensor(impulse_response, "impulse_response")
    if ir.ndim == 2:
        ir = ir[:, None, :]
    if ir.ndim != 3:
        raise ValueError(f"impulse_response: expected [batch, ir_size] or "
                         f"[batch, n_frames, ir_size], got {list(ir.shape)}")
    if ir.shape[0] != audio.shape[0] and 1 not in (ir.shape[0], audio.shape[0]):
        raise ValueError(f"impulse_response: batch size {ir.shape[0]} does not match "
                         f"audio's {audio.shape[0]}")
    n_samples = audio.shape[-1]
    n_frames, ir_size = ir.shape[1], ir.shape[2]
    frame_size = -(-n_samples // n_frames)
    if -(-n_samples // frame_size) != n_frames:
        raise ValueError(f"impulse_response: {n_frames} frames cannot split {n_samples} "
                         f"samples into equal blocks; use n_samples divisible by n_frames")
    frames = F.pad(audio, (0, n_frames * frame_size - n_samples))
    frames = frames.reshape(audio.shape[0], n_frames, frame_size)
    fft_size = get_fft_size(frame_size, ir_size)
    spectrum = torch.fft.rfft(frames, fft_size) * torch.fft.rfft(ir, fft_size)
    out = overlap_add(torch.fft.irfft(spectrum, fft_size), frame_size)
    return crop_and_compensate_delay(out, n_samples, ir_size, padding, delay_compensation)


def apply_window_to_impulse_response(impulse_response, window_size: int = 0,
                                     causal: bool = False) -> torch.Tensor:
    """Hann-window zero-phase IRs ``[..., ir_size]`` and return them causal.

    ``window_size <= 0`` or larger than the IR means the full IR length; a
    shorter window crops the IR to about ``window_size`` taps (Magenta's exact
    layout is kept, so imported models filter identically). ``causal`` says the
    input is already causal (peak in the middle) rather than zero-phase.
    """
    ir = as_tensor(impulse_response, "impulse_response")
    if causal:
        ir = torch.fft.fftshift(ir, dim=-1)
    ir_size = ir.shape[-1]
    if window_size <= 0 or window_size > ir_size:
        window_size = ir_size
    window = torch.hann_window(window_size, periodic=True, dtype=ir.dtype, device=ir.device)
    pad = ir_size - window_size
    if pad > 0:
        half = (window_size + 1) // 2
        window = torch.cat([window[half:], window.new_zeros(pad), window[:half]])
        ir = window * ir
        return torch.cat([ir[..., ir_size - half + 2:], ir[..., :half + 1]], dim=-1)
    ir = torch.fft.fftshift(window, dim=-1) * ir
    return torch.fft.fftshift(ir, dim=-1)


def frequency_impulse_response(magnitudes, window_size: int = 0) -> torch.Tensor:
    """Linear-phase FIR filters from frequency magnitudes (frequency sampling).

    Args:
      magnitudes: ``[..., n_bins]`` linear gains at frequencies ``0, nyquist /
        (n_bins - 1), ..., nyquist``.
      window_size: Hann window length in taps; <= 0 or too large means the
        full IR of ``2 * (n_bins - 1)`` taps.

    Returns:
      Causal IRs ``[..., ir_size]`` (65 bins -> 128 taps, peak at tap 64).
    """
    magnitudes = as_tensor(magnitudes, "magnitudes")
    if magnitudes.shape[-1] < 2:
        raise ValueError(f"magnitudes: need at least 2 frequency bins, got {list(magnitudes.shape)}")
    ir = torch.fft.irfft(magnitudes.to(torch.complex128 if magnitudes.dtype == torch.float64
                                       else torch.complex64))
    return apply_window_to_impulse_response(ir, window_size)


def _crossfaded_filter(audio: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
    """Time-varying FIR with raised-cosine crossfades between frames and no delay.

    Frame j's filter applies to the audio under the window that
    :func:`upsample_with_windows` gives frame j (peak at sample ``j * hop``), so
    the filtered segments sum to a smooth blend instead of switching at block
    edges; the IR's own delay (its peak tap) is removed.
    """
    batch, n_samples = audio.shape
    n_frames, ir_size = ir.shape[1], ir.shape[2]
    if n_samples % n_frames:
        raise ValueError(f"magnitudes: crossfade needs n_samples ({n_samples}) divisible "
                         f"by n_frames ({n_frames})")
    hop = n_samples // n_frames
    window = torch.hann_window(2 * hop, periodic=True, dtype=audio.dtype, device=audio.device)
    padded = F.pad(audio, (hop, 2 * hop))  # frames 0..n_frames (last repeated)
    segments = padded.unfold(-1, 2 * hop, hop)[:, :n_frames + 1] * window
    ir = torch.cat([ir, ir[:, -1:]], dim=1)
    fft_size = get_fft_size(2 * hop, ir_size)
    spectrum = torch.fft.rfft(segments, fft_size) * torch.fft.rfft(ir, fft_size)
    out = overlap_add(torch.fft.irfft(spectrum, fft_size), hop)
    delay = int(ir.abs().sum((0, 1)).argmax())
    return out[:, hop + delay:hop + delay + n_samples]


def frequency_filter(audio, magnitudes, window_size: int = 0, padding: str = "same",
                     crossfade: bool = False) -> torch.Tensor:
    """Filter audio with time-varying linear-phase FIRs given as magnitudes.

    Args:
      audio: ``[batch, n_samples]``.
      magnitudes: ``[batch, n_frames, n_bins]`` (or ``[batch, n_bins]`` for one
        filter), linear gains from 0 Hz to Nyquist.
      window_size: IR window (see :func:`frequency_impulse_response`).
      padding: 'same' or 'valid' (ignored with ``crossfade``: always 'same').
      crossfade: False (default) is Magenta's filter, kept for imported models:
        blocks of ``ceil(n_samples / n_frames)`` samples, filters switched hard
        at block edges and a 2-sample delay with the full window. True blends
        neighbouring frames' filters with raised-cosine windows and removes the
        delay; a better choice for new models.

    Returns:
      Filtered audio ``[batch, n_samples]`` (or longer with 'valid').
    """
    audio = as_audio(audio)
    ir = frequency_impulse_response(magnitudes, window_size)
    if crossfade:
        if ir.ndim == 2:
            ir = ir[:, None, :]
        if ir.shape[0] != audio.shape[0]:
            ir = ir.expand(audio.shape[0], -1, -1)
        return _crossfaded_filter(audio, ir)
    return fft_convolve(audio, ir, padding=padding)
