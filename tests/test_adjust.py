"""Auto-adjust maths: shifts, quantile matching, tuning factor, autotune, the flow."""

import numpy as np
import pytest
import torch

from timbral.data.statistics import QuantileTransform
from timbral.stream import StreamingAdjust
from timbral.transfer import (KEY_NAMES, MAX_F0_HZ, apply_manual_shifts, auto_adjust, auto_tune,
                              fit_quantile_transform, get_tuning_factor, infer_major_key,
                              octave_shift_to_dataset, shift_f0, shift_ld)
from timbral.transfer.adjust import (MAX_LOUDNESS_EXPANSION, LoudnessMatch, floor_loudness,
                                     loudness_spread, octave_rule, quiet_drop_db, tune_f0)

D_MAJOR = [62, 64, 66, 67, 69, 71, 73, 74]


def _hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _midi(hz):
    return 12.0 * np.log2(np.asarray(hz, dtype=np.float64) / 440.0) + 69.0


def _melody(detune=0.0, frames_per_note=40, jitter=0.03, seed=0):
    rng = np.random.default_rng(seed)
    notes = np.repeat([62, 64, 66, 67, 69, 71, 73, 74, 71, 67], frames_per_note).astype(float)
    return notes + detune + rng.normal(0, jitter, len(notes))


def _magenta_tuning_factor(f0_midi, f0_confidence, mask_on):
    """Magenta's get_tuning_factor as published (float comparison of grid notes)."""
    factors = np.linspace(-0.5, 0.5, 101)
    diffs = (f0_midi[mask_on][:, None] - factors[None]) % 1.0
    diffs[diffs > 0.5] -= 1.0
    weights = f0_confidence[mask_on][:, None]
    cost_diffs = np.mean(weights * np.abs(diffs), axis=0)
    f0_at = f0_midi[mask_on][:, None] - diffs
    cost_deltas = np.mean(weights[:-1] * (np.diff(f0_at, axis=0) != 0.0), axis=0)
    norm = lambda x: (x - np.mean(x)) / np.std(x)  # noqa: E731
    return factors[np.argmin(norm(cost_deltas) + norm(cost_diffs))]


# ------------------------------------------------------------------ shifts
def test_shift_f0_and_ld():
    f0 = np.array([0.0, 110.0, 440.0, 3000.0])
    np.testing.assert_allclose(shift_f0(f0, 1), [0.0, 220.0, 880.0, MAX_F0_HZ])
    np.testing.assert_allclose(shift_f0(f0, -1), [0.0, 55.0, 220.0, 1500.0])
    assert MAX_F0_HZ == pytest.approx(440 * 2 ** (41 / 12))  # MIDI 110
    np.testing.assert_allclose(shift_ld(torch.tensor([-30.0, -80.0]), -6), [-36.0, -86.0])


def test_manual_shifts():
    f0, ld = apply_manual_shifts([100.0, 0.0], [-20.0, -50.0], pitch_shift_octaves=1,
                                 semitones=12, loudness_shift_db=6)
    assert f0.dtype == np.float32 and ld.dtype == np.float32
    np.testing.assert_allclose(f0, [400.0, 0.0])
    np.testing.assert_allclose(ld, [-14.0, -44.0])
    f0, _ = apply_manual_shifts([440.0], [-20.0], semitones=-7)
    assert f0[0] == pytest.approx(440 * 2 ** (-7 / 12), rel=1e-6)


@pytest.mark.parametrize("octaves_below, expected", [
    (0.3, 1.0),    # ceil: a small gap below still moves up an octave (Magenta's rule)
    (-0.3, 0.0),   # ceil(-0.3) = 0
    (-0.9, 0.0),
    (-1.2, -1.0),
    (1.2, 2.0),    # ceil below 1.5
    (1.6, 1.0),    # floor above 1.5
    (2.7, 2.0),
])
def test_octave_shift_rule(octaves_below, expected):
    f0 = _hz(np.full(20, 60.0))
    mask = np.ones(20, bool)
    shift = octave_shift_to_dataset(f0, mask, mean_pitch=60.0 + 12 * octaves_below)
    assert shift == expected and str(shift) != "-0.0"


