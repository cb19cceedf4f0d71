"""Names across scripts: エヌビディア and NVIDIA, ザッカーバーグ and Zuckerberg.

Japanese writers spell a company, product or person in katakana in one post
and in Latin letters in the next. The pairs are learned from the blog at
index time, not from a hand list:

- every name among the Latin words of the index (a word at least half the
  posts that have it write capitalized: NVIDIA, PyTorch; not file or stream,
  loanwords that the built-in table has) gets a katakana reading from
  ``e2k``'s character model (English to katakana; NumPy only, the model ships
  inside the wheel), once per distinct word, kept across incremental builds;
- glosses the posts write, ``アンソロピック（Anthropic）``, count when their
  reading agrees with the transliteration (``メモリ（HBM）`` is not a name);
- readings are compared tolerantly (:func:`reading_key`): long vowels, ッ,
  small kana, ヴ and ・ do not count, and a near reading (ズッカーバーグ for
  ザッカーバーグ) is within a small edit distance when the consonants agree;
  consonant skeletons (:func:`kana_consonants`, :func:`latin_consonants`)
  also catch what the model reads wrong (ルカン: lecun, model レカン).

The engine searches the other spelling at ``NAME_WEIGHT`` of the typed one
(:mod:`search.matching`), and a post with it has the word; when no hit has
the word as typed, the result says so (``respelled_words``), so a name the
blog writes only in the other script is never a confident match. Spellings
that are not names (glosses of common words, near katakana spellings) are
searched softly, as loanwords. The owner's synonyms file can add a pair
(``クウェン, Qwen``) or forbid one (``!ソラ, sora``).
"""

from __future__ import annotations

import bisect
import functools
import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .analysis import fold_word
from .spelling import edit_distance, padded_bigrams

log = logging.getLogger(__name__)

NAMES_FILE = "names.json"
# Latin words shorter than this have too many readings (ai, go, io).
MIN_LATIN_LETTERS = 3
MAX_LATIN_LETTERS = 24
# Reading keys (see reading_key) of up to this many characters must agree
# exactly; longer ones may differ by one edit, from _TWO_EDITS_FROM by two.
_EXACT_UP_TO = 4
_TWO_EDITS_FROM = 9

# Katakana words this long also meet their near katakana spellings
# (アンソロピック, アントロピック).
_KANA_VARIANTS_FROM = 6
_KANA_THEN_LATIN = re.compile(r"^([\u30a1-\u30fa\u30fc]{2,})([a-z][a-z0-9]*)$")
_LATIN_WORD = re.compile(r"^[a-z]+$")
_KATAKANA_WORD = re.compile(r"^[\u30a1-\u30fa\u30fc]+$")
_SMALL = str.maketrans("ァィゥェォャュョヮヵヶ", "アイウエオヤユヨワカケ")
_SAME_SOUND = str.maketrans({"ヂ": "ジ", "ヅ": "ズ", "ヲ": "オ", "ヴ": "ブ"})
_SILENT = re.compile("[ー・ッ\u30fb\u30a0=＝ ]")
# A gloss: a katakana name and its Latin spelling in brackets, or the reverse.
_KANA_RUN = r"[\u30a1-\u30fa\u30fc・]{2,}"
_LATIN_RUN = r"[A-Za-z][A-Za-z.'\-]*(?: [A-Za-z][A-Za-z.'\-]*){0,3}"
_GLOSS = re.compile(
    rf"({_KANA_RUN})\s*[（(]\s*({_LATIN_RUN})\s*[）)]|({_LATIN_RUN})\s*[（(]\s*({_KANA_RUN})\s*[）)]"
)


def reading_key(kana: str) -> str:
    """The form in which two katakana spellings of one name compare equal:
    サム・アルトマン and サムアルトマン, ヴィジョン and ビジョン, ディープシーク
    and デイプシク all give one key."""
    return _SILENT.sub("", fold_word(kana).translate(_SMALL).translate(_SAME_SOUND))


# Consonants of katakana, for comparing a katakana word with Latin letters
# (ルカン and lecun are both r-k-n); vowels, ー, ッ, ヤ行 and ワ行 count as none.
_KANA_CONSONANTS = {}
for _consonant, _row in (
    ("k", "カキクケコ"), ("g", "ガギグゲゴ"), ("s", "サシスセソ"), ("z", "ザズゼゾヅ"),
    ("j", "ジヂ"), ("t", "タテトツ"), ("C", "チ"), ("d", "ダディドデ"), ("n", "ナニヌネノン"),
    ("h", "ハヒヘホ"), ("f", "フ"), ("b", "バビブベボヴ"), ("p", "パピプペポ"),
    ("m", "マミムメモ"), ("r", "ラリルレロ"),
):  # fmt: skip
    _KANA_CONSONANTS.update(dict.fromkeys(_row, _consonant))
