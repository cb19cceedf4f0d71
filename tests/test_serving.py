"""Serving stays lean: bounded tokenizers, versions ready before readers ask."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from api_fixtures import add_new_post, index_posts
from werkzeug.serving import make_server

from search.analysis import JANOME_POOL_SIZE, tokenizers_built
from search.query import SearchEngine, SearchRequest
from search.spelling import Speller

pytest_plugins = ["api_fixtures"]


def test_a_threaded_server_never_builds_more_tokenizers_than_its_bound(api_index_dir):
    from web import create_app

    app = create_app({"INDEX_DIR": str(api_index_dir), "RATE_LIMIT": ""})
    server = make_server("127.0.0.1", 0, app, threaded=True)  # a thread per request
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}/api/search?q="
    # Distinct queries, so that no request is answered from a cache.
    queries = [f"東京{i}番目の猫と犬の話 {chr(0x4E00 + i * 37)}" for i in range(24)]

    def get(q: str) -> int:
        with urllib.request.urlopen(base + quote(q), timeout=30) as response:
            return response.status

    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(get, queries))
    finally:
        server.shutdown()
        app.extensions["blogsearch"].close()
    assert statuses == [200] * len(queries)
    assert 1 <= tokenizers_built() <= 2 * JANOME_POOL_SIZE


class _CountingReader:
    """A reader that counts how often its lexicon is read."""

    def __init__(self, words: list[str]):
        self.words = words
        self.lexicon_reads = 0

    def lexicon(self, field: str):
        self.lexicon_reads += 1
        return iter(w.encode("utf-8") for w in self.words)

    def doc_frequency(self, field: str, word: str) -> int:
        return 3 if word in self.words else 0


def test_a_loaded_speller_answers_without_reading_the_lexicon_again():
    reader = _CountingReader(["データベース", "ネットワーク", "カピバラ"])
    speller = Speller(reader)
    speller.load()
    reads = reader.lexicon_reads
    assert reads == 2  # title and body, once
    assert speller.suggest("データベーヌ") == "データベース"
    assert reader.lexicon_reads == reads


def test_an_opened_engine_serves_without_opening_the_version_again(api_fresh_blog):
    _posts, index_dir = api_fresh_blog
    engine = SearchEngine(index_dir)
    try:
        engine.open()
        name = engine.store.current_name()
        assert os.getpid() in engine.store.readers(name)
        result = engine.search(SearchRequest(q="カピバラ"))
        assert result.version == name
    finally:
        engine.close()
    assert os.getpid() not in engine.store.readers(name)


def test_a_watching_engine_opens_a_new_version_before_any_request_asks(api_fresh_blog):
    posts, index_dir = api_fresh_blog
    engine = SearchEngine(index_dir)
    engine.watch(0.05)
    try:
        before = engine.search(SearchRequest(q="カピバラ"))  # starts the watcher
        assert before.total == 0
        add_new_post(posts)
        index_posts(posts, index_dir)
        new = engine.store.current_name()
        assert new != before.version
        deadline = time.monotonic() + 20
        while os.getpid() not in engine.store.readers(new) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.getpid() in engine.store.readers(new), "the watcher did not open the version"
        after = engine.search(SearchRequest(q="カピバラ"))
        assert after.version == new and after.total == 1
    finally:
        engine.close()
