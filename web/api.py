"""The JSON API: ``/api/search``, ``/api/suggest``, related posts, health."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from search.query import QueryError, SearchEngine
from search.store import NoIndex

from .openapi import openapi_document
from .params import search_request

bp = Blueprint("api", __name__, url_prefix="/api")


def engine() -> SearchEngine:
    return current_app.extensions["blogsearch"]


def error(status: int, code: str, message: str, param: str | None = None):
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if param is not None:
        body["error"]["param"] = param
    response = jsonify(body)
    response.status_code = status
    return response


@bp.errorhandler(QueryError)
def _bad_parameter(exc: QueryError):
    return error(400, exc.code, exc.message, exc.param)


@bp.errorhandler(NoIndex)
def _no_index(exc: NoIndex):
    return error(503, "no_index", str(exc))


def _cached(payload: dict[str, Any], version: str | None):
    """JSON with an ETag tied to the index version and this request."""
    tag = hashlib.blake2b(f"{version}|{request.full_path}".encode(), digest_size=12).hexdigest()
    response = jsonify(payload)
    response.set_etag(tag)
    response.cache_control.public = True
    response.cache_control.max_age = int(current_app.config["CACHE_MAX_AGE"])
    return response.make_conditional(request)


@bp.get("/search")
def search():
    result = engine().search(search_request(request.args))
    return _cached(result.to_dict(), result.version)


@bp.get("/suggest")
def suggest():
    q = request.args.get("q", "")
    limit = int(current_app.config["SUGGEST_LIMIT"])
    max_chars = int(current_app.config["MAX_QUERY_CHARS"])
    if len(q) > max_chars:
        raise QueryError("q", f"query is longer than {max_chars} characters", "query_too_long")
    items = engine().suggest(q, limit=limit)
    payload = {
        "query": q,
        "suggestions": [{k: v for k, v in vars(s).items() if v is not None} for s in items],
    }
    return _cached(payload, engine().version()["version"])


@bp.get("/posts/<path:post_id>/related")
def related(post_id: str):
    if "\x00" in post_id or len(post_id) > 1000:
        return error(404, "not_found", "no such post", "id")
    try:
        hits = engine().related(post_id, limit=int(current_app.config["RELATED_LIMIT"]))
    except KeyError:
        return error(404, "not_found", f"no post with id {post_id!r}", "id")
    version = engine().version()["version"]
    return _cached({"id": post_id, "hits": [h.to_dict() for h in hits]}, version)


@bp.get("/health")
def health():
    info = engine().version()
    return jsonify(
        {
            "status": "ok",
            "documents": info["documents"],
            "indexVersion": info["version"],
            "builtAt": info["builtAt"],
        }
    )


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    """JSON errors under /api/; the default pages elsewhere."""
    if not request.path.startswith("/api/"):
        return exc
    code = {404: "not_found", 405: "method_not_allowed", 429: "rate_limited"}.get(
        exc.code or 500, "http_error"
    )
    response = error(exc.code or 500, code, exc.description or exc.name)
    if exc.response is not None:  # e.g. flask-limiter's Retry-After
        for name in ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                     "X-RateLimit-Reset"):  # fmt: skip
            if name in exc.response.headers:
                response.headers[name] = exc.response.headers[name]
    return response


@bp.after_app_request
def _cors(response):
    """CORS for the static blog on another origin (origins from config)."""
    if not request.path.startswith("/api/"):
        return response
    allowed = current_app.config["CORS_ORIGINS"]
    origin = request.headers.get("Origin")
    if origin and (allowed == "*" or origin in (allowed or [])):
        response.headers["Access-Control-Allow-Origin"] = "*" if allowed == "*" else origin
        response.headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        response.headers["Access-Control-Expose-Headers"] = "ETag"
    if allowed != "*":
        response.vary.add("Origin")
    return response