_LATIN_SOUNDS = (
    ("ph", "f"), ("ck", "k"), ("ch", "C"), ("sh", "s"), ("th", "t"), ("x", "ks"), ("q", "k"),
    ("ce", "se"), ("ci", "si"), ("cy", "sy"), ("c", "k"),
    ("l", "r"), ("v", "b"),
)  # fmt: skip
_NOT_CONSONANTS = re.compile("[aeiouwy]")
_SILENT_R = re.compile("(?<=[aeiouy])r(?=[^aeiouy]|$)|(?<=[^aeiouy])r$")
_REPEATS = re.compile(r"(.)\1+")
MIN_CONSONANTS = 3
# A name matched by its consonants alone must be written in this many posts,
# and the katakana word be this long (テニス is not tensor).
NAME_MIN_POSTS = 3
ALONE_MIN_KANA = 5


def kana_consonants(kana: str) -> str:
    """The consonant skeleton of a katakana word: ルカン -> rkn."""
    return _REPEATS.sub(r"\1", "".join(_KANA_CONSONANTS.get(c, "") for c in fold_word(kana)))


def latin_consonants(word: str) -> str:
    """The consonant skeleton of a Latin word as Japanese says it: lecun -> rkn."""
    # Japanese drops an r after a vowel (server: サーバー, pytorch: パイトーチ)
    # and says a final one as a long vowel (alexandr: アレクサンダー).
    word = _SILENT_R.sub("", word)
    for a, b in _LATIN_SOUNDS:
        word = word.replace(a, b)
    return _REPEATS.sub(r"\1", _NOT_CONSONANTS.sub("", word))


def allowed_distance(length: int) -> int:
    """How many edits two reading keys may differ by, for names whose
    shorter spelling has *length* characters (long vowels included: ザッカー
    バーグ is 7, its key ザカバグ 4). Short names must agree exactly, or
    ビジョン would meet バージョン."""
    if length <= _EXACT_UP_TO:
        return 0
    return 1 if length < _TWO_EDITS_FROM else 2


def is_latin_word(word: str) -> bool:
    return MIN_LATIN_LETTERS <= len(word) <= MAX_LATIN_LETTERS and bool(_LATIN_WORD.match(word))


def is_katakana_word(word: str) -> bool:
    return len(word) >= 2 and bool(_KATAKANA_WORD.match(word))


