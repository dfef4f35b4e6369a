"""Stateful streaming synthesis: feed feature frames, get the model's audio.

:class:`StreamSynth` keeps the state of a
:class:`~timbral.models.export.StreamStep` (the model's stateful graph as a
pure per-frame function, the same one that is exported) and supplies the
noise synth's source: the offline renderer's noise, addressed by absolute
sample, so a stream and :func:`timbral.models.rendering.render` given the
same features and seed produce the same audio (float32 rounding apart).

Backends (the same operations, results equal to ~1e-7):

- ``"onnxruntime"``: the step exported to ONNX in memory and run by
  onnxruntime (about 3x faster than eager PyTorch at one frame per call);
- ``"jit"``: a TorchScript trace of the step (about 1.4x faster than eager);
- ``"torch"``: eager PyTorch (any number of frames per call);
- ``"auto"`` (default): onnxruntime when it is installed, else jit; ``"torch"``
  for a model on a GPU (the compiled backends run on the CPU).
"""

from __future__ import annotations

import warnings
from typing import List

import numpy as np
import torch

from ..models.autoencoder import Autoencoder
from ..models.export import StreamStep, step_session
from ..models.rendering import PositionalNoise
from ..validation import check_seed

BACKENDS = ("auto", "onnxruntime", "jit", "torch")


class StreamSynth:
    """:class:`~timbral.models.export.StreamStep` with its state kept: feed frames, get audio.

    Args:
      model: the model (its processor group must be streamable: Harmonic and/or
        FilteredNoise, Add, a trainable reverb).
      seed: the noise synth's seed; the noise is the offline renderer's
        (indexed by absolute sample), so a stream and
        :func:`~timbral.models.rendering.render` with the same seed and
        features give the same audio.
      backend: see the module doc.

    ``process(f0_hz, loudness_db)`` takes ``[n_frames]`` features of the
    next frames and returns float32 ``[n_frames * hop]`` audio covering
    model time ``[k * hop + first_offset, ...)`` (``k`` = frames fed
    before); samples before model time 0 are silent.
    """

    def __init__(self, model: Autoencoder, seed: int = 0, backend: str = "auto"):
        if backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {list(BACKENDS)}, got {backend!r}")
        self.step = StreamStep(model).eval()
        self.seed = check_seed(seed)
        self.device = model.device
        self._run = None  # one frame -> (audio [1, hop], state), for the compiled backends
        if self.device.type != "cpu":
            if backend not in ("auto", "torch"):
                raise ValueError(f"backend {backend!r} runs on the CPU; a model on "
                                 f"{self.device} streams with backend 'torch'")
            backend = "torch"
        if backend in ("auto", "onnxruntime"):
            session, meta = step_session(model)
            if session is None and backend == "onnxruntime":
                raise ValueError("backend 'onnxruntime' needs onnxruntime: "
                                 "pip install 'timbral[export]'")
            if session is not None:
                names = [i["name"] for i in meta["inputs"]]
                self._run = lambda *args: session.run(None, dict(zip(names, args)))
                self.backend = "onnxruntime"
        if self._run is None and backend in ("auto", "jit"):
            example = (torch.full((1, 1), 220.0), torch.full((1, 1), -30.0),
                       torch.zeros(1, self.step.hop), *self.step.initial_state(1))
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # input checks seen while tracing
                traced = torch.jit.trace(self.step, example, check_trace=False)
            def run(*args):
                with torch.inference_mode():
                    return [t.numpy() for t in traced(*[torch.from_numpy(a) for a in args])]
            self._run = run
            self.backend = "jit"
        if self._run is None:
            self.backend = "torch"
        self.reset()

    @property
    def hop(self) -> int:
        return self.step.hop

    @property
    def first_offset(self) -> int:
        return self.step.first_offset

    def reset(self) -> None:
        """Start over: the initial state, frame 0 next."""
        self.state: List = self.step.initial_state(1)
        if self._run is not None:
            self.state = [s.numpy() for s in self.state]
        self.frames = 0
        self._noise = PositionalNoise(self.seed)

    def process(self, f0_hz, loudness_db) -> np.ndarray:
        f0 = np.asarray(f0_hz, np.float32).reshape(1, -1)
        ld = np.asarray(loudness_db, np.float32).reshape(1, -1)
        n, hop = f0.shape[1], self.hop
        if n == 0:
            return np.zeros(0, np.float32)
        start = self.frames * hop
        noise = self._noise.slice(start, start + n * hop)[None].numpy()
        self.frames += n
        if self._run is None:  # eager: all frames in one call
            with torch.inference_mode():
                audio, *self.state = self.step(
                    *(torch.from_numpy(x).to(self.device) for x in (f0, ld, noise)), *self.state)
            return audio[0].cpu().numpy()
        pieces = []
        for i in range(n):  # compiled for one frame per call
            piece, *self.state = self._run(f0[:, i:i + 1], ld[:, i:i + 1],
                                           noise[:, i * hop:(i + 1) * hop], *self.state)
            pieces.append(piece[0])
        return np.concatenate(pieces) if n > 1 else pieces[0]


__all__ = ["BACKENDS", "StreamSynth"]