def test_octave_shift_uses_note_on_frames_only():
    f0 = _hz([48.0] * 10 + [90.0] * 10)
    mask = np.array([True] * 10 + [False] * 10)
    assert octave_shift_to_dataset(f0, mask, mean_pitch=59.0) == 1.0


def test_octave_rule_on_pitches():
    assert octave_rule(60.0, 60.0 + 12 * 1.6) == 1.0  # d > 1.5: floor
    assert octave_rule(60.0, 60.0 + 12 * 1.2) == 2.0  # else ceil
    assert octave_rule(60.0, 60.0 - 12 * 0.3) == 0.0 and str(octave_rule(60.0, 56.4)) == "0.0"
    with pytest.raises(ValueError, match="input_pitch"):
        octave_rule(float("nan"), 60.0)


def test_floor_and_quiet_rules():
    ld = np.array([-90.0, -80.0, -20.0], np.float32)
    floored = floor_loudness(ld)
    assert floored.dtype == np.float32 and floored.tolist() == [-80.0, -80.0, -20.0]
    np.testing.assert_allclose(quiet_drop_db([0.0, 0.25, 1.0, 1.5], 20.0), [20.0, 15.0, 0.0, 0.0])
    assert float(quiet_drop_db(0.5, 10.0)) == 5.0  # one frame, as the stream uses it


# ---------------------------------------------------------------- loudness
def test_quantile_matching_gives_the_target_distribution():
    rng = np.random.default_rng(0)
    target = QuantileTransform.fit(rng.normal(-10, 3, 20000))
    n = 1500
    loudness = rng.uniform(-60, -30, n)
    mask = np.zeros(n, bool)
    mask[250:1250] = True  # 1000 note-on frames: one quantile per frame
    fitted, out = fit_quantile_transform(loudness, mask, inv_quantile=target)
    assert fitted.n_quantiles == 1000
    np.testing.assert_allclose(fitted.quantiles, np.sort(loudness[mask]), atol=1e-9)
    # note-on frames now have the target's quantiles, in the input's order; where the
    # target's tails would stretch the input's levels more than twice, they stop there
    ranked = np.sort(out[mask])
    assert np.abs(ranked - target.quantiles)[100:-100].max() < 0.15  # 2 sigma each side
    assert ranked[0] > target.quantiles[0] + 1.0 and ranked[-1] < target.quantiles[-1] - 1.0
    assert np.all(np.diff(ranked) <= MAX_LOUDNESS_EXPANSION * np.diff(np.sort(loudness[mask]))
                  + 1e-9)
    np.testing.assert_array_equal(np.argsort(out[mask]), np.argsort(loudness[mask]))
    np.testing.assert_array_equal(out[~mask], loudness[~mask])
    # the dict form works the same; no target leaves loudness unchanged
    _, again = fit_quantile_transform(loudness, mask, inv_quantile=target.to_dict())
    np.testing.assert_array_equal(again, out)
    _, same = fit_quantile_transform(loudness, mask)
    np.testing.assert_array_equal(same, loudness)


def test_quantile_matching_small_input():
    # Fewer note-on frames than quantiles: ranks map onto the target's CDF.
    target = QuantileTransform(np.linspace(-20.0, -10.0, 1000))
    loudness = np.array([-50.0, -40.0, -45.0, -70.0])
    mask = np.array([True, True, True, False])
    _, out = fit_quantile_transform(loudness, mask, inv_quantile=target)
    np.testing.assert_allclose(out, [-20.0, -10.0, -15.0, -70.0], atol=1e-9)


def _wide_statistics():
    """A dataset whose note-on loudness spans about 30 dB (5th-95th percentile), like
    the shipped models' (violin: -32 .. -4 dB)."""
    rng = np.random.default_rng(2)
    qt = QuantileTransform.fit(rng.normal(-18.0, 9.0, 20000))
    return {"format": "timbral.statistics", "version": 1, "frame_rate": 100,
            "mean_pitch": 69.0, "quantile_transform": qt.to_dict()}


