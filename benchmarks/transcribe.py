"""Polyphonic transcription and transfer, measured on rendered chord progressions.

    python benchmarks/transcribe.py [--clips 12] [--seconds 20] [--model violin]
    python benchmarks/transcribe.py --tune          # the thresholds' grid (tuning seeds)
    python benchmarks/transcribe.py --speed-only    # a 30 s clip, best of --repeats

Material: :mod:`timbral.transcribe.material` (FluidSynth, Debian's FluidR3_GM):
chord progressions for 2-4 voices (clip ``i`` has ``2 + i % 3``) on piano (GM 0),
nylon guitar (GM 24), violin (GM 40) and a string ensemble (GM 48). The
thresholds were chosen with ``--tune`` on seeds 100-111; the figures use other
seeds (1000 on).

1. **Transcription**: mir_eval's note precision, recall and F1 (onset within
   50 ms, pitch within 50 cents, offsets ignored), all notes of an instrument's
   clips pooled (target: F1 >= 0.8 on piano); also on single-line SoundFont phrases
   (``timbral.data.render_melody``: flute, clarinet, trumpet, tenor sax, violin), and
   each with the partial notes kept (``keep_partials``).
2. **Transfer** (``--transfer-clips`` per instrument, played by ``--model``):
   per correctly transcribed note, the played pitch against the truth
   (target: within 20 cents on >= 95 % of them), and the output's loudest
   frame where the input is silent (:func:`~timbral.transcribe.evaluate.silence_leak_db`;
   -80 dB is the floor: nothing played).
3. **Speed**: a 30 s piano clip with four voices, transcribed and transferred,
   model and network loaded; wall and CPU seconds, best of ``--repeats``
   (target: <= 3 s on 2 cores). The load average is printed: on a shared
   machine wall time is what the others leave.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import numpy as np
import torch

INSTRUMENTS = ("piano", "guitar", "violin", "strings")
#: Single lines (section 1 only): partial notes are dropped from these.
SOLOS = ("solo flute", "solo clarinet", "solo trumpet", "solo tenor_sax", "solo violin")
TUNING_SEEDS = range(100, 112)


def clips(instrument: str, seeds, seconds: float):
    """``(seed, notes, audio)`` per seed: chord progressions, or for ``"solo NAME"``
    single-line phrases of one of the project's SoundFont instruments."""
    from timbral.data import render_melody
    from timbral.transcribe.material import render_progression

    for seed in seeds:
        if instrument.startswith("solo "):
            rendering = render_melody(instrument[5:], seconds, seed)
            yield seed, rendering.notes, rendering.audio
        else:
            notes, audio = render_progression(instrument, 2 + seed % 3, seconds, seed)
            yield seed, notes, audio


def transcription(instrument: str, seeds, seconds: float, **options) -> dict:
    from timbral.transcribe import transcribe
    from timbral.transcribe.evaluate import note_scores

    pooled = {"matched": 0, "reference": 0, "estimated": 0}
    for _, notes, audio in clips(instrument, seeds, seconds):
        found = transcribe(audio, 16000, **options).notes
        _, pairs = note_scores(notes, found)
        pooled["matched"] += len(pairs)
        pooled["reference"] += len(notes)
        pooled["estimated"] += len(found)
    p = pooled["matched"] / max(pooled["estimated"], 1)
    r = pooled["matched"] / max(pooled["reference"], 1)
    return {**pooled, "precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12)}


def transfer_quality(instrument: str, seeds, seconds: float, model) -> dict:
    from timbral.transcribe import transcribe, transfer_notes
    from timbral.transcribe.evaluate import note_scores, played_pitch_errors, silence_leak_db

    errors, leaks = [], []
    for _, notes, audio in clips(instrument, seeds, seconds):
        found = transcribe(audio, 16000)
        _, pairs = note_scores(notes, found.notes)
        result = transfer_notes(found, audio, 16000, model)
        errors.append(played_pitch_errors(result, notes, pairs))
        leaks.append(silence_leak_db(audio, 16000, result))
    cents = np.abs(np.concatenate(errors))
    return {"notes": len(cents), "within_20": float(np.mean(cents <= 20.0)),
            "median": float(np.median(cents)), "p95": float(np.percentile(cents, 95)),
            "leak_db": float(max(leaks))}


def speed(model, repeats: int) -> dict:
    from timbral.transcribe import transcribe, transfer_notes
    from timbral.transcribe.material import render_progression

    _, audio = render_progression("piano", 4, 30.0, seed=1003)
    best = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        found = transcribe(audio, 16000)
        result = transfer_notes(found, audio, 16000, model)
        times = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                 "transcribe": found.seconds, "synthesis": result.timings["synthesis"],
                 "notes": len(found.notes), "voices": len(result.rendering.voices)}
        if best is None or times["wall"] < best["wall"]:
            best = times
    return best


