"""Indexing benchmark for blogsearch: build throughput, the Janome peer, update latency.

Run from the repository root::

    .venv/bin/python bench/index_bench.py [--posts DIR] [--scaled N] [--skip-scaled]
                                          [--json FILE]

What it measures (it prints numbers; it never asserts a time):

1. **Full build of the real corpus** (``../shared/corpus/posts/``, 1,747 posts):
   ``search.indexer.build_index(..., full=True)`` with the default worker count
   (one process per core) into a fresh temporary index directory. Reported:
   wall seconds, posts/s, characters/s (``IndexReport.characters``, i.e. the
   body + code text the loader produced, divided by the wall time), the raw
   characters of the post files and of their bodies (after the front matter)
   with the matching rates, the index size on disk (sum of the file sizes of
   the published version directory), CPU seconds of the parent and of the
   worker processes, and peak RSS.
2. **The same for a scaled copy** (10,000 posts by default, ``--scaled N``) made
   in a temporary directory with ``../shared/corpus/make_scaled.py``.
   ``--skip-scaled`` leaves this part out.
3. **The peer**: raw Janome, ``Tokenizer().tokenize(text, wakati=True)``
   consumed fully, on ONE core (this process) over the plain text the indexer
   analyzes - ``search.posts.load_post`` of the first ``--janome-posts`` posts
   (300 by default, about 1.0 M characters), title + body + code of each - once
   on the real posts and once on the scaled copy, whose text differs (Janome
   reads it about 10% slower per character). The ratio printed for each build
   is its characters/s (all cores) divided by raw Janome characters/s on one
   core on that build's own text; the issue's target is >= 1.6 on two cores.
   Because wall clocks suffer from other load on the machine, a CPU-time
   estimate is printed as well: characters per CPU-second of the build (parent
   + workers) times the worker count, over Janome's characters per CPU-second -
   the ratio on otherwise idle cores with perfect overlap (an upper bound).
   The peer runs after the builds, so the forked build workers do not inherit
   its dictionary.
4. **Incremental update latency**: after the scaled build (or after the
   1,747-post build, on a private copy of the posts, when the scaled part is
   skipped), run ``.venv/bin/blogsearch index DIR --index-dir IX`` once (it
   should find nothing to do; it rebuilds in full if the code on disk changed
   since start-up), then append a line of Japanese text to one indexed post and
   time the same command as a subprocess, wall clock including interpreter
   start-up (target < 3 s); then time a re-run with nothing changed.
   ``--rounds`` repeats this on different posts. For reference,
   ``blogsearch --version`` is timed as the bare process start-up.

Everything is written under one temporary directory, removed at the end
(``--keep-tmp`` keeps it). ``--json FILE`` writes every figure as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

# Whoosh 2.7.4 has non-raw regex strings; the warnings say nothing about speed.
warnings.filterwarnings("ignore", category=SyntaxWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)
REPO = Path(__file__).resolve().parent.parent
# Run as a script (python bench/index_bench.py): the repository is not on the path.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.inputs import require_inputs  # noqa: E402
from search.indexer import build_index, default_workers  # noqa: E402
from search.posts import find_post_files, load_post  # noqa: E402
from search.site import load_site_config  # noqa: E402
from search.store import IndexStore  # noqa: E402

DEFAULT_POSTS = REPO.parent / "shared" / "corpus" / "posts"
MAKE_SCALED = REPO.parent / "shared" / "corpus" / "make_scaled.py"
APPENDED_LINE = "\n追記：東海道新幹線の運行状況を確認してから京都へ向かった。\n"

TARGET_RATIO = 1.6
TARGET_UPDATE_SECONDS = 3.0


# --- helpers ------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def dir_bytes(path: Path) -> int:
    """Sum of the sizes of the files under *path* (recursively)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def raw_text_stats(posts_dir: Path) -> dict[str, int]:
    """Files, bytes and characters of the raw post files, and of their bodies.

    The body is what follows the front matter (``---`` ... ``---``); files are
    decoded as UTF-8 with replacement, one at a time.
    """
    files = byte_count = chars = body_chars = 0
    for rel in find_post_files(posts_dir):
        try:
            data = (posts_dir / rel).read_bytes()
        except OSError:
            continue
        text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        files += 1
        byte_count += len(data)
        chars += len(text)
        body = text
        if text.startswith("---\n"):
            end = text.find("\n---", 4)
            if end >= 0:
                nl = text.find("\n", end + 4)
                body = text[nl + 1 :] if nl >= 0 else ""
        body_chars += len(body)
    return {"files": files, "bytes": byte_count, "raw_chars": chars, "raw_body_chars": body_chars}


