"""Starting a model from another one's weights, even at another rate or size.

Fine-tuning a shipped instrument on new recordings, or moving a 16 kHz model to
48 kHz, starts from what it learned instead of from noise. Weights of the same
name and shape are copied. Where the synths' sizes differ, the decoder's output
layer is mapped by what each row means:

- ``amps``: copied;
- ``harmonic_distribution``: harmonic ``k`` from harmonic ``k``; harmonics the
  source lacks repeat its highest (they start as loud as it, then learn);
- ``noise_magnitudes``: each band from the source band nearest its centre
  frequency (bands are spread evenly from 0 Hz to Nyquist); bands above the
  source's Nyquist repeat its top band;
- a room in octave bands (``MultibandDecayReverb``: below 125 Hz, then one per
  octave up to Nyquist): band ``b`` from band ``b``, the extra top bands from
  the source's top band.

Anything else that differs keeps its fresh initialisation, and is reported.
A 48 kHz model started from scratch on real violin shut its harmonic synth off
within its first hundred steps (its amplitudes saturated at the bottom of
``exp_sigmoid``, where no gradient brings them back) and learned noise only; the
same model started from the 16 kHz violin keeps its harmonics.
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np
import torch

from ..processors.effects import MultibandDecayReverb
from .autoencoder import Autoencoder

#: The decoder's output layer, split by the config's ``output_splits``.
OUTPUT_LAYER = "decoder.dense_out."


def _splits(model: Autoencoder) -> Dict[str, slice]:
    out, start = {}, 0
    for name, n in model.decoder.output_splits:
        out[name] = slice(start, start + n)
        start += n
    return out


def _noise_rows(n_target: int, rate_target: float, n_source: int, rate_source: float
                ) -> np.ndarray:
    """Source band for each target band: nearest centre frequency, top band above."""
    centres = np.arange(n_target) * (rate_target / 2) / max(1, n_target - 1)
    step = (rate_source / 2) / max(1, n_source - 1)
    return np.minimum(np.round(centres / step).astype(np.int64), n_source - 1)


def _map_output_layer(target: torch.Tensor, source: torch.Tensor,
                      model: Autoencoder, other: Autoencoder) -> List[str]:
    """Fill ``target`` (weight or bias of the output layer) from ``source``, block by
    block; returns the blocks that had no counterpart."""
    mine, theirs = _splits(model), _splits(other)
    missing = []
    for block, rows in mine.items():
        if block not in theirs:
            missing.append(block)
            continue
        src = source[theirs[block]]
        n_target, n_source = rows.stop - rows.start, src.shape[0]
        if block == "noise_magnitudes":
            index = _noise_rows(n_target, model.sample_rate, n_source, other.sample_rate)
        else:  # amps, harmonic_distribution and anything indexed in order
            index = np.minimum(np.arange(n_target), n_source - 1)
        target[rows] = src[torch.from_numpy(index)]
    return missing


def init_from(model: Autoencoder, source: Autoencoder) -> List[str]:
    """Copy (and map, see the module doc) ``source``'s weights into ``model``, in place.

    Returns the names of ``model``'s weights that kept their initialisation
    (nothing in ``source`` to start them from). Raises ValueError when the
    decoders differ below their output layer (another network: nothing to
    start from).
    """
    if not isinstance(source, Autoencoder):
        raise ValueError(f"cannot start from a {type(source).__name__}: expected a model")
    theirs = source.state_dict()
    state = model.state_dict()
    body = [n for n in state if n.startswith("decoder.") and not n.startswith(OUTPUT_LAYER)]
    if any(n not in theirs or theirs[n].shape != state[n].shape for n in body):
        raise ValueError(f"cannot start from {source.name or 'that model'}: its decoder differs "
                         f"from this preset's (sizes or layers); start from a model of the same "
                         f"preset, or train from scratch")
    same_rate = model.sample_rate == source.sample_rate
    kept = []
    for name, value in state.items():
        src = theirs.get(name)
        owner = model.get_submodule(name.rsplit(".", 1)[0])
        if src is None:
            kept.append(name)
        elif isinstance(owner, MultibandDecayReverb) and src.ndim == value.ndim == 1:
            index = torch.clamp(torch.arange(value.shape[0]), max=src.shape[0] - 1)
            state[name] = src[index].clone()  # the same octave bands, extra top ones from the top
        elif name.startswith(OUTPUT_LAYER) and src.shape[1:] == value.shape[1:]:
            mapped = value.clone()
            kept += [f"{name} ({block})" for block in
                     _map_output_layer(mapped, src, model, source)]
            state[name] = mapped
        elif src.shape == value.shape and (same_rate or not name.startswith("processor_group")):
            state[name] = src.clone()  # (an impulse response at another rate would not be)
        else:
            kept.append(name)
    model.load_state_dict(state)
    return kept


__all__ = ["init_from"]
