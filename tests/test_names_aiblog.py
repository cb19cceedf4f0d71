"""Names across scripts on the blog's own genre (../shared/corpus/aiblog)."""

from __future__ import annotations

import pytest

from search.query import SearchRequest

pytestmark = pytest.mark.corpus

REAL_POST = "2025-12-09-meta-llama4-agi-horizon.md"


def ids(engine, q: str, pages: int = 1) -> list[str]:
    per_page = 50 if pages > 1 else 10
    found = []
    for page in range(1, pages + 1):
        result = engine.search(SearchRequest(q=q, page=page, per_page=per_page))
        found += [h.id for h in result.hits]
    return found


@pytest.mark.parametrize("query", ["エヌビディア", "ザッカーバーグ", "グーグル", "パイトーチ"])
def test_the_real_post_is_found_by_names_it_writes_in_latin_letters(aiblog_engine, query):
    # The post says NVIDIA, Zuckerberg, Google and PyTorch; a reader types katakana.
    assert REAL_POST in ids(aiblog_engine, query, pages=5), query


def test_a_katakana_company_name_and_a_word_find_the_post_that_writes_it_in_latin(aiblog_engine):
    found = ids(aiblog_engine, "アンソロピック MCP")
    assert "2024-11-28-model-context-protocol-intro.md" in found[:3]


def test_a_latin_name_finds_the_post_that_writes_it_in_katakana(aiblog_engine):
    assert ids(aiblog_engine, "Zuckerberg 超知能")[0] == (
        "2025-07-31-zuckerberg-personal-superintelligence.md"
    )


def test_a_katakana_name_suggests_the_latin_tag(aiblog_engine):
    tags = [s.text for s in aiblog_engine.suggest("エヌビ") if s.kind == "tag"]
    assert tags == ["NVIDIA"]


def test_names_do_not_turn_man_pages_into_hits_for_an_ai_company(corpus_engine):
    # Before names were learned from the blog, アンソロピック returned 303
    # man pages; the man pages never write Anthropic.
    result = corpus_engine.search(SearchRequest(q="アンソロピック"))
    assert result.total == 0
