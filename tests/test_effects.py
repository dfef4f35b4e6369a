"""Tests for timbral.effects: Magenta conformance, signal facts, gradients, configs, errors."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from timbral import core
from timbral.effects import ExpDecayReverb, FilteredNoiseReverb, FIRFilter, ModDelay, Reverb
from timbral.processors import processor_from_config

DATA = Path(__file__).parent / "data" / "magenta_solo_tiny"


@pytest.fixture(scope="module")
def magenta():
    """Arrays written by Magenta ddsp 3.7.0 (see the JSON's 'arrays' section)."""
    with np.load(DATA / "solo_tiny_expected.npz") as npz:
        keys = ["add_signal_fixed", "audio_synth_fixed_noise", "reverb_wet_only_fixed_noise",
                "reverb_ctrl_ir", "reverb_ir_variable", "harm_signal", "harm_reverb"]
        return {k: npz[k] for k in keys}


# Magenta conformance ----------------------------------------------------------------
def test_fixture_arrays_are_what_we_compare():
    """The JSON documents the arrays the conformance tests rely on."""
    arrays = json.loads((DATA / "solo_tiny_expected.json").read_text())["arrays"]
    assert "Reverb.get_signal(add_signal_fixed, ir)" in arrays["audio_synth_fixed_noise"]["doc"]
    assert "audio_synth_fixed_noise - add_signal_fixed" in arrays["reverb_wet_only_fixed_noise"]["doc"]
    assert "before the dry-tap masking" in arrays["reverb_ctrl_ir"]["doc"]
    assert arrays["reverb_ctrl_ir"]["shape"] == [1, 4000]
    assert arrays["reverb_ir_variable"]["shape"] == [4000]


def test_reverb_matches_magenta_with_given_ir(magenta):
    """Magenta's Reverb(add_signal_fixed, reverb_ctrl_ir): wet part and dry + wet."""
    audio = torch.from_numpy(magenta["add_signal_fixed"])
    ir = torch.from_numpy(magenta["reverb_ctrl_ir"])
    assert ir[0, 0].item() != 0.0  # the stored IR's first tap is not zero: it must be masked

    wet = Reverb(reverb_length=4000, add_dry=False)(audio, ir)
    np.testing.assert_allclose(wet.numpy(), magenta["reverb_wet_only_fixed_noise"], rtol=0, atol=1e-6)
    assert np.abs(magenta["reverb_wet_only_fixed_noise"]).max() > 0.05  # a real signal

    full = Reverb(reverb_length=4000)(audio, ir)
    np.testing.assert_allclose(full.numpy(), magenta["audio_synth_fixed_noise"], rtol=0, atol=1e-6)

    harm = Reverb(reverb_length=4000)(torch.from_numpy(magenta["harm_signal"]), ir)
    np.testing.assert_allclose(harm.numpy(), magenta["harm_reverb"], rtol=0, atol=1e-6)

    full64 = Reverb(reverb_length=4000)(audio.double(), ir.double())
    assert full64.dtype == torch.float64
    np.testing.assert_allclose(full64.numpy(), magenta["audio_synth_fixed_noise"], rtol=0, atol=1e-6)


def test_trainable_reverb_loads_magenta_variable(magenta):
    """The checkpoint variable 'ir' [4000] loads as the parameter and gives Magenta's output."""
    reverb = Reverb(trainable=True, reverb_length=4000)
    assert reverb.ir.shape == (4000,) and reverb.ir.dtype == torch.float32
    reverb.load_state_dict({"ir": torch.from_numpy(magenta["reverb_ir_variable"])})
    audio = torch.from_numpy(magenta["add_signal_fixed"])
    out = reverb(audio, return_outputs_dict=True)
    # Controls hold the variable tiled to the batch, before masking (Magenta's reverb_ctrl_ir).
    np.testing.assert_array_equal(out["ir"].detach().numpy(), magenta["reverb_ctrl_ir"])
    np.testing.assert_allclose(out["signal"].detach().numpy(), magenta["audio_synth_fixed_noise"],
                               rtol=0, atol=1e-6)
    # The variable is broadcast to the batch.
    batch = reverb(audio.expand(3, -1))
    assert batch.shape == (3, 16000)
    torch.testing.assert_close(batch[2], out["signal"][0])


def test_trainable_reverb_init_like_magenta():
    torch.manual_seed(0)
    ir = Reverb(trainable=True, reverb_length=48000).ir.detach()
    assert ir.shape == (48000,)
    assert 0.9e-6 < ir.std().item() < 1.1e-6
    assert abs(ir.mean().item()) < 3e-8


# Reverb facts ------------------------------------------------------------------------
def test_impulse_through_reverb_gives_ir_with_zeroed_first_tap_plus_dry():
    torch.manual_seed(1)
    ir = torch.randn(1, 100)
    audio = torch.zeros(1, 300)
    audio[0, 10] = 1.0
    out = Reverb()(audio, ir)[0]
    expected = torch.zeros(300)
    expected[11:110] = ir[0, 1:]
    expected[10] = 1.0  # the dry impulse; ir[0, 0] is masked away
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    wet = Reverb(add_dry=False)(audio, ir)[0]
    expected[10] = 0.0
    torch.testing.assert_close(wet, expected, atol=1e-6, rtol=0)


def test_reverb_first_tap_is_masked_and_gets_no_gradient():
    torch.manual_seed(2)
    audio = torch.randn(2, 256)
    ir = torch.randn(2, 64, requires_grad=True)
    out = Reverb()(audio, ir)
    changed = ir.detach().clone()
    changed[:, 0] = 5.0
    torch.testing.assert_close(Reverb()(audio, changed), out.detach())
    out.square().sum().backward()
    assert torch.all(ir.grad[:, 0] == 0) and torch.all(ir.grad[:, 1:].abs().sum(1) > 0)


def test_reverb_shapes_magenta_accepts():
    torch.manual_seed(3)
    audio, ir = torch.randn(2, 200), torch.randn(2, 50)
    ref = Reverb()(audio, ir)
    torch.testing.assert_close(Reverb()(audio, ir[..., None]), ref)  # [batch, ir_size, 1]
    one = Reverb()(audio[0], ir[0])  # no batch dims
    assert one.shape == (1, 200)
    torch.testing.assert_close(one[0], ref[0])
    assert Reverb()(audio, ir[:1]).shape == (2, 200)  # a batch-1 IR broadcasts


# FIR filter --------------------------------------------------------------------------
def _linear_phase_ir(mags):
    """Reference: zero-phase irfft, full periodic Hann (peak at tap 0), made causal."""
    ir = np.fft.irfft(mags)
    n = ir.size
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    return np.fft.fftshift(np.fft.fftshift(window) * ir)


def test_fir_flat_magnitudes_pass_an_impulse_with_two_sample_delay():
    """Flat magnitudes -> a 128-tap linear-phase IR that is a single tap at 64; Magenta's
    delay compensation (62 samples) leaves a 2-sample delay and exp_sigmoid(0) as gain."""
    audio = torch.zeros(1, 256)
    audio[0, 20] = 1.0
    out = FIRFilter()(audio, torch.zeros(1, 4, 65))[0]
    gain = core.exp_sigmoid(torch.tensor(0.0)).item()
    expected = torch.zeros(256)
    expected[22] = gain
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_fir_impulse_response_is_the_windowed_linear_phase_ir():
    bins = np.arange(65)
    mags = (0.3 + 0.7 * np.cos(np.pi * bins / 64) ** 2) * np.where(bins > 40, 0.05, 1.0)
    h = _linear_phase_ir(mags)
    np.testing.assert_allclose(h[64 - 63:64], h[64 + 63:64:-1], atol=1e-12)  # symmetric about 64
    audio = torch.zeros(1, 512, dtype=torch.float64)
    audio[0, 100] = 1.0
    fir = FIRFilter(window_size=0, scale_fn=None)
    out = fir(audio, torch.from_numpy(mags)[None, None]).numpy()[0]  # [batch, n_bins] input too
    expected = np.zeros(512)
    expected[100 - 62:100 - 62 + 128] = h  # the IR starts 62 samples early (delay compensation)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    out2d = fir(audio, torch.from_numpy(mags)[None]).numpy()[0]
    np.testing.assert_allclose(out2d, expected, atol=1e-12)


def _gain_db(x, y, freq, sr):
    """Gain in dB of y over x at freq, from an FFT over a whole number of periods."""
    X, Y = np.fft.rfft(x), np.fft.rfft(y)
    k = int(round(freq * x.size / sr))
    return 20 * np.log10(np.abs(Y[k]) / np.abs(X[k]))


def test_fir_low_pass_attenuates_a_sine_by_the_expected_db():
    """Low-pass: 0 dB up to 2 kHz, -40 dB from 3 kHz, linear in dB between (65 bins,
    125 Hz apart at 16 kHz). At a bin frequency the 128-tap Hann-windowed filter's gain is
    0.5 M[k] + 0.25 (M[k-1] + M[k+1]) (the Hann spectrum), exactly M[k] on a plateau."""
    sr = 16000
    db = np.interp(np.arange(65) * 125.0, [2000.0, 3000.0], [0.0, -40.0])
    mags = 10 ** (db / 20)
    fir = FIRFilter(scale_fn=None)
    controls = torch.from_numpy(np.tile(mags, (1, 250, 1)).astype(np.float32))  # constant frames
    t = np.arange(16000) / sr
    for freq, k in [(1000.0, 8), (2500.0, 20), (4000.0, 32)]:
        sine = np.sin(2 * np.pi * freq * t).astype(np.float32)
        out = fir(torch.from_numpy(sine)[None], controls).numpy()[0]
        seg = slice(1000, 15000)  # steady state; 14000 samples = whole periods of each sine
        measured = _gain_db(sine[seg], out[seg], freq, sr)
        expected = 20 * np.log10(0.5 * mags[k] + 0.25 * (mags[k - 1] + mags[k + 1]))
        assert measured == pytest.approx(expected, abs=0.05), (freq, measured, expected)
    assert expected == pytest.approx(-40.0, abs=1e-6)  # 4 kHz sits in the stop band


# Noise reverbs -------------------------------------------------------------------------
def test_exp_decay_reverb_ir_formula_and_determinism():
    audio = torch.randn(2, 800)
    reverb = ExpDecayReverb(reverb_length=400, scale_fn=None)
    gain, decay = torch.tensor([[1.0], [0.5]]), torch.tensor([[0.0], [1.0]])
    out = reverb(audio, gain, decay, return_outputs_dict=True)
    t = torch.linspace(0, 1, 400)
    noise = reverb.noise[0]
    torch.testing.assert_close(out["ir"][0], torch.exp(-3.0 * t) * noise)
    torch.testing.assert_close(out["ir"][1], 0.5 * torch.exp(-(2 + math.e) * t) * noise)
    assert noise.abs().max() <= 1.0 and abs(noise.mean().item()) < 0.1 and noise.std() > 0.5
    torch.testing.assert_close(reverb(audio, gain, decay), out["signal"], rtol=0, atol=0)
    same_seed = ExpDecayReverb(reverb_length=400, scale_fn=None)
    torch.testing.assert_close(same_seed(audio, gain, decay), out["signal"], rtol=0, atol=0)
    other = ExpDecayReverb(reverb_length=400, scale_fn=None, seed=1)
    assert not torch.allclose(other(audio, gain, decay), out["signal"])


def test_trainable_exp_decay_reverb_is_deterministic():
    reverb = ExpDecayReverb(trainable=True, reverb_length=1000)
    assert reverb.gain.item() == 2.0 and reverb.decay.item() == 4.0  # Magenta's init
    audio = torch.randn(2, 1000)
    first = reverb(audio)
    torch.testing.assert_close(reverb(audio), first, rtol=0, atol=0)
    assert not torch.allclose(ExpDecayReverb(trainable=True, reverb_length=1000, seed=7)(audio), first)
    first.sum().backward()
    assert reverb.gain.grad.abs().item() > 0 and reverb.decay.grad.abs().item() > 0


def test_filtered_noise_reverb_flat_filter_ir_is_the_stored_noise():
    """Flat magnitudes of 1 -> a 30-tap single-tap filter with a 2-sample delay."""
    reverb = FilteredNoiseReverb(reverb_length=1000, scale_fn=None, initial_bias=0.0)
    ir = reverb(torch.randn(1, 500), torch.ones(1, 10, 16), return_outputs_dict=True)["ir"]
    torch.testing.assert_close(ir[0, 2:], reverb.noise[0, :-2], atol=1e-6, rtol=0)


def test_filtered_noise_reverb_is_deterministic_and_seeded():
    audio = torch.randn(2, 2000)
    mags = torch.randn(2, 50, 16)
    reverb = FilteredNoiseReverb(reverb_length=1000, n_frames=50)
    first = reverb(audio, mags)
    torch.testing.assert_close(reverb(audio, mags), first, rtol=0, atol=0)
    torch.testing.assert_close(FilteredNoiseReverb(reverb_length=1000)(audio, mags), first,
                               rtol=0, atol=0)
    assert not torch.allclose(FilteredNoiseReverb(reverb_length=1000, seed=3)(audio, mags), first)
    trainable = FilteredNoiseReverb(trainable=True, reverb_length=1000, n_frames=50)
    assert trainable.magnitudes.shape == (50, 16)
    out = trainable(audio)
    torch.testing.assert_close(trainable(audio), out, rtol=0, atol=0)
    out.square().sum().backward()
    assert trainable.magnitudes.grad.abs().sum() > 0


@pytest.mark.parametrize("make", [
    lambda: Reverb(trainable=True, reverb_length=1000),
    lambda: ExpDecayReverb(trainable=True, reverb_length=1000),
    lambda: FilteredNoiseReverb(trainable=True, reverb_length=1000, n_frames=50)])
def test_impulse_response_is_the_ir_the_reverb_applies(make):
    reverb = make()
    audio = torch.randn(2, 1000)
    ir = reverb.impulse_response()
    assert ir.shape == (1000,) and ir.requires_grad
    torch.testing.assert_close(reverb(audio, return_outputs_dict=True)["ir"][1], ir,
                               rtol=0, atol=0)


def test_impulse_response_needs_a_trainable_reverb():
    with pytest.raises(ValueError, match="trainable"):
        ExpDecayReverb(reverb_length=100).impulse_response()


# ModDelay ------------------------------------------------------------------------------
def test_mod_delay_constant_phase_delays_by_expected_samples():
    """center 15 ms + depth 10 ms at 16 kHz -> a 400-sample line; scaled phase 0.5 ->
    0.5 * 10 + 15 = 20 ms = 320 samples."""
    torch.manual_seed(4)
    audio = torch.randn(2, 1000, dtype=torch.float64)
    half = torch.full((2, 1000, 1), 0.5, dtype=torch.float64)
    wet = ModDelay(gain_scale_fn=None, phase_scale_fn=None, add_dry=False)(audio, half, half)
    expected = torch.zeros_like(audio)
    expected[:, 320:] = 0.5 * audio[:, :-320]
    torch.testing.assert_close(wet, expected)
    # Default sigmoid phase (raw 0 -> 0.5) and frame-rate controls, dry added.
    frames = torch.zeros(2, 10, 1)
    out = ModDelay(gain_scale_fn=None)(audio.float(), frames + 1.0, frames)
    expected = audio.float().clone()
    expected[:, 320:] += audio.float()[:, :-320]
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)


