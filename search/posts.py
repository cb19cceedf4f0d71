"""Reading a Jekyll ``_posts`` folder into :class:`Post` values.

Every file is untrusted: a post that cannot be read is reported as a
:class:`Problem` naming the file and the reason, and loading goes on with the
next one. Nothing in here raises for bad input.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from .markup import markdown_to_text
from .site import SiteConfig, post_url

POST_EXTENSIONS = (".md", ".markdown", ".mkdown", ".mkd")
_FILENAME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-(.+)$")
_TEXT_KEYS = ("title", "excerpt", "author", "slug", "permalink")
_MAX_LIST_VALUES = 100
_MAX_VALUE_CHARS = 200


@dataclass
class Problem:
    """Something wrong with one file. ``skip`` problems keep it out of the index."""

    path: str
    level: str  # "warning" or "skip"
    message: str

    def __str__(self) -> str:
        return f"{'skip' if self.level == 'skip' else 'warning'} {self.path}: {self.message}"


@dataclass
class Post:
    """One blog post, as the indexer sees it."""

    id: str  # path relative to the posts folder, with "/" separators
    url: str
    title: str
    date: datetime  # timezone-aware
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    author: str = ""
    excerpt: str = ""
    body: str = ""
    code: str = ""
    headings: list[str] = field(default_factory=list)
    content_hash: str = ""


@dataclass
class LoadResult:
    """A post (or ``None`` when the file was skipped) and what was wrong with it."""

    path: str
    post: Post | None
    problems: list[Problem] = field(default_factory=list)


def normalize_label(value: str) -> str:
    """The matching form of a tag or category: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def find_post_files(posts_dir: Path) -> list[str]:
    """Relative paths of the Markdown files under *posts_dir*, sorted.

    Like Jekyll, names starting with ``.``, ``_`` or ``#`` and editor backups
    ending in ``~`` are ignored, in folders too.
    """
    found: list[str] = []
    for root, dirs, files in os.walk(posts_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_", "#")))
        for name in files:
            if name.startswith((".", "_", "#")) or name.endswith("~"):
                continue
            if name.lower().endswith(POST_EXTENSIONS):
                rel = os.path.relpath(os.path.join(root, name), posts_dir)
                found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def load_post(posts_dir: Path, rel: str, site: SiteConfig) -> LoadResult:
    """Read one post file; never raises for bad content."""
    result = LoadResult(path=rel, post=None)
    try:
        data = (posts_dir / rel).read_bytes()
    except OSError as exc:
        return _skip(result, f"cannot read file ({exc.strerror or exc})")
    try:
        _load(result, data, rel, site)
    except RecursionError:
        _skip(result, "structure nested too deeply to read")
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        _skip(result, f"unexpected error while reading: {type(exc).__name__}: {exc}")
    return result


def _skip(result: LoadResult, message: str) -> LoadResult:
    result.post = None
    result.problems.append(Problem(result.path, "skip", message))
    return result


def _warn(result: LoadResult, message: str) -> None:
    result.problems.append(Problem(result.path, "warning", message))


def _load(result: LoadResult, data: bytes, rel: str, site: SiteConfig) -> None:
    name = rel.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0]
    m = _FILENAME.match(stem)
    if not m:
        _skip(result, "not a post: file name does not start with YYYY-MM-DD-")
        return
    try:
        file_date = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        _skip(result, f"not a post: {m.group(1)}-{m.group(2)}-{m.group(3)} is not a valid date")
        return
    slug = m.group(4)
    if not data.strip():
        _skip(result, "empty file" if not data else "file contains only white space")
        return

    text = _decode(result, data)
    if text is None:
        return
    content_hash = hashlib.blake2b(data, digest_size=16).hexdigest()

    metadata, content = _split_front_matter(result, text)
    if metadata is None:
        return
    raw_scalars = metadata.pop("\x00raw", {})

    published = metadata.get("published", True)
    if published is False or (isinstance(published, str) and published.lower() == "false"):
        _skip(result, "draft (published: false)")
        return

    if len(content) > site.max_chars:
        cut = content.rfind("\n", 0, site.max_chars)
        content = content[: cut if cut > site.max_chars // 2 else site.max_chars]
        _warn(
            result,
            f"post is {len(text):,} characters; only the first {site.max_chars:,} are indexed",
        )
    plain = markdown_to_text(content)

    title = _text_value(result, metadata, raw_scalars, "title")
    if not title:
        title = plain.first_h1 or slug.replace("-", " ").replace("_", " ").strip().title()
        if title:
            _warn(result, f"no title in front matter; using {title!r}")
    title = " ".join(title.split())

    post_date = _post_date(result, metadata.get("date"), file_date, site)
    categories = _labels(result, metadata, "category", "categories")
    tags = _labels(result, metadata, "tag", "tags")
    excerpt = _text_value(result, metadata, raw_scalars, "excerpt")
    if not excerpt:
        excerpt = plain.body.split("\n\n", 1)[0]
    excerpt = " ".join(_clean_excerpt(excerpt).split())[:500]
    author = _text_value(result, metadata, raw_scalars, "author")
    slug_value = _text_value(result, metadata, raw_scalars, "slug") or slug
    permalink = _text_value(result, metadata, raw_scalars, "permalink") or None

    url = post_url(site, post_date, slug_value, categories, permalink)
    result.post = Post(
        id=rel,
        url=url,
        title=title,
        date=post_date,
        categories=categories,
        tags=tags,
        author=" ".join(author.split()),
        excerpt=excerpt,
        body=plain.body,
        code=plain.code,
        headings=plain.headings,
        content_hash=content_hash,
    )


def _clean_excerpt(text: str) -> str:
    # Front-matter excerpts are Markdown too; reuse the body cleaner.
    return markdown_to_text(text).body if any(c in text for c in "<*_[`{") else text


# --- decoding -------------------------------------------------------------


def _decode(result: LoadResult, data: bytes) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            _skip(result, f"UTF-16 byte order mark but invalid UTF-16 at byte {exc.start}")
            return None
        _warn(result, "file is UTF-16 (byte order mark); decoded, but please save as UTF-8")
        return _clean_text(result, text)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        replaced = data.decode("utf-8", errors="replace")
        bad = replaced.count("\ufffd")
        try:
            sjis = data.decode("cp932")
        except UnicodeDecodeError:
            sjis = None
        if sjis is not None and bad > max(4, len(replaced) // 200) and _looks_japanese(sjis):
            _warn(result, "file is not UTF-8; decoded as Shift_JIS (cp932)")
            return _clean_text(result, sjis)
        _warn(
            result,
            f"invalid UTF-8 at byte {exc.start} ({bad} bad sequence(s) replaced with U+FFFD)",
        )
        text = replaced
    if text.count("\x00") > len(text) // 10:
        _skip(result, "binary data or UTF-16 without a byte order mark (not UTF-8 text)")
        return None
    return _clean_text(result, text)


def _looks_japanese(text: str) -> bool:
    ja = sum(1 for c in text if "\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff")
    return ja >= max(1, len(text) // 20)


_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean_text(result: LoadResult, text: str) -> str:
    if "\x00" in text:
        _warn(result, f"contains {text.count(chr(0))} NUL character(s); removed")
        text = text.replace("\x00", "")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(text):
        _warn(result, "contains control characters; replaced with spaces")
        text = _CONTROL.sub(" ", text)
    return text


# --- front matter ----------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps an impossible date (2024-02-30) as text.

    PyYAML raises ValueError for those while constructing, which would lose
    the whole front matter; as text, the date falls back with a warning.
    """

    def construct_yaml_timestamp(self, node):  # noqa: D102
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


class _YAMLHandler(frontmatter.YAMLHandler):
    """python-frontmatter's YAML handler, keeping what PyYAML throws away.

    ``title: 3.10`` and ``title: yes`` become the float 3.1 and ``True``;
    the raw scalar text is kept under a private key so the loader can use
    what the author wrote. Duplicate keys are reported.
    """

    def load(self, fm: str, **kwargs: object) -> Any:
        loader = _Loader(fm)
        try:
            node = loader.get_single_node()
            if node is None:
                return {}
            value = loader.construct_document(node)
        finally:
            loader.dispose()
        if isinstance(value, dict) and isinstance(node, yaml.MappingNode):
            raw: dict[str, str] = {}
            seen: list[str] = []
            for key_node, value_node in node.value:
                key = getattr(key_node, "value", None)
                if not isinstance(key, str):
                    continue
                seen.append(key)
                if key in _TEXT_KEYS and isinstance(value_node, yaml.ScalarNode):
                    raw[key] = value_node.value
            value["\x00raw"] = raw
            value["\x00dupes"] = sorted({k for k in seen if seen.count(k) > 1})
        return value


_HANDLER = _YAMLHandler()
_OPENING = re.compile(r"\A-{3,}[ \t]*\n")
_CLOSING = re.compile(r"^(?:-{3,}|\.{3})[ \t]*$", re.M)


def _split_front_matter(result: LoadResult, text: str) -> tuple[dict | None, str]:
    """Return (metadata, content); metadata is None when the file was skipped."""
    if not _OPENING.match(text):
        stripped = text.lstrip("\n \t")
        if stripped is not text and _OPENING.match(stripped):
            _warn(result, "blank line before the front matter; parsed it anyway")
            text = stripped
        else:
            _warn(result, "no front matter; title and date from the file")
            return {}, text
    opening = _OPENING.match(text)
    assert opening is not None
    closing = _CLOSING.search(text, opening.end())
    if closing is None:
        _skip(result, "front matter not closed (no '---' line after the opening one)")
        return None, ""
    fm_text = text[opening.end() : closing.start()]
    content = text[closing.end() :].lstrip("\n")
    try:
        metadata = _HANDLER.load(fm_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        _warn(
            result,
            f"invalid YAML front matter{where} ({problem}); "
            "indexed with the title and date from the file",
        )
        return {}, content
    if metadata is None:
        return {}, content
    if not isinstance(metadata, dict):
        _warn(
            result,
            f"front matter is a YAML {type(metadata).__name__}, not a mapping; "
            "indexed with the title and date from the file",
        )
        return {}, content
    dupes = metadata.pop("\x00dupes", [])
    if dupes:
        _warn(result, f"duplicate key(s) in front matter: {', '.join(dupes)} (last value used)")
    # Only string keys mean anything to Jekyll.
    return {k: v for k, v in metadata.items() if isinstance(k, str)}, content


_SURROGATES = re.compile("[\ud800-\udfff]")


def _clean_scalar(text: str) -> str:
    """Front-matter escapes can produce lone surrogates ("\\ud83d"), which
    cannot be encoded anywhere later; they become U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


def _text_value(result: LoadResult, metadata: dict, raw: dict[str, str], key: str) -> str:
    return _clean_scalar(_raw_text_value(result, metadata, raw, key))


def _raw_text_value(result: LoadResult, metadata: dict, raw: dict[str, str], key: str) -> str:
    value = metadata.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (bool, int, float, date)) and key in raw:
        return raw[key].strip()  # what the author wrote: "3.10", "yes"
    if isinstance(value, (int, float, date)):
        return str(value)
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"].strip()
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)
    _warn(result, f"{key} is a {type(value).__name__}, not text; ignored")
    return ""


def _labels(result: LoadResult, metadata: dict, singular: str, plural: str) -> list[str]:
    """Tags or categories the way Jekyll reads them, plus comma-separated strings."""
    values: list[str] = []
    if singular in metadata:
        single = metadata[singular]
        # Jekyll does not split the singular key: 'category: GIMP ヘルプ' is one.
        values += _coerce_labels(result, singular, single, split=False)
    if plural in metadata:
        values += _coerce_labels(result, plural, metadata[plural], split=True)
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        value = _clean_scalar(" ".join(value.split())[:_MAX_VALUE_CHARS])
        key = normalize_label(value)
        if key and key not in seen:
            seen.add(key)
            out.append(value)
    if len(out) > _MAX_LIST_VALUES:
        _warn(result, f"{len(out)} {plural}; only the first {_MAX_LIST_VALUES} are kept")
        out = out[:_MAX_LIST_VALUES]
    return out


def _coerce_labels(result: LoadResult, key: str, value: Any, split: bool) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        if not split:
            return [value]
        if "," in value or "、" in value:
            return [v.strip() for v in re.split(r"[,、]", value)]
        return value.split()
    if isinstance(value, (bool, int, float, date)):
        return [str(value)]
    if isinstance(value, list):
        out: list[str] = []
        nested = False
        for item in value[: _MAX_LIST_VALUES * 2]:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, (bool, int, float, date)):
                out.append(str(item))
            elif isinstance(item, list):
                nested = True
                out += [str(v) for v in item if isinstance(v, (str, int, float))]
            elif item is not None:
                _warn(result, f"{key} contains a {type(item).__name__}; dropped it")
        if nested:
            _warn(result, f"{key} contains a nested list; flattened it")
        return out
    _warn(result, f"{key} is a {type(value).__name__}, not a list or string; ignored")
    return []


