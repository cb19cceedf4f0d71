"""The query engine: a :class:`SearchRequest` in, a :class:`SearchResult` out.

The CLI, the JSON API and the HTML page all go through :class:`SearchEngine`.

Matching (search/matching.py): a post matches a query word through its index
word, a synonym or loanword, or its characters standing together; it is in
the result if it has enough of the words (all of a short query). When no
post has, the query is relaxed and ``relaxed`` and ``unmatched_words`` say so.

Filters, facets and date sorting use the per-version :class:`DocTable`.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.scoring import BM25F
from whoosh.util.times import datetime_to_long

from .analysis import fold_kana, normalize, word_terms
from .doctable import DocTable
from .matching import TITLE_NGRAM_FIELDS, Compiled, Evaluator, bigram_unit, compile_query
from .names import NameTable
from .posts import normalize_label
from .related import related_docs
from .schema import TITLE_POSITION_FIELDS
from .site import DEFAULT_TIMEZONE, SiteConfig, SiteConfigError
from .snippets import mark, snippet
from .spelling import Speller
from .store import IndexStore, NoIndex
from .synonyms import SynonymsFile, loanwords

logger = logging.getLogger(__name__)

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

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a hit in ``/api/search`` and related posts."""
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "titleHighlighted": self.title_highlighted,
            "date": self.date,
            "tags": self.tags,
            "categories": self.categories,
            "author": self.author,
            "excerpt": self.excerpt,
            "snippet": self.snippet,
            "score": None if self.score is None else round(self.score, 4),
        }


@dataclass
class SearchResult:
    """One page of results, with facet counts for the whole result set."""

    query: str
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    facets: dict[str, dict[str, int]]
    # No post had enough of the words, so fewer were required; the words
    # that no post has are in unmatched_words (see matching.Evaluator.evaluate).
    relaxed: bool = False
    unmatched_words: list[str] = field(default_factory=list)
    matched_words: list[str] = field(default_factory=list)  # words the hits have
    # Query words no hit has as typed, found only in the other script (a
    # learned name: パイトーチ -> [pytorch]); like relaxed, not a confident match.
    respelled_words: dict[str, list[str]] = field(default_factory=dict)
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
            "hits": [h.to_dict() for h in self.hits],
            "totalHits": self.total,
            "page": self.page,
            "hitsPerPage": self.per_page,
            "totalPages": self.total_pages,
            "facetDistribution": self.facets,
            "relaxed": self.relaxed,
            "unmatchedWords": self.unmatched_words,
            "matchedWords": self.matched_words,
            "respelledWords": [{"word": w, "as": a} for w, a in self.respelled_words.items()],
            "didYouMean": self.did_you_mean,
            "processingTimeMs": round(self.processing_ms, 2),
            "indexVersion": self.version,
        }


# --- the engine -----------------------------------------------------------------

DID_YOU_MEAN_BELOW = 3


def _ranked_page(table: DocTable, ev, matched, all_words, labelled, start: int, end: int):
    """Docs ``[start, end)`` by relevance, ties to the newer post; for short
    queries posts with every word come first (see ``STRICT_AND_WORDS``), and
    then the posts carrying a tag or category a query word names
    (*labelled*: 旅行 ranks the category 旅行 first)."""
    docs = np.flatnonzero(matched)
    if not len(docs):
        return []
    if ev.strict:
        # One sort key for both tiers: 0 all words and labelled, 1 all
        # words, 2 labelled, 3 the rest.
        first = 2 * ~all_words[docs] + ~labelled[docs]
    else:
        first = np.zeros(len(docs), dtype=np.int8)
    score = ev.score[docs]
    if end < len(docs) // 4:
        # Sort only the docs that can reach the page: those at least as high
        # as the end-th by (tier, score), ties included; each tier is
        # shifted below the lowest score of the one before.
        key = score - first * (score.max() - score.min() + 1.0)
        bar = np.partition(key, len(key) - end)[len(key) - end]
        keep = np.flatnonzero(key >= bar)
        docs, first, score = docs[keep], first[keep], score[keep]
    order = np.lexsort((-table.timestamp[docs], -score, first))
    picked = docs[order[start:end]]
    return [(int(d), float(ev.score[d])) for d in picked]


def _day_start(day: date, tz: tzinfo, days_after: int = 0) -> float:
    """The DATETIME column value (UTC) of midnight of *day* (+ *days_after*) in *tz*.

    Days at the ends of the calendar (0001-01-01, 9999-12-31) map to -inf/inf.
    """
    try:
        local = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(days=days_after)
        return float(datetime_to_long(local.astimezone(timezone.utc).replace(tzinfo=None)))
    except (OverflowError, ValueError):
        return math.inf if day.year > 1 else -math.inf


