"""Magenta checkpoint variables -> the ``state_dict`` of a timbral Autoencoder.

Keras stores a Dense kernel as ``[in, out]`` (torch: ``[out, in]``), a GRU as
one kernel ``[in, 3H]``, one recurrent kernel ``[H, 3H]`` and a bias ``[2, 3H]``
(input bias, recurrent bias) with gate columns ordered (z, r, h); torch's GRU
orders gates (r, z, n) with separate biases. Keras' GRU with
``reset_after=True`` computes exactly what torch's GRU computes once the
columns are reordered. Keras' LSTM orders gates (i, f, c, o) like torch and
has one bias. LayerNorm (epsilon 1e-3) and leaky ReLU (0.2) match
:class:`timbral.models.RnnFcDecoder`'s.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Tuple

import numpy as np
import torch

from ..models.decoders import RnnFcDecoder
from ..processors import Processor, ProcessorGroup

#: What TensorFlow appends to a variable's object-graph path in a checkpoint.
VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_MODEL_PREFIX = "model/"


def _strip(name: str) -> str:
    return name[:-len(VARIABLE_SUFFIX)] if name.endswith(VARIABLE_SUFFIX) else name


def _gru_gates(matrix: np.ndarray, hidden: int) -> np.ndarray:
    """Keras gate columns (z, r, h) -> torch rows (r, z, n): ``[in, 3H] -> [3H, in]``."""
    z, r, h = (matrix[..., i * hidden:(i + 1) * hidden] for i in range(3))
    return np.concatenate([r, z, h], axis=-1).T


def decoder_layout(decoder: RnnFcDecoder) -> List[Tuple[str, str, str]]:
    """``(Keras variable, torch parameter, kind)`` for every decoder weight.

    Keras names are object-graph paths under the decoder: a Sequential counts
    only layers that own weights (``layer_with_weights-N``), so each MLP layer
    is ``layer_with_weights-L`` holding a Dense (``-0``) and a LayerNorm
    (``-1``). ``kind`` says how the array is rearranged: 'dense' (transposed),
    'gru' (gates reordered and transposed), 'gru_input_bias' /
    'gru_recurrent_bias' (one row of Keras' ``[2, 3H]`` GRU bias, reordered),
    'zeros' (torch's second LSTM bias, which Keras folds into its one bias) or
    'copy'.
    """
    layout = []

    def stack(keras: str, torch_name: str, n_layers: int):
        for j in range(n_layers):
            layer = f"{keras}/layer_with_weights-{j}"
            layout.extend([
                (f"{layer}/layer_with_weights-0/kernel", f"{torch_name}.{3 * j}.weight", "dense"),
                (f"{layer}/layer_with_weights-0/bias", f"{torch_name}.{3 * j}.bias", "copy"),
                (f"{layer}/layer_with_weights-1/gamma", f"{torch_name}.{3 * j + 1}.weight", "copy"),
                (f"{layer}/layer_with_weights-1/beta", f"{torch_name}.{3 * j + 1}.bias", "copy")])

    for i, input_stack in enumerate(decoder.input_stacks):
        stack(f"input_stacks/{i}", f"input_stacks.{i}", len(input_stack) // 3)
    cell = "rnn/rnn/cell"
    if isinstance(decoder.rnn, torch.nn.GRU):
        layout += [(f"{cell}/kernel", "rnn.weight_ih_l0", "gru"),
                   (f"{cell}/recurrent_kernel", "rnn.weight_hh_l0", "gru"),
                   (f"{cell}/bias", "rnn.bias_ih_l0", "gru_input_bias"),
                   (f"{cell}/bias", "rnn.bias_hh_l0", "gru_recurrent_bias")]
    else:  # Keras' LSTM: gates (i, f, c, o) like torch, one bias
        layout += [(f"{cell}/kernel", "rnn.weight_ih_l0", "dense"),
                   (f"{cell}/recurrent_kernel", "rnn.weight_hh_l0", "dense"),
                   (f"{cell}/bias", "rnn.bias_ih_l0", "copy"),
                   (f"{cell}/bias", "rnn.bias_hh_l0", "zeros")]
    stack("out_stack", "out_stack", len(decoder.out_stack) // 3)
    layout += [("dense_out/kernel", "dense_out.weight", "dense"),
               ("dense_out/bias", "dense_out.bias", "copy")]
    return layout


def _to_torch(kind: str, array: np.ndarray, hidden: int) -> np.ndarray:
    """A Keras array rearranged into the torch parameter's layout (``kind`` as in
    :func:`decoder_layout`; ``hidden`` is the RNN's H)."""
    if kind == "dense":
        return array.T
    if kind == "gru":
        return _gru_gates(array, hidden)
    if kind in ("gru_input_bias", "gru_recurrent_bias"):
        if array.ndim != 2 or array.shape[0] != 2:
            raise ValueError(f"shape {list(array.shape)}; a Keras GRU bias is [2, 3H] "
                             f"(reset_after=True)")
        return _gru_gates(array[0 if kind == "gru_input_bias" else 1], hidden)
    if kind == "zeros":
        return np.zeros_like(array)
    return array


def decoder_state_dict(variables: Mapping[str, np.ndarray], decoder: RnnFcDecoder,
                       prefix: str = "model/decoder/",
                       what: str = "checkpoint") -> Dict[str, torch.Tensor]:
    """A ``state_dict`` for ``decoder`` from Magenta's checkpoint variables.

    Args:
      variables: checkpoint name -> array (names with or without the
        ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix); other entries are ignored.
      decoder: the RnnFcDecoder whose sizes the checkpoint must match.
      prefix: where the decoder lives in the checkpoint.
      what: the checkpoint's name in error messages.

    Raises ValueError naming the first missing or mis-shaped variable.
    """
    keras = {_strip(k)[len(prefix):]: np.asarray(v) for k, v in variables.items()
             if _strip(k).startswith(prefix)}
    hidden = decoder.rnn.hidden_size
    expected = decoder.state_dict()
    state = {}
    for keras_name, torch_name, kind in decoder_layout(decoder):
        if keras_name not in keras:
            raise ValueError(f"{what}: missing variable {prefix}{keras_name}; the checkpoint "
                             f"does not match the decoder of the gin config")
        try:
            value = _to_torch(kind, keras[keras_name], hidden)
        except ValueError as exc:
            raise ValueError(f"{what}: {prefix}{keras_name} has {exc}") from None
        if tuple(value.shape) != tuple(expected[torch_name].shape):
            raise ValueError(f"{what}: {prefix}{keras_name} has shape "
                             f"{list(keras[keras_name].shape)}, which does not fit the "
                             f"decoder's {torch_name} {list(expected[torch_name].shape)}; "
                             f"the checkpoint does not match the gin config")
        state[torch_name] = torch.from_numpy(np.ascontiguousarray(value)).to(
            expected[torch_name].dtype)
    return state


def _processor_variable_names(proc: Processor, index: int, param: str) -> List[str]:
    """Where a processor's variable may sit in a checkpoint, newest layout first:
    ddsp 3 tracks processors by name, older ddsp through its ``processors``
    list or ``dag`` list of (processor, inputs) tuples."""
    return [f"processor_group/{proc.name}/{param}",
            f"processor_group/processors/{index}/{param}",
            f"processor_group/dag/{index}/0/{param}"]


def is_model_variable(name: str) -> bool:
    """Model weights: ``model/...`` values, not optimizer slots kept under them."""
    return name.startswith(_MODEL_PREFIX) and name.endswith(VARIABLE_SUFFIX) and \
        ".OPTIMIZER_SLOT" not in name


def state_dict_from_variables(variables: Mapping[str, np.ndarray], config: dict,
                              what: str = "checkpoint") -> Dict[str, torch.Tensor]:
    """An Autoencoder ``state_dict`` from Magenta model variables.

    ``variables`` maps checkpoint names (``model/...`` with the
    ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix; others ignored) to arrays.
    Keys are ``decoder.*`` and ``processor_group.processors.<i>.<param>``.
    Raises ValueError for missing, mis-shaped or unused model variables.
    """
    variables = {k: v for k, v in variables.items() if is_model_variable(k)}
    model = {_strip(k)[len(_MODEL_PREFIX):]: np.asarray(v) for k, v in variables.items()}
    decoder = RnnFcDecoder(**config["decoder"]["config"])
    state = {f"decoder.{k}": v for k, v in
             decoder_state_dict(variables, decoder, f"{_MODEL_PREFIX}decoder/", what).items()}
    used = {f"decoder/{keras}" for keras, _, _ in decoder_layout(decoder)}
    group = ProcessorGroup.from_config(config["processor_group"]["config"])
    for i, proc in enumerate(group.processors):
        for param, expected in proc.named_parameters(recurse=False):
            names = [n for n in _processor_variable_names(proc, i, param) if n in model]
            if not names:
                raise ValueError(f"{what}: missing variable model/processor_group/{proc.name}/"
                                 f"{param}; the checkpoint does not match the gin config")
            value = model[names[0]]
            if value.shape != tuple(expected.shape):
                raise ValueError(f"{what}: model/{names[0]} has shape {list(value.shape)}, "
                                 f"the gin config's {proc.name} expects "
                                 f"{list(expected.shape)}")
            state[f"processor_group.processors.{i}.{param}"] = torch.from_numpy(
                np.ascontiguousarray(value)).to(expected.dtype)
            used.add(names[0])
    unused = sorted(set(model) - used)
    if unused:
        raise ValueError(f"{what}: holds model variables the gin config's architecture does not "
                         f"use ({len(unused)}, e.g. model/{unused[0]}); is the gin config from "
                         f"another model?")
    return state
