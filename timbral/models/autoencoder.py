"""The DDSP autoencoder: features -> preprocessor -> decoder -> processor group -> audio.

As in Magenta's solo-instrument model there is no learned encoder: the
"latent" is f0 and loudness themselves, scaled by the preprocessor.
"""

from __future__ import annotations

import copy
from typing import Dict, Optional

import torch
from torch import nn

from ..processors import ProcessorGroup  # the package registers every processor type
from .config import hop_size, validate_config
from .decoders import RnnFcDecoder
from .preprocessing import F0LoudnessPreprocessor


class Autoencoder(nn.Module):
    """A timbral model built from a config (see :mod:`timbral.models.config`).

    Attributes: ``config`` (the JSON-able dict), ``sample_rate`` (Hz),
    ``frame_rate`` (frames per second), ``hop`` (samples per frame), and,
    for models loaded from a folder, ``statistics`` (dataset statistics dict
    or None), ``expression`` (the expression profile dict or None) and ``card``
    (the model card's markdown).

    ``forward(features, state=None, n_samples=None)``:
      features: ``f0_hz`` (Hz) and ``loudness_db`` (dB), each ``[batch,
        n_frames]`` or ``[batch, n_frames, 1]``; frame ``i`` describes the
        audio around sample ``i * hop``.
      state: the decoder's recurrent state from a previous call (streaming),
        or None.
      n_samples: output length; default ``n_frames * hop``.
    Returns a dict: ``"audio"`` ``[batch, n_samples]``, ``"state"``, the
    decoder's raw outputs and every processor output (``"harmonic/signal"``,
    ``"harmonic/controls/f0_hz"``, ...).
    """

    def __init__(self, config: dict):
        super().__init__()
        config = validate_config(copy.deepcopy(config))
        self.config = config
        self.sample_rate = int(config["sample_rate"])
        self.frame_rate = config["frame_rate"]
        self.hop = hop_size(config)
        self.preprocessor = F0LoudnessPreprocessor()
        self.decoder = RnnFcDecoder(**config["decoder"]["config"])
        self.processor_group = ProcessorGroup.from_config(config["processor_group"]["config"])
        self.statistics: Optional[dict] = None
        self.expression: Optional[dict] = None  # expression.json, for playing from MIDI
        self.card = ""
        self.name = config.get("name", "")

    @property
    def n_parameters(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def forward(self, features: Dict[str, torch.Tensor], state=None,
                n_samples: Optional[int] = None) -> Dict[str, torch.Tensor]:
        scaled = self.preprocessor(features)
        raw, state = self.decoder(scaled, state)
        n_frames = scaled["f0_hz"].shape[1]
        group = self.processor_group.with_n_samples(n_samples or n_frames * self.hop)
        outputs = group({**scaled, **raw}, return_outputs_dict=True)
        outputs.update(raw)
        outputs["audio"] = outputs["out/signal"]
        outputs["state"] = state
        return outputs

    # ------------------------------------------------------------ stateful use
    # The same graph, a few frames at a time: chunked offline rendering
    # (timbral.models.rendering), streaming (timbral.stream) and export
    # (timbral.models.export) all call process().
    def _stream_channels(self) -> Dict[str, int]:
        channels = dict(self.decoder.output_splits)
        channels.update(f0_hz=1, loudness_db=1, f0_scaled=1, ld_scaled=1)
        return channels

    @property
    def first_offset(self) -> int:
        """Where :meth:`process` output sits: the call that receives frames ``k ..
        k + N - 1`` returns model time ``[k * hop + first_offset, (k + N) * hop +
        first_offset)`` (samples, <= 0; -384 for the realtime preset at 16 kHz)."""
        return self.processor_group.stream_offset(self.hop, self._stream_channels())

    def init_state(self, batch: int = 1, mix: bool = False) -> Dict[str, torch.Tensor]:
        """State before the first frame, on the model's device: the decoder's
        (``"decoder/h"``, and ``"decoder/c"`` for an LSTM, ``[batch,
        rnn_channels]``) and the processor group's (see
        :meth:`ProcessorGroup.init_state`; ``mix``: :meth:`process` will mix the rows)."""
        size = self.decoder.rnn.hidden_size
        state = {"decoder/h": torch.zeros(batch, size)}
        if isinstance(self.decoder.rnn, nn.LSTM):
            state["decoder/c"] = torch.zeros(batch, size)
        state.update(self.processor_group.init_state(batch, self.hop, self._stream_channels(),
                                                     mix))
        device = self.device
        return {k: v.to(device) for k, v in state.items()}

    @property
    def device(self) -> torch.device:
        """Where the weights are (inputs to :meth:`process` go there too)."""
        return next(self.parameters()).device

    def process(self, f0_hz: torch.Tensor, loudness_db: torch.Tensor, noise: torch.Tensor,
                state: Dict[str, torch.Tensor]):
        """The next ``N * hop`` samples from ``N`` new frames.

        Args:
          f0_hz, loudness_db: ``[batch, N]`` (Hz, dB).
          noise: ``[batch, N * hop]`` uniform in [-1, 1): the noise synth's source
            for the new frames' samples.
          state: from :meth:`init_state` or the previous call. One from
            ``init_state(batch, mix=True)``: the rows are voices of one
            instrument, the room (the last processor) runs once on their sum
            and ``"audio"`` is that mix ``[1, N * hop]``.
        Returns ``(outputs, state)``: ``outputs`` holds ``"audio"`` ``[batch, N *
        hop]`` (see :attr:`first_offset`) and the decoder's inputs and outputs
        ``[batch, N, channels]``.
        """
        scaled = self.preprocessor({"f0_hz": f0_hz[..., None], "loudness_db": loudness_db[..., None]})
        h = state["decoder/h"][None]
        rnn_state = (h, state["decoder/c"][None]) if "decoder/c" in state else h
        raw, rnn_state = self.decoder(scaled, rnn_state)
        controls = {**scaled, **raw}
        audio, new = self.processor_group.process(controls, state, self.hop, noise)
        if isinstance(rnn_state, tuple):
            new["decoder/h"], new["decoder/c"] = rnn_state[0][0], rnn_state[1][0]
        else:
            new["decoder/h"] = rnn_state[0]
        return dict(controls, audio=audio), new
