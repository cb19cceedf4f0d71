"""The Flask app: the JSON API, the search page and the widget.

Production::

    gunicorn --preload -w 2 -b 127.0.0.1:8000 'web:create_app()'

``--preload`` loads Janome's dictionary once in the master, shared by the
workers through the page cache; each worker opens its index searcher lazily
on its first request, after the fork.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from search.analysis import load_tokenizers
from search.names import transliterator
from search.query import SearchEngine

from .config import limits_from, load_config


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; *config* overrides the file and environment settings."""
    app = Flask(__name__)
    app.config.update(load_config(config))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["blogsearch"] = SearchEngine(
        app.config["INDEX_DIR"],
        limits=limits_from(app.config),
        synonyms=app.config.get("SYNONYMS_FILE") or None,
        use_loanwords=bool(app.config["LOANWORDS"]),
    )
    load_tokenizers()  # load the dictionary before a pre-fork server forks
    transliterator().load()  # and the name reader (a query may be a new name)

    from . import admin, api, pages

    _rate_limit(app, api.bp, admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(pages.bp)
    return app


def _rate_limit(app: Flask, *blueprints) -> None:
    """Per-client-IP limits on the API, answered with JSON 429 and Retry-After."""
    limits = (app.config.get("RATE_LIMIT") or "").strip()
    if not limits:
        return
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    limiter = Limiter(
        get_remote_address,
        app=app,
        default_limits=[],
        storage_uri=app.config["RATE_LIMIT_STORAGE_URI"],
        headers_enabled=True,  # Retry-After and X-RateLimit-* on responses
    )
    for blueprint in blueprints:
        limiter.limit(limits)(blueprint)
    app.extensions["blogsearch_limiter"] = limiter
