"""Each note's own loudness in a polyphonic recording, from the recording's envelope.

The recording's loudness ``L(t)`` (A-weighted dB, :func:`timbral.dsp.spectral.compute_loudness`,
the definition a model was trained on) is shared out among the notes sounding
at each frame by how much of the A-weighted power lies on their partials:

- a finer spectrogram (Hann window of about 0.1 s, the same frame centres)
  gives each frame's A-weighted power per bin;
- a note claims the bins at its first :data:`HARMONICS` partials (its key plus
  its median bend), each with its neighbours. Its power per bin where no other
  sounding note claims the bin is its *density*; a bin several notes claim is
  split in proportion to their densities (so a loud note's partial on a soft
  note's does not make the soft note loud). A note all of whose bins are
  shared (an octave above another) takes its even split as its density;
- note ``i``'s share ``s_i(t)`` is its claimed power over all sounding notes'
  (even shares where they hold none), and its loudness is
  ``L(t) + 10 log10 s_i(t)``: the notes' powers add up to the recording's.

So a chord's loud bass and soft melody keep their balance, a piano note's
decay is its own, and a model playing every note at its curve reproduces the
recording's dynamics. On rendered guitar and piano, a note a third or more
away from one 12-20 dB louder reads within about 5 dB of its level alone (the
louder one within 1.5 dB); a soft note a twelfth or an octave above a loud one,
whose partials all lie on the loud one's, reads up to 10 dB too loud.
"""

from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import numpy as np
import torch

from ..dsp.spectral import a_weighting, compute_loudness, frame_hop
from ..features.notes import DEFAULT_MIN_DB

#: Partials a note claims, and the neighbouring bins each takes on either side. Three:
#: higher partials of a low note drift (a piano's stretch) onto a higher note's and
#: are taken for it (a rendered piano's E4 under a C3 17 dB louder read 13 dB loud
#: with twelve partials, 5 dB with three).
HARMONICS = 3
NEIGHBOURS = 1
#: Length of the spectrogram's window (s), rounded up to a power of two samples.
WINDOW_SECONDS = 0.1
#: Smallest share of a frame's loudness a note is given (-60 dB).
MIN_SHARE = 1e-6


def note_frames(onset: float, offset: float, frame_rate: float, n_frames: int) -> Tuple[int, int]:
    """``(first, end)``: the frames (centred on ``i / frame_rate`` s) a note from
    ``onset`` to ``offset`` seconds covers, at least one, within ``n_frames``."""
    first = min(max(0, int(round(onset * frame_rate))), n_frames - 1)
    return first, min(n_frames, max(first + 1, int(round(offset * frame_rate))))


def note_loudness(audio: np.ndarray, sample_rate: int, notes: Sequence[Tuple[float, float, float]],
                  frame_rate: float, definition: str = "v2"
                  ) -> Tuple[np.ndarray, List[np.ndarray]]:
    """The recording's loudness and each note's (see the module doc).

    Args:
      audio: mono float32 ``[n_samples]``.
      sample_rate: its rate (Hz); ``sample_rate / frame_rate`` must be whole.
      notes: ``(onset s, offset s, MIDI pitch)`` each.
      frame_rate: frames per second (frame ``i`` centred on sample ``i * hop``).
      definition: the loudness definition, 'v2' or 'v1' (frames centred either way).

    Returns:
      ``(loudness_db, curves)``: float32 ``[n_samples // hop + 1]`` dB, and per note
      float32 dB over the frames :func:`note_frames` gives it.
    """
    hop = frame_hop(sample_rate, frame_rate)
    signal = torch.from_numpy(np.ascontiguousarray(audio, np.float32))
    total = compute_loudness(signal, sample_rate, frame_rate, padding="center",
                             definition=definition)[0].numpy()
    n_frames = len(total)
    n_fft = 2 ** math.ceil(math.log2(WINDOW_SECONDS * sample_rate))
    n_bins = n_fft // 2 + 1
    spans, bins_of = [], []
    for onset, offset, pitch in notes:
        f0 = 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)
        centres = np.round(f0 * np.arange(1, HARMONICS + 1) * n_fft / sample_rate).astype(int)
        bins = np.unique((centres[:, None] + np.arange(-NEIGHBOURS, NEIGHBOURS + 1)).ravel())
        bins_of.append(bins[(bins > 0) & (bins < n_bins)])
        spans.append(note_frames(onset, offset, frame_rate, n_frames))
    used = 1 + max((int(b.max()) for b in bins_of if len(b)), default=0)  # power above: unused
    spectrum = torch.stft(signal, n_fft, hop, window=torch.hann_window(n_fft), center=True,
                          pad_mode="constant", return_complex=True)[:used, :n_frames]
    weights = torch.pow(10.0, a_weighting(torch.fft.rfftfreq(n_fft, 1.0 / sample_rate)[:used])
                        / 10.0).float()
    power = ((spectrum.real.square() + spectrum.imag.square()) * weights[:, None]).T.numpy()
    claims = np.zeros(power.shape, np.float32)
    for (a, b), bins in zip(spans, bins_of):
        claims[a:b, bins] += 1.0
    # each note's power per partial bin where no other note lies (the median); its
    # bins split evenly where every one is shared (a note an octave above another)
    density = []
    for (a, b), bins in zip(spans, bins_of):
        own = claims[a:b, bins] == 1.0
        p = power[a:b, bins]
        density.append((p / claims[a:b, bins]).mean(axis=1) if len(bins)
                       else np.zeros(b - a))  # the even split
        rows = own.any(axis=1)
        if rows.any():  # the median: a stray partial of another note moves it little
            density[-1][rows] = np.nanmedian(np.where(own[rows], p[rows], np.nan), axis=1)
        density[-1] += 1e-30
    # a shared bin goes to its notes in proportion to those densities
    weights = np.zeros(power.shape, np.float64)
    for (a, b), bins, d in zip(spans, bins_of, density):
        weights[a:b, bins] += d[:, None]
    energy = [(power[a:b, bins] * d[:, None] / weights[a:b, bins]).sum(axis=1)
              for (a, b), bins, d in zip(spans, bins_of, density)]
    sounding = np.zeros(n_frames)
    count = np.zeros(n_frames)
    for (a, b), e in zip(spans, energy):
        sounding[a:b] += e
        count[a:b] += 1.0
    curves = []
    for (a, b), e in zip(spans, energy):
        share = np.where(sounding[a:b] > 0, e / np.where(sounding[a:b] > 0, sounding[a:b], 1.0),
                         1.0 / count[a:b])
        db = total[a:b] + 10.0 * np.log10(np.maximum(share, MIN_SHARE))
        curves.append(np.maximum(db, DEFAULT_MIN_DB).astype(np.float32))
    return total.astype(np.float32), curves


__all__ = ["HARMONICS", "note_frames", "note_loudness"]
