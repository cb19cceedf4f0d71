"""How a query matches and scores documents.

A query is compiled into *units*, one per segment (a word, or words that
stand together in the query: see :func:`search.analysis.query_segments`) or
quoted phrase. A unit matches a post if its word is in a word field, or if
its characters stand together in the post: its bigrams (or a compound's
words) found in the index, then the post's text checked for the sequence.

Evaluation works on NumPy arrays from the version's :class:`DocTable`: each
unit yields a match mask and a BM25 score vector, with per-field weights
applied at query time (title and tags above body, code below, bigram
matches below word matches). Whoosh is not asked to score: its scorer walks
every posting in Python, which costs tens of milliseconds a query.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from whoosh import query as wq

from .analysis import (
    Segment,
    bigram_terms,
    fold_kana,
    normalize,
    query_segments,
    sequence_forms,
    sequence_text,
    word_terms,
)
from .doctable import DocTable, Postings
from .posts import normalize_label
from .querylang import Clause, parse_query
from .synonyms import Synonyms, segment_key

WORD_FIELDS = ("title", "headings", "lead", "body", "code", "tags_text", "categories_text")
TITLE_WORD_FIELDS = ("title",)
NGRAM_FIELDS = ("title_ngram", "body_ngram")
TITLE_NGRAM_FIELDS = ("title_ngram",)

# Ranking, as measured on known-item queries (bench/relevance.py):
#
#   score = words * coordination ** COORDINATION_POWER + bigrams
#
# "words" is BM25 per query word and field, weighted per field below;
# "coordination" is the share of query words a post contains; "bigrams" is
# BM25 of every character bigram of the query, each on its own, which finds
# posts that say the same thing with other word boundaries or compounds.
# Queries of up to STRICT_AND_WORDS words rank posts with every word first.
#
# Which posts match at all is stricter than how they rank: a post needs
# minimum_should_match() of the words (all of up to ALL_WORDS_UP_TO, then
# SHOULD_MATCH_SHARE), or as many of its rare words (in at most RARE_SHARE
# of the posts), and a word counts only as itself (its index word, a
# synonym or loanword, or its characters standing together). Queries of
# several words are relaxed when nothing matches; the evaluation says so.
# Measured on dev.tsv against "any word": desc R@10 0.900 -> 0.878, while
# no negative topic finds a post (Evaluator.evaluate).
FIELD_WEIGHTS = {
    # Japanese words in titles weigh little: on the measured corpus a title
    # names the subject in ASCII ("grep(1)"), and its Japanese part is a
    # category shared by hundreds of posts. ASCII names in titles weigh a lot.
    "title": 0.3,
    "title_ngram": 0.5,
    "lead": 1.0,
    "tags_text": 0.5,
    "categories_text": 0.5,
    "headings": 0.2,
    "body": 1.0,
    "body_ngram": 0.0,  # bigrams are scored one by one, see BIGRAM_WEIGHTS
    "code": 0.1,
}
BIGRAM_WEIGHTS = {"body_ngram": 0.5, "lead_ngram": 0.5}
ASCII_TITLE_WEIGHT = 4.0  # "grep" in a title names the post's subject
PREFIX_WEIGHT = 0.5  # a one-character query matched as a bigram prefix
COORDINATION_POWER = 1.0
STRICT_AND_WORDS = 2
ALL_WORDS_UP_TO = 2
SHOULD_MATCH_SHARE = 0.67
RELAX_SPLIT_PARTS = 3
RARE_SHARE = 0.02
# Fields whose word matches count in full even when other words are missing.
UNCOORDINATED_FIELDS = frozenset(["lead"])
BM25_K1 = 1.2
BM25_B = 0.75
# Anchor words (what other posts say next to a mention of a post, see
# search/anchors.py) score like body words, for posts whose anchor words
# have at least ANCHOR_MIN_WORDS of the query's words: one shared word is
# mostly chance (ファイル), two agreeing words describe the post.
ANCHOR_WEIGHT = 1.0
ANCHOR_MIN_WORDS = 2
# Built-in loanwords (search/loanwords.txt: ソケット and socket) are searched
# softly: a post with only the other form gets LOANWORD_WEIGHT of that
# form's score and of a word's coordination credit (see Unit.weight). As plain
# synonyms (full weight, counted as the word) the same table cost desc
# queries MRR 0.702 -> 0.679 and katakana 0.911 -> 0.814.
LOANWORD_WEIGHT = 0.2
# Names learned from the blog in the other script (search/names.py:
# エヌビディア for NVIDIA) score at NAME_WEIGHT of the typed form and count as
# the word: a post that writes NVIDIA has エヌビディア. Measured on aiblog
# xscript queries (bench/relevance.py), MRR at 0.5 / 0.8 / 1.0: 0.682 / 0.712
# / 0.725 counted, 0.645 / 0.670 soft like loanwords; 0.8 keeps the typed
# form ahead. (Before names were one word, see _expanded; now 0.820.)
NAME_WEIGHT = 0.8


# --- compiling a query --------------------------------------------------------


class Expander(Protocol):
    """A table of other texts to search for a word (given as segment keys):
    :class:`~search.synonyms.Synonyms`, :class:`~search.names.NameTable`."""

    def expand(self, words: tuple[str, ...]) -> list[str]: ...


class Names(Expander, Protocol):
    """Learned names (:class:`~search.names.NameTable`): :meth:`expand` gives
    the other script's spellings of a name, ``soft`` the spellings that are
    not names (searched like loanwords)."""

    @property
    def soft(self) -> Expander: ...


# One required term of a match: (field, text, text is a prefix).
TermRef = tuple[str, str, bool]


@dataclass
class Unit:
    """One searchable word: how it matches, how it scores, what it highlights.

    Matching is evaluated on posting sets (cheap set operations, cached per
    index version) from ``match`` and ``sequence_match``, lists of
    alternatives each of which needs all its terms. The docs a conjunction
    of ``sequence_match`` finds are then checked for ``needles`` in their
    text (:meth:`DocTable.containing`): a substring test, where checking
    bigram positions in Python cost ~100 µs a document. User phrases
    (``"…"``) are checked with Whoosh's phrase query, or for their needles.
    """

    query: wq.Query
    # Highlighting: (field, terms) sequences that must occur at consecutive
    # positions, so that the bigrams of データベース do not mark every デー.
    terms: list[tuple[str, tuple[str, ...]]]
    prefixes: list[tuple[str, str]] = field(default_factory=list)
    match: list[list[TermRef]] = field(default_factory=list)
    # Alternatives like ``match`` whose docs must also contain one of
    # ``needles`` (bigrams of a word, the words of a compound).
    sequence_match: list[list[TermRef]] = field(default_factory=list)
    children: list[Unit] = field(default_factory=list)
    op: str = "or"  # how children combine
    exact: bool = False  # match with the Whoosh query itself (phrases)
    ascii: bool = False  # an ASCII name (command, identifier): strong in titles
    # Below 1, a soft alternative (a loanword): a post it matches is found,
    # with *weight* times its score and *weight* of a word's coordination
    # credit, but it is not a post with the word (the all-words tier, +word).
    weight: float = 1.0
    # Whether a post this matches has the word (learned names: a post that
    # writes NVIDIA has エヌビディア), though it may score at a lower *weight*.
    counts: bool = True
    # Character sequences (search.analysis.sequence_forms) one of which a doc
    # matched through several terms (bigrams, a compound's words) must
    # contain: the terms standing together, not scattered over the post.
    needles: tuple[str, ...] = ()
    label: str = ""  # the query text it stands for, as typed
    # Other texts that count as the word (synonyms, names in the other script).
    alternatives: list[str] = field(default_factory=list)
    # The word without the names learned across scripts: when no matched post
    # has it, the posts were found only as another spelling, and the
    # evaluation says so (Evaluation.respelled).
    typed: Unit | None = None
    # A compound's words as units of their own: how a longer query counts
    # and ranks them, and a relaxed search of a long compound.
    parts: list[Unit] = field(default_factory=list)
    # A predicate (取得する, 得る: see Segment.predicate) counts for ranking
    # only, unless the query has nothing else.
    predicate: bool = False


def _combine(units: list[Unit], op: str) -> Unit:
    if len(units) == 1:
        return units[0]
    query = wq.And([u.query for u in units]) if op == "and" else wq.Or([u.query for u in units])
    return Unit(
        query,
        [t for u in units for t in u.terms],
        [p for u in units for p in u.prefixes],
        children=units,
        op=op,
        label=" ".join(u.label for u in units if u.label),
    )


def bigram_unit(surface: str, fields: tuple[str, ...]) -> Unit | None:
    grams = [t.text for t in bigram_terms(surface)]
    if not grams:
        return None
    if len(grams) == 1:
        # One character: it starts a bigram, or ends a run.
        g = grams[0]
        subs: list[wq.Query] = []
        for f in fields:
            subs += [wq.Term(f, g), wq.Prefix(f, g)]
        return Unit(
            wq.Or(subs),
            [(f, (g,)) for f in fields],
            [(f, g) for f in fields],
            match=[[(f, g, p)] for f in fields for p in (False, True)],
        )
    # Each run's trailing single character is covered by the bigrams.
    pairs = list(dict.fromkeys(g for g in grams if len(g) == 2))
    if not pairs:
        # Only one-character runs (の、は): each character, all of them.
        units = [bigram_unit(g, fields) for g in dict.fromkeys(grams)]
        return _combine([u for u in units if u is not None], "and")
    ordered = [g for g in grams if len(g) == 2]
    return Unit(
        wq.Or([wq.And([wq.Term(f, g) for g in pairs]) for f in fields]),
        [(f, tuple(ordered)) for f in fields],
        match=[[(f, g, False) for g in pairs] for f in fields],
    )


def _sequence_searchable(surface: str) -> bool:
    """Whether a word may match as characters inside other words: not a
    short hiragana word (だし in ただし, かい in いかい are other words)."""
    text = normalize(surface).text
    return len(text) > 2 or not _HIRAGANA.match(text)


_HIRAGANA = re.compile(r"^[\u3041-\u3096]+$")
_KANA = re.compile(r"^[\u3041-\u3096\u30a1-\u30fa\u30fc]+$")


def _segment_unit(
    segment: Segment, surface: str, clause: Clause, anywhere: bool = False
) -> Unit:
    """How one query segment matches: as its index word, or as its
    characters standing together (bigrams, or the words of a compound, in
    docs whose text has the segment's character sequence)."""
    words = TITLE_WORD_FIELDS if clause.field == "title" else WORD_FIELDS
    grams = TITLE_NGRAM_FIELDS if clause.field == "title" else NGRAM_FIELDS
    subs: list[wq.Query] = []
    hl: list[tuple[str, tuple[str, ...]]] = []
    match: list[list[TermRef]] = []
    sequence: list[list[TermRef]] = []
    pref: list[tuple[str, str]] = []
    if segment.word is not None:
        subs += [wq.Term(f, segment.word) for f in words]
        hl += [(f, (segment.word,)) for f in words]
        match += [[(f, segment.word, False)] for f in words]
    parts = list(dict.fromkeys(segment.parts))
    if segment.ascii:
        # key_create finds pthread_key_create through its indexed parts.
        parts = list(dict.fromkeys(t.text for t in word_terms(surface, mode="index")[1:]))
    if parts and parts != [segment.word]:
        # A compound's words, where they stand together: their word scores.
        subs += [wq.And([wq.Term(f, p) for p in parts]) for f in words]
        sequence += [[(f, p, False) for p in parts] for f in words]
        if len(segment.parts) > 1 or segment.ascii:
            hl += [(f, tuple(segment.parts if not segment.ascii else parts)) for f in words]
    if not segment.ascii and (anywhere or _sequence_searchable(surface)):
        bigrams = bigram_unit(segment.text, grams)
        if bigrams is not None:
            subs.append(bigrams.query)
            hl += bigrams.terms
            pref = bigrams.prefixes
            # One bigram is the whole of a two-character word; of a longer
            # segment (生成AI) it is only a piece, to be looked for.
            whole = len(segment.text) <= 2
            for refs in bigrams.match:
                (sequence if len(refs) > 1 or not whole else match).append(refs)
    return Unit(
        wq.Or(subs), hl, pref, match=match, sequence_match=sequence, ascii=segment.ascii,
        needles=sequence_forms(surface), label=surface,
    )  # fmt: skip


def _part_units(segment: Segment, clause: Clause) -> list[Unit]:
    """The words of a compound segment as units of their own (量子コンピュータ
    as 量子 and コンピュータ, プロセス内 as プロセス); none where Janome's
    pieces are not words (ドローン as ド + ローン)."""
    parts = list(dict.fromkeys(segment.parts))
    if segment.ascii or parts == [segment.word] or not parts:
        return []
    if any(len(p) == 1 and _KANA.match(p) for p in parts):
        return []
    units = []
    for part in parts:
        piece = Segment(part, [part], part, segment.start, segment.end, ascii=part.isascii())
        units.append(_segment_unit(piece, part, clause))
    return units


def _word_units(
    clause: Clause,
    max_words: int,
    synonyms: Synonyms | None = None,
    loanwords: Synonyms | None = None,
    names: Names | None = None,
) -> list[Unit]:
    """The units of a clause: one per segment (a word, or words that stand
    together, see :func:`~search.analysis.query_segments`), or one phrase."""
    # (table, weight, counts as the word, a name: one word, not its pieces)
    tables = (
        (synonyms, 1.0, True, False),
        (loanwords, LOANWORD_WEIGHT, False, False),
        (names, NAME_WEIGHT, True, True),
        (names.soft if names else None, LOANWORD_WEIGHT, False, False),
    )
    if clause.phrase:
        return [_phrase_unit(clause)]
    segments = query_segments(clause.text)[:max_words]
    if not segments:
        # Only particles or stop words ("の", "する"): their characters.
        text = fold_kana(sequence_text(clause.text)).strip()
        if not text:
            return []
        only = Segment(text, [], None, 0, len(clause.text))
        return [_segment_unit(only, clause.text, clause, anywhere=True)]
    units: list[Unit] = []
    for seg in segments:
        surface = clause.text[seg.start : seg.end]
        unit = _segment_unit(seg, surface, clause)
        unit.parts = _part_units(seg, clause)
        unit = _expanded(unit, (segment_key(seg),), tables, clause, max_words)
        unit.predicate = seg.predicate
        units.append(unit)
    whole = tuple(segment_key(s) for s in segments)
    if len(units) > 1 and any(table and table.expand(whole) for table, *_ in tables):
        # An entry for the whole clause, of several segments.
        combined = _combine(units, "and")
        combined.label = clause.text
        units = [_expanded(combined, whole, tables, clause, max_words)]
    return units


def _phrase_unit(clause: Clause) -> Unit:
    """A quoted phrase: its words in order (Whoosh checks positions), or its
    characters in order, with or without the spaces between them, so that
    "東海道 新幹線" finds 東海道新幹線 (one word to Janome)."""
    words = TITLE_WORD_FIELDS if clause.field == "title" else WORD_FIELDS
    grams = TITLE_NGRAM_FIELDS if clause.field == "title" else NGRAM_FIELDS
    texts = [t.text for t in word_terms(clause.text, mode="query")]
    spaced = sequence_text(clause.text).strip()
    joined = _JOINABLE_SPACE.sub("", spaced)
    subs: list[wq.Query] = [
        wq.Phrase(f, texts) if len(texts) > 1 else wq.Term(f, texts[0]) for f in words if texts
    ]
    hl = [(f, tuple(texts)) for f in words if texts]
    match = [[(f, t, False) for t in dict.fromkeys(texts)] for f in words if texts]
    pref: list[tuple[str, str]] = []
    bigrams = bigram_unit(joined, grams)
    if bigrams is not None:
        hl += bigrams.terms
        match += bigrams.match
        pref = bigrams.prefixes
    needles = tuple(dict.fromkeys(sequence_forms(spaced) + sequence_forms(joined)))
    return Unit(wq.Or(subs) if subs else wq.NullQuery, hl, pref, match=match, exact=True,
                needles=needles, label=clause.text)  # fmt: skip


# A space between two Japanese characters, which a phrase may also be without.
_JOINABLE_SPACE = re.compile(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])")


