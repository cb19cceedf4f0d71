"""The query engine (search.query.SearchEngine) over a tiny Japanese blog.

Query language, soft AND, ranking, filters, facets, paging, snippets,
did-you-mean, related posts and hot reload, without HTTP in between.
"""

from __future__ import annotations

import html
import unicodedata
from datetime import date
from types import SimpleNamespace

import numpy as np
import pytest
from api_fixtures import (
    KYOTO_AUTUMN,
    KYOTO_TRIP,
    KYOTO_WALK,
    LATE_NIGHT,
    NEW_POST,
    NEW_YEAR,
    ONSEN,
    POSTS,
    PYTHON_INTRO,
    PYTHON_WEB,
    SAPPORO_RAMEN,
    TOKYO_RAMEN,
    TWIN_NEW,
    TWIN_OLD,
    XSS,
    XSS_TITLE,
    add_new_post,
    assert_only_marks,
    ids,
    index_posts,
    instant,
    parse_markup,
)

from search.posts import normalize_label
from search.query import QueryError, SearchEngine, SearchRequest, _ranked_page

pytest_plugins = ["api_fixtures"]


@pytest.fixture
def run(api_engine):
    def run(q: str = "", **kwargs):
        return api_engine.search(SearchRequest(q=q, per_page=kwargs.pop("per_page", 50), **kwargs))

    return run


# --- query language -----------------------------------------------------------


def test_bracket_phrase_matches_only_contiguous_words(run):
    assert ids(run("「京都タワー」").hits) == [KYOTO_TRIP]
    # A compound typed alone is one word too; spaced, its words may stand apart.
    assert ids(run("京都タワー").hits) == [KYOTO_TRIP]
    assert {KYOTO_TRIP, KYOTO_WALK} <= set(ids(run("京都 タワー").hits))


def test_double_quoted_phrase_matches_only_words_in_order(run):
    assert ids(run('"machine learning"').hits) == [PYTHON_INTRO]
    assert set(ids(run("machine learning").hits)) == {PYTHON_INTRO, PYTHON_WEB}


def test_curly_quoted_phrase_is_a_phrase_too(run):
    assert ids(run("“京都タワー”").hits) == [KYOTO_TRIP]
    assert ids(run("『京都タワー』").hits) == [KYOTO_TRIP]


def test_or_matches_posts_with_either_word(run):
    result = run("札幌 OR 抹茶")
    assert set(ids(result.hits)) == {SAPPORO_RAMEN, KYOTO_AUTUMN}
    assert result.relaxed is False  # one OR group: every post satisfies it


def test_lowercase_or_is_an_ordinary_word(run):
    # Only the upper-case keyword is syntax; "or" is searched (and found nowhere).
    assert run("札幌 or 抹茶").relaxed is True


def test_minus_word_excludes_posts(run):
    everything = set(ids(run("京都").hits))
    assert {KYOTO_WALK, KYOTO_AUTUMN} <= everything
    result = run("京都 -紅葉")
    assert set(ids(result.hits)) == everything - {KYOTO_WALK, KYOTO_AUTUMN}
    assert result.total == len(everything) - 2


def test_plus_word_is_required(run):
    # Of three words two are enough (minimum_should_match), unless one is +.
    assert set(ids(run("ラーメン 札幌 東京").hits)) == {SAPPORO_RAMEN, TOKYO_RAMEN}
    assert ids(run("ラーメン +札幌 東京").hits) == [SAPPORO_RAMEN]


def test_tag_qualifier_filters_by_tag(run):
    assert set(ids(run("tag:ラーメン").hits)) == {SAPPORO_RAMEN, TOKYO_RAMEN}
    assert set(ids(run("tag:python").hits)) == {PYTHON_INTRO, PYTHON_WEB}
    assert set(ids(run("京都 tag:グルメ").hits)) == {TOKYO_RAMEN, KYOTO_AUTUMN}


def test_category_qualifier_filters_by_category(run):
    assert set(ids(run("category:旅行").hits)) == {KYOTO_TRIP, KYOTO_WALK, KYOTO_AUTUMN, ONSEN}
    assert set(ids(run("ラーメン category:グルメ").hits)) == {SAPPORO_RAMEN, TOKYO_RAMEN}
    assert run("ラーメン category:技術").total == 0


