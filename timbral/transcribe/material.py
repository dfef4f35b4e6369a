"""Polyphonic material with known notes: generated chord progressions rendered with FluidSynth.

What the transcriber is measured on (``benchmarks/transcribe.py``, the tests):
:func:`generate_progression` writes a chord progression for 2-4 voices and
:func:`render_notes` plays it on a SoundFont preset through
:class:`timbral.data.FluidSynth` (48 kHz, every event on its 750 Hz block grid,
no reverb or chorus, no pitch bend), so every note's onset, offset and pitch
is known exactly.

A progression: a random major or minor key and tempo; diatonic triads and
seventh chords chosen by a table of common successions (I -> IV, V, vi, ...);
the bass on the chord's root (sometimes its third), the upper voices moving
to the nearest chord tones (voice leading) with no two voices on one key;
each chord struck together, broken upwards (an arpeggio, one voice every
eighth of a beat) or with a passing melody note in the top voice; detached or
held to the next chord; velocities following a phrase arc; and rests long
enough for the instrument's release to die away (the silences the transfer
must leave silent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np

from ..audio import resample_audio
from ..data import CONTROL_RATE, FluidSynth, Note
from ..data.melodies import RENDER_RATE


@dataclass(frozen=True)
class PolyInstrument:
    """A General MIDI instrument for polyphonic material: 0-based program and the
    MIDI range its voices use."""

    name: str
    program: int
    low: int
    high: int


#: The instruments the transcriber is measured on.
POLY_INSTRUMENTS: Dict[str, PolyInstrument] = {
    i.name: i for i in (
        PolyInstrument("piano", 0, 36, 84),     # Acoustic Grand Piano, C2 .. C6
        PolyInstrument("guitar", 24, 40, 76),   # Acoustic Guitar (nylon), E2 .. E5
        PolyInstrument("violin", 40, 55, 88),   # Violin, G3 .. E6
        PolyInstrument("strings", 48, 43, 84),  # String Ensemble 1, G2 .. C6 (slow attack)
    )
}

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 11)  # harmonic minor: a major dominant
#: Scale degree (0-based) -> the degrees that commonly follow it.
_NEXT = {0: (3, 4, 5, 1, 2), 1: (4, 6), 2: (5, 3), 3: (4, 0, 1), 4: (0, 5), 5: (1, 3, 4),
         6: (0,)}
#: Silence before the first note and after the last release (s).
LEAD_IN, TAIL = 0.3, 1.0


def _snap(seconds: float) -> float:
    return round(seconds * CONTROL_RATE) / CONTROL_RATE


def _chord(scale, tonic: int, degree: int, seventh: bool) -> List[int]:
    """Pitch classes of the diatonic chord on ``degree`` (root first)."""
    steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
    return [(tonic + scale[(degree + s) % 7]) % 12 for s in steps]


def _nearest(pitch_class: int, target: float, low: int, high: int) -> int:
    """The key of ``pitch_class`` nearest ``target`` within ``[low, high]``."""
    keys = np.arange(low, high + 1)
    keys = keys[keys % 12 == pitch_class]
    return int(keys[np.argmin(np.abs(keys - target))])


def _voicing(chord: Sequence[int], previous: List[int], low: int, high: int,
             rng: np.random.Generator) -> List[int]:
    """Keys (low to high) for ``len(previous)`` voices: the bass on the root (or
    the third), the others on the nearest chord tones, no key twice."""
    bass_pc = chord[1] if rng.random() < 0.2 else chord[0]
    bass = _nearest(bass_pc, previous[0], low, min(high, low + 19))
    keys = [bass]
    for target in sorted(previous[1:], reverse=True):
        used = {k % 12 for k in keys}
        # the third, then the root and fifth, before doubling anything
        wanted = [pc for pc in chord if pc not in used] or list(chord)
        candidates = [_nearest(pc, target, bass + 3, high) for pc in wanted]
        candidates = [k for k in candidates if k not in keys] or \
                     [k for k in range(bass + 3, high + 1) if k % 12 in chord and k not in keys]
        keys.append(min(candidates, key=lambda k: abs(k - target)))
    return sorted(keys)


def generate_progression(rng, voices: int, seconds: float, low: int, high: int) -> List[Note]:
    """A chord progression for ``voices`` (2-4) voices in ``[low, high]``, about
    ``seconds`` long (the last chord ends by ``seconds - TAIL``); notes sorted by
    onset, times on the 750 Hz grid (see the module doc)."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(int(rng))
    if not 2 <= voices <= 4:
        raise ValueError(f"voices: expected 2 to 4, got {voices!r}")
    if high - low < 24:
        raise ValueError(f"range {low}..{high}: expected at least two octaves")
    scale = _MAJOR if rng.random() < 0.6 else _MINOR
    tonic = int(rng.integers(0, 12))
    beat = 60.0 / rng.uniform(70, 120)
    span = high - low
    previous = sorted(low + span * rng.uniform(0.1, 0.9, voices))
    degree, t, notes = 0, LEAD_IN, []
    end = seconds - TAIL
    phrase_start = t
    while True:
        beats = float(rng.choice([1, 2, 2, 3, 4]))
        length = beats * beat
        if t + length > end:
            break
        chord = _chord(scale, tonic, degree, seventh=rng.random() < 0.25)
        keys = _voicing(chord, list(previous), low, high, rng)
        arc = np.sin(np.pi * min(1.0, (t - phrase_start) / 8.0))  # swells over 8 s
        level = 55 + 40 * arc + rng.normal(0, 6)
        style = rng.choice(["block", "broken", "melody"], p=[0.55, 0.25, 0.2])
        held = rng.random() < 0.4
        stop = t + length * (1.0 if held else rng.uniform(0.6, 0.9))
        for v, key in enumerate(keys):
            onset = t + (v * beat / 8 if style == "broken" else 0.0)
            velocity = int(np.clip(level + rng.normal(0, 5), 20, 120))
            top = v == len(keys) - 1
            if style == "melody" and top and beats >= 2:
                half = t + length / 2
                step = int(rng.choice([-2, -1, 1, 2]))
                passing = int(np.clip(key + step, keys[-2] + 1 if len(keys) > 1 else low, high))
                notes.append(Note(_snap(onset), _snap(half), key, velocity))
                notes.append(Note(_snap(half), _snap(stop), passing, velocity))
            else:
                notes.append(Note(_snap(onset), _snap(stop), key, velocity))
        previous = keys
        t += length
        if rng.random() < 0.2 and t + 1.5 * beat < end:  # a rest: the release dies away
            t += max(1.0, 2 * beat)
            phrase_start = t
        degree = int(rng.choice(_NEXT[degree]))
    return sorted(notes, key=lambda n: (n.onset, n.pitch))


