"""Magenta model folders -> timbral: the fixture against Magenta's own outputs, other sizes
against a NumPy restatement of Keras' layers, round trips, and bad input."""

import json
import shutil
import stat
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from timbral import effects, files, synths
from timbral.interop import magenta
from timbral.interop.gin import Reference, parse_gin
from timbral.interop.magenta import convert_magenta_folder
from timbral.interop.statistics import load_magenta_statistics
from timbral.interop.tensorbundle import read_checkpoint
from timbral.models import Autoencoder
from timbral.processors import Add, ProcessorGroup

from magenta_writers import format_gin, gin_bindings, write_checkpoint, write_magenta_folder

FIXTURE = Path(__file__).parent / "data" / "magenta_solo_tiny"
FOLDER = FIXTURE / "solo_tiny"
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.fixture(scope="module")
def expected():
    return dict(np.load(FIXTURE / "solo_tiny_expected.npz"))


@pytest.fixture(scope="module")
def converted():
    return convert_magenta_folder(FOLDER)


def _model(converted, dtype=torch.float64):
    config, state, _ = converted
    model = Autoencoder(config)
    model.load_state_dict(state, strict=True)
    return model.to(dtype).eval()


# The fixture: what Magenta computed ------------------------------------------------
def test_fixture_config(converted):
    config, state, statistics = converted
    assert {k: config[k] for k in ("format", "version", "sample_rate", "frame_rate",
                                   "example_seconds", "loudness_definition", "pitch_tracker",
                                   "preprocessor", "decoder")} == {
        "format": "timbral.model", "version": 1, "sample_rate": 16000, "frame_rate": 250,
        "example_seconds": 1.0, "loudness_definition": "v2", "pitch_tracker": "crepe-full",
        "preprocessor": {"type": "F0LoudnessPreprocessor"},
        "decoder": {"type": "RnnFcDecoder", "config": {
            "rnn_channels": 64, "rnn_type": "gru", "ch": 64, "layers_per_stack": 2,
            "input_keys": ["ld_scaled", "f0_scaled"],
            "output_splits": [["amps", 1], ["harmonic_distribution", 60],
                              ["noise_magnitudes", 65]]}}}
    expected_group = ProcessorGroup([
        (synths.Harmonic(16000, 16000), ["amps", "harmonic_distribution", "f0_hz"]),
        (synths.FilteredNoise(16000, window_size=0), ["noise_magnitudes"]),
        (Add(), ["filtered_noise/signal", "harmonic/signal"]),
        (effects.Reverb(trainable=True, reverb_length=4000), ["add/signal"])])
    assert config["processor_group"] == expected_group.get_config()
    source = config["source"]
    assert source["kind"] == "magenta" and source["path"] == str(FOLDER)
    assert source["gin"]["F0LoudnessPreprocessor.compute_loudness"] is True
    assert source["gin"]["RnnFcDecoder.rnn_channels"] == 64
    assert not any(k.startswith(("train.", "Trainer.", "TFRecordProvider.", "SpectralLoss."))
                   for k in source["gin"])  # training-only bindings are ignored
    json.dumps(config, allow_nan=False)
    assert len(state) == 31 and state["decoder.dense_out.weight"].dtype == torch.float32
    assert statistics == load_magenta_statistics(FOLDER / "dataset_statistics.pkl", 250)


def test_fixture_loudness_definition_override():
    config, _, _ = convert_magenta_folder(FOLDER, loudness_definition="v1")
    assert config["loudness_definition"] == "v1"
    with pytest.raises(ValueError, match="loudness_definition"):
        convert_magenta_folder(FOLDER, loudness_definition="v3")


@pytest.mark.parametrize("variant", ["", "givenld_"])
def test_fixture_decoder_and_controls_match_magenta(converted, expected, variant):
    """Features in, decoder outputs and processor controls out, as Magenta computed them
    (the default variant's decoder saw the loudness Magenta recomputed from audio)."""
    loudness = expected["in_loudness_db" if variant else "pre_loudness_db"]
    for dtype, tol in ((torch.float64, 2e-6), (torch.float32, 5e-5)):
        with torch.no_grad():
            out = _model(converted, dtype)({"f0_hz": torch.tensor(expected["pre_f0_hz"], dtype=dtype),
                                            "loudness_db": torch.tensor(loudness, dtype=dtype)})
        for name in ("amps", "harmonic_distribution", "noise_magnitudes"):
            err = np.abs(out[name].double().numpy() - expected[f"{variant}dec_{name}"]).max()
            assert err < tol, (variant, dtype, name, err)
        for ours, theirs in (("harmonic/controls/amplitudes", "harm_ctrl_amplitudes"),
                             ("harmonic/controls/harmonic_distribution",
                              "harm_ctrl_harmonic_distribution"),
                             ("filtered_noise/controls/magnitudes", "noise_ctrl_magnitudes")):
            err = np.abs(out[ours].double().numpy() - expected[variant + theirs]).max()
            assert err < tol, (variant, dtype, ours, err)


