"""The postings codec: long blocks for count-only fields, and the same index
as Whoosh's own codec writes otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import TEXT, Schema

from search.codec import DEFAULT_BLOCK_LIMIT, Codec, decode_counts, encode_counts
from search.doctable import _block_headers, _extent, _term_infos
from search.schema import CountField

N_DOCS = 300


def _schema() -> Schema:
    return Schema(text=TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=True),
                  counts=CountField(SpaceSeparatedTokenizer(), scorable=True))  # fmt: skip


def _doc(i: int) -> str:
    # Every doc has "common"; lengths and frequencies vary so that block
    # length bounds and weights differ from block to block.
    return " ".join(["common"] * (1 + i % 4) + [f"w{i % 7}"] * (1 + i % 5) + ["x"] * (i % 13))


def _write(path: Path, codec) -> object:
    path.mkdir()
    ix = whoosh_index.create_in(str(path), _schema())
    writer = ix.writer(codec=codec)
    for i in range(N_DOCS):
        writer.add_document(text=_doc(i), counts=_doc(i))
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
    ],
)
def test_packed_counts_round_trip(ids, weights):
    packed = encode_counts(np.array(ids, dtype=np.uint32), np.array(weights, dtype=np.float32))
    docs, w = decode_counts(packed, len(ids))
    assert docs.tolist() == ids
    assert w.tolist() == pytest.approx(weights)