class Transliterator:
    """English letters to a katakana reading (``e2k``'s character model).

    The model is loaded on first use (about 0.2 s, a few MB); calls are
    serialized, since one model object is shared by the threads of a server.
    """

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now (before a server forks its workers)."""
        with self._lock:
            self._load()

    def _load(self):
        if self._model is None:
            from e2k import C2K

            # The distilled model: about 2.5x as fast as "base" (1.9 vs
            # 4.8 ms a word here), and on the AI-news names as often right.
            self._model = C2K(model="turbo")
        return self._model

    def __call__(self, word: str) -> str:
        with self._lock:
            reading = self._load()(word)
        # No Japanese word starts with ン: a leading N before a consonant is
        # the letter's name (NVIDIA: エヌビディア).
        return "エヌ" + reading[1:] if reading.startswith("ン") else reading

    def readings(self, words: Iterable[str], known: dict[str, str]) -> dict[str, str]:
        """Readings of *words*: from *known* where it has them, else computed."""
        out = {}
        for word in words:
            reading = known.get(word)
            out[word] = reading if reading is not None else self(word)
        return out


@functools.cache
def transliterator() -> Transliterator:
    return Transliterator()


def glosses_in(text: str) -> list[tuple[str, str]]:
    """``(latin, katakana)`` pairs a text writes as glosses, whose readings agree."""
    pairs = []
    for m in _GLOSS.finditer(text):
        kana, latin = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        latin_words = latin.lower().replace("-", " ").split()
        if not latin_words or not all(w.isascii() and w.isalpha() for w in latin_words):
            continue
        if agrees(kana, transliterator()(" ".join(latin_words))):
            pairs.append((" ".join(latin_words), kana))
    return pairs


def agrees(kana: str, reading: str, slack: int = 0) -> bool:
    """Whether a katakana spelling and a reading are one name (tolerantly)."""
    a, b = reading_key(kana), reading_key(reading)
    if not a or not b:
        return False
    limit = allowed_distance(min(len(fold_word(kana)), len(fold_word(reading)))) + slack
    return edit_distance(a, b, limit) <= limit


def _sounds_alike(kana: str, reading: str, typed: bool = False) -> bool:
    """A second chance for a katakana word and a Latin word whose consonants
    agree (ルカン, lecun): their reading may then be one edit further off
    (レカン) than :func:`agrees` allows. When the reader *typed* the katakana,
    that edit must be a kana the model dropped or added (ハギング, read ハギン),
    not another kana: ロケール is not local (ローカル)."""
    if len(kana_consonants(kana)) < MIN_CONSONANTS:
        return False
    if typed and len(reading_key(kana)) == len(reading_key(reading)):
        return agrees(kana, reading)
    return agrees(kana, reading, slack=1)


class _KeyIndex:
    """Words by reading key, found by near keys through shared bigrams."""

    def __init__(self, spellings: dict[str, str], skeletons: dict[str, set[str]]):
        """*spellings*: word -> its katakana spelling or reading; *skeletons*:
        word -> the consonant skeletons a near spelling must share with it."""
        self.by_key: dict[str, list[str]] = {}
        self.length: dict[str, int] = {}
        self.skeletons = skeletons
        for word, kana in spellings.items():
            if key := reading_key(kana):
                self.by_key.setdefault(key, []).append(word)
                size = len(fold_word(kana))
                self.length[key] = min(self.length.get(key, size), size)
        self.grams: dict[str, list[str]] = {}
        for key in self.by_key:
            for g in padded_bigrams(key):
                self.grams.setdefault(g, []).append(key)

    def near(self, kana: str, skeletons: set[str], exact: bool = False) -> list[str]:
        """The words whose reading is *kana*'s, nearest first, or within
        :func:`allowed_distance` of it with one of *skeletons* for consonants:
        ズッカーバーグ meets ザッカーバーグ (both z-k-b-g), ワーンデース does
        not meet ワンピース."""
        key = reading_key(kana)
        found = [(0, w) for w in self.by_key.get(key, ())]
        limit = 0 if exact else allowed_distance(len(fold_word(kana)))
        if limit:
            grams = padded_bigrams(key)
            counts: dict[str, int] = {}
            for g in grams:
                for other in self.grams.get(g, ()):
                    counts[other] = counts.get(other, 0) + 1
            need = max(1, len(grams) - 2 * limit)  # an edit changes at most two bigrams
            for other, shared in counts.items():
                if shared < need or other == key:
                    continue
                bound = min(limit, allowed_distance(self.length[other]))
                distance = edit_distance(key, other, bound) if bound else bound + 1
                if distance <= bound:
                    found += [(distance, w) for w in self.by_key[other]
                              if self.skeletons[w] & skeletons]  # fmt: skip
        return [w for _, w in sorted(found)]


@dataclass
class NameTable:
    """The name pairs of one index version, in both directions.

    *readings* maps each name of the blog written in Latin letters (a word
    the posts mostly capitalize: NVIDIA, PyTorch, not file or stream, which
    are loanwords) to its katakana reading; *katakana* lists the katakana
    words; *latin* the other Latin words, which are never expanded (the
    built-in loanwords table has the common ones); *glosses* are pairs the
    posts wrote. :meth:`expand` has the interface of
    :class:`~search.synonyms.Synonyms`, so the query compiler treats learned
    names like the other tables.
    """

    readings: dict[str, str] = field(default_factory=dict)
    katakana: list[str] = field(default_factory=list)
    glosses: list[tuple[str, str]] = field(default_factory=list)
    latin: list[str] = field(default_factory=list)
    posts: dict[str, int] = field(default_factory=dict)  # name -> posts writing it

    # The lookup structures are built on first use (a build writes the
    # table without them) or by load(), when a server opens the version.
    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[list[str], list[str]]] = {}

    def load(self) -> None:
        """Build every lookup structure now rather than in a reader's request."""
        # Reading a cached property builds it.
        _ = (self._latin, self._kana, self._latin_skeletons, self._kana_skeletons,
             self._common, self._names_sorted, self._glossed)  # fmt: skip

    @functools.cached_property
    def _latin(self) -> _KeyIndex:
        skeletons = {w: {latin_consonants(w), kana_consonants(r)} for w, r in self.readings.items()}
        return _KeyIndex(self.readings, skeletons)

    @functools.cached_property
    def _kana(self) -> _KeyIndex:
        return _KeyIndex({w: w for w in self.katakana},
                         {w: {kana_consonants(w)} for w in self.katakana})  # fmt: skip

    @functools.cached_property
    def _latin_skeletons(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for word in self.readings:
            out.setdefault(latin_consonants(word), []).append(word)
        return out

    @functools.cached_property
    def _kana_skeletons(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for word in self.katakana:
            out.setdefault(kana_consonants(word), []).append(word)
        return out

    @functools.cached_property
    def _common(self) -> frozenset[str]:
        return frozenset(self.latin)

    @functools.cached_property
    def _names_sorted(self) -> list[str]:
        return sorted(self.readings)

    @functools.cached_property
    def _glossed(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for latin, kana in self.glosses:
            kana = fold_word(kana.replace("・", ""))
            out.setdefault(latin, []).append(kana)
            out.setdefault(kana, []).append(latin)
        return out

    def __len__(self) -> int:
        return len(self.readings)

    def other_spellings(self, word: str) -> list[str]:
        """The index words that spell the name *word* (an index word) in the
        other script, nearest first: エヌビディア -> [nvidia]."""
        return self._spellings(word)[0]

    def variants(self, word: str) -> list[str]:
        """Other spellings of *word* that are not names: glosses of common
        words (ファイルシステム (file system)) and near katakana spellings
        (インターフェース, インターフェイス). Searched softly, as loanwords."""
        return self._spellings(word)[1]

    def _spellings(self, word: str) -> tuple[list[str], list[str]]:
        with self._lock:
            cached = self._cache.get(word)
        if cached is not None:
            return cached
        names: list[str] = []
        variants: list[str] = []
        for other in self._glossed.get(word, ()):
            latin = other if other.isascii() else word
            is_name = all(w in self.readings for w in latin.split())
            (names if is_name else variants).append(other)
        if is_latin_word(word) and word not in self._common:
            # A name of the blog, or one it never writes in Latin letters.
            reading = self.readings.get(word) or transliterator()(word)
            skeletons = {latin_consonants(word), kana_consonants(reading)}
            names += self._kana.near(reading, skeletons) or [
                kana for kana in self._kana_skeletons.get(latin_consonants(word), ())
                if _sounds_alike(kana, reading)
            ]  # fmt: skip
        elif is_katakana_word(word):
            names += self._latin_spellings(word) + self._compound(word)
            if len(word) >= _KANA_VARIANTS_FROM:
                variants += self._kana.near(word, {kana_consonants(word)})
        elif m := _KANA_THEN_LATIN.match(word):
            # オープンai, チャットgpt: the Latin word that joins the parts.
            kana, latin = m.groups()
            names += [w + latin for w in self._latin.near(kana, set(), exact=True)
                      if w + latin in self.readings]  # fmt: skip
        names = [w for w in dict.fromkeys(names) if w != word]
        variants = [w for w in dict.fromkeys(variants) if w != word and w not in names]
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[word] = (names, variants)
        return names, variants

    def completions(self, prefix: str, limit: int = 4) -> list[str]:
        """Other-script spellings of the blog's names that start with
        *prefix* (an index-form prefix), for suggestions as the reader
        types: エヌビ -> [nvidia], nvi -> [エヌビディア]."""
        if is_katakana_word(prefix):
            words = self.katakana
        elif prefix.isascii() and prefix.isalpha() and len(prefix) >= MIN_LATIN_LETTERS:
            words = self._names_sorted
        else:
            return []
        found: list[str] = []
        for word in words[bisect.bisect_left(words, prefix):]:
            if not word.startswith(prefix) or len(found) >= limit:
                break
            found += [w for w in self.other_spellings(word) if w not in found]
        return found[:limit]

    def _latin_spellings(self, kana: str, alone: bool = True) -> list[str]:
        """Names whose reading is *kana*'s (or near it), or whose consonants
        are *kana*'s and reading nearly so (ルカン: lecun); with *alone*, also
        the one name with *kana*'s consonants if the blog writes it in
        several posts and *kana* is long (パイトーチ: pytorch, read ピトルチ)."""
        skeleton = kana_consonants(kana)
        same = self._latin_skeletons.get(skeleton, [])
        found = self._latin.near(kana, {skeleton}) or [
            latin for latin in same if _sounds_alike(kana, self.readings[latin], typed=True)
        ]
        if (not found and alone and len(same) == 1 and len(skeleton) >= MIN_CONSONANTS
                and len(fold_word(kana)) >= ALONE_MIN_KANA):  # fmt: skip
            found = [w for w in same if self.posts.get(w, 0) >= NAME_MIN_POSTS]
        return found

    def _compound(self, word: str) -> list[str]:
        """A katakana compound of two names, spelled as Latin words:
        ハギングフェイス -> huggingface or "hugging face"."""
        for i in range(2, len(word) - 1):
            left = self._latin_spellings(word[:i], alone=False)[:2]
            right = self._latin_spellings(word[i:], alone=False)[:2]
            if left and right:
                joined = [a + b for a in left for b in right if a + b in self.readings]
                return [*joined, f"{left[0]} {right[0]}"]
        return []

    def expand(self, words: tuple[str, ...]) -> list[str]:
        """Other spellings of the name *words* (a 1-tuple of segment keys)."""
        return self.other_spellings(words[0]) if len(words) == 1 else []

    @property
    def soft(self) -> _Variants:
        """The :meth:`variants` as an expander for the query compiler."""
        return _Variants(self)

    def forbidding(self, pairs: frozenset[frozenset[str]]) -> NameTable | Forbidding:
        """This table without the pairs the owner forbade (the synonyms file's
        ``!`` lines), as an expander for the query compiler."""
        return Forbidding(self, pairs) if pairs else self

    def pairs(self) -> list[tuple[str, str, str]]:
        """Every learned pair as ``(latin, katakana, source)``, for the owner."""
        out = [(latin, fold_word(kana.replace("・", "")), "gloss") for latin, kana in self.glosses]
        seen = {(a, b) for a, b, _ in out}
        for word in sorted(self.readings):
            for kana in self.other_spellings(word):
                if is_katakana_word(kana) and (word, kana) not in seen:
                    out.append((word, kana, "transliteration"))
                    seen.add((word, kana))
        return out

    # --- the version's file -------------------------------------------------

    def write(self, version_path: Path) -> None:
        data = {"readings": self.readings, "katakana": self.katakana,
                "glosses": self.glosses, "latin": self.latin, "posts": self.posts}  # fmt: skip
        (Path(version_path) / NAMES_FILE).write_text(json.dumps(data, ensure_ascii=False), "utf-8")

    @classmethod
    def read(cls, version_path: Path | None) -> NameTable:
        """The version's names; empty for a version without them, and for a
        damaged file, which is logged: search then goes without names."""
        if version_path is None:
            return cls()
        path = Path(version_path) / NAMES_FILE
        try:
            data = json.loads(path.read_text("utf-8"))
            return cls(
                readings=dict(data["readings"]),
                katakana=list(data["katakana"]),
                glosses=[(a, b) for a, b in data["glosses"]],
                latin=list(data.get("latin", ())),
                posts=dict(data.get("posts", {})),
            )
        except FileNotFoundError:
            return cls()
        except Exception as exc:  # noqa: BLE001 - any damage: serve without names
            log.warning("%s: cannot read learned names, searching without them (%s)", path, exc)
            return cls()


@dataclass
class _Variants:
    names: NameTable

    def expand(self, words: tuple[str, ...]) -> list[str]:
        return self.names.variants(words[0]) if len(words) == 1 else []


@dataclass
class Forbidding:
    """An expander (a :class:`NameTable`, or its variants) that never pairs
    the words of *pairs*."""

    table: NameTable | _Variants
    pairs: frozenset[frozenset[str]]

    def expand(self, words: tuple[str, ...]) -> list[str]:
        return [w for w in self.table.expand(words) if frozenset((words[0], w)) not in self.pairs]

    @property
    def soft(self) -> Forbidding:
        return Forbidding(self.table.soft, self.pairs)


def name_words(text: str) -> list[str]:
    """The Latin words a post writes mostly capitalized (NVIDIA, PyTorch,
    Google), lower-cased: the names among its Latin words. URLs and inline
    code do not count."""
    text = _NOT_PROSE.sub(" ", text)
    capitalized: dict[str, int] = {}
    lower: dict[str, int] = {}
    for w in _PROSE_LATIN.findall(text):
        if w.islower():
            lower[w] = lower.get(w, 0) + 1
        elif w[0].isupper():
            capitalized[w.lower()] = capitalized.get(w.lower(), 0) + 1
    return sorted(w for w, n in capitalized.items() if n >= lower.get(w, 0))


_NOT_PROSE = re.compile(r"`[^`\n]*`|https?://\S+|\S+@\S+")
_PROSE_LATIN = re.compile(r"(?<![A-Za-z0-9_/.\-])[A-Za-z]{3,24}(?![A-Za-z0-9_/\-])")


def learn_names(
    vocabulary: Iterable[str],
    named: dict[str, int],
    document_frequency,
    glosses: Iterable[tuple[str, str]],
    previous: NameTable | None = None,
    changed: set[str] | None = None,
) -> NameTable:
    """The name table of a vocabulary (index words). A Latin word is a name
    when at least half the posts that have it write it capitalized (*named*:
    word -> such posts; *document_frequency*: word -> posts with it). Readings
    *previous* computed are not computed again; with *changed* (the words of
    the posts an update analyzed), words outside it keep *previous*'s verdict."""
    names, latin, katakana = [], [], []
    kept_names = previous.readings if previous is not None and changed is not None else {}
    kept_common = previous._common if previous is not None and changed is not None else set()
    for word in vocabulary:
        if is_latin_word(word):
            n = named.get(word, 0)
            if changed is not None and word not in changed and (
                word in kept_names or word in kept_common
            ):
                (names if word in kept_names else latin).append(word)
            elif n and 2 * n >= document_frequency(word):
                names.append(word)
            else:
                latin.append(word)
        elif is_katakana_word(word):
            katakana.append(word)
    known = previous.readings if previous is not None else {}
    readings = transliterator().readings(sorted(names), known)
    posts = {w: named.get(w, 0) for w in readings}
    return NameTable(readings, sorted(katakana), sorted(set(glosses)), sorted(latin), posts)


# The fields whose words are names a reader may type (not code identifiers);
# headings and the lead are in the body too.
VOCABULARY_FIELDS = ("title", "body", "tags_text")


def doc_words(doc: dict) -> set[str]:
    """The words of :data:`VOCABULARY_FIELDS` in a document analyzed for the
    writer (:class:`~search.schema.Preanalyzed` fields)."""
    words: set[str] = set()
    for name in VOCABULARY_FIELDS:
        for item in getattr(doc.get(name), "items", ()):
            words.add(item[0].decode("utf-8"))
    return words


def write_names(
    reader,
    version_path: Path,
    files: Iterable[dict],
    previous: NameTable,
    added_words: set[str] | None = None,
) -> NameTable:
    """Learn the name pairs of the index *reader* reads from its vocabulary
    and the manifest entries *files* (their ``names`` and ``glosses``), and
    write them into the version; readings *previous* has are reused.

    With *added_words* (the words of the posts an incremental build
    analyzed), the vocabulary is *previous*'s plus those instead of the
    index's whole lexicon: reading the lexicon took most of a one-post update
    on 10,000 posts. Words of deleted posts then stay until a full build,
    which costs nothing but a lookup that finds no post."""
    vocabulary: set[str] = set()
    fields = [f for f in VOCABULARY_FIELDS if f in reader.schema]
    if added_words is not None and len(previous) > 0:
        vocabulary.update(previous.readings, previous.latin, previous.katakana, added_words)
    else:
        for name in fields:
            vocabulary.update(
                t.decode("utf-8") if isinstance(t, bytes) else t for t in reader.lexicon(name)
            )
    named: dict[str, int] = {}
    glosses: list[tuple[str, str]] = []
    for entry in files:
        for word in entry.get("names", ()):
            named[word] = named.get(word, 0) + 1
        glosses += [(a, b) for a, b in entry.get("glosses", ())]

    def document_frequency(word: str) -> int:
        return reader.doc_frequency("body", word) or reader.doc_frequency("title", word)

    incremental = added_words is not None and len(previous) > 0
    table = learn_names(vocabulary, named, document_frequency, glosses, previous,
                        added_words if incremental else None)  # fmt: skip
    table.write(version_path)
    return table


def posts_with(reader, word: str) -> int:
    """How many live posts have *word* (an index word, or words with a
    space) in one of the :data:`VOCABULARY_FIELDS`; for the owner's view."""
    docs: set[int] | None = None
    for part in word.split():
        found: set[int] = set()
        for name in VOCABULARY_FIELDS:
            if name in reader.schema and (name, part) in reader:
                found.update(reader.postings(name, part).all_ids())
        docs = found if docs is None else docs & found
    return sum(1 for d in docs or () if not reader.is_deleted(d))
