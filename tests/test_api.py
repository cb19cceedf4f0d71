"""The JSON API under /api: parameters, errors, OpenAPI, CORS, caching, reload, config."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from api_fixtures import (
    ALL_IDS,
    KYOTO_AUTUMN,
    KYOTO_TRIP,
    LATE_NIGHT,
    NEW_POST,
    NEW_YEAR,
    POSTS,
    PYTHON_INTRO,
    PYTHON_WEB,
    SAPPORO_RAMEN,
    TOKYO_RAMEN,
    TWIN_NEW,
    TWIN_OLD,
    XSS,
    XSS_TITLE,
    add_new_post,
    assert_only_marks,
    ids,
    index_posts,
    instant,
    parse_markup,
)
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from search.query import QueryLimits
from web import create_app

pytest_plugins = ["api_fixtures"]

SEARCH_PARAMS = {"q", "tag", "category", "from", "to", "year", "month", "sort", "page", "per_page"}


def get_json(client, path: str, params=None, expect: int = 200, **kwargs):
    if params is not None:
        path = f"{path}?{urlencode(params, doseq=True)}"
    response = client.get(path, **kwargs)
    assert response.status_code == expect, (path, response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/json", (path, response.mimetype)
    return response.get_json()


def search(client, **params):
    return get_json(client, "/api/search", params)


def hit_ids(client, **params) -> list[str]:
    return ids(search(client, **params)["hits"])


@pytest.fixture
def make_app():
    """create_app with overrides; every engine it opens is closed afterwards."""
    apps = []

    def make(**config):
        config.setdefault("RATE_LIMIT", "")  # these tests send many requests quickly
        app = create_app(config)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["blogsearch"].close()


# --- /api/search ----------------------------------------------------------------


def test_search_returns_the_documented_fields(api_client):
    body = search(api_client, q="京都")
    assert body["query"] == "京都"
    assert body["totalHits"] == 4 and body["page"] == 1 and body["hitsPerPage"] == 10
    assert body["totalPages"] == 1
    assert set(body["facetDistribution"]) == {"tags", "categories", "year", "month"}
    assert body["relaxed"] is False and body["didYouMean"] is None
    assert body["processingTimeMs"] >= 0 and body["indexVersion"]
    hit = body["hits"][0]
    assert hit["id"] == KYOTO_TRIP
    assert hit["url"].endswith("/2022/03/15/kyoto-shinkansen.html")
    assert hit["date"] == "2022-03-15T10:00:00+09:00"
    assert hit["tags"] == ["旅行", "鉄道"] and hit["categories"] == ["旅行"]
    assert hit["author"] == "山田花子"
    assert isinstance(hit["score"], float)
    assert "<mark>京都</mark>" in hit["snippet"]


def test_query_language_over_http(api_client):
    assert hit_ids(api_client, q="「京都タワー」") == [KYOTO_TRIP]
    assert hit_ids(api_client, q='"machine learning"') == [PYTHON_INTRO]
    assert set(hit_ids(api_client, q="札幌 OR 抹茶")) == {SAPPORO_RAMEN, KYOTO_AUTUMN}
    assert hit_ids(api_client, q="ラーメン +札幌") == [SAPPORO_RAMEN]
    assert KYOTO_AUTUMN not in hit_ids(api_client, q="京都 -紅葉")
    assert set(hit_ids(api_client, q="tag:python")) == {PYTHON_INTRO, PYTHON_WEB}
    assert TOKYO_RAMEN not in hit_ids(api_client, q="title:京都")


def test_soft_and_and_relaxed_over_http(api_client):
    body = search(api_client, q="札幌 抹茶")
    assert body["relaxed"] is True and body["totalHits"] == 2
    body = search(api_client, q="新幹線で京都へ行く安い方法")
    assert body["relaxed"] is False and body["hits"][0]["id"] == KYOTO_TRIP


def test_tag_parameter_is_repeatable_and_ored(api_client):
    found = hit_ids(api_client, tag=["ラーメン", "Python"])
    assert set(found) == {SAPPORO_RAMEN, TOKYO_RAMEN, PYTHON_INTRO, PYTHON_WEB}
    assert set(hit_ids(api_client, tag="python")) == {PYTHON_INTRO, PYTHON_WEB}
    assert search(api_client, tag="存在しないタグ")["totalHits"] == 0


def test_category_filter_and_its_combination_with_tag(api_client):
    assert set(hit_ids(api_client, category="技術")) == {PYTHON_INTRO, PYTHON_WEB, XSS}
    assert hit_ids(api_client, tag="グルメ", category="旅行") == [KYOTO_AUTUMN]
    assert set(hit_ids(api_client, category=["技術", "グルメ"], tag="python")) == {
        PYTHON_INTRO, PYTHON_WEB,
    }  # fmt: skip


def test_from_and_to_are_inclusive_days_in_tokyo(api_client):
    # LATE_NIGHT is dated 2024-06-30 23:30:00 +0000: 2024-07-01 in Tokyo.
    assert hit_ids(api_client, **{"from": "2024-07-01", "to": "2024-07-01"}) == [LATE_NIGHT]
    assert hit_ids(api_client, **{"from": "2024-06-30", "to": "2024-06-30"}) == []
    assert LATE_NIGHT not in hit_ids(api_client, to="2024-06-30")
    assert LATE_NIGHT in hit_ids(api_client, **{"from": "2024-07-01"})
    assert hit_ids(api_client, **{"from": "2022-03-15", "to": "2022-03-15"}) == [KYOTO_TRIP]
    span = hit_ids(api_client, per_page=50, **{"from": "2022-03-15", "to": "2022-08-20"})
    assert set(span) == {KYOTO_TRIP, "2022-05-02-kyoto-walk.md", SAPPORO_RAMEN}


def test_year_filter_uses_the_tokyo_year(api_client):
    in_2024 = hit_ids(api_client, year=2024, per_page=50)
    assert NEW_YEAR in in_2024 and LATE_NIGHT in in_2024 and len(in_2024) == 6
    assert NEW_YEAR not in hit_ids(api_client, year=2023, per_page=50)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"year": "2024", "month": "7"}, [LATE_NIGHT]),
        ({"year": "2024", "month": "07"}, [LATE_NIGHT]),
        ({"month": "2024-07"}, [LATE_NIGHT]),
        ({"month": "2024-7"}, [LATE_NIGHT]),
        ({"month": "2024-07", "year": "2024"}, [LATE_NIGHT]),
        ({"month": "2024-06"}, []),
        ({"year": "2024", "month": "1"}, [NEW_YEAR]),
        ({"month": "2023-12"}, []),
        ({"month": "3"}, [TWIN_NEW, TWIN_OLD, KYOTO_TRIP]),
    ],
)
def test_month_filter_forms(api_client, params, expected):
    assert hit_ids(api_client, **params) == expected


def test_disjunctive_facets_over_http(api_client):
    everything = search(api_client)["facetDistribution"]
    body = search(api_client, tag="ラーメン")
    facets = body["facetDistribution"]
    assert facets["tags"] == everything["tags"]
    assert facets["categories"] == {"グルメ": 2}
    assert facets["year"] == {"2022": 2}
    assert list(facets["tags"]) == sorted(facets["tags"], key=lambda k: -facets["tags"][k])


def test_facet_limit_from_config(make_app, api_index_dir):
    client = make_app(INDEX_DIR=str(api_index_dir), FACET_LIMIT=2).test_client()
    facets = search(client)["facetDistribution"]
    assert facets["tags"] == {"グルメ": 4, "旅行": 3}
    assert all(len(counts) <= 2 for counts in facets.values())


@pytest.mark.parametrize("sort", ["date", "-date"])
def test_sort_parameter(api_client, sort):
    hits = search(api_client, q="京都 OR ラーメン", sort=sort)["hits"]
    instants = [instant(h["date"]) for h in hits]
    assert instants == sorted(instants, reverse=sort == "date")
    assert all(h["score"] is None for h in hits)


def test_relevance_ties_prefer_the_newer_post_over_http(api_client):
    assert hit_ids(api_client, q="ハリネズミ") == [TWIN_NEW, TWIN_OLD]
    assert hit_ids(api_client, q="ハリネズミ", sort="relevance") == [TWIN_NEW, TWIN_OLD]


def test_paging_edges(api_client):
    last = search(api_client, per_page=5, page=3)
    assert len(last["hits"]) == 3 and last["totalPages"] == 3
    beyond = search(api_client, per_page=5, page=4)
    assert beyond["hits"] == []
    assert beyond["totalHits"] == len(POSTS) and beyond["totalPages"] == 3 and beyond["page"] == 4
    assert len(search(api_client, per_page=50)["hits"]) == len(POSTS)
    beyond_query = search(api_client, q="京都", page=2)
    assert beyond_query["hits"] == [] and beyond_query["totalHits"] == 4


def test_empty_query_with_a_filter_browses_newest_first(api_client):
    body = search(api_client, category="日記")
    assert ids(body["hits"]) == [LATE_NIGHT, TWIN_NEW, NEW_YEAR, TWIN_OLD]
    assert body["facetDistribution"]["categories"]["日記"] == 4
    assert body["facetDistribution"]["tags"] == {"動物": 2, "日記": 2, "グルメ": 1}


def test_snippets_over_http_contain_only_marks(api_client):
    for q in ("京都", "温泉", "比較演算子", "python", "onerror", "img", "<img"):
        for hit in search(api_client, q=q)["hits"]:
            assert_only_marks(hit["snippet"])
            assert_only_marks(hit["titleHighlighted"])
    hit = search(api_client, q="onerror")["hits"][0]
    assert hit["title"] == XSS_TITLE
    assert hit["titleHighlighted"] == "&lt;img src=x <mark>onerror</mark>=alert(1)&gt;"
    温泉 = search(api_client, q="温泉")["hits"][0]["snippet"]
    assert parse_markup(温泉).marked == ["温泉", "温泉"]


def test_did_you_mean_over_http(api_client):
    assert search(api_client, q="pyhton")["didYouMean"] == "python"
    assert search(api_client, q="京都")["didYouMean"] is None


def test_json_keeps_japanese_unescaped(api_client):
    raw = api_client.get("/api/search?" + urlencode({"q": "京都"})).get_data(as_text=True)
    assert "京都" in raw and "\\u4eac" not in raw


# --- errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, param",
    [
        ({"sort": "best"}, "sort"),
        ({"sort": "DATE"}, "sort"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "101"}, "page"),
        ({"page": "two"}, "page"),
        ({"per_page": "51"}, "per_page"),
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "1.5"}, "per_page"),
        ({"from": "2024-13-01"}, "from"),
        ({"from": "2024-02-30"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2024/01/01"}, "to"),
        ({"to": "20240101"}, "to"),
        ({"from": "2024-05-02", "to": "2024-05-01"}, "from"),
        ({"month": "13"}, "month"),
        ({"month": "0"}, "month"),
        ({"month": "2024-13"}, "month"),
        ({"month": "July"}, "month"),
        ({"month": "2024-07", "year": "2023"}, "month"),
        ({"year": "abc"}, "year"),
        ({"year": "10000"}, "year"),
        ({"year": "0"}, "year"),
        ({"q": "あ" * 501}, "q"),
        ({"tag": [f"t{i}" for i in range(21)]}, "tag"),
        ({"category": [f"c{i}" for i in range(21)]}, "category"),
    ],
)
def test_bad_parameters_are_400_json_naming_the_parameter(api_client, params, param):
    body = get_json(api_client, "/api/search", params, expect=400)
    error = body["error"]
    assert error["param"] == param
    assert error["code"] and error["message"]
    assert set(error) == {"code", "message", "param"}


def test_query_too_long_has_its_own_code(api_client):
    body = get_json(api_client, "/api/search", {"q": "x" * 501}, expect=400)
    assert body["error"]["code"] == "query_too_long"
    assert search(api_client, q="x" * 500)["totalHits"] == 0


def test_unknown_api_path_is_json_404(api_client):
    body = get_json(api_client, "/api/nope", expect=404)
    assert body["error"]["code"] == "not_found" and body["error"]["message"]


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_wrong_method_is_json_405(api_client, method):
    response = getattr(api_client, method)("/api/search")
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "method_not_allowed"


NASTY = [
    "", " ", "\x00", "\t\n", "%", "%00", "'", '"', "「", "」", "\\", "'; DROP TABLE posts; --",
    "<script>alert(1)</script>", "../../etc/passwd", "-1", "0", "1e3", "0x10", "NaN", "inf",
    "-inf", "9" * 40, "1.5", "１２", "²", "١٢", "Ⅻ", "2024-13-01", "2024-02-30", "0000-00-00",
    "0001-01-01", "9999-12-31", "2024-1-1", "2024-07", "12-2024", "２０２４-０１-０１", "OR",
    "-", "+", "tag:", 'title:"', "*", "?", "~1", "^2", "AND NOT", "()", "🍣" * 10,
    "\u202e\u200b\ufeff", "a\u0301", "x" * 2000, "京都 " * 60, "[]", "{}", "null", "true",
]  # fmt: skip


@pytest.mark.parametrize("param", sorted(SEARCH_PARAMS))
def test_junk_parameters_never_cause_a_server_error(api_client, param):
    failures = []
    for value in NASTY:
        response = api_client.get("/api/search?" + urlencode({param: value}))
        body = response.get_json(silent=True)
        if response.status_code not in (200, 400) or body is None:
            failures.append((value, response.status_code))
        elif response.status_code == 400 and body["error"].get("param") not in SEARCH_PARAMS:
            failures.append((value, body))
    assert failures == []


def test_junk_in_every_parameter_at_once(api_client):
    for value in NASTY:
        response = api_client.get("/api/search?" + urlencode({p: value for p in SEARCH_PARAMS}))
        assert response.status_code in (200, 400), (value, response.status_code)


def test_junk_to_suggest_and_related_never_causes_a_server_error(api_client):
    for value in NASTY:
        response = api_client.get("/api/suggest?" + urlencode({"q": value}))
        assert response.status_code in (200, 400), (value, response.status_code)
        response = api_client.get(f"/api/posts/{quote(value, safe='')}/related")
        assert response.status_code in (404, 308), (value, response.status_code)


# --- /api/suggest ---------------------------------------------------------------


def _suggestions(client, q):
    return get_json(client, "/api/suggest", {"q": q})["suggestions"]


def test_suggest_ascii_prefix_offers_tag_and_titles(api_client):
    found = _suggestions(api_client, "pyt")
    tags = [s for s in found if s["kind"] == "tag"]
    titles = {s["text"] for s in found if s["kind"] == "title"}
    assert [(t["text"], t["count"]) for t in tags] == [("Python", 2)]
    assert titles == {"Python入門", "PythonでWebアプリ"}
    assert all("<mark>Python</mark>" in s["highlighted"] for s in found)
    assert _suggestions(api_client, "PYT") == found


def test_suggest_japanese_prefix(api_client):
    found = _suggestions(api_client, "ラー")
    assert {"kind": "tag", "text": "ラーメン"}.items() <= found[0].items()
    titles = {s["text"] for s in found if s["kind"] == "title"}
    assert titles == {"札幌で味噌ラーメン", "東京の醤油ラーメン"}
    kyoto = [s for s in _suggestions(api_client, "京都") if s["kind"] == "title"]
    assert {s["text"] for s in kyoto} == {"東海道新幹線で京都へ", "京都の散歩", "京都の紅葉と抹茶"}
    for s in kyoto:
        assert parse_markup(s["highlighted"]).marked == ["京都"]
        assert s["url"] and s["id"] in ALL_IDS


def test_suggest_escapes_titles(api_client):
    found = _suggestions(api_client, "onerr")
    assert [s["text"] for s in found] == [XSS_TITLE]
    assert found[0]["highlighted"] == "&lt;img src=x <mark>onerror</mark>=alert(1)&gt;"
    for q in ("img", "<img", "京", "の"):
        for s in _suggestions(api_client, q):
            assert_only_marks(s["highlighted"])


def test_suggest_empty_and_too_long(api_client):
    assert _suggestions(api_client, "") == []
    assert _suggestions(api_client, "   ") == []
    body = get_json(api_client, "/api/suggest", {"q": "x" * 501}, expect=400)
    assert body["error"]["param"] == "q"


def test_suggest_limit_from_config(make_app, api_index_dir):
    client = make_app(INDEX_DIR=str(api_index_dir), SUGGEST_LIMIT=2).test_client()
    assert len(_suggestions(client, "京")) == 2


# --- /api/posts/<id>/related ------------------------------------------------------


@pytest.mark.parametrize("post_id", sorted(POSTS))
def test_related_returns_other_posts_never_itself(api_client, post_id):
    body = get_json(api_client, f"/api/posts/{quote(post_id)}/related")
    assert body["id"] == post_id
    assert post_id not in ids(body["hits"])
    assert set(ids(body["hits"])) <= ALL_IDS
    assert len(body["hits"]) <= 5


def test_related_finds_the_twin(api_client):
    body = get_json(api_client, f"/api/posts/{TWIN_OLD}/related")
    assert ids(body["hits"])[0] == TWIN_NEW


def test_related_unknown_id_is_404_json(api_client):
    body = get_json(api_client, "/api/posts/2099-01-01-nope.md/related", expect=404)
    assert body["error"] == {
        "code": "not_found", "message": body["error"]["message"], "param": "id",
    }  # fmt: skip


def _related_status(client, path):
    response = client.get(path, follow_redirects=True)
    return response.status_code, response.get_json(silent=True)


def test_related_refuses_path_tricks(api_client, api_blog):
    posts_dir, _ = api_blog
    real = KYOTO_TRIP
    tricks = [
        f"/api/posts/../{real}/related",
        f"/api/posts/../../{real}/related",
        "/api/posts/../../etc/passwd/related",
        f"/api/posts/_posts/../{real}/related",
        f"/api/posts/%2e%2e%2f{real}/related",
        f"/api/posts/%2E%2E%2F%2E%2E%2F{real}/related",
        "/api/posts/%2e%2e%2fetc%2fpasswd/related",
        f"/api/posts/..%5c{real}/related",
        f"/api/posts/{real}%00/related",
        f"/api/posts/%00{real}/related",
        f"/api/posts/{real}%00.md/related",
        "/api/posts/%00/related",
        "/api/posts/%2fetc%2fpasswd/related",
        "/api/posts//etc/passwd/related",
        f"/api/posts/{quote(str(posts_dir / real))}/related",
        f"/api/posts/{quote(str(posts_dir / real), safe='')}/related",
        f"/api/posts/file:{quote(str(posts_dir / real))}/related",
        f"/api/posts/{real.upper()}/related",
        f"/api/posts/{real}%20/related",
        f"/api/posts/./{real}/related",
        "/api/posts/" + "a/" * 600 + "related",
    ]
    for path in tricks:
        status, body = _related_status(api_client, path)
        assert status == 404, (path, status)
        assert body is not None and body["error"]["code"] == "not_found", (path, body)


# --- /api/health ------------------------------------------------------------------


def test_health_reports_the_index(api_client, api_index_dir):
    body = get_json(api_client, "/api/health")
    assert body["status"] == "ok"
    assert body["documents"] == len(POSTS)
    assert body["indexVersion"] == (api_index_dir / "CURRENT").read_text().strip()
    assert body["builtAt"].endswith("+00:00")
    assert body["indexVersion"] == search(api_client, q="京都")["indexVersion"]


def test_no_index_is_a_json_503(make_app, tmp_path):
    client = make_app(INDEX_DIR=str(tmp_path / "empty")).test_client()
    for path in ("/api/search?q=x", "/api/health", "/api/suggest?q=x"):
        body = get_json(client, path, expect=503)
        assert body["error"]["code"] == "no_index"


# --- OpenAPI --------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi_doc(api_app):
    response = api_app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _validator(doc: dict, name: str) -> Draft202012Validator:
    resource = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:blogsearch:openapi", resource)
    return Draft202012Validator(
        {"$ref": f"urn:blogsearch:openapi#/components/schemas/{name}"}, registry=registry
    )


def _closed(schema):
    """A copy in which every object with properties allows no other keys."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def _live_responses(client) -> list[tuple[str, str, int, dict]]:
    """(schema name, path, status, body) for a spread of real responses."""
    calls = [
        ("SearchResult", "/api/search?" + urlencode({"q": "京都"}), 200),
        ("SearchResult", "/api/search", 200),
        ("SearchResult", "/api/search?" + urlencode({"q": "pyhton"}), 200),
        ("SearchResult", "/api/search?" + urlencode({"q": "札幌 抹茶"}), 200),
        ("SearchResult", "/api/search?" + urlencode({"q": "onerror", "sort": "date"}), 200),
        ("SearchResult", "/api/search?" + urlencode({"tag": "旅行", "page": 9}), 200),
        ("SearchResult", "/api/search?" + urlencode({"q": "！？"}), 200),
        ("Suggestions", "/api/suggest?" + urlencode({"q": "pyt"}), 200),
        ("Suggestions", "/api/suggest?" + urlencode({"q": "京都"}), 200),
        ("Suggestions", "/api/suggest", 200),
        ("Related", f"/api/posts/{KYOTO_TRIP}/related", 200),
        ("Health", "/api/health", 200),
        ("Error", "/api/search?sort=nope", 400),
        ("Error", "/api/search?" + urlencode({"q": "x" * 501}), 400),
        ("Error", "/api/suggest?" + urlencode({"q": "x" * 501}), 400),
        ("Error", "/api/posts/nope.md/related", 404),
        ("Error", "/api/nope", 404),
    ]
    out = []
    for name, path, status in calls:
        response = client.get(path)
        assert response.status_code == status, (path, response.status_code)
        out.append((name, path, status, response.get_json()))
    response = client.post("/api/search")
    assert response.status_code == 405
    out.append(("Error", "/api/search", 405, response.get_json()))
    return out