@dataclass
class Compiled:
    positive: list[Unit]  # each must match for the "all words" tier
    required: list[Unit]
    excluded: list[Unit]
    tag_filters: list[str]
    category_filters: list[str]
    excluded_tags: list[str] = field(default_factory=list)
    excluded_categories: list[str] = field(default_factory=list)
    bigrams: list[str] = field(default_factory=list)  # distinct, for the bigram score

    @property
    def has_text(self) -> bool:
        return bool(self.positive or self.required)

    def is_empty(self) -> bool:
        """Nothing searchable was left (only punctuation, say)."""
        return not (
            self.has_text or self.excluded or self.tag_filters or self.category_filters
            or self.excluded_tags or self.excluded_categories
        )  # fmt: skip

    def named_labels(self) -> list[str]:
        """What the query names if it is the name of a tag or category (旅行,
        エヌビディア for the tag NVIDIA, Claude Code): its one word and that
        word's counted alternatives, or its words together. A tier above the
        rest for every query word that is a tag cost dev.tsv's katakana
        queries MRR 0.911 -> 0.828 (man pages are tagged with topic words)."""
        units = self.positive + self.required
        if len(units) == 1:
            return [text for text in (units[0].label, *units[0].alternatives) if text]
        return [" ".join(u.label for u in units)] if units else []

    def highlight_groups(self) -> list[tuple[list, list[tuple[str, str]]]]:
        """Per unit: its (field, term sequence) patterns and its prefixes."""
        return [(u.terms, u.prefixes) for u in self.positive + self.required]


