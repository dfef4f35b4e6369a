"""Synthesizers: processors that make audio from frame-rate controls.

All take controls ``[batch, n_frames, channels]`` (a missing batch dim is
added) and return audio ``[batch, n_samples]``. ``n_samples`` is fixed at
construction as in Magenta; frames are spread evenly over it.
"""

from __future__ import annotations

from typing import Callable, Optional, Union

import torch
import torch.nn.functional as F

from .. import dsp
from .base import SCALE_FNS, Processor, TensorDict, resolve_scale_fn
from ..validation import (as_controls, as_number, as_tensor, check_choice, check_finite,
                          check_frame_blocks, check_positive, check_seed, check_size)

#: The largest level calibration (dB) a harmonic synth takes (training measures a few dB).
MAX_GAIN_DB = 40.0
#: Stateful calls up to this many sines (rows x samples x harmonics) compute them
#: explicitly (a [rows, samples, harmonics] tensor: 1 MiB at most).
EXPLICIT_SINES = 1 << 18

SCALE_FNS.setdefault("frequencies_softmax", dsp.frequencies_softmax)

ScaleFn = Union[str, Callable, None]


def _check_frames(n_samples: int, method: str, **controls: torch.Tensor) -> None:
    """All controls share n_frames and batch, and 'window' upsampling divides evenly."""
    names = list(controls)
    first = controls[names[0]]
    for name in names[1:]:
        x = controls[name]
        if x.shape[1] != first.shape[1]:
            raise ValueError(f"{name}: has {x.shape[1]} frames but {names[0]} has "
                             f"{first.shape[1]}; expected [batch, n_frames, channels] with "
                             f"the same n_frames")
        if x.shape[0] != first.shape[0] and 1 not in (x.shape[0], first.shape[0]):
            raise ValueError(f"{name}: batch size {x.shape[0]} does not match "
                             f"{names[0]}'s {first.shape[0]}")
    n_frames = first.shape[1]
    if method == "window" and (n_samples % n_frames or n_frames >= n_samples):
        raise ValueError(f"{names[0]}: 'window' resampling needs n_frames dividing "
                         f"n_samples={n_samples} (and fewer frames than samples); "
                         f"got {n_frames} frames")


def _check_gain_db(gain_db) -> float:
    gain = as_number(gain_db, "gain_db")
    if not -MAX_GAIN_DB <= gain <= MAX_GAIN_DB:
        raise ValueError(f"gain_db: expected -{MAX_GAIN_DB:g} to {MAX_GAIN_DB:g} dB, got {gain_db}")
    return gain


def _check_f0(f0_hz: torch.Tensor) -> torch.Tensor:
    if bool((f0_hz < 0).any()):
        raise ValueError("f0_hz: negative frequencies; expected Hz >= 0 (0 = unvoiced)")
    return f0_hz