def cpu_times() -> tuple[float, float]:
    """(this process, its reaped children) user + system CPU seconds."""
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def peak_rss_mb() -> dict[str, float]:
    """Peak resident set size of this process and of its largest reaped child."""
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"parent_mb": self_kb / 1024, "largest_child_mb": child_kb / 1024}


def rate(amount: float, seconds: float) -> float:
    return amount / seconds if seconds > 0 else 0.0


# --- 1 + 2: full builds ---------------------------------------------------------


def bench_full_build(label: str, posts_dir: Path, index_dir: Path) -> dict[str, Any]:
    log(f"{label}: counting raw text in {posts_dir}")
    raw = raw_text_stats(posts_dir)
    site = load_site_config(posts_dir)
    workers = default_workers()
    log(f"{label}: full build of {raw['files']} files, {workers} worker(s) -> {index_dir}")
    gc.collect()
    cpu_self0, cpu_child0 = cpu_times()
    started = time.perf_counter()
    report = build_index(posts_dir, index_dir, site, full=True, workers=workers)
    seconds = time.perf_counter() - started
    cpu_self1, cpu_child1 = cpu_times()
    store = IndexStore(index_dir)
    version = store.current()
    size = dir_bytes(version.path)
    parent_cpu = cpu_self1 - cpu_self0
    worker_cpu = cpu_child1 - cpu_child0
    result = {
        "label": label,
        "posts_dir": str(posts_dir),
        "index_dir": str(index_dir),
        "workers": workers,
        "seconds": seconds,
        "report_seconds": report.seconds,
        "names_seconds": report.names_seconds,
        "files": raw["files"],
        "documents": report.documents,
        "analyzed": report.analyzed,
        "skipped": len(report.skipped),
        "warnings": len(report.warnings),
        "posts_per_s": rate(report.analyzed, seconds),
        "characters": report.characters,
        "chars_per_s": rate(report.characters, seconds),
        "raw_bytes": raw["bytes"],
        "raw_chars": raw["raw_chars"],
        "raw_chars_per_s": rate(raw["raw_chars"], seconds),
        "raw_body_chars": raw["raw_body_chars"],
        "raw_body_chars_per_s": rate(raw["raw_body_chars"], seconds),
        "index_bytes": size,
        "index_bytes_per_raw_byte": size / raw["bytes"] if raw["bytes"] else 0.0,
        "version": version.name,
        "parent_cpu_s": parent_cpu,
        "worker_cpu_s": worker_cpu,
        "cores_busy": rate(parent_cpu + worker_cpu, seconds),
        # Contention-proof view: characters per CPU-second of parent + workers,
        # and what that would give if every core did nothing else and the work
        # spread perfectly (an upper bound for an idle machine).
        "chars_per_cpu_s": rate(report.characters, parent_cpu + worker_cpu),
        "idle_estimate_chars_per_s": rate(report.characters, parent_cpu + worker_cpu) * workers,
        "peak_rss": peak_rss_mb(),
        "problems_sample": [str(p) for p in report.problems[:10]],
    }
    log(
        f"{label}: {seconds:.1f} s, {result['posts_per_s']:.1f} posts/s, "
        f"{result['chars_per_s'] / 1000:.0f}k chars/s, index {size / 1e6:.1f} MB"
    )
    return result


def make_scaled(n: int, src: Path, out: Path) -> dict[str, Any]:
    if not MAKE_SCALED.is_file():
        raise SystemExit(f"cannot find {MAKE_SCALED}")
    log(f"making a {n}-post copy in {out}")
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(MAKE_SCALED), str(n), str(out), "--src", str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"make_scaled.py failed ({proc.returncode}):\n{proc.stderr}")
    return {"n": n, "seconds": seconds, "output": proc.stdout.strip()}


