"""Per-version columns in memory: facets, filters, dates and term postings.

Whoosh's own facets (``DateRangeFacet`` above all) and its scorer, which
walks every posting of every query term in Python, cost tens to hundreds of
milliseconds a query. Here each index version is read once into NumPy
arrays, from postings and sortable columns (never from stored fields, which
would decompress every body), and a query becomes a handful of vectorized
operations over at most ``doc_count`` elements.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC
from whoosh.reading import TermNotFound

from .analysis import fold_word
from .anchors import Anchors, read_anchors
from .caches import MB, sized_cache
from .codec import decode_counts, decode_values, is_packed
from .posts import normalize_label
from .schema import SCORING_FIELDS, PackedCharacters
from .store import read_labels

# What a worker keeps per version, in bytes (search/caches.py): postings of
# the terms queries used (a common term's are 14 KB at 1,747 posts, 80 KB
# at 10,000), where their blocks lie, the blocks highlighting decoded (a few
# to some tens of KB; the hits of a query often share blocks), character
# positions of a term in a doc (a few hundred bytes), and sequence checks
# (a needle and the docs it was checked in).
CACHED_POSTINGS_BYTES = 24 * MB
CACHED_BLOCK_MAPS_BYTES = 2 * MB
CACHED_BLOCKS_BYTES = 8 * MB
CACHED_CHARACTERS_BYTES = 4 * MB
CACHED_SEQUENCES_BYTES = 2 * MB


def label_form(text: str) -> str:
    """A tag or category as :meth:`Facet.mask_named` compares it."""
    return " ".join(fold_word(w) for w in normalize_label(text).split())

MAX_PREFIX_TERMS = 200
SEQUENCE_COLUMN = "sequence"
# The length (negative for a term's last block) before each postings block.
_BLOCK_SIZE = struct.Struct("!i")


@dataclass
class Facet:
    """A many-to-many facet as parallel arrays of (doc, value id) pairs."""

    keys: list[str]
    docs: np.ndarray  # int32, doc of each pair
    ids: np.ndarray  # int32, value id of each pair
    _folded: dict[str, set[str]] | None = field(default=None, repr=False)

    def mask_for(self, keys: set[str], size: int) -> np.ndarray:
        """Docs having any of *keys*."""
        wanted = [i for i, k in enumerate(self.keys) if k in keys]
        mask = np.zeros(size, dtype=bool)
        if wanted:
            mask[self.docs[np.isin(self.ids, wanted)]] = True
        return mask

    def mask_named(self, texts: Sequence[str], size: int) -> np.ndarray:
        """Docs having a value one of *texts* names, compared in the index's
        word form (case, width, kana and long vowels folded): a query word
        equal to a tag or category."""
        if self._folded is None:
            folded: dict[str, set[str]] = {}
            for key in self.keys:
                folded.setdefault(label_form(key), set()).add(key)
            self._folded = folded
        keys = set().union(*(self._folded.get(label_form(t), set()) for t in texts))
        return self.mask_for(keys, size)

    def counts(self, docs_mask: np.ndarray) -> np.ndarray:
        """Number of docs in *docs_mask* per value id."""
        return np.bincount(self.ids[docs_mask[self.docs]], minlength=len(self.keys))

    def top(self, docs_mask: np.ndarray, limit: int) -> list[tuple[str, int]]:
        """The *limit* most frequent values over *docs_mask*, ties by value.

        ``keys`` come from the lexicon, so they are already in value order.
        """
        counts = self.counts(docs_mask)
        nonzero = np.flatnonzero(counts)
        order = nonzero[np.lexsort((nonzero, -counts[nonzero]))][:limit]
        return [(self.keys[i], int(counts[i])) for i in order]


@dataclass(frozen=True)
class _Block:
    """Where one block of a term's postings lies on disk.

    Highlighting needs the stored positions of a term in a few docs; a packed
    block (see :mod:`search.codec`) gives one posting's value without decoding
    the others, where Whoosh's matcher would also walk every posting before
    the doc in Python.
    """

    postfile: Any
    offset: int
    length: int
    compressed: bool
    packed: bool
    count: int  # postings in the block
    base: int  # doc number of the block's segment

    def read(self) -> tuple[np.ndarray, Sequence[bytes]]:
        """(doc numbers, raw values) of the block's postings."""
        data = self.postfile.get(self.offset, self.length)
        if self.packed:
            docs, _ = decode_counts(data, self.count)
            return docs + self.base, decode_values(data, self.count)
        # An index written before positional blocks were packed.
        ids, _weights, values = _unpack_block(data, self.compressed)
        return _doc_ids(ids) + self.base, values


