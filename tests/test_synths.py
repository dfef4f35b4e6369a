"""Synthesizers: Magenta conformance, accuracy, spectra, gradients, bad input."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from timbral import core, synths

FIXTURE = Path(__file__).parent / "data" / "magenta_solo_tiny" / "solo_tiny_expected.npz"


@pytest.fixture(scope="module")
def magenta():
    return dict(np.load(FIXTURE))


def _t(x):
    return torch.tensor(x)


# Magenta conformance (controls from Magenta's decoder, outputs Magenta computed) --------
def test_harmonic_controls_and_signal_match_magenta(magenta):
    harmonic = synths.Harmonic(16000, 16000)
    controls = harmonic.get_controls(_t(magenta["dec_amps"]),
                                     _t(magenta["dec_harmonic_distribution"]),
                                     _t(magenta["pre_f0_hz"]))
    for name, key in [("amplitudes", "harm_ctrl_amplitudes"),
                      ("harmonic_distribution", "harm_ctrl_harmonic_distribution"),
                      ("f0_hz", "harm_ctrl_f0_hz")]:
        assert np.abs(controls[name].numpy() - magenta[key]).max() < 2e-6, name
    signal = harmonic.get_signal(**controls)[0].numpy()
    # Magenta's float64 (exact-phase) rendering; its float32 cumsum drifts 1e-3 from it.
    assert np.abs(signal - magenta["harm_signal_np64"][0]).max() < 1e-5
    # Magenta's own controls in float64 reproduce its float64 rendering to round-off.
    signal64 = harmonic.get_signal(
        amplitudes=_t(magenta["harm_ctrl_amplitudes"]).double(),
        harmonic_distribution=_t(magenta["harm_ctrl_harmonic_distribution"]).double(),
        f0_hz=_t(magenta["harm_ctrl_f0_hz"]).double())[0].numpy()
    assert np.abs(signal64 - magenta["harm_signal_np64"][0]).max() < 1e-9


def test_filtered_noise_matches_magenta_with_the_same_noise(magenta):
    noise = synths.FilteredNoise(16000, window_size=0)
    controls = noise.get_controls(_t(magenta["dec_noise_magnitudes"]))
    assert np.abs(controls["magnitudes"].numpy() - magenta["noise_ctrl_magnitudes"]).max() < 1e-8
    signal = noise.get_signal(**controls, noise=_t(magenta["in_noise_fixed"]))
    assert np.abs(signal.numpy() - magenta["noise_signal_fixed"]).max() < 1e-9


# Accuracy and spectra --------------------------------------------------------------
def test_harmonic_stays_exact_over_60_seconds():
    sr, frame_rate, seconds, n_harmonics = 16000, 250, 60, 20
    n_frames = seconds * frame_rate
    t = np.arange(n_frames) / frame_rate
    f0 = 110.0 * 2.0 ** (3.0 * (0.5 - 0.5 * np.cos(2 * np.pi * t / 20.0)))  # 110 -> 880 Hz glides
    dist = np.linspace(0.0, 1.0, n_harmonics)[None, :] + 0.1 * np.sin(t)[:, None] ** 2
    amps = 0.5 + 0.4 * np.sin(2 * np.pi * t / 7.0)
    harmonic = synths.Harmonic(n_frames * 64, sr, scale_fn=None)
    got = harmonic(_t(amps[None, :, None]).float(), _t(dist[None]).float(),
                   _t(f0[None, :, None]).float())[0].numpy()
    assert got.dtype == np.float32

    # float64 reference from the same (float32) controls, in one-second chunks.
    f0_32, amps_32, dist_32 = (x.astype(np.float32).astype(np.float64) for x in (f0, amps, dist))
    k = np.arange(1, n_harmonics + 1)
    dist_n = np.where(f0_32[:, None] * k >= sr / 2, 0.0, dist_32)
    dist_n /= dist_n.sum(-1, keepdims=True)
    frame_amps = np.concatenate([amps_32[:, None] * dist_n, (amps_32[-1] * dist_n[-1])[None]])
    f0_frames = np.concatenate([f0_32, f0_32[-1:]])
    hop = 64
    r = np.arange(hop)
    w_fall, w_rise = 0.5 + 0.5 * np.cos(np.pi * r / hop), 0.5 - 0.5 * np.cos(np.pi * r / hop)
    f0_env = (f0_frames[:-1, None] * (1 - r / hop) + f0_frames[1:, None] * (r / hop)).ravel()
    phase = np.cumsum(2 * np.pi * f0_env / sr)
    worst = 0.0
    for start in range(0, n_frames, frame_rate):
        sl = slice(start, start + frame_rate)
        a = (frame_amps[sl][:, None, :] * w_fall[None, :, None]
             + frame_amps[start + 1:start + frame_rate + 1][:, None, :] * w_rise[None, :, None])
        samples = slice(start * hop, (start + frame_rate) * hop)
        harmonic_freq = f0_env[samples, None] * k
        ref = (np.where(harmonic_freq >= sr / 2, 0.0, a.reshape(-1, n_harmonics))
               * np.sin(phase[samples, None] * k)).sum(-1)
        worst = max(worst, np.abs(got[samples] - ref).max())
    assert worst < 1e-4, worst


def _spectrum_db(audio, sr):
    window = np.hanning(len(audio))
    spec = np.abs(np.fft.rfft(audio * window))
    freqs = np.fft.rfftfreq(len(audio), 1 / sr)
    return freqs, 20 * np.log10(spec / spec.max() + 1e-12)


def test_440_hz_peaks_at_440_hz():
    harmonic = synths.Harmonic(16000, 16000, scale_fn=None)
    audio = harmonic(torch.full((1, 250, 1), 0.5), torch.ones(1, 250, 1),
                     torch.full((1, 250, 1), 440.0))[0].numpy()
    freqs, db = _spectrum_db(audio, 16000)
    assert freqs[db.argmax()] == pytest.approx(440.0, abs=1.0)
    assert np.abs(audio).max() == pytest.approx(0.5, abs=1e-3)


def test_no_energy_at_or_above_nyquist_nor_aliases():
    # f0 3100 Hz with 5 harmonics: only 3100 and 6200 Hz are below 8 kHz. Aliases of
    # 9300, 12400 and 15500 Hz would land at 6700, 3600 and 500 Hz.
    harmonic = synths.Harmonic(16000, 16000, scale_fn=None)
    audio = harmonic(torch.ones(1, 250, 1), torch.ones(1, 250, 5),
                     torch.full((1, 250, 1), 3100.0))[0].numpy()
    freqs, db = _spectrum_db(audio, 16000)
    peaks = freqs[db > -60]
    assert set(np.round(peaks / 100).astype(int)) <= {31, 62}
    for alias in (500.0, 3600.0, 6700.0, 8000.0):
        assert db[np.argmin(np.abs(freqs - alias))] < -100
    assert db[-1] < -100  # Nyquist bin


def test_filtered_noise_spectrum_follows_magnitudes_and_seed():
    n_frames, bands = 100, 65
    lowpass = torch.zeros(1, n_frames, bands)
    lowpass[..., :16] = 1.0  # pass 0-2 kHz only
    noise = synths.FilteredNoise(16000, scale_fn=None, seed=7)
    a, b = noise(lowpass), noise(lowpass)
    assert torch.equal(a, b)  # seeded: reproducible
    freqs, db = _spectrum_db(a[0].numpy(), 16000)
    low = np.mean(10 ** (db[(freqs > 200) & (freqs < 1500)] / 10))
    high = np.mean(10 ** (db[(freqs > 4000) & (freqs < 7500)] / 10))
    assert 10 * np.log10(low / high) > 30


def test_sinusoidal_and_wavetable_frequencies():
    sinusoidal = synths.Sinusoidal(16000, 16000, amp_scale_fn=None, freq_scale_fn=None)
    audio = sinusoidal(torch.full((1, 250, 2), 0.4),
                       torch.tensor([300.0, 2500.0]).expand(1, 250, 2))[0].numpy()
    freqs, db = _spectrum_db(audio, 16000)
    assert sorted(freqs[np.argsort(db)[-2:]].round()) == [300.0, 2500.0]

    wavetable = synths.Wavetable(16000, 16000, scale_fn=None)
    table = torch.sin(2 * math.pi * torch.arange(128) / 128) + 0.5 * torch.sin(
        6 * math.pi * torch.arange(128) / 128)
    audio = wavetable(torch.ones(1, 250, 1), table[None], torch.full((1, 250, 1), 200.0))
    freqs, db = _spectrum_db(audio[0].numpy(), 16000)
    assert freqs[db.argmax()] == pytest.approx(200.0, abs=1.0)
    third = db[np.argmin(np.abs(freqs - 600.0))]
    assert third == pytest.approx(20 * np.log10(0.5), abs=0.5)


def test_frequencies_softmax_spans_range():
    logits = torch.tensor([[[[10.0, -10.0, -10.0], [-10.0, -10.0, 10.0]]]])
    hz = core.frequencies_softmax(logits, hz_min=20.0, hz_max=8000.0)
    assert hz[0, 0].tolist() == pytest.approx([20.0, 8000.0], rel=1e-3)


# Gradients ------------------------------------------------------------------------
def test_harmonic_gradcheck():
    torch.manual_seed(0)
    harmonic = synths.Harmonic(40, 4000)
    amps = torch.randn(1, 5, 1, dtype=torch.float64, requires_grad=True)
    dist = torch.randn(1, 5, 4, dtype=torch.float64, requires_grad=True)
    f0 = torch.tensor([[[310.0], [333.0], [351.0], [342.0], [327.0]]], dtype=torch.float64,
                      requires_grad=True)
    assert torch.autograd.gradcheck(harmonic, (amps, dist, f0), eps=1e-6, atol=1e-6)


def test_filtered_noise_gradcheck():
    torch.manual_seed(0)
    noise_proc = synths.FilteredNoise(64, window_size=0)
    mags = torch.randn(1, 4, 9, dtype=torch.float64, requires_grad=True)
    noise = torch.rand(1, 64, dtype=torch.float64) * 2 - 1

    def fn(m):
        return noise_proc.get_signal(**noise_proc.get_controls(m), noise=noise)

    assert torch.autograd.gradcheck(fn, (mags,), eps=1e-6, atol=1e-7)


def test_gradients_reach_every_control():
    harmonic = synths.Harmonic(4000, 16000)
    controls = [torch.randn(2, 50, 1, requires_grad=True), torch.randn(2, 50, 10, requires_grad=True),
                torch.full((2, 50, 1), 300.0, requires_grad=True)]
    harmonic(*controls).square().sum().backward()
    for c in controls:
        assert torch.isfinite(c.grad).all() and c.grad.abs().sum() > 0


# Shapes and bad input ---------------------------------------------------------------
def test_missing_batch_dimension_is_added():
    harmonic = synths.Harmonic(1000, 16000)
    audio = harmonic(torch.zeros(10, 1), torch.zeros(10, 3), torch.full((10, 1), 200.0))
    assert audio.shape == (1, 1000)


@pytest.mark.parametrize("args, name", [
    ((torch.zeros(1, 10, 2), torch.zeros(1, 10, 3), torch.ones(1, 10, 1)), "amplitudes"),
    ((torch.zeros(1, 10, 1), torch.zeros(1, 12, 3), torch.ones(1, 10, 1)), "harmonic_distribution"),
    ((torch.zeros(1, 10, 1), torch.zeros(1, 10, 3), torch.full((1, 10, 1), -1.0)), "f0_hz"),
    ((torch.full((1, 10, 1), float("nan")), torch.zeros(1, 10, 3), torch.ones(1, 10, 1)),
     "amplitudes"),
    ((torch.zeros(1, 7, 1), torch.zeros(1, 7, 3), torch.ones(1, 7, 1)), "n_samples"),
    ((torch.zeros(2, 3, 4, 1), torch.zeros(1, 10, 3), torch.ones(1, 10, 1)), "amplitudes"),
])
def test_harmonic_bad_input_names_the_argument(args, name):
    with pytest.raises(ValueError, match=name):
        synths.Harmonic(1000, 16000)(*args)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="n_samples"):
        synths.Harmonic(-5)
    with pytest.raises(ValueError, match="amp_resample_method"):
        synths.Harmonic(1000, amp_resample_method="spline")
    with pytest.raises(ValueError, match="magnitudes"):
        synths.FilteredNoise(10)(torch.zeros(1, 6, 65))  # blocks of 2 give 5 frames, not 6
    with pytest.raises(ValueError, match="noise"):
        proc = synths.FilteredNoise(1000)
        proc.get_signal(torch.ones(1, 10, 65), noise=torch.zeros(1, 999))


def test_sinusoidal_and_wavetable_gradcheck():
    torch.manual_seed(0)
    sinusoidal = synths.Sinusoidal(24, 4000, freq_scale_fn=None)
    amps = torch.randn(1, 4, 2, dtype=torch.float64, requires_grad=True)
    freqs = torch.tensor([[[310.0, 905.0]] * 4], dtype=torch.float64) + torch.rand(1, 4, 2).double()
    freqs.requires_grad_()
    assert torch.autograd.gradcheck(sinusoidal, (amps, freqs), eps=1e-6, atol=1e-6)

    wavetable = synths.Wavetable(24, 4000)
    amps = torch.randn(1, 4, 1, dtype=torch.float64, requires_grad=True)
    tables = torch.randn(1, 4, 16, dtype=torch.float64, requires_grad=True)
    f0 = torch.full((1, 4, 1), 301.0, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a, w: wavetable(a, w, f0), (amps, tables),
                                    eps=1e-6, atol=1e-6)
