"""How a query matches and scores documents.

A query is compiled into *units*, one per word (Janome finds the words of an
unspaced sentence) or quoted phrase. A unit matches a post if its word is in
a word field or, as a run of character bigrams, in a bigram field.

Evaluation works on NumPy arrays from the version's :class:`DocTable`: each
unit yields a match mask and a BM25 score vector, with per-field weights
applied at query time (title and tags above body, code below, bigram
matches below word matches). Whoosh is not asked to score: its scorer walks
every posting in Python, which costs tens of milliseconds a query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from whoosh import query as wq

from .analysis import bigram_terms, katakana_parts, normalize, word_terms
from .doctable import DocTable, Postings
from .posts import normalize_label
from .querylang import Clause, parse_query
from .synonyms import Synonyms

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


# --- compiling a query --------------------------------------------------------


# One required term of a match: (field, text, text is a prefix).
TermRef = tuple[str, str, bool]


@dataclass
class Unit:
    """One searchable word: how it matches, how it scores, what it highlights.

    Matching is evaluated on posting sets (cheap set operations, cached per
    index version) from ``match``, a list of alternatives each of which needs
    all its terms; Whoosh only scores the docs of a result page. Bigrams of a
    word are matched as a conjunction rather than a phrase: checking positions
    in Python costs ~100 µs a document, and the bigrams of one word that all
    occur in a post are next to each other in practice. User phrases
    (``"…"``) are checked exactly.
    """

    query: wq.Query
    # Highlighting: (field, terms) sequences that must occur at consecutive
    # positions, so that the bigrams of データベース do not mark every デー.
    terms: list[tuple[str, tuple[str, ...]]]
    prefixes: list[tuple[str, str]] = field(default_factory=list)
    match: list[list[TermRef]] = field(default_factory=list)
    children: list[Unit] = field(default_factory=list)
    op: str = "or"  # how children combine
    exact: bool = False  # match with the Whoosh query itself (phrases)
    ascii: bool = False  # an ASCII name (command, identifier): strong in titles
    # Below 1, a soft alternative (a loanword): a post it matches is found,
    # with *weight* times its score and *weight* of a word's coordination
    # credit, but it is not a post with the word (the all-words tier, +word).
    weight: float = 1.0


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


def _word_units(
    clause: Clause,
    max_words: int,
    synonyms: Synonyms | None = None,
    loanwords: Synonyms | None = None,
) -> list[Unit]:
    """The units of a clause: one per word Janome finds, or one phrase."""
    tables = ((synonyms, 1.0), (loanwords, LOANWORD_WEIGHT))
    words = TITLE_WORD_FIELDS if clause.field == "title" else WORD_FIELDS
    grams = TITLE_NGRAM_FIELDS if clause.field == "title" else NGRAM_FIELDS
    terms = word_terms(clause.text, mode="query")[:max_words]
    if clause.phrase:
        texts = [t.text for t in terms]
        subs: list[wq.Query] = []
        if texts:
            subs += [wq.Phrase(f, texts) if len(texts) > 1 else wq.Term(f, texts[0]) for f in words]
        bigrams = bigram_unit(clause.text, grams)
        if bigrams is not None:
            # The exact form of a bigram phrase, for the strict match.
            ordered = bigrams.terms[0][1] if bigrams.terms else ()
            subs += [wq.Phrase(f, list(ordered)) if len(ordered) > 1 else bigrams.query
                     for f in grams]  # fmt: skip
        if not subs:
            return []
        hl = [(f, tuple(texts)) for f in words] + (bigrams.terms if bigrams else [])
        # Candidates from the words (or bigrams) being present; the exact
        # phrase check then runs on the Whoosh query.
        match = [[(f, t, False) for t in dict.fromkeys(texts)] for f in words if texts]
        match += bigrams.match if bigrams else []
        return [Unit(wq.Or(subs), hl, bigrams.prefixes if bigrams else [], match=match, exact=True)]
    units: list[Unit] = []
    for term in terms:
        surface = clause.text[term.start : term.end]
        subs = [wq.Term(f, term.text) for f in words]
        hl = [(f, (term.text,)) for f in words]
        match = [[(f, term.text, False)] for f in words]
        pref: list[tuple[str, str]] = []
        if term.text.isascii():
            # key_create finds pthread_key_create through its indexed parts.
            parts = list(dict.fromkeys(t.text for t in word_terms(surface, mode="index")[1:]))
            if len(parts) > 1:
                subs += [wq.And([wq.Term(f, p) for p in parts]) for f in words]
                hl += [(f, tuple(parts)) for f in words]
                match += [[(f, p, False) for p in parts] for f in words]
        elif pieces := katakana_parts(normalize(surface).text):
            # A katakana compound Janome does not know is searched as the
            # words it is made of, as if the reader had spaced them:
            # シングルユーザログイン finds シングルユーザモード ... ログイン.
            split = [
                u
                for p in dict.fromkeys(pieces)
                for u in _word_units(Clause(p, field=clause.field), max_words)
            ]
            if any(table and table.expand((term.text,)) for table, _ in tables):
                split = [_expanded(_combine(split, "and"), (term.text,), tables, clause, max_words)]
            units += split
            continue
        else:
            bigrams = bigram_unit(surface, grams)
            if bigrams is not None:
                subs.append(bigrams.query)
                hl += bigrams.terms
                match += bigrams.match
                pref = bigrams.prefixes
        unit = Unit(wq.Or(subs), hl, pref, match=match, ascii=term.text.isascii())
        units.append(_expanded(unit, (term.text,), tables, clause, max_words))
    whole = tuple(t.text for t in terms)
    if len(units) > 1 and any(table and table.expand(whole) for table, _ in tables):
        # An entry for the whole clause, of several words (ロケール is ロ+ケール).
        units = [_expanded(_combine(units, "and"), whole, tables, clause, max_words)]
    if not units:
        # Only particles or stop words ("の", "する"): search the characters.
        bigrams = bigram_unit(clause.text, grams)
        if bigrams is not None:
            units.append(bigrams)
    return units


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

    def highlight_groups(self) -> list[tuple[list, list[tuple[str, str]]]]:
        """Per unit: its (field, term sequence) patterns and its prefixes."""
        return [(u.terms, u.prefixes) for u in self.positive + self.required]


def _expanded(unit: Unit, key: tuple[str, ...], tables, clause: Clause, max_words: int) -> Unit:
    """*unit* or the alternatives that each ``(table, weight)`` of *tables*
    has for the index words *key*."""
    for table, weight in tables:
        if table and (alternatives := table.expand(key)):
            unit = _with_alternatives(unit, alternatives, clause, max_words, weight)
    return unit


def _with_alternatives(
    unit: Unit, alternatives: list[str], clause: Clause, max_words: int, weight: float = 1.0
) -> Unit:
    """*unit*, or any of the *alternatives* (each searched as its own words,
    at *weight*: see :attr:`Unit.weight`)."""
    options = [unit]
    for text in alternatives:
        alt = _word_units(Clause(text=text, field=clause.field), max_words)
        if alt:
            option = _combine(alt, "and")
            option.weight = weight
            options.append(option)
    return _combine(options, "or") if len(options) > 1 else unit


def scoring_bigrams(text: str) -> list[str]:
    """The bigrams of *text* for the bigram score: all but those wholly inside
    particles and endings (の, から, する), which nearly every post has.

    A bigram that joins a word to a particle (ルノ of ファイルの) stays: it
    scores posts that use the word the way the query does.
    """
    grams = [t for t in bigram_terms(text) if len(t.text) == 2]
    content: set[int] = set()
    for w in word_terms(text, mode="query"):
        content.update(range(w.start, w.end))
    kept = [t.text for t in grams if t.start in content or t.end - 1 in content]
    # Only particles (a query of の or から): their bigrams are all there is.
    return kept or [t.text for t in grams]


def compile_query(
    text: str,
    max_words: int = 32,
    synonyms: Synonyms | None = None,
    loanwords: Synonyms | None = None,
) -> Compiled:
    """Compile the user's query text; never raises. *synonyms* (the blog
    owner's) count as the word itself; *loanwords* are searched softly."""
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
            units = _word_units(clause, max_words, synonyms, loanwords)
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


