"""Rendering long inputs in chunks with state carried across the joins.

:func:`render` turns frame-rate features of any length into audio with
memory bounded by the chunk size, through the model's stateful graph
(:meth:`Autoencoder.process`, the one streaming and export use): the decoder
state, the oscillator phase (float64), the noise filter's tail and the
reverb's carried spectra cross every join, so chunked output equals one pass.
The noise synth's source is :class:`PositionalNoise`, addressed by absolute
sample, so a render and a stream with the same seed give the same audio.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from ..processors.effects import Reverb
from ..validation import as_controls, check_positive, check_seed
from .autoencoder import Autoencoder

NOISE_BLOCK = 1 << 16  # samples drawn per seeded noise block


class PositionalNoise:
    """Uniform noise in [-1, 1) addressed by absolute sample index (deterministic);
    ``seed`` an integer in [0, 2 ** 32)."""

    def __init__(self, seed: int):
        self.seed = check_seed(seed)
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


def render(model: Autoencoder, f0_hz, loudness_db, n_samples: Optional[int] = None,
           chunk_seconds: float = 20.0, seed: int = 0, progress: bool = False) -> np.ndarray:
    """Audio from features, rendered in chunks; float32 ``[n_samples]``.

    Args:
      model: the model (evaluated without gradients, on the device its weights are on).
      f0_hz: ``[n_frames]`` f0 in Hz (``[1, n_frames]`` accepted); frame ``i``
        describes sample ``i * hop``.
      loudness_db: ``[n_frames]`` loudness in dB (likewise).
      n_samples: output length (default ``n_frames * hop``); at most that.
      chunk_seconds: audio rendered at once (bounds the memory).
      seed: the noise synth's seed (same seed, same output).
      progress: show a progress bar over the chunks.

    The synths trail the newest frame (:attr:`Autoencoder.first_offset`); the
    samples after the last frame are rendered with its controls held.
    """
    hop, device = model.hop, model.device
    f0, ld = (as_controls(curve, name, channels=1)
              for curve, name in ((f0_hz, "f0_hz"), (loudness_db, "loudness_db")))
    for curve, name in ((f0, "f0_hz"), (ld, "loudness_db")):
        if curve.shape[0] != 1:
            raise ValueError(f"{name}: expected one curve [n_frames], got {curve.shape[0]} curves")
    f0, ld = (curve.reshape(1, -1).float().to(device) for curve in (f0, ld))
    chunk_seconds = check_positive(chunk_seconds, "chunk_seconds")
    if f0.shape != ld.shape:
        raise ValueError(f"features: f0_hz and loudness_db need the same number (>= 1) of "
                         f"frames, got {f0.shape[1]} and {ld.shape[1]}")
    n_frames = f0.shape[1]
    n_samples = n_frames * hop if n_samples is None else int(n_samples)
    if not 0 < n_samples <= n_frames * hop:
        raise ValueError(f"n_samples: expected 1 to {n_frames * hop} for {n_frames} frames, "
                         f"got {n_samples}")
    chunk_frames = max(1, int(chunk_seconds * model.frame_rate))
    lag = -model.first_offset
    noises = PositionalNoise(seed)
    pieces = []
    with torch.no_grad():
        state = model.init_state(1)
        for a in tqdm(range(0, n_frames, chunk_frames), desc="synthesis", unit="chunk",
                      disable=not progress, leave=False):
            b = min(n_frames, a + chunk_frames)
            outputs, state = model.process(f0[:, a:b], ld[:, a:b],
                                           noises.slice(a * hop, b * hop)[None].to(device), state)
            pieces.append(outputs["audio"][0])
        extra = -(-lag // hop)  # frames that bring the synths past the last frame
        if extra:
            held = {k: v[:, -1:].expand(-1, extra, -1) for k, v in outputs.items()
                    if k != "audio"}
            noise = noises.slice(n_frames * hop, (n_frames + extra) * hop)[None].to(device)
            pieces.append(model.processor_group.process(held, state, hop, noise)[0][0])
    return torch.cat(pieces)[lag:lag + n_samples].cpu().numpy().astype(np.float32)


def room_tail_seconds(model: Autoencoder, floor_db: float = -60.0) -> float:
    """How long (s) a model's learned room rings on after its dry sound stops.

    Per trainable reverb: where the energy its impulse response has left falls
    ``floor_db`` below the sound's (the dry path's, energy 1, plus the whole
    IR's): -60 dB is the reverberation time's criterion. 0 without one.
    """
    tail = 0.0
    for reverb in model.modules():
        if isinstance(reverb, Reverb) and reverb.trainable:
            with torch.no_grad():
                ir = reverb.impulse_response(masked=True).double().cpu().numpy()
            left = np.cumsum((ir ** 2)[::-1])[::-1]
            total = (1.0 if reverb.add_dry else 0.0) + left[0]
            ringing = np.nonzero(left > total * 10.0 ** (floor_db / 10.0))[0]
            if ringing.size:
                tail = max(tail, (ringing[-1] + 1) / model.sample_rate)
    return tail
