"""A short soak (bench/soak.py): gunicorn under load while the index is rebuilt twice.

``run_soak`` copies 40 posts of ../shared/corpus/posts (the fixture blog
when the shared corpus is absent) into a temporary directory, serves them with
``gunicorn --preload -w 2``, drives the API from a separate client process for
10 s and runs ``blogsearch index --full`` twice meanwhile, the second time
with a new post carrying a unique marker word. No request may fail, and the
marker post must be found after the second switch.
"""

from __future__ import annotations

import sys

import pytest
from helpers import FIXTURE_POSTS, POSTS_DIR, REPO_ROOT

pytestmark = pytest.mark.slow


def test_soak_short_run_has_no_errors_and_finds_the_new_post(tmp_path):
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from bench.soak import run_soak

    posts = POSTS_DIR if POSTS_DIR.is_dir() else FIXTURE_POSTS
    result = run_soak(
        10,
        4,
        posts,
        sample=40,
        server_log=tmp_path / "gunicorn.log",
        log=lambda message: None,
    )
    assert result["requests"] > 0
    assert result["rebuilds_ok"], result["rebuilds"]
    assert result["errors"] == [], result["errors"][:20]
    assert result["marker"]["appeared"], result["marker"]
