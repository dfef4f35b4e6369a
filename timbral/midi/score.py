"""Standard MIDI files -> notes and per-channel controls, in seconds.

:func:`read_midi` reads a file with mido (the bytes, running status and meta
events are mido's business) and lays its events on a time axis in seconds
with the file's tempo map. What it keeps:

- notes (note-on with velocity > 0 up to the matching note-off or note-on
  with velocity 0); a key struck again before its note-off ends the earlier
  note there (a note-off at that same instant belongs to the earlier note, as
  pretty_midi reads it); a note-off ends its channel's note whichever track
  sends it; a note released while its channel's sustain pedal (CC64) is down
  goes on until the pedal comes up (or the key is struck again, or CC121
  resets the controllers); CC123 (all notes off) and CC120 (all sound off)
  end every note of their channel; notes never released end with their track
  (and are named in the messages);
- per channel, as step curves over time: the pitch wheel, its range (RPN 0,
  pitch-bend sensitivity: CC101/CC100 = 0/0 then CC6 semitones and CC38
  cents; 2 semitones until a file says otherwise), CC7 volume and CC11
  expression. A channel's controls belong to the channel whichever track
  sends them, as in a synthesiser.

CC7 and CC11 become gains with the General MIDI curve, ``40 log10(value /
reference)`` dB, relative to their defaults (volume 100, expression 127) so a
file that never sends them plays at the level its velocities ask for. Other
events (sostenuto and soft pedals, modulation wheel, program changes) are ignored.

A *part* is the notes of one (track, channel) pair with that channel's
controls; :mod:`timbral.midi.voices` splits a part into monophonic voices.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..validation import check_number, check_size

#: General MIDI channel of percussion (0-based 9, "channel 10"): left out unless chosen.
DRUM_CHANNEL = 9
#: Defaults of the controllers a file may never send (General MIDI).
DEFAULT_VOLUME, DEFAULT_EXPRESSION, DEFAULT_BEND_RANGE = 100, 127, 2.0
#: Microseconds per quarter note before the first tempo event (120 bpm).
DEFAULT_TEMPO = 500_000
#: What :func:`read_midi` accepts (``timbral play``'s options and the web app's MIDI
#: options take their ranges from here, through :mod:`timbral.midi.controls`):
#: channels as musicians count them; the most it transposes either way (semitones); the
#: tempo factors (times faster).
MIN_CHANNEL, MAX_CHANNEL = 1, 16
MAX_TRANSPOSE = 48.0
MIN_TEMPO_SCALE, MAX_TEMPO_SCALE = 0.05, 20.0
#: Controller numbers.
CC_VOLUME, CC_EXPRESSION, CC_DATA_MSB, CC_DATA_LSB = 7, 11, 6, 38
CC_RPN_LSB, CC_RPN_MSB, CC_NRPN_LSB, CC_NRPN_MSB, CC_RESET = 100, 101, 98, 99, 121
CC_ALL_SOUND_OFF, CC_ALL_NOTES_OFF = 120, 123
#: The sustain (damper) pedal: down from value 64.
CC_SUSTAIN = 64
#: SMPTE time divisions: frames per second by the header's code (29: 29.97 drop-frame).
SMPTE_FPS = {24: 24.0, 25: 25.0, 29: 30000 / 1001, 30: 30.0}


@dataclass(frozen=True)
class MidiNote:
    """One note: onset and offset in seconds, pitch in semitones (MIDI key plus
    any transposition), velocity 1..127, the track (0-based) and channel (0-based)."""

    onset: float
    offset: float
    pitch: float
    velocity: int
    track: int = 0
    channel: int = 0

    @property
    def duration(self) -> float:
        return self.offset - self.onset


class StepCurve:
    """A value that changes at given times and holds in between.

    ``times`` (s, ascending) and ``values`` of the same length; before the first
    time the value is ``default``. Calling it with an array of times returns
    the values in force then (float64).
    """

    def __init__(self, times: Sequence[float], values: Sequence[float], default: float):
        self.times = np.asarray(times, np.float64)
        self.values = np.asarray(values, np.float64)
        self.default = float(default)

    def __call__(self, t) -> np.ndarray:
        t = np.asarray(t, np.float64)
        i = np.searchsorted(self.times, t, side="right") - 1
        table = np.concatenate([[self.default], self.values])
        return table[i + 1]


def bend_cents(wheel, bend_range) -> np.ndarray:
    """Pitch bend in cents from the wheel (-8192..8191) and its range (semitones)."""
    return np.asarray(wheel, np.float64) / 8192.0 * np.asarray(bend_range) * 100.0


def gain_db(volume, expression) -> np.ndarray:
    """CC7 and CC11 as a gain in dB (0 at their defaults; -inf at 0)."""
    with np.errstate(divide="ignore"):
        return (40.0 * np.log10(np.asarray(volume, np.float64) / DEFAULT_VOLUME)
                + 40.0 * np.log10(np.asarray(expression, np.float64) / DEFAULT_EXPRESSION))


class ChannelState:
    """One channel's controllers as a synthesiser keeps them, message by message:
    ``values`` holds ``wheel`` (-8192..8191), ``range`` (semitones, RPN 0),
    ``volume`` (CC7) and ``expression`` (CC11); ``pedal`` whether the sustain
    pedal (CC64) is down (its caller holds the notes let go under it)."""

    DEFAULTS = {"wheel": 0.0, "range": DEFAULT_BEND_RANGE, "volume": float(DEFAULT_VOLUME),
                "expression": float(DEFAULT_EXPRESSION)}

    def __init__(self):
        self.values = dict(self.DEFAULTS)
        self._select: List[Optional[int]] = [None, None]  # RPN MSB, LSB
        self._rpn: Optional[Tuple[int, int]] = None
        self._range = [DEFAULT_BEND_RANGE, 0.0]  # semitones, cents
        self.pedal = False

    def apply(self, message) -> List[str]:
        """Take a mido message (pitchwheel or control_change); the names of the values
        it changed."""
        if message.type == "pitchwheel":
            self.values["wheel"] = float(message.pitch)
            return ["wheel"]
        if message.type != "control_change":
            return []
        number, value = message.control, message.value
        if number == CC_VOLUME:
            self.values["volume"] = float(value)
            return ["volume"]
        if number == CC_EXPRESSION:
            self.values["expression"] = float(value)
            return ["expression"]
        if number == CC_SUSTAIN:
            self.pedal = value >= 64
        if number in (CC_RPN_MSB, CC_RPN_LSB):
            self._select[0 if number == CC_RPN_MSB else 1] = value
            self._rpn = tuple(self._select) if None not in self._select else None
        elif number in (CC_NRPN_MSB, CC_NRPN_LSB):  # data entry now addresses an NRPN
            self._select, self._rpn = [None, None], None
        elif number in (CC_DATA_MSB, CC_DATA_LSB) and self._rpn == (0, 0):
            self._range[0 if number == CC_DATA_MSB else 1] = float(value)
            self.values["range"] = self._range[0] + self._range[1] / 100.0
            return ["range"]
        elif number == CC_RESET:  # reset all controllers (RP-015): wheel, CC11, the pedal
            self._select, self._rpn, self.pedal = [None, None], None, False
            self.values.update(wheel=0.0, expression=float(DEFAULT_EXPRESSION))
            return ["wheel", "expression"]
        return []

    def bend_cents(self) -> float:
        return float(bend_cents(self.values["wheel"], self.values["range"]))

    def gain_db(self) -> float:
        return float(gain_db(self.values["volume"], self.values["expression"]))


@dataclass
class ChannelControls:
    """A channel's controllers over time (step curves of the raw MIDI values)."""

    wheel: StepCurve  # -8192..8191
    bend_range: StepCurve  # semitones
    volume: StepCurve  # CC7 0..127
    expression: StepCurve  # CC11 0..127

    def bend_cents(self, t) -> np.ndarray:
        """Pitch bend in cents at times ``t`` (s): wheel / 8192 x range."""
        return bend_cents(self.wheel(t), self.bend_range(t))

    def gain_db(self, t) -> np.ndarray:
        """CC7 and CC11 as a gain in dB at times ``t`` (0 at their defaults; -inf at 0)."""
        return gain_db(self.volume(t), self.expression(t))


