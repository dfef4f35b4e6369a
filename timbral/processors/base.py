"""Processors: the building blocks that turn network outputs into audio.

A :class:`Processor` is an ``nn.Module`` split in two, as in Magenta's ``ddsp``:
``get_controls`` maps raw network outputs to interpretable controls (scaling,
band-limiting) and ``get_signal`` renders audio from controls. Calling the
processor does both. A :class:`ProcessorGroup` wires processors into a DAG
declared as data: a list of nodes ``(processor, [input keys])`` where each key
names a model output (``"f0_hz"``) or an earlier node's output
(``"harmonic/signal"``, ``"harmonic/controls/amplitudes"``).

Every processor can be written to and rebuilt from a plain JSON-able config
(:meth:`Processor.get_config`, :func:`processor_from_config`); trainable
values (e.g. a reverb's impulse response) live in the ``state_dict``.

The same processors also run *statefully*, a few frames at a time, for
chunked offline rendering, streaming and export: :meth:`Processor.init_state`
gives the state before the first frame (phase, filter and reverb tails, as a
flat dict of tensors) and :meth:`Processor.process` turns the next frames'
inputs and the state into the next stretch of audio and the next state.
Nothing is hidden in the module, so one traced call is the exported
streaming step. Calling the processor (``forward``) renders a whole example
at once, as training does.
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .. import dsp
from ..validation import as_audio, check_choice, check_size

TensorDict = Dict[str, torch.Tensor]

#: Scale functions a config may name.
SCALE_FNS: Dict[str, Callable] = {"exp_sigmoid": dsp.exp_sigmoid}

#: Processor classes by name, filled as subclasses are defined.
PROCESSOR_TYPES: Dict[str, type] = {}


def resolve_scale_fn(scale_fn: Union[str, Callable, None]) -> Optional[Callable]:
    """A scale function from its registered name, a callable, or None."""
    if scale_fn is None or callable(scale_fn):
        return scale_fn
    if scale_fn not in SCALE_FNS:
        raise ValueError(f"scale_fn: unknown name {scale_fn!r}; known: {sorted(SCALE_FNS)}")
    return SCALE_FNS[scale_fn]


def _config_value(name: str, value):
    """Turn a constructor argument into plain JSON data."""
    if callable(value):
        for key, fn in SCALE_FNS.items():
            if fn is value:
                return key
        raise ValueError(f"{name}: cannot store the callable {value!r} in a config; "
                         f"register it in timbral.processors.SCALE_FNS")
    if isinstance(value, tuple):
        return [_config_value(name, v) for v in value]
    if isinstance(value, (Processor, torch.Tensor)):
        raise ValueError(f"{name}: cannot store a {type(value).__name__} in a config")
    return value


class Processor(nn.Module):
    """Base class: ``forward(*inputs) = get_signal(**get_controls(*inputs))``.

    Subclasses implement :meth:`get_controls` (returning a dict of controls)
    and :meth:`get_signal` (keyword arguments named like those controls). The
    constructor's arguments are recorded automatically for :meth:`get_config`.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        PROCESSOR_TYPES[cls.__name__] = cls
        init = cls.__init__
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self, *args, **kw):
            if "_init_args" not in self.__dict__:  # the most derived class records
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                args_only = dict(list(bound.arguments.items())[1:])
                object.__setattr__(self, "_init_args", args_only)
            init(self, *args, **kw)

        cls.__init__ = recording_init

    def __init__(self, name: str = "processor"):
        super().__init__()
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"name: expected a non-empty string without '/', got {name!r}")
        self.name = name

    def forward(self, *args, return_outputs_dict: bool = False, **kwargs):
        """Controls from inputs, then the signal. With ``return_outputs_dict``
        returns ``{**controls, 'signal': signal}``."""
        controls = self.get_controls(*args, **kwargs)
        signal = self.get_signal(**controls)
        if return_outputs_dict:
            return dict(controls, signal=signal)
        return signal

    def get_controls(self, *args, **kwargs) -> TensorDict:
        """Map raw inputs to the controls that :meth:`get_signal` takes."""
        raise NotImplementedError

    def get_signal(self, **controls) -> torch.Tensor:
        """Render the output signal from controls."""
        raise NotImplementedError

    # ------------------------------------------------------------ stateful use
    #: True for processors that draw noise: :meth:`process` then takes ``noise``.
    uses_noise = False
    #: True for linear, time-invariant processors (a room): run once on a mix of
    #: signals, they give the mix of their outputs (see ``ProcessorGroup.process``).
    mixable = False

    def init_state(self, batch: int, hop: int, channels: Sequence[Optional[int]]) -> TensorDict:
        """The state before the first frame of a stream, as a flat dict of tensors.

        Args:
          batch: streams rendered at once.
          hop: samples per frame.
          channels: for each input, its channel count (frame-rate controls
            ``[batch, n_frames, channels]``) or None (audio ``[batch, n_samples]``).

        Processors that cannot run in pieces raise a ValueError naming themselves.
        """
        raise ValueError(f"{type(self).__name__} {self.name!r} cannot be rendered in chunks or "
                         f"streamed; streamable processors: "
                         f"{sorted(n for n, t in PROCESSOR_TYPES.items() if t.streamable())}")

    @classmethod
    def streamable(cls) -> bool:
        """Whether this processor implements :meth:`init_state` and :meth:`process`."""
        return cls.init_state is not Processor.init_state

    def stream_offset(self, hop: int, channels: Sequence[Optional[int]]) -> int:
        """Where :meth:`process` output sits in model time (samples, <= 0).

        The call that receives frames ``k .. k + N - 1`` (frame ``j`` is at
        sample ``j * hop``) returns the samples ``[k * hop + offset, (k + N) *
        hop + offset)``: a synth trails its newest frame by what its
        interpolation and filters must see. Effects add no delay (0).
        """
        return 0

    def process(self, *inputs: torch.Tensor, state: TensorDict, hop: int,
                noise: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, TensorDict]:
        """The next ``N * hop`` samples ``[batch, N * hop]`` and the next state.

        ``inputs`` are those of :meth:`get_controls` for ``N`` new frames
        (controls ``[batch, N, channels]``, audio ``[batch, N * hop]``);
        ``noise`` ``[batch, N * hop]`` uniform in [-1, 1) is the source of a
        processor that :attr:`uses_noise`.
        """
        raise NotImplementedError

    def get_config(self) -> dict:
        """``{"type": class name, "config": constructor arguments}`` as plain data."""
        config = {k: _config_value(k, v) for k, v in self._init_args.items()}
        return {"type": type(self).__name__, "config": config}

    @classmethod
    def from_config(cls, config: dict) -> "Processor":
        """Build this processor from the ``"config"`` part of :meth:`get_config`."""
        return cls(**config)


