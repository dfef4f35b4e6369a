"""Core DSP functions: definitions, resampling rules, oscillators, filters."""

import math

import numpy as np
import pytest
import torch

from timbral import core, synths


# Conversions --------------------------------------------------------------------
def test_hz_midi_values_and_round_trip():
    hz = torch.tensor([440.0, 880.0, 261.6255653, 0.0, -3.0])
    midi = core.hz_to_midi(hz)
    assert torch.allclose(midi, torch.tensor([69.0, 81.0, 60.0, 0.0, 0.0]), atol=1e-5)
    notes = torch.tensor([21.0, 60.5, 108.0])
    assert torch.allclose(core.hz_to_midi(core.midi_to_hz(notes)), notes, atol=1e-4)
    assert core.midi_to_hz(torch.tensor([0.0, -1.0, 69.0]), midi_zero_silence=True).tolist() == [
        0.0, 0.0, 440.0]


def test_exp_sigmoid_definition():
    x = torch.tensor([-100.0, 0.0, 3.0, 100.0], dtype=torch.float64)
    expected = 2.0 * (1 / (1 + np.exp(-x.numpy()))) ** np.log(10.0) + 1e-7
    assert np.allclose(core.exp_sigmoid(x).numpy(), expected, rtol=1e-12, atol=1e-15)
    assert core.exp_sigmoid(torch.tensor(-100.0)).item() == pytest.approx(1e-7, rel=1e-3)
    assert core.exp_sigmoid(torch.tensor(100.0)).item() == pytest.approx(2.0, rel=1e-6)


def test_safe_log_does_not_clamp_small_positive_values():
    x = torch.tensor([1e-7, 0.0, -1.0, 2.0], requires_grad=True)
    y = core.safe_log(x)
    assert y[0].item() == pytest.approx(math.log(1e-7), rel=1e-6)
    assert y[1].item() == pytest.approx(math.log(1e-5), rel=1e-6)
    assert y[2].item() == pytest.approx(math.log(1e-5), rel=1e-6)
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[1].item() == 0.0 and x.grad[3].item() == pytest.approx(0.5)


def test_db_helpers():
    assert core.amplitude_to_db(torch.tensor([1.0, 0.1, 0.0])).tolist() == pytest.approx(
        [0.0, -20.0, -80.0], abs=1e-4)
    assert core.power_to_db(torch.tensor([100.0]), ref_db=10.0).item() == pytest.approx(10.0)
    assert core.db_to_amplitude(torch.tensor(-6.0)).item() == pytest.approx(0.501187, rel=1e-5)
    assert core.db_to_power(torch.tensor(20.0)).item() == pytest.approx(100.0, rel=1e-6)


# Resampling ---------------------------------------------------------------------
def test_linear_resample_uses_legacy_coordinates():
    x = torch.tensor([0.0, 1.0, 2.0, 3.0])
    # add_endpoint: out[i] reads i * 4 / 8; frame j sits at sample 2j, the last is held.
    assert core.resample(x, 8).tolist() == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3]
    # Without it the ends align (align_corners): position i * 3 / 6.
    assert core.resample(x, 7, add_endpoint=False).tolist() == pytest.approx(
        [0, 0.5, 1, 1.5, 2, 2.5, 3])


def test_nearest_and_cubic_resample():
    x = torch.tensor([[0.0, 10.0, 20.0]])
    assert core.resample(x, 6, "nearest").tolist() == [[0, 0, 10, 10, 20, 20]]
    # Cubic passes through the frames and holds constants (Keys weights sum to 1).
    cubic = core.resample(torch.tensor([0.0, 1.0, 4.0, 9.0]), 8, "cubic")
    assert cubic[::2].tolist() == pytest.approx([0.0, 1.0, 4.0, 9.0], abs=1e-6)
    assert core.resample(torch.full((5,), 3.0), 20, "cubic").tolist() == pytest.approx([3.0] * 20)
    # Halfway between 1 and 4 with neighbours 0 and 9: Keys a=-0.75 weights
    # (-0.09375, 0.59375, 0.59375, -0.09375).
    assert cubic[3].item() == pytest.approx(-0.09375 * 0 + 0.59375 * 1 + 0.59375 * 4 - 0.09375 * 9)


def _window_upsample_by_overlap_add(x: np.ndarray, n_out: int) -> np.ndarray:
    """Magenta's recipe, restated: window each frame, overlap-add, trim a hop each side."""
    frames = np.concatenate([x, x[-1:]])
    hop = n_out // (len(frames) - 1)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2 * hop) / (2 * hop))
    out = np.zeros((len(frames) + 1) * hop)
    for i, value in enumerate(frames):
        out[i * hop:i * hop + 2 * hop] += value * w
    return out[hop:-hop]


