"""The model's streaming step and its TorchScript / ONNX export.

:class:`StreamStep` is :meth:`Autoencoder.process` (the model's one stateful
graph) with the state as a flat, ordered list of tensors: a pure function of
new feature frames, the noise they need and the previous state, returning
audio and the next state. Nothing is hidden in the module, so the same code
runs in Python (:class:`timbral.stream.StreamSynth` keeps the state) and
exported (:func:`export_step`: TorchScript, or ONNX for onnxruntime and other
runtimes). Traced, the synths use their exportable forms (explicit sines,
matrix-product FFTs and convolutions; see :mod:`timbral.synths` and
:mod:`timbral.effects`).

Every call emits exactly ``N * hop`` samples covering model time ``[k * hop +
first_offset, (k + N) * hop + first_offset)``; ``first_offset`` (negative:
-384 samples for the realtime preset at 16 kHz) is how far the finished
output trails the newest frame.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Dict, List, Tuple, Union

import torch
from torch import nn

from ..files import atomic_output
from ..validation import check_size
from .autoencoder import Autoencoder


class StreamStep(nn.Module):
    """One streaming step of a model: frames in, audio out, state explicit.

    ``forward(f0_hz, loudness_db, noise, *state)``:
      f0_hz, loudness_db: ``[batch, n_frames]`` float32 features of the new
        frames (Hz and dB).
      noise: ``[batch, n_frames * hop]`` float32 uniform noise in [-1, 1)
        for the new frames' samples (taken even by models without a noise
        synth, so the signature is fixed).
      state: tensors in the order of :attr:`state_names`
        (:meth:`initial_state` gives the state to start from).
    Returns ``(audio [batch, n_frames * hop], *new_state)``.
    """

    def __init__(self, model: Autoencoder):
        super().__init__()
        self.model = model
        self.hop = int(model.hop)
        self.sample_rate = int(model.sample_rate)
        self.frame_rate = model.frame_rate
        self.first_offset = int(model.first_offset)
        self.state_names: List[str] = list(model.init_state(1))

    def initial_state(self, batch: int = 1) -> List[torch.Tensor]:
        """The state before the first frame, in :attr:`state_names` order."""
        state = self.model.init_state(batch)
        return [state[name] for name in self.state_names]

    def forward(self, f0_hz: torch.Tensor, loudness_db: torch.Tensor, noise: torch.Tensor,
                *state: torch.Tensor):
        outputs, new = self.model.process(f0_hz, loudness_db, noise,
                                          dict(zip(self.state_names, state)))
        return (outputs["audio"], *[new[name] for name in self.state_names])


# ------------------------------------------------------------------- export
FORMATS = ("torchscript", "onnx")
#: The file names each format is written under.
SUFFIXES = {"torchscript": (".pt", ".ts"), "onnx": (".onnx",)}
METADATA_FORMAT = "timbral.stream-step"
METADATA_VERSION = 2  # 2: state named by processor ("harmonic/phase", ...)
#: ONNX opset used by default (17: LayerNormalization; onnxruntime >= 1.17 runs it).
DEFAULT_OPSET = 17
#: The most frames one exported call takes (a streaming step: seconds, not hours).
MAX_FRAMES = 1000


def step_metadata(step: StreamStep, frames: int, name: str = "") -> dict:
    """What a runtime needs to drive an exported step (stored inside the file).

    Inputs ``f0_hz``, ``loudness_db`` ``[batch, frames]`` float32 (Hz, dB),
    ``noise`` ``[batch, frames * hop]`` float32 uniform in [-1, 1), then the
    state tensors in ``state`` order (batch first; zeros except the values in
    ``initial_state``); outputs ``audio`` ``[batch, frames * hop]`` then the
    next state (same order, names prefixed ``next_``).
    """
    initial = step.initial_state(1)
    state = [{"name": n, "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
             for n, t in zip(step.state_names, initial)]
    fills = {n: float(t.flatten()[0]) for n, t in zip(step.state_names, initial)
             if t.numel() and bool((t == t.flatten()[0]).all()) and float(t.flatten()[0]) != 0}
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
        "initial_state": fills,
        "usage": "Call once per frame (every hop samples of input): features of the new "
                 "frame(s), noise for their samples (from the first new frame's position "
                 "on), the state; feed the returned state back in. The audio returned by "
                 "call c (0-based) covers model time [c*samples_per_call + first_offset, ...).",
    }


def _example(step: StreamStep, frames: int) -> tuple:
    f0 = torch.full((1, frames), 220.0)
    ld = torch.full((1, frames), -30.0)
    noise = torch.rand(1, frames * step.hop) * 2.0 - 1.0
    return (f0, ld, noise, *step.initial_state(1))


def check_export_path(path: Union[str, Path], format: str) -> None:
    """Raise a one-line ValueError for an unknown ``format`` or a ``path`` whose name
    is not that format's (:data:`SUFFIXES`): an audio file is no place for a model."""
    if format not in FORMATS:
        raise ValueError(f"format: expected one of {list(FORMATS)}, got {format!r}")
    if Path(path).suffix.lower() not in SUFFIXES[format]:
        raise ValueError(f"{path}: {'an' if format[0] in 'aeiou' else 'a'} {format} file is "
                         f"named *{' or *'.join(SUFFIXES[format])}; choose such a name")


def export_step(model: Autoencoder, path: Union[str, Path], format: str = "onnx",
                frames: int = 1, opset: int = DEFAULT_OPSET, overwrite: bool = False) -> dict:
    """Write ``model`` as a streaming step (decoder + synths + reverb) to ``path``.

    Args:
      model: the model (its processor group must be the DDSP graph).
      path: output file (``.onnx``; ``.pt`` or ``.ts`` for TorchScript).
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
    check_export_path(path, format)
    frames = check_size(frames, "frames")
    if frames > MAX_FRAMES:
        raise ValueError(f"frames: expected 1 to {MAX_FRAMES} frames per call (a streaming "
                         f"step), got {frames}")
    step = StreamStep(model).eval()
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
    step = StreamStep(model).eval()
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
        if self.metadata.get("version") != METADATA_VERSION:
            raise ValueError(f"{path}: written by another timbral (step format version "
                             f"{self.metadata.get('version')}, this one reads "
                             f"{METADATA_VERSION}); export the model again")
        self.format = "onnx" if self._session is not None else "torchscript"

    def initial_state(self, batch: int = 1) -> List:
        import numpy as np

        state = []
        for entry in self.metadata["inputs"][3:]:
            shape = [batch, *entry["shape"][1:]]
            arr = np.zeros(shape, dtype=entry["dtype"])
            arr += self.metadata["initial_state"].get(entry["name"], 0.0)
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
    through :class:`StreamStep` in PyTorch, state carried; returns the largest
    absolute difference of the audio (``"max_abs"``) and its peak
    (``"peak"``)."""
    import numpy as np

    exported = ExportedStep(path)
    frames = exported.metadata["frames_per_call"]
    step = StreamStep(model).eval()
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


__all__ = ["StreamStep", "FORMATS", "ExportedStep", "compare_export", "export_step",
           "onnx_session", "step_metadata", "step_session"]
