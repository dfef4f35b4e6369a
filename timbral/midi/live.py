"""Playing a model from note events as they arrive: the engine of `timbral live --midi`.

:class:`NoteEngine` is the note counterpart of the audio engine
(:class:`timbral.stream.StreamProcessor`): instead of analysing input audio it
takes MIDI messages (note on/off, pitch bend with its RPN range, CC7, CC11, CC64) and
returns audio blocks. Each frame, every voice turns its notes into f0 and
loudness with the model's expression profile, causally (what
:func:`~.curves.voice_curves` does for a whole file, without knowing what
comes next):

- a note-on starts the attack curve at the frame before the first frame it
  applies from (see Timing), so that frame is one hop into the attack; the
  scoop and the vibrato (delay, fade) run from it;
- with one voice (the default, a monophonic instrument), a key pressed while
  another is held slurs: the pitch and level glide from the note-on (the
  profile's portamento), and letting go of it glides back to a key still held;
  with several voices, each note takes a free voice (else the one released
  longest ago, else the oldest) and attacks;
- a note-off starts the release curve; a note attacked in a voice that still
  rings adds to that release as power; while the channel's sustain pedal
  (CC64) is down a note-off waits for the pedal to come up, as in a file.

All voices go through the model's synthesis graph in one batch
(:meth:`~timbral.models.Autoencoder.process`, one state row per voice: each
voice its own decoder and synth state), the noise addressed by absolute sample
(voice ``i`` with seed ``seed + i``) as :func:`~timbral.models.rendering.render`
does, so a voice's output is the offline rendering of the curves it played
(but for the crossfades of rollbacks, below). With several voices the room (a
model's last processor, when it is one) runs once on their mix
(a state from ``Autoencoder.init_state(voices, mix=True)``): the same sum, one room's cost.

Timing: output sample ``i`` is model time ``i`` (no added delay). A block
needs the frames up to its end minus :attr:`~timbral.models.Autoencoder.first_offset`,
and the engine computes :data:`CROSSFADE_S` beyond that. Applied from the next
frame computed (``rollback=False``, and pitch bends and controllers alone), a
message is heard only after the samples already computed (up to a hop) have
played, and a note later still: a trained decoder answers a loudness rise from
silence about a frame late (:data:`DECODER_LAG_FRAMES`), so a note would sound
1 to 2 hops after it arrives. Note messages (on, off, all notes off) roll back
instead: the engine returns to the state it kept before an earlier frame,
applies them from that frame, recomputes the frames since and crossfades
(:data:`CROSSFADE_S`, equal gain) from the samples it had computed to the
recomputed ones, from the first sample of the block. It goes back to the frame
``served // hop + 1 - DECODER_LAG_FRAMES`` (``served``: samples returned so
far), whose successor, the attack's first loud frame, ends the frame segment
playing at the block's start; never before the frame the previous note messages
applied from (messages stay in order). So a note sounds within the block it
arrives before, the crossfade and about a tenth of a hop; the first frames of
its attack are skipped (they would have sounded before it arrived). After the
crossfade the output is that of ``rollback=False`` with the messages sent when
that frame was the next to compute. :mod:`benchmarks.midi_live` measures
note-on to onset latency.
"""

from __future__ import annotations

import collections
import time
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import numpy as np
import torch

from ..audio import quiet_c_stderr
from ..core import midi_to_hz
from ..features.notes import DEFAULT_MIN_DB
from ..models.autoencoder import Autoencoder
from ..models.rendering import PositionalNoise
from ..stream.engine import StreamStats
from ..stream.live import WARMUP_BLOCKS, LiveAudio, LiveAudioError, LiveReport, reports_until
from ..validation import check_seed, check_size
from ..zoo import as_model
from .expression import RC_10_90, ExpressionProfile, profile_for, raised_cosine
from .score import CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF, CC_RESET, CC_SUSTAIN, ChannelState

