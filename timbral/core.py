"""Magenta's ``ddsp.core`` names: conversions, resampling, oscillators, filters.

The functions live in :mod:`timbral.dsp` (one module per job); this module
gathers them under the name Magenta's users know. Names and definitions follow
``ddsp.core`` (v3.7); where timbral differs on purpose the function says so.

Conventions: audio is ``[batch, n_samples]``; frame-rate controls are
``[batch, n_frames, channels]``. Frequencies in Hz, phases in radians.
Functions keep the dtype and device of their inputs.
"""

from .dsp.conversions import *  # noqa: F401,F403
from .dsp.filters import *  # noqa: F401,F403
from .dsp.oscillators import *  # noqa: F401,F403
from .dsp.resampling import *  # noqa: F401,F403
