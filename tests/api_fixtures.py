"""A tiny Japanese blog, its index, and the engine/app/client over it.

Loaded as a pytest plugin (``pytest_plugins = ["api_fixtures"]``) by
test_api.py, test_query_engine.py and test_gunicorn.py. Fixture names start
with ``api_`` so they never shadow (or are shadowed by) conftest.py's.

The corpus is built for the assertions: every post exists for a reason
noted next to it.

The test modules import helpers from here before pytest loads it as a
plugin, so assertion rewriting is off for it (PYTEST_DONT_REWRITE); its
asserts carry their own messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from search.indexer import build_index
from search.query import SearchEngine
from search.site import SiteConfig

# --- the posts ------------------------------------------------------------------

KYOTO_TRIP = "2022-03-15-kyoto-shinkansen.md"
KYOTO_WALK = "2022-05-02-kyoto-walk.md"
SAPPORO_RAMEN = "2022-08-20-sapporo-ramen.md"
TOKYO_RAMEN = "2022-11-05-tokyo-ramen.md"
PYTHON_INTRO = "2023-01-10-python-intro.md"
TWIN_OLD = "2023-03-03-twin.md"
PYTHON_WEB = "2023-04-01-python-web.md"
NEW_YEAR = "2023-12-31-toshikoshi-soba.md"
XSS = "2024-02-14-html-title.md"
TWIN_NEW = "2024-03-03-twin.md"
LATE_NIGHT = "2024-06-30-late-night.md"
KYOTO_AUTUMN = "2024-09-10-kyoto-autumn.md"
ONSEN = "2024-10-01-onsen-long.md"

XSS_TITLE = "<img src=x onerror=alert(1)>"

_TWIN_BODY = "ハリネズミを飼い始めました。ハリネズミは夜行性です。"

# Long: the snippet for 温泉 has to choose fragments and stay short.
_FILLER = "今日は天気がよかったので、近所の川沿いをゆっくり歩いてから帰りました。"
_ONSEN_BODY = "\n\n".join(
    [_FILLER * 4 + "箱根の温泉に入りました。" + _FILLER * 3 for _ in range(6)]
)

POSTS: dict[str, tuple[str, str]] = {
    # 京都タワー contiguous (phrase 「京都タワー」); the long unspaced query.
    KYOTO_TRIP: (
        """title: "東海道新幹線で京都へ"
date: 2022-03-15 10:00:00 +0900
categories: [旅行]
tags: [旅行, 鉄道]
author: 山田花子""",
        "東海道新幹線に乗って京都へ行きました。安い方法は早めに予約することです。\n\n"
        "駅を出ると京都タワーが見えました。",
    ),
    # 京都 and タワー apart; 紅葉 (for -紅葉).
    KYOTO_WALK: (
        """title: "京都の散歩"
date: 2022-05-02 09:00:00 +0900
categories: [旅行]
tags: [旅行, 散歩]""",
        "京都駅の近くを朝から歩きました。遠くに白いタワーが見えました。秋の紅葉もきれいでした。",
    ),
    # ラーメン and 札幌.
    SAPPORO_RAMEN: (
        """title: "札幌で味噌ラーメン"
date: 2022-08-20 12:00:00 +0900
categories: [グルメ]
tags: [グルメ, ラーメン]""",
        "札幌の味噌ラーメンを三軒食べ歩きました。バターとコーンがのった一杯が好みです。",
    ),
    # ラーメン without 札幌; 京都 in the body only (title:京都 must skip it).
    TOKYO_RAMEN: (
        """title: "東京の醤油ラーメン"
date: 2022-11-05 19:00:00 +0900
categories: [グルメ]
tags: [グルメ, ラーメン]""",
        "京都出身の店主が東京で開いた醤油ラーメンの店に行きました。",
    ),
    # "machine learning" as a phrase; python for did-you-mean.
    PYTHON_INTRO: (
        """title: "Python入門"
date: 2023-01-10 08:00:00 +0900
categories: [技術]
tags: [Python, プログラミング]""",
        "Pythonでmachine learningを始めましょう。まずはpandasの使い方から。",
    ),
    # Identical to TWIN_NEW but older: relevance ties go to the newer one.
    TWIN_OLD: (
        """title: "ハリネズミの記録"
date: 2023-03-03 12:00:00 +0900
categories: [日記]
tags: [動物]""",
        _TWIN_BODY,
    ),
    # "learning machine": both words, not the phrase. Full-width ＰＹＴＨＯＮ.
    PYTHON_WEB: (
        """title: "PythonでWebアプリ"
date: 2023-04-01 08:00:00 +0900
categories: [技術]
tags: [Python, Web]""",
        "ＰＹＴＨＯＮとFlaskでWebアプリを作ります。learning machineという言葉は逆順です。",
    ),
    # 2023-12-31 15:00 UTC is 2024-01-01 00:00 in Tokyo.
    NEW_YEAR: (
        """title: "年越しそば"
date: 2023-12-31 15:00:00 +0000
categories: [日記]
tags: [日記, グルメ]""",
        "年が明けてすぐに年越しそばを食べました。",
    ),
    # The title is HTML; the body has characters to escape.
    XSS: (
        f"""title: "{XSS_TITLE}"
