"""Japanese search behaviour on the fixture blog, and the full shared corpus."""

from __future__ import annotations

import html

import pytest
from helpers import POSTS_DIR, marked, search, search_ids, stored_documents, unmarked

from search.posts import find_post_files

SHINKANSEN = "2024-03-01-tokaido-shinkansen.md"
SMARTPHONE = "2024-03-05-smartphone-app.md"
NEW_COMPUTER = "2024-04-01-new-computer.md"  # コンピューター
OLD_COMPUTER = "2024-04-02-old-computer.md"  # コンピュータ
HALFWIDTH = "2024-04-03-halfwidth-server.md"  # ｺﾝﾋﾟｭｰﾀｰ, ｻｰﾊﾞｰ
LLAMA = "2024-05-10-llama4-local.md"  # Ｌｌａｍａ４, ＧＰＵ
HTML_TITLE = "2024-06-01-html-title.md"
DRAFT = "2024-07-01-secret-draft.md"
VIOLIN = "2024-08-15-violin.md"  # ヴァイオリン
COMPUTERS = {NEW_COMPUTER, OLD_COMPUTER, HALFWIDTH}


def test_word_inside_compound_is_found(fixture_engine):
    assert search_ids(fixture_engine, "新幹線") == [SHINKANSEN]
    assert search_ids(fixture_engine, "東海道新幹線") == [SHINKANSEN]


def test_katakana_word_inside_compound_is_found(fixture_engine):
    assert search_ids(fixture_engine, "アプリケーション") == [SMARTPHONE]
    assert search_ids(fixture_engine, "スマートフォン") == [SMARTPHONE]


@pytest.mark.parametrize("query", ["ｺﾝﾋﾟｭｰﾀｰ", "コンピューター", "コンピュータ"])
def test_computer_spellings_find_each_others_posts(fixture_engine, query):
    assert set(search_ids(fixture_engine, query)) == COMPUTERS


@pytest.mark.parametrize("query", ["llama4", "Llama4", "LLAMA4", "Ｌｌａｍａ４"])
def test_full_width_title_is_found_by_ascii_query(fixture_engine, query):
    assert search_ids(fixture_engine, query) == [LLAMA]


def test_full_width_acronym_is_found_by_ascii_query(fixture_engine):
    assert search_ids(fixture_engine, "gpu") == [LLAMA]


@pytest.mark.parametrize("query", ["ヴァイオリン", "バイオリン"])
def test_vu_spelling_variants_find_each_other(fixture_engine, query):
    assert search_ids(fixture_engine, query) == [VIOLIN]


def test_tags_and_categories_are_searchable_words(fixture_engine):
    assert search_ids(fixture_engine, "鉄道") == [SHINKANSEN]  # a tag only
    assert search_ids(fixture_engine, "機械学習") == [LLAMA]  # a category only


def test_draft_is_never_found(fixture_engine):
    assert search_ids(fixture_engine, "ないしょばなし") == []
    assert DRAFT not in search_ids(fixture_engine, "下書き")


def test_particle_only_query_falls_back_to_characters(fixture_engine):
    # "の" has no content word; it is still searched as a character.
    assert SHINKANSEN in search_ids(fixture_engine, "の")


# --- highlighting --------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "post", "title_marks", "snippet_marks"),
    [
        ("サーバー", HALFWIDTH, ["ｻｰﾊﾞｰ"], ["ｻｰﾊﾞｰ"]),
        ("コンピューター", HALFWIDTH, ["ｺﾝﾋﾟｭｰﾀｰ"], ["ｺﾝﾋﾟｭｰﾀｰ"]),
        ("ｺﾝﾋﾟｭｰﾀｰ", NEW_COMPUTER, [], ["コンピューター"]),
        ("コンピューター", OLD_COMPUTER, [], ["コンピュータ"]),
        ("llama4", LLAMA, ["Ｌｌａｍａ４"], ["Ｌｌａｍａ４"]),
        ("gpu", LLAMA, [], ["ＧＰＵ"]),
        ("新幹線", SHINKANSEN, ["新幹線"], ["新幹線"]),
        ("バイオリン", VIOLIN, ["ヴァイオリン"], ["ヴァイオリン"]),
        ("アプリケーション", SMARTPHONE, ["アプリケーション"], ["アプリケーション"]),
    ],
)
def test_marks_cover_the_original_characters(
    fixture_engine, query, post, title_marks, snippet_marks
):
    hit = next(h for h in search(fixture_engine, query).hits if h.id == post)
    assert marked(hit.title_highlighted) == title_marks
    assert marked(hit.snippet) == snippet_marks