@dataclass
class Part:
    """The notes of one track on one channel (sorted by onset) and the channel's controls."""

    track: int
    channel: int
    name: str
    notes: List[MidiNote]
    controls: ChannelControls

    @property
    def label(self) -> str:
        """``track N 'name' channel C`` (channel 1-based, as musicians count)."""
        name = f" {self.name!r}" if self.name else ""
        return f"track {self.track}{name} channel {self.channel + 1}"


@dataclass
class Score:
    """A MIDI file read into seconds.

    Attributes:
      parts: the selected notes, one :class:`Part` per (track, channel).
      duration: the last note-off (s).
      tracks: ``(index, name, number of notes)`` of every track in the file.
      path: where it was read from.
      messages: what was left out and why (one line each).
      end: where the song ends (s): its last event, the end-of-track after a
        trailing rest included (0: at its last note).
      percussion: the tracks whose channel 10 notes were left out.
    """

    parts: List[Part]
    duration: float
    tracks: List[Tuple[int, str, int]]
    path: str
    messages: List[str]
    end: float = 0.0
    percussion: Tuple[int, ...] = ()

    @property
    def notes(self) -> List[MidiNote]:
        return sorted((n for p in self.parts for n in p.notes), key=lambda n: n.onset)


class _TempoMap:
    """Ticks -> seconds through a sorted list of ``(tick, microseconds per beat)``."""

    def __init__(self, changes: List[Tuple[int, int]], ticks_per_beat: int):
        changes = sorted(changes, key=lambda c: c[0])
        ticks = [0]
        tempos = [DEFAULT_TEMPO]
        for tick, tempo in changes:
            if tick == ticks[-1]:
                tempos[-1] = tempo
            else:
                ticks.append(tick)
                tempos.append(tempo)
        self.ticks = np.array(ticks, np.float64)
        self.seconds_per_tick = np.array(tempos, np.float64) / 1e6 / ticks_per_beat
        self.start = np.concatenate([[0.0], np.cumsum(np.diff(self.ticks)
                                                      * self.seconds_per_tick[:-1])])

    def seconds(self, tick: int) -> float:
        i = int(np.searchsorted(self.ticks, tick, side="right")) - 1
        return float(self.start[i] + (tick - self.ticks[i]) * self.seconds_per_tick[i])


