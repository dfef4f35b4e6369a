"""Playing models from MIDI: reading files, voices, the expression profile, and what comes out.

The accuracy tests write MIDI files from the project's melody generator (legato,
rests, pitch bends), play them with shipped models, and measure the output audio
with the project's pitch tracker and loudness (250 frames/s):

- a note's pitch: the median of (output f0 - written pitch - pitch bend) over
  the note, from 50 ms after its onset to its note-off;
- a frame's pitch: the same per frame (the model's vibrato included);
- an onset: after silence (the output 30 dB or more below the note before it,
  as a repeated note is played), where the loudness rises through 30 dB below
  the note's (the profile's own definition of an onset); between slurred
  notes, where the f0 crosses the midpoint between the two pitches; after a gap
  too short for that, the loudness minimum between the two;
- a rest: from the end of the note's release (the profile's release curve has
  reached silence) to 60 ms before the next onset, its loudest frame against
  the notes on both sides.
"""

import json
import shutil

import mido
import numpy as np
import pytest

from timbral import cli
from timbral.data import generate_phrase, get_instrument, render_melody
from timbral.data.dataset import TrainingData
from timbral.features import compute_audio_features
from timbral.midi import (ExpressionProfile, MidiNote, allocate_voices, measure_expression,
                          neutral_profile, play_midi, play_score, profile_for, read_midi,
                          voice_curves)
from timbral.midi.expression import ONSET_DB
from timbral.models.folder import EXPRESSION_FILE, read_model_folder
from timbral.models.rendering import room_tail_seconds
from timbral.zoo import MODELS_DIR, load_model

TICKS = 480  # per quarter note; 120 bpm unless a test sets a tempo: 960 ticks per second
ANALYSIS_RATE = 250
HELD_OUT_SEED = 200000  # the shipped models trained on phrase seeds 0..9


