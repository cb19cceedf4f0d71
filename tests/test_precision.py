"""Every hit earns its place: a word matches only as itself, a search for
what the blog never wrote about finds nothing, and a partial match says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import build_blog, marked, search

from search.query import SearchEngine
from web import create_app

POSTS = {
    # The bigrams of ドローン (ドロ, ロー, ーン) and of ロケール, but never the words.
    "2024-01-01-scattered.md": (
        "泥だらけの休日",
        "ドロップ缶を買った。ローカル線に乗った。デザインのパターンを眺めた。スケールの大きな話。",
    ),
    "2024-01-02-locale.md": ("ロケールの設定", "ロケールを ja_JP.UTF-8 にする。"),
    "2024-01-03-wireless.md": ("充電の話", "今回はワイヤレス充電を試した。あてにすべきではない。"),
    "2024-01-04-stocks.md": ("株式と投資の話", "株式の話をした。別の日に投資の話もした。"),
    "2024-01-05-stock-investing.md": ("株式投資の始め方", "株式投資は少額から始めた。"),
    "2024-01-06-shinkansen.md": ("東海道新幹線で京都へ", "東海道新幹線の指定席を予約した。"),
    "2024-01-07-spreadsheet.md": ("表計算で家計簿", "表計算ソフトで家計簿をつける。"),
    "2024-01-08-computer.md": ("新しいパソコン", "パソコンを買い替えた。計算機としては十分。"),
    "2024-01-09-curry.md": ("カレーの作り方", "カレーを煮込む。ソースとルーを混ぜる。"),
    "2024-01-10-proviso.md": ("注意書き", "ただし、例外もある。"),
}
SCATTERED, LOCALE, WIRELESS, STOCKS, STOCK_INVESTING, SHINKANSEN, SPREADSHEET = list(POSTS)[:7]
COMPUTER, CURRY, PROVISO = list(POSTS)[7:]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blog(tmp_path_factory.mktemp("precision-blog"), POSTS)


@pytest.fixture(scope="module")
def engine(index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SearchEngine:
    synonyms = tmp_path_factory.mktemp("synonyms") / "synonyms.txt"
    synonyms.write_text("コンピューター, パソコン, 計算機\n", encoding="utf-8")
    return SearchEngine(index_dir, synonyms=synonyms)


def found(engine: SearchEngine, q: str) -> list[str]:
    return [h.id for h in search(engine, q).hits]


def test_bigrams_scattered_over_a_post_are_not_the_word(engine):
    result = search(engine, "ドローン")
    assert result.total == 0 and result.relaxed is False


def test_a_katakana_word_janome_splits_matches_only_where_it_stands(engine):
    assert found(engine, "ロケール") == [LOCALE]


def test_a_katakana_word_is_not_found_across_a_particle(engine):
    # ハワイ is in "今回はワイヤレス" only if は (a particle) counts as ハ.
    assert found(engine, "ハワイ") == []
    # テニス is in "あてにすべき" only if hiragana is read as katakana.
    assert found(engine, "テニス") == []


def test_a_short_hiragana_word_is_not_found_inside_another_word(engine):
    assert PROVISO not in found(engine, "だし")


def test_a_compound_typed_alone_must_stand_together(engine):
    assert found(engine, "株式投資") == [STOCK_INVESTING]
    # Spaced, the words may stand apart.
    assert set(found(engine, "株式 投資")) == {STOCKS, STOCK_INVESTING}


def test_a_word_inside_a_compound_is_found(engine):
    assert found(engine, "新幹線") == [SHINKANSEN]


@pytest.mark.parametrize("q", ['"東海道 新幹線"', "「東海道 新幹線」", "東海道新幹線"])
def test_a_phrase_matches_across_a_compound_janome_keeps_whole(engine, q):
    assert found(engine, q) == [SHINKANSEN]


def test_a_synonym_of_several_words_stands_together(engine):
    # 計算機 (計算 + 機) must not find 表計算.
    hits = found(engine, "パソコン")
    assert COMPUTER in hits and SPREADSHEET not in hits


def test_kana_variants_of_a_word_match(engine):
    result = search(engine, "かれー")
    assert [h.id for h in result.hits] == [CURRY]
    assert set(marked(result.hits[0].snippet)) == {"カレー"}


def test_marks_only_what_matched(engine):
    hits = search(engine, "ロケール").hits
    assert {m for h in hits for m in marked(h.snippet) + marked(h.title_highlighted)} == {
        "ロケール"
    }


def test_a_word_no_post_has_is_named_and_the_rest_is_relaxed(engine):
    result = search(engine, "カレー ドローン")
    assert [h.id for h in result.hits] == [CURRY]
    assert result.relaxed is True
    assert result.unmatched_words == ["ドローン"]
    assert result.matched_words == ["カレー"]


def test_no_word_matching_anything_is_no_hits(engine):
    result = search(engine, "ドローン ハワイ")
    assert result.total == 0 and result.hits == []
    assert result.relaxed is False
    assert result.unmatched_words == ["ドローン", "ハワイ"]


def test_facets_count_the_relaxed_set_that_is_shown(engine):
    result = search(engine, "カレー ドローン")
    assert sum(result.facets["year"].values()) == result.total == 1


@pytest.fixture(scope="module")
def client(index_dir: Path):
    app = create_app({"INDEX_DIR": str(index_dir), "RATE_LIMIT": ""})
    return app.test_client()


def test_api_names_the_words_that_matched_and_those_that_did_not(client):
    body = client.get("/api/search", query_string={"q": "カレー ドローン"}).get_json()
    assert body["relaxed"] is True
    assert body["unmatchedWords"] == ["ドローン"]
    assert body["matchedWords"] == ["カレー"]


def test_search_page_says_no_post_matches(client):
    page = client.get("/search", query_string={"q": "ドローン"}).get_data(as_text=True)
    assert "「ドローン」に一致する記事はありません。" in page


def test_search_page_says_which_word_matched_nothing(client):
    page = client.get("/search", query_string={"q": "カレー ドローン"}).get_data(as_text=True)
    assert "「ドローン」を含む記事はありません。「カレー」に一致する記事を表示しています。" in page


@pytest.fixture(scope="module")
def large_blog(tmp_path_factory: pytest.TempPathFactory) -> SearchEngine:
    """61 posts: enough for a word in one post to be rare (RARE_SHARE)."""
    common = "ファイルを操作して結果を表示した。"
    posts = {f"2023-01-{i % 28 + 1:02d}-common-{i}.md": (f"日記 {i}", common) for i in range(59)}
    posts["2024-02-01-rare.md"] = ("骨董市", "珍品と逸品を見つけた。")
    posts["2024-03-01-half.md"] = ("メモ", "ファイルを表示した。")
    return SearchEngine(build_blog(tmp_path_factory.mktemp("large-blog"), posts))


def test_a_longer_query_needs_two_thirds_of_its_words(large_blog):
    # Five common words, three needed: the half post has two of them.
    result = search(large_blog, "ファイル 操作 表示 結果 日記")
    assert result.total == 59 and "2024-03-01-half.md" not in [h.id for h in result.hits]


def test_a_post_with_the_rare_words_of_a_description_is_found(large_blog):
    # Five words, three needed; the rare post has only 珍品 and 逸品, but
    # those are the query's rare words, and it has both.
    result = search(large_blog, "ファイル 操作 表示 珍品 逸品")
    assert [h.id for h in result.hits][0] == "2024-02-01-rare.md"
    assert result.relaxed is False


def test_latin_and_japanese_typed_together_are_one_word(tmp_path):
    index = build_blog(tmp_path, {
        "2024-05-01-genai.md": ("生成AIの話", "生成AIで文章を書く。"),
        "2024-05-02-apart.md": ("画像の話", "画像を生成した。AIの話は別の日に。"),
        "2024-05-03-spaced.md": ("メモ", "生成 AI という書き方もある。"),
    })  # fmt: skip
    engine = SearchEngine(index)
    assert set(found(engine, "生成AI")) == {"2024-05-01-genai.md", "2024-05-03-spaced.md"}
    assert len(found(engine, "生成 AI")) == 3