def test_upsample_with_windows_matches_overlap_add_recipe():
    x = np.array([0.0, 1.0, -2.0, 0.5, 3.0])
    got = core.upsample_with_windows(torch.tensor(x)[None, :, None], 40)[0, :, 0].numpy()
    assert np.allclose(got, _window_upsample_by_overlap_add(x, 40), atol=1e-12)
    assert got[0] == 0.0 and got[8] == 1.0 and got[-1] == 3.0  # frame j sits at sample j * hop


def test_resample_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_timesteps"):
        core.upsample_with_windows(torch.zeros(1, 3, 1), 10)
    with pytest.raises(ValueError, match="n_timesteps"):
        core.resample(torch.zeros(1, 3, 1), -5)
    with pytest.raises(ValueError, match="method"):
        core.resample(torch.zeros(1, 3, 1), 6, "quadratic")


# Oscillators --------------------------------------------------------------------
def test_oscillator_bank_phase_and_nyquist():
    sr = 1000.0
    freq = torch.tensor([[[100.0, 500.0, 600.0]]]).expand(1, 50, 3)
    amps = torch.ones(1, 50, 3)
    audio = core.oscillator_bank(freq, amps, sr, sum_sinusoids=False)
    omega = 2 * math.pi * 100 / sr
    # Inclusive cumsum: sample n is sin((n + 1) * omega); >= Nyquist is silent.
    assert audio[0, :, 0].numpy() == pytest.approx(np.sin(omega * np.arange(1, 51)), abs=1e-5)
    assert audio[0, :, 1:].abs().max().item() == 0.0
    with pytest.raises(ValueError, match=r"same length, got \[1, 50, 3\] and \[1, 40, 3\]"):
        core.oscillator_bank(freq, amps[:, :40], sr)
    with pytest.raises(ValueError, match="has no dimension 1 to sum along"):
        core.angular_cumsum(torch.ones(10))
    with pytest.raises(ValueError, match="amplitudes: has an empty batch"):
        synths.Harmonic(16000, scale_fn=None)(torch.zeros(0, 10, 1), torch.zeros(0, 10, 8),
                                              torch.full((0, 10, 1), 440.0))


