"""Expressive monophonic performances: notes plus pitch-bend and expression curves.

A :class:`Performance` is everything a MIDI player needs to play one melodic line
on one instrument, laid out on a fixed control grid of :data:`CONTROL_RATE` Hz
(750 Hz: one FluidSynth block of 64 samples at 48 kHz). Note onsets and offsets
sit exactly on that grid, and the pitch bend (cents) and expression (MIDI CC11)
curves hold one value per grid step, so a renderer can apply every event at a
block boundary and the ground truth (which note sounds, at which pitch, when) is
exact.

:func:`generate_phrase` writes musically plausible phrases: diatonic melodies in a
random key with mostly stepwise motion and occasional leaps (recovered by a step
the other way), a few rhythm values at a random tempo with slight rubato, legato
and detached notes, rests, phrase-level dynamics (velocity arc and accents),
expression swells on long notes, and delayed-onset vibrato through pitch bend.

Everything is deterministic for a given ``numpy.random.Generator`` state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

#: FluidSynth renders in blocks of 64 samples; the renderer runs at 48 kHz, so
#: events (notes, bends, CC) land exactly on a 750 Hz grid.
RENDER_RATE = 48000
BLOCK_SIZE = 64
CONTROL_RATE = RENDER_RATE / BLOCK_SIZE  # 750.0 Hz

#: Largest pitch bend a performance may ask for (cents). The renderer sets the
#: pitch-bend range to 2 semitones, of which FluidSynth delivers 198.4 cents.
MAX_BEND_CENTS = 190.0


@dataclass(frozen=True)
class Instrument:
    """A General MIDI instrument: 0-based program and a comfortable MIDI range."""

    name: str
    program: int
    low: int
    high: int


#: Instruments for pretrained models, with 0-based General MIDI programs and the
#: range (MIDI keys, sounding pitch) where the instrument plays comfortably.
INSTRUMENTS: Dict[str, Instrument] = {
    inst.name: inst
    for inst in (
        Instrument("violin", 40, 55, 88),     # G3 .. E6
        Instrument("cello", 42, 36, 72),      # C2 .. C5
        Instrument("trumpet", 56, 55, 82),    # G3 .. Bb5
        Instrument("tenor_sax", 66, 44, 75),  # Ab2 .. Eb5 (sounding)
        Instrument("oboe", 68, 58, 89),       # Bb3 .. F6
        Instrument("clarinet", 71, 50, 86),   # D3 .. D6 (sounding, Bb clarinet)
        Instrument("flute", 73, 60, 93),      # C4 .. A6
    )
}


def get_instrument(name: str) -> Instrument:
    """Look up :data:`INSTRUMENTS` by name (case-insensitive, '-' or ' ' as '_')."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in INSTRUMENTS:
        raise ValueError(f"instrument: unknown {name!r}; expected one of {sorted(INSTRUMENTS)}")
    return INSTRUMENTS[key]


@dataclass(frozen=True)
class Note:
    """One note: onset and offset (note-off) in seconds, MIDI key, MIDI velocity."""

    onset: float
    offset: float
    pitch: int
    velocity: int

    @property
    def duration(self) -> float:
        return self.offset - self.onset