def test_fixture_signals_match_magenta(converted, expected):
    """Harmonic signal (exact phase), reverb IR, output without noise and with Magenta's
    fixed noise."""
    config, state, _ = converted
    assert np.array_equal(state["processor_group.processors.3.ir"].numpy(),
                          expected["reverb_ir_variable"])
    for dtype, tol in ((torch.float64, 1e-6), (torch.float32, 1e-5)):
        model = _model(converted, dtype)
        harmonic, noise, add, reverb = model.processor_group.processors
        f0 = torch.tensor(expected["pre_f0_hz"], dtype=dtype)
        with torch.no_grad():
            out = model({"f0_hz": f0,
                         "loudness_db": torch.tensor(expected["pre_loudness_db"], dtype=dtype)})
            harm = out["harmonic/signal"]
            assert np.array_equal(out["reverb/controls/ir"].float().numpy(),
                                  expected["reverb_ctrl_ir"])
            # The reverb alone on Magenta's own harmonic signal: its output without noise.
            wet = reverb(torch.tensor(expected["harm_signal"], dtype=dtype))
            noise_signal = noise.get_signal(**noise.get_controls(out["noise_magnitudes"]),
                                            noise=torch.tensor(expected["in_noise_fixed"],
                                                               dtype=dtype))
            audio = reverb(add(noise_signal, harm))
        assert np.abs(harm.double().numpy() - expected["harm_signal_np64"]).max() < tol
        assert np.abs(wet.double().numpy() - expected["harm_reverb"]).max() < tol
        assert np.abs(noise_signal.double().numpy() - expected["noise_signal_fixed"]).max() < 1e-9
        assert np.abs(audio.double().numpy()
                      - expected["audio_synth_fixed_noise_np64harm"]).max() < tol


def test_writer_reproduces_magentas_layout(converted, tmp_path):
    """Written back, the fixture's model variables and architecture bindings are Magenta's."""
    config, state, statistics = converted
    write_magenta_folder(tmp_path, config, state, statistics)
    ours = read_checkpoint(tmp_path / "ckpt-5")
    theirs = read_checkpoint(FOLDER / "ckpt-5")
    model_keys = sorted(k for k in theirs if k.startswith("model/"))
    assert sorted(k for k in ours if k.startswith("model/")) == model_keys
    for key in model_keys:
        assert np.array_equal(ours[key], theirs[key]), key
    written = parse_gin((tmp_path / "operative_config-0.gin").read_text())
    original = parse_gin((FOLDER / "operative_config-0.gin").read_text())
    architecture = [k for k in original if k.split(".")[0] in (
        "Autoencoder", "RnnFcDecoder", "Harmonic", "FilteredNoise", "Add", "Reverb",
        "ProcessorGroup", "F0LoudnessPreprocessor", "exp_sigmoid")]
    assert {k: written[k] for k in architecture} == {k: original[k] for k in architecture}
    assert (tmp_path / "dataset_statistics.pkl").read_bytes() != b""
    again = convert_magenta_folder(tmp_path)
    assert {k: v for k, v in again[0].items() if k != "source"} == \
        {k: v for k, v in config.items() if k != "source"}