def processor_from_config(config: dict) -> Processor:
    """Rebuild a processor (or a whole group) from :meth:`Processor.get_config` output."""
    if not isinstance(config, dict) or "type" not in config:
        raise ValueError("config: expected a dict with 'type' and 'config' keys")
    kind = config["type"]
    if kind not in PROCESSOR_TYPES:
        raise ValueError(f"config: unknown processor type {kind!r}; known: {sorted(PROCESSOR_TYPES)}")
    return PROCESSOR_TYPES[kind].from_config(config.get("config", {}))


class Add(Processor):
    """Sum of two signals of the same shape (e.g. harmonic + noise)."""

    def __init__(self, name: str = "add"):
        super().__init__(name=name)

    def get_controls(self, signal_one, signal_two) -> TensorDict:
        """Inputs: two tensors of equal (broadcastable) shape."""
        return {"signal_one": signal_one, "signal_two": signal_two}

    def get_signal(self, signal_one, signal_two) -> torch.Tensor:
        if signal_one.shape != signal_two.shape:
            raise ValueError(f"signal_two: shape {list(signal_two.shape)} does not match "
                             f"signal_one's {list(signal_one.shape)}")
        return signal_one + signal_two

    def init_state(self, batch, hop, channels) -> TensorDict:
        return {}

    def process(self, signal_one, signal_two, state, hop, noise=None):
        return self.get_signal(signal_one, signal_two), state


def _described(value) -> str:
    """``a tensor [2, 10]``, ``None``, ``a ndarray``: what a caller gave, for a message."""
    if isinstance(value, torch.Tensor):
        return f"a tensor {list(value.shape)}"
    return "None" if value is None else f"a {type(value).__name__}"


