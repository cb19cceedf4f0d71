"""Japanese text analysis: normalization with offsets, Janome words, bigrams.

Two analyzers read the same normalized text:

* :class:`WordTokenizer` - words: Janome for Japanese runs, a small ASCII
  tokenizer for identifiers, base forms for verbs and adjectives, particles
  and punctuation dropped, kana and long-vowel variants folded.
* :class:`BigramTokenizer` - overlapping character bigrams of the Japanese
  runs, the fallback that finds 新幹線 inside 東海道新幹線.

A query is cut into :class:`Segment` s (:func:`query_segments`): words, or
nouns that stand together in the query; a post's text is kept in
:func:`sequence_text` form, where a segment found through its bigrams must
stand together.

Both report ``startchar``/``endchar`` in the *original* text, so that
highlighting marks the characters the reader sees even where normalization
changed the length (ｶﾞ, ㈱, ①, zero-width spaces, NFD marks).

Janome is not thread-safe and slow to construct, so each thread gets its own
instance; none is ever stored on an analyzer (analyzers are pickled into the
Whoosh schema).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from whoosh.analysis import Token, Tokenizer

from .caches import MB, memoize

# --- normalization ------------------------------------------------------------

# Characters that NFKC, dropping format characters and lowercasing all leave
# as they are. Runs of them are copied without per-character work.
_STABLE = re.compile(
    r"[\t\n\x20-\x7e"  # printable ASCII (lowercased as a run)
    r"\u3001-\u3002\u300c-\u300f"  # 、。「」『』
    r"\u3041-\u3096\u309d\u309e"  # hiragana
    r"\u30a1-\u30fa\u30fc-\u30fe"  # katakana, ー
    r"\u4e00-\u9fff]+"  # CJK unified ideographs
)
_ZERO_WIDTH_EXTRA = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


def _is_dropped(ch: str) -> bool:
    """Format characters and variation selectors: invisible, never searched."""
    if ch in _ZERO_WIDTH_EXTRA:
        return True
    o = ord(ch)
    if 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF:
        return True
    return unicodedata.category(ch) == "Cf"


def _joins_previous(ch: str) -> bool:
    """Marks that NFKC composes with the character before them."""
    return unicodedata.combining(ch) != 0 or ch in "\uff9e\uff9f\u3099\u309a"


@dataclass
class Normalized:
    """Normalized text and the map from its positions back to the original.

    ``segments`` holds ``(norm_start, orig_start, orig_end, identity)``
    sorted by ``norm_start``. In an identity segment each normalized character
    is the original character at the same distance; in a changed segment
    (one character cluster) every normalized character maps to the whole
    original cluster.
    """

    text: str
    segments: list[tuple[int, int, int, bool]]
    _starts: list[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``[start, end)`` of normalized ``[start, end)``."""
        s = self._orig(start, False)
        return s, (self._orig(end - 1, True) if end > start else s)

    def _orig(self, i: int, as_end: bool) -> int:
        k = bisect_right(self._starts, i) - 1
        if k < 0:
            return 0
        norm_start, orig_start, orig_end, identity = self.segments[k]
        if identity:
            return orig_start + (i - norm_start) + (1 if as_end else 0)
        return orig_end if as_end else orig_start


def normalize(text: str) -> Normalized:
    """NFKC, format characters removed, lower case; with an offset map."""
    out: list[str] = []
    segments: list[tuple[int, int, int, bool]] = []
    n = 0  # length of normalized text so far
    pos = 0
    length = len(text)
    stable_match = _STABLE.match
    while pos < length:
        m = stable_match(text, pos)
        if m:
            end = m.end()
            # A combining mark after the run composes with its last character.
            if end < length and _joins_previous(text[end]):
                end -= 1
            if end > pos:
                chunk = text[pos:end].lower()
                out.append(chunk)
                segments.append((n, pos, end, True))
                n += len(chunk)
                pos = end
                continue
        # One cluster: a character and the marks that compose with it.
        end = pos + 1
        while end < length and _joins_previous(text[end]):
            end += 1
        cluster = unicodedata.normalize("NFKC", text[pos:end])
        cluster = "".join(c for c in cluster if not _is_dropped(c)).lower()
        if cluster:
            if any(unicodedata.category(c) == "Cc" and c not in "\t\n" for c in cluster):
                cluster = " " * len(cluster)
            out.append(cluster)
            segments.append((n, pos, end, False))
            n += len(cluster)
        pos = end
    return Normalized("".join(out), segments, [s[0] for s in segments])


