"""Unit conversions and scalings: MIDI <-> Hz, decibels, the network output scaling.

Names and definitions follow Magenta's ``ddsp.core`` (v3.7).
"""

from __future__ import annotations

import math

import torch

from ..validation import as_tensor


def midi_to_hz(notes, midi_zero_silence: bool = False) -> torch.Tensor:
    """MIDI note numbers (float) -> Hz: ``440 * 2 ** ((m - 69) / 12)``.

    With ``midi_zero_silence`` notes <= 0 map to 0 Hz (silence).
    """
    notes = as_tensor(notes, "notes")
    hz = 440.0 * torch.pow(2.0, (notes - 69.0) / 12.0)
    return torch.where(notes <= 0.0, torch.zeros_like(hz), hz) if midi_zero_silence else hz


def hz_to_midi(frequencies) -> torch.Tensor:
    """Hz -> MIDI note numbers ``12 * log2(f / 440) + 69``; f <= 0 maps to 0."""
    f = as_tensor(frequencies, "frequencies")
    positive = f > 0.0
    notes = 12.0 * torch.log2(torch.where(positive, f, torch.ones_like(f)) / 440.0) + 69.0
    return torch.where(positive, notes, torch.zeros_like(notes))


def unit_to_midi(unit, midi_min: float = 20.0, midi_max: float = 90.0,
                 clip: bool = False) -> torch.Tensor:
    """Map [0, 1] linearly to MIDI notes [midi_min, midi_max]."""
    unit = as_tensor(unit, "unit")
    unit = unit.clamp(0.0, 1.0) if clip else unit
    return midi_min + (midi_max - midi_min) * unit


def midi_to_unit(midi, midi_min: float = 20.0, midi_max: float = 90.0,
                 clip: bool = False) -> torch.Tensor:
    """Map MIDI notes [midi_min, midi_max] linearly to [0, 1]."""
    unit = (as_tensor(midi, "midi") - midi_min) / (midi_max - midi_min)
    return unit.clamp(0.0, 1.0) if clip else unit


def unit_to_hz(unit, hz_min: float, hz_max: float, clip: bool = False) -> torch.Tensor:
    """Map [0, 1] to [hz_min, hz_max] Hz, logarithmically (linear in MIDI)."""
    lo, hi = (float(hz_to_midi(torch.tensor(v, dtype=torch.float64))) for v in (hz_min, hz_max))
    return midi_to_hz(unit_to_midi(unit, lo, hi, clip))


def hz_to_unit(hz, hz_min: float, hz_max: float, clip: bool = False) -> torch.Tensor:
    """Map [hz_min, hz_max] Hz to [0, 1], logarithmically (linear in MIDI)."""
    lo, hi = (float(hz_to_midi(torch.tensor(v, dtype=torch.float64))) for v in (hz_min, hz_max))
    return midi_to_unit(hz_to_midi(hz), lo, hi, clip)


def exp_sigmoid(x, exponent: float = 10.0, max_value: float = 2.0,
                threshold: float = 1e-7) -> torch.Tensor:
    """``max_value * sigmoid(x) ** log(exponent) + threshold``.

    Bounds outputs to [threshold, max_value]; away from 0 the output changes by
    a factor ``exponent`` per unit of x. Magenta's scale function for synth
    amplitudes and filter magnitudes.
    """
    x = as_tensor(x, "x")
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold


def safe_log(x, eps: float = 1e-5) -> torch.Tensor:
    """``log(x)`` where x > 0 and ``log(eps)`` where x <= 0.

    Small positive values are not clamped (Magenta's definition), so
    ``safe_log(1e-7) == log(1e-7)``. Gradients stay finite at x <= 0.
    """
    x = as_tensor(x, "x")
    positive = x > 0.0
    safe_x = torch.where(positive, x, torch.full_like(x, eps))
    return torch.log(safe_x)


def safe_divide(numerator, denominator, eps: float = 1e-7) -> torch.Tensor:
    """``numerator / denominator`` with zeros in the denominator replaced by ``eps``."""
    denominator = as_tensor(denominator, "denominator")
    safe = torch.where(denominator == 0.0, torch.full_like(denominator, eps), denominator)
    return as_tensor(numerator, "numerator") / safe


def power_to_db(power, ref_db: float = 0.0, range_db: float = 80.0,
                amin: float = 1e-20) -> torch.Tensor:
    """Power -> dB: ``10 log10(max(power, amin)) - ref_db``, floored at ``-range_db``."""
    power = as_tensor(power, "power")
    db = 10.0 * torch.log10(power.clamp_min(amin)) - ref_db
    return db.clamp_min(-range_db)


def amplitude_to_db(amplitude, ref_db: float = 0.0, range_db: float = 80.0,
                    amin: float = 1e-20) -> torch.Tensor:
    """Amplitude -> dB (of the power ``amplitude ** 2``), as Magenta's ``amplitude_to_db``."""
    amplitude = as_tensor(amplitude, "amplitude")
    return power_to_db(amplitude ** 2, ref_db, range_db, amin)


def db_to_power(db) -> torch.Tensor:
    """dB -> power: ``10 ** (db / 10)``."""
    return torch.pow(10.0, as_tensor(db, "db") / 10.0)


def db_to_amplitude(db) -> torch.Tensor:
    """dB -> amplitude: ``10 ** (db / 20)``."""
    return torch.pow(10.0, as_tensor(db, "db") / 20.0)


__all__ = ['midi_to_hz', 'hz_to_midi', 'unit_to_midi', 'midi_to_unit', 'unit_to_hz', 'hz_to_unit', 'exp_sigmoid', 'safe_log', 'safe_divide', 'power_to_db', 'amplitude_to_db', 'db_to_power', 'db_to_amplitude']
