"""The on-disk postings codec: Whoosh 3's framing, with blocks of packed
numbers in place of pickles, and field lengths read once per document.

Whoosh writes every posting list in blocks of 128 postings, each a zlib
compressed protocol-2 pickle of (ids, weights, values). Reading a block
costs tens of microseconds of fixed overhead (decompression, unpickling,
NumPy conversion) before the postings themselves; and protocol 2 has no
bytes type, so each posting's value (itself a pickle) is stored as text
and rebuilt through a codec call when read.

Fields whose format says so (``packed_counts``, ``packed_values``) get
blocks of packed integers instead (:func:`encode_counts`), written raw
after Whoosh's block header:

- count-only fields (:class:`search.schema.CountField`), which the scorer
  reads whole, in long blocks: NumPy reads a common term's 6,000 postings
  in microseconds where unpickling them took 200 µs;
- positional fields (``PackedCharacters``, ``PackedPositions`` in
  ``search/schema.py``), whose values are a few streams of small integers
  (:func:`pack_streams`) with an offset table, so highlighting slices out
  the one posting it needs. Uncompressed, they still take half the space
  of Whoosh's compressed blocks.

Writing a segment, Whoosh asks the per-document reader for a field's length
at every posting (to keep per-block length bounds): a column read, and for a
field without lengths a ``stat()``, each time. That was 7% of indexing time;
the lengths are now read once per (field, document).

Segment files are read in place from the memory map (:mod:`search.mapped`).

Segments pickle their codec, so an index written with this one needs this
module importable to be read (Whoosh 2.7.4 is pinned; see ``search/doctable.py``).
"""

from __future__ import annotations

import pickle
import sys
from array import array
from collections.abc import Sequence
from itertools import accumulate, pairwise
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import (
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3FieldWriter,
    W3LeafMatcher,
    W3PostingsWriter,
)
from whoosh.util.numeric import length_to_byte

from .mapped import in_place

# Postings per block for formats that do not say otherwise (Whoosh's default).
DEFAULT_BLOCK_LIMIT = 128


class Codec(W3Codec):
    """Whoosh 3 codec honouring a format's ``postings_per_block`` attribute."""

    def __init__(self) -> None:
        super().__init__(blocklimit=DEFAULT_BLOCK_LIMIT)

    def field_writer(self, storage: Any, segment: Any) -> W3FieldWriter:
        return _FieldWriter(self, storage, segment)

    def terms_reader(self, storage: Any, segment: Any) -> Any:
        return super().terms_reader(in_place(storage), segment)

    def per_document_reader(self, storage: Any, segment: Any) -> Any:
        return super().per_document_reader(in_place(storage), segment)

    def postings_reader(self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None,
                        scorer: Any = None) -> Any:  # fmt: skip
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)
        offset, length = terminfo.extent()
        return _LeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> W3PostingsWriter:
        return _PostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=byteids,
                               compression=self._compression,
                               inlinelimit=self._inlinelimit)  # fmt: skip


