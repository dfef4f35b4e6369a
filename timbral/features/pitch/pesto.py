"""PESTO (Riou et al., ISMIR 2023): a 0.1 M-parameter pitch network on a VQT.

Rebuilt here and loaded with the ``mir-1k_g7`` weights that the
``pesto-pitch`` wheel ships. ``pesto`` itself is never imported (its top-level
import pulls torchaudio); its checkpoint is read with
``torch.load(weights_only=True)``, the few OmegaConf containers it pickles
being replaced by an inert stand-in (the architecture is fixed below, checked
by a strict state-dict load).

Pipeline, per frame centred on ``i * hop``: a variable-Q transform (251 bins,
3 per semitone from 27 Hz, Q ~ 51 with ``gamma = 7`` shortening the low
kernels, the longest 2126 samples at 16 kHz) -> log power -> the network ->
a softmax over 384 bins (1/3 semitone each, MIDI 0..127.7) -> the
activation-weighted average of the 5 bins around the argmax. Voicing
confidence: the checkpoint's small classifier on the VQT power spectrum.
"""

from __future__ import annotations

import collections
import functools
import math
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .base import PitchTracker, package_dir

SAMPLE_RATE = 16000
CHECKPOINT = "mir-1k_g7"
BINS_PER_SEMITONE = 3
N_VQT_BINS = 251
CROP = 16  # the network sees VQT bins 16 .. 234
N_OUT = 128 * BINS_PER_SEMITONE


