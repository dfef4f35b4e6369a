"""Timbre transfer: auto-adjust of an input toward a model's training data."""

from .adjust import (KEY_NAMES, MAX_F0_HZ, MAX_MIDI, AdjustResult, apply_manual_shifts,
                     auto_adjust, auto_tune, fit_quantile_transform, get_tuning_factor,
                     infer_major_key, octave_shift_to_dataset, shift_f0, shift_ld)

__all__ = ["AdjustResult", "auto_adjust", "apply_manual_shifts", "fit_quantile_transform",
           "get_tuning_factor", "auto_tune", "infer_major_key", "shift_f0", "shift_ld",
           "octave_shift_to_dataset", "MAX_MIDI", "MAX_F0_HZ", "KEY_NAMES"]
