"""Magenta's ``ddsp.spectral_ops`` names: STFTs, mel, MFCC and loudness.

The functions live in :mod:`timbral.dsp.spectral`; this module keeps the name
Magenta's users know.
"""

from .dsp.spectral import *  # noqa: F401,F403
