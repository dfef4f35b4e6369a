"""Magenta's ddsp 3.7 side of benchmarks/synth.py; runs in the venv of benchmarks/magenta_env.sh.

    .magenta-venv/bin/python benchmarks/magenta_synth.py --check
    .magenta-venv/bin/python benchmarks/magenta_synth.py --inputs INPUTS.npz --threads 2

--check imports ddsp and prints its version and TensorFlow's as JSON (exit 1 when it fails).
Otherwise this is a small server driven by synth.py over stdin/stdout, so that the two
libraries can be timed alternately within one run without paying TensorFlow's start-up
for every measurement. It loads the inputs synth.py wrote (the same arrays timbral gets),
prints one JSON line {"ready": ...}, then for each line "WORKLOAD CASE MODE" on stdin
times one call and prints {"seconds": ...} (the first request for a combination first
traces and warms it up, reported as "warmup_s"); "quit" prints {"peak_rss_mib": ...}.

Every workload runs inside tf.function (graph mode, as Magenta trains), with
TensorFlow's intra-op and inter-op thread pools both set to --threads. Workloads mirror
synth.py's: "harmonic" (Harmonic, 100 harmonics), "noise" (FilteredNoise, 65 bands),
"synth" (both, added) and "decode_synth" (the solo-instrument RnnFcDecoder: GRU 512,
3-layer 512-wide MLPs, then both synthesizers); mode "forward" or "forward_backward"
(gradient of mean(audio^2) with respect to the raw controls, or for decode_synth to the
decoder's weights).
"""

import argparse
import json
import os
import resource
import sys
import time
import types


def stub_modules() -> None:
    """ddsp imports crepe and google.colab at module level; neither is used here."""
    if "crepe" not in sys.modules:
        crepe = types.ModuleType("crepe")
        crepe.core = types.ModuleType("crepe.core")
        sys.modules["crepe"] = crepe
        sys.modules["crepe.core"] = crepe.core
    if "google.colab" not in sys.modules:
        import google  # namespace package (protobuf, google-auth)
        colab = types.ModuleType("google.colab")
        colab.files = colab.output = types.ModuleType("google.colab.stub")
        google.colab = colab
        sys.modules["google.colab"] = colab


def import_ddsp(threads: int = 0):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    stub_modules()
    import tensorflow as tf
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    import ddsp
    import ddsp.training
    return tf, ddsp


def build(tf, ddsp, data):
    """{workload: {case: {mode: tf.function}}} over constant inputs."""
    n_samples = int(data["n_samples"])
    sample_rate = int(data["sample_rate"])
    harmonics = int(data["harmonics"])
    bands = int(data["bands"])
    harmonic = ddsp.synths.Harmonic(n_samples=n_samples, sample_rate=sample_rate)
    noise = ddsp.synths.FilteredNoise(n_samples=n_samples)
    decoder = ddsp.training.decoders.RnnFcDecoder(
        rnn_channels=512, rnn_type="gru", ch=512, layers_per_stack=3,
        input_keys=("ld_scaled", "f0_scaled"),
        output_splits=(("amps", 1), ("harmonic_distribution", harmonics),
                       ("noise_magnitudes", bands)))

    def synth(c, f0_hz):
        return (harmonic(c["amps"], c["harmonic_distribution"], f0_hz)
                + noise(c["noise_magnitudes"]))

    def decode_synth(c, f0_hz):
        return synth(decoder({"ld_scaled": c["ld_scaled"], "f0_scaled": c["f0_scaled"]}), f0_hz)

    signals = {
        "harmonic": lambda c, f0: harmonic(c["amps"], c["harmonic_distribution"], f0),
        "noise": lambda c, f0: noise(c["noise_magnitudes"]),
        "synth": synth,
        "decode_synth": decode_synth,
    }
    keys = {"harmonic": ("amps", "harmonic_distribution"), "noise": ("noise_magnitudes",),
            "synth": ("amps", "harmonic_distribution", "noise_magnitudes"),
            "decode_synth": ("ld_scaled", "f0_scaled")}
    # Build the decoder's weights once, outside any tf.function.
    case0 = min(k.split("/")[0] for k in data.files if "/" in k)
    decoder({k: tf.constant(data[f"{case0}/{k}"][:, :2]) for k in keys["decode_synth"]})

    def make(workload, case, mode):
        signal = signals[workload]
        controls = {k: tf.constant(data[f"{case}/{k}"]) for k in keys[workload]}
        f0_hz = tf.constant(data[f"{case}/f0_hz"])
        if mode == "forward":
            return tf.function(lambda: signal(controls, f0_hz))
        if workload == "decode_synth":
            def forward_backward():
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(signal(controls, f0_hz)))
                return tape.gradient(loss, decoder.trainable_variables)
        else:
            def forward_backward():
                leaves = list(controls.values())
                with tf.GradientTape() as tape:
                    tape.watch(leaves)
                    loss = tf.reduce_mean(tf.square(signal(controls, f0_hz)))
                return tape.gradient(loss, leaves)
        return tf.function(forward_backward)

    return make


def serve(args) -> None:
    import numpy as np

    tf, ddsp = import_ddsp(args.threads)
    data = np.load(args.inputs)
    make = build(tf, ddsp, data)
    functions = {}
    print(json.dumps({"ready": True, "ddsp": ddsp.__version__, "tensorflow": tf.__version__,
                      "threads": args.threads}), flush=True)
    for line in sys.stdin:
        request = line.split()
        if not request:
            continue
        if request == ["quit"]:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(json.dumps({"peak_rss_mib": peak}), flush=True)
            return
        key = tuple(request)
        reply = {}
        if key not in functions:
            functions[key] = make(*key)
            start = time.perf_counter()
            tf.nest.map_structure(lambda t: t.numpy(), functions[key]())
            reply["warmup_s"] = time.perf_counter() - start
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), functions[key]())
        reply["seconds"] = time.perf_counter() - start
        print(json.dumps(reply), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="import ddsp, print versions")
    parser.add_argument("--inputs", help="the .npz of inputs written by synth.py")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.check:
        try:
            tf, ddsp = import_ddsp()
        except Exception as error:  # noqa: BLE001 - report any import failure
            print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"}))
            sys.exit(1)
        print(json.dumps({"ok": True, "ddsp": ddsp.__version__, "tensorflow": tf.__version__,
                          "python": sys.version.split()[0]}))
        return
    if not args.inputs:
        parser.error("--inputs is required (or --check)")
    serve(args)


if __name__ == "__main__":
    main()
