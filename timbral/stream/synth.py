"""Stateful streaming synthesis: feed feature frames, get the model's audio.

:class:`StreamSynth` keeps the state of a
:class:`~timbral.models.export.SynthStep` (the model as a pure per-frame
function, the same one that is exported) and supplies the noise synth's
source: the offline renderer's noise, addressed by absolute sample, so a
stream and :func:`timbral.models.rendering.render` given the same features
and seed produce the same audio (float32 rounding apart).

Backends (the same operations, results equal to ~1e-7):

- ``"onnxruntime"``: the step exported to ONNX in memory and run by
  onnxruntime (about 3x faster than eager PyTorch at one frame per call);
- ``"jit"``: a TorchScript trace of the step (about 1.4x faster than eager);
- ``"torch"``: eager PyTorch (several frames per call);
- ``"auto"`` (default): onnxruntime when it is installed, else jit.
"""

from __future__ import annotations

import warnings
from typing import List

import numpy as np
import torch

from ..models.autoencoder import Autoencoder
from ..models.export import SynthStep, step_session
from ..models.rendering import PositionalNoise

BACKENDS = ("auto", "onnxruntime", "jit", "torch")


class StreamSynth:
    """:class:`~timbral.models.export.SynthStep` with its state kept: feed frames, get audio.

    Args:
      model: the model (see :class:`~timbral.models.export.SynthStep`).
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
        self.step = SynthStep(model).eval()
        self.seed = int(seed)
        self._session = self._traced = None
        if backend in ("auto", "onnxruntime"):
            self._session, meta = step_session(model)
            if self._session is None and backend == "onnxruntime":
                raise ValueError("backend 'onnxruntime' needs onnxruntime: "
                                 "pip install 'timbral[export]'")
            if self._session is not None:
                self._input_names = [i["name"] for i in meta["inputs"]]
        if self._session is None and backend in ("auto", "jit"):
            example = (torch.full((1, 1), 220.0), torch.full((1, 1), -30.0),
                       torch.zeros(1, self.step.hop), *self.step.initial_state(1))
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # input checks seen while tracing
                self._traced = torch.jit.trace(self.step, example, check_trace=False)
        self.backend = ("onnxruntime" if self._session is not None
                        else "jit" if self._traced is not None else "torch")
        self.reset()

    @property
    def hop(self) -> int:
        return self.step.hop

    @property
    def first_offset(self) -> int:
        return self.step.first_offset

    def reset(self) -> None:
        """Start over: zero state, frame 0 next."""
        self.state: List = self.step.initial_state(1)
        if self._session is not None:
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
        noise = self._noise.slice(start, start + n * hop)[None]
        self.frames += n
        if self._session is not None:
            noise = noise.numpy()
            pieces = []
            for i in range(n):
                args = [f0[:, i:i + 1], ld[:, i:i + 1], noise[:, i * hop:(i + 1) * hop],
                        *self.state]
                piece, *self.state = self._session.run(None, dict(zip(self._input_names, args)))
                pieces.append(piece[0])
            return np.concatenate(pieces) if n > 1 else pieces[0]
        with torch.inference_mode():
            f0_t, ld_t = torch.from_numpy(f0), torch.from_numpy(ld)
            if self._traced is None:
                audio, *self.state = self.step(f0_t, ld_t, noise, *self.state)
                return audio[0].numpy()
            pieces = []
            for i in range(n):
                piece, *self.state = self._traced(f0_t[:, i:i + 1], ld_t[:, i:i + 1],
                                                  noise[:, i * hop:(i + 1) * hop], *self.state)
                pieces.append(piece[0])
            return torch.cat(pieces).numpy() if n > 1 else pieces[0].numpy()


__all__ = ["BACKENDS", "StreamSynth"]
