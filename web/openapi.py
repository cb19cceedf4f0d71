"""The OpenAPI 3.1 description of the JSON API (served at ``/api/openapi.json``).

Tests validate live responses against the schemas below, so this document
is kept true by the suite rather than by hand.
"""

from __future__ import annotations

from typing import Any

from search import __version__

_STR = {"type": "string"}
_STR_LIST = {"type": "array", "items": _STR}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}


def _param(name: str, description: str, schema: dict, repeat: bool = False) -> dict:
    p: dict[str, Any] = {"name": name, "in": "query", "description": description}
    if repeat:
        p.update(schema={"type": "array", "items": schema}, style="form", explode=True)
    else:
        p["schema"] = schema
    return p


HIT = {
    "type": "object",
    "required": ["id", "url", "title", "titleHighlighted", "date", "tags", "categories",
                 "author", "excerpt", "snippet", "score"],
    "properties": {
        "id": {**_STR, "description": "Path of the post file relative to the posts folder."},
        "url": _STR,
        "title": _STR,
        "titleHighlighted": {**_STR, "description": "HTML-escaped title; matches in <mark>."},
        "date": {**_STR, "description": "ISO 8601 with offset, as written in the post."},
        "tags": _STR_LIST,
        "categories": _STR_LIST,
        "author": _STR,
        "excerpt": _STR,
        "snippet": {**_STR, "description": "HTML-escaped text; only <mark> is markup."},
        "score": {"type": ["number", "null"]},
    },
}  # fmt: skip

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": _STR, "message": _STR, "param": _STR},
        }
    },
}

SEARCH_RESULT = {
    "type": "object",
    "required": ["query", "hits", "totalHits", "page", "hitsPerPage", "totalPages",
                 "facetDistribution", "relaxed", "unmatchedWords", "matchedWords",
                 "respelledWords", "didYouMean", "processingTimeMs"],
    "properties": {
        "query": _STR,
        "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
        "totalHits": {"type": "integer", "minimum": 0},
        "page": {"type": "integer", "minimum": 1},
        "hitsPerPage": {"type": "integer", "minimum": 1},
        "totalPages": {"type": "integer", "minimum": 0},
        "facetDistribution": {
            "type": "object",
            "required": ["tags", "categories", "year", "month"],
            "properties": {k: _COUNTS for k in ("tags", "categories", "year", "month")},
        },
        "relaxed": {"type": "boolean",
                    "description": "True when no post had enough of the query words, so "
                                   "fewer were required: the hits have only some of them."},
        "unmatchedWords": {"type": "array", "items": _STR,
                           "description": "Query words (as typed) that no post contains."},
        "matchedWords": {"type": "array", "items": _STR,
                         "description": "Query words (as typed) that the hits contain."},
        "respelledWords": {
            "type": "array",
            "description": "Query words no hit has as typed, found only as a name written in "
                           "the other script (パイトーチ as PyTorch): not a confident match.",
            "items": {"type": "object", "required": ["word", "as"],
                      "properties": {"word": _STR, "as": {"type": "array", "items": _STR}}},
        },
        "didYouMean": {"type": ["string", "null"]},
        "processingTimeMs": {"type": "number", "minimum": 0},
        "indexVersion": {"type": ["string", "null"]},
    },
}  # fmt: skip

SUGGESTIONS = {
    "type": "object",
    "required": ["query", "suggestions"],
    "properties": {
        "query": _STR,
        "suggestions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kind", "text", "highlighted"],
                "properties": {
                    "kind": {"enum": ["title", "tag"]},
                    "text": _STR,
                    "highlighted": _STR,
                    "url": _STR,
                    "id": _STR,
                    "count": {"type": "integer"},
                },
            },
        },
    },
}

RELATED = {
    "type": "object",
    "required": ["id", "hits"],
    "properties": {
        "id": _STR,
        "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
    },
}

HEALTH = {
    "type": "object",
    "required": ["status", "documents", "indexVersion", "builtAt"],
    "properties": {
        "status": {"enum": ["ok"]},
        "documents": {"type": "integer", "minimum": 0},
        "indexVersion": _STR,
        "builtAt": _STR,
    },
}


REINDEX_STARTED = {
    "type": "object",
    "required": ["state", "full", "status"],
    "properties": {"state": {"enum": ["started"]}, "full": {"type": "boolean"}, "status": _STR},
}

