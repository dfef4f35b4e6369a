"""Model folders: how a trained model is stored.

A model folder holds these files, none of them a pickle:

- ``config.json``: the model config (:mod:`timbral.models.config`);
- ``model.safetensors``: the weights;
- ``statistics.json``: dataset statistics for auto-adjust (optional);
- ``expression.json``: how the instrument phrases, for playing it from MIDI
  (optional; :mod:`timbral.midi.expression` measures and reads it);
- ``model_card.md``: how it was trained and how good it is.

:func:`save_model_folder` writes them all at once (a temporary folder renamed
into place); :func:`read_model_folder` checks every file before building the
model, so a missing or mismatched file gives one clear error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from ..files import atomic_output, save_tensors
from ..validation import check_document
from .autoencoder import Autoencoder

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATISTICS_FILE = "statistics.json"
CARD_FILE = "model_card.md"
EXPRESSION_FILE = "expression.json"
#: An unfinished training run's checkpoint, in the model folder's ``train/``.
CHECKPOINT_FILE = "checkpoint.safetensors"
EXPRESSION_FORMAT, EXPRESSION_VERSION = "timbral.expression", 1


def is_model_folder(path) -> bool:
    """Whether ``path`` looks like a timbral model folder (has a config.json)."""
    return (Path(path) / CONFIG_FILE).is_file()


def save_model_folder(folder, model: Autoencoder, statistics: Optional[dict] = None,
                      card: str = "", overwrite: bool = False,
                      expression: Optional[dict] = None) -> Path:
    """Write ``model`` (and its statistics, expression profile and card) as a model folder.

    Refuses a folder that already holds a model unless ``overwrite``; other
    files in it (e.g. a training run's ``train/``) are left alone. Every file
    is written atomically, ``config.json`` last: a folder counts as a model
    only once its config exists, and a crash mid-way leaves either the old
    files or the new ones in each place.
    """
    folder = Path(folder)
    if is_model_folder(folder) and not overwrite:
        raise FileExistsError(f"{folder} already holds a model; choose another folder or pass "
                              f"--overwrite")
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_tensors(folder / WEIGHTS_FILE, weights, {"format": "timbral.model"}, overwrite=True)
    if statistics is not None:
        with atomic_output(folder / STATISTICS_FILE, overwrite=True) as tmp:
            tmp.write_text(json.dumps(statistics) + "\n")
    if expression is not None:
        save_expression(folder, expression)
    with atomic_output(folder / CARD_FILE, overwrite=True) as tmp:
        tmp.write_text(card or f"# {folder.name}\n")
    with atomic_output(folder / CONFIG_FILE, overwrite=True) as tmp:
        tmp.write_text(json.dumps(model.config, indent=1) + "\n")
    return folder


def save_expression(folder, expression: dict) -> Path:
    """Write (or replace) a folder's ``expression.json`` atomically; returns its path."""
    path = Path(folder) / EXPRESSION_FILE
    check_document(expression, "expression", EXPRESSION_FORMAT, EXPRESSION_VERSION)
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(expression, allow_nan=False) + "\n")
    return path


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path.parent}: missing {path.name}; a model folder needs "
                         f"{CONFIG_FILE} and {WEIGHTS_FILE}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError(f"{path}: nested too deeply to read; is this the file you meant?") \
            from None


def read_model_folder(folder) -> Autoencoder:
    """Build the model stored in ``folder``, in eval mode.

    Its ``statistics`` attribute holds statistics.json's data unchecked (None
    when the folder has none), ``expression`` expression.json's (its header
    checked here, its contents by :mod:`timbral.midi.expression` when played;
    None when absent) and ``card`` the model card. Raises ValueError
    naming the file at fault for a missing file, invalid JSON, a config that
    does not describe a model, or weights that do not fit the config.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    config = _read_json(folder / CONFIG_FILE)
    try:
        model = Autoencoder(config)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{folder / CONFIG_FILE}: {exc}") from None
    weights_path = folder / WEIGHTS_FILE
    if not weights_path.is_file():
        raise ValueError(f"{folder}: missing {WEIGHTS_FILE}")
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{weights_path}: unreadable weights ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{weights_path}: does not match {CONFIG_FILE} (missing "
                         f"{missing[:3]}, unexpected {unexpected[:3]})")
    for name, value in weights.items():
        if value.shape != expected[name].shape:
            raise ValueError(f"{weights_path}: {name} has shape {list(value.shape)}, "
                             f"{CONFIG_FILE} implies {list(expected[name].shape)}")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(f"{weights_path}: {name} holds NaN or infinite values")
    model.load_state_dict(weights)
    stats_path = folder / STATISTICS_FILE
    model.statistics = _read_json(stats_path) if stats_path.exists() else None
    expression_path = folder / EXPRESSION_FILE
    model.expression = _read_json(expression_path) if expression_path.exists() else None
    if model.expression is not None:
        check_document(model.expression, str(expression_path), EXPRESSION_FORMAT,
                       EXPRESSION_VERSION)
    card_path = folder / CARD_FILE
    model.card = card_path.read_text() if card_path.exists() else ""
    model.name = config.get("name") or folder.name
    return model.eval()
