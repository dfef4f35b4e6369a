"""Effects: reverbs, a time-varying FIR filter and a modulated delay.

Names, constructor arguments and numbers follow Magenta's ``ddsp.effects``
(v3.7) so ported configs and checkpoints behave the same:

- :class:`Reverb`: convolution with an impulse response (IR) that is either
  an input or one trainable variable ``ir`` for the whole dataset.
- :class:`ExpDecayReverb`: IR = ``scale_fn(gain) * exp(-(2 + exp(decay)) * t)
  * noise`` with ``t`` from 0 to 1 over the IR.
- :class:`FilteredNoiseReverb`: IR = white noise through a time-varying
  filter (:func:`timbral.dsp.frequency_filter`).
- :class:`MultibandDecayReverb` (timbral's): octave bands of noise, each with a
  learned gain and decay time: a room learnt without a noisy tail.
- :class:`FIRFilter`: time-varying linear-phase FIR filter from magnitudes.
- :class:`ModDelay`: modulated delay line (chorus, flanger, vibrato).

Every reverb zeroes the first tap of its IR at use (the dry path is added
separately when ``add_dry``) and convolves without delay compensation, so the
wet signal starts one sample after the dry one.

Differences from Magenta, on purpose:

- ``ExpDecayReverb`` and ``FilteredNoiseReverb`` draw their white noise ONCE,
  from a seeded generator (``seed`` argument, default 0), and keep it as the
  persistent buffer ``noise`` (``[1, reverb_length]``, shared by the batch).
  Magenta draws new noise on every call, so its IR (and the output) changes
  from one call to the next even at inference; here the same controls always
  give the same audio. Gradients and the IR's statistics are unchanged.
- ``ModDelay`` controls may be at frame rate (``[batch, n_frames, 1]``); they
  are upsampled linearly to the audio rate. Magenta requires sample-rate
  controls (``n_frames == n_samples``), which behave identically here.
  The delay line is :func:`timbral.dsp.variable_length_delay`, which reads
  the past for every delay up to ``max_length`` (Magenta's wraps the longest
  delays back toward the present).
- Trainable parameters and noise buffers are cast to the input's dtype and
  device at use (float32 by default, float64 works); Magenta casts to float32.
"""

from __future__ import annotations

import math
from typing import List

import torch
import torch.nn.functional as F
from torch import nn

from .. import dsp
from .base import SCALE_FNS, Processor, TensorDict, resolve_scale_fn
from ..validation import (as_audio, as_tensor, check_bool, check_finite, check_frame_blocks,
                         check_number, check_size, same_batch)

# ModDelay's default phase scale function, registered so configs can name it.
SCALE_FNS.setdefault("sigmoid", torch.sigmoid)

__all__ = ["Reverb", "ExpDecayReverb", "FilteredNoiseReverb", "MultibandDecayReverb",
           "FIRFilter", "ModDelay"]

#: Largest reverb partition in stateful use (samples).
MAX_PARTITION = 256
#: Output partitions computed at once in stateful use (bounds memory on long chunks).
PARTITIONS_PER_BLOCK = 128


