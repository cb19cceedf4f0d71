"""Crash safety of the index: kills, concurrent writers, a full disk, old versions.

Real ``blogsearch index`` subprocesses are held at a fault point
(``BLOGSEARCH_PAUSE_AT``, see ``search.indexer.fault_point``) and killed
with SIGKILL there. Whatever happens, the index keeps answering from a
complete version, and the next run repairs everything.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from reliability_fixtures import (
    CHANGED_WORD,
    KNOWN_WORD,
    KYOTO,
    NEW_POST,
    NEW_POST_TEXT,
    NEW_WORD,
    RAMEN,
    RAMEN_CHANGED,
    blogsearch_command,
    build,
    cli_env,
    report,
    run_cli,
    search_ids,
    tmp_builds,
)
from whoosh import writing as whoosh_writing

from search import store as store_module
from search.indexer import SEGMENT_MIN_FILES
from search.query import SearchEngine, SearchRequest
from search.store import IndexStore

pytest_plugins = ["reliability_fixtures"]
pytestmark = pytest.mark.slow

POINTS = ["analysis", "commit", "switch"]


def current(index_dir: Path) -> str:
    name = IndexStore(index_dir).current_name()
    assert name is not None, f"CURRENT in {index_dir} names no version"
    return name


def assert_serving(index_dir: Path, expected_version: str | None = None) -> str:
    """CURRENT names a complete version (with a manifest) that answers queries."""
    name = current(index_dir)
    if expected_version is not None:
        assert name == expected_version
    assert (index_dir / "versions" / name / "manifest.json").is_file(), name
    assert KYOTO in search_ids(index_dir, KNOWN_WORD)
    return name


def index_args(posts: Path, index_dir: Path, *extra: str) -> list[str]:
    return ["index", str(posts), "--index-dir", str(index_dir), "--workers", "1", *extra]


# --- SIGKILL at each fault point --------------------------------------------------


@pytest.mark.parametrize("mode", ["full", "incremental"])
@pytest.mark.parametrize("point", POINTS)
def test_a_killed_indexer_leaves_a_complete_version_and_the_next_run_recovers(
    rel_fresh_blog, rel_paused, tmp_path, point, mode
):
    posts, index_dir = rel_fresh_blog
    before = current(index_dir)
    # One post added and one changed: two posts to analyze, so that the
    # "analysis" point (half-way through the analyzed posts) is reached.
    (posts / NEW_POST).write_text(NEW_POST_TEXT, encoding="utf-8")
    (posts / RAMEN).write_text(RAMEN_CHANGED, encoding="utf-8")

    extra = ("--full",) if mode == "full" else ()
    paused = rel_paused(index_args(posts, index_dir, *extra), point, tmp_path / "paused")
    assert paused.reached, paused.output()
    leftovers = tmp_builds(index_dir)
    versions = IndexStore(index_dir).list_versions()
    paused.kill()

    # Still serving the previous, complete version.
    assert_serving(index_dir, expected_version=before)
    assert NEW_POST not in search_ids(index_dir, NEW_WORD)
    assert RAMEN not in search_ids(index_dir, CHANGED_WORD)

    # The next run (no fault) succeeds, cleans up and indexes the changes.
    result = run_cli(*index_args(posts, index_dir))
    assert result.returncode == 0, result.stderr
    assert not tmp_builds(index_dir), tmp_builds(index_dir)
    after = assert_serving(index_dir)
    assert after != before
    assert NEW_POST in search_ids(index_dir, NEW_WORD)
    assert RAMEN in search_ids(index_dir, CHANGED_WORD)
    report(
        f"  killed at {point!r} ({mode}): unfinished builds {leftovers or 'none'}, "
        f"versions while paused {len(versions)} (current {before[-6:]}); "
        f"recovered: {result.stdout.strip()[:60]}…"
    )


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # a zombie runs no code


def test_a_segment_writer_is_killed_when_the_indexer_is_killed():
    """The mechanism itself, with a worker that would otherwise sleep for a minute."""
    script = textwrap.dedent(
        """
        import multiprocessing, time
        from search.indexer import _die_with_parent

        def worker():
            _die_with_parent()
            print(multiprocessing.current_process().pid, flush=True)
            time.sleep(60)

        multiprocessing.get_context("fork").Process(target=worker).start()
        time.sleep(60)
        """
    )
    indexer = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=cli_env()
    )
    try:
        worker = int(indexer.stdout.readline())
    finally:
        indexer.kill()
        indexer.wait(timeout=30)
    deadline = time.monotonic() + 10
    while not _gone(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(worker), f"worker {worker} outlived the indexer"


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_parallel_build_takes_its_segment_writers_with_it(
    rel_fresh_blog, rel_paused, tmp_path, point
):
    """With two workers and enough posts, each worker writes its own segment;
    after a kill at any point the next run recovers. (At "analysis" the
    workers are still running; the tiny posts would let them finish within
    the deadline anyway, so the test above checks the kill itself.)"""
    posts, index_dir = rel_fresh_blog
    before = current(index_dir)
    for i in range(SEGMENT_MIN_FILES + 6):
        (posts / f"2023-01-01-filler-{i:03d}.md").write_text(
            f"---\ntitle: 埋め草 {i}\n---\n埋め草の本文 {i}。\n", encoding="utf-8"
        )
    (posts / NEW_POST).write_text(NEW_POST_TEXT, encoding="utf-8")
    args = ["index", str(posts), "--index-dir", str(index_dir), "--workers", "2", "--full"]
    paused = rel_paused(args, point, tmp_path / "paused")
    assert paused.reached, paused.output()
    workers = _children(paused.proc.pid)
    paused.kill()
    deadline = time.monotonic() + 10
    while not all(_gone(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(w) for w in workers), f"workers {workers} outlived the indexer"
    assert_serving(index_dir, expected_version=before)
    assert NEW_POST not in search_ids(index_dir, NEW_WORD)

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert not tmp_builds(index_dir), tmp_builds(index_dir)
    assert_serving(index_dir)
    assert NEW_POST in search_ids(index_dir, NEW_WORD)
    report(f"  killed a 2-worker segmented build at {point!r}: {len(workers)} workers gone")


def test_the_analysis_fault_point_is_reached_when_one_post_was_added(
    rel_fresh_blog, rel_paused, tmp_path
):
    """The commonest incremental run, one new post, can be killed mid-analysis too.

    ``build_index`` calls ``fault_point("analysis")`` when
    ``report.analyzed == len(todo) // 2``, checked after the post is counted:
    with one post to analyze that is ``1 == 0``, never true, so the process
    runs to the end instead of pausing.
    """
    posts, index_dir = rel_fresh_blog
    (posts / NEW_POST).write_text(NEW_POST_TEXT, encoding="utf-8")
    paused = rel_paused(index_args(posts, index_dir), "analysis", tmp_path / "paused", timeout=30)
    assert paused.reached, "never paused at 'analysis': " + paused.output()


# --- two writers -----------------------------------------------------------------------


def test_a_second_indexer_is_refused_while_the_first_holds_the_lock(
    rel_fresh_blog, rel_paused, tmp_path
):
    posts, index_dir = rel_fresh_blog
    (posts / NEW_POST).write_text(NEW_POST_TEXT, encoding="utf-8")
    first = rel_paused(index_args(posts, index_dir), "commit", tmp_path / "paused")
    assert first.reached, first.output()

    started = time.monotonic()
    second = run_cli(*index_args(posts, index_dir, "--wait", "0.5"))
    elapsed = time.monotonic() - started
    assert second.returncode != 0, second.stdout
    assert str(index_dir) in second.stderr, second.stderr
    assert str(first.proc.pid) in second.stderr, second.stderr  # names the holder
    rollback = run_cli("index", "--rollback", "--index-dir", str(index_dir), "--wait", "0.5")
    assert rollback.returncode != 0 and str(index_dir) in rollback.stderr, rollback.stderr
    report(f"  second indexer with --wait 0.5: exit {second.returncode} after {elapsed:.1f} s: "
           f"{second.stderr.strip()}")  # fmt: skip

    # One that waits long enough gets the lock once the first is gone.
    waiter = subprocess.Popen(
        [*blogsearch_command(), *index_args(posts, index_dir, "--wait", "60")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(1.0)
        assert waiter.poll() is None, "did not wait for the lock"
        first.kill()
        out, err = waiter.communicate(timeout=60)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.communicate()
    assert waiter.returncode == 0, err
    assert not tmp_builds(index_dir)
    assert NEW_POST in search_ids(index_dir, NEW_WORD)


# --- a full disk -------------------------------------------------------------------------


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


_REAL_WRITE_ATOMIC = store_module._write_atomic


def _manifest_full(path, text):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def _pointer_full(path, text):
    if Path(path).name == "CURRENT":
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    return _REAL_WRITE_ATOMIC(path, text)


# Where the disk fills up: (object, attribute, replacement).
DISK_FULL_AT = {
    "Whoosh writer commit": (whoosh_writing.SegmentWriter, "commit", _disk_full),
    "Whoosh table of contents, segments already written": (
        whoosh_writing.SegmentWriter, "_commit_toc", _disk_full),
    "version manifest (IndexStore.publish)": (store_module, "_write_atomic", _manifest_full),
    "CURRENT pointer (IndexStore.publish)": (store_module, "_write_atomic", _pointer_full),
}  # fmt: skip


@pytest.mark.parametrize("where", list(DISK_FULL_AT))
def test_a_full_disk_during_a_build_keeps_the_old_version_serving(
    rel_fresh_blog, monkeypatch, where
):
    posts, index_dir = rel_fresh_blog
    before = current(index_dir)
    (posts / NEW_POST).write_text(NEW_POST_TEXT, encoding="utf-8")
    target, attribute, replacement = DISK_FULL_AT[where]
    monkeypatch.setattr(target, attribute, replacement)

    with pytest.raises(OSError) as raised:
        build(posts, index_dir)
    monkeypatch.undo()

    assert raised.value.errno == errno.ENOSPC, repr(raised.value)  # not masked by cleanup
    assert_serving(index_dir, expected_version=before)
    assert NEW_POST not in search_ids(index_dir, NEW_WORD)
    assert not tmp_builds(index_dir), f"unfinished build left behind: {tmp_builds(index_dir)}"
    build(posts, index_dir)  # space again: the next build works
    assert NEW_POST in search_ids(index_dir, NEW_WORD)


def test_a_full_disk_makes_the_cli_fail_with_a_clear_message(rel_fresh_blog):
    posts, index_dir = rel_fresh_blog
    before = current(index_dir)
    (posts / NEW_POST).write_text(NEW_POST_TEXT, encoding="utf-8")
    wrapper = textwrap.dedent(
        """
        import errno, sys
        import whoosh.writing

        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        whoosh.writing.SegmentWriter._commit_toc = full
        from search.cli import main
        main(args=sys.argv[1:], prog_name="blogsearch")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, *index_args(posts, index_dir)],
        capture_output=True, text=True, timeout=120, env=cli_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    report(f"  CLI on a full disk: exit {result.returncode}: {result.stderr.strip()}")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "No space left on device" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert_serving(index_dir, expected_version=before)
    assert not tmp_builds(index_dir)


