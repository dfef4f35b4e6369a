"""The exact ground truth of a rendered performance: f0, voicing and release per time.

Exact f0: a note sounds at ``pitch + bend`` (whole cents, as FluidSynth played
it) from its onset to its offset (note-off), plus, by default, the sampled
instrument's own measured deviation (:mod:`timbral.data.pitch_deviation`);
``f0_hz_at`` and ``f0_frames`` include it unless ``intrinsic=False`` (only notes
and bends: what the MIDI asked for).

Voicing: a frame is *voiced* while a note is held (onset <= t < offset). After
the note-off the sound decays (release, 0.1-0.5 s): those frames are flagged in
``release`` (until the next onset or until the tail is 60 dB below the note's
peak) and are unvoiced (f0 = 0) unless ``include_release=True``; benchmarks
should leave them out of voicing scores. Everything else is silence (f0 = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Optional, Tuple

import numpy as np
import torch

from ..core import midi_to_hz
from .melodies import CONTROL_RATE, Note, Performance


class F0Frames(NamedTuple):
    """Ground truth at frame times: ``times`` (s), ``f0_hz`` (0 = unvoiced),
    ``voiced`` (a note is held) and ``release`` (a note's release tail rings)."""

    times: np.ndarray
    f0_hz: np.ndarray
    voiced: np.ndarray
    release: np.ndarray


@dataclass(eq=False)
class Rendering:
    """A rendered performance and its exact ground truth.

    Attributes:
      audio: ``[n_samples]`` float32 mono at ``sample_rate`` (mean of FluidSynth's
        left and right channels, gain :data:`~timbral.data.rendering.DEFAULT_GAIN`,
        or peak-normalised to ``normalize`` when asked).
      sample_rate: Hz.
      notes: the notes played (onset s, offset s, MIDI key, velocity), exact.
      performance: the full performance (with the requested bend and CC11).
      bend_cents: ``[n_blocks]`` int, the pitch bend that sounded, in cents,
        per 750 Hz block (block ``k`` covers ``[k, k+1) / 750`` s).
      intrinsic_cents: ``[n_blocks]`` float, the measured deviation of the
        sampled instrument from its nominal pitch (0 outside notes), or None.
      release_ends: per note, when its release tail has died away (60 dB below
        the note's peak) or the next note starts, in s.
      soundfont, program, instrument, seed, gain: how it was made.
    """

    audio: np.ndarray
    sample_rate: int
    notes: Tuple[Note, ...]
    performance: Performance
    bend_cents: np.ndarray
    intrinsic_cents: Optional[np.ndarray]
    release_ends: Tuple[float, ...]
    soundfont: Path
    program: int
    gain: float
    instrument: Optional[str] = None
    seed: Optional[int] = None

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    def _lookup(self, times) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        t = np.asarray(times, dtype=np.float64)
        onsets = np.array([n.onset for n in self.notes])
        offsets = np.array([n.offset for n in self.notes])
        ends = np.array(self.release_ends)
        idx = np.searchsorted(onsets, t + 1e-9, side="right") - 1
        has = (idx >= 0) & (t >= 0) & (t < self.duration)
        safe = np.clip(idx, 0, max(len(onsets) - 1, 0))
        if len(onsets) == 0:
            false = np.zeros(t.shape, bool)
            return t, safe, false, false
        voiced = has & (t < offsets[safe] - 1e-9)
        release = has & ~voiced & (t < ends[safe] - 1e-9)
        return t, safe, voiced, release

    def _f0(self, t, idx, mask, intrinsic: bool) -> np.ndarray:
        if not self.notes:
            return np.zeros(t.shape)
        block = np.clip(np.floor(t * CONTROL_RATE + 1e-9).astype(np.int64), 0,
                        len(self.bend_cents) - 1)
        cents = self.bend_cents[block].astype(np.float64)
        if intrinsic and self.intrinsic_cents is not None:
            centres = (np.arange(len(self.intrinsic_cents)) + 0.5) / CONTROL_RATE
            cents = cents + np.interp(t, centres, self.intrinsic_cents)
        pitch = np.array([n.pitch for n in self.notes], dtype=np.float64)[idx] + cents / 100.0
        hz = midi_to_hz(torch.from_numpy(pitch)).numpy()
        return np.where(mask, hz, 0.0)

    def voiced_at(self, times) -> np.ndarray:
        """True where a note is held (onset <= t < offset)."""
        return self._lookup(times)[2]

    def release_at(self, times) -> np.ndarray:
        """True in a release tail (after a note-off, before it dies away or the next onset)."""
        return self._lookup(times)[3]

    def f0_hz_at(self, times, intrinsic: bool = True, include_release: bool = False) -> np.ndarray:
        """Exact f0 (Hz, float64) at ``times`` (s); 0 where no note is held.

        f0 = midi_to_hz(key + (bend + intrinsic deviation) / 100). With
        ``intrinsic=False`` only the notes and bends count (what the MIDI asked
        for); ``include_release`` also gives the pitch of release tails.
        """
        t, idx, voiced, release = self._lookup(times)
        return self._f0(t, idx, voiced | release if include_release else voiced, intrinsic)

    def f0_frames(self, frame_rate: float = 250.0, n_frames: Optional[int] = None,
                  intrinsic: bool = True, include_release: bool = False) -> F0Frames:
        """Ground truth per frame, frame ``i`` at ``i / frame_rate`` s.

        The default ``n_frames`` is ``floor(duration * frame_rate) + 1``, the
        count of centred analysis frames (1001 for 4 s at 250 Hz, like
        ``compute_loudness``). Returns :class:`F0Frames` (times, f0_hz, voiced,
        release).
        """
        if not (math.isfinite(frame_rate) and frame_rate > 0):
            raise ValueError(f"frame_rate: expected a positive number, got {frame_rate}")
        if n_frames is None:
            n_frames = int(math.floor(self.duration * frame_rate + 1e-9)) + 1
        times = np.arange(int(n_frames)) / float(frame_rate)
        t, idx, voiced, release = self._lookup(times)
        f0 = self._f0(t, idx, voiced | release if include_release else voiced, intrinsic)
        return F0Frames(times, f0, voiced, release)


__all__ = ["F0Frames", "Rendering"]