date: 2024-02-14 10:00:00 +0900
categories: [技術]
tags: [セキュリティ]""",
        "比較演算子の説明です。 a < b && c > d のように書きます。",
    ),
    TWIN_NEW: (
        """title: "ハリネズミの記録"
date: 2024-03-03 12:00:00 +0900
categories: [日記]
tags: [動物]""",
        _TWIN_BODY,
    ),
    # 2024-06-30 23:30 UTC is 2024-07-01 08:30 in Tokyo.
    LATE_NIGHT: (
        """title: "深夜の投稿"
date: 2024-06-30 23:30:00 +0000
categories: [日記]
tags: [日記]""",
        "夜更かしをして日記を書きました。",
    ),
    # 京都 and 抹茶 together (soft AND); 紅葉.
    KYOTO_AUTUMN: (
        """title: "京都の紅葉と抹茶"
date: 2024-09-10 20:00:00 +0900
categories: [旅行]
tags: [旅行, グルメ]""",
        "京都で紅葉狩りをしたあと、抹茶パフェを食べました。",
    ),
    ONSEN: (
        """title: "川沿いの散歩と温泉"
date: 2024-10-01 18:00:00 +0900
categories: [旅行]
tags: [散歩]""",
        _ONSEN_BODY,
    ),
}

ALL_IDS = frozenset(POSTS)
NEW_POST = "2024-11-11-new-post.md"
NEW_POST_TEXT = (
    '---\ntitle: "新しいカピバラの記事"\ndate: 2024-11-11 10:00:00 +0900\n'
    "tags: [動物]\ncategories: [日記]\n---\n\nカピバラが温泉に入っていました。\n"
)


def write_posts(posts_dir: Path) -> Path:
    posts_dir.mkdir(parents=True, exist_ok=True)
    for name, (front, body) in POSTS.items():
        (posts_dir / name).write_text(f"---\n{front}\n---\n\n{body}\n", encoding="utf-8")
    return posts_dir


def add_new_post(posts_dir: Path) -> None:
    (posts_dir / NEW_POST).write_text(NEW_POST_TEXT, encoding="utf-8")


def index_posts(posts_dir: Path, index_dir: Path):
    return build_index(posts_dir, index_dir, SiteConfig(), workers=1)


# --- helpers ---------------------------------------------------------------------


def ids(hits) -> list[str]:
    """Ids of hits, whether Hit objects or JSON dicts."""
    return [h["id"] if isinstance(h, dict) else h.id for h in hits]


def instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


class MarkupCheck(HTMLParser):
    """Collects the tags of an HTML fragment and the text inside each <mark>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.marked: list[str] = []
        self.text: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "mark":
            self._depth += 1
            self.marked.append("")

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        self.tags.append("/" + tag)
        if tag == "mark":
            self._depth -= 1

    def handle_data(self, data):
        self.text.append(data)
        if self._depth:
            self.marked[-1] += data

    def handle_comment(self, data):
        self.tags.append("!--")

    def handle_decl(self, decl):
        self.tags.append("!" + decl)

    def handle_pi(self, data):
        self.tags.append("?")


def parse_markup(fragment: str) -> MarkupCheck:
    parser = MarkupCheck()
    parser.feed(fragment)
    parser.close()
    return parser


def assert_only_marks(fragment: str) -> MarkupCheck:
    """*fragment* is escaped text in which <mark> is the only (balanced) markup."""
    parsed = parse_markup(fragment)
    assert set(parsed.tags) <= {"mark", "/mark"}, (fragment, parsed.tags)
    assert parsed.tags.count("mark") == parsed.tags.count("/mark"), fragment
    assert "<mark>" in fragment or "mark" not in parsed.tags
    # Everything that is not a <mark> tag is escaped: no raw < or > left over.
    stripped = fragment.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped, fragment
    return parsed


# --- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="session")
def api_blog(tmp_path_factory) -> tuple[Path, Path]:
    """(posts_dir, index_dir) of the shared, read-only test blog."""
    root = tmp_path_factory.mktemp("api_blog")
    posts = write_posts(root / "_posts")
    index_dir = root / "index"
    report = index_posts(posts, index_dir)
    assert report.documents == len(POSTS), [str(p) for p in report.problems]
    return posts, index_dir


@pytest.fixture(scope="session")
def api_index_dir(api_blog) -> Path:
    return api_blog[1]


@pytest.fixture(scope="session")
def api_engine(api_index_dir) -> Iterator[SearchEngine]:
    engine = SearchEngine(api_index_dir)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def api_app(api_index_dir):
    from web import create_app

    app = create_app({"INDEX_DIR": str(api_index_dir), "CORS_ORIGINS": [], "RATE_LIMIT": ""})
    app.config["TESTING"] = True
    yield app
    app.extensions["blogsearch"].close()


@pytest.fixture
def api_client(api_app):
    return api_app.test_client()


@pytest.fixture
def api_fresh_blog(tmp_path) -> tuple[Path, Path]:
    """A private copy of the blog (posts and index) that a test may change."""
    posts = write_posts(tmp_path / "_posts")
    index_dir = tmp_path / "index"
    index_posts(posts, index_dir)
    return posts, index_dir


@pytest.fixture
def api_clean_env(monkeypatch):
    """No BLOGSEARCH_* settings leak in from the environment."""
    import os

    for key in list(os.environ):
        if key.startswith("BLOGSEARCH_"):
            monkeypatch.delenv(key)
    return monkeypatch
