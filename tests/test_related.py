"""Related posts and tags that count: what a reader of the blog would open next."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.indexer import build_index
from search.query import SearchEngine, SearchRequest
from search.site import SiteConfig

POSTS = {
    "2024-03-01-tokaido.md": ("東海道新幹線で京都へ", "旅行", ["新幹線", "京都"],
                              "のぞみで京都まで二時間、車窓から富士山が見えた。"),
    "2024-03-02-rain.md": ("雨の日の過ごし方", "日記", ["雨"],
                           "雨の日は京都の喫茶店で本を読む。富士山の写真集を眺めた。"),
    "2024-03-03-kanazawa.md": ("金沢ひとり旅", "旅行", ["新幹線", "一人旅"],
                               "北陸新幹線で金沢へ。兼六園を歩いた。"),
    "2024-03-04-budget.md": ("家計簿をつける", "お金", ["家計"],
                             "旅行の費用も家計簿に記録する。"),
    "2024-03-05-diary.md": ("旅行の計画を立てた日", "日記", ["計画"],
                            "旅行に行きたい。旅行の本を三冊買った。旅行、旅行。"),
}
TOKAIDO, RAIN, KANAZAWA, BUDGET, DIARY = POSTS


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("related-blog")
    posts = root / "_posts"
    posts.mkdir()
    for name, (title, category, tags, body) in POSTS.items():
        (posts / name).write_text(
            f'---\ntitle: "{title}"\ndate: {name[:10]} 10:00:00 +0900\n'
            f"categories: [{category}]\ntags: [{', '.join(tags)}]\n---\n\n{body}\n",
            encoding="utf-8",
        )
    build_index(Path(posts), root / "index", SiteConfig(), full=True, workers=1)
    engine = SearchEngine(root / "index")
    yield engine
    engine.close()


def test_related_posts_put_the_post_sharing_tag_and_category_first(engine):
    related = [h.id for h in engine.related(TOKAIDO)]
    assert related[0] == KANAZAWA
    assert TOKAIDO not in related


def test_related_posts_of_an_unknown_post_raise_key_error(engine):
    with pytest.raises(KeyError):
        engine.related("no-such-post.md")


def test_a_query_that_names_a_category_ranks_its_posts_first(engine):
    ids = [h.id for h in engine.search(SearchRequest(q="旅行")).hits]
    # The diary post says 旅行 five times; the category's posts still come first.
    assert set(ids[:2]) == {TOKAIDO, KANAZAWA}
    assert DIARY in ids


def test_a_query_that_names_a_tag_ranks_its_posts_first(engine):
    ids = [h.id for h in engine.search(SearchRequest(q="新幹線")).hits]
    assert set(ids[:2]) == {TOKAIDO, KANAZAWA}