# Other sizes --------------------------------------------------------------------------
def _config(rnn_type="gru", rnn=32, ch=16, layers=1, harmonics=20, bands=33,
            reverbs=(("reverb", 1000),), sample_rate=16000, frame_rate=50, seconds=1.0,
            loudness="v2", input_keys=("ld_scaled", "f0_scaled")):
    """A timbral config of the solo-instrument shape with the given sizes."""
    n_samples = round(seconds * sample_rate)
    nodes = [(synths.Harmonic(n_samples, sample_rate), ["amps", "harmonic_distribution",
                                                        "f0_hz"]),
             (synths.FilteredNoise(n_samples, window_size=0), ["noise_magnitudes"]),
             (Add(), ["filtered_noise/signal", "harmonic/signal"])]
    previous = "add"
    for name, length in reverbs:
        nodes.append((effects.Reverb(trainable=True, reverb_length=length, name=name),
                      [f"{previous}/signal"]))
        previous = name
    return {"format": "timbral.model", "version": 1, "sample_rate": sample_rate,
            "frame_rate": frame_rate, "example_seconds": n_samples / sample_rate,
            "loudness_definition": loudness, "pitch_tracker": "crepe-full",
            "preprocessor": {"type": "F0LoudnessPreprocessor"},
            "decoder": {"type": "RnnFcDecoder", "config": {
                "rnn_channels": rnn, "rnn_type": rnn_type, "ch": ch, "layers_per_stack": layers,
                "input_keys": list(input_keys),
                "output_splits": [["amps", 1], ["harmonic_distribution", harmonics],
                                  ["noise_magnitudes", bands]]}},
            "processor_group": ProcessorGroup(nodes).get_config()}


SIZES = {
    "gru-22k-50Hz-v1": dict(rnn=32, ch=16, layers=1, harmonics=20, bands=33, sample_rate=22050,
                            frame_rate=50, seconds=2.0, loudness="v1",
                            input_keys=("f0_scaled", "ld_scaled")),
    "lstm-48k-100Hz": dict(rnn_type="lstm", rnn=24, ch=8, layers=0, harmonics=7, bands=17,
                           reverbs=(("reverb", 300),), sample_rate=48000, frame_rate=100),
    "gru-deep-no-reverb": dict(rnn=16, ch=12, layers=3, harmonics=100, bands=129, reverbs=(),
                               seconds=0.5, input_keys=("f0_scaled",)),
    "two-reverbs-8k-200Hz": dict(rnn=8, ch=8, layers=2, harmonics=5, bands=9,
                                 reverbs=(("reverb", 50), ("room", 120)), sample_rate=8000,
                                 frame_rate=200, seconds=0.25),
}


def _keras_variables(config, seed=0):
    """Random checkpoint variables in Keras' layout (not through timbral's mapping)."""
    rng = np.random.default_rng(seed)
    dec = config["decoder"]["config"]
    ch, hidden, layers = dec["ch"], dec["rnn_channels"], dec["layers_per_stack"]
    gates = 3 if dec["rnn_type"] == "gru" else 4
    width = ch if layers else 1
    n_out = sum(n for _, n in dec["output_splits"])
    v = {}

    def stack(name, n_in):
        for j in range(layers):
            layer = f"model/decoder/{name}/layer_with_weights-{j}"
            v[f"{layer}/layer_with_weights-0/kernel"] = rng.normal(0, 0.4, (n_in if j == 0 else ch, ch))
            v[f"{layer}/layer_with_weights-0/bias"] = rng.normal(0, 0.1, ch)
            v[f"{layer}/layer_with_weights-1/gamma"] = 1 + rng.normal(0, 0.1, ch)
            v[f"{layer}/layer_with_weights-1/beta"] = rng.normal(0, 0.1, ch)

    for i in range(len(dec["input_keys"])):
        stack(f"input_stacks/{i}", 1)
    n_rnn_in = width * len(dec["input_keys"])
    cell = "model/decoder/rnn/rnn/cell"
    v[f"{cell}/kernel"] = rng.normal(0, 0.3, (n_rnn_in, gates * hidden))
    v[f"{cell}/recurrent_kernel"] = rng.normal(0, 0.3, (hidden, gates * hidden))
    v[f"{cell}/bias"] = rng.normal(0, 0.2, (2, 3 * hidden) if gates == 3 else (4 * hidden,))
    stack("out_stack", n_rnn_in + hidden)
    v["model/decoder/dense_out/kernel"] = rng.normal(0, 0.3, (width if layers else
                                                             n_rnn_in + hidden, n_out))
    v["model/decoder/dense_out/bias"] = rng.normal(0, 0.1, n_out)
    for node in config["processor_group"]["config"]["dag"]:
        if node["processor"]["type"] == "Reverb":
            proc = node["processor"]["config"]
            v[f"model/processor_group/{proc['name']}/ir"] = rng.normal(0, 1e-2,
                                                                      proc["reverb_length"])
    return {k + SUFFIX: a.astype(np.float32) for k, a in v.items()}