@dataclass
class _Open:
    version: str
    index: Any
    searcher: Any
    table: DocTable
    tz: tzinfo  # the site's time zone the version was built with
    evaluator: Evaluator
    speller: Speller
    names: NameTable  # the version's learned name pairs (search/names.py)


def _open_version(store: IndexStore, name: str) -> _Open:
    """Open version *name* with everything its queries need built: the doc
    table, the length factors, the speller's word index, the name lookups.

    Built here rather than on first use, so that no reader's request waits
    for them (the speller's index took 0.2 s, the names 0.15 s, inside the
    first request that needed them).
    """
    version = store.version(name)
    ix = whoosh_index.open_dir(str(version.path))
    searcher = ix.searcher(weighting=BM25F())
    try:
        table = DocTable.build(searcher.reader(), version.path)
        try:
            tz = SiteConfig(timezone=version.manifest.get("timezone") or DEFAULT_TIMEZONE).tz
        except SiteConfigError:
            tz = SiteConfig().tz
        state = _Open(
            name, ix, searcher, table, tz, Evaluator(table, searcher),
            Speller(searcher.reader()), NameTable.read(version.path),
        )  # fmt: skip
        state.evaluator.load()
        state.speller.load()
        state.names.load()
    except BaseException:
        searcher.close()
        raise
    return state


