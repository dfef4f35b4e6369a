"""Magenta ``ddsp`` model folders -> timbral models (and back, for tests).

A Magenta model folder (what ``ddsp_run`` writes and what the timbre-transfer
notebook downloads) holds ``operative_config-0.gin`` (the gin bindings of the
run), a TensorFlow checkpoint ``ckpt-N.index`` + ``ckpt-N.data-*`` and
usually ``dataset_statistics.pkl``. :func:`convert_magenta_folder` turns one
(or a ``.zip`` of one) into timbral's model config, a ``state_dict`` for
:class:`timbral.models.Autoencoder` and timbral's statistics, without
TensorFlow, gin or ddsp installed.

Supported: Magenta's solo-instrument autoencoder (no encoder): an
``F0LoudnessPreprocessor``, an ``RnnFcDecoder`` (GRU or LSTM, any sizes) and a
``ProcessorGroup`` of ``Harmonic``, ``FilteredNoise``, ``Add`` and ``Reverb``
processors wired in any way, at any sample and frame rate.

Weight layout: Keras stores a Dense kernel as ``[in, out]`` (torch: ``[out,
in]``), a GRU as one kernel ``[in, 3H]``, one recurrent kernel ``[H, 3H]`` and
a bias ``[2, 3H]`` (input bias, recurrent bias) with gate columns ordered
(z, r, h); torch's GRU orders gates (r, z, n) with separate biases. Keras' GRU
with ``reset_after=True`` computes exactly what torch's GRU computes once the
columns are reordered. Keras' LSTM orders gates (i, f, c, o) like torch and
has one bias. LayerNorm (epsilon 1e-3) and leaky ReLU (0.2) match
:class:`timbral.models.RnnFcDecoder`'s.

:func:`write_magenta_folder` writes a timbral model in Magenta's layout
(gin text, TensorBundle checkpoint with optimizer state, statistics pickle),
so conversions of other sizes can be checked by round trip.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Dict, Iterable, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from .. import effects, synths
from ..files import safe_extract_zip
from ..models.decoders import RnnFcDecoder
from ..processors import Add, Processor, ProcessorGroup
from .gin import Macro, Reference, format_gin, parse_gin
from .statistics import load_magenta_statistics, write_magenta_statistics
from .tensorbundle import read_checkpoint, write_checkpoint

_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_MODEL_PREFIX = "model/"
#: What timbral models record about where features come from.
MODEL_FORMAT, MODEL_VERSION = "timbral.model", 1
LOUDNESS_DEFINITIONS = ("v1", "v2")
MAGENTA_PITCH_TRACKER = "crepe-full"
#: ``exp_sigmoid`` settings of timbral's processors (Magenta's defaults).
EXP_SIGMOID_DEFAULTS = {"exponent": 10.0, "max_value": 2.0, "threshold": 1e-7}
_UNSUPPORTED = "timbral imports RnnFcDecoder autoencoders without encoder"
_PREPROCESSOR_OUTPUTS = ("f0_hz", "loudness_db", "f0_scaled", "ld_scaled")
#: How many DAG inputs each supported processor takes (a trainable Reverb
#: ignores a second, impulse-response input, as Magenta's does).
_N_INPUTS = {"Harmonic": (3,), "FilteredNoise": (1,), "Add": (2,), "Reverb": (1, 2)}
_GIN_NAME = re.compile(r"^operative_config-(\d+)\.gin$")
_CKPT_NAME = re.compile(r"-(\d+)$")

PathLike = Union[str, Path]


# Decoder weights ---------------------------------------------------------------
def _strip(name: str) -> str:
    return name[:-len(_SUFFIX)] if name.endswith(_SUFFIX) else name


def _gru_gates(matrix: np.ndarray, hidden: int) -> np.ndarray:
    """Keras gate columns (z, r, h) -> torch rows (r, z, n): ``[in, 3H] -> [3H, in]``."""
    z, r, h = (matrix[..., i * hidden:(i + 1) * hidden] for i in range(3))
    return np.concatenate([r, z, h], axis=-1).T


def _keras_gates(weight: np.ndarray, hidden: int) -> np.ndarray:
    """Inverse of :func:`_gru_gates`: torch rows (r, z, n) -> Keras columns (z, r, h)."""
    r, z, h = (weight[i * hidden:(i + 1) * hidden] for i in range(3))
    return np.concatenate([z, r, h], axis=0).T


def _decoder_layout(decoder: RnnFcDecoder) -> List[Tuple[str, str, str]]:
    """``(Keras variable, torch parameter, kind)`` for every decoder weight.

    Keras names are object-graph paths under the decoder: a Sequential counts
    only layers that own weights (``layer_with_weights-N``), so each MLP layer
    is ``layer_with_weights-L`` holding a Dense (``-0``) and a LayerNorm
    (``-1``). ``kind`` says how the array is rearranged (see
    :func:`_to_torch`).
    """
    layout = []

    def stack(keras: str, torch_name: str, n_layers: int):
        for j in range(n_layers):
            layer = f"{keras}/layer_with_weights-{j}"
            layout.extend([
                (f"{layer}/layer_with_weights-0/kernel", f"{torch_name}.{3 * j}.weight", "dense"),
                (f"{layer}/layer_with_weights-0/bias", f"{torch_name}.{3 * j}.bias", "copy"),
                (f"{layer}/layer_with_weights-1/gamma", f"{torch_name}.{3 * j + 1}.weight", "copy"),
                (f"{layer}/layer_with_weights-1/beta", f"{torch_name}.{3 * j + 1}.bias", "copy")])

    for i, input_stack in enumerate(decoder.input_stacks):
        stack(f"input_stacks/{i}", f"input_stacks.{i}", len(input_stack) // 3)
    cell = "rnn/rnn/cell"
    if isinstance(decoder.rnn, torch.nn.GRU):
        layout += [(f"{cell}/kernel", "rnn.weight_ih_l0", "gru"),
                   (f"{cell}/recurrent_kernel", "rnn.weight_hh_l0", "gru"),
                   (f"{cell}/bias", "rnn.bias_ih_l0", "gru_input_bias"),
                   (f"{cell}/bias", "rnn.bias_hh_l0", "gru_recurrent_bias")]
    else:  # Keras' LSTM: gates (i, f, c, o) like torch, one bias
        layout += [(f"{cell}/kernel", "rnn.weight_ih_l0", "dense"),
                   (f"{cell}/recurrent_kernel", "rnn.weight_hh_l0", "dense"),
                   (f"{cell}/bias", "rnn.bias_ih_l0", "copy"),
                   (f"{cell}/bias", "rnn.bias_hh_l0", "zeros")]
    stack("out_stack", "out_stack", len(decoder.out_stack) // 3)
    layout += [("dense_out/kernel", "dense_out.weight", "dense"),
               ("dense_out/bias", "dense_out.bias", "copy")]
    return layout


def _to_torch(kind: str, array: np.ndarray, hidden: int) -> np.ndarray:
    """A Keras array rearranged into the torch parameter's layout."""
    if kind == "dense":
        return array.T
    if kind == "gru":
        return _gru_gates(array, hidden)
    if kind in ("gru_input_bias", "gru_recurrent_bias"):
        if array.ndim != 2 or array.shape[0] != 2:
            raise ValueError(f"shape {list(array.shape)}; a Keras GRU bias is [2, 3H] "
                             f"(reset_after=True)")
        return _gru_gates(array[0 if kind == "gru_input_bias" else 1], hidden)
    if kind == "zeros":
        return np.zeros_like(array)
    return array


