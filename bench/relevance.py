"""Relevance benchmark for blogsearch: our engine against two simple peers.

Run from the repository root::

    .venv/bin/python bench/relevance.py [--tsv FILE] [--posts DIR] [--index-dir DIR]
                                        [--json OUT] [--rebuild]
                                        [--systems ours,fts5,bigram]
                                        [--negatives FILE|none]

Queries (``--tsv``, default ``../shared/queries/dev.tsv``) are a TSV file with
the header ``qid<TAB>query<TAB>relevant<TAB>kind``: ``relevant`` is a
comma-separated list of post file names relative to the posts folder (the
same strings as ``Hit.id``), ``kind`` one of ``desc``, ``katakana``, ``mixed``,
``paraphrase`` (other kinds are reported too, after these).

Systems, each returning the ids of its top 10 posts for a query string:

``ours``
    The posts folder (``--posts``, default ``../shared/corpus/posts``) is
    indexed with :func:`search.indexer.build_index` into ``--index-dir``
    (default ``bench/out/relevance-index``). The build is incremental, so an
    index that is already current is reused at almost no cost; ``--rebuild``
    forces a full build. Every query then goes through
    ``SearchEngine(index_dir).search(SearchRequest(q=query, per_page=10))`` -
    the path the CLI and the API use, snippets and facets included.
``fts5``
    SQLite's built-in FTS5 with ``tokenize='trigram'`` in an in-memory
    database: one row per post (title, tags joined by spaces, body - the
    plain text :func:`search.posts.load_post` produces), NFKC-normalized. The
    query is NFKC-normalized, split on whitespace, and becomes an OR of the
    distinct trigrams of every chunk, each quoted as an FTS5 string; chunks
    shorter than three characters are skipped (a query with no trigram at all
    falls back to ``LIKE '%chunk%'`` on every short chunk, in file order).
    Ranked by ``bm25()``.
``bigram``
    A plain character-bigram BM25 (k1 = 1.2, b = 0.75, idf =
    ln(1 + (N - df + 0.5) / (df + 0.5))) over NFKC-lowercased
    title + tags + body, held in Python dicts (bigram -> {doc: tf}). Bigrams
    never cross whitespace; the query's bigrams are those of each whitespace
    chunk and the score is the sum over them (a repeated bigram counts again).

Metrics, per kind and as the macro average over kinds (plus the micro average
over all queries in the JSON): MRR@10 (reciprocal rank of the first relevant
post, 0 beyond rank 10) and R@1, R@5, R@10, where a query counts as a hit at
k if *any* of its relevant posts is in the top k. Latency is the wall time of
each ``system(query)`` call (mean and p95 by nearest rank); every system first
answers one untimed warm-up query, so opening the index is not counted.

Precision, in the same run (every system answers the same questions; for
it each system also reports *all* the posts it matches, not only its top 10):

total hits
    For every known-item query, the number of posts the system returns in
    all: ours ``SearchResult.total``; fts5 the number of rows its MATCH (or
    LIKE fallback) returns without a LIMIT; bigram the number of posts with a
    nonzero score. Median and p90 (both nearest rank) per kind and over all
    queries (``all``). Fewer is not better by itself; read it beside MRR@10.
negatives
    ``--negatives FILE``: one query a line (blank lines and ``#`` comments are
    skipped), topics that occur nowhere in the corpus, so the right answer is
    no hits. Default ``../shared/queries/negatives-dev.txt``, or
    ``negatives-aiblog-dev.txt`` in the same folder when ``--posts`` ends in
    ``aiblog/posts``; ``--negatives none`` skips this part (a missing default
    file skips it with a note). Per query: the hit count and whether the
    answer was *flagged* - ours flags it when ``SearchResult.relaxed`` is
    true (no post had every word, and the engine says so) or a word was
    found only as a name in the other script (``respelled_words``: オーロラ
    only as Amazon's Aurora); the peers never flag. Totals per system:
    ``empty`` (0 hits), ``flagged`` (hits, flagged),
    ``junk`` (hits, not flagged: confident junk) and the share empty; then
    our non-empty negatives with hit count, flag and
    ``SearchResult.unmatched_words`` (when the engine has it).
single words
    :data:`SINGLE_WORDS`, 24 one-word queries typical of both corpora
    (man-page technical words, AI-news words; katakana, kanji, ASCII), each
    with declared alternatives (e.g. エヌビディア / NVIDIA). Per word and
    system: the hit count and the precision, the share of *all* returned
    posts (ours paged through with ``per_page`` = ``limits.max_per_page`` up
    to ``limits.max_page``) whose title + tags + body + excerpt + code blocks
    (which :func:`search.posts.load_post` keeps apart from the body; our
    engine indexes them, the peers do not) contains the word or an
    alternative. "Contains" is a substring test after NFKC and
    lower-casing, also with hiragana folded to katakana on both sides and
    with a trailing long-vowel mark ー removed from (or added to) the word;
    for ours the alternatives also include those the engine searches for the
    word (its synonyms file, none in the bench, and
    ``search.synonyms.loanwords().for_text(word)``). The mean precision is
    over the words for which the system returned any post (precision is
    undefined for 0 hits).

The precision part needs the posts' text, so the posts are loaded even when
only ``ours`` is run.

Output: one table with the three systems side by side, a comparison of ours
against the best peer per kind (best by MRR@10, then R@10), and the queries
for which ours has no relevant post in its top 10, with our top 3; then the
precision section: total hits, negatives, single words.
``--json OUT`` writes every number, including each system's ranked list per
query, and the precision numbers under ``precision`` (``totalHits``,
``negatives``, ``singleWord``).

The functions are importable, e.g. for a test::

    from bench.relevance import BigramBM25, evaluate, load_queries
    result = evaluate(BigramBM25(docs), load_queries(path))
    result["macro"]["mrr"]
    negative_totals(run_negatives(BigramBM25(docs), ["うどん"]))["junk"]
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import re
import sqlite3
import statistics
import sys
import time
import unicodedata
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Whoosh 2.7.4 has non-raw regex strings; the warnings say nothing about relevance.
warnings.filterwarnings("ignore", category=SyntaxWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)

from bench.inputs import require_inputs  # noqa: E402
from search.indexer import IndexReport, build_index  # noqa: E402
from search.posts import find_post_files, load_post  # noqa: E402
from search.query import SearchEngine, SearchRequest, SearchResult  # noqa: E402
from search.site import SiteConfig, load_site_config  # noqa: E402
from search.synonyms import loanwords  # noqa: E402

DEFAULT_TSV = REPO.parent / "shared" / "queries" / "dev.tsv"
DEFAULT_POSTS = REPO.parent / "shared" / "corpus" / "posts"
DEFAULT_INDEX = REPO / "bench" / "out" / "relevance-index"
DEFAULT_NEGATIVES = REPO.parent / "shared" / "queries" / "negatives-dev.txt"
AIBLOG_NEGATIVES = DEFAULT_NEGATIVES.with_name("negatives-aiblog-dev.txt")
KINDS = ("desc", "katakana", "mixed", "paraphrase")
SYSTEMS = ("ours", "fts5", "bigram")
PEERS = ("fts5", "bigram")
TOP_K = 10
CUTOFFS = (1, 5, 10)
METRICS = ("mrr", "r1", "r5", "r10")
METRIC_LABELS = {"mrr": "MRR@10", "r1": "R@1", "r5": "R@5", "r10": "R@10"}
HIT_PERCENTILES = (("median", 50), ("p90", 90))

# One-word queries typical of the two corpora, each with the other spellings a
# reader would accept as the same word (the long-vowel and kana variants are
# tried anyway, see word_needles).
SINGLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # man pages, the GIMP manual, the Debian Reference
    ("ファイル", ()),
    ("プロセス", ()),
    ("ロケール", ()),
    ("プリンター", ()),
    ("グラデーション", ()),
    ("ソケット", ()),
    ("ディレクトリ", ()),
    ("シグナル", ()),
    ("カーネル", ()),
    ("パスワード", ()),
    ("文字列", ()),
    ("端末", ("ターミナル",)),
    ("圧縮", ()),
    ("暗号化", ()),
    ("UTF-8", ("utf8",)),
    ("ssh", ()),
    # AI news
    ("モデル", ()),
    ("半導体", ()),
    ("エヌビディア", ("NVIDIA",)),
    ("生成AI", ("生成型AI", "ジェネレーティブAI")),
    ("データセンター", ()),
    ("ベンチマーク", ("benchmark",)),
    ("GPU", ()),
    ("量子化", ()),
)

SystemFn = Callable[[str], Sequence[str]]


# --- queries and documents ----------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One benchmark query and the post ids that answer it."""

    qid: str
    query: str
    relevant: tuple[str, ...]
    kind: str


