"""Activations -> notes with pitch bends: basic-pitch's note decoding, in numpy.

The steps are basic-pitch's (``note_creation.py``,
``output_to_notes_polyphonic`` and ``get_pitch_bends``), written here without
scipy, librosa or pretty_midi; what differs is said where it differs (the
onset threshold, step 3 off by default, the bends' centre and resolution):

1. **onsets**: the onset posteriorgram, raised to the rescaled frame-to-frame
   rise of the note posteriorgram where that is larger (notes struck again
   while sounding); its local maxima in time at or above ``onset_threshold``
   start notes, latest first;
2. **note ends**: from each onset, the note lasts while the note
   posteriorgram stays at or above ``frame_threshold``, allowing gaps of up
   to :data:`ENERGY_TOLERANCE` frames; notes of ``min_note_length`` seconds or
   less are dropped, and a kept note's frames (and its neighbouring keys')
   are used up, so no second note is found there;
3. **notes without an onset** (basic-pitch's "melodia trick", off by default): the
   strongest remaining frame above ``frame_threshold`` grows forwards and
   backwards the same way, until nothing above it remains;
4. **pitch bends**: per frame, the contour posteriorgram around the note's
   key (+-25 thirds of a semitone, weighted by a Gaussian of 5 bins) peaks
   at the bend. The key's own bin is ``3 k + 1`` (the contour's bins are
   centred on the semitones' middle thirds; basic-pitch centres on ``3 k``
   and so reads every note a third of a semitone sharp: +33 cents on
   rendered piano, a few cents here). basic-pitch takes the peak bin; here the
   peak is refined to a fraction of a bin by a parabola through it and its
   neighbours, and a note's bends are smoothed over :data:`BEND_SMOOTHING`
   frames (a median), so a held note reads steady.

5. **partial notes** (not basic-pitch's): :func:`partial_notes` marks faint notes
   on a harmonic of a note that sounds with them, which a single line's
   transcription drops (:func:`~.transcription.transcribe`).

A note's ``amplitude`` is the mean note posterior over it (basic-pitch's
velocity is ``127 * amplitude``); :mod:`.dynamics` measures loudness from the
audio instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from .network import CONTOUR_BINS_PER_SEMITONE, FRAME_RATE, LOWEST_KEY, N_KEYS, Activations

#: Onsets: basic-pitch's default is 0.5; 0.6 raises the precision on rendered chords
#: from 0.80 to 0.85 (piano) and 0.67 to 0.75 (guitar) with the same or better recall
#: (benchmarks/transcribe.py --tune; most false notes are ghosts an octave or a twelfth
#: above real ones). Frames and note length: basic-pitch's defaults.
ONSET_THRESHOLD = 0.6
FRAME_THRESHOLD = 0.3
MIN_NOTE_LENGTH = 0.1277  # s (11 frames)
#: Frames below ``frame_threshold`` a note may pass through and go on.
ENERGY_TOLERANCE = 11
#: Differences (frames) the inferred onsets look back over.
ONSET_DIFFS = 2
#: Bend search: +- this many contour bins around the key, Gaussian weight's std (bins).
BEND_BINS, BEND_STD = 25, 5.0
#: A note's bends are a running median over this many frames (odd).
BEND_SMOOTHING = 5
#: Partial notes: within this many cents of harmonic 2..PARTIAL_HARMONICS of a note
#: sounding over at least half of it, with under PARTIAL_RATIO of its mean posterior.
#: On single-line SoundFont phrases (seeds 100-103, five winds and the violin) the
#: notes so placed that were false had 0.31-0.61 of the other's posterior, the real
#: ones 0.60 and up (benchmarks/transcribe.py).
PARTIAL_CENTS, PARTIAL_HARMONICS, PARTIAL_RATIO = 50.0, 10, 0.6
#: A key's note restarts with no strike of its own when a note an octave, a twelfth
#: or two octaves up (semitones) starts within this many frames (about 35 ms):
#: :func:`merge_reonsets`.
REONSET_INTERVALS, REONSET_FRAMES = (12, 19, 24), 3
#: ... a note struck clearly (its onset posterior at least this): on rendered pedalled
#: piano the false restarts came with 0.90-0.96 above them, a strummed guitar's real
#: ones with 0.77-0.81 (their posteriors overlap: 0.62-0.82 and 0.70-0.76)
REONSET_STRIKE = 0.85


@dataclass(frozen=True)
class DecodedNote:
    """A note in frames: ``start`` and ``end`` (exclusive) frame indices, MIDI
    ``key``, ``amplitude`` (mean note posterior, 0..1) and ``bend_cents``
    (float32 ``[end - start]``, cents from the key per frame)."""

    start: int
    end: int
    key: int
    amplitude: float
    bend_cents: np.ndarray

    @property
    def pitch(self) -> float:
        """The key plus the note's median bend, in semitones."""
        return note_pitch(self.key, self.bend_cents)

    @property
    def onset(self) -> float:
        return self.start / FRAME_RATE

    @property
    def offset(self) -> float:
        return self.end / FRAME_RATE