def _unit_words(unit: Unit) -> set[str]:
    """The words a unit (its parts and synonyms, not its soft alternatives)
    matches in the body."""
    if unit.children:
        return set().union(*(_unit_words(c) for c in unit.children if c.weight == 1.0))
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

    def _bm25(self, field_name: str, postings: Postings, df: int) -> np.ndarray:
        # The length factor of every doc, computed once per field: elementwise
        # the same values, four array operations fewer per term.
        factor = self._length_factors.get(field_name)
        if factor is None:
            lengths = self.table.lengths(field_name)
            factor = _length_factor(lengths, self.table.avg_length(field_name))
            self._length_factors[field_name] = factor
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
            full = [p for p, c in zip(parts, unit.children, strict=True) if c.weight == 1.0]
            masks = [m for m, _, _, _ in full]
            if unit.op == "and":
                mask = np.logical_and.reduce(masks)
                credit = np.minimum.reduce([c for _, _, _, c in parts])
            else:
                mask = np.logical_or.reduce(masks)
                credit = np.maximum.reduce([c * child.weight for (_, _, _, c), child
                                            in zip(parts, unit.children, strict=True)])  # fmt: skip
            score = np.sum([s for _, s, _, _ in full], axis=0) * mask
            free = np.sum([f for _, _, f, _ in full], axis=0) * mask
            for (m, s, f, _), c in zip(parts, unit.children, strict=True):
                if c.weight != 1.0:  # soft: scores where it matches, at its weight
                    score += c.weight * s * m
                    free += c.weight * f * m
            return mask, score, free, credit
        mask = np.zeros(size, dtype=bool)
        score = np.zeros(size, dtype=np.float64)
        free = np.zeros(size, dtype=np.float64)
        for refs in unit.match:
            postings = self._conjunction(refs)
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
        if unit.exact and self.searcher is not None:
            exact = np.zeros(size, dtype=bool)
            exact[list(unit.query.docs(self.searcher))] = True
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

    def evaluate(self, comp: Compiled) -> Evaluation:
        size = self.table.size
        live = self.table.live
        score = np.zeros(size, dtype=np.float64)
        units_matched = np.zeros(size, dtype=np.float64)
        if comp.has_text:
            any_mask = np.zeros(size, dtype=bool)
            all_mask = live.copy()
            free = np.zeros(size, dtype=np.float64)
            for u in comp.positive:
                m, s, f, credit = self.unit(u)
                any_mask |= credit > 0  # a soft match (socket for ソケット) finds the post
                all_mask &= m
                score += s
                free += f
                units_matched += credit
            matched = any_mask if comp.positive else live.copy()
            for u in comp.required:
                m, s, f, _ = self.unit(u)
                matched &= m
                score += s
                free += f
            all_mask &= matched
            n = len(comp.positive)
            if n:
                score *= (units_matched / n) ** COORDINATION_POWER
            score += free
            bigram_score, present = self.bigram_score(comp.bigrams)
            if not matched.any() and comp.bigrams and not comp.required:
                # No word matched anywhere (a compound written differently,
                # アクセスコントロールライブラリ vs アクセスコントロール書式):
                # fall back to posts with most of the query's bigrams.
                matched = live & (present * 2 >= len(comp.bigrams))
            score += bigram_score * matched
            anchor = self.anchor_score(comp.positive)
            if anchor is not None:
                docs, anchor_score = anchor
                score[docs] += anchor_score * matched[docs]
        else:
            matched = live.copy()
            all_mask = matched.copy()
        for u in comp.excluded:
            m, _, _, _ = self.unit(u)
            matched &= ~m
            all_mask &= ~m
        strict = 0 < len(comp.positive) <= STRICT_AND_WORDS
        return Evaluation(matched, all_mask, score, units_matched, strict)