def _keras_decoder(v, inputs, dec):
    """Keras' RnnFcDecoder restated in NumPy float64 (Dense x @ kernel + bias, LayerNorm
    eps 1e-3, leaky ReLU 0.2, GRU reset_after with gates z, r, h / LSTM i, f, c, o)."""
    v = {k[len("model/decoder/"):-len(SUFFIX)]: a.astype(np.float64) for k, a in v.items()
         if k.startswith("model/decoder/")}
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731

    def stack(x, name):
        for j in range(dec["layers_per_stack"]):
            layer = f"{name}/layer_with_weights-{j}"
            x = x @ v[f"{layer}/layer_with_weights-0/kernel"] + v[f"{layer}/layer_with_weights-0/bias"]
            x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
            x = x * v[f"{layer}/layer_with_weights-1/gamma"] + v[f"{layer}/layer_with_weights-1/beta"]
            x = np.where(x > 0, x, 0.2 * x)
        return x

    xs = [stack(inputs[k], f"input_stacks/{i}") for i, k in enumerate(dec["input_keys"])]
    x = np.concatenate(xs, -1)
    kernel, recurrent, bias = (v[f"rnn/rnn/cell/{n}"] for n in ("kernel", "recurrent_kernel",
                                                                  "bias"))
    H = recurrent.shape[0]
    h, c, outputs = np.zeros((x.shape[0], H)), np.zeros((x.shape[0], H)), []
    for t in range(x.shape[1]):
        if dec["rnn_type"] == "gru":
            xg, hg = x[:, t] @ kernel + bias[0], h @ recurrent + bias[1]
            z = sigmoid(xg[:, :H] + hg[:, :H])
            r = sigmoid(xg[:, H:2 * H] + hg[:, H:2 * H])
            h = z * h + (1 - z) * np.tanh(xg[:, 2 * H:] + r * hg[:, 2 * H:])
        else:
            g = x[:, t] @ kernel + h @ recurrent + bias
            i, f, cc, o = (g[:, k * H:(k + 1) * H] for k in range(4))
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(cc)
            h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    y = stack(np.concatenate(xs + [np.stack(outputs, 1)], -1), "out_stack")
    y = y @ v["dense_out/kernel"] + v["dense_out/bias"]
    names, sizes = zip(*dec["output_splits"])
    return dict(zip(names, np.split(y, np.cumsum(sizes)[:-1], -1)))


def test_numpy_keras_restatement_reproduces_magenta(expected):
    """The NumPy restatement used below is itself checked against Magenta's decoder."""
    v = {k[4:] + SUFFIX: a for k, a in expected.items() if k.startswith("var/")}
    dec = convert_magenta_folder(FOLDER)[0]["decoder"]["config"]
    out = _keras_decoder(v, {"ld_scaled": expected["pre_ld_scaled"].astype(np.float64),
                             "f0_scaled": expected["pre_f0_scaled"].astype(np.float64)}, dec)
    for name in ("amps", "harmonic_distribution", "noise_magnitudes"):
        assert np.abs(out[name] - expected[f"dec_{name}"]).max() < 2e-6


def _write_keras_folder(folder, config, variables):
    bindings, macros = gin_bindings(config)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "operative_config-0.gin").write_text(format_gin(bindings, macros))
    write_checkpoint(folder / "ckpt-100", dict(variables, **{
        "optimizer/iter" + SUFFIX: np.int64(100),
        "_CHECKPOINTABLE_OBJECT_GRAPH": b"graph"}))


