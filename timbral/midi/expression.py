"""How an instrument phrases, measured from its training features: the expression profile.

:meth:`ExpressionProfile.measure` reads f0 (Hz), f0 confidence and loudness (dB)
curves (a prepared dataset's, 500 frames/s by default) and finds notes in
them: runs of confident frames on one semitone (relative to the data's own
tuning), tiny blips removed. From those notes it measures

- **levels** (``levels_db``): the notes' loudness (median over the note,
  dB) at the 5th, 10th, ..., 95th percentiles. Velocity ``v`` plays at
  percentile ``5 + 90 (v - 1) / 126``: velocity 64 is the data's median note,
  1 its quiet end, 127 its loud end.
- **attack** (a curve, dB relative to the note's level): for notes that start
  from silence (the loudness 40 dB or more below the note just before), the
  median loudness around the *onset*, where the loudness rises through 30 dB
  below the note's level; ``seconds``: when the curve first comes within 3 dB.
- **release** (a curve, dB relative to the level): for notes followed by
  silence, the median loudness from where it falls 3 dB below the level (the
  note-off); ``seconds``: when the curve is 40 dB down.
- **scoop** (a curve, cents relative to the note's pitch): the median pitch
  of confident frames after an attack's onset, up to where it settles
  within 5 cents.
- **vibrato**: on notes of 0.5 s or more, the pitch deviation's strongest
  rate in 3-9 Hz and its amplitude envelope (complex demodulation at that
  rate, a Hann window of one period); notes with 5 cents or more have
  vibrato. ``rate_hz`` is the median rate over them; the onset is fitted to
  their median envelope, from where the scoop has settled, as
  ``floor + (1 - floor) rc((t - delay_s) / fade_s)`` after the note's start
  (``rc`` a raised-cosine ramp from 0 to 1, the shape
  :func:`timbral.data.generate_phrase` uses; ``floor`` the tracker's own
  wobble); ``depth_cents`` (peak, so peak-to-peak is twice that) is the
  median envelope once faded in.
- **portamento** (``seconds``): between notes that follow each other without
  silence (legato), the median time the pitch takes from 10 % to 90 % of the
  interval.

Curves hold the features as the model was trained on them (the loudness
window and the pitch tracker included), which is what the model should be
played with. A section that the data cannot show (no note starts from
silence, no long notes, ...) is None, and playing uses :func:`neutral_profile`'s
value for it.

The profile is stored as ``expression.json`` in a model folder (see
:mod:`timbral.models.folder`); :meth:`to_dict` / :meth:`from_dict` write and
check it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..data.dataset import UNSURE_CONFIDENCE, TrainingData
from ..data.statistics import QuantileTransform
from ..features.notes import DEFAULT_MIN_DB
from ..models.folder import EXPRESSION_FORMAT, EXPRESSION_VERSION
from ..validation import check_document, check_number

#: Percentiles of note loudness stored in ``levels_db``.
LEVEL_PERCENTILES = np.arange(5.0, 96.0, 5.0)
#: An attack's onset: the loudness rises through the note's level minus this (dB).
ONSET_DB = 30.0
#: Silence before an attack or after a release: this far below the note's level (dB).
QUIET_DB = 40.0
#: The note-off of a release: the loudness falls this far below the level (dB).
RELEASE_REF_DB = 3.0
#: ``attack.seconds``: the attack curve comes within this of the level (dB).
ATTACK_REACHED_DB = 3.0
#: ``release.seconds``: the release curve is this far down (dB).
RELEASE_DONE_DB = 40.0
#: Loudness curves stop here (dB relative to the level): quieter is silence.
CURVE_FLOOR_DB = -60.0
#: A scoop has settled once the pitch stays within this of the note (cents).
SCOOP_SETTLED_CENTS = 5.0
#: Vibrato rates searched (Hz), the shortest note measured (s) and the least
#: depth that counts as vibrato (cents, peak).
VIBRATO_BAND = (3.0, 9.0)
VIBRATO_MIN_NOTE = 0.5
VIBRATO_MIN_CENTS = 5.0
#: Fewest examples a section is measured from.
MIN_EXAMPLES = 3
#: A raised-cosine ramp's 10 %-90 % time is this share of its length.
RC_10_90 = (math.acos(-0.8) - math.acos(0.8)) / math.pi

# What notes look like in features (seconds unless said).
_BLIP = 0.02  # pitch excursions shorter than this are not notes
_MIN_NOTE = 0.05
_MIN_LEVEL_NOTE = 0.1  # notes counted in levels_db
_ATTACK_LOOKBACK = 0.3  # silence searched before a note
_ATTACK_SPAN = (-0.05, 0.5)  # attack curve, around the onset
_RELEASE_SPAN = (-0.05, 0.8)  # release curve, around the note-off
_SCOOP_SPAN = 0.2
_LEGATO_GAP = 0.03  # unvoiced frames between two notes of a legato transition
_GLIDE_WINDOW = 0.15
_EDGE = 0.05  # left out at both ends of a note for its pitch and vibrato


def raised_cosine(x) -> np.ndarray:
    """0 -> 1 ramp ``0.5 - 0.5 cos(pi x)`` for ``x`` in [0, 1], clipped outside."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