# --- kana folding -------------------------------------------------------------

_HIRA_TO_KATA = {c: c + 0x60 for c in range(0x3041, 0x3097)}
_VARIANTS = [
    ("ヴァ", "バ"), ("ヴィ", "ビ"), ("ヴェ", "ベ"), ("ヴォ", "ボ"), ("ヴュ", "ビュ"), ("ヴ", "ブ"),
    ("ウィ", "ウイ"), ("ウェ", "ウエ"), ("ウォ", "ウオ"),
    ("ヂ", "ジ"), ("ヅ", "ズ"), ("ヶ", "ケ"), ("ヵ", "カ"),
]  # fmt: skip
_VARIANT_RE = re.compile("|".join(re.escape(a) for a, _ in _VARIANTS))
_VARIANT_MAP = dict(_VARIANTS)
_KATAKANA_WORD = re.compile(r"^[\u30a1-\u30fa\u30fc]+$")


def fold_kana(text: str) -> str:
    """Hiragana to katakana (length-preserving)."""
    return text.translate(_HIRA_TO_KATA)


def fold_word(text: str) -> str:
    """The index form of a word: one spelling for kana and loanword variants.

    りんご/リンゴ, コンピューター/コンピュータ, ヴァイオリン/バイオリン and
    ウィンドウ/ウインドウ all come out the same.
    """
    text = fold_kana(text)
    if _KATAKANA_WORD.match(text):
        if "ヴ" in text or "ウ" in text or "ヂ" in text or "ヅ" in text or "ヶ" in text:
            text = _VARIANT_RE.sub(lambda m: _VARIANT_MAP[m.group(0)], text)
        # Trailing long vowel marks vary by style guide (JIS Z 8301 vs. common use).
        if len(text) >= 3:
            text = text.rstrip("ー") or text
    return text


# --- Janome ---------------------------------------------------------------------

# Janome's tokenizer is not thread-safe, and building one takes 55 ms (the
# dictionary itself is shared). One per thread made every request of a
# threaded server (Werkzeug's: a new thread per request) pay for a new one;
# a small pool lends each thread one for the length of a tokenize call.
JANOME_POOL_SIZE = 2


class _TokenizerPool:
    """At most ``size`` Janome tokenizers, each used by one thread at a time."""

    def __init__(self, size: int, **options: object):
        self.size = size
        self.options = options
        self.built = 0
        self._free: list = []
        self._available = threading.Condition()

    def tokenize(self, text: str) -> list:
        """Janome's tokens of *text*, from a tokenizer no other thread is using."""
        with self._available:
            while not self._free and self.built >= self.size:
                self._available.wait()
            tok = self._free.pop() if self._free else None
            if tok is None:
                self.built += 1
        try:
            if tok is None:
                from janome.tokenizer import Tokenizer as Janome

                tok = Janome(**self.options)
            return list(tok.tokenize(text))
        except BaseException:
            if tok is None:  # construction failed: let another thread try
                with self._available:
                    self.built -= 1
                    self._available.notify()
            raise
        finally:
            if tok is not None:
                with self._available:
                    self._free.append(tok)
                    self._available.notify()


_JANOME = _TokenizerPool(JANOME_POOL_SIZE)
# One that never groups unknown characters, so that a katakana compound it
# does not know comes out as the words it knows.
_SPLITTER = _TokenizerPool(JANOME_POOL_SIZE, max_unknown_length=1)


def janome_tokens(text: str) -> list:
    """Janome's tokens of *text* (thread-safe)."""
    return _JANOME.tokenize(text)


def load_tokenizers() -> None:
    """Build a tokenizer of each kind now (before a server forks)."""
    _JANOME.tokenize("")
    _SPLITTER.tokenize("")


def tokenizers_built() -> int:
    """How many Janome tokenizers this process has built (at most
    ``2 * JANOME_POOL_SIZE``, however many threads tokenize)."""
    return _JANOME.built + _SPLITTER.built