def decoder_state_dict(variables: Mapping[str, np.ndarray], decoder: RnnFcDecoder,
                       prefix: str = "model/decoder/",
                       what: str = "checkpoint") -> Dict[str, torch.Tensor]:
    """A ``state_dict`` for ``decoder`` from Magenta's checkpoint variables.

    Args:
      variables: checkpoint name -> array (names with or without the
        ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix); other entries are ignored.
      decoder: the RnnFcDecoder whose sizes the checkpoint must match.
      prefix: where the decoder lives in the checkpoint.
      what: the checkpoint's name in error messages.

    Raises ValueError naming the first missing or mis-shaped variable.
    """
    keras = {_strip(k)[len(prefix):]: np.asarray(v) for k, v in variables.items()
             if _strip(k).startswith(prefix)}
    hidden = decoder.rnn.hidden_size
    expected = decoder.state_dict()
    state = {}
    for keras_name, torch_name, kind in _decoder_layout(decoder):
        if keras_name not in keras:
            raise ValueError(f"{what}: missing variable {prefix}{keras_name}; the checkpoint "
                             f"does not match the decoder of the gin config")
        try:
            value = _to_torch(kind, keras[keras_name], hidden)
        except ValueError as exc:
            raise ValueError(f"{what}: {prefix}{keras_name} has {exc}") from None
        if tuple(value.shape) != tuple(expected[torch_name].shape):
            raise ValueError(f"{what}: {prefix}{keras_name} has shape "
                             f"{list(keras[keras_name].shape)}, which does not fit the "
                             f"decoder's {torch_name} {list(expected[torch_name].shape)}; "
                             f"the checkpoint does not match the gin config")
        state[torch_name] = torch.from_numpy(np.ascontiguousarray(value)).to(
            expected[torch_name].dtype)
    return state


