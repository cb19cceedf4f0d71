"""The precision part of bench/relevance.py: its pure functions, on tiny inputs.

No index and no shared corpus: the peers are built over a few in-memory
``Doc`` s and "ours" is a stub with the same interface.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.relevance import (  # noqa: E402
    AIBLOG_NEGATIVES,
    DEFAULT_NEGATIVES,
    Answer,
    BigramBM25,
    Doc,
    Fts5System,
    Query,
    contains,
    default_negatives,
    doc_texts,
    hit_count_stats,
    load_negatives,
    negative_totals,
    run_negatives,
    single_word_precision,
    word_needles,
    word_precision,
)

DOCS = [
    Doc("a.md", "プリンタの設定", "印刷", "lpr でファイルを印刷する。"),
    Doc("b.md", "ソケット", "ネットワーク", "ソケットを開いてデータを送る。"),
    Doc("c.md", "エヌビディアの決算", "AI", "NVIDIA の GPU が売れた。", excerpt="決算まとめ"),
    Doc("d.md", "うどんの話", "食", "うどんは関係ない。", code="gcloud compute ssh vm"),
]


class StubOurs:
    """Answers from a table: query -> (ids, relaxed)."""

    name = "ours"

    def __init__(self, table: dict[str, tuple[list[str], bool]], alts: dict[str, list[str]]):
        self.table = table
        self.alts = alts

    def __call__(self, query: str) -> list[str]:
        return self.all_ids(query)[:10]

    def all_ids(self, query: str) -> list[str]:
        return self.table.get(query, ([], False))[0]

    def answer(self, query: str) -> Answer:
        ids, relaxed = self.table.get(query, ([], False))
        return Answer(len(ids), relaxed, ("x",) if relaxed else ())

    def alternatives(self, word: str) -> list[str]:
        return self.alts.get(word, [])


def test_negative_totals_counts_empty_flagged_and_junk():
    records = [
        {"query": "a", "hits": 0, "flagged": False},
        {"query": "b", "hits": 0, "flagged": False},
        {"query": "c", "hits": 3, "flagged": True},
        {"query": "d", "hits": 1, "flagged": False},
    ]
    totals = negative_totals(records)
    assert totals == {"n": 4, "empty": 2, "flagged": 1, "junk": 1, "empty_share": 0.5}
    assert negative_totals([])["empty_share"] == 0.0


def test_run_negatives_records_hits_and_flags():
    ours = StubOurs({"うどん": (["d.md"], False), "蕎麦 天ぷら": (["a.md", "b.md"], True)}, {})
    records = run_negatives(ours, ["うどん", "蕎麦 天ぷら", "たこ焼き"])
    assert [(r["hits"], r["flagged"]) for r in records] == [(1, False), (2, True), (0, False)]
    assert records[1]["unmatched"] == ["x"]
    assert negative_totals(records) == {
        "n": 3,
        "empty": 1,
        "flagged": 1,
        "junk": 1,
        "empty_share": pytest.approx(1 / 3),
    }


def test_peers_never_flag_and_count_every_match():
    fts5, bigram = Fts5System(DOCS, k=1), BigramBM25(DOCS, k=1)
    for peer in (fts5, bigram):
        assert len(peer("うどん ソケット")) == 1  # ranking still stops at k
        assert sorted(peer.all_ids("うどん ソケット")) == ["b.md", "d.md"]
        assert peer.answer("うどん ソケット") == Answer(2)
        assert peer.answer("天気予報") == Answer(0)
    assert fts5.all_ids("データ") == ["b.md"]
    # Short chunk: the LIKE fallback, without a limit either.
    assert sorted(fts5.all_ids("印刷")) == ["a.md"]
    assert bigram.answer("の").total == 0  # a single character has no bigram


def test_contains_folds_width_case_kana_and_long_vowel():
    assert contains("ＮＶＩＤＩＡの決算", "nvidia")
    assert contains("プリンタの設定", "プリンター")  # trailing ー removed
    assert contains("プリンターの設定", "プリンタ")
    assert contains("ぷりんたーの設定", "プリンター")  # hiragana text
    assert contains("ソケットを開く", "そけっと")  # hiragana word
    assert contains("NVIDIA の GPU", "エヌビディア", ["NVIDIA"])
    assert not contains("NVIDIA の GPU", "エヌビディア")
    assert not contains("ソケット", "ロケール")


def test_word_needles_forms():
    assert word_needles("プリンター") == {"プリンター", "プリンタ"}
    assert word_needles("ソケット") == {"ソケット", "ソケットー"}
    assert word_needles("ふぁいる") == {"ふぁいる", "ファイル", "ファイルー"}
    assert word_needles("UTF-8", ["utf8"]) == {"utf-8", "utf8"}
    assert word_needles("ー") == {"ー"}


def test_hit_count_stats_nearest_rank_per_kind_and_all():
    queries = [Query(f"q{i}", "x", ("a.md",), kind) for i, kind in enumerate("aaabb")]
    stats = hit_count_stats(queries, [1, 5, 9, 0, 100])
    assert stats["a"] == {"n": 3, "median": 5, "p90": 9}
    assert stats["b"] == {"n": 2, "median": 0, "p90": 100}
    assert stats["all"] == {"n": 5, "median": 5, "p90": 100}


def test_word_precision_over_all_ids():
    texts = doc_texts(DOCS)
    needles = word_needles("ssh")
    assert word_precision(["d.md", "a.md", "zz.md"], texts, needles) == {
        "fetched": 3,
        "containing": 1,  # d.md, in its code block; zz.md has no text
        "precision": pytest.approx(1 / 3),
    }
    assert word_precision([], texts, needles)["precision"] is None
    assert word_precision(["c.md"], texts, word_needles("決算まとめ"))["containing"] == 1  # excerpt


def test_single_word_precision_uses_declared_and_own_alternatives():
    texts = doc_texts(DOCS)
    words = [("エヌビディア", ("NVIDIA",)), ("プリンター", ()), ("ロケール", ())]
    ours = StubOurs(
        {"エヌビディア": (["c.md", "b.md"], False), "プリンター": (["a.md", "d.md"], False)},
        {"プリンター": ["lpr"]},  # the engine's own alternative (a.md and d.md: only a.md)
    )
    result = single_word_precision(ours, texts, words)
    per_word = result["per_word"]
    assert per_word["エヌビディア"]["precision"] == 0.5
    assert per_word["エヌビディア"]["alternatives"] == ["NVIDIA"]
    assert per_word["プリンター"]["alternatives"] == ["lpr"]
    assert per_word["プリンター"]["precision"] == 0.5
    assert per_word["ロケール"] == {
        "hits": 0,
        "alternatives": [],
        "fetched": 0,
        "containing": 0,
        "precision": None,
    }
    assert result["mean_precision"] == 0.5
    assert result["words_with_hits"] == 2

    peer = single_word_precision(BigramBM25(DOCS), texts, words)
    assert peer["per_word"]["エヌビディア"]["hits"] == 1
    assert peer["per_word"]["エヌビディア"]["precision"] == 1.0


def test_load_negatives_and_default_file(tmp_path: Path):
    path = tmp_path / "neg.txt"
    path.write_text("うどん\n\n# a comment\n  蕎麦 \n", encoding="utf-8")
    assert load_negatives(path) == ["うどん", "蕎麦"]
    assert default_negatives(tmp_path / "corpus" / "aiblog" / "posts") == AIBLOG_NEGATIVES
    assert default_negatives(tmp_path / "corpus" / "posts") == DEFAULT_NEGATIVES
    assert AIBLOG_NEGATIVES.parent == DEFAULT_NEGATIVES.parent
