"""Real-browser fixtures: the demo blog's index, two live servers, Chromium.

Chromium is Debian's (``/usr/bin/chromium``, or ``$CHROMIUM``), driven by
Playwright for Python; ``playwright install`` is never needed. Without a
Chromium the tests are skipped, except in CI (``$CI`` set), where they fail.

Two servers share one index:

- ``server``: the API, the search page and a same-origin ``/demo``; its
  CORS settings allow ``blog``'s origin.
- ``blog``: stands in for a blog on another origin: its ``/demo`` page embeds
  the widget with ``data-api`` pointing at ``server`` (and a CSP whose
  connect-src allows it).

The fixtures are package-scoped (this folder has an ``__init__.py``), so the
servers and the browser stop as soon as the browser tests are done.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from search.indexer import build_index
from search.site import load_site_config

from .browser_support import CHROMIUM_ARGS, DEMO_BLOG, REPO, SCREENSHOTS, XSS_POST


def chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    if os.path.exists(path):
        return path
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="package")
def chromium_executable() -> str:
    path = chromium_path()
    if path is None:
        message = "no Chromium (apt-get install chromium fonts-noto-cjk, or set $CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


# --- the index and the servers -------------------------------------------------


@pytest.fixture(scope="package")
def browser_index(tmp_path_factory) -> Path:
    """The demo blog plus a post whose title is an HTML tag, indexed."""
    root = tmp_path_factory.mktemp("browser_blog")
    blog = root / "blog"
    shutil.copytree(DEMO_BLOG, blog)
    posts = blog / "_posts"
    (posts / "2024-02-14-html-title.md").write_text(XSS_POST, encoding="utf-8")
    index_dir = root / "index"
    report = build_index(posts, index_dir, load_site_config(posts), workers=1)
    assert report.documents > 10, [str(p) for p in report.problems]
    return index_dir


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server not ready: {self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(index_dir: Path, port: int, log: Path, settings: dict[str, str]) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLOGSEARCH_")}
    env.update({f"BLOGSEARCH_{k}": v for k, v in settings.items()})
    cmd = [
        sys.executable, "-m", "search.cli", "serve",
        "--index-dir", str(index_dir), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    return Server(f"http://127.0.0.1:{port}", process, log, settings)


@pytest.fixture(scope="package")
def servers(browser_index, tmp_path_factory) -> Iterator[tuple[Server, Server]]:
    logs = tmp_path_factory.mktemp("server_logs")
    api_port, blog_port = free_ports(2)
    api_origin = f"http://127.0.0.1:{api_port}"
    blog_origin = f"http://127.0.0.1:{blog_port}"
    api = start_server(browser_index, api_port, logs / "api.log", {"CORS_ORIGINS": blog_origin})
    blog = start_server(
        browser_index, blog_port, logs / "blog.log",
        {"DEMO_API_URL": api_origin, "CSP_CONNECT_SRC": api_origin},
    )  # fmt: skip
    try:
        api.wait_ready()
        blog.wait_ready()
        yield api, blog
    finally:
        api.stop()
        blog.stop()


@pytest.fixture(scope="package")
def server(servers) -> Server:
    return servers[0]


@pytest.fixture(scope="package")
def blog(servers) -> Server:
    return servers[1]


# --- the browser ---------------------------------------------------------------------


@pytest.fixture(scope="package")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright, chromium_executable):
    browser = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class PageWatch:
    """What a page did that a test may want to forbid: dialogs, errors, CSP reports."""

    def __init__(self, page) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.console_errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.console_errors.append(msg.text)

    def problems(self) -> list[str]:
        csp = [m for m in self.console_errors if "Content Security Policy" in m]
        return [*(f"dialog {d}" for d in self.dialogs), *self.errors, *csp]


@pytest.fixture
def context(browser):
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="ja-JP", color_scheme="light",
        timezone_id="Asia/Tokyo",
    )  # fmt: skip
    context.set_default_timeout(5000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    """A page that fails the test on any dialog, uncaught error or CSP violation."""
    page = context.new_page()
    watch = PageWatch(page)
    page.watch = watch  # type: ignore[attr-defined]
    yield page
    assert not watch.problems(), watch.problems()


@pytest.fixture(scope="package")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