def _expanded(unit: Unit, key: tuple[str, ...], tables, clause: Clause, max_words: int) -> Unit:
    """*unit* or the alternatives that each ``(table, weight)`` of *tables*
    has for the index words *key*; where learned names were added, the unit
    without them is its ``typed``."""
    original, others, named = unit, [], False
    together = None
    for table, weight, counts, name in tables:
        if table and (alternatives := table.expand(key)):
            parts = unit.parts
            unit = _with_alternatives(unit, alternatives, clause, max_words, weight, counts)
            if not name:
                others.append((alternatives, weight, counts))
                continue
            named = True
            if parts and any(" " not in a for a in alternatives):
                # A katakana word that is one name (アンソロピック: anthropic) is
                # one word, not Janome's pieces (アンソロ, ピック) counted one by
                # one; its pieces still count when they stand apart, together,
                # unless one is too short to mean much apart (ai of オープンAI).
                if all(len(p.label) >= 3 for p in parts):
                    together = _combine(parts, "and")
                    unit.children.append(together)
                unit.parts = []
    if named:
        # The same expansions without the names: built only when there were names.
        typed = original if together is None else _combine([original, together], "or")
        for alternatives, weight, counts in others:
            typed = _with_alternatives(typed, alternatives, clause, max_words, weight, counts)
        unit.typed = typed
    return unit


