"""Anchor words: what other posts say next to a mention of a post."""

from __future__ import annotations

import logging
import pickle
import time

import pytest

from search.analysis import word_terms
from search.anchors import (
    ANCHORS_FILE,
    collect_anchors,
    decode_mentions,
    decode_page_names,
    encode_mentions,
    encode_page_names,
    mentions_of,
    title_names,
)
from search.indexer import build_index
from search.query import SearchEngine, SearchRequest
from search.site import SiteConfig


def _mentions(body: str):
    return mentions_of(body, word_terms(body))


def test_a_mention_brings_the_words_around_it():
    got = _mentions("プロセスは getpid(2) を使って自分の PID を取得できる。")
    assert got == [("getpid", "2", ["プロセス", "使ウ", "自分", "pid", "取得"])]


def test_lists_of_pages_and_bare_references_bring_nothing():
    assert _mentions("関連項目: stat(2), lstat(2), fstat(2)") == []
    assert _mentions("参照: stat(2)") == []  # too few Japanese characters to say anything
    assert _mentions("no mention here。") == []


def test_the_words_stay_in_the_sentence_and_the_window():
    body = "前の文の単語。" + "あ" * 60 + "ls(1) でファイルを一覧する。次の文の単語"
    ((name, section, words),) = _mentions(body)
    assert (name, section) == ("ls", "1")
    assert "ファイル" in words and "一覧" in words
    assert "単語" not in words


def test_title_names():
    assert title_names("stat, fstat, lstat(2) — システムコール") == (
        ["stat", "fstat", "lstat"],
        "2",
    )
    assert title_names("GIMP のツール") is None


def test_collect_anchors_resolves_names_and_ignores_self_mentions():
    docs = [
        (0, "getpid, getppid(2) — システムコール", [("getpid", "2", ["自己言及"])]),
        (1, "credentials(7) — 概要", [("getpid", "2", ["プロセス", "取得"])]),
        (2, "ps(1) — ユーザーコマンド", [("getppid", "2", ["取得"]), ("nosuch", "3", ["無"])]),
    ]
    anchors = collect_anchors([(d, title_names(t), m) for d, t, m in docs], size=3)
    docs_of = {w: list(d) for w, (d, _) in anchors.postings.items()}
    assert docs_of == {"プロセス": [0], "取得": [0]}
    assert dict(zip(*anchors.postings["取得"], strict=True)) == {0: 2.0}
    assert list(anchors.lengths) == [3.0, 0.0, 0.0]


def test_pathological_bodies_are_fast():
    for body in ("a" * 100_000 + "(", "x(1) の説明です。" * 5_000, "a." * 50_000 + "(1)"):
        started = time.perf_counter()
        _mentions(body)
        assert time.perf_counter() - started < 2.0


def test_mentions_survive_the_stored_form():
    mentions = _mentions(
        "プロセスは getpid(2) を使って自分の PID を取得できる。"
        "rpc.nfsd(8) は NFS サーバーのデーモンです"
    )
    assert len(mentions) == 2
    assert decode_mentions(encode_mentions(mentions)) == mentions
    assert decode_mentions(b"") == []


def test_page_names_survive_the_column_form():
    for title in ("stat, fstat, lstat(2) — システムコール", "GIMP のツール", "a b(1)"):
        assert decode_page_names(encode_page_names(title)) == title_names(title)


def test_a_build_resolves_mentions_into_the_anchor_words_of_the_page(tmp_path):
    posts = tmp_path / "_posts"
    posts.mkdir()
    pages = {
        "2024-01-01-getpid-2.md": ("getpid, getppid(2) — システムコール", "識別子を返す。"),
        "2024-01-02-credentials-7.md": (
            "credentials(7) — 概要",
            "プロセスは getpid(2) を使って自分の番号を取得できる。",
        ),
    }
    for name, (title, body) in pages.items():
        (posts / name).write_text(f"---\ntitle: '{title}'\n---\n{body}\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    build_index(posts, index_dir, SiteConfig(), workers=1)
    engine = SearchEngine(index_dir)
    try:
        table = engine._current().table
        getpid = table.docnum_by_id["2024-01-01-getpid-2.md"]
        for word in ("プロセス", "番号", "取得"):
            assert table.anchor_postings(word).docs.tolist() == [getpid], word
        assert not table.anchor_postings("識別子").df  # the page's own words are not anchors
    finally:
        engine.close()


@pytest.mark.parametrize("damage", [b"", b"not a pickle", pickle.dumps({"lengths": [1]})])
def test_a_damaged_anchors_file_is_logged_and_search_goes_on_without_it(tmp_path, caplog, damage):
    posts = tmp_path / "_posts"
    posts.mkdir()
    (posts / "2024-01-01-getpid-2.md").write_text(
        "---\ntitle: 'getpid(2) — システムコール'\n---\nプロセスの番号を返す。\n", encoding="utf-8"
    )
    index_dir = tmp_path / "index"
    build_index(posts, index_dir, SiteConfig(), workers=1)
    (version,) = (index_dir / "versions").iterdir()
    (version / ANCHORS_FILE).write_bytes(damage)
    engine = SearchEngine(index_dir)
    try:
        with caplog.at_level(logging.WARNING, logger="search.anchors"):
            hits = engine.search(SearchRequest(q="番号")).hits
        assert [h.id for h in hits] == ["2024-01-01-getpid-2.md"]
        assert engine._current().table.anchors is None
        assert str(version / ANCHORS_FILE) in caplog.text
    finally:
        engine.close()
