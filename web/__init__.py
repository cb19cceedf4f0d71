"""The Flask app: the JSON API, the search page and the widget.

Production::

    gunicorn --preload -w 2 -b 127.0.0.1:8000 'web:create_app()'

``--preload`` builds the app once in the master: Janome's dictionary, the
name reader and the current index version (its doc table, speller and name
lookups) are loaded before the fork and shared by the workers copy-on-write
(``gc.freeze()`` keeps the collector from touching those pages); the
segment files themselves are read from the page cache (``search/mapped.py``).
Each worker watches for new versions in a thread of its own.
"""

from __future__ import annotations

import gc
from typing import Any

from flask import Flask

from search.analysis import load_tokenizers
from search.names import transliterator
from search.query import SearchEngine

from .config import limits_from, load_config

# How often a worker looks for a newly published index version (one stat).
VERSION_CHECK_SECONDS = 1.0


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
    engine = app.extensions["blogsearch"]
    load_tokenizers()  # load the dictionary before a pre-fork server forks
    transliterator().load()  # and the name reader (a query may be a new name)
    try:
        engine.open()  # and the index, so that no worker's first reader waits
    except Exception:  # a damaged index: requests report it (and retry)
        app.logger.exception("could not open the index in %s", app.config["INDEX_DIR"])
    engine.watch(VERSION_CHECK_SECONDS)

    from . import admin, api, pages

    _rate_limit(app, api.bp, admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(pages.bp)
    # What was built so far lives as long as the app: out of the collector's
    # sight, a worker's collections do not write to (and so copy) those pages.
    gc.freeze()
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
