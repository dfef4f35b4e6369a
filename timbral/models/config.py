"""Model configs: what a model is, as plain JSON data, and the named presets.

A config is a dict (saved as ``config.json`` in a model folder)::

    {"format": "timbral.model", "version": 1,
     "sample_rate": 16000, "frame_rate": 250, "example_seconds": 4.0,
     "loudness_definition": "v2", "pitch_tracker": "crepe-tiny-refined",
     "preprocessor": {"type": "F0LoudnessPreprocessor"},
     "decoder": {"type": "RnnFcDecoder", "config": {...RnnFcDecoder arguments...}},
     "processor_group": {...ProcessorGroup.get_config()...},
     "training": {...optimiser recipe, see TRAINING_DEFAULTS...}}

:func:`preset_config` builds one from a preset name; :func:`validate_config`
checks one read from disk before anything is built from it.
"""

from __future__ import annotations

import copy
from typing import Dict, Optional, Tuple

import torch

from ..validation import check_choice, check_document, check_positive, check_size
from .decoders import RnnFcDecoder

FORMAT = "timbral.model"
VERSION = 1
LOUDNESS_DEFINITIONS = ("v1", "v2")

#: The optimiser recipe every preset starts from: Magenta's solo-instrument training.
TRAINING_DEFAULTS = {
    "learning_rate": 3e-4,
    "lr_decay_rate": 0.98,  # continuous: lr * rate ** (step / lr_decay_steps)
    "lr_decay_steps": 10000,
    "grad_clip_norm": 3.0,
    "adam_eps": 1e-7,  # Keras' Adam epsilon
    "batch_size": 16,
    "steps": 30000,
    "validation_every": 250,
    "checkpoint_every": 250,
    # Training windows where more than this share of sounding frames have an unsure
    # f0 (double stops, noise) are left out: their pitch would teach the wrong note.
    "max_unsure": 0.2,
    "loss": {"fft_sizes": [2048, 1024, 512, 256, 128, 64], "loss_type": "L1",
             "mag_weight": 1.0, "logmag_weight": 1.0},
}