def test_title_qualifier_searches_titles_only(run):
    assert TOKYO_RAMEN in ids(run("京都").hits)  # 京都 is in its body
    assert set(ids(run("title:京都").hits)) == {KYOTO_TRIP, KYOTO_WALK, KYOTO_AUTUMN}


@pytest.mark.parametrize(
    "q",
    [
        '"京都', "「京都", "京都」", '京都"', "『", '"', '""', "「」", "OR", "OR OR", "京都 OR",
        "OR 京都", "京都 OR OR 札幌", "-", "+", "--京都", "+-京都", "-+京都", "tag:", "title:",
        'title:"', "category:「", "tag:OR", "！？。、", "...", "の", "は が を", "(京都", "京都)",
        "*", "京都*", "?", "AND", "NOT 京都", "\\", "\x00", "\u200b\ufeff", "\u202e京都",
        "🍣🍣", "あ" * 500, "京都 " * 100, "-京都", "-京都 -札幌", "python.", "a-b-c",
    ],
)  # fmt: skip
def test_awkward_queries_never_raise(api_engine, q):
    result = api_engine.search(SearchRequest(q=q[:500]))
    assert result.total >= len(result.hits)
    assert set(result.facets) == {"tags", "categories", "year", "month"}


@pytest.mark.parametrize("q", ['"京都', "「京都", "京都」", "OR 京都", "京都 OR", "京都 OR OR"])
def test_unbalanced_quotes_and_stray_or_search_the_words(run, q):
    assert ids(run(q).hits) == ids(run("京都").hits)


def test_only_or_or_punctuation_finds_nothing(run):
    for q in ("OR", "！？。、", "...", "-", "「」"):
        result = run(q)
        assert result.total == 0 and result.hits == [], q
        assert all(counts == {} for counts in result.facets.values()), q


def test_only_particles_search_the_characters(run):
    result = run("の")
    assert result.total > 0
    for hit in result.hits:
        assert "の" in hit.title + hit.snippet


# --- every word, then relaxed ------------------------------------------------------


def test_a_short_query_finds_only_posts_with_every_word(run):
    result = run("京都 抹茶")
    assert ids(result.hits) == [KYOTO_AUTUMN]
    assert len(ids(run("京都").hits)) > 1
    assert result.relaxed is False and result.unmatched_words == []


def test_a_post_with_every_word_is_found_though_another_scores_higher_for_one(run):
    # TOKYO_RAMEN scores higher for ラーメン alone, but only SAPPORO_RAMEN has 札幌 too.
    assert ids(run("ラーメン").hits) == [TOKYO_RAMEN, SAPPORO_RAMEN]
    result = run("ラーメン 札幌")
    assert ids(result.hits) == [SAPPORO_RAMEN]
    assert result.relaxed is False


def test_a_word_no_post_has_is_dropped_and_named(run):
    result = run("京都 ドローン")
    assert set(ids(result.hits)) == set(ids(run("京都").hits))
    assert result.relaxed is True
    assert result.unmatched_words == ["ドローン"]
    assert result.matched_words == ["京都"]


def test_a_single_word_no_post_has_finds_nothing(run):
    for q in ("ドローン", "京都ドローン"):
        result = run(q)
        assert result.total == 0 and result.relaxed is False, q


def test_relaxed_only_when_no_post_has_every_word(run):
    relaxed = run("札幌 抹茶")
    assert relaxed.relaxed is True
    assert set(ids(relaxed.hits)) == {SAPPORO_RAMEN, KYOTO_AUTUMN}
    assert run("京都 抹茶").relaxed is False
    assert run("京都").relaxed is False
    assert run("存在しないキーワード ふたつめの単語").relaxed is False  # no hits at all


def test_relaxed_is_judged_within_the_filters(run):
    # Among 鉄道 posts none has 抹茶, although KYOTO_AUTUMN (not 鉄道) has both words.
    result = run("京都 抹茶", tags=["鉄道"])
    assert ids(result.hits) == [KYOTO_TRIP]
    assert result.relaxed is True


def test_long_unspaced_sentence_finds_the_post(run):
    result = run("新幹線で京都へ行く安い方法")
    assert result.total > 0
    assert ids(result.hits)[0] == KYOTO_TRIP
    assert result.relaxed is False


# --- ranking, sorting, paging ------------------------------------------------------


def test_relevance_ties_go_to_the_newer_post(run):
    result = run("ハリネズミ")
    assert ids(result.hits) == [TWIN_NEW, TWIN_OLD]
    assert result.hits[0].score == pytest.approx(result.hits[1].score)