class SearchEngine:
    """Answers requests from the current version of an index directory.

    The version pointer is checked on every request (one small file read);
    when a new version was published, it is opened and the old one closed,
    so a running server follows ``blogsearch index`` without a restart.
    :meth:`watch` has a background thread open new versions as they are
    published, so that a request rarely finds one still to open.
    """

    def __init__(
        self,
        index_dir: Path | str,
        limits: QueryLimits | None = None,
        synonyms: Path | str | None = None,
        use_loanwords: bool = True,
    ):
        self.store = IndexStore(index_dir)
        self.synonyms = SynonymsFile(synonyms)
        # Built-in katakana/English pairs, searched softly (search/loanwords.txt).
        self.loanwords = loanwords() if use_loanwords else None
        self.limits = limits or QueryLimits()
        self._open: _Open | None = None
        self._lock = threading.RLock()  # held by every request
        # One version opened at a time; taken after _lock, never before it.
        self._opening = threading.Lock()
        self._prepared: _Open | None = None  # opened by the watcher, not yet used
        self._watch_interval: float | None = None
        self._watcher_pid: int | None = None
        self._reader_pid: int | None = None  # the process that registered _open

    # --- lifecycle -------------------------------------------------------

    def open(self) -> None:
        """Open the current version now, if there is one (a pre-forking
        server calls this before it forks, so that its workers share what
        was built)."""
        with self._lock:
            if self.store.current_name() is not None:
                self._current(watch=False)  # no thread in a process about to fork

    def watch(self, interval: float = 1.0) -> None:
        """Check for a new version every *interval* seconds in a background
        thread and open it there; started in each process on its first
        request (threads do not survive a fork)."""
        self._watch_interval = interval

    def _start_watcher(self) -> None:
        pid = os.getpid()
        if self._watch_interval is None or self._watcher_pid == pid:
            return
        self._watcher_pid = pid
        threading.Thread(target=self._watch_loop, args=(pid,), name="blogsearch-watch",
                         daemon=True).start()  # fmt: skip

    def _watch_loop(self, pid: int) -> None:
        while self._watch_interval is not None and self._watcher_pid == pid:
            time.sleep(self._watch_interval)
            try:
                self._prepare_next()
            except Exception:  # a request that opens the version reports it
                logger.exception("opening a new index version in the background failed")
                time.sleep(60)  # do not rebuild a damaged version every second

    def _prepare_next(self) -> None:
        name = self.store.current_name()
        current = self._open
        if name is None or current is None or current.version == name:
            return
        with self._opening:
            if self._prepared is None or self._prepared.version != name:
                if self._prepared is not None:
                    self._prepared.searcher.close()
                self._prepared = _open_version(self.store, name)
                self.store.register_reader(name)

    def _current(self, watch: bool = True) -> _Open:
        if watch:
            self._start_watcher()
        name = self.store.current_name()
        if name is None:
            if self._open is not None:
                return self._open
            raise NoIndex(f"no index in {self.store.root}")
        if self._open is not None and self._open.version == name:
            if self._reader_pid != os.getpid():  # opened before a fork
                self.store.register_reader(name)
                self._reader_pid = os.getpid()
            return self._open
        with self._opening:  # waits for the watcher if it is opening *name*
            state, self._prepared = self._prepared, None
            if state is None or state.version != name:
                if state is not None:
                    state.searcher.close()
                    self.store.unregister_reader(state.version)
                state = _open_version(self.store, name)
                self.store.register_reader(name)
        old, self._open = self._open, state
        self._reader_pid = os.getpid()
        if old is not None:
            old.searcher.close()
            self.store.unregister_reader(old.version)
        return state

    def version(self) -> dict[str, Any]:
        with self._lock:
            state = self._current()
            v = self.store.version(state.version)
            return {
                "version": state.version,
                "documents": len(state.table.live),
                "builtAt": v.built_at,
            }

    def timezone(self) -> tzinfo:
        """The site's time zone of the current version (for showing dates)."""
        with self._lock:
            return self._current().tz

    def popular_tags(self, limit: int = 20) -> list[tuple[str, int]]:
        """The most used tags (display form, post count)."""
        with self._lock:
            table = self._current().table
            return [(table.label("tags", k), n) for k, n in table.tag_counts()[:limit]]

    def close(self) -> None:
        with self._lock, self._opening:
            if self._prepared is not None:
                self._prepared.searcher.close()
                self.store.unregister_reader(self._prepared.version)
                self._prepared = None
            if self._open is not None:
                self._open.searcher.close()
                self.store.unregister_reader(self._open.version)
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

    def _filter_masks(self, state: _Open, req: SearchRequest, comp: Compiled):
        """Per facet, the docs its filter allows (None = no filter); and the
        filters that always apply (query qualifiers, the date range)."""
        table = state.table
        size = table.size
        masks: dict[str, np.ndarray | None] = dict.fromkeys(FACETS)
        tag_keys = {normalize_label(t) for t in req.tags if t.strip()}
        cat_keys = {normalize_label(c) for c in req.categories if c.strip()}
        if tag_keys:
            masks["tags"] = table.facets["tags"].mask_for(tag_keys, size)
        if cat_keys:
            masks["categories"] = table.facets["categories"].mask_for(cat_keys, size)
        if req.year is not None:
            masks["year"] = table.facets["year"].mask_for({f"{req.year:04d}"}, size)
        if req.month is not None:
            month = table.facets["month"]
            suffix = f"-{req.month:02d}"
            masks["month"] = month.mask_for({k for k in month.keys if k.endswith(suffix)}, size)
        fixed = table.live.copy()
        for key in comp.tag_filters:
            fixed &= table.facets["tags"].mask_for({key}, size)
        for key in comp.category_filters:
            fixed &= table.facets["categories"].mask_for({key}, size)
        if comp.excluded_tags:
            fixed &= ~table.facets["tags"].mask_for(set(comp.excluded_tags), size)
        if comp.excluded_categories:
            fixed &= ~table.facets["categories"].mask_for(set(comp.excluded_categories), size)
        if req.date_from or req.date_to:
            ts = table.timestamp
            if req.date_from:
                fixed &= ts >= _day_start(req.date_from, state.tz)
            if req.date_to:
                fixed &= ts < _day_start(req.date_to, state.tz, days_after=1)
        return masks, fixed

    def _search(self, state: _Open, req: SearchRequest) -> SearchResult:
        table = state.table
        synonyms = self.synonyms.get()
        names = state.names.forbidding(synonyms.forbidden)
        comp = compile_query(req.q, self.limits.max_words, synonyms, self.loanwords, names)
        if req.q.strip() and comp.is_empty():
            # Only punctuation or nothing searchable: no hits rather than everything.
            return SearchResult(req.q, [], 0, req.page, req.per_page,
                                {f: {} for f in FACETS}, version=state.version)  # fmt: skip

        facet_masks, fixed = self._filter_masks(state, req, comp)
        allowed = fixed.copy()  # by every filter, the facets' too
        for mask in facet_masks.values():
            if mask is not None:
                allowed &= mask
        # Relaxed or not is judged among the posts the filters allow; the
        # facets count the matches of the other facets' filters too.
        ev = state.evaluator.evaluate(comp, within=fixed, judge=allowed)
        candidates = ev.matched  # within fixed
        matched = candidates & allowed
        all_words = ev.all_words & matched

        facets = self._facets(table, candidates, facet_masks, req.facet_limit)
        total = int(matched.sum())
        relaxed = ev.relaxed and total > 0
        start = (req.page - 1) * req.per_page
        end = start + req.per_page

        if not comp.has_text or req.sort != "relevance":
            ordered = table.newest_first(matched)
            if req.sort == "-date":
                ordered = ordered[::-1]
            page: list[tuple[int, float | None]] = [(int(d), None) for d in ordered[start:end]]
        else:
            named = comp.named_labels()
            labelled = np.logical_or.reduce(
                [table.facets[f].mask_named(named, table.size) for f in ("tags", "categories")]
            )
            page = _ranked_page(table, ev, matched, all_words, labelled, start, end)

        hits = self._hits(state, page, comp.highlight_groups())
        did_you_mean = None
        if comp.has_text and (total < DID_YOU_MEAN_BELOW or relaxed):
            did_you_mean = self._did_you_mean(state, req.q, 0 if relaxed else total)
        return SearchResult(
            query=req.q,
            hits=hits,
            total=total,
            page=req.page,
            per_page=req.per_page,
            facets=facets,
            relaxed=relaxed,
            unmatched_words=ev.unmatched,
            matched_words=ev.matched_words if total else [],
            respelled_words=ev.respelled if total else {},
            did_you_mean=did_you_mean,
            version=state.version,
        )

    def _facets(self, table: DocTable, candidates, facet_masks, limit) -> dict[str, dict[str, int]]:
        """Counts per facet; each facet ignores its own selection (disjunctive)."""
        limit = limit or self.limits.facet_limit
        result: dict[str, dict[str, int]] = {}
        for facet in FACETS:
            docs = candidates
            for other, mask in facet_masks.items():
                if other != facet and mask is not None:
                    docs = docs & mask
            top = table.facets[facet].top(docs, limit)
            labelled = facet in ("tags", "categories")
            result[facet] = {(table.label(facet, k) if labelled else k): n for k, n in top}
        return result

    def _hits(self, state: _Open, page: list[tuple[int, float | None]], groups=()) -> list[Hit]:
        if not page:
            return []
        s = state.searcher
        stored_by_doc = {d: s.stored_fields(d) for d, _ in page}
        spans = _highlight_spans(s.reader(), state.table, stored_by_doc, groups)
        hits = []
        for d, score in page:
            stored = stored_by_doc[d]
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

    def _did_you_mean(self, state: _Open, q: str, total: int) -> str | None:
        """A corrected query from the index's own words, if it finds clearly more."""
        s = state.searcher
        pieces: list[str] = []
        cursor = 0
        for term in word_terms(q, mode="query"):
            if any(s.doc_frequency(f, term.text) for f in ("title", "body")):
                continue
            candidate = state.speller.suggest(term.text)
            if candidate:
                pieces += [q[cursor : term.start], candidate]
                cursor = term.end
        if not pieces:
            return None
        corrected = "".join(pieces) + q[cursor:]
        ev = state.evaluator.evaluate(compile_query(corrected, self.limits.max_words))
        # A correction that finds only some of its words is no better.
        found = 0 if ev.relaxed else int(ev.matched.sum())
        return corrected if found >= max(1, 2 * total) and found > total else None

    def related(self, post_id: str, limit: int = 5) -> list[Hit]:
        """Posts like *post_id* (text, tags, category: see search/related.py);
        KeyError if unknown."""
        with self._lock:
            state = self._current()
            s = state.searcher
            docnum = state.table.docnum_by_id.get(post_id)
            if docnum is not None and not state.table.live[docnum]:
                docnum = None
            if docnum is None:
                raise KeyError(post_id)
            stored = s.stored_fields(docnum)
            text = " ".join(
                [stored.get("title", ""), *(stored.get("tags_display") or []),
                 stored.get("excerpt", "")]
            )  # fmt: skip
            page = related_docs(s, state.table, state.names, docnum, text, limit)
            return self._hits(state, page)

    def suggest(self, q: str, limit: int = 8) -> list[Suggestion]:
        """Titles and tags that start with *q*, or contain a word that does,
        or a learned name's other spelling that does (see search/names.py)."""
        q = " ".join(q.split())[: self.limits.max_query_chars]
        if not q:
            return []
        key = fold_kana(normalize(q).text)
        with self._lock:
            state = self._current()
            s, table = state.searcher, state.table
            out: list[Suggestion] = []
            # A name being typed in one script completes in the other too
            # (エヌビ: the tag NVIDIA and titles that write NVIDIA).
            spellings = state.names.completions(key)
            prefixes = [key, *spellings]
            for tag_key, count in table.tag_counts():
                if len(out) >= limit // 2:
                    break
                label = table.label("tags", tag_key)
                folded = fold_kana(tag_key)
                if any(folded.startswith(p) or any(w.startswith(p) for w in folded.split())
                       for p in prefixes):  # fmt: skip
                    spans = _prefix_spans(label, key)
                    out.append(Suggestion("tag", label, mark(label, spans), count=count))
            subs: list[wq.Query] = [wq.Prefix("title", p) for p in prefixes]
            bigrams = bigram_unit(q, TITLE_NGRAM_FIELDS)
            if bigrams is not None:
                subs.append(bigrams.query)
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
_NGRAM_FIELDS = frozenset(["title_ngram", "body_ngram"])


