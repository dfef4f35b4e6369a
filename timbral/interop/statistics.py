"""Magenta's ``dataset_statistics.pkl`` read safely, as timbral's JSON statistics.

Magenta stores a model's dataset statistics as a pickle: a dict of numpy
float32 scalars (``mean_pitch``, ``std_loudness_note``, ...) plus a pickled
``QuantileTransformer`` (note-on loudness quantiles for timbre transfer's
loudness matching). A plain ``pickle.load`` runs whatever the file names, so
this module unpickles with an allow-list: numpy scalars, dtypes and arrays,
the QuantileTransformer (any ``*.QuantileTransformer`` path; rebuilt as the
inert :class:`QuantileTransformer` field holder), and the constructors of a
pickled ``RandomState`` (absorbed by a placeholder: the generator is never
rebuilt, nothing uses it). Anything else is refused before it is imported.

The result is timbral's statistics schema::

    {"format": "timbral.statistics", "version": 1, "frame_rate": 250 or None,
     "mean_pitch": 60.26..., ...every float of the pickle, same names...,
     "quantile_transform": {"n_quantiles": 1000, "output_distribution": "uniform",
                            "quantiles": [...], "references": [...]}}

Floats are the pickle's values exactly (float32 -> Python float is exact).
"""

from __future__ import annotations

import codecs
import importlib
import io
import pickle
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np

STATISTICS_FORMAT = "timbral.statistics"
STATISTICS_VERSION = 1
#: Where Magenta's QuantileTransformer lived: ddsp >= 3 (first), ddsp 1.x/2.x.
QUANTILE_TRANSFORMER_PATHS = ("ddsp.training.postprocessing.QuantileTransformer",
                              "ddsp.colab.colab_utils.QuantileTransformer")
_RANDOM_MODULES = ("numpy.random._pickle", "numpy.random", "numpy.random.mtrand",
                   "numpy.random._mt19937", "numpy.random._pcg64", "numpy.random._philox",
                   "numpy.random._sfc64")


class QuantileTransformer:
    """The fields of a pickled QuantileTransformer (``quantiles_``,
    ``references_``, ``n_quantiles_``, ``output_distribution``, ...), with
    no behaviour: unpickling only fills ``__dict__``."""


class _Discarded:
    """Stands in for a pickled random generator; its state is dropped."""

    def __setstate__(self, state) -> None:
        pass


def _discard(*args, **kwargs) -> _Discarded:
    return _Discarded()


def _numpy_attr(module: str, name: str):
    """``numpy._core.<module>.<name>`` (numpy 2) or ``numpy.core...`` (numpy 1)."""
    for prefix in ("numpy._core", "numpy.core"):
        try:
            return getattr(importlib.import_module(f"{prefix}.{module}"), name)
        except (ImportError, AttributeError):
            continue
    raise ValueError(f"numpy has no {module}.{name}; cannot read numpy pickles")


def _allowed_globals() -> Dict[tuple, object]:
    """``(module, name) -> object`` for everything a statistics pickle may name."""
    allowed = {("numpy", "dtype"): np.dtype, ("numpy", "ndarray"): np.ndarray,
               ("_codecs", "encode"): codecs.encode}
    for module, name in (("multiarray", "scalar"), ("multiarray", "_reconstruct"),
                         ("numeric", "_frombuffer")):
        value = _numpy_attr(module, name)
        allowed[(f"numpy.core.{module}", name)] = value
        allowed[(f"numpy._core.{module}", name)] = value
    return allowed


class RefusedPickle(ValueError):
    """A statistics pickle names something outside the allow-list."""


class _StatisticsUnpickler(pickle.Unpickler):
    """An unpickler that imports nothing outside the allow-list."""

    def __init__(self, file, what: str):
        super().__init__(file)
        self.what = what
        self.allowed = _allowed_globals()

    def find_class(self, module: str, name: str):
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        if name == "QuantileTransformer":
            return QuantileTransformer
        if module in _RANDOM_MODULES and (name.endswith("_ctor") or name in (
                "RandomState", "MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64")):
            return _discard
        raise RefusedPickle(f"{self.what}: refuses to load {module}.{name}; only numbers, "
                            f"arrays and Magenta's QuantileTransformer are allowed")

    def persistent_load(self, pid):
        raise RefusedPickle(f"{self.what}: refuses persistent references; only numbers, arrays "
                         f"and Magenta's QuantileTransformer are allowed")