def stack_depth(variables: Mapping[str, np.ndarray], prefix: str = "model/decoder/") -> int:
    """Layers per MLP stack of a Magenta RnnFcDecoder checkpoint."""
    pattern = re.compile(re.escape(prefix) + r"out_stack/layer_with_weights-(\d+)/")
    found = [int(m.group(1)) for k in variables if (m := pattern.match(_strip(k)))]
    return max(found) + 1 if found else 0


def _processor_variable_names(proc: Processor, index: int, param: str) -> List[str]:
    """Where a processor's variable may sit in a checkpoint, newest layout first:
    ddsp 3 tracks processors by name, older ddsp through its ``processors``
    list or ``dag`` list of (processor, inputs) tuples."""
    return [f"processor_group/{proc.name}/{param}",
            f"processor_group/processors/{index}/{param}",
            f"processor_group/dag/{index}/0/{param}"]


# The gin config ----------------------------------------------------------------
class _GinView:
    """Looks bindings up the way gin resolves them (scoped first) and keeps
    the ones used, for the converted config's ``source``."""

    def __init__(self, bindings: Mapping[str, object], name: str):
        self.bindings = dict(bindings)
        self.name = name
        self.used: Dict[str, object] = {}

    def error(self, message: str) -> ValueError:
        return ValueError(f"{self.name}: {message}")

    def unsupported(self, what: str) -> ValueError:
        return ValueError(f"{self.name}: unsupported {what}; {_UNSUPPORTED}")

    def get(self, configurable: str, param: str, default=None, scope: str = ""):
        """The value bound to ``[scope/]configurable.param``, else ``default``."""
        keys = ([f"{scope}/{configurable}.{param}"] if scope else []) + \
            [f"{configurable}.{param}"]
        for key in keys:
            if key in self.bindings:
                self.used[key] = self.bindings[key]
                return self.bindings[key]
        suffix = f".{configurable}.{param}"
        if any(k.endswith(suffix) for k in self.bindings):
            raise self.error(f"{configurable}.{param} is bound for several modules; "
                             f"cannot tell which one the model uses")
        return default

    def reference(self, configurable: str, param: str, expected: Iterable[str],
                  what: str) -> Reference:
        """A ``@Name()`` binding that must name one of ``expected``."""
        value = self.get(configurable, param)
        if not (isinstance(value, Reference) and value.evaluate and
                value.configurable in expected):
            raise self.unsupported(f"{what} {value}")
        return value


def _check_exp_sigmoid(gin: _GinView) -> None:
    """Refuse exp_sigmoid settings other than timbral's (Magenta's defaults)."""
    for key, value in gin.bindings.items():
        selector = key.rpartition("/")[2]
        configurable, _, param = selector.rpartition(".")
        if configurable.rsplit(".", 1)[-1] == "exp_sigmoid" and param in EXP_SIGMOID_DEFAULTS:
            if value != EXP_SIGMOID_DEFAULTS[param]:
                raise gin.unsupported(f"{key} = {value!r} (timbral's exp_sigmoid uses "
                                      f"{param}={EXP_SIGMOID_DEFAULTS[param]!r})")
            gin.used[key] = value


