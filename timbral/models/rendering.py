"""Rendering long inputs in chunks with state carried across the joins.

:func:`render` turns frame-rate features of any length into audio with
memory bounded by the chunk size, and gives the same result as one pass:

- the decoder runs over all frames chunk by chunk, carrying its GRU state;
- harmonic synthesis carries the fundamental's phase (float64) and reads one
  frame past the chunk, which is all its interpolation needs;
- filtered noise is rendered with a few frames of context on both sides from
  one noise signal indexed by absolute sample position (drawn block by block
  from a seeded generator), so every kept sample saw what one pass would see;
- the reverb is an overlap-add convolution carrying its tail.

It serves models whose processor group is the DDSP graph: Harmonic and/or
FilteredNoise, an optional Add of the two, and an optional final trainable
reverb (any :class:`~timbral.effects.Reverb`: its learned impulse response).
"""

from __future__ import annotations

import math
from typing import Dict, Iterator, Optional, Tuple

import numpy as np
import torch

from .. import core
from ..effects import Reverb
from ..processors import Add, at_length
from ..synths import FilteredNoise, Harmonic
from .autoencoder import Autoencoder

NOISE_BLOCK = 1 << 16  # samples drawn per seeded noise block


class PositionalNoise:
    """Uniform noise in [-1, 1) addressed by absolute sample index (deterministic)."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._cache: Dict[int, torch.Tensor] = {}

    def _block(self, k: int) -> torch.Tensor:
        if k not in self._cache:
            if len(self._cache) > 4:
                self._cache.pop(min(self._cache))
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + k)
            self._cache[k] = torch.rand(NOISE_BLOCK, generator=gen) * 2.0 - 1.0
        return self._cache[k]

    def slice(self, start: int, stop: int) -> torch.Tensor:
        """Samples ``[start, stop)`` (negative indices read as silence)."""
        out = torch.zeros(max(0, stop - start))
        for k in range(max(0, start) // NOISE_BLOCK, max(0, stop - 1) // NOISE_BLOCK + 1):
            b0 = k * NOISE_BLOCK
            lo, hi = max(start, b0), min(stop, b0 + NOISE_BLOCK)
            if hi > lo:
                out[lo - start:hi - start] = self._block(k)[lo - b0:hi - b0]
        return out


def synth_nodes(model: Autoencoder) -> Tuple[Optional[Tuple[Harmonic, list]],
                                         Optional[Tuple[FilteredNoise, list]],
                                         Optional[Reverb]]:
    """The model's Harmonic, FilteredNoise (with their input keys) and final Reverb."""
    harmonic = noise = reverb = None
    nodes = model.processor_group.dag
    for i, (proc, keys) in enumerate(nodes):
        if isinstance(proc, Harmonic) and harmonic is None:
            harmonic = (proc, keys)
        elif isinstance(proc, FilteredNoise) and noise is None:
            noise = (proc, keys)
        elif type(proc) is Add:
            continue
        elif isinstance(proc, Reverb) and proc.trainable and i == len(nodes) - 1:
            reverb = proc
        else:
            raise ValueError(f"model: chunked rendering supports Harmonic + FilteredNoise "
                             f"(+ Add, + a final trainable reverb); found "
                             f"{type(proc).__name__} {proc.name!r}")
    if harmonic is None and noise is None:
        raise ValueError("model: its processor group has no Harmonic or FilteredNoise synth")
    return harmonic, noise, reverb


def _decode(model: Autoencoder, f0_hz: torch.Tensor, loudness_db: torch.Tensor,
            chunk_frames: int) -> Dict[str, torch.Tensor]:
    """Decoder outputs for all frames, chunk by chunk with the GRU state carried."""
    outputs: Dict[str, list] = {}
    state = None
    for a in range(0, f0_hz.shape[1], chunk_frames):
        scaled = model.preprocessor({"f0_hz": f0_hz[:, a:a + chunk_frames],
                                     "loudness_db": loudness_db[:, a:a + chunk_frames]})
        raw, state = model.decoder(scaled, state)
        for key, value in {**scaled, **raw}.items():
            outputs.setdefault(key, []).append(value)
    return {k: torch.cat(v, dim=1) for k, v in outputs.items()}


def _chunks(n_frames: int, chunk_frames: int) -> Iterator[Tuple[int, int]]:
    for a in range(0, n_frames, chunk_frames):
        yield a, min(n_frames, a + chunk_frames)