def _unpack_block(data: bytes, compressed: bool) -> tuple:
    """The (ids, weights, values) tuple of a Whoosh 3 pickled postings block."""
    return pickle.loads(zlib.decompress(data) if compressed else data)


def _doc_ids(deltas) -> np.ndarray:
    """Doc numbers from a block's delta-encoded ids."""
    return np.cumsum(np.asarray(deltas, dtype=np.int64)).astype(np.int32)


def _weights(minified, n: int) -> np.ndarray:
    """A block's weights: Whoosh stores None when all are 1, one number when
    all are equal."""
    if minified is None:
        return np.ones(n, dtype=np.float32)
    if isinstance(minified, int | float):
        return np.full(n, minified, dtype=np.float32)
    return np.asarray(minified, dtype=np.float32)


@dataclass
class Postings:
    """Docs containing a term, and the term's frequency in each."""

    docs: np.ndarray  # int32, sorted
    tf: np.ndarray  # float32

    @property
    def df(self) -> int:
        return len(self.docs)


EMPTY = Postings(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))


@dataclass
class DocTable:
    """Everything a query needs besides the text index, for one version."""

    size: int  # doc numbers are 0 .. size-1
    live: np.ndarray  # bool
    timestamp: np.ndarray  # float64, Whoosh DATETIME column values (UTC)
    facets: dict[str, Facet]  # tags, categories, year, month
    labels: dict[str, dict[str, str]]  # facet -> normalized key -> display value
    docnum_by_id: dict[str, int]
    reader: object = field(repr=False, default=None)
    anchors: Anchors | None = field(repr=False, default=None)  # see search/anchors.py
    _lengths: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _avg_lengths: dict[str, float] = field(default_factory=dict, repr=False)
    _postings: LRUCache = field(default_factory=lambda: sized_cache(CACHED_POSTINGS_BYTES),
                                repr=False)  # fmt: skip
    _block_maps: LRUCache = field(default_factory=lambda: sized_cache(CACHED_BLOCK_MAPS_BYTES),
                                  repr=False)  # fmt: skip
    _characters: LRUCache = field(default_factory=lambda: sized_cache(CACHED_CHARACTERS_BYTES),
                                  repr=False)  # fmt: skip
    _blocks: LRUCache = field(default_factory=lambda: sized_cache(CACHED_BLOCKS_BYTES),
                              repr=False)  # fmt: skip
    _sequences: LRUCache = field(default_factory=lambda: sized_cache(CACHED_SEQUENCES_BYTES),
                                 repr=False)  # fmt: skip
    _sequence_column: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _all_live: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Most versions have no deleted docs: postings then need no filtering.
        self._all_live = bool(self.live.all())

    @classmethod
    def build(cls, reader, version_path: Path | None = None) -> DocTable:
        size = reader.doc_count_all()
        live = np.zeros(size, dtype=bool)
        live[list(reader.all_doc_ids())] = True

        def facet(name: str) -> Facet:
            keys: list[str] = []
            docs: list[np.ndarray] = []
            ids: list[np.ndarray] = []
            if name in reader.schema:
                for term in reader.lexicon(name):
                    ds = np.fromiter(reader.postings(name, term).all_ids(), dtype=np.int32)
                    ds = ds[live[ds]]
                    if len(ds):
                        docs.append(ds)
                        ids.append(np.full(len(ds), len(keys), dtype=np.int32))
                        keys.append(term.decode("utf-8"))
            if not keys:
                return Facet([], np.zeros(0, np.int32), np.zeros(0, np.int32))
            return Facet(keys, np.concatenate(docs), np.concatenate(ids))

        col = reader.column_reader("date", translate=False)
        timestamp = np.array([float(col[d]) for d in range(size)], dtype=np.float64)
        id_facet = facet("id")
        return cls(
            size=size,
            live=live,
            timestamp=timestamp,
            facets={name: facet(name) for name in ("tags", "categories", "year", "month")},
            labels=read_labels(version_path),
            docnum_by_id={
                id_facet.keys[i]: int(d) for d, i in zip(id_facet.docs, id_facet.ids, strict=True)
            },
            reader=reader,
            anchors=read_anchors(version_path, size),
        )

    # --- display and facets ---------------------------------------------

    def label(self, facet: str, key: str) -> str:
        return self.labels.get(facet, {}).get(key, key)

    def tag_counts(self) -> list[tuple[str, int]]:
        """Tag keys by number of posts, most used first."""
        return self.facets["tags"].top(self.live, len(self.facets["tags"].keys))

    def newest_first(self, mask: np.ndarray) -> np.ndarray:
        docs = np.flatnonzero(mask)
        # Stable on doc number for equal dates.
        return docs[np.argsort(-self.timestamp[docs], kind="stable")]

    # --- text statistics ----------------------------------------------------

    def lengths(self, field_name: str) -> np.ndarray:
        """Per-doc field length (in tokens), read once per field."""
        arr = self._lengths.get(field_name)
        if arr is None:
            reader = self.reader
            # Whoosh answers None (not the default) for a doc without the
            # field in some segments; that is a length of 0, not NaN.
            arr = np.array(
                [reader.doc_field_length(d, field_name, 0) or 0 for d in range(self.size)],
                dtype=np.float32,
            )
            self._lengths[field_name] = arr
        return arr

    def avg_length(self, field_name: str) -> float:
        avg = self._avg_lengths.get(field_name)
        if avg is None:
            live = self.lengths(field_name)[self.live]
            avg = float(live.mean()) if len(live) and live.mean() > 0 else 1.0
            self._avg_lengths[field_name] = avg
        return avg

    def postings(self, field_name: str, text: str, prefix: bool = False) -> Postings:
        """Postings of a term (or of all terms with a prefix, frequencies summed)."""
        key = (field_name, text, prefix)
        with self._lock:
            cached = self._postings.get(key)
        if cached is not None:
            return cached
        reader = self.reader
        if prefix:
            parts = [
                self.postings(field_name, t.decode("utf-8") if isinstance(t, bytes) else t)
                for i, t in enumerate(reader.expand_prefix(field_name, text))
                if i < MAX_PREFIX_TERMS
            ]
            result = _sum_postings(parts, self.size)
        else:
            source = SCORING_FIELDS.get(field_name, field_name)
            if source not in reader.schema:
                source = field_name
            docs, tf = _read_postings(reader, source, text)
            boost = reader.schema[source].format.field_boost or 1.0
            result = self._live_postings(docs, tf / boost if boost != 1.0 else tf)
        with self._lock:
            _keep(self._postings, key, result)
        return result

    def containing(self, needles: tuple[str, ...], docs: np.ndarray) -> np.ndarray:
        """Which of *docs* have one of *needles* (:func:`~search.analysis.sequence_text`
        forms) in their text, as a bool array over *docs*.

        A version written before the sequence column existed answers True
        for every doc (its matches are then as loose as they were).
        """
        if not len(docs):
            return np.zeros(0, dtype=bool)
        key = (needles, len(docs), hash(docs.tobytes()))
        with self._lock:
            cached = self._sequences.get(key)
            if cached is not None:
                return cached
            column = self._sequence_column
            if column is None:
                reader = self.reader
                column = False
                if reader is not None and reader.has_column(SEQUENCE_COLUMN):
                    column = reader.column_reader(SEQUENCE_COLUMN, translate=False)
                self._sequence_column = column
            if column is False:
                return np.ones(len(docs), dtype=bool)
            encoded = [n.encode("utf-8") for n in needles]
            texts = map(column.__getitem__, docs.tolist())
            found = np.fromiter(
                (any(n in text for n in encoded) for text in texts),
                dtype=bool,
                count=len(docs),
            )
            _keep(self._sequences, key, found)
        return found

    def anchor_postings(self, text: str) -> Postings:
        """Docs whose anchor words (what other posts say about them) include *text*."""
        if self.anchors is None:
            return EMPTY
        found = self.anchors.postings.get(text)
        if found is None:
            return EMPTY
        return self._live_postings(*found)

    def _live_postings(self, docs: np.ndarray, tf: np.ndarray) -> Postings:
        """The postings of docs not deleted."""
        if self._all_live:
            return Postings(docs, tf) if len(docs) else EMPTY
        keep = self.live[docs]
        return Postings(docs[keep], tf[keep]) if keep.any() else EMPTY

    def characters(self, field_name: str, text: str, doc: int) -> dict[int, tuple[int, int]]:
        """``{position: (start, end)}`` of a term in one doc, from the index."""
        key = (field_name, text, doc)
        with self._lock:
            cached = self._characters.get(key)
            if cached is not None:
                return cached
        postings = self.postings(field_name, text)
        i = int(np.searchsorted(postings.docs, doc))
        if i >= postings.df or postings.docs[i] != doc:
            return {}
        with self._lock:
            block_map = self._block_maps.get((field_name, text))
        if block_map is None:
            block_map = _read_block_map(self.reader, field_name, text)
            with self._lock:
                _keep(self._block_maps, (field_name, text), block_map)
        last, blocks = block_map
        b = int(np.searchsorted(last, doc))
        if b >= len(blocks):
            return {}
        block_key = (field_name, text, b)
        with self._lock:
            block = self._blocks.get(block_key)
        if block is None:
            block = blocks[b].read()
            with self._lock:
                _keep(self._blocks, block_key, block)
        docs, values = block
        j = int(np.searchsorted(docs, doc))
        if j >= len(docs) or docs[j] != doc:
            return {}
        format_ = self.reader.schema[field_name].format
        if isinstance(format_, PackedCharacters):
            found = format_.decode_character_map(values[j])
        else:
            found = {pos: (start, end) for pos, start, end in format_.decode_characters(values[j])}
        with self._lock:
            _keep(self._characters, key, found)
        return found


