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


def test_unknown_katakana_compound_is_searched_as_its_words():
    comp = compile_query("シングルユーザログイン")
    words = [u.terms[0][1] for u in comp.positive]
    assert words == [("シングル",), ("ユーザ",), ("ログイン",)]


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
