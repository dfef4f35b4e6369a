"""TensorFlow checkpoints without TensorFlow: CRC-32C, the index table, data shards."""

from pathlib import Path

import numpy as np
import pytest

from timbral.interop import tensorbundle as tb

import magenta_writers as writers

FIXTURE = Path(__file__).parent / "data" / "magenta_solo_tiny"
PREFIX = FIXTURE / "solo_tiny" / "ckpt-5"
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.fixture(scope="module")
def expected():
    return dict(np.load(FIXTURE / "solo_tiny_expected.npz"))


def test_crc32c_known_values():
    # RFC 3720 (iSCSI) test vectors and the usual check value.
    assert tb.crc32c(b"123456789") == 0xE3069283
    assert tb.crc32c(b"") == 0
    assert tb.crc32c(bytes(32)) == 0x8A9136AA
    assert tb.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert tb.crc32c(bytes(range(32))) == 0x46DD794E


def _crc32c_bytewise(data: bytes) -> int:
    """CRC-32C by its definition (reflected polynomial 0x82F63B78), one byte at a time."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    crc = 0xFFFFFFFF
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


@pytest.mark.parametrize("size", [1, 100, (1 << 16) - 1, 1 << 16, 300_001])
def test_crc32c_matches_bytewise_reference(size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    bytewise = _crc32c_bytewise(data.tobytes())
    assert tb.crc32c(data) == tb.crc32c(data.tobytes()) == bytewise
    half = size // 2
    assert tb.crc32c(data[half:], tb.crc32c(data[:half])) == bytewise


def test_crc_mask_round_trips():
    for crc in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert tb.unmask_crc(writers.mask_crc(crc)) == crc


def test_reads_magentas_checkpoint_exactly(expected):
    tensors = tb.read_checkpoint(PREFIX)
    variables = {k[4:] + SUFFIX: v for k, v in expected.items() if k.startswith("var/")}
    assert len(variables) == 30
    for name, value in variables.items():
        assert tensors[name].dtype == value.dtype and np.array_equal(tensors[name], value), name
    # All 94 entries but the string object graph: optimizer state is read too.
    assert len(tensors) == 93 and "_CHECKPOINTABLE_OBJECT_GRAPH" not in tensors
    assert tensors["optimizer/_iterations" + SUFFIX] == 5
    assert tensors["optimizer/_iterations" + SUFFIX].dtype == np.int64


def test_index_path_and_selection(expected):
    selected = tb.read_checkpoint(str(PREFIX) + ".index",
                                  select=lambda name: name.startswith("model/"))
    assert len(selected) == 30
    header, entries = tb.read_index(PREFIX)
    assert header == {"num_shards": 1} and len(entries) == 94
    entry = entries["model/decoder/rnn/rnn/cell/kernel" + SUFFIX]
    assert entry.shape == (128, 192) and entry.dtype_name == "float32"


def test_string_tensor_layout_matches_tensorflow():
    """The writer's string encoding reproduces the object graph entry byte for byte."""
    _, entries = tb.read_index(PREFIX)
    entry = entries["_CHECKPOINTABLE_OBJECT_GRAPH"]
    raw = (PREFIX.parent / "ckpt-5.data-00000-of-00001").read_bytes()
    raw = raw[entry.offset:entry.offset + entry.size]
    length, pos = tb._read_varint(raw, 0, "test")
    value = raw[pos + 4:pos + 4 + length]
    encoded, crc = writers.string_tensor_bytes(value)
    assert encoded == raw and writers.mask_crc(crc) == entry.crc32c


def _tensors():
    rng = np.random.default_rng(0)
    return {
        "a/float32": rng.standard_normal((3, 5)).astype(np.float32),
        "a/float64": rng.standard_normal(7),
        "b/int32": np.arange(-3, 9, dtype=np.int32).reshape(2, 2, 3),
        "b/int64": np.int64(-42),
        "c/bool": np.array([True, False, True]),
        "c/uint8": np.arange(10, dtype=np.uint8),
        "c/int8": np.arange(-5, 5, dtype=np.int8),
        "c/int16": np.arange(-5, 5, dtype=np.int16),
        "c/half": np.linspace(-1, 1, 9).astype(np.float16),
        "d/empty": np.zeros((0, 4), dtype=np.float32),
        "d/big_endian_input": np.arange(4, dtype=">f4"),
        "strings": [b"x", b"", b"yz"],
        **{f"many/{i:03d}/" + "long/shared/prefix" * 3: np.float32(i) for i in range(60)},
    }