class Crop(Processor):
    """Drop ``frame_size`` samples from the front, the back, or both ends.

    'middle' drops ``frame_size // 2`` at the front and the rest at the back,
    e.g. to undo the padding of a centred analysis.
    """

    def __init__(self, frame_size: int, crop_location: str = "middle", name: str = "crop"):
        super().__init__(name=name)
        self.frame_size = check_size(frame_size, "frame_size", 0)
        self.crop_location = check_choice(crop_location, "crop_location",
                                          ("front", "back", "middle"))

    def get_controls(self, signal) -> TensorDict:
        """Input: audio ``[batch, n_samples]``."""
        signal = as_audio(signal, "signal")
        if signal.shape[-1] <= self.frame_size:
            raise ValueError(f"signal: {signal.shape[-1]} samples cannot lose "
                             f"frame_size={self.frame_size}")
        return {"signal": signal}

    def get_signal(self, signal) -> torch.Tensor:
        n = signal.shape[-1]
        front = {"front": self.frame_size, "back": 0, "middle": self.frame_size // 2}
        start = front[self.crop_location]
        return signal[:, start:n - (self.frame_size - start)]


Node = Tuple[Processor, Sequence[str]]


class ProcessorGroup(Processor):
    """A DAG of processors declared as data.

    Args:
      dag: list of nodes, each ``(processor, [input keys])`` or ``{"processor":
        processor, "inputs": [...]}``. Nodes run in order; each reads its
        inputs positionally from the model outputs passed to :meth:`forward`
        or from earlier nodes' outputs (``"<name>/signal"``,
        ``"<name>/controls/<control>"``). Processor names must be unique.
      name: this group's name.

    ``forward(inputs)`` returns the last node's signal;
    ``forward(inputs, return_outputs_dict=True)`` returns every output keyed
    as above plus ``"out/signal"``.
    """

    def __init__(self, dag: Iterable[Union[Node, dict]], name: str = "processor_group"):
        super().__init__(name=name)
        processors, keys = [], []
        for i, node in enumerate(dag):
            if isinstance(node, dict):
                proc, inputs = node.get("processor"), node.get("inputs")
            elif isinstance(node, (tuple, list)) and len(node) == 2:
                proc, inputs = node
            else:
                raise ValueError(f"dag[{i}]: expected (processor, [input keys]), got {node!r}")
            if isinstance(proc, dict):
                proc = processor_from_config(proc)
            if not isinstance(proc, Processor):
                raise ValueError(f"dag[{i}]: expected a Processor, got {type(proc).__name__}")
            if isinstance(inputs, str) or not all(isinstance(k, str) for k in inputs):
                raise ValueError(f"dag[{i}]: input keys must be a list of strings, got {inputs!r}")
            processors.append(proc)
            keys.append(list(inputs))
        if not processors:
            raise ValueError("dag: needs at least one node")
        names = [p.name for p in processors]
        duplicate = {n for n in names if names.count(n) > 1}
        if duplicate:
            raise ValueError(f"dag: processor names must be unique, repeated: {sorted(duplicate)}")
        self.processors = nn.ModuleList(processors)
        self.input_keys: List[List[str]] = keys
        signals = {f"{n}/signal" for n in names}
        #: the keys the nodes read from the caller (not other nodes' signals), in order
        self.control_keys: List[str] = list(dict.fromkeys(
            k for node_keys in keys for k in node_keys if k not in signals))

    @property
    def dag(self) -> List[Node]:
        """The nodes as ``(processor, [input keys])``."""
        return list(zip(self.processors, self.input_keys))

    def get_controls(self, inputs: TensorDict) -> TensorDict:
        """Run every node; returns all outputs keyed ``"<name>/signal"`` and
        ``"<name>/controls/<control>"``, plus ``"out/signal"``."""
        if not isinstance(inputs, dict):
            raise ValueError(f"inputs: expected a dict of tensors, got {type(inputs).__name__}")
        outputs: TensorDict = {}
        for proc, keys in self.dag:
            args = []
            for key in keys:
                if key in outputs:
                    args.append(outputs[key])
                elif key in inputs:
                    args.append(inputs[key])
                else:
                    known = sorted(set(inputs) | set(outputs))
                    raise ValueError(f"inputs: processor {proc.name!r} needs {key!r}, "
                                     f"which is not among {known}")
            result = proc(*args, return_outputs_dict=True)
            for control, value in result.items():
                if control != "signal":
                    outputs[f"{proc.name}/controls/{control}"] = value
            outputs[f"{proc.name}/signal"] = result["signal"]
        outputs["out/signal"] = outputs[f"{self.processors[-1].name}/signal"]
        return outputs

    def get_signal(self, **outputs) -> torch.Tensor:
        return outputs["out/signal"]

    def with_n_samples(self, n_samples: int) -> "ProcessorGroup":
        """This group rendering ``n_samples`` samples, sharing its parameters.

        Synths fix their output length at construction (as in Magenta); this
        makes shallow copies with another length instead of changing the
        originals, so one model can serve clips of any length from several
        threads at once. Returns ``self`` when nothing changes.
        """
        n_samples = check_size(n_samples, "n_samples")
        if all(getattr(p, "n_samples", n_samples) == n_samples for p in self.processors):
            return self
        return ProcessorGroup([(at_length(p, n_samples), k) for p, k in self.dag],
                              name=self.name)

    def forward(self, inputs: TensorDict, return_outputs_dict: bool = False):
        outputs = self.get_controls(inputs)
        return outputs if return_outputs_dict else outputs["out/signal"]

    # ------------------------------------------------------------ stateful use
    # Sources (nodes whose inputs are all frame-rate controls) trail their newest
    # frame by different amounts; each source's output is delayed to the latest
    # one's, silenced before model time 0, and effects downstream add no delay.
    def _stream_plan(self, hop: int, channels: Dict[str, int]):
        """Per node: (input channels, offset or None for effects); and the group's offset."""
        plan, offsets = [], []
        signals = {f"{p.name}/signal" for p in self.processors}
        for proc, keys in self.dag:
            chans = []
            for key in keys:
                if key in signals:
                    chans.append(None)
                elif key in channels:
                    chans.append(int(channels[key]))
                else:
                    raise ValueError(f"{type(proc).__name__} {proc.name!r} reads {key!r}, "
                                     f"which a stream cannot give it (known: "
                                     f"{sorted(channels)} and the processors' signals)")
            source = all(c is not None for c in chans)
            offset = int(proc.stream_offset(hop, chans)) if source else None
            if offset is not None:
                offsets.append(offset)
            elif proc.stream_offset(hop, chans) != 0:
                raise ValueError(f"{proc.name!r}: an effect in a stream cannot add delay")
            plan.append((chans, offset))
        if not offsets:
            raise ValueError("dag: a stream needs a synth (a processor fed by controls)")
        if sum(p.uses_noise for p in self.processors) > 1:
            raise ValueError("dag: a stream feeds one noise source; this group has several "
                             "noise synths")
        return plan, min(offsets)

    def stream_offset(self, hop: int, channels: Dict[str, int]) -> int:
        """Where :meth:`process` output sits: ``min`` of the sources' offsets (samples)."""
        return self._stream_plan(hop, channels)[1]

    def init_state(self, batch: int, hop: int, channels: Dict[str, int],
                   mix: bool = False) -> TensorDict:
        """Every node's state keyed ``"<name>/<key>"``, the sources' alignment delay
        lines (``"<name>/delay"``) and ``"position"``: the model time (samples,
        float64 ``[batch, 1]``) of the next output sample.

        ``channels`` maps each input key the nodes read to its channel count;
        ``mix``: the rows will be voices to be mixed before the last node, a
        :attr:`~Processor.mixable` one (a room): its state is for one row, and
        the key ``"mix"`` (a scalar) tells :meth:`process` so.
        """
        plan, first = self._stream_plan(hop, channels)
        if mix and not self.can_mix:
            last = self.dag[-1][0]
            raise ValueError(f"mix: the last node ({type(last).__name__} {last.name!r}) must be "
                             f"a room (a linear processor of the synths' sum) to mix rows "
                             f"before it")
        state: TensorDict = {}
        last = len(self.dag) - 1
        for i, ((proc, _), (chans, offset)) in enumerate(zip(self.dag, plan)):
            rows = 1 if mix and i == last else batch
            for key, value in proc.init_state(rows, hop, chans).items():
                state[f"{proc.name}/{key}"] = value
            if offset is not None and offset > first:
                state[f"{proc.name}/delay"] = torch.zeros(batch, offset - first)
        state["position"] = torch.full((batch, 1), float(first), dtype=torch.float64)
        if mix:
            state["mix"] = torch.ones(())
        return state

    def process(self, inputs: TensorDict, state: TensorDict,
                hop: int, noise: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, TensorDict]:
        """The next audio ``[batch, N * hop]`` and state from ``N`` new frames of
        the model outputs in ``inputs`` (``[batch, N, channels]`` each).

        ``state`` may hold other keys (a model's decoder state); only this
        group's are read and returned. ``noise`` ``[batch, N * hop]`` feeds the
        noise synth. A state from :meth:`init_state` with ``mix=True``: the rows
        are voices to be mixed; the last node (a room) runs once on their sum,
        which is returned ``[1, N * hop]`` (the sum of the rows' outputs, at the
        cost of one row's room).
        """
        self._check_process(inputs, hop, noise)
        mix = "mix" in state
        new: TensorDict = {"mix": state["mix"]} if mix else {}
        outputs: TensorDict = {}
        position = state["position"]
        started = None  # 1 from model time 0 on
        last = len(self.dag) - 1
        for i, (proc, keys) in enumerate(self.dag):
            prefix = f"{proc.name}/"
            own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            line = own.pop("delay", None)
            args = [outputs[k] if k in outputs else inputs[k] for k in keys]
            if mix and i == last:
                args = [a.sum(dim=0, keepdim=True) for a in args]
            signal, own = proc.process(*args, state=own, hop=hop,
                                       noise=noise if proc.uses_noise else None)
            new.update({prefix + k: v for k, v in own.items()})
            if all(k in inputs for k in keys):  # a source: align it, silence before time 0
                if line is not None:
                    both = torch.cat([line, signal], dim=1)
                    new[prefix + "delay"] = both[:, both.shape[1] - line.shape[1]:]
                    signal = both[:, :both.shape[1] - line.shape[1]]
                if started is None:  # every aligned source covers the same samples
                    steps = torch.cumsum(torch.ones_like(signal, dtype=torch.float64), dim=1)
                    started = ((steps - 1.0 + position) >= 0).to(signal.dtype)
                signal = signal * started
            outputs[f"{proc.name}/signal"] = signal
        new["position"] = position + signal.shape[1]
        return outputs[f"{self.processors[-1].name}/signal"], new

    def _check_process(self, inputs: TensorDict, hop: int,
                       noise: Optional[torch.Tensor]) -> None:
        """One line for what :meth:`process` cannot use: an input missing or not
        ``[batch, N, channels]`` alike, a hop that is no whole number of samples, a
        noise synth's ``noise`` missing or not ``[batch, N * hop]``."""
        check_size(hop, "hop")
        shape = None
        for key in self.control_keys:
            value = inputs.get(key) if isinstance(inputs, dict) else None
            if not isinstance(value, torch.Tensor) or value.ndim != 3:
                raise ValueError(f"inputs[{key!r}]: expected a tensor [batch, frames, "
                                 f"channels], got {_described(value)}")
            if shape is not None and value.shape[:2] != shape:
                raise ValueError(f"inputs[{key!r}]: {list(value.shape[:2])} batch and frames, "
                                 f"the other inputs {list(shape)}")
            shape = value.shape[:2]
        if shape is not None and any(proc.uses_noise for proc in self.processors):
            want = [shape[0], shape[1] * hop]
            if not isinstance(noise, torch.Tensor) or list(noise.shape) != want:
                raise ValueError(f"noise: expected a tensor {want} (uniform in [-1, 1)) for "
                                 f"the noise synth, got {_described(noise)}")

    @property
    def can_mix(self) -> bool:
        """Whether :meth:`process` can mix rows before the last node: it is
        :attr:`~Processor.mixable` and reads only other nodes' signals."""
        last, keys = self.dag[-1]
        signals = {f"{proc.name}/signal" for proc, _ in self.dag}
        return last.mixable and all(k in signals for k in keys)

    def get_config(self) -> dict:
        return {"type": "ProcessorGroup",
                "config": {"name": self.name,
                           "dag": [{"processor": p.get_config(), "inputs": list(k)}
                                   for p, k in self.dag]}}

    @classmethod
    def from_config(cls, config: dict) -> "ProcessorGroup":
        dag = [{"processor": processor_from_config(node["processor"]), "inputs": node["inputs"]}
               for node in config["dag"]]
        return cls(dag, name=config.get("name", "processor_group"))


def at_length(processor: Processor, n_samples: int) -> Processor:
    """``processor`` rendering ``n_samples`` samples: a shallow copy sharing its
    parameters and buffers (the original is untouched), or itself when it has
    no fixed length or already that one."""
    if getattr(processor, "n_samples", n_samples) == n_samples:
        return processor
    copied = copy.copy(processor)
    copied.n_samples = n_samples
    return copied
