"""The DDSP autoencoder: features -> preprocessor -> decoder -> processor group -> audio.

As in Magenta's solo-instrument model there is no learned encoder: the
"latent" is f0 and loudness themselves, scaled by the preprocessor.
"""

from __future__ import annotations

import copy
from typing import Dict, Optional

import torch
from torch import nn

from .. import effects, synths  # noqa: F401  (registers the processor types configs name)
from ..processors import ProcessorGroup
from .config import hop_size, validate_config
from .decoders import RnnFcDecoder
from .preprocessing import F0LoudnessPreprocessor


class Autoencoder(nn.Module):
    """A timbral model built from a config (see :mod:`timbral.models.config`).

    Attributes: ``config`` (the JSON-able dict), ``sample_rate`` (Hz),
    ``frame_rate`` (frames per second), ``hop`` (samples per frame), and,
    for models loaded from a folder, ``statistics`` (dataset statistics dict
    or None) and ``card`` (the model card's markdown).

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
