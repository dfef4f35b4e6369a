"""A transcription as a standard MIDI file (written with mido).

MIDI has one pitch wheel per channel, so notes that overlap cannot bend apart
on one channel. The notes are dealt to monophonic voices
(:func:`timbral.midi.allocate_voices`, as ``timbral play`` does) and each voice
is a track on its own channel (channel 10, General MIDI percussion, is
skipped). From the 16th voice on, voices share the channel of the voice that
bends least (a piano's notes hardly bend) and send no bends or bend range:
they would replace those of the voice whose channel they share. Each
channel first sets its pitch-bend range (RPN 0) wide enough for the largest
bend, then every note's bends are sent from its onset, one message whenever
the bend moves by :data:`BEND_STEP_CENTS` or more (a note's first bend goes
just before its note-on, so no bend carries over from the note before). Type
1, 120 bpm, 480 ticks per beat (about 1 ms per tick); track 0 holds the tempo
and ends where the recording does (a trailing rest is kept).
``timbral play notes.mid`` plays it back with a model.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List

import numpy as np

from ..files import atomic_output
from ..midi import MidiNote, allocate_voices
from .network import FRAME_RATE
from .transcription import TranscribedNote, Transcription

TICKS_PER_BEAT = 480
TEMPO = 500_000  # microseconds per beat: 120 bpm
#: Channels voices go on (0-based; 9 is General MIDI percussion).
CHANNELS = [c for c in range(16) if c != 9]
#: A new pitch-bend message when the bend has moved this much (cents).
BEND_STEP_CENTS = 2.0


def _ticks(seconds: float) -> int:
    return int(round(seconds * 1e6 / TEMPO * TICKS_PER_BEAT))


def voices_of(notes: List[TranscribedNote]) -> List[List[TranscribedNote]]:
    """The notes dealt to monophonic voices (:func:`timbral.midi.allocate_voices`);
    a note cut short by a legato successor keeps its own bends."""
    by_key: Dict[tuple, TranscribedNote] = {(n.onset, n.key): n for n in notes}
    dealt = allocate_voices([MidiNote(n.onset, n.offset, n.key, n.velocity) for n in notes])
    return [[_cut(by_key[(m.onset, int(m.pitch))], m.offset) for m in voice] for voice in dealt]


def _cut(note: TranscribedNote, offset: float) -> TranscribedNote:
    if offset >= note.offset:
        return note
    n = max(1, int(round((offset - note.onset) * FRAME_RATE)))
    return TranscribedNote(note.onset, offset, note.key, note.bend_cents[:n], note.confidence,
                           note.loudness_db[:n], note.velocity)


def write_midi(transcription: Transcription, path, overwrite: bool = False) -> Path:
    """Write ``transcription`` as a MIDI file (see the module doc); an existing
    file only with ``overwrite``. Returns the path."""
    import mido

    path = Path(path)
    if path.suffix.lower() not in (".mid", ".midi"):
        raise ValueError(f"{path}: MIDI files are written as .mid; use a .mid name")
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=TEMPO, time=0))
    meta.append(mido.MetaMessage("track_name", name="transcribed by timbral (basic-pitch)",
                                 time=0))
    # the song lasts as long as the recording: a player keeps its trailing rest
    meta.append(mido.MetaMessage("end_of_track", time=_ticks(transcription.duration)))
    midi.tracks.append(meta)
    voices = voices_of(transcription.notes)
    own = voices[:len(CHANNELS)]
    steadiest = CHANNELS[int(np.argmin([_largest_bend(v) for v in own]))] if own else 0
    for index, voice in enumerate(voices):
        shared = index >= len(CHANNELS)
        midi.tracks.append(_voice_track(voice, index, steadiest if shared else CHANNELS[index],
                                        mido, bends=not shared))
    with atomic_output(path, overwrite) as tmp:
        midi.save(str(tmp))
    return path


def _largest_bend(voice: List[TranscribedNote]) -> float:
    """The largest bend (cents, absolute) of a voice's notes."""
    return max(float(np.abs(n.bend_cents).max()) for n in voice)


def _voice_track(voice: List[TranscribedNote], index: int, channel: int, mido,
                 bends: bool = True):
    """One voice's track: name, bend range, then notes and bends in time order
    (without ``bends``: the notes only)."""
    semitones = max(2, min(24, math.ceil(_largest_bend(voice) / 100.0)))
    events = [(0, 0, mido.Message("control_change", channel=channel, control=c, value=v))
              for c, v in ((101, 0), (100, 0), (6, semitones), (38, 0))] if bends else []
    for note in voice:
        on, off = _ticks(note.onset), _ticks(note.offset)
        events.append((off, 0, mido.Message("note_off", channel=channel, note=note.key,
                                            velocity=0)))
        last = None
        for i, cents in enumerate(note.bend_cents if bends else ()):
            if last is None or abs(cents - last) >= BEND_STEP_CENTS:
                wheel = int(np.clip(round(cents / (semitones * 100.0) * 8192), -8192, 8191))
                tick = on if last is None else max(on, _ticks(note.onset + i / FRAME_RATE))
                if tick < off or last is None:
                    events.append((tick, 1, mido.Message("pitchwheel", channel=channel,
                                                         pitch=wheel)))
                last = float(cents)
        events.append((on, 2, mido.Message("note_on", channel=channel, note=note.key,
                                           velocity=note.velocity)))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=f"voice {index + 1}", time=0))
    now = 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(message.copy(time=tick - now))
        now = tick
    return track


__all__ = ["voices_of", "write_midi"]
