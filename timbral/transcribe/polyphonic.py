"""Polyphonic timbre transfer: a recording's notes played by a model, its dynamics kept.

:func:`transfer_notes` takes a :class:`~.transcription.Transcription` of a
recording and plays it as ``timbral play`` plays a MIDI file
(:func:`timbral.midi.play_score`: voices, the model's expression profile, its
one synthesis graph per voice), with the performance's own dynamics and
pitch bends:

- **voices**: the notes are dealt to monophonic voices
  (:func:`.midifile.voices_of`); each voice is one part with its own controls;
- **pitch**: each note's key, its bends (the voice's pitch wheel, a range of
  :data:`BEND_RANGE` semitones), and, with ``adjust``, whole octaves moving the
  notes into the range the model was trained on (fewest notes outside
  ``min_pitch_note..max_pitch_note``, then nearest ``mean_pitch_note``); then
  ``pitch_shift`` octaves and ``semitones``. A chord spread wider than the
  model's range still leaves notes outside it, which a model plays badly (its
  decoder never saw such f0): with ``adjust`` those notes are moved by whole
  octaves into the range, as an arranger would (the harmony keeps its notes,
  the voicing changes), a voice's line as a whole where that fits
  (:func:`fold_voices`);
- **loudness**: each note's own loudness from the recording
  (:mod:`.dynamics`, in the model's loudness definition). Its peak picks the
  velocity whose level in the model's profile is nearest, after a shift that
  puts the notes' median peak at the profile's median level (with
  ``adjust``) and ``loudness_shift``; after the peak, the note follows its
  curve down (the voice's CC11 expression, never above 0 dB), so a piano's
  decay, a crescendo or a single loud note come through. A note softer than the
  model's softest velocity is turned down by the difference too (a faint note
  the network found in a release tail stays faint).

The output is as long as the input, at the model's rate.

:class:`PolyphonicTransfer` is :func:`timbral.transfer.transfer`'s stand-in for
``timbral transfer --polyphonic`` and the web app's switch: it transcribes,
and plays the notes when the recording plays chords (or always); a recording
without chords keeps the pitch tracker's path, which follows a single line's
expression more closely. Without the switch the command and the web app run it in
``hint`` mode: the tracker's path, and a line saying when the recording plays chords
(a chord recording otherwise came out as its bass line, unexplained).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple, Union

import numpy as np

from ..audio import check_sample_rate, resample_audio
from ..midi import MidiRendering, Part, Score, play_score, profile_for
from ..midi.plot import roll_figure
from ..midi.score import DEFAULT_EXPRESSION, DEFAULT_VOLUME, ChannelControls, MidiNote, StepCurve
from ..models import Autoencoder
from ..plots import _save
from ..transfer.controls import CONTROLS, check_controls
from ..transfer.pipeline import transfer
from ..validation import as_mono_audio, check_number
from ..zoo import as_model
from .dynamics import note_loudness
from .midifile import voices_of
from .network import FRAME_RATE
from .transcription import TranscribedNote, Transcription, transcribe

#: Pitch-wheel range of every voice (semitones): the network's bends reach 8.3.
BEND_RANGE = 12.0
#: Octave shifts ``adjust`` considers.
OCTAVES = range(-3, 4)
#: Deepest cut the expression makes below a note's velocity level (dB): the depth of
#: the loudness floor.
MAX_CUT_DB = 80.0
#: The chord hint of a plain transfer listens to this much of a recording (s), in
#: this many excerpts.
HINT_SECONDS, HINT_EXCERPTS = 6.0, 3


@dataclass
class PolyphonicResult:
    """What :func:`transfer_notes` made.

    Attributes:
      audio: float32 ``[n_samples]`` at ``sample_rate`` (the model's rate), as
        long as the input.
      sample_rate: Hz.
      transcription: the notes played.
      rendering: :func:`timbral.midi.play_score` 's result (voices, curves, score).
      octaves, semitones: the pitch moves applied to every note (adjust plus manual).
      note_semitones: float64 ``[n_notes]``, the move of each of
        ``transcription.notes`` (``octaves`` and ``semitones``, plus its own
        octaves when adjust moved it into the model's range).
      messages: what happened, for the user.
      timings: seconds in ``"model_load"``, ``"features"`` (the transcription),
        ``"adjust"`` (notes -> parts) and ``"synthesis"``.
    """

    audio: np.ndarray
    sample_rate: int
    transcription: Transcription
    rendering: MidiRendering
    octaves: float
    semitones: float
    note_semitones: np.ndarray
    messages: List[str] = field(default_factory=list)
    timings: Dict[str, float] = field(default_factory=dict)

    @property
    def played_hz(self) -> np.ndarray:
        """The pitch (Hz) of every note played, after its moves."""
        keys = np.array([n.key for n in self.transcription.notes], np.float64)
        return 440.0 * 2.0 ** ((keys + self.note_semitones - 69.0) / 12.0)

    @property
    def note_on_fraction(self) -> float:
        """Share of the output's time some note of the transcription sounds."""
        return min(1.0, self.transcription.sounding_seconds
                   / max(len(self.audio) / self.sample_rate, 1e-9))

    def plot(self, path, title: str = "", overwrite: bool = False) -> Path:
        """The piano roll under each voice's output f0 and loudness
        (:func:`timbral.midi.plot.roll_figure`) as a PNG."""
        return _save(roll_figure(self.rendering, title), path, overwrite)


def octave_shift(keys, statistics) -> int:
    """Whole octaves moving MIDI ``keys`` into the model's note range (see the
    module doc); 0 without statistics."""
    keys = np.asarray(keys, np.float64)
    if not statistics or not len(keys) or "min_pitch_note" not in statistics:
        return 0
    low, high = statistics["min_pitch_note"], statistics["max_pitch_note"]
    centre = statistics.get("mean_pitch_note", 0.5 * (low + high))
    return min(OCTAVES, key=lambda k: (int(np.sum((keys + 12 * k < low) | (keys + 12 * k > high))),
                                       abs(np.median(keys) + 12 * k - centre)))


def fold_voices(keys, voices: List[slice], low: float, high: float) -> np.ndarray:
    """``keys`` moved into ``[low, high]`` a voice at a time: each voice (a slice of
    ``keys``) moved by whole octaves, then any note still outside on its own
    (:func:`fold_into`), choosing the octaves that move fewest of its notes, then
    split the line into fewest different moves, then move least. A cello line 48,
    45, 43, 45, 46 under a range from 59 came out 60, 69, 67, 69, 70 note by note; it
    now moves up two octaves as a line, and a line with one note too high keeps the
    others where they are."""
    keys = np.asarray(keys, np.float64)
    out = keys.copy()
    for part in voices:
        line = keys[part]

        def cost(octaves: int):
            moves = fold_into(line + 12 * octaves, low, high) - line
            return int(np.count_nonzero(moves)), len(np.unique(moves)), abs(octaves)

        octaves = min(OCTAVES, key=cost)
        out[part] = fold_into(line + 12 * octaves, low, high)
    return out


def fold_into(keys, low: float, high: float) -> np.ndarray:
    """``keys`` moved by whole octaves into ``[low, high]`` (at least an octave wide)."""
    keys = np.asarray(keys, np.float64)
    up = np.ceil(np.maximum(low - keys, 0.0) / 12.0)
    down = np.ceil(np.maximum(keys - high, 0.0) / 12.0)
    return keys + 12.0 * (up - down)


def _velocity_for(levels_db: np.ndarray, profile) -> Tuple[np.ndarray, np.ndarray]:
    """``(velocities, below_db)``: the velocities (1..127) whose profile levels are
    nearest ``levels_db``, and how far (dB, <= 0) a level lies below the softest one."""
    table = profile.level_db(np.arange(1, 128))
    levels = np.asarray(levels_db, np.float64)
    velocities = 1 + np.argmin(np.abs(table[None, :] - levels[:, None]), axis=1)
    return velocities, np.minimum(levels - table[0], 0.0)


def _voice_controls(notes: List[TranscribedNote], curves: List[np.ndarray],
                    below_db: np.ndarray, frame_rate: float) -> ChannelControls:
    """A voice's pitch wheel (every note's bends) and CC11 (each note's fall from
    its peak, and ``below_db`` for a note softer than the model's softest
    velocity), as step curves at the notes' frames."""
    bend_t, bend_v, expr_t, expr_v = [], [], [], []
    for note, curve, below in zip(notes, curves, below_db):
        t = note.onset + np.arange(len(note.bend_cents)) / FRAME_RATE
        bend_t.append(t)
        bend_v.append(note.bend_cents / (BEND_RANGE * 100.0) * 8192.0)
        fall = curve - curve.max()
        fall[:int(np.argmax(curve))] = 0.0  # the attack is the profile's
        expr_t.append(note.onset + np.arange(len(curve)) / frame_rate)
        expr_v.append(DEFAULT_EXPRESSION * 10.0 ** (np.maximum(fall + below, -MAX_CUT_DB) / 40.0))
    return ChannelControls(StepCurve(np.concatenate(bend_t), np.concatenate(bend_v), 0.0),
                           StepCurve([], [], BEND_RANGE),
                           StepCurve([], [], float(DEFAULT_VOLUME)),
                           StepCurve(np.concatenate(expr_t), np.concatenate(expr_v),
                                     float(DEFAULT_EXPRESSION)))


def transfer_notes(transcription: Transcription, audio, sample_rate: int,
                   model: Union[str, Autoencoder], *, adjust: bool = True,
                   pitch_shift: float = 0.0, semitones: float = 0.0,
                   loudness_shift: float = 0.0, seed: int = 0, name: str = "recording",
                   progress: bool = False) -> PolyphonicResult:
    """Play ``transcription`` (of ``audio``, mono ``[n_samples]`` at ``sample_rate``)
    with ``model`` (see the module doc).

    ``adjust``, ``pitch_shift`` (octaves, -2..2), ``semitones`` (-24..24) and
    ``loudness_shift`` (dB, -20..20) mean what they mean for
    :func:`timbral.transfer.transfer`; ``name`` names the recording in the
    score (pictures). Raises a one-line ValueError when the transcription holds
    no notes.
    """
    timings = {}
    start = time.perf_counter()
    model = as_model(model)
    timings["model_load"] = time.perf_counter() - start
    timings["features"] = transcription.seconds
    pitch_shift = check_number(pitch_shift, "pitch_shift", -2.0, 2.0)
    semitones = check_number(semitones, "semitones", -24.0, 24.0)
    loudness_shift = check_number(loudness_shift, "loudness_shift", -20.0, 20.0)
    if not transcription.notes:
        raise ValueError("no notes found to play (silence, or nothing the transcriber hears "
                         "as notes); transfer it without --polyphonic")
    start = time.perf_counter()
    audio = resample_audio(as_mono_audio(audio), check_sample_rate(sample_rate),
                           model.sample_rate)
    voices = voices_of(transcription.notes)
    flat = [n for voice in voices for n in voice]
    _, curves = note_loudness(audio, model.sample_rate,
                              [(n.onset, n.offset, n.pitch) for n in flat], model.frame_rate,
                              model.config["loudness_definition"])
    profile, _ = profile_for(model)  # play_score says which profile it plays with
    peaks = np.array([c.max() for c in curves])
    level_shift = (float(profile.level_db(64) - np.median(peaks)) if adjust else 0.0)
    velocities, below = _velocity_for(peaks + level_shift + loudness_shift, profile)
    octaves = (octave_shift([n.key for n in flat], model.statistics) if adjust else 0)
    transpose = 12 * (octaves + pitch_shift) + semitones
    keys = np.array([n.key for n in flat], np.float64) + transpose
    stats = model.statistics or {}
    folded = 0
    if adjust and stats.get("max_pitch_note", 0) - stats.get("min_pitch_note", 0) >= 12:
        ends = np.cumsum([0] + [len(voice) for voice in voices])
        moved = fold_voices(keys, [slice(a, b) for a, b in zip(ends[:-1], ends[1:])],
                            stats["min_pitch_note"], stats["max_pitch_note"])
        folded = int(np.sum(moved != keys))
        keys = moved
    parts, i = [], 0
    for index, voice in enumerate(voices):
        mine = slice(i, i + len(voice))
        notes = [MidiNote(n.onset, n.offset, float(k), int(v), 0, index)
                 for n, k, v in zip(voice, keys[mine], velocities[mine])]
        parts.append(Part(0, index, f"voice {index + 1}", notes,
                          _voice_controls(voice, curves[mine], below[mine], model.frame_rate)))
        i += len(voice)
    # voices_of() may cut a note short (a new object): find notes by onset and key
    position = {(n.onset, n.key): j for j, n in enumerate(transcription.notes)}
    note_semitones = np.zeros(len(transcription.notes))
    for n, k in zip(flat, keys):
        note_semitones[position[(n.onset, n.key)]] = k - n.key
    score = Score(parts, max(n.offset for n in flat), [(0, name, len(flat))], name, [])
    timings["adjust"] = time.perf_counter() - start
    start = time.perf_counter()
    rendering = play_score(score, model, seed=seed, progress=progress)
    timings["synthesis"] = time.perf_counter() - start
    out = np.pad(rendering.audio, (0, max(0, len(audio) - len(rendering.audio))))[:len(audio)]
    messages = [f"polyphonic: {transcription.summary()} (basic-pitch) -> {len(voices)} "
                f"voice(s) played by {model.name}, each note's loudness from the recording"]
    if octaves or pitch_shift or semitones:
        messages.append(f"polyphonic: notes moved {transpose:+g} semitones"
                        + (f" ({octaves:+d} octave(s) into {model.name}'s range)"
                           if octaves else ""))
    if folded:
        messages.append(f"polyphonic: {folded} note(s) still outside {model.name}'s range "
                        f"(MIDI {stats['min_pitch_note']:.0f}-{stats['max_pitch_note']:.0f}) "
                        f"moved by octaves into it")
    if adjust:
        messages.append(f"polyphonic: note levels shifted {level_shift:+.1f} dB to "
                        f"{model.name}'s median note level")
    messages += rendering.messages
    return PolyphonicResult(out.astype(np.float32), model.sample_rate, transcription,
                            rendering, float(octaves + pitch_shift), float(semitones),
                            note_semitones, messages, timings)


#: The controls the polyphonic path takes; the others shape the pitch tracker's path.
POLYPHONIC_CONTROLS = ("adjust", "pitch_shift", "semitones", "loudness_shift")
#: ``auto``: play the notes when the recording plays chords; ``always``: in any case;
#: ``hint``: keep the pitch tracker's path, and say when the recording plays chords.
MODES = ("auto", "always", "hint")


class PolyphonicTransfer:
    """Called as :func:`timbral.transfer.transfer` is (audio, rate, model, the
    transfer controls, ``pitch_tracker``, ``seed``, ``progress``): transcribes the
    recording and returns :func:`transfer_notes`' result, or with ``mode``
    'auto' and a recording without chords (:attr:`~.transcription.Transcription.polyphonic`)
    ``transfer()``'s, saying which it used. ``hint``: ``transfer()``'s result, with a
    line when the recording plays chords (from :data:`HINT_SECONDS` of it).
    """

    def __init__(self, mode: str = "auto"):
        if mode not in MODES:
            raise ValueError(f"polyphonic: expected one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode

    def __call__(self, audio, sample_rate: int, model, *, pitch_tracker=None, seed: int = 0,
                 progress: bool = False, **controls):
        c = check_controls(controls)
        if self.mode == "hint":
            return self._hint(audio, sample_rate, model, pitch_tracker=pitch_tracker, seed=seed,
                              progress=progress, **controls)
        notes = transcribe(audio, sample_rate)
        if self.mode == "auto" and not notes.polyphonic:
            result = transfer(audio, sample_rate, model, pitch_tracker=pitch_tracker, seed=seed,
                              progress=progress, **controls)
            result.timings["features"] += notes.seconds
            result.messages.append(
                f"monophonic: chords fill {notes.chord_share:.0%} of the notes' time "
                f"({notes.summary()}), so the pitch tracker played it (`--polyphonic always` "
                f"plays the transcribed notes)")
            return result
        unused = [k.name for k in CONTROLS
                  if k.name not in POLYPHONIC_CONTROLS and c[k.name] != k.default]
        result = transfer_notes(notes, audio, sample_rate, model, seed=seed, progress=progress,
                                **{k: c[k] for k in POLYPHONIC_CONTROLS})
        if unused:
            result.messages.append(f"polyphonic: {', '.join(unused)} shape(s) the pitch "
                                   f"tracker's path only; not used")
        return result

    @staticmethod
    def _hint(audio, sample_rate: int, model, **kwargs):
        """``transfer()``'s result, saying so when the recording plays chords: the
        tracker then follows one of their lines, often the lowest."""
        try:
            notes = transcribe(_excerpts(as_mono_audio(audio), check_sample_rate(sample_rate)),
                               sample_rate)
        except ValueError:  # no transcription here (basic-pitch missing): no hint
            notes = None
        result = transfer(audio, sample_rate, model, **kwargs)
        if notes is not None:
            result.timings["features"] += notes.seconds
            if notes.polyphonic:
                result.messages.append(
                    f"This recording plays chords ({notes.chord_share:.0%} of its notes' "
                    f"time): the pitch tracker follows one line of them, often the lowest. "
                    f"The polyphonic switch (--polyphonic) plays every note.")
        return result


def _excerpts(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """At most :data:`HINT_SECONDS` of ``audio`` (``[n]``): itself, or that much in
    :data:`HINT_EXCERPTS` evenly spaced excerpts with 0.3 s of silence between (so no
    note joins two), each faded in and out over 10 ms (a cut is no onset). The hint's
    transcription then costs about 0.2 s (one core), however long the recording."""
    size = int(HINT_SECONDS * sample_rate / HINT_EXCERPTS)
    if len(audio) <= HINT_SECONDS * sample_rate:
        return audio
    gap = np.zeros(int(0.3 * sample_rate), np.float32)
    fade = np.minimum(1.0, np.minimum(np.arange(size) + 1, size - np.arange(size))
                      / (0.01 * sample_rate)).astype(np.float32)
    starts = np.linspace(0, len(audio) - size, HINT_EXCERPTS).astype(np.int64)
    return np.concatenate([part for s in starts for part in (audio[s:s + size] * fade, gap)])


__all__ = ["BEND_RANGE", "MODES", "fold_into", "fold_voices", "POLYPHONIC_CONTROLS", "PolyphonicResult",
           "PolyphonicTransfer", "octave_shift", "transfer_notes"]