def load_queries(path: Path | str) -> list[Query]:
    """Read a ``qid<TAB>query<TAB>relevant<TAB>kind`` file (header line required)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ValueError(f"{path}: empty query file")
    header = lines[0].split("\t")
    try:
        cols = [header.index(name) for name in ("qid", "query", "relevant", "kind")]
    except ValueError as exc:
        raise ValueError(f"{path}: header must name qid, query, relevant, kind") from exc
    queries = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) <= max(cols):
            raise ValueError(f"{path}:{lineno}: expected {len(header)} tab-separated fields")
        qid, text, relevant, kind = (fields[c].strip() for c in cols)
        ids = tuple(r.strip() for r in relevant.split(",") if r.strip())
        if not ids:
            raise ValueError(f"{path}:{lineno}: no relevant post for {qid}")
        queries.append(Query(qid, text, ids, kind))
    return queries


@dataclass(frozen=True)
class Doc:
    """The plain text of one post that the peers index."""

    id: str
    title: str
    tags: str
    body: str
    # Not indexed by the peers; only part of the precision check's text.
    excerpt: str = ""
    code: str = ""


def load_docs(posts_dir: Path, site: SiteConfig | None = None) -> list[Doc]:
    """Every loadable post under *posts_dir*, through :func:`search.posts.load_post`."""
    site = site or load_site_config(posts_dir)
    docs = []
    for rel in find_post_files(posts_dir):
        post = load_post(posts_dir, rel, site).post
        if post is not None:
            tags = " ".join(post.tags)
            docs.append(Doc(post.id, post.title, tags, post.body, post.excerpt, post.code))
    return docs


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


@dataclass(frozen=True)
class Answer:
    """How many posts a system returns for a query in all, and whether it
    flagged the answer as a relaxed one (ours only)."""

    total: int
    flagged: bool = False
    unmatched: tuple[str, ...] = ()


class PrecisionSystem(Protocol):
    """What the precision section needs of a system, besides its top 10."""

    name: str

    def __call__(self, query: str) -> Sequence[str]: ...

    def answer(self, query: str) -> Answer: ...

    def all_ids(self, query: str) -> list[str]: ...


# --- ours -------------------------------------------------------------------------


def ensure_index(posts_dir: Path, index_dir: Path, rebuild: bool = False) -> IndexReport:
    """Bring *index_dir* up to date with *posts_dir* (incremental unless *rebuild*)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    return build_index(posts_dir, index_dir, load_site_config(posts_dir), full=rebuild)


