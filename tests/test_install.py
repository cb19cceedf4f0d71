"""A built wheel is the whole product: a non-editable install serves its pages.

The suite itself runs against the editable checkout, where every file is on
disk whatever the package data says; this test builds the wheel that
``pip install .`` would install and runs the CLI and the app from it alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("search", "web")


def _project_files(*paths: str) -> list[str]:
    """Files a clone would have (tracked or new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *paths],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    return [name for name in listed if (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy of the project's own files: a stale build/ directory
    # in the checkout would otherwise supply files the package data forgets.
    source = tmp_path_factory.mktemp("source")
    for name in _project_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source)],
        check=True,
        cwd=out,
        timeout=600,
    )
    (built,) = out.glob("blogsearch-*.whl")
    return built


def test_wheel_holds_every_file_of_the_packages(wheel):
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(set(_project_files(*PACKAGES)) - in_wheel)
    assert missing == [], f"not in {wheel.name}: {missing}"


def test_installed_wheel_indexes_and_serves_the_search_page(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    posts = tmp_path / "_posts"
    posts.mkdir()
    (posts / "2024-05-01-capybara.md").write_text(
        "---\ntitle: カピバラの温泉\ntags: [動物]\n---\nカピバラが温泉に入る。\n", "utf-8"
    )
    index_dir = tmp_path / "index"
    # Run outside the checkout, the unpacked wheel first on the path: the
    # editable install's copy of the packages is never imported.
    env = {**os.environ, "PYTHONPATH": str(site), "BLOGSEARCH_INDEX_DIR": str(index_dir)}
    code = (
        "import sys, search, web\n"
        f"assert search.__file__.startswith({str(site)!r}), search.__file__\n"
        "from search.cli import main\n"
        f"try: main(['index', {str(posts)!r}, '--index-dir', {str(index_dir)!r}])\n"
        "except SystemExit as exc: assert not exc.code, exc.code\n"
        "client = web.create_app().test_client()\n"
        "for path in ('/demo', '/search?q=カピバラ', '/search?q=存在しない話題',\n"
        "             '/api/search?q=温泉', '/static/blogsearch.js'):\n"
        "    r = client.get(path)\n"
        "    assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def _make_plan(target: str, tmp_path: Path) -> str:
    """The commands ``make TARGET`` would run on a machine with no venv yet."""
    return subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'fresh-venv'}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_make_run_installs_only_the_runtime_set(tmp_path):
    plan = _make_plan("run", tmp_path)
    assert "requirements.lock" in plan
    assert "[test]" not in plan


def test_make_test_adds_the_test_tools(tmp_path):
    assert "'.[test]'" in _make_plan("test", tmp_path)
