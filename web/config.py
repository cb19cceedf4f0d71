"""Settings of the web app: defaults, a config file, then the environment.

Every key can be set in a TOML file named by ``BLOGSEARCH_CONFIG`` and
overridden by an environment variable ``BLOGSEARCH_<KEY>`` (for example
``BLOGSEARCH_INDEX_DIR``, ``BLOGSEARCH_CORS_ORIGINS="https://blog.example"``).
"""

from __future__ import annotations

import json
import os
import tomllib
from typing import Any

from search.query import QueryLimits

DEFAULTS: dict[str, Any] = {
    "INDEX_DIR": "index",
    # Origins allowed to call the API from a browser: a list, or "*".
    "CORS_ORIGINS": [],
    # Extra origins the pages may fetch from (CSP connect-src), e.g. an API
    # on another origin used by the widget on /demo: a list.
    "CSP_CONNECT_SRC": [],
    # The API the widget on /demo calls; empty means this server.
    "DEMO_API_URL": "",
    # Seconds browsers and CDNs may reuse a response for the same index version.
    "CACHE_MAX_AGE": 60,
    "MAX_QUERY_CHARS": QueryLimits.max_query_chars,
    "MAX_WORDS": QueryLimits.max_words,
    "MAX_PER_PAGE": QueryLimits.max_per_page,
    "MAX_PAGE": QueryLimits.max_page,
    "FACET_LIMIT": QueryLimits.facet_limit,
    "SUGGEST_LIMIT": 8,
    "RELATED_LIMIT": 5,
    # Requests per client IP to /api/* (flask-limiter syntax; "" turns it off).
    "RATE_LIMIT": "600 per minute;30 per second",
    # Where the counters live: memory:// per process, or redis://host:6379.
    "RATE_LIMIT_STORAGE_URI": "memory://",
    # Set to enable POST /api/reindex (a deploy hook); POSTS_DIR is what it indexes.
    "ADMIN_TOKEN": "",
    # Solr-format synonyms applied at query time (re-read when it changes).
    "SYNONYMS_FILE": "",
    # Search the English form of a katakana loanword softly (search/loanwords.txt).
    "LOANWORDS": True,
    "POSTS_DIR": "",
}


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """DEFAULTS, then the TOML file in $BLOGSEARCH_CONFIG, then env, then *overrides*."""
    config = dict(DEFAULTS)
    path = os.environ.get("BLOGSEARCH_CONFIG")
    if path:
        with open(path, "rb") as f:
            config.update({k.upper(): v for k, v in tomllib.load(f).items()})
    for key, default in DEFAULTS.items():
        raw = os.environ.get(f"BLOGSEARCH_{key}")
        if raw is not None:
            config[key] = _parse_env(raw, default)
    config.update(overrides or {})
    return config


def _parse_env(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, list):
        raw = raw.strip()
        if raw == "*":
            return "*"
        if raw.startswith("["):
            return json.loads(raw)
        return [v.strip() for v in raw.split(",") if v.strip()]
    return raw


def limits_from(config: dict[str, Any]) -> QueryLimits:
    return QueryLimits(
        max_query_chars=int(config["MAX_QUERY_CHARS"]),
        max_words=int(config["MAX_WORDS"]),
        max_per_page=int(config["MAX_PER_PAGE"]),
        max_page=int(config["MAX_PAGE"]),
        facet_limit=int(config["FACET_LIMIT"]),
    )
