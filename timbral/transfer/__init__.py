"""Timbre transfer: the notebook's flow (:func:`transfer`) and its auto-adjust maths.

``timbral.transfer(audio, sample_rate, model, ...)`` works too: this module
is callable and forwards to :func:`transfer`.
"""

import sys
import types

from ..features.notes import detect_notes
from .adjust import (KEY_NAMES, MAX_F0_HZ, MAX_MIDI, AdjustResult, apply_manual_shifts,
                     auto_adjust, auto_tune, fit_quantile_transform, get_tuning_factor,
                     infer_major_key, octave_shift_to_dataset, shift_f0, shift_ld)
from .pipeline import TransferResult, transfer

__all__ = ["AdjustResult", "TransferResult", "transfer", "auto_adjust", "apply_manual_shifts",
           "detect_notes", "fit_quantile_transform", "get_tuning_factor", "auto_tune",
           "infer_major_key", "shift_f0", "shift_ld", "octave_shift_to_dataset", "MAX_MIDI",
           "MAX_F0_HZ", "KEY_NAMES"]


class _CallableModule(types.ModuleType):
    """Lets ``timbral.transfer(...)`` call :func:`transfer` while ``from
    timbral.transfer import detect_notes`` keeps working."""

    def __call__(self, *args, **kwargs) -> TransferResult:
        return transfer(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
