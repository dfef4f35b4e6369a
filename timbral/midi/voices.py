"""Overlapping notes -> monophonic voices.

A model plays one note at a time, so each part's notes are dealt to voices,
each of which becomes one rendering (its own decoder and synth state):

- notes are taken by onset (higher pitch first within a chord);
- a note goes to a free voice (its last note has ended), the one whose last
  pitch is nearest (chords move to the nearest chord tone, so lines stay
  lines);
- a note that overlaps the last note of a voice by at most
  :data:`LEGATO_OVERLAP` seconds (keyboard legato: the next key goes down
  before the last comes up) joins that voice when no voice is free, and the
  earlier note is cut at its onset;
- otherwise it opens a new voice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import List, Sequence

from .score import MidiNote, Part

#: Longest overlap (s) of consecutive notes still played as one legato line.
LEGATO_OVERLAP = 0.05


@dataclass
class Voice:
    """One monophonic line of a part: notes sorted by onset, none overlapping."""

    part: Part
    index: int
    notes: List[MidiNote]

    @property
    def label(self) -> str:
        return f"{self.part.label} voice {self.index + 1}"


def allocate_voices(notes: Sequence[MidiNote],
                    legato_overlap: float = LEGATO_OVERLAP) -> List[List[MidiNote]]:
    """Deal ``notes`` to monophonic voices (see the module doc); lists of notes,
    each sorted by onset and non-overlapping (offsets may be cut)."""
    voices: List[List[MidiNote]] = []
    for note in sorted(notes, key=lambda n: (n.onset, -n.pitch)):
        free = [v for v in voices if v[-1].offset <= note.onset]
        if not free:
            free = [v for v in voices if v[-1].offset - note.onset <= legato_overlap
                    and v[-1].onset < note.onset]
        if free:
            voice = min(free, key=lambda v: (abs(v[-1].pitch - note.pitch), voices.index(v)))
            if voice[-1].offset > note.onset:
                voice[-1] = replace(voice[-1], offset=note.onset)
            voice.append(note)
        else:
            voices.append([note])
    return voices


def part_voices(part: Part) -> List[Voice]:
    """A part's notes as :class:`Voice` s (see :func:`allocate_voices`)."""
    return [Voice(part, i, notes) for i, notes in enumerate(allocate_voices(part.notes))]


__all__ = ["LEGATO_OVERLAP", "Voice", "allocate_voices", "part_voices"]
