"""Building and updating the index, the writer lock, crashes, and the CLI."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import suppress
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from helpers import BAD_DIR, POSTS_DIR, marked, search, search_ids
from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

import search.indexer as indexer_module
import search.store as store_module
from search.cli import main
from search.doctable import DocTable
from search.indexer import IndexReport, build_index
from search.query import SearchEngine, SearchRequest
from search.schema import SCORING_FIELDS
from search.site import load_site_config
from search.store import IndexLocked, IndexStore

SHINKANSEN = "2024-03-01-tokaido-shinkansen.md"
VIOLIN = "2024-08-15-violin.md"
DRAFT = "2024-07-01-secret-draft.md"
NEW_POST = "2024-09-01-new-post.md"


def index(posts: Path, index_dir: Path, **kwargs) -> IndexReport:
    kwargs.setdefault("workers", 1)
    return build_index(posts, index_dir, load_site_config(posts), **kwargs)


def tmp_dirs(index_dir: Path) -> list[str]:
    versions = index_dir / "versions"
    return [p.name for p in versions.iterdir() if p.name.startswith(".tmp-")]


@pytest.fixture
def built(blog_copy: Path, tmp_path: Path):
    """A fixture-blog copy, its index, and an engine over it."""
    index_dir = tmp_path / "index"
    report = index(blog_copy, index_dir)
    engine = SearchEngine(index_dir)
    yield blog_copy, index_dir, report, engine
    engine.close()


# --- full and incremental builds ------------------------------------------------


def test_first_build_is_full_and_skips_the_draft(built):
    _, index_dir, report, _ = built
    assert report.full
    assert report.added == report.analyzed == report.documents == 8
    assert [str(p) for p in report.skipped] == [f"skip {DRAFT}: draft (published: false)"]
    assert IndexStore(index_dir).current().documents == 8


def test_added_post_is_found_after_incremental_run(built):
    posts, index_dir, _, engine = built
    assert search_ids(engine, "カピバラ") == []
    (posts / NEW_POST).write_text(
        "---\ntitle: 温泉のカピバラ\ndate: 2024-09-01\n---\nカピバラが温泉に入っていた。\n",
        encoding="utf-8",
    )
    report = index(posts, index_dir)
    assert not report.full
    assert (report.added, report.updated, report.deleted, report.analyzed) == (1, 0, 0, 1)
    assert report.documents == 9
    assert search_ids(engine, "カピバラ") == [NEW_POST]


def test_changed_post_is_reindexed(built):
    posts, index_dir, _, engine = built
    path = posts / VIOLIN
    path.write_text(
        path.read_text(encoding="utf-8").replace("ヴァイオリン", "チェロ"), encoding="utf-8"
    )
    report = index(posts, index_dir)
    assert (report.added, report.updated, report.deleted, report.analyzed) == (0, 1, 0, 1)
    assert report.documents == 8
    assert search_ids(engine, "チェロ") == [VIOLIN]
    assert VIOLIN not in search_ids(engine, "バイオリン")


def test_scoring_reads_the_count_fields_which_match_the_positional_ones(built):
    _, index_dir, _, engine = built
    ix = whoosh_index.open_dir(str(IndexStore(index_dir).current().path))
    with ix.reader() as reader:
        table = DocTable.build(reader)
        checked = 0
        for name, counts in SCORING_FIELDS.items():
            for term in list(reader.lexicon(name))[:200]:
                text = term.decode("utf-8")
                positional = dict(reader.postings(name, text).items_as("frequency"))
                m = reader.postings(counts, text)
                shadow = {}
                while m.is_active():  # weights as stored (the format decodes none)
                    shadow[m.id()] = m.weight()
                    m.next()
                assert shadow == pytest.approx(positional), (name, text)
                postings = table.postings(name, text)
                assert dict(zip(postings.docs.tolist(), postings.tf.tolist(), strict=True)) == (
                    pytest.approx(positional)
                )
                checked += 1
        assert checked > 100
    ix.close()


def test_snippets_mark_matches_in_every_segment_after_an_update(built):
    posts, index_dir, _, engine = built
    path = posts / VIOLIN
    path.write_text(
        path.read_text(encoding="utf-8").replace("ヴァイオリン", "チェロ"), encoding="utf-8"
    )
    index(posts, index_dir)
    ix = whoosh_index.open_dir(str(IndexStore(index_dir).current().path))
    with ix.reader() as reader:
        # The update went to a new segment; the old one has a deletion.
        assert len(list(reader.leaf_readers())) > 1
        assert reader.has_deletions()
    ix.close()
    updated = search(engine, "チェロ").hits
    assert [h.id for h in updated] == [VIOLIN]
    assert set(marked(updated[0].snippet)) == {"チェロ"}
    untouched = search(engine, "新幹線").hits
    assert SHINKANSEN in [h.id for h in untouched]
    assert all(set(marked(h.snippet)) <= {"新幹線"} for h in untouched)
    assert "新幹線" in marked(next(h for h in untouched if h.id == SHINKANSEN).snippet)


def test_workers_writing_their_own_segments_build_the_same_index(
    blog_copy, tmp_path, monkeypatch
):
    serial = index(blog_copy, tmp_path / "serial", workers=1)
    monkeypatch.setattr(indexer_module, "SEGMENT_MIN_FILES", 2)
    parallel = index(blog_copy, tmp_path / "parallel", workers=2)
    assert (parallel.added, parallel.documents) == (serial.added, serial.documents)
    assert [str(p) for p in parallel.problems] == [str(p) for p in serial.problems]
    ix = whoosh_index.open_dir(str(IndexStore(tmp_path / "parallel").current().path))
    with ix.reader() as reader:
        assert len(list(reader.leaf_readers())) == 2  # one segment per worker
    ix.close()
    engines = [SearchEngine(tmp_path / name) for name in ("serial", "parallel")]
    try:
        for q in ["新幹線", "コンピュータ", "サーバー", "Llama", "バイオリン", "", "アプリ -京都"]:
            a, b = (e.search(SearchRequest(q=q, per_page=50)).to_dict() for e in engines)
            for result in (a, b):
                result.pop("processingTimeMs")
                result.pop("indexVersion", None)
            assert a == b, q
    finally:
        for e in engines:
            e.close()


def test_a_failing_segment_writer_fails_the_build_and_keeps_the_old_version(
    built, monkeypatch
):
    posts, index_dir, _, engine = built
    before = IndexStore(index_dir).current_name()
    monkeypatch.setattr(indexer_module, "SEGMENT_MIN_FILES", 2)

    def full_disk(self, **fields):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SegmentWriter, "add_document", full_disk)
    with pytest.raises(OSError) as raised:
        index(posts, index_dir, workers=2, full=True)
    assert raised.value.errno == errno.ENOSPC
    assert IndexStore(index_dir).current_name() == before
    assert not tmp_dirs(index_dir)
    assert SHINKANSEN in search_ids(engine, "新幹線")


def test_deleted_post_leaves_the_index(built):
    posts, index_dir, _, engine = built
    assert SHINKANSEN in search_ids(engine, "新幹線")
    (posts / SHINKANSEN).unlink()
    report = index(posts, index_dir)
    assert (report.added, report.updated, report.deleted, report.analyzed) == (0, 0, 1, 0)
    assert report.documents == 7
    assert search_ids(engine, "新幹線") == []


def test_published_draft_is_added_and_unpublished_post_removed(built):
    posts, index_dir, _, engine = built
    draft = posts / DRAFT
    draft.write_text(
        draft.read_text(encoding="utf-8").replace("published: false", "published: true"),
        encoding="utf-8",
    )
    violin = posts / VIOLIN
    violin.write_text(
        violin.read_text(encoding="utf-8").replace("tags:", "published: false\ntags:"),
        encoding="utf-8",
    )
    report = index(posts, index_dir)
    assert report.added == 1 and report.deleted == 1
    assert search_ids(engine, "ないしょばなし") == [DRAFT]
    assert VIOLIN not in search_ids(engine, "ヴァイオリン")


def test_skipped_file_that_is_fixed_is_added(built):
    posts, index_dir, _, engine = built
    broken = posts / NEW_POST
    broken.write_text("---\ntitle: 閉じていない\nカピバラの話\n", encoding="utf-8")
    report = index(posts, index_dir)
    assert [p.message for p in report.skipped if p.path == NEW_POST] == [
        "front matter not closed (no '---' line after the opening one)"
    ]
    assert search_ids(engine, "カピバラ") == []
    broken.write_text("---\ntitle: 直した\n---\nカピバラの話\n", encoding="utf-8")
    report = index(posts, index_dir)
    assert report.added == 1
    assert search_ids(engine, "カピバラ") == [NEW_POST]


def test_unchanged_rerun_analyzes_nothing_and_makes_no_version(built):
    posts, index_dir, first, _ = built
    store = IndexStore(index_dir)
    versions = store.list_versions()
    report = index(posts, index_dir)
    assert report.analyzed == 0
    assert report.unchanged == 9  # the draft's entry is remembered too
    assert report.version == first.version
    assert store.list_versions() == versions
    assert store.current_name() == first.version


def test_touched_but_identical_file_is_not_reanalyzed(built):
    posts, index_dir, first, _ = built
    path = posts / VIOLIN
    later = path.stat().st_mtime + 100
    os.utime(path, (later, later))
    report = index(posts, index_dir)
    assert report.analyzed == 0
    assert report.version == first.version


def test_full_rebuild_makes_a_new_version(built):
    posts, index_dir, first, engine = built
    report = index(posts, index_dir, full=True)
    assert report.full
    assert report.analyzed == 8
    assert report.version != first.version
    store = IndexStore(index_dir)
    assert store.current_name() == report.version
    assert first.version in store.list_versions()  # kept for rollback
    assert SHINKANSEN in search_ids(engine, "新幹線")


def test_changed_site_setting_forces_full_rebuild(built):
    posts, index_dir, first, engine = built
    site = load_site_config(posts, permalink="pretty")
    report = build_index(posts, index_dir, site, workers=1)
    assert report.full and report.analyzed == 8
    hit = engine.search(SearchRequest(q="新幹線")).hits[0]
    assert hit.url == "/%E6%97%85%E8%A1%8C/2024/03/01/tokaido-shinkansen/"


class _Clock:
    """Stands in for ``datetime`` in search.store: a clock that the test sets."""

    def __init__(self, step: float):
        self.now_value = datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
        self.step = timedelta(seconds=step)

    def now(self, tz=None):
        value, self.now_value = self.now_value, self.now_value + self.step
        return value


def test_old_versions_are_pruned_to_keep(built, monkeypatch):
    posts, index_dir, _, _ = built
    monkeypatch.setattr(store_module, "datetime", _Clock(step=1))
    made = [index(posts, index_dir, full=True, keep=2).version for _ in range(3)]
    store = IndexStore(index_dir)
    assert store.list_versions() == made[-2:]
    assert store.current_name() == made[-1]


def test_versions_built_within_one_second_keep_their_order(built, monkeypatch):
    # Two builds in the same second (an editor saving twice, a watcher) get
    # random suffixes: "newest" must not depend on them, or prune deletes the
    # previous version and keeps an older one, and rollback picks the wrong one.
    posts, index_dir, _, _ = built
    monkeypatch.setattr(store_module, "datetime", _Clock(step=0.1))
    suffixes = iter(["ffffff", "cccccc", "999999", "333333"])
    fake_secrets = SimpleNamespace(token_hex=lambda n: next(suffixes))
    monkeypatch.setattr(store_module, "secrets", fake_secrets)
    made = [index(posts, index_dir, full=True, keep=2).version for _ in range(3)]
    store = IndexStore(index_dir)
    assert store.current_name() == made[-1]
    assert sorted(store.list_versions()) == sorted(made[-2:])
    assert store.list_versions()[-1] == made[-1]


def test_parallel_build_matches_single_process_build(blog_copy, tmp_path):
    one = index(blog_copy, tmp_path / "one", workers=1)
    two = index(blog_copy, tmp_path / "two", workers=2)
    assert one.documents == two.documents == 8
    for q in ["新幹線", "コンピュータ", "llama4", "ヴァイオリン"]:
        e1, e2 = SearchEngine(tmp_path / "one"), SearchEngine(tmp_path / "two")
        try:
            assert sorted(search_ids(e1, q)) == sorted(search_ids(e2, q))
        finally:
            e1.close()
            e2.close()


# --- the writer lock ----------------------------------------------------------------


def test_second_writer_fails_while_lock_is_held(built):
    posts, index_dir, first, _ = built
    (posts / NEW_POST).write_text("---\ntitle: 新しい\n---\n本文\n", encoding="utf-8")
    started = time.monotonic()
    with IndexStore(index_dir).lock(), pytest.raises(IndexLocked) as excinfo:
        index(posts, index_dir, lock_wait=0.2)
    assert time.monotonic() - started < 5
    assert str(index_dir) in str(excinfo.value)
    assert str(os.getpid()) in str(excinfo.value)  # names the holder
    assert IndexStore(index_dir).current_name() == first.version
    assert tmp_dirs(index_dir) == []


def test_lock_is_released_after_a_build(built):
    posts, index_dir, _, _ = built
    with IndexStore(index_dir).lock(wait=0.2):
        pass


# --- a killed build -------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.slow
def test_sigkill_midway_keeps_old_index_and_next_run_recovers(built, tmp_path, blogsearch_cmd):
    posts, index_dir, first, engine = built
    big = tmp_path / "big" / "_posts"
    big.mkdir(parents=True)
    for name in sorted(os.listdir(POSTS_DIR))[:300]:
        shutil.copy(POSTS_DIR / name, big / name)

    cmd = [*blogsearch_cmd, "index", str(big), "--full", "--index-dir", str(index_dir)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        started = time.monotonic()
        # Wait until the build is really under way (its .tmp- directory
        # exists), and at least 1.5 s, then kill it without warning.
        while not tmp_dirs(index_dir) or time.monotonic() - started < 1.5:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() - started < 60, "the build never started"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL

        store = IndexStore(index_dir)
        assert store.current_name() == first.version
        assert tmp_dirs(index_dir), "the killed build left its work in progress"
        assert search_ids(engine, "新幹線") == [SHINKANSEN]

        report = index(posts, index_dir, full=True)
        assert report.documents == 8
        assert tmp_dirs(index_dir) == []
        assert store.current_name() == report.version != first.version
        assert search_ids(engine, "新幹線") == [SHINKANSEN]
    finally:
        # The build's worker processes are in its session; end any left.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stderr.close()


# --- the command line -----------------------------------------------------------------


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_search_json_prints_hits_and_total(fixture_index):
    result = run_cli("search", "--json", "--index-dir", str(fixture_index.index_dir), "新幹線")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["totalHits"] == 1
    (hit,) = data["hits"]
    assert hit["id"] == SHINKANSEN
    assert hit["url"] == "/%E6%97%85%E8%A1%8C/2024/03/01/tokaido-shinkansen.html"
    assert hit["title"] == "東海道新幹線で京都へ"
    assert hit["date"] == "2024-03-01T09:15:00+09:00"
    assert hit["tags"] == ["鉄道", "京都"]
    assert hit["categories"] == ["旅行"]
    assert "<mark>" in hit["snippet"]


def test_cli_search_json_with_no_hits(fixture_index):
    result = run_cli(
        "search", "--json", "--index-dir", str(fixture_index.index_dir), "存在しない単語ぬえ"
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["totalHits"] == 0
    assert data["hits"] == []


def test_cli_search_without_index_fails_cleanly(tmp_path):
    result = CliRunner().invoke(main, ["search", "--index-dir", str(tmp_path / "none"), "x"])
    assert result.exit_code == 1
    assert "no index" in result.output


def test_cli_index_builds_and_reports(blog_copy, tmp_path):
    index_dir = tmp_path / "index"
    result = run_cli("index", str(blog_copy), "--index-dir", str(index_dir), "--workers", "1")
    assert result.exit_code == 0, result.output
    assert f"skip {DRAFT}: draft (published: false)" in result.stderr
    assert "full build: 8 added" in result.stdout
    assert IndexStore(index_dir).current().documents == 8


def test_cli_index_check_writes_nothing(blog_copy, tmp_path):
    index_dir = tmp_path / "index"
    result = run_cli(
        "index", str(blog_copy), "--check", "--index-dir", str(index_dir), "--workers", "1"
    )
    assert result.exit_code == 0, result.output
    assert "checked: 8 posts readable, 1 skipped" in result.stdout
    assert not index_dir.exists()


def test_cli_index_check_does_not_touch_an_existing_index(built):
    posts, index_dir, first, _ = built
    (posts / NEW_POST).write_text("---\ntitle: 新しい\n---\n本文\n", encoding="utf-8")
    before = sorted(str(p.relative_to(index_dir)) for p in index_dir.rglob("*"))
    result = run_cli("index", str(posts), "--check", "--index-dir", str(index_dir))
    assert result.exit_code == 0
    assert sorted(str(p.relative_to(index_dir)) for p in index_dir.rglob("*")) == before
    assert IndexStore(index_dir).current_name() == first.version


def test_cli_stats_json(fixture_index):
    result = run_cli("stats", "--json", "--index-dir", str(fixture_index.index_dir))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["documents"] == 8
    assert data["version"] == fixture_index.report.version


BAD_SAMPLE = ["2025-01-04-empty-file.md", "2025-01-06-invalid-utf8.md", "2025-01-08-utf8-bom.md"]


@pytest.fixture
def bad_sample(tmp_path: Path) -> Path:
    posts = tmp_path / "bad" / "_posts"
    posts.mkdir(parents=True)
    for name in BAD_SAMPLE:
        shutil.copy(BAD_DIR / name, posts / name)
    return posts


@pytest.mark.corpus
def test_cli_strict_exits_2_when_a_file_has_a_problem(bad_sample, tmp_path):
    index_dir = tmp_path / "index"
    result = run_cli("index", str(bad_sample), "--strict", "--index-dir", str(index_dir))
    assert result.exit_code == 2
    assert "skip 2025-01-04-empty-file.md: empty file" in result.stderr
    assert "warning 2025-01-06-invalid-utf8.md: invalid UTF-8 at byte" in result.stderr
    # The batch was still indexed.
    assert IndexStore(index_dir).current().documents == 2


@pytest.mark.corpus
def test_cli_strict_check_exits_2(bad_sample, tmp_path):
    result = run_cli(
        "index", str(bad_sample), "--check", "--strict", "--index-dir", str(tmp_path / "i")
    )
    assert result.exit_code == 2
    assert not (tmp_path / "i").exists()


@pytest.mark.corpus
def test_cli_without_strict_exits_0_despite_problems(bad_sample, tmp_path):
    result = run_cli("index", str(bad_sample), "--index-dir", str(tmp_path / "index"))
    assert result.exit_code == 0
    assert "empty file" in result.stderr


def test_cli_strict_exits_0_on_a_clean_blog(tmp_path):
    posts = tmp_path / "_posts"
    posts.mkdir()
    (posts / "2024-01-01-ok.md").write_text("---\ntitle: 問題なし\n---\n本文\n", "utf-8")
    result = run_cli("index", str(posts), "--strict", "--index-dir", str(tmp_path / "index"))
    assert result.exit_code == 0, result.output


def test_cli_strict_remembers_problems_of_unchanged_files_until_fixed(tmp_path):
    posts = tmp_path / "_posts"
    posts.mkdir()
    (posts / "2024-01-01-ok.md").write_text("---\ntitle: 問題なし\n---\n本文\n", "utf-8")
    empty = posts / "2024-01-02-empty.md"
    empty.write_text("", "utf-8")
    broken = posts / "2024-01-03-broken-utf8.md"
    broken.write_bytes("---\ntitle: 壊れた\n---\n本文".encode() + b"\xff\n")
    args = ("index", str(posts), "--strict", "--index-dir", str(tmp_path / "index"))

    first = run_cli(*args)
    assert first.exit_code == 2
    # Nothing changed: the same problems are reported again, and --strict still fails.
    second = run_cli(*args)
    assert second.exit_code == 2, second.output
    assert "skip 2024-01-02-empty.md: empty file" in second.stderr
    assert "warning 2024-01-03-broken-utf8.md: invalid UTF-8" in second.stderr
    assert "(2 from earlier runs)" in second.stdout

    empty.write_text("---\ntitle: 直した\n---\n本文\n", "utf-8")
    broken.write_text("---\ntitle: 直した\n---\n本文\n", "utf-8")
    fixed = run_cli(*args)
    assert fixed.exit_code == 0, fixed.output
    assert run_cli(*args).exit_code == 0


def test_cli_bad_timezone_is_a_clean_error(blog_copy, tmp_path):
    result = CliRunner().invoke(
        main, ["index", str(blog_copy), "--timezone", "Nowhere/Nothing",
               "--index-dir", str(tmp_path / "index")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "Nowhere/Nothing" in result.output


def test_cli_site_url_gives_hits_links_to_the_blog(tmp_path):
    posts = tmp_path / "_posts"
    posts.mkdir()
    (posts / "2024-01-01-capybara.md").write_text("---\ntitle: カピバラ\n---\n本文\n", "utf-8")
    index_dir = tmp_path / "index"
    result = run_cli("index", str(posts), "--site-url", "https://blog.example.com",
                     "--index-dir", str(index_dir))  # fmt: skip
    assert result.exit_code == 0, result.output
    engine = SearchEngine(index_dir)
    (hit,) = engine.search(SearchRequest(q="カピバラ")).hits
    assert hit.url == "https://blog.example.com/2024/01/01/capybara.html"
    bad = run_cli("index", str(posts), "--site-url", "blog.example.com",
                  "--index-dir", str(index_dir))  # fmt: skip
    assert bad.exit_code == 1 and "site url 'blog.example.com'" in bad.output
