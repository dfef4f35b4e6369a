"""Causal features for streaming: f0, voicing confidence and loudness of the latest audio.

Offline features (:func:`timbral.features.compute_audio_features`) centre
frame ``k`` on sample ``k * hop``: they need audio after it. Here frame
``k`` is computed from the analysis windows that *end* at sample ``k * hop +
lookahead`` (``lookahead`` = 0: strictly causal), so a stream never waits for
the future beyond ``lookahead``:

- loudness: the model's loudness definition (v2: 512-sample window) on the
  last ``n_fft`` samples. With ``lookahead = n_fft // 2`` (v2) the window is
  the offline one and the values are identical;
- f0: CREPE (``tiny`` by default; ``full`` is ~30x slower) on the last 1024
  samples at 16 kHz, decoded online: the forward pass of CREPE's Viterbi
  decoding (same transition prior, with a small probability of jumping
  anywhere), taking the best state at each frame (the offline decoder also
  looks at later frames). With ``refine`` (the default, like the offline
  ``crepe-tiny-refined`` tracker) the f0 is refined from the harmonics'
  instantaneous frequencies in a window of 5 periods ending at the same
  sample, and the confidence raised where the spectrum is clearly harmonic.
  The offline tracker's octave check (a 5-frame median) is left out: it
  needs frames ahead.
- the loudness of the newest 10 ms (:meth:`CausalLoudness.newest`): the
  voicing gate ends a note as the input stops, not half a window later, and
  starts one at once where it already fills the tracker's window;
- unvoiced frames hold the last confident f0 (offline: interpolated between
  both neighbours, which needs the next voiced frame).

A causal window describes audio that is on average half a window old: the
features of frame ``k`` are centred ``window / 2 - lookahead`` samples before
``k * hop`` (loudness v2: 16 ms, CREPE: 32 ms at ``lookahead`` 0). That is a
property of the analysis, not a delay the engine adds; see ``docs/streaming.md``.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from ..audio import resample_audio
from ..dsp.spectral import a_weighting, compute_loudness, frame_hop, loudness_window
from ..features.background import BackgroundSpectrum, background_tone, power_db
from ..features.pitch.base import FALLBACK_F0_HZ, SILENCE_WINDOW_S, is_silent
from ..features.pitch.refine import MAX_WINDOW_S
from ..features.voicing import APERIODIC_CONFIDENCE, LINE_MIN_HZ, line_db, newest_repeats
from ..validation import check_choice

#: Causal trackers by name: (CREPE capacity, refine).
STREAM_TRACKERS: Dict[str, Tuple[str, bool]] = {
    "crepe-tiny-refined": ("tiny", True),
    "crepe-tiny": ("tiny", False),
    "crepe-full-refined": ("full", True),
    "crepe-full": ("full", False),
}
#: Used when the caller names no tracker (the models' own, e.g. CREPE full for
#: Magenta imports, may be far too slow for real time).
DEFAULT_STREAM_TRACKER = "crepe-tiny-refined"


class InputHistory:
    """The latest samples of a stream, addressed by absolute sample index.

    ``append(x)`` adds samples; ``window(end, length)`` returns samples
    ``[end - length, end)`` (zeros before the stream's start) for any
    ``end`` in the latest block and ``length <= keep``. Holds ``keep`` samples
    plus the latest block: memory is bounded.
    """

    def __init__(self, keep: int):
        self.keep = int(keep)
        self.buffer = np.zeros(self.keep, np.float32)
        self.count = 0  # samples received so far

    def append(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32).reshape(-1)
        self.buffer = np.concatenate([self.buffer, x])[-(self.keep + len(x)):]
        self.count += len(x)

    def window(self, end: int, length: int) -> np.ndarray:
        first = self.count - len(self.buffer)  # absolute index of buffer[0]
        if end > self.count or end - length < first:
            raise ValueError(f"window [{end - length}, {end}) is outside the kept samples "
                             f"[{first}, {self.count})")
        return self.buffer[end - length - first:end - first]

    def reset(self) -> None:
        self.buffer = np.zeros(self.keep, np.float32)
        self.count = 0


#: The newest audio whose level :meth:`CausalLoudness.newest` reads (s).
RECENT_SECONDS = 0.01


class CausalLoudness:
    """Loudness (dB) of the last ``window_size`` samples, per the model's definition."""

    def __init__(self, sample_rate: int, frame_rate: float, definition: str = "v2"):
        self.sample_rate, self.frame_rate, self.definition = sample_rate, frame_rate, definition
        self.window_size = loudness_window(definition, frame_hop(sample_rate, frame_rate))
        self.recent_size = max(2, int(round(RECENT_SECONDS * sample_rate)))
        # _level's Hann windows and A-weights (per bin and sample of window), by size; in
        # numpy for one frame at a time: 0.1 ms a frame against 0.8 ms through compute_loudness
        self._weighting: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """``[n, >= window_size]`` windows (each ending at its frame) -> ``[n]`` dB."""
        x = torch.from_numpy(np.ascontiguousarray(windows[:, -self.window_size:]))
        ld = compute_loudness(x, self.sample_rate, self.frame_rate, padding="valid",
                              definition=self.definition)
        return ld[:, -1].numpy().astype(np.float32)

    def newest(self, windows: np.ndarray, loudness_db: np.ndarray,
               span: int) -> Tuple[np.ndarray, np.ndarray]:
        """The newest :data:`RECENT_SECONDS` of each ``[n, >= window_size]`` window:
        their loudness (dB, ``[n]``: ``loudness_db``, this loudness of the same
        windows, moved by how much louder they are than the whole loudness
        window, so a steady sound reads the same) and how much louder (dB,
        ``[n]``) they are than the oldest :data:`RECENT_SECONDS` of the last
        ``span`` samples (an attack still filling a window that long reads high).
        Differences are measured as v2 (A-weighted power per sample of Hann
        window) whatever the model's definition (v1 averages dB over bins, which
        does not scale with the window)."""
        newest = self._level(windows, self.recent_size)
        recent = np.asarray(loudness_db) + newest - self._level(windows, self.window_size)
        rise = newest - self._level(windows, self.recent_size, span)
        return recent.astype(np.float32), rise.astype(np.float32)

    def _level(self, windows: np.ndarray, n: int, first: Optional[int] = None) -> np.ndarray:
        """v2 level (dB per sample of Hann window, ``[n_windows]``) of the last ``n``
        samples of each window (``first``: of the ``n`` from this one back from the end)."""
        if n not in self._weighting:
            freqs = np.fft.rfftfreq(n, 1.0 / self.sample_rate)
            self._weighting[n] = (np.hanning(n + 1)[:-1],
                                  10.0 ** (a_weighting(freqs).numpy() / 10.0) / (n * (n // 2 + 1)))
        window, weights = self._weighting[n]
        start = windows.shape[1] - (n if first is None else first)
        power = np.abs(np.fft.rfft(windows[:, start:start + n] * window, axis=1)) ** 2
        return 10.0 * np.log10(power @ weights + 1e-30)


class CausalCrepe:
    """CREPE on windows ending at the current sample, decoded online (see module doc).

    Args:
      capacity: 'tiny' or 'full'.
      sample_rate: rate of the windows given (resampled to 16 kHz for CREPE).
      refine: refine f0 from the harmonics (and raise the confidence of
        clearly harmonic frames).
      jump_prob: probability of jumping to any pitch between frames (0 is
        CREPE's own prior, which cannot move more than 11 bins a frame).
      fill_threshold: below this confidence the last confident f0 is held
        (None: 0.5 with ``refine``, else 0.1, as the offline trackers).
      backend: 'torch', 'onnxruntime' (the network exported in memory; about
        1.6x faster for one frame) or 'auto' (onnxruntime when installed).
    """

    def __init__(self, capacity: str = "tiny", sample_rate: int = 16000, refine: bool = True,
                 jump_prob: float = 0.01, fill_threshold: Optional[float] = None,
                 periods: float = 5.0, backend: str = "auto"):
        from ..features.pitch import crepe

        self._crepe = crepe
        self.net = crepe.load_crepe(capacity)
        self._session = None
        if backend in ("auto", "onnxruntime"):
            from ..models.export import onnx_session

            self._session = onnx_session(self.net, (torch.zeros(1, crepe.WINDOW),), ["audio"],
                                         ["activations"])
            if self._session is None and backend == "onnxruntime":
                raise ValueError("backend 'onnxruntime' needs onnxruntime: "
                                 "pip install 'timbral[export]'")
        elif backend != "torch":
            raise ValueError(f"backend: expected 'auto', 'onnxruntime' or 'torch', got "
                             f"{backend!r}")
        self.backend = "onnxruntime" if self._session is not None else "torch"
        self.refine = bool(refine)
        self.sample_rate = int(sample_rate)
        self.periods = float(periods)
        self.crepe_size = math.ceil(crepe.WINDOW * self.sample_rate / crepe.SAMPLE_RATE)
        self.refine_size = int(MAX_WINDOW_S * self.sample_rate)  # window_sizes' cap
        self.window_size = max(self.crepe_size, self.refine_size if self.refine else 0)
        self.fill_threshold = (0.5 if self.refine else 0.1) if fill_threshold is None \
            else float(fill_threshold)
        band, offsets = crepe.log_transitions(float(jump_prob))
        self._band, self._offsets = band, offsets
        self._log_jump = math.log(jump_prob / crepe.N_BINS) if jump_prob > 0 else -math.inf
        self.reset()

    def reset(self) -> None:
        self._score: Optional[np.ndarray] = None
        self._held: Optional[float] = None

    def _activations(self, windows: np.ndarray) -> np.ndarray:
        crepe = self._crepe
        x = windows[:, -self.crepe_size:]
        if self.sample_rate != crepe.SAMPLE_RATE:
            x = np.stack([resample_audio(w, self.sample_rate, crepe.SAMPLE_RATE)[-crepe.WINDOW:]
                          for w in x])
        out = np.empty((x.shape[0], crepe.N_BINS), np.float64)
        with torch.inference_mode():
            # One frame at a time, each from a fresh copy: batch size and memory
            # alignment change the convolutions' rounding, and a stream's result must
            # not depend on how its frames were grouped into blocks.
            for i in range(x.shape[0]):
                frame = torch.tensor(x[i:i + 1], dtype=torch.float32)
                frame = frame - frame.mean(dim=1, keepdim=True)
                frame = frame / frame.std(dim=1, unbiased=False, keepdim=True).clamp_min(1e-8)
                if self._session is not None:
                    out[i] = self._session.run(None, {"audio": frame.numpy()})[0][0]
                else:
                    out[i] = self.net(frame)[0].numpy()
        return out

    def _decode(self, act: np.ndarray) -> int:
        """One step of the Viterbi forward pass; returns the best current bin."""
        score, _ = self._crepe.viterbi_step(self._score, int(act.argmax()), self._band,
                                            self._offsets, self._log_jump)
        self._score = score - score.max()  # keep the numbers small
        return int(self._score.argmax())

    def __call__(self, windows: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``[n, >= window_size]`` windows, oldest frame first -> ``(f0_hz [n],
        confidence [n], overtones_db [n])`` float32 (overtones: NaN without
        ``refine``; see :func:`~timbral.features.pitch.refine.overtones_db`)."""
        crepe = self._crepe
        act = self._activations(windows)
        n = act.shape[0]
        f0 = np.empty(n, np.float64)
        conf = act.max(axis=1)
        for i in range(n):
            centre = self._decode(act[i])
            f0[i] = crepe.cents_to_hz(crepe.local_average_cents(act[i:i + 1], np.array([centre])))[0]
        overtones = np.full(n, np.nan)
        if self.refine:
            f0, conf, overtones = self._refine(windows, f0, conf)
        # Silence, as the offline trackers see it (over the window that ends at the frame).
        tail = windows[:, -min(windows.shape[1], round(SILENCE_WINDOW_S * self.sample_rate)):]
        conf = np.where(is_silent(np.mean(np.square(tail, dtype=np.float64), axis=1)), 0.0, conf)
        out = np.empty(n, np.float32)
        for i in range(n):
            usable = np.isfinite(f0[i]) and f0[i] > 0
            if usable and (conf[i] >= self.fill_threshold or self._held is None):
                out[i] = f0[i]
                if conf[i] >= self.fill_threshold:
                    self._held = float(f0[i])
            else:
                out[i] = self._held if self._held is not None else FALLBACK_F0_HZ
        return out, np.clip(conf, 0.0, 1.0).astype(np.float32), overtones.astype(np.float32)

    def _refine(self, windows: np.ndarray, f0: np.ndarray, conf: np.ndarray):
        from ..features.pitch.refine import (harmonic_refine, hnr_confidence, overtones_db,
                                             window_sizes)

        f0 = f0.copy()
        conf = conf.copy()
        overtones = np.full(len(f0), np.nan)
        ok = np.isfinite(f0) & (f0 > 0)
        if not ok.any():
            return f0, conf, overtones
        sizes = np.minimum(window_sizes(np.where(ok, f0, 100.0), self.sample_rate, self.periods),
                           windows.shape[1] - windows.shape[1] % 2)
        for size in np.unique(sizes[ok]):
            sel = np.nonzero(ok & (sizes == size))[0]
            n = int(size)
            # a window of n samples ending at the frame: frame 1 of centred frames, hop n/2
            segs = torch.from_numpy(np.ascontiguousarray(windows[sel, -n:]))
            for j, idx in enumerate(sel):
                fit = harmonic_refine(segs[j], n // 2, f0[idx:idx + 1], self.sample_rate,
                                      self.periods, frames=np.array([1]), levels=True)
                f0[idx] = fit.f0_hz[0]
                conf[idx] = max(conf[idx], float(hnr_confidence(fit.hnr_db)[0]))
                overtones[idx] = overtones_db(fit)[0]
        return f0, conf, overtones


class CausalFeatures:
    """f0, confidence and loudness of a stream's frames, from windows ending at
    each frame's analysis point (see the module doc).

    Args:
      sample_rate: the stream's rate (the model's).
      frame_rate: the model's frame rate.
      loudness_definition: 'v2' or 'v1' (the model's).
      pitch_tracker: a name from :data:`STREAM_TRACKERS` (None:
        :data:`DEFAULT_STREAM_TRACKER`).
      backend: runs CREPE (see :class:`CausalCrepe`).

    ``analyse(windows)`` takes ``[n, window_size]`` windows (oldest frame
    first) and returns ``{"f0_hz", "f0_confidence", "loudness_db",
    "recent_db", "window_rise_db", "overtones_db", "line_db", "repeats"}``, float32
    ``[n]`` each (but ``repeats``):
    ``recent_db`` the loudness of the newest 10 ms, ``window_rise_db`` how much
    louder those are than the oldest 10 ms of the tracker's window
    (:meth:`CausalLoudness.newest`), ``overtones_db`` the power at harmonics 2-6
    against the spectrum between them (NaN without refinement:
    :func:`~timbral.features.pitch.refine.overtones_db`), ``line_db`` how far the
    clearest partial near a periodic frame's pitch from
    :data:`~timbral.features.voicing.LINE_MIN_HZ` up stands as a line over the band
    around it (:func:`~timbral.features.voicing.line_db`; NaN elsewhere), ``"repeats"``
    (``[n, 2]``) how the newest 10 ms repeat at the pitch's period and near it
    (:func:`~timbral.features.voicing.newest_repeats`), ``"background"``
    (bool ``[n]``): the frame holds the steady tone of the stream's background
    spectrum so far (:class:`~timbral.features.background.BackgroundSpectrum`), and
    ``"background_known"`` (bool ``[n]``): that spectrum had been heard long enough.
    """

    def __init__(self, sample_rate: int, frame_rate: float, loudness_definition: str = "v2",
                 pitch_tracker: Optional[str] = None, backend: str = "auto"):
        self.tracker_name = (DEFAULT_STREAM_TRACKER if pitch_tracker is None else
                             check_choice(pitch_tracker, "pitch_tracker", STREAM_TRACKERS))
        capacity, refine = STREAM_TRACKERS[self.tracker_name]
        self.pitch = CausalCrepe(capacity, sample_rate, refine=refine, backend=backend)
        self.loudness = CausalLoudness(sample_rate, frame_rate, loudness_definition)
        self.sample_rate = sample_rate
        self.background = BackgroundSpectrum(sample_rate, frame_rate)
        self.window_size = max(self.pitch.window_size, self.loudness.window_size,
                               self.background.n_fft)

    def reset(self) -> None:
        self.pitch.reset()
        self.background.reset()

    def analyse(self, windows: np.ndarray,
                inside: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
        """``inside`` (bool ``[n]``, default all): the windows whose background
        spectrum lies wholly inside the stream (zeros before its first sample would
        teach the background a silence that was never heard)."""
        f0, conf, overtones = self.pitch(windows)
        ld = self.loudness(windows)
        recent, rise = self.loudness.newest(windows, ld, self.pitch.crepe_size)
        power = power_db(windows[:, -self.background.n_fft:])
        background, known = np.zeros(len(f0), bool), np.zeros(len(f0), bool)
        lines = np.full(len(f0), np.nan)
        measured = (conf >= APERIODIC_CONFIDENCE) & (f0 >= LINE_MIN_HZ)
        if measured.any():
            lines[measured] = line_db(power[measured], self.sample_rate, f0[measured])
        for i in range(len(f0)):
            if inside is None or inside[i]:
                self.background.update(power[i])
            value = self.background.value
            known[i] = value is not None
            if known[i] and conf[i] >= APERIODIC_CONFIDENCE:
                background[i] = background_tone(power[i], value, float(f0[i]), self.sample_rate)
        return {"f0_hz": f0, "f0_confidence": conf, "loudness_db": ld, "recent_db": recent,
                "window_rise_db": rise, "overtones_db": overtones,
                "line_db": lines.astype(np.float32),
                "repeats": newest_repeats(windows, f0, self.sample_rate).astype(np.float32),
                "background": background, "background_known": known}


__all__ = ["CausalCrepe", "CausalFeatures", "CausalLoudness", "InputHistory",
           "STREAM_TRACKERS", "DEFAULT_STREAM_TRACKER"]
