"""Synthesizers: processors that make audio from frame-rate controls.

All take controls ``[batch, n_frames, channels]`` (a missing batch dim is
added) and return audio ``[batch, n_samples]``. ``n_samples`` is fixed at
construction as in Magenta; frames are spread evenly over it.
"""

from __future__ import annotations

from typing import Callable, Optional, Union

import torch

from . import core
from .processors import SCALE_FNS, Processor, TensorDict, resolve_scale_fn
from .validation import (as_controls, as_tensor, check_choice, check_finite, check_frame_blocks,
                         check_positive, check_size)

SCALE_FNS.setdefault("frequencies_softmax", core.frequencies_softmax)

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

    Inputs: ``amplitudes [batch, n_frames, 1]``, ``harmonic_distribution
    [batch, n_frames, n_harmonics]``, ``f0_hz [batch, n_frames, 1]``.
    Order (Magenta's): scale_fn on amplitudes and distribution; zero harmonics
    with ``k * f0 >= nyquist`` at frame rate; renormalise the distribution to
    sum 1; multiply by the amplitude at frame rate; upsample those per-harmonic
    amplitudes; upsample ``k * f0`` linearly; sum sinusoids, silencing any with
    ``k * f(t) >= nyquist`` at sample rate. Memory stays O(batch x n_samples):
    the per-harmonic envelopes are never stored (see ``core.harmonic_synthesis``).
    """

    def __init__(self, n_samples: int = 64000, sample_rate: int = 16000,
                 scale_fn: ScaleFn = "exp_sigmoid", normalize_below_nyquist: bool = True,
                 amp_resample_method: str = "window", use_angular_cumsum: bool = False,
                 name: str = "harmonic"):
        super().__init__(name=name)
        self.n_samples = check_size(n_samples, "n_samples")
        self.sample_rate = check_positive(sample_rate, "sample_rate")
        self.scale_fn = resolve_scale_fn(scale_fn)
        self.normalize_below_nyquist = bool(normalize_below_nyquist)
        self.amp_resample_method = check_choice(amp_resample_method, "amp_resample_method",
                                                core.RESAMPLE_METHODS)

    def get_controls(self, amplitudes, harmonic_distribution, f0_hz) -> TensorDict:
        amplitudes = as_controls(amplitudes, "amplitudes", 1)
        harmonic_distribution = as_controls(harmonic_distribution, "harmonic_distribution")
        f0_hz = _check_f0(as_controls(f0_hz, "f0_hz", 1))
        _check_frames(self.n_samples, self.amp_resample_method, amplitudes=amplitudes,
                      harmonic_distribution=harmonic_distribution, f0_hz=f0_hz)
        if self.scale_fn is not None:
            amplitudes = self.scale_fn(amplitudes)
            harmonic_distribution = self.scale_fn(harmonic_distribution)
        harmonic_distribution = core.normalize_harmonics(
            harmonic_distribution, f0_hz,
            self.sample_rate if self.normalize_below_nyquist else None)
        return {"amplitudes": amplitudes, "harmonic_distribution": harmonic_distribution,
                "f0_hz": f0_hz}

    def get_signal(self, amplitudes, harmonic_distribution, f0_hz) -> torch.Tensor:
        """Audio ``[batch, n_samples]`` from scaled controls."""
        return core.harmonic_synthesis(f0_hz, amplitudes,
                                       harmonic_distribution=harmonic_distribution,
                                       n_samples=self.n_samples, sample_rate=self.sample_rate,
                                       amp_resample_method=self.amp_resample_method)


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
        self.seed = None if seed is None else int(seed)

    def get_controls(self, magnitudes) -> TensorDict:
        magnitudes = as_controls(magnitudes, "magnitudes")
        if magnitudes.shape[-1] < 2:
            raise ValueError(f"magnitudes: expected [batch, n_frames, n_bands] with n_bands >= 2, "
                             f"got {list(magnitudes.shape)}")
        check_frame_blocks(self.n_samples, magnitudes.shape[1], "magnitudes")
        if self.crossfade and self.n_samples % magnitudes.shape[1]:
            raise ValueError(f"magnitudes: crossfade needs n_frames dividing n_samples="
                             f"{self.n_samples}, got {magnitudes.shape[1]} frames")
        if self.scale_fn is not None:
            magnitudes = self.scale_fn(magnitudes + self.initial_bias)
        return {"magnitudes": magnitudes}

    def get_signal(self, magnitudes, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Filtered noise ``[batch, n_samples]``."""
        shape = (magnitudes.shape[0], self.n_samples)
        if noise is None:
            generator = None
            if self.seed is not None:
                generator = torch.Generator(device=magnitudes.device).manual_seed(self.seed)
            noise = torch.rand(shape, generator=generator, dtype=magnitudes.dtype,
                               device=magnitudes.device) * 2.0 - 1.0
        elif tuple(noise.shape) != shape:
            raise ValueError(f"noise: expected shape {list(shape)}, got {list(noise.shape)}")
        return core.frequency_filter(noise, magnitudes, window_size=self.window_size,
                                     crossfade=self.crossfade)


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
                                                core.RESAMPLE_METHODS)
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
        amplitudes = core.remove_above_nyquist(frequencies, amplitudes, self.sample_rate)
        return {"amplitudes": amplitudes, "frequencies": frequencies}

    def get_signal(self, amplitudes, frequencies) -> torch.Tensor:
        amp_env = core.resample(amplitudes, self.n_samples, self.amp_resample_method)
        freq_env = core.resample(frequencies, self.n_samples, "linear")
        return core.oscillator_bank(freq_env, amp_env, sample_rate=self.sample_rate)


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
        return core.wavetable_synthesis(f0_hz, amplitudes, wavetables,
                                        n_samples=self.n_samples, sample_rate=self.sample_rate)
