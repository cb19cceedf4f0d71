"""../shared/corpus/bad: every awkward file handled as expected.json says.

The folder is indexed once per session (conftest.bad_index); each file's
``action`` and, where given, its title, date, tags, categories and search
expectations are checked against the built index.
"""

from __future__ import annotations

import html
import json
import unicodedata
from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from helpers import BAD_DIR, search, search_ids, stored_documents, unmarked

from search.posts import find_post_files

pytestmark = pytest.mark.corpus

TOKYO = ZoneInfo("Asia/Tokyo")
_EXPECTED_FILE = BAD_DIR / "expected.json"
EXPECTED: dict[str, dict] = (
    json.loads(_EXPECTED_FILE.read_text(encoding="utf-8")) if _EXPECTED_FILE.is_file() else {}
)
INDEX_ACTIONS = {"index", "index-with-warning"}
EITHER_ACTIONS = {"index-or-skip", "skip-or-index", "skip-or-index-with-fallback"}
SEARCHES = [
    (name, query, found)
    for name, exp in sorted(EXPECTED.items())
    for query, found in sorted(exp.get("search", {}).items())
]
# Files that are not UTF-8: indexing them undecoded would index garbage.
ENCODED = ["2025-01-07-shift-jis.md", "2025-01-30-utf16-bom.md"]


@pytest.fixture(scope="module")
def docs(bad_index):
    return stored_documents(bad_index.index_dir)


@pytest.fixture(scope="module")
def problems(bad_index):
    by_file = defaultdict(list)
    for problem in bad_index.report.problems:
        by_file[problem.path].append(problem)
    return by_file


def assert_date(actual: datetime, expected: str) -> None:
    """Instants are compared; a date-only value means that day in Asia/Tokyo."""
    if len(expected) == 10:
        # Midnight when it comes from the file name; 2025-02-10-leading-blank-line
        # may keep its front-matter time (10:00) on that day.
        assert actual.astimezone(TOKYO).date() == date.fromisoformat(expected)
    else:
        assert actual == datetime.fromisoformat(expected)


def test_expected_json_lists_the_bad_files():
    assert len(EXPECTED) >= 40
    assert {e["action"] for e in EXPECTED.values()} <= INDEX_ACTIONS | EITHER_ACTIONS | {"skip"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_file_is_indexed_or_skipped_as_expected(name, docs, problems):
    action = EXPECTED[name]["action"]
    indexed = name in docs
    mine = problems.get(name, [])
    for problem in mine:
        assert name in str(problem)
    if action in INDEX_ACTIONS:
        assert indexed, f"{name} should be indexed; problems: {[str(p) for p in mine]}"
    if action == "index-with-warning":
        assert any(p.level == "warning" for p in mine), f"{name}: no warning"
    if action == "skip":
        assert not indexed, f"{name} should not be indexed"
    if not indexed:
        assert any(p.level == "skip" for p in mine), f"{name} left out without a message"
    if indexed and action == "skip-or-index-with-fallback":
        assert mine, f"{name} indexed with a fallback but without a message"


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e["action"] != "skip"))
def test_indexed_file_has_expected_values(name, docs):
    if name not in docs:
        pytest.skip(f"{name} was skipped (allowed by its action)")
    exp, doc = EXPECTED[name], docs[name]
    title = doc["title"]
    assert isinstance(title, str) and title.strip(), "every indexed post has a title"
    assert "\n" not in title and "title:" not in title and "---" not in title
    if exp.get("title") is not None:
        # The NFD file may keep its original (decomposed) text.
        assert unicodedata.normalize("NFC", title) == exp["title"]
    if "date" in exp:
        assert_date(datetime.fromisoformat(doc["date_iso"]), exp["date"])
    if "tags" in exp:
        assert list(doc.get("tags_display") or []) == exp["tags"]
    if "categories" in exp:
        assert list(doc.get("categories_display") or []) == exp["categories"]


@pytest.mark.parametrize(("name", "query", "found"), SEARCHES)
def test_search_expectation_holds(bad_engine, name, query, found):
    ids = search_ids(bad_engine, query)
    assert (name in ids) == found, f"{query!r} -> {ids}"


def test_every_post_file_is_indexed_or_reported(bad_index, docs, problems):
    for rel in find_post_files(BAD_DIR):
        assert rel in docs or any(p.level == "skip" for p in problems.get(rel, [])), rel
    assert bad_index.report.documents == len(docs)


def test_every_problem_names_an_existing_file(bad_index):
    assert bad_index.report.problems
    for problem in bad_index.report.problems:
        assert (BAD_DIR / problem.path).is_file()
        assert str(problem).startswith(f"{problem.level} {problem.path}: ")


def test_no_title_is_mojibake(docs):
    for doc_id, doc in docs.items():
        assert "\ufffd" not in doc["title"], doc_id


def test_no_text_contains_nul(docs):
    for doc_id, doc in docs.items():
        for field in ("title", "body", "code", "excerpt"):
            assert "\x00" not in (doc.get(field) or ""), (doc_id, field)


@pytest.mark.parametrize("name", ENCODED)
def test_non_utf8_file_is_decoded_or_skipped_never_garbage(name, docs, problems):
    if name not in docs:
        assert any(p.level == "skip" for p in problems[name])
        return
    doc = docs[name]
    assert doc["title"] == EXPECTED[name]["title"]
    text = doc["title"] + doc.get("body", "") + doc.get("excerpt", "")
    assert "\ufffd" not in text
    assert "\x00" not in text
    # Real Japanese prose came through, not Latin-1 lookalikes.
    assert "テキスト" in doc.get("body", "")


def test_huge_post_is_bounded(docs, problems):
    name = "2025-01-24-huge-post.md"
    if name in docs:
        assert len(docs[name]["body"]) <= 1_000_000
        assert any("characters" in p.message for p in problems[name])


def test_draft_is_not_found(bad_engine):
    assert "2025-01-23-draft-published-false.md" not in search_ids(bad_engine, "下書き")
    assert search(bad_engine, "", tags=["下書き"]).total == 0


def test_html_in_title_comes_back_escaped(bad_engine):
    result = search(bad_engine, "画像タグ入りのタイトル")
    hit = next(h for h in result.hits if h.id == "2025-01-29-title-html-injection.md")
    assert hit.title == "<img src=x onerror=alert(1)> 画像タグ入りのタイトル"
    plain = unmarked(hit.title_highlighted)
    assert "<" not in plain and ">" not in plain
    assert html.unescape(plain) == hit.title
    assert "<img" not in hit.snippet and "<script" not in hit.snippet
