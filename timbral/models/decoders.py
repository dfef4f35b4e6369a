"""Decoders: scaled features ``[batch, n_frames, 1]`` -> raw synth controls.

:class:`RnnFcDecoder` is Magenta's solo-instrument decoder (``ddsp.training.decoders``):
one MLP per input, a GRU over their concatenation, an output MLP over [MLP
outputs, GRU output], and a final linear layer split into named outputs.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from ..validation import as_controls, check_choice, check_size

#: Keras' LayerNormalization epsilon, kept so imported weights behave the same.
LAYER_NORM_EPS = 1e-3
#: Slope of the leaky ReLU after each layer norm.
LEAKY_SLOPE = 0.2


class FcStack(nn.Sequential):
    """``layers`` x (Linear -> LayerNorm(eps 1e-3) -> leaky ReLU(0.2)); identity if 0 layers.

    Maps ``[..., in_channels]`` to ``[..., ch]`` (``[..., in_channels]`` when empty).
    """

    def __init__(self, in_channels: int, ch: int, layers: int):
        blocks = []
        for i in range(layers):
            blocks += [nn.Linear(in_channels if i == 0 else ch, ch),
                       nn.LayerNorm(ch, eps=LAYER_NORM_EPS), nn.LeakyReLU(LEAKY_SLOPE)]
        super().__init__(*blocks)
        self.out_channels = ch if layers else in_channels


class RnnFcDecoder(nn.Module):
    """Magenta's RnnFcDecoder.

    Args:
      rnn_channels: GRU (or LSTM) width.
      rnn_type: 'gru' or 'lstm'.
      ch: width of every MLP layer.
      layers_per_stack: layers per MLP (0: inputs go straight to the GRU).
      input_keys: names of the scaled inputs, each ``[batch, n_frames, 1]``.
      output_splits: ``(name, channels)`` pairs the final layer is split into.

    ``forward(inputs, state=None)`` takes a dict holding ``input_keys`` and
    returns ``(outputs, state)``: a dict of ``[batch, n_frames, channels]``
    raw controls and the recurrent state (pass it back in to continue a
    stream; None starts from zeros).
    """

    def __init__(self, rnn_channels: int = 512, rnn_type: str = "gru", ch: int = 512,
                 layers_per_stack: int = 3,
                 input_keys: Sequence[str] = ("ld_scaled", "f0_scaled"),
                 output_splits: Sequence[Tuple[str, int]] = (
                     ("amps", 1), ("harmonic_distribution", 60), ("noise_magnitudes", 65))):
        super().__init__()
        self.input_keys = tuple(input_keys)
        self.output_splits = tuple((str(k), check_size(n, f"output_splits[{k}]"))
                                   for k, n in output_splits)
        rnn_channels = check_size(rnn_channels, "rnn_channels")
        ch = check_size(ch, "ch")
        layers = check_size(layers_per_stack, "layers_per_stack", 0)
        rnn_type = check_choice(rnn_type, "rnn_type", ("gru", "lstm"))
        if not self.input_keys:
            raise ValueError("input_keys: need at least one input")
        self.input_stacks = nn.ModuleList(FcStack(1, ch, layers) for _ in self.input_keys)
        stacked = sum(s.out_channels for s in self.input_stacks)
        rnn_cls = nn.GRU if rnn_type == "gru" else nn.LSTM
        self.rnn = rnn_cls(stacked, rnn_channels, batch_first=True)
        self.out_stack = FcStack(stacked + rnn_channels, ch, layers)
        self.dense_out = nn.Linear(self.out_stack.out_channels,
                                   sum(n for _, n in self.output_splits))

    def forward(self, inputs: Dict[str, torch.Tensor],
                state: Optional[torch.Tensor] = None):
        missing = [k for k in self.input_keys if k not in inputs]
        if missing:
            raise ValueError(f"inputs: missing {missing}; the decoder reads {list(self.input_keys)}")
        xs = [stack(as_controls(inputs[k], k, 1))
              for k, stack in zip(self.input_keys, self.input_stacks)]
        if len({int(x.shape[1]) for x in xs}) > 1:  # int(): traced sizes are tensors
            raise ValueError(f"inputs: {list(self.input_keys)} have different frame counts")
        x = torch.cat(xs, dim=-1)
        rnn_out, state = self.rnn(x, state)
        y = self.dense_out(self.out_stack(torch.cat([x, rnn_out], dim=-1)))
        names = [k for k, _ in self.output_splits]
        return dict(zip(names, torch.split(y, [n for _, n in self.output_splits], -1))), state