class OursSystem:
    """blogsearch's own engine, queried the way the API does."""

    name = "ours"

    def __init__(self, index_dir: Path | str, k: int = TOP_K):
        self.engine = SearchEngine(index_dir)
        self.k = k

    def search(self, query: str, page: int = 1, per_page: int | None = None) -> SearchResult:
        return self.engine.search(SearchRequest(q=query, page=page, per_page=per_page or self.k))

    def __call__(self, query: str) -> list[str]:
        return [hit.id for hit in self.search(query).hits]

    def answer(self, query: str) -> Answer:
        result = self.search(query)
        unmatched = getattr(result, "unmatched_words", None) or ()
        # Flagged: relaxed, or found only as another script's spelling.
        flagged = bool(result.relaxed or result.respelled_words)
        return Answer(result.total, flagged, tuple(unmatched))

    def all_ids(self, query: str) -> list[str]:
        """Every matched post, paging as far as the engine's limits allow."""
        lim = self.engine.limits
        ids: list[str] = []
        for page in range(1, lim.max_page + 1):
            result = self.search(query, page, lim.max_per_page)
            ids += [hit.id for hit in result.hits]
            if not result.hits or len(ids) >= result.total:
                break
        return ids

    def alternatives(self, word: str) -> list[str]:
        """The other texts the engine searches for *word*: synonyms, loanwords."""
        found = self.engine.synonyms.get().for_text(word) + loanwords().for_text(word)
        return list(dict.fromkeys(found))


# --- peer: SQLite FTS5 trigram ----------------------------------------------------


def _fts5_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def trigram_match(query: str) -> tuple[str | None, list[str]]:
    """(FTS5 MATCH expression or None, the chunks too short for a trigram)."""
    grams: dict[str, None] = {}
    short: list[str] = []
    for chunk in nfkc(query).split():
        if len(chunk) < 3:
            short.append(chunk)
            continue
        for i in range(len(chunk) - 2):
            grams.setdefault(chunk[i : i + 3])
    expr = " OR ".join(_fts5_string(g) for g in grams) if grams else None
    return expr, short


class Fts5System:
    """SQLite FTS5 with the trigram tokenizer, ranked by bm25(); in memory."""

    name = "fts5"

    def __init__(self, docs: Iterable[Doc], k: int = TOP_K):
        self.k = k
        self.db = sqlite3.connect(":memory:")
        self.db.execute(
            "CREATE VIRTUAL TABLE posts USING fts5("
            "id UNINDEXED, title, tags, body, tokenize='trigram')"
        )
        with self.db:
            self.db.executemany(
                "INSERT INTO posts (id, title, tags, body) VALUES (?, ?, ?, ?)",
                ((d.id, nfkc(d.title), nfkc(d.tags), nfkc(d.body)) for d in docs),
            )

    def select(self, query: str, limit: int) -> list[str]:
        """The ranked ids for *query*, at most *limit* (-1: all of them)."""
        expr, short = trigram_match(query)
        if expr is not None:
            rows = self.db.execute(
                "SELECT id FROM posts WHERE posts MATCH ? ORDER BY bm25(posts), rowid LIMIT ?",
                (expr, limit),
            )
        elif short:
            like = " AND ".join(
                "(title || ' ' || tags || ' ' || body) LIKE ? ESCAPE '\\'" for _ in short
            )
            patterns = ["%" + re.sub(r"([%_\\])", r"\\\1", s) + "%" for s in short]
            rows = self.db.execute(
                f"SELECT id FROM posts WHERE {like} ORDER BY rowid LIMIT ?", (*patterns, limit)
            )
        else:
            return []
        return [r[0] for r in rows]

    def __call__(self, query: str) -> list[str]:
        return self.select(query, self.k)

    def all_ids(self, query: str) -> list[str]:
        return self.select(query, -1)

    def answer(self, query: str) -> Answer:
        return Answer(len(self.all_ids(query)))


