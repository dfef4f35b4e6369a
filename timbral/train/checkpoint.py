"""Training checkpoints: model, optimiser and progress in one safetensors file.

One file, written to a temporary name and renamed over the old one, so a kill
at any moment leaves the previous checkpoint or the new one, never a torn
file. No pickles: tensors go in the safetensors payload, everything else
(config, step, optimiser hyper-parameters) in its JSON metadata.
"""

from __future__ import annotations

import json
from typing import Optional, Tuple

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open

from ..files import save_tensors

FORMAT = "timbral.checkpoint"


def save_checkpoint(path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    step: int, info: dict) -> None:
    """Write model weights, Adam state, ``step`` and ``info`` (JSON-able) to ``path``
    (atomically; a failed write raises a one-line OSError and keeps the old file)."""
    tensors = {f"model/{k}": v.detach().cpu().contiguous()
               for k, v in model.state_dict().items()}
    state = optimizer.state_dict()
    for index, slots in state["state"].items():
        for slot, value in slots.items():
            tensors[f"optimizer/{index}/{slot}"] = torch.as_tensor(value).detach().cpu()
    metadata = {"format": FORMAT, "step": str(int(step)),
                "param_groups": json.dumps(state["param_groups"]), "info": json.dumps(info)}
    save_tensors(path, tensors, metadata, overwrite=True)


def read_checkpoint_info(path) -> Tuple[int, dict]:
    """``(step, info)`` of a checkpoint without loading its tensors."""
    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{path}: unreadable checkpoint ({exc}); train into another "
                         f"--output, or delete that run's folder to start it again") from None
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path}: not a timbral training checkpoint")
    return int(metadata["step"]), json.loads(metadata["info"])


def load_checkpoint(path, model: torch.nn.Module,
                    optimizer: Optional[torch.optim.Optimizer] = None) -> Tuple[int, dict]:
    """Restore ``model`` (and ``optimizer``) from ``path``; returns ``(step, info)``."""
    step, info = read_checkpoint_info(path)
    tensors = load_file(str(path))
    weights = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise ValueError(f"{path}: does not fit the model ({str(exc).splitlines()[0]})") from None
    if optimizer is not None:
        with safe_open(str(path), "pt") as f:
            groups = json.loads(f.metadata()["param_groups"])
        slots: dict = {}
        for key, value in tensors.items():
            if key.startswith("optimizer/"):
                _, index, slot = key.split("/")
                slots.setdefault(int(index), {})[slot] = value
        optimizer.load_state_dict({"state": slots, "param_groups": groups})
    return step, info
