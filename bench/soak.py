"""Soak test for blogsearch: a gunicorn server under load while the index is rebuilt twice.

Run from the repository root::

    .venv/bin/python bench/soak.py [--seconds 60] [--clients 4] [--posts DIR] [--json OUT]
                                   [--sample N] [--keep-tmp]

What happens:

1. The posts folder (``--posts``, default ``../shared/corpus/posts``; with
   ``--sample N`` only N posts spread over it) is copied into a temporary
   directory (with the ``_config.yml`` the blog has, if any) and indexed there
   with :func:`search.indexer.build_index`.
2. ``gunicorn --preload -w 2 -b 127.0.0.1:<free port> 'web:create_app()'``
   serves that index (rate limiting off); see ``bench/httpload.py``.
3. A separate client process runs ``--clients`` threads (4) for ``--seconds``
   (60), cycling through the queries of ``../shared/queries/dev.tsv`` (a few
   built-in queries when it is absent) as ``GET /api/search?q=...``; every
   ``--marker-every``-th request (5) of each thread searches for the marker word
   instead. Every response is recorded: status, latency and the
   ``indexVersion`` of the JSON answer.
4. At about 1/3 of the time ``.venv/bin/blogsearch index DIR --index-dir IX
   --full`` runs; at about 2/3 (or as soon as the first run is done, if it took
   longer) a new post with a unique marker word - a made-up katakana word
   derived from a uuid, with the uuid's hex next to it - is added to the posts
   folder and the same command runs again. A thread polls ``IX/CURRENT`` every
   10 ms to note when each new version becomes current (the *switch*).
5. The load stops at ``--seconds``, but never before ``--tail`` seconds
   (``max(2, seconds / 6)``) after the second switch, so that the last phase is
   never empty; if the rebuilds are slow the run is longer than ``--seconds``
   (it says so), at most ``--max-extra`` seconds (1800) longer. Under the
   load the rebuilds get a small share of the two cores: 150 posts took about
   40 s per ``--full`` run here (17 s without load), so with the whole corpus
   expect each rebuild to take several minutes and the run to be extended.

Printed: requests served, errors (anything but a 200 with a JSON body; each is
listed), p50/p95/p99 latency in three phases by the request's start - before
the first rebuild starts, during the rebuilds (up to the last switch), after
the last switch - the index versions seen with the number of responses each,
answers that started after the last switch and still came from an older
version, and whether the marker post was found after the second switch and how
long after it the first answer with it arrived. Exit status 1 if any request
failed, a rebuild failed, or the marker post never appeared.

``run_soak(seconds, clients, posts_dir, ...)`` does the same and returns a dict
(``ok``, ``errors``, ``phases``, ``versions``, ``marker``, ...), for a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.httpload import (  # noqa: E402
    ERROR,
    FOUND,
    KIND,
    KIND_MARKER,
    PATH,
    STATUS,
    T0,
    T1,
    VERSION,
    GunicornServer,
    LoadClient,
    blogsearch_exe,
    latency_stats,
)
from bench.index_bench import log as stderr_log  # noqa: E402
from bench.inputs import require_inputs  # noqa: E402
from bench.query_bench import sample_posts  # noqa: E402
from bench.relevance import DEFAULT_POSTS, DEFAULT_TSV, load_queries  # noqa: E402
from search.indexer import build_index  # noqa: E402
from search.posts import find_post_files  # noqa: E402
from search.site import find_jekyll_config, load_site_config  # noqa: E402
from search.store import IndexStore  # noqa: E402

FALLBACK_QUERIES = ("東海道新幹線", "京都", "パソコン", "スマートフォン アプリ", "サーバー 設定")
# Sixteen plain katakana, one per hex digit of the uuid: the marker word.
KATAKANA = "カキクケコサシスセソタチツテトナ"
PHASES = ("before", "during", "after")
PHASE_LABELS = {
    "before": "before the first rebuild",
    "during": "during rebuilds",
    "after": "after the last switch",
}


# --- pieces -----------------------------------------------------------------------


def copy_posts(src: Path, dest_root: Path, sample: int | None) -> Path:
    """Copy *src* (or *sample* posts of it) to ``dest_root/_posts``, with its _config.yml."""
    posts = dest_root / "_posts"
    if sample:
        sample_posts(src, sample, posts)
    else:
        shutil.copytree(src, posts)
    config = find_jekyll_config(src)
    if config is not None:
        shutil.copy2(config, dest_root / config.name)
    return posts


def make_marker() -> dict[str, str]:
    hexid = uuid.uuid4().hex
    word = "".join(KATAKANA[int(c, 16)] for c in hexid[:8])
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    return {"uuid": hexid, "word": word, "id": f"{day}-soak-marker-{hexid[:12]}.md", "day": day}


def write_marker_post(posts: Path, marker: dict[str, str]) -> Path:
    path = posts / marker["id"]
    path.write_text(
        "---\n"
        f'title: "ソーク試験の目印 {marker["word"]}"\n'
        f"date: {marker['day']} 12:00:00 +0900\n"
        "tags: [soak]\n"
        "---\n"
        f"この記事は負荷試験の目印です。{marker['word']} という言葉は"
        "他のどの記事にもありません。\n\n"
        f"識別子: {marker['word']}{marker['uuid']}\n",
        encoding="utf-8",
    )
    return path


class SwitchWatcher(threading.Thread):
    """Notes (monotonic time, version) whenever ``CURRENT`` names a new version."""

    def __init__(self, index_dir: Path, interval: float = 0.01):
        super().__init__(daemon=True)
        self.store = IndexStore(index_dir)
        self.interval = interval
        self.changes: list[tuple[float, str | None]] = [
            (time.monotonic(), self.store.current_name())
        ]
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            name = self.store.current_name()
            if name != self.changes[-1][1]:
                self.changes.append((time.monotonic(), name))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def run_cli(posts: Path, index_dir: Path, timeout: float) -> dict[str, Any]:
    """``blogsearch index POSTS --index-dir IX --full`` as a subprocess."""
    env = {k: v for k, v in os.environ.items() if k != "BLOGSEARCH_INDEX_DIR"}
    env["CI"] = "1"  # no progress bar
    cmd = [blogsearch_exe(), "index", str(posts), "--index-dir", str(index_dir), "--full"]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout, check=False
        )
        returncode, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        returncode, stdout, stderr = -1, str(exc.stdout or ""), f"timed out after {timeout:.0f} s"
    ended = time.monotonic()
    lines = stdout.strip().splitlines()
    return {
        "command": cmd,
        "start": started,
        "end": ended,
        "seconds": ended - started,
        "returncode": returncode,
        "stdout": lines[-1] if lines else "",
        "stderr_tail": stderr.strip().splitlines()[-5:],
    }


def _sleep_until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# --- the soak -----------------------------------------------------------------------


def run_soak(
    seconds: float = 60.0,
    clients: int = 4,
    posts_dir: Path | str = DEFAULT_POSTS,
    *,
    sample: int | None = None,
    tsv: Path | str | None = DEFAULT_TSV,
    marker_every: int = 5,
    tail: float | None = None,
    max_extra: float = 1800.0,
    workers: int = 2,
    keep_tmp: bool = False,
    server_log: Path | None = None,
    log: Callable[[str], None] = stderr_log,
) -> dict[str, Any]:
    """Run the soak (see the module docstring); returns every figure, ``ok`` first."""
    posts_dir = Path(posts_dir)
    tail = max(2.0, seconds / 6) if tail is None else tail
    if tsv is not None and Path(tsv).is_file():
        queries = [q.query for q in load_queries(tsv)]
        query_source = str(tsv)
    else:
        queries, query_source = list(FALLBACK_QUERIES), "built-in"
    paths = ["/api/search?" + urlencode({"q": q}) for q in queries]
    marker = make_marker()
    marker_path = "/api/search?" + urlencode({"q": marker["word"]})
    tmp = Path(tempfile.mkdtemp(prefix="blogsearch-soak-"))
    result: dict[str, Any] = {"ok": False, "tmp": str(tmp), "marker": {**marker}}
    try:
        posts = copy_posts(posts_dir, tmp, sample)
        index_dir = tmp / "index"
        n_posts = len(find_post_files(posts))
        log(f"soak: indexing {n_posts} posts copied from {posts_dir} into {tmp}")
        started = time.monotonic()
        report = build_index(posts, index_dir, load_site_config(posts), full=True)
        log(f"soak: {report.documents} docs in {time.monotonic() - started:.1f} s")
        log_path = server_log or tmp / "gunicorn.log"
        with GunicornServer(index_dir, log_path, workers=workers) as server:
            log(
                f"soak: gunicorn -w {workers} on 127.0.0.1:{server.port}; {clients} clients, "
                f"{seconds:g} s, {len(paths)} queries ({query_source})"
            )
            client = LoadClient(
                server.port,
                paths,
                threads=clients,
                seconds=seconds + max_extra + tail,
                workdir=tmp / "client",
                marker_path=marker_path,
                marker_id=marker["id"],
                marker_every=marker_every,
                name="soak",
            )
            watcher = SwitchWatcher(index_dir)
            rebuilds: list[dict[str, Any]] = []
            try:
                t_start = client.wait_ready()
                watcher.start()
                hard_end = t_start + seconds + max_extra
                _sleep_until(t_start + seconds / 3)
                log("soak: rebuild 1 (--full)")
                rebuilds.append(run_cli(posts, index_dir, max(1.0, hard_end - time.monotonic())))
                _sleep_until(t_start + 2 * seconds / 3)
                marker["added"] = time.monotonic()
                write_marker_post(posts, marker)
                log(f"soak: marker post {marker['id']} added; rebuild 2 (--full)")
                rebuilds.append(run_cli(posts, index_dir, max(1.0, hard_end - time.monotonic())))
                for i, r in enumerate(rebuilds, 1):
                    log(
                        f"soak: rebuild {i}: exit {r['returncode']}, {r['seconds']:.1f} s: "
                        f"{r['stdout'] or r['stderr_tail']}"
                    )
                _sleep_until(min(hard_end, max(t_start + seconds, rebuilds[-1]["end"] + tail)))
                client.stop()
                data = client.result()
            finally:
                client.kill()
                watcher.stop()
            findings = server.log_findings()
            health = server.health()
        result.update(analyze(data, rebuilds, watcher.changes, marker, paths, seconds, t_start))
        result.update(
            posts=n_posts,
            posts_dir=str(posts_dir),
            clients=clients,
            workers=workers,
            seconds_asked=seconds,
            queries=len(paths),
            query_source=query_source,
            server_port=server.port,
            server_command=server.command,
            server_log_findings=findings,
            server_log=str(log_path),
            final_health=health,
        )
        result["marker"].pop("added", None)
        return result
    finally:
        if not keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def analyze(
    data: dict[str, Any],
    rebuilds: list[dict[str, Any]],
    changes: list[tuple[float, str | None]],
    marker: dict[str, Any],
    paths: list[str],
    seconds: float,
    t0: float,
) -> dict[str, Any]:
    """Phases, versions, marker and errors from the client's records."""
    records = data["records"]

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - t0, 3)

    initial = changes[0][1]
    switches = [(t, name) for t, name in changes[1:] if name is not None]
    first_start = rebuilds[0]["start"] if rebuilds else float("inf")
    second = rebuilds[1] if len(rebuilds) > 1 else None
    switch2 = None
    if second is not None:
        after_second = [(t, n) for t, n in switches if t >= second["start"]]
        if after_second:
            switch2 = after_second[-1]
        elif second["returncode"] == 0:
            switch2 = (second["end"], None)  # not seen by the watcher: the CLI's end
    last_switch = switches[-1][0] if switches else float("inf")
    if switch2 is not None:
        last_switch = max(last_switch, switch2[0])
    last_version = switches[-1][1] if switches else initial

    def phase_of(r: list[Any]) -> str:
        if r[T0] < first_start:
            return "before"
        return "during" if r[T0] < last_switch else "after"

    phases: dict[str, dict[str, Any]] = {}
    for p in PHASES:
        rs = [r for r in records if phase_of(r) == p]
        ok_ms = [(r[T1] - r[T0]) * 1000 for r in rs if r[ERROR] is None]
        phases[p] = {"requests": len(rs), "errors": sum(1 for r in rs if r[ERROR] is not None)}
        phases[p].update(latency_stats(ok_ms))
    phases["before"]["until_s"] = rel(first_start) if rebuilds else None
    phases["after"]["from_s"] = rel(last_switch) if switches else None

    counts = Counter(r[VERSION] for r in records if r[ERROR] is None)
    origin = {initial: "initial"}
    for i, r in enumerate(rebuilds, 1):
        for t, name in switches:
            if r["start"] <= t <= r["end"] + 1:
                origin.setdefault(name, f"rebuild {i}")
    first_seen = {}
    for r in sorted(records, key=lambda r: r[T0]):
        if r[ERROR] is None and r[VERSION] not in first_seen:
            first_seen[r[VERSION]] = r[T0]
    versions = [
        {
            "version": v,
            "origin": origin.get(v, "?"),
            "responses": counts[v],
            "first_seen_s": rel(first_seen.get(v)),
        }
        for v in sorted(counts, key=lambda v: first_seen.get(v, 0))
    ]
    stale = [
        r
        for r in records
        if r[ERROR] is None and r[T0] >= last_switch and r[VERSION] != last_version
    ]

    markers = [r for r in records if r[KIND] == KIND_MARKER and r[ERROR] is None]
    found = [r for r in markers if r[FOUND]]
    m: dict[str, Any] = {
        "word": marker["word"],
        "id": marker["id"],
        "uuid": marker["uuid"],
        "added_s": rel(marker.get("added")),
        "queries": len(markers),
        "switch_s": rel(switch2[0]) if switch2 else None,
        "appeared": bool(found),
    }
    if switch2 is not None:
        after = [r for r in markers if r[T0] >= switch2[0]]
        m["queries_after_switch"] = len(after)
        m["missing_after_switch"] = sum(1 for r in after if not r[FOUND])
        m["found_before_switch"] = sum(1 for r in found if r[T1] < switch2[0])
        first = min((r for r in after if r[FOUND]), key=lambda r: r[T1], default=None)
        m["appeared_after_s"] = None if first is None else round(first[T1] - switch2[0], 3)
        m["first_found_at_s"] = rel(first[T1]) if first else None

    errors = [r for r in records if r[ERROR] is not None]
    error_list = [
        {
            "t_s": rel(r[T0]),
            "phase": phase_of(r),
            "status": r[STATUS],
            "error": r[ERROR],
            "query": unquote(paths[r[PATH]].split("=", 1)[1]) if r[PATH] >= 0 else marker["word"],
        }
        for r in errors
    ]
    duration = data["stopped"] - data["start"]
    rebuild_info = []
    for i, r in enumerate(rebuilds, 1):
        sw = [t for t, _ in switches if r["start"] <= t <= r["end"] + 1]
        rebuild_info.append(
            {
                "n": i,
                "start_s": rel(r["start"]),
                "end_s": rel(r["end"]),
                "switch_s": rel(sw[-1]) if sw else None,
                "seconds": round(r["seconds"], 2),
                "returncode": r["returncode"],
                "stdout": r["stdout"],
                "stderr_tail": r["stderr_tail"],
            }
        )
    rebuilds_ok = len(rebuilds) == 2 and all(r["returncode"] == 0 for r in rebuilds)
    return {
        "ok": not errors and bool(found) and rebuilds_ok,
        "requests": len(records),
        "requests_per_s": len(records) / duration if duration > 0 else 0.0,
        "duration_s": round(duration, 2),
        "extended": duration > seconds + 0.5,
        "errors": error_list,
        "phases": phases,
        "versions": versions,
        "switches": [{"t_s": rel(t), "version": name} for t, name in switches],
        "stale_after_last_switch": len(stale),
        "rebuilds": rebuild_info,
        "rebuilds_ok": rebuilds_ok,
        "marker": m,
    }