# Gradients ------------------------------------------------------------------------------
def test_gradcheck_reverb_wrt_audio_and_ir():
    torch.manual_seed(5)
    audio = torch.randn(2, 40, dtype=torch.float64, requires_grad=True)
    ir = torch.randn(2, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, h: Reverb()(a, h), (audio, ir))


def test_gradcheck_fir_filter_wrt_magnitudes():
    torch.manual_seed(6)
    audio = torch.randn(1, 32, dtype=torch.float64)
    mags = torch.randn(1, 4, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m: FIRFilter()(audio, m), (mags,))


def test_mod_delay_is_differentiable():
    audio = torch.randn(1, 500, requires_grad=True)
    gain = torch.zeros(1, 5, 1, requires_grad=True)
    phase = torch.zeros(1, 5, 1, requires_grad=True)
    ModDelay()(audio, gain, phase).square().sum().backward()
    for x in (audio, gain, phase):
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


# dtype / device ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_follows_inputs(dtype):
    audio = torch.randn(2, 400, dtype=dtype)
    cases = [
        (Reverb(), (torch.randn(2, 30, dtype=dtype),)),
        (Reverb(trainable=True, reverb_length=30), ()),
        (ExpDecayReverb(reverb_length=100), (torch.zeros(2, 1, dtype=dtype),) * 2),
        (ExpDecayReverb(trainable=True, reverb_length=100), ()),
        (FilteredNoiseReverb(reverb_length=100), (torch.zeros(2, 10, 16, dtype=dtype),)),
        (FilteredNoiseReverb(trainable=True, reverb_length=100, n_frames=10), ()),
        (FIRFilter(), (torch.zeros(2, 4, 17, dtype=dtype),)),
        (ModDelay(), (torch.zeros(2, 4, 1, dtype=dtype),) * 2),
    ]
    for proc, controls in cases:
        out = proc(audio, *controls)
        assert out.dtype == dtype and out.shape == (2, 400), type(proc).__name__
        assert torch.isfinite(out).all()