class _CharPositions:
    """Stored (position, start, end) of terms in a few docs.

    Title positions come with the stored fields of the hit; other fields'
    from the index, a postings block per (term, doc) and only for docs that
    have the term.
    """

    def __init__(self, table: DocTable, stored: dict[int, dict]):
        self.table = table
        self.stored = stored

    def get(self, field_name: str, text: str, doc: int) -> dict[int, tuple[int, int]]:
        if field_name in TITLE_POSITION_FIELDS:
            positions = (self.stored.get(doc) or {}).get("title_positions")
            if positions is not None:
                return {pos: (a, b) for pos, a, b in positions.get(field_name, {}).get(text, ())}
        return self.table.characters(field_name, text, doc)


def _pattern_spans(chars: _CharPositions, doc: int, field_name: str, seq) -> list:
    occurrences = []
    for t in seq:
        occ = chars.get(field_name, t, doc)
        if not occ:
            return []
        occurrences.append(occ)
    if len(occurrences) == 1:
        return list(occurrences[0].values())
    # Anchor on the rarest token: a common bigram of a long word occurs
    # dozens of times in a post, most of them elsewhere.
    rarest = min(range(len(seq)), key=lambda i: len(occurrences[i]))
    first, last = occurrences[0], occurrences[-1]
    spans = []
    for pos in occurrences[rarest]:
        start = pos - rarest
        if all(start + i in occ for i, occ in enumerate(occurrences)):
            spans.append((first[start][0], last[start + len(seq) - 1][1]))
    return spans