# --- old versions: --keep, readers, rollback -----------------------------------------------


def _versions(index_dir: Path) -> list[str]:
    return IndexStore(index_dir).list_versions()


def test_only_keep_versions_remain_except_those_a_live_reader_has_open(rel_fresh_blog):
    posts, index_dir = rel_fresh_blog
    store = IndexStore(index_dir)
    first = current(index_dir)
    engine = SearchEngine(index_dir)  # a reader in this process: a pid file in `first`
    engine.search(SearchRequest(q=KNOWN_WORD))
    assert store.readers(first)

    for i in range(3):
        (posts / f"2024-06-0{i + 1}-extra.md").write_text(f"---\ntitle: 追加{i}\n---\n本文{i}\n")
        build(posts, index_dir, keep=10)
    second = _versions(index_dir)[1]
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # A reader in another live process has `second` open.
        (index_dir / "versions" / second / ".readers").mkdir(exist_ok=True)
        (index_dir / "versions" / second / ".readers" / str(sleeper.pid)).touch()
        result = run_cli(*index_args(posts, index_dir, "--full", "--keep", "2"))
        assert result.returncode == 0, result.stderr
        kept = _versions(index_dir)
        newest_two = sorted(kept)[-2:]
        assert current(index_dir) in newest_two
        assert set(kept) == {first, second, *newest_two}, kept
    finally:
        sleeper.kill()
        sleeper.wait()
    engine.close()  # both readers are gone now (the sleeper's pid file is stale)
    build(posts, index_dir, full=True, keep=2)
    kept = _versions(index_dir)
    assert len(kept) == 2 and first not in kept and second not in kept, kept
    assert_serving(index_dir)
    report(f"  --keep 2 with live readers: kept {len(set([first, second, *newest_two]))}, "
           f"then {len(kept)} once the readers were gone")  # fmt: skip


