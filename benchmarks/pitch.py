"""Accuracy and speed of every installed pitch tracker on synthetic signals.

Six 10 s, 16 kHz harmonic signals with exactly known f0 (80-1500 Hz, random
timbres, off any tuning grid; see timbral.features.pitch.synthetic): notes
with silences, legato notes (instant jumps and slides), glides, vibrato, and
notes / legato with white noise at 20 dB SNR. Frames every 4 ms (hop 64,
250 frames/s, what DDSP uses).

Per tracker, pooled over the signals' frames:
  median   median |error| in cents over the truly voiced frames (the f0 the
           tracker delivers there, interpolated frames included)
  gross    share of those frames more than 50 cents off
  recall   voiced frames with confidence >= the tracker's threshold
  f.alarm  truly unvoiced frames (silence or noise only, 32 ms from any
           sound) with confidence >= the threshold
  RTF      compute time / audio time on 10 s, best of 3 (the first three
           signals), 2 threads

With --soundfont, a second table does the same on five 10 s expressive phrases
(violin, flute, trumpet, tenor sax, cello) rendered with FluidSynth from Debian's
SoundFonts by timbral.data.rendering (reverb and chorus off), scored against
their exact f0: notes, pitch-bend vibrato and each sample's own measured pitch
deviation. Needs Debian's libfluidsynth3 and fluid-soundfont-gm
(scripts/setup.sh test installs them).

    python benchmarks/pitch.py [--trackers crepe-tiny,world] [--per-signal] [--soundfont]
    python benchmarks/pitch.py --scales [--trackers crepe-tiny-refined,crepe-full]

--scales scores instead the scales of 22 General MIDI instruments of FluidR3 (oboe to
accordion, each over its range, 0.4 s notes a whole tone apart) against their keys:
the share of mid-note frames read more than 300 cents off (a harmonic or an octave)
and more than 50 cents off.

crepe-full takes ~40 s per signal on 2 cores (4-8 minutes in all).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from timbral.features.pitch import available_trackers, get_pitch_tracker
from timbral.features.pitch.synthetic import TestSignal, cents_error, make_signal

HOP = 64
SIGNALS = [("notes", None), ("legato", None), ("glide", None), ("vibrato", None),
           ("notes", 20.0), ("legato", 20.0)]


def signals(seconds: float):
    out = []
    for seed, (kind, snr) in enumerate(SIGNALS):
        label = kind if snr is None else f"{kind}+{snr:.0f}dB"
        out.append((label, make_signal(kind, seconds=seconds, seed=seed, snr_db=snr)))
    return out


SOUNDFONT_INSTRUMENTS = ("violin", "flute", "trumpet", "tenor_sax", "cello")
ONSET_SKIP_S = 0.04  # attacks are not scored: no instrument has a defined pitch there


def soundfont_signals(seconds: float):
    """Expressive phrases rendered with FluidSynth (timbral.data.rendering) with their
    exact f0: the notes, the pitch bends (vibrato) and each sample's own measured
    deviation. Held notes are scored for pitch and recall, rests for false alarms;
    attacks and release tails are not scored."""
    from timbral.data import render_melody

    out = []
    for seed, name in enumerate(SOUNDFONT_INSTRUMENTS):
        rendering = render_melody(name, seconds=seconds, seed=seed)
        t = np.arange(rendering.audio.shape[0]) / rendering.sample_rate
        f0 = rendering.f0_hz_at(t)
        env = np.where(rendering.voiced_at(t), 1.0, 0.0)
        env[rendering.release_at(t)] = 0.1
        for note in rendering.notes:
            env[(t >= note.onset) & (t < note.onset + ONSET_SKIP_S)] = 0.1
        held = f0 > 0  # TestSignal wants a positive f0 everywhere; only voiced frames count
        f0 = np.interp(t, t[held], f0[held]) if held.any() else np.full_like(t, 440.0)
        out.append((name, TestSignal(rendering.audio, f0, env, rendering.sample_rate)))
    return out


def run(name: str, sigs, per_signal: bool) -> dict:
    tracker = get_pitch_tracker(name)
    tracker.track(sigs[0][1].audio[:16000], HOP)  # warm-up: weights, caches
    errors, above_v, above_u, times = [], [], [], []
    for label, sig in sigs:
        t0 = time.perf_counter()
        track = tracker.track(sig.audio, HOP)
        times.append(time.perf_counter() - t0)
        f0, voiced, unvoiced = sig.frame_truth(HOP)
        f0 = f0.astype(np.float64)
        err = cents_error(track.f0_hz, f0)[voiced]
        above = track.confidence >= tracker.voicing_threshold
        errors.append(err)
        above_v.append(above[voiced])
        above_u.append(above[unvoiced])
        if per_signal:
            fa = f"{np.mean(above[unvoiced]):.3f}" if unvoiced.any() else "  -  "
            print(f"  {name:20s} {label:14s} median {np.median(err):6.2f}  gross "
                  f"{100 * np.mean(err > 50):5.1f} %  recall {np.mean(above[voiced]):.3f}  "
                  f"f.alarm {fa}  {times[-1]:.2f} s", flush=True)
    err = np.concatenate(errors)
    seconds = sigs[0][1].audio.shape[0] / sigs[0][1].sample_rate
    return {"median": np.median(err), "gross": np.mean(err > 50),
            "recall": np.mean(np.concatenate(above_v)),
            "false_alarm": np.mean(np.concatenate(above_u)) if sum(map(len, above_u))
            else float("nan"),
            "rtf": min(times[:3]) / seconds, "threshold": tracker.voicing_threshold}


#: --scales: General MIDI instruments of FluidR3 (program, lowest and highest key), a
#: scale of 0.4 s notes a whole tone apart over each one's range.
SCALES = {"oboe": (68, 58, 91), "bassoon": (70, 34, 72), "cello": (42, 36, 76),
          "contrabass": (43, 28, 60), "piccolo": (72, 74, 105), "english horn": (69, 52, 81),
          "french horn": (60, 41, 77), "trombone": (57, 40, 72), "tuba": (58, 29, 58),
          "soprano sax": (64, 56, 87), "alto sax": (65, 49, 81), "baritone sax": (67, 36, 69),
          "clarinet": (71, 50, 91), "flute": (73, 60, 96), "violin": (40, 55, 100),
          "viola": (41, 48, 84), "choir aahs": (52, 48, 79), "voice oohs": (53, 48, 79),
          "trumpet": (56, 54, 84), "recorder": (74, 72, 98), "harmonica": (22, 60, 84),
          "accordion": (21, 53, 89)}


def scales(names) -> None:
    """Each tracker on each instrument's scale: the share of mid-note frames (60 ms in
    from each end, 100 frames/s) read more than 300 cents off the key (a harmonic, an
    octave) and more than 50 cents off, and the notes mostly read 300 cents off."""
    from timbral.data import Note
    from timbral.transcribe.material import render_notes

    rendered = {}
    for name, (program, low, high) in SCALES.items():
        notes = [Note(round((0.05 + 0.45 * i) * 750) / 750,
                      round((0.45 + 0.45 * i) * 750) / 750, key, 90)
                 for i, key in enumerate(range(low, high + 1, 2))]
        rendered[name] = (notes, render_notes(notes, program, notes[-1].offset + 0.3))
    for tracker in names:
        pooled = np.zeros(3)
        lines = []
        for name, (notes, audio) in rendered.items():
            track = get_pitch_tracker(tracker).track(audio, 160)
            t = np.arange(len(track.f0_hz)) / 100.0
            counts, wrong = np.zeros(3), []
            for note in notes:
                mid = (t >= note.onset + 0.06) & (t <= note.offset - 0.06)
                cents = np.abs(cents_error(track.f0_hz[mid], 440 * 2 ** ((note.pitch - 69) / 12)))
                counts += (mid.sum(), (cents > 300).sum(), (cents > 50).sum())
                if np.mean(cents > 300) > 0.5:
                    wrong.append(int(note.pitch))
            pooled += counts
            lines.append(f"  {name:13s} > 300 c {counts[1] / counts[0]:.3f}  > 50 c "
                         f"{counts[2] / counts[0]:.3f}  notes read off: {wrong}")
        print(f"\n{tracker} on {len(rendered)} instruments' scales: > 300 cents "
              f"{pooled[1] / pooled[0]:.4f}, > 50 cents {pooled[2] / pooled[0]:.4f}")
        print("\n".join(lines), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trackers", help="comma-separated names (default: all installed)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each signal")
    parser.add_argument("--per-signal", action="store_true", help="also print each signal")
    parser.add_argument("--soundfont", action="store_true",
                        help="also score FluidSynth-rendered instruments")
    parser.add_argument("--scales", action="store_true",
                        help="only: scales of 22 General MIDI instruments (gross errors)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    names = args.trackers.split(",") if args.trackers else available_trackers()
    if args.scales:
        scales(names)
        return
    sets = [("synthetic", signals(args.seconds))]
    if args.soundfont:
        sets.append(("soundfont", soundfont_signals(args.seconds)))
    print(f"{args.seconds:g} s signals at 16 kHz, hop {HOP} (4 ms), "
          f"{torch.get_num_threads()} threads")
    tables = {label: [] for label, _ in sets}
    for name in names:
        for label, sigs in sets:
            tables[label].append((name, run(name, sigs, args.per_signal)))
            print(f"  done {name} on {label}: RTF {tables[label][-1][1]['rtf']:.3f}", flush=True)
    for label, rows in tables.items():
        print(f"\n{label} ({len(dict(sets)[label])} signals)\n{'tracker':20s} {'median':>7s} "
              f"{'gross':>7s} {'recall':>7s} {'f.alarm':>7s} {'thresh':>6s} {'RTF':>7s}")
        for name, r in rows:
            print(f"{name:20s} {r['median']:7.2f} {100 * r['gross']:6.1f}% {r['recall']:7.3f} "
                  f"{r['false_alarm']:7.3f} {r['threshold']:6.2f} {r['rtf']:7.3f}")


if __name__ == "__main__":
    main()
