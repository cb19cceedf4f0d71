"""Synonyms (Solr format) applied at query time."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers import build_blog

from search.query import SearchEngine, SearchRequest
from search.synonyms import Synonyms

POSTS = {
    "2024-01-10-pc.md": ("新しいパソコンを買った", "仕事用のパソコンを新しくしました。"),
    "2024-02-11-phone.md": ("スマホの電池", "スマホの電池が一日もたなくなったので交換しました。"),
    "2024-03-12-fruit.md": ("林檎の季節", "青森から林檎が届きました。甘くておいしいです。"),
    "2024-04-13-search.md": ("検索のこつ", "検索するときは言葉を短くするのがこつです。"),
}


@pytest.fixture(scope="module")
def blog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("synonyms-blog")
    return root, build_blog(root, POSTS)


def ids(engine: SearchEngine, q: str) -> list[str]:
    return [h.id for h in engine.search(SearchRequest(q=q)).hits]


def test_parse_reads_equivalences_one_way_rules_and_comments():
    syn = Synonyms.parse(
        "# comment\n\nコンピューター, パソコン, PC\nググる => 検索  # trailing comment\n"
    )
    # Entries match in index form: long vowels folded, case lowered.
    assert "パソコン" in syn.for_text("コンピュータ")
    assert "コンピューター" in syn.for_text("ｐｃ")
    assert syn.for_text("ググる") == ["検索"]
    assert syn.for_text("検索") == []  # one-way
    assert len(syn) == 4


def test_equivalent_words_find_posts_that_use_only_the_other_form(blog, tmp_path):
    _, index_dir = blog
    path = tmp_path / "synonyms.txt"
    path.write_text("コンピューター, パソコン\nスマートフォン, スマホ\nりんご, 林檎\n", "utf-8")
    engine = SearchEngine(index_dir, synonyms=path)
    assert ids(engine, "コンピューター") == ["2024-01-10-pc.md"]
    assert ids(engine, "スマートフォン 電池") == ["2024-02-11-phone.md"]
    # りんご is folded to リンゴ, which the entry's りんご matches as well.
    assert ids(engine, "リンゴ") == ["2024-03-12-fruit.md"]


def test_without_a_synonyms_file_the_other_form_is_not_found(blog):
    _, index_dir = blog
    engine = SearchEngine(index_dir)
    assert ids(engine, "コンピューター") == []


def test_one_way_rule_replaces_the_query_word(blog, tmp_path):
    _, index_dir = blog
    path = tmp_path / "synonyms.txt"
    path.write_text("ググる => 検索\n", "utf-8")
    engine = SearchEngine(index_dir, synonyms=path)
    assert ids(engine, "ググる") == ["2024-04-13-search.md"]


def test_matches_through_a_synonym_are_highlighted(blog, tmp_path):
    _, index_dir = blog
    path = tmp_path / "synonyms.txt"
    path.write_text("コンピューター, パソコン\n", "utf-8")
    engine = SearchEngine(index_dir, synonyms=path)
    hit = engine.search(SearchRequest(q="コンピューター")).hits[0]
    assert "<mark>パソコン</mark>" in hit.snippet


def test_editing_the_file_takes_effect_without_a_restart(blog, tmp_path):
    _, index_dir = blog
    path = tmp_path / "synonyms.txt"
    path.write_text("", "utf-8")
    engine = SearchEngine(index_dir, synonyms=path)
    assert ids(engine, "コンピューター") == []
    path.write_text("コンピューター, パソコン\n", "utf-8")
    later = time.time() + 5
    os.utime(path, (later, later))  # a new mtime even on coarse clocks
    assert ids(engine, "コンピューター") == ["2024-01-10-pc.md"]