# --- 3: the Janome peer -----------------------------------------------------------


def bench_janome(posts_dir: Path, sample: int) -> dict[str, Any]:
    """Raw Janome wakati tokenization, one core, over the loader's plain text."""
    from janome.tokenizer import Tokenizer

    site = load_site_config(posts_dir)
    rels = find_post_files(posts_dir)[:sample]
    texts: list[str] = []
    for rel in rels:
        post = load_post(posts_dir, rel, site).post
        if post is None:
            continue
        texts.append("\n".join(part for part in (post.title, post.body, post.code) if part))
    chars = sum(len(t) for t in texts)
    log(f"janome: {len(texts)} posts, {chars:,} characters, one core")
    started = time.perf_counter()
    tokenizer = Tokenizer()
    for _ in tokenizer.tokenize("東海道新幹線で京都へ行きました。", wakati=True):
        pass  # warm-up: the first call loads parts of the dictionary
    construct = time.perf_counter() - started
    tokens = 0
    gc.collect()
    cpu_started = time.process_time()
    started = time.perf_counter()
    for text in texts:
        for _ in tokenizer.tokenize(text, wakati=True):
            tokens += 1
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    result = {
        "posts": len(texts),
        "characters": chars,
        "tokens": tokens,
        "seconds": seconds,
        "construct_seconds": construct,
        "chars_per_s": rate(chars, seconds),
        "cpu_seconds": cpu_seconds,
        "chars_per_cpu_s": rate(chars, cpu_seconds),
    }
    log(f"janome: {seconds:.1f} s, {result['chars_per_s'] / 1000:.0f}k chars/s")
    return result


# --- 4: incremental update latency ------------------------------------------------


def blogsearch_exe() -> str:
    exe = REPO / ".venv" / "bin" / "blogsearch"
    if exe.is_file():
        return str(exe)
    found = shutil.which("blogsearch")
    if found is None:
        raise SystemExit("cannot find .venv/bin/blogsearch (run `make install`)")
    return found


def timed_run(args: list[str]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "BLOGSEARCH_INDEX_DIR"}
    env["CI"] = "1"  # no progress bar
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO, env=env, check=False)
    seconds = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines()
    return {
        "seconds": seconds,
        "returncode": proc.returncode,
        "stdout": lines[-1] if lines else "",
        "stderr_tail": proc.stderr.strip().splitlines()[-5:],
    }