def _keep(cache: LRUCache, key: Any, value: Any) -> None:
    """Cache *value* unless it alone is larger than the cache."""
    with contextlib.suppress(ValueError):
        cache[key] = value


def _term_infos(reader, field_name: str, text: str) -> Iterator[tuple[Any, Any, int]]:
    """Each segment's (terms reader, term info) for a term, with its base."""
    for leaf, base in reader.leaf_readers():
        if field_name not in leaf.schema:
            continue
        terms = leaf._terms
        try:
            yield terms, terms.term_info(field_name, leaf._text_to_bytes(field_name, text)), base
        except TermNotFound:
            continue


def _extent(info) -> tuple[int, int]:
    """(offset, length) of a term's postings in the postings file."""
    if info.is_inlined():
        # Whoosh's inline limit of 1 (ours too, see search/codec.py) never
        # inlines a posting list in the term info.
        raise ValueError("postings inlined in the term info: not an index this code writes")
    offset, length = info.extent()
    # Whoosh 2.7.4 reads the length back as a 1-tuple (it never uses it).
    return offset, length[0] if isinstance(length, tuple) else length


def _block_headers(postfile, offset: int, length: int) -> Iterator[tuple[bytes, int, int, tuple]]:
    """A term's postings blocks, read with one call: ``(buffer, data start,
    data end, header)``, the header being Whoosh 3's ``(postings, last id,
    max weight, compression, min length, max length)``.

    Whoosh's own matcher reads the same headers a few file calls at a time,
    which cost more than most terms' postings.
    """
    buf = postfile.get(offset, length)
    if buf[: len(WHOOSH3_HEADER_MAGIC)] != WHOOSH3_HEADER_MAGIC:
        raise ValueError(f"not a Whoosh 3 postings list at offset {offset}")
    stream = io.BytesIO(buf)
    at = len(WHOOSH3_HEADER_MAGIC)
    while at < length:
        (size,) = _BLOCK_SIZE.unpack_from(buf, at)
        stream.seek(at + _BLOCK_SIZE.size)
        header = pickle.load(stream)
        end = at + _BLOCK_SIZE.size + abs(size)
        yield buf, stream.tell(), end, header
        if size < 0:  # the last block
            break
        at = end


