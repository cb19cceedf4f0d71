"""Related posts: the ones a reader of a post would open next.

Text alone (Whoosh's ``more_like`` over the post's title, tags and excerpt)
ranked a rainy-day post first under the Tokaido Shinkansen post of the demo
blog, and left out the Kanazawa trip that shares its tag 新幹線 and its
category 旅行. Here a candidate scores by

- its text likeness (BM25 of the post's key terms, each also in the other
  script when it is a learned name: NVIDIA finds エヌビディア), scaled to the
  best candidate;
- the tags it shares, each weighted by its rarity (a tag on every post says
  nothing), as a share of what the post's own tags weigh;
- sharing the post's category;

and ties go to the newer post. ``bench/related.py`` measures the share of
related posts that share a tag or the category, against ``more_like``.
"""

from __future__ import annotations

import numpy as np
from whoosh import query as wq

from .doctable import DocTable, Facet
from .names import NameTable, is_latin_word

TEXT_WEIGHT = 1.0
TAG_WEIGHT = 1.0
CATEGORY_WEIGHT = 0.3
NAME_WEIGHT = 0.8  # a key term's other-script spelling, as in search
KEY_TERMS = 16
TEXT_CANDIDATES = 50


def _shared(facet: Facet, doc: int, size: int) -> np.ndarray:
    """Per doc, the rarity-weighted values it shares with *doc*, as a share
    (0..1) of what *doc*'s own values weigh."""
    mine = np.unique(facet.ids[facet.docs == doc])
    if not len(mine):
        return np.zeros(size)
    df = np.bincount(facet.ids, minlength=len(facet.keys)).astype(np.float64)
    idf = np.log1p(size / np.maximum(df, 1.0))
    pairs = np.isin(facet.ids, mine)
    weights = np.bincount(facet.docs[pairs], weights=idf[facet.ids[pairs]], minlength=size)
    return weights / idf[mine].sum()


def _text_scores(searcher, text: str, names: NameTable, size: int) -> np.ndarray:
    """BM25 likeness to *text*'s key terms, scaled so the best doc has 1."""
    scores = np.zeros(size)
    terms = searcher.key_terms_from_text("body", text, numterms=KEY_TERMS)
    subs: list[wq.Query] = []
    for term, weight in terms:
        subs.append(wq.Term("body", term, boost=weight))
        if is_latin_word(term) or not term.isascii():
            subs += [wq.Term("body", alt, boost=weight * NAME_WEIGHT)
                     for alt in names.other_spellings(term) if " " not in alt]  # fmt: skip
    if not subs:
        return scores
    for hit in searcher.search(wq.Or(subs), limit=TEXT_CANDIDATES):
        scores[hit.docnum] = hit.score
    best = scores.max()
    return scores / best if best > 0 else scores


def related_docs(
    searcher, table: DocTable, names: NameTable, doc: int, text: str, limit: int
) -> list[tuple[int, float]]:
    """Up to *limit* ``(doc, score)`` like *doc* (whose title, tags and
    excerpt are *text*), best first, newer first on ties."""
    size = table.size
    score = TEXT_WEIGHT * _text_scores(searcher, text, names, size)
    score += TAG_WEIGHT * _shared(table.facets["tags"], doc, size)
    score += CATEGORY_WEIGHT * _shared(table.facets["categories"], doc, size)
    score[doc] = 0.0
    score[~table.live] = 0.0
    docs = np.flatnonzero(score > 0)
    order = np.lexsort((-table.timestamp[docs], -score[docs]))[:limit]
    return [(int(d), float(score[d])) for d in docs[order]]
