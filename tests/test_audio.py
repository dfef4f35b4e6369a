"""Reading audio files: formats, channels, rates, and every bad input."""

import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from timbral.audio import load_audio, resample_audio


def _tone(sr, seconds=1.0, hz=440.0, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    tone = 0.5 * np.sin(2 * np.pi * hz * t).astype(np.float32)
    return np.stack([tone] * channels, axis=1) if channels > 1 else tone


def _peak_hz(audio, sr):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return np.fft.rfftfreq(len(audio), 1 / sr)[spectrum.argmax()]


@pytest.mark.parametrize("ext, fmt, subtype", [("wav", "WAV", "PCM_16"), ("flac", "FLAC", None),
                                                ("ogg", "OGG", "VORBIS"), ("mp3", "MP3", None)])
def test_formats_decode_to_mono_float32(tmp_path, ext, fmt, subtype):
    path = tmp_path / f"tone.{ext}"
    sf.write(path, _tone(44100, channels=2), 44100, format=fmt, subtype=subtype)
    audio, sr = load_audio(path)
    assert sr == 44100 and audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 44100) < 2000  # lossy codecs may pad a little
    assert _peak_hz(audio, sr) == pytest.approx(440.0, abs=2.0)
    assert np.abs(audio).max() == pytest.approx(0.5, abs=0.05)


def test_resampling_keeps_frequency_and_length(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, _tone(48000, seconds=2.0, hz=1000.0), 48000, subtype="FLOAT")
    audio, sr = load_audio(path, sample_rate=16000)
    assert sr == 16000 and len(audio) == 32000
    assert _peak_hz(audio, 16000) == pytest.approx(1000.0, abs=1.0)
    # soxr HQ: a clean tone stays clean (no spur above -100 dB away from the tone).
    spectrum = np.abs(np.fft.rfft(audio[4000:-4000] * np.blackman(24000)))
    db = 20 * np.log10(spectrum / spectrum.max() + 1e-15)
    freqs = np.fft.rfftfreq(24000, 1 / 16000)
    assert db[np.abs(freqs - 1000) > 50].max() < -100


def test_channels_are_averaged(tmp_path):
    stereo = np.stack([np.full(1000, 0.5), np.full(1000, -0.1)], axis=1).astype(np.float32)
    sf.write(tmp_path / "st.wav", stereo, 16000, subtype="FLOAT")
    audio, _ = load_audio(tmp_path / "st.wav")
    assert np.allclose(audio, 0.2)


def test_resample_audio_identity():
    x = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    assert resample_audio(x, 16000, 16000) is x


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(b"this is not audio at all" * 20), "cannot decode"),
    (lambda p: sf.write(p, np.zeros(0, np.float32), 16000), "no audio samples"),
    (lambda p: sf.write(p, np.array([0.0, np.nan, 0.1], np.float32), 16000, subtype="FLOAT"),
     "NaN"),
])
def test_bad_files_give_one_line_errors(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(ValueError, match=message) as info:
        load_audio(path)
    assert "\n" not in str(info.value) and "bad.wav" in str(info.value)


def test_folder_and_absurd_rates_are_refused(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        load_audio(tmp_path)
    sf.write(tmp_path / "ok.wav", _tone(16000), 16000)
    for rate in (0, -16000, 10, 10**9, 22050.5):
        with pytest.raises(ValueError, match="sample rate"):
            load_audio(tmp_path / "ok.wav", sample_rate=rate)
    sf.write(tmp_path / "slow.wav", np.zeros(100, np.float32), 100)
    with pytest.raises(ValueError, match="slow.wav: sample rate"):
        load_audio(tmp_path / "slow.wav")


def test_integer_pcm_arrays_are_scaled_like_files():
    from timbral.validation import as_audio, as_mono_audio

    x = np.array([0.0, 0.5, -0.5, -1.0], np.float32)
    for dtype, scale, zero in ((np.int16, 32768, 0), (np.int32, 2 ** 31, 0), (np.int8, 128, 0),
                               (np.uint8, 128, 128)):
        pcm = (x * scale + zero).astype(dtype)
        np.testing.assert_allclose(as_mono_audio(pcm), x, atol=1e-6)
        np.testing.assert_allclose(as_audio(torch.from_numpy(pcm))[0].numpy(), x, atol=1e-6)
    big_endian = (x * 32768).astype(">i2")  # as a raw big-endian file reads
    np.testing.assert_allclose(as_mono_audio(big_endian), x, atol=1e-6)
    with pytest.raises(ValueError, match="expected real numbers"):
        as_audio(np.zeros(8, np.complex64))
    # int64 has no PCM scale: taken as it is, and said when that is past full scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(as_mono_audio(np.array([0, 1, -1])), [0, 1, -1])
    for pcm in ((x * 32768).astype(np.int64)[:3], [0, 16384, -16384]):  # a list too
        with pytest.warns(UserWarning, match="integer samples up to 16384 are taken as they"):
            as_mono_audio(pcm)


def test_save_audio_checks_the_rate_before_writing(tmp_path):
    from timbral.audio import save_audio

    x = np.zeros(1000, np.float32)
    for rate, says in ((44100.5, "44100.5 Hz is not a usable sample rate"),
                       (0, "0 Hz is not a usable sample rate"),
                       ("abc", "expected a sample rate in Hz, got 'abc'")):
        with pytest.raises(ValueError, match=says):
            save_audio(tmp_path / "a.wav", x, rate)
    with pytest.raises(ValueError, match="MP3 holds 8000, .* 48000 Hz, not 96000; write .wav"):
        save_audio(tmp_path / "a.mp3", x, 96000)
    with pytest.raises(ValueError, match="FLAC holds at most 655350 Hz, not 768000"):
        save_audio(tmp_path / "a.flac", x, 768000)
    with pytest.raises(ValueError, match="OGG holds at most 192000 Hz, not 384000"):
        save_audio(tmp_path / "a.ogg", x, 384000)  # libsndfile would crash the process
    assert list(tmp_path.iterdir()) == []
    assert sf.info(save_audio(tmp_path / "a.flac", x, 96000)).samplerate == 96000