# Parts of speech that carry no search meaning on their own.
_STOP_POS = frozenset(
    ["助詞", "助動詞", "記号", "フィラー", "接続詞", "連体詞", "感動詞", "その他"]
)
_STOP_POS2 = frozenset([("名詞", "非自立"), ("名詞", "代名詞"), ("動詞", "非自立"),
                        ("動詞", "接尾"), ("形容詞", "非自立"), ("名詞", "接尾")])  # fmt: skip
_STOP_BASE = frozenset(
    ["する", "いる", "ある", "なる", "れる", "られる", "できる", "こと", "もの", "よう"]
)
_INFLECTED = frozenset(["動詞", "形容詞"])

# Runs the tokenizers work on: ASCII identifiers, and runs of other letters.
_RUNS = re.compile(r"(?P<ascii>[0-9a-z_]+(?:[.\-/+][0-9a-z_]+)*)|(?P<ja>[^\W0-9a-z_]+)")
_ASCII_PARTS = re.compile(r"[a-z]+|[0-9]+")


@dataclass(slots=True)
class Term:
    """One analyzed token: text, position, and its span in the original text."""

    text: str
    pos: int
    start: int
    end: int


# Runs of Japanese text between punctuation repeat a lot across posts (on
# the measured corpus 43% of runs, 21% of their characters); tokenizing each
# distinct run once saves Janome calls. A run's words take 740 bytes on
# average there, so this keeps about the 50,000 runs that were measured,
# while a worker fed long distinct queries stays within it too.
JANOME_CACHE_BYTES = 32 * MB


@memoize(JANOME_CACHE_BYTES)
def _janome_words(segment: str) -> tuple[tuple[str, int, int], ...]:
    """(index text, start, end) of the content words of a Japanese run."""
    return tuple(_tokenize_run(segment))


def _tokenize_run(segment: str) -> Iterator[tuple[str, int, int]]:
    offset = len(segment) - len(segment.lstrip())
    for token in janome_tokens(segment):
        surface = token.surface
        start = offset
        offset += len(surface)
        pos = token.part_of_speech.split(",", 2)
        if pos[0] in _STOP_POS or (pos[0], pos[1]) in _STOP_POS2:
            continue
        text = surface
        if pos[0] in _INFLECTED and token.base_form not in ("*", ""):
            text = token.base_form
        if text in _STOP_BASE:
            continue
        yield fold_word(text), start, offset


_KATAKANA_COMPOUND = re.compile(r"^[\u30a1-\u30fa\u30fc]{4,}$")


@memoize(2 * MB)
def katakana_parts(word: str) -> tuple[str, ...]:
    """The words of a katakana compound that Janome does not know, folded.

    Janome keeps an unknown katakana run whole (シングルユーザログイン), so
    a query word like that matches only posts with the very same compound.
    Its parts are the known words the run splits into when unknown runs are
    not grouped, each stretch of unknown or short pieces kept as one part
    (共有メモリーバッファープール: メモリー, バッファー, プール).
    """
    if not _KATAKANA_COMPOUND.match(word):
        return ()
    tokens = janome_tokens(word)
    if len(tokens) != 1 or tokens[0].node_type != "UNKNOWN":
        return ()
    pieces = [
        ("?" * (token.node_type == "UNKNOWN") + token.surface, fold_word(token.surface))
        for token in _SPLITTER.tokenize(word)
    ]
    parts = _merge_fragments(pieces)
    return tuple(parts) if len(parts) > 1 else ()


def word_terms(text: str, mode: str = "index") -> list[Term]:
    """Words of *text* with original offsets.

    In ``index`` mode an ASCII identifier such as ``pthread_key_create`` is
    indexed whole and by its parts (pthread, key, create) at following
    positions; in ``query`` mode only the whole identifier is returned.
    """
    norm = normalize(text)
    ntext = norm.text
    terms: list[Term] = []
    pos = 0
    for m in _RUNS.finditer(ntext):
        if m.lastgroup == "ascii":
            word = m.group()
            start, end = norm.span(m.start(), m.end())
            terms.append(Term(word, pos, start, end))
            if mode == "index":
                parts = list(_ASCII_PARTS.finditer(word))
                if len(parts) > 1:
                    for i, part in enumerate(parts):
                        ps, pe = norm.span(m.start() + part.start(), m.start() + part.end())
                        terms.append(Term(part.group(), pos + i, ps, pe))
                    pos += len(parts) - 1
            pos += 1
        else:
            base = m.start()
            for word, s, e in _janome_words(m.group()):
                start, end = norm.span(base + s, base + e)
                terms.append(Term(word, pos, start, end))
                pos += 1
    return terms