def _whole_events(track: bytes) -> int:
    """How many bytes of a track's events (the bytes after its chunk header) hold whole
    events: mido reads only whole tracks, and a track cut inside an event would be
    refused."""
    at, end, status = 0, 0, 0

    def number() -> int:  # a variable-length quantity
        nonlocal at
        value = 0
        while at < len(track):
            byte = track[at]
            at += 1
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                return value
        raise EOFError

    try:
        while at < len(track):
            number()  # delta time
            if at >= len(track):
                break
            kind = status  # running status, as mido reads it: meta events do not set it
            if track[at] >= 0x80:
                kind = track[at]
                at += 1
                status = status if kind == 0xFF else kind
            if kind == 0xFF:  # meta: type, length, data
                at += 1
                length = number()
                at += length
            elif kind in (0xF0, 0xF7):  # sysex: length, data
                length = number()
                at += length
            elif kind >= 0xF0:  # system common and real-time: mido's lengths
                at += {0xF1: 1, 0xF2: 2, 0xF3: 1}.get(kind, 0)
            elif kind >= 0x80:
                at += 1 if (kind & 0xF0) in (0xC0, 0xD0) else 2
            else:
                break  # data before any status: not events
            if at > len(track):
                break
            end = at
    except EOFError:
        pass
    return end


def _smf_bytes(data: bytes) -> Tuple[bytes, List[str]]:
    """A standard MIDI file's bytes without what mido cannot skip: a RIFF 'RMID'
    wrapper, and chunks other than MThd and MTrk (the standard tells readers to
    skip them); a last track shorter than its length says, and a header counting
    more tracks than there are, are read as far as they go (as players do), with
    a message. Bytes that do not parse as chunks are returned as they are."""
    if data[:4] == b"RIFF" and data[8:12] == b"RMID":
        at = 12
        while at + 8 <= len(data):
            size = int.from_bytes(data[at + 4:at + 8], "little")
            if data[at:at + 4] == b"data":
                data = data[at + 8:at + 8 + size]
                break
            at += 8 + size + (size & 1)
    chunks, at, said = [], 0, []
    while at + 8 <= len(data):
        size = int.from_bytes(data[at + 4:at + 8], "big")
        if at + 8 + size > len(data) and data[at:at + 4] == b"MTrk":  # cut short
            said.append(f"its last track is cut short ({len(data) - at - 8} of {size} bytes); "
                        f"read as far as it goes")
            size = _whole_events(data[at + 8:])
            data = data[:at + 4] + size.to_bytes(4, "big") + data[at + 8:at + 8 + size]
        elif at + 8 + size > len(data):
            return data, []
        chunks.append(data[at:at + 8 + size])
        at += 8 + size
    if at != len(data) or not chunks or not chunks[0].startswith(b"MThd") or len(chunks[0]) < 14:
        return data, []
    tracks = sum(c[:4] == b"MTrk" for c in chunks)
    header = chunks[0]
    if int.from_bytes(header[10:12], "big") > tracks:  # mido would read past the end
        said.append(f"its header counts {int.from_bytes(header[10:12], 'big')} tracks, the file "
                    f"holds {tracks}; read those")
        chunks[0] = header[:10] + tracks.to_bytes(2, "big") + header[12:]
    return b"".join(c for c in chunks if c[:4] in (b"MThd", b"MTrk")), said


