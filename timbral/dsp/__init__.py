"""Pure tensor functions: the bottom layer of timbral (imports nothing above it).

- :mod:`.conversions`: MIDI <-> Hz, decibels, the networks' output scaling;
- :mod:`.resampling`: frame rate <-> sample rate (interpolation taps);
- :mod:`.oscillators`: sinusoid banks, the harmonic kernel, wavetables, delays;
- :mod:`.filters`: FFT convolution, frequency-sampled FIRs, time-varying filters;
- :mod:`.spectral`: STFTs, magnitudes, mel, MFCC, A-weighted loudness.

``timbral.core`` (the first four) and ``timbral.spectral_ops`` keep Magenta's
module names for the same functions.
"""

from .conversions import *  # noqa: F401,F403
from .filters import *  # noqa: F401,F403
from .oscillators import *  # noqa: F401,F403
from .resampling import *  # noqa: F401,F403
from .spectral import *  # noqa: F401,F403
