"""detect_notes, its box filter and frame-rate scaling (Magenta's definitions)."""

import numpy as np
import pytest
import torch

from timbral.features.notes import box_smooth, detect_notes, smoothing_frames


def _reference_ratio(loudness, confidence, smoothing=40, exponent=2.0, conf_threshold=0.7,
                     min_db=-80.0):
    """Magenta's formula written out frame by frame (TF 'SAME' window)."""
    n = len(loudness)
    before = (smoothing - 1) // 2
    c = confidence ** exponent
    smoothed = np.array([sum(c[j] for j in range(i - before, i - before + smoothing)
                             if 0 <= j < n) / smoothing for i in range(n)])
    return smoothed * (loudness - min_db) / ((loudness.mean() - min_db) * conf_threshold ** 2)


def test_box_filter_alignment_is_tensorflow_same():
    x = np.zeros(30)
    x[10] = 1.0
    # size 4: output i averages x[i-1 .. i+2], so x[10] reaches outputs 8..11
    expected = np.zeros(30)
    expected[8:12] = 0.25
    np.testing.assert_array_equal(box_smooth(x, 4), expected)
    # numpy's 'same' convolution centres even windows one frame later: not this filter
    assert not np.allclose(np.convolve(x, np.ones(4) / 4, mode="same"), expected)
    # size 40: output i averages x[i-19 .. i+20], zeros beyond the ends
    y = box_smooth(np.ones(50), 40)
    assert y[0] == pytest.approx(21 / 40) and y[-1] == pytest.approx(20 / 40)
    assert y[19] == pytest.approx(40 / 40) and y[29] == pytest.approx(40 / 40)
    assert y[30] == pytest.approx(39 / 40)
    # odd sizes are centred
    np.testing.assert_allclose(box_smooth(x, 3)[9:12], [1 / 3] * 3)
    assert box_smooth(x, 3).sum() == pytest.approx(1.0)


def test_detect_notes_hand_computed():
    # Confident on frames 10..19 of 30, constant loudness -40 dB: the ratio is
    # smoothed(conf^2) * 40 / (40 * 0.49), so note-on where the 4-frame average
    # of the confidence is >= 0.49, i.e. at least 2 of frames i-1 .. i+2.
    confidence = np.zeros(30)
    confidence[10:20] = 1.0
    loudness = np.full(30, -40.0)
    mask, ratio = detect_notes(loudness, confidence, smoothing=4)
    assert mask.dtype == bool and mask.shape == (30,)
    np.testing.assert_array_equal(np.flatnonzero(mask), np.arange(9, 20))
    smoothed = np.zeros(30)
    smoothed[8:21] = [0.25, 0.5, 0.75] + [1.0] * 7 + [0.75, 0.5, 0.25]
    np.testing.assert_allclose(ratio, smoothed / 0.49)
    # A higher threshold keeps only frames with a fully confident window.
    mask_hi, _ = detect_notes(loudness, confidence, note_threshold=1.6, smoothing=4)
    np.testing.assert_array_equal(np.flatnonzero(mask_hi), np.arange(11, 18))


def test_detect_notes_matches_formula_on_random_curves():
    rng = np.random.default_rng(0)
    loudness = np.clip(rng.normal(-40, 15, 300), -80, 0)
    confidence = rng.uniform(0, 1, 300)
    mask, ratio = detect_notes(loudness, confidence)
    expected = _reference_ratio(loudness, confidence)
    np.testing.assert_allclose(ratio, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(mask, expected >= 1.0)
    # quieter frames need more confidence: loud frames are on more often
    assert 0 < mask.sum() < 300


def test_inputs_numpy_torch_and_batch_of_one():
    rng = np.random.default_rng(1)
    loudness = rng.uniform(-70, -10, 120).astype(np.float32)
    confidence = rng.uniform(0, 1, 120).astype(np.float32)
    mask, ratio = detect_notes(loudness, confidence, smoothing=8)
    mask_t, ratio_t = detect_notes(torch.from_numpy(loudness)[None], torch.from_numpy(confidence),
                                   smoothing=8)
    np.testing.assert_array_equal(mask, mask_t)
    np.testing.assert_allclose(ratio, ratio_t)


def test_reference_db_and_silence():
    confidence = np.ones(50)
    loudness = np.full(50, -40.0)
    _, ratio = detect_notes(loudness, confidence, smoothing=1)
    np.testing.assert_allclose(ratio, 1 / 0.49)
    _, ratio = detect_notes(loudness, confidence, smoothing=1, reference_db=-60.0)
    np.testing.assert_allclose(ratio, 40 / (20 * 0.49))
    mask, ratio = detect_notes(np.full(50, -80.0), confidence)
    assert not mask.any() and np.all(ratio == 0.0)


def test_smoothing_frames_scales_160_ms():
    assert smoothing_frames(250) == 40
    assert smoothing_frames(100) == 16
    assert smoothing_frames(50) == 8
    assert smoothing_frames(1) == 1
    with pytest.raises(ValueError, match="frame_rate"):
        smoothing_frames(0)


@pytest.mark.parametrize("loudness, confidence, kwargs, match", [
    (np.zeros(10), np.zeros(9), {}, "9 frames"),
    (np.zeros((2, 10)), np.zeros(10), {}, r"loudness_db: expected shape"),
    (np.array([0.0, np.nan]), np.zeros(2), {}, "NaN"),
    (np.zeros(0), np.zeros(0), {}, "zero frames"),
    (np.zeros(10), -np.ones(10), {}, r"f0_confidence: expected values in \[0, 1\]"),
    (np.zeros(10), np.zeros(10), {"smoothing": 0}, "smoothing"),
    (np.zeros(10), np.zeros(10), {"f0_confidence_threshold": 0}, "f0_confidence_threshold"),
])
def test_bad_inputs_raise_one_line(loudness, confidence, kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        detect_notes(loudness, confidence, **kwargs)
    assert "\n" not in str(info.value)