# Config round trip ---------------------------------------------------------------------
@pytest.mark.parametrize("make, controls", [
    (lambda: Reverb(reverb_length=64, add_dry=False), lambda: (torch.randn(1, 64),)),
    (lambda: Reverb(trainable=True, reverb_length=64), lambda: ()),
    (lambda: ExpDecayReverb(reverb_length=64, seed=5), lambda: (torch.ones(1, 1),) * 2),
    (lambda: ExpDecayReverb(trainable=True, reverb_length=64), lambda: ()),
    (lambda: FilteredNoiseReverb(reverb_length=64, window_size=0, seed=2),
     lambda: (torch.randn(1, 8, 16),)),
    (lambda: FilteredNoiseReverb(trainable=True, reverb_length=64, n_frames=8, n_filter_banks=9),
     lambda: ()),
    (lambda: FIRFilter(window_size=31, scale_fn="exp_sigmoid"), lambda: (torch.randn(1, 8, 33),)),
    (lambda: ModDelay(center_ms=5.0, depth_ms=2.0, sample_rate=8000, add_dry=False),
     lambda: (torch.randn(1, 8, 1), torch.randn(1, 8, 1))),
])
def test_config_round_trip(make, controls):
    torch.manual_seed(7)
    proc = make()
    if proc.state_dict():
        with torch.no_grad():  # move trained values away from their init
            for p in proc.parameters():
                p.add_(torch.randn_like(p) * 0.1)
    audio = torch.randn(1, 256)
    args = controls()
    config = proc.get_config()
    assert json.loads(json.dumps(config)) == config  # plain JSON data
    rebuilt = processor_from_config(config)
    assert type(rebuilt) is type(proc) and rebuilt.name == proc.name
    rebuilt.load_state_dict(proc.state_dict())
    torch.testing.assert_close(rebuilt(audio, *args), proc(audio, *args), rtol=0, atol=0)