def test_rollback_switches_current_to_the_previous_version(rel_fresh_blog):
    posts, index_dir = rel_fresh_blog
    first = current(index_dir)
    engine = SearchEngine(index_dir)  # a long-lived reader follows CURRENT
    try:

        def found(word: str) -> list[str]:
            return [h.id for h in engine.search(SearchRequest(q=word)).hits]

        assert RAMEN in found("味噌")
        (posts / RAMEN).write_text(RAMEN_CHANGED, encoding="utf-8")
        second = build(posts, index_dir).version
        assert current(index_dir) == second != first
        assert RAMEN in found(CHANGED_WORD)

        result = run_cli("index", "--rollback", "--index-dir", str(index_dir))
        assert result.returncode == 0, result.stderr
        assert first in result.stdout, result.stdout
        assert current(index_dir) == first
        assert RAMEN not in found(CHANGED_WORD)  # the old content again
        assert RAMEN in found("味噌")

        again = run_cli("index", "--rollback", "--index-dir", str(index_dir))
        assert again.returncode != 0, again.stdout  # nothing older than the first version
        assert "no older version" in again.stderr, again.stderr

        build(posts, index_dir)  # indexing after a rollback starts from the posts again
        assert RAMEN in found(CHANGED_WORD)
    finally:
        engine.close()


