"""Shared pieces of the reliability tests (fuzzing, crashes, security).

Loaded as a pytest plugin (``pytest_plugins = ["reliability_fixtures"]``) by
test_fuzz_posts.py, test_fuzz_api.py, test_crashes.py and test_security.py.
Fixture names start with ``rel_`` so they never clash with conftest.py's or
api_fixtures.py's.

Besides fixtures it keeps a small report: how many examples each
property-based test generated and how long the pathological queries took.
It is printed at the end of the run (``reliability report``), so the numbers
are visible even with ``pytest -q``.

The test modules import helpers from here before pytest loads it as a
plugin, so assertion rewriting is off for it (PYTEST_DONT_REWRITE).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.indexer import IndexReport, build_index
from search.query import SearchEngine, SearchRequest
from search.site import SiteConfig

# Hypothesis settings shared by every property-based test: reproducible in CI
# (derandomize: the examples depend only on the test, no example database),
# no per-example deadline (the first Janome call loads a dictionary).
HYPOTHESIS_COMMON = {"derandomize": True, "deadline": None, "database": None}

# --- a small blog whose words are known ---------------------------------------

KYOTO = "2024-01-10-kyoto.md"
RAMEN = "2024-02-20-ramen.md"
PYTHON = "2024-03-30-python.md"
XSS = "2024-04-01-xss.md"
NEW_POST = "2024-05-05-capybara.md"

XSS_TITLE = "<img src=x onerror=alert(1)>"
XSS_TAG = "<script>alert(2)</script>"
XSS_CATEGORY = '"><svg onload=alert(3)>'

BLOG: dict[str, str] = {
    KYOTO: (
        '---\ntitle: "京都の紅葉"\ndate: 2024-01-10 10:00:00 +0900\n'
        "categories: [旅行]\ntags: [旅行, 京都]\n---\n\n"
        "京都で紅葉を見ました。抹茶パフェも食べました。\n"
    ),
    RAMEN: (
        '---\ntitle: "札幌の味噌ラーメン"\ndate: 2024-02-20 12:00:00 +0900\n'
        "categories: [グルメ]\ntags: [グルメ, ラーメン]\n---\n\n"
        "札幌で味噌ラーメンを食べました。\n"
    ),
    PYTHON: (
        '---\ntitle: "Python入門"\ndate: 2024-03-30 08:00:00 +0900\n'
        "categories: [技術]\ntags: [Python, プログラミング]\n---\n\n"
        "Pythonでpandasを使ってデータを集計します。\n"
    ),
    # Every displayed field carries markup that must come out escaped. The
    # body's "&lt;img …&gt;" is text (an escaped tag) after Markdown reduction.
    XSS: (
        f"---\ntitle: '{XSS_TITLE}'\ndate: 2024-04-01 09:00:00 +0900\n"
        f"categories: ['{XSS_CATEGORY}']\ntags: ['{XSS_TAG}', 'a&b']\n"
        "author: '<b>mallory</b>'\npermalink: 'javascript:alert(4)'\n---\n\n"
        "セキュリティの話です。&lt;img src=x onerror=alert(5)&gt; と書くと危険です。"
        " a < b && c > d\n"
    ),
}

NEW_POST_TEXT = (
    '---\ntitle: "新しいカピバラの記事"\ndate: 2024-05-05 10:00:00 +0900\n'
    "tags: [動物]\n---\n\nカピバラが温泉に入っていました。\n"
)
# RAMEN after an edit: ジンギスカン is only in the new text.
RAMEN_CHANGED = BLOG[RAMEN].replace(
    "味噌ラーメンを食べました。", "塩ラーメンとジンギスカンを食べました。"
)

KNOWN_WORD = "紅葉"  # found in KYOTO, in every version
NEW_WORD = "カピバラ"  # found in NEW_POST once it is indexed
CHANGED_WORD = "ジンギスカン"  # found in RAMEN once the edit is indexed


def write_blog(posts_dir: Path, posts: dict[str, str] | None = None) -> Path:
    posts_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (BLOG if posts is None else posts).items():
        (posts_dir / name).write_text(text, encoding="utf-8")
    return posts_dir


def build(posts_dir: Path, index_dir: Path, **kwargs) -> IndexReport:
    """build_index in this process, one worker, default site settings."""
    kwargs.setdefault("workers", 1)
    return build_index(posts_dir, index_dir, SiteConfig(), **kwargs)


def search_ids(index_dir: Path, q: str) -> list[str]:
    """Ids found for *q* by a fresh engine on *index_dir* (opened and closed)."""
    engine = SearchEngine(index_dir)
    try:
        return [h.id for h in engine.search(SearchRequest(q=q, per_page=50)).hits]
    finally:
        engine.close()


def current_version(index_dir: Path) -> str:
    """The version CURRENT names (fails if it names none)."""
    from search.store import IndexStore

    name = IndexStore(index_dir).current_name()
    assert name is not None, f"CURRENT in {index_dir} names no version"
    return name


def tmp_builds(index_dir: Path) -> list[str]:
    versions = index_dir / "versions"
    return sorted(p.name for p in versions.iterdir() if p.name.startswith(".tmp-")) if (
        versions.is_dir()
    ) else []


# --- the CLI in a subprocess ---------------------------------------------------


def blogsearch_command() -> list[str]:
    script = Path(sys.executable).parent / "blogsearch"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "search.cli"]


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI run: no BLOGSEARCH_* settings leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLOGSEARCH_")}
    env["CI"] = "1"  # no progress bar
    env.update(extra)
    return env


def run_cli(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*blogsearch_command(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(**env),
        stdin=subprocess.DEVNULL,
    )


class Paused:
    """A ``blogsearch index`` subprocess held at a fault point."""

    def __init__(self, args: list[str], point: str, marker: Path, timeout: float = 60):
        self.point = point
        self.marker = marker
        self.proc = subprocess.Popen(
            [*blogsearch_command(), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=cli_env(BLOGSEARCH_PAUSE_AT=point, BLOGSEARCH_PAUSE_FILE=str(marker)),
        )
        self.reached = self._wait(timeout)

    def _wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.marker.exists():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def output(self) -> str:
        """What the process printed (only once it has ended)."""
        out, err = self.proc.communicate(timeout=30)
        return f"exit {self.proc.returncode}\nstdout: {out}\nstderr: {err}"

    def kill(self) -> int:
        self.proc.kill()  # SIGKILL
        self.proc.communicate(timeout=30)
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()


@pytest.fixture
def rel_paused() -> Iterator:
    """Start indexers paused at a fault point; every one is killed at the end."""
    started: list[Paused] = []

    def start(args: list[str], point: str, marker: Path, timeout: float = 60) -> Paused:
        p = Paused(args, point, marker, timeout)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()


# --- the report ------------------------------------------------------------------

_REPORT: list[str] = []


def report(line: str) -> None:
    """Add a line to the reliability report printed at the end of the run."""
    _REPORT.append(line)


class ExampleCounter:
    """Counts the examples a Hypothesis test ran; reports the number."""

    def __init__(self, name: str):
        self.name = name
        self.count = 0

    def __call__(self) -> None:
        self.count += 1

    def done(self, max_examples: int) -> None:
        report(f"{self.name}: {self.count} examples (max_examples={max_examples})")


def pytest_terminal_summary(terminalreporter) -> None:
    if _REPORT:
        terminalreporter.section("reliability report")
        for line in _REPORT:
            terminalreporter.write_line(line)


# --- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def rel_blog(tmp_path_factory) -> tuple[Path, Path]:
    """(posts_dir, index_dir) of the small blog, indexed once; read-only."""
    root = tmp_path_factory.mktemp("rel_blog")
    posts = write_blog(root / "_posts")
    index_dir = root / "index"
    result = build(posts, index_dir)
    assert result.documents == len(BLOG), [str(p) for p in result.problems]
    return posts, index_dir


@pytest.fixture
def rel_fresh_blog(tmp_path) -> tuple[Path, Path]:
    """A private blog and index that a test may change."""
    posts = write_blog(tmp_path / "_posts")
    index_dir = tmp_path / "index"
    result = build(posts, index_dir)
    assert result.documents == len(BLOG), [str(p) for p in result.problems]
    return posts, index_dir


def make_app(index_dir: Path, **config):
    from web import create_app

    config.setdefault("RATE_LIMIT", "")
    config.setdefault("CORS_ORIGINS", [])
    app = create_app({"INDEX_DIR": str(index_dir), **config})
    app.config["TESTING"] = True
    return app


@pytest.fixture(scope="session")
def rel_app(rel_blog):
    app = make_app(rel_blog[1])
    yield app
    app.extensions["blogsearch"].close()
