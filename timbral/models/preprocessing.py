"""Feature scaling between the audio features and the decoder (Magenta's F0LoudnessPreprocessor)."""

from __future__ import annotations

from typing import Dict

import torch
from torch import nn

from .. import dsp
from ..validation import as_controls

#: Loudness range (dB) mapped to [0, 1] by ``ld_scaled = loudness_db / 80 + 1``.
LD_RANGE_DB = 80.0
#: Highest MIDI note, mapped to 1 by ``f0_scaled = hz_to_midi(f0) / 127``.
F0_RANGE_MIDI = 127.0


class F0LoudnessPreprocessor(nn.Module):
    """Scale f0 and loudness to the decoder's inputs.

    ``f0_scaled = hz_to_midi(f0_hz) / 127`` and ``ld_scaled = loudness_db / 80
    + 1``. Input features ``f0_hz`` and ``loudness_db`` are ``[batch,
    n_frames, 1]`` (or ``[batch, n_frames]``); the outputs add the scaled
    versions, ``[batch, n_frames, 1]`` each.

    Unlike Magenta's preprocessor, the loudness given is the loudness used:
    Magenta recomputes it from the audio by default, which silently undoes
    every loudness adjustment of timbre transfer (quantile matching, quiet,
    manual shifts).
    """

    def forward(self, features: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        f0_hz = as_controls(features["f0_hz"], "f0_hz", 1)
        loudness_db = as_controls(features["loudness_db"], "loudness_db", 1)
        if f0_hz.shape[1] != loudness_db.shape[1]:
            raise ValueError(f"loudness_db: has {loudness_db.shape[1]} frames but f0_hz has "
                             f"{f0_hz.shape[1]}; expected [batch, n_frames, 1] for both")
        return dict(features, f0_hz=f0_hz, loudness_db=loudness_db,
                    f0_scaled=dsp.hz_to_midi(f0_hz) / F0_RANGE_MIDI,
                    ld_scaled=loudness_db / LD_RANGE_DB + 1.0)