# ------------------------------------------------------------------ MIDI files
def write_midi(path, tracks, names=None, midi_type=1, tempo=None):
    """``tracks``: lists of ``(seconds, mido.Message)`` at 120 bpm (960 ticks per
    second); ``tempo``: ``(tick, bpm)`` events for track 0."""
    midi = mido.MidiFile(type=midi_type, ticks_per_beat=TICKS)
    for i, events in enumerate(tracks):
        track = mido.MidiTrack()
        if names and names[i]:
            track.append(mido.MetaMessage("track_name", name=names[i], time=0))
        timed = sorted(((int(round(s * 2 * TICKS)), order, m) for order, (s, m)
                        in enumerate(events)), key=lambda e: (e[0], e[1]))
        if i == 0 and tempo:
            timed = sorted([(tick, -1, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
                            for tick, bpm in tempo] + timed, key=lambda e: (e[0], e[1]))
        last = 0
        for tick, _, message in timed:
            track.append(message.copy(time=tick - last))
            last = tick
        midi.tracks.append(track)
    midi.save(str(path))
    return path


def note_events(notes, channel=0):
    """Note-on/off messages; a note-off sorts before a note-on at the same time."""
    out = []
    for n in notes:
        out.append((n.offset - 1e-9, mido.Message("note_off", note=int(n.pitch), velocity=0,
                                                  channel=channel)))
        out.append((n.onset, mido.Message("note_on", note=int(n.pitch), velocity=n.velocity,
                                          channel=channel)))
    return sorted(out, key=lambda e: e[0])


def phrase_with_bends(instrument, seconds, seed, channel=0, low=None, high=None):
    """A generated phrase (legato, rests; no vibrato: the model adds its own) as MIDI
    events, with every other note of 0.6 s or more bent: up a semitone 0.3 s after
    its onset, or a glissando of a semitone over 0.2 s, back at its note-off."""
    inst = get_instrument(instrument)
    performance = generate_phrase(np.random.default_rng(seed), low or inst.low, high or inst.high,
                                  seconds, vibrato_probability=0.0, legato=0.5,
                                  rest_probability=0.3)
    events = note_events(performance.notes, channel)
    long_notes = [n for n in performance.notes if n.duration >= 0.6]
    for k, n in enumerate(long_notes[::2]):
        if k % 2:
            events.append((n.onset + 0.3, mido.Message("pitchwheel", pitch=4096, channel=channel)))
        else:
            for j in range(11):
                events.append((n.onset + 0.3 + 0.02 * j,
                               mido.Message("pitchwheel", pitch=int(409.6 * j), channel=channel)))
        events.append((n.offset - 0.002, mido.Message("pitchwheel", pitch=0, channel=channel)))
    return sorted(events, key=lambda e: e[0]), performance


# ----------------------------------------------------------------- measuring
def evaluate(audio, sample_rate, notes, controls, profile):
    """The measurements of the module doc for one voice; a dict of figures."""
    f = compute_audio_features(audio, sample_rate, ANALYSIS_RATE)
    t = np.arange(len(f["f0_hz"])) / ANALYSIS_RATE
    cents = 1200.0 * np.log2(f["f0_hz"] / 440.0) + 6900.0
    ld = f["loudness_db"].astype(np.float64)

    def expected(note, times):
        return 100.0 * note.pitch + controls.bend_cents(times)

    def rising(times, values, threshold):
        """First time ``values`` rises through ``threshold`` (linear between frames)."""
        k = np.flatnonzero((values[:-1] < threshold) & (values[1:] >= threshold))
        if not len(k):
            return None
        k = k[0]
        return times[k] + (threshold - values[k]) / (values[k + 1] - values[k]) / ANALYSIS_RATE

    medians, good_frames, all_frames, onsets, rests, levels = [], 0, 0, [], [], []
    kinds = {"silence": 0, "slur": 0, "dip": 0}
    for i, n in enumerate(notes):
        held = (t >= n.onset + 0.05) & (t < n.offset)
        err = cents[held] - expected(n, t[held])
        medians.append(float(np.median(err)))
        good_frames += int((np.abs(err) <= 50).sum())
        all_frames += int(held.sum())
        level = float(np.median(ld[held]))
        levels.append(level)
        prev = notes[i - 1] if i else None
        near = (t >= n.onset - 0.3) & (t <= n.onset + 0.06)
        cut = prev.onset + 0.5 * prev.duration if prev else 0.0  # the earliest release
        slur = prev is not None and prev.offset >= n.onset - 1e-6
        a = expected(prev, n.onset - 0.05) if slur else 0.0
        b = expected(n, n.onset + 0.05)
        if slur and abs(b - a) >= 50.0:  # the pitch moves (a bend may have cancelled it)
            x = (cents - a) / (b - a)
            window = (t >= n.onset - 0.06) & (t <= n.onset + 0.06)
            found = rising(t[window], x[window], 0.5)
            kind = "slur"
        elif ld[near & (t >= cut)].min() <= level - ONSET_DB:
            window = near & (t >= cut)
            last_quiet = np.flatnonzero(window & (ld <= level - ONSET_DB))[-1]
            found = rising(t[last_quiet:], ld[last_quiet:], level - ONSET_DB)
            kind = "silence"
        else:
            window = np.flatnonzero((t >= n.onset - 0.06) & (t <= n.onset + 0.03))
            found = t[window[np.argmin(ld[window])]]
            kind = "dip"
        kinds[kind] += 1
        onsets.append(np.inf if found is None else found - n.onset)
        gap_start = prev.offset + profile.release.end_s if prev else 0.0
        rest = (t >= gap_start) & (t < n.onset - 0.06)
        if rest.any():
            rests.append(min(level, levels[-2] if prev else level) - float(ld[rest].max()))
    onsets = np.abs(np.array(onsets)) * 1000.0
    return {"notes": len(notes), "note_recall": float(np.mean(np.abs(medians) <= 10.0)),
            "median_cents": float(np.median(np.abs(medians))),
            "frames_within_50": good_frames / all_frames,
            "onsets_within_20ms": float(np.mean(onsets <= 20.0)),
            "onset_median_ms": float(np.median(onsets)), "onset_max_ms": float(onsets.max()),
            "onset_kinds": kinds, "rests": len(rests),
            "rest_margin_db": float(min(rests)) if rests else None}


def check_accuracy(figures):
    assert figures["note_recall"] >= 0.95, figures
    assert figures["frames_within_50"] >= 0.95, figures
    assert figures["onsets_within_20ms"] >= 0.95, figures
    assert figures["rests"] >= 3 and figures["rest_margin_db"] > 40.0, figures


# -------------------------------------------------------------- reading files
def test_read_midi_times_bends_and_controllers(tmp_path):
    conductor = []
    melody = [(0.0, mido.Message("control_change", control=101, value=0)),
              (0.0, mido.Message("control_change", control=100, value=0)),
              (0.0, mido.Message("control_change", control=6, value=12)),  # bend range 12
              (0.0, mido.Message("control_change", control=7, value=50)),
              (0.5, mido.Message("note_on", note=60, velocity=90)),
              (0.75, mido.Message("pitchwheel", pitch=4096)),  # + 6 semitones
              (0.9, mido.Message("control_change", control=11, value=64)),
              (1.0, mido.Message("note_on", note=60, velocity=0)),  # velocity 0 = off
              (1.0, mido.Message("note_on", note=62, velocity=70)),
              (1.5, mido.Message("note_on", note=62, velocity=80)),  # struck again
              (3.0, mido.Message("note_off", note=62))]
    drums = [(0.5, mido.Message("note_on", note=36, velocity=100, channel=9)),
             (0.6, mido.Message("note_off", note=36, channel=9))]
    # 120 bpm, then 60 bpm from beat 4 (2 s): events written at 120 bpm after 2 s
    # come twice as late
    path = write_midi(tmp_path / "a.mid", [conductor, melody, drums],
                      names=["", "Melody", "Drums"], tempo=[(0, 120), (4 * TICKS, 60)])
    score = read_midi(path)
    assert [(p.track, p.channel) for p in score.parts] == [(1, 0)]
    assert "channel 10" in score.messages[0]
    assert score.tracks == [(0, "", 0), (1, "Melody", 3), (2, "Drums", 1)]
    notes = score.parts[0].notes
    assert [(n.onset, n.offset, n.pitch, n.velocity) for n in notes] == [
        (0.5, 1.0, 60.0, 90), (1.0, 1.5, 62.0, 70), (1.5, 4.0, 62.0, 80)]
    controls = score.parts[0].controls
    assert controls.bend_cents([0.7, 0.8]).tolist() == [0.0, 600.0]
    gain = controls.gain_db([0.1, 0.95])
    assert gain[0] == pytest.approx(40 * np.log10(0.5))
    assert gain[1] == pytest.approx(40 * np.log10(0.5) + 40 * np.log10(64 / 127))
    assert score.duration == 4.0
    # selection, tempo scale and transposition
    fast = read_midi(path, track=1, tempo_scale=2.0, transpose=-1.5)
    assert [(n.onset, n.pitch) for n in fast.parts[0].notes] == [(0.25, 58.5), (0.5, 60.5),
                                                                (0.75, 60.5)]
    drums_only = read_midi(path, channel=10)
    assert [n.pitch for n in drums_only.notes] == [36.0] and not drums_only.messages


def test_read_midi_says_what_is_wrong_in_one_line(tmp_path):
    path = write_midi(tmp_path / "a.mid", [[(0.0, mido.Message("note_on", note=60)),
                                            (1.0, mido.Message("note_off", note=60))]],
                      names=["Flute"])
    (tmp_path / "bad.mid").write_bytes(b"MThd not really")
    (tmp_path / "cut.mid").write_bytes(path.read_bytes()[:20])
    stopped = write_midi(tmp_path / "stopped.mid", [[(0.0, mido.MetaMessage("set_tempo", tempo=0)),
                                                     (0.0, mido.Message("note_on", note=60)),
                                                     (1.0, mido.Message("note_off", note=60))]])
    assert read_midi(path, track=np.int64(0), tempo_scale=np.float32(2.0)).duration == 0.5
    for call, match in ((lambda: read_midi(tmp_path / "none.mid"), "no such file"),
                        (lambda: read_midi(tmp_path / "cut.mid"), r"MIDI file \(it ends early\)"),
                        (lambda: read_midi(stopped), "a tempo of 0 microseconds per beat at "
                                                     "tick 0"),
                        (lambda: read_midi(tmp_path / "bad.mid"), "not a readable standard MIDI"),
                        (lambda: read_midi(path, track=3), "has one track, track 0"),
                        (lambda: read_midi(path, track="0"), "track: expected an integer >= 0"),
                        (lambda: read_midi(tmp_path), "is a folder; give a MIDI file"),
                        (lambda: read_midi(path.read_bytes()), "expected the path of a MIDI "
                                                               "file, got bytes"),
                        (lambda: read_midi(path, channel=2), r"channel 2: no notes to play "
                                                             r"\(tracks with notes: 0 'Flute'"),
                        (lambda: read_midi(path, channel=17), "expected 1..16"),
                        (lambda: read_midi(path, tempo_scale=0), "tempo_scale"),
                        (lambda: read_midi(path, transpose=float("nan")), "transpose")):
        with pytest.raises(ValueError, match=match) as err:
            call()
        assert "\n" not in str(err.value)


# --------------------------------------------------------------------- voices
def _notes(*spec):
    return [MidiNote(on, off, pitch, 80) for on, off, pitch in spec]


def test_chords_are_dealt_to_voices_that_move_to_the_nearest_note():
    c_major = _notes((0, 1, 60), (0, 1, 64), (0, 1, 67))
    f_major = _notes((1, 2, 60), (1, 2, 65), (1, 2, 69))
    voices = allocate_voices(c_major + f_major)
    assert [[n.pitch for n in v] for v in voices] == [[67, 69], [64, 65], [60, 60]]
    # keyboard legato: the next key goes down 30 ms before the last comes up
    line = allocate_voices(_notes((0, 0.53, 60), (0.5, 1.0, 62), (1.0, 1.5, 64)))
    assert len(line) == 1 and line[0][0].offset == 0.5
    # a held note under a moving line stays its own voice
    held = allocate_voices(_notes((0, 2, 48), (0, 0.5, 72), (0.5, 1, 74), (1, 2, 76)))
    assert [[n.pitch for n in v] for v in held] == [[72, 74, 76], [48]]
    for voices in (allocate_voices(c_major + f_major), line, held):
        for v in voices:
            assert all(a.offset <= b.onset for a, b in zip(v, v[1:]))


# --------------------------------------------------------- curves and profile
def test_curves_follow_notes_bends_velocity_and_the_profile(tmp_path):
    profile = neutral_profile().with_overrides(portamento=0.05)
    path = write_midi(tmp_path / "a.mid", [
        note_events([MidiNote(0.2, 0.7, 60, 127), MidiNote(0.7, 1.2, 67, 1),
                     MidiNote(1.6, 2.0, 60, 64)])
        + [(1.8, mido.Message("pitchwheel", pitch=-8192))]])
    part = read_midi(path).parts[0]
    f0, ld = voice_curves(part.notes, part.controls, profile, 100, 250)
    midi = 12 * np.log2(f0 / 440.0) + 69
    assert midi[[10, 50, 90, 170, 190]] == pytest.approx([60, 60, 67, 60, 58], abs=1e-3)
    assert midi[70] == pytest.approx(63.5, abs=1e-3)  # slurred: glide centred on the onset
    assert ld[50] == pytest.approx(profile.level_db(127), abs=1e-3)
    assert ld[100] == pytest.approx(profile.level_db(1), abs=1e-3)
    assert ld[170] == pytest.approx(profile.level_db(64), abs=0.01)
    assert ld[[0, 5, 140, 240]].max() == -80.0  # silence before, between and after


def test_profile_json_round_trip_overrides_and_model_folders(tmp_path):
    profile = ExpressionProfile.from_dict(load_model("flute").expression)
    d = profile.to_dict()
    assert ExpressionProfile.from_dict(json.loads(json.dumps(d))).to_dict() == d
    plain = profile.with_overrides(vibrato=0, attack=0.2, release=0, portamento=0.05, scoop=0)
    assert plain.vibrato.depth_cents == 0 and plain.portamento_s == 0.05
    assert plain.attack.seconds == 0.2 and plain.release.seconds == 0
    assert plain.scoop.values == (0.0,)
    stretched = [v for v in plain.attack.values]
    reached = np.flatnonzero((plain.attack.start_s + plain.attack.step_s * np.arange(
        len(stretched)) >= 0) & (np.array(stretched) >= -3.0))
    assert plain.attack.start_s + plain.attack.step_s * reached[0] == pytest.approx(0.2, abs=0.01)
    with pytest.raises(ValueError, match="vibrato-rate: expected a finite number from 0.5"):
        profile.with_overrides(vibrato_rate=100)
    # in a model folder: read back, and a broken file named in one line
    folder = tmp_path / "flute"
    shutil.copytree(MODELS_DIR / "flute", folder)
    assert read_model_folder(folder).expression == load_model("flute").expression
    broken = dict(d, levels_db=d["levels_db"][::-1])
    (folder / EXPRESSION_FILE).write_text(json.dumps(broken))
    with pytest.raises(ValueError, match="expression.json: levels_db: percentiles must not "
                                         "decrease"):
        profile_for(load_model(folder))
    (folder / EXPRESSION_FILE).write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="expression.json: 'format' is 'other'"):
        load_model(folder)
    (folder / EXPRESSION_FILE).unlink()
    neutral, messages = profile_for(load_model(folder))
    assert "no expression profile" in messages[0] and neutral.vibrato.depth_cents == 0