def test_openapi_document_is_3_1_with_valid_component_schemas(openapi_doc):
    assert openapi_doc["openapi"].startswith("3.1")
    assert openapi_doc["info"]["title"] and openapi_doc["info"]["version"]
    schemas = openapi_doc["components"]["schemas"]
    assert {"Hit", "SearchResult", "Suggestions", "Related", "Health", "Error"} <= set(schemas)
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)


def test_openapi_paths_match_the_app_routes(openapi_doc, api_app):
    rules = {r.rule.replace("<path:post_id>", "{id}") for r in api_app.url_map.iter_rules()}
    for path in openapi_doc["paths"]:
        assert path in rules, path
    api_rules = {r for r in rules if r.startswith("/api/")}
    assert api_rules <= set(openapi_doc["paths"])


def test_openapi_search_parameters_match_the_api(openapi_doc):
    params = {p["name"]: p for p in openapi_doc["paths"]["/api/search"]["get"]["parameters"]}
    assert set(params) == SEARCH_PARAMS
    limits = QueryLimits()
    assert params["q"]["schema"]["maxLength"] == limits.max_query_chars
    assert params["per_page"]["schema"]["maximum"] == limits.max_per_page
    assert params["page"]["schema"]["maximum"] == limits.max_page
    assert set(params["sort"]["schema"]["enum"]) == {"relevance", "date", "-date"}
    assert params["tag"]["schema"]["type"] == "array"


