"""The postings codec: long blocks for count-only fields, and the same index
as Whoosh's own codec writes otherwise."""

from __future__ import annotations

from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import TEXT, Schema

from search.codec import DEFAULT_BLOCK_LIMIT, Codec
from search.doctable import _blocks_of, _leaf_matchers
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
    """Per block: (postings, last id, min length, max length, max weight)."""
    (m, _base), = _leaf_matchers(reader, field, term)  # fmt: skip
    return [
        (b._blocklength, b._maxid, b.block_min_length(), b.block_max_length(),
         b.block_max_weight())  # fmt: skip
        for b in _blocks_of(m)
    ]


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
