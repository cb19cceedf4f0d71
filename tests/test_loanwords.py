"""Built-in loanwords: a katakana word also finds its English form, softly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import build_blog

from search.cli import main
from search.matching import LOANWORD_WEIGHT, compile_query
from search.query import SearchEngine, SearchRequest
from search.synonyms import loanwords

POSTS = {
    "2024-01-10-katakana.md": ("ソケットの基本", "ソケットを作って接続を待ちます。"),
    "2024-02-11-english.md": ("通信の基本", "socket を作ってから接続を待ちます。"),
    "2024-03-12-only-connect.md": ("回線の話", "光回線に接続しました。"),
    "2024-04-13-unrelated.md": ("林檎の季節", "青森から林檎が届きました。"),
}
KATAKANA, ENGLISH, ONLY_CONNECT, _ = POSTS


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blog(tmp_path_factory.mktemp("loanwords-blog"), POSTS)


def ids(engine: SearchEngine, q: str) -> list[str]:
    return [h.id for h in engine.search(SearchRequest(q=q)).hits]


def test_the_table_pairs_katakana_with_english_in_index_form():
    table = loanwords()
    assert "socket" in table.for_text("ソケット")
    assert "ソケット" in table.for_text("SOCKET")  # case folded like the index
    assert "user" in table.for_text("ユーザ")  # long vowels folded


def test_a_katakana_word_finds_a_post_that_writes_it_in_english_below_the_katakana_post(
    index_dir,
):
    assert ids(SearchEngine(index_dir), "ソケット") == [KATAKANA, ENGLISH]


def test_an_english_word_finds_the_katakana_form_below_the_english_post(index_dir):
    assert ids(SearchEngine(index_dir), "socket") == [ENGLISH, KATAKANA]


def test_without_loanwords_only_the_form_typed_is_found(index_dir):
    assert ids(SearchEngine(index_dir, use_loanwords=False), "ソケット") == [KATAKANA]


def test_a_loanword_counts_less_than_the_word_itself(index_dir):
    engine = SearchEngine(index_dir)
    ranked = ids(engine, "ソケット 接続")
    # The English form is the word (a post with only 接続 is not found),
    # but it ranks below the form typed.
    assert ranked == [KATAKANA, ENGLISH]
    result = engine.search(SearchRequest(q="ソケット 接続"))
    scores = {h.id: h.score for h in result.hits}
    assert scores[ENGLISH] < scores[KATAKANA]


def test_a_loanword_match_credits_the_post_with_part_of_the_word(index_dir):
    state = SearchEngine(index_dir)._current()
    ev = state.evaluator.evaluate(compile_query("ソケット 接続", loanwords=loanwords()))
    doc = state.table.docnum_by_id
    assert ev.units_matched[doc[KATAKANA]] == 2
    assert ev.units_matched[doc[ENGLISH]] == pytest.approx(1 + LOANWORD_WEIGHT)
    assert ev.units_matched[doc[ONLY_CONNECT]] == 1
    assert ev.all_words[doc[KATAKANA]] and not ev.all_words[doc[ENGLISH]]


def test_a_required_word_is_not_satisfied_by_its_loanword(index_dir):
    assert ids(SearchEngine(index_dir), "+ソケット 接続") == [KATAKANA]


def test_an_excluded_word_excludes_only_the_form_typed(index_dir):
    assert sorted(ids(SearchEngine(index_dir), "接続 -ソケット")) == [ENGLISH, ONLY_CONNECT]


def test_the_english_form_is_highlighted(index_dir):
    hits = SearchEngine(index_dir).search(SearchRequest(q="ソケット")).hits
    english = next(h for h in hits if h.id == ENGLISH)
    assert "<mark>socket</mark>" in english.snippet


def test_the_alternative_is_compiled_at_the_loanword_weight():
    comp = compile_query("ソケット", loanwords=loanwords())
    (unit,) = comp.positive
    weights = sorted(child.weight for child in unit.children)
    assert weights == [LOANWORD_WEIGHT, 1.0]
    assert compile_query("ソケット").positive[0].children == []


def test_cli_search_can_switch_loanwords_off(index_dir):
    def found(*flags: str) -> list[str]:
        args = ["search", "--index-dir", str(index_dir), "--json", *flags, "ソケット"]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return [hit["id"] for hit in json.loads(result.output)["hits"]]

    assert found() == [KATAKANA, ENGLISH]
    assert found("--no-loanwords") == [KATAKANA]


def test_web_config_can_switch_loanwords_off(index_dir):
    from web import create_app

    def found(**config) -> list[str]:
        app = create_app({"INDEX_DIR": str(index_dir), "RATE_LIMIT": "", **config})
        response = app.test_client().get("/api/search", query_string={"q": "ソケット"})
        assert response.status_code == 200
        return [hit["id"] for hit in response.get_json()["hits"]]

    assert found() == [KATAKANA, ENGLISH]
    assert found(LOANWORDS=False) == [KATAKANA]


@pytest.mark.parametrize(
    ("env", "args", "on"),
    [
        (None, [], True),
        ("0", [], False),
        ("0", ["--loanwords"], True),
        (None, ["--no-loanwords"], False),
    ],
)
def test_serve_leaves_loanwords_to_the_setting_unless_told(index_dir, monkeypatch, env, args, on):
    from flask import Flask

    apps: list[Flask] = []
    monkeypatch.setattr(Flask, "run", lambda self, **kwargs: apps.append(self))
    if env is not None:
        monkeypatch.setenv("BLOGSEARCH_LOANWORDS", env)
    result = CliRunner().invoke(main, ["serve", "--index-dir", str(index_dir), *args])
    assert result.exit_code == 0, result.output
    assert (apps[0].extensions["blogsearch"].loanwords is not None) is on