def vqt_kernels(sample_rate: float, fmin: float = 27.5, n_bins: int = N_VQT_BINS,
                bins_per_octave: int = 12 * BINS_PER_SEMITONE, gamma: float = 7.0
                ) -> Tuple[torch.Tensor, torch.Tensor, int]:
    """PESTO's (nnAudio-style) VQT filters.

    Returns ``(kernels [n_bins, width] complex64, sqrt_lengths [n_bins], width)``:
    each kernel a periodic Hann of ``ceil(Q * sr / (f + gamma / alpha))``
    samples times a complex exponential at its bin frequency, L1-normalised
    and centred in ``width`` (a power of two) samples. Bin centres are
    shifted down by a third of a bin so bins sit on (fractional) semitones.
    """
    fmin = fmin / 2 ** ((BINS_PER_SEMITONE - 1) / (24 * BINS_PER_SEMITONE))
    freqs = fmin * 2.0 ** (np.arange(n_bins) / bins_per_octave)
    alpha = 2.0 ** (1.0 / bins_per_octave) - 1.0
    lengths = np.ceil((1.0 / alpha) * sample_rate / (freqs + gamma / alpha))
    width = int(2 ** np.ceil(np.log2(lengths.max())))
    kernels = np.zeros((n_bins, width), np.complex128)
    for k, (f, length) in enumerate(zip(freqs, lengths.astype(int))):
        start = math.ceil(width / 2 - length / 2) - (length % 2)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)  # periodic Hann
        n = np.arange(-(length // 2) - (length % 2), length // 2)
        sig = window * np.exp(2j * np.pi * f / sample_rate * n) / length
        kernels[k, start:start + length] = sig / np.abs(sig).sum()
    return (torch.from_numpy(kernels.astype(np.complex64)),
            torch.from_numpy(np.sqrt(lengths)).float(), width)


class PestoNet(torch.nn.Module):
    """VQT + PESTO encoder + confidence classifier; parameter names match the
    checkpoint's state dict.

    ``forward(audio [n_samples], hop, batch_frames)`` -> ``(activations
    [n_frames, 384], confidence [n_frames])`` with frames centred on
    ``i * hop``; the encoder runs ``batch_frames`` frames at a time.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE):
        super().__init__()
        kernels, sqrt_lengths, width = vqt_kernels(sample_rate)
        # conv output = sum x * conj(kernel): rows [real; -imag], scaled as librosa does
        weight = torch.cat([kernels.real, -kernels.imag]) * sqrt_lengths.repeat(2)[:, None]
        self.register_buffer("vqt_weight", weight[:, None, :], persistent=False)
        self.width = width
        enc = torch.nn.Module()
        enc.layernorm = torch.nn.LayerNorm([1, N_VQT_BINS - 2 * CROP])
        enc.conv1 = torch.nn.Sequential(torch.nn.Conv1d(1, 40, 39, padding=19))
        enc.prefilt_layers = torch.nn.ModuleList(
            [torch.nn.Sequential(torch.nn.Conv1d(40, 40, 39, padding=19)) for _ in range(2)])
        chans = [40, 30, 30, 10, 3]
        enc.conv_layers = torch.nn.ModuleDict(
            {str(3 * i): torch.nn.Conv1d(chans[i], chans[i + 1], 1) for i in range(4)})
        enc.fc = torch.nn.Conv1d(1, 1, 3 * (N_VQT_BINS - 2 * CROP) + N_OUT - 1,
                                 padding=N_OUT - 1, bias=False)  # PESTO's Toeplitz linear layer
        self.encoder = enc
        conf = torch.nn.Module()
        conf.conv = torch.nn.Conv1d(1, 1, 39, stride=3)
        conf.linear = torch.nn.Linear(72, 1)
        self.confidence = conf
        self.register_buffer("shift", torch.zeros(()))

    def vqt_power(self, audio: torch.Tensor, hop: int) -> torch.Tensor:
        """``[n_frames, 251]`` VQT power of 1-D ``audio``, frames centred on
        ``i * hop`` (reflect padding, zeros for inputs shorter than it)."""
        pad = self.width // 2
        x = audio[None, None]
        if x.shape[-1] <= pad:
            x = F.pad(x, (0, pad + 1 - x.shape[-1]))
        x = F.pad(x, (pad, pad), mode="reflect")
        out = F.conv1d(x, self.vqt_weight, stride=hop)[0]  # [2 * bins, frames]
        n_frames = audio.shape[-1] // hop + 1
        re, im = out[:N_VQT_BINS, :n_frames], out[N_VQT_BINS:, :n_frames]
        return (re.square() + im.square()).T

    def encode(self, log_power: torch.Tensor) -> torch.Tensor:
        """``[n, 1, 219]`` log power -> ``[n, 384]`` softmax activations."""
        enc, act = self.encoder, functools.partial(F.leaky_relu, negative_slope=0.3)
        x = act(enc.conv1(enc.layernorm(log_power)))
        for layer in enc.prefilt_layers:
            x = act(layer(x)) + x
        for i in range(4):
            x = act(enc.conv_layers[str(3 * i)](x))
        x = enc.fc(x.flatten(1)[:, None])[:, 0]
        return torch.softmax(x, dim=-1)

    def voicing(self, power: torch.Tensor) -> torch.Tensor:
        """``[n, 251]`` VQT power -> ``[n]`` voicing confidence in [0, 1]."""
        flatness = power.log().mean(-1, keepdim=True).exp() / power.mean(-1, keepdim=True).clamp_min(1e-8)
        x = F.relu(self.confidence.conv(power[:, None]))[:, 0]
        return torch.sigmoid(self.confidence.linear(torch.cat([x, flatness], -1)))[:, 0]

    def forward(self, audio: torch.Tensor, hop: int, batch_frames: int = 1024
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        eps = torch.finfo(torch.float32).eps
        power = self.vqt_power(audio, hop).clamp_min(eps * eps)  # |X| >= eps, as PESTO clamps
        log_power = power.log()[:, None, CROP:N_VQT_BINS - CROP]
        activations = torch.cat([self.encode(log_power[i:i + batch_frames])
                                 for i in range(0, log_power.shape[0], batch_frames)])
        shift = round(float(self.shift) * BINS_PER_SEMITONE)
        return activations.roll(-shift, -1), self.voicing(power)


class _Opaque:
    """Inert stand-in for the OmegaConf objects pickled in PESTO's checkpoint
    (only its hyper-parameter records use them; nothing is executed)."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


_OMEGACONF = ["omegaconf.listconfig.ListConfig", "omegaconf.dictconfig.DictConfig",
              "omegaconf.base.ContainerMetadata", "omegaconf.base.Metadata",
              "omegaconf.nodes.AnyNode", "typing.Any"]


@functools.lru_cache(maxsize=None)
def load_pesto(device: str = "cpu") -> PestoNet:
    """PESTO with the pesto-pitch wheel's ``mir-1k_g7`` weights, eval mode, cached."""
    path = package_dir("pesto") / "weights" / f"{CHECKPOINT}.ckpt"
    allowed = [(_Opaque, name) for name in _OMEGACONF] + [list, dict, int, float, str, bool,
                                                           collections.defaultdict]
    with torch.serialization.safe_globals(allowed):
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    net = PestoNet()
    net.load_state_dict(ckpt["state_dict"], strict=True)
    return net.eval().to(device)


def reduce_alwa(activations: torch.Tensor) -> torch.Tensor:
    """Argmax-local weighted average: ``[n, 384]`` -> ``[n]`` MIDI pitch."""
    center = activations.argmax(-1, keepdim=True)
    idx = (center + torch.arange(-2, 3, device=center.device)).clamp(0, activations.shape[-1] - 1)
    w = activations.gather(-1, idx)
    return (w * idx.to(w.dtype)).sum(-1) / w.sum(-1).clamp_min(1e-12) / BINS_PER_SEMITONE


class PestoTracker(PitchTracker):
    """PESTO mir-1k_g7. Confidence: PESTO's voicing classifier; voiced at
    >= 0.5. Its f0 is kept down to confidence 0.1: the classifier (trained on
    singing) gives high notes (> ~1 kHz) a low confidence while the pitch is
    right, and interpolating over them was measured to double the gross
    errors. The network costs ~30 M multiply-adds a frame, so a 4 ms hop is
    ~2.5x the cost of the 10 ms hop PESTO was trained at."""

    name = "pesto"
    sample_rate = SAMPLE_RATE
    voicing_threshold = 0.5
    fill_threshold = 0.1

    def __init__(self, device: str = "cpu", batch_frames: int = 1024):
        self.device = str(device)
        self.net = load_pesto(self.device)
        self.batch_frames = batch_frames

    def activations(self, audio: np.ndarray, hop_length: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """``([n_frames, 384] activations, [n_frames] confidence)`` of validated audio."""
        with torch.inference_mode():
            return self.net(torch.from_numpy(audio).to(self.device), hop_length,
                            self.batch_frames)

    def _track(self, audio, hop_length):
        act, conf = self.activations(audio, hop_length)
        midi = reduce_alwa(act)
        f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
        return f0.cpu().numpy().astype(np.float64), conf.cpu().numpy()
