"""Security of the web app: escaping, headers, rate limits, the reindex hook, serve.

The test blog (reliability_fixtures.BLOG) has a post whose title, tags,
category, author, permalink and body all carry markup or script; every page
and API response must show them as text.
"""

from __future__ import annotations

import threading
import time
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from reliability_fixtures import (
    NEW_POST,
    NEW_POST_TEXT,
    NEW_WORD,
    XSS,
    XSS_CATEGORY,
    XSS_TAG,
    XSS_TITLE,
    current_version,
    make_app,
)

from search.cli import main as cli_main
from search.store import IndexStore

pytest_plugins = ["reliability_fixtures"]

TOKEN = "s3cret-token-for-tests"


class Tags(HTMLParser):
    """Every start tag of a document, with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser


def assert_no_injected_markup(html: str) -> Tags:
    """Only the page's own markup: no foreign elements, handlers or script URLs."""
    doc = parse(html)
    for tag, attrs in doc.tags:
        assert tag not in ("img", "svg", "iframe", "object", "embed", "b"), (tag, attrs)
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), attrs  # only our files
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in ("href", "src", "action", "formaction"):
                assert not (value or "").strip().lower().startswith(("javascript:", "data:")), (
                    tag, name, value)  # fmt: skip
    return doc


def only_marks(fragment: str) -> None:
    """*fragment* is escaped text whose only markup is balanced <mark>."""
    doc = parse(fragment)
    assert {tag for tag, _ in doc.tags} <= {"mark"}, fragment
    stripped = fragment.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped, fragment


# --- escaping --------------------------------------------------------------------------


def test_search_page_shows_post_data_as_text(rel_app):
    response = rel_app.test_client().get("/search", query_string={"q": "セキュリティ"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    doc = assert_no_injected_markup(html)
    text = "".join(doc.text)
    for shown in (XSS_TITLE, XSS_TAG, XSS_CATEGORY, "<img src=x onerror=alert(5)>"):
        assert shown in text, f"{shown!r} is not shown as text"
        assert shown not in html, f"{shown!r} is in the page unescaped"


def test_front_page_and_facets_show_tags_as_text(rel_app):
    # No query: recent posts and popular tags; with a tag filter: chips and facets.
    client = rel_app.test_client()
    for params in ({}, {"tag": XSS_TAG}, {"category": XSS_CATEGORY, "q": "危険"}):
        response = client.get("/search", query_string=params)
        assert response.status_code == 200, params
        html = response.get_data(as_text=True)
        assert_no_injected_markup(html)
        assert XSS_TAG not in html and XSS_CATEGORY not in html


def test_user_input_echoed_in_the_page_is_escaped(rel_app):
    client = rel_app.test_client()
    attack = '"><script>alert(9)</script><img src=x onerror=alert(9)>'
    for params in (
        {"q": attack},
        {"q": "京都", "tag": attack, "category": attack, "sort": "date"},
        {"page": attack},  # a 400 page that quotes the bad value
        {"from": attack},
        {"q": attack, "year": "2024", "month": attack},
    ):
        response = client.get("/search", query_string=params)
        assert response.status_code in (200, 400), params
        html = response.get_data(as_text=True)
        assert_no_injected_markup(html)
        assert "<script>alert(9)" not in html


def test_api_snippets_and_titles_contain_only_marks(rel_app):
    client = rel_app.test_client()
    for q in ("セキュリティ", "危険", "img", "onerror", "alert", "script", "a&b", "京都"):
        payload = client.get("/api/search", query_string={"q": q}).get_json()
        for hit in payload["hits"]:
            only_marks(hit["snippet"])
            only_marks(hit["titleHighlighted"])
        for item in client.get("/api/suggest", query_string={"q": q[:2]}).get_json()[
            "suggestions"
        ]:
            only_marks(item["highlighted"])


def test_a_javascript_permalink_never_becomes_a_script_url(rel_app):
    client = rel_app.test_client()
    payload = client.get("/api/search", query_string={"q": "セキュリティ"}).get_json()
    urls = [hit["url"] for hit in payload["hits"] if hit["id"] == XSS]
    assert urls, payload
    assert urls[0].startswith("/") and not urls[0].startswith("//"), urls


def test_demo_page_escapes_the_host_it_reflects(rel_app):
    response = rel_app.test_client().get(
        "/demo", headers={"Host": 'evil.example"><script>alert(1)</script>'}
    )
    if response.status_code == 200:
        assert_no_injected_markup(response.get_data(as_text=True))
    else:
        assert response.status_code == 400


# --- headers -------------------------------------------------------------------------------

HTML_PAGES = ["/search", "/search?q=京都", "/search?page=0", "/demo", "/no-such-page"]


def csp_directives(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


@pytest.mark.parametrize("path", HTML_PAGES)
def test_html_pages_send_the_security_headers(rel_app, path):
    response = rel_app.test_client().get(path)
    assert response.mimetype == "text/html", (path, response.status_code)
    csp = response.headers.get("Content-Security-Policy")
    assert csp, f"{path}: no Content-Security-Policy"
    directives = csp_directives(csp)
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src is not None, csp
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, csp
    assert "*" not in script_src and "data:" not in script_src, csp
    assert directives.get("frame-ancestors") == ["'none'"], csp
    assert directives.get("object-src") == ["'none'"], csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") in (
        "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin",
    )  # fmt: skip


@pytest.mark.parametrize("path", ["/api/search?q=京都", "/api/health", "/api/nope"])
def test_json_responses_are_not_sniffed(rel_app, path):
    response = rel_app.test_client().get(path)
    assert response.mimetype == "application/json"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


# --- rate limiting ----------------------------------------------------------------------------


@pytest.fixture
def limited_app(rel_blog):
    app = make_app(rel_blog[1], RATE_LIMIT="3 per minute", ADMIN_TOKEN=TOKEN,
                   POSTS_DIR=str(rel_blog[0]))  # fmt: skip
    yield app
    app.extensions["blogsearch"].close()


def _from(ip: str, **headers) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}, "headers": headers}