def test_a_ranked_page_is_the_same_slice_as_sorting_every_matched_post():
    # _ranked_page sorts only the posts that can reach the page; the page
    # must be what sorting all of them by (tier, score, newer) gives.
    rng = np.random.default_rng(7)
    for _ in range(500):
        n = int(rng.integers(1, 600))
        score = rng.integers(0, 6, n) * rng.choice([1.0, 0.37])  # many ties
        matched = rng.random(n) < 0.8
        all_words = rng.random(n) < rng.random()
        labelled = rng.random(n) < rng.random()
        timestamp = rng.integers(0, 5, n).astype(float)
        ev = SimpleNamespace(score=score, strict=bool(rng.integers(0, 2)))
        start = int(rng.integers(0, 40))
        end = start + int(rng.integers(1, 20))
        table = SimpleNamespace(timestamp=timestamp)
        page = _ranked_page(table, ev, matched, all_words, labelled, start, end)
        docs = np.flatnonzero(matched)
        no_words = ~all_words[docs] if ev.strict else np.zeros(len(docs), dtype=bool)
        no_label = ~labelled[docs] if ev.strict else np.zeros(len(docs), dtype=bool)
        order = np.lexsort((-timestamp[docs], -score[docs], no_label, no_words))
        assert page == [(int(d), float(score[d])) for d in docs[order[start:end]]]


@pytest.mark.parametrize("sort, newest_first", [("date", True), ("-date", False)])
def test_date_sorts_order_by_instant(run, sort, newest_first):
    by_relevance = run("京都 OR ラーメン OR 日記")
    result = run("京都 OR ラーメン OR 日記", sort=sort)
    assert set(ids(result.hits)) == set(ids(by_relevance.hits))
    instants = [instant(h.date) for h in result.hits]
    assert instants == sorted(instants, reverse=newest_first)
    assert all(h.score is None for h in result.hits)


def test_empty_query_with_a_filter_browses_newest_first(run):
    result = run("", tags=["旅行"])
    assert ids(result.hits) == [KYOTO_AUTUMN, KYOTO_WALK, KYOTO_TRIP]
    assert result.relaxed is False and result.did_you_mean is None
    assert result.facets["categories"] == {"旅行": 3}
    assert result.facets["year"] == {"2022": 2, "2024": 1}


def test_empty_query_lists_every_post_newest_first(run):
    result = run("")
    assert result.total == len(POSTS)
    instants = [instant(h.date) for h in result.hits]
    assert instants == sorted(instants, reverse=True)


def test_page_beyond_the_end_is_empty_with_correct_totals(api_engine):
    result = api_engine.search(SearchRequest(q="", page=4, per_page=5))
    assert result.hits == []
    assert result.total == len(POSTS) == 13
    assert result.total_pages == 3
    assert result.to_dict()["totalPages"] == 3
    last = api_engine.search(SearchRequest(q="", page=3, per_page=5))
    assert len(last.hits) == 3


@pytest.mark.parametrize("q", ["", "は が を", "京都 OR ラーメン OR 日記"])
def test_pages_partition_the_ranked_results(api_engine, q):
    whole = ids(api_engine.search(SearchRequest(q=q, per_page=50)).hits)
    paged: list[str] = []
    for page in range(1, 5):
        paged += ids(api_engine.search(SearchRequest(q=q, page=page, per_page=4)).hits)
    assert paged == whole
    assert len(set(paged)) == len(paged)


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"page": 0}, "page"),
        ({"page": -3}, "page"),
        ({"page": 101}, "page"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 51}, "per_page"),
        ({"sort": "score"}, "sort"),
        ({"month": 13}, "month"),
        ({"month": 0}, "month"),
        ({"date_from": date(2024, 5, 2), "date_to": date(2024, 5, 1)}, "from"),
        ({"q": "あ" * 501}, "q"),
        ({"tags": ["x"] * 21}, "tag"),
        ({"categories": ["x"] * 21}, "category"),
    ],
)
def test_invalid_requests_raise_query_error_naming_the_parameter(api_engine, kwargs, param):
    with pytest.raises(QueryError) as info:
        api_engine.search(SearchRequest(**kwargs))
    assert info.value.param == param


def test_per_page_fifty_is_allowed(api_engine):
    result = api_engine.search(SearchRequest(q="", per_page=50))
    assert len(result.hits) == result.total == len(POSTS)