#: Preset name -> (description, architecture, training overrides).
PRESETS: Dict[str, dict] = {
    "solo": {
        "description": "Magenta's solo-instrument recipe: 250 Hz frames, 4 s examples, "
                       "GRU 512, 3-layer 512-wide MLPs (4.8 M parameters).",
        "frame_rate": 250, "example_seconds": 4.0,
        "decoder": {"rnn_channels": 512, "ch": 512, "layers_per_stack": 3},
        "reverb": "ir", "reverb_seconds": 3.0, "crossfade": False,
        "training": {},
    },
    "tiny": {
        "description": "Magenta's tiny variant: no MLP layers, GRU 256 (0.23 M parameters); "
                       "for tests and quick experiments.",
        "frame_rate": 250, "example_seconds": 4.0,
        "decoder": {"rnn_channels": 256, "ch": 256, "layers_per_stack": 0},
        "reverb": "ir", "reverb_seconds": 1.0, "crossfade": True,
        "training": {"learning_rate": 1e-3, "batch_size": 8},
    },
    "cpu-fast": {
        "description": "Chosen by measurement for laptop CPUs: 100 Hz frames, 2 s examples, "
                       "GRU 256, one 256-wide layer per MLP (0.8 M parameters), no reverb "
                       "(--reverb ir learns a room).",
        "frame_rate": 100, "example_seconds": 2.0,
        "decoder": {"rnn_channels": 256, "ch": 256, "layers_per_stack": 1},
        # No reverb: a free 16000-tap IR trained by Adam at this rate fills its tail with
        # noise (~5e-3 per tap) that smears every note and sounds in rests; without it
        # validation reached 5.29 after 500 steps against 5.10 after 5000 with it.
        "reverb": "none", "reverb_seconds": 1.0, "crossfade": True,
        # Decaying the rate 10x over the run was worth 0.3 of validation loss in a probe.
        "training": {"learning_rate": 1e-3, "lr_decay_rate": 0.1, "lr_decay_steps": 5000,
                     "batch_size": 8, "steps": 5000, "validation_every": 250,
                     "checkpoint_every": 250},
    },
    "realtime": {
        "description": "For streaming and live use: 50 Hz frames (20 ms at any rate), 2 s "
                       "examples, GRU 256, one 256-wide layer per MLP; delay-free noise "
                       "filter, no reverb. Like Magenta's plugin models, smaller.",
        "frame_rate": 50, "example_seconds": 2.0,
        "decoder": {"rnn_channels": 256, "ch": 256, "layers_per_stack": 1},
        "reverb": "none", "reverb_seconds": 1.0, "crossfade": True,
        "training": {"learning_rate": 1e-3, "lr_decay_rate": 0.1, "lr_decay_steps": 5000,
                     "batch_size": 8, "steps": 5000, "validation_every": 250,
                     "checkpoint_every": 250},
    },
    "fullband": {
        "description": "Full bandwidth at 48 kHz (Magenta's and DDSP-VST's models stop at 8 "
                       "kHz): the cpu-fast network with 120 harmonics (to 24 kHz from G3), "
                       "129 noise bands, a learned room in octave bands, and loss FFT sizes "
                       "x3 as in Magenta's 48 kHz config. Train on recordings at 44.1 or 48 kHz.",
        "frame_rate": 100, "example_seconds": 2.0, "sample_rate": 48000,
        "n_harmonics": 120, "n_noise_bands": 129,
        "decoder": {"rnn_channels": 256, "ch": 256, "layers_per_stack": 1},
        "reverb": "bands", "reverb_seconds": 1.0, "crossfade": True,
        "training": {"learning_rate": 1e-3, "lr_decay_rate": 0.1, "lr_decay_steps": 5000,
                     "batch_size": 8, "steps": 5000, "validation_every": 250,
                     "checkpoint_every": 250,
                     "loss": {"fft_sizes": [6144, 3072, 1536, 768, 384, 192], "loss_type": "L1",
                              "mag_weight": 1.0, "logmag_weight": 1.0}},
    },
}
DEFAULT_PRESET = "cpu-fast"

#: What a config may describe, checked before anything is built (a config.json from a
#: download or an upload must not exhaust memory): Magenta's solo model has 4.8 M
#: parameters and 3 layers per MLP.
MAX_PARAMETERS = 50_000_000
MAX_MODEL_BYTES = 1 << 30
MAX_LAYERS = 32
#: Tensors of ``reverb_length`` samples a processor may hold (an octave-band room at
#: 768 kHz has 13 bands plus its white noise).
MAX_ROOM_BANDS = 16

#: The room a model learns after its synths -> (processor type, extra config):
#: "ir" a free impulse response of ``reverb_seconds`` (Magenta),
#: "exp_decay" exponentially decaying noise with a learned gain and decay
#: (2 parameters), "bands" octave bands of decaying noise with a learned gain and
#: decay time each (2 per band; for recordings made in a room), "none" no reverb.
REVERB_PROCESSORS = {"ir": ("Reverb", {}), "exp_decay": ("ExpDecayReverb", {"seed": 0}),
                     "bands": ("MultibandDecayReverb", {"seed": 0}), "none": None}
REVERBS = tuple(REVERB_PROCESSORS)


def reverb_of(config: dict) -> str:
    """The room (a key of :data:`REVERBS`) a model config's processors hold."""
    kinds = {p["processor"]["type"] for p in config["processor_group"]["config"]["dag"]}
    return next((name for name, spec in REVERB_PROCESSORS.items()
                 if spec is not None and spec[0] in kinds), "none")


