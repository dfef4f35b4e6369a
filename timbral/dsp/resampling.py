"""Resampling frame-rate controls to the audio rate (and back).

Magenta's ``resample`` and ``upsample_with_windows``; every method is a sparse
set of interpolation taps (:func:`interpolation_taps`), which the synths reuse.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch

from ..validation import as_tensor, check_choice, check_size

RESAMPLE_METHODS = ("nearest", "linear", "cubic", "window")


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


__all__ = ['RESAMPLE_METHODS', 'interpolation_taps', 'resample', 'upsample_with_windows']