def _as_float(value) -> Optional[float]:
    """A Python float for numeric scalars (numpy or Python, not bool), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf":
        return float(value)
    return None


def _numeric_vector(value, name: str, what: str) -> np.ndarray:
    """A finite 1-D float64 array from ``[n]`` or ``[n, 1]`` numeric data."""
    array = value if isinstance(value, np.ndarray) else None
    if array is None or array.dtype.kind not in "iuf":
        raise ValueError(f"{what}: quantile_transform.{name} is not a numeric array")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or array.size < 2 or not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: quantile_transform.{name} must hold at least two finite "
                         f"values for one feature, got shape {list(value.shape)}")
    return array.astype(np.float64)


def _quantile_transform(qt, what: str) -> dict:
    """The JSON form of a QuantileTransformer's fitted fields."""
    if not isinstance(qt, QuantileTransformer):
        raise ValueError(f"{what}: quantile_transform is a {type(qt).__name__}, expected "
                         f"Magenta's QuantileTransformer")
    fields = vars(qt)
    missing = [k for k in ("quantiles_", "references_") if k not in fields]
    if missing:
        raise ValueError(f"{what}: quantile_transform lacks {missing}; was it fitted?")
    quantiles = _numeric_vector(fields["quantiles_"], "quantiles_", what)
    references = _numeric_vector(fields["references_"], "references_", what)
    if quantiles.size != references.size:
        raise ValueError(f"{what}: quantile_transform has {quantiles.size} quantiles but "
                         f"{references.size} references")
    distribution = fields.get("output_distribution", "uniform")
    if distribution != "uniform":
        raise ValueError(f"{what}: quantile_transform.output_distribution is "
                         f"{distribution!r}; timbral's loudness matching uses 'uniform'")
    return {"n_quantiles": int(quantiles.size), "output_distribution": distribution,
            "quantiles": quantiles.tolist(), "references": references.tolist()}


def statistics_from_pickle_data(data: bytes, what: str = "dataset_statistics.pkl",
                                frame_rate: Optional[int] = None) -> dict:
    """Timbral's statistics dict from the bytes of a Magenta statistics pickle.

    ``what`` names the file in errors; ``frame_rate`` (frames per second the
    statistics were computed at, usually the model's) is recorded as given.
    Raises ValueError for refused globals, a corrupt pickle or unexpected
    contents.
    """
    try:
        obj = _StatisticsUnpickler(io.BytesIO(data), what).load()
    except RefusedPickle:
        raise
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ValueError(f"{what}: not a readable statistics pickle ({type(exc).__name__}: "
                         f"{exc}); copy the file again") from None
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise ValueError(f"{what}: expected a dict of named statistics, got "
                         f"{type(obj).__name__}")
    stats: dict = {"format": STATISTICS_FORMAT, "version": STATISTICS_VERSION,
                   "frame_rate": frame_rate}
    for key, value in obj.items():
        if key == "quantile_transform":
            continue
        number = _as_float(value)
        if number is not None:
            stats[key] = number
    if "quantile_transform" in obj:
        stats["quantile_transform"] = _quantile_transform(obj["quantile_transform"], what)
    return stats


def load_magenta_statistics(path: Union[str, Path], frame_rate: Optional[int] = None) -> dict:
    """Read a Magenta ``dataset_statistics.pkl`` safely (see the module doc).

    Args:
      path: the pickle file.
      frame_rate: the feature frame rate the statistics were computed at, if
        known (the importer passes the model's); stored as ``frame_rate``.

    Returns timbral's statistics dict: every float of the pickle under its
    own name and, if present, ``quantile_transform``.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the statistics ({exc.strerror or exc})") from None
    return statistics_from_pickle_data(data, path.name, frame_rate)
