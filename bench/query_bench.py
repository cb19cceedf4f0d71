"""Query latency benchmark for blogsearch: in process, against SQLite FTS5, and over HTTP.

Run from the repository root::

    .venv/bin/python bench/query_bench.py [--posts DIR] [--scaled N] [--skip-scaled]
                                          [--tsv FILE] [--http-seconds S] [--minutes N]
                                          [--skip-passes] [--json OUT] [--quick]

What it measures (it prints numbers and the targets next to them; it never fails
on a time or a size):

1. **Indexes.** The posts folder (``--posts``, default ``../shared/corpus/posts``)
   is indexed with :func:`search.indexer.build_index` into
   ``bench/out/query-bench/index-posts`` (incremental: an index that is current
   is reused at almost no cost). Unless ``--skip-scaled``, a ``--scaled N``-post
   copy (10,000 by default) is made once with ``../shared/corpus/make_scaled.py``
   into ``bench/out/query-bench/scaled<N>/`` and indexed the same way; both are
   reused by later runs.
2. **In process**, per index: a new ``SearchEngine`` is opened and answers three
   warm-up queries that are not in the query file (opening the index, building
   the per-version tables and loading Janome are not counted; that time is
   printed apart). Then every query of ``--tsv`` (``../shared/queries/dev.tsv``)
   goes through ``engine.search(SearchRequest(q=query, per_page=10))`` - facets
   and snippets included, as in the API - twice: the *cold* pass is each query's
   first run in this engine (per-term caches empty), the *warm* pass the same
   queries again. Reported: median, p95, p99 (nearest rank), mean and max in ms.
   Targets (the issue's, for the 10,000-post index): median < 10 ms, p95 < 30 ms.
3. **The FTS5 peer**, in the same run on the same posts: ``bench/relevance.py``'s
   ``Fts5System`` (SQLite FTS5, ``tokenize='trigram'``, in memory, ranked by
   bm25(), ids only - no snippets or facets), same warm-up, same two passes.
   Printed: our latency divided by FTS5's for each statistic.
4. **First and second pass over HTTP** (``--skip-passes`` leaves them out), on
   the posts index of 2 (the same index and queries as its in-process passes):
   ``blogsearch serve --index-dir <index> --host 127.0.0.1 --port <free port>``
   (what ``make run`` starts: Werkzeug's threaded development server; ``make
   run``'s synonyms file is not given, as gunicorn gets none either), then
   ``gunicorn --preload -w 2 -b 127.0.0.1:<free port> 'web:create_app()'``,
   each started fresh, one after the other, rate limiting off (see
   ``bench/httpload.py``, which also puts this checkout first on their
   ``PYTHONPATH``; the files their ``search`` and ``web`` come from are
   printed). One client process, sequential, one ``http.client`` connection
   (both servers close it after each response - Werkzeug sends ``Connection:
   close`` too - and the client reconnects; the connections opened are
   printed): first the three warm-up queries of 2, in rounds until every
   process that answers requests has answered (the main thread of each
   gunicorn worker ran: ``/proc/PID/schedstat``; not counted), then ``GET
   /api/search?q=<query>`` for every query once (the *first* pass: each query
   new to that server) and all again (the *second* pass). Reported per server
   and pass: p50/p95/p99/max of the client latency, p50/p95 of the time
   outside the engine (client latency minus the body's ``processingTimeMs``:
   connecting, HTTP, WSGI, JSON, queueing) and errors. Then
   serve / gunicorn for the first pass's p50 and p95 (the issue's target:
   <= 1.5x) and gunicorn's first-pass p50 minus the in-process cold p50
   (target: <= 1.5 ms).
5. **Memory after the passes**: RSS and PSS (``/proc/PID/smaps_rollup``; PSS
   splits a shared page between the processes mapping it, and is printed as
   anonymous + file-backed) of the serve process, read before it is stopped,
   and of the gunicorn master and each worker (the master's children). Target:
   PSS per worker <= 120 MB at 1,747 posts, <= 200 MB at 10,000 (MB = 2**20
   bytes). The same is read from the gunicorn of 7 at the end of its load.
6. **The slowest request of the passes** (both servers, both passes): its
   query, client latency, ``processingTimeMs``, the difference, and the
   ``Server-Timing`` header when the response has one.
7. **HTTP throughput**: ``gunicorn --preload -w 2`` on the scaled index (the
   posts index with ``--skip-scaled``; ``--http-index`` chooses), rate limiting
   off. A separate client process (``bench/httpload.py``) runs
   ``--http-clients`` threads (4) with ``http.client`` connections, cycling
   through the same queries as ``GET /api/search?q=<URL-encoded query>``, for
   ``--http-warmup`` seconds (2, not counted; both workers open their searcher
   then) and then ``--http-seconds`` (20; 0 skips it). Reported: requests/s,
   p50/p95/p99 latency as the client sees it, errors (anything but a 200 with
   JSON), server log lines worth a look (tracebacks, worker timeouts or
   restarts) and the memory of the processes as in 5.
8. **Varied load for memory** (``--minutes N``; 0, the default, skips it): a
   fresh ``gunicorn --preload -w 2`` on the index of 7, 2 client threads for N
   minutes sending queries that are new as far as possible: every query of
   the file, then each content word (Janome nouns of 2+ characters) of the
   queries and of the post titles alone, then random pairs and triples of
   those words (seeded), none sent twice while new ones can be drawn. Every
   worker's RSS and PSS is read every 10 s (and at the end); printed as a
   table with the requests/s and p50/p95 of each 10 s, and each worker's
   growth from minute 1 (the first reading at 60 s or later) to the end.

``--quick`` is for checking that the script works, not for numbers: a
300-post sample of ``--posts`` (copied once into ``bench/out/query-bench``),
60 of the queries, a 2,000-post scaled copy, 5 s of HTTP; each can still be
set explicitly (``--sample``, ``--max-queries``, ``--scaled``,
``--http-seconds``). ``--json OUT`` writes every number, per-query latencies
and the memory readings included. Server logs are kept in
``bench/out/query-bench/logs/``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from contextlib import suppress
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.httpload import (  # noqa: E402
    ERROR,
    PATH,
    STATUS,
    T0,
    T1,
    GunicornServer,
    LoadClient,
    ServeServer,
    latency_stats,
    loaded_code,
    memory_of,
    run_client_process,
)
from bench.index_bench import environment, log, make_scaled  # noqa: E402
from bench.inputs import require_inputs  # noqa: E402
from bench.relevance import (  # noqa: E402
    DEFAULT_POSTS,
    DEFAULT_TSV,
    Fts5System,
    Query,
    ensure_index,
    load_docs,
    load_queries,
    percentile,
)
from search.posts import find_post_files  # noqa: E402
from search.query import SearchEngine, SearchRequest  # noqa: E402

OUT_DIR = REPO / "bench" / "out" / "query-bench"
WARMUP_QUERIES = ("東海道新幹線で京都へ", "ファイルの権限", "Python")
TARGET_MEDIAN_MS = 10.0
TARGET_P95_MS = 30.0
TARGET_SERVE_RATIO = 1.5  # serve / gunicorn, first pass, p50 and p95
TARGET_HTTP_OVERHEAD_MS = 1.5  # gunicorn first-pass p50 minus in-process cold p50
TARGET_WORKER_PSS_MB = ((1747, 120.0), (10000, 200.0))  # (posts, MB) from the issue
MEMORY_EVERY_S = 10.0
VARIED_CLIENTS = 2
VARIED_SEED = 15
HTTP_PASSES = ("first", "second")
QUICK = {"sample": 300, "max_queries": 60, "scaled": 2000, "http_seconds": 5.0}
DEFAULTS = {"sample": 0, "max_queries": 0, "scaled": 10000, "http_seconds": 20.0}
STATS = ("p50", "p95", "p99", "mean")
STAT_LABELS = {"p50": "median", "p95": "p95", "p99": "p99", "mean": "mean", "max": "max"}


# --- corpora ----------------------------------------------------------------------


def _tag(posts: Path) -> str:
    """'' for the default posts folder, else a short digest of its path."""
    if posts.resolve() == DEFAULT_POSTS.resolve():
        return ""
    return "-" + hashlib.blake2b(str(posts.resolve()).encode(), digest_size=3).hexdigest()


def sample_posts(src: Path, n: int, dest: Path) -> Path:
    """*n* posts of *src*, evenly spread over its sorted files, copied to *dest* once."""
    rels = find_post_files(src)
    if n < len(rels):
        rels = [rels[(i * len(rels)) // n] for i in range(n)]
    if dest.is_dir() and find_post_files(dest) == rels:
        return dest
    log(f"copying a {len(rels)}-post sample of {src} to {dest}")
    if dest.exists():
        shutil.rmtree(dest)
    for rel in rels:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dest / rel)  # keeps mtimes: the index stays reusable
    return dest


def scaled_posts(src: Path, n: int, dest: Path) -> Path:
    """make_scaled.py's *n*-post copy of *src* in *dest*, made once."""
    stamp = dest / ".made-by-query-bench"
    want = json.dumps({"src": str(src.resolve()), "n": n})
    md = list(dest.glob("*.md")) if dest.is_dir() else []
    if len(md) == n and stamp.is_file() and stamp.read_text(encoding="utf-8") == want:
        return dest
    for f in md:  # a different or unfinished copy
        f.unlink()
    made = make_scaled(n, src, dest)
    log(f"scaled copy: {made['output']} ({made['seconds']:.1f} s)")
    stamp.write_text(want, encoding="utf-8")
    return dest