def _held_tone(seconds=8.0, rate=100, level_db=-2.0, wobble_db=0.3, seed=5):
    """Features of a held A4 at ``level_db``: a slow random wobble of about
    ``wobble_db``, 50 ms of silence at each end."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    ld = level_db + wobble_db * np.interp(np.arange(n), np.arange(0, n + 10, 10),
                                          rng.normal(0, 1, n // 10 + 1))
    conf = np.full(n, 0.95)
    ld[:5] = ld[-5:] = -90.0
    conf[:5] = conf[-5:] = 0.0
    return {"f0_hz": np.full(n, 440.0), "f0_confidence": conf, "loudness_db": ld,
            "frame_rate": rate}


def test_loudness_match_limits_the_expansion():
    target = QuantileTransform(np.linspace(-40.0, -10.0, 1001))  # median -25, spread 27 dB
    match = LoudnessMatch(target)
    assert match.spread == pytest.approx(27.0) and match.median == pytest.approx(-25.0)
    assert loudness_spread(target.inverse_transform) == match.spread
    u = np.array([0.0, 0.05, 0.5, 0.95, 1.0])
    plain = target.inverse_transform(u)
    # wide enough input: plain quantile matching
    np.testing.assert_array_equal(match(u, 27.0 / MAX_LOUDNESS_EXPANSION), plain)
    np.testing.assert_array_equal(match(u, 40.0), plain)
    # a 3 dB input spreads over 2 * 3 dB around the dataset's median
    narrow = match(u, 3.0)
    np.testing.assert_allclose(narrow, -25.0 + (plain + 25.0) * 6.0 / 27.0, atol=1e-9)
    assert narrow[3] - narrow[1] == pytest.approx(MAX_LOUDNESS_EXPANSION * 3.0)
    np.testing.assert_allclose(match(u, 0.0), -25.0)  # a constant input


def test_steady_tone_keeps_a_steady_loudness():
    """A held tone at -2 dB: plain quantile matching stretched its 1 dB wobble over the
    dataset's 30 dB (a deep tremolo); now it stays within a few dB, offline and streamed."""
    features, stats = _held_tone(), _wide_statistics()
    ld_in = features["loudness_db"]
    result = auto_adjust(features, stats, quiet=20.0)
    mask = result.mask_on
    assert mask[10:-10].all()
    inner = np.zeros_like(mask)
    inner[10:-10] = True  # away from the start and the end of the note
    out = result.loudness_db[inner]
    spread = lambda x: np.subtract(*np.percentile(x, [95, 5]))  # noqa: E731
    assert 0.5 < spread(ld_in[inner]) < 2.0
    assert spread(out) <= MAX_LOUDNESS_EXPANSION * spread(ld_in[inner]) + 0.1
    assert np.ptp(out) < 4.0 and np.abs(np.diff(out)).max() < 1.0
    target = QuantileTransform.from_dict(stats["quantile_transform"])
    assert abs(np.median(out) - target.inverse_transform([0.5])[0]) < 1.0  # matched level
    # what Magenta's matching does to the same tone
    fitted = QuantileTransform.fit(ld_in[mask], 1000)
    magenta = target.inverse_transform(fitted.transform(ld_in[inner]))
    assert np.ptp(magenta) > 25.0 and np.abs(np.diff(magenta)).max() > 5.0

    # Streamed: the same rule on running statistics. The stream starts from the dataset's
    # distribution (near the identity) and settles near the median; plain matching
    # swung over 23 dB in the last 4 s.
    stream = StreamingAdjust(stats, 100, quiet=20.0)
    streamed = np.array([stream(f, c, ld).loudness_db for f, c, ld in
                         zip(features["f0_hz"], features["f0_confidence"], ld_in)])
    assert np.abs(np.diff(streamed[10:-10])).max() < 1.0
    assert np.ptp(streamed[400:-10]) < 4.0


