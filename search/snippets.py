"""Highlighted snippets from stored character positions.

Match positions come from the body's postings (indexed with ``chars=True``)
and, for titles, from positions stored with the hit, so no text is analyzed
again at query time. Word and bigram
matches are merged, which marks 新幹線 whole inside 東海道新幹線. Output is
HTML-escaped text in which only ``<mark>`` is markup.
"""

from __future__ import annotations

from html import escape

FRAGMENT_CHARS = 120
MAX_FRAGMENTS = 2
_SENTENCE_END = "。．！？!?\n"
_CLAUSE_END = "、，,;；:："


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort and merge overlapping or touching spans."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def mark(text: str, spans: list[tuple[int, int]]) -> str:
    """Escape *text* and wrap each span in ``<mark>``."""
    out: list[str] = []
    cursor = 0
    for start, end in merge_spans(spans):
        start, end = max(start, cursor), min(end, len(text))
        if start >= end:
            continue
        out.append(escape(text[cursor:start], quote=False))
        out.append("<mark>" + escape(text[start:end], quote=False) + "</mark>")
        cursor = end
    out.append(escape(text[cursor:], quote=False))
    return "".join(out)


def _boundary_before(text: str, pos: int, limit: int) -> int:
    """Start of the sentence (or clause) containing *pos*, at most *limit* back."""
    lo = max(0, pos - limit)
    for marks in (_SENTENCE_END, _CLAUSE_END):
        best = -1
        for i in range(pos - 1, lo - 1, -1):
            if text[i] in marks:
                best = i + 1
                break
        if best != -1:
            return best
    return lo


def _boundary_after(text: str, pos: int, limit: int) -> int:
    hi = min(len(text), pos + limit)
    for marks in (_SENTENCE_END, _CLAUSE_END):
        for i in range(pos, hi):
            if text[i] in marks:
                return i + 1
    return hi


def _window(text: str, spans: list[tuple[int, int]], size: int) -> tuple[int, int]:
    """A window of about *size* characters around the best cluster of spans."""
    best_start, best_count = spans[0][0], 0
    j = 0
    for i, (start, _) in enumerate(spans):
        j = max(j, i)
        while j + 1 < len(spans) and spans[j + 1][1] - start <= size * 0.8:
            j += 1
        if j - i + 1 > best_count:
            best_start, best_count = start, j - i + 1
    lo = _boundary_before(text, best_start, size // 3)
    hi = _boundary_after(text, max(best_start + size * 2 // 3, lo + size // 2), size // 3)
    hi = min(hi, lo + size + size // 3)
    return lo, max(hi, min(len(text), best_start + 1))


def snippet(text: str, spans: list[tuple[int, int]], size: int = FRAGMENT_CHARS) -> str:
    """One or two fragments of about *size* characters around *spans*."""
    if not text:
        return ""
    spans = [s for s in merge_spans(spans) if s[0] < len(text)]
    if not spans:
        end = _boundary_after(text, min(len(text), size), size // 3)
        return _trim(text, 0, min(end, size + size // 3))
    fragments: list[tuple[int, int]] = []
    remaining = spans
    while remaining and len(fragments) < MAX_FRAGMENTS:
        lo, hi = _window(text, remaining, size)
        fragments.append((lo, hi))
        remaining = [s for s in remaining if s[1] <= lo or s[0] >= hi]
        if sum(h - lo_ for lo_, h in fragments) >= size * 1.5:
            break
    fragments.sort()
    parts = []
    for lo, hi in fragments:
        inside = [(max(s, lo) - lo, min(e, hi) - lo) for s, e in spans if s < hi and e > lo]
        parts.append(_trim(text, lo, hi, inside))
    return " … ".join(parts)


def _trim(text: str, lo: int, hi: int, spans: list[tuple[int, int]] | None = None) -> str:
    piece = text[lo:hi]
    body = mark(piece, spans or [])
    stripped = body.strip()
    prefix = "…" if lo > 0 and text[lo - 1] not in _SENTENCE_END else ""
    suffix = "…" if hi < len(text) and text[hi - 1] not in _SENTENCE_END else ""
    return prefix + " ".join(stripped.split()) + suffix