# --- filters and dates ----------------------------------------------------------


def test_tag_values_are_ored_and_case_insensitive(run):
    assert set(ids(run("", tags=["ラーメン", "PYTHON"]).hits)) == {
        SAPPORO_RAMEN, TOKYO_RAMEN, PYTHON_INTRO, PYTHON_WEB,
    }  # fmt: skip


def test_tag_and_category_filters_combine_with_and(run):
    assert ids(run("", tags=["グルメ"], categories=["旅行"]).hits) == [KYOTO_AUTUMN]


def test_date_range_days_are_inclusive_in_tokyo(run):
    # 2024-06-30 23:30 UTC is 2024-07-01 08:30 in Tokyo.
    day = date(2024, 7, 1)
    assert ids(run("", date_from=day, date_to=day).hits) == [LATE_NIGHT]
    june_30 = date(2024, 6, 30)
    assert run("", date_from=june_30, date_to=june_30).total == 0
    assert LATE_NIGHT not in ids(run("", date_to=june_30).hits)
    assert LATE_NIGHT in ids(run("", date_from=day).hits)
    # Both ends of a one-day range are included (10:00 +09:00 on that day).
    first = date(2022, 3, 15)
    assert ids(run("", date_from=first, date_to=first).hits) == [KYOTO_TRIP]


def test_year_and_month_are_those_of_tokyo(run):
    # 2023-12-31 15:00 UTC is midnight on 2024-01-01 in Tokyo.
    assert NEW_YEAR in ids(run("", year=2024).hits)
    assert NEW_YEAR not in ids(run("", year=2023).hits)
    assert ids(run("", year=2024, month=1).hits) == [NEW_YEAR]
    assert ids(run("", year=2024, month=7).hits) == [LATE_NIGHT]
    assert run("", year=2024, month=6).total == 0
    assert ids(run("", date_from=date(2024, 1, 1), date_to=date(2024, 1, 1)).hits) == [NEW_YEAR]
    assert run("", date_from=date(2023, 12, 31), date_to=date(2023, 12, 31)).total == 0


# --- facets ---------------------------------------------------------------------


def test_tag_facet_ignores_the_tag_filter_other_facets_respect_it(run):
    unfiltered = run("")
    filtered = run("", tags=["ラーメン"])
    assert filtered.facets["tags"] == unfiltered.facets["tags"]
    assert filtered.facets["categories"] == {"グルメ": 2}
    assert filtered.facets["year"] == {"2022": 2}
    assert filtered.facets["month"] == {"2022-08": 1, "2022-11": 1}


def test_facets_are_disjunctive_per_facet_with_two_filters(run):
    result = run("", tags=["グルメ"], categories=["旅行"])
    # Tags counted over category 旅行 only; categories over tag グルメ only.
    assert result.facets["tags"] == {"旅行": 3, "散歩": 2, "グルメ": 1, "鉄道": 1}
    assert result.facets["categories"] == {"グルメ": 2, "日記": 1, "旅行": 1}
    assert result.facets["year"] == {"2024": 1}


def test_facets_follow_the_query(run):
    result = run("京都", tags=["旅行"])
    assert result.facets["tags"] == run("京都").facets["tags"]
    assert result.facets["tags"]["グルメ"] == 2  # TOKYO_RAMEN, KYOTO_AUTUMN
    assert "Python" not in result.facets["tags"]


def test_facets_count_the_whole_result_not_the_page(run):
    result = run("", per_page=1)
    assert sum(result.facets["year"].values()) == len(POSTS)


def test_facets_are_ordered_by_count_then_value(run):
    facets = run("").facets
    assert list(facets["tags"])[:2] == ["グルメ", "旅行"]
    for name, counts in facets.items():
        keys = list(counts)
        expected = sorted(keys, key=lambda k: (-counts[k], normalize_label(k)))
        assert keys == expected, name
    assert list(facets["year"]) == ["2024", "2022", "2023"]


def test_facet_limit_keeps_the_top_values(api_engine):
    result = api_engine.search(SearchRequest(q="", facet_limit=2))
    assert result.facets["tags"] == {"グルメ": 4, "旅行": 3}
    assert result.facets["year"] == {"2024": 6, "2022": 4}
    assert all(len(v) <= 2 for v in result.facets.values())


# --- snippets and highlighting ----------------------------------------------------