def render(model: Autoencoder, f0_hz, loudness_db, n_samples: Optional[int] = None,
           chunk_seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    """Audio from features, rendered in chunks; float32 ``[n_samples]``.

    Args:
      model: the model (evaluated without gradients).
      f0_hz: ``[n_frames]`` f0 in Hz; frame ``i`` describes sample ``i * hop``.
      loudness_db: ``[n_frames]`` loudness in dB.
      n_samples: output length (default ``n_frames * hop``); at most that.
      chunk_seconds: audio rendered at once (bounds the memory).
      seed: the noise synth's seed (same seed, same output).
    """
    hop = model.hop
    f0 = torch.as_tensor(np.asarray(f0_hz, np.float32)).reshape(1, -1)
    ld = torch.as_tensor(np.asarray(loudness_db, np.float32)).reshape(1, -1)
    if f0.shape != ld.shape or f0.shape[1] < 1:
        raise ValueError(f"features: f0_hz and loudness_db need the same number (>= 1) of "
                         f"frames, got {f0.shape[1]} and {ld.shape[1]}")
    n_frames = f0.shape[1]
    n_samples = n_frames * hop if n_samples is None else int(n_samples)
    if not 0 < n_samples <= n_frames * hop:
        raise ValueError(f"n_samples: expected 1 to {n_frames * hop} for {n_frames} frames, "
                         f"got {n_samples}")
    chunk_frames = max(1, int(chunk_seconds * model.frame_rate))
    harmonic, noise, reverb = synth_nodes(model)
    with torch.no_grad():
        outputs = _decode(model, f0, ld, chunk_frames)
        # Noise context: enough frames to cover the filter's reach on both sides.
        if noise is not None:
            taps = 2 * (outputs[noise[1][0]].shape[-1] - 1)
            window = noise[0].window_size if 0 < noise[0].window_size < taps else taps
            context = math.ceil(window / hop) + 2
        noises = PositionalNoise(seed)
        phase = torch.zeros(1, dtype=torch.float64)
        tail = None
        ir = None if reverb is None else reverb.impulse_response(masked=True).reshape(1, -1)
        pieces = []
        for a, b in _chunks(n_frames, chunk_frames):
            dry = torch.zeros(1, (b - a) * hop)
            if harmonic is not None:
                proc, keys = harmonic
                end = min(n_frames, b + 1)  # one frame ahead for the interpolation
                args = [outputs[k][:, a:end] for k in keys]
                controls = at_length(proc, (end - a) * hop).get_controls(*args)
                signal = core.harmonic_synthesis(
                    controls["f0_hz"], controls["amplitudes"],
                    harmonic_distribution=controls["harmonic_distribution"],
                    n_samples=(end - a) * hop, sample_rate=proc.sample_rate,
                    amp_resample_method=proc.amp_resample_method, initial_phase=phase)
                dry += signal[:, :(b - a) * hop]
                f0_env = core.resample(controls["f0_hz"].to(torch.float64), (end - a) * hop,
                                       "linear")[0, :(b - a) * hop, 0]
                phase = torch.remainder(phase + f0_env.sum() * (2 * math.pi / proc.sample_rate),
                                        2 * math.pi)
            if noise is not None:
                proc, keys = noise
                lo, hi = max(0, a - context), min(n_frames, b + context)
                controls = at_length(proc, (hi - lo) * hop).get_controls(outputs[keys[0]][:, lo:hi])
                signal = core.frequency_filter(noises.slice(lo * hop, hi * hop)[None],
                                               controls["magnitudes"],
                                               window_size=proc.window_size,
                                               crossfade=proc.crossfade)
                dry += signal[:, (a - lo) * hop:(b - lo) * hop]
            if reverb is not None:
                wet, tail = _reverb_chunk(dry, ir, tail)
                dry = wet if not reverb.add_dry else wet + dry
            pieces.append(dry[0])
    return torch.cat(pieces)[:n_samples].numpy().astype(np.float32)


def _reverb_chunk(dry: torch.Tensor, ir: torch.Tensor, tail: Optional[torch.Tensor]):
    """Overlap-add convolution of one chunk ``[1, n]`` with the applied IR ``[1,
    taps]``; returns ``(wet chunk, new tail)``."""
    n = dry.shape[1]
    size = core.next_power_of_2(n + ir.shape[1] - 1)
    full = torch.fft.irfft(torch.fft.rfft(dry, size) * torch.fft.rfft(ir, size), size)
    full = full[:, :n + ir.shape[1] - 1]
    if tail is not None:
        m = min(tail.shape[1], full.shape[1])
        full[:, :m] += tail[:, :m]
        if tail.shape[1] > m:
            full = torch.cat([full, tail[:, m:]], dim=1)
    return full[:, :n], full[:, n:]
