"""Pictures read as a person reads them: what the figures show, checked on the figures."""

import numpy as np
import pytest

from timbral.plots import (SPECTROGRAM_FLOOR_DB, SPECTROGRAM_RANGE_DB, VOICED_CONFIDENCE,
                           features_figure, plot_spectrograms, plot_training_curve,
                           spectrogram_db, spectrograms_figure, specplot,
                           training_curve_figure)


def _sine(seconds, rate, hz, amplitude=1.0):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _panels(fig):
    """The spectrogram panels of a figure, top first."""
    return [ax for ax in fig.axes if ax.images]


def _colour_bar_labels(fig):
    """The labels of the colour bars of the figure's images and scatter plots."""
    return [m.colorbar.ax.get_ylabel() for ax in fig.axes for m in ax.images + ax.collections
            if m.colorbar is not None]


@pytest.mark.parametrize("rate, fft_size", [(16000, 1024), (44100, 2048)])
def test_spectrogram_db_is_relative_to_full_scale(rate, fft_size):
    # A full-scale sine's peak bin is 0 dB at any rate (the FFT grows with the rate, about
    # 64 ms); half scale is -6 dB. The tone sits on a bin: no scalloping loss.
    hz = 64 * rate / fft_size
    assert spectrogram_db(_sine(1.0, rate, hz), rate)[:, 4:-4].max() == \
        pytest.approx(0.0, abs=0.05)
    assert spectrogram_db(_sine(1.0, rate, hz, 0.5), rate)[:, 4:-4].max() == \
        pytest.approx(-6.02, abs=0.05)
    assert spectrogram_db(_sine(1.0, rate, hz), rate).shape[0] == fft_size // 2 + 1
    assert spectrogram_db(np.zeros(rate, np.float32), rate).max() == SPECTROGRAM_FLOOR_DB


def test_input_and_output_share_one_scale_and_range():
    audio_in = _sine(2.0, 44100, 64 * 44100 / 2048, 0.5)  # 20 dB louder than the output
    audio_out = _sine(2.0, 16000, 1000.0, 0.05)
    fig = spectrograms_figure(audio_in, 44100, audio_out, 16000)
    top, bottom = _panels(fig)
    assert top.images[0].get_clim() == bottom.images[0].get_clim()
    low, high = top.images[0].get_clim()
    assert high == pytest.approx(-6.02, abs=0.1)  # the louder input's peak
    assert high - low == SPECTROGRAM_RANGE_DB
    # the output's peak sits 20 dB below the input's on the shared scale
    assert bottom.images[0].get_array().max() == pytest.approx(high - 20.0, abs=0.1)
    # one frequency range: up to the lower Nyquist (the output's 8 kHz)
    assert top.get_ylim() == bottom.get_ylim() == (0.0, 8.0)
    assert _colour_bar_labels(fig) == ["dB re full scale"] * 2


def test_silent_output_is_drawn_silent(tmp_path):
    """A silent output sits at the bottom of the scale (dark), not rescaled to its own
    maximum (which drew it as loud noise)."""
    audio_in = _sine(1.0, 16000, 440.0, 0.5)
    fig = spectrograms_figure(audio_in, 16000, np.zeros(16000, np.float32), 16000)
    top, bottom = _panels(fig)
    low, _ = bottom.images[0].get_clim()
    silent = bottom.images[0].get_array()
    assert silent.max() <= low and silent.min() == SPECTROGRAM_FLOOR_DB
    assert top.images[0].get_array().max() > low + 70  # the input is bright
    # alone, silence is still dark: the scale never tops out at the floor
    ax = specplot(np.zeros(8000, np.float32), 16000)
    low, high = ax.images[0].get_clim()
    assert ax.images[0].get_array().max() <= low and high > SPECTROGRAM_FLOOR_DB
    assert _colour_bar_labels(ax.figure) == ["dB re full scale"]
    path = plot_spectrograms(audio_in, 16000, np.zeros(16000), 16000, tmp_path / "s.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def _features():
    """Two notes (MIDI 60, 64) between silences where the tracker guesses 2 kHz."""
    rate = 100
    f0 = np.full(300, 2000.0)
    confidence = np.full(300, 0.05)
    loudness = np.full(300, -80.0)
    for start, midi in ((50, 60.0), (150, 64.0)):
        f0[start:start + 80] = 440.0 * 2 ** ((midi - 69) / 12)
        confidence[start:start + 80] = 0.9
        loudness[start:start + 80] = -20.0
    f0[280:] = 30.0  # a confident guess in silence: still not on the axis
    confidence[280:] = 0.9
    return {"f0_hz": f0, "f0_confidence": confidence, "loudness_db": loudness,
            "frame_rate": rate, "pitch_tracker": "test"}


def test_features_pitch_axis_ignores_silent_frames():
    fig = features_figure(_features())
    pitch, confidence, loudness = fig.axes
    low, high = pitch.get_ylim()
    assert 55 < low < 60 and 64 < high < 69  # the notes, not 2 kHz (MIDI 95) or 30 Hz
    assert _colour_bar_labels(fig) == ["confidence"]
    dots = pitch.collections[0]
    assert dots.get_clim() == (0.0, 1.0)
    labels = [t.get_text() for t in confidence.get_legend().get_texts()]
    assert labels == ["confidence", f"voiced (>= {VOICED_CONFIDENCE:g})"]
    assert loudness.get_ylabel() == "loudness (dB)"


def _history(steps, every):
    return [{"step": s, "seconds": s / 10, "train_loss": 10.0 - s / 100,
             **({"validation_loss": 11.0 - s / 100} if s % (2 * every) == 0 else {})}
            for s in range(every, steps + 1, every)]


def test_training_curve_shows_every_row_and_the_last_numbers(tmp_path):
    # One row (a run shorter than its logging interval): still a visible dot each.
    fig = training_curve_figure([{"step": 30, "seconds": 12.0, "train_loss": 9.1234,
                                  "validation_loss": 8.7}])
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"train (last 9.123)", "validation (last 8.700)", "5.0 (good)"}
    assert lines["train (last 9.123)"].get_marker() == "o"
    assert list(lines["train (last 9.123)"].get_xdata()) == [30]
    assert ax.get_xlim()[0] == 0 and ax.get_xlim()[1] > 30
    assert ax.get_title() == "30 steps in 0.2 min"
    # Many rows: one point per row, validation only where measured.
    history = _history(400, 20)
    fig = training_curve_figure(history)
    train, validation = fig.axes[0].get_lines()[:2]
    assert list(train.get_xdata()) == [r["step"] for r in history]
    assert list(validation.get_xdata()) == list(range(40, 401, 40))
    assert train.get_label() == f"train (last {history[-1]['train_loss']:.3f})"
    path = plot_training_curve(history, tmp_path / "curve.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
