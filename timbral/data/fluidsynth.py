"""libfluidsynth 2.x (Debian's ``libfluidsynth3``), bound with ``ctypes``.

Only the functions the renderer (:mod:`timbral.data.rendering`) calls are bound,
and the library is loaded on first use. Not pyfluidsynth: its 1.4.0 writes only
16-bit samples and cannot set interpolation or generators (renders differ by up to 8e-4).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

FLUIDSYNTH_HINT = ("FluidSynth library (libfluidsynth.so.3) not found; install it: "
                   "apt-get install libfluidsynth3 (see requirements/soundfont-apt.txt)")

#: SoundFont 2.01 generator numbers: delays of the modulation and vibrato LFOs.
GEN_DELAYMODLFO, GEN_DELAYVIBLFO = 21, 23
#: ``FLUID_INTERP_HIGHEST``: 7th-order interpolation.
FLUID_INTERP_HIGHEST = 7


class FluidSynthLibrary:
    """The few libfluidsynth 2.x functions the renderer needs, bound with ctypes."""

    _SIGNATURES = {
        "fluid_version": (None, [ctypes.POINTER(ctypes.c_int)] * 3),
        "fluid_set_log_function": (ctypes.c_void_p, [ctypes.c_int, ctypes.c_void_p,
                                                     ctypes.c_void_p]),
        "new_fluid_settings": (ctypes.c_void_p, []),
        "delete_fluid_settings": (None, [ctypes.c_void_p]),
        "fluid_settings_setnum": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p,
                                                 ctypes.c_double]),
        "fluid_settings_setint": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]),
        "new_fluid_synth": (ctypes.c_void_p, [ctypes.c_void_p]),
        "delete_fluid_synth": (None, [ctypes.c_void_p]),
        "fluid_synth_sfload": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]),
        "fluid_synth_get_sfont_by_id": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_int]),
        "fluid_synth_add_sfont": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
        "fluid_synth_remove_sfont": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
        "fluid_synth_program_select": (ctypes.c_int, [ctypes.c_void_p] + [ctypes.c_int] * 4),
        "fluid_synth_set_interp_method": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int,
                                                         ctypes.c_int]),
        "fluid_synth_set_gen": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                               ctypes.c_float]),
        "fluid_synth_noteon": (ctypes.c_int, [ctypes.c_void_p] + [ctypes.c_int] * 3),
        "fluid_synth_noteoff": (ctypes.c_int, [ctypes.c_void_p] + [ctypes.c_int] * 2),
        "fluid_synth_cc": (ctypes.c_int, [ctypes.c_void_p] + [ctypes.c_int] * 3),
        "fluid_synth_pitch_bend": (ctypes.c_int, [ctypes.c_void_p] + [ctypes.c_int] * 2),
        "fluid_synth_pitch_wheel_sens": (ctypes.c_int, [ctypes.c_void_p] + [ctypes.c_int] * 2),
        "fluid_synth_channel_pressure": (ctypes.c_int, [ctypes.c_void_p] + [ctypes.c_int] * 2),
        "fluid_synth_all_sounds_off": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
        "fluid_synth_write_float": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int,
                                                   ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                                   ctypes.c_void_p, ctypes.c_int, ctypes.c_int]),
    }

    def __init__(self):
        names = [ctypes.util.find_library("fluidsynth"), "libfluidsynth.so.3",
                 "libfluidsynth.so.2", "libfluidsynth.3.dylib", "libfluidsynth-3.dll"]
        self.cdll = None
        for name in names:
            if not name:
                continue
            try:
                self.cdll = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if self.cdll is None:
            raise RuntimeError(FLUIDSYNTH_HINT)
        for name, (restype, argtypes) in self._SIGNATURES.items():
            try:
                fn = getattr(self.cdll, name)
            except AttributeError:
                raise RuntimeError(f"{FLUIDSYNTH_HINT} (the library found lacks {name}; "
                                   f"FluidSynth 2.x is required)") from None
            fn.restype, fn.argtypes = restype, argtypes
            setattr(self, name, fn)
        major, minor, micro = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        self.fluid_version(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(micro))
        self.version = (major.value, minor.value, micro.value)
        if major.value < 2:
            raise RuntimeError(f"FluidSynth {self.version} is too old; 2.x is required "
                               f"(apt-get install libfluidsynth3)")
        for level in range(5):  # FluidSynth's own logging (panic..debug) off: we raise instead
            self.fluid_set_log_function(level, None, None)


@functools.lru_cache(maxsize=1)
def library() -> FluidSynthLibrary:
    """The process-wide loaded library; RuntimeError with the install hint if missing."""
    return FluidSynthLibrary()


def fluidsynth_version() -> str:
    """The loaded libfluidsynth version ("2.3.1"); RuntimeError with a hint if missing."""
    return ".".join(map(str, library().version))


__all__ = ["FLUIDSYNTH_HINT", "FluidSynthLibrary", "fluidsynth_version", "library"]