class Harmonic(Processor):
    """A bank of harmonic sinusoids: the DDSP harmonic synthesizer.

    Args:
      n_samples: output length in samples.
      sample_rate: samples per second.
      scale_fn: applied to raw amplitudes and harmonic distribution
        (default ``exp_sigmoid``; ``None`` to pass them through).
      normalize_below_nyquist: zero harmonics at or above Nyquist before
        normalising the distribution (so audible harmonics keep the energy).
      amp_resample_method: 'window' (default) | 'linear' | 'cubic' | 'nearest'.
      use_angular_cumsum: accepted for Magenta configs; phase is always exact.
      gain_db: the output's level (dB, within +-:data:`MAX_GAIN_DB`): the
        calibration a training run ends with (:mod:`timbral.train.calibration`);
        0, Magenta's synthesizer as it is.

    Inputs: ``amplitudes [batch, n_frames, 1]``, ``harmonic_distribution
    [batch, n_frames, n_harmonics]``, ``f0_hz [batch, n_frames, 1]``.
    Order (Magenta's): scale_fn on amplitudes and distribution; zero harmonics
    with ``k * f0 >= nyquist`` at frame rate; renormalise the distribution to
    sum 1; multiply by the amplitude at frame rate; upsample those per-harmonic
    amplitudes; upsample ``k * f0`` linearly; sum sinusoids, silencing any with
    ``k * f(t) >= nyquist`` at sample rate. Memory stays O(batch x n_samples):
    the per-harmonic envelopes are never stored (see ``dsp.harmonic_synthesis``).
    """

    def __init__(self, n_samples: int = 64000, sample_rate: int = 16000,
                 scale_fn: ScaleFn = "exp_sigmoid", normalize_below_nyquist: bool = True,
                 amp_resample_method: str = "window", use_angular_cumsum: bool = False,
                 gain_db: float = 0.0, name: str = "harmonic"):
        super().__init__(name=name)
        self.gain_db = _check_gain_db(gain_db)
        self.n_samples = check_size(n_samples, "n_samples")
        self.sample_rate = check_positive(sample_rate, "sample_rate")
        self.scale_fn = resolve_scale_fn(scale_fn)
        self.normalize_below_nyquist = bool(normalize_below_nyquist)
        self.amp_resample_method = check_choice(amp_resample_method, "amp_resample_method",
                                                dsp.RESAMPLE_METHODS)

    def get_controls(self, amplitudes, harmonic_distribution, f0_hz) -> TensorDict:
        amplitudes = as_controls(amplitudes, "amplitudes", 1)
        harmonic_distribution = as_controls(harmonic_distribution, "harmonic_distribution")
        f0_hz = _check_f0(as_controls(f0_hz, "f0_hz", 1))
        _check_frames(self.n_samples, self.amp_resample_method, amplitudes=amplitudes,
                      harmonic_distribution=harmonic_distribution, f0_hz=f0_hz)
        return self._scale(amplitudes, harmonic_distribution, f0_hz)

    def _scale(self, amplitudes, harmonic_distribution, f0_hz) -> TensorDict:
        if self.scale_fn is not None:
            amplitudes = self.scale_fn(amplitudes)
            harmonic_distribution = self.scale_fn(harmonic_distribution)
        harmonic_distribution = dsp.normalize_harmonics(
            harmonic_distribution, f0_hz,
            self.sample_rate if self.normalize_below_nyquist else None)
        return {"amplitudes": amplitudes, "harmonic_distribution": harmonic_distribution,
                "f0_hz": f0_hz}

    def get_signal(self, amplitudes, harmonic_distribution, f0_hz) -> torch.Tensor:
        """Audio ``[batch, n_samples]`` from scaled controls."""
        audio = dsp.harmonic_synthesis(f0_hz, amplitudes,
                                       harmonic_distribution=harmonic_distribution,
                                       n_samples=self.n_samples, sample_rate=self.sample_rate,
                                       amp_resample_method=self.amp_resample_method)
        return self._gain(audio)

    def set_gain_db(self, gain_db: float) -> None:
        """Change :attr:`gain_db` (and the config :meth:`get_config` gives)."""
        self.gain_db = self._init_args["gain_db"] = _check_gain_db(gain_db)

    def _gain(self, audio: torch.Tensor) -> torch.Tensor:
        return audio * 10.0 ** (self.gain_db / 20.0) if self.gain_db else audio

    # Stateful use: the segment from frame j - 1 to frame j needs frame j, so the
    # call that receives frames k .. k + N - 1 renders the segments starting at
    # frames k - 1 .. k + N - 2 (offset -hop), carrying the previous frame and the
    # fundamental's phase (float64). The phase starts at model time 0.
    def init_state(self, batch, hop, channels) -> TensorDict:
        if self.amp_resample_method not in ("window", "linear"):
            raise ValueError(f"{self.name}: rendering in pieces needs 'window' or 'linear' "
                             f"amplitude resampling, not {self.amp_resample_method!r}")
        return {"phase": torch.zeros(batch, 1, dtype=torch.float64),
                "time": torch.full((batch, 1), -float(hop), dtype=torch.float64),
                "prev_f0": torch.zeros(batch, 1),
                "prev_amps": torch.zeros(batch, int(channels[1]))}

    def stream_offset(self, hop, channels) -> int:
        return -int(hop)

    def process(self, amplitudes, harmonic_distribution, f0_hz, state, hop, noise=None):
        controls = self._scale(amplitudes, harmonic_distribution, f0_hz)
        amps = controls["amplitudes"] * controls["harmonic_distribution"]  # [B, N, K]
        f0 = controls["f0_hz"][..., 0]  # [B, N]
        f0_all = torch.cat([state["prev_f0"], f0], dim=1)  # frames k - 1 .. k + N - 1
        amps_all = torch.cat([state["prev_amps"][:, None], amps], dim=1)
        n_samples = f0.shape[1] * hop
        new = {"prev_f0": f0[:, -1:], "prev_amps": amps[:, -1],
               "time": state["time"] + n_samples}
        # Explicit sines when exported (a fixed graph) or small (a frame or a few: twice
        # as fast as the kernel for one 48 kHz frame); else the memory-lean kernel of
        # whole-example synthesis.
        if torch.jit.is_tracing() or amps.shape[0] * n_samples * amps.shape[-1] <= EXPLICIT_SINES:
            audio, new["phase"] = self._segments(f0_all, amps_all, state, hop)
        else:
            audio, new["phase"] = self._segments_kernel(f0_all, amps_all, state, hop)
        return self._gain(audio), new

    def _segments(self, f0_all, amps_all, state, hop):
        """Segments between consecutive frames of ``f0_all`` ``[B, N + 1]`` and
        ``amps_all`` ``[B, N + 1, K]`` as explicit sines: ``([B, N * hop], phase)``."""
        w_f0, w_amp = self._weights(hop, f0_all.device)
        f0_64 = f0_all.to(torch.float64)
        env = (f0_64[:, :-1, None] * w_f0[:, 0] + f0_64[:, 1:, None] * w_f0[:, 1])  # [B, N, hop]
        env = env.reshape(env.shape[0], -1)
        steps = torch.cumsum(torch.ones_like(env), dim=1) - 1.0
        started = (steps + state["time"]) >= 0  # no phase accumulates before model time 0
        omega = env * (dsp.TWO_PI / self.sample_rate) * started.to(env.dtype)
        total = torch.cumsum(omega, dim=1) + state["phase"]
        phase = torch.remainder(total, dsp.TWO_PI).to(torch.float32)
        numbers = torch.arange(1, amps_all.shape[-1] + 1, dtype=torch.float32,
                               device=amps_all.device)
        angles = phase[..., None] * numbers  # [B, T, K]
        audible = (env.to(torch.float32)[..., None] * numbers) < (self.sample_rate / 2.0)
        sines = torch.sin(angles) * audible.to(angles.dtype)
        sines = sines.reshape(sines.shape[0], -1, hop, sines.shape[-1])  # [B, N, hop, K]
        start = torch.matmul(sines, amps_all[:, :-1, :, None])[..., 0]  # [B, N, hop]
        end = torch.matmul(sines, amps_all[:, 1:, :, None])[..., 0]
        out = start * w_amp[:, 0] + end * w_amp[:, 1]
        return out.reshape(out.shape[0], -1), torch.remainder(total[:, -1:], dsp.TWO_PI)

    def _segments_kernel(self, f0_all, amps_all, state, hop):
        """:meth:`_segments` through :func:`dsp.harmonic_synthesis` (eager only: it
        branches on the model time in Python)."""
        n = f0_all.shape[1] - 1
        if bool((state["time"] >= 0).all()):
            first = 0
        elif bool((state["time"] == -hop).all()):  # the first call: nothing before time 0
            first = 1
        else:
            raise ValueError(f"{self.name}: streams of one batch must start together")
        out = torch.zeros(f0_all.shape[0], n * hop, dtype=amps_all.dtype, device=amps_all.device)
        if n == first:
            return out, state["phase"]
        f0, amps = f0_all[:, first:, None], amps_all[:, first:]
        kept = (n - first) * hop
        out[:, first * hop:] = dsp.harmonic_synthesis(
            f0, amps, n_samples=(n + 1 - first) * hop, sample_rate=self.sample_rate,
            amp_resample_method=self.amp_resample_method,
            initial_phase=state["phase"][:, 0])[:, :kept]
        env = dsp.resample(f0.to(torch.float64), (n + 1 - first) * hop, "linear")[:, :kept, 0]
        phase = state["phase"] + env.sum(1, keepdim=True) * (dsp.TWO_PI / self.sample_rate)
        return out, torch.remainder(phase, dsp.TWO_PI)

    def _weights(self, hop: int, device=None):
        """Interpolation weights of one segment: f0 (float64, linear), amplitudes."""
        key = ("weights", hop, torch.device(device or "cpu"))
        if key not in self.__dict__.setdefault("_stream_cache", {}):
            _, w_f0 = dsp.interpolation_taps(2, 2 * hop, "linear", True, torch.float64)
            _, w_amp = dsp.interpolation_taps(2, 2 * hop, self.amp_resample_method, True,
                                               torch.float32)
            self._stream_cache[key] = (w_f0[:hop].contiguous().to(key[2]),
                                       w_amp[:hop].contiguous().to(key[2]))
        return self._stream_cache[key]


