"""TensorFlow checkpoints (the TensorBundle format) read and written without TensorFlow.

A checkpoint with prefix ``P`` is ``P.index`` plus data shards
``P.data-00000-of-0000N``. The index is a LevelDB-style sorted table
(SSTable, blocks uncompressed): key ``""`` holds a ``BundleHeaderProto``
(number of shards, byte order) and every other key is a tensor name whose
value is a ``BundleEntryProto`` (dtype, shape, shard, byte offset and size,
masked CRC-32C of the bytes). A numeric tensor's bytes are its raw C-order
little-endian array.

Everything is decoded by hand (varints, protobuf wire format, CRC-32C) so
importing a checkpoint needs neither TensorFlow nor protobuf. Every block and
every tensor read is checked against its CRC-32C; any inconsistency raises
one ``ValueError`` naming the file and what to do.

:func:`write_checkpoint` writes the same format (used by the tests to build
Magenta-layout folders of any size); TensorFlow reads what it writes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Tuple, Union

import numpy as np

#: Last 8 bytes of every table file (LevelDB's magic number).
TABLE_MAGIC = 0xDB4775248B80FB57
#: Footer: two block handles padded to 40 bytes, then the magic number.
FOOTER_SIZE = 48
#: Every block is followed by a compression-type byte and a masked CRC-32C.
BLOCK_TRAILER_SIZE = 5

#: TensorFlow ``DataType`` enum values -> numpy dtypes (little-endian spelling).
NUMERIC_DTYPES: Dict[int, np.dtype] = {
    1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 4: np.dtype("u1"),
    5: np.dtype("<i2"), 6: np.dtype("i1"), 9: np.dtype("<i8"), 10: np.dtype("?"),
    17: np.dtype("<u2"), 19: np.dtype("<f2"), 22: np.dtype("<u4"), 23: np.dtype("<u8"),
}
DT_STRING = 7
_DTYPE_NAMES = {7: "string", 8: "complex64", 14: "bfloat16", 18: "complex128",
                20: "resource", 21: "variant"}

PathLike = Union[str, Path]


# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78 ----------------------
def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table[byte] = crc
    return table


_CRC_TABLE = _crc_table()
_CRC_TABLE_LIST = [int(v) for v in _CRC_TABLE]
#: Below this many bytes a plain loop beats the vectorised chunked update.
_CRC_VECTOR_MIN = 1 << 16
_CRC_LANES = 2048


def _crc_update(register: int, data: bytes) -> int:
    """Raw CRC register update (no pre/post inversion), one byte at a time."""
    table = _CRC_TABLE_LIST
    for byte in data:
        register = (register >> 8) ^ table[(register ^ byte) & 0xFF]
    return register


def _crc_update_chunked(register: int, data: np.ndarray) -> int:
    """The same update for long inputs, vectorised over ``_CRC_LANES`` chunks.

    The register update is linear over GF(2): running a chunk from register
    ``r`` gives ``Z(r) ^ run(0, chunk)`` where ``Z`` is the effect of the
    chunk's length in zero bytes. All chunks are run at once from 0 together
    with the 32 unit registers (which yields ``Z``'s columns), then chained.
    """
    length = data.size // _CRC_LANES
    lanes = data[:length * _CRC_LANES].reshape(_CRC_LANES, length).T  # [length, lanes]
    regs = np.zeros(_CRC_LANES + 32, dtype=np.uint32)
    regs[_CRC_LANES:] = np.left_shift(np.uint32(1), np.arange(32, dtype=np.uint32))
    padded = np.zeros(_CRC_LANES + 32, dtype=np.uint32)
    for row in lanes:
        padded[:_CRC_LANES] = row
        regs = (regs >> np.uint32(8)) ^ _CRC_TABLE[(regs ^ padded) & np.uint32(0xFF)]
    chunk_crcs = [int(v) for v in regs[:_CRC_LANES]]
    columns = [int(v) for v in regs[_CRC_LANES:]]
    for chunk_crc in chunk_crcs:
        shifted = 0
        bit = 0
        while register >> bit:
            if (register >> bit) & 1:
                shifted ^= columns[bit]
            bit += 1
        register = shifted ^ chunk_crc
    return _crc_update(register, data[length * _CRC_LANES:].tobytes())


def crc32c(data, value: int = 0) -> int:
    """CRC-32C of ``data`` (bytes-like or uint8 array), continuing from ``value``.

    ``crc32c(b"123456789") == 0xE3069283``; ``crc32c(b, crc32c(a)) ==
    crc32c(a + b)``.
    """
    register = value ^ 0xFFFFFFFF
    if isinstance(data, np.ndarray):
        array = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
    else:
        array = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    if array.size >= _CRC_VECTOR_MIN:
        register = _crc_update_chunked(register, array)
    else:
        register = _crc_update(register, array.tobytes())
    return register ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """LevelDB/TensorFlow's masked CRC (stored so a CRC of CRCs stays useful)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """Inverse of :func:`mask_crc`."""
    rot = (masked - 0xA282EAD8) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# Varints and the protobuf wire format ---------------------------------------
def _read_varint(buf: bytes, pos: int, what: str) -> Tuple[int, int]:
    """Decode an unsigned LEB128 varint at ``pos``; returns ``(value, next pos)``."""
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError(f"{what}: corrupt varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _varint(value: int) -> bytes:
    """Encode a non-negative integer (or an int64, two's complement) as a varint."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _parse_proto(buf: bytes, what: str) -> Dict[int, list]:
    """Protobuf message -> ``{field number: [values]}`` (ints or bytes)."""
    fields: Dict[int, list] = {}
    pos = 0
    while pos < len(buf):
        tag, pos = _read_varint(buf, pos, what)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos, what)
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            length, pos = _read_varint(buf, pos, what)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"{what}: unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError(f"{what}: truncated protobuf message")
        fields.setdefault(number, []).append(value)
    return fields


def _int64(value: int) -> int:
    """A varint read as protobuf int64 (two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _field(fields: Dict[int, list], number: int, default=0):
    """The last value of a scalar field (protobuf's rule), or ``default``."""
    return fields[number][-1] if number in fields else default


# The sorted table ------------------------------------------------------------
def _read_block(data: bytes, offset: int, size: int, what: str) -> bytes:
    """One table block's contents, after checking its trailer's CRC."""
    end = offset + size
    if end + BLOCK_TRAILER_SIZE > len(data):
        raise ValueError(f"{what}: truncated (a block ends past the end of the file); "
                         f"copy the checkpoint again")
    contents = data[offset:end]
    kind = data[end]
    (stored,) = struct.unpack_from("<I", data, end + 1)
    if unmask_crc(stored) != crc32c(data[offset:end + 1]):
        raise ValueError(f"{what}: block checksum mismatch (corrupt file); copy the "
                         f"checkpoint again")
    if kind != 0:
        raise ValueError(f"{what}: compressed blocks (type {kind}) are not supported; "
                         f"TensorFlow writes checkpoint indexes uncompressed")
    return contents


def _block_entries(block: bytes, what: str):
    """Yield ``(key, value)`` from a block: prefix-compressed keys, then
    restart offsets (uint32 each) and their count (uint32)."""
    if len(block) < 4:
        raise ValueError(f"{what}: block too short")
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 * (n_restarts + 1)
    if end < 0:
        raise ValueError(f"{what}: corrupt block (bad restart count)")
    pos, key = 0, b""
    while pos < end:
        shared, pos = _read_varint(block, pos, what)
        unshared, pos = _read_varint(block, pos, what)
        value_len, pos = _read_varint(block, pos, what)
        if shared > len(key) or pos + unshared + value_len > end:
            raise ValueError(f"{what}: corrupt block entry")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + value_len]
        pos += value_len


def _read_handle(buf: bytes, pos: int, what: str) -> Tuple[int, int, int]:
    """A block handle ``(offset, size)`` at ``pos``; returns them and the next pos."""
    offset, pos = _read_varint(buf, pos, what)
    size, pos = _read_varint(buf, pos, what)
    return offset, size, pos


def _read_table(data: bytes, what: str) -> Dict[bytes, bytes]:
    """All ``key -> value`` pairs of a LevelDB-format table file."""
    if len(data) < FOOTER_SIZE:
        raise ValueError(f"{what}: too short to be a TensorFlow checkpoint index")
    footer = data[-FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, 40)[0] != TABLE_MAGIC:
        raise ValueError(f"{what}: not a TensorFlow checkpoint index (bad magic number)")
    _, _, pos = _read_handle(footer, 0, what)  # metaindex: TF stores no filters
    index_offset, index_size, _ = _read_handle(footer, pos, what)
    table: Dict[bytes, bytes] = {}
    index = _read_block(data, index_offset, index_size, what)
    for _, handle in _block_entries(index, what):
        offset, size, _ = _read_handle(handle, 0, what)
        for key, value in _block_entries(_read_block(data, offset, size, what), what):
            table[key] = value
    return table


# Bundle entries --------------------------------------------------------------
@dataclass(frozen=True)
class TensorEntry:
    """Where and what one tensor is (a decoded ``BundleEntryProto``).

    ``dtype`` is the TensorFlow ``DataType`` number; ``shape`` a tuple of
    ints; ``offset``/``size`` locate its bytes in data shard ``shard_id``;
    ``crc32c`` is the masked CRC-32C stored for them.
    """

    name: str
    dtype: int
    shape: Tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int

    @property
    def dtype_name(self) -> str:
        """Readable dtype (numpy's name, or TensorFlow's for the rest)."""
        if self.dtype in NUMERIC_DTYPES:
            return NUMERIC_DTYPES[self.dtype].name
        return _DTYPE_NAMES.get(self.dtype, f"DataType {self.dtype}")


def _decode_entry(name: str, value: bytes, what: str) -> TensorEntry:
    fields = _parse_proto(value, f"{what}: entry {name!r}")
    if 7 in fields:
        raise ValueError(f"{what}: tensor {name!r} is partitioned into slices, which is not "
                         f"supported; save the model unpartitioned")
    shape = []
    shape_fields = _parse_proto(_field(fields, 2, b""), what)
    if _field(shape_fields, 3):
        raise ValueError(f"{what}: tensor {name!r} has an unknown rank")
    for dim in shape_fields.get(2, []):
        size = _int64(_field(_parse_proto(dim, what), 1))
        if size < 0:
            raise ValueError(f"{what}: tensor {name!r} has an unknown dimension")
        shape.append(size)
    return TensorEntry(name=name, dtype=_field(fields, 1) % 100, shape=tuple(shape),
                       shard_id=_field(fields, 3), offset=_int64(_field(fields, 4)),
                       size=_int64(_field(fields, 5)), crc32c=_field(fields, 6))


def checkpoint_prefix(prefix_or_index_path: PathLike) -> Path:
    """``dir/ckpt-5`` from ``dir/ckpt-5`` or ``dir/ckpt-5.index``."""
    path = Path(prefix_or_index_path)
    return path.with_suffix("") if path.suffix == ".index" else path


def shard_path(prefix: PathLike, shard_id: int, num_shards: int) -> Path:
    """The data file holding shard ``shard_id`` of a checkpoint."""
    prefix = Path(prefix)
    return prefix.with_name(f"{prefix.name}.data-{shard_id:05d}-of-{num_shards:05d}")


def read_index(prefix_or_index_path: PathLike) -> Tuple[dict, Dict[str, TensorEntry]]:
    """Decode a checkpoint's index: ``(header, {name: TensorEntry})``.

    ``header`` holds ``num_shards``. Raises ValueError if the index is
    missing, is not a TensorBundle table, is corrupt, or was written on a
    big-endian machine.
    """
    index_path = checkpoint_prefix(prefix_or_index_path).with_name(
        checkpoint_prefix(prefix_or_index_path).name + ".index")
    what = index_path.name
    try:
        data = index_path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{index_path}: cannot read the checkpoint index "
                         f"({exc.strerror or exc})") from None
    table = _read_table(data, what)
    if b"" not in table:
        raise ValueError(f"{what}: no bundle header; not a TensorFlow checkpoint index")
    header_fields = _parse_proto(table.pop(b""), f"{what}: header")
    if _field(header_fields, 2) == 1:
        raise ValueError(f"{what}: big-endian checkpoints are not supported; re-save the "
                         f"model on a little-endian machine")
    header = {"num_shards": _field(header_fields, 1, 1)}
    entries = {}
    for key, value in table.items():
        try:
            name = key.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{what}: a tensor name is not UTF-8; corrupt index") from None
        entry = _decode_entry(name, value, what)
        if not 0 <= entry.shard_id < header["num_shards"] or entry.offset < 0 or entry.size < 0:
            raise ValueError(f"{what}: tensor {name!r} points outside the data shards; "
                             f"corrupt index")
        entries[name] = entry
    return header, entries


def _to_array(entry: TensorEntry, raw: bytes, what: str) -> np.ndarray:
    """A tensor's little-endian bytes -> a numpy array of its dtype and shape."""
    array = np.frombuffer(raw, dtype=NUMERIC_DTYPES[entry.dtype])
    if array.size != int(np.prod(entry.shape, dtype=np.int64)):
        raise ValueError(f"{what}: tensor {entry.name!r} has {len(raw)} bytes, which does not "
                         f"fit its shape {list(entry.shape)} of {entry.dtype_name}; corrupt "
                         f"checkpoint")
    return array.astype(array.dtype.newbyteorder("="), copy=True).reshape(entry.shape)


def read_checkpoint(prefix_or_index_path: PathLike,
                    select: Optional[Callable[[str], bool]] = None) -> Dict[str, np.ndarray]:
    """Every numeric tensor of a TensorFlow checkpoint, as numpy arrays.

    Args:
      prefix_or_index_path: ``dir/ckpt-5`` or ``dir/ckpt-5.index``.
      select: if given, only tensors whose name it accepts are read.

    Returns ``{name: array}`` in native byte order. String tensors (e.g.
    ``_CHECKPOINTABLE_OBJECT_GRAPH``) are skipped; other dtypes outside
    :data:`NUMERIC_DTYPES` (bfloat16, complex, resource, variant) raise. Each tensor's bytes are checked
    against the CRC-32C in the index.

    Raises ValueError (one line) for a missing index or data shard, a
    truncated shard, a checksum mismatch or a corrupt index.
    """
    prefix = checkpoint_prefix(prefix_or_index_path)
    header, entries = read_index(prefix)
    wanted = [e for name, e in sorted(entries.items())
              if e.dtype != DT_STRING and (select is None or select(name))]
    unsupported = [e for e in wanted if e.dtype not in NUMERIC_DTYPES]
    if unsupported:
        e = unsupported[0]
        raise ValueError(f"{prefix.name}.index: tensor {e.name!r} has dtype {e.dtype_name}, "
                         f"which cannot be imported")
    arrays: Dict[str, np.ndarray] = {}
    for shard_id in sorted({e.shard_id for e in wanted}):
        path = shard_path(prefix, shard_id, header["num_shards"])
        if not path.is_file():
            raise ValueError(f"{path}: missing checkpoint data shard; copy every "
                             f"{prefix.name}.data-* file next to {prefix.name}.index")
        file_size = path.stat().st_size
        with open(path, "rb") as f:
            for entry in (e for e in wanted if e.shard_id == shard_id):
                if entry.offset + entry.size > file_size:
                    raise ValueError(f"{path.name}: truncated: tensor {entry.name!r} needs "
                                     f"bytes up to {entry.offset + entry.size} but the file "
                                     f"has {file_size}; copy the checkpoint again")
                f.seek(entry.offset)
                raw = f.read(entry.size)
                if unmask_crc(entry.crc32c) != crc32c(raw):
                    raise ValueError(f"{path.name}: checksum mismatch for tensor "
                                     f"{entry.name!r} (corrupt file); copy the checkpoint "
                                     f"again")
                arrays[entry.name] = _to_array(entry, raw, path.name)
    return arrays


# Writing ---------------------------------------------------------------------
_NUMPY_TO_DTYPE = {dtype: number for number, dtype in NUMERIC_DTYPES.items()}


def _string_tensor_bytes(values) -> Tuple[bytes, int]:
    """TensorFlow's on-disk string tensor and its (unmasked) CRC-32C.

    Layout: a varint length per element, the masked CRC-32C of the lengths
    (each hashed as a little-endian uint32), then the bytes. The entry's CRC
    covers the uint32 lengths, the stored length checksum and the bytes.
    """
    values = [values] if isinstance(values, bytes) else list(values)
    lengths = b"".join(_varint(len(v)) for v in values)
    crc = crc32c(b"".join(struct.pack("<I", len(v)) for v in values))
    length_checksum = struct.pack("<I", mask_crc(crc))
    crc = crc32c(length_checksum, crc)
    body = b"".join(values)
    return lengths + length_checksum + body, crc32c(body, crc)


def _entry_proto(dtype: int, shape, offset: int, size: int, crc: int) -> bytes:
    """Encode a ``BundleEntryProto`` (proto3: zero-valued fields omitted)."""
    dims = b"".join(b"\x12" + _varint(len(d)) + d
                    for d in (b"\x08" + _varint(int(n)) if n else b"" for n in shape))
    out = b"\x08" + _varint(dtype) + b"\x12" + _varint(len(dims)) + dims
    if offset:
        out += b"\x20" + _varint(offset)
    if size:
        out += b"\x28" + _varint(size)
    return out + b"\x35" + struct.pack("<I", mask_crc(crc))


class _TableWriter:
    """Builds a LevelDB-format table: data blocks, index, empty metaindex, footer."""

    def __init__(self, block_size: int, restart_interval: int = 16):
        self.out = bytearray()
        self.block_size = block_size
        self.restart_interval = restart_interval
        self.index: list = []
        self._reset()

    def _reset(self):
        self.block, self.restarts, self.count, self.last_key = bytearray(), [0], 0, b""

    def _finish_block(self, block: bytearray, restarts: list) -> Tuple[int, int]:
        """Append restarts and trailer; return the block's handle."""
        contents = bytes(block) + b"".join(struct.pack("<I", r) for r in restarts)
        contents += struct.pack("<I", len(restarts))
        offset = len(self.out)
        self.out += contents + b"\x00" + struct.pack("<I", mask_crc(crc32c(contents + b"\x00")))
        return offset, len(contents)

    @staticmethod
    def _add(block: bytearray, restarts: list, count: int, last_key: bytes, key: bytes,
             value: bytes, interval: int) -> None:
        shared = 0
        if count % interval:
            while shared < min(len(key), len(last_key)) and key[shared] == last_key[shared]:
                shared += 1
        elif count:
            restarts.append(len(block))
        block += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        block += key[shared:] + value

    def add(self, key: bytes, value: bytes) -> None:
        """Add the next key (keys must come in sorted order)."""
        self._add(self.block, self.restarts, self.count, self.last_key, key, value,
                  self.restart_interval)
        self.count += 1
        self.last_key = key
        if len(self.block) >= self.block_size:
            self._flush()

    def _flush(self) -> None:
        if self.count:
            offset, size = self._finish_block(self.block, self.restarts)
            # The block's last key separates it from the next one.
            self.index.append((self.last_key, _varint(offset) + _varint(size)))
        self._reset()

    def finish(self) -> bytes:
        """The complete table file."""
        self._flush()
        meta = self._finish_block(bytearray(), [0])
        index, restarts = bytearray(), [0]
        for i, (key, handle) in enumerate(self.index):
            self._add(index, restarts, i, b"", key, handle, 1)
        index_handle = self._finish_block(index, restarts)
        footer = b"".join(_varint(v) for v in meta + index_handle)
        footer += b"\x00" * (40 - len(footer)) + struct.pack("<Q", TABLE_MAGIC)
        return bytes(self.out + footer)


def write_checkpoint(prefix: PathLike, tensors: Mapping[str, object],
                     block_size: int = 4096) -> None:
    """Write ``tensors`` as a one-shard TensorFlow checkpoint at ``prefix``.

    Args:
      prefix: e.g. ``dir/ckpt-5`` (writes ``ckpt-5.index`` and
        ``ckpt-5.data-00000-of-00001``).
      tensors: name -> numpy array (any dtype of :data:`NUMERIC_DTYPES`), or
        bytes / a list of bytes for a string tensor.
      block_size: target size of index data blocks (small values give
        multi-block indexes, as large checkpoints have).
    """
    prefix = Path(prefix)
    data, entries = bytearray(), []
    for name in sorted(tensors, key=lambda n: n.encode("utf-8")):
        value = tensors[name]
        if isinstance(value, (bytes, list, tuple)):
            raw, crc = _string_tensor_bytes(value)
            dtype, shape = DT_STRING, () if isinstance(value, bytes) else (len(value),)
        else:
            array = np.asarray(value)
            native = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
            if native not in _NUMPY_TO_DTYPE:
                raise ValueError(f"tensors[{name!r}]: dtype {array.dtype} cannot be written")
            raw = np.ascontiguousarray(array, dtype=native).tobytes()
            dtype, shape, crc = _NUMPY_TO_DTYPE[native], array.shape, crc32c(raw)
        entries.append((name.encode("utf-8"), _entry_proto(dtype, shape, len(data), len(raw), crc)))
        data += raw
    table = _TableWriter(block_size)
    table.add(b"", b"\x08\x01\x1a\x02\x08\x01")  # num_shards 1, little-endian, producer 1
    for key, value in entries:
        table.add(key, value)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    shard_path(prefix, 0, 1).write_bytes(bytes(data))
    prefix.with_name(prefix.name + ".index").write_bytes(table.finish())
