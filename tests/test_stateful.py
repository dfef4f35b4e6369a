"""The one synthesis graph run statefully: pieces equal the whole, and outputs stay put.

Each streamable processor's ``process`` (a few frames at a time, state carried)
must give what its ``forward`` gives for the whole example, shifted by its
``stream_offset``; chunked rendering, streaming and export all run through it.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from timbral import effects, synths
from timbral.models import Autoencoder, preset_config
from timbral.processors import Add, ProcessorGroup
from timbral.zoo import load_model

HOP = 64
REFERENCE = Path(__file__).parent / "data" / "reference_outputs" / "example_clip.npz"


def _run_in_pieces(proc, inputs, sizes, channels, noise=None):
    """``proc.process`` over frames split into ``sizes``; returns the whole output.

    ``inputs``: controls ``[1, frames, ch]`` (sliced by frame) or audio ``[1,
    samples]`` (sliced by hop)."""
    state = proc.init_state(1, HOP, channels)
    out, a = [], 0
    for n in sizes:
        frames, samples = slice(a, a + n), slice(a * HOP, (a + n) * HOP)
        args = [x[:, frames] if x.ndim == 3 else x[:, samples] for x in inputs]
        piece, state = proc.process(*args, state=state, hop=HOP,
                                    noise=None if noise is None else noise[:, samples])
        out.append(piece)
        a += n
    return torch.cat(out, dim=1)


def _controls(n_frames, n_channels, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, n_frames, n_channels, generator=gen, dtype=torch.float64).float()


SIZES = [1, 5, 2, 17, 3, 12]  # 40 frames in uneven calls


def test_harmonic_pieces_equal_the_whole_example():
    n = sum(SIZES)
    synth = synths.Harmonic(n * HOP, 16000)
    amps, dist = _controls(n, 1, 0), _controls(n, 30, 1)
    f0 = (220.0 * 2 ** (torch.linspace(-0.5, 0.5, n))).reshape(1, n, 1)
    whole = synth(amps, dist, f0)
    pieces = _run_in_pieces(synth, [amps, dist, f0], SIZES, [1, 30, 1])
    offset = synth.stream_offset(HOP, [1, 30, 1])
    assert offset == -HOP
    # the call with frames k.. returns samples from k * hop + offset: skip the
    # pre-roll; the whole example holds its last frame where pieces stop
    np.testing.assert_allclose(pieces[0, -offset:].numpy(), whole[0, :n * HOP + offset].numpy(),
                               atol=2e-6)
    assert np.abs(pieces[0, :-offset].numpy()).max() == 0  # nothing before model time 0
    assert whole.abs().max() > 0.05


@pytest.mark.parametrize("crossfade", [True, False])
def test_filtered_noise_pieces_equal_the_whole_example(crossfade):
    n = sum(SIZES)
    synth = synths.FilteredNoise(n * HOP, window_size=0, crossfade=crossfade)
    mags = _controls(n, 17, 2) + 5.0
    noise = torch.rand(1, n * HOP, generator=torch.Generator().manual_seed(3)) * 2 - 1
    whole = synth.get_signal(**synth.get_controls(mags), noise=noise)
    pieces = _run_in_pieces(synth, [mags], SIZES, [17], noise=noise)
    lag = -synth.stream_offset(HOP, [17])
    assert lag > 0
    m = n * HOP - lag - 2 * HOP  # the whole example's last frames see no later noise
    np.testing.assert_allclose(pieces[0, lag:lag + m].numpy(), whole[0, :m].numpy(), atol=2e-6)


@pytest.mark.parametrize("reverb", [effects.Reverb(trainable=True, reverb_length=700),
                                    effects.ExpDecayReverb(trainable=True, reverb_length=700),
                                    effects.MultibandDecayReverb(reverb_length=700,
                                                                 initial_gain=0.05)])
def test_reverb_pieces_equal_the_whole_signal(reverb):
    torch.manual_seed(4)
    if type(reverb) is effects.Reverb:
        with torch.no_grad():
            reverb.ir.normal_(0, 0.05)
    n = sum(SIZES)
    audio = torch.randn(1, n * HOP)
    whole = reverb(audio)
    pieces = _run_in_pieces(reverb, [audio], SIZES, [None])
    np.testing.assert_allclose(pieces.detach().numpy(), whole.detach().numpy(), atol=2e-5)
    assert (whole - audio).abs().max() > 0.01  # the room is audible


def test_group_aligns_its_sources_and_silences_time_before_zero():
    """Harmonic (offset -hop) and crossfaded noise (further back) meet in Add."""
    n = 30
    group = ProcessorGroup([
        (synths.Harmonic(n * HOP, 16000), ["amps", "dist", "f0"]),
        (synths.FilteredNoise(n * HOP, window_size=0, crossfade=True), ["mags"]),
        (Add(), ["harmonic/signal", "filtered_noise/signal"]),
    ])
    channels = {"amps": 1, "dist": 8, "f0": 1, "mags": 9}
    first = group.stream_offset(HOP, channels)
    assert first == min(-HOP, group.processors[1].stream_offset(HOP, [9]))
    state = group.init_state(1, HOP, channels)
    inputs = {"amps": _controls(n, 1, 5), "dist": _controls(n, 8, 6),
              "f0": torch.full((1, n, 1), 330.0), "mags": _controls(n, 9, 7)}
    noise = torch.rand(1, n * HOP) * 2 - 1
    out, state = group.process(inputs, state, HOP, noise)
    assert out.shape == (1, n * HOP)
    assert float(out[0, :-first].abs().max()) == 0.0
    assert float(state["position"][0, 0]) == first + n * HOP


def test_a_processor_that_cannot_stream_says_so():
    config = preset_config("tiny")
    config["processor_group"]["config"]["dag"].append(
        {"processor": {"type": "ModDelay", "config": {}},
         "inputs": ["reverb/signal", "amps", "amps"]})
    model = Autoencoder(config)
    with pytest.raises(ValueError, match="ModDelay 'mod_delay' cannot be rendered in chunks"):
        model.init_state(1)


def test_shipped_models_sound_as_before_the_redesign():
    """The example clip's adjusted features through the shipped SoundFont violin (offline,
    in chunks) and violin_realtime (streamed frame by frame in onnxruntime) give the audio
    recorded before the synthesis graph became one (1 s from 2 s on), within float32
    rounding."""
    from timbral.models.rendering import render
    from timbral.stream import StreamSynth

    ref = np.load(REFERENCE)
    offline = render(load_model("violin_soundfont"), ref["violin_f0_hz"],
                     ref["violin_loudness_db"], chunk_seconds=1.3)
    np.testing.assert_allclose(offline[32000:48000], ref["violin_render"], atol=1e-6)
    synth = StreamSynth(load_model("violin_realtime"), backend="onnxruntime")
    streamed = synth.process(ref["realtime_f0_hz"], ref["realtime_loudness_db"])
    np.testing.assert_allclose(streamed[32000:48000], ref["realtime_stream"], atol=1e-6)


def test_gradients_flow_through_the_stateful_graph():
    """process() is differentiable: a loss on a piece reaches the controls that made it."""
    amps = torch.zeros(1, 12, 1, requires_grad=True)
    dist = torch.zeros(1, 12, 8, requires_grad=True)
    synth = synths.Harmonic(12 * HOP, 16000)
    state = synth.init_state(1, HOP, [1, 8, 1])
    out, _ = synth.process(amps, dist, torch.full((1, 12, 1), 440.0), state=state, hop=HOP)
    out.square().sum().backward()
    assert amps.grad.abs().sum() > 0 and dist.grad.abs().sum() > 0


def test_voices_mixed_before_the_room_give_the_mix_of_their_rooms():
    """process, with a state from init_state(mix=True), runs the room once on the rows' sum:
    the same audio as the sum of the rows' own outputs (a convolution is linear), chunk
    after chunk; a model whose last processor is not a room refuses."""
    torch.manual_seed(4)
    model = Autoencoder(preset_config("cpu-fast", reverb="bands")).eval()
    batch, frames = 3, 12
    gen = torch.Generator().manual_seed(0)
    f0 = 200.0 + 300.0 * torch.rand(batch, 4 * frames, generator=gen)
    ld = -40.0 + 30.0 * torch.rand(batch, 4 * frames, generator=gen)
    noise = torch.rand(batch, 4 * frames * model.hop, generator=gen) * 2 - 1
    rows, mixed = model.init_state(batch), model.init_state(batch, mix=True)
    assert mixed["reverb/prev"].shape[0] == 1 and rows["reverb/prev"].shape[0] == batch
    with torch.no_grad():
        for c in range(4):
            cut = slice(c * frames, (c + 1) * frames)
            samples = slice(c * frames * model.hop, (c + 1) * frames * model.hop)
            a, rows = model.process(f0[:, cut], ld[:, cut], noise[:, samples], rows)
            b, mixed = model.process(f0[:, cut], ld[:, cut], noise[:, samples], mixed)
            assert b["audio"].shape == (1, frames * model.hop)
            torch.testing.assert_close(b["audio"][0], a["audio"].sum(dim=0), atol=1e-5, rtol=1e-4)
    dry = Autoencoder(preset_config("cpu-fast", reverb="none"))
    assert not dry.processor_group.can_mix
    with pytest.raises(ValueError, match="must be a room"):
        dry.init_state(2, mix=True)