def _with_alternatives(
    unit: Unit,
    alternatives: list[str],
    clause: Clause,
    max_words: int,
    weight: float = 1.0,
    counts: bool = True,
) -> Unit:
    """*unit*, or any of the *alternatives* (each searched as its own words,
    at *weight*: see :attr:`Unit.weight`)."""
    options = [unit]
    for text in alternatives:
        alt = _word_units(Clause(text=text, field=clause.field), max_words)
        if alt:
            option = _combine(alt, "and")
            if len(alt) > 1:  # an entry of several words: they stand together
                option.needles = sequence_forms(text.strip())
            option.weight, option.counts = weight, counts
            options.append(option)
    if len(options) == 1:
        return unit
    combined = _combine(options, "or")
    combined.label, combined.parts = unit.label, unit.parts
    combined.alternatives = unit.alternatives + (alternatives if counts else [])
    return combined


def scoring_bigrams(text: str) -> list[str]:
    """The bigrams of *text* for the bigram score: all but those wholly inside
    particles and endings (の, から, する), which nearly every post has.

    A bigram that joins a word to a particle (ルノ of ファイルの) stays: it
    scores posts that use the word the way the query does.
    """
    grams = [t for t in bigram_terms(text) if len(t.text) == 2]
    content: set[int] = set()
    for segment in query_segments(text):
        content.update(range(segment.start, segment.end))
    kept = [t.text for t in grams if t.start in content or t.end - 1 in content]
    # Only particles (a query of の or から): their bigrams are all there is.
    return kept or [t.text for t in grams]