@dataclass(frozen=True, eq=False)
class Performance:
    """A monophonic performance on the control grid.

    Attributes:
      notes: non-overlapping notes sorted by onset; onsets and offsets are
        multiples of ``1 / control_rate`` (a note may end exactly where the next
        one starts: legato).
      bend_cents: ``[n_steps]`` float, pitch bend in cents per grid step (the
        renderer plays it in whole cents, see ``timbral.data.rendering``).
      expression: ``[n_steps]`` int, MIDI CC11 (0..127) per grid step.
      control_rate: grid rate in Hz (:data:`CONTROL_RATE`).
      tempo_bpm: the tempo the phrase was written at (information only).
    """

    notes: Tuple[Note, ...]
    bend_cents: np.ndarray
    expression: np.ndarray
    control_rate: float = CONTROL_RATE
    tempo_bpm: Optional[float] = None
    info: dict = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return int(len(self.bend_cents))

    @property
    def duration(self) -> float:
        return self.n_steps / self.control_rate

    def step(self, seconds: float) -> int:
        """Grid index of a time (rounded to the nearest step)."""
        return int(round(seconds * self.control_rate))

    def validate(self) -> "Performance":
        """Raise ValueError unless the performance is playable and monophonic."""
        if self.control_rate != CONTROL_RATE:
            raise ValueError(f"performance: control_rate must be {CONTROL_RATE} Hz, "
                             f"got {self.control_rate}")
        n = self.n_steps
        if n == 0 or np.shape(self.expression) != (n,) or np.ndim(self.bend_cents) != 1:
            raise ValueError(f"performance: bend_cents and expression must be 1-D arrays of the "
                             f"same non-zero length, got {np.shape(self.bend_cents)} and "
                             f"{np.shape(self.expression)}")
        bend = np.asarray(self.bend_cents, dtype=np.float64)
        if not np.isfinite(bend).all() or np.abs(bend).max() > MAX_BEND_CENTS:
            raise ValueError(f"performance: pitch bend must be finite and within "
                             f"+-{MAX_BEND_CENTS:g} cents")
        expr = np.asarray(self.expression)
        if expr.min() < 0 or expr.max() > 127:
            raise ValueError("performance: expression (CC11) must be within 0..127")
        previous_offset = 0.0
        for i, note in enumerate(self.notes):
            where = f"performance: note {i} ({note})"
            for t in (note.onset, note.offset):
                if abs(t * self.control_rate - round(t * self.control_rate)) > 1e-6:
                    raise ValueError(f"{where}: times must lie on the {self.control_rate:g} Hz "
                                     f"grid; use quantize_performance()")
            if not (0 <= note.pitch <= 127 and 1 <= note.velocity <= 127):
                raise ValueError(f"{where}: pitch must be 0..127 and velocity 1..127")
            if not note.offset > note.onset:
                raise ValueError(f"{where}: offset must come after onset")
            if note.onset < previous_offset - 1e-9:
                raise ValueError(f"{where}: overlaps the previous note; performances are "
                                 f"monophonic (sorted, non-overlapping notes)")
            if note.offset > self.duration + 1e-9:
                raise ValueError(f"{where}: ends after the performance ({self.duration:.3f} s)")
            previous_offset = note.offset
        return self


def _snap(seconds: float, rate: float = CONTROL_RATE) -> float:
    return round(seconds * rate) / rate


def quantize_performance(notes: Sequence[Note], duration: float,
                         bend_cents=None, expression=None,
                         tempo_bpm: Optional[float] = None) -> Performance:
    """Build a :class:`Performance` from free-timed notes (seconds).

    Onsets and offsets are rounded to the grid; ``bend_cents`` / ``expression``
    default to 0 cents and CC11 = 127; given arrays must have
    ``round(duration * CONTROL_RATE)`` entries.
    """
    n = int(round(duration * CONTROL_RATE))
    bend = np.zeros(n) if bend_cents is None else np.asarray(bend_cents, dtype=np.float64)
    expr = np.full(n, 127, np.int16) if expression is None else np.asarray(expression)
    snapped = tuple(sorted((Note(_snap(x.onset), _snap(x.offset), int(x.pitch), int(x.velocity))
                            for x in notes), key=lambda x: x.onset))
    return Performance(snapped, bend, expr.astype(np.int16), CONTROL_RATE, tempo_bpm).validate()


# Phrase generation ---------------------------------------------------------------
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)

#: Melodic intervals in scale steps and their probabilities (before direction).
_STEP_SIZES = np.array([0, 1, 2, 3, 4, 7])
_STEP_WEIGHTS = np.array([0.07, 0.58, 0.18, 0.08, 0.06, 0.03])

#: Note values in beats and their probabilities.
_BEATS = np.array([0.5, 1.0, 1.5, 2.0, 3.0, 4.0])
_BEAT_WEIGHTS = np.array([0.36, 0.34, 0.10, 0.12, 0.05, 0.03])


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng: expected a numpy Generator or an integer seed, got {rng!r}")


