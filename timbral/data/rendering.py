"""Render expressive performances with FluidSynth and real SoundFonts, with exact f0.

The renderer drives Debian's ``libfluidsynth`` (2.x) through
:mod:`timbral.data.fluidsynth` and finds SoundFonts with
:mod:`timbral.data.soundfonts`. Install::

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
  whole cents (:attr:`~timbral.data.ground_truth.Rendering.bend_cents`); a
  FluidSynth computing fractional cents would be off by at most 0.5 cent.
- Gain: FluidSynth's ``synth.gain`` is :data:`DEFAULT_GAIN` (1.0): with volume
  100 and expression 127, a velocity-127 note peaks near 0.5 (0.1-0.15 at
  velocity 64) with the Debian SoundFonts; quieter dynamics stay quieter (no
  per-clip normalisation unless ``normalize`` is given).

Exact f0: by default the renderer also plays each note alone (same velocity,
bend and expression; the synth is deterministic and a voice does not depend on
its neighbours) and measures the sampled instrument's own deviation from the
nominal pitch (:mod:`timbral.data.pitch_deviation`). The result is a
:class:`~timbral.data.ground_truth.Rendering`, which gives f0, voicing and
release tails at any time.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..audio import check_sample_rate, resample_audio
from ..core import midi_to_hz
from .fluidsynth import (FLUID_INTERP_HIGHEST, GEN_DELAYMODLFO, GEN_DELAYVIBLFO,
                         FluidSynthLibrary, library)
from .ground_truth import Rendering
from .melodies import (BLOCK_SIZE, CONTROL_RATE, RENDER_RATE, Instrument, Note, Performance,
                       generate_phrase, get_instrument)
from .pitch_deviation import measure_pitch_deviation
from .soundfonts import resolve_soundfont

#: FluidSynth master gain used for every render (see the module docstring).
DEFAULT_GAIN = 1.0
#: Pitch-bend range set on the channel (semitones) and what FluidSynth makes of it.
BEND_RANGE_SEMITONES = 2
_CENTS_PER_BEND_UNIT = BEND_RANGE_SEMITONES * 100.0 * (127.0 / 128.0) / 8192.0


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
def _new_settings(lib: FluidSynthLibrary, gain: float):
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
        lib = self.lib = library()
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
        lib.fluid_synth_set_interp_method(self._synth, -1, FLUID_INTERP_HIGHEST)

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
        for gen in (GEN_DELAYMODLFO, GEN_DELAYVIBLFO):  # push the preset's LFOs past 18 s
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


__all__ = ["BEND_RANGE_SEMITONES", "DEFAULT_GAIN", "FluidSynth", "bend_to_midi",
           "render_melody", "render_performance"]