def _renders(instrument, seconds, seeds, **kwargs):
    renders = [render_melody(instrument, seconds, seed=s, measure_intrinsic=False, **kwargs)
               for s in seeds]
    return renders, [compute_audio_features(r.audio, r.sample_rate, 500) for r in renders]


def _waveform_envelope(renders):
    """Ground truth from the renders' own waveforms (2 ms RMS, exact note times):
    median attack (onset to within 3 dB of the note's level), release (note-off to
    40 dB down) and the 5th-95th percentile spread of note levels (dB)."""
    attacks, releases, levels = [], [], []
    for r in renders:
        block = r.sample_rate // 500
        frames = r.audio[:len(r.audio) // block * block].reshape(-1, block).astype(np.float64)
        db = 10 * np.log10(np.maximum((frames ** 2).mean(axis=1), 1e-12))
        for i, n in enumerate(r.notes):
            on, off = int(round(n.onset * 500)), int(round(n.offset * 500))
            if off - on < 50:
                continue
            level = np.median(db[on + 25:off])
            levels.append(level)
            if n.onset - (r.notes[i - 1].offset if i else -1.0) >= 0.3:
                attacks.append(np.flatnonzero(db[on:off] >= level - 3)[0] / 500)
            if (r.notes[i + 1].onset if i + 1 < len(r.notes) else np.inf) - n.offset >= 0.4:
                releases.append(np.flatnonzero(db[off:] <= level - 40)[0] / 500)
    spread = np.percentile(levels, 95) - np.percentile(levels, 5)
    return np.median(attacks), np.median(releases), spread


@pytest.mark.parametrize("instrument", ["flute", "trumpet"])
def test_the_profile_recovers_known_vibrato_and_the_renders_envelope(instrument):
    """FluidSynth renders whose vibrato is known (pitch bend of the generated
    phrases: 5.5 Hz, 25 cents, from 0.25 s after the onset, faded in over 0.2 s;
    the SoundFont's own LFOs are off) and whose envelope is measured on the
    waveform at the exact note times."""
    renders, features = _renders(instrument, 30.0, [HELD_OUT_SEED, HELD_OUT_SEED + 1],
                                 vibrato_rate_hz=5.5, vibrato_depth_cents=25.0,
                                 vibrato_delay_s=0.25, vibrato_probability=1.0)
    profile = ExpressionProfile.measure(features, 500)
    v = profile.vibrato
    print(f"\n{instrument}: {profile.measured}\n  vibrato {v}")
    assert v.rate_hz == pytest.approx(5.5, abs=0.2)
    assert v.depth_cents == pytest.approx(25.0, rel=0.1)
    assert v.delay_s == pytest.approx(0.25, abs=0.05)
    assert v.fade_s == pytest.approx(0.2, abs=0.08)
    attack, release, spread = _waveform_envelope(renders)
    print(f"  attack {profile.attack.seconds:.3f} s (waveform {attack:.3f}), release "
          f"{profile.release.seconds:.3f} s (waveform {release:.3f}), level spread "
          f"{profile.levels_db[-1] - profile.levels_db[0]:.1f} dB (waveform {spread:.1f}), "
          f"portamento {profile.portamento_s:.3f} s")
    assert profile.attack.seconds == pytest.approx(attack, abs=0.015)
    assert profile.release.seconds == pytest.approx(release, abs=0.03)
    assert profile.levels_db[-1] - profile.levels_db[0] == pytest.approx(spread, abs=3.5)
    # FluidSynth changes pitch at once between slurred notes: what is measured is
    # the pitch tracker's own transition
    assert profile.portamento_s <= 0.03


def test_measure_expression_reads_a_prepared_dataset(violin_dataset):
    d = measure_expression(violin_dataset)
    profile = ExpressionProfile.from_dict(d)
    assert d["measured"]["frame_rate"] == TrainingData(violin_dataset).frame_rate
    assert d["measured"]["notes"] > 10 and profile.levels_db is not None
    assert d == measure_expression(TrainingData(violin_dataset))


def test_training_writes_the_profile_into_the_model_folder(violin_dataset, tmp_path):
    from timbral.train import train

    train(violin_dataset, tmp_path / "m", steps=1, batch_size=1, progress=False,
          log_tensorboard=False)
    assert load_model(tmp_path / "m").expression == measure_expression(violin_dataset)


# ----------------------------------------------------------- what is played
@pytest.mark.parametrize("name", ["flute", "trumpet"])
def test_played_notes_onsets_and_rests_are_where_the_file_says(name, tmp_path):
    events, _ = phrase_with_bends(name, 24.0, HELD_OUT_SEED + 7)
    path = write_midi(tmp_path / "phrase.mid", [events])
    model = load_model(name)
    result = play_midi(path, model)
    part = result.score.parts[0]
    profile, _ = profile_for(model)
    figures = evaluate(result.audio, result.sample_rate, result.voices[0].voice.notes,
                       part.controls, profile)
    print(f"\n{name}: {figures}")
    check_accuracy(figures)


def test_a_string_quartet_with_two_models(tmp_path):
    """Four parts in parallel rhythm (the generator gives one seed the same rhythm
    in any range): violins on violin_realtime (50 frames/s), viola and cello on
    tenor_sax (100 frames/s); the cello's channel has a 12-semitone bend range."""
    ranges = [(67, 84), (60, 76), (53, 67), (44, 58)]
    tracks = []
    for i, (low, high) in enumerate(ranges):
        events, _ = phrase_with_bends("violin", 16.0, HELD_OUT_SEED + 3, channel=i,
                                      low=low, high=high)
        if i == 3:  # RPN 0 = 12 semitones: the written +4096 is now +6 semitones
            events = [(0.0, mido.Message("control_change", control=c, value=v, channel=3))
                      for c, v in ((101, 0), (100, 0), (6, 12))] + events
        tracks.append(events)
    path = write_midi(tmp_path / "quartet.mid", tracks,
                      names=["Violin I", "Violin II", "Viola", "Cello"])
    violin, sax = load_model("violin_realtime"), load_model("tenor_sax")
    result = play_score(read_midi(path), violin, {2: sax, 3: sax})
    assert [(p.voice.part.name, p.model_name) for p in result.voices] == [
        ("Violin I", "violin_realtime"), ("Violin II", "violin_realtime"),
        ("Viola", "tenor_sax"), ("Cello", "tenor_sax")]
    mix = np.sum([p.audio for p in result.voices], axis=0)
    scale = result.audio[np.argmax(np.abs(mix))] / mix[np.argmax(np.abs(mix))]
    assert np.allclose(result.audio, mix * scale, atol=1e-6)
    assert result.score.parts[3].controls.bend_range([1.0]).tolist() == [12.0]
    for played in result.voices:
        m = violin if played.model_name == "violin_realtime" else sax
        figures = evaluate(played.audio, result.sample_rate, played.voice.notes,
                           played.voice.part.controls, profile_for(m)[0])
        print(f"\n{played.voice.label} ({played.model_name}): {figures}")
        check_accuracy(figures)


def test_roll_measures_only_where_a_voice_plays(tmp_path):
    """The piano roll tracks a voice's notes and their release, not the silence between
    (every voice's audio lasts the whole score); there it equals tracking everything."""
    from timbral.midi.plot import PLOT_FRAME_RATE, RELEASE_S, measured_curves

    notes = [MidiNote(0.5, 1.5, 72, 90), MidiNote(1.6, 2.4, 76, 90), MidiNote(9.0, 10.0, 74, 90)]
    path = write_midi(tmp_path / "gap.mid", [note_events(notes)])
    result = play_score(read_midi(path), load_model("flute"))
    played = result.voices[0]
    midi, loudness = measured_curves(played, result.sample_rate)
    t = np.arange(len(midi)) / PLOT_FRAME_RATE
    measured = ~np.isnan(loudness)
    assert not measured[(t > 2.4 + RELEASE_S + 0.02) & (t < 8.89)].any()
    assert measured[(t >= 0.4) & (t <= 3.4)].all() and measured[(t >= 8.9) & (t <= 11.0)].all()
    whole = compute_audio_features(played.audio, result.sample_rate, PLOT_FRAME_RATE)
    inner = ((t > 0.6) & (t < 3.2)) | ((t > 9.1) & (t < 10.8))
    assert np.abs(loudness[inner] - whole["loudness_db"][:len(t)][inner]).max() < 0.05
    sung = inner & ~np.isnan(midi)
    assert sung.sum() > 250  # the notes' frames
    whole_midi = 12 * np.log2(whole["f0_hz"][:len(t)] / 440.0) + 69
    assert np.abs(midi[sung] - whole_midi[sung]).max() < 0.05
    for note in notes:  # the f0 drawn is the note played
        held = (t > note.onset + 0.15) & (t < note.offset - 0.05)
        assert np.abs(np.nanmedian(midi[held]) - note.pitch) < 0.3


# --------------------------------------------------------------- command line
def test_play_command(tmp_path, capsys):
    events, _ = phrase_with_bends("flute", 6.0, HELD_OUT_SEED + 11)
    path = write_midi(tmp_path / "a.mid", [events, note_events(
        [MidiNote(1.0, 3.0, 60, 90), MidiNote(1.0, 3.0, 64, 90)], channel=1)],
        names=["Melody", "Chords"])
    with pytest.raises(SystemExit):
        cli.main(["play", "--help"])
    assert "--vibrato-rate HZ" in capsys.readouterr().out
    out, roll = tmp_path / "out" / "a.wav", tmp_path / "a.png"
    argv = ["play", str(path), "--model", "flute", "--output", str(out), "--plot", str(roll),
            "--track-model", "1=trumpet", "--vibrato", "0", "--legato", "--transpose", "2"]
    assert cli.main(argv) == 0
    said = capsys.readouterr().out
    assert "track 0 'Melody'" in said and "-> 3 voice(s)" in said and f"wrote {roll}" in said
    assert out.stat().st_size > 1000 and roll.stat().st_size > 20000
    assert cli.main(argv) == 2  # outputs exist
    assert "already exists" in capsys.readouterr().err
    for bad, says in ((["--track-model", "x=flute"], "expected TRACK=MODEL"),
                      (["--track-model", "5=flute"], "track 5 has no notes"),
                      (["--channel", "9"], "channel 9: no notes to play"),
                      (["--vibrato", "-1"], "vibrato: expected a finite number from 0"),
                      (["--model", "nonesuch"], "not a shipped model"),
                      (["--plot", str(tmp_path / "x.jpg")], "use a .png name")):
        argv = ["play", str(path), "--model", "flute", "--output", str(tmp_path / "b.wav"), *bad]
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert says in err and "\n" not in err, err


# ----------------------------------------------------------------------- live
def _on(key, velocity=90):
    return mido.Message("note_on", note=key, velocity=velocity)


def _off(key):
    return mido.Message("note_off", note=key)


def _run(engine, script, blocks):
    """Feed ``script`` (block -> messages sent before that block) and collect the output."""
    out = []
    for b in range(blocks):
        for message in script.get(b, ()):
            engine.send(message)
        out.append(engine.process())
    return np.concatenate(out)


@pytest.mark.parametrize("voices", [1, 3])
def test_note_engine_is_the_offline_rendering_of_the_curves_it_played(voices):
    from timbral.midi.live import NoteEngine
    from timbral.models.rendering import render

    model = load_model("flute")
    script = {5: [_on(72)], 60: [_on(76)], 120: [_off(72)],
              160: [mido.Message("pitchwheel", pitch=4096)], 200: [_off(76)],
              300: [_on(74, 40)], 380: [_off(74)], 420: [_on(60), _on(64), _on(67), _on(71)]}
    # without rollback every message applies from the next frame (the rollbacks'
    # own equivalences: tests/test_midi_live.py)
    engine = NoteEngine(model, 64, voices=voices, seed=5, record=True, rollback=False)
    out = _run(engine, script, 480)
    f0, ld = engine.curves()
    offline = sum(render(model, f0[v], ld[v], seed=5 + v) for v in range(voices))
    n = min(len(out), len(offline))
    assert n > 0.9 * len(out) and np.abs(out[:n] - offline[:n]).max() < 1e-5
    frame = lambda block: int(block * 64 / model.hop)  # noqa: E731 - first frame of a block
    midi = 12 * np.log2(f0 / 440.0) + 69
    if voices == 1:  # overlapping keys slur: the pitch glides, the loudness does not dip
        assert midi[0, frame(40)] == pytest.approx(72, abs=0.5)
        assert midi[0, frame(100)] == pytest.approx(76, abs=0.5)
        level = ld[0, frame(40)]
        assert ld[0, frame(55):frame(110)].min() > level - 6.0
        assert midi[0, frame(180)] == pytest.approx(77, abs=0.5)  # bent a semitone
        assert ld[0, frame(290)] == -80.0  # released, rung out
    else:  # a chord: two voices at once, then four notes on three voices
        assert midi[0, frame(100)] == pytest.approx(72, abs=0.5)
        assert midi[1, frame(100)] == pytest.approx(76, abs=0.5)
        assert (ld[:2, frame(100)] > -40).all()
        # the fourth takes the voice the third just got (all started together); bent +1
        assert sorted(np.round(midi[:, -1]).tolist()) == [61, 65, 72]


def test_the_sustain_pedal_holds_released_notes_until_it_comes_up(tmp_path):
    pedal = lambda value: mido.Message("control_change", control=64, value=value)  # noqa: E731
    notes = [MidiNote(0.0, 0.1, 60, 90), MidiNote(0.5, 0.6, 64, 90),
             MidiNote(1.0, 1.1, 60, 90), MidiNote(2.0, 2.1, 67, 90)]
    path = write_midi(tmp_path / "pedal.mid", [[(0.0, pedal(127)), (1.5, pedal(0)),
                                                *note_events(notes)]])
    score = read_midi(path)
    played = sorted((n.onset, n.offset, n.pitch) for p in score.parts for n in p.notes)
    # C4 sounds until struck again, E4 and the second C4 until the pedal comes up, and G4,
    # played after it, for its own length
    assert played == [(0.0, 1.0, 60), (0.5, 1.5, 64), (1.0, 1.5, 60), (2.0, 2.1, 67)]
    assert not any("never released" in m for m in score.messages)

    from timbral.midi.live import NoteEngine

    engine = NoteEngine(load_model("flute"), 64, voices=2, rollback=False)
    script = {1: [pedal(127), _on(72)], 20: [_off(72)], 60: [pedal(0)]}
    held = []
    for b in range(80):
        for message in script.get(b, ()):
            engine.send(message)
        engine.process()
        held.append(any(v.key == 72 for v in engine.voices))
    assert all(held[1:60]) and not any(held[60:])  # let go under the pedal: held till it is up
    # one voice: keys let go under the pedal are no keys to glide back to when it comes up
    mono = NoteEngine(load_model("flute"), 64, voices=1, rollback=False, record=True)
    script = {1: [pedal(127), _on(60)], 10: [_on(64)], 20: [_off(64)], 30: [_off(60)],
              40: [pedal(0)]}
    for b in range(60):
        for message in script.get(b, ()):
            mono.send(message)
        mono.process()
    f0, _ = mono.curves()
    tail = 12 * np.log2(f0[0, int(41 * 64 / mono.hop):] / 440.0) + 69
    assert np.abs(tail - 64).max() < 0.5  # E4's release, not a glide down to C4
    reset = write_midi(tmp_path / "reset.mid", [[(0.0, pedal(127)),
                                                  (2.0, mido.Message("control_change",
                                                                     control=121, value=0)),
                                                  (5.0, mido.MetaMessage("text")),
                                                  *note_events([MidiNote(0.0, 1.0, 60, 90)])]])
    assert [(n.onset, n.offset) for p in read_midi(reset).parts for n in p.notes] == [(0.0, 2.0)]


def test_a_file_slightly_off_its_own_header_is_read_as_far_as_it_goes(tmp_path):
    """As players read them: a header counting more tracks than the file holds, and a
    last track whose length runs past the end (its end-of-track lost), used to be
    refused ("it ends early")."""
    data = write_midi(tmp_path / "a.mid", [[(0.0, mido.Message("note_on", note=60)),
                                            (1.0, mido.Message("note_off", note=60))]]
                      ).read_bytes()
    (tmp_path / "more.mid").write_bytes(data[:10] + (2).to_bytes(2, "big") + data[12:])
    (tmp_path / "cut.mid").write_bytes(data[:-4])  # without its end-of-track (00 FF 2F 00)
    for name, said in (("more.mid", "its header counts 2 tracks, the file holds 1"),
                       ("cut.mid", "its last track is cut short")):
        score = read_midi(tmp_path / name)
        assert [(n.onset, n.offset) for p in score.parts for n in p.notes] == [(0.0, 1.0)]
        assert any(m.startswith(f"{name}: {said}") for m in score.messages), score.messages
    # cut inside an event (a note-off, a text event, a controller): read up to the last
    # whole event; the second note is held to the track's end when its note-off is lost
    data = write_midi(tmp_path / "b.mid", [[(0.0, mido.Message("note_on", note=60)),
                                            (1.0, mido.Message("note_off", note=60)),
                                            (1.0, mido.Message("note_on", note=62)),
                                            (1.5, mido.Message("control_change", control=11,
                                                               value=90)),
                                            (1.5, mido.MetaMessage("text", text="x" * 20)),
                                            (2.0, mido.Message("note_off", note=62))]]
                      ).read_bytes()
    for cut in range(1, 34):
        (tmp_path / "cut.mid").write_bytes(data[:-cut])
        score = read_midi(tmp_path / "cut.mid")
        notes = [(n.onset, n.pitch) for p in score.parts for n in p.notes]
        assert notes == [(0.0, 60), (1.0, 62)], (cut, notes)
        assert any("cut short" in m for m in score.messages), (cut, score.messages)


def test_a_channels_note_off_ends_its_note_from_any_track(tmp_path):
    """As a synthesiser hears a merged stream: track 2's note-off ends track 1's note on
    the same channel (it was held to the end of its track, 3 s, and said so); and
    percussion left out is not named for notes it never released."""
    on = mido.Message("note_on", note=72, velocity=90)
    drum = mido.Message("note_on", note=36, velocity=90, channel=9)
    path = write_midi(tmp_path / "split.mid", [[(0.0, on), (3.0, mido.MetaMessage("text"))],
                                               [(1.0, mido.Message("note_off", note=72))],
                                               [(0.5, drum)]])
    score = read_midi(path)
    assert [(n.onset, n.offset) for p in score.parts for n in p.notes] == [(0.0, 1.0)]
    assert not any("never released" in m for m in score.messages), score.messages


def test_live_midi_says_in_one_line_what_is_missing(capfd):
    """Read at the file descriptor: ALSA's own "ALSA lib seq_hw.c..." line is kept off."""
    from timbral.midi.live import midi_ports
    from timbral.stream.live import LiveAudioError

    try:
        ports = midi_ports()
    except LiveAudioError:
        ports = []
    if ports:
        pytest.skip("this machine has MIDI inputs")
    capfd.readouterr()
    assert cli.main(["live", "--midi", "--model", "flute"]) == 2
    err = capfd.readouterr().err.strip()
    assert "MIDI" in err and "\n" not in err, err


def test_note_engine_refuses_a_block_that_is_not_a_size():
    from timbral.midi.live import NoteEngine

    engine = NoteEngine(load_model("flute"), None)
    for n in (-5, 2.5, "64"):
        with pytest.raises(ValueError, match="n: expected an integer >= 0"):
            engine.process(n)
    assert engine.process(0).shape == (0,)
    with pytest.raises(ValueError, match="n: expected 64 samples"):
        NoteEngine(load_model("flute"), 64).process(32)


def test_a_score_too_long_to_hold_is_refused_before_rendering(tmp_path):
    late = mido.MidiFile(type=0)  # one note 77.7 hours in: it used to render for ever
    late.tracks.append(mido.MidiTrack([mido.Message("note_on", note=69, velocity=90,
                                                    time=0x0FFFFFFF),
                                       mido.Message("note_off", note=69, time=480)]))
    late.save(str(tmp_path / "late.mid"))
    with pytest.raises(ValueError, match=r"late.mid: 1 voice\(s\) for 77.7 h is more than "
                                         r"timbral plays at once \(6 h"):
        play_midi(tmp_path / "late.mid", "flute")


def test_a_type_2_file_plays_its_songs_one_after_another(tmp_path):
    volume = lambda value: mido.Message("control_change", control=7, value=value)  # noqa: E731
    path = write_midi(tmp_path / "songs.mid",
                      [[(0.0, volume(100)), (0.5, volume(50)),
                        *note_events([MidiNote(0.0, 1.0, 60, 90)])],
                       [(0.0, volume(20)), *note_events([MidiNote(0.5, 1.5, 64, 90)])]],
                      midi_type=2)
    score = read_midi(path)
    controls = score.parts[0].controls  # channel 0's, both songs: each song its own
    assert [controls.volume(t) for t in (0.2, 0.7, 1.2, 2.0)] == [100, 50, 20, 20]
    assert [(n.onset, n.offset, n.pitch) for p in score.parts for n in p.notes] == \
        [(0.0, 1.0, 60), (1.5, 2.5, 64)]  # the second song starts where the first ends
    assert any("type 2 file: its 2 tracks are songs of their own" in m for m in score.messages)
    alone = read_midi(path, track=1)
    assert [(n.onset, n.pitch) for p in alone.parts for n in p.notes] == [(0.5, 64)]
    # the chosen song has its own controllers only, not the other song's (they ran on
    # the same clock: song 0's volume 50 at 0.5 s used to reach song 1's note)
    assert [alone.parts[0].controls.volume(t) for t in (0.2, 0.7, 1.2)] == [20, 20, 20]


def test_a_chosen_type_2_song_does_not_bend_with_another(tmp_path):
    bend = mido.Message("pitchwheel", pitch=8191)
    path = write_midi(tmp_path / "songs.mid",
                      [[(0.5, bend), *note_events([MidiNote(0.0, 1.0, 72, 90)])],
                       note_events([MidiNote(0.0, 1.0, 76, 90)])], midi_type=2)
    alone = read_midi(path, track=1).parts[0]
    np.testing.assert_array_equal(alone.controls.bend_cents(np.array([0.2, 0.7])), [0.0, 0.0])
    first = read_midi(path, track=0).parts[0]
    assert first.controls.bend_cents(np.array([0.7]))[0] == pytest.approx(200.0, abs=0.1)


def _one_track(path, messages, ticks_per_beat=480):
    """A type 0 file of ``(delta ticks, message)``."""
    midi = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    midi.tracks.append(mido.MidiTrack([m.copy(time=d) for d, m in messages]))
    midi.save(str(path))
    return path


def test_files_as_other_writers_write_them(tmp_path):
    """Repeated notes whose note-on comes before the old note-off at the same tick (the
    off closes the earlier note); CC123 / CC120 end a channel's notes; SMPTE divisions;
    a chunk of an unknown kind before a track, and a RIFF 'RMID' wrapper; notes never
    released are named; a file of drums only says how to play them."""
    on = lambda key, d=0: (d, mido.Message("note_on", note=key, velocity=90))  # noqa: E731
    off = lambda key, d=0: (d, mido.Message("note_off", note=key))  # noqa: E731
    cc = lambda number, d: (d, mido.Message("control_change", control=number))  # noqa: E731
    repeated = _one_track(tmp_path / "repeated.mid", [on(72), on(72, 480), off(72),
                                                      on(72, 480), off(72), off(72, 480)])
    assert [(n.onset, n.offset) for n in read_midi(repeated).notes] == \
        [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5)]
    cut = _one_track(tmp_path / "allnotesoff.mid", [on(67), cc(123, 480), on(72, 480),
                                                    cc(120, 480), on(74, 0), off(74, 480)])
    assert [(n.onset, n.offset, n.pitch) for n in read_midi(cut).notes] == \
        [(0.0, 0.5, 67), (1.0, 1.5, 72), (1.5, 2.0, 74)]
    # 25 fps x 40 ticks per frame: 1000 ticks a second, whatever the tempo says
    data = bytearray(_one_track(tmp_path / "beats.mid", [
        (0, mido.MetaMessage("set_tempo", tempo=250_000)), on(60, 500), off(60, 1500)]
    ).read_bytes())
    data[12:14] = bytes([0xE7, 40])
    (tmp_path / "smpte.mid").write_bytes(bytes(data))
    assert [(n.onset, n.offset) for n in read_midi(tmp_path / "smpte.mid").notes] == \
        [(0.5, 2.0)]
    data[12:14] = bytes([0xE5, 40])  # -27 fps: no such SMPTE rate
    (tmp_path / "bad_smpte.mid").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SMPTE division of 27 frames per second"):
        read_midi(tmp_path / "bad_smpte.mid")
    plain = repeated.read_bytes()
    alien = plain[:14] + b"XFIH" + (6).to_bytes(4, "big") + b"abcdef" + plain[14:]
    (tmp_path / "alien.mid").write_bytes(alien)
    rmid = b"RMID" + b"data" + len(plain).to_bytes(4, "little") + plain
    (tmp_path / "riff.mid").write_bytes(b"RIFF" + len(rmid).to_bytes(4, "little") + rmid)
    for name in ("alien.mid", "riff.mid"):
        assert len(read_midi(tmp_path / name).notes) == 3, name
    stuck = _one_track(tmp_path / "stuck.mid", [on(67), off(67, 480), on(69),
                                                (96000, mido.MetaMessage("end_of_track"))])
    score = read_midi(stuck)
    assert score.notes[-1].offset == pytest.approx(100.5)
    assert score.messages == ["track 0 channel 1: key 69 struck at 0.5 s is never released; "
                              "held to the end of its track (100.5 s)"]
    lost = _one_track(tmp_path / "lost.mid", [(480, mido.Message("note_on", note=69))])
    with pytest.raises(ValueError, match=r"no notes to play \(tracks with notes: none; channels "
                                         r"none\); track 0 channel 1: key 69 struck at 0.5 s is "
                                         r"never released; its track ends there: left out$"):
        read_midi(lost)
    drums = mido.MidiFile(type=0)
    drums.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=9, note=36, velocity=99),
                                        mido.Message("note_off", channel=9, note=36, time=240)]))
    drums.save(str(tmp_path / "drums.mid"))
    with pytest.raises(ValueError, match=r"drums.mid: only channel 10 \(General MIDI "
                                         r"percussion\) has notes \(1\); play them with "
                                         r"--channel 10"):
        read_midi(tmp_path / "drums.mid")
    assert len(read_midi(tmp_path / "drums.mid", channel=10).notes) == 1
    band = write_midi(tmp_path / "band.mid", [note_events([MidiNote(0.0, 1.0, 60, 90)]),
                                              note_events([MidiNote(0.0, 0.5, 36, 90)],
                                                          channel=9)])
    with pytest.raises(ValueError, match=r"^track 1: only channel 10 \(General MIDI "
                                         r"percussion\) has notes \(1\); play them with "
                                         r"--channel 10$"):
        read_midi(band, track=1)
    with pytest.raises(ValueError, match=r"track-model: track 1 has only General MIDI "
                                         r"percussion \(channel 10\), which plays only with "
                                         r"--channel 10; tracks played: \[0\]$"):
        play_midi(band, "flute", track_models={1: "violin"})
    melody = read_midi(band, channel=1)
    with pytest.raises(ValueError, match=r"track-model: track 1 has no notes on the channel "
                                         r"played; tracks played: \[0\]$"):
        play_score(melody, "flute", track_models={1: "violin"})