def note_pitch(key: int, bend_cents: np.ndarray) -> float:
    """A note's pitch in semitones: its key plus its median bend."""
    return key + float(np.median(bend_cents)) / 100.0


def inferred_onsets(onset: np.ndarray, note: np.ndarray) -> np.ndarray:
    """The onset posteriorgram, or the note posteriorgram's rise over the last
    one and two frames (the smaller, rescaled to the onsets' peak) where larger."""
    rise = np.full(note.shape, np.inf)
    for n in range(1, ONSET_DIFFS + 1):
        before = np.concatenate([np.zeros((n, note.shape[1])), note[:-n]])
        rise = np.minimum(rise, note - before)
    rise = np.maximum(rise, 0.0)
    rise[:ONSET_DIFFS] = 0.0
    if rise.max() > 0:
        rise *= onset.max() / rise.max()
    return np.maximum(onset, rise)


def _peaks(x: np.ndarray) -> np.ndarray:
    """Local maxima along time (axis 0): frames above the one before and, after any
    run of equal values, above the next different one (a flat top counts once, at
    its first frame: the onsets scaled to their maximum tie there). The first frame
    is one when above the next different value (a recording that starts on a note:
    the silence before it was not recorded); the last never is."""
    n = x.shape[0]
    out = np.zeros(x.shape, bool)
    if n < 3:
        return out
    # per frame, the first later frame whose value differs (n - 1: none does)
    steps = np.arange(n - 1).reshape(-1, *([1] * (x.ndim - 1)))
    change = np.where(x[1:] != x[:-1], steps, n - 1)
    change = np.minimum.accumulate(change[::-1], axis=0)[::-1]
    following = np.take_along_axis(x, np.minimum(change + 1, n - 1), axis=0)
    after = (following < x[:-1]) & (change < n - 1)
    out[1:-1] = (x[1:-1] > x[:-2]) & after[1:]
    out[0] = after[0]
    return out


def _run(energy: np.ndarray, frame: int, step: int, stop: int, threshold: float) -> int:
    """Walk from ``frame`` by ``step`` while ``energy`` stays at or above
    ``threshold`` with gaps shorter than :data:`ENERGY_TOLERANCE`; the first
    frame past the last one above it. ``stop``: the walk's limit (exclusive)."""
    below = energy < threshold
    i, k = frame, 0
    while (i < stop if step > 0 else i > stop) and k < ENERGY_TOLERANCE:
        k = k + 1 if below[i] else 0
        i += step
    return i - step * k