def code_state() -> dict[str, str]:
    """A digest of the search package's sources and the analysis version they declare.

    Others may edit the working tree while the benchmark runs; the in-process
    builds use the code imported at start-up, the ``blogsearch`` subprocesses
    whatever is on disk when they start.
    """
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted((REPO / "search").rglob("*.py")):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    proc = subprocess.run(
        [sys.executable, "-c", "from search.schema import ANALYSIS_VERSION as v; print(v)"],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    return {"sources": digest.hexdigest(), "analysis_version": proc.stdout.strip() or "?"}


def bench_incremental(posts_dir: Path, index_dir: Path, rounds: int) -> dict[str, Any]:
    exe = blogsearch_exe()
    # Only posts that are in the index: changing a skipped file updates nothing.
    manifest = IndexStore(index_dir).current().manifest
    files = manifest.get("files", {})
    rels = sorted(rel for rel, entry in files.items() if entry.get("indexed"))
    if not rels:
        raise SystemExit(f"no indexed posts in {index_dir}")
    on_disk = code_state()
    if on_disk["analysis_version"] != manifest.get("analysis_version"):
        log(
            f"incremental: the code on disk has analysis version {on_disk['analysis_version']}, "
            f"the index {manifest.get('analysis_version')}: the first run rebuilds in full"
        )
    startup = [timed_run([exe, "--version"])["seconds"] for _ in range(3)]
    # The first run after the in-process build: normally nothing to do. It also
    # brings the index up to date if the code on disk changed since start-up.
    log("incremental: first run after the full build")
    first = timed_run([exe, "index", str(posts_dir), "--index-dir", str(index_dir)])
    log(f"incremental: first run {first['seconds']:.2f} s: {first['stdout']}")
    updates: list[dict[str, Any]] = []
    nochange: list[dict[str, Any]] = []
    for i in range(rounds):
        rel = rels[(len(rels) * (2 * i + 1)) // (2 * rounds)]  # spread over the corpus
        with open(posts_dir / rel, "a", encoding="utf-8") as f:
            f.write(APPENDED_LINE)
        log(f"incremental: appended a line to {rel}")
        run = timed_run([exe, "index", str(posts_dir), "--index-dir", str(index_dir)])
        run["file"] = rel
        updates.append(run)
        log(f"incremental: update {run['seconds']:.2f} s (exit {run['returncode']})")
        run = timed_run([exe, "index", str(posts_dir), "--index-dir", str(index_dir)])
        nochange.append(run)
        log(f"incremental: no change {run['seconds']:.2f} s (exit {run['returncode']})")
    update_s = [r["seconds"] for r in updates]
    nochange_s = [r["seconds"] for r in nochange]
    return {
        "posts": len(files),
        "index_dir": str(index_dir),
        "code_on_disk": on_disk,
        "index_analysis_version": manifest.get("analysis_version"),
        "startup_seconds": min(startup),
        "first_run": first,
        "update_seconds": update_s,
        "update_median": statistics.median(update_s),
        "update_max": max(update_s),
        "nochange_seconds": nochange_s,
        "nochange_median": statistics.median(nochange_s),
        "updates": updates,
        "nochange": nochange,
        "index_bytes_after": dir_bytes(IndexStore(index_dir).current().path),
    }


# --- report -------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return proc.stdout.strip()

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "usable_cpus": default_workers(),
        "janome": version("janome"),
        "whoosh": version("Whoosh"),
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_dirty_files": git("status", "--porcelain", "--untracked-files=no").splitlines(),
    }


def print_table(results: dict[str, Any]) -> None:
    builds = results["builds"]
    janome = results.get("janome")
    inc = results.get("incremental")
    env = results["environment"]
    dirty = f", {len(env['git_dirty_files'])} modified file(s)" if env["git_dirty_files"] else ""
    print()
    print(
        f"blogsearch index benchmark - Python {env['python']}, Janome {env['janome']}, "
        f"Whoosh {env['whoosh']}, {env['usable_cpus']} usable core(s), "
        f"commit {env['git_commit']}{dirty}"
    )
    start, end = results["code_at_start"], results["code_at_end"]
    if start != end:
        print(
            f"NOTE: search/ changed during the run (sources {start['sources']} -> "
            f"{end['sources']}, analysis version {start['analysis_version']} -> "
            f"{end['analysis_version']}); the builds used the code at start-up."
        )
    print()
    name_w = 34
    cols = [b["label"] for b in builds]
    col_w = max(16, *(len(c) + 2 for c in cols))

    def row(name: str, values: list[str]) -> None:
        print(f"{name:<{name_w}}" + "".join(f"{v:>{col_w}}" for v in values))

    row("full build", cols)
    row("-" * (name_w - 2), ["-" * (col_w - 2)] * len(cols))
    row("posts (files / indexed)", [f"{b['files']:,} / {b['documents']:,}" for b in builds])
    row("skipped / warnings", [f"{b['skipped']} / {b['warnings']}" for b in builds])
    row("workers", [str(b["workers"]) for b in builds])
    row("wall seconds", [f"{b['seconds']:.1f}" for b in builds])
    # Learning names across scripts (search/names.py) is one timed step of
    # the build: the ratio is the build over the build without that step.
    def names_ratio(b: dict) -> float:
        return b["seconds"] / max(b["seconds"] - b["names_seconds"], 1e-9)

    row("  names step (s, build ratio)",
        [f"{b['names_seconds']:.1f}, {names_ratio(b):.2f}x" for b in builds])  # fmt: skip
    row("posts/s", [f"{b['posts_per_s']:.1f}" for b in builds])
    row("chars indexed (body+code)", [f"{b['characters'] / 1e6:.2f} M" for b in builds])
    row("chars/s (body+code)", [f"{b['chars_per_s'] / 1000:.0f}k" for b in builds])
    row("raw file chars", [f"{b['raw_chars'] / 1e6:.2f} M" for b in builds])
    row("raw file chars/s", [f"{b['raw_chars_per_s'] / 1000:.0f}k" for b in builds])
    row("raw body chars/s", [f"{b['raw_body_chars_per_s'] / 1000:.0f}k" for b in builds])
    row("raw size on disk", [f"{b['raw_bytes'] / 1e6:.1f} MB" for b in builds])
    row("index size on disk", [f"{b['index_bytes'] / 1e6:.1f} MB" for b in builds])
    row("index size / raw size", [f"{b['index_bytes_per_raw_byte']:.2f}" for b in builds])
    row("CPU s: parent / workers", [f"{b['parent_cpu_s']:.0f} / {b['worker_cpu_s']:.0f}"
                                    for b in builds])  # fmt: skip
    row("cores busy (avg)", [f"{b['cores_busy']:.2f}" for b in builds])
    row("chars per CPU-second", [f"{b['chars_per_cpu_s'] / 1000:.0f}k" for b in builds])
    row("idle-cores estimate chars/s", [
        f"{b['idle_estimate_chars_per_s'] / 1000:.0f}k" for b in builds
    ])  # fmt: skip
    row("peak RSS MB: parent / a worker", [
        f"{b['peak_rss']['parent_mb']:.0f} / {b['peak_rss']['largest_child_mb']:.0f}"
        for b in builds
    ])  # fmt: skip
    if janome:
        peers = [b.get("peer") or janome for b in builds]
        row(
            "ratio vs raw Janome (1 core)",
            [f"{b['chars_per_s'] / p['chars_per_s']:.2f}"
             for b, p in zip(builds, peers, strict=True)],
        )  # fmt: skip
        row(
            "  same, CPU-time estimate",
            [f"{b['idle_estimate_chars_per_s'] / p['chars_per_cpu_s']:.2f}"
             for b, p in zip(builds, peers, strict=True)],
        )  # fmt: skip
    print()
    if janome:
        print("peer: raw Janome tokenize(wakati=True), one core, on each build's own text")
        for b, peer in zip(builds, peers, strict=True):
            print(f"  {b['label']}")
            print(
                f"    sample                        {peer['posts']} posts, "
                f"{peer['characters']:,} chars (title+body+code), {peer['tokens']:,} tokens"
            )
            print(f"    seconds                       {peer['seconds']:.1f} "
                  f"(+ {peer['construct_seconds']:.2f} s to construct and warm up)")  # fmt: skip
            print(
                f"    chars/s                       {peer['chars_per_s'] / 1000:.0f}k "
                f"(per CPU-second: {peer['chars_per_cpu_s'] / 1000:.0f}k)"
            )
        for b, peer in zip(builds, peers, strict=True):
            ratio = b["chars_per_s"] / peer["chars_per_s"]
            verdict = "meets" if ratio >= TARGET_RATIO else "below"
            estimate = b["idle_estimate_chars_per_s"] / peer["chars_per_cpu_s"]
            print(
                f"  ratio, {b['label']:<24} {ratio:.2f} ({verdict} the >= {TARGET_RATIO} "
                f"target; {b['workers']} worker(s)); idle-cores estimate {estimate:.2f}"
            )
        print(
            "  (measured ratios compare wall clocks; with other load on the machine the"
            " CPU-time\n   estimate, an upper bound, says more about the code)"
        )
        print()
    if inc:
        print(f"incremental update (`blogsearch index` subprocess, {inc['posts']:,} posts)")
        print(f"  process start (--version)       {inc['startup_seconds']:.2f} s")
        first = inc["first_run"]
        print(f"  first run after the build       {first['seconds']:.2f} s: {first['stdout']}")
        print(
            "  one post changed                "
            + ", ".join(f"{s:.2f}" for s in inc["update_seconds"])
            + f" s (median {inc['update_median']:.2f}; target < {TARGET_UPDATE_SECONDS:.0f} s: "
            + ("met" if inc["update_max"] < TARGET_UPDATE_SECONDS else "NOT met")
            + ")"
        )
        print(
            "  nothing changed                 "
            + ", ".join(f"{s:.2f}" for s in inc["nochange_seconds"])
            + f" s (median {inc['nochange_median']:.2f})"
        )
        for run in inc["updates"][:1] + inc["nochange"][:1]:
            print(f"  blogsearch said                 {run['stdout']}")
        for run in inc["updates"]:
            if run["returncode"] == 0 and " 1 updated" not in run["stdout"]:
                print(f"  NOTE: changing {run['file']} did not report 1 updated post")
        for run in [first, *inc["updates"], *inc["nochange"]]:
            if run["stdout"].startswith("full build"):
                print(f"  NOTE: a run rebuilt in full ({run['seconds']:.0f} s): the code changed")
        failed = [r for r in [first, *inc["updates"], *inc["nochange"]] if r["returncode"] != 0]
        for run in failed:
            print(f"  FAILED (exit {run['returncode']}): {' | '.join(run['stderr_tail'])}")
        print()


# --- main ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--posts", type=Path, default=DEFAULT_POSTS,
                    help=f"posts folder (default: {DEFAULT_POSTS})")  # fmt: skip
    ap.add_argument("--scaled", type=int, default=10000, metavar="N",
                    help="posts in the scaled copy (default: 10000)")  # fmt: skip
    ap.add_argument("--skip-scaled", action="store_true", help="leave out the scaled build")
    ap.add_argument("--janome-posts", type=int, default=300, metavar="N",
                    help="posts in the raw Janome sample (default: 300)")  # fmt: skip
    ap.add_argument("--rounds", type=int, default=3,
                    help="incremental update rounds (default: 3)")  # fmt: skip
    ap.add_argument("--json", type=Path, metavar="FILE", help="write all figures as JSON")
    ap.add_argument("--tmp", type=Path, default=None, help="parent of the scratch directory")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)
    require_inputs("index_bench.py", posts=args.posts)

    posts_dir = args.posts.resolve()
    if not posts_dir.is_dir():
        ap.error(f"no posts folder at {posts_dir}")
    scratch = Path(tempfile.mkdtemp(prefix="blogsearch-bench-", dir=args.tmp))
    log(f"scratch directory {scratch}")
    results: dict[str, Any] = {"environment": environment(), "builds": []}
    results["code_at_start"] = code_state()
    try:
        real = bench_full_build(f"{posts_dir.name} (real)", posts_dir, scratch / "index-real")
        results["builds"].append(real)

        if not args.skip_scaled:
            scaled_posts = scratch / f"posts{args.scaled}"
            results["make_scaled"] = make_scaled(args.scaled, posts_dir, scaled_posts)
            scaled = bench_full_build(
                f"scaled {args.scaled:,}", scaled_posts, scratch / "index-scaled"
            )
            results["builds"].append(scaled)
            inc_posts, inc_index = scaled_posts, Path(scaled["index_dir"])
        else:
            # Never touch the shared corpus: update a private copy (same sizes and
            # mtimes, so the existing index sees it as unchanged) instead.
            inc_posts = scratch / "posts-copy"
            shutil.copytree(posts_dir, inc_posts, copy_function=shutil.copy2)
            inc_index = Path(real["index_dir"])
        # The peer runs after the builds, so that the build workers, which are
        # forked from this process, do not inherit its Janome dictionary.
        results["janome"] = bench_janome(posts_dir, args.janome_posts)
        real["peer"] = results["janome"]
        if not args.skip_scaled:
            # The scaled copy's text is not the real posts' text: its own peer.
            scaled["peer"] = bench_janome(scaled_posts, args.janome_posts)
        results["incremental"] = bench_incremental(inc_posts, inc_index, max(1, args.rounds))
    finally:
        if args.keep_tmp:
            log(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    results["code_at_end"] = code_state()
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", "utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
