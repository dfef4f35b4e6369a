"""Facts about timbral.losses: Magenta's multi-scale SpectralLoss and mean_difference."""

import json
import math

import pytest
import torch

from timbral import spectral_ops as so
from timbral.losses import SpectralLoss, mean_difference

LOG_EPS = math.log(1e-5)


def random_audio(batch=2, n=4000, seed=0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, n, generator=generator, dtype=torch.float64) * 2 - 1).to(dtype)


def hann(n, i):
    return 0.5 - 0.5 * math.cos(2 * math.pi * i / n)


# Values ----------------------------------------------------------------------------------
@pytest.mark.parametrize("loss_type", ["L1", "L2", "COSINE"])
def test_zero_for_identical_inputs(loss_type):
    audio = random_audio()
    audio[:, 2000:] = 0.0  # silent frames too
    loss = SpectralLoss(loss_type=loss_type, mag_weight=1, logmag_weight=1,
                        delta_time_weight=1, delta_freq_weight=1, cumsum_freq_weight=1,
                        loudness_weight=1)
    assert loss(audio, audio.clone()).item() == pytest.approx(0.0, abs=1e-6)


def test_hand_computed_two_scale_example():
    # Target: an impulse at sample 1 of 4; estimate: silence. With frame size s
    # (hop s / 4) only frame 0 holds the impulse, weighted by hann(s)[1], so its
    # s / 2 + 1 magnitudes all equal that weight; every other frame is 0.
    target = torch.tensor([[0.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    silence = torch.zeros_like(target)
    expected = 0.0
    for size, n_frames in ((8, 2), (4, 4)):
        peak = hann(size, 1)
        share = 1.0 / n_frames  # fraction of the spectrogram holding the peak
        expected += share * peak  # mean |mag difference|
        expected += share * (math.log(peak) - LOG_EPS)  # mean |safe_log difference|
    loss = SpectralLoss(fft_sizes=(8, 4), mag_weight=1, logmag_weight=1)
    assert loss(target, silence).item() == pytest.approx(expected, rel=1e-12)


def test_hand_computed_l2_and_delta_time():
    target = torch.tensor([[0.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    silence = torch.zeros_like(target)
    # Size 4: magnitudes [[.5, .5, .5], 0, 0, 0] (4 frames x 3 bins).
    l2 = SpectralLoss(fft_sizes=(4,), loss_type="l2", mag_weight=1, logmag_weight=1)
    expected = 3 * 0.25 / 12 + 3 * (math.log(0.5) - LOG_EPS) ** 2 / 12
    assert l2(target, silence).item() == pytest.approx(expected, rel=1e-12)
    # Differences along time: [[-.5] * 3, 0, 0] over 3 x 3 entries.
    delta = SpectralLoss(fft_sizes=(4,), mag_weight=0, delta_time_weight=1)
    assert delta(target, silence).item() == pytest.approx(1.5 / 9, rel=1e-12)


def test_matches_spectral_ops_for_each_scale():
    target, audio = random_audio(seed=1), random_audio(seed=2)
    expected = 0.0
    for size in (256, 64):
        t_mag, v_mag = so.compute_mag(target, size), so.compute_mag(audio, size)
        expected += (t_mag - v_mag).abs().mean() + (so.compute_logmag(target, size)
                                                    - so.compute_logmag(audio, size)).abs().mean()
    loss = SpectralLoss(fft_sizes=(256, 64), mag_weight=1, logmag_weight=1)
    assert loss(target, audio).item() == pytest.approx(expected.item(), rel=1e-5)


def test_loudness_term():
    target, audio = random_audio(seed=1), 0.1 * random_audio(seed=2)
    loss = SpectralLoss(mag_weight=0, loudness_weight=2.0)
    expected = 2.0 * (so.compute_loudness(target, n_fft=2048)
                      - so.compute_loudness(audio, n_fft=2048)).abs().mean()
    assert loss(target, audio).item() == pytest.approx(expected.item(), rel=1e-6)


def test_fast_path_equals_autograd_path():
    # weights=None takes a hand-differentiated path; scalar weights 1 the generic one.
    target = random_audio(seed=1, dtype=torch.float64).requires_grad_()
    audio = random_audio(seed=2, dtype=torch.float64).requires_grad_()
    audio.data[:, :300] = 0.0  # zero magnitudes: safe_log's flat region
    for loss_type in ("L1", "L2"):
        for weights in ((1, 1), (1, 0), (0, 1)):
            loss = SpectralLoss(fft_sizes=(128, 32), loss_type=loss_type, mag_weight=weights[0],
                                logmag_weight=weights[1], delta_freq_weight=0.5)
            fast = loss(target, audio)
            generic = loss(target, audio, weights=torch.tensor(1.0, dtype=torch.float64))
            assert fast.item() == pytest.approx(generic.item(), rel=1e-12)
            for a, b in zip(torch.autograd.grad(fast, (target, audio)),
                            torch.autograd.grad(generic, (target, audio))):
                assert torch.allclose(a, b, rtol=1e-9, atol=1e-15)


def test_l2_fast_path_gradient_is_exact():
    target = random_audio(n=96, seed=1, dtype=torch.float64)
    audio = random_audio(n=96, seed=2, dtype=torch.float64).requires_grad_()
    loss = SpectralLoss(fft_sizes=(16,), loss_type="L2", mag_weight=1, logmag_weight=1)
    assert torch.autograd.gradcheck(lambda x: loss(target, x), (audio,))


# mean_difference ----------------------------------------------------------------------------
def test_mean_difference_types_and_weights():
    target, value = torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2)
    assert mean_difference(target, value, "L1").item() == 1.5
    assert mean_difference(target, value, "l2").item() == 2.5
    assert mean_difference(target, value, "L1", weights=torch.tensor([1.0, 0.0])).item() == 0.5
    assert mean_difference(target, value, "L2", weights=torch.tensor([0.0, 2.0])).item() == 4.0


def test_cosine_distance():
    a, b = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[0.0, 3.0], [2.0, 2.0]])
    assert mean_difference(a[:1], b[:1], "cosine").item() == pytest.approx(1.0)
    assert mean_difference(a[1:], b[1:], "COSINE").item() == pytest.approx(0.0, abs=1e-7)
    assert mean_difference(a, b, "COSINE").item() == pytest.approx(0.5)
    # Magenta's reduction: weighted sum over vectors / number of nonzero weights.
    weights = torch.tensor([[2.0], [0.0]])
    assert mean_difference(a, b, "COSINE", weights=weights).item() == pytest.approx(2.0)
    zeros = torch.zeros(1, 2)
    assert mean_difference(zeros, zeros, "COSINE").item() == 0.0


# Gradients and dtypes ---------------------------------------------------------------------------
@pytest.mark.parametrize("loss_type", ["L1", "L2", "COSINE"])
def test_gradients_reach_the_estimate(loss_type):
    target = random_audio(seed=1)
    audio = (0.5 * random_audio(seed=2)).requires_grad_()
    loss = SpectralLoss(loss_type=loss_type, mag_weight=1, logmag_weight=1,
                        delta_time_weight=1, loudness_weight=0.1)
    loss(target, audio).backward()
    assert torch.isfinite(audio.grad).all()
    assert audio.grad.abs().sum() > 0


def test_silent_estimate_has_finite_gradient():
    audio = torch.zeros(1, 2000, requires_grad=True)
    SpectralLoss(mag_weight=1, logmag_weight=1)(random_audio(1, 2000), audio).backward()
    assert torch.isfinite(audio.grad).all()


def test_float64_and_one_dimensional_inputs():
    target, audio = random_audio(1, seed=1), random_audio(1, seed=2)
    loss = SpectralLoss(mag_weight=1, logmag_weight=1)
    value32 = loss(target, audio)
    value64 = loss(target.double(), audio.double())
    assert value64.dtype == torch.float64 and value32.dtype == torch.float32
    assert value64.item() == pytest.approx(value32.item(), rel=1e-4)
    assert loss(target[0], audio[0]).item() == pytest.approx(value32.item(), rel=1e-6)


# Configuration ------------------------------------------------------------------------------
def test_config_round_trip_through_json():
    loss = SpectralLoss(fft_sizes=(1024, 256), loss_type="l2", logmag_weight=1.0,
                        loudness_weight=0.5, sample_rate=48000, frame_rate=100)
    config = json.loads(json.dumps(loss.to_config()))
    rebuilt = SpectralLoss.from_config(config)
    assert rebuilt.to_config() == loss.to_config()
    assert rebuilt.loss_type == "L2" and rebuilt.fft_sizes == (1024, 256)
    with pytest.raises(ValueError, match="unknown"):
        SpectralLoss.from_config({**config, "name": "spectral_loss"})


# Errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, name", [
    ({"loss_type": "L3"}, "loss_type"),
    ({"loss_type": None}, "loss_type"),
    ({"mag_weight": -1.0}, "mag_weight"),
    ({"logmag_weight": float("nan")}, "logmag_weight"),
    ({"fft_sizes": ()}, "fft_sizes"),
    ({"fft_sizes": (2048, 1.5)}, "fft_sizes"),
    ({"loudness_weight": 1.0, "frame_rate": 300}, "frame_rate"),
])
def test_bad_constructor_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SpectralLoss(**kwargs)


@pytest.mark.parametrize("target, audio, name", [
    (torch.zeros(2, 1000), torch.zeros(2, 900), "audio"),
    (torch.zeros(2, 1000), torch.zeros(2, 1, 1000), "audio"),
    (torch.zeros(2, 1, 1000), torch.zeros(2, 1000), "target_audio"),
    (torch.zeros(1000), torch.full((1000,), float("nan")), "audio"),
    (torch.full((1000,), float("inf")), torch.zeros(1000), "target_audio"),
])
def test_bad_audio(target, audio, name):
    with pytest.raises(ValueError, match=name):
        SpectralLoss()(target, audio)


def test_bad_mean_difference_arguments():
    with pytest.raises(ValueError, match="loss_type"):
        mean_difference(torch.zeros(3), torch.zeros(3), "huber")
    with pytest.raises(ValueError, match="value"):
        mean_difference(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="weights"):
        mean_difference(torch.zeros(3), torch.zeros(3), weights=torch.ones(2))
    with pytest.raises(ValueError, match="weights"):
        SpectralLoss()(torch.zeros(2, 1000), torch.zeros(2, 1000), weights=torch.ones(3, 1, 1))