def decode_notes(act: Activations, onset_threshold: float = ONSET_THRESHOLD,
                 frame_threshold: float = FRAME_THRESHOLD,
                 min_note_length: float = MIN_NOTE_LENGTH,
                 without_onsets: bool = False) -> List[DecodedNote]:
    """Notes of ``act`` (see the module doc), sorted by start and key.

    ``without_onsets`` adds step 3 (basic-pitch's default): on rendered chords it
    finds a piano's or guitar's ringing partials as notes (precision 0.80 -> 0.68 on
    piano), so it is off unless asked for.
    """
    note, n_frames = act.note, act.n_frames
    min_frames = int(round(min_note_length * FRAME_RATE))
    onsets = inferred_onsets(act.onset, note)
    starts = np.argwhere(_peaks(onsets) & (onsets >= onset_threshold))
    remaining = note.astype(np.float64)
    found: List[Tuple[int, int, int]] = []

    def use_up(a: int, b: int, k: int) -> None:
        remaining[a:b, max(0, k - 1):k + 2] = 0.0

    for start, k in starts[np.lexsort((starts[:, 1], starts[:, 0]))][::-1]:
        if start >= n_frames - 1:
            continue
        end = _run(remaining[:, k], start + 1, 1, n_frames - 1, frame_threshold)
        if end - start <= min_frames:
            continue
        use_up(start, end, k)
        found.append((start, end, k))
    if without_onsets:
        while True:
            peak = int(np.argmax(remaining))
            middle, k = divmod(peak, N_KEYS)
            if remaining[middle, k] <= frame_threshold:
                break
            # the walks use the energy as it was before this note used it up
            column = remaining[:, k].copy()
            column[middle] = 0.0
            end = _run(column, middle + 1, 1, n_frames - 1, frame_threshold)
            start = _run(column, middle - 1, -1, 0, frame_threshold) + 1
            use_up(start, max(end, middle + 1), k)
            if end - start > min_frames:
                found.append((start, end, k))
    bends = pitch_bends(act.contour, found)
    return sorted((DecodedNote(a, b, k + LOWEST_KEY, float(note[a:b, k].mean()), bend)
                   for (a, b, k), bend in zip(found, bends)), key=lambda n: (n.start, n.key))


def merge_reonsets(notes: Sequence[DecodedNote], onset: np.ndarray) -> List[DecodedNote]:
    """``notes`` with each one that restarts a key still sounding (it begins where the
    key's note before ends) when a note :data:`REONSET_INTERVALS` above it starts
    within :data:`REONSET_FRAMES`, struck clearly (:data:`REONSET_STRIKE`, and
    stronger) and not itself restarting its key, joined to that note before. Under a
    piano's pedal the network hears the struck octave's or twelfth's attack on the
    ringing key too: a pedalled arpeggio came out with 16 such notes for its 32
    (``onset``: the network's onset posteriorgram, ``[n_frames, keys]``)."""
    by_key: dict = {}
    for n in notes:
        by_key.setdefault(n.key, []).append(n)
    out: List[DecodedNote] = []
    last: dict = {}  # key -> index in out of its latest note
    for n in sorted(notes, key=lambda n: (n.start, n.key)):
        i = last.get(n.key)
        before = out[i] if i is not None else None
        strength = onset[n.start, n.key - LOWEST_KEY]
        struck = before is not None and before.end >= n.start and any(
            abs(m.start - n.start) <= REONSET_FRAMES
            and onset[m.start, m.key - LOWEST_KEY] >= max(strength, REONSET_STRIKE)
            and not _restarts(m, by_key.get(m.key, ()))
            for up in REONSET_INTERVALS for m in by_key.get(n.key + up, ()))
        if struck:
            length = n.end - before.start
            out[i] = DecodedNote(before.start, n.end, n.key,
                                 (before.amplitude * (before.end - before.start)
                                  + n.amplitude * (n.end - n.start)) / length,
                                 np.concatenate([before.bend_cents[:n.start - before.start],
                                                 n.bend_cents]))
            continue
        last[n.key] = len(out)
        out.append(n)
    return out


def _restarts(note: DecodedNote, same_key: Sequence[DecodedNote]) -> bool:
    """Whether ``note`` begins where another note of its key ends (a strummed
    chord strikes its octaves again; a new key struck under a pedal does not)."""
    return any(abs(m.end - note.start) <= REONSET_FRAMES for m in same_key if m is not note)


