"""The live note engine's rollback (timbral.midi.live): what was played stays, the
recomputed output is the rendering of the note from the frame it went back to, and
a note is heard within the block it arrives in plus a few milliseconds."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from timbral.features.notes import DEFAULT_MIN_DB
from timbral.midi.live import CROSSFADE_S, NoteEngine
from timbral.zoo import load_model


def _on(key, velocity=90):
    return mido.Message("note_on", note=key, velocity=velocity)


def _off(key):
    return mido.Message("note_off", note=key)


def _play(engine, blocks, script=None):
    """``blocks`` blocks; ``script``: block -> messages sent before it."""
    out = []
    for b in range(blocks):
        for message in (script or {}).get(b, ()):
            engine.send(message)
        out.append(engine.process())
    return np.concatenate(out)


def _play_from_frames(engine, blocks, script):
    """``blocks`` blocks; ``script``: frame -> messages applied from that frame on
    (sent while it is the next to compute; the engine made with rollback=False)."""
    out, script = [], dict(script)
    for _ in range(blocks):
        for message in script.pop(engine.frames, ()):
            engine.send(message)
        out.append(engine.process())
    assert not script, "frames never reached"
    return np.concatenate(out)


def _first_frame(loudness):
    """The first frame a voice plays (its loudness above silence)."""
    return int(np.flatnonzero(loudness > DEFAULT_MIN_DB)[0])


@pytest.mark.parametrize("name, block, lead", [("violin_realtime", 64, 23),
                                               ("flute", 128, 11)])
def test_a_note_mid_frame_keeps_what_played_and_then_plays_it_from_the_frame_it_went_back_to(
        name, block, lead):
    model = load_model(name)
    old = NoteEngine(model, block, rollback=False)
    _play(old, lead)
    arrival = lead * block
    # mid-frame: the last frame's samples were still playing; without rollback the
    # note would start there
    assert old.frames * model.hop + model.first_offset > arrival

    engine = NoteEngine(model, block, record=True)
    silent = _play(engine, 60)
    engine.reset()
    out = _play(engine, 60, {lead: [_on(72)]})
    assert np.array_equal(out[:arrival], silent[:arrival])  # sample for sample
    f0, loudness = engine.curves()
    frame = _first_frame(loudness[0])
    assert frame < old.frames  # it went back

    reference = NoteEngine(model, block, record=True, rollback=False)
    expected = _play_from_frames(reference, 60, {frame: [_on(72)]})
    ref_f0, ref_loudness = reference.curves()
    assert np.array_equal(f0, ref_f0) and np.array_equal(loudness, ref_loudness)
    after = arrival + engine.crossfade
    assert np.abs(out[after:] - expected[after:]).max() < 1e-5
    # in the crossfade, between what was computed before (silence) and after
    fade = slice(arrival, after)
    assert (np.abs(out[fade]) <= np.abs(expected[fade]) + 1e-6).all()
    assert not np.allclose(out[fade], expected[fade], atol=1e-5)


def test_with_nothing_to_go_back_to_the_engine_plays_as_before():
    model = load_model("flute")
    script = {0: [_on(72)]}  # before anything is computed: nothing to go back to
    new = _play(NoteEngine(model, 64), 100, script)
    old = _play(NoteEngine(model, 64, rollback=False), 100, script)
    assert np.array_equal(new, old)


def _latency_ms(model, block, lead, offset, rollback=True):
    """Note-on to sound (ms): the note arrives ``offset`` samples before block
    ``lead``; its sound is where what it changed (with it minus without it) first
    has an RMS over 1 ms within 30 dB of its steady RMS (benchmarks/midi_live.py)."""
    runs = []
    for script in ({lead: [_on(72, 100)]}, {}):
        runs.append(_play(NoteEngine(model, block, rollback=rollback),
                          int(0.6 * model.sample_rate) // block, script))
    x = (runs[0] - runs[1]).astype(np.float64)
    window = model.sample_rate // 1000
    rms = np.sqrt(np.convolve(x ** 2, np.ones(window) / window, "same"))
    steady = np.median(rms[-int(0.2 * model.sample_rate):])
    sound = int(np.flatnonzero(rms >= steady * 10 ** (-30 / 20))[0])
    return 1000.0 * (sound - (lead * block - offset)) / model.sample_rate


@pytest.mark.parametrize("name", ["flute", "violin_realtime"])
@pytest.mark.parametrize("block", [64, 128])
def test_a_note_is_heard_within_its_block_the_crossfade_and_a_tenth_of_a_hop(name, block):
    """The bound: the block it waits for (an audio callback), the crossfade (the
    difference passes -30 dB early in it), and where the recomputed sound crosses
    -30 dB in the frame segment playing at the block's start (within 0.15 hop:
    the decoder's lag puts the note's first loud frame at that segment's end)."""
    model = load_model(name)
    hop_ms, block_ms = 1000.0 * model.hop / model.sample_rate, 1000.0 * block / model.sample_rate
    bound = block_ms + 1000.0 * CROSSFADE_S + 0.15 * hop_ms
    rng = np.random.default_rng(3)
    for lead in rng.integers(10, 10 + 2 * model.hop // block + 2, 4):
        offset = int(rng.integers(0, block))
        assert _latency_ms(model, block, int(lead), offset) <= bound, (lead, offset, bound)


def test_the_bound_fails_without_rollback():
    model = load_model("violin_realtime")
    hop_ms = 1000.0 * model.hop / model.sample_rate
    assert _latency_ms(model, 64, 23, 0, rollback=False) > 4.0 + 2.0 + 0.15 * hop_ms


def test_eight_voices_chords_mid_frame():
    model = load_model("flute")
    chord, next_chord = [60, 64, 67, 71, 74, 77, 81, 84], [62, 65, 69, 72, 76, 79, 83, 86]
    script = {13: [_on(k) for k in chord],
              57: [_off(k) for k in chord] + [_on(k) for k in next_chord],
              58: [_off(next_chord[0])]}  # the next block: not before the chord's frame
    engine = NoteEngine(model, 64, voices=8, record=True)
    silent = _play(NoteEngine(model, 64, voices=8), 100)
    out = _play(engine, 100, script)
    assert np.array_equal(out[:13 * 64], silent[:13 * 64])
    f0, loudness = engine.curves()
    midi = np.round(12 * np.log2(f0 / 440.0) + 69)
    first = _first_frame(loudness.max(axis=0))
    assert (loudness[:, first + 5] > -40).all()  # all eight sound
    assert sorted(midi[:, first + 5].tolist()) == chord
    assert sorted(midi[:, -1].tolist()) == next_chord

    # the messages applied from the frames the engine went back to; the note-off a
    # block after the second chord goes back to the chord's frame, not before it
    changed = np.flatnonzero((midi[:, 1:] != midi[:, :-1]).any(axis=0))[-1] + 1
    assert first < changed
    reference = NoteEngine(model, 64, voices=8, record=True, rollback=False)
    expected = _play_from_frames(reference, 100, {first: script[13],
                                                  changed: script[57] + script[58]})
    assert np.array_equal(loudness, reference.curves()[1])
    after = 58 * 64 + engine.crossfade
    assert np.abs(out[after:] - expected[after:]).max() < 1e-5
