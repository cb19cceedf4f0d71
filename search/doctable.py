"""Per-version, in-memory columns for filters, facets and date sorting.

Whoosh's own facets (``DateRangeFacet`` above all) cost tens of
milliseconds a query. These arrays are built once when a version is opened,
from postings and sortable columns (never from stored fields, which would
decompress every body), and then answer filters and counts in microseconds.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

LABELS_FILE = "labels.json"


def read_labels(version_path: Path | None) -> dict[str, dict[str, str]]:
    """Display forms of tag and category keys, as the indexer recorded them."""
    labels: dict[str, dict[str, str]] = {"tags": {}, "categories": {}}
    if version_path is not None:
        with contextlib.suppress(OSError, ValueError):
            labels.update(json.loads((version_path / LABELS_FILE).read_text("utf-8")))
    return labels


@dataclass
class DocTable:
    """Facet values of every live document, indexed by Whoosh docnum."""

    live: frozenset[int]
    timestamp: dict[int, float]
    year: dict[int, str]
    month: dict[int, str]
    tags: dict[int, tuple[str, ...]]
    categories: dict[int, tuple[str, ...]]
    labels: dict[str, dict[str, str]]  # facet -> normalized key -> display value
    docnum_by_id: dict[str, int]
    _tag_counts: Counter[str] | None = None

    @classmethod
    def build(cls, reader, version_path: Path | None = None) -> DocTable:
        live = frozenset(reader.all_doc_ids())

        def single(field: str) -> dict[int, str]:
            out: dict[int, str] = {}
            if field not in reader.schema:
                return out
            for term in reader.lexicon(field):
                value = term.decode("utf-8")
                for docnum in reader.postings(field, term).all_ids():
                    if docnum in live:
                        out[docnum] = value
            return out

        def multi(field: str) -> dict[int, tuple[str, ...]]:
            acc: dict[int, list[str]] = {}
            for term in reader.lexicon(field):
                value = term.decode("utf-8")
                for docnum in reader.postings(field, term).all_ids():
                    if docnum in live:
                        acc.setdefault(docnum, []).append(value)
            return {d: tuple(v) for d, v in acc.items()}

        timestamp: dict[int, float] = {}
        col = reader.column_reader("date", translate=False)
        for docnum in live:
            timestamp[docnum] = float(col[docnum])
        ids = single("id")
        return cls(
            live=live,
            timestamp=timestamp,
            year=single("year"),
            month=single("month"),
            tags=multi("tags"),
            categories=multi("categories"),
            labels=read_labels(version_path),
            docnum_by_id={v: d for d, v in ids.items()},
        )

    def tag_counts(self) -> Counter[str]:
        """Documents per tag key (computed once per version)."""
        if self._tag_counts is None:
            self._tag_counts = self.count("tags", self.live)
        return self._tag_counts

    def label(self, facet: str, key: str) -> str:
        return self.labels.get(facet, {}).get(key, key)

    def count(self, facet: str, docs: Iterable[int]) -> Counter[str]:
        """Facet value counts over *docs*."""
        counts: Counter[str] = Counter()
        if facet in ("tags", "categories"):
            values = self.tags if facet == "tags" else self.categories
            for d in docs:
                counts.update(values.get(d, ()))
        else:
            values1 = self.year if facet == "year" else self.month
            for d in docs:
                v = values1.get(d)
                if v is not None:
                    counts[v] += 1
        return counts

    def newest_first(self, docs: Iterable[int]) -> list[int]:
        ts = self.timestamp
        return sorted(docs, key=lambda d: (-ts.get(d, 0.0), d))