def partial_notes(notes: Sequence[DecodedNote]) -> np.ndarray:
    """Which ``notes`` are likely a partial of another note rather than notes of
    their own: ``[n]`` bool, see :data:`PARTIAL_RATIO`. The network hears strong
    partials of a clarinet, a saxophone or a trumpet (often the 8th or 9th, near
    2.2 kHz) as faint notes. In a chord a real doubling looks the same, so callers
    drop these only from a single line."""
    ratios = 12.0 * np.log2(np.arange(2, PARTIAL_HARMONICS + 1))  # semitones
    start = np.array([n.start for n in notes], np.int64)
    end = np.array([n.end for n in notes], np.int64)
    pitch = np.array([n.pitch for n in notes], np.float64)
    amplitude = np.array([n.amplitude for n in notes], np.float64)
    # the pairs of notes that overlap, by a sweep in time (a drone adds a pair a note)
    pairs, active = [], []
    for i in np.argsort(start, kind="stable"):
        active = [j for j in active if end[j] > start[i]]
        pairs += [(i, j) for j in active] + [(j, i) for j in active]
        active.append(i)
    out = np.zeros(len(notes), bool)
    if not pairs:
        return out
    a, b = np.array(pairs).T  # is a a partial of b?
    overlap = np.minimum(end[a], end[b]) - np.maximum(start[a], start[b])
    harmonic = np.min(np.abs((pitch[a] - pitch[b])[:, None] - ratios), axis=1) * 100.0
    partial = ((overlap >= 0.5 * (end[a] - start[a]))
               & (amplitude[a] < PARTIAL_RATIO * amplitude[b]) & (harmonic <= PARTIAL_CENTS))
    out[a[partial]] = True
    return out


def _gaussian(half: int, std: float) -> np.ndarray:
    x = np.arange(-half, half + 1, dtype=np.float64)
    return np.exp(-0.5 * (x / std) ** 2)


def pitch_bends(contour: np.ndarray, notes) -> List[np.ndarray]:
    """Per note ``(start, end, key index)``: cents from the key per frame
    (float32 ``[end - start]``), see the module doc."""
    n_bins = contour.shape[1]
    weight = _gaussian(BEND_BINS, BEND_STD)
    out = []
    for start, end, k in notes:
        centre = CONTOUR_BINS_PER_SEMITONE * k + 1  # bin 3k + 1 is the key itself
        lo, hi = max(0, centre - BEND_BINS), min(n_bins, centre + BEND_BINS + 1)
        rows = contour[start:end, lo:hi] * weight[lo - centre + BEND_BINS:hi - centre + BEND_BINS]
        peak = np.argmax(rows, axis=1)
        inner = (peak > 0) & (peak < rows.shape[1] - 1)
        frames = np.arange(len(rows))
        left = rows[frames, np.maximum(peak - 1, 0)]
        mid = rows[frames, peak]
        right = rows[frames, np.minimum(peak + 1, rows.shape[1] - 1)]
        curvature = left - 2 * mid + right
        shift = np.where(inner & (curvature < 0), 0.5 * (left - right) / np.where(
            curvature < 0, curvature, -1.0), 0.0)
        bins = peak + np.clip(shift, -0.5, 0.5) + lo - centre
        cents = _running_median(bins * (100.0 / CONTOUR_BINS_PER_SEMITONE), BEND_SMOOTHING)
        out.append(cents.astype(np.float32))
    return out


def _running_median(x: np.ndarray, size: int) -> np.ndarray:
    """Median over ``size`` frames centred on each (the ends use the frames they have)."""
    if len(x) < 2 or size < 2:
        return x
    half = size // 2
    padded = np.pad(x, half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, size), axis=1)


__all__ = ["DecodedNote", "note_pitch", "FRAME_THRESHOLD", "MIN_NOTE_LENGTH", "ONSET_THRESHOLD",
           "decode_notes", "inferred_onsets", "partial_notes", "pitch_bends"]
