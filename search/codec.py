"""The on-disk postings codec: Whoosh 3's, with block sizes chosen per field
and field lengths read once per document rather than once per posting.

Whoosh writes every posting list in blocks of 128 postings, each a zlib
compressed pickle. Reading a block costs about 25 µs of fixed overhead
(header, decompression, unpickling, NumPy conversion) before the postings
themselves, and the scorer reads whole posting lists of count-only fields
(:class:`search.schema.CountField`), so a common term of a 10,000-post
index paid that overhead some 60 times per query word. Those fields get
long blocks; positional fields keep short ones, because highlighting
decodes the one block holding a hit and a long block of positions would
cost more than it saves.

Writing a segment, Whoosh asks the per-document reader for a field's length
at every posting (to keep per-block length bounds): a column read, and for a
field without lengths a ``stat()``, each time. That was 7% of indexing time;
the lengths are now read once per (field, document).

Segments pickle their codec, so an index written with this one needs this
module importable to be read (Whoosh 2.7.4 is pinned; see ``search/doctable.py``).
"""

from __future__ import annotations

from typing import Any

from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3PostingsWriter

# Postings per block for formats that do not say otherwise (Whoosh's default).
DEFAULT_BLOCK_LIMIT = 128


class Codec(W3Codec):
    """Whoosh 3 codec honouring a format's ``postings_per_block`` attribute."""

    def __init__(self) -> None:
        super().__init__(blocklimit=DEFAULT_BLOCK_LIMIT)

    def field_writer(self, storage: Any, segment: Any) -> W3FieldWriter:
        return _FieldWriter(self, storage, segment)

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
        super().start_postings(format_, terminfo)


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
