"""The model as an exportable streaming step, and its TorchScript / ONNX export.

:class:`SynthStep` is a pure function of its inputs: new feature frames, the
noise they need, and the state tensors of the previous call; it returns
audio and the next state. Nothing is hidden in the module, so the very same
code runs in Python (:class:`timbral.stream.StreamSynth` keeps the state)
and exported (:func:`export_step`: TorchScript, or ONNX for onnxruntime and
other runtimes).

What one call with ``N`` new frames ``k .. k + N - 1`` does, for a model
whose processor group is the DDSP graph (Harmonic and/or FilteredNoise, an
optional Add, an optional final trainable reverb of any kind), sample-exact
with the offline renderer :func:`timbral.models.rendering.render`:

- decoder: ``N`` GRU (or LSTM) steps from the carried recurrent state;
- harmonic: the segments between frames ``k - 1 .. k + N - 1`` (frame ``j``
  sits at sample ``j * hop``; a segment needs the frame after it, which is
  why synthesis trails the newest frame by one hop), the fundamental's phase
  carried in float64;
- filtered noise: each frame's filter applied to its own stretch of noise
  (crossfaded models: ``2 * hop`` samples under a Hann window centred on the
  frame; Magenta's block-switched filter: the ``hop`` samples after it),
  convolved with the frame's FIR and overlap-added into a carried tail. The
  zero-phase FIR reaches ``taps / 2`` samples into the past, so crossfaded
  noise is final 64 samples (128 taps) behind the harmonic;
- the two are aligned by short delay lines, silenced before model time 0,
  and fed to a uniformly partitioned convolution reverb (overlap-save; the
  partitions' spectra are carried).

Every call emits exactly ``N * hop`` samples covering model time ``[k * hop +
first_offset, (k + N) * hop + first_offset)``; ``first_offset``
(:attr:`SynthStep.first_offset`, negative: -384 samples for the realtime
preset at 16 kHz) is how far the finished output trails the newest frame.
FFTs are matrix products with real-DFT matrices and the convolutions are
unfolds and matrix products: exportable to ONNX (which has no rfft in the
TorchScript exporter), and cheap at these sizes.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Dict, List, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from .. import core
from ..files import atomic_output
from .autoencoder import Autoencoder
from .rendering import synth_nodes

#: Largest reverb partition (samples); the partition is the largest divisor of the hop up to it.
MAX_PARTITION = 256


def _partition_size(hop: int) -> int:
    return max(d for d in range(1, min(hop, MAX_PARTITION) + 1) if hop % d == 0)


def _real_dft(size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Matrices of the real DFT of ``size`` points, bins as ``[re..., im...]``.

    ``forward`` ``[size, 2 * bins]``: ``x @ forward`` is ``rfft(x)`` (``bins =
    size // 2 + 1``) with the real parts first, then the imaginary parts;
    ``inverse`` ``[2 * bins, size]``: ``X @ inverse`` is ``irfft(X, size)``.
    Built from torch.fft itself (float64), so they are the same linear maps.
    """
    spec = torch.fft.rfft(torch.eye(size, dtype=torch.float64))  # [size, bins]
    forward = torch.cat([spec.real, spec.imag], dim=1)
    basis = torch.eye(size // 2 + 1, dtype=torch.complex128)
    inverse = torch.cat([torch.fft.irfft(basis, size), torch.fft.irfft(1j * basis, size)], 0)
    return forward, inverse


class SynthStep(nn.Module):
    """One streaming step of a model: frames in, audio out, state explicit.

    Args:
      model: an :class:`~timbral.models.Autoencoder` whose processor group is
        the DDSP graph (see the module doc). Its weights (and the reverb's
        impulse response, taken now) are shared/copied; the step is for
        inference.

    ``forward(f0_hz, loudness_db, noise, *state)``:
      f0_hz, loudness_db: ``[batch, n_frames]`` float32 features of the new
        frames (Hz and dB).
      noise: ``[batch, n_frames * hop]`` float32 uniform noise in [-1, 1)
        (the noise synth's source for the new frames' samples, from the
        first new frame's position on; unused if the model has no noise
        synth, but always taken so the signature is fixed).
      state: tensors in the order of :attr:`state_names`
        (:meth:`initial_state` gives the zeros to start from).
    Returns ``(audio [batch, n_frames * hop], *new_state)``.
    """

    def __init__(self, model: Autoencoder):
        super().__init__()
        harmonic, noise, reverb = synth_nodes(model)
        #: frames per call while tracing for export (None: running in PyTorch)
        self.export_frames: int | None = None
        self.preprocessor = model.preprocessor
        self.decoder = model.decoder
        self.hop = hop = int(model.hop)
        self.sample_rate = int(model.sample_rate)
        self.frame_rate = model.frame_rate
        rnn = self.decoder.rnn
        self.rnn_kind = "lstm" if isinstance(rnn, nn.LSTM) else "gru"
        self.rnn_size = int(rnn.hidden_size)
        splits = dict(self.decoder.output_splits)
        self._shapes: Dict[str, Tuple[Tuple[int, ...], torch.dtype]] = {
            "rnn_h": ((1, self.rnn_size), torch.float32)}
        if self.rnn_kind == "lstm":
            self._shapes["rnn_c"] = ((1, self.rnn_size), torch.float32)

        # Harmonic: interpolation weights of one segment (frame j -> j + 1).
        self.harmonic = None
        ends = []
        if harmonic is not None:
            proc, keys = harmonic
            if proc.amp_resample_method not in ("window", "linear"):
                raise ValueError(f"model: streaming supports 'window' or 'linear' amplitude "
                                 f"resampling, not {proc.amp_resample_method!r}")
            self.harmonic, self.harmonic_keys = proc, list(keys)
            _, w_f0 = core.interpolation_taps(2, 2 * hop, "linear", True, torch.float64)
            _, w_amp = core.interpolation_taps(2, 2 * hop, proc.amp_resample_method, True,
                                               torch.float32)
            self.register_buffer("f0_weights", w_f0[:hop].contiguous(), persistent=False)
            self.register_buffer("amp_weights", w_amp[:hop].contiguous(), persistent=False)
            n_harmonics = splits.get(keys[1])
            if n_harmonics is None:
                raise ValueError(f"model: the harmonic synth reads {keys[1]!r}, which the "
                                 f"decoder does not output")
            self.register_buffer("harmonic_numbers",
                                 torch.arange(1, n_harmonics + 1, dtype=torch.float32),
                                 persistent=False)
            self._shapes["phase"] = ((1,), torch.float64)
            self._shapes["prev_f0"] = ((1,), torch.float32)
            self._shapes["prev_amps"] = ((n_harmonics,), torch.float32)
            ends.append(-hop)  # harmonic output ends one hop behind the newest frame

        # Filtered noise: each frame's segment, its FIR (linear in the magnitudes), its place.
        self.noise = None
        if noise is not None:
            proc, keys = noise
            self.noise, self.noise_keys = proc, list(keys)
            n_bands = splits.get(keys[0])
            if n_bands is None:
                raise ValueError(f"model: the noise synth reads {keys[0]!r}, which the "
                                 f"decoder does not output")
            basis = core.frequency_impulse_response(torch.eye(n_bands, dtype=torch.float64),
                                                    proc.window_size)  # [bands, taps]
            ir_size = basis.shape[-1]
            if proc.crossfade:
                seg_start, seg_len = -hop, 2 * hop
                window = torch.hann_window(2 * hop, periodic=True, dtype=torch.float64)
                delay = int(basis.sum(0).abs().argmax())
            else:  # Magenta: blocks of one hop, 'same' cropping of fft_convolve
                seg_start, seg_len = 0, hop
                window = torch.ones(hop, dtype=torch.float64)
                delay = (ir_size - 1) // 2 - 1
            self.register_buffer("ir_basis", basis.float(), persistent=False)
            self.register_buffer("noise_window", window.float(), persistent=False)
            conv_len = seg_len + ir_size - 1
            self.ir_size, self.seg_len = ir_size, seg_len
            self.pieces = -(-conv_len // hop)
            if seg_len > hop:
                self._shapes["noise_prev"] = ((seg_len - hop,), torch.float32)
            self._shapes["noise_tail"] = (((self.pieces - 1) * hop,), torch.float32)
            ends.append(seg_start - delay)

        # Align: output of frame k covers [k*hop + first_offset, (k+1)*hop + first_offset).
        self.first_offset = min(ends)
        self.harmonic_lag = (-hop - self.first_offset) if self.harmonic is not None else 0
        self.noise_lag = (ends[-1] - self.first_offset) if self.noise is not None else 0
        if self.harmonic_lag:
            self._shapes["harmonic_delay"] = ((self.harmonic_lag,), torch.float32)
        if self.noise_lag:
            self._shapes["noise_delay"] = ((self.noise_lag,), torch.float32)
        self._shapes["position"] = ((1,), torch.float64)

        # Reverb: uniformly partitioned convolution (overlap-save), partitions of P samples.
        self.reverb = reverb
        if reverb is not None:
            ir = reverb.impulse_response(masked=True).detach().to(torch.float64)
            self.add_dry = bool(reverb.add_dry)
            p = self.partition = _partition_size(hop)
            n_parts = max(1, -(-ir.shape[0] // p))
            parts = F.pad(ir, (0, n_parts * p - ir.shape[0])).reshape(n_parts, p)
            forward, inverse = _real_dft(2 * p)
            spectra = F.pad(parts, (0, p)) @ forward  # [parts, 2 * bins]
            bins = p + 1
            hr, hi = spectra[:, :bins].T.flip(-1), spectra[:, bins:].T.flip(-1)  # [bins, parts]
            # Y = sum_k X[m + k] H[K-1-k] per bin, (re, im) in -> (re, im) out, as one
            # matrix per bin: [(in re, in im) x taps, (out re, out im)]
            weight = torch.stack([torch.stack([hr, hi], -1), torch.stack([-hi, hr], -1)], 1)
            self.register_buffer("fdl_weight", weight.reshape(bins, 2 * n_parts, 2).float()
                                 .contiguous(), persistent=False)
            self.register_buffer("dft", forward.float().contiguous(), persistent=False)
            self.register_buffer("idft", inverse[:, p:].float().contiguous(), persistent=False)
            self.n_parts, self.bins = n_parts, bins
            self._shapes["reverb_prev"] = ((p,), torch.float32)
            self._shapes["reverb_spectra"] = ((bins, 2, n_parts - 1), torch.float32)

    # ------------------------------------------------------------------ state
    @property
    def state_names(self) -> List[str]:
        """Names of the state tensors, in call order."""
        return list(self._shapes)

    def state_shapes(self, batch: int = 1) -> Dict[str, Tuple[List[int], str]]:
        """``name -> (shape, dtype name)`` of each state tensor for ``batch``."""
        out = {}
        for name, (shape, dtype) in self._shapes.items():
            full = [1, batch, *shape[1:]] if name in ("rnn_h", "rnn_c") else [batch, *shape]
            out[name] = (full, str(dtype).replace("torch.", ""))
        return out

    def initial_state(self, batch: int = 1) -> List[torch.Tensor]:
        """The state before the first frame: zeros, and the output position at
        :attr:`first_offset` (model time of the first emitted sample)."""
        state = []
        for name, (shape, dtype) in self.state_shapes(batch).items():
            t = torch.zeros(shape, dtype=getattr(torch, dtype))
            if name == "position":
                t.fill_(float(self.first_offset))
            state.append(t)
        return state

    # ---------------------------------------------------------------- forward
    def forward(self, f0_hz: torch.Tensor, loudness_db: torch.Tensor, noise: torch.Tensor,
                *state: torch.Tensor):
        s = dict(zip(self.state_names, state))
        batch = f0_hz.shape[0]
        hop = self.hop
        scaled = self.preprocessor({"f0_hz": f0_hz[..., None], "loudness_db": loudness_db[..., None]})
        rnn_state = (s["rnn_h"], s["rnn_c"]) if self.rnn_kind == "lstm" else s["rnn_h"]
        raw, rnn_state = self.decoder(scaled, rnn_state)
        new: Dict[str, torch.Tensor] = {}
        if self.rnn_kind == "lstm":
            new["rnn_h"], new["rnn_c"] = rnn_state
        else:
            new["rnn_h"] = rnn_state
        outputs = {**scaled, **raw}
        n_frames = f0_hz.shape[1]
        dry = None
        if self.harmonic is not None:
            harm = self._harmonic(outputs, s, new)
            if self.harmonic_lag:
                harm = self._delay(harm, s["harmonic_delay"], new, "harmonic_delay")
            dry = harm
        if self.noise is not None:
            filtered = self._noise(outputs, noise.reshape(batch, n_frames, hop), s, new)
            if self.noise_lag:
                filtered = self._delay(filtered, s["noise_delay"], new, "noise_delay")
            dry = filtered if dry is None else dry + filtered
        # Model time of each emitted sample; nothing exists before time 0.
        steps = torch.cumsum(torch.ones_like(dry, dtype=torch.float64), dim=1) - 1.0
        dry = dry * ((steps + s["position"]) >= 0).to(dry.dtype)
        new["position"] = s["position"] + steps[:, -1:] + 1.0
        audio = dry if self.reverb is None else self._reverb(dry, s, new)
        return (audio, *[new[name] for name in self.state_names])

    @staticmethod
    def _delay(x: torch.Tensor, line: torch.Tensor, new: dict, name: str) -> torch.Tensor:
        lag = line.shape[1]
        both = torch.cat([line, x], dim=1)
        new[name] = both[:, -lag:]
        return both[:, :-lag]

    def _harmonic(self, outputs, s, new) -> torch.Tensor:
        proc = self.harmonic
        args = [outputs[k] for k in self.harmonic_keys]
        n_frames = args[0].shape[1]
        amps, dist, f0 = args  # Harmonic.get_controls' maths, without its value checks
        if proc.scale_fn is not None:
            amps, dist = proc.scale_fn(amps), proc.scale_fn(dist)
        dist = core.normalize_harmonics(
            dist, f0, proc.sample_rate if proc.normalize_below_nyquist else None)
        amps = amps * dist  # [B, N, K]
        f0 = f0[..., 0]  # [B, N]
        f0_all = torch.cat([s["prev_f0"], f0], dim=1)  # frames k-1 .. k+N-1
        amps_all = torch.cat([s["prev_amps"][:, None], amps], dim=1)
        new["prev_f0"] = f0[:, -1:]
        new["prev_amps"] = amps[:, -1]
        # per-sample f0 of the N segments (float64, linear), then the phase
        f0_64 = f0_all.to(torch.float64)
        env = (f0_64[:, :-1, None] * self.f0_weights[:, 0]
               + f0_64[:, 1:, None] * self.f0_weights[:, 1])  # [B, N, hop]
        env = env.reshape(env.shape[0], -1)
        # the phase starts at model time 0: nothing accumulates before it
        steps = torch.cumsum(torch.ones_like(env), dim=1) - 1.0
        started = (steps + (s["position"] + float(self.harmonic_lag))) >= 0
        omega = env * (core.TWO_PI / self.sample_rate) * started.to(env.dtype)
        total = torch.cumsum(omega, dim=1) + s["phase"]
        new["phase"] = torch.remainder(total[:, -1:], core.TWO_PI)
        phase = torch.remainder(total, core.TWO_PI).to(torch.float32)
        env32 = env.to(torch.float32)
        angles = phase[..., None] * self.harmonic_numbers  # [B, T, K]
        audible = (env32[..., None] * self.harmonic_numbers) < (self.sample_rate / 2.0)
        sines = torch.sin(angles) * audible.to(angles.dtype)
        sines = sines.reshape(sines.shape[0], n_frames, self.hop, -1)  # [B, N, hop, K]
        start = torch.matmul(sines, amps_all[:, :-1, :, None])[..., 0]  # [B, N, hop]
        end = torch.matmul(sines, amps_all[:, 1:, :, None])[..., 0]
        out = start * self.amp_weights[:, 0] + end * self.amp_weights[:, 1]
        return out.reshape(out.shape[0], -1)

    def _noise(self, outputs, noise, s, new) -> torch.Tensor:
        proc = self.noise
        raw = outputs[self.noise_keys[0]]
        # FilteredNoise.get_controls, without its checks
        mags = raw if proc.scale_fn is None else proc.scale_fn(raw + proc.initial_bias)
        ir = torch.matmul(mags, self.ir_basis)  # [B, N, taps], causal linear-phase FIRs
        if self.seg_len > self.hop:  # segments straddle two hops: previous + current
            prev = torch.cat([s["noise_prev"][:, None], noise[:, :-1]], dim=1)
            new["noise_prev"] = noise[:, -1]
            segments = torch.cat([prev, noise], dim=-1)
        else:
            segments = noise
        segments = segments * self.noise_window
        padded = F.pad(segments, (self.ir_size - 1, self.ir_size - 1))
        # out[t] = sum_m ir[m] * seg[t - m]: windows of the padded segment times the reversed IR
        if self.export_frames is None:
            windows = padded.unfold(-1, self.ir_size, 1)  # [B, N, conv_len, taps]
            conv = torch.matmul(windows, ir.flip(-1)[..., None])[..., 0]
        else:  # exporting: one grouped convolution (batch and frames are fixed then)
            b, n = int(padded.shape[0]), int(padded.shape[1])
            conv = F.conv1d(padded.reshape(1, b * n, -1),
                            ir.flip(-1).reshape(b * n, 1, self.ir_size), groups=b * n)
            conv = conv.reshape(b, n, -1)
        # overlap-add the frames' contributions (one hop apart), then the carried tail
        pieces = self.pieces
        conv = F.pad(conv, (0, pieces * self.hop - conv.shape[-1]))
        total = None
        for j in range(pieces):
            piece = F.pad(conv[..., j * self.hop:(j + 1) * self.hop], (0, 0, j, pieces - 1 - j))
            total = piece if total is None else total + piece
        total = total.reshape(total.shape[0], -1)
        tail = s["noise_tail"]
        total = total + F.pad(tail, (0, total.shape[1] - tail.shape[1]))
        new["noise_tail"] = total[:, -tail.shape[1]:]
        return total[:, :-tail.shape[1]]

    def _reverb(self, dry: torch.Tensor, s, new) -> torch.Tensor:
        batch = dry.shape[0]
        p, bins, n_parts = self.partition, self.bins, self.n_parts
        parts = dry.reshape(batch, -1, p)  # [B, M, P]
        prev = torch.cat([s["reverb_prev"][:, None], parts[:, :-1]], dim=1)
        new["reverb_prev"] = parts[:, -1]
        spectra = torch.matmul(torch.cat([prev, parts], dim=-1), self.dft)  # [B, M, 2 bins]
        spectra = spectra.reshape(batch, -1, 2, bins).permute(0, 3, 2, 1)  # [B, bins, 2, M]
        history = torch.cat([s["reverb_spectra"], spectra], dim=3)  # [B, bins, 2, K-1+M]
        new["reverb_spectra"] = history[..., history.shape[3] - (n_parts - 1):]
        if self.export_frames is None:
            windows = history.unfold(3, n_parts, 1)  # [B, bins, 2, M, K]
        else:  # exporting: M (partitions per call) is fixed, slices are cheap in ONNX
            m = int(history.shape[3]) - n_parts + 1
            windows = torch.stack([history[..., i:i + n_parts] for i in range(m)], dim=3)
        windows = windows.permute(0, 1, 3, 2, 4).reshape(batch, bins, -1, 2 * n_parts)
        wet = torch.matmul(windows, self.fdl_weight)  # [B, bins, M, 2]
        wet = wet.permute(0, 2, 3, 1).reshape(batch, -1, 2 * bins)
        wet = torch.matmul(wet, self.idft).reshape(batch, -1)
        return wet + dry if self.add_dry else wet


# ------------------------------------------------------------------- export
FORMATS = ("torchscript", "onnx")
METADATA_FORMAT = "timbral.stream-step"
METADATA_VERSION = 1
#: ONNX opset used by default (17: LayerNormalization; onnxruntime >= 1.17 runs it).
DEFAULT_OPSET = 17


def step_metadata(step: SynthStep, frames: int, name: str = "") -> dict:
    """What a runtime needs to drive an exported step (stored inside the file).

    Inputs ``f0_hz``, ``loudness_db`` ``[batch, frames]`` float32 (Hz, dB),
    ``noise`` ``[batch, frames * hop]`` float32 uniform in [-1, 1), then the
    state tensors in ``state`` order (start from zeros, ``position`` at
    ``first_offset``); outputs ``audio`` ``[batch, frames * hop]`` then the
    next state (same order, names prefixed ``next_``).
    """
    shapes = step.state_shapes(1)
    state = [{"name": n, "shape": s, "dtype": d} for n, (s, d) in shapes.items()]
    return {
        "format": METADATA_FORMAT, "version": METADATA_VERSION, "model": name,
        "sample_rate": step.sample_rate, "frame_rate": step.frame_rate, "hop": step.hop,
        "frames_per_call": int(frames), "samples_per_call": int(frames) * step.hop,
        "first_offset": step.first_offset,
        "inputs": [{"name": "f0_hz", "shape": [1, frames], "dtype": "float32"},
                   {"name": "loudness_db", "shape": [1, frames], "dtype": "float32"},
                   {"name": "noise", "shape": [1, frames * step.hop], "dtype": "float32"},
                   *state],
        "outputs": [{"name": "audio", "shape": [1, frames * step.hop], "dtype": "float32"},
                    *[dict(s, name=f"next_{s['name']}") for s in state]],
        "state": [s["name"] for s in state],
        "initial_state": {"position": float(step.first_offset)},
        "usage": "Call once per frame (every hop samples of input): features of the new "
                 "frame(s), noise for their samples (from the first new frame's position "
                 "on), the state; feed the returned state back in. The audio returned by "
                 "call c (0-based) covers model time [c*samples_per_call + first_offset, ...).",
    }


def _example(step: SynthStep, frames: int) -> tuple:
    f0 = torch.full((1, frames), 220.0)
    ld = torch.full((1, frames), -30.0)
    noise = torch.rand(1, frames * step.hop) * 2.0 - 1.0
    return (f0, ld, noise, *step.initial_state(1))


def export_step(model: Autoencoder, path: Union[str, Path], format: str = "onnx",
                frames: int = 1, opset: int = DEFAULT_OPSET, overwrite: bool = False) -> dict:
    """Write ``model`` as a streaming step (decoder + synths + reverb) to ``path``.

    Args:
      model: the model (its processor group must be the DDSP graph).
      path: output file (``.onnx`` or ``.pt``/``.ts`` by convention).
      format: 'onnx' (needs the ``onnx`` package; run with onnxruntime) or
        'torchscript' (``torch.jit.load``).
      frames: feature frames per call (fixed in the file, like the batch
        size of 1: one stream per call; 1 frame = one call per hop, the lowest
        latency).
      opset: ONNX opset.
      overwrite: replace an existing ``path`` (otherwise FileExistsError);
        missing folders are created.

    Returns the metadata (also stored in the file: ONNX ``metadata_props``
    key ``timbral``; TorchScript extra file ``timbral.json``).
    """
    if format not in FORMATS:
        raise ValueError(f"format: expected one of {list(FORMATS)}, got {format!r}")
    frames = int(frames)
    if frames < 1:
        raise ValueError(f"frames: expected at least 1 frame per call, got {frames}")
    step = SynthStep(model).eval()
    step.export_frames = frames
    meta = step_metadata(step, frames, getattr(model, "name", "") or "")
    example = _example(step, frames)
    in_names = [i["name"] for i in meta["inputs"]]
    out_names = [o["name"] for o in meta["outputs"]]
    # Written to a temporary file and renamed: a failure never leaves half a file.
    with warnings.catch_warnings(), torch.no_grad(), atomic_output(path, overwrite) as tmp:
        # Input checks inside the model turn tensors into Python booleans while tracing;
        # they are not part of the graph, which is what we want.
        warnings.simplefilter("ignore")
        if format == "torchscript":
            traced = torch.jit.trace(step, example, check_trace=False)
            torch.jit.save(traced, str(tmp), _extra_files={"timbral.json": json.dumps(meta)})
        else:
            try:
                import onnx
            except ImportError:
                raise ValueError("ONNX export needs the 'onnx' package: "
                                 "pip install 'timbral[export]'") from None
            buffer = io.BytesIO()
            torch.onnx.export(step, example, buffer, dynamo=False, input_names=in_names,
                              output_names=out_names, opset_version=int(opset))
            proto = onnx.load_from_string(buffer.getvalue())
            entry = proto.metadata_props.add()
            entry.key, entry.value = "timbral", json.dumps(meta)
            onnx.save(proto, str(tmp))
    return meta


def onnx_session(module: nn.Module, example: tuple, input_names: List[str],
                 output_names: List[str], threads: int = 1):
    """An onnxruntime session running ``module`` (traced on ``example``, exported in
    memory; no file is written), or None when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, buffer, dynamo=False, input_names=input_names,
                          output_names=output_names, opset_version=DEFAULT_OPSET)
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    return ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])


def step_session(model: Autoencoder, threads: int = 1):
    """``(session, metadata)`` of the one-frame step of ``model`` in onnxruntime
    (exported in memory), or ``(None, None)`` without onnxruntime."""
    step = SynthStep(model).eval()
    step.export_frames = 1
    meta = step_metadata(step, 1)
    session = onnx_session(step, _example(step, 1), [i["name"] for i in meta["inputs"]],
                           [o["name"] for o in meta["outputs"]], threads)
    return (session, meta) if session is not None else (None, None)


class ExportedStep:
    """Run an exported step (ONNX through onnxruntime, or TorchScript) with numpy.

    ``initial_state()`` gives the starting state; ``step(f0_hz, loudness_db,
    noise, state)`` takes ``[batch, frames]`` features and ``[batch, frames *
    hop]`` noise (numpy float32) and returns ``(audio, next state)``.
    ``metadata`` is :func:`step_metadata`'s dict read from the file.
    """

    def __init__(self, path: Union[str, Path], threads: int = 1):
        path = Path(path)
        self.path = path
        with open(path, "rb") as f:
            is_zip = f.read(4) == b"PK\x03\x04"  # TorchScript files are zip archives
        if not is_zip:
            try:
                import onnxruntime as ort
            except ImportError:
                raise ValueError("running ONNX files needs onnxruntime: "
                                 "pip install 'timbral[export]'") from None
            options = ort.SessionOptions()
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(path), options,
                                                 providers=["CPUExecutionProvider"])
            meta = self._session.get_modelmeta().custom_metadata_map.get("timbral")
            self._module = None
        else:
            extra = {"timbral.json": ""}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is frozen
                self._module = torch.jit.load(str(path), _extra_files=extra)
            meta = extra["timbral.json"]
            self._session = None
        if not meta:
            raise ValueError(f"{path}: no timbral metadata; was it written by timbral export?")
        self.metadata = json.loads(meta)
        self.format = "onnx" if self._session is not None else "torchscript"

    def initial_state(self, batch: int = 1) -> List:
        import numpy as np

        state = []
        for entry in self.metadata["inputs"][3:]:
            shape = list(entry["shape"])
            shape[1 if entry["name"] in ("rnn_h", "rnn_c") else 0] = batch
            arr = np.zeros(shape, dtype=entry["dtype"])
            if entry["name"] == "position":
                arr += self.metadata["initial_state"]["position"]
            state.append(arr)
        return state

    def step(self, f0_hz, loudness_db, noise, state) -> Tuple:
        import numpy as np

        args = [np.asarray(f0_hz, np.float32), np.asarray(loudness_db, np.float32),
                np.asarray(noise, np.float32), *state]
        if self._session is not None:
            names = [i["name"] for i in self.metadata["inputs"]]
            out = self._session.run(None, dict(zip(names, args)))
        else:
            with torch.inference_mode():
                out = [t.numpy() for t in self._module(*[torch.from_numpy(np.ascontiguousarray(a))
                                                         for a in args])]
        return out[0], list(out[1:])


def compare_export(model: Autoencoder, path: Union[str, Path], calls: int = 8,
                   seed: int = 0) -> Dict[str, float]:
    """Run ``calls`` steps of varying features through the exported file and
    through :class:`SynthStep` in PyTorch, state carried; returns the largest
    absolute difference of the audio (``"max_abs"``) and its peak
    (``"peak"``)."""
    import numpy as np

    exported = ExportedStep(path)
    frames = exported.metadata["frames_per_call"]
    step = SynthStep(model).eval()
    gen = np.random.default_rng(seed)
    state_t = step.initial_state(1)
    state_e = exported.initial_state(1)
    worst = peak = 0.0
    for c in range(calls):
        f0 = (220.0 * 2.0 ** gen.uniform(-1, 1, (1, frames))).astype(np.float32)
        ld = gen.uniform(-60, 0, (1, frames)).astype(np.float32)
        noise = gen.uniform(-1, 1, (1, frames * step.hop)).astype(np.float32)
        with torch.inference_mode():
            ref, *state_t = step(torch.from_numpy(f0), torch.from_numpy(ld),
                                 torch.from_numpy(noise), *state_t)
        out, state_e = exported.step(f0, ld, noise, state_e)
        worst = max(worst, float(np.abs(out - ref.numpy()).max()))
        peak = max(peak, float(np.abs(ref.numpy()).max()))
    return {"max_abs": worst, "peak": peak}


__all__ = ["SynthStep", "FORMATS", "ExportedStep", "compare_export", "export_step",
           "onnx_session", "step_metadata", "step_session"]
