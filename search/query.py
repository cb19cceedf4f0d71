"""The query engine: a :class:`SearchRequest` in, a :class:`SearchResult` out.

The CLI, the JSON API and the HTML page all go through :class:`SearchEngine`.

Matching: every query word is looked up in the word fields and, as a
phrase of character bigrams, in the bigram fields; a post matches a word if
either does (word matches score higher through the field weights). Ranking is
"soft AND": posts containing every word come first, posts missing some
still follow, and ``relaxed`` says when no post had them all.

Filters, facets and date sorting use the per-version :class:`DocTable`.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.scoring import BM25F
from whoosh.util.times import datetime_to_long

from .analysis import bigram_terms, fold_kana, normalize, word_terms
from .doctable import DocTable
from .posts import normalize_label
from .querylang import Clause, parse_query
from .site import DEFAULT_TIMEZONE, SiteConfig, SiteConfigError
from .snippets import mark, snippet
from .store import IndexStore, NoIndex

WORD_FIELDS = ("title", "headings", "body", "code", "tags_text", "categories_text")
TITLE_WORD_FIELDS = ("title",)
NGRAM_FIELDS = ("title_ngram", "body_ngram")
TITLE_NGRAM_FIELDS = ("title_ngram",)
FACETS = ("tags", "categories", "year", "month")
SORTS = ("relevance", "date", "-date")


class QueryError(ValueError):
    """A request parameter that cannot be used; names the parameter."""

    def __init__(self, param: str, message: str, code: str = "invalid_parameter"):
        super().__init__(message)
        self.param = param
        self.message = message
        self.code = code


@dataclass(frozen=True)
class QueryLimits:
    """Bounds that keep every query cheap, whatever a client sends."""

    max_query_chars: int = 500
    max_words: int = 32
    max_per_page: int = 50
    max_page: int = 100
    facet_limit: int = 20
    max_filter_values: int = 20


@dataclass
class SearchRequest:
    """What a reader asked for. Dates are inclusive days in the site's time zone."""

    q: str = ""
    tags: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    year: int | None = None
    month: int | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 10
    facet_limit: int | None = None


@dataclass
class Hit:
    """One post in a result page."""

    id: str
    url: str
    title: str
    title_highlighted: str
    date: str
    tags: list[str]
    categories: list[str]
    author: str
    excerpt: str
    snippet: str
    score: float | None


