"""Timbre transfer: the notebook's flow (:func:`transfer`), its auto-adjust maths
and its user-facing controls (:mod:`.controls`).

``timbral.transfer(audio, sample_rate, model, ...)`` works too: this module
is callable and forwards to :func:`transfer`. Names load on first use, so
``timbral.transfer.controls`` (the command line, the web app) does not load
the models.
"""

import importlib
import sys
import types

#: Public name -> the module that defines it.
_LAZY = {
    **{name: "timbral.transfer.adjust" for name in (
        "KEY_NAMES", "MAX_F0_HZ", "MAX_MIDI", "AdjustResult", "apply_manual_shifts",
        "auto_adjust", "auto_tune", "fit_quantile_transform", "get_tuning_factor",
        "infer_major_key", "octave_shift_to_dataset", "shift_f0", "shift_ld")},
    **{name: "timbral.transfer.controls" for name in ("CONTROLS", "check_controls")},
    "detect_notes": "timbral.features.notes",
    "TransferResult": "timbral.transfer.pipeline",
    "transfer": "timbral.transfer.pipeline",
}

__all__ = ["AdjustResult", "TransferResult", "transfer", "auto_adjust", "apply_manual_shifts",
           "detect_notes", "fit_quantile_transform", "get_tuning_factor", "auto_tune",
           "infer_major_key", "shift_f0", "shift_ld", "octave_shift_to_dataset", "MAX_MIDI",
           "MAX_F0_HZ", "KEY_NAMES", "CONTROLS", "check_controls"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'timbral.transfer' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


class _CallableModule(types.ModuleType):
    """Lets ``timbral.transfer(...)`` call :func:`transfer` while ``from
    timbral.transfer import detect_notes`` keeps working."""

    def __call__(self, *args, **kwargs):
        from .pipeline import transfer

        return transfer(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
