"""Index versions on disk: immutable directories, a pointer, and a lock.

Layout under the index directory::

    CURRENT            name of the version readers use (replaced atomically)
    .lock              flock held by the one writer
    versions/<name>/   a complete Whoosh index plus manifest.json
    versions/.tmp-*    a build in progress (removed if it was interrupted)

A build writes a new directory and only then points ``CURRENT`` at it, so a
reader never sees a half-built index and a killed build leaves the previous
version in place. The same layout can be copied to replicas as it is.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
LABELS_FILE = "labels.json"  # display forms of tag and category keys
_TMP_PREFIX = ".tmp-"


class IndexLocked(RuntimeError):
    """Another process is writing to the index."""


class NoIndex(RuntimeError):
    """There is no built index in the directory."""


@dataclass
class Version:
    """One published index version."""

    name: str
    path: Path
    manifest: dict[str, Any]

    @property
    def built_at(self) -> str:
        return str(self.manifest.get("built_at", ""))

    @property
    def documents(self) -> int:
        return int(self.manifest.get("documents", 0))


class IndexStore:
    """The versions, pointer and lock under one index directory."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.versions_dir = self.root / "versions"
        self.pointer = self.root / "CURRENT"

    # --- reading ----------------------------------------------------------

    def current_name(self) -> str | None:
        """Name of the current version, read fresh each call (it is tiny)."""
        try:
            name = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        if not name or "/" in name or name.startswith("."):
            return None
        return name if (self.versions_dir / name).is_dir() else None

    def current(self) -> Version:
        name = self.current_name()
        if name is None:
            raise NoIndex(f"no index in {self.root} (run `blogsearch index POSTS_DIR` first)")
        return self.version(name)

    def version(self, name: str) -> Version:
        path = self.versions_dir / name
        try:
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
        return Version(name, path, manifest)

    def list_versions(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.versions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    # --- writing (call with the lock held) ----------------------------------

    @contextlib.contextmanager
    def lock(self, wait: float = 10.0) -> Iterator[None]:
        """Hold the writer lock; wait up to *wait* seconds for another writer."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / ".lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                        who = f" (pid {holder})" if holder.isdigit() else ""
                        raise IndexLocked(
                            f"another `blogsearch index` is writing to {self.root}{who}; "
                            "try again when it has finished"
                        ) from None
                    time.sleep(0.1)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def new_build_dir(self) -> Path:
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")  # sorts by age
        path = self.versions_dir / f"{_TMP_PREFIX}{stamp}-{secrets.token_hex(3)}"
        path.mkdir()
        return path

    def copy_version(self, source: Version, target: Path) -> None:
        """Fill *target* with *source*'s files: segments hard-linked, the rest copied.

        Whoosh never rewrites a segment file, so sharing them is safe; the
        small table-of-contents files are copied because a writer replaces them.
        """
        for entry in source.path.iterdir():
            if not entry.is_file() or entry.name == MANIFEST or entry.name.endswith("LOCK"):
                continue
            dest = target / entry.name
            if entry.suffix == ".seg":
                try:
                    os.link(entry, dest)
                    continue
                except OSError:
                    pass
            shutil.copy2(entry, dest)

    def publish(
        self, build_dir: Path, manifest: dict[str, Any], before_switch=lambda: None
    ) -> Version:
        """Write the manifest, make *build_dir* a version and point CURRENT at it."""
        _write_atomic(build_dir / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
        name = build_dir.name[len(_TMP_PREFIX) :]
        final = self.versions_dir / name
        for entry in build_dir.iterdir():
            _fsync(entry)
        _fsync(build_dir)
        os.rename(build_dir, final)
        _fsync(self.versions_dir)
        before_switch()
        _write_atomic(self.pointer, name + "\n")
        _fsync(self.root)
        return Version(name, final, manifest)

    def point_to(self, name: str) -> None:
        """Make an existing version current (for rollback)."""
        if not (self.versions_dir / name).is_dir():
            raise NoIndex(f"no version {name!r} in {self.versions_dir}")
        _write_atomic(self.pointer, name + "\n")
        _fsync(self.root)

    def remove_unfinished(self) -> list[str]:
        """Delete builds that were interrupted (their writer is gone: we hold the lock)."""
        removed = []
        if self.versions_dir.is_dir():
            for p in self.versions_dir.iterdir():
                if p.name.startswith(_TMP_PREFIX):
                    shutil.rmtree(p, ignore_errors=True)
                    removed.append(p.name)
        return removed

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest *keep* versions.

        Never the current one, nor one a live reader process still has open
        (see :meth:`register_reader`); those go on a later run.
        """
        current = self.current_name()
        names = self.list_versions()
        old = [
            n for n in names[: max(0, len(names) - keep)]
            if n != current and not self.readers(n)
        ]  # fmt: skip
        for name in old:
            shutil.rmtree(self.versions_dir / name, ignore_errors=True)
        return old

    def rollback(self) -> str:
        """Point CURRENT at the version that was current before this one.

        That is the ``previous`` recorded in the current version's manifest
        (a version that was built but never switched to, after a crash, is
        skipped); otherwise the newest older version.
        """
        current = self.current_name()
        names = self.list_versions()
        target = None
        if current is not None:
            previous = self.version(current).manifest.get("previous")
            if isinstance(previous, str) and previous in names:
                target = previous
        if target is None:
            older = [n for n in names if current is None or n < current]
            target = older[-1] if older else None
        if target is None:
            raise NoIndex(f"no older version to roll back to in {self.versions_dir}")
        self.point_to(target)
        return target

    # --- readers -------------------------------------------------------------

    def register_reader(self, name: str) -> None:
        """Record that this process reads version *name* (a pid file)."""
        readers = self.versions_dir / name / ".readers"
        with contextlib.suppress(OSError):
            readers.mkdir(exist_ok=True)
            (readers / str(os.getpid())).touch()

    def unregister_reader(self, name: str) -> None:
        with contextlib.suppress(OSError):
            (self.versions_dir / name / ".readers" / str(os.getpid())).unlink()

    def readers(self, name: str) -> list[int]:
        """Pids of live processes reading version *name*."""
        alive = []
        readers = self.versions_dir / name / ".readers"
        if not readers.is_dir():
            return alive
        for entry in readers.iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                with contextlib.suppress(OSError):
                    entry.unlink()  # a reader that died without saying so
                continue
            except PermissionError:
                pass
            alive.append(pid)
        return alive

    def size_bytes(self, version: Version) -> int:
        return sum(p.stat().st_size for p in version.path.iterdir() if p.is_file())


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _fsync(path: Path) -> None:
    """Flush a file or a directory entry list to disk (Whoosh itself never does)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_labels(version_path: Path | None) -> dict[str, dict[str, str]]:
    """Display forms of tag and category keys, as the indexer recorded them."""
    labels: dict[str, dict[str, str]] = {"tags": {}, "categories": {}}
    if version_path is not None:
        with contextlib.suppress(OSError, ValueError):
            labels.update(json.loads((version_path / LABELS_FILE).read_text("utf-8")))
    return labels