def test_rate_limit_answers_429_with_retry_after_and_a_json_error(limited_app):
    client = limited_app.test_client()
    for _ in range(3):
        assert client.get("/api/search?q=京都", **_from("192.0.2.1")).status_code == 200
    response = client.get("/api/search?q=京都", **_from("192.0.2.1"))
    assert response.status_code == 429
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert response.get_json()["error"]["message"]
    retry_after = response.headers.get("Retry-After")
    assert retry_after is not None and retry_after.isdigit() and 0 < int(retry_after) <= 60
    # Another client is not affected; a forged X-Forwarded-For does not reset the count.
    assert client.get("/api/search?q=京都", **_from("192.0.2.2")).status_code == 200
    spoof = {"X-Forwarded-For": "198.51.100.7", "X-Real-IP": "198.51.100.7"}
    forged = client.get("/api/search?q=京都", **_from("192.0.2.1", **spoof))
    assert forged.status_code == 429


def test_rate_limit_also_covers_guessing_the_reindex_token(limited_app):
    """/api/reindex is under /api/ and takes a secret: guesses must be limited too."""
    client = limited_app.test_client()
    statuses = [
        client.post("/api/reindex", **_from("192.0.2.3", Authorization=f"Bearer guess{i}"))
        .status_code
        for i in range(10)
    ]
    assert 429 in statuses, statuses


# --- POST /api/reindex -------------------------------------------------------------------------


def test_reindex_is_not_found_without_an_admin_token(rel_app):
    client = rel_app.test_client()
    for response in (client.post("/api/reindex", headers={"Authorization": "Bearer x"}),
                     client.post("/api/reindex"), client.get("/api/reindex")):  # fmt: skip
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


@pytest.fixture
def admin(rel_fresh_blog):
    posts, index_dir = rel_fresh_blog
    app = make_app(index_dir, ADMIN_TOKEN=TOKEN, POSTS_DIR=str(posts))
    yield app, posts, index_dir
    app.extensions["blogsearch"].close()


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong", f"Bearer {TOKEN}x", f"Bearer x{TOKEN}",
     f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, f"Token {TOKEN}",
     f"Bearer {TOKEN.upper()}"],  # fmt: skip
)
def test_reindex_refuses_a_missing_or_wrong_token(admin, authorization):
    app, _, index_dir = admin
    client = app.test_client()
    headers = {} if authorization is None else {"Authorization": authorization}
    before = IndexStore(index_dir).current_name()
    for response in (client.post("/api/reindex", headers=headers),
                     client.get("/api/reindex", headers=headers)):  # fmt: skip
        assert response.status_code == 401, (authorization, response.status_code)
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert not (index_dir / "reindex-status.json").exists()
    assert IndexStore(index_dir).current_name() == before


def _wait_for(client, state: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = client.get("/api/reindex", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
        if status.get("state") in (state, "failed"):
            return status
        time.sleep(0.1)
    return status


def test_reindex_with_the_token_builds_a_new_version(admin):
    app, posts, index_dir = admin
    client = app.test_client()
    before = current_version(index_dir)
    (posts / NEW_POST).write_text(NEW_POST_TEXT, encoding="utf-8")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = client.post("/api/reindex", headers=auth)
    assert response.status_code == 202, response.get_data()
    assert response.get_json()["state"] == "started"
    status = _wait_for(client, "done")
    assert status.get("state") == "done", status
    assert status["version"] == current_version(index_dir) != before
    assert status["added"] == 1
    hits = client.get("/api/search", query_string={"q": NEW_WORD}).get_json()["hits"]
    assert NEW_POST in [h["id"] for h in hits]


def test_reindex_is_409_while_another_indexer_holds_the_lock(admin):
    app, _, index_dir = admin
    client = app.test_client()
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with IndexStore(index_dir).lock(wait=0):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        response = client.post("/api/reindex", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 409, response.get_data()
        error = response.get_json()["error"]
        assert error["code"] == "busy" and str(index_dir) in error["message"], error
    finally:
        release.set()
        holder.join(10)
    assert not (index_dir / "reindex-status.json").exists()


# --- blogsearch serve ---------------------------------------------------------------------------


def test_serve_help_shows_a_local_default_host_and_debug_off():
    result = CliRunner().invoke(cli_main, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    host_line = " ".join(result.output.split("--host", 1)[1].split("--port", 1)[0].split())
    assert "127.0.0.1" in host_line and "default" in host_line, host_line
    assert "--debug" in result.output


@pytest.mark.parametrize(("args", "debug"), [([], False), (["--debug"], True)])
def test_serve_binds_localhost_and_debugs_only_when_asked(rel_blog, monkeypatch, args, debug):
    from flask import Flask

    calls: list[dict] = []
    monkeypatch.setattr(Flask, "run", lambda self, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("FLASK_DEBUG", "1")  # the environment does not turn it on either
    result = CliRunner().invoke(cli_main, ["serve", "--index-dir", str(rel_blog[1]), *args])
    assert result.exit_code == 0, result.output
    assert calls and calls[0]["host"] == "127.0.0.1", calls
    assert calls[0]["debug"] is debug, calls
