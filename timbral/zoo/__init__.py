"""Finding and loading models: shipped instruments, model folders, zips, Magenta folders.

:func:`load_model` is the one entry point: give it a shipped model's name
(``"violin"``), a timbral model folder, a zip of one, or a Magenta model
folder (or zip), and get an :class:`~timbral.models.Autoencoder` in eval mode
with its dataset statistics checked. Nothing is ever unpickled: Magenta's
statistics pickle goes through a restricted reader that only rebuilds numbers
and arrays.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Union

from ..data.statistics import validate_statistics
from ..files import safe_extract_zip
from ..interop.magenta import convert_magenta_folder, is_magenta_model
from ..models import Autoencoder, is_model_folder, read_model_folder
from ..models.folder import CARD_FILE, CHECKPOINT_FILE
from ..validation import check_device

#: Where the shipped model folders live (package data).
MODELS_DIR = Path(__file__).parent / "models"
#: A short recording made by the project (a rendered clarinet phrase) for demos.
EXAMPLE_CLIP = Path(__file__).parent.parent / "examples" / "clarinet.flac"


def shipped_models() -> Dict[str, Path]:
    """Shipped model name -> folder."""
    if not MODELS_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(MODELS_DIR.iterdir()) if is_model_folder(p)}


def card_summary(card: str) -> str:
    """A model card's one-line summary: for a shipped model its data's first
    sentence and its held-out loss, otherwise the card's first line of prose."""
    data = card.split("## Data", 1)[-1].strip().split("\n\n")[0] if "## Data" in card else ""
    first = data.split(". ")[0].rstrip(".")
    loss = next((line.split("|")[2].strip() for line in card.splitlines()
                 if line.startswith("| SpectralLoss")), "")
    if first:
        return f"{first}. Held-out SpectralLoss {loss}." if loss else f"{first}."
    prose = (line.strip() for line in card.splitlines())
    return next((line[:300] for line in prose
                 if line and not line.startswith(("#", "|", "-", "*", "```"))), "")


def list_models() -> List[dict]:
    """``[{"name", "path", "card"}]`` for every shipped model."""
    return [{"name": name, "path": str(path),
             "card": (path / CARD_FILE).read_text() if (path / CARD_FILE).exists() else ""}
            for name, path in shipped_models().items()]


def _model_root(path: Path, top: bool = True) -> Path:
    """The folder inside an extracted zip that holds the model (the top or its only child)."""
    if is_model_folder(path):
        return path
    children = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith("__MACOSX")]
    if len(children) == 1:
        return _model_root(children[0], top=False)
    if len(children) > 1 and top:  # several folders zipped; deeper, a model folder's own
        names = ", ".join(sorted(p.name for p in children)[:4])
        raise ValueError(f"the zip holds {len(children)} folders ({names}); zip one model's "
                         f"folder")
    raise ValueError("the zip holds no model folder (config.json and model.safetensors, or "
                     "Magenta's operative_config-0.gin and ckpt-*)")


def _load_magenta(path: Path, loudness_definition: Optional[str]) -> Autoencoder:
    config, state, statistics = convert_magenta_folder(path, loudness_definition)
    model = Autoencoder(config)
    model.load_state_dict(state)
    model.statistics = statistics
    model.name = path.stem if path.is_file() else path.name
    return model.eval()


def _load_folder(path: Path, loudness_definition: Optional[str]) -> Autoencoder:
    if is_model_folder(path):
        model = read_model_folder(path)
        own = model.config["loudness_definition"]
        if loudness_definition is not None and loudness_definition != own:
            warnings.warn(f"{model.name} learned {own} loudness; with {loudness_definition} "
                          f"it hears levels it never saw (v1 reads clean audio tens of dB "
                          f"lower: it may play nothing)", stacklevel=3)
            model.config["loudness_definition"] = loudness_definition
    elif is_magenta_model(path):
        model = _load_magenta(path, loudness_definition)
    elif (path / "train" / CHECKPOINT_FILE).is_file():
        raise ValueError(f"{path}: a training run that has not finished (it holds a "
                         f"checkpoint, not a model); finish it with `timbral train DATASET "
                         f"--output {path} --resume`")
    else:
        raise ValueError(f"{path}: not a model folder (expected config.json and "
                         f"model.safetensors, or a Magenta folder with operative_config-0.gin "
                         f"and ckpt-* files)")
    return _validated(model, path)


def _validated(model: Autoencoder, path: Path) -> Autoencoder:
    """``model`` with its statistics checked (errors name ``path``)."""
    if model.statistics is not None:
        try:
            model.statistics = validate_statistics(model.statistics)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return model


def load_model(model: Union[str, Path], loudness_definition: Optional[str] = None,
               device: str = "cpu") -> Autoencoder:
    """Load a model by shipped name, folder or zip.

    Args:
      model: a name from :func:`shipped_models`, a timbral model folder, a
        Magenta model folder, or a ``.zip`` of either (checked for path
        traversal, links and size before extraction).
      loudness_definition: override the loudness definition ('v1' or 'v2')
        the model's features are computed with (None: the model's own).
      device: "cpu" or "cuda" (a one-line ValueError when no GPU is reachable).

    Returns the model in eval mode on ``device``; ``model.statistics`` holds
    validated dataset statistics or None.
    """
    if loudness_definition not in (None, "v1", "v2"):
        raise ValueError(f"loudness_definition: expected 'v1' or 'v2', got "
                         f"{loudness_definition!r}")
    device = check_device(device, "device")  # before any loading
    return _load(model, loudness_definition).to(device)


def _load(model: Union[str, Path], loudness_definition: Optional[str]) -> Autoencoder:
    shipped = shipped_models()
    if isinstance(model, str) and model in shipped:
        return _load_folder(shipped[model], loudness_definition)
    path = Path(model)
    if path.is_dir():
        return _load_folder(path, loudness_definition)
    if path.is_file() and path.suffix.lower() == ".zip":
        if is_magenta_model(path):  # the converter extracts it safely and records the zip
            return _validated(_load_magenta(path, loudness_definition), path)
        with tempfile.TemporaryDirectory(prefix="timbral-model-") as tmp:
            safe_extract_zip(path, tmp)
            try:
                loaded = _load_folder(_model_root(Path(tmp)), loudness_definition)
            except ValueError as exc:
                inside = str(exc).replace(tmp + "/", "").replace(tmp, "the zip")
                raise ValueError(f"{path}: {inside}") from None
            loaded.name = path.stem
            return loaded
    names = ", ".join(shipped) or "none installed"
    raise ValueError(f"model {str(model)!r}: not a shipped model ({names}), a model folder "
                     f"or a .zip of one")


def as_model(model: Union[str, Path, Autoencoder]) -> Autoencoder:
    """``model`` itself when it is loaded, else :func:`load_model` of it (a shipped
    name, folder or zip)."""
    if isinstance(model, Autoencoder):
        return model
    if not isinstance(model, (str, Path)):
        raise ValueError(f"model: expected a loaded model, a shipped model's name, a model "
                         f"folder or a .zip of one, got {type(model).__name__}")
    return load_model(model)


__all__ = ["EXAMPLE_CLIP", "MODELS_DIR", "as_model", "list_models", "load_model",
           "shipped_models"]