QUERIES = ["サーバー", "コンピュータ", "llama4", "新幹線", "京都", "タグ", "img", "スマホ"]


@pytest.mark.parametrize("query", QUERIES)
def test_highlighted_text_is_the_stored_text(fixture_index, fixture_engine, query):
    docs = stored_documents(fixture_index.index_dir)
    result = search(fixture_engine, query)
    assert result.hits
    for hit in result.hits:
        # Without its marks, the highlighted title is exactly the title, escaped.
        assert html.unescape(unmarked(hit.title_highlighted)) == hit.title
        body = docs[hit.id]["body"]
        for text in marked(hit.title_highlighted):
            assert text in hit.title
        for text in marked(hit.snippet):
            assert text in body, (hit.id, text)
        for piece in html.unescape(unmarked(hit.snippet)).strip("…").split(" … "):
            assert " ".join(piece.strip("…").split()) in " ".join(body.split()), piece


def test_html_in_title_is_escaped_in_highlighted_title(fixture_engine):
    for query in ["画像タグ", "img", "onerror", "alert"]:
        (hit,) = search(fixture_engine, query).hits
        assert hit.id == HTML_TITLE
        assert hit.title == "<img src=x onerror=alert(1)> 画像タグのテスト"
        plain = unmarked(hit.title_highlighted)
        assert "<" not in plain and ">" not in plain, hit.title_highlighted
        assert plain.startswith("&lt;img")
        assert html.unescape(plain) == hit.title


def test_only_mark_tags_are_markup_in_snippets(fixture_engine):
    for query in ["タグ", "新幹線", "llama4"]:
        for hit in search(fixture_engine, query).hits:
            for field in (hit.snippet, hit.title_highlighted):
                assert "<" not in unmarked(field)


# --- the full corpus ------------------------------------------------------------


@pytest.mark.corpus
def test_full_corpus_indexes_every_post(corpus_index):
    report = corpus_index.report
    assert report.documents == 1747
    assert report.skipped == []
    docs = stored_documents(corpus_index.index_dir)
    assert set(docs) == set(find_post_files(POSTS_DIR))


@pytest.mark.corpus
def test_full_corpus_titles_and_dates_are_sane(corpus_index):
    docs = stored_documents(corpus_index.index_dir)
    for doc_id, doc in docs.items():
        assert doc["title"].strip(), doc_id
        assert "\ufffd" not in doc["title"], doc_id
        # The file-name date is the day in the offset the post was written in
        # (+0900 or +0000); the stored date keeps that offset.
        assert doc["date_iso"][:10] == doc_id[:10], doc_id
        assert doc["date_iso"][-6:] in ("+09:00", "+00:00"), doc_id


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("pthread_key_create", "2015-01-20-pthread-key-create-3.md"),
        ("スレッド固有データ", "2015-01-20-pthread-key-create-3.md"),
    ],
)
def test_full_corpus_finds_the_man_page(corpus_engine, query, expected):
    ids = search_ids(corpus_engine, query, per_page=10)
    assert expected in ids, ids


@pytest.mark.corpus
@pytest.mark.parametrize(("query", "escaped"), [("nabetaro", "\\<nabetaro@"), ("kzak", "\\<kzak@")])
def test_full_corpus_escaped_angle_brackets_are_searchable(corpus_engine, query, escaped):
    # Posts credit translators as "\<nabetaro@debian.or.jp>": escaped text is
    # prose and must be indexed, not dropped as an HTML tag.
    files = [
        rel for rel in find_post_files(POSTS_DIR) if escaped in (POSTS_DIR / rel).read_text("utf-8")
    ]
    assert files
    found = set(search_ids(corpus_engine, query))
    assert set(files) <= found


def test_nfkc_query_normalization_matches_index(fixture_engine):
    # A query typed in half-width kana matches text stored in full width.
    assert search_ids(fixture_engine, "ｽﾏｰﾄﾌｫﾝ") == [SMARTPHONE]
