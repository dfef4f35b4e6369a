"""Magenta's on-disk layout written by the tests: gin text, TensorBundle checkpoints,
statistics pickles and whole model folders, so the importer (``timbral.interop``) can be
checked on models of any size without TensorFlow. TensorFlow reads the checkpoints written
here; the gin text and pickles follow the layout of ddsp's own files. Test modules import
it as ``magenta_writers`` (pytest puts tests/, which has no ``__init__.py``, on sys.path).
"""

from __future__ import annotations

import io
import math
import pickle
import struct
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from timbral.interop.gin import _SELECTOR, Macro, Reference
from timbral.interop.magenta_config import EXP_SIGMOID_DEFAULTS
from timbral.interop.magenta_weights import VARIABLE_SUFFIX, decoder_layout
from timbral.interop.statistics import QUANTILE_TRANSFORMER_PATHS, QuantileTransformer
from timbral.interop.tensorbundle import (DT_STRING, NUMERIC_DTYPES, TABLE_MAGIC, crc32c,
                                          shard_path)
from timbral.models.decoders import RnnFcDecoder
from timbral.processors import ProcessorGroup

PathLike = Union[str, Path]


# Gin text ---------------------------------------------------------------------------------
def format_value(value) -> str:
    """A value in gin syntax (Python literals, ``@references``, ``%macros``)."""
    if isinstance(value, (Reference, Macro)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(format_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{format_value(k)}: {format_value(v)}"
                               for k, v in value.items()) + "}"
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return repr(value)
    raise ValueError(f"gin: cannot write a {type(value).__name__} value")


def _format_binding(selector: str, value, width: int = 80) -> str:
    """``selector = value``; long values go on a continuation line (trailing
    backslash) and long lists/tuples get one element per line, as gin does."""
    text = format_value(value)
    line = f"{selector} = {text}"
    if len(line) <= width:
        return line
    indent = "    "
    if isinstance(value, (list, tuple)) and len(indent) + len(text) > width and value:
        opening = "[" if isinstance(value, list) else "("
        closing = "]" if isinstance(value, list) else (",)" if len(value) == 1 else ")")
        joiner = ",\n" + indent + " "
        text = opening + joiner.join(format_value(v) for v in value) + closing
    return f"{selector} = \\\n{indent}{text}"


def format_gin(bindings: Mapping[str, object], macros: Optional[Mapping[str, object]] = None,
               imports: Iterable[str] = ("ddsp", "ddsp.training as ddsp2")) -> str:
    """Gin text in the layout of gin's operative configs.

    Args:
      bindings: ``"[scope/][module.]Configurable.param" -> value``.
      macros: ``name -> value`` written first, under ``# Macros:``.
      imports: lines written as ``import <line>``.

    Bindings are grouped per configurable under ``# Parameters for X:``
    headers, sorted by configurable name (case-insensitive) like gin.
    """
    rule = "# " + "=" * 78
    lines = [f"import {line}" for line in imports] + [""]
    if macros:
        lines += ["# Macros:", rule] + [_format_binding(k, v) for k, v in macros.items()] + [""]
    groups: Dict[str, List[Tuple[str, object]]] = {}
    for key, value in bindings.items():
        configurable, _, param = key.rpartition(".")
        if not configurable or not _SELECTOR.match(key):
            raise ValueError(f"gin: {key!r} is not a 'Configurable.param' selector")
        groups.setdefault(configurable, []).append((param, value))

    def order(configurable: str):
        scope, _, dotted = configurable.rpartition("/")
        return dotted.rsplit(".", 1)[-1].lower(), scope, dotted

    for configurable in sorted(groups, key=order):
        lines += [f"# Parameters for {configurable}:", rule]
        lines += [_format_binding(f"{configurable}.{param}", value)
                  for param, value in sorted(groups[configurable])]
        lines.append("")
    return "\n".join(lines)


# TensorBundle checkpoints ------------------------------------------------------------
def mask_crc(crc: int) -> int:
    """LevelDB/TensorFlow's masked CRC (stored so a CRC of CRCs stays useful)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    """Encode a non-negative integer (or an int64, two's complement) as a varint."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


_NUMPY_TO_DTYPE = {dtype: number for number, dtype in NUMERIC_DTYPES.items()}


def string_tensor_bytes(values) -> Tuple[bytes, int]:
    """TensorFlow's on-disk string tensor and its (unmasked) CRC-32C.

    Layout: a varint length per element, the masked CRC-32C of the lengths
    (each hashed as a little-endian uint32), then the bytes. The entry's CRC
    covers the uint32 lengths, the stored length checksum and the bytes.
    """
    values = [values] if isinstance(values, bytes) else list(values)
    lengths = b"".join(_varint(len(v)) for v in values)
    crc = crc32c(b"".join(struct.pack("<I", len(v)) for v in values))
    length_checksum = struct.pack("<I", mask_crc(crc))
    crc = crc32c(length_checksum, crc)
    body = b"".join(values)
    return lengths + length_checksum + body, crc32c(body, crc)


def _entry_proto(dtype: int, shape, offset: int, size: int, crc: int) -> bytes:
    """Encode a ``BundleEntryProto`` (proto3: zero-valued fields omitted)."""
    dims = b"".join(b"\x12" + _varint(len(d)) + d
                    for d in (b"\x08" + _varint(int(n)) if n else b"" for n in shape))
    out = b"\x08" + _varint(dtype) + b"\x12" + _varint(len(dims)) + dims
    if offset:
        out += b"\x20" + _varint(offset)
    if size:
        out += b"\x28" + _varint(size)
    return out + b"\x35" + struct.pack("<I", mask_crc(crc))


class _TableWriter:
    """Builds a LevelDB-format table: data blocks, index, empty metaindex, footer."""

    def __init__(self, block_size: int, restart_interval: int = 16):
        self.out = bytearray()
        self.block_size = block_size
        self.restart_interval = restart_interval
        self.index: list = []
        self._reset()

    def _reset(self):
        self.block, self.restarts, self.count, self.last_key = bytearray(), [0], 0, b""

    def _finish_block(self, block: bytearray, restarts: list) -> Tuple[int, int]:
        """Append restarts and trailer; return the block's handle."""
        contents = bytes(block) + b"".join(struct.pack("<I", r) for r in restarts)
        contents += struct.pack("<I", len(restarts))
        offset = len(self.out)
        self.out += contents + b"\x00" + struct.pack("<I", mask_crc(crc32c(contents + b"\x00")))
        return offset, len(contents)

    @staticmethod
    def _add(block: bytearray, restarts: list, count: int, last_key: bytes, key: bytes,
             value: bytes, interval: int) -> None:
        shared = 0
        if count % interval:
            while shared < min(len(key), len(last_key)) and key[shared] == last_key[shared]:
                shared += 1
        elif count:
            restarts.append(len(block))
        block += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        block += key[shared:] + value

    def add(self, key: bytes, value: bytes) -> None:
        """Add the next key (keys must come in sorted order)."""
        self._add(self.block, self.restarts, self.count, self.last_key, key, value,
                  self.restart_interval)
        self.count += 1
        self.last_key = key
        if len(self.block) >= self.block_size:
            self._flush()

    def _flush(self) -> None:
        if self.count:
            offset, size = self._finish_block(self.block, self.restarts)
            # The block's last key separates it from the next one.
            self.index.append((self.last_key, _varint(offset) + _varint(size)))
        self._reset()

    def finish(self) -> bytes:
        """The complete table file."""
        self._flush()
        meta = self._finish_block(bytearray(), [0])
        index, restarts = bytearray(), [0]
        for i, (key, handle) in enumerate(self.index):
            self._add(index, restarts, i, b"", key, handle, 1)
        index_handle = self._finish_block(index, restarts)
        footer = b"".join(_varint(v) for v in meta + index_handle)
        footer += b"\x00" * (40 - len(footer)) + struct.pack("<Q", TABLE_MAGIC)
        return bytes(self.out + footer)


def write_checkpoint(prefix: PathLike, tensors: Mapping[str, object],
                     block_size: int = 4096) -> None:
    """Write ``tensors`` as a one-shard TensorFlow checkpoint at ``prefix``.

    Args:
      prefix: e.g. ``dir/ckpt-5`` (writes ``ckpt-5.index`` and
        ``ckpt-5.data-00000-of-00001``).
      tensors: name -> numpy array (any dtype of :data:`NUMERIC_DTYPES`), or
        bytes / a list of bytes for a string tensor.
      block_size: target size of index data blocks (small values give
        multi-block indexes, as large checkpoints have).
    """
    prefix = Path(prefix)
    data, entries = bytearray(), []
    for name in sorted(tensors, key=lambda n: n.encode("utf-8")):
        value = tensors[name]
        if isinstance(value, (bytes, list, tuple)):
            raw, crc = string_tensor_bytes(value)
            dtype, shape = DT_STRING, () if isinstance(value, bytes) else (len(value),)
        else:
            array = np.asarray(value)
            native = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
            if native not in _NUMPY_TO_DTYPE:
                raise ValueError(f"tensors[{name!r}]: dtype {array.dtype} cannot be written")
            raw = np.ascontiguousarray(array, dtype=native).tobytes()
            dtype, shape, crc = _NUMPY_TO_DTYPE[native], array.shape, crc32c(raw)
        entries.append((name.encode("utf-8"), _entry_proto(dtype, shape, len(data), len(raw), crc)))
        data += raw
    table = _TableWriter(block_size)
    table.add(b"", b"\x08\x01\x1a\x02\x08\x01")  # num_shards 1, little-endian, producer 1
    for key, value in entries:
        table.add(key, value)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    shard_path(prefix, 0, 1).write_bytes(bytes(data))
    prefix.with_name(prefix.name + ".index").write_bytes(table.finish())


# Statistics pickles ------------------------------------------------------------------
class MagentaPickler(pickle._Pickler):
    """Pickles timbral's QuantileTransformer under a Magenta class path and
    numpy's functions under numpy 1.x names, as ddsp's own files have them."""

    def __init__(self, file, class_path: str):
        super().__init__(file, protocol=4)
        self.class_path = class_path

    def save_global(self, obj, name=None):
        module = getattr(obj, "__module__", "") or ""
        if obj is QuantileTransformer:
            module, _, name = self.class_path.rpartition(".")
        elif module.startswith("numpy._core."):
            module, name = "numpy.core." + module[len("numpy._core."):], obj.__name__
        else:
            return super().save_global(obj, name)
        self.save(module)
        self.save(name)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)


def write_magenta_statistics(path: Union[str, Path], statistics: dict,
                             class_path: str = QUANTILE_TRANSFORMER_PATHS[0]) -> None:
    """Write timbral statistics as a Magenta ``dataset_statistics.pkl``.

    Floats become numpy float32 scalars and the quantile table a
    QuantileTransformer pickled under ``class_path``, with the fields and a
    pickled ``RandomState`` as ddsp's class has them. For building test
    folders; timbral itself stores statistics as JSON.
    """
    obj: Dict[str, object] = {}
    for key, value in statistics.items():
        if key in ("format", "version", "frame_rate", "quantile_transform"):
            continue
        obj[key] = np.float32(value)
        if not math.isfinite(value) or float(obj[key]) != value:
            raise ValueError(f"statistics[{key!r}]: {value!r} is not a float32 value")
    table = statistics.get("quantile_transform")
    if table is not None:
        qt = QuantileTransformer()
        qt.__dict__.update(n_quantiles=table["n_quantiles"],
                           output_distribution=table["output_distribution"],
                           subsample=100000, random_state=np.random.RandomState(0),
                           n_quantiles_=len(table["quantiles"]),
                           references_=np.asarray(table["references"], dtype=np.float64),
                           quantiles_=np.asarray(table["quantiles"], dtype=np.float64)[:, None])
        obj["quantile_transform"] = qt
    buffer = io.BytesIO()
    MagentaPickler(buffer, class_path).dump(obj)
    Path(path).write_bytes(buffer.getvalue())


# Model folders ------------------------------------------------------------------------
def _keras_gates(weight: np.ndarray, hidden: int) -> np.ndarray:
    """Torch GRU rows (r, z, n) -> Keras columns (z, r, h): ``[3H, in] -> [in, 3H]``
    (the importer's gate reordering, inverted)."""
    r, z, h = (weight[i * hidden:(i + 1) * hidden] for i in range(3))
    return np.concatenate([z, r, h], axis=0).T


_GIN_MODULES = {"Harmonic": "synths", "FilteredNoise": "synths", "Add": "processors",
                "Reverb": "effects"}


def _processor_bindings(processor: dict, scope: str) -> Tuple[Reference, Dict[str, object]]:
    """The DAG reference and gin bindings of one processor config."""
    kind, args = processor["type"], dict(processor["config"])
    if kind not in _GIN_MODULES:
        raise ValueError(f"processor {kind}: Magenta's layout is written for "
                         f"{sorted(_GIN_MODULES)} only")
    if kind == "FilteredNoise":
        crossfade, seed = args.pop("crossfade", False), args.pop("seed", None)
        if crossfade or seed is not None:
            raise ValueError("FilteredNoise: Magenta has no crossfade or fixed seed")
    if args.get("scale_fn") is not None:
        args["scale_fn"] = Reference(f"core.{args['scale_fn']}")
    selector = f"processors.{kind}" if kind == "Add" else kind  # as ddsp's configs spell it
    prefix = f"{scope}/{selector}" if scope else selector
    return (Reference(f"{_GIN_MODULES[kind]}.{kind}", scope, evaluate=True),
            {f"{prefix}.{k}": v for k, v in args.items()})


def gin_bindings(config: dict) -> Tuple[Dict[str, object], Dict[str, object]]:
    """``(bindings, macros)`` of a Magenta operative config for a timbral config.

    Includes the training-only bindings ddsp writes (so importers are tested
    on ignoring them). 'v2' models bind the ddsp 3 preprocessor's
    ``compute_loudness``, ``frame_rate`` and ``sample_rate``; 'v1' models
    only ``time_steps``, as ddsp 1.x configs do.
    """
    nodes = config["processor_group"]["config"]["dag"]
    n_samples = next(node["processor"]["config"]["n_samples"] for node in nodes
                     if "n_samples" in node["processor"]["config"])
    time_steps = n_samples // (config["sample_rate"] // config["frame_rate"])
    decoder = config["decoder"]["config"]
    bindings: Dict[str, object] = {
        "Autoencoder.decoder": Reference("decoders.RnnFcDecoder", evaluate=True),
        "Autoencoder.encoder": None,
        "Autoencoder.losses": [Reference("losses.SpectralLoss", evaluate=True)],
        "Autoencoder.preprocessor": Reference("preprocessing.F0LoudnessPreprocessor",
                                              evaluate=True),
        "Autoencoder.processor_group": Reference("processors.ProcessorGroup", evaluate=True),
        "get_model.model": Reference("models.Autoencoder", evaluate=True),
        **{f"exp_sigmoid.{k}": v for k, v in EXP_SIGMOID_DEFAULTS.items()},
        "oscillator_bank.sum_sinusoids": True,
        "F0LoudnessPreprocessor.time_steps": time_steps,
        "RnnFcDecoder.ch": decoder["ch"],
        "RnnFcDecoder.input_keys": tuple(decoder["input_keys"]),
        "RnnFcDecoder.layers_per_stack": decoder["layers_per_stack"],
        "RnnFcDecoder.output_splits": tuple(tuple(s) for s in decoder["output_splits"]),
        "RnnFcDecoder.rnn_channels": decoder["rnn_channels"],
        "RnnFcDecoder.rnn_type": decoder["rnn_type"],
        "RnnFcDecoder.stateless": False,
        "SpectralLoss.fft_sizes": (2048, 1024, 512, 256, 128, 64),
        "SpectralLoss.logmag_weight": 1.0,
        "TFRecordProvider.file_pattern": "/data/train.tfrecord*",
        "train.batch_size": Macro("batch_size"),
        "train.data_provider": Reference("data.TFRecordProvider", evaluate=True),
        "Trainer.grad_clip_norm": 3.0,
        "Trainer.learning_rate": Macro("learning_rate"),
    }
    if config["loudness_definition"] == "v2":
        bindings.update({"F0LoudnessPreprocessor.compute_loudness": True,
                         "F0LoudnessPreprocessor.frame_rate": config["frame_rate"],
                         "F0LoudnessPreprocessor.sample_rate": config["sample_rate"]})
    kinds = [node["processor"]["type"] for node in nodes]
    dag = []
    for node, kind in zip(nodes, kinds):
        scope = node["processor"]["config"]["name"] if kinds.count(kind) > 1 else ""
        ref, proc_bindings = _processor_bindings(node["processor"], scope)
        dag.append((ref, list(node["inputs"])))
        bindings.update(proc_bindings)
    bindings["ProcessorGroup.dag"] = dag
    return bindings, {"batch_size": 16, "learning_rate": 0.0003}


def magenta_variables(config: dict, state_dict: Mapping[str, torch.Tensor]
                      ) -> Dict[str, np.ndarray]:
    """Checkpoint variables (Magenta names, float32) for a timbral model's weights."""
    decoder = RnnFcDecoder(**config["decoder"]["config"])
    hidden = decoder.rnn.hidden_size
    weights = {k[len("decoder."):]: v.detach().cpu().numpy().astype(np.float32)
               for k, v in state_dict.items() if k.startswith("decoder.")}
    out: Dict[str, np.ndarray] = {}
    gru_bias_rows: Dict[str, Dict[int, np.ndarray]] = {}
    for keras, torch_name, kind in decoder_layout(decoder):
        value = weights[torch_name]
        if kind == "dense":
            out[keras] = value.T
        elif kind == "gru":
            out[keras] = _keras_gates(value, hidden)
        elif kind in ("gru_input_bias", "gru_recurrent_bias"):
            row = int(kind == "gru_recurrent_bias")
            gru_bias_rows.setdefault(keras, {})[row] = _keras_gates(value, hidden)
        elif kind == "zeros":  # torch's second LSTM bias folds into Keras' single one
            out[keras] = out[keras] + value
        else:
            out[keras] = value
    for keras, rows in gru_bias_rows.items():
        out[keras] = np.stack([rows[0], rows[1]])
    variables = {f"model/decoder/{k}{VARIABLE_SUFFIX}": np.ascontiguousarray(v) for k, v in out.items()}
    group = ProcessorGroup.from_config(config["processor_group"]["config"])
    for i, proc in enumerate(group.processors):
        for param, _ in proc.named_parameters(recurse=False):
            value = state_dict[f"processor_group.processors.{i}.{param}"]
            variables[f"model/processor_group/{proc.name}/{param}{VARIABLE_SUFFIX}"] = \
                value.detach().cpu().numpy().astype(np.float32)
    return variables


def write_magenta_folder(folder: PathLike, config: dict, state_dict: Mapping[str, torch.Tensor],
                         statistics: Optional[dict] = None, step: int = 5,
                         legacy_optimizer: bool = False) -> Path:
    """Write a timbral model as a Magenta model folder; returns the folder.

    Writes ``operative_config-0.gin``, ``ckpt-<step>.index`` and
    ``.data-00000-of-00001`` (model variables plus optimizer state: Adam
    slots as Keras 2.11+ stores them, or with ``legacy_optimizer`` under the
    model keys as TF <= 2.10 did, and a string object-graph tensor), the
    ``checkpoint`` state file, and ``dataset_statistics.pkl`` if
    ``statistics`` is given. Used to test conversions of any size.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bindings, macros = gin_bindings(config)
    (folder / "operative_config-0.gin").write_text(format_gin(bindings, macros), "utf-8")
    variables = magenta_variables(config, state_dict)
    tensors: Dict[str, object] = dict(variables)
    slot_value = np.float32(7.0)  # far from any weight: a reader taking slots fails loudly
    for i, (name, value) in enumerate(sorted(variables.items())):
        for j, slot in enumerate(("m", "v")):
            fill = np.full_like(value, slot_value)
            if legacy_optimizer:
                model_key = name[:-len(VARIABLE_SUFFIX)]
                tensors[f"{model_key}/.OPTIMIZER_SLOT/optimizer/{slot}{VARIABLE_SUFFIX}"] = fill
            else:
                tensors[f"optimizer/_variables/{2 * i + j + 1}{VARIABLE_SUFFIX}"] = fill
    tensors[f"optimizer/{'iter' if legacy_optimizer else '_iterations'}{VARIABLE_SUFFIX}"] = \
        np.int64(step)
    tensors[f"save_counter{VARIABLE_SUFFIX}"] = np.int64(1)
    tensors["_CHECKPOINTABLE_OBJECT_GRAPH"] = b"object graph written by timbral's tests"
    write_checkpoint(folder / f"ckpt-{step}", tensors)
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "ckpt-{step}"\n'
                                       f'all_model_checkpoint_paths: "ckpt-{step}"\n', "utf-8")
    if statistics is not None:
        write_magenta_statistics(folder / "dataset_statistics.pkl", statistics)
    return folder
