"""Input checks shared by every layer: one clear ``ValueError`` per bad input.

Functions here turn array-likes into tensors, add the batch dimension where
Magenta's API allows it to be missing, and name the offending argument and the
shape that was expected. They do no signal processing.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Optional

import numpy as np
import torch

from .options import DEVICES


def as_tensor(x, name: str = "input") -> torch.Tensor:
    """Return ``x`` as a floating-point tensor.

    Tensors keep their dtype and device when float32 or float64; half-precision
    and integer tensors, numpy arrays, lists and scalars become float32.
    """
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise ValueError(f"{name}: expected real numbers, got a tensor of {x.dtype}")
        if x.is_meta:
            raise ValueError(f"{name}: a tensor on the 'meta' device holds no values; give "
                             f"one on the CPU or a GPU")
        return x if x.dtype in (torch.float32, torch.float64) else x.to(torch.float32)
    try:
        arr = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - re-raised with the argument's name
        raise ValueError(f"{name}: expected a tensor or array, got {type(x).__name__}") from exc
    if arr.dtype == object or np.iscomplexobj(arr) or \
            not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name}: expected real numbers, got an array of {arr.dtype}")
    dtype = torch.float64 if arr.dtype == np.float64 else torch.float32
    return torch.as_tensor(np.ascontiguousarray(arr), dtype=dtype)  # torch refuses negative strides


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise if ``x`` holds NaN or infinite values."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: contains NaN or infinite values; clean the input first")
    return x


def check_size(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, raising unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def check_positive(value, name: str) -> float:
    """Return ``value`` as a float, raising unless it is finite and > 0."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a positive number, got {value!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive number, got {value}")
    return value


def check_bool(value, name: str) -> bool:
    """Raise unless ``value`` is True or False."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return value


def as_number(value, name: str) -> float:
    """``value`` as a float; a one-line ValueError for booleans and non-numbers."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None


def check_document(doc, name: str, format: str, version: int, hint: str = "") -> None:
    """Raise unless ``doc`` is a mapping with ``"format"`` ``format`` and
    ``"version"`` ``version`` (the header of every JSON file timbral writes)."""
    if not isinstance(doc, Mapping):
        raise ValueError(f"{name}: expected a JSON object, got {type(doc).__name__}")
    if doc.get("format") != format:
        raise ValueError(f"{name}: 'format' is {doc.get('format')!r}, expected {format!r}{hint}")
    if doc.get("version") != version:
        raise ValueError(f"{name}: version {doc.get('version')!r} is not supported "
                         f"(this timbral reads version {version})")


def check_number(value, name: str, minimum: Optional[float] = None,
                 maximum: Optional[float] = None) -> float:
    """Return ``value`` as a float, raising unless it is finite and within
    [``minimum``, ``maximum``] (either bound optional)."""
    value = as_number(value, name)
    too_low = minimum is not None and value < minimum
    too_high = maximum is not None and value > maximum
    if not math.isfinite(value) or too_low or too_high:
        if minimum is not None and maximum is not None:
            bound = f" from {minimum:g} to {maximum:g}"
        elif minimum is not None:
            bound = f" >= {minimum:g}"
        else:
            bound = f" <= {maximum:g}" if maximum is not None else ""
        raise ValueError(f"{name}: expected a finite number{bound}, got {value:g}")
    return value


