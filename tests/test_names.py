"""Names across scripts: a katakana query finds the post that writes the name
in Latin letters and the reverse, learned from the blog at index time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import build_blog

from search.cli import main
from search.indexer import build_index
from search.names import (
    NAMES_FILE,
    NameTable,
    agrees,
    glosses_in,
    kana_consonants,
    latin_consonants,
    reading_key,
)
from search.query import SearchEngine, SearchRequest
from search.site import SiteConfig

POSTS = {
    "2024-01-10-latin.md": ("NVIDIA の決算を読む", "NVIDIA の決算はデータセンター向けが伸びた。"),
    "2024-02-11-katakana.md": ("エヌビディアの半導体", "エヌビディアの新しい半導体が出荷された。"),
    "2024-03-12-zuck.md": ("メタの賭け", "ザッカーバーグは超知能に巨額を投じると語った。"),
    "2024-04-13-gloss.md": (
        "安全性の研究", "アンソロピック（Anthropic）は解釈可能性の研究を公開した。"
    ),
    "2024-05-14-unrelated.md": ("林檎の季節", "青森から林檎が届きました。"),
    "2024-06-15-tools.md": ("学習の準備", "Qdrant と Hugging Face のライブラリを入れる。"),
}
LATIN, KATAKANA, ZUCK, GLOSS, UNRELATED, TOOLS = POSTS


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blog(tmp_path_factory.mktemp("names-blog"), POSTS)


@pytest.fixture(scope="module")
def engine(index_dir: Path):
    engine = SearchEngine(index_dir)
    yield engine
    engine.close()


def ids(engine: SearchEngine, q: str) -> list[str]:
    return [h.id for h in engine.search(SearchRequest(q=q)).hits]


def test_reading_keys_ignore_long_vowels_small_kana_and_dots():
    assert reading_key("サム・アルトマン") == reading_key("サムアルトマン")
    assert reading_key("ヴィジョン") == reading_key("ビジョン")
    assert reading_key("コンピューター") == reading_key("コンピュータ")
    assert reading_key("グーグル") != reading_key("ゴーグル")


def test_near_readings_of_long_names_agree_and_short_words_must_match_exactly():
    assert agrees("ザッカーバーグ", "ズッカーバーグ")
    assert agrees("エヌビディア", "エヌビディヤ")
    assert not agrees("ビジョン", "バージョン")  # two different words
    assert not agrees("ラマ", "ママ")


def test_consonant_skeletons_compare_katakana_with_latin_letters():
    assert kana_consonants("ルカン") == latin_consonants("lecun")
    assert kana_consonants("クドラント") == latin_consonants("qdrant")
    assert kana_consonants("パイトーチ") == latin_consonants("pytorch")
    assert kana_consonants("ジェマ") != latin_consonants("java")


def test_a_gloss_counts_only_when_its_reading_agrees():
    assert glosses_in("アンソロピック（Anthropic）が発表した") == [("anthropic", "アンソロピック")]
    assert glosses_in("広帯域メモリ（HBM）を積む") == []


def test_the_table_pairs_both_directions_and_nothing_unrelated():
    table = NameTable(
        readings={"nvidia": "エヌビディア", "google": "グーグル", "apple": "アップル"},
        katakana=["エヌビディア", "グーグル", "ゴーグル", "リンゴ"],
    )
    assert table.other_spellings("エヌビディア") == ["nvidia"]
    assert table.other_spellings("nvidia") == ["エヌビディア"]
    assert table.other_spellings("google") == ["グーグル"]
    assert table.other_spellings("リンゴ") == []
    assert table.other_spellings("apple") == []  # no katakana spelling in this blog


def test_a_typed_katakana_word_does_not_meet_a_name_one_kana_away():
    table = NameTable(readings={"local": "ローカル", "lecun": "レカン"}, katakana=[])
    assert table.other_spellings("ロケール") == []  # locale is not local
    assert table.other_spellings("ルカン") == []  # nor one kana changed when typed


def test_a_katakana_compound_of_two_names_is_searched_as_the_latin_words():
    table = NameTable(readings={"hugging": "ハギング", "face": "フェイス"}, katakana=[])
    assert "hugging face" in table.other_spellings("ハギングフェイス")


def test_the_owner_can_forbid_a_pair():
    table = NameTable(readings={"sora": "ソラ"}, katakana=["ソラ"])
    assert table.expand(("ソラ",)) == ["sora"]
    assert table.forbidding(frozenset([frozenset(("ソラ", "sora"))])).expand(("ソラ",)) == []


def test_katakana_query_finds_the_post_that_writes_the_name_in_latin(engine):
    found = ids(engine, "エヌビディア")
    assert found[0] == KATAKANA  # the typed spelling ranks first
    assert LATIN in found
    assert UNRELATED not in found


def test_latin_query_finds_the_post_that_writes_the_name_in_katakana(engine):
    assert ids(engine, "Zuckerberg") == [ZUCK]
    assert KATAKANA in ids(engine, "NVIDIA")


def test_a_name_and_a_word_find_the_post_with_both_across_scripts(engine):
    assert ids(engine, "エヌビディア 決算")[0] == LATIN
    assert ids(engine, "Anthropic 解釈可能性") == [GLOSS]


def test_a_katakana_name_absent_from_the_blog_finds_its_latin_spelling(engine):
    # クドラント is nowhere in the blog; Qdrant is.
    assert ids(engine, "クドラント") == [TOOLS]
    assert ids(engine, "ハギングフェイス") == [TOOLS]


def test_a_topic_the_blog_never_covered_still_finds_nothing(engine):
    for q in ("ドローン", "スターバックス", "ハリーポッター"):
        assert ids(engine, q) == [], q


def test_a_forbidden_pair_in_the_synonyms_file_is_not_searched(index_dir, tmp_path):
    synonyms = tmp_path / "synonyms.txt"
    synonyms.write_text("!エヌビディア, NVIDIA\n", encoding="utf-8")
    engine = SearchEngine(index_dir, synonyms=synonyms)
    try:
        assert ids(engine, "エヌビディア") == [KATAKANA]
    finally:
        engine.close()


def test_readings_are_kept_across_incremental_builds(tmp_path):
    posts = tmp_path / "_posts"
    posts.mkdir()
    (posts / "2024-01-01-a.md").write_text("---\ntitle: A\n---\nGoogle の話。\n", "utf-8")
    build_index(posts, tmp_path / "index", SiteConfig(), workers=1)
    from search.store import IndexStore

    first = json.loads((IndexStore(tmp_path / "index").current().path / NAMES_FILE).read_text())
    assert first["readings"]["google"] == "グーグル"
    # A reading already computed is reused, not computed again: plant a
    # marker and see it survive the next build.
    first["readings"]["google"] = "グーグルX"
    version = IndexStore(tmp_path / "index").current().path
    (version / NAMES_FILE).write_text(json.dumps(first, ensure_ascii=False), "utf-8")
    (posts / "2024-01-02-b.md").write_text("---\ntitle: B\n---\nApple の話。\n", "utf-8")
    build_index(posts, tmp_path / "index", SiteConfig(), workers=1)
    second = json.loads((IndexStore(tmp_path / "index").current().path / NAMES_FILE).read_text())
    assert second["readings"]["google"] == "グーグルX"
    assert second["readings"]["apple"] == "アップル"


def test_a_damaged_names_file_is_logged_and_search_goes_on(index_dir, tmp_path, caplog):
    import shutil

    from search.store import IndexStore

    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, symlinks=True)
    (IndexStore(copy).current().path / NAMES_FILE).write_text("{not json", "utf-8")
    engine = SearchEngine(copy)
    try:
        assert ids(engine, "エヌビディア") == [KATAKANA]
    finally:
        engine.close()
    assert NAMES_FILE in caplog.text


def test_stats_names_lists_the_learned_pairs_with_their_source(index_dir):
    result = CliRunner().invoke(main, ["stats", "--names", "--json", "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    pairs = {(p["latin"], p["katakana"]): p for p in json.loads(result.output)["names"]}
    assert pairs[("anthropic", "アンソロピック")]["source"] == "gloss"
    assert pairs[("nvidia", "エヌビディア")]["source"] == "transliteration"
    assert pairs[("nvidia", "エヌビディア")]["latinPosts"] == 1
    assert pairs[("nvidia", "エヌビディア")]["katakanaPosts"] == 1


def test_a_word_found_only_as_another_spelling_is_flagged_not_confident(engine):
    result = engine.search(SearchRequest(q="クドラント"))
    assert [h.id for h in result.hits] == [TOOLS]
    assert result.respelled_words == {"クドラント": ["qdrant"]}
    assert result.to_dict()["respelledWords"] == [{"word": "クドラント", "as": ["qdrant"]}]
    # A spelling the blog itself uses is a confident match.
    assert engine.search(SearchRequest(q="エヌビディア")).respelled_words == {}


def test_suggestions_complete_a_name_in_the_other_script(engine):
    titles = [s.text for s in engine.suggest("エヌビ")]
    assert "NVIDIA の決算を読む" in titles
    assert "エヌビディアの半導体" in titles


def test_the_search_page_and_the_api_say_a_word_was_found_in_the_other_script(index_dir):
    from web import create_app

    app = create_app({"INDEX_DIR": str(index_dir), "CORS_ORIGINS": [], "RATE_LIMIT": ""})
    client = app.test_client()
    page = client.get("/search?q=クドラント").get_data(as_text=True)
    notice = "「クドラント」と書かれた記事はないため、別の表記（qdrant）の記事を表示しています。"
    assert notice in page
    api = client.get("/api/search?q=クドラント").get_json()
    assert api["respelledWords"] == [{"word": "クドラント", "as": ["qdrant"]}]
    plain = client.get("/search?q=エヌビディア").get_data(as_text=True)
    assert "別の表記" not in plain