def _scale_fn(gin: _GinView, value, where: str) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, Reference) and not value.evaluate and \
            value.configurable == "exp_sigmoid":
        return "exp_sigmoid"
    raise gin.unsupported(f"{where} = {value}")


def _build_processor(gin: _GinView, ref: Reference) -> Processor:
    """A timbral processor from a ``@Type()`` node of ``ProcessorGroup.dag``."""
    kind, scope = ref.configurable, ref.scope

    def get(param, default):
        return gin.get(kind, param, default, scope)

    if kind == "Harmonic":
        return synths.Harmonic(
            n_samples=get("n_samples", 64000), sample_rate=get("sample_rate", 16000),
            scale_fn=_scale_fn(gin, get("scale_fn", Reference("core.exp_sigmoid")),
                               "Harmonic.scale_fn"),
            normalize_below_nyquist=get("normalize_below_nyquist", True),
            amp_resample_method=get("amp_resample_method", "window"),
            use_angular_cumsum=get("use_angular_cumsum", False), name=get("name", "harmonic"))
    if kind == "FilteredNoise":
        return synths.FilteredNoise(
            n_samples=get("n_samples", 64000), window_size=get("window_size", 257),
            scale_fn=_scale_fn(gin, get("scale_fn", Reference("core.exp_sigmoid")),
                               "FilteredNoise.scale_fn"),
            initial_bias=get("initial_bias", -5.0), crossfade=False,
            name=get("name", "filtered_noise"))
    if kind == "Add":
        return Add(name=get("name", "add"))
    if kind == "Reverb":
        return effects.Reverb(trainable=get("trainable", False),
                              reverb_length=get("reverb_length", 48000),
                              add_dry=get("add_dry", True), name=get("name", "reverb"))
    raise gin.unsupported(f"processor {ref} in ProcessorGroup.dag (timbral imports Harmonic, "
                          f"FilteredNoise, Add and Reverb)")


def _processor_group(gin: _GinView, group_ref: Reference,
                     decoder_outputs: Iterable[str]) -> ProcessorGroup:
    """The processor DAG, checked to read only what the model provides."""
    dag = gin.get("ProcessorGroup", "dag", None, group_ref.scope)
    if not isinstance(dag, (list, tuple)) or not dag:
        raise gin.unsupported(f"ProcessorGroup.dag = {dag!r}")
    available = set(decoder_outputs) | set(_PREPROCESSOR_OUTPUTS)
    nodes, names = [], set()
    for i, node in enumerate(dag):
        if not (isinstance(node, (list, tuple)) and len(node) == 2 and
                isinstance(node[0], Reference) and node[0].evaluate and
                isinstance(node[1], (list, tuple)) and
                all(isinstance(k, str) for k in node[1])):
            raise gin.unsupported(f"ProcessorGroup.dag[{i}] = {node!r}")
        try:
            proc = _build_processor(gin, node[0])
        except ValueError as exc:
            if str(exc).startswith(gin.name):
                raise
            raise gin.error(f"{node[0]}: {exc}") from None
        allowed = _N_INPUTS[type(proc).__name__]
        if type(proc) is effects.Reverb and not proc.trainable:
            allowed = (2,)  # the impulse response comes from the DAG
        if len(node[1]) not in allowed:
            raise gin.error(f"{proc.name} in ProcessorGroup.dag gets {len(node[1])} inputs, "
                            f"{type(proc).__name__} takes {' or '.join(map(str, allowed))}")
        for key in node[1]:
            if key.split("/")[0] not in names and key not in available:
                raise gin.unsupported(f"input {key!r} of {proc.name} in ProcessorGroup.dag "
                                      f"(the model provides {sorted(available)})")
        names.add(proc.name)
        nodes.append((proc, list(node[1])))
    try:
        return ProcessorGroup(nodes, name=gin.get("ProcessorGroup", "name", "processor_group",
                                                  group_ref.scope))
    except ValueError as exc:
        raise gin.error(f"ProcessorGroup: {exc}") from None