def check_frame_blocks(n_samples: int, n_frames: int, name: str) -> None:
    """Raise unless ``n_frames`` blocks of ``ceil(n_samples / n_frames)`` samples
    cover ``n_samples`` exactly (the block rule of time-varying filters)."""
    block = -(-n_samples // n_frames)
    if n_frames > n_samples or -(-n_samples // block) != n_frames:
        raise ValueError(f"{name}: {n_frames} frames cannot split {n_samples} samples into "
                         f"equal blocks; use a number of frames that divides {n_samples}")


def check_choice(value, name: str, choices) -> str:
    """Raise unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
    return value


def check_seed(seed, name: str = "seed") -> int:
    """A random seed: an integer in [0, 2 ** 32)."""
    value = check_size(seed, name, 0)
    if value >= 2 ** 32:
        raise ValueError(f"{name}: expected an integer from 0 to {2 ** 32 - 1}, got {seed}")
    return value


#: Integer PCM sample formats (as soundfile, scipy.io.wavfile or wave read them) and
#: their zero and full scale.
PCM_FORMATS = {("i", 1): (0, 2 ** 7), ("u", 1): (2 ** 7, 2 ** 7), ("i", 2): (0, 2 ** 15),
               ("i", 4): (0, 2 ** 31)}  # (numpy kind, bytes), either byte order


def as_audio(x, name: str = "audio") -> torch.Tensor:
    """Audio as ``[batch, n_samples]``; a 1-D ``[n_samples]`` input gains a batch dim.
    Integer PCM (int8, uint8, int16, int32 arrays or tensors) is scaled to [-1, 1);
    other integers (int64: Python lists of ints) are taken as they are, with a
    warning when they pass full scale; booleans are refused."""
    if getattr(x, "dtype", None) in (bool, np.bool_, torch.bool):
        raise ValueError(f"{name}: expected samples, got booleans")
    integers = (not x.is_floating_point() if isinstance(x, torch.Tensor)
                else np.asarray(x).dtype.kind in "iu")
    if isinstance(x, torch.Tensor) and not x.is_floating_point():
        pcm = PCM_FORMATS.get(("u" if x.dtype == torch.uint8 else "i", x.element_size()))
        if pcm is not None:  # on the tensor's own device
            x = (x.to(torch.float32) - pcm[0]) / pcm[1]
    elif isinstance(x, np.ndarray) and (x.dtype.kind, x.dtype.itemsize) in PCM_FORMATS:
        zero, full = PCM_FORMATS[x.dtype.kind, x.dtype.itemsize]
        x = (x.astype(np.float32) - zero) / full
    x = as_tensor(x, name)
    if integers and x.numel() and float(x.abs().max()) > 1.0:  # PCM values in int64 (lists)
        warnings.warn(f"{name}: integer samples up to {float(x.abs().max()):.0f} are taken as "
                      f"they are, far past full scale (1.0); for PCM pass int16 or int32 "
                      f"arrays, or divide by their full scale", stacklevel=2)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"{name}: expected shape [batch, n_samples] or [n_samples], "
                         f"got {list(x.shape)}")
    if x.shape[-1] == 0:
        raise ValueError(f"{name}: has zero samples")
    return x


def as_mono_audio(x, name: str = "audio") -> np.ndarray:
    """Mono audio as contiguous float32 numpy ``[n_samples]`` (``[1, n_samples]``
    accepted), non-empty and finite."""
    x = as_audio(x, name)
    if x.shape[0] != 1:
        raise ValueError(f"{name}: expected mono [n_samples], got shape {list(x.shape)}")
    check_finite(x, name)
    return np.ascontiguousarray(x[0].detach().cpu().numpy(), dtype=np.float32)


def as_controls(x, name: str, channels: Optional[int] = None,
                finite: bool = True) -> torch.Tensor:
    """Frame-rate controls as ``[batch, n_frames, channels]``.

    Missing dimensions are added the way Magenta's processors accept them:
    ``[n_frames]`` -> ``[1, n_frames, 1]``; a 2-D input is ``[batch, n_frames]``
    when ``channels == 1`` (e.g. f0 or amplitudes) and ``[n_frames, channels]``
    otherwise. ``channels`` (if given) is checked. NaN/inf raise when ``finite``.
    """
    x = as_tensor(x, name)
    if x.ndim == 1:
        x = x[None, :, None]
    elif x.ndim == 2:
        x = x[..., None] if channels == 1 and x.shape[-1] != 1 else x[None]
    if x.ndim != 3:
        want = "[batch, n_frames, %s]" % (channels if channels is not None else "channels")
        raise ValueError(f"{name}: expected shape {want}, got {list(x.shape)}")
    if x.shape[1] == 0:
        raise ValueError(f"{name}: has zero frames")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: has an empty batch (shape {list(x.shape)})")
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(f"{name}: expected shape [batch, n_frames, {channels}], "
                         f"got {list(x.shape)}")
    if finite:
        check_finite(x, name)
    return x


def same_batch(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Raise unless ``a`` and ``b`` share the batch size (or one of them is 1)."""
    if a.shape[0] != b.shape[0] and 1 not in (a.shape[0], b.shape[0]):
        raise ValueError(f"{name_b}: batch size {b.shape[0]} does not match "
                         f"{name_a}'s {a.shape[0]}")


def check_device(device: str, name: str = "--device") -> str:
    """``device`` once it is usable here: one of :data:`DEVICES`, and for "cuda" a
    GPU PyTorch can reach (a one-line ValueError otherwise)."""
    check_choice(device, name, DEVICES)
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name} cuda: PyTorch sees no CUDA device here (no GPU, or a "
                         f"CPU-only build of PyTorch); use {name} cpu")
    return device