def compile_query(
    text: str,
    max_words: int = 32,
    synonyms: Synonyms | None = None,
    loanwords: Synonyms | None = None,
    names: Names | None = None,
) -> Compiled:
    """Compile the user's query text; never raises. *synonyms* (the blog
    owner's) count as the word itself; *loanwords* and *names* (the other
    script's spellings learned from the blog) are searched softly."""
    parsed = parse_query(text)
    comp = Compiled([], [], [], [], [])
    bigrams: dict[str, None] = {}
    for group in parsed.groups:
        alternatives: list[Unit] = []
        for clause in group:
            if clause.field in ("tag", "category"):
                if clause.excluded:
                    target = (
                        comp.excluded_tags if clause.field == "tag" else (comp.excluded_categories)
                    )
                else:
                    target = comp.tag_filters if clause.field == "tag" else comp.category_filters
                target.append(normalize_label(clause.text))
                continue
            units = _word_units(clause, max_words, synonyms, loanwords, names)
            if not units:
                continue
            if not clause.excluded:
                bigrams.update((g, None) for g in scoring_bigrams(clause.text))
            if clause.excluded:
                comp.excluded += units
            elif clause.required:
                comp.required += units
            elif len(group) == 1:
                comp.positive += units
            else:
                alternatives.append(_combine(units, "and"))
        if alternatives:
            comp.positive.append(_combine(alternatives, "or"))
        if sum(len(u.terms) > 0 for u in comp.positive + comp.required) > max_words:
            break
    comp.positive = comp.positive[:max_words]
    comp.bigrams = list(bigrams)[: max_words * 4]
    return comp


def _words(units: list[Unit]) -> list[Unit]:
    """*units* with each compound as its words."""
    return [p for u in units for p in (u.parts or [u])]


def _unit_words(unit: Unit) -> set[str]:
    """The words a unit (its parts and synonyms, not its soft alternatives)
    matches in the body."""
    if unit.children:
        return set().union(*(_unit_words(c) for c in unit.children if c.counts))
    return {refs[0][1] for refs in unit.match
            if len(refs) == 1 and refs[0][0] == "body" and not refs[0][2]}  # fmt: skip


# --- evaluation ---------------------------------------------------------------


@dataclass
class Evaluation:
    """Masks and scores of a compiled query over every doc of a version."""

    matched: np.ndarray  # bool: every doc the query matches
    all_words: np.ndarray  # bool: docs matching every positive unit
    score: np.ndarray  # float64
    units_matched: np.ndarray  # float: positive units matched per doc (see unit credit)
    strict: bool = False  # rank docs with every word first
    # The match set is not the strict one: no post had enough of the words,
    # so fewer were required (see Evaluator.evaluate).
    relaxed: bool = False
    unmatched: list[str] = field(default_factory=list)  # words no post has
    matched_words: list[str] = field(default_factory=list)  # words of the matched posts
    # Words no matched post has as typed, found only as another script's
    # spelling (パイトーチ: [pytorch]): not a confident match, the result says so.
    respelled: dict[str, list[str]] = field(default_factory=dict)


