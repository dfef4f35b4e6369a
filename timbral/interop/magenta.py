"""Magenta ``ddsp`` checkpoints -> timbral modules: the variable-name and layout mapping.

Keras stores a Dense kernel as ``[in, out]`` (torch: ``[out, in]``), a GRU as
one kernel ``[in, 3H]``, one recurrent kernel ``[H, 3H]`` and a bias ``[2,
3H]`` (input bias, recurrent bias) with gate columns ordered (z, r, h); torch's
GRU orders gates (r, z, n) with separate biases. Keras' GRU with
``reset_after=True`` computes exactly what torch's GRU computes once the
columns are reordered.
"""

from __future__ import annotations

import re
from typing import Dict, Mapping

import numpy as np
import torch

from ..models.decoders import RnnFcDecoder

_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def _strip(name: str) -> str:
    return name[:-len(_SUFFIX)] if name.endswith(_SUFFIX) else name


def _gru_gates(matrix: np.ndarray, hidden: int) -> np.ndarray:
    """Keras gate columns (z, r, h) -> torch rows (r, z, n): ``[in, 3H] -> [3H, in]``."""
    z, r, h = (matrix[..., i * hidden:(i + 1) * hidden] for i in range(3))
    return np.concatenate([r, z, h], axis=-1).T


def decoder_state_dict(variables: Mapping[str, np.ndarray], decoder: RnnFcDecoder,
                       prefix: str = "model/decoder/") -> Dict[str, torch.Tensor]:
    """A ``state_dict`` for ``decoder`` from Magenta's checkpoint variables.

    Args:
      variables: checkpoint name -> array (names with or without the
        ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix); other entries are ignored.
      decoder: the RnnFcDecoder whose sizes the checkpoint must match.
      prefix: where the decoder lives in the checkpoint.

    Raises ValueError naming the first missing or mis-shaped variable.
    """
    keras = {_strip(k)[len(prefix):]: np.asarray(v) for k, v in variables.items()
             if _strip(k).startswith(prefix)}
    hidden = decoder.rnn.hidden_size
    state: Dict[str, np.ndarray] = {}

    def dense(keras_name: str, torch_name: str):
        state[f"{torch_name}.weight"] = keras[f"{keras_name}/kernel"].T
        state[f"{torch_name}.bias"] = keras[f"{keras_name}/bias"]

    def stack(keras_name: str, torch_name: str, n_layers: int):
        for j in range(n_layers):
            layer = f"{keras_name}/layer_with_weights-{j}"
            dense(f"{layer}/layer_with_weights-0", f"{torch_name}.{3 * j}")
            state[f"{torch_name}.{3 * j + 1}.weight"] = keras[f"{layer}/layer_with_weights-1/gamma"]
            state[f"{torch_name}.{3 * j + 1}.bias"] = keras[f"{layer}/layer_with_weights-1/beta"]

    try:
        for i, input_stack in enumerate(decoder.input_stacks):
            stack(f"input_stacks/{i}", f"input_stacks.{i}", len(input_stack) // 3)
        stack("out_stack", "out_stack", len(decoder.out_stack) // 3)
        dense("dense_out", "dense_out")
        if not isinstance(decoder.rnn, torch.nn.GRU):
            raise ValueError("decoder: only GRU decoders can be imported from Magenta")
        cell = "rnn/rnn/cell"
        bias = keras[f"{cell}/bias"]
        state["rnn.weight_ih_l0"] = _gru_gates(keras[f"{cell}/kernel"], hidden)
        state["rnn.weight_hh_l0"] = _gru_gates(keras[f"{cell}/recurrent_kernel"], hidden)
        state["rnn.bias_ih_l0"] = _gru_gates(bias[0], hidden)
        state["rnn.bias_hh_l0"] = _gru_gates(bias[1], hidden)
    except KeyError as exc:
        raise ValueError(f"checkpoint: missing variable {prefix}{exc.args[0]}") from None

    expected = decoder.state_dict()
    for name, value in state.items():
        if tuple(value.shape) != tuple(expected[name].shape):
            raise ValueError(f"checkpoint: {name} has shape {list(value.shape)}, the decoder "
                             f"expects {list(expected[name].shape)}")
    return {k: torch.from_numpy(np.ascontiguousarray(v)).to(expected[k].dtype)
            for k, v in state.items()}


def stack_depth(variables: Mapping[str, np.ndarray], prefix: str = "model/decoder/") -> int:
    """Layers per MLP stack of a Magenta RnnFcDecoder checkpoint."""
    pattern = re.compile(re.escape(prefix) + r"out_stack/layer_with_weights-(\d+)/")
    found = [int(m.group(1)) for k in variables if (m := pattern.match(_strip(k)))]
    return max(found) + 1 if found else 0