@dataclass(frozen=True)
class Curve:
    """Values every ``step_s`` seconds from ``start_s``, relative to an event (an
    onset, a note-off); ``seconds`` summarises it (see the module doc)."""

    start_s: float
    step_s: float
    values: Tuple[float, ...]
    seconds: float

    @property
    def end_s(self) -> float:
        return self.start_s + (len(self.values) - 1) * self.step_s

    def at(self, tau, before: float, after: float) -> np.ndarray:
        """The curve at times ``tau`` (s from the event), ``before`` / ``after`` outside."""
        tau = np.asarray(tau, np.float64)
        grid = self.start_s + self.step_s * np.arange(len(self.values))
        out = np.interp(tau, grid, self.values)
        return np.where(tau < self.start_s, before, np.where(tau > self.end_s, after, out))

    def retimed(self, seconds: float) -> "Curve":
        """The curve with its part after the event stretched so ``seconds`` becomes
        ``seconds`` (0: the event's end state at once)."""
        factor = seconds / max(self.seconds, self.step_s)
        grid = self.start_s + self.step_s * np.arange(len(self.values))
        n = max(1, int(round(max(grid[-1], 0.0) * factor / self.step_s)))
        new = np.concatenate([grid[grid <= 0], self.step_s * np.arange(1, n + 1)])
        # factor 0: straight to the curve's last value
        source = np.where(new > 0, new / factor if factor else grid[-1], new)
        values = np.interp(source, grid, self.values)
        return Curve(self.start_s, self.step_s, tuple(float(v) for v in values), float(seconds))

    def scaled(self, factor: float) -> "Curve":
        return Curve(self.start_s, self.step_s, tuple(v * factor for v in self.values),
                     self.seconds)


@dataclass(frozen=True)
class Vibrato:
    """Vibrato: ``depth_cents * rc((t - delay_s) / fade_s) * sin(2 pi rate_hz (t -
    delay_s))`` cents, ``t`` from the note's start."""

    rate_hz: float
    depth_cents: float
    delay_s: float
    fade_s: float

    def cents(self, t) -> np.ndarray:
        """Deviation (cents) at ``t`` seconds after the note starts."""
        t = np.asarray(t, np.float64) - self.delay_s
        ramp = raised_cosine(t / self.fade_s) if self.fade_s > 0 else (t >= 0).astype(float)
        return np.where(t > 0, self.depth_cents * ramp * np.sin(2 * np.pi * self.rate_hz * t),
                        0.0)


#: What ``timbral play`` can override, ``name: (unit, minimum, maximum, help)``;
#: :meth:`ExpressionProfile.with_overrides` applies them, the command line makes
#: its options (``--vibrato``, ``--attack``, ...) from this table.
OVERRIDES: Dict[str, Tuple[str, float, float, str]] = {
    "vibrato": ("cents", 0.0, 200.0, "vibrato depth (peak); 0: no vibrato"),
    "vibrato_rate": ("Hz", 0.5, 20.0, "vibrato rate"),
    "vibrato_delay": ("s", 0.0, 5.0, "vibrato onset after the note starts"),
    "attack": ("s", 0.0, 5.0, "attack time (to within 3 dB of the level)"),
    "release": ("s", 0.0, 10.0, "release time (to 40 dB down)"),
    "portamento": ("s", 0.0, 2.0, "glide between legato notes (10-90 %); 0: none"),
    "scoop": ("cents", -1200.0, 1200.0, "pitch at an attack's onset relative to the note; "
                                        "0: none"),
}


