"""Convolution and filters: FFT convolution, frequency-sampled FIRs, time-varying filters.

Magenta's ``fft_convolve`` and ``frequency_filter`` (without its empty-crop
bug), a crossfaded variant, and the per-frame forms that streaming and export
use (matrix DFTs, frame-wise convolutions).
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F

from ..validation import as_audio, as_tensor, check_choice


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
    leaves a 2-sample delay for even IR sizes; 0 for IRs of 1 or 2 taps, where
    Magenta's start of -1 cropped everything away)."""
    check_choice(padding, "padding", ("same", "valid"))
    crop_size = audio_size if padding == "same" else audio_size + ir_size - 1
    start = max(0, (ir_size - 1) // 2 - 1) if delay_compensation < 0 else delay_compensation
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


def real_dft(size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Matrices of the real DFT of ``size`` points, bins as ``[re..., im...]`` (float64).

    ``forward`` ``[size, 2 * bins]``: ``x @ forward`` is ``rfft(x)`` (``bins =
    size // 2 + 1``) with the real parts first, then the imaginary parts;
    ``inverse`` ``[2 * bins, size]``: ``X @ inverse`` is ``irfft(X, size)``.
    Built from torch.fft itself, so they are the same linear maps; for graphs
    exported to ONNX, which has no rfft in the TorchScript-based exporter.
    """
    spec = torch.fft.rfft(torch.eye(size, dtype=torch.float64))  # [size, bins]
    forward = torch.cat([spec.real, spec.imag], dim=1)
    basis = torch.eye(size // 2 + 1, dtype=torch.complex128)
    inverse = torch.cat([torch.fft.irfft(basis, size), torch.fft.irfft(1j * basis, size)], 0)
    return forward, inverse


def convolve_frames(segments: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
    """Full convolution of each frame's segment with that frame's FIR.

    Args:
      segments: ``[batch, n_frames, length]``.
      ir: ``[batch, n_frames, taps]``.

    Returns ``[batch, n_frames, length + taps - 1]``: FFT products, as
    :func:`frequency_filter` computes them; inside an ONNX export (which has no
    FFT in the TorchScript-based exporter), one grouped direct convolution.
    """
    length, taps = segments.shape[-1], ir.shape[-1]
    if torch.onnx.is_in_onnx_export():
        b, n = int(segments.shape[0]), int(segments.shape[1])
        padded = F.pad(segments, (taps - 1, taps - 1)).reshape(1, b * n, -1)
        out = F.conv1d(padded, ir.flip(-1).reshape(b * n, 1, taps), groups=b * n)
        return out.reshape(b, n, -1)
    size = get_fft_size(length, taps)
    spectrum = torch.fft.rfft(segments, size) * torch.fft.rfft(ir, size)
    return torch.fft.irfft(spectrum, size)[..., :length + taps - 1]


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


__all__ = ['next_power_of_2', 'get_fft_size', 'overlap_add', 'crop_and_compensate_delay', 'fft_convolve', 'apply_window_to_impulse_response', 'frequency_impulse_response', 'real_dft', 'convolve_frames', 'frequency_filter']