# --- peer: character-bigram BM25 ----------------------------------------------------


def char_bigrams(text: str) -> list[str]:
    """Bigrams of each whitespace-separated chunk of NFKC-lowercased *text*."""
    out: list[str] = []
    for chunk in nfkc(text).lower().split():
        out += [chunk[i : i + 2] for i in range(len(chunk) - 1)]
    return out


class BigramBM25:
    """Plain BM25 over character bigrams, with a dict inverted index."""

    name = "bigram"

    def __init__(self, docs: Iterable[Doc], k: int = TOP_K, k1: float = 1.2, b: float = 0.75):
        self.k, self.k1, self.b = k, k1, b
        self.ids: list[str] = []
        self.postings: dict[str, dict[int, int]] = {}
        lengths: list[int] = []
        for n, d in enumerate(docs):
            grams = char_bigrams(f"{d.title} {d.tags} {d.body}")
            self.ids.append(d.id)
            lengths.append(len(grams))
            for g, tf in Counter(grams).items():
                self.postings.setdefault(g, {})[n] = tf
        self.n_docs = len(self.ids)
        avgdl = (sum(lengths) / self.n_docs) if self.n_docs else 1.0
        # The length part of the BM25 denominator, once per document.
        self.norm = [k1 * (1 - b + b * dl / (avgdl or 1.0)) for dl in lengths]

    def idf(self, df: int) -> float:
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> dict[int, float]:
        scores: dict[int, float] = defaultdict(float)
        k1, norm = self.k1, self.norm
        for g, qtf in Counter(char_bigrams(query)).items():
            posting = self.postings.get(g)
            if not posting:
                continue
            w = qtf * self.idf(len(posting)) * (k1 + 1)
            for d, tf in posting.items():
                scores[d] += w * tf / (tf + norm[d])
        return scores

    def __call__(self, query: str) -> list[str]:
        top = heapq.nsmallest(self.k, self.scores(query).items(), key=lambda x: (-x[1], x[0]))
        return [self.ids[d] for d, _ in top]

    def all_ids(self, query: str) -> list[str]:
        """Every post with a nonzero score, in index order."""
        return [self.ids[d] for d, score in sorted(self.scores(query).items()) if score > 0]

    def answer(self, query: str) -> Answer:
        return Answer(len(self.all_ids(query)))


# --- evaluation -------------------------------------------------------------------


def first_relevant_rank(ranked: Sequence[str], relevant: Iterable[str]) -> int | None:
    """1-based rank of the first relevant id in *ranked*, or None."""
    wanted = set(relevant)
    for rank, doc_id in enumerate(ranked, start=1):
        if doc_id in wanted:
            return rank
    return None


def metrics(ranks: Sequence[int | None], k: int = TOP_K) -> dict[str, float]:
    """MRR@k and R@1/5/10 (hit rates) of first-relevant *ranks*; n is the count."""
    n = len(ranks)
    out: dict[str, float] = {"n": n}
    if not n:
        return out | {m: 0.0 for m in METRICS}
    out["mrr"] = sum(1 / r for r in ranks if r is not None and r <= k) / n
    for c in CUTOFFS:
        out[f"r{c}"] = sum(1 for r in ranks if r is not None and r <= c) / n
    return out


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def kinds_of(queries: Iterable[Query]) -> list[str]:
    present = {q.kind for q in queries}
    return [k for k in KINDS if k in present] + sorted(present - set(KINDS))


def evaluate(
    system_fn: SystemFn, queries: Sequence[Query], k: int = TOP_K, warmup: bool = True
) -> dict[str, Any]:
    """Run every query through *system_fn* (query text -> ranked ids) and score it.

    Returns ``{"by_kind": {kind: metrics}, "macro": metrics, "micro": metrics,
    "latency_ms": {"mean", "p95", "max"}, "per_query": [...]}``; each metrics
    dict has ``n``, ``mrr``, ``r1``, ``r5``, ``r10``. ``macro`` averages the
    kinds, ``micro`` all queries.
    """
    if warmup and queries:
        system_fn(queries[0].query)
    per_query = []
    latencies = []
    for q in queries:
        started = time.perf_counter()
        ranked = list(system_fn(q.query))[:k]
        elapsed = (time.perf_counter() - started) * 1000
        latencies.append(elapsed)
        per_query.append(
            {
                "qid": q.qid,
                "kind": q.kind,
                "query": q.query,
                "relevant": list(q.relevant),
                "rank": first_relevant_rank(ranked, q.relevant),
                "ranked": ranked,
                "ms": round(elapsed, 3),
            }
        )
    by_kind = {
        kind: metrics([p["rank"] for p in per_query if p["kind"] == kind], k)
        for kind in kinds_of(queries)
    }
    macro: dict[str, float] = {"n": len(per_query)}
    for m in METRICS:
        macro[m] = statistics.fmean(v[m] for v in by_kind.values()) if by_kind else 0.0
    return {
        "by_kind": by_kind,
        "macro": macro,
        "micro": metrics([p["rank"] for p in per_query], k),
        "latency_ms": {
            "mean": statistics.fmean(latencies) if latencies else 0.0,
            "p95": percentile(latencies, 95),
            "max": max(latencies, default=0.0),
        },
        "per_query": per_query,
    }