def test_live_responses_validate_against_the_openapi_schemas(api_client, openapi_doc):
    for name, path, _status, body in _live_responses(api_client):
        errors = list(_validator(openapi_doc, name).iter_errors(body))
        assert errors == [], (path, [e.message for e in errors])


def test_openapi_schemas_declare_every_returned_field(api_client, openapi_doc):
    closed = _closed(openapi_doc)
    for name, path, _status, body in _live_responses(api_client):
        errors = list(_validator(closed, name).iter_errors(body))
        assert errors == [], (path, [e.message for e in errors])


def test_openapi_declares_the_error_statuses_the_api_returns(openapi_doc):
    paths = openapi_doc["paths"]
    assert "400" in paths["/api/search"]["get"]["responses"]
    assert "400" in paths["/api/suggest"]["get"]["responses"]
    assert "404" in paths["/api/posts/{id}/related"]["get"]["responses"]
    assert "503" in paths["/api/health"]["get"]["responses"]


def test_schema_validation_would_catch_a_wrong_response(openapi_doc):
    validator = _validator(openapi_doc, "SearchResult")
    assert not validator.is_valid({"query": "x"})
    health = _validator(openapi_doc, "Health")
    assert not health.is_valid({"status": "ok", "documents": -1, "indexVersion": "v",
                                "builtAt": "t"})  # fmt: skip