def bigram_terms(text: str) -> list[Term]:
    """Character bigrams of the Japanese runs of *text*, with original offsets.

    Each run also yields its last character alone, so that every character is
    the start of some term and a one-character query can be answered with a
    prefix search.
    """
    norm = normalize(text)
    ntext = fold_kana(norm.text)
    terms: list[Term] = []
    pos = 0
    for m in _RUNS.finditer(ntext):
        if m.lastgroup != "ja":
            continue
        run = m.group()
        base = m.start()
        for i in range(len(run) - 1):
            start, end = norm.span(base + i, base + i + 2)
            terms.append(Term(run[i : i + 2], pos, start, end))
            pos += 1
        start, end = norm.span(base + len(run) - 1, base + len(run))
        terms.append(Term(run[-1], pos, start, end))
        pos += 2  # a gap, so that phrases do not run across two runs
    return terms


# --- Whoosh tokenizers ------------------------------------------------------------


class AnalyzedText(str):
    """Text that carries its terms, so that a tokenizer replays them.

    A ``str`` subclass because Whoosh fields only accept text (a list would
    be taken as ready-made tokens and bypass the analyzer).
    """

    terms: list[Term]

    def __new__(cls, text: str, terms: list[Term]) -> AnalyzedText:
        obj = super().__new__(cls, text)
        obj.terms = terms
        return obj


class _TermTokenizer(Tokenizer):
    """Adapts a ``*_terms`` function to Whoosh's Tokenizer protocol."""

    def _terms(self, value: str, mode: str) -> list[Term]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __call__(
        self,
        value,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        **kwargs,
    ):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar = start_char
                t.endchar = start_char + len(value)
            yield t
            return
        # Text analyzed already is replayed (analysis done once, used twice).
        if isinstance(value, AnalyzedText):
            terms = value.terms
        else:
            terms = self._terms(value, "query" if mode == "query" else "index")
        for term in terms:
            t.text = term.text
            t.boost = 1.0
            if keeporiginal:
                t.original = value[term.start : term.end]
            t.stopped = False
            if positions:
                t.pos = start_pos + term.pos
            if chars:
                t.startchar = start_char + term.start
                t.endchar = start_char + term.end
            yield t


class WordTokenizer(_TermTokenizer):
    """Whoosh tokenizer for the word fields (see :func:`word_terms`)."""

    def _terms(self, value: str, mode: str) -> list[Term]:
        return word_terms(value, mode)


class BigramTokenizer(_TermTokenizer):
    """Whoosh tokenizer for the bigram fields (see :func:`bigram_terms`)."""

    def _terms(self, value: str, mode: str) -> list[Term]:
        return bigram_terms(value)


# --- character sequences ------------------------------------------------------

_SPACES = re.compile(r"\s+")


def sequence_text(text: str) -> str:
    """The form in which a post's text is searched for character sequences:
    normalized (NFKC, lower case), runs of white space as one space.

    A word that matches through its bigrams must occur in this form of the
    post, contiguous: bigrams of ドローン scattered over a post (ドロ here,
    ーン there) are not the word. Kana are not folded here, so that ハワイ is
    not found in はワイヤレス; :func:`sequence_forms` gives a query's forms.
    """
    return _SPACES.sub(" ", normalize(text).text)


def sequence_forms(text: str) -> tuple[str, ...]:
    """The :func:`sequence_text` forms a query's characters may take in a
    post: as typed, and in katakana (りんご: りんご, リンゴ), each also with a
    space where Latin letters meet Japanese. Not the other way:
    hiragana runs cross word boundaries (テニス is not あてにすべき); a
    katakana word written in hiragana is found as a word instead."""
    typed = sequence_text(text)
    forms = [typed, fold_kana(typed)]
    # 生成AI is also written 生成 AI.
    forms += [_SCRIPT_CHANGE.sub(" ", f) for f in forms]
    return tuple(dict.fromkeys(forms))


