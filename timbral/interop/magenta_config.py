"""Magenta's gin bindings -> timbral's model config.

Supported: Magenta's solo-instrument autoencoder (no encoder): an
``F0LoudnessPreprocessor``, an ``RnnFcDecoder`` (GRU or LSTM, any sizes) and a
``ProcessorGroup`` of ``Harmonic``, ``FilteredNoise``, ``Add`` and ``Reverb``
processors wired in any way, at any sample and frame rate. Anything else is
refused with one ``ValueError`` line naming the binding.
"""

from __future__ import annotations

from typing import Dict, Iterable, Mapping, Optional, Tuple

from ..processors import effects, synths
from ..models.decoders import RnnFcDecoder
from ..processors import Add, Processor, ProcessorGroup
from .gin import Macro, Reference

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