# --- CORS -----------------------------------------------------------------------


def test_no_cors_header_by_default(api_client):
    response = api_client.get("/api/search?q=x", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers.get("Vary", "")


def test_configured_origin_is_echoed_others_are_not(make_app, api_index_dir):
    app = make_app(INDEX_DIR=str(api_index_dir), CORS_ORIGINS=["https://blog.example"])
    client = app.test_client()
    ok = client.get("/api/search?q=x", headers={"Origin": "https://blog.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    assert "ETag" in ok.headers.get("Access-Control-Expose-Headers", "")
    assert "Origin" in ok.headers.get("Vary", "")
    other = client.get("/api/search?q=x", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    # Errors carry the header too, so the page can read them.
    bad = client.get("/api/search?page=0", headers={"Origin": "https://blog.example"})
    assert bad.status_code == 400
    assert bad.headers["Access-Control-Allow-Origin"] == "https://blog.example"


def test_wildcard_origin(make_app, api_index_dir):
    client = make_app(INDEX_DIR=str(api_index_dir), CORS_ORIGINS="*").test_client()
    response = client.get("/api/health", headers={"Origin": "https://anywhere.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_preflight_options_is_allowed(make_app, api_index_dir):
    app = make_app(INDEX_DIR=str(api_index_dir), CORS_ORIGINS=["https://blog.example"])
    response = app.test_client().options(
        "/api/search",
        headers={"Origin": "https://blog.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert int(response.headers["Access-Control-Max-Age"]) > 0


# --- caching --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/search?q=%E4%BA%AC%E9%83%BD", "/api/suggest?q=pyt", f"/api/posts/{KYOTO_TRIP}/related"],
)
def test_etag_and_cache_control_with_conditional_get(api_client, path):
    first = api_client.get(path)
    etag = first.headers.get("ETag")
    assert first.status_code == 200 and etag
    cache = first.headers["Cache-Control"]
    assert "public" in cache and "max-age=60" in cache
    again = api_client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers.get("ETag") == etag
    stale = api_client.get(path, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


def test_etag_differs_between_queries(api_client):
    a = api_client.get("/api/search?q=a").headers["ETag"]
    b = api_client.get("/api/search?q=b").headers["ETag"]
    assert a != b


def test_cache_max_age_from_config(make_app, api_index_dir):
    client = make_app(INDEX_DIR=str(api_index_dir), CACHE_MAX_AGE=5).test_client()
    assert "max-age=5" in client.get("/api/search").headers["Cache-Control"]


# --- hot reload -------------------------------------------------------------------


def test_reindex_is_seen_by_the_next_request(make_app, api_fresh_blog):
    posts, index_dir = api_fresh_blog
    client = make_app(INDEX_DIR=str(index_dir)).test_client()
    path = "/api/search?" + urlencode({"q": "カピバラ"})
    before = client.get(path)
    assert before.get_json()["totalHits"] == 0
    health_before = get_json(client, "/api/health")

    add_new_post(posts)
    index_posts(posts, index_dir)

    after = client.get(path, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200  # not 304: the index version changed
    assert after.headers["ETag"] != before.headers["ETag"]
    assert ids(after.get_json()["hits"]) == [NEW_POST]
    health_after = get_json(client, "/api/health")
    assert health_after["indexVersion"] != health_before["indexVersion"]
    assert health_after["documents"] == health_before["documents"] + 1
    assert after.get_json()["indexVersion"] == health_after["indexVersion"]
    related = get_json(client, f"/api/posts/{NEW_POST}/related")
    assert NEW_POST not in ids(related["hits"])


def test_reindex_removing_a_post_is_seen(make_app, api_fresh_blog):
    posts, index_dir = api_fresh_blog
    client = make_app(INDEX_DIR=str(index_dir)).test_client()
    assert TOKYO_RAMEN in hit_ids(client, q="ラーメン")
    (posts / TOKYO_RAMEN).unlink()
    index_posts(posts, index_dir)
    assert hit_ids(client, q="ラーメン") == [SAPPORO_RAMEN]
    get_json(client, f"/api/posts/{TOKYO_RAMEN}/related", expect=404)


# --- configuration ----------------------------------------------------------------


def test_index_dir_from_the_environment(api_clean_env, make_app, api_index_dir):
    api_clean_env.setenv("BLOGSEARCH_INDEX_DIR", str(api_index_dir))
    app = make_app()
    assert Path(app.config["INDEX_DIR"]) == api_index_dir
    assert get_json(app.test_client(), "/api/health")["documents"] == len(POSTS)


def test_toml_config_file(api_clean_env, make_app, api_index_dir, tmp_path):
    config = tmp_path / "blogsearch.toml"
    config.write_text(
        f"index_dir = {json.dumps(str(api_index_dir))}\n"
        'cors_origins = ["https://blog.example"]\n'
        "cache_max_age = 7\n"
        "suggest_limit = 1\n",
        encoding="utf-8",
    )
    api_clean_env.setenv("BLOGSEARCH_CONFIG", str(config))
    client = make_app().test_client()
    assert get_json(client, "/api/health")["documents"] == len(POSTS)
    response = client.get("/api/search", headers={"Origin": "https://blog.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    assert "max-age=7" in response.headers["Cache-Control"]
    assert len(_suggestions(client, "京")) == 1


def test_environment_overrides_the_file_and_arguments_override_both(
    api_clean_env, make_app, api_index_dir, tmp_path
):
    config = tmp_path / "blogsearch.toml"
    config.write_text(
        f"index_dir = {json.dumps(str(tmp_path / 'nowhere'))}\ncache_max_age = 7\n",
        encoding="utf-8",
    )
    api_clean_env.setenv("BLOGSEARCH_CONFIG", str(config))
    api_clean_env.setenv("BLOGSEARCH_INDEX_DIR", str(api_index_dir))
    api_clean_env.setenv("BLOGSEARCH_CACHE_MAX_AGE", "9")
    api_clean_env.setenv("BLOGSEARCH_CORS_ORIGINS", "https://a.example, https://b.example")
    app = make_app()
    client = app.test_client()
    assert get_json(client, "/api/health")["documents"] == len(POSTS)
    response = client.get("/api/search", headers={"Origin": "https://b.example"})
    assert "max-age=9" in response.headers["Cache-Control"]
    assert response.headers["Access-Control-Allow-Origin"] == "https://b.example"
    assert make_app(CACHE_MAX_AGE=3).config["CACHE_MAX_AGE"] == 3


def test_wildcard_cors_from_the_environment(api_clean_env, make_app, api_index_dir):
    api_clean_env.setenv("BLOGSEARCH_INDEX_DIR", str(api_index_dir))
    api_clean_env.setenv("BLOGSEARCH_CORS_ORIGINS", "*")
    client = make_app().test_client()
    response = client.get("/api/health", headers={"Origin": "https://x.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
