"""timbral: differentiable digital signal processing (DDSP) and timbre transfer in PyTorch.

The most used entry points are importable from here (loaded on first use, so
``import timbral`` stays quick): :func:`load_model`, :func:`list_models`,
:func:`compute_audio_features`, :func:`load_audio`, :func:`save_audio`, and
``transfer`` (the :mod:`timbral.transfer` module, callable as the function).
"""

import importlib
import os

__version__ = "0.1.0"

# onnxruntime (transcription, the stream's networks, export checks) starts Microsoft's
# telemetry on import unless told not to: it left a session file in the temporary folder
# of every process. timbral sends nothing anywhere; set to 0 to let onnxruntime decide.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

_LAZY = {
    "load_model": "timbral.zoo",
    "list_models": "timbral.zoo",
    "compute_audio_features": "timbral.features",
    "load_audio": "timbral.audio",
    "save_audio": "timbral.audio",
    "transfer": "timbral.transfer",
}


def __getattr__(name: str):
    if name == "transfer":  # the callable subpackage itself
        return importlib.import_module("timbral.transfer")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'timbral' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