# --- in process ---------------------------------------------------------------------


def timed_passes(
    call: Callable[[str], Any], queries: Sequence[Query], passes: Sequence[str] = ("cold", "warm")
) -> dict[str, list[float]]:
    """Milliseconds of ``call(query)`` per query, for each pass in order."""
    out: dict[str, list[float]] = {}
    for name in passes:
        gc.collect()
        ms = []
        for q in queries:
            started = time.perf_counter()
            call(q.query)
            ms.append((time.perf_counter() - started) * 1000)
        out[name] = ms
    return out


def bench_ours(index_dir: Path, queries: Sequence[Query]) -> dict[str, Any]:
    gc.collect()
    started = time.perf_counter()
    engine = SearchEngine(index_dir)
    try:
        for q in WARMUP_QUERIES:
            engine.search(SearchRequest(q=q, per_page=10))
        warmup_s = time.perf_counter() - started
        info = engine.version()
        totals: list[int] = []

        def call(query: str) -> None:
            result = engine.search(SearchRequest(q=query, per_page=10))
            totals.append(result.total)

        passes = timed_passes(call, queries)
    finally:
        engine.close()
    last = totals[-len(queries) :] if queries else []
    return {
        "version": info["version"],
        "documents": info["documents"],
        "open_and_warmup_s": warmup_s,
        "passes": {name: latency_stats(ms) for name, ms in passes.items()},
        "per_query_ms": passes,
        "zero_hit_queries": sum(1 for t in last if t == 0),
        "mean_total_hits": statistics.fmean(last) if last else 0.0,
    }