# Helpers ------------------------------------------------------------------------
def _draw_noise(n_samples: int, seed: int) -> torch.Tensor:
    """Uniform white noise in [-1, 1), ``[1, n_samples]`` float32, from ``seed``."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.rand(1, n_samples, generator=generator, dtype=torch.float32) * 2.0 - 1.0


def _mask_dry_tap(ir: torch.Tensor) -> torch.Tensor:
    """``[batch, ir_size]`` IRs with tap 0 zeroed: the dry path is added separately."""
    return torch.cat([torch.zeros_like(ir[:, :1]), ir[:, 1:]], dim=1)


def _as_ir(ir, name: str = "ir") -> torch.Tensor:
    """An impulse response as ``[batch, ir_size]`` (from ``[ir_size]``,
    ``[batch, ir_size]`` or ``[batch, ir_size, 1]``), finite."""
    ir = as_tensor(ir, name)
    if ir.ndim == 1:
        ir = ir[None]
    elif ir.ndim == 3 and ir.shape[-1] == 1:
        ir = ir[..., 0]
    if ir.ndim != 2 or ir.shape[-1] < 1:
        raise ValueError(f"{name}: expected shape [batch, ir_size], [batch, ir_size, 1] or "
                         f"[ir_size], got {list(ir.shape)}")
    return check_finite(ir, name)


def _as_scalar_control(x, name: str) -> torch.Tensor:
    """A per-example scalar control as ``[batch, 1]`` (from ``[]``, ``[batch]``,
    ``[batch, 1]`` or ``[batch, 1, 1]``), finite."""
    x = as_tensor(x, name)
    if x.ndim == 0:
        x = x.reshape(1, 1)
    elif x.ndim == 1:
        x = x[:, None]
    elif x.ndim == 3 and x.shape[1:] == (1, 1):
        x = x[:, :, 0]
    if x.ndim != 2 or x.shape[-1] != 1:
        raise ValueError(f"{name}: expected shape [batch, 1], got {list(x.shape)}")
    return check_finite(x, name)


def _as_magnitudes(x, name: str = "magnitudes") -> torch.Tensor:
    """Filter magnitudes as ``[batch, n_frames, n_bins]``; ``[batch, n_bins]``
    (one filter per example, as Magenta's ``fft_convolve`` reads 2-D IRs) and
    ``[n_bins]`` are accepted. Finite, at least 2 bins."""
    x = as_tensor(x, name)
    if x.ndim == 1:
        x = x[None, None, :]
    elif x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3:
        raise ValueError(f"{name}: expected shape [batch, n_frames, n_bins], got {list(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[-1] < 2:
        raise ValueError(f"{name}: expected shape [batch, n_frames, n_bins] with n_frames >= 1 "
                         f"and n_bins >= 2, got {list(x.shape)}")
    return check_finite(x, name)


def _like(t: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``t`` on ``ref``'s device and in its dtype (differentiable)."""
    return t.to(device=ref.device, dtype=ref.dtype)


# Reverbs ------------------------------------------------------------------------
class Reverb(Processor):
    """Convolutional (FIR) reverb.

    Args:
      trainable: learn the impulse response as one variable ``ir``
        (``[reverb_length]``, initialised N(0, 1e-6) like Magenta) for the whole
        dataset; otherwise the IR is an input of :meth:`get_controls`.
      reverb_length: IR length in samples (used when ``trainable``).
      add_dry: add the dry signal to the reverberated one.
      name: processor name.

    The IR's first tap is zeroed at use (in :meth:`get_signal`; the controls
    hold the IR as given), so with ``add_dry`` the output is
    ``audio + fft_convolve(audio, ir_masked, 'same', delay_compensation=0)``.
    """

    mixable = True  # a convolution: the room of a mix is the mix of the rooms

    def __init__(self, trainable: bool = False, reverb_length: int = 48000,
                 add_dry: bool = True, name: str = "reverb"):
        super().__init__(name=name)
        self.trainable = check_bool(trainable, "trainable")
        self.reverb_length = check_size(reverb_length, "reverb_length", 1)
        self.add_dry = check_bool(add_dry, "add_dry")
        if self.trainable and type(self) is Reverb:
            self.ir = nn.Parameter(torch.randn(self.reverb_length, dtype=torch.float32) * 1e-6)

    def impulse_response(self, masked: bool = False) -> torch.Tensor:
        """The learned IR ``[reverb_length]`` of a trainable reverb: as stored,
        or with ``masked`` as applied (first tap zeroed, see :meth:`get_signal`)."""
        if not self.trainable:
            raise ValueError(f"{self.name}: impulse_response() needs a trainable reverb; this "
                             f"one takes its IR as an input")
        ir = self._learned_ir()
        return _mask_dry_tap(ir[None])[0] if masked else ir

    def _learned_ir(self) -> torch.Tensor:
        return self.ir

    def _match_batch(self, audio: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        """A batch-1 IR (or a 1-D variable) expanded to the audio's batch."""
        if ir.ndim == 1:
            ir = ir[None]
        return _like(ir, audio).expand(audio.shape[0], -1)

    def get_controls(self, audio, ir=None) -> TensorDict:
        """Inputs: dry ``audio [batch, n_samples]`` (or ``[n_samples]``); ``ir
        [batch, ir_size]`` (or ``[batch, ir_size, 1]``, ``[ir_size]``) when not
        trainable (ignored when trainable). Returns ``{'audio', 'ir'}``."""
        audio = as_audio(audio, "audio")
        if self.trainable:
            ir = self._match_batch(audio, self.ir)
        else:
            if ir is None:
                raise ValueError(f"ir: required when {type(self).__name__}(trainable=False); "
                                 f"pass an impulse response [batch, ir_size]")
            ir = _as_ir(ir, "ir")
            same_batch("audio", audio, "ir", ir)
        return {"audio": audio, "ir": ir}

    def get_signal(self, audio, ir) -> torch.Tensor:
        """Apply the IR (first tap zeroed); returns ``[batch, n_samples]``."""
        if ir.ndim == 3:
            ir = ir[..., 0]
        elif ir.ndim == 1:
            ir = ir[None]
        dtype = torch.promote_types(audio.dtype, ir.dtype)
        audio, ir = audio.to(dtype), ir.to(dtype)
        wet = dsp.fft_convolve(audio, _mask_dry_tap(ir), padding="same", delay_compensation=0)
        return wet + audio if self.add_dry else wet


    # Stateful use (trainable reverbs): a uniformly partitioned convolution
    # (overlap-save) with partitions of the largest divisor of the hop up to
    # MAX_PARTITION samples; the input spectra of the last partitions are carried.
    def _plan(self, hop: int, fresh: bool = False) -> dict:
        """The applied IR's partition spectra as one (re, im) matrix per bin."""
        key = ("plan", hop)
        cache = self.__dict__.setdefault("_stream_cache", {})
        if fresh or key not in cache:
            ir = self.impulse_response(masked=True).detach().to(torch.float64)
            p = max(d for d in range(1, min(hop, MAX_PARTITION) + 1) if hop % d == 0)
            n_parts = max(1, -(-ir.shape[0] // p))
            parts = F.pad(ir, (0, n_parts * p - ir.shape[0])).reshape(n_parts, p)
            forward, inverse = (m.to(ir.device) for m in dsp.real_dft(2 * p))
            spectra = F.pad(parts, (0, p)) @ forward  # [parts, 2 * bins]
            bins = p + 1
            hr, hi = spectra[:, :bins].T.flip(-1), spectra[:, bins:].T.flip(-1)  # [bins, parts]
            # Y = sum_k X[m + k] H[K-1-k] per bin, (re, im) in -> (re, im) out, as one
            # matrix per bin: [(in re, in im) x taps, (out re, out im)]
            weight = torch.stack([torch.stack([hr, hi], -1), torch.stack([-hi, hr], -1)], 1)
            cache[key] = {"partition": p, "parts": n_parts, "bins": bins,
                          "weight": weight.reshape(bins, 2 * n_parts, 2).float().contiguous(),
                          "dft": forward.float().contiguous(),
                          "idft": inverse[:, p:].float().contiguous()}
        return cache[key]

    def init_state(self, batch, hop, channels) -> TensorDict:
        if not self.trainable:
            raise ValueError(f"{self.name}: rendering in pieces needs a trainable reverb (a "
                             f"learned impulse response); this one takes its IR as an input")
        plan = self._plan(hop, fresh=True)  # the IR as it is now
        return {"prev": torch.zeros(batch, plan["partition"]),
                "spectra": torch.zeros(batch, plan["bins"], 2, plan["parts"] - 1)}

    def process(self, audio, state, hop, noise=None):
        plan = self._plan(hop)
        batch = audio.shape[0]
        p, bins, n_parts = plan["partition"], plan["bins"], plan["parts"]
        parts = audio.reshape(batch, -1, p)  # [B, M, P]
        prev = torch.cat([state["prev"][:, None], parts[:, :-1]], dim=1)
        spectra = torch.matmul(torch.cat([prev, parts], dim=-1), plan["dft"])  # [B, M, 2 bins]
        spectra = spectra.reshape(batch, -1, 2, bins).permute(0, 3, 2, 1)  # [B, bins, 2, M]
        history = torch.cat([state["spectra"], spectra], dim=3)  # [B, bins, 2, K-1+M]
        new = {"prev": parts[:, -1],
               "spectra": history[..., history.shape[3] - (n_parts - 1):]}
        m = int(history.shape[3]) - n_parts + 1
        wet = []
        for a in range(0, m, PARTITIONS_PER_BLOCK):  # bounds the windows' memory
            if torch.onnx.is_in_onnx_export():  # no unfold in ONNX; sizes are fixed there
                windows = torch.stack([history[..., i:i + n_parts]
                                       for i in range(a, min(m, a + PARTITIONS_PER_BLOCK))], 3)
            else:
                windows = history[..., a:a + PARTITIONS_PER_BLOCK + n_parts - 1].unfold(
                    3, n_parts, 1)  # [B, bins, 2, M, K]
            windows = windows.permute(0, 1, 3, 2, 4).reshape(batch, bins, -1, 2 * n_parts)
            wet.append(torch.matmul(windows, plan["weight"]))  # [B, bins, M, 2]
        wet = torch.cat(wet, dim=2) if len(wet) > 1 else wet[0]
        wet = wet.permute(0, 2, 3, 1).reshape(batch, -1, 2 * bins)
        wet = torch.matmul(wet, plan["idft"]).reshape(batch, -1)
        return (wet + audio if self.add_dry else wet), new


class ExpDecayReverb(Reverb):
    """Reverb whose IR is exponentially decaying white noise.

    ``ir = scale_fn(gain) * exp(-(2 + exp(decay)) * t) * noise`` with ``t =
    linspace(0, 1, reverb_length)``, as in Magenta.

    Args:
      trainable: learn ``gain`` and ``decay`` (shape ``[1]``, initialised 2.0
        and 4.0 like Magenta); otherwise they are inputs ``[batch, 1]``.
      reverb_length: IR length in samples.
      scale_fn: applied to ``gain`` (a callable, a registered name, or None).
      add_dry: add the dry signal.
      name: processor name.
      seed: seed of the white noise (uniform in [-1, 1)). Unlike Magenta, the
        noise is drawn once and kept as the buffer ``noise`` (saved in the
        state_dict), so the IR is deterministic.
    """

    def __init__(self, trainable: bool = False, reverb_length: int = 48000,
                 scale_fn=dsp.exp_sigmoid, add_dry: bool = True,
                 name: str = "exp_decay_reverb", seed: int = 0):
        super().__init__(trainable=trainable, reverb_length=reverb_length, add_dry=add_dry,
                         name=name)
        self.scale_fn = resolve_scale_fn(scale_fn)
        self.seed = check_size(seed, "seed", 0)
        self.register_buffer("noise", _draw_noise(self.reverb_length, self.seed))
        if self.trainable:
            self.gain = nn.Parameter(torch.full((1,), 2.0, dtype=torch.float32))
            self.decay = nn.Parameter(torch.full((1,), 4.0, dtype=torch.float32))

    def _get_ir(self, gain: torch.Tensor, decay: torch.Tensor) -> torch.Tensor:
        """``[batch, 1]`` gain and decay -> ``[batch, reverb_length]`` IR."""
        if self.scale_fn is not None:
            gain = self.scale_fn(gain)
        decay_exponent = 2.0 + torch.exp(decay)
        time = torch.linspace(0.0, 1.0, self.reverb_length, dtype=gain.dtype,
                              device=gain.device)[None, :]
        return gain * torch.exp(-decay_exponent * time) * _like(self.noise, gain)

    def _learned_ir(self) -> torch.Tensor:
        return self._get_ir(self.gain[None, :], self.decay[None, :])[0]

    def get_controls(self, audio, gain=None, decay=None) -> TensorDict:
        """Inputs: ``audio [batch, n_samples]``; ``gain`` and ``decay`` ``[batch,
        1]`` when not trainable (ignored when trainable). Returns ``{'audio', 'ir'}``."""
        audio = as_audio(audio, "audio")
        if self.trainable:
            gain = _like(self.gain[None, :], audio)
            decay = _like(self.decay[None, :], audio)
            ir = self._match_batch(audio, self._get_ir(gain, decay))
        else:
            if gain is None or decay is None:
                missing = "gain" if gain is None else "decay"
                raise ValueError(f"{missing}: 'gain' and 'decay' are required when "
                                 f"ExpDecayReverb(trainable=False)")
            gain = _as_scalar_control(gain, "gain")
            decay = _as_scalar_control(decay, "decay")
            same_batch("gain", gain, "decay", decay)
            same_batch("audio", audio, "gain", gain)
            same_batch("audio", audio, "decay", decay)
            ir = self._get_ir(gain, decay)
        return {"audio": audio, "ir": ir}


class FilteredNoiseReverb(Reverb):
    """Reverb whose IR is white noise through a time-varying filter.

    ``ir = frequency_filter(noise, scale_fn(magnitudes + initial_bias),
    window_size)`` (Magenta's ``FilteredNoise`` synth with ``n_samples =
    reverb_length``).

    Args:
      trainable: learn ``magnitudes`` (``[n_frames, n_filter_banks]``,
        initialised N(0, 1e-2) like Magenta); otherwise they are an input
        ``[batch, n_frames, n_bands]``.
      reverb_length: IR length in samples.
      window_size: Hann window of the filters (<= 0: the full IR).
      n_frames, n_filter_banks: shape of the trainable magnitudes.
      scale_fn: applied to ``magnitudes + initial_bias``.
      initial_bias: added before ``scale_fn`` so outputs near 0 give a quiet IR.
      add_dry: add the dry signal.
      name: processor name (Magenta's default).
      seed: seed of the white noise (uniform in [-1, 1)). Unlike Magenta, which
        draws new noise on every call, the noise is drawn once and kept as the
        buffer ``noise`` (saved in the state_dict, shared by the batch), so the
        IR is the same on every call for the same magnitudes.
    """

    def __init__(self, trainable: bool = False, reverb_length: int = 48000,
                 window_size: int = 257, n_frames: int = 1000, n_filter_banks: int = 16,
                 scale_fn=dsp.exp_sigmoid, initial_bias: float = -3.0,
                 add_dry: bool = True, name: str = "filtered_noise_reverb", seed: int = 0):
        super().__init__(trainable=trainable, reverb_length=reverb_length, add_dry=add_dry,
                         name=name)
        if isinstance(window_size, bool) or not isinstance(window_size, int):
            raise ValueError(f"window_size: expected an integer, got {window_size!r}")
        self.window_size = window_size
        self.n_frames = check_size(n_frames, "n_frames", 1)
        self.n_filter_banks = check_size(n_filter_banks, "n_filter_banks", 2)
        self.scale_fn = resolve_scale_fn(scale_fn)
        self.initial_bias = check_number(initial_bias, "initial_bias")
        self.seed = check_size(seed, "seed", 0)
        self.register_buffer("noise", _draw_noise(self.reverb_length, self.seed))
        if self.trainable:
            check_frame_blocks(self.reverb_length, self.n_frames, "n_frames")
            self.magnitudes = nn.Parameter(
                torch.randn(self.n_frames, self.n_filter_banks, dtype=torch.float32) * 1e-2)

    def _get_ir(self, magnitudes: torch.Tensor) -> torch.Tensor:
        """Raw ``[batch, n_frames, n_bands]`` -> ``[batch, reverb_length]`` IR."""
        magnitudes = magnitudes + self.initial_bias
        if self.scale_fn is not None:
            magnitudes = self.scale_fn(magnitudes)
        noise = _like(self.noise, magnitudes).expand(magnitudes.shape[0], -1)
        return dsp.frequency_filter(noise, magnitudes, window_size=self.window_size)

    def _learned_ir(self) -> torch.Tensor:
        return self._get_ir(self.magnitudes[None])[0]

    def get_controls(self, audio, magnitudes=None) -> TensorDict:
        """Inputs: ``audio [batch, n_samples]``; raw ``magnitudes [batch,
        n_frames, n_bands]`` when not trainable (ignored when trainable;
        n_frames must split ``reverb_length`` into equal blocks). Returns
        ``{'audio', 'ir'}``."""
        audio = as_audio(audio, "audio")
        if self.trainable:
            ir = self._match_batch(audio, self._get_ir(_like(self.magnitudes[None], audio)))
        else:
            if magnitudes is None:
                raise ValueError("magnitudes: required when FilteredNoiseReverb(trainable=False)")
            magnitudes = _as_magnitudes(magnitudes, "magnitudes")
            check_frame_blocks(self.reverb_length, magnitudes.shape[1], "magnitudes")
            same_batch("audio", audio, "magnitudes", magnitudes)
            ir = self._get_ir(magnitudes)
        return {"audio": audio, "ir": ir}


class MultibandDecayReverb(Reverb):
    """A learnable room: noise decaying at its own rate in each octave band.

    ``ir(t) = sum_b gain_b * 10 ** (-3 * t / t60_b) * noise_b(t)`` for ``t`` in
    seconds, where ``noise_b`` is seeded white noise restricted to octave band
    ``b`` (below 125 Hz, 125-250 Hz, ... up to Nyquist; the bands sum to the
    white noise). Real rooms ring longer in the low bands than in the high ones;
    two numbers per band (``log_gain``, ``log_t60``, natural logs) say so.

    Why not a free IR: Adam moves every one of a free IR's thousands of taps by
    about the learning rate on every step, whatever its gradient, so the tail
    random-walks into audible noise. Here the tail's shape is fixed by the
    parameterisation and Adam only moves its level and decay per band.

    Args:
      trainable: must be True (the gains and decay times are learned).
      reverb_length: IR length in samples.
      sample_rate: Hz (the bands and times are in Hz and seconds).
      add_dry: add the dry signal.
      initial_gain: every band's starting gain (with the defaults the wet level
        starts about 27 dB below the dry one at 16 kHz).
      initial_t60: every band's starting decay time to -60 dB, seconds.
      name: processor name.
      seed: seed of the white noise (drawn once; the band noises are rebuilt
        from it, not stored).
    """

    def __init__(self, trainable: bool = True, reverb_length: int = 16000,
                 sample_rate: int = 16000, add_dry: bool = True, initial_gain: float = 0.003,
                 initial_t60: float = 0.5, name: str = "reverb", seed: int = 0):
        super().__init__(trainable=trainable, reverb_length=reverb_length, add_dry=add_dry,
                         name=name)
        if not self.trainable:
            raise ValueError("trainable: MultibandDecayReverb learns its room; use "
                             "Reverb(trainable=False) to apply a given IR")
        self.sample_rate = check_size(sample_rate, "sample_rate")
        self.seed = check_size(seed, "seed", 0)
        initial_gain = check_number(initial_gain, "initial_gain", 1e-6)
        initial_t60 = check_number(initial_t60, "initial_t60", 1e-3)
        self.register_buffer("band_noise", self._band_noise(), persistent=False)
        bands = self.band_noise.shape[0]
        self.log_gain = nn.Parameter(torch.full((bands,), math.log(initial_gain)))
        self.log_t60 = nn.Parameter(torch.full((bands,), math.log(initial_t60)))

    def band_edges(self) -> List[float]:
        """Band edges in Hz: 0, 125, 250, ... (octaves), Nyquist."""
        nyquist = self.sample_rate / 2.0
        edges = [0.0, 125.0]
        while edges[-1] * 2 < nyquist:
            edges.append(edges[-1] * 2)
        return edges + [nyquist]

    def _band_noise(self) -> torch.Tensor:
        """``[bands, reverb_length]``: the seeded white noise split into octave bands."""
        noise = _draw_noise(self.reverb_length, self.seed)[0].to(torch.float64)
        spectrum = torch.fft.rfft(noise)
        freqs = torch.fft.rfftfreq(self.reverb_length, 1.0 / self.sample_rate,
                                   dtype=torch.float64)
        edges = self.band_edges()
        bands = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            mask = (freqs >= lo) & ((freqs < hi) if hi < edges[-1] else (freqs <= hi))
            bands.append(torch.fft.irfft(spectrum * mask, self.reverb_length))
        return torch.stack(bands).float()

    def _learned_ir(self) -> torch.Tensor:
        time = torch.arange(self.reverb_length, dtype=self.log_t60.dtype,
                            device=self.log_t60.device) / self.sample_rate
        # 10 ** (-3 t / t60) = exp(-3 ln(10) t / t60): -60 dB at t60
        envelope = torch.exp(-3.0 * math.log(10.0) * time[None, :]
                             / torch.exp(self.log_t60)[:, None])
        return (torch.exp(self.log_gain)[:, None] * envelope * self.band_noise).sum(0)

    def get_controls(self, audio, ir=None) -> TensorDict:
        """Input: dry ``audio [batch, n_samples]``. Returns ``{'audio', 'ir'}``."""
        audio = as_audio(audio, "audio")
        return {"audio": audio, "ir": self._match_batch(audio, _like(self._learned_ir(), audio))}


# Filters ------------------------------------------------------------------------
class FIRFilter(Processor):
    """Linear time-varying FIR filter (LTV-FIR) from frequency magnitudes.

    Args:
      window_size: Hann window of the linear-phase IRs (see
        :func:`timbral.dsp.frequency_impulse_response`; <= 0 or larger than
        the IR means the full IR of ``2 * (n_bins - 1)`` taps).
      scale_fn: applied to the magnitudes (callable, registered name or None).
      name: processor name.

    Filtering is Magenta's :func:`timbral.dsp.frequency_filter`: blocks of
    ``ceil(n_samples / n_frames)`` samples, each filtered by its frame's IR,
    with Magenta's delay compensation (a 2-sample delay with the full window).
    """

    def __init__(self, window_size: int = 257, scale_fn=dsp.exp_sigmoid,
                 name: str = "fir_filter"):
        super().__init__(name=name)
        if isinstance(window_size, bool) or not isinstance(window_size, int):
            raise ValueError(f"window_size: expected an integer, got {window_size!r}")
        self.window_size = window_size
        self.scale_fn = resolve_scale_fn(scale_fn)

    def get_controls(self, audio, magnitudes) -> TensorDict:
        """Inputs: ``audio [batch, n_samples]`` (or ``[n_samples]``); raw
        ``magnitudes [batch, n_frames, n_bins]`` (``[batch, n_bins]``: one
        filter per example). Returns ``{'audio', 'magnitudes'}`` (scaled)."""
        audio = as_audio(audio, "audio")
        magnitudes = _as_magnitudes(magnitudes, "magnitudes")
        check_frame_blocks(audio.shape[-1], magnitudes.shape[1], "magnitudes")
        same_batch("audio", audio, "magnitudes", magnitudes)
        if self.scale_fn is not None:
            magnitudes = self.scale_fn(magnitudes)
        return {"audio": audio, "magnitudes": magnitudes}

    def get_signal(self, audio, magnitudes) -> torch.Tensor:
        """Filter ``audio`` with ``magnitudes``; returns ``[batch, n_samples]``."""
        dtype = torch.promote_types(audio.dtype, magnitudes.dtype)
        return dsp.frequency_filter(audio.to(dtype), magnitudes.to(dtype),
                                     window_size=self.window_size)


# Modulation ---------------------------------------------------------------------
class ModDelay(Processor):
    """Modulated delay (chorus, flanger, vibrato), as Magenta's ``ModDelay``.

    Args:
      center_ms, depth_ms: the delay is ``(phase * depth_ms + center_ms)``
        milliseconds for a scaled phase in [0, 1] (Magenta's arithmetic: with
        the default sigmoid the delay spans [center_ms, center_ms + depth_ms]).
      sample_rate: samples per second.
      gain_scale_fn: applied to the wet gain (default exp_sigmoid).
      phase_scale_fn: applied to the phase (default sigmoid).
      add_dry: add the dry signal.
      name: processor name.

    The delay line holds ``int(sample_rate / 1000 * (center_ms + depth_ms))``
    samples; delays are interpolated linearly.
    """

    def __init__(self, center_ms: float = 15.0, depth_ms: float = 10.0,
                 sample_rate: int = 16000, gain_scale_fn=dsp.exp_sigmoid,
                 phase_scale_fn=torch.sigmoid, add_dry: bool = True,
                 name: str = "mod_delay"):
        super().__init__(name=name)
        self.center_ms = check_number(center_ms, "center_ms", 0.0)
        self.depth_ms = check_number(depth_ms, "depth_ms", 0.0)
        self.sample_rate = check_number(sample_rate, "sample_rate", 0.0)
        self.gain_scale_fn = resolve_scale_fn(gain_scale_fn)
        self.phase_scale_fn = resolve_scale_fn(phase_scale_fn)
        self.add_dry = check_bool(add_dry, "add_dry")
        max_delay_ms = self.center_ms + self.depth_ms
        self.max_length = int(self.sample_rate / 1000.0 * max_delay_ms)
        if self.max_length < 1:
            raise ValueError(f"center_ms: center_ms + depth_ms ({max_delay_ms} ms) must be at "
                             f"least one sample at sample_rate {self.sample_rate}")

    def get_controls(self, audio, gain, phase) -> TensorDict:
        """Inputs: ``audio [batch, n_samples]``; raw ``gain`` and ``phase``
        ``[batch, n_frames, 1]`` (``[batch, n_frames]`` and ``[n_frames]``
        accepted) at frame rate or sample rate (``n_frames <= n_samples``).
        Returns ``{'audio', 'gain', 'phase'}`` (scaled, at the input rate)."""
        audio = as_audio(audio, "audio")
        controls = {}
        for key, value in (("gain", gain), ("phase", phase)):
            x = as_tensor(value, key)
            if x.ndim == 1:
                x = x[None, :, None]
            elif x.ndim == 2:
                x = x[..., None]
            if x.ndim != 3 or x.shape[-1] != 1 or not 1 <= x.shape[1] <= audio.shape[-1]:
                raise ValueError(f"{key}: expected shape [batch, n_frames, 1] with 1 <= n_frames "
                                 f"<= n_samples ({audio.shape[-1]}), got {list(x.shape)}")
            check_finite(x, key)
            same_batch("audio", audio, key, x)
            controls[key] = x
        gain, phase = controls["gain"], controls["phase"]
        if self.gain_scale_fn is not None:
            gain = self.gain_scale_fn(gain)
        if self.phase_scale_fn is not None:
            phase = self.phase_scale_fn(phase)
        return {"audio": audio, "gain": gain, "phase": phase}

    def get_signal(self, audio, gain, phase) -> torch.Tensor:
        """Delay ``audio`` by the phase, scale by the gain; ``[batch, n_samples]``."""
        n_samples = audio.shape[-1]
        dtype = torch.promote_types(torch.promote_types(audio.dtype, gain.dtype), phase.dtype)
        audio, gain, phase = audio.to(dtype), gain.to(dtype), phase.to(dtype)
        if phase.shape[1] != n_samples:
            phase = dsp.resample(phase, n_samples, "linear")
        if gain.shape[1] != n_samples:
            gain = dsp.resample(gain, n_samples, "linear")
        max_delay_ms = self.center_ms + self.depth_ms
        phase = phase * (self.depth_ms / max_delay_ms) + self.center_ms / max_delay_ms
        wet = dsp.variable_length_delay(phase, audio, max_length=self.max_length)
        wet = wet * gain[..., 0]
        return wet + audio if self.add_dry else wet