class FilteredNoise(Processor):
    """Uniform white noise through a time-varying linear-phase FIR filter.

    Args:
      n_samples: output length in samples.
      window_size: IR length in taps (<= 0 or more than ``2 * (n_bands - 1)``
        means the full IR; Magenta's default 257 gives 128 taps for 65 bands).
      scale_fn: applied to ``magnitudes + initial_bias`` (default exp_sigmoid).
      initial_bias: shifts raw magnitudes so an untrained network starts quiet.
      crossfade: False = Magenta's block-switched filter (for imported models);
        True = raised-cosine crossfade between frames, no delay.
      seed: if set, every call draws the same noise (reproducible renders);
        otherwise noise comes from torch's global generator.

    Input: ``magnitudes [batch, n_frames, n_bands]`` (bands evenly spaced from
    0 Hz to Nyquist). :meth:`get_signal` also takes an explicit ``noise``
    ``[batch, n_samples]`` in [-1, 1].
    """

    def __init__(self, n_samples: int = 64000, window_size: int = 257,
                 scale_fn: ScaleFn = "exp_sigmoid", initial_bias: float = -5.0,
                 crossfade: bool = False, seed: Optional[int] = None,
                 name: str = "filtered_noise"):
        super().__init__(name=name)
        self.n_samples = check_size(n_samples, "n_samples")
        self.window_size = int(window_size)
        self.scale_fn = resolve_scale_fn(scale_fn)
        self.initial_bias = float(initial_bias)
        self.crossfade = bool(crossfade)
        self.seed = None if seed is None else check_seed(seed)

    def get_controls(self, magnitudes) -> TensorDict:
        magnitudes = as_controls(magnitudes, "magnitudes")
        if magnitudes.shape[-1] < 2:
            raise ValueError(f"magnitudes: expected [batch, n_frames, n_bands] with n_bands >= 2, "
                             f"got {list(magnitudes.shape)}")
        check_frame_blocks(self.n_samples, magnitudes.shape[1], "magnitudes")
        if self.crossfade and self.n_samples % magnitudes.shape[1]:
            raise ValueError(f"magnitudes: crossfade needs n_frames dividing n_samples="
                             f"{self.n_samples}, got {magnitudes.shape[1]} frames")
        return {"magnitudes": self._scale(magnitudes)}

    def _scale(self, magnitudes: torch.Tensor) -> torch.Tensor:
        return magnitudes if self.scale_fn is None else self.scale_fn(magnitudes + self.initial_bias)

    def get_signal(self, magnitudes, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Filtered noise ``[batch, n_samples]``."""
        shape = (magnitudes.shape[0], self.n_samples)
        if noise is None:
            generator = None
            if self.seed is not None:
                generator = torch.Generator(device=magnitudes.device).manual_seed(self.seed)
            # drawn in float32 whatever the dtype, so a seeded float64 run hears the same
            noise = torch.rand(shape, generator=generator, dtype=torch.float32,
                               device=magnitudes.device).to(magnitudes.dtype) * 2.0 - 1.0
        elif tuple(noise.shape) != shape:
            raise ValueError(f"noise: expected shape {list(shape)}, got {list(noise.shape)}")
        return dsp.frequency_filter(noise, magnitudes, window_size=self.window_size,
                                     crossfade=self.crossfade)

    # Stateful use: each frame's filter is applied to its own stretch of noise
    # (crossfaded: 2 * hop samples under a Hann window centred on the frame;
    # Magenta's block-switched filter: the hop after it), convolved with the
    # frame's FIR and overlap-added into a carried tail. The zero-phase FIR
    # reaches half its taps into the past, hence the negative offset.
    uses_noise = True

    def _plan(self, hop: int, n_bands: int, device=None) -> dict:
        """Constants of a stream (tensors on ``device``): the FIR basis (linear in
        the magnitudes), the segment window and placement, and how many hops one
        frame's output spans."""
        key = ("plan", hop, n_bands, torch.device(device or "cpu"))
        cache = self.__dict__.setdefault("_stream_cache", {})
        if key not in cache:
            basis = dsp.frequency_impulse_response(torch.eye(n_bands, dtype=torch.float64),
                                                    self.window_size)  # [bands, taps]
            taps = basis.shape[-1]
            if self.crossfade:
                start, length = -hop, 2 * hop
                window = torch.hann_window(2 * hop, periodic=True, dtype=torch.float64)
                delay = int(basis.sum(0).abs().argmax())
            else:  # Magenta's blocks of one hop, 'same' cropping of fft_convolve
                start, length = 0, hop
                window = torch.ones(hop, dtype=torch.float64)
                delay = (taps - 1) // 2 - 1
            cache[key] = {"basis": basis.float().to(key[3]), "window": window.float().to(key[3]),
                          "taps": taps,
                          "length": length, "offset": start - delay,
                          "pieces": -(-(length + taps - 1) // hop)}
        return cache[key]

    def init_state(self, batch, hop, channels) -> TensorDict:
        plan = self._plan(hop, int(channels[0]))
        state = {"tail": torch.zeros(batch, (plan["pieces"] - 1) * hop)}
        if plan["length"] > hop:
            state["prev"] = torch.zeros(batch, plan["length"] - hop)
        return state

    def stream_offset(self, hop, channels) -> int:
        return self._plan(hop, int(channels[0]))["offset"]

    def process(self, magnitudes, state, hop, noise=None):
        # int(): traced sizes are tensors
        plan = self._plan(hop, int(magnitudes.shape[-1]), magnitudes.device)
        batch, n_frames = magnitudes.shape[0], magnitudes.shape[1]
        ir = torch.matmul(self._scale(magnitudes), plan["basis"])  # [B, N, taps]
        noise = noise.reshape(batch, n_frames, hop)
        new = {}
        if plan["length"] > hop:  # segments straddle two hops: previous + current
            prev = torch.cat([state["prev"][:, None], noise[:, :-1]], dim=1)
            new["prev"] = noise[:, -1]
            segments = torch.cat([prev, noise], dim=-1)
        else:
            segments = noise
        conv = dsp.convolve_frames(segments * plan["window"], ir)  # [B, N, length + taps - 1]
        # overlap-add the frames' outputs (one hop apart), then the carried tail
        pieces = plan["pieces"]
        conv = F.pad(conv, (0, pieces * hop - conv.shape[-1]))
        total = None
        for j in range(pieces):
            piece = F.pad(conv[..., j * hop:(j + 1) * hop], (0, 0, j, pieces - 1 - j))
            total = piece if total is None else total + piece
        total = total.reshape(batch, -1)
        tail = state["tail"]
        total = total + F.pad(tail, (0, total.shape[1] - tail.shape[1]))
        new["tail"] = total[:, total.shape[1] - tail.shape[1]:]
        return total[:, :total.shape[1] - tail.shape[1]], new


class Sinusoidal(Processor):
    """A bank of freely moving sinusoids (not tied to a fundamental).

    Args:
      n_samples, sample_rate: output length and rate.
      amp_scale_fn: applied to raw amplitudes (default exp_sigmoid).
      amp_resample_method: how amplitudes reach the sample rate.
      freq_scale_fn: maps raw frequency outputs to Hz (default
        ``frequencies_softmax``; ``None`` when the inputs already are Hz).

    Inputs: ``amplitudes [batch, n_frames, n_sinusoids]`` and ``frequencies
    [batch, n_frames, n_sinusoids]`` (or raw outputs for ``freq_scale_fn``).
    Sinusoids at or above Nyquist are silenced. Memory is batch x n_samples x
    n_sinusoids (each sinusoid has its own phase).
    """

    def __init__(self, n_samples: int = 64000, sample_rate: int = 16000,
                 amp_scale_fn: ScaleFn = "exp_sigmoid", amp_resample_method: str = "window",
                 freq_scale_fn: ScaleFn = "frequencies_softmax", name: str = "sinusoidal"):
        super().__init__(name=name)
        self.n_samples = check_size(n_samples, "n_samples")
        self.sample_rate = check_positive(sample_rate, "sample_rate")
        self.amp_scale_fn = resolve_scale_fn(amp_scale_fn)
        self.amp_resample_method = check_choice(amp_resample_method, "amp_resample_method",
                                                dsp.RESAMPLE_METHODS)
        self.freq_scale_fn = resolve_scale_fn(freq_scale_fn)

    def get_controls(self, amplitudes, frequencies) -> TensorDict:
        amplitudes = as_controls(amplitudes, "amplitudes")
        frequencies = as_tensor(frequencies, "frequencies")
        check_finite(frequencies, "frequencies")
        if self.amp_scale_fn is not None:
            amplitudes = self.amp_scale_fn(amplitudes)
        if self.freq_scale_fn is not None:
            frequencies = self.freq_scale_fn(frequencies)
        frequencies = as_controls(frequencies, "frequencies", amplitudes.shape[-1])
        _check_frames(self.n_samples, self.amp_resample_method, amplitudes=amplitudes,
                      frequencies=frequencies)
        amplitudes = dsp.remove_above_nyquist(frequencies, amplitudes, self.sample_rate)
        return {"amplitudes": amplitudes, "frequencies": frequencies}

    def get_signal(self, amplitudes, frequencies) -> torch.Tensor:
        amp_env = dsp.resample(amplitudes, self.n_samples, self.amp_resample_method)
        freq_env = dsp.resample(frequencies, self.n_samples, "linear")
        return dsp.oscillator_bank(freq_env, amp_env, sample_rate=self.sample_rate)


class Wavetable(Processor):
    """A wavetable oscillator: one cycle per table, read at f0.

    Args:
      n_samples, sample_rate: output length and rate.
      scale_fn: applied to amplitudes and wavetables (Magenta's default
        exp_sigmoid, which makes tables non-negative; pass None for raw tables).

    Inputs: ``amplitudes [batch, n_frames, 1]``, ``wavetables [batch,
    n_wavetable]`` or ``[batch, n_frames, n_wavetable]`` (interpolated between
    frames), ``f0_hz [batch, n_frames, 1]``.
    """

    def __init__(self, n_samples: int = 64000, sample_rate: int = 16000,
                 scale_fn: ScaleFn = "exp_sigmoid", name: str = "wavetable"):
        super().__init__(name=name)
        self.n_samples = check_size(n_samples, "n_samples")
        self.sample_rate = check_positive(sample_rate, "sample_rate")
        self.scale_fn = resolve_scale_fn(scale_fn)

    def get_controls(self, amplitudes, wavetables, f0_hz) -> TensorDict:
        amplitudes = as_controls(amplitudes, "amplitudes", 1)
        f0_hz = _check_f0(as_controls(f0_hz, "f0_hz", 1))
        wavetables = as_tensor(wavetables, "wavetables")
        if wavetables.ndim not in (2, 3) or wavetables.shape[-1] < 2:
            raise ValueError(f"wavetables: expected [batch, n_wavetable] or [batch, n_frames, "
                             f"n_wavetable], got {list(wavetables.shape)}")
        check_finite(wavetables, "wavetables")
        _check_frames(self.n_samples, "window", amplitudes=amplitudes, f0_hz=f0_hz)
        if wavetables.ndim == 3 and wavetables.shape[1] not in (1, amplitudes.shape[1]):
            raise ValueError(f"wavetables: has {wavetables.shape[1]} frames, expected 1 or "
                             f"{amplitudes.shape[1]}")
        if self.scale_fn is not None:
            amplitudes = self.scale_fn(amplitudes)
            wavetables = self.scale_fn(wavetables)
        return {"amplitudes": amplitudes, "wavetables": wavetables, "f0_hz": f0_hz}

    def get_signal(self, amplitudes, wavetables, f0_hz) -> torch.Tensor:
        return dsp.wavetable_synthesis(f0_hz, amplitudes, wavetables,
                                        n_samples=self.n_samples, sample_rate=self.sample_rate)


__all__ = ["Harmonic", "FilteredNoise", "Sinusoidal", "Wavetable"]
