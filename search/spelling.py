"""Spelling corrections from the index's own vocabulary.

Whoosh's corrector walks the lexicon with a Levenshtein automaton, which
takes seconds on a Japanese vocabulary (the alphabet is thousands of
characters). Here candidates are found through shared character bigrams (a
small inverted index over the vocabulary, built on first use per version)
and then checked by edit distance, which works the same for ASCII words and
for katakana or kanji ones.
"""

from __future__ import annotations

import threading
from collections import Counter

MIN_DOC_FREQUENCY = 2  # words seen once are as likely typos as the query
MAX_TERMS_PER_GRAM = 5_000


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or ``limit + 1`` as soon as it exceeds *limit*."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def padded_bigrams(word: str) -> set[str]:
    """The character bigrams of *word* with its ends marked (^ab$): the
    candidates of a near word share some of them."""
    padded = f"^{word}$"
    return {padded[i : i + 2] for i in range(len(padded) - 1)}


class Speller:
    """Suggests an indexed word close to a word the index does not have."""

    def __init__(self, reader, fields: tuple[str, ...] = ("title", "body")):
        self.reader = reader
        self.fields = fields
        self._terms: list[str] | None = None
        self._df: dict[int, int] = {}
        self._index: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def load(self) -> None:
        """Build the word index now (a server does it when it opens a
        version, not in the request of the first search that finds nothing)."""
        with self._lock:
            if self._terms is None:
                self._build()

    def _build(self) -> None:
        # Only the words (the lexicon is read fast); their frequencies are
        # read for the few candidates of a suggestion: reading every term's
        # info took 1.7 s on 53k words, in the request of the first
        # search that found nothing.
        words: dict[str, None] = {}
        for f in self.fields:
            for term in self.reader.lexicon(f):
                text = term.decode("utf-8") if isinstance(term, bytes) else term
                if len(text) >= 2:
                    words[text] = None
        terms = list(words)
        index: dict[str, list[int]] = {}
        for i, t in enumerate(terms):
            for g in padded_bigrams(t):
                index.setdefault(g, []).append(i)
        self._index = index
        self._terms = terms

    def _doc_frequency(self, i: int, word: str) -> int:
        n = self._df.get(i)
        if n is None:
            n = self._df[i] = sum(self.reader.doc_frequency(f, word) for f in self.fields)
        return n

    def suggest(self, word: str) -> str | None:
        """The most frequent indexed word within a small edit distance of *word*."""
        if len(word) < 2:
            return None
        with self._lock:
            if self._terms is None:
                self._build()
            terms = self._terms or []
            grams = padded_bigrams(word)
            shared: Counter[int] = Counter()
            for g in grams:
                ids = self._index.get(g, ())
                if len(ids) <= MAX_TERMS_PER_GRAM:
                    shared.update(ids)
            limit = 1 if len(word) <= 4 else 2
            best: tuple[int, int, str] | None = None
            for i, n in shared.most_common(200):
                if n < len(grams) / 2:
                    break
                candidate = terms[i]
                if candidate == word:
                    continue
                dist = edit_distance(word, candidate, limit)
                if dist > limit:
                    continue
                df = self._doc_frequency(i, candidate)
                if df < MIN_DOC_FREQUENCY:
                    continue
                key = (dist, -df, candidate)
                if best is None or key < best:
                    best = key
        return best[2] if best else None