_SCRIPT_CHANGE = re.compile(r"(?<=[0-9a-z])(?=[^\x00-\x7f])|(?<=[^\x00-\x7f])(?=[0-9a-z])")


@dataclass(slots=True)
class Segment:
    """A piece of a query that must match as one: a word, or a compound of
    words that stand together in the query (株式投資, ロケール as ロ+ケール).

    ``text`` is its :func:`sequence_text`, kana folded as the bigram
    fields (the key of the segment's bigrams); ``parts`` its index words (base
    forms, folded) as Janome finds them; ``word`` the one index word the
    whole segment is, if it is one (東海道新幹線, かれー as カレ);
    ``start``/``end`` its span in the original query.
    """

    text: str
    parts: list[str]
    word: str | None
    start: int
    end: int
    ascii: bool = False
    # What the query says is done (取得する, 得る), not what it is about: a
    # description often says it in other words than the post.
    predicate: bool = False


# Parts of speech that continue a compound: nouns (suffixes included, 基地局)
# and prefixes. Anything else (a particle, a verb) ends it.
_COMPOUND_POS = frozenset(["名詞", "接頭詞"])
_NOT_COMPOUND_POS2 = frozenset([("名詞", "非自立"), ("名詞", "代名詞")])
# A run of katakana (or of kana with a long vowel mark, かれー) is one word
# to the reader, however Janome splits it (ドローン: ド + ローン).
_KANA_WORD = re.compile(
    r"^(?:[\u30a1-\u30fa\u30fc]+"  # katakana
    r"|[\u3041-\u3096\u30fc]*\u30fc[\u3041-\u3096\u30fc]*)$"  # hiragana with ー
)


_HAS_HIRAGANA = re.compile(r"[\u3041-\u3096]")


@memoize(8 * MB)
def _janome_segments(run: str) -> tuple[tuple, ...]:
    """``(start, end, content words, tokens, predicate, first word)`` of the
    segments of a Japanese run of a query (cached: queries repeat); a
    predicate is a verb or adjective, or a noun that する follows (取得 of
    取得する)."""
    return tuple(
        (s, e, tuple(words), tokens, predicate, first)
        for s, e, words, tokens, predicate, first in _tokenize_segments(run)
    )


def _tokenize_segments(run: str) -> list[list]:
    """:func:`_janome_segments`, uncached, as lists."""
    out: list[list] = []
    current: list = []  # the segment being built; [6]: its (surface, word)s
    offset = 0

    def close() -> None:
        if current and current[6]:
            current[2] = _merge_fragments(current[6])
            out.append(current[:6])

    for token in janome_tokens(run):
        surface = token.surface
        ts, offset = offset, offset + len(surface)
        pos = token.part_of_speech.split(",", 2)
        if pos[0] == "動詞" and token.base_form == "する":
            for segment in (current, out[-1] if out else None):
                if segment and segment[1] == ts:
                    segment[4] = True
        content = not (pos[0] in _STOP_POS or (pos[0], pos[1]) in _STOP_POS2)
        word = surface
        if pos[0] in _INFLECTED and token.base_form not in ("*", ""):
            word = token.base_form
        if word in _STOP_BASE:
            content = False
        # Nouns join, and so does any word without hiragana (ポイ活: ポイ is an
        # adverb to Janome): hiragana is where particles and endings are.
        joins = (pos[0] in _COMPOUND_POS and (pos[0], pos[1]) not in _NOT_COMPOUND_POS2) or (
            content and not _HAS_HIRAGANA.search(surface)
        )
        pieces: list[tuple[str, str]] = []
        if content:
            pieces = [(surface, fold_word(word))]
            if token.node_type == "UNKNOWN" and (split := katakana_parts(surface)):
                pieces = [("", part) for part in split]  # "": whole words already
        if joins and current and current[1] == ts:
            current[1] = offset
            current[3] += 1
            current[6].extend(pieces)
            continue
        close()
        current = []
        if joins or content:
            current = [ts, offset, [], 1, pos[0] in _INFLECTED, fold_word(word), pieces]
            if not joins:
                close()
                current = []
    close()
    return out


