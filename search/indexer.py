"""Building and updating the index from a posts folder.

Loading and analysis (Janome is the bottleneck) run in worker processes,
one per core. For a large batch each worker also writes its own Whoosh
segment; for a small one the parent feeds its writer with the postings the
workers return. Every build, full or incremental, writes a new version
directory and switches to it when complete (see :mod:`search.store`).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import multiprocessing
import os
import queue
import shutil
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from .anchors import write_anchors
from .codec import Codec
from .names import NameTable, doc_words, glosses_in, name_words, write_names
from .posts import LoadResult, Problem, find_post_files, load_post, normalize_label
from .schema import ANALYSIS_VERSION, analyze_post, build_schema
from .site import SiteConfig
from .store import LABELS_FILE, IndexStore, Version, read_labels

DEFAULT_KEEP_VERSIONS = 3


@dataclass
class IndexReport:
    """What one ``blogsearch index`` run did."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    analyzed: int = 0
    documents: int = 0
    problems: list[Problem] = field(default_factory=list)
    version: str | None = None
    full: bool = False
    seconds: float = 0.0
    characters: int = 0
    # Problems of unchanged files, found by an earlier run and reported again.
    remembered: int = 0
    # Of seconds: learning names across scripts (search/names.py).
    names_seconds: float = 0.0

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "skip"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


# --- worker side ------------------------------------------------------------

_worker_state: dict[str, Any] = {}


def _init_worker(posts_dir: Path, site: SiteConfig, analyze: bool) -> None:
    _worker_state.update(posts_dir=posts_dir, site=site, analyze=analyze, schema=build_schema())


def _work(rel: str) -> tuple[LoadResult, dict[str, Any] | None]:
    state = _worker_state
    result = load_post(state["posts_dir"], rel, state["site"])
    doc = None
    if result.post is not None and state["analyze"]:
        try:
            doc = analyze_post(state["schema"], result.post, state["site"].tz)
        except Exception as exc:  # noqa: BLE001 - report, keep the batch going
            result.problems.append(
                Problem(rel, "skip", f"analysis failed: {type(exc).__name__}: {exc}")
            )
            result.post = None
    return result, doc


def _process(
    posts_dir: Path, site: SiteConfig, rels: list[str], workers: int, analyze: bool = True
) -> Iterator[tuple[LoadResult, dict[str, Any] | None]]:
    """Load (and analyze) *rels* in order, in *workers* processes."""
    if workers <= 1 or len(rels) < 4:
        _init_worker(posts_dir, site, analyze)
        for rel in rels:
            yield _work(rel)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(posts_dir, site, analyze)) as pool:
        yield from pool.imap(_work, rels, chunksize=2)


def _commit_with_segments(writer, segments: list[Any]) -> None:
    """Commit *writer* (it holds only deletions) with the workers' segments
    added after the existing ones; nothing is merged, so no posting is copied
    again."""
    final = writer._merge_segments(None, False, False) + segments  # merge=False
    writer._close_segment()
    writer._commit_toc(final)
    writer._finish()


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


# --- parallel segments ----------------------------------------------------------

# A batch this large is indexed in segments: each worker process analyzes a
# share of the files and writes its own Whoosh segment, so the parent no
# longer ingests every posting on one core. Smaller batches (an incremental
# run after editing a post) go through the parent's writer.
SEGMENT_MIN_FILES = 64
WORKER_LIMIT_MB = 512  # a worker's postings pool; about 520 MB RSS for 870 posts
WRITTEN = object()  # in place of a doc: a worker has already written it