def test_a_held_tone_between_fades_stays_held():
    """A tone whose sustain varies by 1e-6 dB between 0.3 s fades: the sustain fills the
    middle of its CDF, and matched frame by frame it spread over the dataset's range in
    the order of that wobble (46 dB of flicker offline); it stays one level, and the
    stream's level glides to one within a second."""
    rng = np.random.default_rng(1)
    ld = np.concatenate([np.full(10, -90.0), np.linspace(-50, -2, 30),
                         -2 + 1e-6 * rng.normal(size=300), np.linspace(-2, -50, 30),
                         np.full(10, -90.0)])
    conf = np.where(ld > -60, 0.95, 0.0)
    features = {"f0_hz": np.full(len(ld), 440.0), "f0_confidence": conf, "loudness_db": ld,
                "frame_rate": 100}
    stats = _wide_statistics()
    result = auto_adjust(features, stats, quiet=0.0)
    assert result.mask_on[40:340].all()
    assert np.ptp(result.loudness_db[40:340]) < 0.01
    stream = StreamingAdjust(stats, 100, quiet=0.0)
    streamed = np.array([stream(f, c, x).loudness_db for f, c, x in
                         zip(features["f0_hz"], conf, ld)])
    # streamed: a glide from the identity to the matched level, no flicker (the
    # level never comes back up by 0.5 dB in a frame) and steady from its first second
    steps = np.diff(streamed[41:339])
    assert steps.max() < 0.5 and steps.min() > -2.0  # at most 1.4 dB down in a frame
    assert np.ptp(streamed[140:339]) < 1.0 and np.ptp(streamed[240:339]) < 0.5


def test_melody_loudness_matching_is_magentas_without_its_swings():
    """A melody with a usual dynamic range (20 dB), each note wobbling by about 2 dB:
    its notes land where Magenta's quantile matching puts them, in the same order (the
    middle ones within 2 dB), but no note's wobble is widened more than twice. Magenta's
    matching swings the loudest and the quietest notes over 22 dB: their frames fill the
    dataset's sparse tails."""
    rng = np.random.default_rng(6)
    ld, conf = [], []
    for level in rng.uniform(-40.0, -15.0, 12):
        ld += list(level + rng.normal(0, 0.5, 40)) + [-75.0] * 10
        conf += [0.95] * 40 + [0.05] * 10
    features = {"f0_hz": np.full(len(ld), 330.0), "f0_confidence": np.array(conf),
                "loudness_db": np.array(ld), "frame_rate": 100}
    stats = _wide_statistics()
    result = auto_adjust(features, stats, quiet=0.0)
    mask = result.mask_on
    on = features["loudness_db"][mask]
    assert MAX_LOUDNESS_EXPANSION * np.subtract(*np.percentile(on, [95, 5])) > 30.0
    target = QuantileTransform.from_dict(stats["quantile_transform"])
    magenta = target.inverse_transform(QuantileTransform.fit(on, 1000).transform(on))
    ours = result.loudness_db[mask].astype(np.float64)
    note = np.nonzero(mask)[0] // 50
    swings = [(np.ptp(on[note == k]), np.ptp(magenta[note == k]), np.ptp(ours[note == k]))
              for k in range(12)]
    assert max(m for _, m, _ in swings) > 20.0
    assert all(o <= MAX_LOUDNESS_EXPANSION * i + 1e-4 for i, _, o in swings), swings
    levels = np.array([(np.median(magenta[note == k]), np.median(ours[note == k]))
                       for k in range(12)])
    np.testing.assert_array_equal(np.argsort(levels[:, 0]), np.argsort(levels[:, 1]))
    middle = np.argsort(levels[:, 0])[3:9]
    assert np.abs(levels[middle, 0] - levels[middle, 1]).max() < 2.0, levels


# ------------------------------------------------------------------ tuning
@pytest.mark.parametrize("detune", [0.23, -0.17, 0.0, 0.41])
def test_tuning_factor_recovers_detuning(detune):
    f0 = _melody(detune)
    conf = np.ones(len(f0))
    mask = np.ones(len(f0), bool)
    factor = get_tuning_factor(f0, conf, mask)
    assert factor == pytest.approx(detune, abs=0.011)


