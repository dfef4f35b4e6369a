"""Playing a MIDI score with models: parts -> voices -> curves -> the models' synthesis -> a mix.

:func:`play_score` deals each part's notes to monophonic voices
(:mod:`.voices`), builds every voice's f0 and loudness at its model's frame
rate with its model's expression profile (:mod:`.curves`), renders each voice
through the model's one synthesis graph (:func:`timbral.models.rendering.render`,
its own decoder and synth state) and adds the voices.
:func:`play_midi` reads the file first (what ``timbral play`` and the web
app call).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional

import numpy as np
from tqdm.auto import tqdm

from ..audio import fit_peak, resample_audio
from ..dsp.conversions import hz_to_midi
from ..models.autoencoder import Autoencoder
from ..models.rendering import render, room_tail_seconds
from ..validation import check_seed, check_size
from ..zoo import as_model
from .curves import sounding_end, voice_curves
from .expression import ExpressionProfile, profile_for
from .score import Score, read_midi
from .voices import Voice, part_voices

#: Silence (s) after the last release has died away in the model's room.
TAIL = 0.1
#: The most voices x seconds a score may need: each voice is rendered for the whole
#: score (at 48 kHz, 6 h of voices hold 4.1 GB of audio; the web app's default limits,
#: 32 voices of 600 s, need 5.3 h).
MAX_VOICE_SECONDS = 6 * 3600.0
#: A mix whose peak is under this (-60 dBFS) is said to be silent.
SILENT_PEAK = 1e-3
#: Notes (with their bends) under this pitch (Hz) are said: they play as clicks.
LOWEST_HZ = 20.0
#: With ``progress=None``, voices holding more than this (s, all together) show a bar.
PROGRESS_SECONDS = 30.0


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds:.0f} s"


@dataclass
class PlayedVoice:
    """One rendered voice: what it played, with which model, and its curves
    (``f0_hz``, ``loudness_db`` at ``frame_rate``) and audio (at the mix's rate)."""

    voice: Voice
    model_name: str
    frame_rate: float
    f0_hz: np.ndarray
    loudness_db: np.ndarray
    audio: np.ndarray


@dataclass
class MidiRendering:
    """A played score: ``audio`` float32 ``[n]`` at ``sample_rate``, every voice,
    the score, and messages for the user (one line each)."""

    audio: np.ndarray
    sample_rate: int
    voices: List[PlayedVoice]
    score: Score
    messages: List[str]

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


def play_score(score: Score, model: Autoencoder,
               track_models: Optional[Mapping[int, Autoencoder]] = None, legato: bool = False,
               overrides: Optional[Mapping[str, float]] = None, seed: int = 0,
               progress: Optional[bool] = False) -> MidiRendering:
    """Render ``score`` with ``model`` (tracks in ``track_models`` with theirs).

    The audio lasts until the last note's release and the models' rooms have rung
    out, or to the song's end (``score.end``: a trailing rest) if that is later.

    Args:
      score: from :func:`~.score.read_midi`.
      model: plays every part whose track has no model of its own (a loaded
        model, or what :func:`timbral.load_model` takes).
      track_models: track number -> model (likewise).
      legato: slur notes of a voice that follow within
        :data:`~.curves.LEGATO_GAP` seconds.
      overrides: :data:`~.expression.OVERRIDES` values applied to every
        model's profile (e.g. ``{"vibrato": 0}``).
      seed: noise seed (voice ``i`` uses ``seed + i``, modulo 2 ** 32).
      progress: a progress bar over voices (None: when the voices hold more than
        :data:`PROGRESS_SECONDS` of audio together).
    """
    model = as_model(model)
    track_models = {check_size(track, "track_models: a track", 0): as_model(m)
                    for track, m in dict(track_models or {}).items()}
    seed = check_seed(seed)
    unknown = sorted(set(track_models) - {p.track for p in score.parts})
    if unknown:
        playing = sorted({p.track for p in score.parts})
        some = any(i == unknown[0] and count for i, _, count in score.tracks)
        why = ("has only General MIDI percussion (channel 10), which plays only with "
               "--channel 10" if unknown[0] in score.percussion else
               "has no notes on the channel played" if some else "has no notes to play")
        raise ValueError(f"track-model: track {unknown[0]} {why}; tracks played: {playing}")
    messages = list(score.messages)
    profiles: Dict[int, ExpressionProfile] = {}
    for m in {id(m): m for m in [model, *track_models.values()]}.values():
        profile, notes = profile_for(m)
        profiles[id(m)] = profile.with_overrides(**(overrides or {}))
        messages.extend(notes)
    voices = [(v, track_models.get(v.part.track, model)) for part in score.parts
              for v in part_voices(part)]
    rate = max(m.sample_rate for _, m in voices)
    rooms = {id(m): room_tail_seconds(m) for _, m in voices}
    sounding = max(sounding_end(v.notes, profiles[id(m)]) + rooms[id(m)]
                   for v, m in voices) + TAIL
    end = max(sounding, score.end)  # a trailing rest too, as a SoundFont player plays it
    if end * len(voices) > MAX_VOICE_SECONDS >= sounding * len(voices):
        messages.append(f"left out the rest after the last note: the file's end-of-track "
                        f"lies {_duration(score.end)} in, too long to render")
        end = sounding
    if end * len(voices) > MAX_VOICE_SECONDS:  # each voice is rendered in full, in memory
        raise ValueError(f"{score.path}: {len(voices)} voice(s) for {_duration(end)} is more "
                         f"than timbral plays at once ({MAX_VOICE_SECONDS / 3600:g} h of "
                         f"voices x length); cut the file, or play fewer tracks or faster "
                         f"(the track and tempo scale options)")
    messages.append(f"{len(score.notes)} notes in {len(score.parts)} part(s) -> "
                    f"{len(voices)} voice(s), {end:.1f} s")
    messages.extend(_range_warnings(voices))
    played, mix = [], np.zeros(int(round(end * rate)), np.float32)
    if progress is None:
        progress = end * len(voices) > PROGRESS_SECONDS
    for i, (voice, m) in enumerate(tqdm(voices, desc="play", unit="voice",
                                        disable=not progress)):
        n_frames = int(np.ceil(end * m.frame_rate)) + 1
        f0, loudness = voice_curves(voice.notes, voice.part.controls, profiles[id(m)],
                                    m.frame_rate, n_frames, legato)
        audio = render(m, f0, loudness, seed=(seed + i) % 2 ** 32)
        if m.sample_rate != rate:
            audio = resample_audio(audio, m.sample_rate, rate)
        audio = np.pad(audio, (0, max(0, len(mix) - len(audio))))[:len(mix)]
        mix += audio
        played.append(PlayedVoice(voice, m.name, m.frame_rate, f0, loudness, audio))
    mix, said = fit_peak(mix, "mix")
    messages.extend([said] if said else [])
    peak = float(np.abs(mix).max(initial=0.0))
    if peak < SILENT_PEAK:
        messages.append(f"the output is silent (peak {20 * np.log10(max(peak, 1e-10)):.0f} "
                        f"dBFS): look at the file's volume (CC7) and expression (CC11), and at "
                        f"the lines above")
    return MidiRendering(mix, rate, played, score, messages)


def play_midi(path, model: Autoencoder, track_models: Optional[Mapping[int, Autoencoder]] = None,
              track: Optional[int] = None, channel: Optional[int] = None,
              tempo_scale: float = 1.0, transpose: float = 0.0, legato: bool = False,
              overrides: Optional[Mapping[str, float]] = None, seed: int = 0,
              progress: Optional[bool] = False) -> MidiRendering:
    """Read a MIDI file (:func:`~.score.read_midi`, ``path`` a path: str or
    ``os.PathLike``) and play it (:func:`play_score`)."""
    score = read_midi(path, track=track, channel=channel, tempo_scale=tempo_scale,
                      transpose=transpose)
    return play_score(score, model, track_models, legato=legato, overrides=overrides,
                      seed=seed, progress=progress)


def _pitch_span(note, controls) -> tuple:
    """The lowest and highest pitch (MIDI) a note reaches with its channel's pitch bend."""
    pitch = note.pitch + controls.bend_cents(np.linspace(note.onset, note.offset, 64)) / 100.0
    return float(pitch.min()), float(pitch.max())


def _range_warnings(voices) -> List[str]:
    """One line per model and kind of note it cannot play as asked: pitches (with their
    bends) above half its sample rate, where it is silent, or under :data:`LOWEST_HZ`,
    where it clicks; and notes outside the pitch range it was trained on."""
    out = []
    by_model: Dict[int, list] = {}
    for voice, m in voices:
        by_model.setdefault(id(m), [m, []])[1].extend(
            _pitch_span(n, voice.part.controls) for n in voice.notes)
    for m, spans in by_model.values():
        low, high = np.array(spans).T
        nyquist = m.sample_rate / 2
        for count, what in ((np.sum(high > float(hz_to_midi(nyquist))), f"above {nyquist:.0f} Hz, "
                             f"half its sample rate, where it makes no sound"),
                            (np.sum(low < float(hz_to_midi(LOWEST_HZ))), f"below {LOWEST_HZ:.0f} Hz, "
                             f"which plays as clicks, not a note")):
            if count:
                out.append(f"{m.name}: {count} of {len(spans)} notes reach {what} (a key or "
                           f"a pitch bend); --transpose moves them")
        stats = m.statistics
        if not stats or "min_pitch_note" not in stats:
            continue
        trained = stats["min_pitch_note"], stats["max_pitch_note"]
        outside = np.sum((low < trained[0] - 2) | (high > trained[1] + 2))
        if outside:
            out.append(f"{m.name}: {outside} of {len(spans)} notes lie outside the range it was "
                       f"trained on (MIDI {trained[0]:.0f}-{trained[1]:.0f}); --transpose "
                       f"moves them")
    return out


__all__ = ["MidiRendering", "PlayedVoice", "play_midi", "play_score"]