def _highlight_spans(
    reader, table: DocTable, stored: dict[int, dict], groups
) -> dict[int, dict[str, list]]:
    """``{docnum: {"title"|"body": [(start, end), ...]}}`` from stored positions.

    Per query word, the word fields are read first; the bigram fields only
    where the word itself was not found (a compound such as 東海道新幹線),
    which keeps the number of postings blocks decoded small.
    """
    chars = _CharPositions(table, stored)
    prepared = []
    for patterns, prefixes in groups:
        primary = [
            (f, seq) for f, seq in patterns if f in _HIGHLIGHT_FIELDS and f not in _NGRAM_FIELDS
        ]
        fallback = [(f, seq) for f, seq in patterns if f in _NGRAM_FIELDS]
        for f, p in prefixes:
            if f in _HIGHLIGHT_FIELDS:
                for t in list(reader.expand_prefix(f, p))[:16]:
                    fallback.append((f, (t.decode("utf-8") if isinstance(t, bytes) else t,)))
        prepared.append((primary, fallback))
    spans: dict[int, dict[str, list]] = {}
    for d in sorted(stored):
        found: dict[str, list] = {}
        for primary, fallback in prepared:
            done: set[str] = set()
            for f, seq in primary:
                hit = _pattern_spans(chars, d, f, seq)
                if hit:
                    found.setdefault(_HIGHLIGHT_FIELDS[f], []).extend(hit)
                    done.add(_HIGHLIGHT_FIELDS[f])
            for f, seq in fallback:
                if _HIGHLIGHT_FIELDS[f] not in done:
                    found.setdefault(_HIGHLIGHT_FIELDS[f], []).extend(
                        _pattern_spans(chars, d, f, seq)
                    )
        spans[d] = found
    return spans


def _prefix_spans(text: str, prefix: str) -> list[tuple[int, int]]:
    """Spans of words of *text* that start with *prefix* (folded forms)."""
    spans = []
    for t in word_terms(text, mode="index"):
        if t.text.startswith(prefix):
            spans.append((t.start, t.end))
    if not spans:
        norm = normalize(text)
        at = fold_kana(norm.text).find(fold_kana(prefix))
        if at >= 0:
            spans.append(norm.span(at, at + len(prefix)))
    return spans
