"""User-editable synonyms in Solr's format, applied at query time.

::

    # equivalent words: any of them finds all of them
    コンピューター, 計算機, PC
    # one-way: a query for the left side searches the right side instead
    ググる => 検索
    # never: names learned across scripts that are not one name
    !ソラ, sora

Entries are compared in the index's own word form (NFKC, folded kana and
long vowels, base forms), so ``ユーザー`` also matches ``ユーザ`` and
``ゆーざー``. The file is read again when it changes.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .analysis import query_segments


def segment_key(segment) -> str:
    """The table key of one query segment: its index word, or (a compound,
    計算機) its character sequence, so that 計算 alone is not 計算機."""
    return segment.word if segment.word is not None else segment.text


def _key(text: str) -> tuple[str, ...]:
    return tuple(segment_key(s) for s in query_segments(text))


@dataclass
class Synonyms:
    """Word (as a tuple of :func:`segment_key` s) -> the texts to search for it."""

    table: dict[tuple[str, ...], list[str]] = field(default_factory=dict)
    # Pairs of index words never to search for each other (``!`` lines),
    # for the names learned across scripts (search/names.py).
    forbidden: frozenset[frozenset[str]] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Synonyms:
        table: dict[tuple[str, ...], list[str]] = {}
        forbidden: set[frozenset[str]] = set()
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("!"):
                words = ["".join(_key(w)) for w in line[1:].split(",") if _key(w)]
                forbidden.update(frozenset((a, b)) for a in words for b in words if a != b)
                continue
            if "=>" in line:
                left, right = line.split("=>", 1)
                sources = [s.strip() for s in left.split(",") if s.strip()]
                targets = [s.strip() for s in right.split(",") if s.strip()]
            else:
                sources = targets = [s.strip() for s in line.split(",") if s.strip()]
            for source in sources:
                key = _key(source)
                if not key:
                    continue
                alternatives = table.setdefault(key, [])
                for target in targets:
                    if _key(target) != key and target not in alternatives:
                        alternatives.append(target)
                if "=>" in line and not alternatives:
                    del table[key]
        return cls(table, frozenset(forbidden))

    def expand(self, words: tuple[str, ...]) -> list[str]:
        """Other texts to search for *words* (segment keys), or []."""
        return self.table.get(words, [])

    def for_text(self, text: str) -> list[str]:
        """Other texts to search for *text* as typed."""
        return self.expand(_key(text))

    def __len__(self) -> int:
        return len(self.table)


class SynonymsFile:
    """A synonyms file that is parsed again whenever it changes on disk."""

    def __init__(self, path: Path | str | None):
        self.path = Path(path) if path else None
        self._stamp: tuple[int, int] | None = None
        self._synonyms = Synonyms()
        self._lock = threading.Lock()

    def get(self) -> Synonyms:
        if self.path is None:
            return self._synonyms
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                text = ""
                if stamp is not None:
                    try:
                        text = self.path.read_text(encoding="utf-8-sig")
                    except (OSError, UnicodeDecodeError):
                        text = ""
                self._synonyms = Synonyms.parse(text)
            return self._synonyms


@functools.cache
def loanwords() -> Synonyms:
    """The built-in table of katakana loanwords and their English words
    (``search/loanwords.txt``)."""
    text = resources.files(__package__).joinpath("loanwords.txt").read_text("utf-8")
    return Synonyms.parse(text)