def bench_fts5(posts_dir: Path, queries: Sequence[Query]) -> dict[str, Any]:
    started = time.perf_counter()
    docs = load_docs(posts_dir)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    fts = Fts5System(docs)
    build_s = time.perf_counter() - started
    n_docs = len(docs)
    del docs
    for q in WARMUP_QUERIES:
        fts(q)
    passes = timed_passes(fts, queries)
    fts.db.close()
    return {
        "documents": n_docs,
        "load_docs_s": load_s,
        "build_s": build_s,
        "passes": {name: latency_stats(ms) for name, ms in passes.items()},
        "per_query_ms": passes,
    }


def ratios(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for name, stats in ours["passes"].items():
        theirs = peer["passes"][name]
        out[name] = {s: (stats[s] / theirs[s] if theirs[s] else float("inf")) for s in STATS}
    return out


def bench_corpus(
    label: str, posts_dir: Path, index_dir: Path, queries: Sequence[Query], with_fts5: bool
) -> dict[str, Any]:
    log(f"{label}: indexing {posts_dir} -> {index_dir} (incremental; reused when current)")
    started = time.perf_counter()
    report = ensure_index(posts_dir, index_dir)
    index_s = time.perf_counter() - started
    log(
        f"{label}: index {'full build' if report.full else 'incremental'}, "
        f"{report.analyzed} analyzed, {report.documents} docs, {index_s:.1f} s"
    )
    log(f"{label}: ours, {len(queries)} queries x 2 passes")
    ours = bench_ours(index_dir, queries)
    result: dict[str, Any] = {
        "label": label,
        "posts_dir": str(posts_dir),
        "index_dir": str(index_dir),
        "index": {
            "full": report.full,
            "analyzed": report.analyzed,
            "documents": report.documents,
            "seconds": index_s,
        },
        "ours": ours,
    }
    if with_fts5:
        log(f"{label}: fts5 trigram peer (loading posts, building in memory)")
        fts5 = bench_fts5(posts_dir, queries)
        result["fts5"] = fts5
        result["ratio_ours_over_fts5"] = ratios(ours, fts5)
    return result


# --- HTTP ---------------------------------------------------------------------------


def bench_http(
    index_dir: Path,
    queries: Sequence[Query],
    seconds: float,
    clients: int,
    warmup: float,
    workdir: Path,
) -> dict[str, Any]:
    paths = ["/api/search?" + urlencode({"q": q.query}) for q in queries]
    log_path = workdir / "gunicorn.log"
    log_path.unlink(missing_ok=True)
    log(f"http: starting gunicorn on {index_dir}")
    with GunicornServer(index_dir, log_path, workers=2) as server:
        health = server.health()
        log(
            f"http: gunicorn on 127.0.0.1:{server.port} healthy after "
            f"{server.started_in:.1f} s; {clients} clients, {warmup:g} s warm-up + {seconds:g} s"
        )
        client = LoadClient(
            server.port,
            paths,
            threads=clients,
            seconds=seconds,
            warmup_seconds=warmup,
            workdir=workdir,
            name="http",
        )
        try:
            client.wait_ready()
            data = client.result()
        finally:
            client.kill()
        memory = server.memory()
        findings = server.log_findings()
        command = server.command
    records = data["records"]
    start, end = data["measure_start"], data["deadline"]
    measured = [r for r in records if r[T0] >= start and r[T1] <= end]
    warm = [r for r in records if r[T0] < start]
    errors = [r for r in records if r[ERROR] is not None]
    ms = [(r[T1] - r[T0]) * 1000 for r in measured if r[ERROR] is None]
    window = end - start
    return {
        "command": command,
        "index_dir": str(index_dir),
        "documents": health.get("documents"),
        "index_version": health.get("indexVersion"),
        "clients": clients,
        "warmup_s": warmup,
        "seconds": window,
        "warmup_requests": len(warm),
        "requests": len(measured),
        "requests_per_s": len(measured) / window if window > 0 else 0.0,
        "latency_ms": latency_stats(ms),
        "errors": len(errors),
        "errors_in_window": sum(1 for r in measured if r[ERROR] is not None),
        "error_samples": [
            {
                "t": round(r[T0] - data["start"], 3),
                "status": r[STATUS],
                "error": r[ERROR],
                "path": unquote(paths[r[PATH]]) if r[PATH] >= 0 else None,
            }
            for r in errors[:20]
        ],
        "server_log_findings": findings,
        "server_log": str(log_path),
        "memory": memory,
    }


# --- HTTP: first and second pass, one sequential client ------------------------------


def search_path(query: str) -> str:
    return "/api/search?" + urlencode({"q": query})


def pass_stats(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Client latency of the answered requests, and the part outside the engine."""
    ok = [r for r in records if r["error"] is None]
    timed = [r for r in ok if r["processing_ms"] is not None]
    outside = [r["ms"] - r["processing_ms"] for r in timed]
    return {
        **latency_stats([r["ms"] for r in ok]),
        "errors": len(records) - len(ok),
        "processing_p50": statistics.median(r["processing_ms"] for r in timed) if timed else 0.0,
        "outside_p50": statistics.median(outside) if outside else 0.0,
        "outside_p95": percentile(outside, 95),
    }


def server_passes(
    server_cls: type[ServeServer] | type[GunicornServer],
    index_dir: Path,
    queries: Sequence[Query],
    log_path: Path,
    workdir: Path,
) -> dict[str, Any]:
    """A fresh server on *index_dir*: warm-up, the two passes, then its memory."""
    log_path.unlink(missing_ok=True)
    with server_cls(index_dir, log_path) as server:
        pids = server.worker_pids()
        health = server.health()
        log(
            f"passes: {server.kind} on 127.0.0.1:{server.port} healthy after "
            f"{server.started_in:.1f} s; {len(queries)} queries x {len(HTTP_PASSES)} passes"
        )
        spec = {
            "mode": "passes",
            "port": server.port,
            "paths": [search_path(q.query) for q in queries],
            "warmup_paths": [search_path(q) for q in WARMUP_QUERIES],
            "warm_pids": pids,
            "passes": list(HTTP_PASSES),
        }
        name = "passes-" + server.kind.replace(" ", "-")
        data = run_client_process(spec, workdir, name, timeout=600 + 4.0 * len(queries))
        memory = server.memory()
        findings = server.log_findings()
        command, started_in = server.command, server.started_in
    warm = data["warmup"]
    return {
        "server": server_cls.kind,
        "command": command,
        "index_dir": str(index_dir),
        "documents": health.get("documents"),
        "index_version": health.get("indexVersion"),
        "started_in_s": started_in,
        "answering_pids": pids,
        "warmup": {
            "rounds": warm["rounds"],
            "requests": len(warm["ms"]),
            "all_answered": warm["all_answered"],
            "max_ms": max(warm["ms"], default=0.0),
        },
        "passes": {name: pass_stats(records) for name, records in data["passes"].items()},
        "connections": data["connections"],
        "memory": memory,
        "server_log_findings": findings,
        "server_log": str(log_path),
        "per_query": data["passes"],
    }


def slowest_request(
    runs: dict[str, dict[str, Any]], queries: Sequence[Query]
) -> dict[str, Any] | None:
    best = None
    for server, run in runs.items():
        for pass_name, records in run["per_query"].items():
            for r in records:
                if r["error"] is None and (best is None or r["ms"] > best["ms"]):
                    best = {"server": server, "pass": pass_name, **r}
    if best is None:
        return None
    processing = best["processing_ms"]
    return {
        "server": best["server"],
        "pass": best["pass"],
        "query": queries[best["i"]].query,
        "client_ms": best["ms"],
        "processing_ms": processing,
        "outside_engine_ms": best["ms"] - processing if processing is not None else None,
        "server_timing": best["server_timing"],
    }


def bench_passes(
    index_dir: Path,
    queries: Sequence[Query],
    in_process_cold: dict[str, float],
    logs_dir: Path,
    workdir: Path,
) -> dict[str, Any]:
    runs = {
        "serve": server_passes(ServeServer, index_dir, queries, logs_dir / "serve.log", workdir),
        "gunicorn": server_passes(
            GunicornServer, index_dir, queries, logs_dir / "gunicorn-passes.log", workdir
        ),
    }
    serve, gunicorn = runs["serve"]["passes"]["first"], runs["gunicorn"]["passes"]["first"]
    return {
        "servers": runs,
        "serve_over_gunicorn_first": {
            s: (serve[s] / gunicorn[s] if gunicorn[s] else float("inf")) for s in ("p50", "p95")
        },
        "in_process_cold": {k: in_process_cold[k] for k in ("p50", "p95", "p99", "max")},
        "gunicorn_minus_in_process_p50_ms": gunicorn["p50"] - in_process_cold["p50"],
        "slowest": slowest_request(runs, queries),
    }


# --- HTTP: varied queries for N minutes, memory every 10 s ---------------------------

TITLE_RE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)


def post_titles(posts_dir: Path) -> list[str]:
    """The ``title:`` of each post's front matter (a plain line match, no YAML)."""
    titles = []
    for rel in find_post_files(posts_dir):
        with suppress(OSError):
            head = (posts_dir / rel).read_text(encoding="utf-8", errors="replace")[:8000]
            if head.startswith("---"):
                match = TITLE_RE.search(head[3:].split("\n---", 1)[0])
                if match:
                    titles.append(match.group(1).strip("'\""))
    return titles


def content_words(texts: Sequence[str]) -> list[str]:
    """Janome nouns of 2+ characters in *texts* (no pronouns, numbers, suffixes), once each."""
    from janome.tokenizer import Tokenizer

    tokenizer = Tokenizer()
    words: dict[str, None] = {}
    for text in texts:
        for token in tokenizer.tokenize(text):
            pos = token.part_of_speech.split(",")
            skip = pos[1] in ("非自立", "代名詞", "数", "接尾")
            if pos[0] == "名詞" and not skip and len(token.surface.strip()) >= 2:
                words[token.surface.strip()] = None
    return list(words)


def memory_sample(server: GunicornServer, start: float) -> dict[str, Any]:
    return {
        "t": time.monotonic() - start,
        "workers": {str(pid): memory_of(pid) for pid in server.children()},
    }


def windows(samples: list[dict[str, Any]], records: list[list[Any]], start: float) -> None:
    """Add to each sample the requests answered since the one before it."""
    done = sorted((r[T1] - start, (r[T1] - r[T0]) * 1000) for r in records if r[ERROR] is None)
    ends = [t for t, _ in done]
    for before, sample in pairwise(samples):
        lo, hi = bisect_right(ends, before["t"]), bisect_right(ends, sample["t"])
        ms = [m for _, m in done[lo:hi]]
        span = sample["t"] - before["t"]
        sample["window"] = {
            "requests": len(ms),
            "per_s": len(ms) / span if span > 0 else 0.0,
            "p50": statistics.median(ms) if ms else 0.0,
            "p95": percentile(ms, 95),
        }


def memory_growth(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Per worker, the last reading minus the first one at 60 s or later
    (minus the first reading when the run was shorter)."""
    if not samples:
        return {"from_t": None, "to_t": None, "workers": {}}
    first = next((s for s in samples if s["t"] >= 60.0), samples[0])
    last = samples[-1]
    growth = {}
    for pid, end in last["workers"].items():
        begin = first["workers"].get(pid)
        if begin and end:
            growth[pid] = {k: end[k] - begin[k] for k in ("rss_mb", "pss_mb") if k in end}
    return {"from_t": first["t"], "to_t": last["t"], "workers": growth}


def bench_varied(
    index_dir: Path,
    queries: Sequence[Query],
    posts_dir: Path,
    minutes: float,
    logs_dir: Path,
    workdir: Path,
) -> dict[str, Any]:
    log("varied: words of the queries and post titles (Janome)")
    words = content_words([q.query for q in queries] + post_titles(posts_dir))
    log_path = logs_dir / "gunicorn-varied.log"
    log_path.unlink(missing_ok=True)
    seconds = minutes * 60
    with GunicornServer(index_dir, log_path) as server:
        pids = server.worker_pids()
        health = server.health()
        log(
            f"varied: gunicorn on 127.0.0.1:{server.port}; {VARIED_CLIENTS} clients, "
            f"{minutes:g} min, {len(queries)} queries then {len(words)} words alone and combined"
        )
        client = LoadClient(
            server.port,
            [],
            threads=VARIED_CLIENTS,
            seconds=seconds,
            workdir=workdir,
            stream={"base": [q.query for q in queries], "words": words, "seed": VARIED_SEED},
            name="varied",
        )
        try:
            start = client.wait_ready()
            samples = [memory_sample(server, start)]
            due = start + MEMORY_EVERY_S
            while due < client.deadline and not client.wait(due - time.monotonic()):
                samples.append(memory_sample(server, start))
                due += MEMORY_EVERY_S
            data = client.result()
            samples.append(memory_sample(server, start))  # at the end of the load
        finally:
            client.kill()
        findings = server.log_findings()
        command = server.command
    records = data["records"]
    windows(samples, records, data["start"])
    stream = data["stream"]
    errors = [r for r in records if r[ERROR] is not None]
    ms = [(r[T1] - r[T0]) * 1000 for r in records if r[ERROR] is None]
    window = data["stopped"] - data["start"]
    return {
        "command": command,
        "index_dir": str(index_dir),
        "documents": health.get("documents"),
        "minutes": minutes,
        "clients": VARIED_CLIENTS,
        "seed": VARIED_SEED,
        "words": len(words),
        "requests": len(records),
        "requests_per_s": len(records) / window if window > 0 else 0.0,
        "distinct_queries": stream["distinct"],
        "repeated_queries": stream["repeats"],
        "latency_ms": latency_stats(ms),
        "errors": len(errors),
        "error_samples": [
            {"status": r[STATUS], "error": r[ERROR], "query": stream["queries"][r[PATH]]}
            for r in errors[:20]
        ],
        "worker_pids_at_start": pids,
        "memory_every_s": MEMORY_EVERY_S,
        "samples": samples,
        "growth": memory_growth(samples),
        "server_log_findings": findings,
        "server_log": str(log_path),
    }


# --- report -----------------------------------------------------------------------


def _fmt_row(
    label: str,
    stats: dict[str, float],
    keys=("p50", "p95", "p99", "mean", "max"),
    fmt: str = "{:8.2f}",
) -> str:
    return f"  {label:<22}" + "".join(fmt.format(stats[k]) for k in keys)


def target_line(stats: dict[str, float]) -> str:
    med, p95 = stats["p50"], stats["p95"]

    def ok(good: bool) -> str:
        return "ok" if good else "MISSED"

    return (
        f"median {med:.2f} ms < {TARGET_MEDIAN_MS:g} ms {ok(med < TARGET_MEDIAN_MS)}; "
        f"p95 {p95:.2f} ms < {TARGET_P95_MS:g} ms {ok(p95 < TARGET_P95_MS)}"
    )


def print_log_findings(run: dict[str, Any]) -> None:
    if run["server_log_findings"]:
        print(f"  server log ({run['server_log']}):")
        for line in run["server_log_findings"][:20]:
            print(f"    {line}")
    else:
        print(f"  server log: no tracebacks, errors or worker restarts ({run['server_log']})")


def _ok(good: bool) -> str:
    return "ok" if good else "MISSED"


def pss_target(documents: int | None) -> tuple[int, float] | None:
    """The issue's (posts, MB) PSS target per worker that applies to *documents*."""
    for posts, mb in TARGET_WORKER_PSS_MB:
        if documents is not None and documents <= posts:
            return posts, mb
    return None


def print_memory(servers: dict[str, dict[str, Any]], documents: int | None) -> None:
    """RSS and PSS per process; the worker PSS target for *documents*."""
    print(
        f"  {'process':<22}{'pid':>8}{'RSS':>9}{'PSS':>9}{'anon':>9}{'file':>9}"
        "   (PSS = anon + file + shmem)"
    )
    workers = []
    for name, memory in servers.items():
        rows = []
        if memory.get("main"):
            rows.append(("gunicorn master" if name == "gunicorn" else name, memory["main"]))
        for i, child in enumerate(memory.get("children", []), 1):
            rows.append((f"{name} worker {i}", child))
            workers.append((f"worker {i}", child))
        for label, m in rows:
            if "pss_mb" not in m:
                print(f"  {label:<22}{m['pid']:>8}   (gone or unreadable)")
                continue
            print(
                f"  {label:<22}{m['pid']:>8}{m['rss_mb']:>9.1f}{m['pss_mb']:>9.1f}"
                f"{m.get('pss_anon_mb', 0.0):>9.1f}{m.get('pss_file_mb', 0.0):>9.1f}"
            )
    target = pss_target(documents)
    if target is None:
        print(f"  target: none set above {TARGET_WORKER_PSS_MB[-1][0]:,} posts")
        return
    posts, mb = target
    if not workers:
        return
    verdicts = ", ".join(
        f"{label} {m['pss_mb']:.1f} {_ok(m['pss_mb'] <= mb)}"
        for label, m in workers
        if "pss_mb" in m
    )
    print(
        f"  target PSS per worker <= {mb:g} MB at {posts:,} posts "
        f"(this index: {documents:,} docs): {verdicts}"
    )


def print_passes(p: dict[str, Any]) -> None:
    runs = p["servers"]
    first = next(iter(runs.values()))
    print()
    print(
        f"HTTP, first and second pass: {first['documents']:,} docs "
        f"({Path(first['index_dir']).name}, the index of the in-process passes); one client, "
        "sequential, one http.client connection (reconnecting: conns); "
        "GET /api/search?q=<query>"
    )
    keys = ("p50", "p95", "p99", "max", "outside_p50", "outside_p95")
    print(
        "  "
        + " " * 22
        + "".join(f"{k:>8}" for k in ("p50", "p95", "p99", "max"))
        + "  outside p50/p95  errors conns   (ms; outside = client - processingTimeMs)"
    )
    for name, run in runs.items():
        for pass_name, stats in run["passes"].items():
            print(
                _fmt_row(f"{name} {pass_name}", stats, keys=keys[:4])
                + f"  {stats['outside_p50']:7.2f} {stats['outside_p95']:7.2f}"
                + f"  {stats['errors']:6d} {run['connections'][pass_name]:5d}"
            )
    cold = p["in_process_cold"]
    print(_fmt_row("in process cold", cold, keys=keys[:4]) + "   (same index, same queries)")
    answered = {True: "all answered", False: "NOT all answered", None: "unknown whether all"}
    for name, run in runs.items():
        w = run["warmup"]
        command = " ".join(Path(run["command"][0]).name.split() + run["command"][1:])
        print(f"  {name}: {command}")
        print(
            f"    healthy after {run['started_in_s']:.1f} s; warm-up {w['requests']} requests in "
            f"{w['rounds']} round(s), {len(run['answering_pids'])} answering process(es) "
            f"{answered[w['all_answered']]}, slowest {w['max_ms']:.1f} ms (not counted)"
        )
    r = p["serve_over_gunicorn_first"]
    print(
        f"  serve / gunicorn, first pass: p50 {r['p50']:.2f}x "
        f"{_ok(r['p50'] <= TARGET_SERVE_RATIO)}, p95 {r['p95']:.2f}x "
        f"{_ok(r['p95'] <= TARGET_SERVE_RATIO)} "
        f"(target <= {TARGET_SERVE_RATIO:g}x)"
    )
    d = p["gunicorn_minus_in_process_p50_ms"]
    print(
        f"  gunicorn first-pass p50 - in-process cold p50: {d:.2f} ms "
        f"{_ok(d <= TARGET_HTTP_OVERHEAD_MS)} (target <= {TARGET_HTTP_OVERHEAD_MS:g} ms)"
    )
    slow = p["slowest"]
    if slow:
        processing = slow["processing_ms"]
        engine = (
            f"processingTimeMs {processing:.2f}, "
            f"outside the engine {slow['outside_engine_ms']:.2f} ms"
            if processing is not None
            else "no processingTimeMs in the body"
        )
        print(
            f"  slowest request: {slow['server']} {slow['pass']} pass, q={slow['query']!r}: "
            f"client {slow['client_ms']:.2f} ms, {engine}"
        )
        if slow["server_timing"]:
            print(f"    Server-Timing: {slow['server_timing']}")
        else:
            print("    (no Server-Timing header)")
    print("  memory after the passes (MB):")
    print_memory({name: run["memory"] for name, run in runs.items()}, first["documents"])
    for run in runs.values():
        print_log_findings(run)


def print_varied(v: dict[str, Any]) -> None:
    lat = v["latency_ms"]
    print()
    print(
        f"varied load: gunicorn --preload -w 2 on {v['documents']:,} docs "
        f"({Path(v['index_dir']).name}), {v['clients']} client threads, {v['minutes']:g} min; "
        f"{v['requests']:,} requests ({v['requests_per_s']:.1f}/s), {v['distinct_queries']:,} "
        f"distinct queries ({v['repeated_queries']} repeated; {v['words']:,} words), "
        f"errors {v['errors']}"
    )
    print(
        f"  latency ms: p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}  p99 {lat['p99']:.1f}"
        f"  max {lat['max']:.1f}"
    )
    for e in v["error_samples"]:
        print(f"  error: {e['error']}  (q={e['query']!r})")
    pids: list[str] = []
    for sample in v["samples"]:
        pids.extend(pid for pid in sample["workers"] if pid not in pids)
    print(
        f"  every {v['memory_every_s']:g} s, MB per worker (RSS/PSS); requests/s, p50, p95 ms "
        "since the reading before"
    )
    print(
        "  "
        + f"{'t s':>6}"
        + "".join(f"  {'w' + str(i) + ' ' + pid:>17}" for i, pid in enumerate(pids, 1))
        + f"{'req/s':>8}{'p50':>7}{'p95':>7}"
    )
    for sample in v["samples"]:
        cells = []
        for pid in pids:
            m = sample["workers"].get(pid)
            cells.append(f"{m['rss_mb']:8.1f}/{m['pss_mb']:<8.1f}" if m else f"{'-':>17}")
        w = sample.get("window")
        tail = f"{w['per_s']:8.1f}{w['p50']:7.1f}{w['p95']:7.1f}" if w else ""
        print(f"  {sample['t']:6.0f}" + "".join(f"  {c:>17}" for c in cells) + tail)
    g = v["growth"]
    if g["workers"]:
        parts = ", ".join(
            f"w{pids.index(pid) + 1} RSS {d['rss_mb']:+.1f} PSS {d['pss_mb']:+.1f}"
            for pid, d in g["workers"].items()
            if pid in pids
        )
        print(f"  growth from {g['from_t']:.0f} s to {g['to_t']:.0f} s (MB): {parts}")
    print_log_findings(v)


def print_report(results: dict[str, Any]) -> None:
    env = results["environment"]
    dirty = f", {len(env['git_dirty_files'])} modified file(s)" if env["git_dirty_files"] else ""
    print()
    print(
        f"blogsearch query benchmark - Python {env['python']}, {env['usable_cpus']} usable "
        f"core(s), commit {env['git_commit']}{dirty}"
    )
    print(f"load average at start {results['loadavg_start']}, at end {results['loadavg_end']}")
    code = results["server_code"]
    print(
        f"engine code: this process {results['bench_code']['search']}; servers "
        + (f"{code['search']}, {code['web']}" if "search" in code else f"? ({code['error']})")
    )
    print(
        f"{results['n_queries']} queries from {results['tsv']}"
        + (" (a sample: --quick/--max-queries)" if results["queries_sampled"] else "")
    )
    print(
        "in process: SearchEngine.search(SearchRequest(q, per_page=10)), facets + snippets;"
        " cold = first run of each query after opening the engine, warm = second run"
    )
    header = (
        "  "
        + " " * 22
        + "".join(f"{STAT_LABELS[k]:>8}" for k in ("p50", "p95", "p99", "mean", "max"))
    )
    for c in results["corpora"]:
        ours = c["ours"]
        print()
        print(
            f"{c['label']}: {ours['documents']:,} docs, index {c['index_dir']} "
            f"(open + warm-up {ours['open_and_warmup_s']:.2f} s)"
        )
        print(header + "   (ms)")
        for name, stats in ours["passes"].items():
            print(_fmt_row(f"ours {name}", stats))
        if "fts5" in c:
            f = c["fts5"]
            for name, stats in f["passes"].items():
                print(_fmt_row(f"fts5 trigram {name}", stats))
            for name, r in c["ratio_ours_over_fts5"].items():
                print(_fmt_row(f"ours / fts5 {name}", r, keys=STATS, fmt="{:7.1f}x"))
            print(
                f"  (fts5: {f['documents']:,} posts loaded in {f['load_docs_s']:.1f} s, "
                f"built in {f['build_s']:.1f} s; it returns ids only)"
            )
        print(
            f"  ours: {ours['zero_hit_queries']} queries without hits, "
            f"{ours['mean_total_hits']:.0f} hits per query on average"
        )
        scope = "" if c.get("scaled") else " (set for the 10k index)"
        for name, stats in ours["passes"].items():
            print(f"  target{scope}, {name}: {target_line(stats)}")
    if results.get("passes"):
        print_passes(results["passes"])
    http = results.get("http")
    if http:
        lat = http["latency_ms"]
        print()
        print(
            f"HTTP throughput: gunicorn --preload -w 2 on {http['documents']:,} docs "
            f"({Path(http['index_dir']).name}); {http['clients']} client threads in a separate "
            f"process; {http['warmup_s']:g} s warm-up ({http['warmup_requests']} requests, "
            f"not counted), then {http['seconds']:.0f} s"
        )
        print(
            f"  requests {http['requests']:,}  ({http['requests_per_s']:.1f}/s)   "
            f"errors {http['errors']} (non-200 or failed)"
        )
        print(
            f"  latency ms: p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}  p99 {lat['p99']:.1f}"
            f"  mean {lat['mean']:.1f}  max {lat['max']:.1f}"
        )
        for e in http["error_samples"]:
            print(f"  error at {e['t']:.2f} s: {e['error']}  ({e['path']})")
        print_log_findings(http)
        print("  memory at the end of the load (MB):")
        print_memory({"gunicorn": http["memory"]}, http["documents"])
    if results.get("varied"):
        print_varied(results["varied"])
    print(f"\ntotal {results['total_s']:.1f} s")


# --- main -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--posts", type=Path, default=DEFAULT_POSTS, help="posts folder")
    ap.add_argument("--scaled", type=int, default=None, help="posts in the scaled copy [10000]")
    ap.add_argument("--skip-scaled", action="store_true", help="no scaled copy")
    ap.add_argument("--tsv", type=Path, default=DEFAULT_TSV, help="query file [%(default)s]")
    ap.add_argument(
        "--http-seconds",
        type=float,
        default=None,
        help="measured seconds of HTTP throughput load [20]; 0 skips it",
    )
    ap.add_argument("--http-clients", type=int, default=4, help="client threads [4]")
    ap.add_argument("--http-warmup", type=float, default=2.0, help="uncounted seconds [2]")
    ap.add_argument(
        "--http-index",
        choices=("scaled", "posts"),
        default=None,
        help="index the server uses [scaled, or posts with --skip-scaled]",
    )
    ap.add_argument("--skip-fts5", action="store_true", help="no FTS5 peer")
    ap.add_argument(
        "--skip-passes",
        action="store_true",
        help="no first/second pass through blogsearch serve and gunicorn",
    )
    ap.add_argument(
        "--minutes",
        type=float,
        default=0.0,
        help="minutes of varied-query load on gunicorn, memory every 10 s (0 skips) [0]",
    )
    ap.add_argument(
        "--sample",
        type=int,
        default=None,
        help="use N posts of --posts (0 = all) [0; 300 with --quick]",
    )
    ap.add_argument(
        "--max-queries",
        type=int,
        default=None,
        help="use N of the queries, spread over the file (0 = all) [0; 60 --quick]",
    )
    ap.add_argument(
        "--out-dir", type=Path, default=OUT_DIR, help="indexes and copies [%(default)s]"
    )
    ap.add_argument("--json", type=Path, default=None, help="write every number here")
    ap.add_argument("--quick", action="store_true", help="small and short: a smoke test")
    args = ap.parse_args(argv)
    require_inputs("query_bench.py", posts=args.posts, tsv=args.tsv)
    base = QUICK if args.quick else DEFAULTS
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.http_index == "scaled" and args.skip_scaled:
        ap.error("--http-index scaled needs the scaled copy (drop --skip-scaled)")
    if args.http_clients < 1 or args.scaled < 1:
        ap.error("--http-clients and --scaled must be 1 or more")
    if args.minutes < 0:
        ap.error("--minutes must be 0 or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    loadavg_start = tuple(round(x, 2) for x in os.getloadavg())
    queries = load_queries(args.tsv)
    sampled = 0 < args.max_queries < len(queries)
    if sampled:
        queries = [queries[(i * len(queries)) // args.max_queries] for i in range(args.max_queries)]
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    tag = _tag(args.posts)
    posts = args.posts
    label = "posts"
    if args.sample:
        label = f"sample{args.sample}"
        posts = sample_posts(args.posts, args.sample, out / f"{label}{tag}")
    corpora = [bench_corpus(label, posts, out / f"index-{label}{tag}", queries, not args.skip_fts5)]
    if not args.skip_scaled:
        slabel = f"scaled{args.scaled}"
        spath = scaled_posts(args.posts, args.scaled, out / f"{slabel}{tag}")
        corpora.append(
            bench_corpus(slabel, spath, out / f"index-{slabel}{tag}", queries, not args.skip_fts5)
        )
        corpora[-1]["scaled"] = True

    which = args.http_index or ("posts" if args.skip_scaled else "scaled")
    http_corpus = corpora[-1] if which == "scaled" else corpora[0]
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    server_code = loaded_code()
    passes = http = varied = None
    with tempfile.TemporaryDirectory(prefix="query-bench-http-") as tmp:
        if not args.skip_passes:
            passes = bench_passes(
                Path(corpora[0]["index_dir"]),
                queries,
                corpora[0]["ours"]["passes"]["cold"],
                logs,
                Path(tmp),
            )
        if args.http_seconds > 0:
            http = bench_http(
                Path(http_corpus["index_dir"]),
                queries,
                args.http_seconds,
                args.http_clients,
                args.http_warmup,
                Path(tmp),
            )
            # The log goes with the temporary directory: keep a copy.
            kept = out / "gunicorn-last.log"
            shutil.copyfile(http["server_log"], kept)
            http["server_log"] = str(kept)
        if args.minutes > 0:
            varied = bench_varied(
                Path(http_corpus["index_dir"]),
                queries,
                Path(http_corpus["posts_dir"]),
                args.minutes,
                logs,
                Path(tmp) / "varied",
            )

    results = {
        "environment": environment(),
        "loadavg_start": loadavg_start,
        "loadavg_end": tuple(round(x, 2) for x in os.getloadavg()),
        "tsv": str(args.tsv),
        "n_queries": len(queries),
        "queries_sampled": sampled,
        "quick": args.quick,
        "warmup_queries": list(WARMUP_QUERIES),
        "targets_ms": {"median": TARGET_MEDIAN_MS, "p95": TARGET_P95_MS},
        "targets_http": {
            "serve_over_gunicorn_first_pass": TARGET_SERVE_RATIO,
            "gunicorn_minus_in_process_p50_ms": TARGET_HTTP_OVERHEAD_MS,
            "worker_pss_mb": [{"posts": n, "mb": mb} for n, mb in TARGET_WORKER_PSS_MB],
        },
        "bench_code": {"search": sys.modules["search"].__file__},
        "server_code": server_code,
        "corpora": corpora,
        "passes": passes,
        "http": http,
        "varied": varied,
        "total_s": time.perf_counter() - started,
    }
    print_report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