@pytest.mark.parametrize("name", SIZES)
def test_other_sizes_convert_to_keras_numbers(tmp_path, name):
    config = _config(**SIZES[name])
    variables = _keras_variables(config)
    _write_keras_folder(tmp_path / name, config, variables)
    got, state, statistics = convert_magenta_folder(tmp_path / name)
    assert statistics is None
    assert {k: v for k, v in got.items() if k != "source"} == config
    model = Autoencoder(got)
    model.load_state_dict(state, strict=True)
    model = model.double()
    n_frames = round(config["example_seconds"] * config["frame_rate"])
    rng = np.random.default_rng(1)
    features = {"f0_hz": torch.tensor(rng.uniform(100, 900, (2, n_frames, 1))),
                "loudness_db": torch.tensor(rng.uniform(-70, -5, (2, n_frames, 1)))}
    with torch.no_grad():
        scaled = model.preprocessor(features)
        ours, _ = model.decoder(scaled)
    keras = _keras_decoder(variables, {k: scaled[k].numpy() for k in ("ld_scaled", "f0_scaled")},
                           config["decoder"]["config"])
    for key, value in keras.items():
        assert np.abs(ours[key].numpy() - value).max() < 1e-9, key
    for i, node in enumerate(config["processor_group"]["config"]["dag"]):
        if node["processor"]["type"] == "Reverb":
            ir = variables[f"model/processor_group/{node['processor']['config']['name']}/ir"
                           + SUFFIX]
            assert np.array_equal(state[f"processor_group.processors.{i}.ir"].numpy(), ir)


@pytest.mark.parametrize("name", SIZES)
def test_other_sizes_round_trip(tmp_path, name, converted):
    config = _config(**SIZES[name])
    torch.manual_seed(0)
    model = Autoencoder(config)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.3)
    statistics = dict(converted[2], frame_rate=config["frame_rate"])
    legacy = name.startswith("gru-22k")
    write_magenta_folder(tmp_path, config, model.state_dict(), statistics, step=1234,
                         legacy_optimizer=legacy)
    if legacy:  # Adam slots under the model keys, as TF <= 2.10 saved them
        assert any(".OPTIMIZER_SLOT" in k for k in read_checkpoint(tmp_path / "ckpt-1234"))
    got, state, got_statistics = convert_magenta_folder(tmp_path)
    assert {k: v for k, v in got.items() if k != "source"} == config
    assert got_statistics == statistics
    original = model.state_dict()
    assert set(state) == set(original)
    for key, value in state.items():
        if config["decoder"]["config"]["rnn_type"] == "lstm" and "rnn.bias" in key:
            continue  # Keras' LSTM has one bias: torch's two are summed (compared below)
        assert torch.equal(value, original[key]), key
    again = Autoencoder(got)
    again.load_state_dict(state, strict=True)
    features = {"f0_hz": torch.full((1, 10, 1), 330.0), "loudness_db": torch.full((1, 10, 1), -30.0)}
    with torch.no_grad():
        ours, theirs = again(features), model(features)
    for key in ("amps", "harmonic_distribution", "noise_magnitudes", "harmonic/signal"):
        assert torch.allclose(ours[key], theirs[key], atol=1e-6), key


def test_written_gin_keeps_the_loudness_definition(tmp_path):
    for loudness in ("v1", "v2"):
        config = _config(loudness=loudness)
        write_magenta_folder(tmp_path / loudness, config, Autoencoder(config).state_dict())
        assert convert_magenta_folder(tmp_path / loudness)[0]["loudness_definition"] == loudness