def best_peer(results: dict[str, dict[str, Any]], row: str) -> str | None:
    """The peer with the best MRR@10 (then R@10) on *row* (a kind or "macro")."""
    peers = [p for p in results if p != "ours"]
    if not peers:
        return None

    def key(p: str) -> tuple[float, float]:
        m = results[p]["macro"] if row == "macro" else results[p]["by_kind"][row]
        return (m["mrr"], m["r10"])

    return max(peers, key=key)


def comparison(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per kind and macro: ours, the best peer, and the differences."""
    if "ours" not in results:
        return {}
    ours = results["ours"]
    out = {}
    for row in [*ours["by_kind"], "macro"]:
        peer = best_peer(results, row)
        if peer is None:
            continue
        a = ours["macro"] if row == "macro" else ours["by_kind"][row]
        b = results[peer]["macro"] if row == "macro" else results[peer]["by_kind"][row]
        out[row] = {"peer": peer} | {
            m: {"ours": a[m], "peer": b[m], "delta": a[m] - b[m]} for m in METRICS
        }
    return out


# --- precision --------------------------------------------------------------------


def load_negatives(path: Path | str) -> list[str]:
    """One query a line; blank lines and ``#`` comments are skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [q for q in (line.strip() for line in lines) if q and not q.startswith("#")]


def default_negatives(posts_dir: Path) -> Path:
    """The negatives file that goes with *posts_dir* (the aiblog corpus has its own)."""
    parts = posts_dir.resolve().parts
    return AIBLOG_NEGATIVES if parts[-2:] == ("aiblog", "posts") else DEFAULT_NEGATIVES


def run_negatives(system: PrecisionSystem, queries: Iterable[str]) -> list[dict[str, Any]]:
    """Per negative query: ``query``, ``hits``, ``flagged``, ``unmatched`` (words)."""
    records = []
    for q in queries:
        a = system.answer(q)
        records.append(
            {
                "query": q,
                "hits": a.total,
                "flagged": a.flagged and a.total > 0,
                "unmatched": list(a.unmatched),
            }
        )
    return records


def negative_totals(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """``n``, ``empty`` (0 hits), ``flagged`` (hits, flagged), ``junk`` (hits,
    not flagged: confident junk) and ``empty_share``."""
    n = len(records)
    empty = sum(1 for r in records if r["hits"] == 0)
    flagged = sum(1 for r in records if r["hits"] > 0 and r["flagged"])
    return {
        "n": n,
        "empty": empty,
        "flagged": flagged,
        "junk": n - empty - flagged,
        "empty_share": empty / n if n else 0.0,
    }


def hit_count_stats(queries: Sequence[Query], counts: Sequence[int]) -> dict[str, dict[str, float]]:
    """``n``, median and p90 (nearest rank) of *counts* per kind and for ``all``."""
    groups = {
        kind: [c for q, c in zip(queries, counts, strict=True) if q.kind == kind]
        for kind in kinds_of(queries)
    }
    groups["all"] = list(counts)
    return {
        group: {"n": len(values)} | {name: percentile(values, p) for name, p in HIT_PERCENTILES}
        for group, values in groups.items()
    }


def total_hits(system: PrecisionSystem, queries: Sequence[Query]) -> dict[str, Any]:
    """The system's total hit count per query, and :func:`hit_count_stats` of them."""
    counts = [system.answer(q.query).total for q in queries]
    return {
        "stats": hit_count_stats(queries, counts),
        "per_query": {q.qid: c for q, c in zip(queries, counts, strict=True)},
    }


_HIRAGANA_TO_KATAKANA = {c: c + 0x60 for c in range(0x3041, 0x3097)}


def to_katakana(text: str) -> str:
    """Hiragana to katakana; everything else unchanged."""
    return text.translate(_HIRAGANA_TO_KATAKANA)


def fold(text: str) -> str:
    return nfkc(text).lower()


def text_forms(text: str) -> tuple[str, ...]:
    """*text* NFKC-lowercased, and (when different) also kana-folded."""
    plain = fold(text)
    kata = to_katakana(plain)
    return (plain,) if kata == plain else (plain, kata)


def _is_katakana(ch: str) -> bool:
    return "\u30a1" <= ch <= "\u30fa"  # ァ..ヺ; the long-vowel mark ー is U+30FC


def word_needles(word: str, alternatives: Iterable[str] = ()) -> frozenset[str]:
    """The substrings that mean a text contains *word* or an alternative: each
    NFKC-lowercased, also kana-folded, and with a trailing ー removed (or one
    added after a final katakana)."""
    needles: set[str] = set()
    for text in (word, *alternatives):
        base = fold(text).strip()
        for form in {base, to_katakana(base)} - {""}:
            needles.add(form)
            if form.endswith("ー") and len(form) > 1:
                needles.add(form[:-1])
            elif _is_katakana(form[-1]):
                needles.add(form + "ー")
    return frozenset(needles)


def contains_any(forms: Iterable[str], needles: Iterable[str]) -> bool:
    """Whether any of *needles* occurs in any of *forms* (from :func:`text_forms`)."""
    needles = tuple(needles)
    return any(n in form for form in forms for n in needles)


def contains(text: str, word: str, alternatives: Iterable[str] = ()) -> bool:
    """Whether *text* contains *word* or an alternative (the precision check)."""
    return contains_any(text_forms(text), word_needles(word, alternatives))


def doc_texts(docs: Iterable[Doc]) -> dict[str, tuple[str, ...]]:
    """Post id -> :func:`text_forms` of its title, tags, body, excerpt and code."""
    fields = ("title", "tags", "body", "excerpt", "code")
    return {d.id: text_forms("\n".join(getattr(d, f) for f in fields)) for d in docs}


def word_precision(
    ids: Sequence[str], texts: dict[str, tuple[str, ...]], needles: Iterable[str]
) -> dict[str, Any]:
    """``fetched`` (len(ids)), ``containing`` and ``precision`` (None without ids);
    an id without a text counts as not containing."""
    needles = tuple(needles)
    containing = sum(1 for i in ids if i in texts and contains_any(texts[i], needles))
    return {
        "fetched": len(ids),
        "containing": containing,
        "precision": containing / len(ids) if ids else None,
    }


def single_word_precision(
    system: PrecisionSystem,
    texts: dict[str, tuple[str, ...]],
    words: Sequence[tuple[str, Sequence[str]]] = SINGLE_WORDS,
) -> dict[str, Any]:
    """Per word: ``hits``, ``alternatives`` (declared, then the system's own when
    it has an ``alternatives`` method: ours), and :func:`word_precision` over
    all its hits; ``mean_precision`` over the ``words_with_hits``."""
    own = getattr(system, "alternatives", None)
    per_word = {}
    for word, declared in words:
        alts = list(dict.fromkeys([*declared, *(own(word) if own else [])]))
        ids = system.all_ids(word)
        per_word[word] = {"hits": system.answer(word).total, "alternatives": alts} | (
            word_precision(ids, texts, word_needles(word, alts))
        )
    values = [v["precision"] for v in per_word.values() if v["precision"] is not None]
    return {
        "per_word": per_word,
        "mean_precision": statistics.fmean(values) if values else None,
        "words_with_hits": len(values),
    }


def precision_report(
    systems: dict[str, PrecisionSystem],
    queries: Sequence[Query],
    negatives: Sequence[str] | None,
    texts: dict[str, tuple[str, ...]],
) -> dict[str, Any]:
    """The ``precision`` part of the JSON: ``totalHits``, ``negatives``, ``singleWord``."""
    names = [s for s in SYSTEMS if s in systems]
    neg: dict[str, Any] | None = None
    if negatives is not None:
        neg = {"n": len(negatives), "systems": {}}
        for name in names:
            records = run_negatives(systems[name], negatives)
            neg["systems"][name] = {"totals": negative_totals(records), "per_query": records}
    return {
        "totalHits": {name: total_hits(systems[name], queries) for name in names},
        "negatives": neg,
        "singleWord": {
            "words": [{"word": w, "alternatives": list(a)} for w, a in SINGLE_WORDS],
            "systems": {name: single_word_precision(systems[name], texts) for name in names},
        },
    }


# --- report -------------------------------------------------------------------------


def format_tables(results: dict[str, dict[str, Any]]) -> str:
    """The systems side by side: rows are kinds and "macro", columns the metrics."""
    names = list(results)
    first = results[names[0]]
    rows = [*first["by_kind"], "macro"]
    label_w = max(len(f"{r} ({first['by_kind'][r]['n']})") for r in first["by_kind"]) + 2
    col_w = 7
    group_w = col_w * len(METRICS)
    sep = " | "
    lines = [
        " " * label_w + sep.join(n.center(group_w) for n in names),
        "kind (n)".ljust(label_w)
        + sep.join("".join(METRIC_LABELS[m].rjust(col_w) for m in METRICS) for _ in names),
    ]
    lines.append("-" * len(lines[1]))
    for row in rows:
        label = "macro" if row == "macro" else f"{row} ({first['by_kind'][row]['n']})"
        cells = []
        for n in names:
            m = results[n]["macro"] if row == "macro" else results[n]["by_kind"][row]
            cells.append("".join(f"{m[k]:.3f}".rjust(col_w) for k in METRICS))
        lines.append(label.ljust(label_w) + sep.join(cells))
    lines.append("-" * len(lines[1]))
    lat = []
    for n in names:
        lt = results[n]["latency_ms"]
        lat.append(f"mean {lt['mean']:.1f} ms, p95 {lt['p95']:.1f} ms".center(group_w))
    lines.append("latency".ljust(label_w) + sep.join(lat))
    return "\n".join(lines)


def format_comparison(comp: dict[str, dict[str, Any]]) -> str:
    lines = ["ours vs best peer (by MRR@10):"]
    for row, c in comp.items():
        parts = [
            f"{METRIC_LABELS[m]} {c[m]['ours']:.3f} vs {c[m]['peer']:.3f} ({c[m]['delta']:+.3f})"
            for m in ("mrr", "r1", "r10")
        ]
        lines.append(f"  {row:<11} vs {c['peer']:<6}  " + "  ".join(parts))
    return "\n".join(lines)


def misses(result: dict[str, Any], top: int = 3) -> list[dict[str, Any]]:
    """The queries with no relevant post in the top 10, with the first *top* ids."""
    return [
        {
            "qid": p["qid"],
            "kind": p["kind"],
            "query": p["query"],
            "expected": p["relevant"],
            "top": p["ranked"][:top],
        }
        for p in result["per_query"]
        if p["rank"] is None
    ]


def format_misses(items: list[dict[str, Any]], total: int) -> str:
    lines = [f"ours: no relevant post in the top {TOP_K} for {len(items)} of {total} queries:"]
    for m in items:
        lines.append(f"  {m['qid']}  [{m['kind']}]  {m['query']}")
        lines.append(f"      expected: {', '.join(m['expected'])}")
        lines.append(f"      ours top-3: {', '.join(m['top']) or '(no hits)'}")
    return "\n".join(lines)


def width(text: str) -> int:
    """Display width in a terminal: East Asian wide and full-width count 2."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def ljust(text: str, w: int) -> str:
    return text + " " * max(0, w - width(text))


def format_total_hits(total: dict[str, dict[str, Any]]) -> str:
    """Median / p90 of the total hit count per kind, the systems side by side."""
    names = list(total)
    first = total[names[0]]["stats"]
    labels = {g: f"{g} ({v['n']})" for g, v in first.items()}
    label_w = max(len(x) for x in labels.values()) + 2
    col_w = 14
    lines = [
        "total hits per known-item query (median / p90, nearest rank):",
        "kind (n)".ljust(label_w) + "".join(n.rjust(col_w) for n in names),
    ]
    for group, label in labels.items():
        cells = []
        for n in names:
            v = total[n]["stats"][group]
            cells.append(f"{v['median']:g} / {v['p90']:g}".rjust(col_w))
        lines.append(label.ljust(label_w) + "".join(cells))
    return "\n".join(lines)


def format_negatives(neg: dict[str, Any], path: Path | None) -> str:
    """The empty/flagged/junk totals per system, then our non-empty negatives."""
    lines = [f"negatives: {neg['n']} queries from {path} (right answer: no hits)"]
    lines.append("system".ljust(8) + "".join(h.rjust(9) for h in ("empty", "flagged", "junk")))
    lines[-1] += "empty %".rjust(10)
    for name, v in neg["systems"].items():
        t = v["totals"]
        cells = "".join(str(t[k]).rjust(9) for k in ("empty", "flagged", "junk"))
        lines.append(name.ljust(8) + cells + f"{100 * t['empty_share']:.1f}%".rjust(10))
    if "ours" in neg["systems"]:
        found = [r for r in neg["systems"]["ours"]["per_query"] if r["hits"]]
        lines.append(f"ours: {len(found)} non-empty negatives" + (":" if found else ""))
        qw = max((width(r["query"]) for r in found), default=0) + 2
        for r in found:
            flag = "flagged" if r["flagged"] else "JUNK"
            unmatched = f"  unmatched: {', '.join(r['unmatched'])}" if r["unmatched"] else ""
            line = f"  {ljust(r['query'], qw)}{r['hits']:>5} hits  {flag:<7}{unmatched}"
            lines.append(line.rstrip())
    return "\n".join(lines)


def format_single_words(single: dict[str, Any]) -> str:
    """Per word and system: hits and precision over all hits; the mean precision."""
    names = list(single["systems"])
    words = [w["word"] for w in single["words"]]
    word_w = max(width(w) for w in words) + 2
    col_w = 14
    lines = [
        "single words: hits, precision (share of all hits containing the word):",
        ljust("word", word_w) + "".join(n.rjust(col_w) for n in names),
    ]
    for word in words:
        cells = []
        for n in names:
            v = single["systems"][n]["per_word"][word]
            prec = "-" if v["precision"] is None else f"{v['precision']:.3f}"
            cells.append(f"{v['hits']:>6} {prec:>6}".rjust(col_w))
        lines.append(ljust(word, word_w) + "".join(cells))
    cells = []
    for n in names:
        m = single["systems"][n]["mean_precision"]
        cells.append(("-" if m is None else f"{m:.3f}").rjust(col_w))
    lines.append(ljust("mean", word_w) + "".join(cells))
    return "\n".join(lines)


def format_precision(precision: dict[str, Any], negatives_path: Path | None) -> str:
    parts = ["precision", format_total_hits(precision["totalHits"])]
    if precision["negatives"] is not None:
        parts.append(format_negatives(precision["negatives"], negatives_path))
    parts.append(format_single_words(precision["singleWord"]))
    return "\n\n".join(parts)


# --- main ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--tsv", type=Path, default=DEFAULT_TSV, help="query file [%(default)s]")
    ap.add_argument("--posts", type=Path, default=DEFAULT_POSTS, help="posts folder")
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX, help="our index")
    ap.add_argument("--json", type=Path, default=None, help="write every number here")
    ap.add_argument("--rebuild", action="store_true", help="full rebuild of our index")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset")
    ap.add_argument(
        "--negatives",
        default=None,
        help="no-answer queries, one a line, or 'none' [negatives(-aiblog)-dev.txt]",
    )
    args = ap.parse_args(argv)
    require_inputs("relevance.py", posts=args.posts, tsv=args.tsv)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in args.systems if s not in SYSTEMS]
    if unknown or not args.systems:
        ap.error(f"--systems: choose from {', '.join(SYSTEMS)} (got {args.systems})")
    args.negatives_note = None
    if args.negatives is None:
        default = default_negatives(args.posts)
        args.negatives = default if default.is_file() else None
        if args.negatives is None:
            args.negatives_note = f"note: no {default}; negatives skipped"
    elif args.negatives.strip().lower() == "none":
        args.negatives = None
    else:
        args.negatives = Path(args.negatives)
        if not args.negatives.is_file():
            ap.error(f"--negatives: no file {args.negatives}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    timing: dict[str, float] = {}
    queries = load_queries(args.tsv)
    posts_dir: Path = args.posts
    known = set(find_post_files(posts_dir))
    missing = sorted({r for q in queries for r in q.relevant} - known)
    if missing:
        print(f"warning: {len(missing)} relevant files not in {posts_dir}: {missing[:5]}")
    print(f"{len(queries)} queries from {args.tsv}; {len(known)} post files in {posts_dir}")
    negatives = load_negatives(args.negatives) if args.negatives else None
    if args.negatives_note:
        print(args.negatives_note)

    systems: dict[str, PrecisionSystem] = {}
    index_info: dict[str, Any] = {}
    if "ours" in args.systems:
        t = time.perf_counter()
        report = ensure_index(posts_dir, args.index_dir, args.rebuild)
        timing["index_s"] = time.perf_counter() - t
        index_info = {
            "dir": str(args.index_dir),
            "version": report.version,
            "full": report.full,
            "analyzed": report.analyzed,
            "documents": report.documents,
            "skipped": len(report.skipped),
        }
        print(
            f"ours: index {args.index_dir} ({'full build' if report.full else 'incremental'}, "
            f"{report.analyzed} analyzed, {report.documents} docs) in {timing['index_s']:.1f} s"
        )
        systems["ours"] = OursSystem(args.index_dir)
    t = time.perf_counter()
    docs = load_docs(posts_dir)
    timing["load_docs_s"] = time.perf_counter() - t
    print(f"posts: loaded {len(docs)} posts (peers, precision) in {timing['load_docs_s']:.1f} s")
    if "fts5" in args.systems:
        t = time.perf_counter()
        systems["fts5"] = Fts5System(docs)
        timing["fts5_build_s"] = time.perf_counter() - t
    if "bigram" in args.systems:
        t = time.perf_counter()
        systems["bigram"] = BigramBM25(docs)
        timing["bigram_build_s"] = time.perf_counter() - t
    texts = doc_texts(docs)
    del docs
    if any(s in PEERS for s in args.systems):
        built = ", ".join(f"{k.split('_')[0]} {v:.1f} s" for k, v in timing.items() if "build" in k)
        print(f"peers: built {built}")

    results: dict[str, dict[str, Any]] = {}
    for name in [s for s in SYSTEMS if s in systems]:
        t = time.perf_counter()
        results[name] = evaluate(systems[name], queries)
        timing[f"{name}_queries_s"] = time.perf_counter() - t

    print()
    print(format_tables(results))
    comp = comparison(results)
    if comp:
        print()
        print(format_comparison(comp))
    missed: list[dict[str, Any]] = []
    if "ours" in results:
        missed = misses(results["ours"])
        print()
        print(format_misses(missed, len(queries)))
    t = time.perf_counter()
    precision = precision_report(systems, queries, negatives, texts)
    timing["precision_s"] = time.perf_counter() - t
    if precision["negatives"] is not None:
        precision["negatives"]["file"] = str(args.negatives)
    print()
    print(format_precision(precision, args.negatives))
    timing["total_s"] = time.perf_counter() - started
    print(f"\ntotal {timing['total_s']:.1f} s")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "queries": str(args.tsv),
            "posts": str(posts_dir),
            "n_queries": len(queries),
            "index": index_info,
            "timing_s": timing,
            "systems": results,
            "comparison": comp,
            "ours_misses": missed,
            "precision": precision,
        }
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
