"""A benchmark without its inputs says so in one line and exits 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("bench", ["relevance", "query_bench", "soak", "index_bench"])
def test_benchmark_with_a_missing_posts_folder_exits_2_with_one_line(bench, tmp_path):
    missing = tmp_path / "no-such-corpus" / "posts"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{bench}.py"), "--posts", str(missing)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "--posts" in lines[0], lines
