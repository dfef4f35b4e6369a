"""Speed and memory of the DDSP synthesizers (issue 2's targets), beside Magenta's ddsp 3.7.

Harmonic(100 harmonics) + FilteredNoise(65 bands), batch 16 x 4 s at 16 kHz,
250 frames per second, raw network-like controls through the processors
(exp_sigmoid scaling included), on the CPU with 2 threads:

    python benchmarks/synth.py [--threads 2] [--repeats 5] [--compare-only]

First table (timbral alone, each measurement in a child process): best-of-N wall
times for forward (inference), forward with autograd and forward+backward, for a
realistic melody f0 (100-1000 Hz, most upper harmonics above Nyquist) and the worst
case (f0 = 50 Hz: all 100 harmonics sound). Also the same Harmonic computed the
textbook way (every per-harmonic envelope materialised, as Magenta does) for
comparison, and the peak memory each variant adds (from the child's max RSS).

Second table: timbral (in this process) against Google Magenta's ddsp 3.7 on
TensorFlow 2.15 (graph mode, in a subprocess running benchmarks/magenta_synth.py in
the venv that benchmarks/magenta_env.sh creates), measured alternately, one call of
each in turn, on the same input arrays, in the same run: Harmonic, FilteredNoise,
both added, and the solo-instrument decoder (RnnFcDecoder: GRU 512, 3-layer 512-wide
MLPs) followed by both synthesizers; forward (no gradients) and forward + backward.
Both sides use --threads threads (torch.set_num_threads; TensorFlow's intra-op and
inter-op pools). Prints the median of --repeats calls for each and the ratio
Magenta / timbral. Without the Magenta venv it says how to make one and times
timbral alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

BATCH, SECONDS, SR, FRAME_RATE, HARMONICS, BANDS = 16, 4, 16000, 250, 100, 65
HERE = Path(__file__).resolve().parent
MAGENTA_VENV = HERE / ".magenta-venv"
# (workload, f0 case, mode) compared with Magenta, in this order.
COMPARISONS = [("harmonic", "melody", "forward"), ("harmonic", "worst", "forward"),
               ("noise", "melody", "forward"),
               ("synth", "melody", "forward"), ("synth", "worst", "forward"),
               ("synth", "melody", "forward_backward"), ("synth", "worst", "forward_backward"),
               ("decode_synth", "melody", "forward"),
               ("decode_synth", "melody", "forward_backward")]
LABELS = {"harmonic": "Harmonic", "noise": "FilteredNoise", "synth": "Harmonic + FilteredNoise",
          "decode_synth": "decoder -> both synths", "forward": "forward",
          "forward_backward": "forward + backward"}


def make_inputs(case: str, requires_grad: bool, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    n_frames = SECONDS * FRAME_RATE
    t = torch.arange(n_frames) / FRAME_RATE
    if case == "worst":
        f0 = torch.full((BATCH, n_frames, 1), 50.0)
    else:  # a note per half second, 100-1000 Hz, with vibrato
        notes = 100.0 * 10 ** torch.rand(BATCH, SECONDS * 2, generator=gen)
        f0 = notes.repeat_interleave(FRAME_RATE // 2, dim=1)[..., None]
        f0 = f0 * (1 + 0.01 * torch.sin(2 * torch.pi * 5.5 * t))[None, :, None]
    inputs = {"amps": torch.randn(BATCH, n_frames, 1, generator=gen),
              "harmonic_distribution": torch.randn(BATCH, n_frames, HARMONICS, generator=gen),
              "noise_magnitudes": torch.randn(BATCH, n_frames, BANDS, generator=gen)}
    for v in inputs.values():
        v.requires_grad_(requires_grad)
    inputs["f0_hz"] = f0
    return inputs


def build(textbook: bool):
    from timbral import core, synths

    n_samples = SECONDS * SR
    harmonic = synths.Harmonic(n_samples, SR)
    noise = synths.FilteredNoise(n_samples)

    def textbook_signal(amplitudes, harmonic_distribution, f0_hz):
        freqs = core.resample(core.get_harmonic_frequencies(f0_hz, HARMONICS), n_samples)
        amps = core.resample(amplitudes * harmonic_distribution, n_samples, "window")
        return core.oscillator_bank(freqs, amps, SR)

    def run(x):
        controls = harmonic.get_controls(x["amps"], x["harmonic_distribution"], x["f0_hz"])
        audio = textbook_signal(**controls) if textbook else harmonic.get_signal(**controls)
        return audio + noise(x["noise_magnitudes"])

    return run


def time_mode(run, case: str, mode: str, repeats: int) -> float:
    best = float("inf")
    for i in range(repeats + 1):  # the first run warms up
        x = make_inputs(case, requires_grad=mode != "forward")
        start = time.perf_counter()
        if mode == "forward":
            with torch.no_grad():
                run(x)
        elif mode == "forward_autograd":
            run(x)
        else:
            run(x).square().mean().backward()
        elapsed = time.perf_counter() - start
        if i:
            best = min(best, elapsed)
    return best


def child(args) -> None:
    """Measure one (variant, case, mode) and print JSON: seconds and peak RSS added."""
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    run = build(args.variant == "textbook")
    make_inputs(args.case, True)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = time_mode(run, args.case, args.mode, args.repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024}))


def comparison_inputs(path: Path) -> dict:
    """The arrays both libraries get, per f0 case; also saved to ``path`` for Magenta."""
    from timbral import core

    arrays = {"n_samples": np.array(SECONDS * SR), "sample_rate": np.array(SR),
              "harmonics": np.array(HARMONICS), "bands": np.array(BANDS)}
    for case in ("melody", "worst"):
        x = make_inputs(case, requires_grad=False)
        gen = torch.Generator().manual_seed(1)
        x["ld_scaled"] = torch.rand(x["f0_hz"].shape, generator=gen)
        x["f0_scaled"] = core.hz_to_midi(x["f0_hz"]) / 127.0
        for k, v in x.items():
            arrays[f"{case}/{k}"] = v.detach().numpy().astype(np.float32)
    np.savez(path, **arrays)
    return arrays


def timbral_workloads(arrays: dict):
    """make(workload, case, mode) -> a function running one call, as magenta_synth.py's."""
    from timbral import synths
    from timbral.models.decoders import RnnFcDecoder

    harmonic = synths.Harmonic(SECONDS * SR, SR)
    noise = synths.FilteredNoise(SECONDS * SR)
    decoder = RnnFcDecoder(rnn_channels=512, rnn_type="gru", ch=512, layers_per_stack=3,
                           input_keys=("ld_scaled", "f0_scaled"),
                           output_splits=(("amps", 1), ("harmonic_distribution", HARMONICS),
                                          ("noise_magnitudes", BANDS)))

    def synth(c, f0_hz):
        return harmonic(c["amps"], c["harmonic_distribution"], f0_hz) + noise(c["noise_magnitudes"])

    signals = {"harmonic": lambda c, f0: harmonic(c["amps"], c["harmonic_distribution"], f0),
               "noise": lambda c, f0: noise(c["noise_magnitudes"]),
               "synth": synth,
               "decode_synth": lambda c, f0: synth(decoder(c)[0], f0)}
    keys = {"harmonic": ("amps", "harmonic_distribution"), "noise": ("noise_magnitudes",),
            "synth": ("amps", "harmonic_distribution", "noise_magnitudes"),
            "decode_synth": ("ld_scaled", "f0_scaled")}

    def make(workload, case, mode):
        signal = signals[workload]
        grads = mode == "forward_backward" and workload != "decode_synth"
        controls = {k: torch.from_numpy(arrays[f"{case}/{k}"]).requires_grad_(grads)
                    for k in keys[workload]}
        f0_hz = torch.from_numpy(arrays[f"{case}/f0_hz"])
        leaves = list(controls.values()) if grads else list(decoder.parameters())

        def step():
            if mode == "forward":
                with torch.no_grad():
                    signal(controls, f0_hz)
                return
            for leaf in leaves:
                leaf.grad = None
            signal(controls, f0_hz).square().mean().backward()

        return step

    return make


