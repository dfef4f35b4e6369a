"""Processors: the building blocks that turn network outputs into audio (layer 2).

- :mod:`.base`: :class:`Processor` (``get_controls`` / ``get_signal``, and the
  stateful ``init_state`` / ``process``), :class:`ProcessorGroup` (a DAG of
  processors declared as data), :class:`Add`, :class:`Crop`;
- :mod:`.synths`: harmonic, filtered-noise, sinusoidal and wavetable synths;
- :mod:`.effects`: reverbs, a time-varying FIR filter, a modulated delay;
- :mod:`.losses`: the multi-scale spectral loss.

``timbral.synths``, ``timbral.effects`` and ``timbral.losses`` keep Magenta's
module names for the same classes.
"""

from . import effects, losses, synths  # noqa: F401  (registers the processor types)
from .base import (PROCESSOR_TYPES, SCALE_FNS, Add, Crop, Node, Processor, ProcessorGroup,
                   TensorDict, at_length, processor_from_config, resolve_scale_fn)

__all__ = ["PROCESSOR_TYPES", "SCALE_FNS", "Add", "Crop", "Node", "Processor", "ProcessorGroup",
           "TensorDict", "at_length", "processor_from_config", "resolve_scale_fn"]