#: Most voices an engine plays at once.
MAX_VOICES = 32
#: Frames a trained decoder takes to answer a loudness rise from silence: the
#: first frame of an attack comes out about 40 dB below the next (the shipped
#: models), as its training features, loudness over a centred window, rise
#: before the sound does.
DECODER_LAG_FRAMES = 1
#: The crossfade from the samples computed before a rollback to the recomputed ones (s).
CROSSFADE_S = 0.002


def _moves_notes(message) -> bool:
    """Whether ``message`` starts or ends notes (what a rollback is for)."""
    kind = getattr(message, "type", None)
    return kind in ("note_on", "note_off") or (kind == "control_change" and message.control in (
        CC_ALL_SOUND_OFF, CC_ALL_NOTES_OFF, CC_SUSTAIN, CC_RESET))


class _Voice:
    """One monophonic voice's notes, turned into f0 and loudness per frame."""

    def __init__(self, profile: ExpressionProfile):
        self.profile = profile
        self.key: Optional[int] = None  # the key held (None: released or idle)
        self.velocity = 64
        self.channel = 0
        self.pitch = 60.0  # semitones
        self.level = float(profile.level_db(64))
        self.glide: Optional[Tuple[float, float, float, float]] = None  # pitch, level, t, s
        self.onset: Optional[float] = None  # the phrase's attack (s); None: never played
        self.note_onset = 0.0
        self.released: Optional[float] = None
        self.tails: List[Tuple[float, float]] = []  # (level, released at) still ringing
        self.under: List[Tuple[int, int]] = []  # keys held beneath (mono legato)
        self.started = -np.inf  # when the voice was last given a note

    def free_at(self) -> float:
        """When its sound has died away (inf while held, -inf if never played)."""
        if self.onset is None:
            return -np.inf
        if self.released is None:
            return np.inf
        return self.released + self.profile.release.end_s

    def _current(self, t: float) -> Tuple[float, float]:
        """The (pitch, level) the glide has reached at ``t``."""
        if self.glide is None:
            return self.pitch, self.level
        pitch, level, start, width = self.glide
        ramp = float(raised_cosine((t - start) / width)) if width else 1.0
        return pitch + (self.pitch - pitch) * ramp, level + (self.level - level) * ramp

    def start(self, key: int, velocity: int, channel: int, t: float, legato: bool) -> None:
        """Play ``key`` from ``t`` (s): slurred from the note held, or attacked."""
        level = float(self.profile.level_db(velocity))
        if legato:
            pitch, current = self._current(t)
            self.glide = (pitch, current, t, self.profile.portamento_s / RC_10_90)
        else:
            # tails rung out by t are silent in every frame still to compute
            self.tails = [(lv, at) for lv, at in self.tails
                          if t - at <= self.profile.release.end_s]
            if self.onset is not None and t < self.free_at():
                self.tails.append((self.level, self.released if self.released is not None
                                   else t))
            self.onset, self.glide = t, None
        self.key, self.velocity, self.channel = key, velocity, channel
        self.pitch, self.level = float(key), level
        self.note_onset, self.released, self.started = t, None, t

    def stop(self, t: float) -> None:
        self.key, self.released, self.under = None, t, []

    def controls(self, t: np.ndarray, channel: ChannelState) -> Tuple[np.ndarray, np.ndarray]:
        """Pitch (semitones) and loudness (dB) at frame times ``t``."""
        p = self.profile
        if self.onset is None:
            return np.full(len(t), self.pitch), np.full(len(t), DEFAULT_MIN_DB)
        if self.glide is None:
            pitch, level = np.full(len(t), self.pitch), np.full(len(t), self.level)
        else:
            start_pitch, start_level, start, width = self.glide
            ramp = raised_cosine((t - start) / width) if width else np.ones(len(t))
            pitch = start_pitch + (self.pitch - start_pitch) * ramp
            level = start_level + (self.level - start_level) * ramp
        pitch = (pitch + p.scoop.at(t - self.onset, before=0.0, after=0.0) / 100.0
                 + p.vibrato.cents(t - self.note_onset) / 100.0 + channel.bend_cents() / 100.0)
        attack = p.attack.at(t - self.onset, before=-np.inf, after=p.attack.values[-1])
        release = (np.inf if self.released is None else
                   p.release.at(t - self.released, before=p.release.values[0], after=-np.inf))
        power = 10.0 ** ((level + np.minimum(attack, release)) / 10.0)
        for tail_level, at in self.tails:
            power = power + 10.0 ** ((tail_level + p.release.at(
                t - at, before=p.release.values[0], after=-np.inf)) / 10.0)
        with np.errstate(divide="ignore"):
            loudness = 10.0 * np.log10(power) + channel.gain_db()
        return pitch, np.maximum(loudness, DEFAULT_MIN_DB)


