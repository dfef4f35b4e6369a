"""Noise in, silence out: the voicing gate on noise, ambient recordings, noisy melodies, speech.

    OMP_NUM_THREADS=1 python benchmarks/noise.py          # the full sweep (about an hour, one core)
    OMP_NUM_THREADS=1 python benchmarks/noise.py --quick  # one model, fewer signals (2 minutes)

Material the project makes or ships: coloured noise (white, pink, brown; generated),
ambient recordings from Debian packages (sonic-pi-samples' CC0 hiss, sauna, wind and
rumble, a swoosh, alsa-utils' Noise.wav; ``requirements/soundfont-apt.txt``), mains hum (50 Hz
with harmonics in a room's pink noise; made), white noise through resonances (wind
across a pipe, steam's hiss: a pitch that wanders, without overtones; made), fans (a
blade tone with harmonics, steady to a few cents, in airflow noise; made), SoundFont melodies
(``timbral.data.render_melody``, whose notes are known exactly) mixed with noise at 20,
10 and 0 dB SNR (the melody's power over its held notes against the noise's), and
alsa-utils' spoken phrases ("Front Center", ... ; /usr/share/sounds/alsa).

Sections and targets (default controls, gate 0.5):

1. pure noise at -40, -25 and -10 dBFS through every shipped model, offline and
   streamed: output RMS at least 40 dB below the input's;
2. melody + noise: during rests (no note held or ringing, one frame away from any)
   the output at least 40 dB below its notes; the frames the gate plays against the
   notes held: recall >= 95 % and false alarms (a frame played in a rest) <= 2 % of
   all frames, at 10 dB SNR; 20 and 0 dB reported;
3. speech and singing: share of output energy in frames where the input is unvoiced
   (neither CREPE full at confidence 0.5 nor WORLD calls them voiced) <= 5 %; the
   singing is made: FluidR3's "Voice Oohs" phrases with consonants cut from the spoken
   phrases before their notes and shaped-noise breaths in their rests;
4. transitions: clean melodies, frames played more than 80 cents from the true pitch
   (times 2 ** the applied octave shift), attacks included, <= 1 % of the notes' frames;
5. the example clip: the gate against no gate (``gate=0``, the behaviour before it);
6. real performances (``--real``, default the project's shared bach-violin recordings,
   whose ``.notes.csv`` give each note's start and end) clean and with pink noise at 20
   and 10 dB SNR: recall inside the aligned notes and frames played more than 0.25 s
   from any note (no target: the alignment is not exact, and reverb rings past notes);
7. the stream's latency: streamed recall and false alarms (white and pink noise at 10 dB
   SNR) and transitions (clean, pink 20 dB) with the analysis looking ahead by 0, 128
   and 384 samples (latency 24, 44 and 64 ms with blocks of 320: a lookahead costs
   whole blocks), and the recall an oracle gate would reach: one that also played every
   missed frame whose tracker pitch is right (within 80 cents), whatever its confidence.

Sections 2-4 run ``timbral.transfer`` with a dry model (``--model``, default flute, 100
frames/s: a model with a room, such as the violin trained on recordings, rings into the
rests by design) and ``StreamProcessor`` with violin_realtime (50 frames/s, blocks of 320
samples).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

SR = 16000
SONIC_PI = Path("/usr/share/sonic-pi/samples")
ALSA = Path("/usr/share/sounds/alsa")
#: Noise-like ambient recordings (no steady pitch): name -> file.
AMBIENT = {
    "vinyl hiss": SONIC_PI / "vinyl_hiss.flac",
    "sauna": SONIC_PI / "ambi_sauna.flac",
    "dark woosh (wind)": SONIC_PI / "ambi_dark_woosh.flac",
    "cineboom (rumble)": SONIC_PI / "misc_cineboom.flac",
    "alsa Noise.wav": ALSA / "Noise.wav",
    "swoosh": SONIC_PI / "ambi_swoosh.flac",
}
NOISES = ("white", "pink", "brown")
#: Noise through a resonance, made: name -> (centre in Hz, quality factor). Wind
#: across a pipe or a bottle: a pitch that wanders, without overtones.
RESONANCES = {"white noise through a 310 Hz resonance": (310.0, 15.0),
              "white noise through a 1200 Hz resonance": (1200.0, 20.0),
              "white noise through a 3750 Hz resonance": (3750.0, 20.0)}
#: Mains hum, made: name -> (hum frequency in Hz, harmonics, pink room noise in dB under
#: the hum). A ground loop's 50 Hz with its harmonics, 3 dB less each, in a room.
HUMS = {"hum 50 Hz in a room": (50.0, 8, 6.0)}
#: Fans, made: name -> (blade tone in Hz, its level in dB against the airflow's). Six
#: harmonics (0.6 ** h each), the motor's speed wandering +-3 cents, a 10 % swell at
#: 0.7 Hz, in pink airflow noise: a steady tone a tracker is sure of.
FANS = {"fan (108 Hz blade tone)": (108.0, 0.0), "fan (180 Hz blade tone)": (180.0, 0.0)}
INSTRUMENTS = (("violin", 3), ("flute", 5), ("trumpet", 2), ("tenor_sax", 4), ("clarinet", 6))


# ------------------------------------------------------------------- material
def coloured_noise(kind: str, seconds: float, seed: int = 0) -> np.ndarray:
    """White, pink (1/f power) or brown (1/f^2) noise at 16 kHz, RMS 1, float64."""
    n = int(seconds * SR)
    white = np.random.default_rng(seed).standard_normal(n)
    if kind != "white":
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(n, 1 / SR)
        freqs[0] = freqs[1]
        white = np.fft.irfft(spectrum / freqs ** {"pink": 0.5, "brown": 1.0}[kind], n)
    return white / np.sqrt(np.mean(white ** 2))


def hum(kind: str, seconds: float, seed: int = 0) -> np.ndarray:
    """A :data:`HUMS` hum (random phases), RMS 1."""
    hz, harmonics, room_db = HUMS[kind]
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(10 ** (-3 * h / 20) * np.sin(2 * np.pi * hz * (h + 1) * t + rng.uniform(0, 2 * np.pi))
            for h in range(harmonics))
    x /= np.sqrt(np.mean(x ** 2))
    x += coloured_noise("pink", seconds, seed) * 10 ** (-room_db / 20)
    return x / np.sqrt(np.mean(x ** 2))


def fan(kind: str, seconds: float, seed: int = 0) -> np.ndarray:
    """A :data:`FANS` fan, RMS 1."""
    hz, tone_db = FANS[kind]
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    wander = np.cumsum(rng.standard_normal(n))
    wander -= np.convolve(wander, np.ones(8000) / 8000, "same")  # slow: under 2 Hz
    wander *= 3.0 / (np.std(wander) + 1e-12)
    phase = 2 * np.pi * np.cumsum(hz * 2 ** (wander / 1200)) / SR + rng.uniform(0, 2 * np.pi)
    tone = sum(0.6 ** h * np.sin((h + 1) * phase) for h in range(6))
    tone *= 1 + 0.1 * np.sin(2 * np.pi * 0.7 * t)
    x = coloured_noise("pink", seconds, seed + 7) + tone / np.std(tone) * 10 ** (tone_db / 20)
    return x / np.sqrt(np.mean(x ** 2))


def resonance(kind: str, seconds: float, seed: int = 0) -> np.ndarray:
    """A :data:`RESONANCES` noise: white noise through a two-pole resonator (applied
    in the frequency domain: noise has no start to ring from), RMS 1."""
    hz, q = RESONANCES[kind]
    white = coloured_noise("white", seconds, seed)
    r = np.exp(-np.pi * hz / q / SR)
    z = np.exp(-1j * 2 * np.pi * np.fft.rfftfreq(len(white), 1 / SR) / SR)
    response = 1.0 / (1.0 - 2 * r * np.cos(2 * np.pi * hz / SR) * z + r * r * z * z)
    x = np.fft.irfft(np.fft.rfft(white) * response, len(white))
    return x / np.sqrt(np.mean(x ** 2))


def recording(path: Path) -> np.ndarray:
    """A shipped recording as mono 16 kHz float64 at RMS 1."""
    from timbral.audio import load_audio, resample_audio

    audio, rate = load_audio(path)
    x = resample_audio(audio, rate, SR).astype(np.float64)
    return x / np.sqrt(np.mean(x ** 2))


def noise(kind: str, seconds: float, seed: int = 0) -> np.ndarray:
    """Coloured noise by name, a hum, or an ambient recording (looped to ``seconds``),
    RMS 1."""
    if kind in NOISES:
        return coloured_noise(kind, seconds, seed)
    if kind in HUMS:
        return hum(kind, seconds, seed)
    if kind in RESONANCES:
        return resonance(kind, seconds, seed)
    if kind in FANS:
        return fan(kind, seconds, seed)
    return np.resize(recording(AMBIENT[kind]), int(seconds * SR))


def at_dbfs(x: np.ndarray, db: float) -> np.ndarray:
    return (x * 10 ** (db / 20) / np.sqrt(np.mean(x ** 2))).astype(np.float32)


def noisy_melody(instrument: str, seed: int, kind: str, snr_db, seconds: float = 8.0):
    """A rendered phrase plus noise at ``snr_db`` (None: clean); (audio, rendering)."""
    from timbral.data import render_melody

    rendering = render_melody(instrument, seconds, seed=seed)
    x = rendering.audio.astype(np.float64)
    if snr_db is None:
        return x.astype(np.float32), rendering
    held = rendering.voiced_at(np.arange(len(x)) / SR)
    power = np.mean(x[held] ** 2)
    x = x + noise(kind, len(x) / SR, seed + 100) * np.sqrt(power / 10 ** (snr_db / 10))
    return x.astype(np.float32), rendering


def speech() -> np.ndarray:
    """alsa-utils' spoken phrases, each followed by 0.25 s of silence, at 16 kHz."""
    phrases = [recording(p) for p in sorted(ALSA.glob("*.wav")) if p.name != "Noise.wav"]
    out = np.concatenate([np.concatenate([p, np.zeros(SR // 4)]) for p in phrases])
    return at_dbfs(out, -20.0)


def consonants(x: np.ndarray) -> list:
    """The unvoiced sounds of speech ``x`` (16 kHz): runs of 30-200 ms that neither
    reference voices (:func:`reference_voicing`) within 30 dB of its loudest frame."""
    from timbral.features import compute_audio_features

    voiced = reference_voicing(x, 100, len(x) // 160 + 1)
    loudness = compute_audio_features(x, SR, 100)["loudness_db"][:len(voiced)]
    unvoiced = ~voiced & (loudness > loudness.max() - 30)
    edges = np.diff(np.concatenate([[0], unvoiced.astype(np.int8), [0]]))
    return [x[a * 160:b * 160] for a, b in zip(np.nonzero(edges == 1)[0],
                                                np.nonzero(edges == -1)[0])
            if 3 <= b - a <= 20 and a > 0 and b < len(voiced) - 1]


def singing(seed: int, sounds: list, seconds: float = 12.0):
    """A sung line: a phrase on FluidR3's "Voice Oohs" (GM 54; notes at -20 dBFS) with
    a consonant of ``sounds`` (from :func:`consonants`, at their level in the speech)
    ending where each note after a rest of 80 ms or more starts, and a breath (pink
    noise at 400-5000 Hz, 0.4 s, 35 dB under the notes) in each rest of 0.6 s or more.
    Returns (audio float32, rendering)."""
    from timbral.data import render_melody
    from timbral.data.melodies import Instrument

    rendering = render_melody(Instrument("voice", 53, 57, 76), seconds, seed=seed,
                              rest_probability=0.35, legato=0.3)
    x = rendering.audio.astype(np.float64)
    x *= 0.1 / np.sqrt(np.mean(x[rendering.voiced_at(np.arange(len(x)) / SR)] ** 2))
    rng = np.random.default_rng(seed)
    notes = rendering.notes
    for i, note in enumerate(notes):
        gap = note.onset - (notes[i - 1].offset if i else 0.0)
        if gap >= 0.08:
            sound = sounds[rng.integers(len(sounds))]
            end = int(note.onset * SR)
            start = max(0, end - len(sound))
            x[start:end] += sound[len(sound) - (end - start):]
        if gap >= 0.6 and i:
            n = int(0.4 * SR)
            spectrum = np.fft.rfft(coloured_noise("pink", 0.4, seed + i))
            f = np.fft.rfftfreq(n, 1 / SR)
            spectrum[(f < 400) | (f > 5000)] = 0
            breath = np.fft.irfft(spectrum, n) * np.hanning(n)
            start = int((notes[i - 1].offset + 0.1) * SR)
            piece = at_dbfs(breath, -55.0)[:len(x) - start]
            x[start:start + len(piece)] += piece
    return x.astype(np.float32), rendering


# ------------------------------------------------------------------- measuring
def level_db(x) -> float:
    return float(10 * np.log10(np.mean(np.square(np.asarray(x, np.float64))) + 1e-30))


def frame_power(audio: np.ndarray, hop: int, n_frames: int) -> np.ndarray:
    """Mean square of the ``hop`` samples centred on each frame (frame k at k * hop)."""
    padded = np.concatenate([np.zeros(hop // 2), np.asarray(audio, np.float64) ** 2,
                             np.zeros(n_frames * hop)])
    return padded[:n_frames * hop].reshape(n_frames, hop).mean(axis=1)


def near(mask: np.ndarray, frames: int) -> np.ndarray:
    """``mask`` widened by ``frames`` on each side."""
    out = mask.copy()
    for s in range(1, frames + 1):
        out[s:] |= mask[:-s]
        out[:-s] |= mask[s:]
    return out


def offline(audio, model, **controls):
    """(output audio, played [n], f0 played / 2 ** octave shift [n], hop)."""
    from timbral.transfer import transfer

    result = transfer(audio, SR, model, **controls)
    n = len(result.f0_hz)
    played = np.ones(n, bool) if result.voicing is None else result.voicing.voiced
    shift = result.adjust.octave_shift if result.adjust is not None else 0.0
    return result.audio, played, result.f0_hz / 2.0 ** shift, model.hop


def streamed(audio, model, **controls):
    """The same through the streaming engine (f0 only meaningful with adjust=False; the
    output at the model's rate)."""
    from timbral.audio import resample_audio
    from timbral.stream import StreamProcessor, stream_audio

    processor = StreamProcessor(model, 320, record=True, **controls)
    out = stream_audio(processor, resample_audio(audio, SR, model.sample_rate))
    return (out, np.array(processor.record["voiced"]), np.array(processor.record["f0_adjusted"]),
            model.hop)


# -------------------------------------------------------------------- sections
def pure_noise(models, kinds, levels) -> None:
    print("\n1. Pure noise: output RMS - input RMS (dB); target <= -40 for every model, "
          "offline and streamed")
    print(f"{'noise':<20} {'dBFS':>5} " + " ".join(f"{m.config['name'][:12]:>12}" for m in models)
          + "   (offline / streamed)")
    worst = -np.inf
    for kind in kinds:
        source = noise(kind, 6.0, seed=1)
        for db in levels:
            x = at_dbfs(source, db)
            cells = []
            for model in models:
                pair = [level_db(run(x, model)[0]) - level_db(x) for run in (offline, streamed)]
                worst = max(worst, *pair)
                cells.append("/".join(f"{max(v, -99):.0f}" for v in pair))
            print(f"{kind:<20} {db:>5.0f} " + " ".join(f"{c:>12}" for c in cells), flush=True)
    print(f"worst: {worst:.1f} dB ({'met' if worst <= -40 else 'MISSED'})")


def melodies(model_off, model_str, kinds, snrs, instruments) -> None:
    print("\n2. Melody + noise: rests vs notes in the output (dB, target <= -40), recall "
          "(>= 0.95) and false alarms (share of all frames, <= 0.02) of the played frames; "
          "'in tune': the notes' frames played within 80 cents of the truth (offline; recall "
          "counts a frame playing the noise's pitch); '1 s+': the stream's rests after its "
          "first second (its noise floor is known)")
    print(f"{'instrument':<10} {'noise':<18} {'SNR':>4} | {'offline: rest':>13} {'recall':>6} "
          f"{'tune':>6} {'f.a.':>6} | {'stream: rest':>12} {'1 s+':>6} {'recall':>6} "
          f"{'f.a.':>6}")
    pooled = {}
    for instrument, seed in instruments:
        for kind in kinds:
            for snr in snrs:
                x, rendering = noisy_melody(instrument, seed, kind, snr)
                row = []
                for run, model in ((offline, model_off), (streamed, model_str)):
                    out, played, f0, hop = run(x, model)
                    truth = rendering.f0_frames(model.frame_rate, n_frames=len(played))
                    held, ringing = truth.voiced, truth.release
                    rest = ~near(held | ringing, 1)
                    # the stream's f0 carries its auto-adjust's octave shifts: offline only
                    tune = (float((played & held & (cents_off(f0, truth.f0_hz, held) <= 80))
                                  .sum() / held.sum()) if run is offline else np.nan)
                    power = frame_power(out, hop, len(played))
                    notes_db = 10 * np.log10(power[held].mean() + 1e-30)
                    late = rest & (np.arange(len(rest)) >= model.frame_rate)
                    rest_db, late_db = (10 * np.log10(power[r].mean() + 1e-30) - notes_db
                                        if r.any() else -np.inf for r in (rest, late))
                    recall = float(played[held].mean())
                    alarms = float((played & ~held & ~ringing).mean())
                    row.append((rest_db, recall, alarms, late_db, tune))
                    pooled.setdefault((run.__name__, snr), []).append(row[-1])
                (a, b, c, _, t), (d, e, f, g, _) = row
                print(f"{instrument:<10} {kind:<18} {snr:>4} | {max(a, -99):>13.1f} {b:>6.3f} "
                      f"{t:>6.3f} {c:>6.3f} | {max(d, -99):>12.1f} {max(g, -99):>6.1f} "
                      f"{e:>6.3f} {f:>6.3f}", flush=True)
    print("pooled (mean over instruments and noises; rest: the worst):")
    for (mode, snr), values in sorted(pooled.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        v = np.array(values)
        tune = f", in tune {v[:, 4].mean():.3f}" if mode == "offline" else ""
        print(f"  {mode:<8} {snr:>3} dB: rest {v[:, 0].max():6.1f} dB (after 1 s "
              f"{v[:, 3].max():6.1f}), recall {v[:, 1].mean():.3f} (min {v[:, 1].min():.3f})"
              f"{tune}, false alarms {v[:, 2].mean():.4f} (max {v[:, 2].max():.4f})")


def reference_voicing(audio, frame_rate: float, n_frames: int) -> np.ndarray:
    """Voiced unless both CREPE full (confidence 0.5) and WORLD call a frame unvoiced:
    references independent of the gate's tracker, each of which misses some voice."""
    from timbral.features import compute_audio_features

    voiced = np.zeros(n_frames, bool)  # frames past the end of the input: no voice
    for tracker in ("crepe-full", "world"):
        conf = compute_audio_features(audio, SR, frame_rate, tracker)["f0_confidence"][:n_frames]
        voiced[:len(conf)] |= conf >= 0.5
    return voiced


def speech_section(model_off, model_str) -> None:
    print("\n3. Speech and singing: share of output energy in frames the input has no voice "
          "in (target <= 0.05)")
    spoken = speech()
    sung = np.concatenate([singing(seed, consonants(spoken))[0] for seed in (1, 2, 3)])
    for name, clean in (("alsa phrases", spoken), ("sung lines", sung)):
        noisy = (clean + at_dbfs(noise("pink", len(clean) / SR, 3), level_db(clean) - 20)) \
            .astype(np.float32)
        voicings = {}
        for label, x in ((name, clean), (f"{name} + pink 20 dB", noisy)):
            for hold in (False, True):
                cells = []
                for run, model in ((offline, model_off), (streamed, model_str)):
                    out, played, _, hop = run(x, model, hold_pitch=hold)
                    key = (model.frame_rate, len(played))
                    if key not in voicings:
                        voicings[key] = reference_voicing(clean, model.frame_rate, len(played))
                    voiced = voicings[key]
                    power = frame_power(out, hop, len(played))
                    cells.append(power[~voiced].sum() / max(power.sum(), 1e-30))
                print(f"  {label:<28} hold_pitch={str(hold):<5}: offline {cells[0]:.3f}, "
                      f"streamed {cells[1]:.3f}", flush=True)


def cents_off(f0: np.ndarray, truth_hz: np.ndarray, held: np.ndarray) -> np.ndarray:
    """|f0 - truth| in cents on the ``held`` frames (elsewhere against 1 Hz: large)."""
    return np.abs(1200 * np.log2(np.maximum(f0, 1e-3) / np.where(held, truth_hz, 1.0)))


def one_frame_off(wrong: np.ndarray, f0: np.ndarray, truth_hz: np.ndarray,
                  held: np.ndarray) -> np.ndarray:
    """Of the ``wrong`` frames, those playing the written note of the frame just before
    or after, where the score changes note: a change placed one frame (10 ms) off."""
    out = np.zeros_like(wrong)
    for k in np.nonzero(wrong)[0]:
        for j in (k - 1, k + 1):
            if 0 <= j < len(held) and held[j] and \
                    abs(1200 * np.log2(f0[k] / truth_hz[j])) <= 80 < \
                    abs(1200 * np.log2(truth_hz[j] / truth_hz[k])):
                out[k] = True
    return out


def transitions(model_off, model_str, instruments, snrs, phrases: int = 1) -> None:
    print(f"\n4. Transitions: frames played > 80 cents from the truth, share of the notes' "
          f"frames (target <= 0.01; streamed with adjust off, no octave shift); {phrases} "
          f"phrase(s) per instrument (seeds + 0, 20, ...); pooled, also the share that is a "
          f"note change placed one frame off, and the rest")
    for snr in snrs:
        totals = {"offline": [0, 0, 0], "streamed": [0, 0, 0]}
        cells = []
        for instrument, seed in instruments:
            counts = {"offline": [0, 0], "streamed": [0, 0]}
            for phrase in range(phrases):
                x, rendering = noisy_melody(instrument, seed + 20 * phrase, "pink", snr)
                for name, run, model, extra in (("offline", offline, model_off, {}),
                                                ("streamed", streamed, model_str,
                                                 {"adjust": False})):
                    _, played, f0, _ = run(x, model, **extra)
                    truth = rendering.f0_frames(model.frame_rate, n_frames=len(played))
                    held = truth.voiced
                    wrong = played & held & (cents_off(f0, truth.f0_hz, held) > 80)
                    near = int(one_frame_off(wrong, f0, truth.f0_hz, held).sum())
                    for tally in (counts[name], totals[name]):
                        tally[0] += int(wrong.sum())
                        tally[1] += int(held.sum())
                    totals[name][2] += near
            cells.append(f"{instrument} {counts['offline'][0] / counts['offline'][1]:.3f}/"
                         f"{counts['streamed'][0] / counts['streamed'][1]:.3f}")
        label = "clean" if snr is None else f"pink {snr} dB"
        print(f"  {label:<12} (offline/streamed) " + ", ".join(cells))
        print(f"  {label:<12} pooled: " + ", ".join(
            f"{name} {bad / n:.4f} (one frame off {near / n:.4f}, rest {(bad - near) / n:.4f})"
            for name, (bad, n, near) in totals.items()), flush=True)


def stream_latency(model, instruments, lookaheads=(0, 128, 384)) -> None:
    from timbral.stream import StreamProcessor, stream_audio

    print("\n7. The stream's latency: recall and false alarms at 10 dB SNR (white, pink), "
          "the recall of an oracle gate that also plays every missed frame whose tracker "
          "pitch is right, transitions > 80 cents (clean / pink 20 dB)")
    for lookahead in lookaheads:
        recall, alarms, oracle, wrong = [], [], [], {None: [0, 0], 20: [0, 0]}
        for instrument, seed in instruments:
            for kind, snr in (("white", 10), ("pink", 10), ("pink", None), ("pink", 20)):
                x, rendering = noisy_melody(instrument, seed, kind, snr)
                # adjust off: f0 unshifted (the gate decides the voicing before it)
                processor = StreamProcessor(model, 320, record=True, lookahead=lookahead,
                                            adjust=False)
                stream_audio(processor, x)
                played = np.array(processor.record["voiced"])
                truth = rendering.f0_frames(model.frame_rate, n_frames=len(played))
                held = truth.voiced
                if snr == 10:
                    heard = np.array(processor.record["f0_hz"])
                    right = np.abs(1200 * np.log2(heard / np.where(held, truth.f0_hz, 1.0))) <= 80
                    recall.append(played[held].mean())
                    oracle.append((played | right)[held].mean())
                    alarms.append((played & ~held & ~truth.release).mean())
                else:
                    f0 = np.array(processor.record["f0_adjusted"])
                    cents = np.abs(1200 * np.log2(f0 / np.where(held, truth.f0_hz, 1.0)))
                    wrong[snr][0] += int((played & held & (cents > 80)).sum())
                    wrong[snr][1] += int(held.sum())
        latency = 1000.0 * (320 + processor.delay) / SR
        print(f"  lookahead {lookahead:>3} (latency {latency:.0f} ms): recall {np.mean(recall):.3f}"
              f" (min {np.min(recall):.3f}), false alarms {np.mean(alarms):.4f}, oracle recall "
              f"{np.mean(oracle):.3f}, transitions {wrong[None][0] / wrong[None][1]:.4f} / "
              f"{wrong[20][0] / wrong[20][1]:.4f}", flush=True)


def example_clip(models) -> None:
    from timbral.audio import load_audio
    from timbral.dsp.spectral import compute_loudness
    from timbral.transfer import transfer
    from timbral.zoo import EXAMPLE_CLIP

    print("\n5. The example clip, the default gate (0.5) against none (gate=0, as before): "
          "frames played; note-on frames before -> after; on the frames note-on in both, the "
          "decoder's loudness and f0 changes (largest) and the output's loudness change "
          "(median, 95th percentile); note-on frames the gate silenced")
    audio, rate = load_audio(EXAMPLE_CLIP)
    for model in models:
        before = transfer(audio, rate, model, gate=0.0)
        after = transfer(audio, rate, model)
        both = before.mask_on & after.mask_on
        d_in = np.abs(after.loudness_db - before.loudness_db)[both].max()
        cents = np.abs(1200 * np.log2(after.f0_hz / before.f0_hz))[both]
        out = [compute_loudness(torch.from_numpy(r.audio), r.sample_rate, model.frame_rate)[0]
               .numpy()[:len(both)] for r in (before, after)]
        d_out = np.abs(out[1] - out[0])[both]
        silenced = ~after.voicing.voiced & before.mask_on
        print(f"  {model.config['name']:<16} played {after.voicing.voiced.mean():.2f}, note-on "
              f"{before.mask_on.sum()} -> {after.mask_on.sum()}, input loudness "
              f"{d_in:.2f} dB, f0 {cents.max():.1f} cents ({(cents > 1).sum()} frames > 1), "
              f"output loudness {np.median(d_out):.2f} / {np.percentile(d_out, 95):.2f} dB; "
              f"{silenced.sum()} note-on frames silenced", flush=True)


def real_recordings(model_off, folder: Path, seconds: float, snrs) -> None:
    """Recall and false alarms on real performances against their note alignment."""
    import csv

    from timbral.audio import load_audio, resample_audio

    print(f"\n6. Real recordings ({folder}, the first {seconds:g} s of each), pink noise "
          f"at the SNR of the recording's power: frames played inside the aligned notes "
          f"(recall) and more than 0.25 s from any note (false alarms), offline")
    if not folder.is_dir():
        print(f"  skipped: no folder {folder} (--real)")
        return
    for path in sorted(p for p in folder.rglob("*") if p.with_suffix(".notes.csv").is_file()):
        audio, rate = load_audio(path)
        x = resample_audio(audio, rate, SR)[:int(seconds * SR)].astype(np.float64)
        with open(path.with_suffix(".notes.csv")) as f:
            notes = [(float(r["start"]), float(r["end"])) for r in csv.DictReader(f)]
        cells = []
        for snr in snrs:
            y = x if snr is None else x + noise("pink", len(x) / SR, 5) * np.sqrt(
                np.mean(x ** 2) / 10 ** (snr / 10))
            _, played, _, _ = offline(y.astype(np.float32), model_off)
            t = np.arange(len(played)) / model_off.frame_rate
            inside = np.zeros(len(played), bool)
            for start, end in notes:
                inside |= (t >= start) & (t < end)
            far = ~near(inside, int(0.25 * model_off.frame_rate))
            alarms = f"{played[far].mean():.3f}" if far.any() else "-"
            cells.append(f"{'clean' if snr is None else f'{snr} dB'}: {played[inside].mean():.3f}"
                         f" / {alarms}")
        print(f"  {path.name:<36} " + ", ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one model, fewer signals")
    parser.add_argument("--sections", default="1234567", help="which sections to run (digits)")
    parser.add_argument("--model", default="flute", help="the offline model of sections 2-5")
    parser.add_argument("--noises", default="white,pink,brown,vinyl hiss,sauna",
                        help="section 2's noises, comma-separated (also: swoosh, white noise "
                             "through a 310 Hz resonance, ... 1200 Hz, ... 3750 Hz resonance, "
                             "fan (108 Hz blade tone), fan (180 Hz blade tone))")
    parser.add_argument("--phrases", type=int, default=5,
                        help="phrases per instrument in section 4")
    parser.add_argument("--real", type=Path, default=Path("../shared/data/bach-violin"),
                        help="section 6: a folder of recordings, each with a NAME.notes.csv "
                             "(start,end in seconds) beside it")
    args = parser.parse_args()
    known = NOISES + tuple(AMBIENT) + tuple(HUMS) + tuple(RESONANCES) + tuple(FANS)
    unknown = [k for k in args.noises.split(",") if k not in known]
    if unknown:
        parser.error(f"--noises: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    torch.set_num_threads(1)
    from timbral.zoo import list_models, load_model

    start = time.perf_counter()
    dry, realtime = load_model(args.model), load_model("violin_realtime")
    if args.quick:
        pure_noise([dry, realtime], ("white", "brown", "vinyl hiss"), (-40, -10))
        melodies(dry, realtime, ("white", "pink"), (10,), INSTRUMENTS[:2])
        transitions(dry, realtime, INSTRUMENTS[:2], (None,))
    else:
        sections = {
            "1": lambda: pure_noise([load_model(m["name"]) for m in list_models()],
                                    NOISES + tuple(AMBIENT) + tuple(HUMS) + tuple(RESONANCES)
                                    + tuple(FANS),
                                    (-40, -25, -10)),
            "2": lambda: melodies(dry, realtime, tuple(args.noises.split(",")), (20, 10, 0),
                                  INSTRUMENTS),
            "3": lambda: speech_section(dry, realtime),
            "4": lambda: transitions(dry, realtime, INSTRUMENTS, (None, 20), args.phrases),
            "5": lambda: example_clip([load_model(m["name"]) for m in list_models()]),
            "6": lambda: real_recordings(dry, args.real, 60.0, (None, 20, 10)),
            "7": lambda: stream_latency(realtime, INSTRUMENTS),
        }
        for key in args.sections:
            sections[key]()
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