def test_tuning_factor_not_misled_by_float_rounding():
    # Magenta compares the grid notes as floats (f0 - deviation), so rounding makes
    # frames of one held note look like note changes and the answer drifts; ours
    # compares integer note numbers.
    f0 = _melody(-0.17)
    conf = np.ones(len(f0))
    mask = np.ones(len(f0), bool)
    assert get_tuning_factor(f0, conf, mask) == pytest.approx(-0.17, abs=0.011)
    assert _magenta_tuning_factor(f0, conf, mask) == pytest.approx(-0.15, abs=0.005)


def test_tuning_factor_ignores_note_off_and_low_confidence():
    f0 = _melody(0.23)
    conf = np.ones(len(f0))
    mask = np.ones(len(f0), bool)
    f0_noisy = f0.copy()
    f0_noisy[::7] += 0.45  # outliers: masked off, or with confidence near zero
    mask_off = mask.copy()
    mask_off[::7] = False
    assert get_tuning_factor(f0_noisy, conf, mask_off) == pytest.approx(0.23, abs=0.011)
    conf_low = conf.copy()
    conf_low[::7] = 0.0
    assert get_tuning_factor(f0_noisy, conf_low, mask) == pytest.approx(0.23, abs=0.011)
    # a single frame works (no transitions to count)
    assert get_tuning_factor([60.1], [1.0], [True]) == pytest.approx(0.1)


def test_auto_tune_scale_mode_honours_tuning_factor():
    f0 = _melody(0.23, jitter=0.1, seed=3)
    mask = np.ones(len(f0), bool)
    assert infer_major_key(f0, mask, 0.23) == 2 and KEY_NAMES[2] == "D"
    tuned = auto_tune(f0, 0.23, mask, amount=1.0)
    target = np.repeat([62, 64, 66, 67, 69, 71, 73, 74, 71, 67], 40) + 0.23
    np.testing.assert_allclose(tuned, target, atol=1e-9)  # the detuned scale, not Magenta's
    half = auto_tune(f0, 0.23, mask, amount=0.5)
    np.testing.assert_allclose(half, (f0 + target) / 2, atol=1e-9)
    np.testing.assert_array_equal(auto_tune(f0, 0.23, mask, amount=0.0), f0)


def test_auto_tune_snaps_to_the_scale_not_the_chromatic_grid():
    # 65.4 (a bent F) sits nearest F (65), which is not in D major: scale mode takes F#.
    f0 = np.array(D_MAJOR * 5 + [65.4], dtype=float)
    mask = np.ones(len(f0), bool)
    assert auto_tune(f0, 0.0, mask, amount=1.0)[-1] == pytest.approx(66.0)
    assert auto_tune(f0, 0.0, mask, amount=1.0, chromatic=True)[-1] == pytest.approx(65.0)
    chromatic = auto_tune(f0 + 0.1, 0.1, mask, amount=1.0, chromatic=True)
    np.testing.assert_allclose(chromatic[:-1], f0[:-1] + 0.1, atol=1e-9)


def test_tune_f0_pulls_hz_toward_a_given_key():
    f0_midi = np.array(D_MAJOR + [65.4], dtype=float) + 0.23
    f0 = np.concatenate([_hz(f0_midi), [0.0]])
    tuned = tune_f0(f0, 0.23, 2, 1.0)  # D major, 23 cents sharp
    np.testing.assert_allclose(_midi(tuned[:-2]), f0_midi[:-1], atol=1e-9)
    assert _midi(tuned[-2]) == pytest.approx(66.23) and tuned[-1] == 0.0
    mask = np.ones(len(f0_midi), bool)
    np.testing.assert_allclose(_midi(tuned[:-1]), auto_tune(f0_midi, 0.23, mask, amount=1.0),
                               atol=1e-9)
    with pytest.raises(ValueError, match="key: expected a pitch class"):
        tune_f0(f0, 0.0, 12, 1.0)