@dataclass
class SearchResult:
    """One page of results, with facet counts for the whole result set."""

    query: str
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    facets: dict[str, dict[str, int]]
    relaxed: bool = False
    did_you_mean: str | None = None
    processing_ms: float = 0.0
    version: str | None = None

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.per_page else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``/api/search`` (Meilisearch-style names)."""
        return {
            "query": self.query,
            "hits": [
                {
                    "id": h.id,
                    "url": h.url,
                    "title": h.title,
                    "titleHighlighted": h.title_highlighted,
                    "date": h.date,
                    "tags": h.tags,
                    "categories": h.categories,
                    "author": h.author,
                    "excerpt": h.excerpt,
                    "snippet": h.snippet,
                    "score": None if h.score is None else round(h.score, 4),
                }
                for h in self.hits
            ],
            "totalHits": self.total,
            "page": self.page,
            "hitsPerPage": self.per_page,
            "totalPages": self.total_pages,
            "facetDistribution": self.facets,
            "relaxed": self.relaxed,
            "didYouMean": self.did_you_mean,
            "processingTimeMs": round(self.processing_ms, 2),
            "indexVersion": self.version,
        }


# --- compiling a query --------------------------------------------------------


@dataclass
class _Unit:
    """One searchable word: its Whoosh query and the terms that highlight it."""

    query: wq.Query
    # Highlighting: (field, terms) sequences that must occur at consecutive
    # positions, so that the bigrams of データベース do not mark every デー.
    terms: list[tuple[str, tuple[str, ...]]]
    prefixes: list[tuple[str, str]] = field(default_factory=list)


def _bigram_query(surface: str, fields: tuple[str, ...]) -> tuple[wq.Query | None, list, list]:
    grams = [t.text for t in bigram_terms(surface)]
    if not grams:
        return None, [], []
    if len(grams) == 1:
        # One character: it starts a bigram, or ends a run.
        subs: list[wq.Query] = []
        for f in fields:
            subs += [wq.Term(f, grams[0]), wq.Prefix(f, grams[0])]
        return wq.Or(subs), [(f, (grams[0],)) for f in fields], [(f, grams[0]) for f in fields]
    # Drop each run's trailing single character: the bigrams cover it.
    pairs = [g for g in grams if len(g) == 2]
    subs = [wq.Phrase(f, pairs) if len(pairs) > 1 else wq.Term(f, pairs[0]) for f in fields]
    return wq.Or(subs), [(f, tuple(pairs)) for f in fields], []


def _word_units(clause: Clause, limits: QueryLimits) -> list[_Unit]:
    """The units of a clause: one per word Janome finds, or one phrase."""
    words = TITLE_WORD_FIELDS if clause.field == "title" else WORD_FIELDS
    grams = TITLE_NGRAM_FIELDS if clause.field == "title" else NGRAM_FIELDS
    terms = word_terms(clause.text, mode="query")[: limits.max_words]
    if clause.phrase:
        texts = [t.text for t in terms]
        subs: list[wq.Query] = []
        if texts:
            subs += [wq.Phrase(f, texts) if len(texts) > 1 else wq.Term(f, texts[0]) for f in words]
        bq, bterms, bpref = _bigram_query(clause.text, grams)
        if bq is not None:
            subs.append(bq)
        if not subs:
            return []
        hl = [(f, tuple(texts)) for f in words] + bterms
        return [_Unit(wq.Or(subs), hl, bpref)]
    units: list[_Unit] = []
    for term in terms:
        surface = clause.text[term.start : term.end]
        subs = [wq.Term(f, term.text) for f in words]
        hl = [(f, (term.text,)) for f in words]
        pref: list[tuple[str, str]] = []
        if term.text.isascii():
            parts = [t.text for t in word_terms(surface, mode="index")[1:]]
            if len(parts) > 1:
                subs += [wq.Phrase(f, parts) for f in words]
                hl += [(f, tuple(parts)) for f in words]
        else:
            bq, bterms, pref = _bigram_query(surface, grams)
            if bq is not None:
                subs.append(bq)
                hl += bterms
        units.append(_Unit(wq.Or(subs), hl, pref))
    if not units:
        # Only particles or stop words ("の", "する"): search the characters.
        bq, bterms, pref = _bigram_query(clause.text, grams)
        if bq is not None:
            units.append(_Unit(bq, bterms, pref))
    return units


@dataclass
class _Compiled:
    positive: list[_Unit]  # each must match for the "all words" tier
    required: list[_Unit]
    excluded: list[_Unit]
    or_groups: list[list[_Unit]]
    tag_filters: list[str]
    category_filters: list[str]

    def highlight_terms(self) -> tuple[list, list[tuple[str, str]]]:
        terms, prefixes = [], []
        for u in self.positive + self.required:
            terms += u.terms
            prefixes += u.prefixes
        return terms, prefixes


def compile_query(text: str, limits: QueryLimits) -> _Compiled:
    parsed = parse_query(text)
    comp = _Compiled([], [], [], [], [], [])
    for group in parsed.groups:
        alternatives: list[_Unit] = []
        for clause in group:
            if clause.field in ("tag", "category"):
                target = comp.tag_filters if clause.field == "tag" else comp.category_filters
                if not clause.excluded:
                    target.append(normalize_label(clause.text))
                continue
            units = _word_units(clause, limits)
            if not units:
                continue
            if clause.excluded:
                comp.excluded += units
            elif clause.required:
                comp.required += units
            elif len(group) == 1:
                comp.positive += units
            else:
                alternatives.append(
                    units[0] if len(units) == 1
                    else _Unit(wq.And([u.query for u in units]),
                               [t for u in units for t in u.terms],
                               [p for u in units for p in u.prefixes])
                )  # fmt: skip
        if alternatives:
            comp.positive.append(
                _Unit(wq.Or([u.query for u in alternatives]),
                      [t for u in alternatives for t in u.terms],
                      [p for u in alternatives for p in u.prefixes])
            )  # fmt: skip
        if sum(len(u.terms) > 0 for u in comp.positive + comp.required) > limits.max_words:
            break
    comp.positive = comp.positive[: limits.max_words]
    return comp


# --- the engine -----------------------------------------------------------------

DID_YOU_MEAN_BELOW = 3


def _match(s, table: DocTable, comp: _Compiled) -> tuple[set[int], set[int]]:
    """(every matching doc, the docs that match all positive words)."""
    live = table.live
    if comp.positive or comp.required:
        doc_sets = [set(u.query.docs(s)) & live for u in comp.positive]
        candidates: set[int] = set().union(*doc_sets) if doc_sets else set(live)
        for u in comp.required:
            candidates &= set(u.query.docs(s))
        all_words = set.intersection(*doc_sets) & candidates if doc_sets else set(candidates)
    else:
        candidates = set(live)
        all_words = set(candidates)
    for u in comp.excluded:
        excluded = set(u.query.docs(s))
        candidates -= excluded
        all_words -= excluded
    return candidates, all_words


def _day_start(day: date, tz: tzinfo) -> float:
    """The DATETIME column value (UTC) of midnight of *day* in *tz*."""
    local = datetime(day.year, day.month, day.day, tzinfo=tz)
    return float(datetime_to_long(local.astimezone(timezone.utc).replace(tzinfo=None)))


@dataclass
class _Open:
    version: str
    index: Any
    searcher: Any
    table: DocTable
    tz: tzinfo  # the site's time zone the version was built with


class SearchEngine:
    """Answers requests from the current version of an index directory.

    The version pointer is checked on every request (one small file read);
    when a new version was published, its searcher is opened and the old one
    closed, so a running server follows ``blogsearch index`` without a restart.
    """

    def __init__(self, index_dir: Path | str, limits: QueryLimits | None = None):
        self.store = IndexStore(index_dir)
        self.limits = limits or QueryLimits()
        self._open: _Open | None = None
        self._lock = threading.RLock()

    # --- lifecycle -------------------------------------------------------

    def _current(self) -> _Open:
        name = self.store.current_name()
        if name is None:
            if self._open is not None:
                return self._open
            raise NoIndex(f"no index in {self.store.root}")
        if self._open is None or self._open.version != name:
            version = self.store.version(name)
            ix = whoosh_index.open_dir(str(version.path))
            searcher = ix.searcher(weighting=BM25F())
            table = DocTable.build(searcher.reader(), version.path)
            try:
                tz = SiteConfig(timezone=version.manifest.get("timezone") or DEFAULT_TIMEZONE).tz
            except SiteConfigError:
                tz = SiteConfig().tz
            old, self._open = self._open, _Open(name, ix, searcher, table, tz)
            if old is not None:
                old.searcher.close()
        return self._open

    def version(self) -> dict[str, Any]:
        with self._lock:
            state = self._current()
            v = self.store.version(state.version)
            return {
                "version": state.version,
                "documents": len(state.table.live),
                "builtAt": v.built_at,
            }

    def close(self) -> None:
        with self._lock:
            if self._open is not None:
                self._open.searcher.close()
                self._open = None

    # --- searching ---------------------------------------------------------

    def validate(self, req: SearchRequest) -> None:
        lim = self.limits
        if len(req.q) > lim.max_query_chars:
            raise QueryError("q", f"query is longer than {lim.max_query_chars} characters",
                             "query_too_long")  # fmt: skip
        if req.sort not in SORTS:
            raise QueryError("sort", f"sort must be one of {', '.join(SORTS)}")
        if req.page < 1:
            raise QueryError("page", "page must be 1 or more")
        if req.page > lim.max_page:
            raise QueryError("page", f"page must be {lim.max_page} or less")
        if not 1 <= req.per_page <= lim.max_per_page:
            raise QueryError("per_page", f"per_page must be between 1 and {lim.max_per_page}")
        if len(req.tags) > lim.max_filter_values:
            raise QueryError("tag", f"at most {lim.max_filter_values} tag values")
        if len(req.categories) > lim.max_filter_values:
            raise QueryError("category", f"at most {lim.max_filter_values} category values")
        if req.month is not None and not 1 <= req.month <= 12:
            raise QueryError("month", "month must be between 1 and 12")
        if req.date_from and req.date_to and req.date_from > req.date_to:
            raise QueryError("from", "from is after to")

    def search(self, req: SearchRequest) -> SearchResult:
        """Run *req*; raises :class:`QueryError` for bad parameters only."""
        started = time.perf_counter()
        self.validate(req)
        with self._lock:
            state = self._current()
            result = self._search(state, req)
        result.processing_ms = (time.perf_counter() - started) * 1000
        return result

    def _filter_sets(self, state: _Open, req: SearchRequest, comp: _Compiled):
        """Per facet, the docs its filter allows (None = no filter)."""
        table = state.table
        sets: dict[str, set[int] | None] = {}
        tag_keys = {normalize_label(t) for t in req.tags if t.strip()}
        cat_keys = {normalize_label(c) for c in req.categories if c.strip()}
        sets["tags"] = (
            {d for d, vals in table.tags.items() if tag_keys.intersection(vals)}
            if tag_keys else None
        )  # fmt: skip
        sets["categories"] = (
            {d for d, vals in table.categories.items() if cat_keys.intersection(vals)}
            if cat_keys else None
        )  # fmt: skip
        sets["year"] = (
            {d for d, y in table.year.items() if y == f"{req.year:04d}"}
            if req.year is not None else None
        )  # fmt: skip
        if req.month is not None:
            suffix = f"-{req.month:02d}"
            sets["month"] = {d for d, m in table.month.items() if m.endswith(suffix)}
        else:
            sets["month"] = None
        # Qualifiers in the query text (tag:X) and the date range always apply.
        fixed: set[int] | None = None
        for key in comp.tag_filters:
            s = {d for d, vals in table.tags.items() if key in vals}
            fixed = s if fixed is None else fixed & s
        for key in comp.category_filters:
            s = {d for d, vals in table.categories.items() if key in vals}
            fixed = s if fixed is None else fixed & s
        if req.date_from or req.date_to:
            lo = _day_start(req.date_from, state.tz) if req.date_from else -math.inf
            hi = _day_start(req.date_to + timedelta(days=1), state.tz) if req.date_to else math.inf
            s = {d for d, ts in table.timestamp.items() if lo <= ts < hi}
            fixed = s if fixed is None else fixed & s
        return sets, fixed

    def _search(self, state: _Open, req: SearchRequest) -> SearchResult:
        s, table = state.searcher, state.table
        comp = compile_query(req.q, self.limits)
        has_text = bool(comp.positive or comp.required)
        if req.q.strip() and not has_text and not comp.tag_filters and not comp.category_filters:
            # Only punctuation or nothing searchable: no hits rather than everything.
            return SearchResult(req.q, [], 0, req.page, req.per_page,
                                {f: {} for f in FACETS}, version=state.version)  # fmt: skip

        candidates, all_words = _match(s, table, comp)
        facet_sets, fixed = self._filter_sets(state, req, comp)
        if fixed is not None:
            candidates &= fixed
            all_words &= fixed
        matched = candidates
        for fs in facet_sets.values():
            if fs is not None:
                matched = matched & fs
        all_words &= matched

        facets = self._facets(table, candidates, facet_sets, req.facet_limit)
        total = len(matched)
        relaxed = has_text and total > 0 and not all_words and len(comp.positive) > 1
        start = (req.page - 1) * req.per_page
        end = start + req.per_page

        if not has_text or req.sort != "relevance":
            ordered = table.newest_first(matched)
            if req.sort == "-date":
                ordered.reverse()
            page = [(d, None) for d in ordered[start:end]]
        else:
            page = self._ranked_page(s, table, comp, all_words, matched - all_words, start, end)

        hits = self._hits(s, page, *comp.highlight_terms())
        did_you_mean = None
        if has_text and total < DID_YOU_MEAN_BELOW:
            did_you_mean = self._did_you_mean(s, table, req.q, total)
        return SearchResult(
            query=req.q,
            hits=hits,
            total=total,
            page=req.page,
            per_page=req.per_page,
            facets=facets,
            relaxed=relaxed,
            did_you_mean=did_you_mean,
            version=state.version,
        )

    def _ranked_page(self, s, table, comp, first, rest, start, end):
        """Docs ``[start, end)`` of: *first* by score, then *rest* by score.

        Relevance ties go to the newer post.
        """
        query = wq.Or([u.query for u in comp.positive + comp.required])
        ts = table.timestamp
        out: list[tuple[int, float]] = []
        for tier in (first, rest):
            if len(out) >= end:
                break
            if not tier:
                continue
            results = s.search(query, filter=tier, limit=min(len(tier), end - len(out)))
            scored = [(hit.docnum, hit.score) for hit in results]
            scored.sort(key=lambda x: (-round(x[1], 6), -ts.get(x[0], 0.0)))
            out += scored
        return out[start:end]

    def _facets(self, table, candidates, facet_sets, limit) -> dict[str, dict[str, int]]:
        limit = limit or self.limits.facet_limit
        result: dict[str, dict[str, int]] = {}
        for facet in FACETS:
            docs = candidates
            for other, fs in facet_sets.items():
                if other != facet and fs is not None:
                    docs = docs & fs
            counts = table.count(facet, docs)
            top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
            result[facet] = {
                (table.label(facet, k) if facet in ("tags", "categories") else k): n for k, n in top
            }
        return result

    def _hits(self, s, page: list[tuple[int, float | None]], terms=(), prefixes=()) -> list[Hit]:
        if not page:
            return []
        spans = _highlight_spans(s.reader(), sorted(d for d, _ in page), terms, prefixes)
        hits = []
        for d, score in page:
            stored = s.stored_fields(d)
            title = stored.get("title", "")
            body = stored.get("body", "")
            sp = spans.get(d, {})
            hits.append(
                Hit(
                    id=stored.get("id", ""),
                    url=stored.get("url", ""),
                    title=title,
                    title_highlighted=mark(title, sp.get("title", [])),
                    date=stored.get("date_iso", ""),
                    tags=list(stored.get("tags_display") or []),
                    categories=list(stored.get("categories_display") or []),
                    author=stored.get("author", ""),
                    excerpt=stored.get("excerpt", ""),
                    snippet=snippet(body or stored.get("excerpt", ""), sp.get("body", [])),
                    score=score,
                )
            )
        return hits

    # --- spelling, related posts, suggestions ------------------------------

    def _did_you_mean(self, s, table: DocTable, q: str, total: int) -> str | None:
        """A corrected query from the index's own words, if it finds clearly more."""
        corrected = q
        changed = False
        for term in word_terms(q, mode="query"):
            if any(s.doc_frequency(f, term.text) for f in ("title", "body")):
                continue
            maxdist = 1 if len(term.text) <= 4 else 2
            for f in ("title", "body"):
                candidates = s.suggest(f, term.text, limit=1, maxdist=maxdist)
                if candidates:
                    surface = q[term.start : term.end]
                    corrected = corrected.replace(surface, candidates[0], 1)
                    changed = True
                    break
        if not changed or corrected == q:
            return None
        comp = compile_query(corrected, self.limits)
        found, _ = _match(s, table, comp)
        return corrected if len(found) >= max(1, 2 * total) and len(found) > total else None

    def related(self, post_id: str, limit: int = 5) -> list[Hit]:
        """Posts like *post_id* (by its title, tags and excerpt); KeyError if unknown."""
        with self._lock:
            state = self._current()
            s = state.searcher
            docnum = state.table.docnum_by_id.get(post_id)
            if docnum is None:
                raise KeyError(post_id)
            stored = s.stored_fields(docnum)
            text = " ".join(
                [stored.get("title", ""), *(stored.get("tags_display") or []),
                 stored.get("excerpt", "")]
            )  # fmt: skip
            results = s.more_like(docnum, "body", text=text, top=limit, numterms=12)
            return self._hits(s, [(hit.docnum, hit.score) for hit in results])

    def suggest(self, q: str, limit: int = 8) -> list[Suggestion]:
        """Titles and tags that start with *q*, or contain a word that does."""
        q = " ".join(q.split())[: self.limits.max_query_chars]
        if not q:
            return []
        key = fold_kana(normalize(q).text)
        with self._lock:
            state = self._current()
            s, table = state.searcher, state.table
            out: list[Suggestion] = []
            for tag_key, count in table.tag_counts().most_common():
                if len(out) >= limit // 2:
                    break
                label = table.label("tags", tag_key)
                folded = fold_kana(tag_key)
                if folded.startswith(key) or any(w.startswith(key) for w in folded.split()):
                    spans = _prefix_spans(label, key)
                    out.append(Suggestion("tag", label, mark(label, spans), count=count))
            subs: list[wq.Query] = [wq.Prefix("title", key)]
            bq, _, _ = _bigram_query(q, TITLE_NGRAM_FIELDS)
            if bq is not None:
                subs.append(bq)
            results = s.search(wq.Or(subs), limit=limit - len(out))
            for hit in results:
                title = hit.get("title", "")
                out.append(
                    Suggestion("title", title, mark(title, _prefix_spans(title, key)),
                               url=hit.get("url"), id=hit.get("id"))
                )  # fmt: skip
            return out


