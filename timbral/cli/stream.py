"""`timbral stream`, `timbral live` and `timbral export`: real-time timbre transfer and model export.

`stream` runs the real-time engine over a file, block by block, exactly as
`live` runs it on an audio interface; `export` writes a model's per-frame
synthesis step for other runtimes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import CommandError, add_transfer_controls, transfer_controls

#: Default block: one 20 ms frame of the realtime preset at 16 kHz (lowest delay).
DEFAULT_BLOCK = 320
#: Largest |exported - PyTorch| accepted, relative to the output's peak (tests see ~1e-7).
EXPORT_TOLERANCE = 1e-4


def _processor(args: argparse.Namespace, model):
    from ..stream import StreamProcessor

    return StreamProcessor(model, args.block, pitch_tracker=args.pitch_tracker,
                           lookahead=args.lookahead, seed=args.seed, **transfer_controls(args))


def _describe(processor) -> str:
    rate = processor.sample_rate
    ms = 1000.0 / rate
    return (f"block {processor.block_size} samples ({processor.block_size * ms:.1f} ms) + delay "
            f"{processor.delay} samples ({processor.delay * ms:.1f} ms) = latency "
            f"{processor.latency_ms:.1f} ms at {rate} Hz; features centred "
            f"{processor.analysis_offset * ms:.0f} ms back; f0 from "
            f"{processor.features.tracker_name}")


def _stream(args: argparse.Namespace) -> None:
    from ..audio import load_audio, save_audio
    from ..files import refuse_existing
    from ..stream import stream_audio
    from ..zoo import load_model

    refuse_existing(args.output, overwrite=args.overwrite)
    model = load_model(args.model)
    audio, _ = load_audio(args.input, sample_rate=model.sample_rate)
    processor = _processor(args, model)
    print(f"model {model.name or args.model}: {_describe(processor)}")
    for message in processor.messages:
        print(message)
    start = time.perf_counter()
    out = stream_audio(processor, audio, compensate=not args.keep_latency)
    elapsed = time.perf_counter() - start
    save_audio(args.output, out, model.sample_rate, overwrite=args.overwrite)
    seconds = len(audio) / model.sample_rate
    summary = f"{Path(args.input).name}: {seconds:.1f} s in {elapsed:.2f} s (real-time factor " \
              f"{elapsed / seconds:.2f})"
    s = processor.stats.summary(processor.block_size, model.sample_rate, skip=2)
    if s:  # empty when the input is only a couple of blocks long
        summary += (f"; compute per {s['block_ms']:.1f} ms block: mean {s['mean_ms']:.2f} ms, "
                    f"p99 {s['p99_ms']:.2f} ms, max {s['max_ms']:.2f} ms")
    print(summary)
    aligned = "" if args.keep_latency else " (aligned with the input: the delay is removed)"
    print(f"wrote {args.output}{aligned}")


def _sounddevice():
    try:
        import sounddevice
    except ImportError:
        raise CommandError("live audio needs the 'sounddevice' package: "
                           "pip install 'timbral[live]'") from None
    except OSError as exc:  # the package is there, the PortAudio library is not
        raise CommandError(f"live audio needs the PortAudio library ({exc}); on Debian or "
                           f"Ubuntu: apt-get install libportaudio2") from None
    return sounddevice


def _pick(devices, wanted, kind: str):
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    usable = [i for i, d in enumerate(devices) if d[key] > 0]
    if wanted is None:
        return None, usable
    if wanted not in usable:
        listed = ", ".join(f"{i}: {devices[i]['name']}" for i in usable) or "none"
        raise CommandError(f"--{kind}-device {wanted}: not an {kind} device; {kind}s: {listed}")
    return wanted, usable


def _live(args: argparse.Namespace) -> None:
    import numpy as np

    sd = _sounddevice()
    devices = sd.query_devices()
    if args.list_devices:
        for i, d in enumerate(devices):
            print(f"{i:>3} {d['name']} (in {d['max_input_channels']}, out "
                  f"{d['max_output_channels']}, {d['default_samplerate']:g} Hz)")
        if len(devices) == 0:
            print("no audio devices found")
        return
    if args.model is None:
        raise CommandError("--model: required (e.g. --model violin_realtime)")
    if args.duration is not None and not args.duration > 0:
        raise CommandError(f"--duration: expected a positive number of seconds, got "
                           f"{args.duration:g}")
    in_dev, inputs = _pick(devices, args.input_device, "input")
    out_dev, outputs = _pick(devices, args.output_device, "output")
    if not inputs or not outputs:
        missing = " and ".join(k for k, v in (("input", inputs), ("output", outputs)) if not v)
        raise CommandError(f"no audio {missing} device found (PortAudio sees "
                           f"{len(devices)} device(s)); `timbral stream INPUT --output OUT` "
                           f"runs the same streaming path over a file")
    from ..zoo import load_model

    model = load_model(args.model)
    processor = _processor(args, model)
    silence = np.zeros(args.block, np.float32)
    for _ in range(3):  # warm up (first calls allocate and compile), then start afresh
        processor.process(silence)
    processor.reset()
    print(f"model {model.name or args.model}: {_describe(processor)}")
    for message in processor.messages:
        print(message)
    problems = {"count": 0}

    def callback(indata, outdata, frames, time_info, status):
        if status:
            problems["count"] += 1
        out = processor.process(indata[:, 0])
        outdata[:] = out[:, None]

    try:
        stream = sd.Stream(samplerate=model.sample_rate, blocksize=args.block,
                           device=(in_dev, out_dev), channels=1, dtype="float32",
                           latency="low", callback=callback)
    except Exception as exc:  # PortAudioError and friends: one line for the user
        raise CommandError(f"cannot open the audio devices at {model.sample_rate} Hz with "
                           f"blocks of {args.block}: {exc}") from None
    with stream:
        print(f"playing (device latency in {stream.latency[0] * 1000:.1f} ms, out "
              f"{stream.latency[1] * 1000:.1f} ms); Ctrl-C stops")
        end = None if args.duration is None else time.monotonic() + args.duration
        while end is None or time.monotonic() < end:
            time.sleep(2.0 if end is None else max(0.0, min(2.0, end - time.monotonic())))
            s = processor.stats.summary(args.block, model.sample_rate)
            if s:
                print(f"compute per block: mean {s['mean_ms']:.2f} ms, max {s['max_ms']:.2f} ms "
                      f"of {s['block_ms']:.1f} ms; over/underruns {problems['count']}")


def _export(args: argparse.Namespace) -> None:
    from ..files import refuse_existing
    from ..models.export import compare_export, export_step
    from ..zoo import load_model

    refuse_existing(args.output, overwrite=args.overwrite)
    model = load_model(args.model)
    meta = export_step(model, args.output, args.format, frames=args.frames,
                       overwrite=args.overwrite)
    size = Path(args.output).stat().st_size / 1e6
    print(f"wrote {args.output} ({args.format}, {size:.1f} MB): {meta['frames_per_call']} "
          f"frame(s) = {meta['samples_per_call']} samples per call at {meta['sample_rate']} Hz, "
          f"state {', '.join(meta['state'])}")
    if args.no_check:
        return
    try:
        diff = compare_export(model, args.output)
    except ValueError as exc:  # e.g. onnxruntime missing: the file is written all the same
        print(f"not checked: {exc}")
        return
    print(f"checked against PyTorch over 8 calls: max |difference| {diff['max_abs']:.2g} "
          f"(peak {diff['peak']:.2g})")
    if diff["max_abs"] > EXPORT_TOLERANCE * max(1.0, diff["peak"]):
        raise CommandError(f"{args.output} does not reproduce the model (max |difference| "
                           f"{diff['max_abs']:.2g}); please report this with the model")


def _add_stream_options(p: argparse.ArgumentParser, model_required: bool = True) -> None:
    from ..stream import STREAM_TRACKERS

    p.add_argument("--model", required=model_required,
                   help="shipped model name, model folder or zip (e.g. violin_realtime, "
                        "the shipped realtime-preset model)")
    p.add_argument("--block", type=int, default=DEFAULT_BLOCK,
                   help=f"samples per block (default {DEFAULT_BLOCK}; sets the latency)")
    p.add_argument("--lookahead", type=int, default=0,
                   help="samples of input after a frame its analysis may use (default 0)")
    p.add_argument("--pitch-tracker", choices=list(STREAM_TRACKERS), default=None,
                   help="causal f0 tracker (default crepe-tiny-refined)")
    add_transfer_controls(p)
    p.add_argument("--seed", type=int, default=0, help="noise seed")


def register(sub) -> None:
    from ..models.export import FORMATS

    st = sub.add_parser(
        "stream", help="real-time timbre transfer over a file (the live engine, block by block)",
        description="Run the streaming engine of `timbral live` over an audio file, block by "
                    "block, and report latency and compute per block. The output is aligned "
                    "with the input unless --keep-latency.")
    st.add_argument("input", help="audio file (resampled to the model's rate)")
    st.add_argument("--output", required=True, help="output audio file (.wav/.flac/...)")
    _add_stream_options(st)
    st.add_argument("--keep-latency", action="store_true",
                    help="keep the engine's delay at the start, as a live run would")
    st.add_argument("--overwrite", action="store_true", help="replace an existing output")
    st.set_defaults(func=_stream)

    lv = sub.add_parser(
        "live", help="real-time timbre transfer from an audio input to an output device",
        description="Play a model live: audio in (voice, instrument), the model's instrument "
                    "out, through PortAudio (pip install 'timbral[live]'; the PortAudio "
                    "library, e.g. apt-get install libportaudio2).")
    _add_stream_options(lv, model_required=False)  # --list-devices needs none
    lv.add_argument("--input-device", type=int, default=None, help="input device number")
    lv.add_argument("--output-device", type=int, default=None, help="output device number")
    lv.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    lv.add_argument("--duration", type=float, default=None,
                    help="stop after this many seconds (default: until Ctrl-C)")
    lv.set_defaults(func=_live)

    ex = sub.add_parser(
        "export", help="export a model's streaming step to TorchScript or ONNX",
        description="Write the model's per-frame step (decoder, harmonic and noise synths, "
                    "reverb; state tensors in and out) for other runtimes, then check it "
                    "against PyTorch. See docs/streaming.md for how to drive it.")
    ex.add_argument("model", help="shipped model name, model folder or zip")
    ex.add_argument("--format", choices=FORMATS, required=True)
    ex.add_argument("--output", required=True, help="output file (.onnx, or .pt for TorchScript)")
    ex.add_argument("--frames", type=int, default=1,
                    help="feature frames per call, fixed in the file (default 1)")
    ex.add_argument("--no-check", action="store_true", help="skip the comparison with PyTorch")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing output")
    ex.set_defaults(func=_export)
