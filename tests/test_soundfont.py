"""SoundFont rendering with FluidSynth: exact ground truth for pitch and voicing.

These tests need Debian's libfluidsynth3 and fluid-soundfont-gm
(requirements/soundfont-apt.txt); without them they fail with the install hint.
"""

import ctypes

import numpy as np
import pytest
import soundfile as sf

from timbral.data import fluidsynth, melodies
from timbral.data import (INSTRUMENTS, Note, Performance, find_soundfonts, generate_phrase,
                          quantize_performance, render_melody, render_performance,
                          resolve_soundfont)
from timbral.data.corpus import render_corpus
from timbral.data.pitch_deviation import measure_pitch_deviation
from timbral.data.rendering import bend_to_midi

SECONDS = 3.5
SR = 16000


def cents(f, ref):
    return 1200.0 * np.log2(np.asarray(f, float) / np.asarray(ref, float))


def dominant_partial_f0(x, sr, f_expected):
    """f0 from the strongest spectral peak (Hann, zero-padded, parabolic), divided by
    its harmonic number relative to the expected f0."""
    n = len(x)
    size = 16 * n
    spec = np.abs(np.fft.rfft(x * np.hanning(n), size))
    lo = int(0.7 * f_expected * size / sr)
    k = lo + int(np.argmax(spec[lo:]))
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-30)
    peak = (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / size
    return peak / max(1, round(peak / f_expected))


def frame_f0(x, sr, f_expected, harmonic, win, hop):
    """Frame-wise f0 from one harmonic's spectral peak (a simple independent tracker)."""
    out, w = [], np.hanning(win)
    size = 16 * win
    freqs = np.fft.rfftfreq(size, 1.0 / sr)
    target = harmonic * f_expected
    band = np.flatnonzero((freqs > target * 0.95) & (freqs < target * 1.05))
    for start in range(0, len(x) - win, hop):
        spec = np.abs(np.fft.rfft(x[start:start + win] * w, size))
        k = band[0] + int(np.argmax(spec[band]))
        a, b, c = np.log(spec[k - 1:k + 2] + 1e-30)
        out.append((k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / size / harmonic)
    return np.array(out)


@pytest.fixture(scope="module")
def violin():
    return render_melody("violin", SECONDS, seed=1, soundfont="FluidR3_GM", sample_rate=SR,
                         rest_probability=0.3)


@pytest.fixture(scope="module")
def clarinet():
    # No vibrato, so a long FFT of a held note shows one clean partial.
    return render_melody("clarinet", SECONDS, seed=10, soundfont="FluidR3_GM", sample_rate=SR,
                         vibrato_probability=0.0, rest_probability=0.3)


# SoundFonts and errors -----------------------------------------------------------------
def test_soundfonts_are_installed_and_found():
    fonts = find_soundfonts()
    assert "FluidR3_GM" in fonts, "apt-get install fluid-soundfont-gm"
    assert all(p.is_file() and p.suffix in (".sf2", ".sf3") for p in fonts.values())
    assert resolve_soundfont(None) == fonts["FluidR3_GM"]  # preferred default
    assert resolve_soundfont("fluidr3") == fonts["FluidR3_GM"]
    assert fluidsynth.fluidsynth_version().startswith("2.")


def test_missing_soundfont_gives_one_line_install_hint(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install fluid-soundfont-gm") as err:
        find_soundfonts(search_path=tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(FileNotFoundError, match="no such file"):
        render_melody("violin", 2.0, seed=0, soundfont=tmp_path / "missing.sf2")
    with pytest.raises(FileNotFoundError, match="not installed"):
        render_melody("violin", 2.0, seed=0, soundfont="no_such_font")
    bogus = tmp_path / "bogus.sf2"
    bogus.write_bytes(b"not a soundfont" * 100)
    with pytest.raises(ValueError, match="not a SoundFont"):
        render_melody("violin", 2.0, seed=0, soundfont=bogus)
    # an audio file (RIFF too, form WAVE) is refused before FluidSynth's DLS loader
    # sees it (it printed a GLib CRITICAL line) and before the corpus folder is made
    wav = tmp_path / "tone.wav"
    sf.write(wav, np.zeros(1600, np.float32), 16000)
    with pytest.raises(ValueError, match="tone.wav: not a SoundFont"):
        render_corpus("violin", 0.1, tmp_path / "corpus", soundfont=wav)
    assert not (tmp_path / "corpus").exists()
    # a real SoundFont whose header is damaged
    damaged = tmp_path / "damaged.sf2"
    damaged.write_bytes(b"RIFF\0\0\0\0sfbX" + resolve_soundfont().read_bytes()[12:4096])
    with pytest.raises(ValueError, match="damaged.sf2: not a SoundFont"):
        render_melody("violin", 2.0, seed=0, soundfont=damaged)


def test_missing_fluidsynth_library_gives_install_hint(monkeypatch):
    def no_library(*args, **kwargs):
        raise OSError("not found")

    monkeypatch.setattr(ctypes, "CDLL", no_library)
    with pytest.raises(RuntimeError, match="apt-get install libfluidsynth3"):
        fluidsynth.FluidSynthLibrary()


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="instrument"):
        render_melody("kazoo", 2.0)
    with pytest.raises(ValueError, match="seed"):
        render_melody("violin", 2.0, seed=1.5)
    perf = quantize_performance([Note(0.1, 0.5, 60, 90)], 1.0)
    with pytest.raises(ValueError, match="program"):
        render_performance(perf, program=128)
    with pytest.raises(ValueError, match="overlaps"):
        quantize_performance([Note(0.1, 0.5, 60, 90), Note(0.4, 0.8, 62, 90)], 1.0)


# Phrases ----------------------------------------------------------------------------
def test_generated_phrases_are_plausible_and_in_range():
    legato = detached = rests = 0
    for seed in range(12):
        inst = list(INSTRUMENTS.values())[seed % len(INSTRUMENTS)]
        perf = generate_phrase(np.random.default_rng(seed), inst.low, inst.high, 6.0)
        notes = perf.notes
        assert perf.n_steps == 6 * 750 and len(notes) >= 4
        assert all(inst.low <= n.pitch <= inst.high for n in notes)
        assert all(1 <= n.velocity <= 127 for n in notes)
        assert len({n.velocity for n in notes}) > 1
        assert notes[-1].offset <= 6.0 - 0.4 + 1e-9  # room for the release
        steps = np.abs(np.diff([n.pitch for n in notes]))
        assert np.median(steps) <= 4  # mostly stepwise
        for a, b in zip(notes[:-1], notes[1:]):
            assert a.offset <= b.onset + 1e-12
            legato += a.offset == b.onset
            detached += a.offset < b.onset
            rests += b.onset - a.offset > 0.25
        assert 30 <= perf.expression.min() and perf.expression.max() <= 127
        assert np.abs(perf.bend_cents).max() < 60
    assert legato > 5 and detached > 5 and rests > 2


def test_bend_is_played_in_whole_cents():
    values, sounding = bend_to_midi(np.array([0.0, 0.4, 12.6, -30.2, 100.0, -150.0]))
    assert sounding.tolist() == [0, 0, 13, -30, 100, -150]
    assert values.min() >= 0 and values.max() <= 16383
    # FluidSynth applies 127/128 of a 2-semitone range and truncates to whole cents.
    model = np.floor((values - 8192) * 200.0 * 127 / 128 / 8192)
    assert np.array_equal(model, sounding)


def test_pitch_deviation_measurement_is_exact_on_a_synthetic_tone():
    sr, n_blocks = 48000, 750 * 2
    t = np.arange(n_blocks * 64) / sr
    bend = np.round(30 * np.sin(2 * np.pi * 5.5 * np.arange(n_blocks) / 750))
    drift = 12 * np.sin(2 * np.pi * 4.1 * t + 1.0)  # the "recorded" deviation, cents
    f0 = 220.0 * 2 ** ((np.repeat(bend, 64) + drift) / 1200)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(a * np.sin(k * phase) for k, a in ((1, 0.3), (2, 1.0), (3, 0.5), (4, 0.3)))
    x = x + 1e-3 * np.random.default_rng(0).standard_normal(len(t))
    measured, reliable = measure_pitch_deviation(x, 220.0 * 2 ** (bend / 1200))
    truth = drift.reshape(n_blocks, 64).mean(axis=1)
    assert reliable.all()
    assert np.abs(measured - truth)[40:-40].max() < 0.5


# Rendered audio ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["violin", "clarinet"])
def test_audio_has_the_right_shape_and_level(name, violin, clarinet):
    r = {"violin": violin, "clarinet": clarinet}[name]
    assert r.sample_rate == SR and r.audio.dtype == np.float32
    assert r.audio.shape == (int(SECONDS * SR),)
    assert np.isfinite(r.audio).all()
    assert 0.01 < np.abs(r.audio).max() < 1.0
    assert r.program == INSTRUMENTS[name].program and r.instrument == name and r.seed in (1, 10)
    assert r.soundfont.name == "FluidR3_GM.sf2"


@pytest.mark.parametrize("name", ["violin", "clarinet"])
def test_sound_during_notes_and_silence_in_rests(name, violin, clarinet):
    r = {"violin": violin, "clarinet": clarinet}[name]
    frames = r.f0_frames(100.0)
    hop = SR // 100
    rms = np.array([np.sqrt(np.mean(r.audio[max(0, i * hop - hop // 2):i * hop + hop // 2] ** 2))
                    for i in range(len(frames.times))])
    loud = np.median(rms[frames.voiced])
    assert loud > 1e-3
    for note in r.notes:  # every note sounds
        inside = (frames.times >= note.onset + 0.03) & (frames.times < note.offset)
        if inside.any():
            assert rms[inside].max() > 0.1 * loud
    # Away from notes and release tails (one frame of margin): near-silent, 50 dB down.
    sounding = (frames.voiced | frames.release).astype(float)
    silent = np.convolve(sounding, np.ones(3), mode="same") == 0
    assert silent.sum() > 20
    assert rms[silent].max() < 10 ** (-50 / 20) * loud
    gaps = [b.onset - e for b, e in zip(r.notes[1:], r.release_ends[:-1])]
    assert len(r.notes) >= 4 and max(gaps) > 0.05  # a real rest inside the phrase
    assert r.audio[: int((r.notes[0].onset - 0.005) * SR)].__abs__().max() < 1e-5


def test_sustained_note_pitch_matches_the_spectrum(clarinet):
    # FluidR3's clarinet samples are steady: the note list alone is within 10 cents.
    for note in [n for n in clarinet.notes if n.duration > 0.3]:
        start, stop = note.onset + 0.08, note.offset - 0.01
        segment = clarinet.audio[int(start * SR):int(stop * SR)]
        times = np.arange(start, stop, 1 / 750)
        truth = np.exp(np.log(clarinet.f0_hz_at(times)).mean())
        nominal = np.exp(np.log(clarinet.f0_hz_at(times, intrinsic=False)).mean())
        assert nominal == pytest.approx(440 * 2 ** ((note.pitch - 69) / 12), rel=1e-12)
        measured = dominant_partial_f0(segment, SR, truth)
        assert abs(cents(measured, nominal)) < 10.0
        # Tighter with the measured intrinsic deviation.
        assert abs(cents(measured, truth)) < 3.0


def test_intrinsic_truth_follows_recorded_vibrato(violin):
    # FluidR3's violin samples carry recorded vibrato: an independent frame-wise
    # tracker follows the truth with the intrinsic deviation, not the notes alone.
    note = max(violin.notes, key=lambda n: n.duration)
    f_note = 440 * 2 ** ((note.pitch - 69) / 12)
    start = note.onset + 0.06
    segment = violin.audio[int(start * SR):int(note.offset * SR)]
    win, hop = 512, 160
    tracked = cents(frame_f0(segment, SR, f_note, 1, win, hop), f_note)
    centres = start + (np.arange(len(tracked)) * hop + win / 2) / SR
    with_intrinsic = cents(violin.f0_hz_at(centres), f_note)
    notes_only = cents(violin.f0_hz_at(centres, intrinsic=False), f_note)
    assert np.median(np.abs(tracked - with_intrinsic)) < 2.0
    assert np.median(np.abs(tracked - notes_only)) > 5.0
    assert np.ptp(violin.intrinsic_cents) > 20


def test_vibrato_has_the_requested_depth_in_truth_and_audio():
    rng = np.random.default_rng(11)
    perf = generate_phrase(rng, 55, 67, 3.0, tempo_bpm=60, legato=0.0, rest_probability=0.0,
                           vibrato_probability=1.0, vibrato_rate_hz=5.5,
                           vibrato_depth_cents=30.0, vibrato_delay_s=0.2)
    r = render_performance(perf, "FluidR3_GM", INSTRUMENTS["clarinet"].program, 48000)
    note = max(r.notes, key=lambda n: n.duration)
    assert note.duration > 0.8
    start, stop = note.onset + 0.45, note.offset  # after delay (0.2 s) and fade-in (0.2 s)
    frames = r.f0_frames(250.0, intrinsic=False)
    sel = (frames.times >= start) & (frames.times < stop)
    bend = cents(frames.f0_hz[sel], 440 * 2 ** ((note.pitch - 69) / 12))
    assert 29.0 <= bend.max() <= 31.0 and -31.0 <= bend.min() <= -29.0
    # At 5.5 Hz: the spectrum of the bend peaks there.
    size = 64 * len(bend)
    spectrum = np.abs(np.fft.rfft((bend - bend.mean()) * np.hanning(len(bend)), size))
    rate = np.argmax(spectrum) * 250.0 / size
    assert rate == pytest.approx(5.5, rel=0.05)
    # The audio follows: an independent frame tracker sees the same modulation.
    f_note = 440 * 2 ** ((note.pitch - 69) / 12)
    seg = r.audio[int(start * 48000):int(stop * 48000)]
    hop, win = 480, 1024
    tracked = cents(frame_f0(seg, 48000, f_note, 1, win, hop), f_note)
    centres = start + (np.arange(len(tracked)) * hop + win / 2) / 48000
    truth = cents(r.f0_hz_at(centres), f_note)
    assert np.ptp(tracked) == pytest.approx(60.0, rel=0.2)
    assert np.corrcoef(tracked, truth)[0, 1] > 0.95
    assert np.median(np.abs(tracked - truth)) < 3.0


def test_ground_truth_frames_and_lookup_agree(violin):
    r = violin
    frames = r.f0_frames(250.0)
    assert len(frames.times) == int(SECONDS * 250) + 1
    assert np.array_equal(frames.f0_hz > 0, frames.voiced)
    assert not (frames.voiced & frames.release).any()
    assert np.array_equal(frames.f0_hz, r.f0_hz_at(frames.times))
    assert np.array_equal(frames.voiced, r.voiced_at(frames.times))
    onsets = {n.onset for n in r.notes}
    for note in r.notes:  # voiced exactly from onset to offset (or on, if legato)
        t = np.array([note.onset, note.offset - 1e-4, note.offset])
        assert r.voiced_at(t).tolist() == [True, True, note.offset in onsets]
        held = r.f0_hz_at(np.linspace(note.onset, note.offset - 1e-3, 50), intrinsic=False)
        assert np.abs(cents(held, 440 * 2 ** ((note.pitch - 69) / 12))).max() < 60
    with_tails = r.f0_frames(250.0, include_release=True)
    assert np.array_equal(with_tails.f0_hz > 0, frames.voiced | frames.release)
    assert frames.release.any()


def test_same_seed_same_audio_different_seed_different_notes(violin):
    again = render_melody("violin", SECONDS, seed=1, soundfont="FluidR3_GM", sample_rate=SR,
                          rest_probability=0.3)
    assert np.array_equal(again.audio, violin.audio)
    assert again.notes == violin.notes
    assert np.array_equal(again.intrinsic_cents, violin.intrinsic_cents)
    other = render_melody("violin", SECONDS, seed=5, soundfont="FluidR3_GM", sample_rate=SR,
                          rest_probability=0.3)
    assert other.notes != violin.notes


def test_normalize_and_other_rates():
    perf = quantize_performance([Note(0.1, 0.6, 69, 100)], 1.0)
    r = render_performance(perf, "FluidR3_GM", 40, 22050, normalize=0.9,
                           measure_intrinsic=False)
    assert r.audio.shape == (22050,) and r.intrinsic_cents is None
    assert np.abs(r.audio).max() == pytest.approx(0.9, rel=1e-5)
    assert isinstance(r.performance, Performance)
    assert melodies.CONTROL_RATE == 750.0
