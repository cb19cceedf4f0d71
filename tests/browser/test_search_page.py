"""The server-rendered /search page in Chromium: with and without JavaScript."""

from __future__ import annotations

import os
import shutil
from urllib.parse import parse_qs, quote, urlparse

import pytest
from playwright.sync_api import expect

from .browser_support import REPO, XSS_TITLE

pytestmark = pytest.mark.browser


def url_state(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def hit_titles(page) -> list[str]:
    return page.locator(".hit-title").all_inner_texts()


def tag_box(page, tag: str):
    """The checkbox of a tag in the facet form."""
    return page.locator(".facet-form label.check", has_text=tag).locator("input")


def test_japanese_query_facet_and_back(page, server):
    page.goto(server.url + "/search")
    box = page.locator("#q")
    box.click()
    # Typed through an IME: the composition, then the commit, then Enter.
    cdp = page.context.new_cdp_session(page)
    for text in ("し", "しんか", "しんかんせん", "新幹線"):
        n = len(text)
        cdp.send("Input.imeSetComposition", {"text": text, "selectionStart": n, "selectionEnd": n})
    cdp.send("Input.insertText", {"text": "新幹線"})
    with page.expect_navigation():
        box.press("Enter")
    assert url_state(page.url) == {"q": ["新幹線"]}
    expect(page.locator(".count")).to_contain_text("2件の記事が見つかりました")
    all_titles = hit_titles(page)
    assert len(all_titles) == 2 and all("新幹線" in t for t in all_titles)
    expect(page.locator(".hit-title mark").first).to_have_text("新幹線")
    expect(page).to_have_title("新幹線 - ブログ内検索")

    # Ticking a tag submits the facet form by itself.
    kyoto = tag_box(page, "京都")
    with page.expect_navigation():
        kyoto.check()
    assert url_state(page.url) == {"q": ["新幹線"], "tag": ["京都"]}
    assert hit_titles(page) == ["東海道新幹線で京都へ：指定席の取り方"]
    expect(page.locator(".chips .chip").first).to_contain_text("京都")
    expect(tag_box(page, "京都")).to_be_checked()

    # Back: the previous URL, results and form state (the box is unticked again).
    page.go_back()
    assert url_state(page.url) == {"q": ["新幹線"]}
    assert hit_titles(page) == all_titles
    expect(page.locator("#q")).to_have_value("新幹線")
    expect(page.locator(".chips")).to_have_count(0)
    expect(tag_box(page, "京都")).not_to_be_checked()

    page.go_forward()
    assert url_state(page.url) == {"q": ["新幹線"], "tag": ["京都"]}
    assert len(hit_titles(page)) == 1
    expect(tag_box(page, "京都")).to_be_checked()


def test_html_title_is_text(page, server):
    page.goto(server.url + "/search?q=" + quote("onerror"))
    title = page.locator(".hit-title a")
    expect(title).to_have_count(1)
    expect(title).to_have_text(XSS_TITLE)
    expect(title.locator("mark")).to_have_text("onerror")
    assert page.locator("main img, main script, main b").count() == 0
    expect(page.locator(".hit-tags")).to_contain_text("#<b>太字</b>")
    page.goto(server.url + "/search?q=" + quote("演算子"))
    expect(page.locator(".hit-snippet")).to_contain_text("a < b && c > d")
    assert page.locator("main img").count() == 0
    assert page.watch.dialogs == []


def test_without_javascript(browser, server):
    context = browser.new_context(java_script_enabled=False, locale="ja-JP")
    context.set_default_timeout(5000)
    try:
        page = context.new_page()
        page.goto(server.url + "/search?q=" + quote("新幹線"))
        assert len(hit_titles(page)) == 2
        # The facet form: tick a box, press the visible "apply" button.
        apply = page.locator(".facet-form .apply")
        expect(apply).to_be_visible()
        tag_box(page, "京都").check()
        assert page.url.endswith("q=" + quote("新幹線"))  # nothing submitted by itself
        with page.expect_navigation():
            apply.click()
        assert url_state(page.url) == {"q": ["新幹線"], "tag": ["京都"]}
        assert hit_titles(page) == ["東海道新幹線で京都へ：指定席の取り方"]
        # The filter chip link removes it again.
        with page.expect_navigation():
            page.locator(".chips .chip", has_text="京都").click()
        assert url_state(page.url) == {"q": ["新幹線"]}
        # Sort links.
        with page.expect_navigation():
            page.locator(".sort a", has_text="新しい順").click()
        assert url_state(page.url) == {"q": ["新幹線"], "sort": ["date"]}
        dates = page.locator(".hit-meta time").evaluate_all(
            "els => els.map(e => e.getAttribute('datetime'))"
        )
        assert dates == sorted(dates, reverse=True) and len(dates) == 2
        # A tag link on a hit adds that tag.
        with page.expect_navigation():
            page.locator(".hit-tags a", has_text="#一人旅").click()
        assert url_state(page.url) == {"q": ["新幹線"], "tag": ["一人旅"], "sort": ["date"]}
        assert hit_titles(page) == ["北陸新幹線で行く、秋の金沢ひとり旅"]
        # The header search form submits without JavaScript too, keeping the filters.
        page.locator("#q").fill("金沢")
        with page.expect_navigation():
            page.locator(".search-form button").click()
        assert url_state(page.url) == {"q": ["金沢"], "tag": ["一人旅"], "sort": ["date"]}
        assert hit_titles(page) == ["北陸新幹線で行く、秋の金沢ひとり旅"]
    finally:
        context.close()


@pytest.mark.parametrize(
    "width,height,scheme", [(1280, 800, "light"), (375, 812, "light"), (1280, 800, "dark")]
)
def test_screenshot_search_page(browser, server, screenshots, width, height, scheme):
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="ja-JP", color_scheme=scheme,
    )  # fmt: skip
    try:
        page = context.new_page()
        page.goto(server.url + "/search?q=" + quote("京都 旅行"))
        expect(page.locator(".hit").first).to_be_visible()
        page.evaluate("document.fonts.ready")
        name = f"search-{width}" + ("-dark" if scheme == "dark" else "")
        page.screenshot(path=screenshots / f"{name}.png")
        page.screenshot(path=screenshots / f"{name}-full.png", full_page=True)
        assert (screenshots / f"{name}.png").stat().st_size > 10_000
        if (width, scheme) == (1280, "light"):
            # The README's screenshot is committed: written when missing or
            # when asked for (UPDATE_SCREENSHOTS=1), not on every run.
            docs = REPO / "docs" / "screenshot-search.png"
            if not docs.exists() or os.environ.get("UPDATE_SCREENSHOTS"):
                docs.parent.mkdir(exist_ok=True)
                shutil.copyfile(screenshots / f"{name}.png", docs)
    finally:
        context.close()


def test_a_search_for_what_the_blog_never_covered_says_so(page, server):
    page.goto(server.url + "/search?q=" + quote("ドローン"))
    expect(page.locator(".count")).to_have_text("「ドローン」に一致する記事はありません。")
    expect(page.locator(".hit")).to_have_count(0)

    # A misspelling: no hits, and a link to the spelling that has some.
    page.goto(server.url + "/search?q=pyhton")
    expect(page.locator(".count")).to_have_text("「pyhton」に一致する記事はありません。")
    link = page.locator(".notice a", has_text="python")
    with page.expect_navigation():
        link.click()
    assert url_state(page.url) == {"q": ["python"]}
    expect(page.locator(".hit").first).to_be_visible()


def test_a_partial_match_names_the_word_that_matched_nothing(page, server):
    page.goto(server.url + "/search?q=" + quote("カレー ドローン"))
    expect(page.locator(".notice-partial")).to_have_text(
        "「ドローン」を含む記事はありません。「カレー」に一致する記事を表示しています。"
    )
    assert hit_titles(page) == ["週末に仕込む、りんごと玉ねぎの甘口カレー"]
    expect(page.locator(".hit-title mark")).to_have_text(["カレー"])