# Zip files -----------------------------------------------------------------------------
def _zip(path, members):
    """A zip as the ``zip`` tool writes it (regular files with Unix modes)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            if isinstance(data, zipfile.ZipInfo):
                archive.writestr(data, b"target")
            else:
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                archive.writestr(info, data)
    return path


def _fixture_members(folder="solo_violin_ckpt/"):
    return {f"{folder}{p.name}": p.read_bytes() for p in FOLDER.iterdir()}


def test_zip_of_a_model_folder(tmp_path, converted):
    members = _fixture_members()
    members["__MACOSX/solo_violin_ckpt/._operative_config-0.gin"] = b"\x00\x05junk"
    config, state, statistics = convert_magenta_folder(_zip(tmp_path / "m.zip", members))
    assert config["source"]["path"] == str(tmp_path / "m.zip")
    assert {k: v for k, v in config.items() if k != "source"} == \
        {k: v for k, v in converted[0].items() if k != "source"}
    assert all(torch.equal(state[k], converted[1][k]) for k in state)
    assert statistics == converted[2]


def _symlink_member():
    info = zipfile.ZipInfo("solo/link")
    info.external_attr = 0o120777 << 16
    return info


@pytest.mark.parametrize("extra, message", [
    ({"../evil.txt": b"x"}, "points outside"),
    ({"/tmp/evil.txt": b"x"}, "points outside"),
    ({"solo/link": _symlink_member()}, "a link or special file"),
])
def test_zip_with_unsafe_members_is_refused(tmp_path, extra, message):
    path = _zip(tmp_path / "m.zip", {**_fixture_members(), **extra})
    with pytest.raises(ValueError, match=message):
        convert_magenta_folder(path)
    assert not (tmp_path / "evil.txt").exists()


def test_zip_size_is_limited(tmp_path, monkeypatch):
    monkeypatch.setattr(magenta, "safe_extract_zip",
                        partial(files.safe_extract_zip, max_bytes=100_000))
    with pytest.raises(ValueError, match="MiB allowed"):
        convert_magenta_folder(_zip(tmp_path / "m.zip", _fixture_members()))


def test_recognises_magenta_models(tmp_path):
    assert magenta.is_magenta_model(FOLDER) and magenta.is_magenta_model(FIXTURE)
    assert magenta.is_magenta_model(_zip(tmp_path / "m.zip", _fixture_members()))
    assert not magenta.is_magenta_model(tmp_path)
    assert not magenta.is_magenta_model(_zip(tmp_path / "other.zip", {"a.txt": b"x"}))
    assert not magenta.is_magenta_model(FOLDER / "ckpt-5.index")


def test_zip_with_two_models(tmp_path):
    path = _zip(tmp_path / "m.zip", {**_fixture_members("a/"), **_fixture_members("b/")})
    with pytest.raises(ValueError, match="holds 2 Magenta model folders"):
        convert_magenta_folder(path)


# Bad input -------------------------------------------------------------------------------
def _copy(tmp_path, gin_edit=None):
    folder = tmp_path / "model"
    shutil.copytree(FOLDER, folder)
    if gin_edit is not None:
        gin = folder / "operative_config-0.gin"
        old, new = gin_edit
        assert old in gin.read_text()
        gin.write_text(gin.read_text().replace(old, new))
    return folder


def _refused(path, match):
    with pytest.raises(ValueError, match=match) as info:
        convert_magenta_folder(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_folder_without_checkpoint(tmp_path):
    folder = _copy(tmp_path)
    for index in folder.glob("*.index"):
        index.unlink()
    _refused(folder, "no checkpoint")


def test_folder_without_gin(tmp_path):
    folder = _copy(tmp_path)
    (folder / "operative_config-0.gin").unlink()
    _refused(folder, "no operative_config")
    _refused(tmp_path / "missing", "not a Magenta model folder")


def test_truncated_data_shard(tmp_path):
    folder = _copy(tmp_path)
    shard = folder / "ckpt-5.data-00000-of-00001"
    shard.write_bytes(shard.read_bytes()[:400_000])
    _refused(folder, "truncated")


def _rewrite_checkpoint(folder, edit):
    tensors = read_checkpoint(folder / "ckpt-5")
    edit(tensors)
    for old in folder.glob("ckpt-5.*"):
        old.unlink()
    write_checkpoint(folder / "ckpt-5", tensors)


def test_index_missing_a_tensor(tmp_path):
    folder = _copy(tmp_path)
    _rewrite_checkpoint(folder, lambda t: t.pop("model/decoder/dense_out/bias" + SUFFIX))
    _refused(folder, "ckpt-5: missing variable model/decoder/dense_out/bias")
    _rewrite_checkpoint(folder, lambda t: t.pop("model/processor_group/reverb/ir" + SUFFIX))
    _refused(folder, "missing variable")


def test_checkpoint_with_weights_of_another_architecture(tmp_path):
    folder = _copy(tmp_path)
    _rewrite_checkpoint(folder, lambda t: t.update(
        {"model/encoder/dense/kernel" + SUFFIX: np.zeros((2, 2), np.float32)}))
    _refused(folder, "variables the gin config's architecture does not use")


@pytest.mark.parametrize("edit, match", [
    (("RnnFcDecoder.ch = 64", "RnnFcDecoder.ch = 32"), "shape"),
    (("RnnFcDecoder.rnn_channels = 64", "RnnFcDecoder.rnn_channels = 48"), "shape"),
    (("('harmonic_distribution', 60)", "('harmonic_distribution', 40)"), "shape"),
    (("Reverb.reverb_length = 4000", "Reverb.reverb_length = 3000"), "shape"),
    (("RnnFcDecoder.layers_per_stack = 2", "RnnFcDecoder.layers_per_stack = 1"),
     "does not use"),
    (("RnnFcDecoder.layers_per_stack = 2", "RnnFcDecoder.layers_per_stack = 3"),
     "missing variable"),
])
def test_gin_and_checkpoint_disagree(tmp_path, edit, match):
    _refused(_copy(tmp_path, edit), match)


UNSUPPORTED = "; timbral imports RnnFcDecoder autoencoders without encoder"


@pytest.mark.parametrize("edit, what", [
    (("Autoencoder.encoder = None", "Autoencoder.encoder = @encoders.MfccRnnEncoder()"),
     "encoder @encoders.MfccRnnEncoder()"),
    (("@decoders.RnnFcDecoder()", "@decoders.DilatedConvDecoder()"),
     "decoder @decoders.DilatedConvDecoder()"),
    (("@preprocessing.F0LoudnessPreprocessor()", "@preprocessing.F0PowerPreprocessor()"),
     "preprocessor @preprocessing.F0PowerPreprocessor()"),
    (("get_model.model = @models.Autoencoder()", "get_model.model = @models.InverseSynthesis()"),
     "model @models.InverseSynthesis()"),
    (("(@synths.Harmonic(),", "(@synths.Sinusoidal(),"), "processor @synths.Sinusoidal()"),
    (("exp_sigmoid.exponent = 10.0", "exp_sigmoid.exponent = 5.0"), "exp_sigmoid.exponent"),
    (("Harmonic.scale_fn = @core.exp_sigmoid", "Harmonic.scale_fn = @core.softplus"),
     "Harmonic.scale_fn = @core.softplus"),
    (("RnnFcDecoder.input_keys = ('ld_scaled', 'f0_scaled')",
      "RnnFcDecoder.input_keys = ('ld_scaled', 'f0_scaled', 'z')"), "RnnFcDecoder.input_keys"),
    (("RnnFcDecoder.rnn_type = 'gru'", "RnnFcDecoder.rnn_type = 'transformer'"),
     "RnnFcDecoder.rnn_type"),
    (("['noise_magnitudes']", "['noise_magnitudes_typo']"), "input 'noise_magnitudes_typo'"),
    (("F0LoudnessPreprocessor.frame_rate = 250", "F0LoudnessPreprocessor.frame_rate = 100"),
     "F0LoudnessPreprocessor.frame_rate = 100"),
    (("F0LoudnessPreprocessor.time_steps = 250", "F0LoudnessPreprocessor.time_steps = 300"),
     "F0LoudnessPreprocessor.time_steps = 300"),
])
def test_unsupported_architecture(tmp_path, edit, what):
    message = _refused(_copy(tmp_path, edit), "unsupported")
    assert message.startswith(f"operative_config-0.gin: unsupported {what}")
    assert message.endswith(UNSUPPORTED)


@pytest.mark.parametrize("edit, match", [
    (("FilteredNoise.n_samples = 16000", "FilteredNoise.n_samples = 32000"),
     "render different lengths"),
    (("Harmonic.sample_rate = 16000", "Harmonic.sample_rate = 22050"),
     "different sample rates"),
    (("RnnFcDecoder.ch = 64", "RnnFcDecoder.ch = (64"), "gin: line 81: EOF"),
    (("Reverb.name = 'reverb'", "Reverb.name = 'add'"), "names must be unique"),
    (("Reverb.trainable = True", "Reverb.trainable = False"),
     "reverb in ProcessorGroup.dag gets 1 inputs, Reverb takes 2"),
    (("['noise_magnitudes']", "['noise_magnitudes', 'f0_hz']"),
     "gets 2 inputs, FilteredNoise takes 1"),
])
def test_inconsistent_gin(tmp_path, edit, match):
    _refused(_copy(tmp_path, edit), match)


def test_statistics_pickle_importing_code(tmp_path):
    folder = _copy(tmp_path)
    import pickle
    (folder / "dataset_statistics.pkl").write_bytes(pickle.dumps({"mean_pitch": eval}))
    _refused(folder, "dataset_statistics.pkl: refuses to load builtins.eval")


def test_gin_references_parse_as_expected():
    """The DAG nodes the converter reads are references with inputs."""
    dag = parse_gin((FOLDER / "operative_config-0.gin").read_text())["ProcessorGroup.dag"]
    assert [ref.configurable for ref, _ in dag] == ["Harmonic", "FilteredNoise", "Add", "Reverb"]
    assert all(isinstance(ref, Reference) and ref.evaluate for ref, _ in dag)
