"""Facts about timbral.spectral_ops: framing, STFT, mel/MFCC, loudness (v2), power."""

import math

import numpy as np
import pytest
import torch

from timbral import spectral_ops as so

SR = 16000
N_4S = 4 * SR


def sine(freq=440.0, amplitude=0.5, n=N_4S, dtype=torch.float32):
    t = torch.arange(n, dtype=torch.float64) / SR
    return (amplitude * torch.sin(2 * math.pi * freq * t)).to(dtype)


def uniform_noise(n=N_4S, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, generator=generator) * 2.0 - 1.0


def periodic_hann(n):
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


# Loudness, v2: a 440 Hz sine at 0.5 reads 6.56 dB on frame 0 and 9.68 dB on average --------
def test_loudness_of_sine_matches_reference_values():
    loudness = so.compute_loudness(sine())
    assert loudness.shape == (1, 1001)
    assert loudness[0, 0].item() == pytest.approx(6.56, abs=0.01)
    steady = loudness[0, 4:-4]
    # Steady-state frames read 9.6904 dB; the reference "+9.68" is the mean over
    # all 1001 frames (the ramps at both ends pull it down by 0.009 dB).
    assert steady.min().item() == pytest.approx(9.6904, abs=0.001)
    assert steady.max().item() == pytest.approx(9.6904, abs=0.001)
    assert loudness.mean().item() == pytest.approx(9.68, abs=0.01)


