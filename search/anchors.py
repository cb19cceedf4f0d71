"""Anchor text: what other posts say next to a mention of a post.

A post that mentions ``stat(2)`` often says in a few words what it is for
("プロセスは getpid(2) を使って自分の PID を取得できる"). Those words, gathered
from every other post, describe the mentioned post the way a reader would,
and often in other words than the post itself uses: the known-item signal
of web search's link text.

At analysis time each post records its mentions (:func:`mentions_of`, from
the body words already analyzed, so no extra Janome call). After a build
the mentions of every live post are resolved against the names in the
titles (``stat, fstat, lstat(2) — ...``) and the words are written per
target doc into the version folder (:func:`write_anchors`); the query side
reads them once per version (:func:`read_anchors`).
"""

from __future__ import annotations

import bisect
import logging
import pickle
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analysis import Term

log = logging.getLogger(__name__)

ANCHORS_FILE = "anchors.pickle"
# Words within this many characters of a mention, in the same sentence.
ANCHOR_WINDOW = 40
# A sentence naming this many pages or more is a list ("関連項目"), not a description.
MAX_MENTIONS_PER_SENTENCE = 3
# Contexts with fewer Japanese characters than this say nothing about the page.
MIN_CONTEXT_JAPANESE = 4
MAX_MENTIONS_PER_POST = 500

# A manual page reference: name(section).
_MENTION = re.compile(
    r"(?<![A-Za-z0-9_.\-+])([A-Za-z0-9_][A-Za-z0-9_.\-+]{0,63})\s?\((\d[a-z]{0,8})\)"
)
_SENTENCE = re.compile(r"[^。\n]+")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# The page names of a title: "stat, fstat, lstat(2) — システムコール".
_TITLE_NAMES = re.compile(r"^(.*?)\((\w+)\)")


def mentions_of(body: str, body_terms: list[Term]) -> list[tuple[str, str, list[str]]]:
    """``(name, section, words)`` for each page reference in *body*: the
    words of *body_terms* (its analyzed words, offsets into *body*) around it."""
    if "(" not in body:
        return []
    starts = [t.start for t in body_terms]
    out: list[tuple[str, str, list[str]]] = []
    for sentence in _SENTENCE.finditer(body):
        found = list(_MENTION.finditer(sentence.group()))
        if not found or len(found) >= MAX_MENTIONS_PER_SENTENCE:
            continue
        base = sentence.start()
        for m in found:
            ms, me = base + m.start(), base + m.end()
            lo, hi = max(base, ms - ANCHOR_WINDOW), min(sentence.end(), me + ANCHOR_WINDOW)
            if len(_JAPANESE.findall(body, lo, ms)) + len(_JAPANESE.findall(body, me, hi)) < (
                MIN_CONTEXT_JAPANESE
            ):
                continue
            i = bisect.bisect_left(starts, lo)
            words = []
            while i < len(body_terms) and body_terms[i].start < hi:
                t = body_terms[i]
                if t.end <= hi and (t.end <= ms or t.start >= me):
                    words.append(t.text)
                i += 1
            if words:
                out.append((m.group(1).lower(), m.group(2).lower(), words))
            if len(out) >= MAX_MENTIONS_PER_POST:
                return out
    return out


def encode_mentions(mentions: list[tuple[str, str, list[str]]]) -> bytes:
    """Mentions as one column value, a line each."""
    lines = (" ".join([name, section, *words]) for name, section, words in mentions)
    return "\n".join(lines).encode("utf-8")


def decode_mentions(value: bytes) -> list[tuple[str, str, list[str]]]:
    out: list[tuple[str, str, list[str]]] = []
    for line in value.decode("utf-8").split("\n") if value else ():
        parts = line.split(" ")
        if len(parts) >= 3:
            out.append((parts[0], parts[1], parts[2:]))
    return out


