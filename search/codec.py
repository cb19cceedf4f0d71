"""The on-disk postings codec: Whoosh 3's, with count-only fields in long
blocks of packed numbers, and field lengths read once per document.

Whoosh writes every posting list in blocks of 128 postings, each a zlib
compressed pickle. Reading a block costs about 25 µs of fixed overhead
(header, decompression, unpickling, NumPy conversion) before the postings
themselves, and the scorer reads whole posting lists of count-only fields
(:class:`search.schema.CountField`), so a common term of a 10,000-post
index paid that overhead some 60 times per query word. Those fields get
long blocks of packed integers (:func:`encode_counts`) instead of pickled
tuples, which NumPy reads in microseconds where unpickling a common term's
6,000 postings took 200 µs. Positional fields keep short pickled blocks
(``POSITIONAL_BLOCK_POSTINGS`` in ``search/schema.py``): highlighting decodes
the one block holding a hit.

Writing a segment, Whoosh asks the per-document reader for a field's length
at every posting (to keep per-block length bounds): a column read, and for a
field without lengths a ``stat()``, each time. That was 7% of indexing time;
the lengths are now read once per (field, document).

Segments pickle their codec, so an index written with this one needs this
module importable to be read (Whoosh 2.7.4 is pinned; see ``search/doctable.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3LeafMatcher, W3PostingsWriter

# Postings per block for formats that do not say otherwise (Whoosh's default).
DEFAULT_BLOCK_LIMIT = 128


class Codec(W3Codec):
    """Whoosh 3 codec honouring a format's ``postings_per_block`` attribute."""

    def __init__(self) -> None:
        super().__init__(blocklimit=DEFAULT_BLOCK_LIMIT)

    def field_writer(self, storage: Any, segment: Any) -> W3FieldWriter:
        return _FieldWriter(self, storage, segment)

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
        self._packed = getattr(format_, "packed_counts", False)
        super().start_postings(format_, terminfo)

    # A packed block goes where Whoosh puts its ids; weights and values are
    # in it too (count-only formats have no values).
    def _mini_ids(self) -> Any:
        if self._packed:
            return encode_counts(np.frombuffer(self._ids, dtype=np.uint32),
                                 np.frombuffer(self._weights, dtype=np.float32))  # fmt: skip
        return super()._mini_ids()

    def _mini_weights(self) -> Any:
        return None if self._packed else super()._mini_weights()

    def _mini_values(self) -> Any:
        return None if self._packed else super()._mini_values()


class _LeafMatcher(W3LeafMatcher):
    """Whoosh's block matcher, unpacking packed blocks into the tuples it
    expects (segment merges and Whoosh queries read postings this way)."""

    def _read_data(self) -> None:
        super()._read_data()
        packed = self._data[0]
        if isinstance(packed, bytes):
            ids, weights = decode_counts(packed, self._blocklength)
            deltas = np.diff(ids, prepend=0)
            self._data = (tuple(deltas.tolist()), tuple(weights.tolist()), None)


# Packed blocks: a byte giving the item size of the id deltas (2 or 4), a
# byte giving the weights' type (1: uint8, 4: float32), then the deltas and
# the weights. Term frequencies of count fields are small integers.
_ID_TYPES = {2: np.uint16, 4: np.uint32}
_WEIGHT_TYPES = {1: np.uint8, 4: np.float32}


def encode_counts(ids: np.ndarray, weights: np.ndarray) -> bytes:
    """Pack a block's ascending doc ids and their weights."""
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
