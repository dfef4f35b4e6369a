"""Magenta ``ddsp`` model folders -> timbral models.

A Magenta model folder (what ``ddsp_run`` writes and what the timbre-transfer
notebook downloads) holds ``operative_config-0.gin`` (the gin bindings of the
run), a TensorFlow checkpoint ``ckpt-N.index`` + ``ckpt-N.data-*`` and
usually ``dataset_statistics.pkl``. :func:`convert_magenta_folder` turns one
(or a ``.zip`` of one) into timbral's model config
(:mod:`~timbral.interop.magenta_config`), a ``state_dict`` for
:class:`timbral.models.Autoencoder` (:mod:`~timbral.interop.magenta_weights`)
and timbral's statistics (:mod:`~timbral.interop.statistics`), without
TensorFlow, gin or ddsp installed.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Dict, Iterable, Optional, Tuple, Union

import torch

from ..files import safe_extract_zip
from .gin import parse_gin
from .magenta_config import config_from_gin
from .magenta_weights import is_model_variable, state_dict_from_variables
from .statistics import load_magenta_statistics
from .tensorbundle import read_checkpoint

_GIN_NAME = re.compile(r"^operative_config-(\d+)\.gin$")
_CKPT_NAME = re.compile(r"-(\d+)$")

PathLike = Union[str, Path]


def _visible(path: Path, root: Path) -> bool:
    """Not hidden and not in macOS zip metadata (``__MACOSX``, ``._*``)."""
    return not any(part.startswith((".", "__MACOSX")) for part in path.relative_to(root).parts)


def _model_dir(root: Path, shown: Optional[str] = None) -> Path:
    """The folder under ``root`` that holds an ``operative_config-*.gin`` (``shown``:
    what the user gave, a zip extracted to ``root``, for messages)."""
    if any(_GIN_NAME.match(p.name) for p in root.iterdir()):
        return root
    folders = sorted({p.parent for p in root.rglob("operative_config-*.gin")
                      if _GIN_NAME.match(p.name) and _visible(p, root)})
    if not folders:
        raise ValueError(f"{shown or root}: no operative_config-*.gin; a Magenta model "
                         f"folder holds "
                         f"operative_config-0.gin, ckpt-N.index, ckpt-N.data-* and "
                         f"dataset_statistics.pkl")
    if len(folders) > 1:
        names = ", ".join(str(f.relative_to(root)) for f in folders[:3])
        raise ValueError(f"{shown or root}: holds {len(folders)} Magenta model folders "
                         f"({names}); " + ("unzip it and pass one of them" if shown else
                                           "pass one of them"))
    return folders[0]


def _latest(paths: Iterable[Path], pattern: re.Pattern, key) -> Optional[Path]:
    """The path whose name has the highest step number (or the only one)."""
    paths = list(paths)
    numbered = [(int(m.group(1)), p) for p in paths if (m := pattern.search(key(p)))]
    if numbered:
        return max(numbered)[1]
    return paths[0] if len(paths) == 1 else None


def find_model_files(folder: Path) -> Tuple[Path, Path, Optional[Path]]:
    """``(gin file, checkpoint prefix, statistics pickle or None)`` of a model folder.

    The gin file and checkpoint with the highest step are taken, as ddsp's
    ``get_latest_checkpoint`` does (the ``checkpoint`` state file is not read).
    """
    gin_path = _latest((p for p in folder.iterdir() if _GIN_NAME.match(p.name)), _GIN_NAME,
                       lambda p: p.name)
    if gin_path is None:
        raise ValueError(f"{folder}: no operative_config-*.gin; copy the whole Magenta "
                         f"model folder")
    index = _latest(folder.glob("*.index"), _CKPT_NAME, lambda p: p.stem)
    if index is None:
        raise ValueError(f"{folder}: no checkpoint (ckpt-N.index with its "
                         f"ckpt-N.data-00000-of-00001); copy the whole Magenta model folder")
    stats = folder / "dataset_statistics.pkl"
    return gin_path, index.with_suffix(""), stats if stats.is_file() else None


def _convert_folder(folder: Path, source_path: str, loudness_definition: Optional[str]):
    gin_path, prefix, stats_path = find_model_files(folder)
    try:
        text = gin_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{gin_path}: cannot read the gin config ({exc})") from None
    config = config_from_gin(parse_gin(text, gin_path.name), gin_path.name, source_path,
                             loudness_definition)
    variables = read_checkpoint(prefix, select=is_model_variable)
    state = state_dict_from_variables(variables, config, prefix.name)
    statistics = None
    if stats_path is not None:
        statistics = load_magenta_statistics(stats_path, frame_rate=config["frame_rate"])
    return config, state, statistics


def is_magenta_model(path: PathLike) -> bool:
    """Whether ``path`` looks like what :func:`convert_magenta_folder` takes: a
    folder with an ``operative_config-*.gin`` (directly or in one subfolder
    level) or a zip holding one. Reads no more than file names."""
    path = Path(path)
    if path.is_dir():
        return any(_GIN_NAME.match(p.name) for pattern in ("*", "*/*")
                   for p in path.glob(pattern))
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return any(_GIN_NAME.match(PurePosixPath(n).name) for n in archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    return False


def convert_magenta_folder(folder_or_zip: PathLike, loudness_definition: Optional[str] = None
                           ) -> Tuple[dict, Dict[str, torch.Tensor], Optional[dict]]:
    """Convert a Magenta model folder (or a .zip of one) for timbral.

    Args:
      folder_or_zip: the folder holding ``operative_config-0.gin`` and
        ``ckpt-N.*`` (or a folder/zip with exactly one such folder inside).
        Zip members are checked (no absolute paths, ``..``, links; size
        limit) before anything is extracted, into a temporary folder.
      loudness_definition: None (decide from the gin config, see
        :func:`config_from_gin`), 'v1' or 'v2'.

    Returns ``(config, state_dict, statistics)``: timbral's model config,
    weights for ``timbral.models.Autoencoder(config)`` (float32) and the
    dataset statistics in timbral's schema (None without
    ``dataset_statistics.pkl``). Nothing is written anywhere.

    Raises ValueError (one line, saying what is wrong and what to do) for
    missing files, unsupported architectures, corrupt or mismatched
    checkpoints and refused statistics pickles.
    """
    path = Path(folder_or_zip)
    if path.is_dir():
        return _convert_folder(_model_dir(path), str(path), loudness_definition)
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory(prefix="timbral-magenta-") as tmp:
            safe_extract_zip(path, tmp)
            return _convert_folder(_model_dir(Path(tmp), str(path)), str(path),
                                   loudness_definition)
    raise ValueError(f"{path}: not a Magenta model folder or .zip of one")

