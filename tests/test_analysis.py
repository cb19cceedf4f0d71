"""Normalization with offsets, Janome words and bigrams (search/analysis.py)."""

from __future__ import annotations

import pickle
import re
import threading

import pytest

from search.analysis import (
    BigramTokenizer,
    Term,
    WordTokenizer,
    bigram_terms,
    fold_kana,
    fold_word,
    katakana_parts,
    normalize,
    word_terms,
)
from search.schema import build_schema

# Each text holds characters whose NFKC form has another length, or that are
# dropped: full-width letters, half-width kana with separate voicing marks,
# enclosed forms, emoji (with ZWJ), zero-width spaces, NFD combining marks,
# variation selectors, soft hyphens, ligatures and era names.
AWKWARD_TEXTS = [
    "ＡＢＣとｶﾞｷﾞの会社",
    "㈱東京と①番目の駅",
    "寿司🍣と天ぷら👨\u200d👩\u200d👧の家族",
    "デー\u200bタ\u200bベースの設計",
    "テ\u3099ータとハ\u309aンの話",
    "葛\U000e0100飾区の邊\ufe00さん",
    "ｻｰﾊﾞｰ ﾃﾞｰﾀﾍﾞｰｽ ﾊﾞｯｸｱｯﾌﾟ",
    "Ｌｌａｍａ４ と pthread_key_create と ＧＰＵ\u00adサーバー",
    "㍻三十年の ﬁle 名前",
    "①②③ と ⑩",
]
_EDGES = re.compile(r"^\W+|\W+$")


def _normalized(piece: str) -> str:
    return _EDGES.sub("", normalize(piece).text)


def assert_word_spans(text: str, terms: list[Term]) -> None:
    """Every word's original slice normalizes (and folds) to the word."""
    assert terms, f"no words in {text!r}"
    for t in terms:
        piece = text[t.start : t.end]
        assert piece, f"{t} has an empty span in {text!r}"
        assert piece == piece.strip(), f"{t}: span {piece!r} has white space at an edge"
        assert fold_word(_normalized(piece)) == t.text, f"{t}: span is {piece!r}"


def assert_bigram_spans(text: str, terms: list[Term]) -> None:
    """Every bigram's slice contains it after normalization, and is minimal."""
    assert terms, f"no bigrams in {text!r}"
    for t in terms:
        piece = text[t.start : t.end]
        assert t.text in fold_kana(normalize(piece).text), f"{t}: span is {piece!r}"
        if len(piece) > 1:
            assert t.text not in fold_kana(normalize(piece[1:]).text), f"{t}: {piece!r} too wide"
            assert t.text not in fold_kana(normalize(piece[:-1]).text), f"{t}: {piece!r} too wide"


# --- offsets into the original text --------------------------------------------


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
def test_word_spans_point_at_the_original_surface(text):
    assert_word_spans(text, word_terms(text))


@pytest.mark.parametrize("text", [t for t in AWKWARD_TEXTS if not t.startswith("①")])
def test_bigram_spans_point_at_the_original_surface(text):
    assert_bigram_spans(text, bigram_terms(text))


@pytest.mark.parametrize(
    ("text", "word", "surface"),
    [
        ("ＡＢＣ", "abc", "ＡＢＣ"),
        ("xｶﾞｷﾞx", "ガギ", "ｶﾞｷﾞ"),
        ("㈱", "株", "㈱"),
        ("①", "1", "①"),
        ("🍣データ🍣", "データ", "データ"),
        ("デー\u200bタ\u200bベース", "データベース", "デー\u200bタ\u200bベース"),
        ("\u200bデータ\u200b", "データ", "データ"),
        ("の テ\u3099ータ の", "データ", "テ\u3099ータ"),
        ("葛\U000e0100飾", "葛飾", "葛\U000e0100飾"),
        ("ｻｰﾊﾞｰです", "サーバ", "ｻｰﾊﾞｰ"),
        ("Ｌｌａｍａ４", "llama4", "Ｌｌａｍａ４"),
    ],
)
def test_word_span_is_exactly_the_surface(text, word, surface):
    terms = [t for t in word_terms(text) if t.text == word]
    assert terms, [t.text for t in word_terms(text)]
    assert text[terms[0].start : terms[0].end] == surface