def _open(path: Path):
    """``(mido.MidiFile, messages)``; a one-line ValueError for what cannot be read."""
    import mido

    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give a MIDI file (.mid)")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        data, said = _smf_bytes(path.read_bytes())
        return mido.MidiFile(file=io.BytesIO(data), clip=True), said
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        why = str(exc) or ("it ends early" if isinstance(exc, EOFError) else type(exc).__name__)
        raise ValueError(f"{path}: not a readable standard MIDI file ({why}); export it "
                         f"again as a standard MIDI file (.mid)") from None


def _events(midi) -> List[Tuple[int, int, int, object]]:
    """``(absolute tick, track, order, message)`` of every message, in time order."""
    events = []
    for index, track in enumerate(midi.tracks):
        tick = 0
        for order, message in enumerate(track):
            tick += message.time
            events.append((tick, index, order, message))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return events


def read_midi(path, track: Optional[int] = None, channel: Optional[int] = None,
              tempo_scale: float = 1.0, transpose: float = 0.0) -> Score:
    """Read a standard MIDI file (type 0, 1 or 2) into a :class:`Score`.

    Args:
      path: the ``.mid`` file.
      track: keep only this track (0-based, in file order; type 1 files often
        keep tempo and names in track 0).
      channel: keep only this channel, :data:`MIN_CHANNEL`..:data:`MAX_CHANNEL`
        (1..16) as musicians count (10 is General MIDI percussion, left out
        unless chosen here).
      tempo_scale: play this many times faster (2: twice as fast), from
        :data:`MIN_TEMPO_SCALE` to :data:`MAX_TEMPO_SCALE` (0.05 to 20).
      transpose: semitones added to every note (may be fractional), at most
        :data:`MAX_TRANSPOSE` (48) either way.

    Raises ValueError (one line) for an unreadable file, a track or channel
    with no notes (naming those that have some), or bad arguments.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path: expected the path of a MIDI file, got {type(path).__name__}")
    path = Path(path)
    tempo_scale = check_number(tempo_scale, "tempo_scale", MIN_TEMPO_SCALE, MAX_TEMPO_SCALE)
    transpose = check_number(transpose, "transpose", -MAX_TRANSPOSE, MAX_TRANSPOSE)
    track = None if track is None else check_size(track, "track", 0)
    channel = int(channel) if isinstance(channel, np.integer) else channel
    if channel is not None and not (isinstance(channel, int)
                                    and MIN_CHANNEL <= channel <= MAX_CHANNEL):
        raise ValueError(f"channel: expected {MIN_CHANNEL}..{MAX_CHANNEL}, got {channel!r}")
    midi, repaired = _open(path)
    if not midi.tracks:
        raise ValueError(f"{path}: holds no tracks")
    smpte = None
    if midi.ticks_per_beat < 0:  # SMPTE: -frames per second (high byte), ticks per frame
        division = midi.ticks_per_beat & 0xFFFF
        fps, per_frame = 256 - (division >> 8), division & 0xFF
        if fps not in SMPTE_FPS or per_frame == 0:
            raise ValueError(f"{path}: its header gives an SMPTE division of {fps} frames per "
                             f"second and {per_frame} ticks per frame, which is not a valid "
                             f"one (24, 25, 29 or 30 fps); save the file again")
        smpte = 1.0 / (SMPTE_FPS[fps] * per_frame)
    elif midi.ticks_per_beat == 0:
        raise ValueError(f"{path}: its header gives 0 ticks per beat; save the file again")
    if track is not None and track >= len(midi.tracks):
        raise ValueError(f"track {track}: {path.name} has "
                         + (f"tracks 0..{len(midi.tracks) - 1}" if len(midi.tracks) > 1
                            else "one track, track 0"))
    events = _events(midi)
    bad = next(((t, m.tempo) for t, _, _, m in events if m.type == "set_tempo" and m.tempo <= 0),
               None)
    if bad is not None:
        raise ValueError(f"{path}: sets a tempo of {bad[1]} microseconds per beat at tick "
                         f"{bad[0]}; fix the file's tempo")
    tempo_maps = {}  # type 2: every track is its own song with its own tempo

    def song_seconds(tick: int, index: int) -> float:
        if smpte is not None:  # time code: tempo events do not count
            return tick * smpte / tempo_scale
        key = index if midi.type == 2 else None
        if key not in tempo_maps:
            tempo_maps[key] = _TempoMap(
                [(t, m.tempo) for t, i, _, m in events
                 if m.type == "set_tempo" and (key is None or i == key)], midi.ticks_per_beat)
        return tempo_maps[key].seconds(tick) / tempo_scale

    # type 2: the songs play one after another (a chosen track from the start)
    starts = {}
    if midi.type == 2 and track is None:
        last_tick = {}
        for tick, index, _, _ in events:
            last_tick[index] = tick
        at = 0.0
        for index in range(len(midi.tracks)):
            starts[index] = at
            at += song_seconds(last_tick.get(index, 0), index)

    def seconds(tick: int, index: int) -> float:
        return starts.get(index, 0.0) + song_seconds(tick, index)

    def song_of(index: int) -> int:
        """Type 2: each track is a song with channels of its own; else one song."""
        return index if midi.type == 2 else 0

    notes: Dict[Tuple[int, int], List[MidiNote]] = {}
    held: Dict[Tuple[int, int, int], Tuple[float, int]] = {}  # (track, channel, key) -> on
    struck_again: Dict[Tuple[int, int, int], float] = {}  # ... -> when it ended a note
    pedalled: Dict[Tuple[int, int, int], None] = {}  # held keys released under the pedal
    songs: Dict[int, List[ChannelState]] = {}  # each song its own controllers (one for 0 and 1)
    curves: List[Dict[str, list]] = [{name: [] for name in ChannelState.DEFAULTS}
                                     for _ in range(16)]
    track_end: Dict[int, float] = {}

    def end_note(key, at: float) -> None:
        onset, velocity = held.pop(key)
        if at > onset:
            t, c, k = key
            notes.setdefault((t, c), []).append(
                MidiNote(onset, at, k + float(transpose), velocity, t, c))

    def state_of(index: int, channel: int) -> ChannelState:
        """The controllers of ``channel`` as track ``index`` sees them."""
        song = song_of(index) if starts else 0
        return songs.setdefault(song, [ChannelState() for _ in range(16)])[channel]

    timed = [(seconds(tick, index), index, order, message) for tick, index, order, message
             in events]
    if starts:  # songs in sequence: their events in the order they sound
        timed.sort(key=lambda e: (e[0], e[1], e[2]))
    for at, index, _, message in timed:
        track_end[index] = at
        if message.type in ("note_on", "note_off"):
            key = (index, message.channel, message.note)
            on = message.type == "note_on" and message.velocity > 0
            if not on and key not in held:  # a channel's note-off, whichever track sends it
                key = next((k for k in held if k[1:] == key[1:]
                            and song_of(k[0]) == song_of(index)), key)
            if not on and struck_again.pop(key, None) == at and held.get(key, (None,))[0] == at:
                continue  # the note-off of the note this instant's strike already ended
            if not on and key in held and state_of(index, message.channel).pedal:
                pedalled[key] = None  # sounds on until the pedal comes up
                continue
            if key in held:
                end_note(key, at)
                pedalled.pop(key, None)
                if on:
                    struck_again[key] = at
            if on:
                held[key] = (at, message.velocity)
        elif midi.type == 2 and track is not None and index != track:
            continue  # another song's controllers: not the chosen one's
        elif message.type == "control_change" and message.control in (CC_ALL_SOUND_OFF,
                                                                       CC_ALL_NOTES_OFF):
            for key in [k for k in held
                        if k[1] == message.channel and song_of(k[0]) == song_of(index)]:
                pedalled.pop(key, None)
                end_note(key, at)
        elif message.type in ("pitchwheel", "control_change"):
            state = state_of(index, message.channel)
            pedal = state.pedal
            for name in state.apply(message):
                curves[message.channel][name].append((at, state.values[name]))
            if pedal and not state.pedal:  # the notes let go under it end now
                for key in [k for k in pedalled if state_of(*k[:2]) is state]:
                    del pedalled[key]
                    end_note(key, at)
    unreleased = []
    for key in list(pedalled):  # released under a pedal that never came up: to the end
        end_note(key, max(track_end[key[0]], held[key][0]))
    for key in list(held):  # notes never released end with their track
        onset = held[key][0]
        unreleased.append((key[0], key[1], f"track {key[0]} channel {key[1] + 1}: key {key[2]} "
                           f"struck at {onset:.1f} s is never released; "
                           + (f"held to the end of its track ({track_end[key[0]]:.1f} s)"
                              if track_end[key[0]] > onset else "its track ends there: left out")))
        end_note(key, track_end[key[0]])
    for c, name in ((c, name) for c in range(16) for name in ChannelState.DEFAULTS):
        points = curves[c][name]
        if starts and points:  # a song starts with the defaults, not the last song's values
            resets = [(starts[i], ChannelState.DEFAULTS[name], 0) for i in starts if i]
            curves[c][name] = [(t, v) for t, v, _ in sorted(
                resets + [(t, v, 1) for t, v in points], key=lambda p: (p[0], p[2]))]

    def controls(c: int) -> ChannelControls:
        steps = {name: StepCurve([t for t, _ in v], [x for _, x in v],
                                 ChannelState.DEFAULTS[name]) for name, v in curves[c].items()}
        return ChannelControls(steps["wheel"], steps["range"], steps["volume"],
                               steps["expression"])

    names = [t.name for t in midi.tracks]
    counts = [sum(len(v) for (t, _), v in notes.items() if t == i) for i in range(len(names))]
    tracks = [(i, names[i], counts[i]) for i in range(len(names))]
    wanted = channel - 1 if channel is not None else None

    def chosen(t: int, c: int) -> bool:
        """Whether track ``t``'s notes on channel ``c`` are played."""
        return ((track is None or t == track) and (wanted is None or c == wanted)
                and not (c == DRUM_CHANNEL and wanted is None))

    unreleased = [text for t, c, text in unreleased if chosen(t, c)]
    messages = [f"{path.name}: {line}" for line in repaired] + unreleased[:3] + (
        [f"... and {len(unreleased) - 3} more notes never released"] if len(unreleased) > 3
        else [])
    if starts and sum(1 for k in counts if k) > 1:
        messages.append(f"a type 2 file: its {len(midi.tracks)} tracks are songs of their own, "
                        f"played one after another (the track option picks one)")
    parts, percussion = [], []
    for (t, c), part_notes in sorted(notes.items()):
        if track is not None and t != track or wanted is not None and c != wanted:
            continue
        if not chosen(t, c):  # percussion, not asked for
            messages.append(f"left out track {t} channel 10 (General MIDI percussion, "
                            f"{len(part_notes)} notes); choose it with --channel 10")
            percussion.append(t)
            continue
        parts.append(Part(t, c, names[t], sorted(part_notes, key=lambda n: (n.onset, n.pitch)),
                          controls(c)))
    picked = [v for (t, _), v in notes.items() if track is None or t == track]
    if not parts and picked and wanted is None \
            and all(c == DRUM_CHANNEL for (t, c) in notes if track is None or t == track):
        raise ValueError(f"{path.name if track is None else f'track {track}'}: only channel 10 "
                         f"(General MIDI percussion) has notes ({sum(map(len, picked))}); play "
                         f"them with --channel 10")
    if not parts:
        with_notes = ", ".join(f"{i} {n!r} ({k} notes)" if n else f"{i} ({k} notes)"
                               for i, n, k in tracks if k) or "none"
        channels = sorted({c + 1 for (_, c) in notes})
        what = " ".join(s for s in (f"track {track}" if track is not None else "",
                                    f"channel {channel}" if channel is not None else "") if s)
        raise ValueError(f"{what or path.name}: no notes to play (tracks with notes: "
                         f"{with_notes}; channels {channels or 'none'})"
                         + "".join(f"; {line}" for line in unreleased[:1]))
    duration = max(n.offset for p in parts for n in p.notes)
    song = [track_end.get(track, 0.0)] if midi.type == 2 and track is not None \
        else track_end.values()  # a type 2 file's track is a song of its own
    return Score(parts, duration, tracks, str(path), messages, max(duration, *song),
                 tuple(percussion))


__all__ = ["CC_ALL_NOTES_OFF", "CC_ALL_SOUND_OFF", "CC_SUSTAIN", "ChannelControls", "ChannelState",
           "DRUM_CHANNEL", "MAX_CHANNEL", "MAX_TEMPO_SCALE", "MAX_TRANSPOSE", "MIN_CHANNEL",
           "MIN_TEMPO_SCALE", "MidiNote", "Part", "Score", "StepCurve", "bend_cents",
           "gain_db", "read_midi"]