def minimum_should_match(n: int) -> int:
    """How many of *n* query words a post must have: all of up to
    ALL_WORDS_UP_TO, then SHOULD_MATCH_SHARE of them (rounded down), as
    Elasticsearch's ``2<67%``. A description typed as a sentence rarely has
    every word in the post it describes."""
    if n <= ALL_WORDS_UP_TO:
        return n
    return max(ALL_WORDS_UP_TO, math.floor(n * SHOULD_MATCH_SHARE))


def bm25(tf: np.ndarray, lengths: np.ndarray, avg: float, df: int, n: int) -> np.ndarray:
    """BM25 of a term in the docs with term frequencies *tf* and field
    *lengths*, the term being in *df* of *n* docs."""
    return _bm25_normalized(tf, _length_factor(lengths, avg), df, n)


def _length_factor(lengths: np.ndarray, avg: float) -> np.ndarray:
    """BM25's per-doc length normalization (the part of the formula that
    depends on the doc, not on the term)."""
    return BM25_K1 * (1 - BM25_B + BM25_B * lengths / avg)


def _bm25_normalized(tf: np.ndarray, factor: np.ndarray, df: int, n: int) -> np.ndarray:
    """:func:`bm25` with the docs' :func:`_length_factor` given."""
    norm = tf * (BM25_K1 + 1) / (tf + factor)
    return math.log(1 + (n - df + 0.5) / (df + 0.5)) * norm


