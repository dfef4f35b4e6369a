"""`timbral stream`, `timbral live` and `timbral export`: real-time timbre transfer and model export.

`stream` runs the real-time engine over a file, block by block, exactly as
`live` runs it on an audio interface; `export` writes a model's per-frame
synthesis step for other runtimes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import (CommandError, add_device_option, add_transfer_controls, check_device,
                     check_live_args, transfer_controls)

#: Default block: one 20 ms frame of the realtime preset at 16 kHz (lowest delay).
DEFAULT_BLOCK = 320
#: Largest |exported - PyTorch| accepted, relative to the output's peak (tests see ~1e-7).
EXPORT_TOLERANCE = 1e-4


def _processor(args: argparse.Namespace, model):
    from ..stream import StreamProcessor

    return StreamProcessor(model, args.block_size, pitch_tracker=args.pitch_tracker,
                           lookahead=args.lookahead, seed=args.seed, **transfer_controls(args))


def _describe(processor) -> str:
    rate = processor.sample_rate
    ms = 1000.0 / rate
    return (f"block {processor.block_size} samples ({processor.block_size * ms:.1f} ms) + delay "
            f"{processor.delay} samples ({processor.delay * ms:.1f} ms) = latency "
            f"{processor.latency_ms:.1f} ms at {rate} Hz; features centred "
            f"{abs(processor.analysis_offset) * ms:.0f} ms "
            f"{'back' if processor.analysis_offset >= 0 else 'ahead'}; f0 from "
            f"{processor.features.tracker_name}; synthesis on {processor.model.device}")


def _faster(processor) -> str:
    """What makes a stream that cannot keep up faster. Its causal tracker runs on the
    CPU whatever --device says, so a GPU helps only the synthesis."""
    from ..features import DEFAULT_TRACKER

    lighter = "" if processor.features.tracker_name.startswith(DEFAULT_TRACKER) else \
        f", the {DEFAULT_TRACKER} --pitch-tracker (the default)"
    gpu = "" if str(processor.model.device) != "cpu" else " or --device cuda (for the synthesis)"
    return f"try a larger --block{lighter}{gpu}"


def _stream(args: argparse.Namespace) -> None:
    import numpy as np

    from ..audio import mono_message, read_audio, save_audio
    from ..stream import stream_audio
    from ..transfer.files import check_outputs
    from ..zoo import load_model

    if Path(args.output).is_dir():  # as `transfer` takes a folder: the input's name in it
        args.output = str(Path(args.output) / f"{Path(args.input).stem}.wav")
    check_outputs(args.output, overwrite=args.overwrite, inputs=[args.input])
    model = load_model(args.model, device=check_device(args.device))
    audio, _, channels = read_audio(args.input, sample_rate=model.sample_rate)
    if len(audio) < model.hop:  # less than a frame: nothing the model can play
        raise CommandError(f"{args.input}: {len(audio) / model.sample_rate * 1000:.1f} ms is too "
                           f"short to stream; give at least {1000 / model.frame_rate:.0f} ms")
    processor = _processor(args, model)
    print(f"model {model.name or args.model}: {_describe(processor)}")
    for message in processor.messages + [mono_message(channels, "streamed")] * (channels > 1):
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
    if s and s["mean_ms"] > s["block_ms"]:  # as `live` says it: the sound would drop out
        print(f"{s['mean_ms'] / s['block_ms']:.1f}x too slow for live use on this machine (a "
              f"block takes longer to compute than to play); {_faster(processor)}")
    octaves = processor.adjuster.octave_message() if processor.adjuster else None
    if octaves:
        print(octaves)
    if processor.played_frames == 0:
        first = processor.first_played / model.sample_rate * 1000
        print(f"Noise gate: no frame plays; the output is silent" + (
            f" (the stream plays from {first:.0f} ms on, once its pitch tracker's window has "
            f"filled: give a longer recording)" if len(audio) <= processor.first_played else
            " (no pitched sound it trusts; a lower --gate lets more through)"))
    clipped = int(np.sum(np.abs(out) > 1.0))
    if clipped:  # offline transfer scales its output down; a stream cannot look ahead
        print(f"{clipped} output samples ({clipped / len(out):.2%}) pass full scale and are "
              f"clipped; lower --loudness-shift (peak {20 * np.log10(np.abs(out).max()):+.1f} "
              f"dBFS)")
    aligned = "" if args.keep_latency else " (aligned with the input: the delay is removed)"
    print(f"wrote {args.output}{aligned}")


def _live(args: argparse.Namespace) -> None:
    from ..stream.live import LiveAudio, LiveAudioError

    check_device(args.device)  # before any audio or MIDI system is opened
    if args.midi is not None:  # notes in instead of audio: timbral/cli/play.py
        from .play import live_midi

        return live_midi(args)
    processor = None
    if not args.list_devices:  # the options are checked before the audio system is asked
        from ..zoo import load_model

        check_live_args(args, "violin_realtime")
        model = load_model(args.model, device=args.device)
        processor = _processor(args, model)
    try:
        audio = LiveAudio()
        if processor is None:
            for d in audio.devices:
                print(f"{d.index:>3} {d.name} (in {d.inputs}, out {d.outputs}, "
                      f"{d.sample_rate:g} Hz)")
            if not audio.devices:
                print("no audio devices found")
            return
        devices = audio.choose_devices(args.input_device, args.output_device)
        print(f"model {model.name or args.model}: {_describe(processor)}")
        for message in processor.messages:
            print(message)
        reports = audio.play(processor, *devices, duration=args.duration)
        opened = next(reports)
        print(f"playing (device latency in {opened.latency_in_ms:.1f} ms, out "
              f"{opened.latency_out_ms:.1f} ms); Ctrl-C stops")
        slow = False
        for r in reports:
            s = r.summary
            if s:
                print(f"compute per block: mean {s['mean_ms']:.2f} ms, max {s['max_ms']:.2f} ms "
                      f"of {s['block_ms']:.1f} ms; over/underruns {r.problems}")
                if s["mean_ms"] > s["block_ms"] and not slow:
                    slow = True
                    print(f"this machine cannot keep up (a block takes longer to compute "
                          f"than to play: the sound drops out); {_faster(processor)}")
    except LiveAudioError as exc:
        raise CommandError(str(exc)) from None


def _export(args: argparse.Namespace) -> None:
    from ..files import refuse_existing
    from ..models.export import check_export_path, compare_export, export_step
    from ..zoo import load_model

    check_export_path(args.output, args.format)
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
    p.add_argument("--block", dest="block_size", type=int, default=DEFAULT_BLOCK,
                   help=f"samples per block (default {DEFAULT_BLOCK}; sets the latency)")
    p.add_argument("--lookahead", type=int, default=0,
                   help="samples of input after a frame its analysis may use (default 0)")
    p.add_argument("--pitch-tracker", choices=list(STREAM_TRACKERS), default=None,
                   help="causal f0 tracker (default crepe-tiny-refined)")
    add_transfer_controls(p)
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    add_device_option(p, "the model's synthesis runs (the causal pitch tracker runs on the "
                         "CPU: one frame at a time, a GPU would only add transfers)")


def register(sub) -> None:
    from ..models.export import FORMATS

    st = sub.add_parser(
        "stream", help="real-time timbre transfer over a file (the live engine, block by block)",
        description="Run the streaming engine of `timbral live` over an audio file, block by "
                    "block, and report latency and compute per block. The output is aligned "
                    "with the input unless --keep-latency.")
    st.add_argument("input", help="audio file (resampled to the model's rate)")
    st.add_argument("--output", required=True,
                    help="output audio file (.wav/.flac/...), or a folder to write "
                         "INPUT's name as .wav in")
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
    lv.add_argument("--midi", nargs="?", const="", default=None, metavar="PORT",
                    help="play from a MIDI input (default: the first) instead of audio; "
                         "--block 64 for the lowest latency")
    lv.add_argument("--voices", type=int, default=1,
                    help="with --midi: notes at once (1: a monophonic line, overlapping "
                         "keys slur)")
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
    ex.add_argument("--output", required=True,
                    help="output file (.onnx; .pt or .ts for TorchScript)")
    ex.add_argument("--frames", type=int, default=1,
                    help="feature frames per call, fixed in the file (default 1)")
    ex.add_argument("--no-check", action="store_true", help="skip the comparison with PyTorch")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing output")
    ex.set_defaults(func=_export)