# --- report -------------------------------------------------------------------------


def print_report(r: dict[str, Any]) -> None:
    print()
    extended = (
        f" (asked {r['seconds_asked']:g} s; extended to see the last phase)"
        if r["extended"]
        else ""
    )
    print(
        f"soak: {r['posts']:,} posts, gunicorn -w {r['workers']} on 127.0.0.1, "
        f"{r['clients']} client threads in a separate process, {r['duration_s']:.1f} s"
        f"{extended}; {r['queries']} queries ({r['query_source']})"
    )
    print("rebuilds: blogsearch index DIR --index-dir IX --full (times from the load's start)")
    for b in r["rebuilds"]:
        switch = f"{b['switch_s']:.2f} s" if b["switch_s"] is not None else "not seen"
        print(
            f"  {b['n']}: started {b['start_s']:.2f} s, switch {switch}, "
            f"finished {b['end_s']:.2f} s ({b['seconds']:.1f} s, exit {b['returncode']}): "
            f"{b['stdout']}"
        )
        if b["returncode"] != 0:
            for line in b["stderr_tail"]:
                print(f"     {line}")
    print(
        f"requests served: {r['requests']:,} ({r['requests_per_s']:.1f}/s); "
        f"errors: {len(r['errors'])}"
    )
    for e in r["errors"][:50]:
        print(f"  error at {e['t_s']:.2f} s ({e['phase']}): {e['error']}  q={e['query']}")
    if len(r["errors"]) > 50:
        print(f"  ... and {len(r['errors']) - 50} more")
    print(f"  {'latency ms':<36}{'requests':>9}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}")
    for p in PHASES:
        s = r["phases"][p]
        label = PHASE_LABELS[p]
        if p == "before" and s.get("until_s") is not None:
            label += f" (<{s['until_s']:.1f} s)"
        if p == "after" and s.get("from_s") is not None:
            label += f" (>={s['from_s']:.1f} s)"
        print(
            f"  {label:<36}{s['requests']:>9,}{s['p50']:>8.1f}{s['p95']:>8.1f}"
            f"{s['p99']:>8.1f}{s['max']:>8.1f}"
        )
    print("index versions seen (responses):")
    for v in r["versions"]:
        print(
            f"  {v['version']}  {v['origin']:<10} {v['responses']:>7,}  "
            f"first at {v['first_seen_s']:.2f} s"
        )
    print(f"answers from an older version after the last switch: {r['stale_after_last_switch']}")
    m = r["marker"]
    if m["appeared"] and m.get("appeared_after_s") is not None:
        print(
            f"marker post {m['id']} (q={m['word']}): appeared {m['appeared_after_s']:.3f} s "
            f"after the second switch; {m['queries_after_switch']} marker queries after "
            f"the switch, {m['missing_after_switch']} without it; "
            f"{m['found_before_switch']} found before it"
        )
    elif m["appeared"]:
        print(f"marker post {m['id']} (q={m['word']}): found, but the switch was not seen")
    else:
        print(
            f"marker post {m['id']} (q={m['word']}): NEVER appeared ({m['queries']} marker queries)"
        )
    if r["server_log_findings"]:
        print(f"server log ({r['server_log']}):")
        for line in r["server_log_findings"][:30]:
            print(f"  {line}")
    else:
        print("server log: no tracebacks, errors or worker restarts")
    print(f"final health: {r['final_health']}")
    print("result: " + ("OK" if r["ok"] else "FAILED"))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="load time [60]")
    ap.add_argument("--clients", type=int, default=4, help="client threads [4]")
    ap.add_argument("--posts", type=Path, default=DEFAULT_POSTS, help="posts folder to copy")
    ap.add_argument("--sample", type=int, default=None, help="copy only N posts of --posts")
    ap.add_argument("--tsv", type=Path, default=DEFAULT_TSV, help="queries [%(default)s]")
    ap.add_argument("--marker-every", type=int, default=5, help="marker query period [5]")
    ap.add_argument("--tail", type=float, default=None, help="min seconds after the switch")
    ap.add_argument("--max-extra", type=float, default=1800.0, help="max seconds over --seconds")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temporary directory")
    ap.add_argument("--json", type=Path, default=None, help="write every figure here")
    args = ap.parse_args(argv)
    require_inputs("soak.py", posts=args.posts, tsv=args.tsv)
    if args.seconds <= 0 or args.clients < 1 or args.marker_every < 1:
        ap.error("--seconds, --clients and --marker-every must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "soak-gunicorn.log"
    log_path.unlink(missing_ok=True)
    result = run_soak(
        args.seconds,
        args.clients,
        args.posts,
        sample=args.sample,
        tsv=args.tsv,
        marker_every=args.marker_every,
        tail=args.tail,
        max_extra=args.max_extra,
        keep_tmp=args.keep_tmp,
        server_log=log_path,
    )
    print_report(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