class Evaluator:
    """Evaluates compiled queries against one version's :class:`DocTable`."""

    def __init__(self, table: DocTable, searcher=None):
        self.table = table
        self.searcher = searcher  # only for exact phrase checks
        self.n_live = max(1, int(table.live.sum()))
        self._anchor_avg = table.anchors.avg_length if table.anchors is not None else 1.0
        self._length_factors: dict[str, np.ndarray] = {}

    def load(self) -> None:
        """Read every weighted field's length factors now (a version's first
        queries then pay for postings only)."""
        for field_name in {**FIELD_WEIGHTS, **BIGRAM_WEIGHTS}:
            self._factor(field_name)

    def _factor(self, field_name: str) -> np.ndarray:
        factor = self._length_factors.get(field_name)
        if factor is None:
            lengths = self.table.lengths(field_name)
            factor = _length_factor(lengths, self.table.avg_length(field_name))
            self._length_factors[field_name] = factor
        return factor

    def _bm25(self, field_name: str, postings: Postings, df: int) -> np.ndarray:
        # The length factor of every doc, computed once per field: elementwise
        # the same values, four array operations fewer per term.
        factor = self._factor(field_name)
        return _bm25_normalized(postings.tf, factor[postings.docs], df, self.n_live)

    def _conjunction(self, refs: list[TermRef]) -> Postings:
        """Docs having every term; the frequency is the rarest term's."""
        parts = [self.table.postings(f, t, p) for f, t, p in refs]
        if len(parts) == 1:
            return parts[0]
        docs = parts[0].docs
        has = np.zeros(self.table.size, dtype=bool)
        for p in parts[1:]:
            # A doc mask, not np.intersect1d: sorting both lists together
            # was most of a conjunction's time for common bigrams.
            has[p.docs] = True
            docs = docs[has[docs]]
            has[p.docs] = False
            if not len(docs):
                return Postings(docs.astype(np.int32), np.zeros(0, dtype=np.float32))
        # Each term's frequencies through a dense row, not a binary search of
        # the docs in its postings; docs are in every term's postings, so
        # the previous term's values left in the row are never read.
        row = np.zeros(self.table.size, dtype=np.float32)
        tfs = []
        for p in parts:
            row[p.docs] = p.tf
            tfs.append(row[docs])
        tf = np.min(tfs, axis=0)
        return Postings(docs.astype(np.int32), tf.astype(np.float32))

    def unit(self, unit: Unit) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(match mask, score, score not subject to coordination, credit) of
        one unit; credit is 1 where it matches and the weight of a soft
        alternative (see :attr:`Unit.weight`) where only that matches."""
        size = self.table.size
        if unit.children:
            parts = [self.unit(c) for c in unit.children]
            full = [p for p, c in zip(parts, unit.children, strict=True) if c.counts]
            masks = [m for m, _, _, _ in full]
            if unit.op == "and":
                mask = np.logical_and.reduce(masks)
                credit = np.minimum.reduce([c for _, _, _, c in parts])
            else:
                mask = np.logical_or.reduce(masks)
                credit = np.maximum.reduce([c * (1.0 if child.counts else child.weight)
                                            for (_, _, _, c), child
                                            in zip(parts, unit.children, strict=True)])  # fmt: skip
            if unit.needles:  # the words of one entry, standing together
                docs = np.flatnonzero(mask)
                mask = np.zeros(size, dtype=bool)
                mask[docs[self.table.containing(unit.needles, docs)]] = True
                credit = np.minimum(credit, mask)
            score = np.zeros(size, dtype=np.float64)
            free = np.zeros(size, dtype=np.float64)
            for (m, s, f, _), c in zip(parts, unit.children, strict=True):
                # A soft child scores where it matches; the others where all do.
                where = mask if c.counts else m
                score += c.weight * s * where
                free += c.weight * f * where
            return mask, score, free, credit
        mask = np.zeros(size, dtype=bool)
        score = np.zeros(size, dtype=np.float64)
        free = np.zeros(size, dtype=np.float64)
        checked = [(refs, True) for refs in unit.sequence_match]
        for refs, check in [(refs, False) for refs in unit.match] + checked:
            postings = self._conjunction(refs)
            if check and postings.df:
                # Bigrams (or a compound's words) count only standing together;
                # docs that have the word itself need no look.
                keep = mask[postings.docs]
                unsure = np.flatnonzero(~keep)
                keep[unsure] = self.table.containing(unit.needles, postings.docs[unsure])
                postings = Postings(postings.docs[keep], postings.tf[keep])
            if not postings.df:
                continue
            f = refs[0][0]
            if unit.ascii and f == "title":
                weight = ASCII_TITLE_WEIGHT
            else:
                weight = FIELD_WEIGHTS.get(f, 1.0) * (PREFIX_WEIGHT if refs[0][2] else 1.0)
            target = free if f in UNCOORDINATED_FIELDS else score
            target[postings.docs] += weight * self._bm25(f, postings, postings.df)
            mask[postings.docs] = True
        if unit.exact:
            # A phrase: its words in order, or its characters in order.
            exact = np.zeros(size, dtype=bool)
            if self.searcher is not None and unit.query is not wq.NullQuery:
                exact[list(unit.query.docs(self.searcher))] = True
            rest = np.flatnonzero(mask & ~exact)
            exact[rest] = self.table.containing(unit.needles, rest)
            mask &= exact
            score *= mask
            free *= mask
        mask &= self.table.live
        return mask, score, free, mask.astype(np.float64)

    def bigram_score(self, grams: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 of each query bigram on its own, summed; and how many of the
        bigrams each doc has (in any bigram field)."""
        score = np.zeros(self.table.size, dtype=np.float64)
        present = np.zeros(self.table.size, dtype=np.int32)
        for g in grams:
            has = np.zeros(self.table.size, dtype=bool)
            for f, weight in BIGRAM_WEIGHTS.items():
                postings = self.table.postings(f, g)
                if postings.df:
                    score[postings.docs] += weight * self._bm25(f, postings, postings.df)
                    has[postings.docs] = True
            present += has
        return score, present

    def anchor_score(self, units: list[Unit]) -> tuple[np.ndarray, np.ndarray] | None:
        """(docs, score): BM25 of the units' words in the posts' anchor words,
        for posts whose anchor words match ANCHOR_MIN_WORDS units (or all of
        fewer). Sparse: anchor postings are short, the doc table may be long."""
        anchors = self.table.anchors
        if anchors is None or not units:
            return None
        avg = self._anchor_avg
        found: list[np.ndarray] = []  # docs of each matching word
        scores: list[np.ndarray] = []
        unit_docs: list[np.ndarray] = []  # docs of each unit, once
        for u in units:
            n_found = len(found)
            for word in _unit_words(u):
                p = self.table.anchor_postings(word)
                if not p.df:
                    continue
                found.append(p.docs)
                scores.append(bm25(p.tf, anchors.lengths[p.docs], avg, p.df, self.n_live))
            if len(found) > n_found:
                mine = found[n_found:]
                unit_docs.append(mine[0] if len(mine) == 1 else np.unique(np.concatenate(mine)))
        if not found:
            return None
        docs, where = np.unique(np.concatenate(found), return_inverse=True)
        score = np.bincount(where, weights=np.concatenate(scores), minlength=len(docs))
        hits = np.bincount(np.searchsorted(docs, np.concatenate(unit_docs)), minlength=len(docs))
        keep = hits >= min(ANCHOR_MIN_WORDS, len(units))
        return docs[keep], ANCHOR_WEIGHT * score[keep]

    def evaluate(
        self, comp: Compiled, within: np.ndarray | None = None, judge: np.ndarray | None = None
    ) -> Evaluation:
        """Match and score *comp*, over the docs of *within* (default: all).

        The match set is the posts with :func:`minimum_should_match` of the
        words. Only when none of them is in *judge* (default: *within*) is
        the query relaxed, step by step (:meth:`_relaxations`), and the
        evaluation says so.
        """
        size = self.table.size
        base = self.table.live.copy() if within is None else self.table.live & within
        score = np.zeros(size, dtype=np.float64)
        free = np.zeros(size, dtype=np.float64)
        for u in comp.excluded:
            base &= ~self.unit(u)[0]
        if not comp.has_text:
            return Evaluation(base, base.copy(), score, np.zeros(size), False)
        for u in comp.required:
            m, s, f, _ = self.unit(u)
            base &= m
            score += s
            free += f
        units = comp.positive
        relaxed = False
        plain: dict[int, tuple] = {}  # Evaluator.unit of each unit, once

        def evaluated(u: Unit) -> tuple:
            if id(u) not in plain:
                plain[id(u)] = self.unit(u)
            return plain[id(u)]

        has: dict[int, np.ndarray] = {}  # docs with each unit, anchor words included
        matched = base.copy()
        if units:
            for step, fewer, relaxed in self._relaxations(comp.positive):  # noqa: B007
                for u in step:
                    if id(u) not in has:
                        has[id(u)] = self._with_anchors(u, evaluated(u)[3] > 0)
                counted = [u for u in step if not u.predicate] or step
                enough = self._enough([has[id(u)] for u in counted], fewer)
                if enough is None:
                    break
                matched, units = base & enough, step
                if (matched if judge is None else matched & judge).any():
                    break
            relaxed = relaxed and bool(matched.any())
        # Ranking counts words, the parts of a compound one by one: as
        # measured on known-item queries, a post with the compound's words
        # apart often is the one described (字句解析 ... ジェネレーター).
        words = _words(units)
        all_mask = matched.copy()
        units_matched = np.zeros(size, dtype=np.float64)
        for w in words:
            m, s, f, credit = evaluated(w)
            all_mask &= m
            score += s
            free += f
            units_matched += credit
        if words:
            score *= (units_matched / len(words)) ** COORDINATION_POWER
        score += free
        score += self.bigram_score(comp.bigrams)[0] * matched
        anchor = self.anchor_score(words)
        if anchor is not None:
            docs, anchor_score = anchor
            score[docs] += anchor_score * matched[docs]
        unmatched = [u.label for u in units if not (has[id(u)] & base).any()]
        found_words = [u.label for u in units if (has[id(u)] & matched).any()]
        respelled = {}
        for u in units:
            if u.typed is None or u.label not in found_words:
                continue
            if not (self._with_anchors(u.typed, evaluated(u.typed)[3] > 0) & matched).any():
                respelled[u.label] = [a for a in u.alternatives if a not in u.typed.alternatives]
        strict = 0 < len(words) <= STRICT_AND_WORDS
        return Evaluation(matched, all_mask, score * matched, units_matched, strict,
                          relaxed, unmatched, found_words, respelled)  # fmt: skip

    def _enough(self, has: list[np.ndarray], fewer: int) -> np.ndarray | None:
        """Docs with enough of the words whose docs are *has*: their
        :func:`minimum_should_match` less *fewer*, or as many of the rare
        ones (in at most RARE_SHARE of the posts), whose presence names a
        post better than common words do. None when fewer leaves no word."""
        need = minimum_should_match(len(has)) - fewer
        if need < 1:
            return None
        enough = np.sum(has, axis=0) >= need
        bar = RARE_SHARE * self.n_live
        rare = [h for h in has if h.sum() <= bar]
        if 0 < len(rare) < len(has) and (need := minimum_should_match(len(rare)) - fewer) >= 1:
            enough |= np.sum(rare, axis=0) >= need
        return enough

    def _with_anchors(self, unit: Unit, has: np.ndarray) -> np.ndarray:
        """*has* (the docs with *unit*), and the docs other posts say it
        about (their anchor words, see search/anchors.py): readers describe
        a page in others' words."""
        if self.table.anchors is None:
            return has
        docs = [self.table.anchor_postings(w).docs for w in _unit_words(unit)]
        if not any(len(d) for d in docs):
            return has
        has = has.copy()
        for d in docs:
            has[d] = True
        return has & self.table.live

    @staticmethod
    def _relaxations(units: list[Unit]):
        """``(units, fewer words needed, relaxed)`` to try in turn.

        A query of several words counts words one by one, a compound's too
        (量子コンピュータ 入門: 量子, コンピュータ, 入門): a description rarely
        uses the post's own compound. A query of one word or compound must
        match it as typed: ドローン finds nothing rather than posts with ド
        and ローン, 株式投資 nothing rather than posts with 株式 and 投資 apart.
        Only a compound of RELAX_SPLIT_PARTS words or more, a description
        itself (インターネットファイル転送プログラム), is relaxed into its
        words. Then fewer words are required, one at a time down to one:
        量子 コンピュータ shows the posts about コンピュータ, saying that 量子
        was not found.
        """
        split = _words(units)
        if len(units) == 1:
            yield units, 0, False
            if len(split) < RELAX_SPLIT_PARTS:
                return
            yield split, 0, True
        else:
            yield split, 0, False
        for fewer in range(1, len(split)):
            yield split, fewer, True