class NoteEngine:
    """A model played by note events, block by block (see the module doc).

    Args:
      model: the model, or a shipped name, folder or zip.
      block_size: samples per :meth:`process` call (None: any size per call).
      voices: voices at once; 1 plays a monophonic instrument (overlapping keys
        slur).
      overrides: :data:`~.expression.OVERRIDES` values for the profile.
      seed: the noise seed (voice ``i`` uses ``seed + i``, modulo 2 ** 32).
      record: keep every frame's f0 and loudness per voice in :attr:`record`
        (memory grows: for tests and pictures).
      rollback: note messages roll back to an earlier frame (see the module
        doc); False: every message applies from the next frame computed.

    :meth:`send` takes mido messages from any thread (a MIDI port's callback);
    :meth:`process` returns the next block.
    """

    def __init__(self, model, block_size: Optional[int] = None, voices: int = 1,
                 overrides: Optional[Mapping[str, float]] = None, seed: int = 0,
                 record: bool = False, rollback: bool = True):
        model = as_model(model)
        self.model: Autoencoder = model.eval()
        self.sample_rate, self.hop = int(model.sample_rate), int(model.hop)
        self.block_size = None if block_size is None else check_size(block_size, "block_size")
        self.n_voices = check_size(voices, "voices")
        if self.n_voices > MAX_VOICES:
            raise ValueError(f"voices: expected 1..{MAX_VOICES}, got {voices}")
        profile, self.messages = profile_for(model)
        self.profile = profile.with_overrides(**(overrides or {}))
        self.first_offset = model.first_offset
        self.seed = check_seed(seed)
        self.recording = bool(record)
        # voices share the room: mixed before it, it runs once (its cost was 8x for 8 voices)
        self.mix = self.n_voices > 1 and model.processor_group.can_mix
        # samples kept computed ahead, so a rollback has old ones to crossfade from
        self.crossfade = max(1, round(CROSSFADE_S * self.sample_rate)) if rollback else 0
        self._fade = ((np.arange(self.crossfade) + 1.0) / (self.crossfade + 1)).astype(np.float32)
        self._queue: collections.deque = collections.deque()
        self.reset()

    def reset(self) -> None:
        """Silence, every voice idle, controllers at their defaults, frame 0 next."""
        self.state = self.model.init_state(self.n_voices, self.mix)
        self.noises = [PositionalNoise((self.seed + v) % 2 ** 32) for v in range(self.n_voices)]
        self.voices = [_Voice(self.profile) for _ in range(self.n_voices)]
        self.channels = [ChannelState() for _ in range(16)]
        self.sustained: Dict[Tuple[int, int], None] = {}  # (key, channel) released under it
        self.frames = 0
        self.served = 0  # samples returned so far
        self._pending = np.zeros(0, np.float32)  # computed, from sample `served` on
        # (frame, state before it, recorded chunks before it) for recent chunks
        self._history: collections.deque = collections.deque()
        self._applied = 0  # the frame the last note messages applied from
        self._queue.clear()
        self.stats = StreamStats()
        self.record: Dict[str, list] = {"f0_hz": [], "loudness_db": []}

    @property
    def now(self) -> float:
        """Model time (s) of the last frame synthesised: where a note-on starts."""
        return (self.frames - 1) * self.hop / self.sample_rate

    def send(self, message) -> None:
        """Queue a mido message (note_on/note_off, pitchwheel, control_change);
        it applies at the next :meth:`process`. Other messages are ignored."""
        self._queue.append(message)

    def _apply(self, message) -> None:
        t = self.now
        kind = getattr(message, "type", None)
        if kind in ("pitchwheel", "control_change"):
            state = self.channels[message.channel]
            pedal = state.pedal
            state.apply(message)
            if pedal and not state.pedal:
                self._pedal_up(message.channel, t)
            if kind == "control_change" and message.control in (CC_ALL_SOUND_OFF,
                                                                 CC_ALL_NOTES_OFF):
                self.sustained.clear()
                for voice in self.voices:
                    if voice.key is not None:
                        voice.stop(t)
        elif kind == "note_on" and message.velocity > 0:
            self.sustained.pop((message.note, message.channel), None)
            self._note_on(message.note, message.velocity, message.channel, t)
        elif kind in ("note_on", "note_off") and self.channels[message.channel].pedal:
            self.sustained[(message.note, message.channel)] = None
        elif kind in ("note_on", "note_off"):
            self._note_off(message.note, message.channel, t)

    def _pedal_up(self, channel: int, t: float) -> None:
        """The keys let go under ``channel``'s pedal end now, in the order let go; none
        is a key to glide back to (a mono voice's ``under``)."""
        keys = [key for key, c in self.sustained if c == channel]
        for voice in self.voices:
            if voice.channel == channel:
                voice.under = [(k, v) for k, v in voice.under if k not in keys]
        for key in keys:
            del self.sustained[(key, channel)]
            self._note_off(key, channel, t)

    def _note_on(self, key: int, velocity: int, channel: int, t: float) -> None:
        if self.n_voices == 1:
            voice = self.voices[0]
            held = voice.key is not None
            if held and voice.key != key:
                voice.under.append((voice.key, voice.velocity))
            voice.start(key, velocity, channel, t, legato=held and voice.key != key)
            return
        same = [v for v in self.voices if v.key == key and v.channel == channel]
        idle = [v for v in self.voices if v.free_at() <= t]
        released = [v for v in self.voices if v.key is None]
        voice = (same[0] if same else idle[0] if idle
                 else min(released, key=lambda v: v.released) if released
                 else min(self.voices, key=lambda v: v.started))
        voice.start(key, velocity, channel, t, legato=False)

    def _note_off(self, key: int, channel: int, t: float) -> None:
        for voice in self.voices:
            if voice.key == key and voice.channel == channel:
                if voice.under:  # mono: back to the key still held
                    back, velocity = voice.under.pop()
                    voice.start(back, velocity, channel, t, legato=True)
                else:
                    voice.stop(t)
            else:
                voice.under = [(k, v) for k, v in voice.under if k != key]

    @property
    def _end(self) -> int:
        """Model time (samples) where the audio computed so far ends."""
        return self.frames * self.hop + self.first_offset

    @property
    def _target(self) -> int:
        """The frame note messages sent now would best apply from (module doc)."""
        return self.served // self.hop + 1 - DECODER_LAG_FRAMES

    def _frames(self, n: int) -> np.ndarray:
        """Synthesise the next ``n`` frames of every voice; audio ``[n * hop]`` (mixed)
        from model time ``frames * hop + first_offset``."""
        if self.crossfade:
            self._history.append((self.frames, self.state, len(self.record["f0_hz"])))
            # targets only grow: snapshots before the last one by the target are done
            while len(self._history) > 1 and self._history[1][0] <= self._target:
                self._history.popleft()
        t = (self.frames + np.arange(n)) * self.hop / self.sample_rate
        pitch = np.empty((self.n_voices, n))
        loudness = np.empty((self.n_voices, n))
        for i, voice in enumerate(self.voices):
            pitch[i], loudness[i] = voice.controls(t, self.channels[voice.channel])
        f0 = midi_to_hz(torch.from_numpy(pitch)).float()
        start, stop = self.frames * self.hop, (self.frames + n) * self.hop
        noise = torch.stack([source.slice(start, stop) for source in self.noises])
        device = self.model.device
        with torch.inference_mode():
            outputs, self.state = self.model.process(
                f0.to(device), torch.from_numpy(loudness).float().to(device), noise.to(device),
                self.state)
        self.frames += n
        if self.recording:
            self.record["f0_hz"].append(f0.numpy())
            self.record["loudness_db"].append(loudness.astype(np.float32))
        return outputs["audio"].sum(dim=0).cpu().numpy()

    def process(self, n: Optional[int] = None) -> np.ndarray:
        """The next ``n`` output samples (float32; ``n`` = the block size if fixed)."""
        began = time.perf_counter()
        if n is None:
            if self.block_size is None:
                raise ValueError("n: give the number of samples (the engine has no block_size)")
            n = self.block_size
        n = check_size(n, "n", 0)
        if self.block_size is not None and n != self.block_size:
            raise ValueError(f"n: expected {self.block_size} samples (block_size), got {n}")
        messages = [self._queue.popleft() for _ in range(len(self._queue))]
        if self.crossfade and any(_moves_notes(m) for m in messages):
            self._roll_back(messages)
        else:  # bends and controllers alone: from the next frame, as the channel's state
            for message in messages:
                self._apply(message)
        missing = self.served + n + self.crossfade - self._end
        if missing > 0:
            start = self._end
            audio = self._frames(-(-missing // self.hop))
            self._pending = np.concatenate([self._pending,
                                            audio[max(0, self.served - start):]])
        out, self._pending = self._pending[:n], self._pending[n:]
        self.served += n
        self.stats.add(time.perf_counter() - began)
        return out

    def _roll_back(self, messages: list) -> None:
        """Apply ``messages`` from an earlier frame (see the module doc): recompute
        the frames since and crossfade the pending samples into the new ones."""
        # snapshots after the last note messages' frame whose audio starts by `served`
        usable = [s for s in self._history if self._applied <= s[0] < self.frames
                  and s[0] * self.hop + self.first_offset <= self.served]
        if not usable:
            self._applied = self.frames
            for message in messages:
                self._apply(message)
            return
        earlier = [s for s in usable if s[0] <= self._target]
        frame, state, recorded = earlier[-1] if earlier else usable[0]
        n = self.frames - frame
        while self._history and self._history[-1][0] >= frame:  # _frames pushes it again
            self._history.pop()
        self.frames, self.state, self._applied = frame, state, frame
        del self.record["f0_hz"][recorded:], self.record["loudness_db"][recorded:]
        for message in messages:
            self._apply(message)
        new = self._frames(n)[self.served - (frame * self.hop + self.first_offset):]
        m = min(self.crossfade, len(new))
        new[:m] = self._pending[:m] * (1.0 - self._fade[:m]) + new[:m] * self._fade[:m]
        self._pending = new

    def curves(self) -> Tuple[np.ndarray, np.ndarray]:
        """Recorded ``(f0_hz, loudness_db)``, each ``[voices, frames]`` (``record=True``)."""
        if not self.recording:
            raise ValueError("record: the engine was made without record=True")
        if not self.record["f0_hz"]:
            return np.zeros((self.n_voices, 0)), np.zeros((self.n_voices, 0))
        return (np.concatenate(self.record["f0_hz"], axis=1),
                np.concatenate(self.record["loudness_db"], axis=1))


# ------------------------------------------------------------- MIDI and audio devices
def midi_ports() -> List[str]:
    """Names of the MIDI inputs (mido through python-rtmidi); :class:`LiveAudioError`
    with what to do when they cannot be listed."""
    import mido

    try:
        with quiet_c_stderr(("ALSA lib ",)):  # its reason reaches the user in one line
            return list(mido.get_input_names())
    except ImportError:
        raise LiveAudioError("MIDI input needs python-rtmidi: pip install 'timbral[live]'"
                             ) from None
    except Exception as exc:  # rtmidi's own errors (no ALSA sequencer, ...): one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LiveAudioError(f"cannot list MIDI inputs ({reason}); is a MIDI system (ALSA "
                             f"sequencer, CoreMIDI) running?") from None


def open_midi_input(port: Optional[str], callback):
    """Open MIDI input ``port`` (None or "": the first) calling ``callback(message)``."""
    import mido

    names = midi_ports()
    if not names:
        raise LiveAudioError("no MIDI input ports found; connect a keyboard (or start a "
                             "virtual port) and try again")
    name = port or names[0]
    if name not in names:
        raise LiveAudioError(f"--midi {port}: no such MIDI input; inputs: {', '.join(names)}")
    try:
        return mido.open_input(name, callback=callback)
    except Exception as exc:  # the port went away or is busy
        raise LiveAudioError(f"cannot open MIDI input {name!r}: {exc}") from None


def play_live(engine: NoteEngine, port: Optional[str] = None,
              output_device: Optional[int] = None, duration: Optional[float] = None,
              interval: float = 2.0) -> Iterator[LiveReport]:
    """Play ``engine`` (a fixed ``block_size``) from MIDI input ``port`` to an audio
    output. Yields a :class:`~timbral.stream.live.LiveReport` once both are open,
    then every ``interval`` s until ``duration`` s (None: until interrupted); both
    close when the generator ends. Raises :class:`LiveAudioError` (one line) when
    a port or device is missing."""
    if engine.block_size is None:
        raise ValueError("engine: live audio needs a NoteEngine with a fixed block_size")
    audio = LiveAudio()
    outputs = [d for d in audio.devices if d.outputs > 0]
    if not outputs:
        raise LiveAudioError(f"no audio output device found (PortAudio sees "
                             f"{len(audio.devices)} device(s)); `timbral play SCORE.mid` "
                             f"renders a MIDI file instead")
    if output_device is not None and output_device not in [d.index for d in outputs]:
        listed = ", ".join(f"{d.index}: {d.name}" for d in outputs)
        raise LiveAudioError(f"output_device {output_device}: not an output device; outputs: "
                             f"{listed}")
    for _ in range(WARMUP_BLOCKS):
        engine.process()
    engine.reset()
    problems = 0

    def callback(outdata, frames, time_info, status):
        nonlocal problems
        if status:
            problems += 1
        outdata[:, 0] = engine.process()

    import sounddevice

    midi = open_midi_input(port, engine.send)
    try:
        stream = sounddevice.OutputStream(samplerate=engine.sample_rate,
                                          blocksize=engine.block_size, device=output_device,
                                          channels=1, dtype="float32", latency="low",
                                          callback=callback)
    except Exception as exc:  # PortAudioError and friends: one line for the user
        midi.close()
        raise LiveAudioError(f"cannot open the audio output at {engine.sample_rate} Hz with "
                             f"blocks of {engine.block_size}: {exc}") from None

    def report() -> LiveReport:
        return LiveReport(0.0, stream.latency * 1000.0,
                          engine.stats.summary(engine.block_size, engine.sample_rate), problems)

    with midi, stream:
        yield from reports_until(report, duration, interval)


__all__ = ["MAX_VOICES", "NoteEngine", "midi_ports", "open_midi_input", "play_live"]
