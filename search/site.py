"""Site settings (time zone, permalinks, base URL) and Jekyll's URL rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

DEFAULT_TIMEZONE = "Asia/Tokyo"
DEFAULT_PERMALINK = "date"
DEFAULT_MAX_CHARS = 1_000_000

# Jekyll's built-in permalink styles.
PERMALINK_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}


class SiteConfigError(ValueError):
    """A setting that cannot be used (unknown time zone, unreadable config)."""


@dataclass(frozen=True)
class SiteConfig:
    """What the loader needs to know about the blog as a whole."""

    timezone: str = DEFAULT_TIMEZONE
    permalink: str = DEFAULT_PERMALINK
    baseurl: str = ""
    # Jekyll's ``url`` (https://blog.example.com): with it, post URLs are
    # absolute, so a search served from another host links to the blog.
    url: str = ""
    max_chars: int = DEFAULT_MAX_CHARS
    tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.url and not re.match(r"https?://[^/\s]+(/\S*)?$", self.url):
            raise SiteConfigError(f"site url {self.url!r} is not an http(s) URL")
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SiteConfigError(f"unknown time zone {self.timezone!r}") from exc
        object.__setattr__(self, "tz", tz)

    def fingerprint(self) -> str:
        """Changes whenever a setting that changes indexed values changes."""
        return f"{self.timezone}|{self.permalink}|{self.url}|{self.baseurl}|{self.max_chars}"


def find_jekyll_config(posts_dir: Path) -> Path | None:
    """The ``_config.yml`` of the site that *posts_dir* belongs to, if any."""
    for parent in [posts_dir, *posts_dir.resolve().parents][:4]:
        for name in ("_config.yml", "_config.yaml"):
            candidate = parent / name
            if candidate.is_file():
                return candidate
    return None


def load_site_config(posts_dir: Path, **overrides: Any) -> SiteConfig:
    """Settings from the blog's ``_config.yml``, then *overrides* (None = unset)."""
    values: dict[str, Any] = {}
    config_path = find_jekyll_config(posts_dir)
    if config_path is not None:
        try:
            data = yaml.safe_load(config_path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise SiteConfigError(f"cannot read {config_path}: {exc}") from exc
        if isinstance(data, dict):
            for key in ("timezone", "permalink", "baseurl", "url"):
                if isinstance(data.get(key), str) and data[key].strip():
                    values[key] = data[key].strip()
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = SiteConfig()
    return replace(config, **values) if values else config


# --- URLs -------------------------------------------------------------------

_PLACEHOLDER = re.compile(r":([a-z_]+)")
# Characters Jekyll's URL.escape_path leaves alone.
_URL_SAFE = "-._~!$&'()*+,;=:@/"


def slugify(text: str, mode: str = "default", cased: bool = False) -> str:
    """Jekyll's ``Utils.slugify`` in its ``default`` and ``pretty`` modes.

    Letters and digits of any script are kept (Ruby's ``[[:alnum:]]``), so a
    Japanese category stays Japanese and is percent-encoded in the URL.
    """
    if mode == "pretty":
        pattern = r"[^\w._~!$&'()+,;=@]+"
    else:
        pattern = r"[^\w]+"
    slug = re.sub(pattern, "-", text).replace("_", "-" if mode == "default" else "_")
    slug = slug.strip("-")
    return slug if cased else slug.lower()


def _placeholders(date: datetime, slug: str, categories: list[str]) -> dict[str, str]:
    unique: list[str] = []
    for c in categories:
        if c.lower() not in unique:
            unique.append(c.lower())
    slugged: list[str] = []
    for c in categories:
        s = slugify(c)
        if s and s not in slugged:
            slugged.append(s)
    title = slugify(slug, mode="pretty", cased=True)
    iso_year, iso_week, iso_day = date.isocalendar()
    return {
        "year": f"{date.year:04d}",
        "short_year": date.strftime("%y"),
        "month": f"{date.month:02d}",
        "i_month": str(date.month),
        "short_month": date.strftime("%b"),
        "long_month": date.strftime("%B"),
        "day": f"{date.day:02d}",
        "i_day": str(date.day),
        "y_day": date.strftime("%j"),
        "w_year": str(iso_year),
        "week": f"{iso_week:02d}",
        "w_day": str(iso_day),
        "short_day": date.strftime("%a"),
        "long_day": date.strftime("%A"),
        "hour": date.strftime("%H"),
        "minute": date.strftime("%M"),
        "second": date.strftime("%S"),
        "title": title,
        "slug": slugify(slug),
        "name": slugify(slug),
        "categories": "/".join(unique),
        "slugified_categories": "/".join(slugged),
        "output_ext": ".html",
    }


def post_url(
    site: SiteConfig,
    date: datetime,
    slug: str,
    categories: list[str],
    permalink: str | None = None,
) -> str:
    """The URL Jekyll gives a post, including the site's ``baseurl``; absolute
    when the site's ``url`` is known.

    The date is taken in the site's time zone, as Jekyll renders it.
    """
    template = permalink or PERMALINK_STYLES.get(site.permalink, site.permalink)
    values = _placeholders(date.astimezone(site.tz), slug, categories)

    def fill(m: re.Match[str]) -> str:
        value = values.get(m.group(1))
        if value is None:
            return m.group(0)  # not a placeholder: keep the text as written
        return quote(value, safe=_URL_SAFE)

    path = _PLACEHOLDER.sub(fill, template)
    path = re.sub(r"/\.+/", "/", "/" + path)
    path = re.sub(r"/{2,}", "/", path)
    base = site.baseurl.rstrip("/")
    if base.startswith(("http://", "https://")):
        return base + path
    if base:
        base = "/" + base.lstrip("/")
    return site.url.rstrip("/") + base + path
