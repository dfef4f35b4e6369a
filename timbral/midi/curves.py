"""A voice's notes -> the f0 (Hz) and loudness (dB) curves a model plays, frame by frame.

For each frame time ``t`` (frame ``i`` at ``i / frame_rate`` s, the model's
frames) of one monophonic voice, with an :class:`~.expression.ExpressionProfile`:

- **phrases**: notes that follow each other without a gap (the next onset
  within :data:`JOINED_GAP` of the note-off or before it; with ``legato``,
  within :data:`LEGATO_GAP`) on
  another pitch are slurred into one phrase: one attack at its first onset,
  one release at its last note-off, and a glide between its notes (a note
  repeated is played again: its own attack over the last one's release);
- **pitch** (semitones): each note's pitch from its onset (in a rest, the
  pitch changes halfway through the silence), the channel's pitch bend, a
  glide of the profile's portamento time (10-90 %, a raised cosine centred on
  the onset) between slurred notes, the scoop after each phrase's attack, and
  vibrato from each note's onset (its delay, fade, rate and depth);
- **loudness** (dB): each note's level from its velocity (moved between
  slurred notes as the pitch glides), plus the attack curve from the
  phrase's onset, capped by the release curve from its note-off, plus the
  channel's CC7/CC11 gain; phrases that overlap (a release ringing into the
  next attack) add as powers; floored at -80 dB, the loudness of silence.
  A phrase followed by another before its release has fallen
  :data:`~.expression.ONSET_DB` (a repeated note, a short gap) is released
  that much earlier (at most half its last note earlier): one instrument
  cannot start a note while the last one still sounds, and the next onset is
  then where the profile's onsets are, 30 dB up from the dip.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
import torch

from ..core import midi_to_hz
from ..features.notes import DEFAULT_MIN_DB
from .expression import ONSET_DB, RC_10_90, ExpressionProfile, raised_cosine
from .score import ChannelControls, MidiNote

#: With ``legato``, notes this close (s) or closer are slurred.
LEGATO_GAP = 0.25
#: Without it, notes this close: joined in the file, up to the rounding of its ticks.
JOINED_GAP = 0.005


def phrases(notes: Sequence[MidiNote], legato: bool = False) -> List[List[MidiNote]]:
    """Slurred groups of consecutive notes (see the module doc); notes sorted by onset."""
    gap = LEGATO_GAP if legato else JOINED_GAP
    groups: List[List[MidiNote]] = []
    for note in notes:
        last = groups[-1][-1] if groups else None
        if last is not None and note.onset - last.offset <= gap and note.pitch != last.pitch:
            groups[-1].append(note)
        else:
            groups.append([note])
    return groups


def voice_curves(notes: Sequence[MidiNote], controls: ChannelControls,
                 profile: ExpressionProfile, frame_rate: float, n_frames: int,
                 legato: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """``(f0_hz, loudness_db)``, float32 ``[n_frames]``, for one voice's notes
    (sorted, not overlapping) with the channel's ``controls``."""
    t = np.arange(n_frames) / float(frame_rate)
    groups = phrases(notes, legato)
    pitch = np.zeros(n_frames)
    power = np.zeros(n_frames)
    lead = _release_lead(profile)
    offsets = [min(group[-1].offset, max(following[0].onset - lead,
                                         group[-1].onset + 0.5 * group[-1].duration))
               for group, following in zip(groups, groups[1:])] + [groups[-1][-1].offset]
    for g, group in enumerate(groups):
        start = group[0].onset
        end = groups[g + 1][0].onset if g + 1 < len(groups) else np.inf
        # the phrase's pitch holds from halfway through the rest before it
        first = 0.5 * (offsets[g - 1] + start) if g else -np.inf
        last = 0.5 * (offsets[g] + end)
        # the frames this phrase touches: its pitch region and its sound
        lo = int(np.clip(np.floor(min(first, start + profile.attack.start_s) * frame_rate),
                         0, n_frames))
        hi = int(np.clip(np.ceil(max(last, offsets[g] + profile.release.end_s) * frame_rate)
                         + 1, lo, n_frames))
        ts = t[lo:hi]
        pitch_g = np.full(hi - lo, float(group[0].pitch))
        level_g = np.full(hi - lo, profile.level_db(group[0].velocity))
        for a, b in zip(group, group[1:]):
            width = _glide(profile.portamento_s, a, b)
            ramp = raised_cosine((ts - b.onset) / width + 0.5) if width else (ts >= b.onset) * 1.0
            pitch_g += (b.pitch - a.pitch) * ramp
            level_g += (profile.level_db(b.velocity) - profile.level_db(a.velocity)) * ramp
        pitch_g += np.where(ts >= start, profile.scoop.at(ts - start, before=0.0, after=0.0)
                            / 100.0, 0.0)
        for i, note in enumerate(group):
            stop = group[i + 1].onset if i + 1 < len(group) else last
            during = (ts >= note.onset) & (ts < stop)
            pitch_g[during] += profile.vibrato.cents(ts[during] - note.onset) / 100.0
        region = (ts >= first) & (ts < last)
        pitch[lo:hi][region] = pitch_g[region]
        envelope = np.minimum(
            profile.attack.at(ts - start, before=-np.inf, after=profile.attack.values[-1]),
            profile.release.at(ts - offsets[g], before=profile.release.values[0],
                               after=-np.inf))
        power[lo:hi] += 10.0 ** ((level_g + envelope) / 10.0)
    pitch += controls.bend_cents(t) / 100.0
    with np.errstate(divide="ignore"):
        loudness = 10.0 * np.log10(power) + controls.gain_db(t)
    loudness = np.maximum(loudness, DEFAULT_MIN_DB)
    f0 = midi_to_hz(torch.from_numpy(pitch)).numpy()
    return f0.astype(np.float32), loudness.astype(np.float32)


def _glide(portamento_s: float, a: MidiNote, b: MidiNote) -> float:
    """Length (s) of the raised cosine between slurred notes: 10-90 % in the
    portamento time, at most half of either note."""
    return min(portamento_s / RC_10_90, 0.5 * a.duration, 0.5 * b.duration)


def _release_lead(profile: ExpressionProfile) -> float:
    """How long (s) the release takes to fall :data:`~.expression.ONSET_DB`."""
    release = profile.release
    tau = release.start_s + release.step_s * np.arange(len(release.values))
    down = np.flatnonzero((tau >= 0) & (np.array(release.values) <= -ONSET_DB))
    return float(tau[down[0]]) if len(down) else release.end_s


def sounding_end(notes: Sequence[MidiNote], profile: ExpressionProfile) -> float:
    """When the voice's last release has died away (s)."""
    return max(n.offset for n in notes) + max(0.0, profile.release.end_s)


__all__ = ["JOINED_GAP", "LEGATO_GAP", "phrases", "sounding_end", "voice_curves"]
