"""Per-version columns in memory: facets, filters, dates and term postings.

Whoosh's own facets (``DateRangeFacet`` above all) and its scorer, which
walks every posting of every query term in Python, cost tens to hundreds of
milliseconds a query. Here each index version is read once into NumPy
arrays, from postings and sortable columns (never from stored fields, which
would decompress every body), and a query becomes a handful of vectorized
operations over at most ``doc_count`` elements.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher

from .store import read_labels

MAX_CACHED_TERMS = 50_000
MAX_PREFIX_TERMS = 200


@dataclass
class Facet:
    """A many-to-many facet as parallel arrays of (doc, value id) pairs."""

    keys: list[str]
    docs: np.ndarray  # int32, doc of each pair
    ids: np.ndarray  # int32, value id of each pair

    def mask_for(self, keys: set[str], size: int) -> np.ndarray:
        """Docs having any of *keys*."""
        wanted = [i for i, k in enumerate(self.keys) if k in keys]
        mask = np.zeros(size, dtype=bool)
        if wanted:
            mask[self.docs[np.isin(self.ids, wanted)]] = True
        return mask

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
    _lengths: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _avg_lengths: dict[str, float] = field(default_factory=dict, repr=False)
    _postings: dict[tuple[str, str, bool], Postings] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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
            arr = np.array(
                [reader.doc_field_length(d, field_name, 0) for d in range(self.size)],
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
            try:
                m = reader.postings(field_name, text)
            except Exception:  # noqa: BLE001 - whoosh raises TermNotFound
                result = EMPTY
            else:
                boost = reader.schema[field_name].format.field_boost or 1.0
                docs, tf = _read_postings(m)
                keep = self.live[docs]
                result = Postings(docs[keep], tf[keep] / boost)
        with self._lock:
            if len(self._postings) >= MAX_CACHED_TERMS:
                self._postings.clear()
            self._postings[key] = result
        return result


def _read_postings(m) -> tuple[np.ndarray, np.ndarray]:
    """All (doc ids, weights) of a Whoosh matcher.

    Whoosh 2.7.4 (pinned) stores postings in blocks of ids and weights; for
    its on-disk matcher the arrays are taken a block at a time, which is an
    order of magnitude faster than asking for every posting in Python.
    """
    if type(m) is W3LeafMatcher:
        ids: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        while m.is_active():
            if m._ids is None:
                m._read_ids()
            if m._weights is None:
                m._read_weights()
            ids.append(np.asarray(m._ids, dtype=np.int32))
            weights.append(np.asarray(m._weights, dtype=np.float32))
            if m._lastblock:
                break
            m._goto(m._nextoffset)
        if ids:
            return np.concatenate(ids), np.concatenate(weights)
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    items = list(m.items_as("weight"))
    docs = np.fromiter((d for d, _ in items), dtype=np.int32, count=len(items))
    tf = np.fromiter((w for _, w in items), dtype=np.float32, count=len(items))
    return docs, tf


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