@pytest.mark.parametrize("tokenizer", [WordTokenizer(), BigramTokenizer()])
@pytest.mark.parametrize("text", AWKWARD_TEXTS[:-1])
def test_whoosh_tokenizer_chars_slice_the_original_text(tokenizer, text):
    expected = word_terms if isinstance(tokenizer, WordTokenizer) else bigram_terms
    tokens = [
        (t.text, t.pos, t.startchar, t.endchar) for t in tokenizer(text, positions=True, chars=True)
    ]
    assert tokens == [(t.text, t.pos, t.start, t.end) for t in expected(text)]
    terms = [Term(text_, pos, start, end) for text_, pos, start, end in tokens]
    if isinstance(tokenizer, WordTokenizer):
        assert_word_spans(text, terms)
    else:
        assert_bigram_spans(text, terms)


def test_whoosh_tokenizer_offsets_respect_start_char_and_start_pos():
    tokens = [
        (t.text, t.pos, t.startchar, t.endchar)
        for t in WordTokenizer()("ｻｰﾊﾞｰ", positions=True, chars=True, start_char=10, start_pos=5)
    ]
    assert tokens == [("サーバ", 5, 10, 15)]


def test_whoosh_tokenizer_keeps_original_surface():
    # Whoosh reuses one Token object: read each as it comes.
    tokens = [(t.text, t.original) for t in WordTokenizer()("ｶﾞｷﾞの㈱", keeporiginal=True)]
    assert tokens == [("ガギ", "ｶﾞｷﾞ"), ("株", "㈱")]


def test_normalize_maps_every_position_back():
    text = "ｶﾞ㈱\u200bＡ"
    norm = normalize(text)
    assert norm.text == "ガ(株)a"
    assert norm.span(0, 1) == (0, 2)  # ガ <- ｶﾞ
    assert norm.span(1, 4) == (2, 3)  # (株) <- ㈱
    assert norm.span(4, 5) == (4, 5)  # a <- Ａ, after the dropped zero-width space


def test_emoji_and_format_characters_alone_give_no_terms():
    for text in ["🍣", "👨\u200d👩\u200d👧", "\u200b\u200c\u200d\ufeff", "\ufe0f", ""]:
        assert word_terms(text) == []
        assert bigram_terms(text) == []


def test_control_characters_do_not_join_words():
    assert [t.text for t in word_terms("abc\x07def")] == ["abc", "def"]


# --- folding ---------------------------------------------------------------------


def words(text: str, mode: str = "index") -> list[str]:
    return [t.text for t in word_terms(text, mode)]


def test_computer_spellings_fold_to_one_word():
    assert words("コンピューター") == words("コンピュータ") == words("ｺﾝﾋﾟｭｰﾀｰ")
    assert len(words("コンピュータ")) == 1


def test_server_spellings_fold_to_one_word():
    assert words("サーバー") == words("サーバ") == words("ｻｰﾊﾞｰ")


def test_vu_spellings_fold_to_one_word():
    assert words("ヴァイオリン") == words("バイオリン")


def test_wi_spellings_fold_to_one_word():
    assert words("ウィンドウ") == words("ウインドウ")


def test_hiragana_and_katakana_fold_to_one_word():
    assert words("りんご") == words("リンゴ")


def test_full_width_and_case_fold():
    assert words("Ｌｌａｍａ４") == words("LLAMA4") == words("llama4")


def test_short_word_keeps_its_long_vowel():
    assert fold_word("ビー") == "ビー"
    assert fold_word("ルー") == "ルー"


def test_inflected_verb_is_indexed_by_base_form():
    ran, run = word_terms("走った"), word_terms("走る")
    assert [t.text for t in ran] == [t.text for t in run]
    assert len(ran) == 1
    assert "走った"[ran[0].start : ran[0].end] == "走っ"


def test_inflected_adjective_is_indexed_by_base_form():
    assert words("美しかった") == words("美しい")


def test_particles_auxiliaries_and_punctuation_are_dropped():
    terms = words("東京へ行きます。私は学生です、よろしく！")
    assert "東京" in terms and "学生" in terms
    assert words("行く")[0] in terms
    for stop in ["へ", "は", "ます", "です", "。", "、", "！"]:
        assert fold_word(stop) not in terms
    assert words("の") == []
    assert words("することがある") == []


def test_ascii_identifier_is_indexed_whole_and_by_parts():
    assert words("pthread_key_create") == ["pthread_key_create", "pthread", "key", "create"]
    assert words("pthread_key_create", mode="query") == ["pthread_key_create"]