def test_streaming_adjust_applies_the_offline_rules():
    """Frame by frame, the stream gives what the offline rules give for its own
    running statistics (octave shift, quiet, autotune)."""
    rate = 50
    stats = _statistics(mean_pitch=74.0)
    stream = StreamingAdjust(stats, rate, quiet=30.0, autotune=1.0)
    rng = np.random.default_rng(4)
    for i in range(400):
        on = (i // 25) % 4 != 3
        f0 = float(_hz(D_MAJOR[(i // 25) % 8] - 12 + 0.2 + rng.normal(0, 0.05)))
        ld = -30.0 + rng.normal(0, 1) if on else -70.0
        frame = stream(f0, 0.95 if on else 0.05, ld)
        if stream.notes and not frame.note_on:  # between notes the rule applies at once
            assert frame.octave_shift == octave_rule(stream.mean_note_pitch, 74.0) == 1.0
        expected = shift_f0([f0], frame.octave_shift)
        if stream.tuning is not None:
            expected = tune_f0(expected, stream.tuning, stream.key, 1.0)
        assert frame.f0_hz == float(expected[0])
        if not frame.note_on:
            assert frame.loudness_db == ld - float(quiet_drop_db(frame.ratio, 30.0))
    assert stream.key == 2 and stream.tuning == pytest.approx(0.2, abs=0.03)


def test_auto_tune_keeps_unvoiced_frames():
    f0 = np.array([0.0, 62.2, 64.1, 0.0, 66.3])
    mask = np.array([False, True, True, False, True])
    out = auto_tune(f0, 0.0, mask, amount=1.0, chromatic=True)
    np.testing.assert_allclose(out, [0.0, 62.0, 64.0, 0.0, 66.0])


# ------------------------------------------------------------------ the flow
def _features(detune=0.0, base_note=55):
    """A 4-note phrase at 250 Hz: notes of 100 frames with 50-frame rests between."""
    f0, conf, ld = [], [], []
    for note in (base_note, base_note + 2, base_note + 4, base_note + 6):
        f0 += [note + detune] * 100 + [note + detune] * 50
        conf += [1.0] * 100 + [0.05] * 50
        ld += [-25.0 - note % 7] * 100 + [-65.0] * 50
    return {"f0_hz": _hz(f0), "f0_confidence": np.array(conf), "loudness_db": np.array(ld),
            "frame_rate": 250}


def _statistics(mean_pitch=62.0):
    rng = np.random.default_rng(1)
    qt = QuantileTransform.fit(rng.uniform(-15.0, -5.0, 5000))
    return {"format": "timbral.statistics", "version": 1, "frame_rate": 250,
            "mean_pitch": mean_pitch, "quantile_transform": qt.to_dict()}


def test_auto_adjust_flow():
    features = _features()
    result = auto_adjust(features, _statistics(), frame_rate=250, quiet=20.0)
    assert result.adjusted and result.octave_shift == 1.0  # (62 - 58) / 12 -> ceil -> 1
    assert result.f0_hz.dtype == np.float32 and result.loudness_db.dtype == np.float32
    np.testing.assert_allclose(result.f0_hz, 2 * features["f0_hz"], rtol=1e-6)
    mask, ratio = result.mask_on, result.note_on_ratio
    assert 350 < mask.sum() < 450  # about the 400 note frames
    # note-on loudness now spans the training data's range
    on = result.loudness_db[mask]
    assert on.min() >= -15.0 - 1e-3 and on.max() <= -5.0 + 1e-3 and on.max() - on.min() > 5
    # note-off frames lowered by quiet * (1 - ratio)
    off = ~mask
    expected = features["loudness_db"][off] - 20.0 * (1.0 - ratio[off])
    np.testing.assert_allclose(result.loudness_db[off], expected, rtol=1e-6)
    assert result.tuning_factor is None and result.key is None
    assert any("octave" in m for m in result.messages)


def test_auto_adjust_autotune():
    features = _features(detune=0.23)
    features["f0_hz"] = features["f0_hz"] * 2 ** (np.sin(np.arange(600) / 5) * 0.08 / 12)
    result = auto_adjust(features, _statistics(), frame_rate=250, autotune=1.0)
    assert result.tuning_factor == pytest.approx(0.23, abs=0.011)
    assert result.key == "D"  # G A B C# fits D major only
    tuned = _midi(result.f0_hz.astype(np.float64))
    voiced = result.mask_on
    nearest = np.round(tuned[voiced] - result.tuning_factor)
    np.testing.assert_allclose(tuned[voiced], nearest + result.tuning_factor, atol=1e-4)
    assert any("cents" in m for m in result.messages)


@pytest.mark.parametrize("depth", [50.0, 80.0])
def test_autotune_reads_a_vibratos_centre(depth):
    """A singer's vibrato (5.5 Hz, +-50 or +-80 cents) around notes 23 cents sharp: frame
    by frame the tuning read as 39 cents sharp for an in-tune +-50, and at +-80 the key
    came out a semitone off; the notes' pitch averaged over a vibrato cycle reads right."""
    features = _features(detune=0.23)
    t = np.arange(600) / 250
    features["f0_hz"] = features["f0_hz"] * 2 ** (depth * np.sin(2 * np.pi * 5.5 * t) / 1200)
    result = auto_adjust(features, _statistics(), frame_rate=250, autotune=1.0)
    assert result.tuning_factor == pytest.approx(0.23, abs=0.03)
    assert result.key == "D"


def test_auto_adjust_quiet_never_raises():
    features = _features()
    result = auto_adjust(features, _statistics(), frame_rate=250, threshold=1.8, quiet=30.0)
    off = ~result.mask_on
    assert np.any((result.note_on_ratio[off] > 1.0))  # frames where Magenta would add dB
    assert np.all(result.loudness_db[off] <= features["loudness_db"][off] + 1e-4)


def test_auto_adjust_skips_with_messages():
    features = _features()
    result = auto_adjust(features, None, frame_rate=250)
    assert not result.adjusted and "no dataset statistics" in result.messages[0]
    np.testing.assert_allclose(result.f0_hz, features["f0_hz"], rtol=1e-6)
    assert result.mask_on.any()  # still computed, for plots
    silent = dict(features, f0_confidence=np.zeros(600))
    result = auto_adjust(silent, _statistics(), frame_rate=250)
    assert not result.adjusted and "no notes detected" in result.messages[0]
    np.testing.assert_allclose(result.loudness_db, features["loudness_db"])
    partial = _statistics()
    partial.pop("quantile_transform")  # e.g. imported from an old Magenta pickle
    result = auto_adjust(features, partial, frame_rate=250)
    assert not result.adjusted and "no quantile_transform" in result.messages[0]


def test_auto_adjust_accepts_torch_and_frame_rate_from_features():
    features = {k: (torch.as_tensor(v, dtype=torch.float32)[None] if k != "frame_rate" else v)
                for k, v in _features().items()}
    result = auto_adjust(features, _statistics())
    assert result.adjusted and result.f0_hz.shape == (600,)


@pytest.mark.parametrize("change, kwargs, match", [
    ({"f0_hz": None}, {}, "missing f0_hz"),
    ({"loudness_db": np.zeros(10)}, {}, "10 frames"),
    ({}, {"autotune": 1.5}, "autotune"),
    ({}, {"quiet": -1}, "quiet"),
    ({}, {"frame_rate": 50}, "differs"),
    ({"frame_rate": None}, {"frame_rate": None}, "frame_rate"),
])
def test_auto_adjust_validation(change, kwargs, match):
    features = _features()
    for key, value in change.items():
        if value is None:
            features.pop(key)
        else:
            features[key] = value
    with pytest.raises(ValueError, match=match) as info:
        auto_adjust(features, _statistics(), **kwargs)
    assert "\n" not in str(info.value)


def test_other_validation():
    with pytest.raises(ValueError, match="mask_on: expected a boolean mask"):
        fit_quantile_transform(np.zeros(5), np.ones(4, bool))
    with pytest.raises(ValueError, match="no note-on frames"):
        get_tuning_factor(np.ones(5), np.ones(5), np.zeros(5, bool))
    with pytest.raises(ValueError, match="booleans"):
        auto_tune(np.ones(3), 0.0, np.array([0, 2, 1]), amount=1.0)
    with pytest.raises(ValueError, match="inv_quantile"):
        fit_quantile_transform(np.zeros(5), np.ones(5, bool), inv_quantile=[1, 2, 3])
    with pytest.raises(ValueError, match="statistics: 'format'"):
        auto_adjust(_features(), dict(_statistics(), format="pickle"), frame_rate=250)
