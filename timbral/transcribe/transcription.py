"""A recording -> its notes: :func:`transcribe`.

Audio is resampled once to the network's 22.05 kHz; the network
(:mod:`.network`) gives the posteriorgrams, :mod:`.notes` decodes notes with
pitch bends, and :mod:`.dynamics` measures each note's loudness from the
recording. A note's MIDI velocity follows the General MIDI curve (velocity
``v`` is ``40 log10(v / 127)`` dB) from its peak loudness relative to the
loudest note's: the loudest plays at 127, one 12 dB softer at 63.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from ..audio import check_sample_rate, resample_audio
from ..validation import as_mono_audio
from .dynamics import note_loudness
from .network import FRAME_RATE, SAMPLE_RATE, Activations, Network, get_network
from .notes import (FRAME_THRESHOLD, MIN_NOTE_LENGTH, ONSET_THRESHOLD, decode_notes, merge_reonsets,
                    note_pitch, partial_notes)

#: Shortest recording transcribed (s): one of the network's frames on each side.
MIN_SECONDS = 0.05
#: Notes overlapping for this long or less (s) are a legato join, not a chord.
LEGATO_OVERLAP = 0.1
#: A recording is polyphonic when chords (two or more notes, legato overlaps of
#: LEGATO_OVERLAP or less not counted: :func:`chord_share`) fill at least this share
#: of the time notes sound, its partial notes (:func:`~.notes.partial_notes`) left
#: out: rendered single-line phrases read 0-14 % (with their partial notes: up to
#: 56 %, a clarinet), rendered chord progressions 27-91 % (the low end: two voices
#: whose top line the network half misses, benchmarks/transcribe.py). Counting a chord
#: under short notes (a held run, not only stretches between events longer than
#: LEGATO_OVERLAP) moved 10 phrases by at most 0.4 points and 12 progressions up by
#: 0.4-8.5 points, side by side: no decision changed.
POLYPHONIC_SHARE = 0.2


@dataclass(frozen=True, eq=False)
class TranscribedNote:
    """One note found in a recording.

    Attributes:
      onset, offset: seconds.
      key: MIDI key (21..108).
      bend_cents: float32 ``[n]``, cents from ``key`` per frame from the onset, at
        :data:`~.network.FRAME_RATE` frames per second.
      confidence: the network's mean note posterior over the note (0..1).
      loudness_db: float32 ``[n]``, the note's own loudness per frame (dB, the
        project's A-weighted loudness 'v2'; see :mod:`.dynamics`).
      velocity: MIDI velocity 1..127 (see the module doc).
    """

    onset: float
    offset: float
    key: int
    bend_cents: np.ndarray
    confidence: float
    loudness_db: np.ndarray
    velocity: int

    @property
    def pitch(self) -> float:
        """The key plus the note's median bend, in semitones."""
        return note_pitch(self.key, self.bend_cents)

    @property
    def level_db(self) -> float:
        """The note's peak loudness (dB)."""
        return float(self.loudness_db.max())

    @property
    def duration(self) -> float:
        return self.offset - self.onset


@dataclass
class Transcription:
    """A recording's notes (sorted by onset, then key) and what they came from.

    Attributes:
      notes: the :class:`TranscribedNote` s.
      duration: the recording's length (s).
      activations: the network's posteriorgrams (for pictures).
      loudness_db: float32, the recording's loudness at :data:`~.network.FRAME_RATE`.
      timings: seconds in ``"network"`` and ``"notes"`` (decoding and loudness).
    """

    notes: List[TranscribedNote]
    duration: float
    activations: Activations
    loudness_db: np.ndarray
    timings: Dict[str, float] = field(default_factory=dict)

    @property
    def max_polyphony(self) -> int:
        """Most notes sounding at once, legato overlaps not counted (:func:`_counts`;
        0 without notes)."""
        return int(max(_counts(self.notes)[1], default=0)) if self.notes else 0

    @property
    def sounding_seconds(self) -> float:
        """Time (s) at least one note sounds."""
        return _sounding_seconds(self.notes)

    @property
    def chord_share(self) -> float:
        """Share of the time notes sound that two or more do, legato overlaps not
        counted (:func:`chord_share`; 0..1)."""
        return chord_share(self.notes)

    @property
    def polyphonic(self) -> bool:
        """Whether the recording plays chords (:data:`POLYPHONIC_SHARE`)."""
        return self.chord_share >= POLYPHONIC_SHARE

    @property
    def seconds(self) -> float:
        """Time spent transcribing (s)."""
        return sum(self.timings.values())

    def summary(self) -> str:
        """``84 notes, up to 3 at once, MIDI 45-81``."""
        if not self.notes:
            return "no notes"
        keys = [n.key for n in self.notes]
        return (f"{len(self.notes)} notes, up to {self.max_polyphony} at once, MIDI "
                f"{min(keys)}-{max(keys)}")