@pytest.mark.parametrize("q", ["京都", "python", "温泉", "比較演算子", "onerror", "の", "", "img"])
def test_snippets_and_titles_contain_only_mark_tags(run, q):
    for hit in run(q).hits:
        assert_only_marks(hit.snippet)
        assert_only_marks(hit.title_highlighted)


def test_snippet_escapes_html_special_characters(run):
    hit = run("比較演算子").hits[0]
    assert hit.id == XSS
    assert "a &lt; b &amp;&amp; c &gt; d" in hit.snippet


def test_marks_land_on_the_matched_characters(run):
    hit = run("新幹線").hits[0]
    marked = parse_markup(hit.snippet).marked
    assert marked and set(marked) == {"新幹線"}


def test_marks_cover_the_original_full_width_characters(run):
    hits = {h.id: h for h in run("python").hits}
    web = parse_markup(hits[PYTHON_WEB].snippet).marked
    assert "ＰＹＴＨＯＮ" in web
    for hit in hits.values():
        for text in parse_markup(hit.snippet).marked + parse_markup(hit.title_highlighted).marked:
            assert unicodedata.normalize("NFKC", text).casefold() == "python"


def test_snippet_has_at_most_two_bounded_fragments(run):
    hit = run("温泉").hits[0]
    assert hit.id == ONSEN
    body_chars = len(POSTS[ONSEN][1])
    parsed = assert_only_marks(hit.snippet)
    text = "".join(parsed.text)
    assert body_chars > 1000
    assert text.count(" … ") <= 1  # two fragments at most
    assert len(text) <= 400
    assert 1 <= len(parsed.marked) <= 2 and set(parsed.marked) == {"温泉"}


def test_title_highlighted_escapes_an_html_title(run):
    hit = run("onerror").hits[0]
    assert hit.id == XSS
    assert hit.title == XSS_TITLE
    assert hit.title_highlighted == "&lt;img src=x <mark>onerror</mark>=alert(1)&gt;"
    browsed = run("", tags=["セキュリティ"]).hits[0]
    assert browsed.title_highlighted == html.escape(XSS_TITLE, quote=False)


# --- did you mean ---------------------------------------------------------------


def test_did_you_mean_corrects_a_misspelled_ascii_word(run):
    result = run("pyhton")
    assert result.total == 0
    assert result.did_you_mean == "python"


def test_did_you_mean_keeps_the_other_words(run):
    assert run("pyhton 入門").did_you_mean == "python 入門"


@pytest.mark.parametrize("q", ["python", "京都", "京都 OR ラーメン", "", "京都 pyhton"])
def test_no_did_you_mean_when_the_query_finds_enough(run, q):
    assert run(q).did_you_mean is None


# --- related posts, suggestions -----------------------------------------------------


@pytest.mark.parametrize("post_id", sorted(POSTS))
def test_related_posts_never_include_the_post_itself(api_engine, post_id):
    related = api_engine.related(post_id)
    assert post_id not in ids(related)
    assert len(related) <= 5


def test_related_posts_are_found_for_a_post_with_neighbours(api_engine):
    assert ids(api_engine.related(TWIN_OLD))[0] == TWIN_NEW
    assert SAPPORO_RAMEN in ids(api_engine.related(TOKYO_RAMEN))


def test_related_raises_key_error_for_unknown_ids(api_engine):
    for bad in ("nope.md", "", "../" + KYOTO_TRIP, "/" + KYOTO_TRIP, KYOTO_TRIP + "\x00"):
        with pytest.raises(KeyError):
            api_engine.related(bad)


def test_suggest_offers_tags_and_titles(api_engine):
    kinds = {(s.kind, s.text) for s in api_engine.suggest("pyt")}
    assert ("tag", "Python") in kinds
    assert ("title", "Python入門") in kinds
    assert api_engine.suggest("   ") == []


# --- hot reload -----------------------------------------------------------------


def test_engine_follows_a_new_index_version(api_fresh_blog):
    posts, index_dir = api_fresh_blog
    engine = SearchEngine(index_dir)
    try:
        before = engine.version()
        assert engine.search(SearchRequest(q="カピバラ")).total == 0
        add_new_post(posts)
        report = index_posts(posts, index_dir)
        assert report.added == 1 and not report.full
        result = engine.search(SearchRequest(q="カピバラ"))
        assert ids(result.hits) == [NEW_POST]
        after = engine.version()
        assert result.version == after["version"] != before["version"]
        assert after["documents"] == before["documents"] + 1
    finally:
        engine.close()