class _PostingsWriter(W3PostingsWriter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._defaults = (self._blocklimit, self._compression)

    def start_postings(self, format_: Any, terminfo: Any) -> None:
        limit, compression = self._defaults
        self._blocklimit = getattr(format_, "postings_per_block", limit)
        self._compression = getattr(format_, "postings_compression", compression)
        self._packed = is_packed(format_)
        self._packed_values = getattr(format_, "packed_values", False)
        super().start_postings(format_, terminfo)

    def _write_block(self, last: bool = False) -> None:
        if not self._packed:
            super()._write_block(last)
            return
        # Whoosh's framing (magic, signed length, pickled header), but the
        # data is the packed bytes themselves: a protocol-2 pickle, which
        # Whoosh uses, stores bytes as text, half as large again and slow
        # to read back.
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        ids = self._ids
        data = encode_counts(ids, self._weights)
        if self._packed_values:
            data += encode_values(self._values)
        header = pickle.dumps((len(ids), int(ids[-1]), self._maxweight, 0,
                               length_to_byte(self._minlength),
                               length_to_byte(self._maxlength)), 2)  # fmt: skip
        size = len(header) + len(data)
        self._postfile.write_int(-size if last else size)
        self._postfile.write(header)
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()


class _LeafMatcher(W3LeafMatcher):
    """Whoosh's block matcher, unpacking packed blocks into the tuples it
    expects (segment merges and Whoosh queries read postings this way)."""

    def _read_data(self) -> None:
        if not is_packed(self.format):
            super()._read_data()
            return
        n = self._blocklength
        packed = self._postfile.get(self._dataoffset, self._nextoffset - self._dataoffset)
        ids, weights = decode_counts(packed, n)
        deltas = np.diff(ids, prepend=0)
        values = None
        if getattr(self.format, "packed_values", False):
            values = tuple(decode_values(packed, n))
        self._data = (tuple(deltas.tolist()), tuple(weights.tolist()), values)


def is_packed(format_: Any) -> bool:
    """Whether a field format's postings blocks are packed bytes, not pickles."""
    return getattr(format_, "packed_counts", False) or getattr(format_, "packed_values", False)


# Packed blocks: a byte giving the item size of the id deltas (2 or 4), a
# byte giving the weights' type (1: uint8, 4: float32), then the deltas and
# the weights. Term frequencies of count fields are small integers.
_ID_TYPES = {2: np.uint16, 4: np.uint32}
_ID_CODES = {2: "H", 4: "I"}
# Blocks up to this many postings are packed without NumPy.
_SMALL_BLOCK = 64
_WEIGHT_TYPES = {1: np.uint8, 4: np.float32}


def encode_counts(ids: Sequence[int], weights: Sequence[float]) -> bytes:
    """Pack a block's ascending doc ids and their weights."""
    if len(ids) > _SMALL_BLOCK:
        return _encode_counts_np(np.asarray(ids), np.asarray(weights, dtype=np.float32))
    # Most blocks hold a posting or two, where NumPy's overhead per call
    # costs more than the work (it was 5% of indexing time).
    return _encode_counts_py(ids, weights)


def _encode_counts_py(ids: Sequence[int], weights: Sequence[float]) -> bytes:
    deltas = [b - a for a, b in pairwise([0, *ids])]
    id_size = 2 if max(deltas, default=0) < 1 << 16 else 4
    integral = all(0 <= w < 256 and w == int(w) for w in weights)
    return (
        bytes([id_size, 1 if integral else 4])
        + array(_ID_CODES[id_size], deltas).tobytes()
        + (bytes(int(w) for w in weights) if integral else array("f", weights).tobytes())
    )


def _encode_counts_np(ids: np.ndarray, weights: np.ndarray) -> bytes:
    deltas = np.diff(ids.astype(np.int64), prepend=0)
    id_size = 2 if deltas.max(initial=0) < 1 << 16 else 4
    integral = bool(np.all((weights >= 0) & (weights < 256) & (weights == np.round(weights))))
    weight_size = 1 if integral else 4
    return (
        bytes([id_size, weight_size])
        + deltas.astype(_ID_TYPES[id_size]).tobytes()
        + weights.astype(_WEIGHT_TYPES[weight_size]).tobytes()
    )


def decode_counts(packed: bytes, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(doc ids as int32, weights as float32) of a packed block of *count* postings."""
    id_size, weight_size = packed[0], packed[1]
    deltas = np.frombuffer(packed, dtype=_ID_TYPES[id_size], count=count, offset=2)
    weights = np.frombuffer(packed, dtype=_WEIGHT_TYPES[weight_size], count=count,
                            offset=2 + count * id_size)  # fmt: skip
    return np.cumsum(deltas, dtype=np.int64).astype(np.int32), weights.astype(np.float32)


# Blocks of a format with values (positions) continue after the counts: a
# byte giving the size of the offsets (2 or 4), the end offset of each value,
# then the values. A value is read without decoding the rest of its block.
_OFFSET_TYPES = {2: np.dtype("<u2"), 4: np.dtype("<u4")}


def encode_values(values: Sequence[bytes]) -> bytes:
    """The values of a block's postings, packed to follow its counts."""
    ends = list(accumulate(len(v) for v in values))
    size = 2 if ends[-1] < 1 << 16 else 4
    packed = array(_ID_CODES[size], ends)
    if _SWAP:
        packed.byteswap()
    return bytes([size]) + packed.tobytes() + b"".join(values)


class PackedValues(Sequence):
    """The values of a packed block, sliced out one at a time."""

    def __init__(self, packed: bytes, count: int):
        start = 2 + count * (packed[0] + packed[1])
        size = packed[start]
        self._ends = np.frombuffer(packed, dtype=_OFFSET_TYPES[size], count=count,
                                   offset=start + 1).tolist()  # fmt: skip
        self._base = start + 1 + count * size
        self._packed = packed

    def __len__(self) -> int:
        return len(self._ends)

    def __sizeof__(self) -> int:
        return (object.__sizeof__(self) + sys.getsizeof(self._packed)
                + sys.getsizeof(self._ends) + 28 * len(self._ends))  # fmt: skip

    def __getitem__(self, i: int) -> bytes:  # type: ignore[override]
        begin = self._ends[i - 1] if i else 0
        return self._packed[self._base + begin : self._base + self._ends[i]]


def decode_values(packed: bytes, count: int) -> PackedValues:
    """The values of a packed block of *count* postings."""
    return PackedValues(packed, count)


# A positional posting's value: a byte giving the number of streams of
# integers (top two bits) and the type of each (two bits each: uint8, uint16,
# int32), then the streams, little-endian. Whoosh's own values are
# protocol-2 pickles, inside blocks that pickle them again: several times
# slower to read and, even after zlib, larger.
_STREAM_TYPES = (("B", 1), ("H", 2), ("i", 4))
MAX_STREAMS = 3
_SWAP = sys.byteorder != "little"
assert array("i").itemsize == array("I").itemsize == 4 and array("H").itemsize == 2


def _stream_type(values: list[int]) -> int:
    if not values or min(values) < 0:
        return 2
    top = max(values)
    return 0 if top < 1 << 8 else 1 if top < 1 << 16 else 2


def pack_streams(*streams: list[int]) -> bytes:
    """Up to three equal-length lists of integers as one posting value."""
    if not 0 < len(streams) <= MAX_STREAMS:
        raise ValueError(f"1 to {MAX_STREAMS} streams, not {len(streams)}")
    types = [_stream_type(s) for s in streams]
    head = len(streams) << 6 | sum(t << (2 * i) for i, t in enumerate(types))
    parts = [bytes([head])]
    for values, t in zip(streams, types, strict=True):
        packed = array(_STREAM_TYPES[t][0], values)
        if _SWAP:
            packed.byteswap()
        parts.append(packed.tobytes())
    return b"".join(parts)


def _stream_types(value: bytes) -> list[tuple[str, int]]:
    return [_STREAM_TYPES[(value[0] >> (2 * i)) & 3] for i in range(value[0] >> 6)]


def stream_length(value: bytes) -> int:
    """How many integers each stream of a :func:`pack_streams` value holds."""
    return (len(value) - 1) // sum(size for _, size in _stream_types(value))


def unpack_streams(value: bytes) -> list[array]:
    """The streams of a value written by :func:`pack_streams`."""
    n = stream_length(value)
    streams = []
    at = 1
    for code, size in _stream_types(value):
        stream = array(code, value[at : at + n * size])
        if _SWAP:
            stream.byteswap()
        streams.append(stream)
        at += n * size
    return streams


class _FieldWriter(W3FieldWriter):
    def add_postings(self, schema: Any, lengths: Any, items: Any) -> None:
        super().add_postings(schema, _CachedLengths(lengths) if lengths else lengths, items)


class _CachedLengths:
    """A per-document reader's field lengths, each read once."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._cache: dict[tuple[int, str], int] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        key = (docnum, fieldname)
        length = self._cache.get(key)
        if length is None:
            length = self._cache[key] = self._reader.doc_field_length(docnum, fieldname, default)
        return length