# --- suggestions, related posts, spelling -------------------------------------


@dataclass
class Suggestion:
    """A completion for search-as-you-type: a post title or a tag."""

    kind: str  # "title" or "tag"
    text: str
    highlighted: str
    url: str | None = None
    id: str | None = None
    count: int | None = None


_HIGHLIGHT_FIELDS = {"title": "title", "title_ngram": "title", "body": "body", "body_ngram": "body"}


def _highlight_spans(reader, docnums: list[int], patterns, prefixes):
    """``{docnum: {"title"|"body": [(start, end), ...]}}`` from stored positions."""
    patterns = [(f, seq) for f, seq in patterns if f in _HIGHLIGHT_FIELDS]
    for f, p in prefixes:
        if f in _HIGHLIGHT_FIELDS:
            for t in list(reader.expand_prefix(f, p))[:64]:
                patterns.append((f, (t.decode("utf-8") if isinstance(t, bytes) else t,)))
    wanted = {(f, t) for f, seq in patterns for t in seq}
    # (field, term) -> docnum -> {pos: (start, end)}
    found: dict[tuple[str, str], dict[int, dict[int, tuple[int, int]]]] = {}
    for f, t in wanted:
        try:
            m = reader.postings(f, t)
        except Exception:  # noqa: BLE001 - term not in the index
            continue
        per_doc: dict[int, dict[int, tuple[int, int]]] = {}
        for d in docnums:
            if not m.is_active():
                break
            if m.id() < d:
                m.skip_to(d)
            if m.is_active() and m.id() == d:
                per_doc[d] = {pos: (a, b) for pos, a, b in m.value_as("characters")}
        found[(f, t)] = per_doc
    spans: dict[int, dict[str, list[tuple[int, int]]]] = {d: {} for d in docnums}
    for f, seq in dict.fromkeys(patterns):
        target = _HIGHLIGHT_FIELDS[f]
        for d in docnums:
            occurrences = [found.get((f, t), {}).get(d) for t in seq]
            if not all(occurrences):
                continue
            first, last = occurrences[0], occurrences[-1]
            for pos, (a, _) in first.items():
                if all(pos + i in occ for i, occ in enumerate(occurrences)):
                    spans[d].setdefault(target, []).append((a, last[pos + len(seq) - 1][1]))
    return spans


def _prefix_spans(text: str, prefix: str) -> list[tuple[int, int]]:
    """Spans of words of *text* that start with *prefix* (folded forms)."""
    spans = []
    for t in word_terms(text, mode="index"):
        if t.text.startswith(prefix):
            spans.append((t.start, t.end))
    if not spans:
        norm = fold_kana(normalize(text).text)
        at = norm.find(fold_kana(prefix))
        if at >= 0:
            spans.append(normalize(text).span(at, at + len(prefix)))
    return spans
