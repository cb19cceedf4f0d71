"""``POST /api/reindex``: a deploy hook that rebuilds the index in the background.

Off unless ``ADMIN_TOKEN`` (``BLOGSEARCH_ADMIN_TOKEN``) is set; then it takes
``Authorization: Bearer <token>``, compared in constant time. The rebuild
takes the same lock as ``blogsearch index``, so the two never write at once.
Its status lives in a file next to the index, so every worker sees it.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from search.indexer import build_index
from search.site import SiteConfigError, load_site_config
from search.store import IndexLocked, IndexStore

from .api import error

bp = Blueprint("admin", __name__, url_prefix="/api")
STATUS_FILE = "reindex-status.json"


def _authorized() -> bool:
    token = current_app.config.get("ADMIN_TOKEN") or ""
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


def _status_path() -> Path:
    return Path(current_app.config["INDEX_DIR"]) / STATUS_FILE


def _write_status(path: Path, status: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def _run(posts_dir: Path, index_dir: Path, full: bool, status_path: Path) -> None:
    status: dict[str, Any] = {"state": "running", "startedAt": time.time(), "full": full}
    _write_status(status_path, status)
    try:
        site = load_site_config(posts_dir)
        report = build_index(posts_dir, index_dir, site, full=full, lock_wait=0)
    except IndexLocked as exc:
        status.update(state="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - reported through the status file
        status.update(state="failed", error=f"{type(exc).__name__}: {exc}")
    else:
        status.update(
            state="done", version=report.version, documents=report.documents,
            added=report.added, updated=report.updated, deleted=report.deleted,
            skipped=len(report.skipped), warnings=len(report.warnings),
            seconds=round(report.seconds, 2),
        )  # fmt: skip
    status["finishedAt"] = time.time()
    _write_status(status_path, status)


@bp.before_request
def _guard():
    if not current_app.config.get("ADMIN_TOKEN"):
        return error(404, "not_found", "reindexing over HTTP is not enabled")
    if not _authorized():
        response = error(401, "unauthorized", "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return None


@bp.post("/reindex")
def reindex():
    posts = current_app.config.get("POSTS_DIR")
    if not posts or not Path(posts).is_dir():
        return error(503, "not_configured", "POSTS_DIR is not set to a folder", "POSTS_DIR")
    index_dir = Path(current_app.config["INDEX_DIR"])
    store = IndexStore(index_dir)
    try:
        with store.lock(wait=0):
            pass  # only a probe: the job takes the lock itself
    except IndexLocked as exc:
        return error(409, "busy", str(exc))
    try:
        load_site_config(Path(posts))
    except SiteConfigError as exc:
        return error(503, "not_configured", str(exc), "POSTS_DIR")
    full = request.args.get("full", "").lower() in ("1", "true", "yes")
    status_path = _status_path()
    thread = threading.Thread(
        target=_run, args=(Path(posts), index_dir, full, status_path), daemon=True
    )
    thread.start()
    return jsonify({"state": "started", "full": full, "status": "/api/reindex"}), 202


@bp.get("/reindex")
def reindex_status():
    try:
        status = json.loads(_status_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {"state": "idle"}
    return jsonify(status)
