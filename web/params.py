"""Request parameters to a :class:`SearchRequest`, with errors that name them."""

from __future__ import annotations

import re
from datetime import date

from werkzeug.datastructures import MultiDict

from search.query import QueryError, SearchRequest

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _int(args: MultiDict, name: str, default: int | None) -> int | None:
    raw = args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise QueryError(name, f"{name} must be a whole number, not {raw[:40]!r}") from None


def _day(args: MultiDict, name: str) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if _DAY.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise QueryError(name, f"{name} must be a date as YYYY-MM-DD, not {raw[:40]!r}")


def _month(args: MultiDict) -> tuple[int | None, int | None]:
    """``month`` is 1-12, or YYYY-MM (which also sets the year)."""
    raw = (args.get("month") or "").strip()
    if not raw:
        return None, None
    m = re.match(r"^(\d{4})-(\d{1,2})$", raw)
    if m:
        return int(m.group(1)), int(m.group(2))
    if raw.isdigit():
        try:
            return None, int(raw)
        except ValueError:  # isdigit() also accepts "²", which int() refuses
            pass
    raise QueryError("month", f"month must be 1-12 or YYYY-MM, not {raw[:40]!r}")


def search_request(args: MultiDict) -> SearchRequest:
    """Parse ``/api/search`` (and ``/search``) query parameters."""
    year_from_month, month = _month(args)
    year = _int(args, "year", None)
    if year_from_month is not None:
        if year is not None and year != year_from_month:
            raise QueryError("month", "month YYYY-MM disagrees with year")
        year = year_from_month
    if year is not None and not 1 <= year <= 9999:
        raise QueryError("year", "year must be between 1 and 9999")
    return SearchRequest(
        q=args.get("q", ""),
        tags=[t for t in args.getlist("tag") if t.strip()],
        categories=[c for c in args.getlist("category") if c.strip()],
        date_from=_day(args, "from"),
        date_to=_day(args, "to"),
        year=year,
        month=month,
        sort=(args.get("sort") or "relevance").strip(),
        page=_int(args, "page", 1) or 0,
        per_page=_int(args, "per_page", 10) or 0,
    )
