"""The Flask app: the JSON API (and, later, the search page and widget).

Production::

    gunicorn --preload -w 2 -b 127.0.0.1:8000 'web:create_app()'

``--preload`` loads Janome's dictionary once in the master, shared by the
workers through the page cache; each worker opens its index searcher lazily
on its first request, after the fork.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from search.analysis import janome_tokenizer
from search.query import SearchEngine

from .config import limits_from, load_config


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; *config* overrides the file and environment settings."""
    app = Flask(__name__)
    app.config.update(load_config(config))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["blogsearch"] = SearchEngine(
        app.config["INDEX_DIR"], limits=limits_from(app.config)
    )
    janome_tokenizer()  # load the dictionary before a pre-fork server forks

    from . import api

    app.register_blueprint(api.bp)
    return app