def _read_postings(reader, field_name: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    """All docs and weights of a term, deleted docs included.

    Whoosh 2.7.4 (pinned) stores postings in blocks of ids, weights and
    values; the arrays are taken a block at a time, which is an order of
    magnitude faster than asking its matcher for every posting in Python.
    """
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    packed = is_packed(reader.schema[field_name].format)
    for terms, info, base in _term_infos(reader, field_name, text):
        for buf, start, end, header in _block_headers(terms._postfile, *_extent(info)):
            if packed:
                docs, w = decode_counts(buf[start:end], header[0])
            else:
                deltas, minified, _ = _unpack_block(buf[start:end], header[3])
                docs, w = _doc_ids(deltas), _weights(minified, header[0])
            if base:
                docs += base  # docs is a new array
            ids.append(docs)
            weights.append(w)
    # Most terms are one block: no concatenation (a copy) then.
    if len(ids) == 1:
        return ids[0], weights[0]
    if not ids:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    return np.concatenate(ids), np.concatenate(weights)


def _read_block_map(reader, field_name: str, text: str) -> tuple[np.ndarray, tuple]:
    """Where a term's postings blocks lie: the last doc of each, and the block.

    Only the block headers are read; a block's data is decoded when a doc in
    it is highlighted.
    """
    last: list[int] = []
    blocks: list[_Block] = []
    packed = is_packed(reader.schema[field_name].format)
    for terms, info, base in _term_infos(reader, field_name, text):
        offset, length = _extent(info)
        for _, start, end, header in _block_headers(terms._postfile, offset, length):
            last.append(header[1] + base)
            blocks.append(_Block(terms._postfile, offset + start, end - start,
                                 bool(header[3]), packed, header[0], base))  # fmt: skip
    return np.array(last, dtype=np.int32), tuple(blocks)


def _sum_postings(parts: list[Postings], size: int) -> Postings:
    parts = [p for p in parts if p.df]
    if not parts:
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    tf = np.bincount(
        np.concatenate([p.docs for p in parts]),
        weights=np.concatenate([p.tf for p in parts]),
        minlength=size,
    )
    docs = np.flatnonzero(tf).astype(np.int32)
    return Postings(docs, tf[docs].astype(np.float32))
