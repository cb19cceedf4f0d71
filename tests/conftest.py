"""Shared fixtures: the small fixture blog, and the shared corpus indexes.

The two big indexes (``../shared/corpus/bad`` and ``../shared/corpus/posts``)
are each built once per test session; tests marked ``corpus`` are skipped
when ``../shared/corpus`` is absent.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import AIBLOG_DIR, BAD_DIR, CORPUS, FIXTURE_POSTS, FIXTURES, POSTS_DIR

from search.indexer import IndexReport, build_index
from search.query import SearchEngine
from search.site import load_site_config


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CORPUS.is_dir():
        return
    skip = pytest.mark.skip(reason=f"{CORPUS} is absent")
    for item in items:
        if "corpus" in item.keywords:
            item.add_marker(skip)


@dataclass
class BuiltIndex:
    """An index built by :func:`search.indexer.build_index`, and its report."""

    posts_dir: Path
    index_dir: Path
    report: IndexReport


def _build(posts_dir: Path, index_dir: Path) -> BuiltIndex:
    site = load_site_config(posts_dir)
    report = build_index(posts_dir, index_dir, site, full=True)
    return BuiltIndex(posts_dir, index_dir, report)


@pytest.fixture(scope="session")
def fixture_index(tmp_path_factory: pytest.TempPathFactory) -> BuiltIndex:
    """The fixture blog in tests/fixtures/posts, indexed once."""
    return _build(FIXTURE_POSTS, tmp_path_factory.mktemp("fixture-index") / "index")


@pytest.fixture(scope="session")
def fixture_engine(fixture_index: BuiltIndex) -> Iterator[SearchEngine]:
    engine = SearchEngine(fixture_index.index_dir)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def bad_index(tmp_path_factory: pytest.TempPathFactory) -> BuiltIndex:
    """../shared/corpus/bad, indexed once per session."""
    if not BAD_DIR.is_dir():
        pytest.skip(f"{BAD_DIR} is absent")
    return _build(BAD_DIR, tmp_path_factory.mktemp("bad-index") / "index")


@pytest.fixture(scope="session")
def bad_engine(bad_index: BuiltIndex) -> Iterator[SearchEngine]:
    engine = SearchEngine(bad_index.index_dir)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory) -> BuiltIndex:
    """../shared/corpus/posts (1,747 posts), indexed once per session."""
    if not POSTS_DIR.is_dir():
        pytest.skip(f"{POSTS_DIR} is absent")
    return _build(POSTS_DIR, tmp_path_factory.mktemp("corpus-index") / "index")


@pytest.fixture(scope="session")
def corpus_engine(corpus_index: BuiltIndex) -> Iterator[SearchEngine]:
    engine = SearchEngine(corpus_index.index_dir)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def aiblog_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchEngine]:
    """../shared/corpus/aiblog/posts (211 AI-news posts), indexed once per session."""
    if not AIBLOG_DIR.is_dir():
        pytest.skip(f"{AIBLOG_DIR} is absent")
    built = _build(AIBLOG_DIR, tmp_path_factory.mktemp("aiblog-index") / "index")
    engine = SearchEngine(built.index_dir)
    yield engine
    engine.close()


@pytest.fixture
def blog_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture blog; returns its posts folder."""
    target = tmp_path / "blog"
    shutil.copytree(FIXTURES, target)
    return target / "posts"


@pytest.fixture(scope="session")
def blogsearch_cmd() -> list[str]:
    """The command line that runs the ``blogsearch`` CLI of this checkout."""
    script = Path(sys.executable).parent / "blogsearch"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "search.cli"]
