"""Spectral features of audio: STFT, magnitudes, mel/MFCC, loudness, power.

Pure tensor functions with Magenta's ``ddsp.spectral_ops`` names and
definitions (v3.7), so features computed here match features computed there
(float32 tolerance). Every function is differentiable, keeps the dtype
(float32 or float64) and device of its input, and accepts audio as
``[batch, n_samples]`` or ``[n_samples]`` (treated as a batch of one; outputs
always carry the batch dimension, as in :mod:`timbral.core`).

Framing rules (``padding``), for ``n`` samples, frame size ``N``, hop ``H``:

- ``'center'``: ``N // 2`` zeros on both ends, frame ``i`` centred on sample
  ``i * H``; ``n // H + 1`` frames (4 s at 16 kHz, hop 64: 1001).
- ``'same'``: frames start at sample 0, zeros at the end only;
  ``ceil(n / H)`` frames (1000). ``stft(pad_end=True)`` frames this way.
- ``'valid'``: no padding; ``(n - N) // H + 1`` frames.

Deviations from Magenta, on purpose:

- the hop is ``round(frame_size * (1 - overlap))``, not ``int(...)``, so
  float error (``1000 * (1 - 0.9) = 99.99...``) cannot shorten it by one;
- ``compute_loudness`` uses an FFT of exactly ``n_fft`` points (Magenta rounds
  up to a power of two and then fails for other sizes) and refuses a
  ``frame_rate`` that does not divide ``sample_rate`` (Magenta silently uses
  ``sample_rate // frame_rate`` and the frames drift off the stated rate).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from ..validation import (
    as_audio,
    check_choice,
    check_finite,
    check_positive,
    check_size,
)
from .conversions import power_to_db, safe_log
from .filters import next_power_of_2, overlap_add

PADDINGS = ("center", "same", "valid")

# Loudness definitions: the defaults each one implies (see compute_loudness).
LOUDNESS_DEFINITIONS = {
    "v2": {"n_fft": 512, "range_db": 80.0, "ref_db": 0.0, "padding": "center"},
    "v1": {"n_fft": 2048, "range_db": 120.0, "ref_db": 20.7, "padding": "same"},
}

_A_WEIGHTING_POLES_HZ = (12194.217, 20.598997, 107.65265, 737.86223)


def loudness_window(definition: str, hop: int) -> int:
    """The loudness window (samples) of ``definition`` for frames ``hop`` samples
    apart: its ``n_fft``, or the next power of two from ``hop`` when frames are
    further apart than that (a 48 kHz model at 50 frames/s: 1024), so that no
    sample goes unheard. :func:`compute_loudness` scales v2's power by ``n_fft /
    window`` then, so a tone or a noise reads the same level in either window (v1,
    an average of dB over bins, is left as Magenta defines it)."""
    check_choice(definition, "definition", tuple(LOUDNESS_DEFINITIONS))
    return max(LOUDNESS_DEFINITIONS[definition]["n_fft"], next_power_of_2(int(hop)))


# Framing ----------------------------------------------------------------------
def hop_from_overlap(frame_size: int, overlap: float) -> int:
    """Hop in samples for frames of ``frame_size`` overlapping by ``overlap`` in [0, 1)."""
    overlap = float(overlap)
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap: expected a fraction in [0, 1), got {overlap}")
    hop = round(frame_size * (1.0 - overlap))
    if hop < 1:
        raise ValueError(f"overlap: {overlap} leaves a hop of 0 samples for "
                         f"frame_size {frame_size}")
    return hop


def padding_amounts(n_samples: int, frame_size: int, hop_size: int,
                    padding: str = "center") -> tuple[int, int]:
    """Zeros added at the start and at the end before framing (see module doc)."""
    check_choice(padding, "padding", PADDINGS)
    if padding == "valid":
        return 0, 0
    if hop_size > frame_size:
        raise ValueError(f"padding: {padding!r} needs hop_size ({hop_size}) <= "
                         f"frame_size ({frame_size}); frames would skip samples")
    if padding == "center":
        return frame_size // 2, frame_size // 2
    n_frames = -(-n_samples // hop_size)
    return 0, (n_frames - 1) * hop_size + frame_size - n_samples


def get_framed_lengths(input_length: int, frame_size: int, hop_size: int,
                       padding: str = "center") -> tuple[int, int]:
    """``(n_frames, padded_length)`` of framing ``input_length`` samples.

    Raises ValueError when not even one frame fits (``'valid'`` with fewer
    samples than ``frame_size``).
    """
    left, right = padding_amounts(input_length, frame_size, hop_size, padding)
    padded_length = input_length + left + right
    if padded_length < frame_size:
        raise ValueError(f"audio: {input_length} samples are shorter than one frame "
                         f"({frame_size}) with padding={padding!r}")
    return (padded_length - frame_size) // hop_size + 1, padded_length


class _FramedRfft(torch.autograd.Function):
    """Pad, cut into hops, window, real FFT: ``[B, n] -> [B, n_frames, fft // 2 + 1]``.

    Written out because autograd's backward of ``rfft`` runs a full complex FFT
    and the backward of ``unfold`` is slow; the adjoint here is one ``irfft``
    (the one-sided spectrum's inner bins count twice) and a strided
    overlap-add, which makes the multi-scale loss about 15 % faster.
    """

    @staticmethod
    def forward(ctx, audio, window, hop, fft_size, pad_left, pad_right):
        padded = F.pad(audio, (pad_left, pad_right))
        frames = padded.unfold(-1, window.shape[0], hop) * window
        ctx.save_for_backward(window)
        ctx.layout = (audio.shape[-1], hop, fft_size, pad_left)
        return torch.fft.rfft(frames, n=fft_size)

    @staticmethod
    def backward(ctx, grad_spectrum):
        (window,) = ctx.saved_tensors
        n_samples, hop, fft_size, pad_left = ctx.layout
        bin_weight = torch.full((grad_spectrum.shape[-1], 1), 0.5, dtype=window.dtype,
                                device=window.device)
        bin_weight[0] = 1.0
        if fft_size % 2 == 0:
            bin_weight[-1] = 1.0
        # Real arithmetic on the (re, im) view: a complex x real product would
        # first convert the weights to complex.
        weighted = torch.view_as_complex(torch.view_as_real(grad_spectrum) * bin_weight)
        grad_frames = torch.fft.irfft(weighted, n=fft_size, norm="forward")
        grad_frames = grad_frames[..., :window.shape[0]] * window
        grad_padded = overlap_add(grad_frames, hop)
        missing = pad_left + n_samples - grad_padded.shape[-1]
        grad_padded = F.pad(grad_padded, (0, max(missing, 0)))
        return grad_padded[..., pad_left:pad_left + n_samples], None, None, None, None, None


def framed_stft(audio: torch.Tensor, frame_size: int, hop: int, fft_size: int,
                padding: str = "same") -> torch.Tensor:
    """Periodic-Hann STFT of already validated ``[batch, n_samples]`` audio.

    The engine of every function here, for callers that validated their audio
    once (e.g. a loss over many FFT sizes): frames of ``frame_size`` every
    ``hop`` samples, framed by ``padding``, each zero-padded at its end to
    ``fft_size`` points. Returns complex ``[batch, n_frames, fft_size // 2 + 1]``.
    """
    get_framed_lengths(audio.shape[-1], frame_size, hop, padding)  # raises if no frame fits
    left, right = padding_amounts(audio.shape[-1], frame_size, hop, padding)
    window = torch.hann_window(frame_size, periodic=True, dtype=audio.dtype, device=audio.device)
    return _FramedRfft.apply(audio, window, hop, fft_size, left, right)


class _Magnitude(torch.autograd.Function):
    """``|X|`` of a complex tensor, about 3x cheaper than ``torch.abs`` both ways.

    ``sqrt(re^2 + im^2)`` without hypot's overflow guard (spectra of audio are
    far from float overflow); the gradient ``g * X / |X|`` reuses the saved
    magnitude and is 0 where ``|X| = 0``.
    """

    @staticmethod
    def forward(ctx, spectrum):
        mag = (spectrum.real.square() + spectrum.imag.square()).sqrt()
        ctx.save_for_backward(spectrum, mag)
        return mag

    @staticmethod
    def backward(ctx, grad_mag):
        spectrum, mag = ctx.saved_tensors
        scale = torch.where(mag > 0, grad_mag / mag, 0.0)
        # Real arithmetic on the (re, im) view: complex x real would convert first.
        return torch.view_as_complex(torch.view_as_real(spectrum) * scale[..., None])


def magnitude(spectrum: torch.Tensor) -> torch.Tensor:
    """``|spectrum|`` (same shape, real dtype), with a fast, NaN-free gradient."""
    return _Magnitude.apply(spectrum)


def _audio_arg(audio, name: str = "audio") -> torch.Tensor:
    """Validate audio once: ``[batch, n_samples]`` floating tensor without NaN/inf."""
    return check_finite(as_audio(audio, name), name)


# STFT and magnitudes ------------------------------------------------------------
def stft(audio, frame_size: int = 2048, overlap: float = 0.75,
         pad_end: bool = True) -> torch.Tensor:
    """Short-time Fourier transform, as ``tf.signal.stft`` in Magenta's ``stft``.

    Frames of ``frame_size`` samples start at sample 0 every ``hop =
    frame_size * (1 - overlap)`` samples; with ``pad_end`` the end is
    zero-padded so ``n_frames = ceil(n_samples / hop)``, else only whole frames
    are kept. Each frame is multiplied by a periodic Hann window and
    zero-padded at its end to the next power of two >= ``frame_size``.

    Args:
      audio: ``[batch, n_samples]`` or ``[n_samples]``.

    Returns:
      Complex ``[batch, n_frames, fft_size // 2 + 1]``, unnormalised.
    """
    audio = _audio_arg(audio)
    frame_size = check_size(frame_size, "frame_size")
    hop = hop_from_overlap(frame_size, overlap)
    padding = "same" if pad_end else "valid"
    return framed_stft(audio, frame_size, hop, next_power_of_2(frame_size), padding)


def compute_mag(audio, size: int = 2048, overlap: float = 0.75,
                pad_end: bool = True) -> torch.Tensor:
    """Magnitude |STFT| (not power) ``[batch, n_frames, bins]``; see :func:`stft`."""
    return magnitude(stft(audio, size, overlap, pad_end))


def compute_logmag(audio, size: int = 2048, overlap: float = 0.75,
                   pad_end: bool = True) -> torch.Tensor:
    """Natural log magnitude ``safe_log(|STFT|)`` ``[batch, n_frames, bins]``."""
    return safe_log(compute_mag(audio, size, overlap, pad_end))


# Mel and MFCC -------------------------------------------------------------------
def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """HTK mel scale (as tf.signal): ``1127 * ln(1 + hz / 700)``."""
    return 1127.0 * torch.log1p(hz / 700.0)


@functools.lru_cache(maxsize=32)
def _mel_matrix(num_mel_bins: int, num_spectrogram_bins: int, sample_rate: float,
                lower_edge_hertz: float, upper_edge_hertz: float) -> torch.Tensor:
    """float64 CPU copy of :func:`linear_to_mel_weight_matrix` (cached; never mutated)."""
    bin_hz = torch.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins, dtype=torch.float64)
    bin_mel = _hz_to_mel(bin_hz[1:])[:, None]  # DC is excluded, as tf.signal does
    edge_hz = torch.tensor([lower_edge_hertz, upper_edge_hertz], dtype=torch.float64)
    lower_mel, upper_mel = _hz_to_mel(edge_hz).tolist()
    edges = torch.linspace(lower_mel, upper_mel, num_mel_bins + 2, dtype=torch.float64)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel - lower) / (center - lower)
    falling = (upper - bin_mel) / (upper - center)
    weights = torch.minimum(rising, falling).clamp_min(0.0)
    return F.pad(weights, (0, 0, 1, 0))


def linear_to_mel_weight_matrix(num_mel_bins: int = 64, num_spectrogram_bins: int = 1025,
                                sample_rate: float = 16000, lower_edge_hertz: float = 0.0,
                                upper_edge_hertz: float = 8000.0,
                                dtype: torch.dtype = torch.float32,
                                device: torch.device | None = None) -> torch.Tensor:
    """Mel filterbank ``[num_spectrogram_bins, num_mel_bins]``, as ``tf.signal``.

    Filter ``m`` is a triangle in HTK mel space rising from edge ``m`` to 1 at
    edge ``m + 1`` and falling to 0 at edge ``m + 2``, the ``num_mel_bins + 2``
    edges equally spaced in mel from ``lower_edge_hertz`` to
    ``upper_edge_hertz``. No area normalisation; the DC bin (row 0) is all
    zeros. Spectrogram bin ``k`` sits at ``k * sample_rate / 2 /
    (num_spectrogram_bins - 1)`` Hz.
    """
    num_mel_bins = check_size(num_mel_bins, "num_mel_bins")
    num_spectrogram_bins = check_size(num_spectrogram_bins, "num_spectrogram_bins", 2)
    sample_rate = check_positive(sample_rate, "sample_rate")
    lower, upper = float(lower_edge_hertz), float(upper_edge_hertz)
    if lower < 0.0:
        raise ValueError(f"lo_hz (lower_edge_hertz): expected >= 0 Hz, got {lower}")
    if upper <= lower:
        raise ValueError(f"hi_hz (upper_edge_hertz): expected > lo_hz ({lower} Hz), "
                         f"got {upper}")
    if upper > sample_rate / 2.0:
        raise ValueError(f"hi_hz (upper_edge_hertz): {upper} Hz is above the Nyquist "
                         f"frequency ({sample_rate / 2.0} Hz)")
    matrix = _mel_matrix(num_mel_bins, num_spectrogram_bins, sample_rate, lower, upper)
    return matrix.to(dtype=dtype, device=device)


def compute_mel(audio, lo_hz: float = 0.0, hi_hz: float = 8000.0, bins: int = 64,
                fft_size: int = 2048, overlap: float = 0.75, pad_end: bool = True,
                sample_rate: float = 16000) -> torch.Tensor:
    """Mel-weighted magnitudes ``[batch, n_frames, bins]`` (|STFT| x mel matrix)."""
    mag = compute_mag(audio, fft_size, overlap, pad_end)
    matrix = linear_to_mel_weight_matrix(bins, mag.shape[-1], sample_rate, lo_hz, hi_hz,
                                         dtype=mag.dtype, device=mag.device)
    return mag @ matrix


def compute_logmel(audio, lo_hz: float = 80.0, hi_hz: float = 7600.0, bins: int = 64,
                   fft_size: int = 2048, overlap: float = 0.75, pad_end: bool = True,
                   sample_rate: float = 16000) -> torch.Tensor:
    """``safe_log`` of :func:`compute_mel` ``[batch, n_frames, bins]`` (Magenta's defaults)."""
    return safe_log(compute_mel(audio, lo_hz, hi_hz, bins, fft_size, overlap, pad_end,
                                sample_rate))


def mfcc_matrix(num_mel_bins: int, dtype: torch.dtype = torch.float32,
                device: torch.device | None = None) -> torch.Tensor:
    """The DCT-II of ``tf.signal.mfccs_from_log_mel_spectrograms``, ``[M, M]`` for M mel bins.

    ``mfcc = logmel @ matrix``, i.e. ``mfcc[k] = sqrt(2 / M) * sum_m logmel[m]
    * cos(pi * k * (m + 0.5) / M)``: TF's unnormalised DCT-II scaled by ``1 /
    sqrt(2 M)``. That is the orthonormal DCT except coefficient 0, which is
    ``sqrt(2)`` larger (TF's scaling, kept for compatibility).
    """
    num_mel_bins = check_size(num_mel_bins, "num_mel_bins")
    m = torch.arange(num_mel_bins, dtype=torch.float64)
    k = m[None, :]
    dct = torch.cos(math.pi * k * (m[:, None] + 0.5) / num_mel_bins)
    return (dct * math.sqrt(2.0 / num_mel_bins)).to(dtype=dtype, device=device)


def compute_mfcc(audio, lo_hz: float = 20.0, hi_hz: float = 8000.0, fft_size: int = 1024,
                 mel_bins: int = 128, mfcc_bins: int = 13, overlap: float = 0.75,
                 pad_end: bool = True, sample_rate: float = 16000) -> torch.Tensor:
    """Mel-frequency cepstral coefficients ``[batch, n_frames, mfcc_bins]``.

    Log-mel (:func:`compute_logmel`) times :func:`mfcc_matrix`, first
    ``mfcc_bins`` coefficients, as Magenta.
    """
    mel_bins = check_size(mel_bins, "mel_bins")
    mfcc_bins = check_size(mfcc_bins, "mfcc_bins")
    if mfcc_bins > mel_bins:
        raise ValueError(f"mfcc_bins: expected <= mel_bins ({mel_bins}), got {mfcc_bins}")
    logmel = compute_logmel(audio, lo_hz, hi_hz, mel_bins, fft_size, overlap, pad_end,
                            sample_rate)
    matrix = mfcc_matrix(mel_bins, dtype=logmel.dtype, device=logmel.device)
    return logmel @ matrix[:, :mfcc_bins]


# Loudness and power ---------------------------------------------------------------
def a_weighting(frequencies, min_db: float = -80.0) -> torch.Tensor:
    """A-weighting in dB at ``frequencies`` (Hz), floored at ``min_db`` (librosa's curve).

    ``2 + 20 log10(p1^2 f^4 / ((f^2 + p1^2) (f^2 + p2^2) sqrt((f^2 + p3^2)
    (f^2 + p4^2))))`` with poles 12194.217, 20.598997, 107.65265, 737.86223 Hz;
    0 dB near 1 kHz, +1.3 dB at 2.5 kHz, ``min_db`` at 0 Hz.
    """
    f_sq = torch.as_tensor(frequencies, dtype=torch.float64) ** 2
    p1, p2, p3, p4 = (p ** 2 for p in _A_WEIGHTING_POLES_HZ)
    db = 2.0 + 20.0 * (math.log10(p1) + 2.0 * torch.log10(f_sq) - torch.log10(f_sq + p1)
                       - torch.log10(f_sq + p2) - 0.5 * torch.log10(f_sq + p3)
                       - 0.5 * torch.log10(f_sq + p4))
    return db.clamp_min(min_db)


@functools.lru_cache(maxsize=32)
def _bin_a_weighting(sample_rate: float, n_fft: int) -> torch.Tensor:
    """A-weighting (dB, float64, CPU; cached, never mutated) at the rfft bins."""
    return a_weighting(torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft)


def frame_hop(sample_rate, frame_rate) -> int:
    """Samples per frame, ``sample_rate / frame_rate``; raises unless it is a whole number."""
    sample_rate = check_positive(sample_rate, "sample_rate")
    frame_rate = check_positive(frame_rate, "frame_rate")
    hop = sample_rate / frame_rate
    if hop < 1 or not hop.is_integer():
        raise ValueError(f"frame_rate: {frame_rate} Hz must divide sample_rate "
                         f"({sample_rate} Hz) into whole samples per frame"
                         f"{whole_frame_rates(sample_rate, frame_rate)}")
    return int(hop)


def whole_frame_rates(sample_rate: float, frame_rate: float) -> str:
    """``"; try 5 or 8 frames/s"``: the whole frame rates nearest ``frame_rate``, below
    and above, that divide ``sample_rate`` (Hz) into whole samples ("" when the rate is
    not whole, or past 10 MHz)."""
    if not float(sample_rate).is_integer() or sample_rate > 10 ** 7:
        return ""
    rate = int(sample_rate)
    below = next((d for d in range(min(int(frame_rate), rate), 0, -1) if rate % d == 0), None)
    above = next(d for d in range(int(frame_rate) + 1, rate + 1) if rate % d == 0) \
        if frame_rate < rate else None
    return "; try " + " or ".join(f"{d}" for d in (below, above) if d) + " frames/s"


def compute_loudness(audio, sample_rate: float = 16000, frame_rate: float = 250,
                     n_fft: int | None = None, range_db: float | None = None,
                     ref_db: float | None = None, padding: str | None = None,
                     definition: str = "v2") -> torch.Tensor:
    """A-weighted loudness in dB, ``[batch, n_frames]``, one frame per ``1 / frame_rate`` s.

    Frames of ``n_fft`` samples every ``hop = sample_rate / frame_rate``
    samples (framed by ``padding``, see the module doc), periodic Hann window,
    unnormalised ``n_fft``-point FFT over the ``n_fft // 2 + 1`` bins, A-weights
    ``A`` from :func:`a_weighting` (``min_db=-80``) at the bin frequencies.

    ``definition='v2'`` (Magenta >= 2.0, the default): weighted power averaged
    over the bins, ``p = mean(|X|^2 * 10 ** (A / 10))``, then ``10 log10(max(p,
    10 ** (-range_db / 10))) - ref_db`` floored at ``-range_db``. Defaults:
    ``n_fft=512, range_db=80, ref_db=0, padding='center'``. At 16 kHz and
    250 Hz, 4 s give 1001 frames; a 0.5-amplitude 440 Hz sine reads +9.690 dB
    in steady state (+9.68 averaged over all 1001 frames, the ramps at the
    ends included) and +6.56 dB in the first frame; uniform white noise in
    [-1, 1] about +18.2 dB; silence -80 dB.

    ``definition='v1'`` (Magenta < 2.0, what its pretrained models were
    trained on): averaged in dB, per bin ``max(20 log10(max(|X|, 1e-20)) + A -
    ref_db, -range_db)``, then the mean over bins. Defaults: ``n_fft=2048,
    range_db=120, ref_db=20.7, padding='same'`` (frames start at sample 0:
    1000 frames for 4 s). Magenta v1 also trimmed the output to
    ``int(n_samples / sample_rate * frame_rate)`` frames, which only differs
    when ``n_samples`` is not a multiple of the hop (one frame fewer); that
    trim is not applied here.

    Arguments left at None take the definition's defaults (``n_fft``: at least a hop,
    :func:`loudness_window`). Raises ValueError
    for a ``frame_rate`` that does not divide ``sample_rate``.
    """
    check_choice(definition, "definition", tuple(LOUDNESS_DEFINITIONS))
    defaults = LOUDNESS_DEFINITIONS[definition]
    hop = frame_hop(sample_rate, frame_rate)
    # a window widened past the definition's reads the same level (v2's power grows with it)
    scale = defaults["n_fft"] / loudness_window(definition, hop) if n_fft is None else 1.0
    n_fft = check_size(loudness_window(definition, hop) if n_fft is None else n_fft, "n_fft", 2)
    range_db = check_positive(defaults["range_db"] if range_db is None else range_db, "range_db")
    ref_db = float(defaults["ref_db"] if ref_db is None else ref_db)
    padding = defaults["padding"] if padding is None else padding
    audio = _audio_arg(audio)
    spectrum = framed_stft(audio, n_fft, hop, n_fft, padding)
    weighting_db = _bin_a_weighting(float(sample_rate), n_fft).to(dtype=audio.dtype,
                                                                   device=audio.device)
    if definition == "v1":
        return _loudness_v1(spectrum, weighting_db, range_db, ref_db)
    power = spectrum.real.square() + spectrum.imag.square()
    mean_power = (power * torch.pow(10.0, weighting_db / 10.0)).mean(dim=-1) * scale
    return power_to_db(mean_power, ref_db, range_db, amin=10.0 ** (-range_db / 10.0))


def _loudness_v1(spectrum: torch.Tensor, weighting_db: torch.Tensor, range_db: float,
                 ref_db: float) -> torch.Tensor:
    """Magenta v1: A-weighted dB per bin, floored per bin, averaged over bins."""
    bin_db = 20.0 * torch.log10(magnitude(spectrum).clamp_min(1e-20)) + weighting_db - ref_db
    return bin_db.clamp_min(-range_db).mean(dim=-1)


def _frame_mean_square(audio: torch.Tensor, sample_rate, frame_rate, frame_size,
                       padding: str) -> torch.Tensor:
    """Mean of squares of un-windowed frames ``[B, n_frames]``."""
    hop = frame_hop(sample_rate, frame_rate)
    frame_size = check_size(frame_size, "frame_size")
    get_framed_lengths(audio.shape[-1], frame_size, hop, padding)  # raises if no frame fits
    left, right = padding_amounts(audio.shape[-1], frame_size, hop, padding)
    frames = F.pad(audio, (left, right)).unfold(-1, frame_size, hop)
    return frames.square().mean(dim=-1)


def compute_rms_energy(audio, sample_rate: float = 16000, frame_rate: float = 250,
                       frame_size: int = 512, padding: str = "center") -> torch.Tensor:
    """Root mean square of each (un-windowed) frame, ``[batch, n_frames]``, as Magenta."""
    audio = _audio_arg(audio)
    return _frame_mean_square(audio, sample_rate, frame_rate, frame_size, padding).sqrt()


def compute_power(audio, sample_rate: float = 16000, frame_rate: float = 250,
                  frame_size: int = 512, ref_db: float = 0.0, range_db: float = 80.0,
                  padding: str = "center") -> torch.Tensor:
    """Frame power in dB, ``[batch, n_frames]``: Magenta's ``compute_power``.

    ``10 log10(max(mean(frame^2), 10 ** (-range_db / 10))) - ref_db``, floored
    at ``-range_db`` (the dB of :func:`compute_rms_energy`). Computed from the
    mean square directly, so silence has a zero (not NaN) gradient.
    """
    audio = _audio_arg(audio)
    range_db = check_positive(range_db, "range_db")
    mean_square = _frame_mean_square(audio, sample_rate, frame_rate, frame_size, padding)
    return power_to_db(mean_square, float(ref_db), range_db, amin=10.0 ** (-range_db / 10.0))


__all__ = ['PADDINGS', 'LOUDNESS_DEFINITIONS', 'hop_from_overlap', 'padding_amounts', 'get_framed_lengths', 'framed_stft', 'magnitude', 'stft', 'compute_mag', 'compute_logmag', 'linear_to_mel_weight_matrix', 'compute_mel', 'compute_logmel', 'mfcc_matrix', 'compute_mfcc', 'a_weighting', 'frame_hop', 'compute_loudness', 'loudness_window', 'compute_rms_energy', 'compute_power']
