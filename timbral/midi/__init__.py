"""Playing models from MIDI: files, several voices, each instrument's own phrasing.

- :mod:`.score`: a standard MIDI file (read with mido) -> notes, pitch bend
  (with its RPN range), CC7/CC11, in seconds; parts per (track, channel);
- :mod:`.voices`: overlapping notes -> monophonic voices;
- :mod:`.expression`: an instrument's expression profile (note levels,
  attack, release, scoop, vibrato, portamento) measured from its training
  features and stored as ``expression.json`` in its model folder;
- :mod:`.curves`: a voice's notes + a profile -> f0 and loudness per frame;
- :mod:`.play`: every voice through its model's synthesis graph, mixed;
- :mod:`.plot`: a piano roll under the output's f0 and loudness;
- :mod:`.live`: the same from note events as they arrive (``timbral live --midi``);
- :mod:`.controls`: the options of playing a file (track, channel, transpose,
  tempo scale, legato, expression overrides), one table for ``timbral play``
  and the web app.

``docs/midi.md`` describes how it works and what a profile holds.
"""

from .curves import phrases, voice_curves
from .expression import (OVERRIDES, Curve, ExpressionProfile, Vibrato, measure_expression,
                         neutral_profile, profile_for)
from .play import MidiRendering, PlayedVoice, play_midi, play_score
from .score import MidiNote, Part, Score, read_midi
from .voices import Voice, allocate_voices, part_voices

__all__ = ["Curve", "ExpressionProfile", "MidiNote", "MidiRendering", "OVERRIDES", "Part",
           "PlayedVoice", "Score", "Vibrato", "Voice", "allocate_voices", "measure_expression",
           "neutral_profile", "part_voices", "phrases", "play_midi", "play_score",
           "profile_for", "read_midi", "voice_curves"]
