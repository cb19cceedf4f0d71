"""The postings codec: long blocks for count-only fields, packed positional
postings, and the same postings as Whoosh's own codec writes."""

from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import TEXT, Schema
from whoosh.formats import Characters
from whoosh.query import Phrase

from search.codec import (
    DEFAULT_BLOCK_LIMIT,
    Codec,
    _encode_counts_py,
    decode_counts,
    decode_values,
    encode_counts,
    encode_values,
    pack_streams,
    unpack_streams,
)
from search.doctable import _block_headers, _extent, _term_infos
from search.schema import POSITIONAL_BLOCK_POSTINGS, CountField, PackedCharacters

N_DOCS = 300


def _schema() -> Schema:
    return Schema(text=TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=True),
                  counts=CountField(SpaceSeparatedTokenizer(), scorable=True))  # fmt: skip


def _doc(i: int) -> str:
    # Every doc has "common"; lengths and frequencies vary so that block
    # length bounds and weights differ from block to block.
    return " ".join(["common"] * (1 + i % 4) + [f"w{i % 7}"] * (1 + i % 5) + ["x"] * (i % 13))


def _positional_schema(packed: bool) -> Schema:
    text = TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=True, chars=True)
    if packed:
        text.format = PackedCharacters(field_boost=text.format.field_boost)
    assert isinstance(text.format, Characters)
    return Schema(text=text)


def _write(path: Path, codec, schema: Schema | None = None) -> object:
    path.mkdir()
    ix = whoosh_index.create_in(str(path), schema or _schema())
    writer = ix.writer(codec=codec)
    for i in range(N_DOCS):
        writer.add_document(**{name: _doc(i) for name in ix.schema.names()})
    writer.commit()
    return whoosh_index.open_dir(str(path))


def _blocks(reader, field: str, term: str) -> list[tuple]:
    """Per block, its header: (postings, last id, max weight, compression,
    min length, max length)."""
    (terms, info, _base), = _term_infos(reader, field, term)  # fmt: skip
    return [header for *_, header in _block_headers(terms._postfile, *_extent(info))]


def test_count_fields_are_written_in_long_blocks(tmp_path: Path):
    ix = _write(tmp_path / "ours", Codec())
    with ix.reader() as reader:
        text_blocks = _blocks(reader, "text", "common")
        count_blocks = _blocks(reader, "counts", "common")
    assert len(text_blocks) == -(-N_DOCS // DEFAULT_BLOCK_LIMIT)
    assert [b[0] for b in count_blocks] == [N_DOCS]


def test_postings_and_block_bounds_equal_whoosh_codec(tmp_path: Path):
    ours = _write(tmp_path / "ours", Codec())
    theirs = _write(tmp_path / "theirs", W3Codec())
    with ours.reader() as a, theirs.reader() as b:
        for field in ("text", "counts"):
            terms = list(a.lexicon(field))
            assert terms == list(b.lexicon(field))
            for term in terms:
                assert list(a.postings(field, term).items_as("weight")) == list(
                    b.postings(field, term).items_as("weight")
                ), (field, term)
            for term in ("common", "x", "w3"):
                if field == "text":
                    # The lengths read once per document give the same bounds.
                    assert _blocks(a, field, term) == _blocks(b, field, term)
        assert a.doc_field_length(5, "text") == b.doc_field_length(5, "text")


@pytest.mark.parametrize(
    ("ids", "weights"),
    [
        ([0, 1, 5, 9_000], [1.0, 2.0, 255.0, 3.0]),  # small deltas, integral weights
        ([3, 70_000, 70_001, 400_000], [0.5, 1.0, 2.25, 300.0]),  # wide deltas, real weights
        ([42], [7.0]),
        (list(range(0, 300, 3)), [1.0] * 100),  # long enough for the NumPy path
        (list(range(0, 10**6, 9_000)), [1.5] * 112),
    ],
)
def test_packed_counts_round_trip(ids, weights):
    packed = encode_counts(np.array(ids, dtype=np.uint32), np.array(weights, dtype=np.float32))
    docs, w = decode_counts(packed, len(ids))
    assert docs.tolist() == ids
    assert w.tolist() == pytest.approx(weights)
    # Small blocks are packed without NumPy, to the same bytes.
    assert _encode_counts_py(array("I", ids), array("f", weights)) == packed


def test_packed_positional_postings_read_as_whoosh_characters(tmp_path: Path):
    ours = _write(tmp_path / "ours", Codec(), _positional_schema(packed=True))
    theirs = _write(tmp_path / "theirs", W3Codec(), _positional_schema(packed=False))
    with ours.reader() as a, theirs.reader() as b:
        assert [h[0] for h in _blocks(a, "text", "common")] == [POSITIONAL_BLOCK_POSTINGS] * (
            N_DOCS // POSITIONAL_BLOCK_POSTINGS
        ) + [N_DOCS % POSITIONAL_BLOCK_POSTINGS]
        for term in list(b.lexicon("text")):
            for kind in ("weight", "positions", "characters"):
                assert list(a.postings("text", term).items_as(kind)) == list(
                    b.postings("text", term).items_as(kind)
                ), (term, kind)
    # Whoosh's own phrase query reads the positions through the codec.
    with ours.searcher() as a, theirs.searcher() as b:
        phrase = Phrase("text", ["common", "w3"])
        found = [hit.docnum for hit in a.search(phrase, limit=None)]
        assert found and sorted(found) == sorted(h.docnum for h in b.search(phrase, limit=None))


@pytest.mark.parametrize(
    "streams",
    [
        ([0, 3, 255], [1, 2, 3], [2, 2, 2]),  # bytes
        ([70_000, 1], [256, 65_535], [1, 9]),  # 32- and 16-bit
        ([5], [-1], [2]),  # negative
        ([1, 2, 3],),
    ],
)
def test_packed_streams_round_trip(streams):
    assert [s.tolist() for s in unpack_streams(pack_streams(*streams))] == list(streams)


@pytest.mark.parametrize("sizes", [[0, 3, 1], [40_000, 30_000, 5]])  # 2- and 4-byte offsets
def test_packed_block_values_sliced_one_at_a_time(sizes):
    values = [bytes([i]) * n for i, n in enumerate(sizes)]
    ids = np.arange(len(values), dtype=np.uint32)
    packed = encode_counts(ids, np.ones(len(values), dtype=np.float32)) + encode_values(values)
    assert decode_counts(packed, len(values))[0].tolist() == ids.tolist()
    unpacked = decode_values(packed, len(values))
    assert [unpacked[i] for i in reversed(range(len(values)))] == values[::-1]


def test_character_map_matches_whoosh_decoding():
    packed = PackedCharacters()
    occurrences = [(0, 5, 7), (3, 6, 8), (900, 70_000, 70_002)]  # overlapping bigrams, far ends
    value = packed.encode(occurrences)
    assert packed.decode_characters(value) == occurrences
    assert packed.decode_character_map(value) == {p: (s, e) for p, s, e in occurrences}
    assert packed.decode_positions(value) == [0, 3, 900]
    assert packed.decode_frequency(value) == 3