@pytest.mark.parametrize("block_size", [64, 4096, 1 << 20])
def test_write_then_read_round_trips(tmp_path, block_size):
    tensors = _tensors()
    writers.write_checkpoint(tmp_path / "ckpt-3", tensors, block_size=block_size)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-3.data-00000-of-00001",
                                                          "ckpt-3.index"]
    back = tb.read_checkpoint(tmp_path / "ckpt-3")
    assert set(back) == set(tensors) - {"strings"}
    for name, value in back.items():
        want = np.asarray(tensors[name])
        assert value.dtype == want.dtype.newbyteorder("=") and value.shape == want.shape
        assert np.array_equal(value, want), name
    _, entries = tb.read_index(tmp_path / "ckpt-3.index")
    assert entries["strings"].dtype_name == "string" and entries["strings"].shape == (3,)


def test_multi_block_index_has_many_blocks(tmp_path):
    writers.write_checkpoint(tmp_path / "small", _tensors(), block_size=64)
    writers.write_checkpoint(tmp_path / "large", _tensors(), block_size=1 << 20)
    # One index entry (block handle) per data block: more blocks, larger index.
    small = (tmp_path / "small.index").stat().st_size
    assert small > (tmp_path / "large.index").stat().st_size + 200


def _one_line_error(match, fn, *args, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.fixture
def written(tmp_path):
    writers.write_checkpoint(tmp_path / "ckpt-1", _tensors())
    return tmp_path / "ckpt-1"


def test_missing_index(tmp_path):
    _one_line_error("cannot read the checkpoint index", tb.read_checkpoint, tmp_path / "nope")


def test_not_an_index(tmp_path):
    (tmp_path / "x.index").write_bytes(b"not a table" * 10)
    _one_line_error("bad magic number", tb.read_checkpoint, tmp_path / "x")
    (tmp_path / "y.index").write_bytes(b"short")
    _one_line_error("too short", tb.read_checkpoint, tmp_path / "y")


def test_corrupt_index_block(written):
    index = written.with_name("ckpt-1.index")
    data = bytearray(index.read_bytes())
    data[10] ^= 0x40  # inside the first data block
    index.write_bytes(bytes(data))
    _one_line_error("block checksum mismatch", tb.read_checkpoint, written)


def test_truncated_index(written):
    index = written.with_name("ckpt-1.index")
    data = index.read_bytes()
    index.write_bytes(data[:60] + data[-48:])  # footer intact, blocks cut
    _one_line_error("ckpt-1.index: ", tb.read_checkpoint, written)


def test_missing_data_shard(written):
    written.with_name("ckpt-1.data-00000-of-00001").unlink()
    _one_line_error("missing checkpoint data shard", tb.read_checkpoint, written)


def test_truncated_data_shard(written):
    shard = written.with_name("ckpt-1.data-00000-of-00001")
    shard.write_bytes(shard.read_bytes()[:100])
    message = _one_line_error("truncated", tb.read_checkpoint, written)
    assert "copy the checkpoint again" in message


def test_corrupt_data_shard(written):
    shard = written.with_name("ckpt-1.data-00000-of-00001")
    data = bytearray(shard.read_bytes())
    data[5] ^= 0x01
    shard.write_bytes(bytes(data))
    _one_line_error("checksum mismatch for tensor 'a/float32'", tb.read_checkpoint, written)
    # Tensors that are not selected are not read, so not checked either.
    assert "a/float64" in tb.read_checkpoint(written, select=lambda n: n != "a/float32")


def test_unwritable_dtype(tmp_path):
    _one_line_error("cannot be written", writers.write_checkpoint, tmp_path / "c",
                    {"x": np.zeros(2, dtype=np.complex64)})
