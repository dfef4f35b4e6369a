"""Data preparation: generated performances and SoundFont rendering with exact f0.

``timbral.data.melodies`` writes expressive monophonic phrases (pure numpy);
``timbral.data.rendering`` plays them with FluidSynth (Debian's libfluidsynth,
bound in ``timbral.data.fluidsynth`` and loaded on first use) on SoundFonts found
by ``timbral.data.soundfonts``, and returns a ``Rendering``
(``timbral.data.ground_truth``) that knows the exact f0 of what it played.
"""

from .fluidsynth import fluidsynth_version
from .ground_truth import F0Frames, Rendering
from .melodies import (CONTROL_RATE, INSTRUMENTS, Instrument, Note, Performance,
                       generate_phrase, get_instrument, phrase_for, quantize_performance)
from .rendering import FluidSynth, render_melody, render_performance
from .soundfonts import find_soundfonts, resolve_soundfont

__all__ = ["CONTROL_RATE", "F0Frames", "FluidSynth", "INSTRUMENTS", "Instrument", "Note",
           "Performance", "Rendering", "find_soundfonts", "fluidsynth_version",
           "generate_phrase", "get_instrument", "phrase_for", "quantize_performance",
           "render_melody", "render_performance", "resolve_soundfont"]
