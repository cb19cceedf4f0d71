"""Query latency benchmark for blogsearch: in process, against SQLite FTS5, and over HTTP.

Run from the repository root::

    .venv/bin/python bench/query_bench.py [--posts DIR] [--scaled N] [--skip-scaled]
                                          [--tsv FILE] [--http-seconds S] [--json OUT]
                                          [--quick]

What it measures (it prints numbers and the targets next to them; it never fails
on a time):

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
4. **HTTP**: ``gunicorn --preload -w 2 -b 127.0.0.1:<free port>
   'web:create_app()'`` on the scaled index (the posts index with
   ``--skip-scaled``; ``--http-index`` chooses), rate limiting off. A separate
   client process (``bench/httpload.py``) runs ``--http-clients`` threads (4)
   with ``http.client`` connections, cycling through the same queries as
   ``GET /api/search?q=<URL-encoded query>``, for ``--http-warmup`` seconds (2,
   not counted; both workers open their searcher then) and then
   ``--http-seconds`` (20; 0 skips HTTP). Reported: requests/s, p50/p95/p99
   latency as the client sees it, errors (anything but a 200 with JSON), and
   server log lines worth a look (tracebacks, worker timeouts or restarts).
   gunicorn is always terminated at the end.

``--quick`` is for checking that the script works, not for numbers: a
300-post sample of ``--posts`` (copied once into ``bench/out/query-bench``),
60 of the queries, a 2,000-post scaled copy, 5 s of HTTP; each can still be
set explicitly (``--sample``, ``--max-queries``, ``--scaled``,
``--http-seconds``). ``--json OUT`` writes every number, per-query latencies
included.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
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
    latency_stats,
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
)
from search.posts import find_post_files  # noqa: E402
from search.query import SearchEngine, SearchRequest  # noqa: E402

OUT_DIR = REPO / "bench" / "out" / "query-bench"
WARMUP_QUERIES = ("東海道新幹線で京都へ", "ファイルの権限", "Python")
TARGET_MEDIAN_MS = 10.0
TARGET_P95_MS = 30.0
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


def print_report(results: dict[str, Any]) -> None:
    env = results["environment"]
    dirty = f", {len(env['git_dirty_files'])} modified file(s)" if env["git_dirty_files"] else ""
    print()
    print(
        f"blogsearch query benchmark - Python {env['python']}, {env['usable_cpus']} usable "
        f"core(s), commit {env['git_commit']}{dirty}"
    )
    print(f"load average at start {results['loadavg_start']}, at end {results['loadavg_end']}")
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
    http = results.get("http")
    if http:
        lat = http["latency_ms"]
        print()
        print(
            f"HTTP: gunicorn --preload -w 2 on {http['documents']:,} docs "
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
        if http["server_log_findings"]:
            print(f"  server log ({http['server_log']}):")
            for line in http["server_log_findings"][:20]:
                print(f"    {line}")
        else:
            print("  server log: no tracebacks, errors or worker restarts")
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
        help="measured seconds of HTTP load [20]; 0 skips HTTP",
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

    http = None
    if args.http_seconds > 0:
        which = args.http_index or ("posts" if args.skip_scaled else "scaled")
        corpus = corpora[-1] if which == "scaled" else corpora[0]
        with tempfile.TemporaryDirectory(prefix="query-bench-http-") as tmp:
            http = bench_http(
                Path(corpus["index_dir"]),
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
        "corpora": corpora,
        "http": http,
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