def _rates(gin: _GinView, group: ProcessorGroup, preprocessor: Reference) -> Tuple[int, int, int]:
    """``(sample_rate, frame_rate, n_samples)`` of the model, checked for consistency."""
    n_samples = {p.name: p.n_samples for p in group.processors if hasattr(p, "n_samples")}
    if not n_samples:
        raise gin.unsupported("processor group without a synthesizer")
    if len(set(n_samples.values())) > 1:
        raise gin.error(f"the synthesizers render different lengths {n_samples}")
    n_samples = next(iter(n_samples.values()))
    pre = preprocessor.scope
    rates = {int(p.sample_rate) for p in group.processors if hasattr(p, "sample_rate")}
    bound_rate = gin.get("F0LoudnessPreprocessor", "sample_rate", None, pre)
    if bound_rate is not None:
        rates.add(bound_rate)
    if len(rates) > 1:
        raise gin.error(f"the processors and the preprocessor use different sample rates "
                        f"{sorted(rates)}")
    sample_rate = rates.pop() if rates else 16000
    time_steps = gin.get("F0LoudnessPreprocessor", "time_steps", 1000, pre)
    if not isinstance(time_steps, int) or time_steps < 1 or n_samples % time_steps:
        raise gin.unsupported(f"F0LoudnessPreprocessor.time_steps = {time_steps!r} for "
                              f"{n_samples} samples (frames must divide the samples evenly)")
    hop = n_samples // time_steps
    if sample_rate % hop:
        raise gin.unsupported(f"frame hop of {hop} samples at {sample_rate} Hz (the frame "
                              f"rate must be a whole number of frames per second)")
    frame_rate = sample_rate // hop
    bound_frame_rate = gin.get("F0LoudnessPreprocessor", "frame_rate", None, pre)
    if bound_frame_rate is not None and bound_frame_rate != frame_rate:
        raise gin.unsupported(f"F0LoudnessPreprocessor.frame_rate = {bound_frame_rate} with "
                              f"{time_steps} time_steps per {n_samples} samples ({frame_rate} "
                              f"frames per second)")
    return sample_rate, frame_rate, n_samples


def _decoder_config(gin: _GinView, ref: Reference) -> dict:
    """RnnFcDecoder arguments (ddsp 3.7's defaults where the gin is silent)."""

    def get(param, default):
        return gin.get("RnnFcDecoder", param, default, ref.scope)

    input_keys = get("input_keys", ("ld_scaled", "f0_scaled", "z"))
    output_splits = get("output_splits", (("amps", 1), ("harmonic_distribution", 40)))
    if not isinstance(input_keys, (list, tuple)) or not input_keys or \
            not set(input_keys) <= {"ld_scaled", "f0_scaled"} or \
            len(set(input_keys)) != len(input_keys):
        raise gin.unsupported(f"RnnFcDecoder.input_keys = {input_keys!r} (timbral's decoder "
                              f"reads 'ld_scaled' and 'f0_scaled')")
    if not isinstance(output_splits, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) and len(s) == 2 and isinstance(s[0], str) and
            isinstance(s[1], int) for s in output_splits):
        raise gin.unsupported(f"RnnFcDecoder.output_splits = {output_splits!r}")
    rnn_type = get("rnn_type", "gru")
    if rnn_type not in ("gru", "lstm"):
        raise gin.unsupported(f"RnnFcDecoder.rnn_type = {rnn_type!r}")
    config = {"rnn_channels": get("rnn_channels", 512), "rnn_type": rnn_type,
              "ch": get("ch", 512), "layers_per_stack": get("layers_per_stack", 3),
              "input_keys": list(input_keys),
              "output_splits": [[name, size] for name, size in output_splits]}
    try:
        RnnFcDecoder(**config)
    except ValueError as exc:
        raise gin.error(f"RnnFcDecoder: {exc}") from None
    return config