@dataclass(frozen=True)
class ExpressionProfile:
    """An instrument's phrasing (see the module doc). ``None`` sections were not
    measurable; ``measured`` says from how much data (counts, seconds)."""

    levels_db: Optional[Tuple[float, ...]]
    attack: Optional[Curve]
    release: Optional[Curve]
    scoop: Optional[Curve]
    vibrato: Optional[Vibrato]
    portamento_s: Optional[float]
    measured: Dict[str, float] = field(default_factory=dict)

    def level_db(self, velocity) -> np.ndarray:
        """A note's loudness (dB) for MIDI velocities 1..127."""
        percentile = 5.0 + 90.0 * (np.asarray(velocity, np.float64) - 1.0) / 126.0
        return np.interp(percentile, LEVEL_PERCENTILES, self.levels_db)

    def missing(self) -> List[str]:
        """The sections that were not measured."""
        return [name for name in ("levels_db", "attack", "release", "scoop", "vibrato",
                                  "portamento_s") if getattr(self, name) is None]

    def completed(self, fallback: "ExpressionProfile") -> "ExpressionProfile":
        """This profile with its missing sections taken from ``fallback``."""
        return replace(self, **{name: getattr(fallback, name) for name in self.missing()})

    def with_overrides(self, **values) -> "ExpressionProfile":
        """A copy with :data:`OVERRIDES` applied (None values are left alone)."""
        p = self
        for name, value in values.items():
            if name not in OVERRIDES:
                raise ValueError(f"{name}: not an expression override; expected one of "
                                 f"{sorted(OVERRIDES)}")
            if value is None:
                continue
            unit, low, high, _ = OVERRIDES[name]
            value = check_number(value, name.replace("_", "-"), low, high)
            if name.startswith("vibrato"):
                key = {"vibrato": "depth_cents", "vibrato_rate": "rate_hz",
                       "vibrato_delay": "delay_s"}[name]
                p = replace(p, vibrato=replace(p.vibrato, **{key: value}))
            elif name in ("attack", "release"):
                p = replace(p, **{name: getattr(p, name).retimed(value)})
            elif name == "portamento":
                p = replace(p, portamento_s=value)
            else:
                p = replace(p, scoop=_scooped(p.scoop, value))
        return p

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        """The profile as ``expression.json`` holds it."""
        def curve(c: Optional[Curve], key: str) -> Optional[dict]:
            if c is None:
                return None
            return {"seconds": round(c.seconds, 4), "start_s": round(c.start_s, 6),
                    "step_s": round(c.step_s, 6), key: [round(v, 2) for v in c.values]}

        return {"format": EXPRESSION_FORMAT, "version": EXPRESSION_VERSION,
                "levels_db": None if self.levels_db is None
                else [round(v, 2) for v in self.levels_db],
                "attack": curve(self.attack, "curve_db"),
                "release": curve(self.release, "curve_db"),
                "scoop": curve(self.scoop, "curve_cents"),
                "vibrato": None if self.vibrato is None else {
                    k: round(getattr(self.vibrato, k), 4)
                    for k in ("rate_hz", "depth_cents", "delay_s", "fade_s")},
                "portamento": None if self.portamento_s is None
                else {"seconds": round(self.portamento_s, 4)},
                "measured": dict(self.measured)}

    @classmethod
    def from_dict(cls, d: Mapping, where: str = "expression.json") -> "ExpressionProfile":
        """Check ``d`` (an ``expression.json``) and build the profile; a one-line
        ValueError naming ``where`` and the field at fault."""
        check_document(d, where, EXPRESSION_FORMAT, EXPRESSION_VERSION)

        def section(name: str):
            value = d.get(name)
            if value is not None and not isinstance(value, Mapping):
                raise ValueError(f"{where}: {name}: expected an object or null")
            return value

        def number(s: Mapping, name: str, key: str, low: float, high: float) -> float:
            return check_number(s.get(key), f"{where}: {name}.{key}", low, high)

        def curve(name: str, key: str, low: float, high: float) -> Optional[Curve]:
            s = section(name)
            if s is None:
                return None
            values = s.get(key)
            if not isinstance(values, list) or not 1 <= len(values) <= 10000:
                raise ValueError(f"{where}: {name}.{key}: expected a list of 1 to 10000 numbers")
            values = tuple(check_number(v, f"{where}: {name}.{key}", low, high) for v in values)
            return Curve(number(s, name, "start_s", -1.0, 0.0), number(s, name, "step_s", 1e-4, 0.1),
                         values, number(s, name, "seconds", 0.0, 10.0))

        levels = d.get("levels_db")
        if levels is not None:
            if not isinstance(levels, list) or len(levels) != len(LEVEL_PERCENTILES):
                raise ValueError(f"{where}: levels_db: expected {len(LEVEL_PERCENTILES)} numbers "
                                 f"(percentiles 5, 10, ..., 95)")
            levels = tuple(check_number(v, f"{where}: levels_db", -120.0, 40.0) for v in levels)
            if any(b < a for a, b in zip(levels, levels[1:])):
                raise ValueError(f"{where}: levels_db: percentiles must not decrease")
        v = section("vibrato")
        vibrato = None if v is None else Vibrato(
            number(v, "vibrato", "rate_hz", 0.5, 20.0), number(v, "vibrato", "depth_cents", 0, 200),
            number(v, "vibrato", "delay_s", 0.0, 5.0), number(v, "vibrato", "fade_s", 0.0, 5.0))
        g = section("portamento")
        measured = d.get("measured") or {}
        if not isinstance(measured, Mapping):
            raise ValueError(f"{where}: measured: expected an object")
        return cls(levels, curve("attack", "curve_db", -120.0, 40.0),
                   curve("release", "curve_db", -120.0, 40.0),
                   curve("scoop", "curve_cents", -2400.0, 2400.0), vibrato,
                   None if g is None else number(g, "portamento", "seconds", 0.0, 2.0),
                   dict(measured))

    # ------------------------------------------------------------ measuring
    @classmethod
    def measure(cls, items: Sequence[Mapping], frame_rate: float) -> "ExpressionProfile":
        """Measure a profile from feature curves.

        Args:
          items: dicts with ``f0_hz``, ``f0_confidence`` and ``loudness_db``,
            each ``[n_frames]`` (one recording each).
          frame_rate: their frames per second (100 or more resolves attacks).
        """
        fr = float(frame_rate)
        analysed = [_Notes(it, fr) for it in items]
        tuning = _tuning([a.cents[a.voiced] for a in analysed])
        for a in analysed:
            a.segment(tuning)
        notes = [n for a in analysed for n in a.notes]
        levels = [n.level for n in notes if n.duration >= _MIN_LEVEL_NOTE]
        attacks = [c for a in analysed for c in a.attack_curves()]
        releases = [c for a in analysed for c in a.release_curves()]
        scoops = [c for a in analysed for c in a.scoop_curves()]
        glides = [g for a in analysed for g in a.glides()]
        vibratos = [v for a in analysed for v in a.vibratos()]
        step = 1.0 / fr
        attack = _median_curve(attacks, _ATTACK_SPAN[0], step)
        release = _median_curve(releases, _RELEASE_SPAN[0], step)
        scoop = _median_curve(scoops, 0.0, step)
        scoop = None if scoop is None else _scoop(scoop, step)
        measured = {"frame_rate": fr, "seconds": round(sum(len(a.ld) for a in analysed) / fr, 1),
                    "tuning_cents": round(tuning, 1), "notes": len(notes),
                    "attacks": len(attacks), "releases": len(releases),
                    "legato_transitions": len(glides), "long_notes": len(vibratos),
                    "vibrato_notes": sum(v is not None for v in vibratos)}
        return cls(
            tuple(float(x) for x in np.percentile(levels, LEVEL_PERCENTILES))
            if len(levels) >= MIN_EXAMPLES else None,
            None if attack is None else _attack(attack, step),
            None if release is None else _release(release, step),
            scoop,
            _vibrato([v for v in vibratos if v is not None], len(vibratos), fr,
                     scoop.seconds if scoop is not None else 0.0),
            float(np.median(glides)) if len(glides) >= MIN_EXAMPLES else None,
            measured)