def test_ascii_identifier_parts_follow_in_positions():
    terms = word_terms("pthread_key_create と python3")
    assert [(t.text, t.pos) for t in terms] == [
        ("pthread_key_create", 0),
        ("pthread", 0),
        ("key", 1),
        ("create", 2),
        ("python3", 3),
        ("python", 3),
        ("3", 4),
    ]


def test_bigrams_of_compound_contain_the_inner_word():
    grams = [t.text for t in bigram_terms("東海道新幹線")]
    assert "新幹" in grams and "幹線" in grams
    assert grams == ["東海", "海道", "道新", "新幹", "幹線", "線"]


def test_bigrams_fold_kana_and_gap_between_runs():
    terms = bigram_terms("りんご、みかん")
    assert [t.text for t in terms] == ["リン", "ンゴ", "ゴ", "ミカ", "カン", "ン"]
    # Runs are separated by a position gap so phrases do not cross them.
    assert terms[3].pos - terms[2].pos > 1


# --- pickling and threads ------------------------------------------------------------


def test_schema_with_tokenizers_pickles_after_use():
    schema = build_schema()
    list(schema["body"].analyzer("東京で使ってから", positions=True, chars=True))
    data = pickle.dumps(schema)
    assert b"janome" not in data.lower()  # no Janome instance travels with the schema
    restored = pickle.loads(data)
    assert restored["body"].analyzer == WordTokenizer()
    assert restored["body_ngram"].analyzer == BigramTokenizer()
    tokens = [
        (t.text, t.startchar, t.endchar)
        for t in restored["body"].analyzer("ｶﾞｷﾞの東京", positions=True, chars=True)
    ]
    assert tokens == [("ガギ", 0, 4), ("東京", 5, 7)]


def test_tokenizers_pickle_on_their_own():
    for tok in (WordTokenizer(), BigramTokenizer()):
        again = pickle.loads(pickle.dumps(tok))
        assert again == tok
        assert [t.text for t in again("東海道新幹線")]


def test_unknown_katakana_compound_splits_into_known_words():
    # Janome keeps these whole (unknown words); their parts are dictionary words.
    assert katakana_parts("シングルユーザログイン") == ("シングル", "ユーザ", "ログイン")
    parts = katakana_parts("アクセスコントロールライブラリ")
    assert parts == ("アクセス", "コントロール", "ライブラリ")


def test_unknown_piece_of_a_katakana_compound_stays_one_part():
    # Janome's splitter cuts the piece it does not know into fragments.
    assert katakana_parts("チューニングツール") == ("チューニング", "ツール")
    assert katakana_parts("プリンタケイパビリティデータベース") == (
        "プリンタ", "ケイパビリティ", "データベース")  # fmt: skip


@pytest.mark.parametrize(
    "word",
    [
        "メッセージキュー",  # a dictionary word: Janome's own split stands
        "データ",  # too short to be a compound
        "ユーザー識別",  # not katakana only
    ],
)
def test_katakana_word_that_is_not_an_unknown_compound_has_no_parts(word):
    assert katakana_parts(word) == ()


THREAD_TEXTS = [
    "東海道新幹線で京都へ行った。車窓から富士山が見えた。",
    "スマートフォンアプリケーションの開発を始めた。",
    "ｻｰﾊﾞｰ室のｺﾝﾋﾟｭｰﾀｰでﾃﾞｰﾀﾍﾞｰｽを動かす。",
    "pthread_key_create() はスレッド固有データのキーを作る。",
    "昨日はとても寒かったので、家で本を読んでいました。",
]


def test_analysis_is_thread_safe():
    def analyze(text: str) -> tuple:
        return (
            tuple((t.text, t.pos, t.start, t.end) for t in word_terms(text)),
            tuple((t.text, t.pos, t.start, t.end) for t in bigram_terms(text)),
        )

    expected = [analyze(t) for t in THREAD_TEXTS]
    errors: list[BaseException] = []
    mismatches: list[int] = []
    start = threading.Barrier(4)

    def worker(offset: int) -> None:
        try:
            start.wait()
            for i in range(50):
                k = (i + offset) % len(THREAD_TEXTS)
                if analyze(THREAD_TEXTS[k]) != expected[k]:
                    mismatches.append(k)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert mismatches == []