def render_notes(notes: Sequence[Note], program: int, seconds: float,
                 sample_rate: int = 16000, soundfont=None) -> np.ndarray:
    """Play ``notes`` (times on the 750 Hz grid, any number at once, no key
    sounding twice at a time) on a General MIDI ``program`` with FluidSynth;
    mono float32 ``[round(seconds * sample_rate)]`` at ``sample_rate``."""
    n_blocks = int(round(seconds * CONTROL_RATE))
    with FluidSynth(soundfont) as synth, synth.lock:
        audio = synth.render(program, list(notes), np.full(n_blocks, 8192),
                             np.full(n_blocks, 127))
    audio = resample_audio(audio, RENDER_RATE, sample_rate)
    n = int(round(seconds * sample_rate))
    return np.pad(audio, (0, max(0, n - len(audio))))[:n].astype(np.float32)


def render_progression(instrument: str, voices: int, seconds: float, seed: int,
                       sample_rate: int = 16000, soundfont=None):
    """``(notes, audio)``: :func:`generate_progression` for one of
    :data:`POLY_INSTRUMENTS`, rendered (:func:`render_notes`)."""
    if instrument not in POLY_INSTRUMENTS:
        raise ValueError(f"instrument: unknown {instrument!r}; expected one of "
                         f"{sorted(POLY_INSTRUMENTS)}")
    inst = POLY_INSTRUMENTS[instrument]
    notes = generate_progression(np.random.default_rng(seed), voices, seconds, inst.low,
                                 inst.high)
    return notes, render_notes(notes, inst.program, seconds, sample_rate, soundfont)


__all__ = ["POLY_INSTRUMENTS", "PolyInstrument", "generate_progression", "render_notes",
           "render_progression"]