def preset_config(name: str = DEFAULT_PRESET, sample_rate: Optional[int] = None,
                  n_harmonics: Optional[int] = None, n_noise_bands: Optional[int] = None,
                  pitch_tracker: Optional[str] = None,
                  loudness_definition: str = "v2", reverb: Optional[str] = None) -> dict:
    """A full model config from a preset.

    Args:
      name: a key of :data:`PRESETS`.
      sample_rate: audio rate in Hz (the frame rate must divide it; None: the
        preset's, 16000 unless it says otherwise).
      n_harmonics: harmonics of the harmonic synth (None: the preset's, or 60).
      n_noise_bands: filter bands of the noise synth, 0 Hz to Nyquist (None: the
        preset's, or 65).
      pitch_tracker: the tracker the model's features come from (training
        records the dataset's; None leaves the choice to the caller).
      loudness_definition: 'v2' (current) or 'v1'.
      reverb: one of :data:`REVERBS` (None: the preset's).
    """
    preset = PRESETS.get(name)
    if preset is None:
        raise ValueError(f"preset: unknown name {name!r}; known: {sorted(PRESETS)}")
    sample_rate = check_size(preset.get("sample_rate", 16000) if sample_rate is None
                             else sample_rate, "sample_rate")
    n_harmonics = preset.get("n_harmonics", 60) if n_harmonics is None else n_harmonics
    n_noise_bands = preset.get("n_noise_bands", 65) if n_noise_bands is None else n_noise_bands
    n_samples = int(round(preset["example_seconds"] * sample_rate))
    decoder = {"rnn_type": "gru", "input_keys": ["ld_scaled", "f0_scaled"],
               "output_splits": [["amps", 1],
                                 ["harmonic_distribution", check_size(n_harmonics, "n_harmonics")],
                                 ["noise_magnitudes", check_size(n_noise_bands, "n_noise_bands", 2)]],
               **preset["decoder"]}
    dag = [
        {"processor": {"type": "Harmonic", "config": {
            "n_samples": n_samples, "sample_rate": sample_rate, "scale_fn": "exp_sigmoid",
            "normalize_below_nyquist": True, "amp_resample_method": "window",
            "use_angular_cumsum": False, "name": "harmonic"}},
         "inputs": ["amps", "harmonic_distribution", "f0_hz"]},
        {"processor": {"type": "FilteredNoise", "config": {
            "n_samples": n_samples, "window_size": 257, "scale_fn": "exp_sigmoid",
            "initial_bias": -5.0, "crossfade": preset["crossfade"], "seed": None,
            "name": "filtered_noise"}},
         "inputs": ["noise_magnitudes"]},
        {"processor": {"type": "Add", "config": {"name": "add"}},
         "inputs": ["filtered_noise/signal", "harmonic/signal"]},
    ]
    reverb = check_choice(preset["reverb"] if reverb is None else reverb, "reverb", REVERBS)
    if REVERB_PROCESSORS[reverb] is not None:
        kind, extra = REVERB_PROCESSORS[reverb]
        if kind == "MultibandDecayReverb":
            extra = dict(extra, sample_rate=sample_rate)
        dag.append({"processor": {"type": kind, "config": {
            "trainable": True, "add_dry": True,
            "reverb_length": int(round(preset["reverb_seconds"] * sample_rate)),
            "name": "reverb", **extra}}, "inputs": ["add/signal"]})
    training = copy.deepcopy(TRAINING_DEFAULTS)
    training.update(copy.deepcopy(preset["training"]))
    config = {
        "format": FORMAT, "version": VERSION, "preset": name,
        "sample_rate": sample_rate, "frame_rate": preset["frame_rate"],
        "example_seconds": preset["example_seconds"],
        "loudness_definition": check_choice(loudness_definition, "loudness_definition",
                                            LOUDNESS_DEFINITIONS),
        "pitch_tracker": pitch_tracker,
        "preprocessor": {"type": "F0LoudnessPreprocessor"},
        "decoder": {"type": "RnnFcDecoder", "config": decoder},
        "processor_group": {"type": "ProcessorGroup",
                            "config": {"name": "processor_group", "dag": dag}},
        "training": training,
    }
    return validate_config(config)