def _raised_cosine(x: np.ndarray) -> np.ndarray:
    """0 -> 1 smooth ramp for x in [0, 1] (clipped outside)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def _pitches(rng: np.random.Generator, n: int, scale_keys: np.ndarray,
             center: int, spread: float) -> list:
    """A diatonic line of ``n`` MIDI keys from ``scale_keys`` around ``center``."""
    pos = int(np.argmin(np.abs(scale_keys - center) + rng.random(len(scale_keys))))
    out, last_leap = [], 0
    for _ in range(n):
        out.append(int(scale_keys[pos]))
        if last_leap and rng.random() < 0.7:  # a leap is followed by a step back
            step, last_leap = -int(np.sign(last_leap)), 0
        else:
            size = int(rng.choice(_STEP_SIZES, p=_STEP_WEIGHTS))
            # Direction: drift back toward the centre of the tessitura.
            lean = (scale_keys[pos] - center) / max(spread, 1.0)
            down = rng.random() < np.clip(0.5 + 0.45 * lean, 0.1, 0.9)
            step = -size if down else size
            last_leap = step if size >= 3 else 0
        new = pos + step
        if new < 0 or new >= len(scale_keys):  # reflect at the range limits
            new = pos - step
        pos = int(np.clip(new, 0, len(scale_keys) - 1))
    return out


def generate_phrase(rng, low_midi: int, high_midi: int, seconds: float, *,
                    tempo_bpm: Optional[float] = None,
                    legato: Optional[float] = None,
                    rest_probability: float = 0.12,
                    vibrato_probability: float = 0.85,
                    vibrato_rate_hz: Optional[float] = None,
                    vibrato_depth_cents: Optional[float] = None,
                    vibrato_delay_s: Optional[float] = None,
                    dynamics: Optional[float] = None,
                    lead_in_s: Optional[float] = None,
                    tail_s: float = 0.4) -> Performance:
    """A musically plausible monophonic phrase within ``[low_midi, high_midi]``.

    Args:
      rng: ``numpy.random.Generator`` (or an int seed); the phrase is a pure
        function of its state and the arguments.
      low_midi, high_midi: the instrument's range (MIDI keys, inclusive; at
        least a fifth apart).
      seconds: total length, silences included (>= 1 s).
      tempo_bpm: quarter notes per minute; default random in 66..132.
      legato: probability that a note is slurred into the next one (note-off in
        the same block as the next note-on); default random in 0.3..0.9 per
        phrase. Other notes are detached: they sound 50-85 % of their value.
      rest_probability: chance of a rest (half to two beats) after a note.
      vibrato_probability: chance that a note of 0.3 s or more gets vibrato.
      vibrato_rate_hz, vibrato_depth_cents, vibrato_delay_s: vibrato rate, peak
        deviation (cents, so peak-to-peak is twice this) and onset delay after
        the note-on. Default random per phrase (4.8-6.3 Hz, 10-35 cents,
        0.12-0.3 s) and varied slightly per note; a given value is used exactly
        for every note. The vibrato fades in over 0.15-0.35 s (0.2 s when the
        depth is given) and keeps going, fading out, during a release.
      dynamics: mean MIDI velocity of the phrase (20..120); default random in
        55..105. Velocities follow a phrase arc with downbeat accents;
        expression (CC11) swells on long notes.
      lead_in_s: silence before the first note (default random 0.05-0.25 s).
      tail_s: silence after the last note-off, so its release can ring out.

    Returns a validated :class:`Performance` of ``round(seconds * 750)`` steps.
    The same generator state gives the same rhythm and melodic contour whatever
    the range, so one seed yields parallel phrases across instruments.
    """
    rng = _rng(rng)
    low_midi, high_midi = int(low_midi), int(high_midi)
    if not (0 <= low_midi and high_midi <= 127 and high_midi - low_midi >= 7):
        raise ValueError(f"low_midi, high_midi: expected 0 <= low < high <= 127 at least a "
                         f"fifth apart, got {low_midi}, {high_midi}")
    if not (math.isfinite(seconds) and seconds >= 1.0):
        raise ValueError(f"seconds: expected at least 1 s, got {seconds}")
    for name, value in (("legato", legato), ("rest_probability", rest_probability),
                        ("vibrato_probability", vibrato_probability)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"{name}: expected a probability in [0, 1], got {value}")
    if vibrato_depth_cents is not None and not 0.0 <= vibrato_depth_cents <= 100.0:
        raise ValueError(f"vibrato_depth_cents: expected 0..100, got {vibrato_depth_cents}")
    if vibrato_rate_hz is not None and not 0.5 <= vibrato_rate_hz <= 15.0:
        raise ValueError(f"vibrato_rate_hz: expected 0.5..15 Hz, got {vibrato_rate_hz}")

    # Phrase-level choices.
    tempo = float(tempo_bpm) if tempo_bpm is not None else float(rng.uniform(66, 132))
    beat = 60.0 / tempo
    p_legato = float(legato) if legato is not None else float(rng.uniform(0.3, 0.9))
    tonic = int(rng.integers(12))
    mode = (_MAJOR, _MINOR, _HARMONIC_MINOR)[int(rng.choice(3, p=[0.55, 0.25, 0.2]))]
    scale_keys = np.array([k for k in range(low_midi, high_midi + 1) if (k - tonic) % 12 in mode])
    margin = min(5, (high_midi - low_midi) // 4)
    center = int(rng.integers(low_midi + margin, high_midi - margin + 1))
    spread = min(9.0, (high_midi - low_midi) / 2.0)
    rate0 = vibrato_rate_hz if vibrato_rate_hz is not None else rng.uniform(4.8, 6.3)
    depth0 = vibrato_depth_cents if vibrato_depth_cents is not None else rng.uniform(10, 35)
    delay0 = vibrato_delay_s if vibrato_delay_s is not None else rng.uniform(0.12, 0.3)
    level = float(dynamics) if dynamics is not None else float(rng.uniform(55, 105))
    expr_level = float(rng.uniform(80, 115))
    lead_in = float(lead_in_s) if lead_in_s is not None else float(rng.uniform(0.05, 0.25))
    end = seconds - tail_s
    if end - lead_in < 0.3:
        raise ValueError(f"seconds: {seconds} s leaves no room for notes after the lead-in "
                         f"and tail")

    # Rhythm: note values (beats) with rubato, rests, a longer final note.
    events = []  # (start_s, length_s, is_rest, beat_position)
    t, pos = lead_in, 0.0
    while t < end - 0.12:
        value = float(rng.choice(_BEATS, p=_BEAT_WEIGHTS))
        if events and events[-1][3] % 1.0 == 0.5 and not events[-1][2] and rng.random() < 0.5:
            value = 0.5  # stay on the beat grid after an off-beat
        length = value * beat * rng.uniform(0.96, 1.04)
        if end - (t + length) < max(0.15, 0.5 * beat):  # last note: fill up to the end
            length = end - t
        events.append((t, length, False, pos))
        t, pos = t + length, pos + value
        if rng.random() < rest_probability and t < end - 0.5:
            rest_value = float(rng.choice([0.5, 1.0, 2.0], p=[0.4, 0.4, 0.2]))
            rest = min(rest_value * beat, end - t - 0.25)
            if rest >= 0.1:
                events.append((t, rest, True, pos))
                t, pos = t + rest, pos + rest_value
    sounding_index = [j for j, e in enumerate(events) if not e[2]]
    sounding = [events[j] for j in sounding_index]
    keys = _pitches(rng, len(sounding), scale_keys, center, spread)
    # End on a stable degree (tonic, third or fifth) when one is close.
    stable = [k for k in scale_keys if (k - tonic) % 12 in (0, mode[2], 7)]
    if stable:
        nearest = min(stable, key=lambda k: abs(k - keys[-1]))
        if abs(nearest - keys[-1]) <= 2:
            keys[-1] = int(nearest)

    n_steps = int(round(seconds * CONTROL_RATE))
    times = np.arange(n_steps) / CONTROL_RATE
    bend = np.zeros(n_steps)
    expression = np.full(n_steps, expr_level)
    notes = []
    n = len(sounding)
    for i, ((start, length, _, beat_pos), key) in enumerate(zip(sounding, keys)):
        onset = _snap(start)
        j = sounding_index[i]
        next_event = events[j + 1] if j + 1 < len(events) else None
        slurred = next_event is not None and not next_event[2] and rng.random() < p_legato
        if slurred:
            offset = _snap(start + length)
        else:
            offset = _snap(start + length * rng.uniform(0.5, 0.85))
            offset = min(offset, _snap(start + length - 0.03))
        offset = min(max(offset, onset + 2 / CONTROL_RATE), _snap(end))
        # Velocity: phrase arc peaking around 60 %, accents on the beat.
        arc = math.sin(math.pi * min(1.0, (i + 0.5) / max(n, 1) / 1.2))
        accent = 6.0 if beat_pos % 1.0 == 0.0 else 0.0
        velocity = int(np.clip(round(level - 10 + 18 * arc + accent + rng.normal(0, 5)), 20, 127))
        notes.append(Note(onset, offset, int(key), velocity))

        # Expression: a swell, crescendo or diminuendo on notes of 0.4 s or more.
        a, b = int(round(onset * CONTROL_RATE)), int(round(offset * CONTROL_RATE))
        u = np.linspace(0.0, 1.0, b - a, endpoint=False)
        base = expr_level + rng.normal(0, 6)
        if offset - onset >= 0.4:
            shape = int(rng.choice(4, p=[0.25, 0.35, 0.2, 0.2]))
            amount = rng.uniform(8, 22)
            curve = (np.zeros_like(u), amount * (np.sin(np.pi * u) - 0.5),
                     amount * (u - 0.5), -amount * (u - 0.5))[shape]
        else:
            curve = np.zeros_like(u)
        expression[a:b] = base + curve
        expression[b:] = expression[b - 1] if b > a else base

        # Vibrato through pitch bend: delayed, faded in, continuing into the release.
        if offset - onset >= 0.3 and rng.random() < vibrato_probability:
            given = vibrato_rate_hz is not None
            rate = rate0 if given else rate0 * rng.uniform(0.95, 1.05)
            depth = depth0 if vibrato_depth_cents is not None else depth0 * rng.uniform(0.75, 1.25)
            delay = delay0 if vibrato_delay_s is not None else delay0 * rng.uniform(0.8, 1.2)
            fade = 0.2 if vibrato_depth_cents is not None else rng.uniform(0.15, 0.35)
            start_v = onset + delay
            next_onset = (_snap(sounding[i + 1][0]) if i + 1 < n else seconds)
            stop = min(next_onset, offset + 0.3)
            j0, j1 = int(round(start_v * CONTROL_RATE)), int(round(stop * CONTROL_RATE))
            if j1 > j0:
                tt = times[j0:j1] - start_v
                envelope = _raised_cosine(tt / fade)
                after = times[j0:j1] - offset
                envelope = envelope * np.where(after > 0, 1.0 - _raised_cosine(after / 0.25), 1.0)
                bend[j0:j1] = depth * envelope * np.sin(2 * np.pi * rate * tt)

    # Phrase-level expression arc and smoothing (about 30 ms) so CC11 moves gently.
    arc = 8.0 * np.sin(np.pi * np.clip(times / max(seconds, 1e-9), 0, 1)) - 4.0
    kernel = np.hanning(25)
    kernel /= kernel.sum()
    smooth = np.convolve(np.pad(expression + arc, 12, mode="edge"), kernel, mode="valid")
    expression_int = np.clip(np.round(smooth), 30, 127).astype(np.int16)
    info = {"tonic": tonic, "mode": {_MAJOR: "major", _MINOR: "minor",
                                     _HARMONIC_MINOR: "harmonic minor"}[mode],
            "legato": p_legato, "vibrato_rate_hz": float(rate0),
            "vibrato_depth_cents": float(depth0), "dynamics": level}
    return Performance(tuple(notes), bend, expression_int, CONTROL_RATE, tempo, info).validate()


def phrase_for(instrument: Union[str, Instrument], seconds: float, rng, **kwargs) -> Performance:
    """:func:`generate_phrase` within an instrument's range from :data:`INSTRUMENTS`."""
    inst = instrument if isinstance(instrument, Instrument) else get_instrument(instrument)
    return generate_phrase(rng, inst.low, inst.high, seconds, **kwargs)
