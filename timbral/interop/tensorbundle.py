"""TensorFlow checkpoints (the TensorBundle format) read without TensorFlow.

A checkpoint with prefix ``P`` is ``P.index`` plus data shards
``P.data-00000-of-0000N``. The index is a LevelDB-style sorted table
(SSTable, blocks uncompressed): key ``""`` holds a ``BundleHeaderProto``
(number of shards, byte order) and every other key is a tensor name whose
value is a ``BundleEntryProto`` (dtype, shape, shard, byte offset and size,
masked CRC-32C of the bytes). A numeric tensor's bytes are its raw C-order
little-endian array.

Decoded by hand (table, varints, protobuf wire format) because only
TensorFlow ships a TensorBundle reader and the ``BundleEntryProto`` schema;
the CRC-32C comes from ``google-crc32c``. Every block and every tensor read is checked against its
CRC-32C; any inconsistency raises one ``ValueError`` naming the file and
what to do.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

import google_crc32c
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


# CRC-32C --------------------------------------------------------------------
def crc32c(data, value: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data`` (bytes-like, e.g. bytes or a contiguous
    uint8 array), continuing from ``value``: ``crc32c(b, crc32c(a)) == crc32c(a + b)``."""
    return google_crc32c.extend(value, data)


def unmask_crc(masked: int) -> int:
    """The CRC that LevelDB/TensorFlow stored masked (rotated and offset, so a
    CRC of data holding CRCs stays useful)."""
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