def title_names(title: str) -> tuple[list[str], str] | None:
    """The page names and the section a title gives, if it is a page title."""
    m = _TITLE_NAMES.match(title or "")
    if not m:
        return None
    names = [n.strip().lower() for n in m.group(1).split(",") if n.strip()]
    return (names, m.group(2).lower()) if names else None


def encode_page_names(title: str) -> bytes:
    """The pages a title names, as a column value (empty when it names none)."""
    named = title_names(title)
    return "\t".join([named[1], *named[0]]).encode("utf-8") if named else b""


def decode_page_names(value: bytes) -> tuple[list[str], str] | None:
    if not value:
        return None
    section, *names = value.decode("utf-8").split("\t")
    return names, section


@dataclass
class Anchors:
    """Anchor words per doc of one version, as postings."""

    postings: dict[str, tuple[np.ndarray, np.ndarray]]  # word -> (docs int32, tf float32)
    lengths: np.ndarray  # float32, anchor words per doc

    @property
    def avg_length(self) -> float:
        has = self.lengths[self.lengths > 0]
        return float(has.mean()) if len(has) else 1.0


def collect_anchors(docs: Iterable[tuple[int, tuple[list[str], str] | None, list]],
                    size: int) -> Anchors:  # fmt: skip
    """Anchors from ``(docnum, page names, mentions)`` of every live doc, the
    page names being what :func:`title_names` gives for its title."""
    docs = list(docs)
    targets: dict[tuple[str, str], set[int]] = defaultdict(set)
    for d, named, _ in docs:
        if named:
            for name in named[0]:
                targets[(name, named[1])].add(d)
    counts: dict[int, Counter] = defaultdict(Counter)
    for d, _, mentions in docs:
        for name, section, words in mentions or ():
            for target in targets.get((name, section), ()):
                if target != d:  # a page mentioning itself says nothing new
                    counts[target].update(words)
    by_word: dict[str, list[tuple[int, int]]] = defaultdict(list)
    lengths = np.zeros(size, dtype=np.float32)
    for target in sorted(counts):
        for word, n in counts[target].items():
            by_word[word].append((target, n))
        lengths[target] = sum(counts[target].values())
    postings = {
        w: (np.array([d for d, _ in ps], dtype=np.int32), np.array([n for _, n in ps], np.float32))
        for w, ps in by_word.items()
    }
    return Anchors(postings, lengths)


def write_anchors(reader, version_path: Path) -> None:
    """Resolve the mentions of every live doc of *reader* into the version's anchor file.

    Mentions and page names are columns: reading them for every doc costs
    milliseconds, where the stored fields would decompress every body.
    """
    docs = []
    # Per segment: a segment without the column reads as empty values.
    for leaf, base in reader.leaf_readers() if reader.doc_count_all() else ():
        mentions = leaf.column_reader("mentions", translate=False)
        pages = leaf.column_reader("page_names", translate=False)
        docs.extend(
            (base + d, decode_page_names(pages[d]), decode_mentions(mentions[d]))
            for d in leaf.all_doc_ids()
        )
    anchors = collect_anchors(docs, reader.doc_count_all())
    data = {"postings": anchors.postings, "lengths": anchors.lengths}
    (version_path / ANCHORS_FILE).write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))


def read_anchors(version_path: Path | None, size: int) -> Anchors | None:
    """The version's anchors; None for a version without them, and for a
    damaged file, which is logged: ranking then goes without anchor words
    rather than the version failing to open."""
    if version_path is None:
        return None
    path = Path(version_path) / ANCHORS_FILE
    try:
        data = pickle.loads(path.read_bytes())
        postings, lengths = data["postings"], data["lengths"]
        if len(lengths) != size:
            raise ValueError(f"{len(lengths)} documents, the index has {size}")
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - any damage: serve without anchors
        log.warning("%s: cannot read anchor words, ranking without them (%s)", path, exc)
        return None
    return Anchors(postings, lengths)