REINDEX_STATUS = {
    "type": "object",
    "required": ["state"],
    "properties": {
        "state": {"enum": ["idle", "running", "done", "failed"]},
        "full": {"type": "boolean"},
        "startedAt": {"type": "number"},
        "finishedAt": {"type": "number"},
        "version": {"type": ["string", "null"]},
        "documents": {"type": "integer"},
        "added": {"type": "integer"},
        "updated": {"type": "integer"},
        "deleted": {"type": "integer"},
        "skipped": {"type": "integer"},
        "warnings": {"type": "integer"},
        "seconds": {"type": "number"},
        "error": _STR,
    },
}


def _json(ref: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


_ERRORS = {
    "400": _json("Error", "A parameter is invalid; `error.param` names it."),
    "503": _json("Error", "No index has been built yet."),
}


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    search_params = [
        _param("q", "Query: words, \"phrases\" or 「フレーズ」, OR, -exclude, +require, "
               "tag:X, category:X, title:X. Empty with filters browses.",
               {"type": "string", "maxLength": 500}),
        _param("tag", "Only posts with one of these tags.", _STR, repeat=True),
        _param("category", "Only posts in one of these categories.", _STR, repeat=True),
        _param("from", "First day (inclusive, site time zone).", {"type": "string",
               "format": "date"}),
        _param("to", "Last day (inclusive, site time zone).", {"type": "string",
               "format": "date"}),
        _param("year", "Only posts of this year.", {"type": "integer"}),
        _param("month", "1-12 (with year) or YYYY-MM.", _STR),
        _param("sort", "relevance (default), date (newest first) or -date (oldest first).",
               {"enum": ["relevance", "date", "-date"]}),
        _param("page", "1-based page number.", {"type": "integer", "minimum": 1,
               "maximum": 100}),
        _param("per_page", "Hits per page.", {"type": "integer", "minimum": 1,
               "maximum": 50}),
    ]  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "blogsearch API",
            "version": __version__,
            "description": "Search over a Japanese Jekyll blog.",
        },
        "paths": {
            "/api/search": {
                "get": {
                    "summary": "Ranked, highlighted, faceted search",
                    "parameters": search_params,
                    "responses": {"200": _json("SearchResult", "One page of hits."), **_ERRORS},
                }
            },
            "/api/suggest": {
                "get": {
                    "summary": "Titles and tags for search-as-you-type",
                    "parameters": [_param("q", "What has been typed so far.", _STR)],
                    "responses": {"200": _json("Suggestions", "Completions."), **_ERRORS},
                }
            },
            "/api/posts/{id}/related": {
                "get": {
                    "summary": "Posts related to one post",
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": _STR,
                            "description": "The post's id (its file path).",
                        }
                    ],
                    "responses": {
                        "200": _json("Related", "Related posts."),
                        "404": _json("Error", "No post with that id."),
                        **_ERRORS,
                    },
                }  # fmt: skip
            },
            "/api/health": {
                "get": {
                    "summary": "Index status",
                    "responses": {"200": _json("Health", "The index in use."), **_ERRORS},
                }
            },
            "/api/reindex": {
                "post": {
                    "summary": "Rebuild the index in the background (deploy hook)",
                    "description": "Only when the server has an ADMIN_TOKEN; 404 otherwise.",
                    "security": [{"bearer": []}],
                    "parameters": [_param("full", "Rebuild everything (true/false).", _STR)],
                    "responses": {
                        "202": _json("ReindexStarted", "The rebuild started."),
                        "401": _json("Error", "Missing or wrong token."),
                        "404": _json("Error", "Reindexing over HTTP is not enabled."),
                        "409": _json("Error", "Another indexer is running."),
                        "503": _json("Error", "POSTS_DIR is not configured."),
                    },
                },
                "get": {
                    "summary": "Status of the last rebuild started over HTTP",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _json("ReindexStatus", "idle, running, done or failed."),
                        "401": _json("Error", "Missing or wrong token."),
                        "404": _json("Error", "Reindexing over HTTP is not enabled."),
                    },
                },
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1 document."}},
                }
            },
        },
        "components": {
            "schemas": {
                "Hit": HIT,
                "SearchResult": SEARCH_RESULT,
                "Suggestions": SUGGESTIONS,
                "Related": RELATED,
                "Health": HEALTH,
                "Error": ERROR,
                "ReindexStarted": REINDEX_STARTED,
                "ReindexStatus": REINDEX_STATUS,
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
