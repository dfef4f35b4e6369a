"""Render expressive performances with FluidSynth and real SoundFonts, with exact f0.

The renderer drives Debian's ``libfluidsynth`` (2.x) directly through ``ctypes``
(no Python binding package: pyfluidsynth 1.4 lacks float output, interpolation
control and generator offsets, which exact rendering needs). Install::

    apt-get install libfluidsynth3 fluid-soundfont-gm   # see requirements/soundfont-apt.txt

How a performance is played (all of it is part of the ground truth):

- FluidSynth runs at 48 kHz (:data:`RENDER_RATE`) and renders 64-sample blocks;
  every event (note-on/off, pitch bend, CC11) is applied at a block boundary of a
  750 Hz grid on which :class:`~timbral.data.melodies.Performance` is defined, so
  note times are exact to the sample. Output is resampled to the requested rate
  with soxr (``timbral.audio.resample_audio``) and is the mean of FluidSynth's
  left and right channels (mono downmix, as ``load_audio`` does for files).
- Reverb and chorus are off; the SoundFont's own LFOs (vibrato and modulation LFO)
  are disabled by pushing their delay beyond 18 s, so vibrato comes only from the
  performance's pitch bend; the mod wheel, channel pressure and sustain pedal stay
  at 0; volume (CC7) is 100 and pan centred. Interpolation is FluidSynth's best
  (7th order), and notes are never lengthened (``synth.min-note-length`` 0).
- Pitch bend range is 2 semitones. FluidSynth 2.3 scales the bend by 127/128 and
  computes pitch in whole cents (truncating), so the renderer plays each bend as
  whole cents: it sends the 14-bit value in the middle of the interval that gives
  that whole number of cents (:func:`bend_to_midi`). The ground truth uses those
  whole cents (:attr:`Rendering.bend_cents`); a FluidSynth computing fractional
  cents would be off by at most 0.5 cent.
- Gain: FluidSynth's ``synth.gain`` is :data:`DEFAULT_GAIN` (1.0): with volume
  100 and expression 127, a velocity-127 note peaks near 0.5 (0.1-0.15 at
  velocity 64) with the Debian SoundFonts; quieter dynamics stay quieter (no
  per-clip normalisation unless ``normalize`` is given).

Exact f0: a note sounds at ``pitch + bend`` (whole cents) from its onset to its
offset (note-off) -- except that sampled instruments are not perfectly steady:
FluidR3's violin and cello samples carry recorded vibrato (about +-20 cents, up
to 40), its flute drifts about 10 cents, and some samples sit a few cents off
their nominal key. By default the renderer therefore measures each note's
*intrinsic* deviation: it renders the note alone (same velocity, bend and
expression; the synth is deterministic and a voice does not depend on its
neighbours), demodulates one harmonic against the known nominal pitch track,
low-pass filters it (Gaussian, -39 dB at min(0.45 f0, 150 Hz), so neighbouring
harmonics are rejected) and keeps the residual frequency as cents per block
(:attr:`Rendering.intrinsic_cents`). Blocks more than 25 dB below the note's
loudest (mostly the first 10-40 ms of an attack, and release tails) take the
nearest reliable value. On synthetic tones the measurement is within 0.2 cent;
on FluidR3's violin it agrees with an independent frame-wise tracker within about
2 cents. Measured deviations 50 ms after onsets (1st..99th percentile, FluidR3):
clarinet -5..+7 cents, trumpet -13..+9, flute, oboe and tenor sax about -12..+19,
violin and cello -39..+33. ``f0_hz_at`` and ``f0_frames`` include it unless
``intrinsic=False`` (only notes and bends: what the MIDI asked for).

Voicing: a frame is *voiced* while a note is held (onset <= t < offset). After
the note-off the sound decays (release, 0.1-0.5 s): those frames are flagged in
``release`` (until the next onset or until the tail is 60 dB below the note's
peak) and are unvoiced (f0 = 0) unless ``include_release=True``; benchmarks
should leave them out of voicing scores. Everything else is silence (f0 = 0).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..audio import check_sample_rate, resample_audio
from ..core import midi_to_hz
from .melodies import (BLOCK_SIZE, CONTROL_RATE, INSTRUMENTS, RENDER_RATE, Instrument,
                       Note, Performance, generate_phrase, get_instrument)

#: FluidSynth master gain used for every render (see the module docstring).
DEFAULT_GAIN = 1.0
#: Pitch-bend range set on the channel (semitones) and what FluidSynth makes of it.
BEND_RANGE_SEMITONES = 2
_CENTS_PER_BEND_UNIT = BEND_RANGE_SEMITONES * 100.0 * (127.0 / 128.0) / 8192.0

#: Where SoundFonts are looked for (after the folders in $TIMBRAL_SOUNDFONT_PATH).
SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts",
                  "/usr/local/share/soundfonts", "~/.local/share/soundfonts")
#: Preferred default SoundFonts, best first.
PREFERRED_SOUNDFONTS = ("FluidR3_GM", "MuseScore_General_Full", "MuseScore_General",
                        "TimGM6mb")
SOUNDFONT_HINT = ("install one: apt-get install fluid-soundfont-gm (see "
                  "requirements/soundfont-apt.txt), or put .sf2/.sf3 files in a folder named "
                  "by $TIMBRAL_SOUNDFONT_PATH")
FLUIDSYNTH_HINT = ("FluidSynth library (libfluidsynth.so.3) not found; install it: "
                   "apt-get install libfluidsynth3 (see requirements/soundfont-apt.txt)")

# SoundFont 2.01 generator numbers used here.
_GEN_DELAYMODLFO, _GEN_DELAYVIBLFO = 21, 23
_FLUID_INTERP_HIGHEST = 7


# The FluidSynth library ----------------------------------------------------------
class _FluidSynthLibrary:
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
def _library() -> _FluidSynthLibrary:
    return _FluidSynthLibrary()


def fluidsynth_version() -> str:
    """The loaded libfluidsynth version ("2.3.1"); RuntimeError with a hint if missing."""
    return ".".join(map(str, _library().version))


# SoundFonts -------------------------------------------------------------------------
def _search_dirs(search_path) -> List[Path]:
    if search_path is not None:
        dirs = [search_path] if isinstance(search_path, (str, os.PathLike)) else list(search_path)
    else:
        env = os.environ.get("TIMBRAL_SOUNDFONT_PATH", "")
        dirs = [d for d in env.split(os.pathsep) if d] + list(SOUNDFONT_DIRS)
    return [Path(d).expanduser() for d in dirs]


def find_soundfonts(search_path=None) -> Dict[str, Path]:
    """Installed SoundFonts (.sf2/.sf3) by name (the file's stem), preferred first.

    Looks in ``$TIMBRAL_SOUNDFONT_PATH`` (folders separated by ``os.pathsep``),
    then :data:`SOUNDFONT_DIRS`; or only in ``search_path`` (a folder or a list
    of folders) when given. Symlinks (e.g. Debian's ``default-GM.sf2``) are
    resolved and listed once under the real file's name.

    Raises FileNotFoundError (with what to install) when none is found.
    """
    dirs = _search_dirs(search_path)
    found: Dict[str, Path] = {}
    seen = set()
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in (".sf2", ".sf3") or not path.is_file():
                continue
            real = path.resolve()
            if real in seen or real.stat().st_size == 0:
                continue
            seen.add(real)
            found.setdefault(real.stem, real)
    if not found:
        where = ", ".join(str(d) for d in dirs)
        raise FileNotFoundError(f"no SoundFont (.sf2/.sf3) found in {where}; {SOUNDFONT_HINT}")
    order = {name: i for i, name in enumerate(PREFERRED_SOUNDFONTS)}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def resolve_soundfont(soundfont=None, search_path=None) -> Path:
    """A SoundFont file from a path, a name from :func:`find_soundfonts`, or None.

    None picks the preferred installed SoundFont (FluidR3_GM, then MuseScore
    General, then TimGM6mb, then any). A name matches case-insensitively, by
    stem ("FluidR3_GM", "FluidR3_GM.sf2") or prefix ("fluidr3", "musescore",
    "timgm"; the preferred one when several share it).
    Raises FileNotFoundError (one line, with what to install).
    """
    key = None
    if soundfont is not None:
        text = os.fspath(soundfont)
        path = Path(text).expanduser()
        if path.is_file():
            return path.resolve()
        if os.sep in text or isinstance(soundfont, Path):
            raise FileNotFoundError(f"SoundFont {path}: no such file; {SOUNDFONT_HINT}")
        key = (path.stem if path.suffix.lower() in (".sf2", ".sf3") else text).lower()
    fonts = find_soundfonts(search_path)
    if key is None:
        return next(iter(fonts.values()))
    exact = [p for name, p in fonts.items() if name.lower() == key]
    prefix = [p for name, p in fonts.items() if name.lower().startswith(key)]
    if exact or prefix:
        return (exact or prefix)[0]  # a prefix shared by several: the preferred one
    raise FileNotFoundError(f"SoundFont {soundfont!r}: not installed (have {list(fonts)}); "
                            f"{SOUNDFONT_HINT}")


# Pitch bend ------------------------------------------------------------------------
def bend_to_midi(cents) -> Tuple[np.ndarray, np.ndarray]:
    """Requested bends (cents) -> (14-bit MIDI pitch-bend values, sounding whole cents).

    Each bend is rounded to whole cents ``c``; the MIDI value is the middle of
    the range FluidSynth maps to ``c`` (it applies 127/128 of the 2-semitone
    range and truncates to whole cents).
    """
    whole = np.round(np.asarray(cents, dtype=np.float64)).astype(np.int64)
    values = 8192 + np.round((whole + 0.5) / _CENTS_PER_BEND_UNIT).astype(np.int64)
    values = np.clip(values, 0, 16383)
    sounding = np.floor((values - 8192) * _CENTS_PER_BEND_UNIT + 1e-9).astype(np.int64)
    return values, sounding


# The synthesiser ---------------------------------------------------------------------
def _new_settings(lib: _FluidSynthLibrary, gain: float):
    settings = lib.new_fluid_settings()
    for key, value in (("synth.sample-rate", float(RENDER_RATE)), ("synth.gain", float(gain))):
        lib.fluid_settings_setnum(settings, key.encode(), value)
    for key, value in (("synth.reverb.active", 0), ("synth.chorus.active", 0),
                       ("synth.cpu-cores", 1), ("synth.threadsafe-api", 0),
                       ("synth.lock-memory", 0), ("synth.min-note-length", 0),
                       ("synth.audio-channels", 1), ("synth.dynamic-sample-loading", 0)):
        lib.fluid_settings_setint(settings, key.encode(), value)
    return settings


class _LoadedSoundFont:
    """A SoundFont loaded once (by a synth that owns it) and shared by render sessions."""

    def __init__(self, path: Path):
        lib = self.lib = _library()
        self.path = path
        self.lock = threading.Lock()
        self._settings = _new_settings(lib, DEFAULT_GAIN)
        self._owner = lib.new_fluid_synth(self._settings)
        if not self._owner:
            lib.delete_fluid_settings(self._settings)
            raise RuntimeError("FluidSynth could not create a synthesiser")
        sfont_id = lib.fluid_synth_sfload(self._owner, os.fsencode(str(path)), 0)
        self.sfont = lib.fluid_synth_get_sfont_by_id(self._owner, sfont_id) if sfont_id >= 0 \
            else None
        if not self.sfont:
            self.close()
            raise ValueError(f"SoundFont {path}: FluidSynth cannot load it (not a valid "
                             f".sf2/.sf3 file?)")

    def close(self) -> None:
        owner, self._owner = getattr(self, "_owner", None), None
        settings, self._settings = getattr(self, "_settings", None), None
        if owner:
            self.lib.delete_fluid_synth(owner)  # frees the SoundFont too
        if settings:
            self.lib.delete_fluid_settings(settings)

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


@functools.lru_cache(maxsize=4)
def _loaded(path: Path) -> _LoadedSoundFont:
    return _LoadedSoundFont(path)


class FluidSynth:
    """A fresh FluidSynth (48 kHz) playing a cached, shared SoundFont.

    Creating one costs under a millisecond: the SoundFont itself is loaded
    once per process (MuseScore's .sf3 takes ~3 s to decode, FluidR3 ~0.1 s).
    A fresh synthesiser per performance keeps renders bit-identical: FluidSynth
    carries a little state from one render to the next (the first attack after
    creation differs by ~1e-3), so :func:`render_performance` always starts
    from a new one. Use as a context manager (or call :meth:`close`).
    """

    def __init__(self, soundfont=None, gain: float = DEFAULT_GAIN):
        self.path = resolve_soundfont(soundfont)
        self._font = _loaded(self.path)
        lib = self._lib = self._font.lib
        self.gain = float(gain)
        self.lock = self._font.lock
        self._settings = _new_settings(lib, self.gain)
        self._synth = lib.new_fluid_synth(self._settings)
        if not self._synth:
            lib.delete_fluid_settings(self._settings)
            self._settings = None
            raise RuntimeError("FluidSynth could not create a synthesiser")
        self._sfont_id = lib.fluid_synth_add_sfont(self._synth, self._font.sfont)
        if self._sfont_id < 0:
            self.close()
            raise RuntimeError(f"FluidSynth could not use the SoundFont {self.path}")
        lib.fluid_synth_set_interp_method(self._synth, -1, _FLUID_INTERP_HIGHEST)

    def close(self) -> None:
        synth, self._synth = getattr(self, "_synth", None), None
        settings, self._settings = getattr(self, "_settings", None), None
        if synth:
            if getattr(self, "_sfont_id", -1) >= 0:  # the SoundFont belongs to the cache
                self._lib.fluid_synth_remove_sfont(synth, self._font.sfont)
            self._lib.delete_fluid_synth(synth)
        if settings:
            self._lib.delete_fluid_settings(settings)

    def __enter__(self) -> "FluidSynth":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def _prepare(self, program: int, bend_value: int, expression: int) -> None:
        lib, syn = self._lib, self._synth
        if syn is None:
            raise RuntimeError("FluidSynth: this synthesiser was closed")
        lib.fluid_synth_all_sounds_off(syn, -1)
        if lib.fluid_synth_program_select(syn, 0, self._sfont_id, 0, int(program)) != 0:
            raise ValueError(f"SoundFont {self.path.name}: no preset for General MIDI program "
                             f"{program} (bank 0)")
        lib.fluid_synth_pitch_wheel_sens(syn, 0, BEND_RANGE_SEMITONES)
        for gen in (_GEN_DELAYMODLFO, _GEN_DELAYVIBLFO):  # push the preset's LFOs past 18 s
            lib.fluid_synth_set_gen(syn, 0, gen, 12000.0)
        for cc, value in ((1, 0), (7, 100), (10, 64), (64, 0), (91, 0), (93, 0),
                          (11, int(expression))):
            lib.fluid_synth_cc(syn, 0, cc, value)
        lib.fluid_synth_channel_pressure(syn, 0, 0)
        lib.fluid_synth_pitch_bend(syn, 0, int(bend_value))

    def render(self, program: int, notes: Sequence[Note], bend_values: np.ndarray,
               expression: np.ndarray, start: int = 0, stop: Optional[int] = None) -> np.ndarray:
        """Render blocks ``start..stop`` of a performance; mono float32 at 48 kHz.

        ``bend_values`` (14-bit) and ``expression`` (CC11) hold one value per
        750 Hz block; notes are played when their onset/offset block is in range.
        """
        lib, syn = self._lib, self._synth
        stop = len(bend_values) if stop is None else stop
        n_blocks = stop - start
        ons, offs = {}, {}
        for note in notes:
            on, off = int(round(note.onset * CONTROL_RATE)), int(round(note.offset * CONTROL_RATE))
            if start <= on < stop:
                ons.setdefault(on, []).append(note)
            if start <= off < stop:
                offs.setdefault(off, []).append(note)
        bend = np.asarray(bend_values[start:stop], dtype=np.int64)
        expr = np.asarray(expression[start:stop], dtype=np.int64)
        changes = np.flatnonzero((np.diff(bend) != 0) | (np.diff(expr) != 0)) + 1 + start
        cuts = sorted(set(changes.tolist()) | set(ons) | set(offs) | {start, stop})
        left = np.zeros(n_blocks * BLOCK_SIZE, dtype=np.float32)
        right = np.zeros_like(left)
        self._prepare(program, int(bend[0]), int(expr[0]))
        lp, rp = left.ctypes.data, right.ctypes.data
        last_bend, last_expr = int(bend[0]), int(expr[0])
        for a, b in zip(cuts[:-1], cuts[1:]):
            for note in offs.get(a, ()):
                lib.fluid_synth_noteoff(syn, 0, note.pitch)
            if bend[a - start] != last_bend:
                last_bend = int(bend[a - start])
                lib.fluid_synth_pitch_bend(syn, 0, last_bend)
            if expr[a - start] != last_expr:
                last_expr = int(expr[a - start])
                lib.fluid_synth_cc(syn, 0, 11, last_expr)
            for note in ons.get(a, ()):
                lib.fluid_synth_noteon(syn, 0, note.pitch, note.velocity)
            n = (b - a) * BLOCK_SIZE
            offset = (a - start) * BLOCK_SIZE
            if lib.fluid_synth_write_float(syn, n, lp, offset, 1, rp, offset, 1) != 0:
                raise RuntimeError("FluidSynth: rendering failed")
        lib.fluid_synth_all_sounds_off(syn, -1)
        return 0.5 * (left + right)


# Measuring a note's intrinsic pitch ----------------------------------------------------
def _fast_fft_size(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (fast FFT sizes)."""
    best = 1 << max(0, int(n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            size = p35 * (1 << max(0, int(-(-n // p35) - 1).bit_length()))
            best = min(best, size)
            p35 *= 3
        p5 *= 5
    return best


def measure_pitch_deviation(audio: np.ndarray, nominal_hz: np.ndarray,
                            sample_rate: int = RENDER_RATE, block_size: int = BLOCK_SIZE,
                            floor_db: float = -25.0) -> Tuple[np.ndarray, np.ndarray]:
    """Deviation (cents) of one isolated note from a known nominal pitch, per block.

    ``audio`` holds the note alone; ``nominal_hz`` gives the expected f0 for
    each block of ``block_size`` samples (the note's key plus the bend it was
    played with). One harmonic (the lowest within 6 dB of the strongest of the
    first eight) is demodulated with the phase of the nominal pitch track,
    low-pass filtered (zero-phase Gaussian, -39 dB at min(0.45 f0, 150 Hz), so
    other harmonics are rejected) and its phase derivative, weighted by
    energy, gives the residual frequency per block (0.2 cent on synthetic
    tones).

    Returns ``(cents [n_blocks] float64, reliable [n_blocks] bool)``; blocks
    quieter than ``floor_db`` below the loudest carry the nearest reliable value.
    """
    nominal = np.asarray(nominal_hz, dtype=np.float64)
    n_blocks = len(nominal)
    n = n_blocks * block_size
    x = np.zeros(n)
    x[:min(n, len(audio))] = np.asarray(audio, dtype=np.float64)[:n]
    fn = np.repeat(nominal, block_size)
    # Harmonic choice from the spectrum of the whole note, at the median pitch.
    f_med = float(np.median(nominal))
    size = _fast_fft_size(n)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(n), size))
    freqs = np.fft.rfftfreq(size, 1.0 / sample_rate)
    amps = []
    for k in range(1, 9):
        if k * f_med * 1.02 >= 0.45 * sample_rate:
            break
        band = (freqs >= k * f_med * 0.98) & (freqs <= k * f_med * 1.02)
        amps.append(spectrum[band].max() if band.any() else 0.0)
    amps = np.asarray(amps)
    h = int(np.flatnonzero(amps >= 0.5 * amps.max())[0]) + 1 if amps.max() > 0 else 1
    bandwidth = min(0.45 * float(nominal.min()), 150.0)
    # Demodulate against the nominal phase, then a zero-phase low-pass in the FFT domain.
    phase = 2.0 * np.pi * h * np.cumsum(fn) / sample_rate
    pad = int(0.05 * sample_rate)
    z = np.zeros(_fast_fft_size(n + 2 * pad), dtype=np.complex128)
    z[pad:pad + n] = x * np.exp(-1j * phase)
    f = np.fft.fftfreq(len(z), 1.0 / sample_rate)
    sigma = bandwidth / 3.0  # Gaussian: -39 dB at the bandwidth, compact in time
    z = np.fft.ifft(np.fft.fft(z) * np.exp(-0.5 * (f / sigma) ** 2))[pad:pad + n]
    dev_hz = np.angle(z[1:] * np.conj(z[:-1])) * sample_rate / (2.0 * np.pi)
    dev_hz = np.append(dev_hz, dev_hz[-1])
    w = (np.abs(z) ** 2).reshape(n_blocks, block_size)
    energy = w.sum(axis=1)
    dev_block = (w * dev_hz.reshape(n_blocks, block_size)).sum(axis=1) / np.maximum(energy, 1e-300)
    cents = 1200.0 * np.log2(np.maximum(1.0 + dev_block / (h * nominal), 1e-6))
    level = 10.0 * np.log10(np.maximum(energy, 1e-300) / max(energy.max(), 1e-300))
    reliable = level >= floor_db
    if reliable.any() and not reliable.all():
        idx = np.flatnonzero(reliable)
        nearest = idx[np.clip(np.searchsorted(idx, np.arange(n_blocks)), 0, len(idx) - 1)]
        before = idx[np.clip(np.searchsorted(idx, np.arange(n_blocks)) - 1, 0, len(idx) - 1)]
        pick = np.where(np.abs(before - np.arange(n_blocks)) <= np.abs(nearest -
                                                                        np.arange(n_blocks)),
                        before, nearest)
        cents = cents[pick]
    elif not reliable.any():
        cents = np.zeros(n_blocks)
    return np.clip(cents, -100.0, 100.0), reliable


# Results ---------------------------------------------------------------------------------
class F0Frames(NamedTuple):
    """Ground truth at frame times: ``times`` (s), ``f0_hz`` (0 = unvoiced),
    ``voiced`` (a note is held) and ``release`` (a note's release tail rings)."""

    times: np.ndarray
    f0_hz: np.ndarray
    voiced: np.ndarray
    release: np.ndarray


@dataclass(eq=False)
class Rendering:
    """A rendered performance and its exact ground truth.

    Attributes:
      audio: ``[n_samples]`` float32 mono at ``sample_rate`` (mean of FluidSynth's
        left and right channels, gain :data:`DEFAULT_GAIN`, or peak-normalised
        to ``normalize`` when asked).
      sample_rate: Hz.
      notes: the notes played (onset s, offset s, MIDI key, velocity), exact.
      performance: the full performance (with the requested bend and CC11).
      bend_cents: ``[n_blocks]`` int, the pitch bend that sounded, in cents,
        per 750 Hz block (block ``k`` covers ``[k, k+1) / 750`` s).
      intrinsic_cents: ``[n_blocks]`` float, the measured deviation of the
        sampled instrument from its nominal pitch (0 outside notes), or None.
      release_ends: per note, when its release tail has died away (60 dB below
        the note's peak) or the next note starts, in s.
      soundfont, program, instrument, seed, gain: how it was made.
    """

    audio: np.ndarray
    sample_rate: int
    notes: Tuple[Note, ...]
    performance: Performance
    bend_cents: np.ndarray
    intrinsic_cents: Optional[np.ndarray]
    release_ends: Tuple[float, ...]
    soundfont: Path
    program: int
    gain: float
    instrument: Optional[str] = None
    seed: Optional[int] = None

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    def _lookup(self, times) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        t = np.asarray(times, dtype=np.float64)
        onsets = np.array([n.onset for n in self.notes])
        offsets = np.array([n.offset for n in self.notes])
        ends = np.array(self.release_ends)
        idx = np.searchsorted(onsets, t + 1e-9, side="right") - 1
        has = (idx >= 0) & (t >= 0) & (t < self.duration)
        safe = np.clip(idx, 0, max(len(onsets) - 1, 0))
        if len(onsets) == 0:
            false = np.zeros(t.shape, bool)
            return t, safe, false, false
        voiced = has & (t < offsets[safe] - 1e-9)
        release = has & ~voiced & (t < ends[safe] - 1e-9)
        return t, safe, voiced, release

    def _f0(self, t, idx, mask, intrinsic: bool) -> np.ndarray:
        if not self.notes:
            return np.zeros(t.shape)
        block = np.clip(np.floor(t * CONTROL_RATE + 1e-9).astype(np.int64), 0,
                        len(self.bend_cents) - 1)
        cents = self.bend_cents[block].astype(np.float64)
        if intrinsic and self.intrinsic_cents is not None:
            centres = (np.arange(len(self.intrinsic_cents)) + 0.5) / CONTROL_RATE
            cents = cents + np.interp(t, centres, self.intrinsic_cents)
        pitch = np.array([n.pitch for n in self.notes], dtype=np.float64)[idx] + cents / 100.0
        hz = midi_to_hz(torch.from_numpy(pitch)).numpy()
        return np.where(mask, hz, 0.0)

    def voiced_at(self, times) -> np.ndarray:
        """True where a note is held (onset <= t < offset)."""
        return self._lookup(times)[2]

    def release_at(self, times) -> np.ndarray:
        """True in a release tail (after a note-off, before it dies away or the next onset)."""
        return self._lookup(times)[3]

    def f0_hz_at(self, times, intrinsic: bool = True, include_release: bool = False) -> np.ndarray:
        """Exact f0 (Hz, float64) at ``times`` (s); 0 where no note is held.

        f0 = midi_to_hz(key + (bend + intrinsic deviation) / 100). With
        ``intrinsic=False`` only the notes and bends count (what the MIDI asked
        for); ``include_release`` also gives the pitch of release tails.
        """
        t, idx, voiced, release = self._lookup(times)
        return self._f0(t, idx, voiced | release if include_release else voiced, intrinsic)

    def f0_frames(self, frame_rate: float = 250.0, n_frames: Optional[int] = None,
                  intrinsic: bool = True, include_release: bool = False) -> F0Frames:
        """Ground truth per frame, frame ``i`` at ``i / frame_rate`` s.

        The default ``n_frames`` is ``floor(duration * frame_rate) + 1``, the
        count of centred analysis frames (1001 for 4 s at 250 Hz, like
        ``compute_loudness``). Returns :class:`F0Frames` (times, f0_hz, voiced,
        release).
        """
        if not (math.isfinite(frame_rate) and frame_rate > 0):
            raise ValueError(f"frame_rate: expected a positive number, got {frame_rate}")
        if n_frames is None:
            n_frames = int(math.floor(self.duration * frame_rate + 1e-9)) + 1
        times = np.arange(int(n_frames)) / float(frame_rate)
        t, idx, voiced, release = self._lookup(times)
        f0 = self._f0(t, idx, voiced | release if include_release else voiced, intrinsic)
        return F0Frames(times, f0, voiced, release)


# Rendering ----------------------------------------------------------------------------
def _release_ends(mono48: np.ndarray, notes: Sequence[Note], n_blocks: int,
                  floor_db: float = -60.0) -> Tuple[float, ...]:
    """When each note's tail falls ``floor_db`` below the note's peak block (or the next onset)."""
    blocks = mono48[:n_blocks * BLOCK_SIZE].reshape(n_blocks, BLOCK_SIZE).astype(np.float64)
    rms = np.sqrt((blocks ** 2).mean(axis=1))
    ends = []
    for i, note in enumerate(notes):
        a, b = round(note.onset * CONTROL_RATE), round(note.offset * CONTROL_RATE)
        limit = round(notes[i + 1].onset * CONTROL_RATE) if i + 1 < len(notes) else n_blocks
        peak = rms[a:b].max() if b > a else 0.0
        tail = rms[b:limit]
        quiet = np.flatnonzero(tail < peak * 10.0 ** (floor_db / 20.0))
        ends.append((b + (int(quiet[0]) if len(quiet) else len(tail))) / CONTROL_RATE)
    return tuple(ends)


def render_performance(performance: Performance, soundfont=None, program: int = 40,
                       sample_rate: int = 16000, *, measure_intrinsic: bool = True,
                       normalize: Optional[float] = None, gain: float = DEFAULT_GAIN,
                       instrument: Optional[str] = None,
                       seed: Optional[int] = None) -> Rendering:
    """Play a :class:`Performance` on a SoundFont preset and return a :class:`Rendering`.

    Args:
      performance: notes, pitch bend and expression on the 750 Hz grid.
      soundfont: path, installed name (see :func:`find_soundfonts`) or None
        (preferred installed SoundFont).
      program: 0-based General MIDI program (bank 0).
      sample_rate: output rate; FluidSynth renders at 48 kHz and soxr resamples.
      measure_intrinsic: also render each note alone and measure its intrinsic
        pitch deviation (see the module docstring); about doubles the time.
      normalize: peak-normalise the audio to this value (e.g. 0.9); default
        None keeps the fixed gain, so dynamics compare across renders.
      gain: FluidSynth master gain.
      instrument, seed: recorded in the result.

    Each call plays on a fresh :class:`FluidSynth` (the SoundFont stays loaded),
    so the same performance always gives the same samples.

    Raises FileNotFoundError when no SoundFont is installed or the file is
    missing, RuntimeError (with the install hint) without libfluidsynth,
    ValueError for a bad performance or a program the SoundFont lacks.
    """
    if not isinstance(performance, Performance):
        raise ValueError(f"performance: expected a Performance, got {type(performance).__name__}")
    performance.validate()
    sample_rate = check_sample_rate(sample_rate)
    if isinstance(program, bool) or not isinstance(program, (int, np.integer)) \
            or not 0 <= program <= 127:
        raise ValueError(f"program: expected a General MIDI program 0..127, got {program!r}")
    if normalize is not None and not (0 < normalize <= 1):
        raise ValueError(f"normalize: expected a peak level in (0, 1], got {normalize}")
    notes = performance.notes
    bend_values, sounding = bend_to_midi(performance.bend_cents)
    expression = np.asarray(performance.expression, dtype=np.int64)
    n_blocks = performance.n_steps
    intrinsic = None
    with FluidSynth(soundfont, gain) as synth, synth.lock:
        mono = synth.render(program, notes, bend_values, expression)
        ends = _release_ends(mono, notes, n_blocks)
        if measure_intrinsic:
            intrinsic = np.zeros(n_blocks)
            for note, end in zip(notes, ends):
                a = int(round(note.onset * CONTROL_RATE))
                b = max(int(round(end * CONTROL_RATE)), a + 1)
                alone = synth.render(program, [note], bend_values, expression, a, b)
                nominal = midi_to_hz(torch.from_numpy(
                    note.pitch + sounding[a:b] / 100.0)).numpy()
                intrinsic[a:b], _ = measure_pitch_deviation(alone, nominal)
    audio = resample_audio(mono, RENDER_RATE, sample_rate)
    n_out = int(round(n_blocks * sample_rate / CONTROL_RATE))
    audio = np.pad(audio, (0, max(0, n_out - len(audio))))[:n_out].astype(np.float32)
    if normalize is not None:
        peak = float(np.abs(audio).max())
        if peak > 0:
            audio = (audio * (normalize / peak)).astype(np.float32)
    return Rendering(audio=audio, sample_rate=sample_rate, notes=notes, performance=performance,
                     bend_cents=sounding, intrinsic_cents=intrinsic, release_ends=ends,
                     soundfont=synth.path, program=int(program), gain=synth.gain,
                     instrument=instrument, seed=seed)


def render_melody(instrument: Union[str, Instrument], seconds: float = 4.0, seed: int = 0,
                  soundfont=None, sample_rate: int = 16000, **kwargs) -> Rendering:
    """A generated phrase for an instrument of :data:`INSTRUMENTS`, rendered.

    ``seed`` fixes the phrase (and so the audio: rendering is deterministic).
    Keyword arguments go to :func:`~timbral.data.melodies.generate_phrase`
    (tempo_bpm, legato, vibrato_depth_cents, ...) or to
    :func:`render_performance` (measure_intrinsic, normalize, gain).
    """
    inst = instrument if isinstance(instrument, Instrument) else get_instrument(instrument)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed: expected an integer, got {seed!r}")
    render_keys = {"measure_intrinsic", "normalize", "gain"}
    render_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in render_keys}
    performance = generate_phrase(np.random.default_rng(int(seed)), inst.low, inst.high,
                                  seconds, **kwargs)
    return render_performance(performance, soundfont, inst.program, sample_rate,
                              instrument=inst.name, seed=int(seed), **render_kwargs)


__all__ = ["DEFAULT_GAIN", "F0Frames", "FluidSynth", "INSTRUMENTS", "Rendering",
           "bend_to_midi", "find_soundfonts", "fluidsynth_version",
           "measure_pitch_deviation", "render_melody", "render_performance",
           "resolve_soundfont"]
