"""Query compilation and scoring details (search/matching.py, search/doctable.py)."""

from __future__ import annotations

import numpy as np
import pytest

from search.doctable import DocTable
from search.matching import compile_query, scoring_bigrams


def test_scoring_bigrams_skip_bigrams_inside_particles_and_endings():
    grams = scoring_bigrams("ファイルの状態を取得する")
    # Words, and a word joined to its particle, score ...
    assert {"ファ", "イル", "状態", "取得", "ルノ", "態ヲ", "得ス"} <= set(grams)
    # ... a bigram of する alone does not: nearly every post has it.
    assert "スル" not in grams


def test_scoring_bigrams_of_a_particle_only_query_are_kept():
    assert scoring_bigrams("からの") == ["カラ", "ラノ"]


def test_unknown_katakana_compound_is_one_word_made_of_its_words():
    (unit,) = compile_query("シングルユーザログイン").positive
    assert unit.label == "シングルユーザログイン"
    # Its words, for ranking and for a relaxed search.
    assert [p.label for p in unit.parts] == ["シングル", "ユーザ", "ログイン"]


def test_a_compound_in_a_longer_query_keeps_its_words():
    comp = compile_query("量子コンピュータ 入門")
    assert [u.label for u in comp.positive] == ["量子コンピュータ", "入門"]
    assert [p.label for p in comp.positive[0].parts] == ["量子", "コンピュータ"]


def test_a_verb_of_a_description_is_a_predicate():
    comp = compile_query("ファイルの状態を取得する")
    assert [(u.label, u.predicate) for u in comp.positive] == [
        ("ファイル", False), ("状態", False), ("取得", True)]  # fmt: skip


class _Reader:
    """Answers None for the length of a field a doc lacks, as Whoosh does
    for some segments."""

    def doc_field_length(self, docnum: int, field_name: str, default: int = 0):
        return None if docnum == 1 else 4


def test_field_length_of_a_doc_without_the_field_is_zero():
    table = DocTable(
        size=3,
        live=np.ones(3, dtype=bool),
        timestamp=np.zeros(3),
        facets={},
        labels={},
        docnum_by_id={},
        reader=_Reader(),
    )
    assert table.lengths("headings").tolist() == [4.0, 0.0, 4.0]
    assert table.avg_length("headings") == pytest.approx(8 / 3)  # not NaN
