"""The streaming engine: audio blocks in, audio blocks of the same size out.

:class:`StreamProcessor` chains, for each feature frame as soon as its
analysis window is complete: causal features (:mod:`.features`), the voicing
gate (:class:`~timbral.features.voicing.VoicingGate`, frames without a note
become silence), streaming auto-adjust (:mod:`.adjust`) and manual shifts,
then the model's stateful synthesis (:mod:`.synth`); it returns output blocks
from a FIFO.

Timing, for frame rate ``hop`` samples per frame:

- model time = input time: frame ``k`` describes the input up to sample
  ``k * hop + lookahead`` and the model places it at sample ``k * hop``;
- synthesis is final up to ``first_offset`` samples before the newest
  frame's position (one hop for the harmonic interpolation, plus the noise
  filter's reach: -384 samples for the realtime preset at 16 kHz);
- the engine delays its output by :attr:`StreamProcessor.delay` samples, the
  least that lets every block be answered at once: ``lookahead -
  first_offset - gcd(block, hop)`` for a fixed block size (e.g. 320 at
  16 kHz with 64-sample blocks and no lookahead);
- algorithmic latency = block + delay (:attr:`StreamProcessor.latency`):
  the time from an input sample entering a block to the output sample that
  renders it leaving one.

The output is the offline rendering of the same (causal) features, delayed
by :attr:`delay` samples, whatever the block size.
"""

from __future__ import annotations

import math
import time
from typing import Dict, List, Optional

import numpy as np
import torch

from ..features.voicing import VoicingGate, gate_rules
from ..models.autoencoder import Autoencoder
from ..transfer.adjust import apply_manual_shifts, floor_loudness
from ..transfer.controls import check_controls
from ..validation import as_audio, as_mono_audio, check_size
from ..zoo import as_model
from .adjust import StreamingAdjust
from .features import CausalFeatures, InputHistory
from .synth import StreamSynth

#: Block sizes the engine accepts (samples).
MIN_BLOCK, MAX_BLOCK = 1, 1 << 16
#: Input samples are clipped to this magnitude, 80 dB over full scale.
MAX_SAMPLE = 1e4


