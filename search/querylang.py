"""The forgiving query language.

``新幹線 京都``, ``"東海道 新幹線"`` or ``「東海道 新幹線」`` (a phrase),
``京都 OR 大阪``, ``-広告`` (exclude), ``+必須`` (required),
``tag:Python``, ``category:旅行``, ``title:京都``.

Parsing never fails: whatever is not syntax is searched as text, so an
unbalanced quote or a stray ``OR`` is just a word.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_QUALIFIERS = {
    "tag": "tag",
    "tags": "tag",
    "category": "category",
    "categories": "category",
    "title": "title",
}
_PHRASE_OPEN = {'"': '"', "「": "」", "『": "』", "“": "”"}


@dataclass
class Clause:
    """One query word or phrase and how it must match."""

    text: str
    phrase: bool = False
    required: bool = False
    excluded: bool = False
    field: str | None = None  # None, "title", "tag" or "category"


@dataclass
class ParsedQuery:
    """Clauses grouped by OR: each group matches if any of its clauses does."""

    groups: list[list[Clause]] = field(default_factory=list)

    @property
    def clauses(self) -> list[Clause]:
        return [c for g in self.groups for c in g]

    def is_empty(self) -> bool:
        return not self.groups


def _lex(text: str) -> list[tuple[str, str]]:
    """Split into ("word"|"phrase", text) items, each word with its prefix."""
    items: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        prefix = ""
        j = i
        while j < n and text[j] in "+-" and j - i < 1:
            prefix += text[j]
            j += 1
        # A qualifier directly followed by a phrase: title:"..."
        qm = re.match(r"([A-Za-z]+):", text[j:])
        qual = ""
        if qm and qm.group(1).lower() in _QUALIFIERS:
            qual = qm.group(0)
        k = j + len(qual)
        if k < n and text[k] in _PHRASE_OPEN:
            close = text.find(_PHRASE_OPEN[text[k]], k + 1)
            if close != -1:
                items.append(("phrase", prefix + qual + text[k + 1 : close]))
                i = close + 1
                continue
        end = j
        while end < n and not text[end].isspace():
            end += 1
        word = text[i:end]
        items.append(("word", word))
        i = end
    return items


def parse_query(text: str) -> ParsedQuery:
    """Parse a user's query; never raises."""
    text = unicodedata.normalize("NFKC", text or "")
    parsed = ParsedQuery()
    pending_or = False
    for kind, raw in _lex(text):
        if kind == "word" and raw == "OR":
            pending_or = bool(parsed.groups)
            continue
        clause = _clause(kind, raw)
        if clause is None:
            continue
        if pending_or and not clause.excluded and not parsed.groups[-1][0].excluded:
            parsed.groups[-1].append(clause)
        else:
            parsed.groups.append([clause])
        pending_or = False
    return parsed


def _clause(kind: str, raw: str) -> Clause | None:
    required = excluded = False
    if len(raw) > 1 and raw[0] == "-":
        excluded, raw = True, raw[1:]
    elif len(raw) > 1 and raw[0] == "+":
        required, raw = True, raw[1:]
    field_name = None
    m = re.match(r"([A-Za-z]+):(.+)$", raw, re.S)
    if m and m.group(1).lower() in _QUALIFIERS:
        field_name, raw = _QUALIFIERS[m.group(1).lower()], m.group(2)
    raw = raw.strip()
    if not raw:
        return None
    return Clause(
        text=raw,
        phrase=kind == "phrase",
        required=required or kind == "phrase",
        excluded=excluded,
        field=field_name,
    )