def test_angular_cumsum_is_exact_over_ten_minutes():
    n = 16000 * 600
    omega = torch.full((1, n), 2 * math.pi * 440.3 / 16000)
    phase = core.angular_cumsum(omega)
    k = np.array([0, n // 3, n - 1], dtype=np.float64)
    omega64 = np.float64(np.float32(2 * math.pi * 440.3 / 16000))
    expected = np.mod((k + 1) * omega64, 2 * np.pi)
    got = phase[0, k.astype(int)].double().numpy()
    assert np.abs(np.angle(np.exp(1j * (got - expected)))).max() < 1e-6


def _reference_harmonic(f0_frames, amps_frames, n_samples, sr, method):
    """float64 numpy: Magenta's recipe with full per-harmonic envelopes."""
    f0 = torch.tensor(f0_frames, dtype=torch.float64)[None, :, None]
    amps = torch.tensor(amps_frames, dtype=torch.float64)[None]
    k = amps.shape[-1]
    freq_env = core.resample(core.get_harmonic_frequencies(f0, k), n_samples).numpy()[0]
    amp_env = core.resample(amps, n_samples, method).numpy()[0]
    amp_env[freq_env >= sr / 2] = 0.0
    phase = np.cumsum(2 * np.pi * freq_env / sr, axis=0)
    return (amp_env * np.sin(phase)).sum(-1)


@pytest.mark.parametrize("method", ["window", "linear", "cubic", "nearest"])
def test_harmonic_synthesis_matches_full_oscillator_bank(method):
    rng = np.random.default_rng(0)
    n_frames, n_samples, sr = 20, 640, 8000.0
    f0 = np.linspace(300.0, 900.0, n_frames)  # harmonics cross Nyquist mid-frame
    amps = rng.uniform(0.0, 1.0, (n_frames, 12))
    got = core.harmonic_synthesis(torch.tensor(f0)[None, :, None], torch.ones(1, n_frames, 1,
                                  dtype=torch.float64), harmonic_distribution=torch.tensor(
                                      amps)[None], n_samples=n_samples, sample_rate=sr,
                                  amp_resample_method=method)
    ref = _reference_harmonic(f0, amps, n_samples, sr, method)
    assert np.abs(got[0].numpy() - ref).max() < 1e-9


def test_harmonic_synthesis_gradients_match_finite_differences():
    torch.manual_seed(0)
    f0 = torch.tensor([[[221.0], [263.0], [307.0], [283.0]]], dtype=torch.float64,
                      requires_grad=True)
    amps = torch.rand(1, 4, 1, dtype=torch.float64, requires_grad=True)
    dist = torch.rand(1, 4, 5, dtype=torch.float64, requires_grad=True)

    def fn(f, a, d):
        return core.harmonic_synthesis(f, a, harmonic_distribution=d, n_samples=32,
                                       sample_rate=2000.0)

    assert torch.autograd.gradcheck(fn, (f0, amps, dist), eps=1e-6, atol=1e-6)


# Filters ------------------------------------------------------------------------
def test_frequency_impulse_response_layout():
    ir = core.frequency_impulse_response(torch.ones(1, 65))
    assert ir.shape == (1, 128)
    assert int(ir.abs().argmax()) == 64  # causal, peak in the middle
    # A shorter window crops the IR (Magenta's layout: 2 * ((w + 1) // 2) - 1 taps).
    assert core.frequency_impulse_response(torch.ones(1, 65), 65).shape == (1, 65)


def test_fft_convolve_matches_numpy_convolution():
    rng = np.random.default_rng(1)
    audio, ir = rng.standard_normal(300), rng.standard_normal(37)
    full = np.convolve(audio, ir)
    valid = core.fft_convolve(torch.tensor(audio)[None], torch.tensor(ir)[None],
                              padding="valid", delay_compensation=0)[0].numpy()
    assert np.allclose(valid, full, atol=1e-10)
    same = core.fft_convolve(torch.tensor(audio)[None], torch.tensor(ir)[None],
                             delay_compensation=5)[0].numpy()
    assert np.allclose(same, full[5:305], atol=1e-10)
    for taps in (1, 2):  # Magenta's default start of (taps - 1) // 2 - 1 = -1 kept nothing
        short = rng.standard_normal(taps)
        got = core.fft_convolve(torch.tensor(audio)[None], torch.tensor(short)[None])[0].numpy()
        assert np.allclose(got, np.convolve(audio, short)[:300], atol=1e-10)


def test_time_varying_convolution_is_blockwise():
    rng = np.random.default_rng(2)
    audio, irs = rng.standard_normal(100), rng.standard_normal((4, 9))
    got = core.fft_convolve(torch.tensor(audio)[None], torch.tensor(irs)[None],
                            padding="valid", delay_compensation=0)[0].numpy()
    expected = np.zeros(108)
    for j in range(4):
        expected[25 * j:25 * j + 33] += np.convolve(audio[25 * j:25 * (j + 1)], irs[j])
    assert np.allclose(got, expected, atol=1e-10)


def test_frequency_filter_response_per_frame():
    """An impulse inside each block comes out as that frame's filter,
    whose magnitude response follows the frame's smooth magnitude curve."""
    bins = np.linspace(0, 1, 65)
    curves = np.stack([np.cos(np.pi * bins / 2) ** 2, bins ** 2, 0.5 + 0 * bins,
                       np.exp(-((bins - 0.5) / 0.2) ** 2)])
    audio = np.zeros(4 * 512)
    audio[100::512] = 1.0
    out = core.frequency_filter(torch.tensor(audio)[None], torch.tensor(curves)[None])[0].numpy()
    for j, curve in enumerate(curves):
        start = 512 * j + 100 + 64 - 62  # causal peak at tap 64, Magenta compensates 62
        ir = out[start - 64:start + 64]
        response = np.abs(np.fft.rfft(ir))
        assert np.abs(response - curve).max() < 0.03, j


def test_frequency_filter_keeps_magentas_two_sample_delay():
    impulse = torch.zeros(1, 1000)
    impulse[0, 100] = 1.0
    out = core.frequency_filter(impulse, torch.ones(1, 65))
    assert int(out.abs().argmax()) == 102


def test_crossfaded_filter_has_no_delay_and_blends_gains():
    rng = np.random.default_rng(3)
    n_frames, hop = 10, 64
    noise = torch.tensor(rng.uniform(-1, 1, n_frames * hop))[None]
    gains = torch.tensor(rng.uniform(0.1, 1.0, n_frames))[None, :, None]
    flat = gains.expand(1, n_frames, 65)  # flat curves: a pure, delayed gain
    out = core.frequency_filter(noise, flat, crossfade=True)
    expected = noise * core.upsample_with_windows(gains, n_frames * hop)[..., 0]
    assert torch.allclose(out, expected, atol=1e-9)
