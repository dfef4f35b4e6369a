"""The shipped instruments: present, documented, and doing what transfer promises."""

import numpy as np
import pytest

import timbral
from timbral import cli
from timbral.audio import load_audio
from timbral.features import compute_audio_features
from timbral.zoo import EXAMPLE_CLIP, MODELS_DIR, list_models, load_model

SHIPPED = ["violin", "violin_fullband", "flute", "flute2", "trumpet", "tenor_sax",
           "violin_realtime", "violin_soundfont"]


@pytest.fixture(scope="module")
def clip():
    return load_audio(EXAMPLE_CLIP)


@pytest.fixture(scope="module")
def violin():
    return load_model("violin")


def _output_features(result):
    return compute_audio_features(result.audio, result.sample_rate, result.features["frame_rate"])


def test_every_instrument_ships_with_card_statistics_and_quality():
    names = [m["name"] for m in list_models()]
    assert sorted(names) == sorted(SHIPPED)
    for name in SHIPPED:
        size = sum(p.stat().st_size for p in (MODELS_DIR / name).iterdir())
        assert size <= 20 * 2**20
        model = load_model(name)
        assert model.statistics is not None and model.statistics["mean_pitch_note"] > 40
        card = model.card
        assert "## Quality" in card and "SpectralLoss" in card and "held-out" in card


def test_demo_transfers_the_example_clip(tmp_path, capsys):
    assert cli.main(["demo", "--output", str(tmp_path)]) == 0
    audio, rate = load_audio(tmp_path / "clarinet_to_violin.wav")
    clip, clip_rate = load_audio(EXAMPLE_CLIP)
    assert rate == 16000 and len(audio) == len(clip) * 16000 // clip_rate
    assert (tmp_path / "clarinet_to_violin.png").stat().st_size > 20000
    assert "wrote" in capsys.readouterr().out


def test_octave_up_doubles_the_output_f0(violin, clip):
    base = timbral.transfer(*clip, violin)
    up = timbral.transfer(*clip, violin, pitch_shift=1.0)
    f_base, f_up = _output_features(base), _output_features(up)
    n = min(len(f_base["f0_hz"]), len(base.mask_on))
    on = base.mask_on[:n] & (f_base["f0_confidence"][:n] > 0.7) & (f_up["f0_confidence"][:n] > 0.7)
    cents = 1200 * np.log2(f_up["f0_hz"][:n][on] / f_base["f0_hz"][:n][on])
    assert on.sum() > 200 and abs(np.median(cents) - 1200) < 20


def test_loudness_shift_reaches_the_output(violin, clip):
    base = timbral.transfer(*clip, violin)
    quiet = timbral.transfer(*clip, violin, loudness_shift=-10.0)
    f_base, f_quiet = _output_features(base), _output_features(quiet)
    n = min(len(f_base["loudness_db"]), len(base.mask_on))
    drop = (f_base["loudness_db"] - f_quiet["loudness_db"])[:n][base.mask_on[:n]]
    assert 7.0 < np.median(drop) < 13.0


def test_silence_in_is_silence_out(violin):
    result = timbral.transfer(np.zeros(3 * 16000, np.float32), 16000, violin)
    assert np.sqrt(np.mean(result.audio ** 2)) < 10 ** (-60 / 20)


def test_output_f0_follows_the_adjusted_f0_for_every_model(clip):
    for name in SHIPPED:
        model = load_model(name)
        result = timbral.transfer(*clip, model)
        out = _output_features(result)
        n = min(len(out["f0_hz"]), len(result.mask_on))
        on = result.mask_on[:n] & (out["f0_confidence"][:n] > 0.7)
        cents = np.abs(1200 * np.log2(out["f0_hz"][:n][on] / result.f0_hz[:n][on]))
        assert np.median(cents) <= 20, name


def test_the_realtime_model_plays_the_melody_through_the_streaming_engine(clip):
    from timbral.audio import resample_audio
    from timbral.stream import StreamProcessor, stream_audio

    model = load_model("violin_realtime")
    assert model.config["preset"] == "realtime" and model.frame_rate == 50
    processor = StreamProcessor(model, 320, adjust=False)
    assert (320 + processor.delay) / 16000 <= 0.032  # the live latency target: 32 ms
    audio = resample_audio(clip[0], clip[1], 16000)
    out = stream_audio(processor, audio)
    ref = compute_audio_features(audio, 16000, 100)
    got = compute_audio_features(out, 16000, 100)
    on = (ref["f0_confidence"] > 0.9) & (got["f0_confidence"] > 0.7) & (ref["loudness_db"] > -40)
    cents = np.abs(1200 * np.log2(got["f0_hz"][on] / ref["f0_hz"][on]))
    assert on.sum() > 300 and np.median(cents) <= 20


def test_card_summary_for_shipped_and_user_models():
    from timbral.zoo import card_summary

    shipped = card_summary(load_model("trumpet").card)
    assert shipped.startswith("Trumpet (General MIDI 56)") and "Held-out SpectralLoss" in shipped
    user = "# mine\n\nA timbral DDSP autoencoder (f0 and loudness -> Harmonic).\n\n| a | b |\n"
    assert card_summary(user) == "A timbral DDSP autoencoder (f0 and loudness -> Harmonic)."


def test_the_violin_credits_its_performers_and_license(capsys):
    """The shipped violin learned real recordings under CC BY 3.0: its card names the
    performers, the source and the license, and `timbral models violin` shows it."""
    from timbral.cli import main

    assert main(["models", "violin"]) == 0
    card = capsys.readouterr().out
    for credit in ("John Garner", "MinJi Kim", "Bach Violin Dataset", "CC BY 3.0",
                   "violin_soundfont"):
        assert credit in card
    assert load_model("violin").config["processor_group"]["config"]["dag"][-1]["processor"][
        "type"] == "MultibandDecayReverb"


def test_a_loudness_other_than_the_models_own_is_warned_of():
    """flute learned v2 loudness: v1 (tens of dB lower on clean audio) made a transfer
    silent while the log said notes play."""
    import warnings

    with pytest.warns(UserWarning, match="flute learned v2 loudness; with v1 it hears"):
        model = load_model("flute", loudness_definition="v1")
    assert model.config["loudness_definition"] == "v1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model("flute", loudness_definition="v2")