def neutral_profile(statistics: Optional[Mapping] = None) -> ExpressionProfile:
    """A plain way to play a model without a profile: note levels from its
    dataset statistics (note-on loudness quantiles) or -40..-5 dB without them,
    a 20 ms attack and a 100 ms release (straight lines in dB), no scoop, no
    vibrato, no portamento."""
    if statistics is not None and "quantile_transform" in statistics:
        table = QuantileTransform.from_dict(statistics["quantile_transform"])
        levels = table.inverse_transform(LEVEL_PERCENTILES / 100.0)
    else:
        levels = np.linspace(-40.0, -5.0, len(LEVEL_PERCENTILES))
    step = 0.005
    return ExpressionProfile(
        tuple(float(x) for x in levels),
        Curve(0.0, step, tuple(np.linspace(CURVE_FLOOR_DB, 0.0, 5)), 0.02),
        Curve(0.0, step, tuple(np.linspace(0.0, CURVE_FLOOR_DB, 21)), 0.1 * 40 / 60),
        Curve(0.0, step, (0.0,), 0.0), Vibrato(5.0, 0.0, 0.0, 0.0), 0.0,
        {"neutral": 1})


def profile_for(model) -> Tuple[ExpressionProfile, List[str]]:
    """The profile to play ``model`` with: its ``expression.json`` (completed from
    :func:`neutral_profile` where it could not measure something) or the neutral
    one; and messages saying which."""
    name = getattr(model, "name", "") or "model"
    neutral = neutral_profile(getattr(model, "statistics", None))
    data = getattr(model, "expression", None)
    if data is None:
        return neutral, [f"{name}: no expression profile (expression.json); playing with a "
                         f"plain envelope and no vibrato (`timbral train` measures one)"]
    profile = ExpressionProfile.from_dict(data, f"{name}: expression.json")
    missing = profile.missing()
    messages = [f"{name}: expression profile measured from {profile.measured.get('notes', 0)} "
                f"notes"]
    if missing:
        words = {"levels_db": "loudness by velocity", "attack": "note attacks",
                 "release": "note releases", "scoop": "pitch scoops", "vibrato": "vibrato",
                 "portamento_s": "slides between notes"}
        messages.append(f"{name}: its training recordings showed no "
                        f"{', '.join(words[m] for m in missing)} to measure; those are played "
                        f"plain (or as the attack, release, vibrato, scoop and portamento "
                        f"options set them)")
    return profile.completed(neutral), messages


