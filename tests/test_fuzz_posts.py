"""Property-based tests of reading posts: whatever a post file holds, the loader,
the analyzers and the indexer keep going and say what was wrong.

Post files are generated from front matter with every YAML type (and broken
YAML), bodies with pathological Markdown and Unicode, and every encoding
(UTF-8, UTF-8/UTF-16 BOMs, UTF-16 without BOM, Shift_JIS, EUC-JP, invalid
bytes, NULs). Hypothesis runs derandomized: CI sees the same examples every
time. The number of examples each test ran is printed at the end of the run.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reliability_fixtures import HYPOTHESIS_COMMON, ExampleCounter, report
from whoosh import index as whoosh_index

from search.analysis import bigram_terms, word_terms
from search.indexer import build_index
from search.markup import markdown_to_text
from search.posts import find_post_files, load_post
from search.site import SiteConfig

pytest_plugins = ["reliability_fixtures"]

SITE = SiteConfig()
FUZZ_SETTINGS = dict(
    HYPOTHESIS_COMMON,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies: front matter -----------------------------------------------------

KEYS = ["title", "date", "tags", "categories", "tag", "category", "author", "excerpt",
        "slug", "permalink", "published", "layout"]  # fmt: skip

# 100,000 characters; only 4,000 of them Japanese, so that analyzing it
# (Janome: about 60 µs a character) stays well under a second.
HUGE = "長い" * 2_000 + "x" * 96_000
WEIRD_STRINGS = [
    "",
    " ",
    "\t",
    "yes",
    "no",
    "null",
    "~",
    "3.10",
    "0x1F",
    "1e309",
    ".nan",
    "2024-02-30",
    "9999-12-31 23:59:59 -1200",
    "0001-01-01",
    "京都, 大阪、奈良",
    "a\x00b",
    "bell\x07",
    "line\u2028sep",
    "\ufeffBOM inside",
    "\ud83d",  # a lone surrogate: safe_dump writes it as the escape "\uD83D"
    "\udc00\ud800",
    "x" * 5000,
    HUGE,
]

TIMEZONES = [None, timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]

yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(),
    st.builds(
        lambda dt, tz: dt.replace(tzinfo=tz),
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
        st.sampled_from(TIMEZONES),
    ),
    st.text(max_size=40),
    st.sampled_from(WEIRD_STRINGS),
)
# Without the huge values: for batches, which analyze everything they load.
small_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.dates(), st.text(max_size=40),
    st.sampled_from([s for s in WEIRD_STRINGS if len(s) < 1000]),
)


def yaml_values(scalars):
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=12,
    )


# Hand-written YAML that safe_dump never produces: anchors and aliases, tabs,
# tags, syntax errors, duplicate keys, deep nesting, an alias bomb (small).
_BOMB = "\n".join(
    ["l0: &l0 [x, x, x, x]"]
    + [f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}]" for i in range(1, 5)]
)
YAML_FRAGMENTS = [
    "base: &base [旅行, 鉄道]\ntags: *base",
    "meta: &m {name: 山田}\nauthor: *m",
    "loop: &loop [*loop]\ncategories: *loop",
    "title: &t 題名\nexcerpt: *t",
    _BOMB + "\ntags: *l4",
    "\ttitle: tab indented",
    "title:\t'tab after colon'",
    "tags:\n\t- tab item",
    "title: [unclosed",
    "title: {a: 1, b: [2, 3]}",
    "title: 'it''s'",
    'title: "\\ud83d\\ude00 escaped pair"',
    'title: "\\x00\\x07\\u200b"',
    "title: !!python/object:os.system ls",
    "title: !!binary aGVsbG8=",
    "tags: !!set {a, b}",
    "tags: !!omap [a: 1, b: 2]",
    "date: 2024-02-30",
    "date: 2024-13-01 10:00:00",
    "date: 10000-01-01",
    "date: 0001-01-01 00:00:00 +14:00",
    "date: [2024, 1, 1]",
    "published: false",
    "published: 'False'",
    "published: [false]",
    "title: a\ntitle: b",
    "? [complex, key]\n: value",
    "1: integer key\n2.5: float key\nnull: null key",
    "tags: " + "[" * 200 + "x" + "]" * 200,
    "tags: " + "[" * 2000 + "x" + "]" * 2000,
    "excerpt: |\n  block\n  scalar",
    "excerpt: >-\n  folded\n  scalar",
    "%YAML 1.1",
    "--- !!map",
    ": no key",
    "- a list item",
    "title: *undefined_alias",
    "&anchor_only",
    "title: '" + HUGE[:50_000] + "'",
]


@st.composite
def front_matters(draw, huge: bool = True) -> str:
    values = yaml_values(yaml_scalars if huge else small_scalars)
    # Mostly the keys a post has, with plausible values half of the time.
    plausible = {
        "title": st.text(min_size=1, max_size=60) | values,
        "date": st.dates() | st.datetimes() | st.sampled_from(["2024-01-02 03:04:05 +0900",
                                                               "2024/01/02", "昨日"]) | values,
        "tags": st.lists(st.text(max_size=20), max_size=6) | values,
        "categories": st.text(max_size=30) | values,
    }
    meta = draw(
        st.fixed_dictionaries(
            {"title": plausible["title"]},
            optional={k: plausible.get(k, values) for k in KEYS if k != "title"},
        )
    )
    meta.update(draw(st.dictionaries(st.text(max_size=8), values, max_size=3)))
    try:
        text = yaml.safe_dump(
            meta,
            allow_unicode=draw(st.booleans()),
            default_flow_style=draw(st.sampled_from([False, True, None])),
            sort_keys=False,
            width=draw(st.sampled_from([80, 10**6])),
        )
    except yaml.YAMLError:
        text = ""
    lines = text.splitlines()
    fragments = YAML_FRAGMENTS if huge else [f for f in YAML_FRAGMENTS if len(f) < 10_000]
    for fragment in draw(st.lists(st.sampled_from(fragments), max_size=3)):
        lines.insert(draw(st.integers(0, len(lines))), fragment)
    return "\n".join(lines)


# --- strategies: bodies ----------------------------------------------------------

MARKDOWN_PATHOLOGIES = [
    ">" * 1000 + " 深い引用",
    "\n".join(">" * i + " 引用" for i in range(1000)),
    "\n".join(" " * (i % 40) + "- 項目" for i in range(1000)),
    "- " * 1000 + "入れ子のリスト",
    "1. " * 1000 + "番号",
    "```python\nunclosed = 'fence'\n" + "print(1)\n" * 50,
    "~~~\n閉じないフェンス\n",
    "````\n```\n内側\n```\n",
    "[" * 3000,
    "]" * 3000,
    "*" * 3000,
    "_" * 3000,
    "<" * 3000,
    ">" * 3000,
    "`" * 3000,
    "![" * 1500,
    "[a](" * 1000,
    "[a][" * 1000,
    "{%" * 1500,
    "{{" * 1500,
    "{% raw %}" * 300,
    "{% highlight ruby %}\n未完のハイライト",
    "<!--" * 1000,
    "<!-- 閉じないコメント",
    "<script>alert(1)",
    "<style>" * 100,
    "<div>" * 1000,
    "&#" * 1500,
    "&#x110000; &#0; &#xD800; &#xDFFF; &#65533; &amp;amp; &lt;&gt;",
    "\\" * 3000,
    "| a | b |\n|---|---|\n" * 100,
    "#" * 3000,
    "# " * 1000,
    "見出し\n===\n本文\n---\n",
    "***\n___\n---\n",
    "[^1]: 脚注\n[ref]: http://example.com",
]
UNICODE_PATHOLOGIES = [
    "e\u0301" * 100,
    "a" + "\u0301" * 2000,
    "\u0301\u0302先頭の結合文字",
    "👨\u200d👩\u200d👧\u200d👦" * 50,
    "🏳️\u200d🌈 ❤️ ☺︎",
    "\u202eRTL override\u202c \u200f\u200e",
    "العربية עברית",
    "葛\U000e0100城 辻\U000e0101",
    "\ufe0f\ufe0e" * 100,
    "ｶﾞｷﾞｸﾞｹﾞｺﾞ ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ ｳﾞｧｲｵﾘﾝ",
    "ﾞﾟ" * 100,
    "\u3099\u309a" * 50,
    "㈱①②ℌ㍻ ﬁ ß İstanbul ﷺ",
    "\u00ad\u200b\u2060\ufeff",
    "\u2028\u2029\x85",
    "\U0001d400\U0001d401",
    "\u0e49" * 50,
    "Ａｂｃ１２３！？",
    "ー" * 500,
    "ヴヴヴ",
    "\uffff\ufffe\U0010ffff",
    "\ue000\U000f0000",  # private use
]


def _body_piece():
    return st.one_of(
        st.text(max_size=200),
        st.text(st.characters(min_codepoint=0x3000, max_codepoint=0x9FFF), max_size=200),
        st.sampled_from(MARKDOWN_PATHOLOGIES),
        st.sampled_from(UNICODE_PATHOLOGIES),
        st.sampled_from(["", "\n", "\r\n", "\r", "\x00", "\x01\x1f\x7f", "\t" * 50]),
    )


bodies = st.lists(_body_piece(), min_size=1, max_size=6).map("".join)

# --- strategies: whole files, then bytes ------------------------------------------

FRAMINGS = [
    "---\n{fm}\n---\n{body}",  # the normal case
    "---\n{fm}\n...\n{body}",  # YAML document end marker
    "\n\n---\n{fm}\n---\n{body}",  # blank lines before the front matter
    "---   \n{fm}\n---\t\n{body}",  # trailing white space on the fences
    "---\n{fm}\n{body}",  # never closed
    "{body}",  # no front matter
    "---\n---\n{body}",  # empty front matter
    "---\n{fm}\n---\n",  # no body
    "---\n{fm}\n---\n---\n{body}",  # a second fence in the body
]

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp932", "shift_jis",
             "euc-jp", "latin-1", "utf-8-surrogatepass"]  # fmt: skip


def encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-surrogatepass":
        return text.encode("utf-8", "surrogatepass")
    return text.encode(encoding, "replace")


japanese = st.text(
    st.characters(min_codepoint=0x3041, max_codepoint=0x30FC) | st.sampled_from("東京都大阪旅行"),
    min_size=1,
    max_size=30,
)


@st.composite
def clean_posts(draw) -> str:
    """A well-formed post, as most of a real blog is."""
    meta = {
        "title": draw(japanese),
        "date": draw(st.datetimes(datetime(2000, 1, 1), datetime(2030, 1, 1))).strftime(
            "%Y-%m-%d %H:%M:%S +0900"
        ),
        "tags": draw(st.lists(japanese, max_size=4)),
        "categories": draw(st.lists(japanese, max_size=2)),
    }
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    paragraphs = draw(st.lists(japanese.map(lambda t: t + "。"), min_size=1, max_size=5))
    return f"---\n{front}---\n\n# {meta['title']}\n\n" + "\n\n".join(paragraphs) + "\n"


@st.composite
def post_bytes(draw, huge: bool = True) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=2000))  # anything at all
    if kind == 1:
        return draw(clean_posts()).encode("utf-8")
    front = draw(front_matters(huge))
    text = draw(st.sampled_from(FRAMINGS)).format(fm=front, body=draw(bodies))
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(st.booleans()):
        return text.encode("utf-8", "surrogatepass")  # undamaged
    data = encode(text, draw(st.sampled_from(ENCODINGS)))
    # Damage: a foreign BOM in front, stray bytes inside, a cut at the end.
    if draw(st.integers(0, 3)) == 0:
        prefix = draw(st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE,
                                       codecs.BOM_UTF16_BE, b"\x00", b"\xff"]))  # fmt: skip
        data = prefix + data
    if draw(st.integers(0, 3)) == 0:
        for junk in draw(st.lists(st.binary(min_size=1, max_size=4), min_size=1, max_size=3)):
            at = draw(st.integers(0, len(data)))
            data = data[:at] + junk + data[at:]
    if data and draw(st.integers(0, 3)) == 0:
        data = data[: draw(st.integers(len(data) // 2, len(data) - 1))]
    return data


slugs = st.text(
    st.characters(categories=("Ll", "Lu", "Nd", "Lo"), max_codepoint=0x9FFF),
    min_size=1,
    max_size=12,
).map(lambda s: s.replace("/", "-"))


def post_name(day: date, slug: str) -> str:
    return f"{day:%Y-%m-%d}-{slug}.md"


# --- the checks ------------------------------------------------------------------


def check_load(posts_dir: Path, rel: str):
    """load_post on *rel*: never raises; its problems name the file."""
    result = load_post(posts_dir, rel, SITE)
    assert result.path == rel
    for problem in result.problems:
        assert problem.path == rel, problem
        assert problem.level in ("warning", "skip"), problem
        assert problem.message.strip(), problem
        assert rel in str(problem), problem
    skipped = [p for p in result.problems if p.level == "skip"]
    if result.post is None:
        assert skipped, "a skipped file must say why"
    else:
        assert not skipped, [str(p) for p in skipped]
        assert result.post.id == rel
    return result


def check_terms(text: str) -> int:
    """The analyzers never raise on *text* and every offset lies inside it."""
    n = 0
    modes = ("index", "query") if len(text) < 2000 else ("index",)  # Janome is slow
    for terms in (*(word_terms(text, mode) for mode in modes), bigram_terms(text)):
        for term in terms:
            assert term.text, term
            assert 0 <= term.start <= term.end <= len(text), (term, len(text))
            n += 1
    return n


# --- the tests ---------------------------------------------------------------------

LOAD_EXAMPLES = 250


@pytest.fixture(scope="module")
def posts_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz_posts")


def test_load_post_never_raises_and_names_the_file_in_every_problem(posts_dir):
    counter = ExampleCounter("test_fuzz_posts: load_post + analysis")
    unexpected: dict[str, int] = {}
    outcomes = {"indexed": 0, "indexed with warnings": 0, "skipped": 0}

    @settings(max_examples=LOAD_EXAMPLES, **FUZZ_SETTINGS)
    @given(data=post_bytes(), day=st.dates(date(1970, 1, 1), date(2099, 12, 31)), slug=slugs)
    @example(data=b"", day=date(2024, 1, 1), slug="empty")
    @example(data=b"\xff\xfe" + "---\ntitle: x\n".encode("utf-16-le"), day=date(2024, 1, 1),
             slug="utf16")  # fmt: skip
    @example(data="---\ntitle: ｶﾞ\n---\n".encode("cp932"), day=date(2024, 1, 1), slug="sjis")
    def run(data: bytes, day: date, slug: str) -> None:
        counter()
        rel = post_name(day, slug)
        (posts_dir / rel).write_bytes(data)
        try:
            result = check_load(posts_dir, rel)
            if result.post is None:
                outcomes["skipped"] += 1
            else:
                outcomes["indexed with warnings" if result.problems else "indexed"] += 1
            if result.post is not None:
                check_terms(result.post.body)
                check_terms(result.post.title)
                check_terms(result.post.code)
            for p in result.problems:
                if "unexpected error" in p.message:
                    kind = p.message.split(":", 2)[1].strip() if ":" in p.message else p.message
                    unexpected[kind] = unexpected.get(kind, 0) + 1
        finally:
            (posts_dir / rel).unlink()

    run()
    counter.done(LOAD_EXAMPLES)
    report(f"  outcomes: {outcomes}")
    if unexpected:
        report(f"  load_post 'unexpected error' skips seen while fuzzing: {unexpected}")


ANALYSIS_EXAMPLES = 300


def test_analysis_never_raises_and_offsets_point_into_the_original_text():
    counter = ExampleCounter("test_fuzz_posts: analysis of raw text")

    @settings(max_examples=ANALYSIS_EXAMPLES, **FUZZ_SETTINGS)
    @given(text=st.lists(_body_piece() | st.text(), max_size=4).map("".join))
    @example(text="\u0301")
    @example(text="İİİ ﷺ ｶﾞ")
    @example(text="ﾞ" * 10 + "ｶ" + "\u3099" * 5)
    def run(text: str) -> None:
        counter()
        check_terms(text)

    run()
    counter.done(ANALYSIS_EXAMPLES)


ENCODABLE_EXAMPLES = 60


def test_loaded_posts_hold_only_encodable_text(posts_dir):
    """Every string of a Post can be written out as UTF-8.

    YAML's double-quoted escapes can produce lone surrogates ("\\ud83d"); a
    Post that keeps one breaks every JSON or HTML response that shows it.
    """
    counter = ExampleCounter("test_fuzz_posts: encodable Post text")

    @settings(max_examples=ENCODABLE_EXAMPLES, **FUZZ_SETTINGS)
    @given(
        key=st.sampled_from(["title", "excerpt", "author", "permalink", "tags", "categories",
                             "slug"]),  # fmt: skip
        escape=st.sampled_from(["\\ud83d", "\\udc00", "\\ud800\\ud800", "\\x00", "\\u200b",
                                "\\U0001F600", "\\ud83d\\ude00"]),  # fmt: skip
    )
    @example(key="title", escape="\\ud83d")
    def run(key: str, escape: str) -> None:
        counter()
        rel = "2024-01-01-escape.md"
        (posts_dir / rel).write_text(
            f'---\n{key}: "前{escape}後"\n---\n本文です。\n', encoding="utf-8"
        )
        result = check_load(posts_dir, rel)
        post = result.post
        if post is None:
            return
        for name in ("title", "url", "author", "excerpt", "body", "code"):
            value = getattr(post, name)
            value.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
        for value in post.tags + post.categories + post.headings:
            value.encode("utf-8")

    try:
        run()
    finally:
        counter.done(ENCODABLE_EXAMPLES)


BATCH_EXAMPLES = 40


def test_a_batch_of_generated_posts_indexes_completely(tmp_path_factory):
    """Every loadable post is in the index; every other one is reported as skipped."""
    counter = ExampleCounter("test_fuzz_posts: build_index batches")
    totals = {"files": 0, "indexed": 0, "skipped": 0}

    @settings(max_examples=BATCH_EXAMPLES, **FUZZ_SETTINGS)
    @given(files=st.lists(post_bytes(huge=False), min_size=1, max_size=6))
    def run(files: list[bytes]) -> None:
        counter()
        root = tmp_path_factory.mktemp("batch")
        posts_dir = root / "_posts"
        posts_dir.mkdir()
        for i, data in enumerate(files):
            (posts_dir / f"2024-01-{i + 1:02d}-post-{i}.md").write_bytes(data)
        rels = find_post_files(posts_dir)
        assert len(rels) == len(files)
        loadable = {rel for rel in rels if load_post(posts_dir, rel, SITE).post is not None}

        result = build_index(posts_dir, root / "index", SITE, full=True, workers=1)

        version = root / "index" / "versions" / (root / "index" / "CURRENT").read_text().strip()
        ix = whoosh_index.open_dir(str(version))
        try:
            with ix.searcher() as s:
                indexed = {doc["id"] for doc in s.all_stored_fields()}
        finally:
            ix.close()
        skipped = {p.path for p in result.skipped}
        assert indexed == loadable, {
            "missing": sorted(loadable - indexed),
            "unexpected": sorted(indexed - loadable),
            "problems": [str(p) for p in result.problems if p.level == "skip"],
        }
        assert skipped == set(rels) - indexed, [str(p) for p in result.skipped]
        assert result.documents == len(indexed)
        assert not list((root / "index" / "versions").glob(".tmp-*"))
        totals["files"] += len(rels)
        totals["indexed"] += len(indexed)
        totals["skipped"] += len(skipped)

    try:
        run()
    finally:
        counter.done(BATCH_EXAMPLES)
        report(f"  batch totals: {totals}")


# --- targeted regressions found while fuzzing --------------------------------------


BAD_DATES = {
    # PyYAML resolves an unquoted YYYY-MM-DD as a timestamp and raises
    # ValueError (not a YAMLError) when the day does not exist.
    "unquoted impossible day": "date: 2024-02-30",
    "impossible day in a tag list": "tags: [2024-13-01]",
    # Valid instants whose conversion to the site's zone or to UTC leaves
    # the calendar (OverflowError), while loading or while indexing.
    "last instant with -12:00": "date: 9999-12-31 23:59:59 -12:00",
    "first instant with +14:00": "date: 0001-01-01 00:00:00 +14:00",
    "first day, site time zone": "date: 0001-01-01",
}


@pytest.mark.parametrize("case", list(BAD_DATES))
def test_impossible_or_out_of_range_dates_do_not_drop_the_post(tmp_path, case):
    """A date typo is a warning, as README promises, not a reason to drop the post.

    ``date: '2024-02-30'`` (quoted) and ``date: 2024-02-30 10:00:00 +0900``
    already fall back to the date in the file name with a warning; these
    forms are skipped as "unexpected error" or fail analysis instead.
    """
    posts = tmp_path / "_posts"
    posts.mkdir()
    rel = "2024-02-28-date.md"
    (posts / rel).write_text(f"---\ntitle: 日付の誤り\n{BAD_DATES[case]}\n---\n本文\n", "utf-8")
    result = check_load(posts, rel)
    assert result.post is not None, [str(p) for p in result.problems]
    assert result.post.title == "日付の誤り"
    built = build_index(posts, tmp_path / "index", SITE, workers=1)
    assert built.documents == 1, [str(p) for p in built.problems]


def test_yaml_alias_bomb_in_the_date_does_not_exhaust_memory(tmp_path):
    """A 400-byte front matter with nested aliases must load quickly.

    Aliases let 10 lines describe 9**10 values; anything that renders the
    whole value (``str(value)``) needs gigabytes. It runs in a subprocess
    with a 256 MiB address-space limit so that a failure ends in a
    MemoryError after a few seconds instead of taking the machine down.
    """
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    front = "\n".join(lines) + "\ndate: *a9\ntitle: 爆弾\n"
    rel = "2024-01-01-bomb.md"
    (tmp_path / rel).write_text(f"---\n{front}---\n本文\n", encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import resource, time
        from pathlib import Path
        from search.posts import load_post
        from search.site import SiteConfig
        resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))
        started = time.monotonic()
        r = load_post(Path({str(tmp_path)!r}), {rel!r}, SiteConfig())
        print(r.post is not None, round(time.monotonic() - started, 2))
        print([str(p) for p in r.problems])
        """
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("load_post did not finish within 60 s on a 10-level alias bomb")
    report(f"  alias bomb (10 levels) as the date: {proc.stdout.strip()!r}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded, seconds = proc.stdout.split("\n")[0].split()
    assert loaded == "True", proc.stdout
    assert float(seconds) < 2, proc.stdout


# Lines that make a backtracking regex quadratic, sized so that a quadratic
# pattern takes seconds here while a linear one takes milliseconds.
PATHOLOGICAL_LINES = {
    "spaces then a dash (table rule)": " " * 10_000 + "- x",
    "spaces then a pipe (table rule)": " " * 10_000 + "|x",
    "heading with a run of spaces": "# a" + " " * 10_000 + "b",
    "unclosed ~~strikes~~": "~~x " * 5_400,
    "unclosed **strong**": "**x " * 5_400,
    "unclosed __strong__": "__x " * 5_400,
    "unclosed <autolinks": "<http:" * 5_200,
    "unclosed <script": "<script" * 14_300,
    "unclosed block tags": "<div" * 19_500,
    "open brackets": "[" * 100_000,
    "stars": "*" * 100_000,
    "underscores": "_" * 100_000,
    "angle brackets": "<" * 100_000,
    "nested quotes": ">" * 100_000 + " x",
    "nested lists": "- " * 50_000 + "x",
    "backticks": "``x `" * 20_000,
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL_LINES))
def test_pathological_markdown_is_reduced_in_linear_time(name):
    """markup.py promises linear-time patterns: a post is untrusted text.

    Posts of up to 1,000,000 characters are indexed; a quadratic pattern
    turns one such line into hours of indexing.
    """
    text = PATHOLOGICAL_LINES[name]
    started = time.perf_counter()
    markdown_to_text(text)
    elapsed = time.perf_counter() - started
    report(f"  markdown_to_text, {name} ({len(text):,} chars): {elapsed * 1000:.0f} ms")
    assert elapsed < 0.3, f"{name}: {elapsed:.2f} s for {len(text):,} characters"
