"""Small helpers shared by the test modules."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from search.indexer import build_index
from search.query import SearchEngine, SearchRequest, SearchResult
from search.site import SiteConfig
from search.store import IndexStore

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
BAD_DIR = CORPUS / "bad"
POSTS_DIR = CORPUS / "posts"
AIBLOG_DIR = CORPUS / "aiblog" / "posts"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_POSTS = FIXTURES / "posts"

MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def search(engine: SearchEngine, q: str, **kwargs: Any) -> SearchResult:
    kwargs.setdefault("per_page", 50)
    return engine.search(SearchRequest(q=q, **kwargs))


def search_ids(engine: SearchEngine, q: str, **kwargs: Any) -> list[str]:
    return [hit.id for hit in search(engine, q, **kwargs).hits]


def marked(highlighted: str) -> list[str]:
    """The texts inside ``<mark>`` in a highlighted string, unescaped."""
    return [html.unescape(m) for m in MARK.findall(highlighted)]


def unmarked(highlighted: str) -> str:
    """A highlighted string without its ``<mark>`` tags (still escaped)."""
    return highlighted.replace("<mark>", "").replace("</mark>", "")


def build_blog(root: Path, posts: dict[str, tuple[str, str]]) -> Path:
    """Write *posts* (file name: (title, body), dated by the name) to
    ``root/_posts``, index them and return the index folder."""
    posts_dir = root / "_posts"
    posts_dir.mkdir()
    for name, (title, body) in posts.items():
        (posts_dir / name).write_text(
            f'---\ntitle: "{title}"\ndate: {name[:10]} 10:00:00 +0900\n---\n\n{body}\n',
            encoding="utf-8",
        )
    build_index(posts_dir, root / "index", SiteConfig(), full=True, workers=1)
    return root / "index"


def stored_documents(index_dir: Path) -> dict[str, dict[str, Any]]:
    """Stored fields of every document of the current version, by id."""
    version = IndexStore(index_dir).current()
    ix = whoosh_index.open_dir(str(version.path))
    try:
        with ix.searcher() as s:
            return {doc["id"]: doc for doc in s.all_stored_fields()}
    finally:
        ix.close()
