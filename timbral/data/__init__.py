"""Data preparation: generated performances and SoundFont rendering with exact f0.

``timbral.data.melodies`` writes expressive monophonic phrases (pure numpy);
``timbral.data.soundfont`` plays them with FluidSynth (Debian's libfluidsynth,
loaded on first use) and knows the exact f0 of what it played.
"""

from .melodies import (CONTROL_RATE, INSTRUMENTS, Instrument, Note, Performance,
                       generate_phrase, get_instrument, phrase_for, quantize_performance)
from .soundfont import (F0Frames, FluidSynth, Rendering, find_soundfonts, fluidsynth_version,
                        render_melody, render_performance, resolve_soundfont)

__all__ = ["CONTROL_RATE", "F0Frames", "FluidSynth", "INSTRUMENTS", "Instrument", "Note",
           "Performance", "Rendering", "find_soundfonts", "fluidsynth_version",
           "generate_phrase", "get_instrument", "phrase_for", "quantize_performance",
           "render_melody", "render_performance", "resolve_soundfont"]