def engine_delay(block: Optional[int], hop: int, lookahead: int, first_offset: int) -> int:
    """The least output delay (samples) that answers every block at once.

    After ``n`` input samples, frames ``0 .. floor((n - lookahead) / hop)`` are
    analysed and output is final up to model time ``(frames) * hop +
    first_offset``; a block ending at ``n`` needs model times up to ``n -
    delay``. With ``block`` None (blocks of any size) the worst case over every
    ``n`` is taken.
    """
    def final(n: int) -> int:
        frames = (n - lookahead) // hop + 1 if n >= lookahead else 0
        return frames * hop + first_offset

    if block is None:
        return lookahead - 1 - first_offset
    period = hop // math.gcd(block, hop)
    first = max(1, lookahead // block)
    return max(0, max(m * block - final(m * block)
                      for m in range(first, first + period + lookahead // block + 2)))


class StreamStats:
    """Compute time of the latest ``keep`` blocks (a fixed ring, so a stream of
    any length uses the same memory) and the number of blocks so far."""

    def __init__(self, keep: int = 1 << 16):
        self.recent = np.zeros(int(keep))
        self.blocks = 0

    def add(self, seconds: float) -> None:
        self.recent[self.blocks % len(self.recent)] = seconds
        self.blocks += 1

    def times(self) -> np.ndarray:
        """The kept per-block times (seconds), oldest first."""
        if self.blocks > len(self.recent):
            return np.roll(self.recent, -(self.blocks % len(self.recent)))
        return self.recent[:self.blocks].copy()

    def summary(self, block: int, sample_rate: int, skip: int = 0) -> Dict[str, float]:
        """Mean, 99th percentile and max compute per block (ms) over the kept
        blocks after the first ``skip`` (warm-up), the block's duration (ms) and the
        real-time factor (mean compute / block duration)."""
        t = self.times()[skip:] * 1000.0
        if t.size == 0:
            return {}
        duration_ms = block / sample_rate * 1000.0
        return {"block_ms": duration_ms, "mean_ms": float(t.mean()),
                "p99_ms": float(np.percentile(t, 99)), "max_ms": float(t.max()),
                "rtf": float(t.mean() / duration_ms), "blocks": int(t.size)}


class StreamProcessor:
    """Stateful, causal timbre transfer over blocks of audio.

    Args:
      model: the model, or a shipped name, folder or zip (eval mode is set);
        its processor group must be the DDSP graph (Harmonic and/or
        FilteredNoise, Add, a final trainable reverb).
      block_size: samples per :meth:`process` call (fixed, like an audio
        callback's), which sets the smallest delay; None accepts any size
        (worst-case delay).
      pitch_tracker: causal tracker name (None: ``crepe-tiny-refined``, whatever
        the model was trained with, as offline transfer does; see
        :data:`~timbral.stream.features.STREAM_TRACKERS`).
      lookahead: samples of input after a frame's position its analysis may
        use (0: strictly causal, at most one second; adds to the delay).
      adjust: streaming auto-adjust toward the model's statistics.
      hold_pitch, gate: the voicing gate (as offline; it decides from past
        frames only and adds no latency; a note starts on two frames that agree).
      threshold, quiet, autotune: auto-adjust controls (as offline).
      pitch_shift, semitones, loudness_shift: manual shifts (octaves,
        semitones, dB), applied after auto-adjust.
      seed: the noise synth's seed.
      record: keep every frame's features (raw and adjusted) in
        :attr:`record` (memory grows with the stream: for tests and plots).
      backend: how the networks run: 'auto' (onnxruntime when installed,
        else TorchScript/PyTorch), 'onnxruntime', 'jit' or 'torch' (see
        :mod:`.synth`); the results agree to ~1e-7.
    """

    def __init__(self, model: Autoencoder, block_size: Optional[int] = None, *,
                 pitch_tracker: Optional[str] = None, lookahead: int = 0, adjust: bool = True,
                 hold_pitch: bool = False, gate: float = 0.5,
                 threshold: float = 1.0, quiet: float = 20.0, autotune: float = 0.0,
                 pitch_shift: float = 0.0, semitones: float = 0.0, loudness_shift: float = 0.0,
                 seed: int = 0, record: bool = False, backend: str = "auto"):
        model = as_model(model)
        model.eval()
        self.model = model
        self.sample_rate = int(model.sample_rate)
        self.hop = int(model.hop)
        if block_size is not None:
            block_size = check_size(block_size, "block_size")
            if block_size > MAX_BLOCK:
                raise ValueError(f"block_size: expected {MIN_BLOCK}..{MAX_BLOCK} samples, "
                                 f"got {block_size}")
        self.block_size = block_size
        self.lookahead = check_size(lookahead, "lookahead", 0)
        if self.lookahead > self.sample_rate:
            raise ValueError(f"lookahead: expected 0..{self.sample_rate} samples (one second), "
                             f"got {self.lookahead}")
        controls = check_controls(dict(adjust=adjust, hold_pitch=hold_pitch, gate=gate,
                                       threshold=threshold, quiet=quiet,
                                       autotune=autotune, pitch_shift=pitch_shift,
                                       semitones=semitones, loudness_shift=loudness_shift))
        self.shifts = dict(pitch_shift_octaves=controls["pitch_shift"],
                           semitones=controls["semitones"],
                           loudness_shift_db=controls["loudness_shift"])
        self.synth = StreamSynth(model, seed=seed, backend=backend)
        self.features = CausalFeatures(self.sample_rate, model.frame_rate,
                                       model.config["loudness_definition"],
                                       pitch_tracker,
                                       backend="torch" if backend == "jit" else backend)
        self.adjuster = StreamingAdjust(model.statistics, model.frame_rate, threshold=threshold,
                                        quiet=quiet, autotune=autotune) if adjust else None
        rules = gate_rules(controls["gate"], controls["hold_pitch"])
        self.gate = None if rules is None else VoicingGate(model.frame_rate, rules, confirm=True)
        self.messages: List[str] = list(self.adjuster.messages) if self.adjuster else []
        self.first_offset = self.synth.first_offset
        self.delay = engine_delay(block_size, self.hop, self.lookahead, self.first_offset)
        self.recording = bool(record)
        self.reset()

    # ------------------------------------------------------------- properties
    @property
    def latency(self) -> int:
        """Algorithmic latency in samples: block + delay (block 0 if not fixed)."""
        return (self.block_size or 0) + self.delay

    @property
    def latency_ms(self) -> float:
        return self.latency / self.sample_rate * 1000.0

    @property
    def first_played(self) -> int:
        """The first input sample a note can play from: a frame plays once its pitch
        window lies inside the stream and the background spectrum is known
        (:data:`~timbral.features.background.MIN_SECONDS` of whole windows), and a note
        starts on the second of two frames."""
        heard = -(-max(0, self.features.pitch.window_size - self.lookahead) // self.hop)
        background = self.features.background  # and once its background is known
        known = -(-max(0, background.n_fft - self.lookahead) // self.hop) \
            + int(math.ceil(background.needed - 1e-9)) - 1
        return (max(heard, known) + 1) * self.hop

    @property
    def analysis_offset(self) -> float:
        """How far (samples) before a frame's position its analysis windows are
        centred on average (half the f0 and loudness windows, less the lookahead)."""
        pitch = min(self.features.pitch.crepe_size, self.features.window_size)
        loud = self.features.loudness.window_size
        return (pitch + loud) / 4.0 - self.lookahead

    def reset(self) -> None:
        """Start a new stream (silence before it, all state cleared)."""
        self.history = InputHistory(self.features.window_size + self.lookahead)
        self.features.reset()
        self.synth.reset()
        if self.adjuster is not None:
            self.adjuster.reset()
        if self.gate is not None:
            self.gate.reset()
        self.next_frame = 0
        start = self.delay + self.first_offset  # stream time of the first synthesised sample
        self._pending = np.zeros(max(0, start), np.float32)
        self._skip = max(0, -start)
        self.stats = StreamStats()
        self.played_frames = 0  # frames the voicing gate let play
        self.record: Dict[str, list] = {k: [] for k in (
            "f0_hz", "f0_confidence", "loudness_db", "f0_adjusted", "loudness_adjusted",
            "note_on", "voiced")}

    # ---------------------------------------------------------------- process
    def _frames_due(self) -> List[int]:
        due = []
        while self.next_frame * self.hop + self.lookahead <= self.history.count:
            due.append(self.next_frame)
            self.next_frame += 1
        return due

    def _adjusted(self, feats: Dict[str, np.ndarray], unheard: np.ndarray):
        n = len(feats["f0_hz"])
        f0 = feats["f0_hz"].astype(np.float64)
        conf = feats["f0_confidence"]
        ld = feats["loudness_db"].astype(np.float64)
        note_on = np.zeros(n, bool)
        voiced = np.ones(n, bool)
        recent, rise = feats["recent_db"], feats["window_rise_db"]
        overtones = feats["overtones_db"]
        # a steady background tone is no more a note than noise is (see gate_voicing)
        gate_conf = np.where(feats["background"], 0.0, conf)
        refined = self.features.pitch.refine  # else no overtones are measured
        for i in range(n):
            if self.gate is not None and unheard[i]:
                voiced[i], f0[i], _ = self.gate.unheard(f0[i], gate_conf[i], ld[i], recent[i])
            elif self.gate is not None:
                voiced[i], f0[i], _ = self.gate(f0[i], gate_conf[i], ld[i], recent[i], rise[i],
                                                overtones[i] if refined else None,
                                                feats["line_db"][i], feats["repeats"][i])
            if self.adjuster is not None:
                frame = self.adjuster(f0[i], conf[i], ld[i], voiced[i])
                f0[i], ld[i], note_on[i] = frame.f0_hz, frame.loudness_db, frame.note_on
        f0, ld = apply_manual_shifts(f0, ld, **self.shifts)
        self.played_frames += int(voiced.sum())
        return f0, floor_loudness(ld, voiced), note_on, voiced

    def process(self, block) -> np.ndarray:
        """One block of input (mono ``[n]``, ``[1, n]`` or ``[n, 1]``; float or integer
        PCM) -> the same number of output samples. NaN and infinite samples are taken
        as silence and samples past +-:data:`MAX_SAMPLE` are clipped there (a live
        stream goes on)."""
        start = time.perf_counter()
        if getattr(block, "ndim", 1) == 2 and block.shape[-1] == 1:  # a device's [n, 1] frames
            block = block[:, 0]
        x = as_audio(block, "block")
        if x.shape[0] != 1:
            raise ValueError(f"block: expected mono [n] samples, got shape {list(x.shape)}; "
                             f"mix the channels first")
        x = x[0].detach().cpu().numpy().astype(np.float32, copy=False)
        if self.block_size is not None and x.shape[0] != self.block_size:
            raise ValueError(f"block: expected {self.block_size} samples (block_size), got "
                             f"{x.shape[0]}")
        if not np.all(np.isfinite(x)):
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        x = np.clip(x, -MAX_SAMPLE, MAX_SAMPLE)  # their power must not overflow float32
        self.history.append(x)
        due = self._frames_due()
        if due:
            size = self.features.window_size
            windows = np.stack([self.history.window(k * self.hop + self.lookahead, size)
                                for k in due])
            # a window reaching back before the stream's first sample is part zeros: its
            # pitch is a guess (a 50 Hz hum reads 25 cents flat), so the gate skips it
            ends = np.array(due) * self.hop + self.lookahead
            feats = self.features.analyse(windows, ends >= self.features.background.n_fft)
            # ... and until the background is known, a fan's tone may be taken for a note
            f0, ld, note_on, voiced = self._adjusted(
                feats, (ends < self.features.pitch.window_size) | ~feats["background_known"])
            audio = self.synth.process(f0, ld)
            if self._skip:
                cut = min(self._skip, len(audio))
                audio, self._skip = audio[cut:], self._skip - cut
            self._pending = np.concatenate([self._pending, audio])
            if self.recording:
                for key, value in (("f0_hz", feats["f0_hz"]),
                                   ("f0_confidence", feats["f0_confidence"]),
                                   ("loudness_db", feats["loudness_db"]), ("f0_adjusted", f0),
                                   ("loudness_adjusted", ld), ("note_on", note_on),
                                   ("voiced", voiced)):
                    self.record[key].extend(value.tolist())
        n = x.shape[0]
        if self._pending.shape[0] < n:  # cannot happen with the computed delay
            raise RuntimeError(f"stream underrun: {self._pending.shape[0]} samples ready, "
                               f"{n} needed")
        out, self._pending = self._pending[:n], self._pending[n:]
        self.stats.add(time.perf_counter() - start)
        return out


def stream_audio(processor: StreamProcessor, audio, block_size: Optional[int] = None,
                 compensate: bool = True) -> np.ndarray:
    """Run ``audio`` (mono, at the model's rate) through ``processor`` block by block.

    The input is padded with silence to whole blocks (and, with
    ``compensate``, by the delay so the output's tail comes out); with
    ``compensate`` the first :attr:`~StreamProcessor.delay` output samples are
    dropped so the output lines up with the input. The processor is reset first:
    this is a whole stream. Returns float32 ``[n_samples]`` (``compensate``) or
    the raw stream (whole blocks).
    """
    block = processor.block_size if block_size is None else check_size(block_size, "block_size")
    if block is None:
        raise ValueError("block_size: give one (the processor accepts any)")
    x = as_mono_audio(audio)
    n = x.shape[0]
    processor.reset()
    total = n + (processor.delay if compensate else 0)
    total = -(-total // block) * block
    x = np.concatenate([x, np.zeros(total - n, np.float32)])
    out = np.empty(total, np.float32)
    with torch.inference_mode():
        for i in range(0, total, block):
            out[i:i + block] = processor.process(x[i:i + block])
    if compensate:
        return out[processor.delay:processor.delay + n]
    return out


__all__ = ["StreamProcessor", "StreamStats", "engine_delay", "stream_audio"]