def _shares(posts_dir: Path, rels: list[str], n: int) -> list[list[str]]:
    """*rels* cut into *n* contiguous runs of about equal size in bytes.

    Contiguous runs keep doc numbers in file order, as a serial build has
    them; equal bytes keep the workers busy for about the same time.
    """
    sizes = []
    for rel in rels:
        try:
            sizes.append((posts_dir / rel).stat().st_size + 1)
        except OSError:
            sizes.append(1)
    total = sum(sizes)
    shares: list[list[str]] = [[] for _ in range(n)]
    done = 0
    for rel, size in zip(rels, sizes, strict=True):
        shares[min(n - 1, done * n // total)].append(rel)
        done += size
    return [s for s in shares if s]


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the indexer dies (SIGKILL included)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _write_segment(
    number: int, build_dir: Path, posts_dir: Path, site: SiteConfig, rels: list[str], out
) -> None:
    """Worker process: analyze *rels* into a new segment of the index in *build_dir*."""
    _die_with_parent()
    parent = os.getppid()
    writer = None
    try:
        _init_worker(posts_dir, site, analyze=True)
        ix = whoosh_index.open_dir(str(build_dir))
        writer = SegmentWriter(ix, _lk=False, limitmb=WORKER_LIMIT_MB, codec=Codec())
        for rel in rels:
            if os.getppid() != parent:
                os._exit(1)  # the indexer is gone: stop writing into its build
            result, doc = _work(rel)
            if doc is not None:
                writer.add_document(**doc)
            out.put((number, "post", (result, doc is not None)))
        if writer._added:
            segment = writer._finalize_segment()
        else:
            writer._close_segment()
            segment = None
        out.put((number, "done", segment))
    except BaseException as exc:  # noqa: BLE001 - the parent raises it
        # Not writer.cancel(): that removes the temporary folder every writer
        # of the index shares. The build folder goes as a whole on failure.
        if writer is not None:
            with contextlib.suppress(Exception):
                writer._close_segment()
        out.put((number, "error", exc))


class _SegmentBuild:
    """Workers writing one segment each; iterating yields ``(result, doc)``
    in file order (``doc`` is :data:`WRITTEN` or ``None``), after which
    :attr:`segments` holds the new segments in the same order."""

    def __init__(self, build_dir: Path, posts_dir: Path, site: SiteConfig, rels, workers: int):
        self.shares = _shares(posts_dir, rels, workers)
        self.segments: list[Any] = []
        ctx = multiprocessing.get_context("fork")
        self.queue = ctx.Queue()
        self.procs = [
            ctx.Process(target=_write_segment,
                        args=(i, build_dir, posts_dir, site, share, self.queue), daemon=True)
            for i, share in enumerate(self.shares)
        ]  # fmt: skip

    def __iter__(self) -> Iterator[tuple[LoadResult, Any]]:
        for proc in self.procs:
            proc.start()
        n = len(self.procs)
        pending: list[deque] = [deque() for _ in range(n)]
        segments: list[Any] = [None] * n
        finished = [False] * n
        current = 0
        try:
            while current < n:
                if pending[current]:
                    result, written = pending[current].popleft()
                    yield result, (WRITTEN if written else None)
                    continue
                if finished[current]:
                    current += 1
                    continue
                number, kind, payload = self._next()
                if kind == "post":
                    pending[number].append(payload)
                elif kind == "done":
                    segments[number] = payload
                    finished[number] = True
                else:
                    raise payload
        finally:
            self.stop()
        self.segments = [s for s in segments if s is not None]

    def _next(self):
        while True:
            try:
                return self.queue.get(timeout=1.0)
            except queue.Empty:
                for i, proc in enumerate(self.procs):
                    if proc.exitcode not in (None, 0):
                        raise RuntimeError(
                            f"indexing worker {i} died (exit code {proc.exitcode})"
                        ) from None

    def stop(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
            proc.join()


# --- the build ----------------------------------------------------------------


def fault_point(name: str) -> None:
    """A place where crash tests kill the indexer (nothing happens otherwise).

    With ``BLOGSEARCH_PAUSE_AT=<name>`` the process writes *name* to the file
    named by ``BLOGSEARCH_PAUSE_FILE`` and waits there to be killed, so a test
    can SIGKILL it at exactly that point: ``analysis``, ``commit``, ``switch``.
    """
    if os.environ.get("BLOGSEARCH_PAUSE_AT") != name:
        return
    marker = os.environ.get("BLOGSEARCH_PAUSE_FILE")
    if marker:
        Path(marker).write_text(name, encoding="utf-8")
    time.sleep(600)


def _file_state(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _hash_file(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _remembered_problems(rel: str, entry: dict[str, Any]) -> list[Problem]:
    """The problems an earlier run found in a file that has not changed since."""
    found = entry.get("problems")
    if isinstance(found, list):
        return [
            Problem(rel, str(p.get("level", "warning")), str(p.get("message", "")))
            for p in found
            if isinstance(p, dict)
        ]
    if entry.get("problem"):  # a skip, in manifests written before "problems"
        return [Problem(rel, "skip", str(entry["problem"]))]
    return []


def check_posts(
    posts_dir: Path,
    site: SiteConfig,
    workers: int | None = None,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> IndexReport:
    """Load every post and report problems, without analyzing or writing anything."""
    started = time.monotonic()
    report = IndexReport()
    rels = find_post_files(posts_dir)
    results = _process(posts_dir, site, rels, workers or default_workers(), analyze=False)
    for result, _ in progress(results) if progress else results:
        report.problems += result.problems
        if result.post is not None:
            report.documents += 1
            report.characters += len(result.post.body) + len(result.post.code)
    report.seconds = time.monotonic() - started
    return report


def build_index(
    posts_dir: Path,
    index_dir: Path,
    site: SiteConfig,
    *,
    full: bool = False,
    workers: int | None = None,
    keep: int = DEFAULT_KEEP_VERSIONS,
    lock_wait: float = 10.0,
    progress: Callable[[Iterable, int], Iterable] | None = None,
) -> IndexReport:
    """Index *posts_dir* into *index_dir*: incrementally, or in full if asked.

    An incremental run analyzes only files whose content changed since the
    current version, and removes posts whose files are gone. A version built
    by another analysis version or with other site settings is rebuilt in full.
    """
    started = time.monotonic()
    store = IndexStore(index_dir)
    workers = workers or default_workers()
    report = IndexReport()
    rels = find_post_files(posts_dir)
    with store.lock(wait=lock_wait):
        store.remove_unfinished()
        base: Version | None = None
        if store.current_name() is not None:
            base = store.current()
            compatible = (
                base.manifest.get("analysis_version") == ANALYSIS_VERSION
                and base.manifest.get("site") == site.fingerprint()
            )
            if not compatible:
                base = None
        if full or base is None:
            base = None
            report.full = True

        old_files: dict[str, dict[str, Any]] = base.manifest.get("files", {}) if base else {}
        files: dict[str, dict[str, Any]] = {}
        todo: list[str] = []
        for rel in rels:
            path = posts_dir / rel
            try:
                state = _file_state(path)
            except OSError as exc:
                report.problems.append(Problem(rel, "skip", f"cannot read file ({exc})"))
                continue
            old = old_files.get(rel)
            if old is not None and old["state"] != state:
                try:
                    digest = _hash_file(path)
                except OSError:
                    digest = None
                if digest == old.get("hash"):
                    old = {**old, "state": state}
                else:
                    old = None
            if old is None:
                todo.append(rel)
                continue
            files[rel] = old
            # An unchanged file keeps its problems until it is fixed (--strict).
            remembered = _remembered_problems(rel, old)
            report.problems += remembered
            report.remembered += len(remembered)
        present = set(rels)
        deleted = [rel for rel in old_files if rel not in present]
        report.unchanged = len(files)

        if base is not None and not todo and not deleted:
            report.version = base.name
            report.documents = base.documents
            report.seconds = time.monotonic() - started
            return report

        build_dir = store.new_build_dir()
        try:
            schema = build_schema()
            labels = read_labels(base.path if base else None)
            if base is None:
                ix = whoosh_index.create_in(str(build_dir), schema)
            else:
                store.copy_version(base, build_dir)
                ix = whoosh_index.open_dir(str(build_dir))
            writer = ix.writer(limitmb=256, codec=Codec())
            try:
                for rel in deleted:
                    if old_files[rel].get("indexed"):
                        writer.delete_by_term("id", rel)
                        report.deleted += 1
                build = None
                added_words: set[str] = set()
                if workers > 1 and len(todo) >= SEGMENT_MIN_FILES:
                    build = _SegmentBuild(build_dir, posts_dir, site, todo, workers)
                results = build if build is not None else _process(posts_dir, site, todo, workers)
                if progress is not None:
                    results = progress(results, len(todo))
                for result, doc in results:
                    rel = result.path
                    report.problems += result.problems
                    old = old_files.get(rel)
                    if old is not None and old.get("indexed"):
                        writer.delete_by_term("id", rel)
                    entry = {"state": _file_state(posts_dir / rel), "indexed": False}
                    if result.problems:
                        entry["problems"] = [
                            {"level": p.level, "message": p.message} for p in result.problems
                        ]
                    if result.post is not None and doc is not None:
                        if doc is not WRITTEN:
                            writer.add_document(**doc)
                            added_words |= doc_words(doc)
                        for facet in ("tags", "categories"):
                            for value in getattr(result.post, facet):
                                labels[facet].setdefault(normalize_label(value), value)
                        entry.update(indexed=True, hash=result.post.content_hash)
                        names_started = time.monotonic()
                        prose = f"{result.post.title}\n{result.post.body}"
                        if names := name_words(prose):
                            entry["names"] = names
                        if glosses := glosses_in(prose):
                            entry["glosses"] = glosses
                        report.names_seconds += time.monotonic() - names_started
                        report.analyzed += 1
                        report.characters += len(result.post.body) + len(result.post.code)
                        if old is not None and old.get("indexed"):
                            report.updated += 1
                        else:
                            report.added += 1
                    else:
                        with contextlib.suppress(OSError):
                            entry["hash"] = _hash_file(posts_dir / rel)
                        if old is not None and old.get("indexed"):
                            report.deleted += 1
                    files[rel] = entry
                    if report.analyzed == max(1, len(todo) // 2):
                        fault_point("analysis")
                fault_point("commit")
                if build is not None:
                    _commit_with_segments(writer, build.segments)
                else:
                    writer.commit()
            except BaseException:
                writer.cancel()
                ix.close()
                raise
            ix.close()
            with whoosh_index.open_dir(str(build_dir)).reader() as reader:
                report.documents = reader.doc_count()
                write_anchors(reader, build_dir)
                names_started = time.monotonic()
                # Readings of the current version are reused even by a full
                # build; an update of a few posts adds their words to the
                # base's table, a full or segmented build reads the lexicon.
                current = store.current().path if store.current_name() else None
                previous = NameTable.read(current)
                incremental = base is not None and build is None
                write_names(reader, build_dir, files.values(), previous,
                            added_words if incremental else None)  # fmt: skip
                report.names_seconds += time.monotonic() - names_started
            (build_dir / LABELS_FILE).write_text(json.dumps(labels, ensure_ascii=False), "utf-8")
            manifest = {
                "analysis_version": ANALYSIS_VERSION,
                "site": site.fingerprint(),
                "timezone": site.timezone,
                "posts_dir": str(posts_dir.resolve()),
                "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "documents": report.documents,
                "full": report.full,
                "files": files,
                "previous": store.current_name(),
            }
            version = store.publish(
                build_dir, manifest, before_switch=lambda: fault_point("switch")
            )
        except BaseException:
            # Nothing half-built stays behind (disk full, a failed publish...).
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
        report.version = version.name
        store.prune(keep)
    report.seconds = time.monotonic() - started
    return report
