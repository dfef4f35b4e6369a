"""The voicing gate: which frames a pitched instrument should play.

A frame plays (is *voiced*) only when the input there is a pitched sound a
listener would call a note:

- periodic: the tracker's confidence (for the refined trackers, the larger of
  the network's and the harmonic-to-noise ratio's) is high;
- loud enough: its loudness is above the recording's own noise floor, the
  :data:`FLOOR_QUANTILE` of the loudness of its aperiodic frames (confidence
  below :data:`APERIODIC_CONFIDENCE`) and of those holding mains hum
  (:func:`measures_floor`): per recording offline, a running
  estimate of the same quantile in a stream (:class:`NoiseFloor`);
- in a plausible pitch range (:data:`MIN_F0_HZ` .. :data:`MAX_F0_HZ`), and
  not mains hum (:data:`HUM_HZ`): :func:`plausible_pitch`;
- not noise through a resonance (a swoosh, wind across a pipe): a pitch the
  tracker is sure of, but no overtones and a pitch and level that jump about
  (:data:`WANDER_CENTS`; offline :func:`resonant_noise` over 0.2 s of each
  frame's run near its pitch (:data:`JUDGE_CENTS`), a stream from the frames it has
  heard, given their overtones: :data:`BARE_SECONDS`);
- not a band where a note has a line: the partials near a pitch from
  :data:`LINE_MIN_HZ` up standing under :data:`LINE_OVER_BAND_DB` over the band
  around them (:func:`line_db`): whispered vowels and fricatives, a hiss (offline
  over the frames judged with it, a stream over its last frames, where no note
  starts on one);
- not a steady tone of the recording's background (a fan's blade in its airflow:
  :mod:`timbral.features.background`); such frames count as aperiodic.

With hysteresis: a note starts on the strict thresholds of
:class:`GateRules` and goes on while the looser ones hold. A short unvoiced
gap inside a note is bridged (the note goes on at the pitch it had) only where
the input is legato: it keeps sounding at a level near the note's. With
``hold_pitch`` (for singing) gaps up to :data:`HOLD_SECONDS` are bridged
whatever their level: consonants and breaths inside a phrase; after a gap longer
than :data:`BRIDGE_SECONDS` the note comes back only on a pitch clear enough to
start one (a breath's stray readings do not carry it on).

:class:`VoicingGate` makes the decision frame by frame from the past alone
(it adds no latency), so the streaming engine runs it as it is, asking each
note to start on two frames that agree in pitch (``confirm``): the tracker's
first frame of an attack, its window only partly filled by the note, is often
a harmonic of it, and a stream cannot take back a chirp (a note that is
already sure of itself when it fills the window starts at once). A stream's windows
end at the frame, so they hold a note a window's length after the input
stopped; given the loudness of the newest 10 ms as well (``recent_db``), the
gate mutes the note on the frame the input falls to the floor, and lets it go
on, unconfirmed, if the input comes back near the note's level within the
bridge time (a re-articulated note); given how the newest audio repeats
(``repeats``: :func:`newest_repeats`), it mutes it where the input goes on but no
longer repeats, at the note's period or near it (a fricative after a vowel;
unless ``hold_pitch``). Offline,
:func:`gate_voicing` runs the same gate over a whole recording and then uses
what comes later, which a stream cannot: it takes back what turned out wrong
(a bridge that ended in a rest; a note with fewer than ``min_note_seconds`` of
frames of its own, its bridges not counted; a run of noise through a resonance),
corrects the tracker's octave errors at attacks and one-frame pitch blips
(:func:`clean_transitions`), moves pitch changes the tracker reports late back
to where the new note began (:func:`backdate_changes`, given the audio), and
gives the silent frame before an attack the attack's pitch so the synth does
not glide into it.

Units: f0 in Hz, confidence in [0, 1], loudness in dB (floor -80); curves are
numpy ``[n_frames]``.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Tuple

import numpy as np
import torch

from ..dsp.spectral import frame_hop
from ..validation import check_number, check_positive, check_size
from .background import CHUNK_FRAMES, background_frames, frame_spectra
from .notes import DEFAULT_MIN_DB, as_curve, check_confidence, check_same_length
from .pitch.refine import BARE_OVERTONES_DB, harmonic_refine, overtones_db, window_sizes

__all__ = ["GateRules", "gate_rules", "NoiseFloor", "VoicingGate", "GateFrame", "Voicing",
           "gate_voicing", "clean_transitions", "backdate_changes", "noise_floor", "MIN_F0_HZ",
           "MAX_F0_HZ", "HUM_HZ", "plausible_pitch", "measures_floor", "hum_cents",
           "APERIODIC_CONFIDENCE", "FLOOR_QUANTILE", "HOLD_SECONDS", "resonant_noise", "line_db",
           "newest_repeats"]

#: The plausible pitch range of a melody's fundamental (Hz): from D1 (a bass tuned
#: down a tone, a contrabassoon; CREPE reads down to 32.7 Hz) to C8 (a piccolo's top;
#: above CREPE's 1975 Hz the refined trackers' octave check reads it).
MIN_F0_HZ, MAX_F0_HZ = 36.0, 4200.0
#: Mains hum, a steady "note" the tracker is sure of: a pitch within HUM_CENTS of
#: these (Hz) never plays. No note lies that close in tunings from A435 to A445 (G1 is
#: 35 cents under 50 Hz at A440, B-flat 1 51 cents under 60 Hz). Not twice these (a
#: transformer's or a fridge's hum): a man's voice passes 100 and 120 Hz all the time.
HUM_HZ, HUM_CENTS = (50.0, 60.0), 15.0
#: In noise the tracker reads a hum up to 27 cents off: frames this close to it
#: (cents) measure the noise floor, as aperiodic frames do, which puts the wavering
#: ones under it. No note lies that close in tunings from A435 to A443 (G1 is 23
#: cents under 50 Hz at A443).
HUM_FLOOR_CENTS = 20.0
#: The most confidence a note needs to start: a clean tone reaches 0.99 in a stream,
#: so the strictest gate must not ask for 1.
MAX_CONFIDENCE_ON = 0.95
#: Frames below this confidence are aperiodic: their loudness measures the noise floor
#: (and that of frames holding mains hum: :func:`measures_floor`).
APERIODIC_CONFIDENCE = 0.35
#: The noise floor is this quantile of the aperiodic frames' loudness.
FLOOR_QUANTILE = 0.2
#: The floor needs this much aperiodic audio (s) before it is trusted; until then
#: (and in a recording without any) it is the -80 dB floor of silence.
FLOOR_MIN_SECONDS = 0.25
#: The streaming floor forgets aperiodic frames with this time constant (s), and
#: reads its quantile from bins this wide (dB) up to FLOOR_TOP_DB.
FLOOR_MEMORY_S = 10.0
FLOOR_STEP_DB, FLOOR_TOP_DB = 0.5, 40.0
#: Longest gap bridged inside a legato phrase, and with ``hold_pitch`` (s).
BRIDGE_SECONDS, HOLD_SECONDS = 0.06, 0.25
#: A gap is legato while it stays within this many dB of the note's level, its
#: loudest recent frame (a peak falling this fast, dB/s).
LEGATO_DROP_DB = 12.0
LEVEL_FALL_DB_S = 20.0
#: Offline, an attack is followed back this far (s) while its loudness rises
#: from the floor: a note's first frames, before the pitch is clear in the noise.
ATTACK_SECONDS = 0.08
#: ... if it rises at least this much (dB) into the onset, through frames the noise
#: can hide a note in: at most this far above the floor (a consonant before a
#: vowel is louder, and stays out).
ATTACK_RISE_DB = 3.0
ATTACK_MASKED_DB = 12.0
#: With ``confirm``, a note starts on a frame within this many cents of the one before.
CONFIRM_CENTS = 100.0
#: A stream mutes a note as soon as its newest audio has fallen this far (dB) under
#: the note's level and to the floor (plus the margin a note needs to start; until the
#: floor is known, this far under the window's level); it comes back within the bridge
#: time once the newest audio is within this of the note's level again.
RELEASE_DROP_DB = 6.0
#: ... and needs no second frame where the tracker's window is full of the note: its
#: newest audio at most FILLED_DB louder than its oldest (more: an attack still filling
#: it) and at most STOPPED_DB quieter (more: a sound that has just stopped).
FILLED_DB, STOPPED_DB = 3.0, 20.0
#: ... and (bridging legato only) as soon as its newest NEWEST_SECONDS (at least
#: NEWEST_PERIODS of the pitch) no longer repeat: their normalised autocorrelation one
#: to three of the note's periods back is under REPEATS_AT_PITCH, and at any lag from
#: NEWEST_LAGS[0] to NEWEST_LAGS[1] periods under REPEATS_ANYWHERE (a new note the
#: tracker has not followed yet repeats there). A vowel gives way to a fricative or a
#: plosive while the tracker's window still holds it: the notes of festival's and
#: espeak-ng's voices went on 40-120 ms into them (up to 20 % of the output's energy).
#: The note comes back within the bridge time where the audio repeats again: over both
#: thresholds on a frame the tracker is fairly sure of, or REPEATS_AGAIN near the
#: pitch whatever its confidence (a new note's attack, which it follows late). A hiss
#: reads over one of them by chance on up to a third of its frames, over both on 0.2 %.
NEWEST_SECONDS, NEWEST_PERIODS, NEWEST_PERIODS_BACK = 0.01, 1.5, 3
NEWEST_LAGS, NEWEST_MAX_LAG_S = (0.45, 2.2), 0.025
REPEATS_AT_PITCH, REPEATS_ANYWHERE, REPEATS_AGAIN = 0.2, 0.45, 0.6
#: Offline, notes with fewer frames of their own than this (s; their bridged gaps not
#: counted) are taken back: a whisper's one clear frame and the gap bridged after it
#: are no note.
MIN_NOTE_SECONDS = 0.05
#: Octave errors at an attack last at most this long (s) to be corrected offline,
#: when the note then holds the other octave at least SETTLED_SECONDS.
ATTACK_OCTAVE_SECONDS = 0.16
SETTLED_SECONDS = 0.03
#: ... unless the audio shows both octaves played (offline): the lower reading's odd
#: harmonics (which the octave above lacks) at least OCTAVE_LOWER_ODD_DB against its
#: even ones there, and OCTAVE_EVIDENCE_DB more than in the upper reading; and the
#: segment after lasts under OCTAVE_HELD_RATIO times the short one (an attack's
#: error leads into its note: a sampled tenor sax's attacks sound the octave below
#: for 0.12 s, at that level)
OCTAVE_LOWER_ODD_DB, OCTAVE_EVIDENCE_DB, OCTAVE_HELD_RATIO = -4.0, 10.0, 6
#: Periods of the lower reading in each window that measures it.
REFINE_PERIODS = 5.0
#: A pitch this short (s) inside a played run is the tracker's, not the input's: a
#: blip between two frames that agree, or at a run's end (a voice's last frame read
#: as 1.9 kHz under an 80 Hz phrase played a 4.7 kHz flute click).
BLIP_SECONDS = 0.02
#: Offline, played frames are noise through a resonance (a swoosh, wind across a pipe,
#: a creak), not a note, where their run, over JUDGE_SECONDS around them, wanders and
#: has no overtones: on WANDER_SHARE of its frames or more the loudness lies WANDER_DB
#: or the pitch WANDER_CENTS or more from the median of the frame and its neighbours
#: one and two WANDER_SPACING_S either side (such noise reads as a level and a pitch
#: that jump about from frame to frame, a note's move smoothly or in steps; frames
#: further apart are compared with more cents, as a smooth pitch's distance from that
#: median grows with the square of the spacing), and its overtones stand less than
#: BARE_OVERTONES_DB over the spectrum between harmonics (median;
#: :func:`~timbral.features.pitch.refine.overtones_db`). Measured: noise through
#: resonances at 180-1200 Hz (Q 8-30) and a swoosh have overtones at -3 to 5 dB and
#: wander on half their frames or more; notes in pink noise at 0 dB SNR stand 9 dB and
#: up; a sine with 100 cents of vibrato at 5.5 Hz wanders on 4 % of them.
WANDER_CENTS, WANDER_DB, WANDER_SHARE = 40.0, 1.0, 0.4
WANDER_SPACING_S = 0.02
#: ... the window (s), centred on the frame, inside its run, and of its frames those
#: within JUDGE_CENTS of its pitch or CONFIRM_CENTS of its octaves (the tracker's
#: octave errors): wind a note's overtones vouched for played with it. Closer than
#: that, wind is still judged with the notes: a real violin's soft frames lean on
#: their neighbours a step or a leap away (at 400 cents its recall fell 0.2-0.8 %).
JUDGE_SECONDS, JUDGE_CENTS = 0.2, 1000.0
#: Offline, a pitch from LINE_MIN_HZ up is noise too where the clearest of the partials
#: near it stands under LINE_OVER_BAND_DB as a line over the band around it
#: (:func:`line_db`; the median of the frames judged with it that are measured): a
#: whispered vowel or fricative, a hiss, have bands there as wide as their resonances
#: (their peaks can pass for overtones), a note has lines. Measured at 16 kHz on frames
#: the tracker is fairly sure of (0.45): noise through resonances at 2-3.75 kHz, a steam
#: recording and whispered speech stand -5 to -1.5 dB (median), under 2 dB at the 90th
#: percentile; SoundFont melodies clean and in noise down to 0 dB SNR 9-25 dB, piccolo
#: phrases and a whistle with vibrato 14-25 dB, a real violin's Bach 17-18 dB, but 3-4
#: dB for a second on a note whose neighbour a semitone away rings on in the room (in
#: the band: a line of 4 dB took it for noise).
LINE_OVER_BAND_DB, LINE_MIN_HZ = 2.0, 400.0
#: ... the partials: the strongest bin from LINE_NEAR[0] to LINE_NEAR[1] times the pitch
#: (where the tracker reads a piccolo's D#7 a fifth high, its note's line is there) and
#: the strongest within LINE_NEAR_HARMONIC (a share) of each of the pitch's first
#: LINE_HARMONICS harmonics (where a louder resonance is the strongest, a note in it
#: still has its own), those whose band spans LINE_MIN_BINS or more either side; each
#: with LINE_BINS or LINE_WIDTH of its frequency either side, whichever is more (30
#: cents of vibrato at 3 kHz spread a 3-bin line of 85 ms windows to 2 dB), against its
#: frequency +- LINE_BAND (shares of it); in the windows of
#: :func:`~timbral.features.background.frame_spectra` (64 ms at 16 kHz, 85 ms at 48).
#: White noise, whose bins are alike, reads higher where the band holds fewer bins (+2
#: dB at 400 Hz at 16 kHz, -7 dB at 3.75 kHz): the test is weakest at low pitches.
LINE_BINS, LINE_WIDTH, LINE_BAND, LINE_NEAR, LINE_MIN_BINS = 1, 0.01, 0.12, (0.45, 3.2), 3
LINE_HARMONICS, LINE_NEAR_HARMONIC = 3, 0.03
#: A stream takes a frame for a band where its line and those of the frames measured
#: just before it, up to LINE_FRAMES in all, all stand under LINE_OVER_BAND_DB (its
#: windows end at the frame; their median cost notes starting in noise 1 % of their
#: frames): no note starts on a band, and a frame whose overtones are unknown does not
#: play on one.
LINE_FRAMES = 3
#: A stream, which cannot take a run back, judges noise through a resonance frame by
#: frame (given each frame's overtones): its frames without overtones that could play,
#: forgotten with BARE_MEMORY_S (the resonance's evidence fades soon after it stops),
#: are taken as notes once BARE_SECONDS of them wander on under WANDER_SHARE (a
#: whistle's first note starts that late) and as noise once they wander on more. Until
#: they are notes, a frame without overtones plays nothing, a note starts only on
#: FAST_SECONDS of frames with overtones in a row whose mean is CLEAR_DB or more
#: (CLEAR_SECONDS of them where such frames are noise: noise through a resonance has
#: two frames with overtones in a row, 20 ms apart, on 2 % of its frames, most of them
#: barely over the line), and from CLEAR_SECONDS on it ends wherever the mean of its
#: frames' overtones so far lies under BARE_OVERTONES_DB, or, where such frames are
#: noise, that of its last CLEAR_SECONDS of frames that could play does (else a rich
#: note's surplus keeps the wind after it playing, the longer the note the longer).
#: Frames whose overtones are unknown (NaN: a pitch from about 1.7 kHz up, where a
#: band of hiss, steam, reads) are judged by their wander alone, among themselves:
#: noise once BARE_SECONDS of them wander on WANDER_SHARE (offline: all the
#: recording's such frames taken together; a run's own share caught a piccolo's
#: high notes). A stream plays them until then (waiting, as for frames without
#: overtones, or a share of 0.3, cost a piccolo's phrase 4-7 % of its notes' frames;
#: the first 0.2-0.5 s of such a hiss plays).
BARE_SECONDS, CLEAR_SECONDS, FAST_SECONDS, CLEAR_DB = 0.16, 0.06, 0.04, 12.0
BARE_MEMORY_S = 1.0
#: Offline, a pitch change may move back this far (s) to where the new note's
#: harmonics rose: a tracker follows the louder sound, and a note's start is
#: often under the release of the one before (legato, rooms).
LATE_CHANGE_SECONDS = 0.3
#: ... when, against the old note's own harmonics, the new note's rise at least
#: this much (dB) above where they were early in the old note. Its climb there is
#: looked for from where they last stood under ONSET_DB above it (the new note
#: starts there when the climb has no rising slope).
CHANGE_RISE_DB = 10.0
ONSET_DB = 5.0
#: The new note starts where the tangent at the climb's steepest (its slope over
#: this long, s) meets the baseline, less a bias measured on SoundFont changes away
#: from the benchmark's: CHANGE_BIAS_S + CHANGE_BIAS_S_PER_DB * the climb's height
#: (dB, within CHANGE_HEIGHTS_DB). A low climb (a slow attack under a loud release)
#: meets the baseline late, a high one early: on 124 changes of other phrases the
#: correction took the estimates' scatter from 12 to 10 ms.
CHANGE_SLOPE_SECONDS = 0.02
CHANGE_BIAS_S, CHANGE_BIAS_S_PER_DB = 0.020, -0.00048
CHANGE_HEIGHTS_DB = (15.0, 70.0)
#: A tracker slides from one steady pitch (frames moving under STEADY_CENTS_PER_S)
#: to another when the notes overlap (its window averages them), but so does a
#: player: a slide of at most SLIDE_SECONDS is a change when, half-way, the
#: spectrum between the notes' harmonics lies at least SLIDE_VALLEY_DB under
#: theirs (two notes), not a glide's energy in between.
STEADY_CENTS_PER_S = 2000.0
SLIDE_SECONDS = 0.12
SLIDE_VALLEY_DB = -10.0
#: A tracker's glide into the new note (the old one's release averaged with the new
#: one's attack) lasts about its window: at most this long (s).
GLIDE_SECONDS = 0.06
#: The spectra that measure it: windows of about 64 ms (resolves a semitone at
#: 200 Hz) reaching this share of their length past their frame (a centred one
#: sees a clean change a frame or two early, one that ends at its frame a frame or
#: more late), harmonics up to the 10th below 5 kHz, a harmonic of one note within
#: 3 % (or 2.5 bins) of the other's counted as shared.
CHANGE_WINDOW_S, CHANGE_LEAD = 0.064, 0.3
CHANGE_HARMONICS, CHANGE_TOP_HZ, CHANGE_SHARED = 10, 5000.0, 0.03


@dataclass(frozen=True)
class GateRules:
    """The thresholds of one gate setting (see :func:`gate_rules`).

    Attributes:
      confidence_on, confidence_off: confidence a note needs to start / to go on.
      margin_on_db, margin_off_db: dB above the noise floor a note needs to
        start / to go on.
      bridge_seconds: longest unvoiced gap bridged inside a note.
      legato_only: bridge only while the input keeps sounding (within
        :data:`LEGATO_DROP_DB` of the note's level and ``margin_on_db`` above
        the floor); False bridges any gap (``hold_pitch``).
      min_note_seconds: offline, notes with fewer frames of their own (bridges not
        counted) are taken back.
      min_f0_hz, max_f0_hz: the pitch range a note must lie in (mains hum
        excluded: :func:`plausible_pitch`).
    """

    confidence_on: float
    confidence_off: float
    margin_on_db: float
    margin_off_db: float
    bridge_seconds: float = BRIDGE_SECONDS
    legato_only: bool = True
    min_note_seconds: float = MIN_NOTE_SECONDS
    min_f0_hz: float = MIN_F0_HZ
    max_f0_hz: float = MAX_F0_HZ


def hum_cents(f0_hz):
    """Distance (cents, >= 0) from each pitch (Hz, > 0; a number or an array) to the
    nearest of :data:`HUM_HZ`."""
    cents = 1200.0 * np.log2(np.asarray(f0_hz, np.float64)[..., None] / np.array(HUM_HZ))
    return np.abs(cents).min(axis=-1)


def plausible_pitch(f0_hz: float, rules: GateRules) -> bool:
    """Whether a pitch (Hz) can be a note under ``rules``: within ``min_f0_hz ..
    max_f0_hz`` and more than :data:`HUM_CENTS` from mains hum."""
    return bool(rules.min_f0_hz <= f0_hz <= rules.max_f0_hz and hum_cents(f0_hz) > HUM_CENTS)


def measures_floor(f0_hz, f0_confidence):
    """Which frames measure the noise floor (bool, the inputs' shape): the aperiodic
    ones (confidence under :data:`APERIODIC_CONFIDENCE`) and those within
    :data:`HUM_FLOOR_CENTS` of mains hum (f0 in Hz; None: no frame is taken for hum)."""
    noise = np.asarray(f0_confidence) < APERIODIC_CONFIDENCE
    if f0_hz is None:
        return noise
    f0 = np.asarray(f0_hz, np.float64)
    return noise | ((f0 > 0) & (hum_cents(np.maximum(f0, 1e-9)) <= HUM_FLOOR_CENTS))


def _wander_cents(frame_rate: float) -> float:
    """The pitch wander (cents) of :data:`WANDER_CENTS` for frames ``1 / frame_rate``
    s apart (wider than :data:`WANDER_SPACING_S`: more)."""
    return WANDER_CENTS * max(1.0, 1.0 / (WANDER_SPACING_S * frame_rate)) ** 2


def _wander_step(frame_rate: float) -> int:
    """Frames between the frames compared for wander: :data:`WANDER_SPACING_S` apart,
    or neighbours where frames lie further apart."""
    return max(1, int(round(WANDER_SPACING_S * frame_rate)))


def gate_rules(gate: float, hold_pitch: bool = False) -> Optional[GateRules]:
    """The thresholds for a gate setting ``gate`` in [0, 1] (the transfer control).

    0 turns the gate off (returns None: every frame plays, as in Magenta's
    notebook). Higher values ask for a clearer pitch and more level above the
    noise floor: at the default 0.5 a note starts at confidence 0.8 and 3 dB
    above the floor and goes on down to confidence 0.45 and 1 dB; at 1,
    confidence :data:`MAX_CONFIDENCE_ON` and 6 dB. ``hold_pitch``
    bridges gaps up to :data:`HOLD_SECONDS` at any level (singing: consonants,
    breaths) instead of :data:`BRIDGE_SECONDS` of legato.
    """
    gate = check_number(gate, "gate", minimum=0.0)
    if gate > 1.0:
        raise ValueError(f"gate: expected a number from 0 to 1, got {gate:g}")
    if gate == 0.0:
        return None
    on = min(0.6 + 0.4 * gate, MAX_CONFIDENCE_ON)
    return GateRules(confidence_on=on, confidence_off=on - 0.35, margin_on_db=6.0 * gate,
                     margin_off_db=2.0 * gate,
                     bridge_seconds=HOLD_SECONDS if hold_pitch else BRIDGE_SECONDS,
                     legato_only=not hold_pitch)


# ---------------------------------------------------------------- noise floor
def noise_floor(loudness_db, f0_confidence, frame_rate: float, f0_hz=None) -> float:
    """A recording's noise floor (dB): the :data:`FLOOR_QUANTILE` of the loudness
    of its aperiodic frames (and of those holding mains hum,
    :func:`measures_floor`), or -80 dB when it has under
    :data:`FLOOR_MIN_SECONDS` of them (nothing to measure a floor on).

    ``loudness_db``, ``f0_confidence``, ``f0_hz`` (Hz; None: no hum taken):
    ``[n_frames]``; ``frame_rate`` in Hz.
    """
    ld = as_curve(loudness_db, "loudness_db")
    conf = as_curve(f0_confidence, "f0_confidence")
    check_same_length(loudness_db=ld, f0_confidence=conf)
    if f0_hz is not None:
        f0_hz = as_curve(f0_hz, "f0_hz")
        check_same_length(loudness_db=ld, f0_hz=f0_hz)
    aperiodic = ld[measures_floor(f0_hz, conf)]
    if aperiodic.size < FLOOR_MIN_SECONDS * check_positive(frame_rate, "frame_rate"):
        return DEFAULT_MIN_DB
    return float(np.quantile(aperiodic, FLOOR_QUANTILE))


class NoiseFloor:
    """The running version of :func:`noise_floor` for a stream.

    The loudness of the frames that measure it (:func:`measures_floor`) goes into a
    histogram (:data:`FLOOR_STEP_DB`
    bins) whose counts decay with a :data:`FLOOR_MEMORY_S` time constant; the
    floor is its :data:`FLOOR_QUANTILE`. Until :data:`FLOOR_MIN_SECONDS` of
    such frames have been heard, :attr:`value` is -80 dB. ``fixed``: a
    known floor (offline), which frames do not change.
    """

    def __init__(self, frame_rate: float, fixed: Optional[float] = None):
        self.frame_rate = check_positive(frame_rate, "frame_rate")
        self.needed = FLOOR_MIN_SECONDS * self.frame_rate
        self.decay = 1.0 - 1.0 / (FLOOR_MEMORY_S * self.frame_rate)
        self.fixed = None if fixed is None else check_number(fixed, "noise floor")
        self.edges = np.arange(DEFAULT_MIN_DB, FLOOR_TOP_DB + FLOOR_STEP_DB / 2, FLOOR_STEP_DB)
        self.reset()

    def reset(self) -> None:
        self.counts = np.zeros(len(self.edges) - 1)
        self.heard = 0
        self._value = DEFAULT_MIN_DB

    @property
    def known(self) -> bool:
        """Whether the floor is fixed or measured (else :attr:`value` is -80 dB)."""
        return self.fixed is not None or self.heard >= self.needed

    @property
    def value(self) -> float:
        """The floor to compare frames with (dB)."""
        return self._value if self.fixed is None else self.fixed

    def update(self, confidence: float, loudness_db: float,
               f0_hz: Optional[float] = None) -> None:
        """Take one frame (its f0 in Hz; None: no hum taken)."""
        if self.fixed is not None or not measures_floor(f0_hz, confidence):
            return
        self.counts *= self.decay
        i = int(np.clip((loudness_db - DEFAULT_MIN_DB) // FLOOR_STEP_DB, 0, len(self.counts) - 1))
        self.counts[i] += 1.0
        self.heard += 1
        if self.heard >= self.needed:
            cdf = np.cumsum(self.counts) / self.counts.sum()
            self._value = float(np.interp(FLOOR_QUANTILE, np.concatenate([[0.0], cdf]),
                                          self.edges))


# ----------------------------------------------------------------- the gate
class GateFrame(NamedTuple):
    """One frame's decision: ``voiced`` (the frame plays), ``f0_hz`` (the
    pitch to play: the input's, or the note's last pitch in a bridged gap or
    after the note) and ``bridged`` (an unvoiced gap inside a note)."""

    voiced: bool
    f0_hz: float
    bridged: bool


class VoicingGate:
    """The voicing decision frame by frame, from the past only (see the module doc).

    Args:
      frame_rate: frames per second.
      rules: the thresholds (:func:`gate_rules`).
      noise_floor_db: a known noise floor (offline: :func:`noise_floor`);
        None: a running :class:`NoiseFloor` (and one of ``recent_db``).
      revisions: keep :attr:`revoked` and :attr:`onsets` (offline; a stream
        cannot use them, and they would grow with it).
      confirm: a note starts only on the second of two frames that would start
        one, within :data:`CONFIRM_CENTS` of each other (a stream: it cannot
        correct an attack's first frame afterwards, as offline does), or on a
        frame whose tracker window the note already fills (``window_rise_db``).

    Calling it with one frame's ``(f0_hz, confidence, loudness_db)``, and
    optionally ``recent_db`` (a stream: the loudness of its newest audio, see
    :data:`RELEASE_DROP_DB`) and ``window_rise_db`` (how much louder that is
    than the oldest audio in the tracker's window, see :data:`FILLED_DB`) and
    ``overtones`` (a stream's frame's overtones, dB: :func:`overtones_db`; see
    :data:`BARE_SECONDS`) and ``line`` (its partial's line, dB: :func:`line_db`, NaN:
    not measured; see :data:`LINE_FRAMES`) and ``repeats`` (how its newest audio
    repeats: :func:`newest_repeats`; see :data:`REPEATS_AT_PITCH`),
    returns its :class:`GateFrame`. Decisions are
    final for a stream. With ``revisions``, :attr:`revoked` lists frames
    (absolute indices, from 0) that later frames showed to be wrong (a bridge
    that ended in a rest, a note with under ``rules.min_note_seconds`` of frames
    of its own) and :attr:`onsets` the frames where notes started;
    :func:`gate_voicing` uses both.
    """

    def __init__(self, frame_rate: float, rules: GateRules,
                 noise_floor_db: Optional[float] = None, revisions: bool = False,
                 confirm: bool = False):
        if not isinstance(rules, GateRules):
            raise ValueError(f"rules: expected GateRules, got {type(rules).__name__}")
        self.rules = rules
        self.frame_rate = check_positive(frame_rate, "frame_rate")
        self.floor = NoiseFloor(self.frame_rate, noise_floor_db)
        # the floor as the newest audio reads it: a short window reads noise (brown
        # noise above all) higher and more unevenly than a long one
        self.recent_floor = NoiseFloor(self.frame_rate, noise_floor_db)
        self.bridge_frames = int(round(rules.bridge_seconds * self.frame_rate))
        self.legato_frames = int(round(BRIDGE_SECONDS * self.frame_rate))
        self.min_note_frames = int(math.ceil(rules.min_note_seconds * self.frame_rate))
        self.revisions = bool(revisions)
        self.confirm = bool(confirm)
        self.level_fall = LEVEL_FALL_DB_S / self.frame_rate
        self.step = _wander_step(self.frame_rate)
        self.wander_cents = _wander_cents(self.frame_rate / self.step)
        self.bare_frames = BARE_SECONDS * self.frame_rate
        self.clear_frames = max(2, int(round(CLEAR_SECONDS * self.frame_rate)))
        self.fast_frames = max(2, int(round(FAST_SECONDS * self.frame_rate)))
        self.bare_keep = 1.0 - 1.0 / (BARE_MEMORY_S * self.frame_rate)
        self.reset()

    def reset(self) -> None:
        """Forget the stream (the floor too, unless it is fixed)."""
        self.floor.reset()
        self.recent_floor.reset()
        self.frames = 0
        self.on = False
        self.note_start = 0
        self.note_frames = 0  # the note's frames that sounded (not bridged)
        self.gap = 0  # frames of the bridged (or muted) gap in progress
        self.muted = False  # the gap in progress began where the input stopped
        self.fell = False  # ... and fell to the floor in it (else: it stopped repeating)
        self.held_f0: Optional[float] = None  # the note's last voiced pitch
        self.candidate: Optional[float] = None  # with confirm: the last frame that could start
        self.note_db = DEFAULT_MIN_DB  # the note's level: a peak that falls LEVEL_FALL_DB_S
        self.revoked: List[int] = []
        self.onsets: List[int] = []
        self.implausible = 0  # frames that would have played but for their pitch
        # with overtones (a stream): the last frames' (cents, dB, candidate: 0 none, 1
        # without overtones, 2 with them unknown) over five steps; of the candidates of
        # each kind, those judged and those that wandered ([kind - 1] = [judged,
        # wandered], decayed); the overtones of the frames with overtones in a row; the
        # note's overtones (sum, frames) and those of its last frames; the lines
        # (line_db) of the last frames measured in a row
        self.recent: deque = deque(maxlen=4 * self.step + 1)
        self.wandered = np.zeros((2, 2))
        self.clear_tail: deque = deque(maxlen=self.clear_frames)
        self.note_overtones = (0.0, 0)
        self.note_tail: deque = deque(maxlen=self.clear_frames)
        self.lines: deque = deque(maxlen=LINE_FRAMES)

    def __call__(self, f0_hz: float, confidence: float, loudness_db: float,
                 recent_db: Optional[float] = None,
                 window_rise_db: Optional[float] = None,
                 overtones: Optional[float] = None,
                 line: Optional[float] = None,
                 repeats: Optional[Tuple[float, float]] = None) -> GateFrame:
        r = self.rules
        k = self.frames
        self.frames += 1
        f0, conf, ld = float(f0_hz), float(confidence), float(loudness_db)
        floor, noise_now = self.floor.value, self.recent_floor.value
        self._measure(f0, conf, ld, recent_db)
        in_range = plausible_pitch(f0, r)
        could = in_range and conf >= r.confidence_off and ld >= floor + r.margin_off_db
        known = overtones is not None and math.isfinite(overtones)
        if line is not None and math.isfinite(line):
            self.lines.append(float(line))
        else:
            self.lines.clear()
        banded = bool(self.lines) and max(self.lines) < LINE_OVER_BAND_DB
        if overtones is not None:
            self._tally(f0, ld, 0 if not could else 2 if not known
                        else 1 if overtones < BARE_OVERTONES_DB else 0)
            # overtones unknown (a high pitch): judged by such frames' wander alone
            if not (self._resonance_allows(float(overtones), could) if known
                    else not (self._wanders(2) or banded)):
                if self.on:  # noise through a resonance: the note ends, nothing bridges it
                    self.on, self.gap, self.muted = False, 0, False
                # the frame after may confirm it, as if it had been heard
                starts = could and conf >= r.confidence_on and ld >= floor + r.margin_on_db
                self.candidate = f0 if starts else None
                return self._silent(f0)
        if not known and not self.on:
            # a note starting here, unjudged, owns no earlier frame's overtones
            self.note_overtones = (0.0, 0)
            self.note_tail.clear()
        # after a gap a legato bridge would not cross, only a clear pitch carries a note on
        goes_on = r.legato_only or self.gap <= self.legato_frames
        fell = False
        if self.on and recent_db is not None:
            # the newest audio fell well under the note, and to the floor (until the stream
            # knows its floor: well under the window's level, a sudden fall)
            under = (noise_now + r.margin_on_db if self.recent_floor.known
                     else ld - RELEASE_DROP_DB)
            fell = float(recent_db) < min(self.note_db - RELEASE_DROP_DB, under)
        # or the note's newest audio no longer repeats: a consonant after a vowel (NaN:
        # unknown); to come back it must repeat at the pitch and near it, or clearly near
        # it whatever the confidence (which still holds the vowel in the consonant)
        repeating = repeats is not None and (repeats[1] >= REPEATS_AGAIN or (
            conf >= r.confidence_off and repeats[0] >= REPEATS_AT_PITCH
            and repeats[1] >= REPEATS_ANYWHERE))
        stopped = self.on and r.legato_only and repeats is not None and (
            repeats[0] < REPEATS_AT_PITCH and repeats[1] < REPEATS_ANYWHERE)
        released = fell or stopped
        if released:  # the input has stopped; its windows still hold the note
            sounds = False
        elif self.muted and self.fell:  # it comes back near the note's level (not the noise
            # wobbling)
            sounds = (conf >= (r.confidence_off if goes_on else r.confidence_on)
                      and ld >= floor + r.margin_on_db
                      and float(recent_db) >= self.note_db - RELEASE_DROP_DB)
        elif self.muted:  # it comes back where the audio repeats again
            sounds = ld >= floor + r.margin_on_db and repeating
        elif self.on and goes_on:
            sounds = conf >= r.confidence_off and ld >= floor + r.margin_off_db
        else:  # a note starts, or comes back after a gap longer than legato (hold_pitch)
            sounds = conf >= r.confidence_on and ld >= floor + r.margin_on_db
        self.implausible += sounds and not in_range
        if sounds and in_range:
            if not self.on and banded:  # a band, not a line: no note starts on it
                self.candidate = None
                return self._silent(f0)
            if not self.on:
                first, self.candidate = self.candidate, f0
                filled = (window_rise_db is not None
                          and -STOPPED_DB <= float(window_rise_db) <= FILLED_DB)
                if self.confirm and not filled and (
                        first is None or abs(1200.0 * math.log2(f0 / first)) > CONFIRM_CENTS):
                    return self._silent(f0)
                self.on, self.note_start, self.note_db, self.note_frames = True, k, ld, 0
                if self.revisions:
                    self.onsets.append(k)
            self.note_db = max(ld, self.note_db - self.level_fall)
            self.note_frames += 1
            self.gap, self.held_f0, self.muted = 0, f0, False
            return GateFrame(True, f0, False)
        if (released or self.muted) and self.gap < self.bridge_frames:  # the note may go on
            self.fell = fell or (self.muted and self.fell)
            self.gap, self.muted = self.gap + 1, True
            return self._silent(f0)
        if self.on and self.gap < self.bridge_frames and (
                not r.legato_only or (ld >= floor + r.margin_on_db
                                      and ld >= self.note_db - LEGATO_DROP_DB)):
            self.gap += 1
            return GateFrame(True, self.held_f0, True)
        self.candidate = None
        if self.on:  # the note ends: take back a bridge into this rest, and a blip
            self.on = False
            end = k - self.gap
            if self.revisions:
                short = self.note_frames < self.min_note_frames
                self.revoked.extend(range(self.note_start if short else end, k))
            self.gap, self.muted = 0, False
        return self._silent(f0)

    def _tally(self, f0: float, ld: float, candidate: int) -> None:
        """Take a frame into the wander evidence: ``candidate`` 1 (no overtones) or 2
        (overtones unknown) where it could play, else 0."""
        self.wandered *= self.bare_keep
        self.recent.append((1200.0 * math.log2(max(f0, 1e-3)), ld, candidate))
        middle = self.recent[2 * self.step][2] if len(self.recent) == self.recent.maxlen else 0
        if middle:  # judged once its neighbours on both sides are known
            around = np.array([self.recent[i][:2] for i in range(0, len(self.recent), self.step)])
            self.wandered[middle - 1] += (1.0, float(_wander(around[None, :, 0],
                                                             around[None, :, 1],
                                                             self.wander_cents)[0]))

    def _wanders(self, candidate: int) -> bool:
        """Whether enough frames of that kind (1, 2: :meth:`_tally`) have been judged
        (:data:`BARE_SECONDS`) and they wander as noise does."""
        judged, wandered = self.wandered[candidate - 1]
        return judged >= self.bare_frames and wandered >= WANDER_SHARE * judged

    def _resonance_allows(self, overtones: float, could: bool) -> bool:
        """Whether a frame with overtones known may play as far as noise through a
        resonance goes (see :data:`BARE_SECONDS`), keeping the evidence up to date:
        ``could`` is whether it is clear and loud enough to play."""
        bare = overtones < BARE_OVERTONES_DB
        if bare:
            self.clear_tail.clear()
        else:
            self.clear_tail.append(overtones)
        known = self.wandered[0, 0] >= self.bare_frames
        noise = self._wanders(1)
        if self.on:  # a note without overtones goes on where such frames are notes
            total, frames = self.note_overtones
            self.note_overtones = (total + overtones, frames + 1)
            if could:  # a bridged gap's frames are no note's
                self.note_tail.append(overtones)
                if noise and len(self.note_tail) == self.clear_frames \
                        and sum(self.note_tail) < BARE_OVERTONES_DB * self.clear_frames:
                    return False  # the note has stopped, the wind around it goes on
            return (frames + 1 < self.clear_frames or known and not noise
                    or total + overtones >= BARE_OVERTONES_DB * (frames + 1))
        self.note_overtones = (overtones, 1)  # the note would start here
        self.note_tail.clear()
        self.note_tail.append(overtones)
        if bare:
            return known and not noise
        if known and not noise:
            return True
        need = self.clear_frames if noise else self.fast_frames
        return len(self.clear_tail) >= need \
            and sum(list(self.clear_tail)[-need:]) >= CLEAR_DB * need

    def unheard(self, f0_hz: float, confidence: float, loudness_db: float,
                recent_db: Optional[float] = None) -> GateFrame:
        """A frame whose pitch cannot be trusted (a stream's first windows, which reach
        back before its first sample): it plays nothing, but measures the floor as
        any frame does (the silence before a stream's first note)."""
        self.frames += 1
        f0 = float(f0_hz)
        self._measure(f0, float(confidence), float(loudness_db), recent_db)
        return self._silent(f0)

    def _measure(self, f0: float, conf: float, ld: float, recent_db: Optional[float]) -> None:
        self.floor.update(conf, ld, f0)
        if recent_db is not None:
            self.recent_floor.update(conf, float(recent_db), f0)

    def _silent(self, f0: float) -> GateFrame:
        """A frame that does not play, holding the last note's pitch (the input's
        before the first note)."""
        return GateFrame(False, f0 if self.held_f0 is None else self.held_f0, False)


# -------------------------------------------------------------------- offline
@dataclass
class Voicing:
    """What :func:`gate_voicing` decided for a recording.

    Attributes:
      voiced: bool ``[n_frames]``, the frames that play.
      f0_hz: float64 ``[n_frames]`` Hz, the pitch to play: the input's with
        transitions cleaned, held through bridged gaps and silent frames.
      noise_floor_db: the recording's noise floor (dB).
      rules: the thresholds used.
      implausible: share of the frames (0..1) clear and loud enough to play
        but whose pitch is not a note's (:func:`plausible_pitch`): out of range,
        or mains hum.
      hum: share of the frames (0..1) that hold mains hum, periodic as they are
        (they measure the noise floor: :func:`measures_floor`).
      noisy: share of the frames (0..1) that passed the gate but were taken back
        as noise through a resonance (:func:`resonant_noise`).
      background: share of the frames (0..1) that hold a steady background tone
        (:func:`~timbral.features.background.background_tone`), taken as aperiodic.
    """

    voiced: np.ndarray
    f0_hz: np.ndarray
    noise_floor_db: float
    rules: GateRules
    implausible: float = 0.0
    hum: float = 0.0
    noisy: float = 0.0
    background: float = 0.0


def gate_voicing(f0_hz, f0_confidence, loudness_db, frame_rate: float,
                 rules: GateRules, audio=None, sample_rate: Optional[int] = None) -> Voicing:
    """The voicing gate over a whole recording (see the module doc).

    Args:
      f0_hz, f0_confidence, loudness_db: the input's features, ``[n_frames]``.
      frame_rate: their frame rate (Hz).
      rules: the thresholds (:func:`gate_rules`).
      audio, sample_rate: the recording (mono, frame ``k`` at sample ``k *
        sample_rate / frame_rate``), to move pitch changes the tracker reports
        late back to where their notes began (:func:`backdate_changes`), to
        keep short notes an octave from the next where both octaves sound
        (:func:`clean_transitions`), to take back noise through a resonance
        (:func:`resonant_noise`) and to take a steady background tone for noise
        (:func:`~timbral.features.background.background_frames`); None: changes
        stay, such notes move, such noise and tones play.

    Returns:
      a :class:`Voicing`.
    """
    f0 = as_curve(f0_hz, "f0_hz")
    conf = as_curve(f0_confidence, "f0_confidence")
    ld = as_curve(loudness_db, "loudness_db")
    n = check_same_length(f0_hz=f0, f0_confidence=conf, loudness_db=ld)
    check_confidence(conf)
    sample_rate = None if audio is None else check_size(sample_rate, "sample_rate")
    background = np.zeros(n, bool)
    if audio is not None:  # a steady background tone is no more a note than noise is
        background = background_frames(audio, sample_rate, frame_hop(sample_rate, frame_rate),
                                       f0, conf >= APERIODIC_CONFIDENCE)
        conf = np.where(background, 0.0, conf)
    floor = noise_floor(ld, conf, frame_rate, f0)
    hum = measures_floor(f0, conf) & (conf >= APERIODIC_CONFIDENCE)
    gate = VoicingGate(frame_rate, rules, floor, revisions=True)
    frames = [gate(*frame) for frame in zip(f0, conf, ld)]
    voiced = np.array([f.voiced for f in frames], bool)
    bridged = np.array([f.bridged for f in frames], bool)
    if gate.on:  # the recording ends inside a note: its trailing bridge is a rest
        gate(0.0, 0.0, DEFAULT_MIN_DB)
    revoked = np.array([i for i in gate.revoked if i < n], np.int64)
    voiced[revoked] = False
    bridged[revoked] = False
    noisy = 0.0
    if audio is not None:
        noise = resonant_noise(f0, ld, voiced, audio, sample_rate, frame_rate)
        voiced &= ~noise
        bridged &= ~noise
        noisy = float(np.mean(noise))
    played = clean_transitions(np.where(voiced & ~bridged, f0, 0.0), frame_rate, audio,
                               sample_rate)
    if audio is not None:  # a bridge at a change holds the old note: the change may move into it
        played = backdate_changes(np.where(voiced, _fill(played, voiced, f0), 0.0), audio,
                                  sample_rate, frame_rate)
    reach = int(round(ATTACK_SECONDS * frame_rate))
    for k in gate.onsets:
        if not voiced[k]:  # taken back
            continue
        j = k
        while j > 0 and k - j < reach and not voiced[j - 1] \
                and floor + rules.margin_off_db <= ld[j - 1] <= floor + ATTACK_MASKED_DB \
                and ld[j - 1] <= ld[j]:  # a rise, not the noise wobbling
            j -= 1
        if ld[k] - ld[j] >= ATTACK_RISE_DB:
            voiced[j:k] = True
            played[j:k] = played[k]
    return Voicing(voiced, _fill(played, voiced, f0), floor, rules,
                   gate.implausible / max(n, 1), float(np.mean(hum)), noisy,
                   float(np.mean(background)))


def resonant_noise(f0_hz: np.ndarray, loudness_db: np.ndarray, voiced: np.ndarray,
                   audio: np.ndarray, sample_rate: int, frame_rate: float) -> np.ndarray:
    """The ``voiced`` frames that are noise through a resonance, not notes (see
    :data:`WANDER_CENTS`): bool ``[n_frames]``.

    ``f0_hz``, ``loudness_db``: the tracker's pitch (Hz) and the loudness (dB),
    ``[n_frames]``; ``audio``: the recording (mono, frame ``k`` at sample ``k *
    sample_rate / frame_rate``). Each frame is judged over the frames of its run
    within :data:`JUDGE_SECONDS` and :data:`JUDGE_CENTS` (a resonance that runs
    into a note is told from it); frames without overtones that wander too little to
    judge there (a short stretch can hold still) are noise too when all of the
    recording's frames without overtones wander, taken together, as noise does;
    frames whose overtones are unknown (a high pitch) are noise when all of those
    wander together; frames whose pitch is a band, not a line, are noise (see
    :data:`LINE_OVER_BAND_DB`). What a run keeps of fewer than three frames goes with
    the noise.
    """
    out = np.zeros(len(voiced), bool)
    runs = [(a, b) for a, b in _runs(voiced) if b - a >= 3]
    if not runs:
        return out
    f0 = np.asarray(f0_hz, np.float64)
    cents = 1200.0 * np.log2(np.maximum(f0, 1e-3))
    level = np.asarray(loudness_db, np.float64)
    step = _wander_step(frame_rate)  # the frames compared, and judged: every step-th
    by_cents = _wander_cents(frame_rate / step)
    reach = max(2, int(round(JUDGE_SECONDS * frame_rate / 2 / step)))  # picks either side
    picks = [np.arange(a, b, step) for a, b in runs]
    every = np.concatenate(picks)
    overtones = overtones_db(_harmonic_fit(audio, sample_rate, frame_rate, every, f0[every]))
    lines = np.full(len(every), np.nan)
    measured = np.flatnonzero(f0[every] >= LINE_MIN_HZ)
    hop = frame_hop(sample_rate, frame_rate)
    for first in range(0, len(measured), CHUNK_FRAMES):  # memory: 4096-sample windows at 48 kHz
        chunk = measured[first:first + CHUNK_FRAMES]
        lines[chunk] = line_db(frame_spectra(audio, sample_rate, hop, every[chunk]),
                               sample_rate, f0[every[chunk]])

    def around(curve: np.ndarray, each_side: int, edge: bool = False) -> np.ndarray:
        """``[len(curve), 2 * each_side + 1]``: each value with its neighbours (the
        ends padded with the end values, or NaN: nothing)."""
        padded = (np.pad(curve, each_side, mode="edge") if edge
                  else np.pad(curve, each_side, constant_values=np.nan))
        return np.lib.stride_tricks.sliding_window_view(padded, 2 * each_side + 1)

    judged_runs, at = [], 0
    for (a, b), pick in zip(runs, picks):
        ov, line = overtones[at:at + len(pick)], lines[at:at + len(pick)]
        at += len(pick)
        here = cents[a:b:step]
        wander = _wander(around(here, 2, True), around(level[a:b:step], 2, True),
                         by_cents).astype(np.float64)
        wander[[0, -1]] = np.nan  # a run's end frames are their own medians: not judged
        distance = np.abs(around(here, reach) - here[:, None])
        apart = ~((distance <= JUDGE_CENTS) | (np.abs(distance - 1200.0) <= CONFIRM_CENTS))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: unknown
            median = np.nanmedian(np.where(apart, np.nan, around(ov, reach)), axis=1)
            share = np.nanmean(np.where(apart, np.nan, around(wander, reach)), axis=1)
            line_median = np.nanmedian(np.where(apart, np.nan, around(line, reach)), axis=1)
            band = np.isfinite(line) & (line_median < LINE_OVER_BAND_DB)
        judged_runs.append((a, b, (median < BARE_OVERTONES_DB, np.isnan(median)), share,
                            wander, band))

    def together(kind: int) -> bool:
        """Whether the frames without overtones (0) or with them unknown (1), all the
        recording's taken together, wander as noise does."""
        wander = np.concatenate([w[kinds[kind]] for _, _, kinds, _, w, _ in judged_runs])
        return bool(np.isfinite(wander).any() and np.nanmean(wander) >= WANDER_SHARE)

    bare_together, unknown_together = together(0), together(1)
    for a, b, (bare, unknown), share, _, band in judged_runs:
        noise = (bare & (bare_together | (share >= WANDER_SHARE))) \
            | (unknown & unknown_together) | band
        mine = noise[np.minimum((np.arange(a, b) - a + step // 2) // step, len(noise) - 1)]
        for c, d in _runs(~mine):  # what is left of the run, too short to be a note
            if d - c < 3:
                mine[c:d] = True
        out[a:b] = mine
    return out


def _wander(cents: np.ndarray, level_db: np.ndarray, by_cents: float) -> np.ndarray:
    """Whether each window's middle frame wanders (:data:`WANDER_CENTS`): ``[m, 5]``
    pitches (cents) and levels (dB) of five frames a step apart -> bool ``[m]``."""
    def off(x: np.ndarray) -> np.ndarray:
        return np.abs(x[:, 2] - np.median(x, axis=1))

    return (off(cents) >= by_cents) | (off(level_db) >= WANDER_DB)


def _runs(mask: np.ndarray):
    """(start, end) of each run of True in a bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0])


def _segments(cents: np.ndarray) -> Tuple[List[Tuple[int, int]], List[float]]:
    """A run's pitch (cents) split at steps of more than half a semitone: ``(start,
    end)`` of each segment and its median (cents)."""
    cuts = np.nonzero(np.abs(np.diff(cents)) > 50)[0] + 1
    bounds = np.concatenate([[0], cuts, [len(cents)]])
    segs = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    return segs, [float(np.median(cents[a:b])) for a, b in segs]


def _harmonic_fit(audio: np.ndarray, sample_rate: int, frame_rate: float,
                  frames: np.ndarray, f0_hz: np.ndarray):
    """:func:`~timbral.features.pitch.refine.harmonic_refine` (one pass, with levels)
    of ``frames`` (``[n]``, sorted; frame ``k`` at sample ``k * sample_rate /
    frame_rate``) at their ``f0_hz`` (``[n]`` Hz), from just the stretch of ``audio``
    its windows reach."""
    hop = frame_hop(sample_rate, frame_rate)
    reach = int(window_sizes(np.array([np.min(f0_hz)]), sample_rate, REFINE_PERIODS)[0]) // 2 \
        + hop
    first = max(0, int(frames[0]) * hop - reach) // hop  # from a frame boundary
    piece = np.asarray(audio[first * hop:int(frames[-1]) * hop + reach], np.float32)
    return harmonic_refine(torch.from_numpy(np.ascontiguousarray(piece)), hop,
                           np.asarray(f0_hz, np.float64), sample_rate, REFINE_PERIODS,
                           frames=frames - first, passes=1, levels=True)


def line_db(power_db: np.ndarray, sample_rate: int, f0_hz: np.ndarray) -> np.ndarray:
    """How far the clearest of the partials near each frame's pitch stands as a line
    over the band around it (see :data:`LINE_OVER_BAND_DB`): ``power_db`` ``[n,
    n_bins]`` (Hann power spectra, dB: :func:`~timbral.features.background.frame_spectra`),
    ``f0_hz`` ``[n]`` Hz -> ``[n]`` dB; NaN where no partial near the pitch can be
    measured (a pitch that is not finite, too low for a band of
    :data:`LINE_MIN_BINS` either side, or so high that its band would pass the top)."""
    power = 10.0 ** (np.asarray(power_db, np.float64) / 10.0)
    n_bins = power.shape[1]
    low, top = LINE_MIN_BINS / LINE_BAND, int(n_bins / (1 + LINE_BAND)) - 1
    bins = np.asarray(f0_hz, np.float64) * 2.0 * (n_bins - 1) / sample_rate
    out = np.full(len(bins), np.nan)

    def strongest(row: np.ndarray, first: float, last: float) -> Optional[int]:
        first, last = int(math.ceil(max(first, low))), min(int(last), top)
        return None if last < first else first + int(np.argmax(row[first:last + 1]))

    for i, (row, b) in enumerate(zip(power, bins)):
        if not (math.isfinite(b) and 0 < b <= top):
            continue
        peaks = {strongest(row, b * LINE_NEAR[0], b * LINE_NEAR[1])}
        peaks.update(strongest(row, k * b * (1 - LINE_NEAR_HARMONIC),
                               k * b * (1 + LINE_NEAR_HARMONIC))
                     for k in range(1, LINE_HARMONICS + 1))
        for peak in peaks - {None}:
            lo, hi = int(peak * (1 - LINE_BAND)), int(math.ceil(peak * (1 + LINE_BAND)))
            width = max(LINE_BINS, int(round(LINE_WIDTH * peak)))
            line = row[peak - width:peak + width + 1].sum()
            db = 10.0 * math.log10(max(line, 1e-30) / max(row[lo:hi + 1].sum() - line, 1e-30))
            out[i] = db if math.isnan(out[i]) else max(out[i], db)
    return out


def newest_repeats(windows: np.ndarray, f0_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """How the newest :data:`NEWEST_SECONDS` of each window repeat the audio before
    them: ``windows`` ``[n, length]`` (mono, each ending at its frame), ``f0_hz``
    ``[n]`` Hz (the frames' pitch) -> ``[n, 2]``: the largest normalised
    autocorrelation at the integer lags either side of one to
    :data:`NEWEST_PERIODS_BACK` periods, and at any lag from :data:`NEWEST_LAGS`
    ``[0]`` to ``[1]`` periods, all within :data:`NEWEST_MAX_LAG_S` and the window;
    NaN where the pitch is not a finite positive number, the newest samples are
    silent, or no such lag fits (the first: a pitch under about 40 Hz)."""
    windows = np.asarray(windows, np.float64)
    out = np.full((len(windows), 2), np.nan)
    for i, (w, f0) in enumerate(zip(windows, np.asarray(f0_hz, np.float64))):
        if not (math.isfinite(f0) and f0 > 0):
            continue
        period = sample_rate / f0
        size = max(2, int(round(max(NEWEST_SECONDS * sample_rate, NEWEST_PERIODS * period))))
        longest = min(len(w) - size, int(NEWEST_MAX_LAG_S * sample_rate))
        first = max(2, int(NEWEST_LAGS[0] * period))
        last = min(longest, int(math.ceil(NEWEST_PERIODS_BACK * period)))
        newest = w[-size:]
        if last < first or not newest.any():
            continue
        lags = np.arange(first, last + 1)
        # newest . w[-size - lag:-lag] for each lag, and the energy of those samples
        dots = np.correlate(w[-size - last:-first], newest, "valid")[::-1]
        energy = np.cumsum(np.concatenate([[0.0], w[:-size - last - 1:-1] ** 2]))
        r = dots / np.sqrt(np.maximum((energy[lags + size] - energy[lags]) * (newest @ newest),
                                      1e-30))
        at = [lag for m in range(1, NEWEST_PERIODS_BACK + 1)
              for lag in (math.floor(m * period), math.ceil(m * period)) if first <= lag <= last]
        span = lags <= NEWEST_LAGS[1] * period
        out[i] = (np.max(r[np.asarray(at) - first]) if at else np.nan,
                  np.max(r[span]) if span.any() else np.nan)
    return out


def _odd_levels(audio: np.ndarray, sample_rate: int, frame_rate: float, frames: np.ndarray,
                low_hz: float) -> float:
    """Median over ``frames`` of the power at the odd harmonics of ``low_hz`` against
    the even ones (dB): high where a note at ``low_hz`` sounds, very low where only
    the octave above it does (its harmonics are the even ones)."""
    fit = _harmonic_fit(audio, sample_rate, frame_rate, frames, np.full(len(frames), low_hz))
    return float(np.median(fit.odd_even_db))


def clean_transitions(f0_hz: np.ndarray, frame_rate: float, audio=None,
                      sample_rate: Optional[int] = None) -> np.ndarray:
    """The pitch of played frames with the tracker's attack errors corrected.

    ``f0_hz``: ``[n_frames]`` Hz, 0 where a frame is not played (or is a
    bridge). Inside each run of played frames, split into segments at pitch
    changes of more than half a semitone:

    - a segment of at most :data:`ATTACK_OCTAVE_SECONDS` that starts the run
      or follows another pitch, an octave (or two) within 80 cents away from
      the segment after it (which lasts :data:`SETTLED_SECONDS` or more), is
      moved to that segment's octave: an attack's sub- or overtone, which the
      tracker caught before the note settled; given ``audio`` (mono, frame
      ``k`` at sample ``k * sample_rate / frame_rate``), not where its spectrum
      and the next segment's show the two octaves played
      (:data:`OCTAVE_EVIDENCE_DB`): alternating octave 16ths had 40 % of their
      frames moved to the wrong octave;
    - a segment of at most :data:`BLIP_SECONDS` (at least a frame) between two
      segments that agree within half a semitone takes their pitch (a blip), and
      the frames before the run's first longer segment, or after its last, take
      that segment's pitch when they come to at most that long.

    Returns float64 ``[n_frames]`` (0 where the input was 0).
    """
    out = np.asarray(f0_hz, np.float64).copy()
    longest = max(1, int(round(ATTACK_OCTAVE_SECONDS * frame_rate)))
    settled = max(2, int(round(SETTLED_SECONDS * frame_rate)))
    blip = max(1, int(round(BLIP_SECONDS * frame_rate)))
    for start, end in _runs(out > 0):
        cents = 1200 * np.log2(out[start:end])
        segs, medians = _segments(cents)
        for i in range(len(segs) - 1):
            (a, b), (c, d) = segs[i], segs[i + 1]
            step = medians[i + 1] - medians[i]
            octaves = round(step / 1200)
            if octaves and abs(step - 1200 * octaves) <= 80 and b - a <= longest \
                    and d - c >= settled:
                if abs(octaves) == 1 and audio is not None \
                        and d - c < OCTAVE_HELD_RATIO * (b - a):
                    low = 2.0 ** (min(medians[i], medians[i + 1]) / 1200)
                    mine = _odd_levels(audio, sample_rate, frame_rate,
                                       np.arange(start + a, start + b), low)
                    after = _odd_levels(audio, sample_rate, frame_rate,
                                        np.arange(start + c, start + min(d, c + b - a + settled)),
                                        low)
                    lower, upper = (mine, after) if octaves > 0 else (after, mine)
                    if lower >= OCTAVE_LOWER_ODD_DB and lower - upper >= OCTAVE_EVIDENCE_DB:
                        continue  # octave 16ths, a grace note: both octaves were played
                cents[a:b] += 1200 * octaves
                medians[i] += 1200 * octaves
        for i in range(1, len(segs) - 1):
            (a, b) = segs[i]
            if b - a <= blip and abs(medians[i + 1] - medians[i - 1]) <= 50:
                cents[a:b] = medians[i - 1]
        held = [i for i, (a, b) in enumerate(segs) if b - a > blip]
        if held:  # the run's first and last frames, if they come to at most a blip
            first, last = segs[held[0]], segs[held[-1]]
            if 0 < first[0] <= blip:
                cents[:first[0]] = medians[held[0]]
            if 0 < len(cents) - last[1] <= blip:
                cents[last[1]:] = medians[held[-1]]
        out[start:end] = 2.0 ** (cents / 1200)
    return out


def backdate_changes(f0_hz: np.ndarray, audio: np.ndarray, sample_rate: int,
                     frame_rate: float) -> np.ndarray:
    """Pitch changes moved back to where the new note began (offline).

    ``f0_hz``: ``[n_frames]`` Hz of the played frames (0 elsewhere), frame
    ``k`` at sample ``k * sample_rate / frame_rate`` of ``audio`` (mono, at
    ``sample_rate``). At each change of more than 80 cents inside a run of
    played frames, from note A to note B (which holds :data:`SETTLED_SECONDS`;
    each note's pitch read where they meet), the tracker's in-between frames
    (shorter segments, and a glide of up to :data:`GLIDE_SECONDS` into B) take
    the nearer note. Then the energy of B's harmonics over A's, each leaving out
    the harmonics they share when it has others (an octave leap up shares all
    of B's), is measured per frame with Hann windows of :data:`CHANGE_WINDOW_S`
    (reaching :data:`CHANGE_LEAD` of it past the frame); its level in the first
    third of A (of A's last 2 x :data:`LATE_CHANGE_SECONDS` if it is longer) is
    the baseline. When it stands at least :data:`CHANGE_RISE_DB`
    above the baseline over B's first frames, B starts where its climb there
    left the baseline (:func:`_climb_start`), at most
    :data:`LATE_CHANGE_SECONDS` back. A note that changes cleanly rises where
    the tracker changes. A slide (no step over 50 cents between frames) is no
    change, and nothing in it moves, unless it joins two steady pitches within
    :data:`SLIDE_SECONDS` and the spectrum half-way holds the two notes'
    harmonics, not a glide's (:data:`SLIDE_VALLEY_DB`).

    Returns float64 ``[n_frames]``.
    """
    out = np.asarray(f0_hz, np.float64).copy()
    audio = np.asarray(audio, np.float64)
    hop = sample_rate / frame_rate
    n_fft = 2 ** int(round(math.log2(CHANGE_WINDOW_S * sample_rate)))
    window = np.hanning(n_fft + 1)[:-1]
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    reach = max(1, int(round(LATE_CHANGE_SECONDS * frame_rate)))
    settled = max(2, int(round(SETTLED_SECONDS * frame_rate)))
    glide = max(1, int(round(GLIDE_SECONDS * frame_rate)))
    top = min(CHANGE_TOP_HZ, 0.45 * sample_rate)
    slide = max(2, int(round(SLIDE_SECONDS * frame_rate)))
    steady_cents = STEADY_CENTS_PER_S / frame_rate
    span = max(1, int(round(CHANGE_SLOPE_SECONDS * frame_rate)))

    def harmonics(f: float, other: float) -> Tuple[List[int], bool]:
        """Bins of ``f``'s harmonics, those apart from ``other``'s if there are any
        (and whether there were)."""
        hs = [h for h in range(1, CHANGE_HARMONICS + 1) if h * f < top]
        own = [h for h in hs if np.min(np.abs(h * f - other * np.arange(1, int(top / other) + 2)))
               > max(2.5 * sample_rate / n_fft, CHANGE_SHARED * h * f)]
        return [int(np.argmin(np.abs(freqs - h * f))) for h in (own or hs)], bool(own)

    def spectra(first: int, last: int) -> np.ndarray:
        """Power spectra ``[last - first, n_fft // 2 + 1]`` of frames first..last - 1."""
        ends = np.round(np.arange(first, last) * hop).astype(np.int64) + int(CHANGE_LEAD * n_fft)
        idx = ends[:, None] + np.arange(-n_fft, 0)
        inside = (idx >= 0) & (idx < len(audio))
        return np.abs(np.fft.rfft(audio[np.clip(idx, 0, len(audio) - 1)] * inside * window,
                                  axis=1)) ** 2

    def level(power: np.ndarray, bins: List[int]) -> np.ndarray:
        """dB per frame of the strongest bin around each harmonic, summed."""
        total = sum(power[:, max(0, k - 1):k + 2].max(axis=1) for k in bins)
        return 10.0 * np.log10(total + 1e-20)

    def valley_db(k: int, f_a: float, f_b: float) -> Optional[float]:
        """Power midway between the harmonics of ``f_a`` and ``f_b`` over theirs at
        frame ``k`` (dB), over the harmonics where they lie 5 bins apart or more and
        the midpoint 2.5 bins or more from any partial of either note."""
        power = spectra(k, k + 1)[0]
        bin_hz = sample_rate / n_fft
        partials = np.concatenate([f * np.arange(1, int(top / f) + 2) for f in (f_a, f_b)])
        hs = [h for h in range(1, CHANGE_HARMONICS + 1)
              if h * max(f_a, f_b) < top and h * abs(f_b - f_a) >= 5 * bin_hz
              and np.min(np.abs(partials - h * math.sqrt(f_a * f_b))) > 2.5 * bin_hz]
        if not hs:  # too close to resolve: a slide stays a slide
            return None

        def peak(f: float) -> float:
            i = int(np.argmin(np.abs(freqs - f)))
            return float(power[max(0, i - 1):i + 2].max())

        middle = sum(peak(h * math.sqrt(f_a * f_b)) for h in hs)
        notes = sum(max(peak(h * f_a), peak(h * f_b)) for h in hs)
        return 10.0 * math.log10((middle + 1e-30) / (notes + 1e-30))

    def split_slides(cents: np.ndarray, a: int, b: int, start: int) -> List[Tuple[int, int]]:
        """The held segment ``[a, b)`` of a run (at ``start``), cut where it slides
        from one steady pitch to another over two notes (the slide left between)."""
        steady = np.zeros(b - a, bool)
        step = np.abs(np.diff(cents[a:b]))
        steady[1:-1] = (step[:-1] <= steady_cents) & (step[1:] <= steady_cents)
        runs = [(a + p, a + q) for p, q in _runs(steady) if q - p >= settled]
        spans, first = [], a
        for (_, p), (q, _) in zip(runs[:-1], runs[1:]):
            note_a = float(np.median(cents[p - settled:p]))
            note_b = float(np.median(cents[q:q + settled]))
            if q - p <= slide and abs(note_b - note_a) > 80:
                valley = valley_db(start + (p + q) // 2, 2.0 ** (note_a / 1200),
                                   2.0 ** (note_b / 1200))
                if valley is not None and valley <= SLIDE_VALLEY_DB:
                    spans.append((first, p))
                    first = q
        return spans + [(first, b)]

    for start, end in _runs(out > 0):
        cents = 1200 * np.log2(out[start:end])
        # held notes, with the tracker's in-between frames (shorter segments, slides
        # over two notes) between them
        held = [span for a, b in _segments(cents)[0] if b - a >= settled
                for span in split_slides(cents, a, b, start)]
        for (a, b), (c, d) in zip(held[:-1], held[1:]):
            # the notes where they meet, B past any glide (a segment can hold notes a
            # slide joins)
            note_a = float(np.median(cents[max(a, b - settled):b]))
            note_b = float(np.median(cents[c:c + glide + 2 * settled]))
            if abs(note_b - note_a) <= 80:
                continue
            # the tracker's glide into B (A's release averaged with B's attack: frames
            # between the notes, over 50 cents off B, each nearer B than the last) is
            # in-between too
            low, high, glide_end = min(note_a, note_b), max(note_a, note_b), c + glide
            while c < min(d - settled, glide_end) and low < cents[c] < high \
                    and abs(cents[c] - note_b) > 50 \
                    and abs(cents[c + 1] - note_b) < abs(cents[c] - note_b) - 5:
                c += 1
            # by default each in-between frame takes the nearer note
            nearer_b = np.abs(cents[b:c] - note_b) < np.abs(cents[b:c] - note_a)
            onset = b + (int(np.argmax(nearer_b)) if nearer_b.any() else c - b)
            f_a, f_b = 2.0 ** (note_a / 1200), 2.0 ** (note_b / 1200)
            (bins_b, own_b), (bins_a, own_a) = harmonics(f_b, f_a), harmonics(f_a, f_b)
            a = max(a, c - 2 * reach)  # a long A: its last part is baseline enough
            if b - a >= 4 and (own_a or own_b):  # else A is too short for a baseline
                lo = max(a + max(2, (b - a) // 3), c - reach)
                power = spectra(start + a, start + min(d, c + settled))
                rise = level(power, bins_b) - level(power, bins_a)
                base = float(np.median(rise[:lo - a]))
                if np.median(rise[c - a:]) >= base + CHANGE_RISE_DB:
                    below = np.nonzero(rise[lo - a:c - a] < base + CHANGE_RISE_DB)[0]
                    climb = lo + (below[-1] + 1 if below.size else 0)
                    while climb > lo and rise[climb - 1 - a] >= base + ONSET_DB:
                        climb -= 1
                    left = _climb_start(rise, base, max(lo, climb - span) - a, frame_rate)
                    onset = climb if left is None else \
                        min(max(int(math.ceil(a + left - 1e-9)), lo), c)
            out[start + b:start + onset] = f_a  # in-between frames before the onset: still A
            out[start + onset:start + c] = f_b
    return out


def _climb_start(rise: np.ndarray, base: float, first: int,
                 frame_rate: float) -> Optional[float]:
    """Where the climb of ``rise`` (``[n]`` dB, one per frame) from index
    ``first`` on left ``base`` (dB): the tangent at its steepest (slope over
    :data:`CHANGE_SLOPE_SECONDS`) met with the baseline, less the bias of that
    estimate for the climb's height (:data:`CHANGE_BIAS_S`). Returns a
    fractional index into ``rise``, or None where it does not climb."""
    span = max(1, int(round(CHANGE_SLOPE_SECONDS * frame_rate)))
    climb = rise[first:]
    if climb.shape[0] <= span:
        return None
    slopes = (climb[span:] - climb[:-span]) / span
    i = int(np.argmax(slopes))
    if slopes[i] <= 0:
        return None
    left = first + i + span / 2 - (np.mean(climb[i:i + span + 1]) - base) / slopes[i]
    height = float(np.clip(climb.max() - base, *CHANGE_HEIGHTS_DB))
    return left - (CHANGE_BIAS_S + CHANGE_BIAS_S_PER_DB * height) * frame_rate


def _fill(f0_played: np.ndarray, voiced: np.ndarray, f0_hz: np.ndarray) -> np.ndarray:
    """Pitch for every frame: played frames keep theirs; bridges and silent
    frames hold the last played pitch, and the silent frame just before a note
    takes that note's (the synth interpolates pitch between frames: no glide
    into an attack). Frames before the first note take its pitch; without any
    note, the input's ``f0_hz`` stays."""
    n = len(f0_played)
    have = f0_played > 0
    if not have.any():
        return f0_hz.copy()
    index = np.arange(n)
    last = np.maximum.accumulate(np.where(have, index, -1))
    out = f0_played[np.where(last >= 0, last, int(np.argmax(have)))]
    following = np.minimum.accumulate(np.where(have, index, n)[::-1])[::-1]
    before = np.nonzero(voiced[1:] & ~voiced[:-1])[0]  # the silent frame before an onset
    before = before[following[before + 1] < n]
    out[before] = f0_played[following[before + 1]]
    return out