def _merge_fragments(pieces: list[tuple[str, str]]) -> list[str]:
    """The words of a run from its tokens' ``(surface, word)``, each katakana
    fragment (shorter than three characters, or unknown: surface starting
    with "?") glued to the fragments next to it, and a stretch of fragments
    still that short to the next piece, or the last to the one before:
    Janome cuts a word it does not know into short ones it does
    (ドローン: ド, ローン; メモリーバッファー: メモリー, バッ, ファー).
    A piece with an empty surface is a whole word."""
    words: list[list] = []  # [surface, word]
    glue = ""
    for surface, word in pieces:
        unknown = surface.startswith("?")
        surface = surface.lstrip("?")
        if unknown or (surface and len(surface) < 3 and _KATAKANA_WORD.match(surface)):
            glue += surface
            continue
        if glue and len(glue) < 3 and surface and _KATAKANA_WORD.match(surface):
            surface, word = glue + surface, fold_word(glue + surface)
        elif glue:
            words.append([glue, fold_word(glue)])
        glue = ""
        words.append([surface, word])
    if glue:
        if words and words[-1][0] and _KATAKANA_WORD.match(words[-1][0]):
            words[-1][0] += glue
            words[-1][1] = fold_word(words[-1][0])
        else:
            words.append([glue, fold_word(glue)])
    return [word for _, word in words]


def query_segments(text: str) -> list[Segment]:
    """The :class:`Segment` s of one query clause, in order.

    Janome splits a word it does not know into the pieces it does
    (ドローン: ド + ローン) and a compound into its words (株式投資); the
    reader typed one thing, so adjacent nouns stay one segment. Particles,
    verbs and adjectives separate segments (ファイルの状態を取得する: ファイル,
    状態, 取得).
    """
    norm = normalize(text)
    out: list[Segment] = []
    edges: list[tuple[int, int]] = []  # normalized span of each segment
    for m in _RUNS.finditer(norm.text):
        run, base = m.group(), m.start()
        if m.lastgroup == "ascii":
            start, end = norm.span(m.start(), m.end())
            out.append(Segment(run, [run], run, start, end, ascii=True))
            edges.append((m.start(), m.end()))
            continue
        if _KANA_WORD.match(run):
            start, end = norm.span(base, m.end())
            parts = [w for segment in _janome_segments(run) for w in segment[2]]
            whole = fold_word(fold_kana(run))
            if len(parts) <= 1:  # unknown to Janome: the known words it is made of
                parts = list(katakana_parts(fold_kana(run))) or parts
            out.append(Segment(fold_kana(sequence_text(run)), parts or [whole], whole, start, end))
            edges.append((m.start(), m.end()))
            continue
        for s, e, words, tokens, predicate, first in _janome_segments(run):
            start, end = norm.span(base + s, base + e)
            # 計算機 is 計算 and a suffix: as a word it would find 表計算.
            word = first if tokens == 1 else None
            text = fold_kana(sequence_text(run[s:e]))
            out.append(Segment(text, list(words), word, start, end, predicate=predicate))
            edges.append((base + s, base + e))
    return _joined_across_scripts(out, edges)


def _joined_across_scripts(segments: list[Segment], edges: list[tuple[int, int]]) -> list[Segment]:
    """*segments* with a Latin word and the Japanese one it touches made one
    (生成AI, AI規制, Pythonコード): typed without a space, they name one
    thing, and 生成 and AI apart in a post are not 生成AI. A number stays a
    word of its own (ラマ3.3)."""
    out: list[Segment] = []
    last_end, last_ascii, last_number = -1, False, False
    for segment, (start, end) in zip(segments, edges, strict=True):
        prev = out[-1] if out else None
        if (
            prev is not None and start == last_end and last_ascii != segment.ascii
            and not (prev.predicate or segment.predicate)
            and not (last_number or segment.text.isdigit() or _NUMBER.match(segment.text))
        ):  # fmt: skip
            out[-1] = Segment(prev.text + segment.text, prev.parts + segment.parts, None,
                              prev.start, segment.end)  # fmt: skip
        else:
            out.append(segment)
        last_end, last_ascii = end, segment.ascii
        last_number = bool(_NUMBER.match(segment.text))
    return out


# A version or a count (3.3, 9, 2025): it goes with a name (ラマ3.3) the
# way a separate word does, and posts write it with or without a space.
_NUMBER = re.compile(r"^[0-9][0-9.]*$")