def test_rollback_after_a_crash_at_switch_returns_to_the_version_that_was_serving(
    rel_fresh_blog, rel_paused, tmp_path
):
    """A build killed at 'switch' leaves a complete version that never served.

    After the next run publishes a new version, ``--rollback`` should undo
    that run and bring back what readers saw before it, not the orphan
    (which already holds the new content).
    """
    posts, index_dir = rel_fresh_blog
    before = current(index_dir)
    (posts / NEW_POST).write_text(NEW_POST_TEXT, encoding="utf-8")
    paused = rel_paused(index_args(posts, index_dir), "switch", tmp_path / "paused")
    assert paused.reached, paused.output()
    paused.kill()
    assert current(index_dir) == before
    recovered = run_cli(*index_args(posts, index_dir))
    assert recovered.returncode == 0, recovered.stderr
    assert NEW_POST in search_ids(index_dir, NEW_WORD)

    result = run_cli("index", "--rollback", "--index-dir", str(index_dir))
    assert result.returncode == 0, result.stderr
    assert NEW_POST not in search_ids(index_dir, NEW_WORD), (
        f"rolled back to {current(index_dir)}, not to {before} that was serving; "
        f"versions: {_versions(index_dir)}"
    )
    assert current(index_dir) == before


def test_versions_built_in_quick_succession_roll_back_in_build_order(rel_fresh_blog):
    """Version names sort by age even when several builds start within a second."""
    posts, index_dir = rel_fresh_blog
    built = [current(index_dir)]
    for i in range(4):
        (posts / RAMEN).write_text(RAMEN_CHANGED + f"\n版{i}\n", encoding="utf-8")
        built.append(build(posts, index_dir, keep=10).version)
    assert _versions(index_dir) == built  # sorted by name == built order
    store = IndexStore(index_dir)
    for expected in reversed(built[:-1]):
        with store.lock(wait=1):
            assert store.rollback() == expected
