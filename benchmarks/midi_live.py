"""Live MIDI (timbral.midi.live.NoteEngine): note-on to sound latency and compute per block.

    python benchmarks/midi_live.py [--trials 40] [--seconds 20] [--no-rollback]

Latency: a note-on arrives at a random sample of the block before a process() call
(an audio callback) and a random phase of the model's frame grid; the note's sound is
where what it changed in the output (the output minus the same run without it: a
random-weight model is not silent at -80 dB) first has an RMS over 1 ms within 30 dB
of its steady RMS (the profile's onset level). Latency = sound - arrival, mean and
worst over the trials, plus the mean compute per block (the issue's "algorithmic +
compute per block").
Compute: mean and 99th percentile time per process() call, one voice playing a phrase
and eight voices playing eight-note chords, against the block's duration, one thread.

Models: the shipped flute (100 frames/s) and violin_realtime (50 frames/s) at 16 kHz,
every shipped model above 16 kHz (violin_fullband: 48 kHz, 100 frames/s), and
random-weight models of the `solo` preset (250 frames/s) at 16 and 48 kHz and of the
`realtime` preset at 48 kHz, played with the flute's expression profile. For these the
latency (marked *) is the engine's alone, where the changed
controls reach the output, as a random decoder answers a loudness rise in the same
frame (a trained one about a frame later: see timbral.midi.live.DECODER_LAG_FRAMES),
and it does not follow the loudness it is given, so its "onset level" means little.
--no-rollback: notes apply from the next frame computed (the engine before rollbacks).
"""

from __future__ import annotations

import argparse
import json

import mido
import numpy as np
import torch

from timbral.midi.live import NoteEngine
from timbral.models import Autoencoder, preset_config
from timbral.models.folder import CONFIG_FILE
from timbral.zoo import load_model, shipped_models


def _models():
    """``(name, model, trained)``."""
    flute = load_model("flute")
    out = [("flute (shipped)", flute, True),
           ("violin_realtime (shipped)", load_model("violin_realtime"), True)]
    for name, folder in shipped_models().items():  # the full-band ones: a trained 48 kHz decoder
        if json.loads((folder / CONFIG_FILE).read_text())["sample_rate"] > 16000:
            out.append((f"{name} (shipped)", load_model(name), True))
    for preset, rate in (("solo", 16000), ("solo", 48000), ("realtime", 48000)):
        torch.manual_seed(0)
        model = Autoencoder(preset_config(preset, sample_rate=rate, reverb="none")).eval()
        model.name, model.expression = f"{preset} (random weights)", flute.expression
        out.append((model.name, model, False))
    return out


def latency(model, block: int, trials: int, seed: int = 0, rollback: bool = True
            ) -> np.ndarray:
    """Note-on to sound (samples) for ``trials`` random arrivals."""
    rng = np.random.default_rng(seed)
    engine = NoteEngine(model, block, rollback=rollback)
    window = max(1, model.sample_rate // 1000)
    out = []
    n_blocks = int(0.6 * model.sample_rate) // block
    for _ in range(trials):
        lead = int(rng.integers(4, 4 + 2 * engine.hop // block + 4))  # blocks before it
        arrival = lead * block - int(rng.integers(0, block))  # during the block before
        runs = []
        for note in (True, False):  # what the note changed: with it minus without it
            engine.reset()
            audio = [engine.process() for _ in range(lead)]
            if note:
                engine.send(mido.Message("note_on", note=72, velocity=100))
            runs.append(np.concatenate(audio + [engine.process() for _ in range(n_blocks)]))
        x = (runs[0] - runs[1]).astype(np.float64)
        rms = np.sqrt(np.convolve(x ** 2, np.ones(window) / window, "same"))
        steady = np.median(rms[-int(0.2 * model.sample_rate):])
        sound = int(np.flatnonzero(rms >= steady * 10 ** (-30 / 20))[0])
        out.append(sound - arrival)
    return np.array(out)


def compute(model, block: int, voices: int, seconds: float, rollback: bool = True) -> dict:
    """Per-block compute while ``voices`` voices play (chords every 0.5 s)."""
    engine = NoteEngine(model, block, voices=voices, rollback=rollback)
    n_blocks = int(seconds * model.sample_rate) // block
    every = int(0.5 * model.sample_rate) // block
    rng = np.random.default_rng(1)
    held = []
    for b in range(n_blocks):
        if b % every == 0:
            for key in held:
                engine.send(mido.Message("note_off", note=key))
            held = sorted(rng.choice(np.arange(60, 84), voices, replace=False).tolist())
            for key in held:
                engine.send(mido.Message("note_on", note=key, velocity=90))
        engine.process()
    return engine.stats.summary(block, model.sample_rate, skip=4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--blocks", type=int, nargs="*", default=[64, 128])
    parser.add_argument("--only", nargs="*", default=[], metavar="TEXT",
                        help="only the models whose row name contains one of these")
    parser.add_argument("--no-rollback", dest="rollback", action="store_false",
                        help="notes apply from the next frame computed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| model | rate | frames/s | block | latency mean ms | worst ms | + compute ms | "
          "1 voice mean / p99 % of block | 8 voices mean / p99 % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, model, trained in _models():
        if args.only and not any(text in name for text in args.only):
            continue
        for block in args.blocks:
            ms = 1000.0 / model.sample_rate
            one = compute(model, block, 1, args.seconds, args.rollback)
            eight = compute(model, block, 8, args.seconds, args.rollback)
            lat = latency(model, block, args.trials, rollback=args.rollback) * ms
            mark = "" if trained else "*"
            heard = (f"{lat.mean():.1f}{mark} | {lat.max():.1f}{mark} | "
                     f"{lat.mean() + one['mean_ms']:.1f}{mark}")
            print(f"| {name} | {model.sample_rate // 1000} kHz | {model.frame_rate:g} | {block} | "
                  f"{heard} | "
                  f"{100 * one['rtf']:.0f} / {100 * one['p99_ms'] / one['block_ms']:.0f} | "
                  f"{100 * eight['rtf']:.0f} / {100 * eight['p99_ms'] / eight['block_ms']:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