def measure_expression(dataset) -> dict:
    """The expression profile of a prepared dataset (folder or
    :class:`~timbral.data.dataset.TrainingData`), as ``expression.json`` holds it."""
    data = dataset if isinstance(dataset, TrainingData) else TrainingData(dataset)
    return ExpressionProfile.measure(data.items, data.frame_rate).to_dict()


# --------------------------------------------------------------- measurement
@dataclass
class _Note:
    start: int  # frames
    end: int
    key: int
    level: float  # dB
    cents: float
    frame_rate: float
    onset: Optional[int] = None  # from silence: where the loudness rises through level - 30
    note_off: Optional[int] = None  # into silence: where it falls 3 dB below the level
    legato: bool = False  # follows the previous note without silence

    @property
    def duration(self) -> float:
        return (self.end - self.start) / self.frame_rate


class _Notes:
    """One recording's features and the notes found in them."""

    def __init__(self, item: Mapping, frame_rate: float):
        self.fr = frame_rate
        self.ld = np.asarray(item["loudness_db"], np.float64)
        f0 = np.asarray(item["f0_hz"], np.float64)
        conf = np.asarray(item["f0_confidence"], np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.cents = np.where(f0 > 0, 1200.0 * np.log2(f0 / 440.0) + 6900.0, np.nan)
        self.confident = conf >= UNSURE_CONFIDENCE
        self.voiced = self.confident & (self.ld > DEFAULT_MIN_DB + 10.0) & np.isfinite(self.cents)
        self.notes: List[_Note] = []

    def frames(self, seconds: float) -> int:
        return int(round(seconds * self.fr))

    def segment(self, tuning: float) -> None:
        key = np.where(self.voiced, np.round((self.cents - tuning) / 100.0), -1.0)
        key = _median_filter(key, 2 * (self.frames(_BLIP) // 2) + 1)
        edges = np.flatnonzero(np.diff(key)) + 1
        starts = np.concatenate([[0], edges])
        ends = np.concatenate([edges, [len(key)]])
        edge = self.frames(_EDGE)
        previous = None
        for s, e in zip(starts, ends):
            if key[s] < 0 or e - s < self.frames(_MIN_NOTE):
                continue
            m = min(edge, (e - s) // 4)
            body = slice(s + m, e - m)
            note = _Note(int(s), int(e), int(key[s]), float(np.median(self.ld[body])),
                         float(np.nanmedian(self.cents[body])), self.fr)
            if previous is not None and s - previous.end <= self.frames(_LEGATO_GAP) \
                    and previous.key != note.key \
                    and self.ld[previous.end - 1:s + 1].min() > note.level - QUIET_DB / 2:
                note.legato = True
            note.onset = self._onset(note, previous)
            self.notes.append(note)
            previous = note
        for i, note in enumerate(self.notes):
            following = self.notes[i + 1].start if i + 1 < len(self.notes) else len(self.ld)
            note.note_off = self._note_off(note, following)

    def _onset(self, note: _Note, previous: Optional[_Note]) -> Optional[int]:
        """Where an attack from silence rises through ``level - ONSET_DB``, or None."""
        lo = max(0, note.start - self.frames(_ATTACK_LOOKBACK),
                 previous.end if previous is not None else 0)
        window = self.ld[lo:note.start + self.frames(0.1)]
        rise = np.flatnonzero(window >= note.level - 10.0)
        if not len(rise):
            return None
        quiet = np.flatnonzero(window[:rise[0]] <= note.level - QUIET_DB)
        if not len(quiet):
            return None
        above = np.flatnonzero(window[quiet[-1]:] >= note.level - ONSET_DB)
        return lo + quiet[-1] + int(above[0])

    def _note_off(self, note: _Note, following: int) -> Optional[int]:
        """Where a note followed by silence falls ``RELEASE_REF_DB`` below its level."""
        held = np.flatnonzero(self.ld[note.start:note.end] >= note.level - RELEASE_REF_DB)
        if not len(held):
            return None
        off = note.start + int(held[-1]) + 1
        stop = min(following, off + self.frames(_RELEASE_SPAN[1]))
        if not (self.ld[off:stop] <= note.level - QUIET_DB).any():
            return None
        return off

    def _span(self, at: int, first: float, last: float, stop: int, values: np.ndarray,
              level: float) -> np.ndarray:
        """``values - level`` from ``at + first`` to ``at + last`` seconds, NaN from ``stop`` on
        and outside the recording; loudness at the floor reads as the curve floor."""
        idx = np.arange(at + self.frames(first), at + self.frames(last) + 1)
        inside = (idx >= 0) & (idx < min(stop, len(values)))
        out = np.full(len(idx), np.nan)
        out[inside] = values[idx[inside]] - level
        return out

    def _loudness_span(self, at: int, first: float, last: float, stop: int,
                       level: float) -> np.ndarray:
        out = self._span(at, first, last, stop, self.ld, level)
        silent = out <= DEFAULT_MIN_DB + 1.0 - level
        return np.where(silent, CURVE_FLOOR_DB, np.maximum(out, CURVE_FLOOR_DB))

    def attack_curves(self) -> List[np.ndarray]:
        out = []
        for n in self.notes:
            if n.onset is not None:
                stop = n.note_off if n.note_off is not None else n.end
                out.append(self._loudness_span(n.onset, *_ATTACK_SPAN, stop, n.level))
        return out

    def release_curves(self) -> List[np.ndarray]:
        out = []
        for i, n in enumerate(self.notes):
            if n.note_off is None:
                continue
            nxt = self.notes[i + 1] if i + 1 < len(self.notes) else None
            stop = len(self.ld) if nxt is None else (
                (nxt.onset if nxt.onset is not None else nxt.start) - self.frames(0.05))
            out.append(self._loudness_span(n.note_off, *_RELEASE_SPAN, stop, n.level))
        return out

    def scoop_curves(self) -> List[np.ndarray]:
        out = []
        for n in self.notes:
            if n.onset is None:
                continue
            stop = n.note_off if n.note_off is not None else n.end
            cents = np.where(self.confident, self.cents, np.nan)
            out.append(self._span(n.onset, 0.0, _SCOOP_SPAN, stop, cents, n.cents))
        return out

    def glides(self) -> List[float]:
        """10-90 % pitch transition times (s) of legato transitions of 80 cents or more."""
        out = []
        smooth = _median_filter(np.nan_to_num(self.cents), 2 * (self.frames(0.01) // 2) + 1)
        for a, b in zip(self.notes, self.notes[1:]):
            if not b.legato or abs(b.cents - a.cents) < 80.0:
                continue
            lo = max(a.start, b.start - self.frames(_GLIDE_WINDOW))
            hi = min(b.end, b.start + self.frames(_GLIDE_WINDOW))
            x = (smooth[lo:hi] - a.cents) / (b.cents - a.cents)
            crossings = np.flatnonzero((x[:-1] < 0.5) & (x[1:] >= 0.5)) + 1
            if not len(crossings):
                continue
            mid = crossings[np.argmin(np.abs(crossings + lo - b.start))]
            before = np.flatnonzero(x[:mid] <= 0.1)
            after = np.flatnonzero(x[mid:] >= 0.9)
            if len(before) and len(after):
                out.append((mid + after[0] - before[-1]) / self.fr)
        return out

    def vibratos(self) -> List[Optional[Tuple[float, float, np.ndarray]]]:
        """Per note of :data:`VIBRATO_MIN_NOTE` s or more: ``(rate Hz, depth over its
        last 40 % in cents, envelope in cents from the note's start)``, or None when
        it has no vibrato."""
        out = []
        edge = self.frames(_EDGE)
        for n in self.notes:
            start = n.onset if n.onset is not None else n.start
            end = n.note_off if n.note_off is not None else n.end
            if (end - start) / self.fr < VIBRATO_MIN_NOTE:
                continue
            d = self.cents[start + edge:end - edge] - n.cents
            d = np.nan_to_num(d - np.nanmedian(d))
            rate = _peak_rate(d, self.fr)
            t = np.arange(len(d)) / self.fr
            period = max(1, int(round(self.fr / rate)))
            envelope = 2.0 * np.abs(_smooth(d * np.exp(-2j * np.pi * rate * t), period))
            depth = float(np.median(envelope[int(0.6 * len(envelope)):]))
            if depth < VIBRATO_MIN_CENTS:
                out.append(None)
                continue
            out.append((rate, depth, np.concatenate([np.full(edge, np.nan), envelope])))
        return out


def _tuning(cents: Sequence[np.ndarray]) -> float:
    """The data's tuning: circular mean of cents modulo 100, in [-50, 50)."""
    allc = np.concatenate([c[np.isfinite(c)] for c in cents]) if cents else np.zeros(0)
    if not len(allc):
        return 0.0
    angle = np.angle(np.mean(np.exp(2j * np.pi * allc / 100.0)))
    return float(angle * 100.0 / (2 * np.pi))


def _median_filter(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(x) < width:
        return x.copy()
    half = width // 2
    padded = np.pad(x, half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)


def _window(width: int) -> np.ndarray:
    """A periodic Hann window of ``width`` samples: zero response at ``2 / width`` cycles
    per sample and above, so over one vibrato period it removes the demodulated
    vibrato's image at twice its rate while blurring half as much as a box."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(width) / width) if width > 1 \
        else np.ones(1)


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Centred :func:`_window` average of ``x`` (rows), over what exists at the edges."""
    kernel = _window(width)
    norm = np.convolve(np.ones(x.shape[-1]), kernel, "same")
    if x.ndim == 1:
        return np.convolve(x, kernel, "same") / norm
    return np.stack([np.convolve(row, kernel, "same") for row in x]) / norm


def _peak_rate(d: np.ndarray, frame_rate: float) -> float:
    """The strongest frequency of ``d`` within :data:`VIBRATO_BAND` (Hz, interpolated)."""
    n = max(1 << 14, 1 << int(math.ceil(math.log2(len(d)))))
    spectrum = np.abs(np.fft.rfft(d * np.hanning(len(d)), n))
    freqs = np.fft.rfftfreq(n, 1.0 / frame_rate)
    band = np.flatnonzero((freqs >= VIBRATO_BAND[0]) & (freqs <= VIBRATO_BAND[1]))
    k = band[np.argmax(spectrum[band])]
    a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0
    return float(freqs[k] + shift * (freqs[1] - freqs[0]))


def _stack(rows: Sequence[np.ndarray]) -> np.ndarray:
    width = max(len(r) for r in rows)
    table = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        table[i, :len(r)] = r
    return table


def _median_curve(rows: Sequence[np.ndarray], start: float, step: float
                  ) -> Optional[Tuple[float, np.ndarray]]:
    """The median over rows per time, while :data:`MIN_EXAMPLES` rows and a fifth of
    them have a value; ``(start_s, values)`` or None."""
    if len(rows) < MIN_EXAMPLES:
        return None
    table = _stack(rows)
    count = np.isfinite(table).sum(axis=0)
    enough = count >= max(MIN_EXAMPLES, 0.2 * len(rows))
    zero = int(round(-start / step))
    # from the first time with enough examples up to the first gap after the event
    first = int(np.argmax(enough)) if enough.any() else len(enough)
    gaps = np.flatnonzero(~enough[max(zero, first):])
    last = max(zero, first) + (int(gaps[0]) if len(gaps) else len(enough) - max(zero, first))
    if last <= max(first, zero):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        values = np.nanmedian(table[:, first:last], axis=0)
    return start + first * step, values


def _attack(curve: Tuple[float, np.ndarray], step: float) -> Curve:
    start, values = curve
    tau = start + step * np.arange(len(values))
    reached = np.flatnonzero((tau >= 0) & (values >= -ATTACK_REACHED_DB))
    seconds = float(tau[reached[0]]) if len(reached) else float(tau[-1])
    return Curve(start, step, tuple(float(v) for v in values), max(0.0, seconds))


def _release(curve: Tuple[float, np.ndarray], step: float) -> Curve:
    start, values = curve
    tau = start + step * np.arange(len(values))
    floor = np.flatnonzero((tau >= 0) & (values <= CURVE_FLOOR_DB))
    if len(floor):  # silence from here on
        values = values[:floor[0] + 1]
        tau = tau[:floor[0] + 1]
    done = np.flatnonzero((tau >= 0) & (values <= -RELEASE_DONE_DB))
    seconds = float(tau[done[0]]) if len(done) else float(tau[-1])
    return Curve(start, step, tuple(float(v) for v in values), max(0.0, seconds))


def _scoop(curve: Tuple[float, np.ndarray], step: float) -> Curve:
    """The pitch from the onset up to where it settles (missing values, e.g. the
    first frames where the tracker is unsure, filled from the nearest)."""
    start, values = curve
    values = np.concatenate([np.full(int(round(start / step)), np.nan), values])
    valid = np.flatnonzero(np.isfinite(values))
    values = np.interp(np.arange(len(values)), valid, values[valid])
    unsettled = np.flatnonzero(np.abs(values) > SCOOP_SETTLED_CENTS)
    if not len(unsettled):
        return Curve(0.0, step, (0.0,), 0.0)
    n = int(unsettled[-1]) + 1
    values = np.concatenate([values[:n], [0.0]])
    return Curve(0.0, step, tuple(float(v) for v in values), float(n * step))


def _scooped(scoop: Curve, cents: float) -> Curve:
    """``scoop`` scaled so it starts ``cents`` from the note (0: none)."""
    if cents == 0.0:
        return Curve(0.0, scoop.step_s, (0.0,), 0.0)
    first = scoop.values[0]
    if abs(first) < 1e-6:
        raise ValueError("scoop: this instrument's profile has no scoop to scale; use 0 or "
                         "leave it out")
    return scoop.scaled(cents / first)


def _vibrato(found: List[Tuple[float, float, np.ndarray]], long_notes: int,
             frame_rate: float, settled: float) -> Optional[Vibrato]:
    """The rate (median), the onset fitted to the median envelope and the depth
    (median over the notes' envelopes once the vibrato has faded in). Until the
    scoop has ``settled`` (s), and half a window after, the pitch's movement is
    the attack's, so the onset is fitted from there on."""
    if long_notes < MIN_EXAMPLES:
        return None
    if len(found) < MIN_EXAMPLES:  # long notes, played without vibrato
        return Vibrato(5.0, 0.0, 0.0, 0.0)
    rate = float(np.median([r for r, _, _ in found]))
    period = max(1, int(round(frame_rate / rate)))
    table = _stack([e / d for _, d, e in found])
    count = np.isfinite(table).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        envelope = np.nanmedian(table, axis=0)
    usable = np.flatnonzero(count >= max(MIN_EXAMPLES, 0.5 * len(found)))
    usable = usable[usable >= int(round(settled * frame_rate)) + period // 2]
    delay, fade = _fit_onset(envelope[usable[0]:usable[-1] + 1], usable[0], frame_rate, period)
    steady = int(round((delay + fade) * frame_rate)) + period // 2
    depths = [float(np.median(e[steady:len(e) - period // 2])) for _, _, e in found
              if len(e) - period // 2 - steady >= period]
    depth = float(np.median(depths)) if depths else float(np.median([d for _, d, _ in found]))
    return Vibrato(rate, depth, delay, fade)


def _fit_onset(envelope: np.ndarray, first: int, frame_rate: float, period: int
               ) -> Tuple[float, float]:
    """``(delay_s, fade_s)`` of ``floor + (1 - floor) rc((t - delay) / fade)``,
    smoothed like the measured envelope (:func:`_smooth` over one vibrato period), that
    fits ``envelope`` (frames from ``first``; the floor is the tracker's own
    wobble) best in least squares."""
    t = (first + np.arange(len(envelope))) / frame_rate
    delays = np.arange(0.0, max(0.01, t[-1] - 0.1), 0.01)
    best = (np.inf, 0.0, 0.0)
    for fade in np.arange(0.02, 0.8, 0.01):
        ramp = raised_cosine((t[None, :] - delays[:, None]) / fade)
        shape = _smooth(ramp, period)
        rest = 1.0 - shape
        floor = np.clip(((envelope - shape) * rest).sum(axis=1)
                        / np.maximum((rest ** 2).sum(axis=1), 1e-9), 0.0, 0.5)
        model = floor[:, None] + (1.0 - floor[:, None]) * shape
        error = ((model - envelope[None, :]) ** 2).sum(axis=1)
        i = int(np.argmin(error))
        if error[i] < best[0]:
            best = (float(error[i]), float(delays[i]), float(fade))
    return best[1], best[2]


__all__ = ["Curve", "ExpressionProfile", "OVERRIDES", "Vibrato", "measure_expression",
           "neutral_profile", "profile_for", "raised_cosine"]