class Magenta:
    """benchmarks/magenta_synth.py running in the Magenta venv, one call per request."""

    def __init__(self, venv: Path, inputs: Path, threads: int):
        python = venv / "bin" / "python"
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="2",
                   PYTHONWARNINGS="ignore")
        self.proc = subprocess.Popen(
            [str(python), str(HERE / "magenta_synth.py"), "--inputs", str(inputs),
             "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        self.info = self._reply()

    def _reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.log.seek(0)
            tail = [ln for ln in self.log.read().splitlines() if ln.strip()][-1:]
            raise RuntimeError(tail[0] if tail else f"exit status {self.proc.returncode}")
        return json.loads(line)

    def request(self, *words: str) -> dict:
        self.proc.stdin.write(" ".join(words) + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> dict:
        try:
            return self.request("quit")
        except (OSError, RuntimeError, ValueError):  # it has already stopped
            return {}
        finally:
            self.proc.wait()
            self.log.close()


def start_magenta(venv: Path, inputs: Path, threads: int):
    """A running Magenta, or None after a one-line message saying how to install it."""
    how = "install it with benchmarks/magenta_env.sh; timing timbral alone"
    if not (venv / "bin" / "python").exists():
        print(f"Magenta's ddsp: no venv at {venv}: {how}", flush=True)
        return None
    try:
        return Magenta(venv, inputs, threads)
    except (OSError, RuntimeError, ValueError) as error:
        print(f"Magenta's ddsp does not run from {venv} ({error}): {how}", flush=True)
        return None


def compare(args) -> None:
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        arrays = comparison_inputs(inputs)
        magenta = None if args.no_magenta else start_magenta(Path(args.magenta_venv), inputs,
                                                             args.threads)
        make = timbral_workloads(arrays)
        threads = f"{args.threads} thread" + ("s" if args.threads != 1 else "")
        title = f"timbral (torch {torch.__version__}, in-process)"
        header = f"{'workload':<25} {'f0':<7} {'mode':<19} {'timbral':>8}"
        if magenta:
            title += (f" vs Magenta ddsp {magenta.info['ddsp']} (TF {magenta.info['tensorflow']}, "
                      f"graph mode, subprocess), alternating, {threads} each")
            header += f" {'Magenta':>8} {'ratio':>6}"
        else:
            title += f", {threads}"
        print(f"\n{title}: median of {args.repeats} calls, milliseconds")
        print(header)
        try:
            for workload, case, mode in COMPARISONS:
                if args.only and workload not in args.only:
                    continue
                step = make(workload, case, mode)
                step()  # warm-up
                ours, theirs = [], []
                if magenta:  # the first request traces and warms up, then times one call
                    theirs.append(magenta.request(workload, case, mode)["seconds"])
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    step()
                    ours.append(time.perf_counter() - start)
                    if magenta and len(theirs) < args.repeats:
                        theirs.append(magenta.request(workload, case, mode)["seconds"])
                ms = 1000 * statistics.median(ours)
                row = f"{LABELS[workload]:<25} {case:<7} {LABELS[mode]:<19} {ms:8.1f}"
                if magenta:
                    theirs_ms = 1000 * statistics.median(theirs)
                    row += f" {theirs_ms:8.0f} {theirs_ms / ms:5.1f}x"
                print(row, flush=True)
        finally:
            if magenta:
                peak = magenta.close().get("peak_rss_mib", float("nan"))
                print(f"(Magenta's process peak RSS: {peak:.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-textbook", action="store_true",
                        help="skip the slow materialised-envelope comparison")
    parser.add_argument("--compare-only", action="store_true",
                        help="only the timbral vs Magenta table")
    parser.add_argument("--only", nargs="+", choices=sorted({w for w, _, _ in COMPARISONS}),
                        help="compare only these workloads")
    parser.add_argument("--no-magenta", action="store_true",
                        help="skip Magenta's ddsp in the comparison (timbral alone)")
    parser.add_argument("--magenta-venv", default=str(MAGENTA_VENV),
                        help="venv made by benchmarks/magenta_env.sh (default: %(default)s)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="timbral", help=argparse.SUPPRESS)
    parser.add_argument("--case", default="melody", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="forward", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not args.compare_only:
        own_table(args)
    compare(args)


def own_table(args) -> None:
    per_tensor = BATCH * SECONDS * SR * HARMONICS * 4 / 2 ** 20
    print(f"Harmonic({HARMONICS}) + FilteredNoise({BANDS}), batch {BATCH} x {SECONDS} s at "
          f"{SR} Hz, {args.threads} threads, best of {args.repeats}")
    print(f"(one float32 [batch, samples, harmonics] tensor would be {per_tensor:.0f} MiB)")
    print(f"{'variant':<10} {'f0':<7} {'mode':<17} {'seconds':>8} {'peak MiB':>9}")
    variants = ["timbral"] + ([] if args.skip_textbook else ["textbook"])
    for variant in variants:
        for case in ("melody", "worst"):
            for mode in ("forward", "forward_autograd", "forward_backward"):
                repeats = args.repeats if variant == "timbral" else 1
                cmd = [sys.executable, __file__, "--child", "--variant", variant, "--case", case,
                       "--mode", mode, "--threads", str(args.threads), "--repeats", str(repeats)]
                result = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                                   text=True).stdout)
                print(f"{variant:<10} {case:<7} {mode:<17} {result['seconds']:8.3f} "
                      f"{result['peak_mib']:9.0f}", flush=True)


if __name__ == "__main__":
    main()