def test_notes_a_model_cannot_play_as_asked_are_said(tmp_path):
    """A bend that takes a note under 20 Hz (range 127 semitones, wheel down), a key over
    half the flute's 16 kHz rate, and a file at expression 0 each get a line."""
    bend = [(0, mido.Message("control_change", control=101, value=0)),
            (0, mido.Message("control_change", control=100, value=0)),
            (0, mido.Message("control_change", control=6, value=127)),
            (0, mido.Message("pitchwheel", pitch=-8192)),
            (0, mido.Message("note_on", note=60, velocity=90)),
            (480, mido.Message("note_off", note=60)),
            (0, mido.Message("pitchwheel", pitch=0)),
            (0, mido.Message("note_on", note=125, velocity=90)),
            (480, mido.Message("note_off", note=125))]
    said = play_midi(_one_track(tmp_path / "bend.mid", bend), "flute").messages
    assert "flute: 1 of 2 notes reach below 20 Hz, which plays as clicks, not a note (a key " \
           "or a pitch bend); --transpose moves them" in said, said
    assert "flute: 1 of 2 notes reach above 8000 Hz, half its sample rate, where it makes no " \
           "sound (a key or a pitch bend); --transpose moves them" in said, said
    assert any("2 of 2 notes lie outside the range it was trained on" in m for m in said), said
    assert not any("silent" in m for m in said), said
    quiet = [(0, mido.Message("control_change", control=11, value=0)),
             (0, mido.Message("note_on", note=72, velocity=90)),
             (480, mido.Message("note_off", note=72))]
    rendering = play_midi(_one_track(tmp_path / "quiet.mid", quiet), "flute")
    assert np.abs(rendering.audio).max() < 1e-3
    assert any(m.startswith("the output is silent (peak ") for m in rendering.messages)
    assert not any("notes reach" in m or "lie outside" in m for m in rendering.messages)


