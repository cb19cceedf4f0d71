"""A real pre-forking server follows `blogsearch index` without a restart.

Starts ``gunicorn --preload -w 2 'web:create_app()'`` on a free port, then
re-indexes with the CLI while requests keep coming: no request may fail, and
once the CLI has returned every response must include the new post.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
from api_fixtures import NEW_POST, POSTS, add_new_post, index_posts, write_posts

pytestmark = pytest.mark.slow
pytest_plugins = ["api_fixtures"]

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(base: str, path: str, timeout: float = 10.0) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(base + path, timeout=timeout) as response:
            return response.status, json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode("utf-8") or "{}")


def _capybara_ids(base: str, probe: str = "") -> tuple[int, list[str], str | None]:
    params = {"q": "カピバラ", **({"probe": probe} if probe else {})}
    status, body = _get(base, "/api/search?" + urlencode(params))
    return status, [h["id"] for h in body.get("hits", [])], body.get("indexVersion")


def _worker_pids(access_log: Path, probe: str) -> set[str]:
    """Pids of the workers that answered requests tagged with *probe*."""
    pids = set()
    for line in access_log.read_text(encoding="utf-8").splitlines():
        pid, _, rest = line.partition(" ")
        if f"probe={probe}" in rest:
            pids.add(pid)
    return pids


@pytest.fixture
def server(tmp_path):
    gunicorn = BIN / "gunicorn"
    if not gunicorn.exists():
        pytest.skip("gunicorn is not installed in the test environment")
    posts = write_posts(tmp_path / "_posts")
    index_dir = tmp_path / "index"
    index_posts(posts, index_dir)
    port = _free_port()
    env = {
        **os.environ,
        "BLOGSEARCH_INDEX_DIR": str(index_dir),
        "BLOGSEARCH_RATE_LIMIT": "",  # this test sends bursts from one address
    }
    env.pop("BLOGSEARCH_CONFIG", None)
    log = (tmp_path / "gunicorn.log").open("w+")
    access_log = tmp_path / "access.log"
    proc = subprocess.Popen(
        [str(gunicorn), "--preload", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--graceful-timeout", "5", "--access-logfile", str(access_log),
         "--access-logformat", '%(p)s "%(r)s" %(s)s', "web:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log.read()}")
            try:
                status, body = _get(base, "/api/health", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"gunicorn did not answer within 60 s:\n{log.read()}")
            time.sleep(0.2)
        yield base, posts, index_dir, log, access_log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def test_gunicorn_workers_follow_a_reindex(server):
    base, posts, index_dir, log, access_log = server
    status, health = _get(base, "/api/health")
    assert status == 200 and health["documents"] == len(POSTS)
    old_version = health["indexVersion"]

    # Warm up both workers on the old version (each opens its searcher lazily).
    for _ in range(200):
        status, found, version = _capybara_ids(base, probe="before")
        assert status == 200 and found == [] and version == old_version
        if len(_worker_pids(access_log, "before")) == 2:
            break
    assert len(_worker_pids(access_log, "before")) == 2, "one worker answered everything"
    status, body = _get(base, "/api/search?" + urlencode({"q": "京都"}))
    assert status == 200 and body["totalHits"] == 4

    # Keep querying from another thread while the CLI re-indexes.
    during: list[tuple[float, int, list[str]]] = []
    errors: list[str] = []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            started = time.monotonic()
            try:
                status, found, _ = _capybara_ids(base)
                during.append((started, status, found))
            except Exception as exc:  # noqa: BLE001 - every failure is reported
                errors.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        add_new_post(posts)
        cli = subprocess.run(
            [str(BIN / "blogsearch"), "index", str(posts), "--index-dir", str(index_dir)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        switched_at = time.monotonic()
        assert cli.returncode == 0, cli.stderr
        assert "1 added" in cli.stdout, cli.stdout

        # Poll until both workers have answered (at least 20 requests); every
        # answer after the switch must have the new post.
        after = []
        while len(after) < 20 or len(_worker_pids(access_log, "after")) < 2:
            after.append(_capybara_ids(base, probe="after"))
            if len(after) >= 300:
                break
    finally:
        stop.set()
        thread.join(timeout=30)

    log.seek(0)
    server_log = log.read()
    assert errors == [], server_log
    assert during, "the background thread made no requests"
    assert all(status == 200 for _, status, _ in during), (during, server_log)
    assert all(found in ([], [NEW_POST]) for _, _, found in during)
    # A request that started after the switch sees the new post, in either worker.
    late = [found for started, _, found in during if started > switched_at]
    assert all(found == [NEW_POST] for found in late), late
    assert len(_worker_pids(access_log, "after")) == 2, "only one worker answered"
    assert all(status == 200 for status, _, _ in after), server_log
    assert all(found == [NEW_POST] for _, found, _ in after), after
    access = access_log.read_text(encoding="utf-8")
    assert '" 5' not in access, access  # no 5xx answered at any time
    new_versions = {version for _, _, version in after}
    assert len(new_versions) == 1 and old_version not in new_versions

    status, health = _get(base, "/api/health")
    assert health["documents"] == len(POSTS) + 1
    assert health["indexVersion"] in new_versions
    status, related = _get(base, f"/api/posts/{NEW_POST}/related")
    assert status == 200 and NEW_POST not in [h["id"] for h in related["hits"]]
    assert "Traceback" not in server_log and "[ERROR]" not in server_log, server_log
