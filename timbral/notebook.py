"""Notebook helpers: audio players and inline pictures, as in Magenta's colab.

Everything here returns an object Jupyter displays by itself (an HTML5 player,
a picture with the matplotlib ``Figure`` inside); nothing needs IPython or a
particular matplotlib backend.

    import timbral
    from timbral.notebook import play, specplot, show_transfer

    result = timbral.transfer(audio, sr, "violin")
    play(result.audio, result.sample_rate)      # a player in the cell's output
    show_transfer(result)                        # notes, loudness and f0 plots
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import soundfile as sf
from matplotlib.figure import Figure

from .plots import specplot as _specplot
from .plots import spectrograms_figure, transfer_figure
from .validation import as_mono_audio

__all__ = ["Picture", "Player", "play", "specplot", "show_transfer", "compare"]


class Picture:
    """A matplotlib figure that notebooks show as a PNG (``.figure`` holds it)."""

    def __init__(self, figure: Figure):
        self.figure = figure

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        return buffer.getvalue()


class Player:
    """An HTML5 ``<audio>`` player with the audio embedded as 16-bit WAV.

    Jupyter shows it through :meth:`_repr_html_`; ``.wav_bytes`` holds the file.
    """

    def __init__(self, audio, sample_rate: int, title: str = "", autoplay: bool = False):
        samples = np.clip(as_mono_audio(audio), -1.0, 1.0)
        buffer = io.BytesIO()
        sf.write(buffer, samples, int(sample_rate), format="WAV", subtype="PCM_16")
        self.wav_bytes = buffer.getvalue()
        self.sample_rate = int(sample_rate)
        self.seconds = len(samples) / self.sample_rate
        self.title = title
        self.autoplay = bool(autoplay)

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.wav_bytes).decode("ascii")
        label = f"<div>{html.escape(self.title)}</div>" if self.title else ""
        autoplay = " autoplay" if self.autoplay else ""
        return (f'{label}<audio controls{autoplay} src="data:audio/wav;base64,{data}">'
                f"your browser cannot play audio</audio>")


def play(audio, sample_rate: int, title: str = "", autoplay: bool = False) -> Player:
    """A player for mono ``audio`` ``[n_samples]`` at ``sample_rate`` Hz."""
    return Player(audio, sample_rate, title, autoplay)


def specplot(audio, sample_rate: int = 16000, title: str = "", fft_size: int = 1024) -> Picture:
    """A log-magnitude spectrogram of mono ``audio``."""
    fig = Figure(figsize=(10, 3.5))
    _specplot(audio, sample_rate, fig.subplots(), fft_size=fft_size, title=title)
    return Picture(fig)


def show_transfer(result, title: str = "") -> Picture:
    """The notebook's plots for a transfer: note-on mask and threshold, original vs
    adjusted loudness and f0."""
    return Picture(transfer_figure(result, title))


def compare(audio_in, rate_in: int, result) -> Picture:
    """Spectrograms of a transfer's input and output."""
    return Picture(spectrograms_figure(audio_in, rate_in, result.audio, result.sample_rate))
