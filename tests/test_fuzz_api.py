"""Fuzzing the web app: whatever a client sends, no 5xx and no traceback.

Hypothesis drives the Flask test client over every endpoint (every
/api/search parameter, repeated, missing, of the wrong type, huge, any
Unicode, raw percent-encoded bytes; suggest; related posts with path tricks;
health; the /search page). Schemathesis then generates requests from the
live OpenAPI document and checks the answers against it. Pathological
queries are timed. Hypothesis runs derandomized; the number of examples of
each test and the query timings are printed at the end of the run.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reliability_fixtures import (
    HYPOTHESIS_COMMON,
    KYOTO,
    ExampleCounter,
    build,
    make_app,
    report,
    write_blog,
)

pytest_plugins = ["reliability_fixtures"]

API_SETTINGS = dict(HYPOTHESIS_COMMON, suppress_health_check=[HealthCheck.too_slow])
SEARCH_PARAMS = ["q", "tag", "category", "from", "to", "year", "month", "sort", "page",
                 "per_page"]  # fmt: skip

# --- checking a response -------------------------------------------------------------


def check(response, path: str | None = None) -> None:
    """No server error, no traceback; JSON errors of the documented shape under /api/.

    *path* defaults to the path the app saw (the client resolves "..").
    """
    path = path or response.request.path
    body = response.get_data()
    assert response.status_code < 500, (path, response.status_code, body[:500])
    assert b"Traceback" not in body, (path, body[:500])
    assert b'File "/' not in body, (path, body[:500])
    if 300 <= response.status_code < 400:
        # Routing redirects ("//" merged into "/"): only ever to this server.
        location = response.headers.get("Location", "")
        assert location.startswith(("/", "http://localhost/")), (path, location)
        return
    if path.startswith("/api/"):
        assert response.mimetype == "application/json", (path, response.mimetype)
        payload = json.loads(body)  # valid JSON whatever the status
        if 400 <= response.status_code < 500:
            err = payload.get("error")
            assert isinstance(err, dict), (path, payload)
            assert isinstance(err.get("code"), str) and err["code"], (path, payload)
            assert isinstance(err.get("message"), str) and err["message"], (path, payload)
    else:
        assert response.mimetype == "text/html", (path, response.mimetype)


# --- strategies -------------------------------------------------------------------

# Text that werkzeug's client can send (lone surrogates cannot be UTF-8 encoded;
# invalid UTF-8 is sent through the raw query strings below instead).
sendable = st.characters(exclude_categories=("Cs",))
odd_values = st.sampled_from([
    "", " ", "0", "-1", "1", "50", "51", "100", "101", "9" * 400, "-" + "9" * 400, "1e309",
    "NaN", "inf", "0x10", "1_000", " 7 ", "١٢", "²", "１２", "12.0", "true", "null", "[]", "{}",
    "2024-02-29", "2023-02-29", "2024-02-30", "0000-01-01", "0001-01-01", "9999-12-31",
    "-0001-01-01", "10000-01-01", "2024-1-1", "2024/01/01", "2024-13", "2024-00", "0-1",
    "2024-12", "9999-12", "0000-01", "relevance", "date", "-date", "RELEVANCE", "score",
    "京都", "旅行", "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "%00",
    "\x00", "\t\n\r", "\u202e", "😀" * 100, "京" * 500, "京" * 501, "a" * 10_000,
])  # fmt: skip
values = st.one_of(odd_values, st.text(sendable, max_size=60), st.integers().map(str))
keys = st.one_of(st.sampled_from(SEARCH_PARAMS), st.text(sendable, max_size=10))
param_lists = st.lists(st.tuples(keys, values), max_size=12)


def raw_query(data: bytes) -> str:
    """Bytes percent-encoded as they stand: invalid UTF-8 reaches the server."""
    return quote_from_bytes(data, safe="=&+")


# --- /api/search ------------------------------------------------------------------

SEARCH_EXAMPLES = 300


def test_search_api_never_fails_whatever_the_parameters(rel_app):
    client = rel_app.test_client()
    counter = ExampleCounter("test_fuzz_api: /api/search parameters")
    statuses: dict[int, int] = {}

    @settings(max_examples=SEARCH_EXAMPLES, **API_SETTINGS)
    @given(params=param_lists)
    @example(params=[("q", "京都"), ("q", "大阪"), ("page", "1"), ("page", "x")])
    @example(params=[("tag", str(i)) for i in range(25)])
    @example(params=[("month", "²")])
    @example(params=[("from", "9999-12-31"), ("to", "9999-12-31")])
    @example(params=[("from", "0001-01-01"), ("to", "0001-01-01")])
    @example(params=[("year", "9999"), ("month", "12")])
    def run(params) -> None:
        counter()
        response = client.get("/api/search", query_string=params)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        check(response, "/api/search")

    run()
    counter.done(SEARCH_EXAMPLES)
    report(f"  statuses: {dict(sorted(statuses.items()))}")


RAW_EXAMPLES = 150


def test_search_api_and_page_never_fail_on_raw_query_bytes(rel_app):
    client = rel_app.test_client()
    counter = ExampleCounter("test_fuzz_api: raw query strings (/api/search, /search)")

    @settings(max_examples=RAW_EXAMPLES, **API_SETTINGS)
    @given(
        name=st.sampled_from(SEARCH_PARAMS).map(str.encode) | st.binary(max_size=8),
        value=st.binary(max_size=80),
        extra=st.binary(max_size=40),
    )
    @example(name=b"q", value=b"\xff\xfe\x00", extra=b"")
    @example(name=b"q", value=b"%", extra=b"&&&==")
    @example(name=b"page", value=b"\xef\xbc\x91", extra=b"")  # full-width 1
    def run(name: bytes, value: bytes, extra: bytes) -> None:
        counter()
        query = f"{raw_query(name)}={raw_query(value)}&{raw_query(extra)}"
        for path in ("/api/search", "/search"):
            check(client.get(f"{path}?{query}"), path)

    run()
    counter.done(RAW_EXAMPLES)


# --- /search (HTML) -------------------------------------------------------------------

PAGE_EXAMPLES = 150


def test_search_page_never_fails_whatever_the_parameters(rel_app):
    client = rel_app.test_client()
    counter = ExampleCounter("test_fuzz_api: /search page parameters")

    @settings(max_examples=PAGE_EXAMPLES, **API_SETTINGS)
    @given(params=param_lists)
    @example(params=[("q", "京都"), ("tag", "旅行"), ("year", "2024"), ("month", "1")])
    @example(params=[("page", "100"), ("q", "")])
    def run(params) -> None:
        counter()
        response = client.get("/search", query_string=params)
        check(response, "/search")
        assert response.status_code in (200, 400), response.status_code

    run()
    counter.done(PAGE_EXAMPLES)


# --- /api/suggest ---------------------------------------------------------------------

SUGGEST_EXAMPLES = 150


def test_suggest_never_fails(rel_app):
    client = rel_app.test_client()
    counter = ExampleCounter("test_fuzz_api: /api/suggest")

    @settings(max_examples=SUGGEST_EXAMPLES, **API_SETTINGS)
    @given(params=st.lists(st.tuples(st.just("q") | keys, values), max_size=4))
    @example(params=[])
    @example(params=[("q", "京"), ("q", "大")])
    @example(params=[("q", "ﾞ")])
    @example(params=[("q", "*")])
    def run(params) -> None:
        counter()
        check(client.get("/api/suggest", query_string=params), "/api/suggest")

    run()
    counter.done(SUGGEST_EXAMPLES)


# --- /api/posts/<id>/related ------------------------------------------------------------

ID_TRICKS = [
    KYOTO, f"./{KYOTO}", f"../{KYOTO}", f"../../{KYOTO}", f"/{KYOTO}", f"//{KYOTO}",
    "../../../../etc/passwd", "/etc/passwd", "..", ".", "...", "~", "C:\\Windows\\win.ini",
    "..\\..\\boot.ini", "\x00", f"{KYOTO}\x00.png", "%00", "%2e%2e/%2e%2e/etc/passwd",
    "%252e%252e%252f", "..%2f..%2f", "..%c0%af..%c0%af", "%c0%ae%c0%ae/", "%ff%fe",
    f"{KYOTO}/../{KYOTO}", "a" * 1001, "a/" * 600, "😀", "\u202e", "京都",
    "versions/CURRENT", "../index/CURRENT", "../../CURRENT", "manifest.json",
]  # fmt: skip


def related_paths(post_id: str) -> list[str]:
    """The id as it may travel: raw, percent-encoded, or twice encoded."""
    once = quote(post_id, safe="/")
    return [
        f"/api/posts/{once}/related",
        f"/api/posts/{quote(post_id, safe='')}/related",
        f"/api/posts/{quote(once, safe='/')}/related",
    ]


RELATED_EXAMPLES = 150


def test_related_never_fails_and_never_leaves_the_index(rel_app):
    client = rel_app.test_client()
    counter = ExampleCounter("test_fuzz_api: /api/posts/<id>/related")

    @settings(max_examples=RELATED_EXAMPLES, **API_SETTINGS)
    @given(
        post_id=st.sampled_from(ID_TRICKS)
        | st.text(sendable, min_size=1, max_size=40)
        | st.lists(st.sampled_from(["..", ".", "", "etc", "passwd", KYOTO, "%2e", "\x00"]),
                   min_size=1, max_size=6).map("/".join)  # fmt: skip
    )
    @example(post_id=KYOTO)
    def run(post_id: str) -> None:
        counter()
        for path in related_paths(post_id):
            response = client.get(path)
            check(response)
            assert response.status_code in (200, 308, 404), (path, response.status_code)
            if response.status_code == 200:
                payload = response.get_json()
                # Only an indexed post has related posts: the id named a post.
                assert payload["id"] == KYOTO, (path, payload)
                assert b"root:" not in response.get_data()

    run()
    counter.done(RELATED_EXAMPLES)


HEALTH_EXAMPLES = 25


def test_health_and_unknown_api_paths_never_fail(rel_app):
    client = rel_app.test_client()
    counter = ExampleCounter("test_fuzz_api: /api/health and unknown /api paths")

    @settings(max_examples=HEALTH_EXAMPLES, **API_SETTINGS)
    @given(params=param_lists, tail=st.text(sendable, max_size=20))
    def run(params, tail: str) -> None:
        counter()
        response = client.get("/api/health", query_string=params)
        check(response, "/api/health")
        assert response.status_code == 200
        response = client.get("/api/" + quote(tail, safe=""), query_string=params)
        check(response)

    run()
    counter.done(HEALTH_EXAMPLES)


# --- pathological queries ------------------------------------------------------------------

_ORS = " OR ".join(f"w{i}" for i in range(10_001))
PATHOLOGICAL_QUERIES = {
    "10,000 ORs (over the limit)": _ORS,
    "ORs up to the 500-character limit": _ORS[:500],
    "500 times one kanji": "京" * 500,
    "501 times one kanji (over)": "京" * 501,
    "deep parentheses": "(" * 250 + "京都" + ")" * 248,
    "only wildcards": "*" * 500,
    "wildcard suffixes": " ".join(["京*", "a*", "*b", "?", "*"] * 50)[:500],
    "only stop words": "の は が",
    "500 stop words": "の" * 500,
    "only punctuation": "!?。、…「」（）・：；",
    "500 punctuation": "." * 500,
    "125 exclusions": "-京都 " * 125,
    "125 required words": "+京都 " * 125,
    "71 tag qualifiers": "tag:旅行 " * 71,
    "500 double quotes": '"' * 500,
    "500 kagikakko": "「" * 500,
    "only OR": "OR " * 166,
    "only operators": "+ - OR AND NOT : title: tag: " * 17,
    "distinct Japanese words": " ".join(f"東京{i}" for i in range(100))[:500],
    "long unspaced sentence": ("東海道新幹線で京都へ行きました" * 40)[:500],
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL_QUERIES))
def test_pathological_queries_answer_quickly_with_200_or_a_400_naming_the_limit(rel_app, name):
    client = rel_app.test_client()
    q = PATHOLOGICAL_QUERIES[name]
    timings = []
    for path in ("/api/search", "/api/suggest", "/search"):
        started = time.perf_counter()
        response = client.get(path, query_string={"q": q})
        elapsed = time.perf_counter() - started
        timings.append(f"{path} {response.status_code} {elapsed * 1000:.0f} ms")
        check(response, path)
        assert response.status_code in (200, 400), (path, response.status_code)
        if response.status_code == 400:
            assert len(q) > 500, (path, q[:80])
            if path.startswith("/api/"):
                message = response.get_json()["error"]["message"]
                assert "500" in message, (path, message)
            else:
                assert "500" in response.get_data(as_text=True)
        else:
            assert len(q) <= 500, (path, "a query over the limit was accepted")
        assert elapsed < 5, f"{path}: {elapsed:.1f} s"
    report(f"  query {name!r} ({len(q):,} chars): " + "; ".join(timings))


def test_ten_thousand_ors_with_the_length_limit_raised_still_answer(rel_blog):
    """An operator may raise MAX_QUERY_CHARS; MAX_WORDS should still bound the work."""
    app = make_app(rel_blog[1], MAX_QUERY_CHARS=200_000)
    client = app.test_client()
    try:
        for name, q in {
            "10,000 ORs": _ORS,
            "10,000 exclusions": "-京都 " * 10_000,
            "10,000 ORs of one word": " OR ".join(["京都"] * 10_000),
        }.items():
            started = time.perf_counter()
            response = client.get("/api/search", query_string={"q": q})
            elapsed = time.perf_counter() - started
            report(f"  MAX_QUERY_CHARS=200000, {name} ({len(q):,} chars): "
                   f"{response.status_code} in {elapsed * 1000:.0f} ms")  # fmt: skip
            check(response, "/api/search")
            assert response.status_code in (200, 400)
            assert elapsed < 15, f"{name}: {elapsed:.1f} s"
    finally:
        app.extensions["blogsearch"].close()


# --- text the loader let through ------------------------------------------------------------


def test_a_post_with_an_escaped_surrogate_in_its_front_matter_does_not_break_responses(
    tmp_path,
):
    """YAML's "\\ud83d" escape yields a lone surrogate, which cannot be encoded.

    A post whose title or excerpt holds one is indexed; every response that
    shows it must still be a response, not a 500.
    """
    posts = write_blog(tmp_path / "_posts", {
        "2024-06-01-surrogate.md": '---\ntitle: "絵文字\\ud83d 東京"\nexcerpt: "抜粋\\udc00"\n'
                                   "---\n東京の本文です。\n",
    })  # fmt: skip
    build(posts, tmp_path / "index")
    app = make_app(tmp_path / "index")
    client = app.test_client()
    try:
        for path in ("/api/search?q=東京", "/api/suggest?q=絵", "/search?q=東京", "/search"):
            check(client.get(path), path.split("?")[0])
    finally:
        app.extensions["blogsearch"].close()


# Queries made only of one-character Japanese runs: "京 都" typed with a space,
# particles around punctuation. Their character bigrams are single characters.
SINGLE_CHARACTER_RUNS = ["の、は", "京 都", "の は が", "は!が", "À0À", '"の は"', "-の、は",
                         "title:の、は"]  # fmt: skip


@pytest.mark.parametrize("path", ["/api/search", "/api/suggest", "/search"])
def test_queries_of_one_character_runs_are_answered(rel_app, path):
    client = rel_app.test_client()
    rel_app.testing = False  # a 500 response rather than the exception
    failed = {}
    try:
        for q in SINGLE_CHARACTER_RUNS:
            response = client.get(path, query_string={"q": q})
            if response.status_code != 200:
                failed[q] = response.status_code
    finally:
        rel_app.testing = True
    assert not failed, f"{path}: {failed}"


# --- schemathesis against the live OpenAPI document ------------------------------------------

# Every operation of /api/openapi.json, how many cases per generation mode,
# and the modes that apply (a string path parameter or no parameter at all
# cannot be made invalid, so those only get positive cases).
OPERATIONS = {
    ("GET", "/api/search"): (80, ("positive", "negative")),
    ("GET", "/api/suggest"): (40, ("positive", "negative")),
    ("GET", "/api/posts/{id}/related"): (40, ("positive",)),
    ("GET", "/api/health"): (10, ("positive",)),
    ("POST", "/api/reindex"): (15, ("positive", "negative")),
    ("GET", "/api/reindex"): (10, ("positive", "negative")),
}
SCHEMATHESIS_CASES = [
    pytest.param(op, mode, id=f"{op[0]} {op[1]} {mode}")
    for op, (_, modes) in OPERATIONS.items()
    for mode in modes
]


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance,
            response_schema_conformance]  # fmt: skip


@pytest.fixture(scope="module")
def live_schema(rel_app):
    import schemathesis

    return schemathesis.openapi.from_wsgi("/api/openapi.json", rel_app)


def test_the_fuzzed_operations_are_every_operation_of_the_document(live_schema):
    found = {(r.ok().method.upper(), r.ok().path) for r in live_schema.get_all_operations()}
    assert found == set(OPERATIONS), found ^ set(OPERATIONS)


@pytest.mark.parametrize(("operation", "mode"), SCHEMATHESIS_CASES)
def test_schemathesis_no_server_errors_and_responses_match_the_schema(
    live_schema, operation, mode
):
    from schemathesis.generation.modes import GenerationMode

    method, path = operation
    api_operation = live_schema[path][method]
    max_examples = OPERATIONS[operation][0]
    counter = ExampleCounter(f"test_fuzz_api: schemathesis {mode} {method} {path}")
    statuses: dict[int, int] = {}
    checks = _checks()

    strategy = api_operation.as_strategy(GenerationMode(mode))
    if "{id}" in path:  # also the ids of real posts, so that 200 answers are validated
        strategy = strategy | api_operation.as_strategy(
            GenerationMode(mode), path_parameters={"id": KYOTO}
        )

    @settings(max_examples=max_examples, **API_SETTINGS)
    @given(case=strategy)
    def run(case) -> None:
        counter()
        response = case.call_and_validate(checks=checks)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert b"Traceback" not in response.content

    try:
        run()
    finally:
        counter.done(max_examples)
        report(f"  statuses: {dict(sorted(statuses.items()))}")


def test_the_schemathesis_checks_do_catch_a_response_that_breaks_the_schema(rel_app):
    """The harness above can fail: a document demanding a field the API never sends."""
    import schemathesis
    from schemathesis.generation.modes import GenerationMode

    doc = copy.deepcopy(rel_app.test_client().get("/api/openapi.json").get_json())
    doc["components"]["schemas"]["Health"]["required"].append("neverSent")
    schema = schemathesis.openapi.from_dict(doc)
    operation = schema["/api/health"]["GET"]
    checks = _checks()
    failures = []

    @settings(max_examples=3, **API_SETTINGS)
    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    def run(case) -> None:
        try:
            case.call_and_validate(app=rel_app, checks=checks)
        except BaseExceptionGroup as exc:  # schemathesis' FailureGroup
            failures.append(exc)

    run()
    assert failures, "the check accepted a response without a required field"
    assert "neverSent" in str(failures[0].exceptions[0]), failures[0].exceptions


def test_openapi_document_is_served_as_json(rel_app):
    response = rel_app.test_client().get("/api/openapi.json")
    check(response, "/api/openapi.json")
    assert response.get_json()["openapi"].startswith("3.")


@pytest.fixture(scope="module", autouse=True)
def _no_leftover_status_file(rel_blog):
    yield
    # POST /api/reindex is answered 404 (no ADMIN_TOKEN): nothing may have run.
    assert not (Path(rel_blog[1]) / "reindex-status.json").exists()