def tune(seconds: float) -> None:
    """basic-pitch's thresholds and its notes without onsets, on the tuning seeds (the
    network runs once per clip; each setting decodes its posteriorgrams)."""
    from timbral.transcribe.evaluate import note_scores
    from timbral.transcribe.network import get_network
    from timbral.transcribe.notes import decode_notes

    print("| instrument | onset | frame | without onsets | P | R | F1 |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
    settings = list(itertools.product((0.4, 0.5, 0.6, 0.7), (0.2, 0.3, 0.4), (False, True)))
    for instrument in INSTRUMENTS[:2]:
        counts = np.zeros((len(settings), 3))
        for _, notes, audio in clips(instrument, TUNING_SEEDS, seconds):
            act = get_network().activations(audio, 16000)
            for i, (onset, frame, without) in enumerate(settings):
                found = decode_notes(act, onset, frame, without_onsets=without)
                counts[i] += (len(note_scores(notes, found)[1]), len(notes), len(found))
        for (onset, frame, without), (matched, reference, estimated) in zip(settings, counts):
            p, r = matched / max(estimated, 1), matched / reference
            print(f"| {instrument} | {onset} | {frame} | {without} | {p:.3f} | {r:.3f} | "
                  f"{2 * p * r / max(p + r, 1e-12):.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=12, help="clips per instrument")
    parser.add_argument("--transfer-clips", type=int, default=4, help="of them, transferred")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each clip")
    parser.add_argument("--model", default="flute", help="the model playing the notes")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=3, help="speed: best of this many")
    parser.add_argument("--tune", action="store_true", help="the thresholds' grid, then stop")
    parser.add_argument("--speed-only", action="store_true", help="only the 30 s timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.tune:
        tune(args.seconds)
        return
    from timbral.zoo import load_model

    model = load_model(args.model)
    if not args.speed_only:
        seeds = range(1000, 1000 + args.clips)
        print("| instrument | clips | notes | precision | recall | note F1 | F1, partial "
              "notes kept |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for instrument in INSTRUMENTS + SOLOS:
            s = transcription(instrument, seeds, args.seconds)
            kept = transcription(instrument, seeds, args.seconds, keep_partials=True)
            print(f"| {instrument} | {args.clips} | {s['reference']} | {s['precision']:.3f} | "
                  f"{s['recall']:.3f} | **{s['f1']:.3f}** | {kept['f1']:.3f} |", flush=True)
        print(f"\nplayed by {model.name}: | instrument | notes | within 20 cents | median | "
              f"95th pct | output where the input is silent |")
        for instrument in INSTRUMENTS:
            q = transfer_quality(instrument, seeds[:args.transfer_clips], args.seconds, model)
            print(f"| {instrument} | {q['notes']} | {q['within_20']:.1%} | {q['median']:.1f} c | "
                  f"{q['p95']:.1f} c | {q['leak_db']:.1f} dB |", flush=True)
    s = speed(model, args.repeats)
    load = os.getloadavg()
    print(f"\n30 s piano clip, 4 voices: {s['notes']} notes -> {s['voices']} voices; "
          f"transcribed + transferred in {s['wall']:.2f} s wall, {s['cpu']:.2f} s CPU "
          f"(transcription {s['transcribe']:.2f} s, synthesis {s['synthesis']:.2f} s; "
          f"{args.threads} threads; load average {load[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