def _jsonable(value):
    """Gin values as JSON data (references and macros as gin text)."""
    if isinstance(value, (Reference, Macro)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def config_from_gin(bindings: Mapping[str, object], gin_name: str = "operative_config-0.gin",
                    source_path: str = "", loudness_definition: Optional[str] = None) -> dict:
    """Timbral's model config from parsed Magenta gin bindings.

    Args:
      bindings: :func:`timbral.interop.gin.parse_gin` output.
      gin_name: the gin file's name, for error messages.
      source_path: recorded as ``config["source"]["path"]``.
      loudness_definition: None decides from the config: models trained by
        ddsp 3 or later (their operative configs bind
        ``F0LoudnessPreprocessor.compute_loudness``) used the v2 loudness,
        earlier ones (e.g. the 2021 official models) v1; 'v1' or 'v2'
        overrides.

    Training-only bindings (train, Trainer, data providers, losses) are
    ignored. Raises ValueError for architectures timbral cannot run as-is.
    """
    if loudness_definition not in (None,) + LOUDNESS_DEFINITIONS:
        raise ValueError(f"loudness_definition: expected None, 'v1' or 'v2', got "
                         f"{loudness_definition!r}")
    gin = _GinView(bindings, gin_name)
    model = gin.get("get_model", "model")
    if model is not None and not (isinstance(model, Reference) and
                                  model.configurable == "Autoencoder"):
        raise gin.unsupported(f"model {model}")
    encoder = gin.get("Autoencoder", "encoder")
    if encoder is not None:
        raise gin.unsupported(f"encoder {encoder}")
    decoder_ref = gin.reference("Autoencoder", "decoder", ("RnnFcDecoder",), "decoder")
    preprocessor = gin.reference("Autoencoder", "preprocessor", ("F0LoudnessPreprocessor",),
                                 "preprocessor")
    group_ref = gin.reference("Autoencoder", "processor_group", ("ProcessorGroup",),
                              "processor group")
    _check_exp_sigmoid(gin)
    decoder = _decoder_config(gin, decoder_ref)
    group = _processor_group(gin, group_ref, [name for name, _ in decoder["output_splits"]])
    sample_rate, frame_rate, n_samples = _rates(gin, group, preprocessor)
    compute_loudness = gin.get("F0LoudnessPreprocessor", "compute_loudness", None,
                               preprocessor.scope)
    if loudness_definition is None:
        loudness_definition = "v1" if compute_loudness is None else "v2"
    return {
        "format": MODEL_FORMAT, "version": MODEL_VERSION,
        "sample_rate": sample_rate, "frame_rate": frame_rate,
        "example_seconds": n_samples / sample_rate,
        "loudness_definition": loudness_definition,
        "pitch_tracker": MAGENTA_PITCH_TRACKER,
        "preprocessor": {"type": "F0LoudnessPreprocessor"},
        "decoder": {"type": "RnnFcDecoder", "config": decoder},
        "processor_group": group.get_config(),
        "source": {"kind": "magenta", "path": source_path,
                   "gin": {k: _jsonable(v) for k, v in sorted(gin.used.items())}},
    }


# The checkpoint ----------------------------------------------------------------
def _is_model_variable(name: str) -> bool:
    """Model weights: ``model/...`` values, not optimizer slots kept under them."""
    return name.startswith(_MODEL_PREFIX) and name.endswith(_SUFFIX) and \
        ".OPTIMIZER_SLOT" not in name


def state_dict_from_variables(variables: Mapping[str, np.ndarray], config: dict,
                              what: str = "checkpoint") -> Dict[str, torch.Tensor]:
    """An Autoencoder ``state_dict`` from Magenta model variables.

    ``variables`` maps checkpoint names (``model/...`` with the
    ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix; others ignored) to arrays.
    Keys are ``decoder.*`` and ``processor_group.processors.<i>.<param>``.
    Raises ValueError for missing, mis-shaped or unused model variables.
    """
    variables = {k: v for k, v in variables.items() if _is_model_variable(k)}
    model = {_strip(k)[len(_MODEL_PREFIX):]: np.asarray(v) for k, v in variables.items()}
    decoder = RnnFcDecoder(**config["decoder"]["config"])
    state = {f"decoder.{k}": v for k, v in
             decoder_state_dict(variables, decoder, f"{_MODEL_PREFIX}decoder/", what).items()}
    used = {f"decoder/{keras}" for keras, _, _ in _decoder_layout(decoder)}
    group = ProcessorGroup.from_config(config["processor_group"]["config"])
    for i, proc in enumerate(group.processors):
        for param, expected in proc.named_parameters(recurse=False):
            names = [n for n in _processor_variable_names(proc, i, param) if n in model]
            if not names:
                raise ValueError(f"{what}: missing variable model/processor_group/{proc.name}/"
                                 f"{param}; the checkpoint does not match the gin config")
            value = model[names[0]]
            if value.shape != tuple(expected.shape):
                raise ValueError(f"{what}: model/{names[0]} has shape {list(value.shape)}, "
                                 f"the gin config's {proc.name} expects "
                                 f"{list(expected.shape)}")
            state[f"processor_group.processors.{i}.{param}"] = torch.from_numpy(
                np.ascontiguousarray(value)).to(expected.dtype)
            used.add(names[0])
    unused = sorted(set(model) - used)
    if unused:
        raise ValueError(f"{what}: holds model variables the gin config's architecture does not "
                         f"use ({len(unused)}, e.g. model/{unused[0]}); is the gin config from "
                         f"another model?")
    return state


# Folders ------------------------------------------------------------------------
def _visible(path: Path, root: Path) -> bool:
    """Not hidden and not in macOS zip metadata (``__MACOSX``, ``._*``)."""
    return not any(part.startswith((".", "__MACOSX")) for part in path.relative_to(root).parts)


def _model_dir(root: Path) -> Path:
    """The folder under ``root`` that holds an ``operative_config-*.gin``."""
    if any(_GIN_NAME.match(p.name) for p in root.iterdir()):
        return root
    folders = sorted({p.parent for p in root.rglob("operative_config-*.gin")
                      if _GIN_NAME.match(p.name) and _visible(p, root)})
    if not folders:
        raise ValueError(f"{root}: no operative_config-*.gin; a Magenta model folder holds "
                         f"operative_config-0.gin, ckpt-N.index, ckpt-N.data-* and "
                         f"dataset_statistics.pkl")
    if len(folders) > 1:
        names = ", ".join(str(f.relative_to(root)) for f in folders[:3])
        raise ValueError(f"{root}: holds {len(folders)} Magenta model folders ({names}); "
                         f"pass one of them")
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
    variables = read_checkpoint(prefix, select=_is_model_variable)
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
            return _convert_folder(_model_dir(Path(tmp)), str(path), loudness_definition)
    raise ValueError(f"{path}: not a Magenta model folder or .zip of one")


# Writing Magenta's layout --------------------------------------------------------
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
    for keras, torch_name, kind in _decoder_layout(decoder):
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
    variables = {f"model/decoder/{k}{_SUFFIX}": np.ascontiguousarray(v) for k, v in out.items()}
    group = ProcessorGroup.from_config(config["processor_group"]["config"])
    for i, proc in enumerate(group.processors):
        for param, _ in proc.named_parameters(recurse=False):
            value = state_dict[f"processor_group.processors.{i}.{param}"]
            variables[f"model/processor_group/{proc.name}/{param}{_SUFFIX}"] = \
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
                tensors[f"{_strip(name)}/.OPTIMIZER_SLOT/optimizer/{slot}{_SUFFIX}"] = fill
            else:
                tensors[f"optimizer/_variables/{2 * i + j + 1}{_SUFFIX}"] = fill
    tensors[f"optimizer/{'iter' if legacy_optimizer else '_iterations'}{_SUFFIX}"] = \
        np.int64(step)
    tensors[f"save_counter{_SUFFIX}"] = np.int64(1)
    tensors["_CHECKPOINTABLE_OBJECT_GRAPH"] = b"object graph written by timbral's tests"
    write_checkpoint(folder / f"ckpt-{step}", tensors)
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "ckpt-{step}"\n'
                                       f'all_model_checkpoint_paths: "ckpt-{step}"\n', "utf-8")
    if statistics is not None:
        write_magenta_statistics(folder / "dataset_statistics.pkl", statistics)
    return folder