def validate_config(config) -> dict:
    """Check a config's structure and numbers; returns it. One-line ValueErrors."""
    if not isinstance(config, dict):
        raise ValueError(f"config: expected a JSON object, got {type(config).__name__}")
    check_document(config, "config", FORMAT, VERSION, "; is this a timbral model config?")
    for key in ("sample_rate", "frame_rate", "example_seconds", "loudness_definition",
                "decoder", "processor_group"):
        if key not in config:
            raise ValueError(f"config: missing {key!r}")
    sample_rate = check_size(config["sample_rate"], "config sample_rate")
    frame_rate = check_positive(config["frame_rate"], "config frame_rate")
    if sample_rate % frame_rate:
        raise ValueError(f"config: frame_rate {frame_rate:g} must divide sample_rate {sample_rate}")
    check_positive(config["example_seconds"], "config example_seconds")
    check_choice(config["loudness_definition"], "config loudness_definition",
                 LOUDNESS_DEFINITIONS)
    if config["decoder"].get("type") != "RnnFcDecoder":
        raise ValueError(f"config: unknown decoder type {config['decoder'].get('type')!r}; "
                         f"known: ['RnnFcDecoder']")
    if config["processor_group"].get("type") != "ProcessorGroup":
        raise ValueError("config: 'processor_group' must be a ProcessorGroup config")
    parameters, n_bytes = model_size(config)
    if parameters > MAX_PARAMETERS:
        raise ValueError(f"config: the decoder would have {parameters / 1e6:,.0f} M parameters, "
                         f"more than the {MAX_PARAMETERS / 1e6:.0f} M a model may have (Magenta's "
                         f"solo model has 4.8 M); is this config.json what you meant to load?")
    if n_bytes > MAX_MODEL_BYTES:
        raise ValueError(f"config: the model would take about {n_bytes / 2**30:,.1f} GiB of "
                         f"memory, more than the {MAX_MODEL_BYTES / 2**30:.0f} GiB allowed; "
                         f"is this config.json what you meant to load?")
    return config


def model_size(config: dict) -> Tuple[int, int]:
    """``(decoder parameters, bytes)`` of the model a config describes, before
    anything is built.

    The decoder is built on PyTorch's meta device (shapes without memory), so
    its count is exact; the bytes add 4 per decoder parameter and, for each
    processor, 4 per sample of ``reverb_length`` times :data:`MAX_ROOM_BANDS`
    (impulse responses, reverb noises and their octave bands) plus its
    ``n_frames`` x ``n_filter_banks`` filter magnitudes: an upper bound of
    the weights and buffers.
    """
    decoder = config["decoder"].get("config", {})
    if not isinstance(decoder, dict):
        raise ValueError("config: 'decoder' needs a 'config' object")
    layers = check_size(decoder.get("layers_per_stack", 0), "config decoder layers_per_stack", 0)
    if layers > MAX_LAYERS or len(decoder.get("input_keys", ())) > MAX_LAYERS:
        raise ValueError(f"config: decoder layers_per_stack and input_keys may be at most "
                         f"{MAX_LAYERS}")
    try:
        with torch.device("meta"):  # cheap: nothing is allocated
            parameters = sum(p.numel() for p in RnnFcDecoder(**decoder).parameters())
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:  # sizes torch refuses
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # no C++ stack
        raise ValueError(f"config decoder: {first}") from None
    elements = parameters
    dag = config["processor_group"].get("config", {}).get("dag", [])
    for node in dag if isinstance(dag, list) else []:
        args = node.get("processor", {}).get("config", {}) if isinstance(node, dict) else {}
        if not isinstance(args, dict):
            continue
        for key in ("reverb_length", "n_frames", "n_filter_banks"):
            if key in args:
                check_size(args[key], f"config {key}")
        elements += args.get("reverb_length", 0) * MAX_ROOM_BANDS
        elements += args.get("n_frames", 0) * args.get("n_filter_banks", 0)
    return parameters, 4 * elements


def hop_size(config: dict) -> int:
    """Audio samples per feature frame."""
    return int(config["sample_rate"] // config["frame_rate"])