def test_loudness_steady_frame_matches_numpy_reference():
    # One centred frame, recomputed from the definition with numpy in float64.
    audio = sine(dtype=torch.float64)
    frame_index, n_fft, hop = 500, 512, 64
    start = frame_index * hop - n_fft // 2
    frame = audio.numpy()[start:start + n_fft] * periodic_hann(n_fft)
    power = np.abs(np.fft.rfft(frame)) ** 2
    freqs = np.arange(n_fft // 2 + 1) * SR / n_fft
    with np.errstate(divide="ignore"):
        f_sq = freqs ** 2
        c = np.array([12194.217, 20.598997, 107.65265, 737.86223]) ** 2
        a_db = 2.0 + 20.0 * (np.log10(c[0]) + 2 * np.log10(f_sq) - np.log10(f_sq + c[0])
                             - np.log10(f_sq + c[1]) - 0.5 * np.log10(f_sq + c[2])
                             - 0.5 * np.log10(f_sq + c[3]))
    a_db = np.maximum(a_db, -80.0)
    expected = 10.0 * np.log10(np.mean(power * 10.0 ** (a_db / 10.0)))
    got = so.compute_loudness(audio)[0, frame_index].item()
    assert got == pytest.approx(expected, abs=1e-9)


def test_loudness_of_white_noise_and_silence():
    noise = so.compute_loudness(uniform_noise())
    assert noise[0, 4:-4].mean().item() == pytest.approx(18.2, abs=0.05)
    silence = so.compute_loudness(torch.zeros(N_4S))
    assert torch.equal(silence, torch.full((1, 1001), -80.0))


def test_loudness_frame_counts_by_padding():
    audio = torch.zeros(2, N_4S)
    assert so.compute_loudness(audio).shape == (2, 1001)
    assert so.compute_loudness(audio, padding="same").shape == (2, 1000)
    assert so.compute_loudness(audio, padding="valid").shape == (2, (N_4S - 512) // 64 + 1)
    assert so.compute_loudness(torch.zeros(48000), sample_rate=48000).shape == (1, 251)
    assert so.compute_loudness(torch.zeros(SR), frame_rate=50).shape == (1, 51)


def test_loudness_ref_and_range():
    loud = so.compute_loudness(sine(), ref_db=10.0, range_db=20.0)
    assert loud[0, 500].item() == pytest.approx(9.6904 - 10.0, abs=0.001)
    quiet = so.compute_loudness(sine(amplitude=0.005), ref_db=10.0, range_db=5.0)
    assert torch.equal(quiet, torch.full((1, 1001), -5.0))


def test_loudness_v1_definition():
    # Magenta < 2.0: n_fft 2048, averaged in dB; ref 20.7 dB puts full-scale
    # white noise near 0 dB.
    noise = so.compute_loudness(uniform_noise(), definition="v1")
    assert noise.shape == (1, 1000)
    assert noise[0, 16:-16].mean().item() == pytest.approx(0.2, abs=0.1)
    silence = so.compute_loudness(torch.zeros(N_4S), definition="v1")
    assert torch.equal(silence, torch.full((1, 1000), -120.0))
    v1_sine = so.compute_loudness(sine(), definition="v1")[0, 500].item()
    assert v1_sine < -80.0  # most bins sit at the per-bin floor: the v1 dB average


def test_loudness_float64_and_gradient():
    audio64 = sine(dtype=torch.float64)
    loudness64 = so.compute_loudness(audio64)
    assert loudness64.dtype == torch.float64
    assert torch.allclose(loudness64.float(), so.compute_loudness(sine()), atol=1e-3)
    audio = (0.1 * uniform_noise(4000)).requires_grad_()
    so.compute_loudness(audio).sum().backward()
    assert torch.isfinite(audio.grad).all() and audio.grad.abs().sum() > 0
    silent = torch.zeros(4000, requires_grad=True)
    so.compute_loudness(silent).sum().backward()
    assert torch.isfinite(silent.grad).all()


def test_a_weighting_curve():
    db = so.a_weighting(torch.tensor([0.0, 1000.0, 2500.0]))
    assert db[0].item() == -80.0
    assert db[1].item() == pytest.approx(0.0, abs=0.01)
    assert db[2].item() == pytest.approx(1.27, abs=0.01)


# Power ---------------------------------------------------------------------------------
def test_power_of_sine_and_silence():
    power = so.compute_power(sine())
    assert power.shape == (1, 1001)
    assert power[0, 500].item() == pytest.approx(10 * math.log10(0.125), abs=0.05)
    rms = so.compute_rms_energy(sine())
    assert rms[0, 500].item() == pytest.approx(0.5 / math.sqrt(2), abs=0.005)
    silent = torch.zeros(8000, requires_grad=True)
    power = so.compute_power(silent)
    assert torch.equal(power.detach(), torch.full((1, 126), -80.0))
    power.sum().backward()
    assert torch.isfinite(silent.grad).all()


# Framing and STFT ------------------------------------------------------------------------
@pytest.mark.parametrize("n_samples", [1000, 1023, 1024, 1025, 64000])
def test_stft_frame_count_is_ceil_n_over_hop(n_samples):
    spectrum = so.stft(torch.zeros(n_samples), frame_size=256, overlap=0.75)
    assert spectrum.shape == (1, math.ceil(n_samples / 64), 129)
    assert spectrum.is_complex()


def test_stft_without_pad_end_keeps_whole_frames():
    assert so.stft(torch.zeros(1000), 256, 0.75, pad_end=False).shape == (1, 12, 129)


def test_stft_matches_numpy_reference_with_padded_fft():
    audio = np.random.RandomState(0).randn(2, 1000)
    got = so.stft(torch.tensor(audio), frame_size=100, overlap=0.75).numpy()
    hop, n_frames = 25, 40
    padded = np.pad(audio, ((0, 0), (0, (n_frames - 1) * hop + 100 - 1000)))
    frames = np.stack([padded[:, i * hop:i * hop + 100] for i in range(n_frames)], axis=1)
    expected = np.fft.rfft(frames * periodic_hann(100), n=128)  # next power of 2
    assert got.shape == (2, 40, 65)
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_sine_peaks_in_its_bin():
    mag = so.compute_mag(sine(1000.0, 1.0, n=SR), size=2048)
    assert mag.shape == (1, 32, 1025)
    peak_bins = mag[0, :28].argmax(dim=-1)
    assert torch.all(peak_bins == 128)  # 1000 Hz / (16000 Hz / 2048)
    # A periodic Hann window's gain: amplitude / 2 * sum(window) = 512.
    assert mag[0, 10, 128].item() == pytest.approx(512.0, rel=1e-3)
    logmag = so.compute_logmag(sine(1000.0, 1.0, n=SR), size=2048)
    # safe_log: log(eps) only where the magnitude is 0; tiny magnitudes stay exact.
    assert torch.allclose(logmag, torch.log(torch.where(mag > 0, mag, 1e-5)), atol=1e-5)


def test_stft_gradient_is_exact():
    audio = torch.randn(2, 90, dtype=torch.float64, requires_grad=True)
    for layout in [(16, 4, 16, "same"), (10, 3, 16, "center"), (12, 5, 12, "valid")]:
        def spectrum(x, layout=layout):
            return torch.view_as_real(so.framed_stft(x, *layout))
        assert torch.autograd.gradcheck(spectrum, (audio,))
    assert torch.autograd.gradcheck(lambda x: so.compute_mag(x, 16), (audio,))


def test_framed_lengths():
    assert so.get_framed_lengths(64000, 512, 64, "center") == (1001, 64512)
    assert so.get_framed_lengths(64000, 512, 64, "same") == (1000, 64448)
    assert so.get_framed_lengths(64000, 512, 64, "valid") == (993, 64000)
    assert so.padding_amounts(100, 64, 16, "center") == (32, 32)


# Mel and MFCC -----------------------------------------------------------------------------
def test_mel_matrix_triangles_peak_at_their_centres():
    matrix = so.linear_to_mel_weight_matrix(64, 1025, SR, 0.0, 8000.0, dtype=torch.float64)
    assert matrix.shape == (1025, 64)
    assert torch.all(matrix[0] == 0)  # DC ignored, as tf.signal
    assert matrix.min() >= 0 and matrix.max() <= 1
    bin_mel = 1127.0 * torch.log1p(torch.linspace(0, 8000, 1025, dtype=torch.float64) / 700)
    centres = torch.linspace(0.0, bin_mel[-1].item(), 66, dtype=torch.float64)[1:-1]
    nearest = (bin_mel[1:, None] - centres).abs().argmin(dim=0) + 1
    assert torch.equal(matrix.argmax(dim=0), nearest)
    assert torch.all(matrix.max(dim=0).values > 0.5)


def test_compute_mel_and_logmel_shapes():
    audio = uniform_noise(SR)
    mel = so.compute_mel(audio)
    assert mel.shape == (1, 32, 64)
    assert torch.all(mel >= 0)
    assert so.compute_logmel(audio).shape == (1, 32, 64)
    mel_tone = so.compute_mel(sine(1000.0, 1.0, n=SR))[0, 10]
    # Filter m's centre is edge m + 1 of 66 edges equally spaced in mel.
    centre_mel = (mel_tone.argmax().item() + 1) * 1127.0 * math.log1p(8000 / 700) / 65
    peak_hz = 700.0 * math.expm1(centre_mel / 1127.0)
    assert abs(peak_hz - 1000.0) < 60.0


def test_mfcc_dct_scaling_and_shape():
    matrix = so.mfcc_matrix(128, dtype=torch.float64)
    gram = matrix.T @ matrix
    expected = torch.eye(128, dtype=torch.float64)
    expected[0, 0] = 2.0  # TF's scaling: coefficient 0 is sqrt(2) above orthonormal
    assert torch.allclose(gram, expected, atol=1e-12)
    mfcc = so.compute_mfcc(uniform_noise(SR))
    assert mfcc.shape == (1, 63, 13)
    assert torch.isfinite(mfcc).all()


# Dtypes, devices, errors ------------------------------------------------------------------
def test_float64_is_kept_everywhere():
    audio = sine(dtype=torch.float64, n=4000)
    for fn in (so.compute_mag, so.compute_mel, so.compute_mfcc, so.compute_power,
               so.compute_loudness):
        assert fn(audio).dtype == torch.float64, fn.__name__
    assert so.stft(audio).dtype == torch.complex128


@pytest.mark.parametrize("call, name", [
    (lambda: so.compute_loudness(torch.zeros(2, 3, 100)), "audio"),
    (lambda: so.compute_loudness(torch.tensor([0.0, float("nan")] * 600)), "audio"),
    (lambda: so.stft(torch.zeros(0)), "audio"),
    (lambda: so.compute_mag(torch.full((1000,), float("inf"))), "audio"),
    (lambda: so.compute_loudness(torch.zeros(1000), frame_rate=300), "frame_rate"),
    (lambda: so.compute_loudness(torch.zeros(1000), padding="reflect"), "padding"),
    (lambda: so.compute_loudness(torch.zeros(1000), definition="v3"), "definition"),
    (lambda: so.compute_loudness(torch.zeros(100), padding="valid"), "audio"),
    (lambda: so.compute_power(torch.zeros(1000), range_db=-1), "range_db"),
    (lambda: so.stft(torch.zeros(1000), overlap=1.0), "overlap"),
    (lambda: so.stft(torch.zeros(1000), frame_size=0), "frame_size"),
    (lambda: so.compute_mel(torch.zeros(1000), hi_hz=9000.0), "hi_hz"),
    (lambda: so.compute_mel(torch.zeros(1000), lo_hz=500.0, hi_hz=400.0), "hi_hz"),
    (lambda: so.compute_mfcc(torch.zeros(1000), mel_bins=10, mfcc_bins=13), "mfcc_bins"),
    (lambda: so.compute_loudness("loud"), "audio"),
])
def test_bad_inputs_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_loudness_matches_magentas_own_output():
    """Magenta's compute_loudness on the fixture's audio (tests/data/magenta_solo_tiny), and
    its preprocessor's legacy 251 -> 250 frame resize of it."""
    from pathlib import Path

    from timbral import core

    data = np.load(Path(__file__).parent / "data" / "magenta_solo_tiny" /
                   "solo_tiny_expected.npz")
    loudness = so.compute_loudness(torch.tensor(data["in_audio"]), 16000, 250)
    assert loudness.shape == (1, 251)
    assert np.abs(loudness.numpy() - data["pre_loudness_db_recomputed_251"]).max() < 1e-5
    resized = core.resample(loudness[..., None], 250)
    assert np.abs(resized.numpy() - data["pre_loudness_db"]).max() < 5e-5


def test_a_frame_rate_that_does_not_divide_the_sample_rate_names_ones_that_do():
    from timbral.dsp.spectral import frame_hop

    assert frame_hop(16000, 250) == 64 and frame_hop(44100, 100) == 441
    for rate, frames, near in ((16000, 7, "try 5 or 8 frames/s"),
                               (44100, 250, "try 245 or 252 frames/s"),
                               (16000, 20000, "try 16000 frames/s")):
        with pytest.raises(ValueError, match=f"whole samples per frame; {near}$"):
            frame_hop(rate, frames)