def test_a_trailing_rest_is_played_to_the_end_of_the_track(tmp_path):
    """A song whose end-of-track lies 2.5 s after its last note lasts that long, silent
    after the note (a SoundFont player plays it so, and the stems of a song stay aligned);
    a chosen type 2 song ends with its own track."""
    path = _one_track(tmp_path / "rest.mid", [
        (0, mido.Message("note_on", note=69, velocity=90)),
        (480, mido.Message("note_off", note=69)),
        (2400, mido.MetaMessage("end_of_track"))])  # 0.5 s, then 2.5 s of rest at 120 bpm
    score = read_midi(path)
    assert (score.duration, score.end) == (0.5, 3.0)
    flute = play_midi(path, "flute")
    assert flute.duration == pytest.approx(3.0, abs=1e-3)
    after = flute.audio[int(1.2 * flute.sample_rate):].astype(np.float64)
    assert np.sqrt(np.mean(after ** 2)) < 1e-4
    songs = write_midi(tmp_path / "songs.mid", [note_events([MidiNote(0.0, 1.0, 60, 90)]),
                                                note_events([MidiNote(0.0, 0.5, 64, 90)])],
                       midi_type=2)
    assert read_midi(songs).end == 1.5 and read_midi(songs, track=1).end == 0.5
    # an end-of-track 77.7 hours on (a broken writer) is left out, and said so
    far = _one_track(tmp_path / "far.mid", [
        (0, mido.Message("note_on", note=69, velocity=90)),
        (480, mido.Message("note_off", note=69)), (0x0FFFFFFF, mido.MetaMessage("end_of_track"))])
    played = play_midi(far, "flute")
    assert played.duration < 1.0
    assert any("left out the rest after the last note: the file's end-of-track lies 77.7 h in"
               in m for m in played.messages)


def test_a_room_rings_out_after_the_last_note(tmp_path):
    """The violin's learned room (about 1 s to -60 dB) is in the output, not cut; a model
    without one ends 0.1 s after its release. Track-model keys are track numbers."""
    path = _one_track(tmp_path / "one.mid", [(0, mido.Message("note_on", note=69, velocity=90)),
                                             (480, mido.Message("note_off", note=69))])
    violin, flute = play_midi(path, "violin"), play_midi(path, "flute")
    assert room_tail_seconds(load_model("violin")) > 0.5
    assert room_tail_seconds(load_model("flute")) == 0.0
    assert violin.duration >= 0.5 + room_tail_seconds(load_model("violin")) + 0.1
    assert flute.duration < 0.5 + 0.6  # its release, then 0.1 s
    last = violin.audio[-violin.sample_rate // 100:]
    level = 10 * np.log10(np.mean(last.astype(np.float64) ** 2) / np.mean(
        violin.audio.astype(np.float64) ** 2))
    assert level < -45, level  # rung out (a cut room ended 20 dB under the note)
    with pytest.raises(ValueError, match="track_models: a track: expected an integer >= 0"):
        play_midi(path, "flute", track_models={"0": "violin"})