def test_mod_delay_config_names_scale_fns():
    config = ModDelay().get_config()["config"]
    assert config["gain_scale_fn"] == "exp_sigmoid" and config["phase_scale_fn"] == "sigmoid"
    assert ModDelay(phase_scale_fn="sigmoid").phase_scale_fn is torch.sigmoid


# Bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("build, call, name", [
    (lambda: Reverb(), lambda p: p(torch.randn(1, 100)), "ir"),
    (lambda: Reverb(), lambda p: p(torch.randn(1, 100), torch.randn(1, 10, 2)), "ir"),
    (lambda: Reverb(), lambda p: p(torch.randn(1, 100), torch.randn(1, 2, 10, 1)), "ir"),
    (lambda: Reverb(), lambda p: p(torch.randn(2, 100), torch.randn(3, 10)), "ir"),
    (lambda: Reverb(), lambda p: p(torch.randn(1, 100), torch.full((1, 10), math.nan)), "ir"),
    (lambda: Reverb(), lambda p: p(torch.randn(1, 2, 100), torch.randn(1, 10)), "audio"),
    (lambda: ExpDecayReverb(reverb_length=10), lambda p: p(torch.randn(1, 100), torch.ones(1, 1)),
     "decay"),
    (lambda: ExpDecayReverb(reverb_length=10),
     lambda p: p(torch.randn(1, 100), torch.ones(1, 2), torch.ones(1, 1)), "gain"),
    (lambda: FilteredNoiseReverb(reverb_length=100), lambda p: p(torch.randn(1, 100)), "magnitudes"),
    (lambda: FilteredNoiseReverb(reverb_length=100),
     lambda p: p(torch.randn(1, 100), torch.zeros(1, 30, 16)), "magnitudes"),
    (lambda: FIRFilter(), lambda p: p(torch.randn(1, 100), torch.zeros(1, 1, 4, 65)), "magnitudes"),
    (lambda: FIRFilter(), lambda p: p(torch.randn(1, 100), torch.full((1, 4, 65), math.nan)),
     "magnitudes"),
    (lambda: FIRFilter(), lambda p: p(torch.randn(1, 100), torch.zeros(1, 4, 1)), "magnitudes"),
    (lambda: FIRFilter(), lambda p: p(torch.randn(1, 100), torch.zeros(1, 200, 65)), "magnitudes"),
    (lambda: ModDelay(), lambda p: p(torch.randn(1, 100), torch.zeros(1, 4, 2), torch.zeros(1, 4, 1)),
     "gain"),
    (lambda: ModDelay(), lambda p: p(torch.randn(1, 100), torch.zeros(1, 4, 1), torch.zeros(1, 101, 1)),
     "phase"),
    (lambda: ModDelay(),
     lambda p: p(torch.randn(1, 100), torch.zeros(1, 4, 1), torch.full((1, 4, 1), math.inf)), "phase"),
])
def test_bad_inputs_raise_naming_the_argument(build, call, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call(build())


@pytest.mark.parametrize("build, name", [
    (lambda: Reverb(reverb_length=-5), "reverb_length"),
    (lambda: Reverb(trainable=True, reverb_length=0), "reverb_length"),
    (lambda: ExpDecayReverb(reverb_length=-1), "reverb_length"),
    (lambda: FilteredNoiseReverb(reverb_length=-48000), "reverb_length"),
    (lambda: FilteredNoiseReverb(trainable=True, reverb_length=100, n_frames=30), "n_frames"),
    (lambda: ExpDecayReverb(scale_fn="no_such_fn"), "scale_fn"),
    (lambda: ExpDecayReverb(seed=-1), "seed"),
    (lambda: Reverb(trainable="yes"), "trainable"),
    (lambda: FIRFilter(window_size=2.5), "window_size"),
    (lambda: ModDelay(depth_ms=-1.0), "depth_ms"),
    (lambda: ModDelay(center_ms=0.0, depth_ms=0.0), "center_ms"),
])
def test_bad_constructor_arguments_raise_naming_the_argument(build, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        build()


def test_multiband_decay_reverb_decays_at_each_bands_own_rate():
    """The bands split the seeded noise exactly; each band's envelope falls 60 dB in its
    own learned t60; the tail carries no energy a band's parameters do not put there."""
    from timbral.effects import MultibandDecayReverb
    from timbral.processors.effects import _draw_noise

    sr = 16000
    reverb = MultibandDecayReverb(reverb_length=2 * sr, sample_rate=sr, initial_t60=0.4)
    assert reverb.band_edges() == [0.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0]
    white = _draw_noise(2 * sr, 0)[0]
    torch.testing.assert_close(reverb.band_noise.sum(0), white, atol=1e-6, rtol=0)
    with torch.no_grad():
        reverb.log_t60[:] = torch.log(torch.tensor([0.4] * 3 + [1.2] * 4))
        reverb.log_gain[:] = 0.0
    ir = reverb.impulse_response().detach()
    spectrum = lambda x: torch.fft.rfft(x * torch.hann_window(len(x))).abs().square()  # noqa: E731
    freqs = torch.fft.rfftfreq(4000, 1 / sr)

    def level(start_s, lo, hi):  # band energy of 0.25 s of IR from start_s, dB
        seg = ir[int(start_s * sr):int(start_s * sr) + 4000]
        band = (freqs >= lo) & (freqs < hi)
        return 10 * torch.log10(spectrum(seg)[band].sum()).item()

    # low band (t60 0.4 s): 60 dB per 0.4 s -> about 75 dB down 0.5 s later
    assert level(0.5, 130, 240) - level(0.0, 130, 240) == pytest.approx(-75, abs=4)
    # high band (t60 1.2 s): 25 dB down 0.5 s later
    assert level(0.5, 2100, 3900) - level(0.0, 2100, 3900) == pytest.approx(-25, abs=3)
    assert sum(p.numel() for p in reverb.parameters()) == 14
    with pytest.raises(ValueError, match="learns its room"):
        MultibandDecayReverb(trainable=False)
