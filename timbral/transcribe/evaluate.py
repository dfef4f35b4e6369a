"""How well notes were transcribed and played: what the benchmark and the tests measure.

- :func:`note_scores`: mir_eval's note precision, recall and F1 (onset within
  50 ms, pitch within 50 cents, offsets ignored) and the matched pairs;
  ``mir_eval`` is a test dependency (``pip install mir_eval``);
- :func:`played_pitch_errors`: for each correctly transcribed note, the pitch
  the model played (the project's pitch tracker on that note's voice alone,
  the median over confident frames from 50 ms after the onset to the
  note-off) against the true key moved as the transfer moved that note, in cents;
- :func:`silence_leak_db`: the output's loudest frame where the input is
  silent (its loudness at the floor), leaving the model's attack the onset
  tolerance before the input's sound starts (a profile's attack rises through
  its onset) and its release :data:`RELEASE_ALLOWANCE` seconds after it ends.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from ..core import hz_to_midi, midi_to_hz
from ..dsp.spectral import compute_loudness
from ..features import compute_audio_features
from ..features.notes import DEFAULT_MIN_DB
from .polyphonic import PolyphonicResult

#: mir_eval's note tolerances (s, cents).
ONSET_TOLERANCE, PITCH_TOLERANCE = 0.05, 50.0
#: Frames of the measurements (per second).
ANALYSIS_RATE = 100
#: Output frames counted as playing: f0 confidence and loudness at least this.
VOICED_CONFIDENCE, SOUNDING_DB = 0.5, -60.0
#: The start of a note left out of its pitch (s): the attack and any scoop.
SETTLE = 0.05
#: Input frames this close to the loudness floor (dB) are silence.
SILENCE_MARGIN_DB = 5.0
#: After the input's sound ends, the model's release may ring this long (s).
RELEASE_ALLOWANCE = 0.3


def _hz(keys) -> np.ndarray:
    return midi_to_hz(torch.as_tensor(np.asarray(keys, np.float64))).numpy()


def note_scores(reference: Sequence, estimated: Sequence
                ) -> Tuple[Dict[str, float], List[Tuple[int, int]]]:
    """``({"precision", "recall", "f1"}, [(reference index, estimated index)])``;
    both sequences hold notes with ``onset``, ``offset`` (s) and ``pitch`` (MIDI):
    :class:`timbral.data.Note`, :class:`~.transcription.TranscribedNote`,
    :class:`~.notes.DecodedNote`."""
    try:
        import mir_eval
    except ImportError:
        raise ValueError("note scores need mir_eval: pip install mir_eval (the test "
                         "extra)") from None
    ref_i = np.array([[n.onset, n.offset] for n in reference]).reshape(-1, 2)
    est_i = np.array([[n.onset, n.offset] for n in estimated]).reshape(-1, 2)
    ref_p, est_p = _hz([n.pitch for n in reference]), _hz([n.pitch for n in estimated])
    pairs = mir_eval.transcription.match_notes(ref_i, ref_p, est_i, est_p, ONSET_TOLERANCE,
                                               PITCH_TOLERANCE, offset_ratio=None)
    precision = len(pairs) / max(len(estimated), 1)
    recall = len(pairs) / max(len(reference), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "f1": f1}, list(pairs)


def played_pitch_errors(result: PolyphonicResult, reference: Sequence,
                        pairs: Sequence[Tuple[int, int]]) -> np.ndarray:
    """Cents (played - true, float64 ``[n]``) of every matched note that sounded
    in the output (see the module doc)."""
    estimated = result.transcription.notes
    where = {}  # (onset, pitch played) -> the voice that played it
    for v, played in enumerate(result.rendering.voices):
        for note in played.voice.notes:
            where[(round(note.onset, 6), round(note.pitch, 6))] = v
    tracks = {}
    errors = []
    for r, e in pairs:
        shift = result.note_semitones[e]
        v = where.get((round(estimated[e].onset, 6), round(estimated[e].key + shift, 6)))
        if v is None:
            continue
        if v not in tracks:
            tracks[v] = compute_audio_features(result.rendering.voices[v].audio,
                                               result.rendering.sample_rate, ANALYSIS_RATE)
        f = tracks[v]
        a = int(np.ceil((estimated[e].onset + SETTLE) * ANALYSIS_RATE))
        b = int(estimated[e].offset * ANALYSIS_RATE)
        ok = ((f["f0_confidence"][a:b] >= VOICED_CONFIDENCE)
              & (f["loudness_db"][a:b] > SOUNDING_DB))
        if ok.sum() < 3:
            continue
        played = hz_to_midi(torch.from_numpy(f["f0_hz"][a:b][ok].astype(np.float64))).numpy()
        errors.append(100.0 * (np.median(played) - reference[r].pitch - shift))
    return np.array(errors)


def silence_leak_db(audio: np.ndarray, sample_rate: int, result: PolyphonicResult) -> float:
    """The output's loudest frame (dB) where the input ``audio`` is silent (see the
    module doc); -80 when there is no such frame."""
    def loudness(x, rate):
        return compute_loudness(torch.from_numpy(np.ascontiguousarray(x, np.float32)), rate,
                                ANALYSIS_RATE)[0].numpy()

    inp, out = loudness(audio, sample_rate), loudness(result.audio, result.sample_rate)
    sounding = (inp > DEFAULT_MIN_DB + SILENCE_MARGIN_DB).astype(float)
    # each sounding frame, the onset tolerance before it and the release after it
    before, after = int(ONSET_TOLERANCE * ANALYSIS_RATE), int(RELEASE_ALLOWANCE * ANALYSIS_RATE)
    ringing = np.convolve(sounding, np.ones(before + after + 1))[before:before + len(inp)]
    n = min(len(out), len(inp))
    leak = out[:n][ringing[:n] == 0]
    return float(leak.max()) if len(leak) else DEFAULT_MIN_DB


__all__ = ["note_scores", "played_pitch_errors", "silence_leak_db"]