# --- dates ------------------------------------------------------------------

_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M %z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S %z",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)


def parse_date(value: Any, site: SiteConfig) -> datetime | None:
    """A front-matter date as an aware datetime, or None if it is not one.

    Naive values take the site's time zone, as Jekyll does.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time())
    elif isinstance(value, str):
        dt = _parse_date_string(value.strip())
        if dt is None:
            return None
    else:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=site.tz)
    return dt


def _parse_date_string(text: str) -> datetime | None:
    text = unicodedata.normalize("NFKC", text)[:64]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _post_date(result: LoadResult, value: Any, file_date: date, site: SiteConfig) -> datetime:
    if value is not None:
        dt = parse_date(value, site)
        if dt is not None and _representable(dt, site):
            return dt
        # Never str() a structure: YAML aliases can make it exponentially large.
        shown = value[:40] if isinstance(value, str) else type(value).__name__
        _warn(result, f"date {shown!r} is not a date; using {file_date} from the file name")
    return datetime.combine(file_date, time(), tzinfo=site.tz)


def _representable(dt: datetime, site: SiteConfig) -> bool:
    """Whether the date survives conversion to UTC and to the site's zone."""
    try:
        dt.astimezone(timezone.utc)
        dt.astimezone(site.tz)
    except (OverflowError, ValueError):
        return False
    return True


def iter_posts(posts_dir: Path, site: SiteConfig) -> Iterator[LoadResult]:
    """Load every post under *posts_dir* in file-name order (single process)."""
    for rel in find_post_files(posts_dir):
        yield load_post(posts_dir, rel, site)
