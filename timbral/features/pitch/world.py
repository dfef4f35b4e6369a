"""WORLD's DIO + StoneMask (Morise et al.), through ``pyworld-prebuilt``.

Pure DSP, no weights: DIO finds f0 candidates from zero crossings of
band-passed signals, StoneMask refines each from the harmonics'
instantaneous frequencies. Very fast, but DIO's voicing decision is binary
(the confidence is 1 where it found f0, else 0) and it confuses octaves more
often than the networks. (``pyworld`` from source breaks on import here; the
``pyworld-prebuilt`` wheel provides the same ``pyworld`` module.)
"""

from __future__ import annotations

import numpy as np

from .base import PitchTracker


class WorldTracker(PitchTracker):
    """DIO + StoneMask over ``[f0_floor, f0_ceil]`` Hz; voiced where DIO
    reports an f0 (confidence 1), threshold 0.5."""

    name = "world"
    sample_rate = 16000
    voicing_threshold = 0.5

    def __init__(self, device: str = "cpu", f0_floor: float = 50.0, f0_ceil: float = 2000.0):
        import pyworld  # the compiled module of pyworld-prebuilt

        self._pyworld = pyworld
        self.f0_floor, self.f0_ceil = f0_floor, f0_ceil

    def _track(self, audio, hop_length):
        pw = self._pyworld
        n_frames = audio.shape[0] // hop_length + 1
        period_ms = 1000.0 * hop_length / self.sample_rate
        x = audio.astype(np.float64)
        f0, times = pw.dio(x, self.sample_rate, f0_floor=self.f0_floor, f0_ceil=self.f0_ceil,
                           frame_period=period_ms)
        f0 = pw.stonemask(x, f0, times, self.sample_rate)
        f0 = np.pad(f0, (0, max(0, n_frames - f0.shape[0])))[:n_frames]  # DIO may differ by one
        return f0, (f0 > 0).astype(np.float32)