def _counts(notes):
    """``(seconds, notes sounding)`` of every stretch between the events of
    ``notes`` (anything with ``onset`` and ``offset`` in seconds), each note ending
    where a later one starts if that is at most :data:`LEGATO_OVERLAP` before its
    offset: a melody's notes overlapping at a change are one at a time there."""
    onsets = np.sort([n.onset for n in notes])
    events = []
    for n in notes:
        joins = onsets[(onsets > n.onset) & (onsets < n.offset)
                       & (onsets >= n.offset - LEGATO_OVERLAP)]
        events += [(n.onset, 1), (joins[0] if joins.size else n.offset, -1)]
    events.sort()
    times = np.array([t for t, _ in events])
    return np.diff(times), np.cumsum([e for _, e in events])[:-1]


def _sounding_seconds(notes) -> float:
    if not len(notes):
        return 0.0
    seconds, counts = _counts(notes)
    return float(seconds[counts >= 1].sum())


def chord_share(notes) -> float:
    """Share of the time ``notes`` sound that two or more do (0..1; 0 without
    notes), legato overlaps not counted (:func:`_counts`)."""
    if not len(notes):
        return 0.0
    seconds, counts = _counts(notes)
    return float(seconds[counts >= 2].sum() / max(_sounding_seconds(notes), 1e-9))


def gm_velocity(level_db, loudest_db: float) -> np.ndarray:
    """MIDI velocities (int 1..127) of levels (dB) by the General MIDI curve, the
    loudest at 127."""
    v = 127.0 * 10.0 ** ((np.asarray(level_db, np.float64) - loudest_db) / 40.0)
    return np.clip(np.round(v), 1, 127).astype(int)


def check_decoding(onset_threshold: float, frame_threshold: float, min_note_length: float,
                   names=("onset_threshold", "frame_threshold", "min_note_length")) -> None:
    """A one-line ValueError for a threshold outside (0, 1) (posteriors) or a note
    length outside 0..10 s; ``names``: what the caller calls them (a command's flags)."""
    for name, value in zip(names, (onset_threshold, frame_threshold)):
        if not 0.0 < float(value) < 1.0:
            raise ValueError(f"{name}: expected a posterior above 0 and below 1, got "
                             f"{float(value):g}")
    if not 0.0 <= float(min_note_length) <= 10.0:
        raise ValueError(f"{names[2]}: expected 0 to 10 seconds, got {float(min_note_length):g}")


def transcribe(audio, sample_rate: int, onset_threshold: float = ONSET_THRESHOLD,
               frame_threshold: float = FRAME_THRESHOLD,
               min_note_length: float = MIN_NOTE_LENGTH, without_onsets: bool = False,
               keep_partials: bool = False,
               network: Optional[Network] = None) -> Transcription:
    """The notes of mono ``audio`` (``[n_samples]`` in [-1, 1]) at ``sample_rate`` Hz.

    The thresholds and ``without_onsets`` are :func:`~.notes.decode_notes`'
    (posteriors 0..1, seconds). A recording that plays a single line (chords,
    its partial notes left out, under :data:`POLYPHONIC_SHARE` of the time)
    loses its partial notes (:func:`~.notes.partial_notes`) unless
    ``keep_partials``; in chords they stay (a real doubling looks the same).
    Raises a one-line ValueError for audio shorter
    than :data:`MIN_SECONDS`, a bad rate or threshold, or when basic-pitch or
    onnxruntime is missing (saying how to install it).
    """
    check_decoding(onset_threshold, frame_threshold, min_note_length)
    audio = as_mono_audio(audio)
    sample_rate = check_sample_rate(sample_rate)
    if len(audio) < MIN_SECONDS * sample_rate:
        shown = math.floor(len(audio) / sample_rate * 10000) / 10  # 49.98 ms is not "50 ms"
        raise ValueError(f"audio: {shown:g} ms is too short to "
                         f"transcribe; give at least {MIN_SECONDS * 1000:.0f} ms")
    start = time.perf_counter()
    audio = resample_audio(audio, sample_rate, SAMPLE_RATE)
    act = (network or get_network()).activations(audio, SAMPLE_RATE)
    network_seconds = time.perf_counter() - start
    start = time.perf_counter()
    decoded = merge_reonsets(decode_notes(act, onset_threshold, frame_threshold,
                                          min_note_length, without_onsets), act.onset)
    if not keep_partials:
        whole = [d for d, partial in zip(decoded, partial_notes(decoded)) if not partial]
        decoded = whole if chord_share(whole) < POLYPHONIC_SHARE else decoded
    loudness, curves = note_loudness(
        audio, SAMPLE_RATE,
        [(d.onset, d.offset, d.pitch) for d in decoded],
        FRAME_RATE)
    levels = [float(c.max()) for c in curves]
    velocities = gm_velocity(levels, max(levels, default=0.0))
    notes = [TranscribedNote(d.onset, d.offset, d.key, d.bend_cents, d.amplitude, c, int(v))
             for d, c, v in zip(decoded, curves, velocities)]
    return Transcription(notes, len(audio) / SAMPLE_RATE, act, loudness[:act.n_frames],
                         {"network": network_seconds, "notes": time.perf_counter() - start})


__all__ = ["MIN_SECONDS", "POLYPHONIC_SHARE", "TranscribedNote", "Transcription", "check_decoding",
           "chord_share", "gm_velocity", "transcribe"]
