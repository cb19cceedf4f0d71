"""The server-rendered search page (``/search``) and the widget demo page.

The page works without JavaScript: the whole state is in the URL and every
control is a link or a GET form. ``static/search-page.js`` only makes the
facet form submit itself.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from search.query import QueryError, SearchEngine, SearchRequest, SearchResult
from search.store import NoIndex

from .messages import translate
from .params import search_request

bp = Blueprint("pages", __name__)

# Parameters that make up the page's state, in URL order.
STATE_KEYS = ("q", "tag", "category", "year", "month", "from", "to", "sort", "page")


def engine() -> SearchEngine:
    return current_app.extensions["blogsearch"]


def state_url(args: MultiDict, drop: tuple[tuple[str, str | None], ...] = (), **changes) -> str:
    """``/search`` with the current state, minus *drop* pairs, plus *changes*.

    ``drop`` entries are ``(key, value)``; a value of None drops every value
    of the key. Any change resets paging unless ``page`` is given.
    """
    pairs: list[tuple[str, str]] = []
    for key in STATE_KEYS:
        for value in args.getlist(key):
            if not value or (key, value) in drop or (key, None) in drop:
                continue
            if key == "page" or key in changes:
                continue
            pairs.append((key, value))
    for key, value in changes.items():
        if value is None or value == "":
            continue
        values = value if isinstance(value, list) else [value]
        pairs += [(key, str(v)) for v in values]
    query = urlencode(pairs)
    return url_for("pages.search") + (f"?{query}" if query else "")


def add_value_url(args: MultiDict, key: str, value: str) -> str:
    """The state with one more value of a repeatable filter."""
    return state_url(args, **{key: [*args.getlist(key), value]})


def display_date(iso: str, tz) -> str:
    """``2025年12月9日`` in the site's time zone."""
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        return iso[:10]
    if dt.tzinfo is not None and tz is not None:
        dt = dt.astimezone(tz)
    return translate("date_format", year=dt.year, month=dt.month, day=dt.day)


@bp.app_template_global()
def t(key: str, **values: object) -> str:
    return translate(key, **values)


@bp.get("/")
def index():
    return redirect(url_for("pages.search"))


@bp.get("/search")
def search():
    args = request.args
    result: SearchResult | None = None
    error: QueryError | None = None
    status = 200
    try:
        req = search_request(args)
        result = engine().search(req)
    except QueryError as exc:
        error, status = exc, 400
        req = None
    except NoIndex:
        error, status = QueryError("q", translate("no_index"), "no_index"), 503
        req = None
    filters_active = bool(
        req and (req.tags or req.categories or req.year or req.month or req.date_from
                 or req.date_to)
    )  # fmt: skip
    popular_tags: list[tuple[str, int]] = []
    tz = None
    if result is not None:
        tz = engine().timezone()
        if not args.get("q") and not filters_active:
            popular_tags = engine().popular_tags(limit=20)
    html = render_template(
        "search.html",
        args=args,
        req=req,
        result=result,
        error=error,
        filters_active=filters_active,
        popular_tags=popular_tags,
        state_url=state_url,
        add_value_url=add_value_url,
        display_date=lambda iso: display_date(iso, tz),
    )
    return html, status


@bp.get("/demo")
def demo():
    """A fake blog page with the widget embedded, for trying it out."""
    api = current_app.config.get("DEMO_API_URL") or request.host_url.rstrip("/")
    # The newest post, with the widget's related posts under it.
    try:
        newest = engine().search(SearchRequest(sort="date", per_page=1)).hits
    except NoIndex:
        newest = []
    return render_template("demo.html", api=api, post=newest[0] if newest else None)


@bp.after_app_request
def _security_headers(response):
    """Headers for every HTML page: no inline script, no framing, no sniffing."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/html":
        sources = ["'self'", *current_app.config.get("CSP_CONNECT_SRC", [])]
        demo_api = current_app.config.get("DEMO_API_URL")
        if demo_api:
            parts = urlsplit(demo_api)
            sources.append(f"{parts.scheme}://{parts.netloc}")
        connect = " ".join(dict.fromkeys(sources))
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'; object-src 'none'"
        )
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["X-Frame-Options"] = "DENY"
    return response
