"""The embeddable widget (static/blogsearch.js) on /demo, in Chromium."""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qs, quote, urlparse

import pytest
from playwright.sync_api import expect

from .browser_support import REPO, XSS_TITLE

pytestmark = pytest.mark.browser

WIDGET_JS = REPO / "web" / "static" / "blogsearch.js"
BOX = "#blogsearch input[role=combobox]"
OPTIONS = "#blogsearch [role=listbox] [role=option]"


def query_of(url: str) -> str | None:
    return parse_qs(urlparse(url).query).get("q", [None])[0]


def track_searches(page) -> list[str]:
    """The q of every /api/search request the page sends, in order."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(query_of(r.url)) if "/api/search" in r.url else None)
    return seen


def track_navigations(page) -> list[str]:
    seen: list[str] = []
    page.on("framenavigated", lambda f: seen.append(f.url) if f == page.main_frame else None)
    return seen


def open_demo(page, base: str):
    page.goto(base + "/demo")
    box = page.locator(BOX)
    expect(box).to_be_visible()
    return box


def compose(cdp, *steps: str) -> None:
    """IME composition updates, as a Japanese IME sends them while typing."""
    for text in steps:
        n = len(text)
        cdp.send("Input.imeSetComposition", {"text": text, "selectionStart": n, "selectionEnd": n})


def enter(cdp, kind: str, key_code: int, **extra) -> None:
    """An Enter key event; key code 229 is what an IME reports for a key it consumes."""
    event = {"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": key_code}
    cdp.send("Input.dispatchKeyEvent", {**event, **extra})


def test_results_as_you_type(page, server):
    searches = track_searches(page)
    box = open_demo(page, server.url)
    box.click()
    # Slowly: each pause is longer than the debounce, so each prefix is searched.
    box.press_sequentially("カレー", delay=300)
    expect(page.locator(OPTIONS)).to_have_count(1)
    expect(page.locator(OPTIONS).first.locator(".bs-title")).to_have_text(
        "週末に仕込む、りんごと玉ねぎの甘口カレー"
    )
    assert searches[-1] == "カレー" and len(searches) >= 2
    assert page.url == server.url + "/demo"  # no Enter, no navigation

    # Quickly: the debounce sends one request for the whole word.
    searches.clear()
    box.fill("")
    box.press_sequentially("コンピューター", delay=20)
    expect(page.locator(OPTIONS)).to_have_count(2)
    page.wait_for_timeout(300)
    assert searches == ["コンピューター"]

    # Each hit: linked title with <mark>, Japanese date, snippet, tags.
    first = page.locator(OPTIONS).first
    expect(first.locator("a.bs-title mark")).to_have_text("コンピューター")
    expect(first.locator("time")).to_have_text("2023年1月8日")
    expect(first.locator(".bs-snippet mark").first).to_be_visible()
    expect(first.locator(".bs-tags li").first).to_have_text("#パソコン")
    href = first.locator("a.bs-title").get_attribute("href")
    assert href.startswith(server.url + "/") and href.endswith(".html")
    all_link = page.locator("#blogsearch .bs-all")
    expect(all_link).to_have_attribute("href", server.url + "/search?q=" + quote("コンピューター"))
    expect(all_link).to_have_text("すべての結果を見る")
    expect(page.locator("#blogsearch [role=status]")).to_have_text("2件")

    # No results, then an empty box closes the panel.
    box.fill("ゑゐゑゐ")
    expect(page.locator("#blogsearch .bs-status")).to_contain_text(
        "「ゑゐゑゐ」に一致する記事はありません"
    )
    expect(page.locator(OPTIONS)).to_have_count(0)
    expect(page.locator("#blogsearch [role=status]")).to_have_text("0件")

    # One word found, one not: the hits, and which word they lack.
    box.fill("カレー ドローン")
    expect(page.locator("#blogsearch .bs-status")).to_have_text(
        "「ドローン」を含む記事はありません。「カレー」に一致する記事を表示しています。"
    )
    expect(page.locator(OPTIONS)).to_have_count(1)

    box.fill("")
    expect(page.locator("#blogsearch .bs-panel")).to_be_hidden()


def test_stale_response_is_dropped(page, server):
    held = []

    def hold_first(route):
        if query_of(route.request.url) == "カ":
            held.append(route)  # answered later, after the newer query
        else:
            route.continue_()

    page.route("**/api/search?*", hold_first)
    box = open_demo(page, server.url)
    box.click()
    page.keyboard.insert_text("カ")
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(20)
    assert held, "the first query was not sent"
    page.keyboard.insert_text("レー")
    expect(page.locator(OPTIONS)).to_have_count(1)
    stale = {
        "hits": [{"id": "x", "url": "/stale", "title": "STALE", "titleHighlighted": "STALE",
                  "date": "2020-01-01", "tags": [], "snippet": ""}],
        "totalHits": 1,
    }  # fmt: skip
    with contextlib.suppress(Exception):  # the widget may have aborted it already
        held[0].fulfill(json=stale)
    page.wait_for_timeout(300)
    expect(page.locator(OPTIONS)).to_have_count(1)
    expect(page.locator("#blogsearch .bs-panel")).not_to_contain_text("STALE")
    expect(page.locator(OPTIONS).first).to_contain_text("カレー")


def test_ime_composition(page, server):
    searches = track_searches(page)
    box = open_demo(page, server.url)
    navigations = track_navigations(page)
    box.click()
    cdp = page.context.new_cdp_session(page)
    for text in ("し", "しん", "しんか", "しんかん", "しんかんせ", "しんかんせん", "新幹線"):
        compose(cdp, text)
        page.wait_for_timeout(60)
    page.wait_for_timeout(400)  # well past the debounce
    assert searches == [], "searched while composing"
    expect(page.locator("#blogsearch .bs-panel")).to_be_hidden()
    expect(box).to_have_value("新幹線")

    # The Enter that confirms the conversion (keyCode 229 while composing),
    # then the commit: one search, no navigation.
    enter(cdp, "rawKeyDown", 229)
    cdp.send("Input.insertText", {"text": "新幹線"})
    enter(cdp, "keyUp", 13)
    expect(page.locator(OPTIONS)).to_have_count(2)
    page.wait_for_timeout(300)
    assert searches == ["新幹線"]
    assert navigations == [] and page.url == server.url + "/demo"

    # A composition confirmed by a plain Enter keypress that reaches the form
    # (implicit submission while composing) must not submit it either.
    box.fill("")
    compose(cdp, "か", "かれ", "かれー")
    enter(cdp, "keyDown", 13, text="\r")
    cdp.send("Input.insertText", {"text": "カレー"})
    expect(page.locator(OPTIONS)).to_have_count(1)
    page.wait_for_timeout(300)
    assert navigations == [] and page.url == server.url + "/demo"
    assert searches == ["新幹線", "カレー"]

    # After the commit, Enter goes to the full search page.
    with page.expect_navigation():
        box.press("Enter")
    assert page.url == server.url + "/search?q=" + quote("カレー")
    expect(page.locator(".hit")).to_have_count(1)


def test_keyboard_and_aria(page, server):
    box = open_demo(page, server.url)
    listbox = page.locator("#blogsearch [role=listbox]")
    panel = page.locator("#blogsearch .bs-panel")
    assert box.get_attribute("aria-controls") == listbox.get_attribute("id")
    expect(box).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("/")
    expect(box).to_be_focused()
    expect(box).to_have_value("")  # the "/" was not typed
    page.keyboard.insert_text("新幹線")
    options = page.locator(OPTIONS)
    expect(options).to_have_count(2)
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#blogsearch [role=status]")).to_have_text("2件")
    assert box.get_attribute("aria-activedescendant") is None

    ids = [options.nth(i).get_attribute("id") for i in range(2)]
    page.keyboard.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", ids[0])
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", ids[1])
    expect(options.nth(0)).to_have_attribute("aria-selected", "false")
    page.keyboard.press("ArrowUp")
    expect(box).to_have_attribute("aria-activedescendant", ids[0])

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    assert box.get_attribute("aria-activedescendant") is None
    expect(box).to_have_value("新幹線")  # Esc closed the panel, kept the text
    page.keyboard.press("ArrowDown")
    expect(panel).to_be_visible()

    # A click outside closes it; Ctrl+K comes back to the box.
    page.mouse.click(1250, 780)  # the page margin, away from the panel
    expect(panel).to_be_hidden()
    expect(box).not_to_be_focused()
    page.keyboard.press("Control+k")
    expect(box).to_be_focused()
    expect(panel).to_be_visible()  # focus reopens the results for the same text

    # Inside the box "/" is just a character.
    page.keyboard.press("End")
    page.keyboard.press("/")
    expect(box).to_have_value("新幹線/")
    page.keyboard.press("Backspace")

    # Enter opens the active result.
    expect(options).to_have_count(2)
    page.keyboard.press("ArrowDown")
    href = options.nth(0).locator("a").get_attribute("href")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == href


def test_html_in_results_stays_text(page, server):
    box = open_demo(page, server.url)
    box.click()
    page.keyboard.insert_text("onerror")
    option = page.locator(OPTIONS)
    expect(option).to_have_count(1)
    expect(option.locator(".bs-title")).to_have_text(XSS_TITLE)
    expect(option.locator(".bs-title mark")).to_have_text("onerror")
    expect(option.locator(".bs-tags")).to_contain_text("#<b>太字</b>")
    box.fill("演算子")
    expect(option.locator(".bs-snippet")).to_contain_text("a < b && c > d")
    expect(option.locator(".bs-snippet mark")).to_have_text("演算子")
    # Only the widget's own elements, and MARK, inside the results.
    tags = page.locator("#blogsearch .bs-panel *").evaluate_all(
        "els => [...new Set(els.map(e => e.tagName))].sort()"
    )
    assert set(tags) <= {"A", "DIV", "LI", "MARK", "P", "SPAN", "TIME", "UL"}, tags
    page.wait_for_timeout(200)
    assert page.watch.dialogs == []


def test_cross_origin_api(page, server, blog):
    """The widget on the blog's origin calls the API on the server's origin."""
    searches = track_searches(page)
    responses = []
    page.on("response", lambda r: responses.append(r) if "/api/search" in r.url else None)
    response = page.goto(blog.url + "/demo")
    assert server.url in response.headers["content-security-policy"]
    box = page.locator(BOX)
    expect(page.locator("script[data-api]")).to_have_attribute("data-api", server.url)
    box.click()
    page.keyboard.insert_text("新幹線")
    expect(page.locator(OPTIONS)).to_have_count(2)
    assert searches == ["新幹線"]
    assert responses[-1].url.startswith(server.url + "/api/search?")
    assert responses[-1].headers["access-control-allow-origin"] == blog.url
    expect(page.locator("#blogsearch .bs-all")).to_have_attribute(
        "href", server.url + "/search?q=" + quote("新幹線")
    )
    # Result links point at the blog's own pages.
    href = page.locator(OPTIONS).first.locator("a").get_attribute("href")
    assert href.startswith(blog.url + "/")


def test_cross_origin_refused_shows_error(page, blog):
    """From an origin the API does not allow, the request fails: an error, as text."""
    other = blog.url.replace("127.0.0.1", "localhost")
    box = open_demo(page, other)
    box.click()
    page.keyboard.insert_text("新幹線")
    status = page.locator("#blogsearch .bs-status")
    expect(status).to_have_text("検索できませんでした。時間をおいてもう一度お試しください。")
    expect(page.locator(OPTIONS)).to_have_count(0)
    expect(page.locator("#blogsearch .bs-all")).to_be_hidden()


def test_enhances_an_existing_form(page, server):
    """A blog's own <form data-blogsearch>; the script in <head> without defer
    and without data-api (the API is where the script comes from)."""
    html = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        f'<script src="{server.url}/static/blogsearch.js"></script></head><body>'
        '<form data-blogsearch action="/search" method="get">'
        '<input name="q" type="search" aria-label="検索"><button>検索</button></form>'
        "<p>本文</p></body></html>"
    )
    # Same origin as the API, but no CSP: a plain static page.
    page.route(
        server.url + "/blog/post.html", lambda r: r.fulfill(body=html, content_type="text/html")
    )
    page.goto(server.url + "/blog/post.html")
    box = page.locator("form[data-blogsearch] input[name=q]")
    expect(box).to_have_attribute("role", "combobox")
    listbox_id = box.get_attribute("aria-controls")
    expect(page.locator(f"form[data-blogsearch] #{listbox_id}")).to_have_attribute(
        "role", "listbox"
    )
    box.click()
    page.keyboard.insert_text("新幹線")
    expect(page.locator("form[data-blogsearch] [role=option]")).to_have_count(2)
    expect(page.locator("form[data-blogsearch] [role=status]")).to_have_text("2件")
    with page.expect_navigation():
        page.locator("form[data-blogsearch] button").click()  # submit: the full results
    assert page.url == server.url + "/search?q=" + quote("新幹線")
    expect(page.locator(".hit")).to_have_count(2)


@pytest.mark.parametrize(
    "width,height,scheme", [(1280, 800, "light"), (375, 812, "light"), (1280, 800, "dark")]
)
def test_screenshot_widget(browser, server, screenshots, width, height, scheme):
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="ja-JP", color_scheme=scheme,
    )  # fmt: skip
    try:
        page = context.new_page()
        box = open_demo(page, server.url)
        box.click()
        page.keyboard.insert_text("京都")
        expect(page.locator(OPTIONS).first).to_be_visible()
        page.keyboard.press("ArrowDown")
        page.evaluate("document.fonts.ready")
        path = screenshots / (f"widget-{width}" + ("-dark" if scheme == "dark" else "") + ".png")
        page.screenshot(path=path)
        assert path.stat().st_size > 10_000
    finally:
        context.close()


HOSTILE = {
    "hits": [
        {
            "id": "evil",
            "url": "javascript:alert(1)",
            "title": "<img src=x onerror=alert(1)>",
            "titleHighlighted": '<img src=x onerror=alert(2)><mark onmouseover="alert(3)">x</mark>'
            "<mark>ok</mark>",
            "date": "2025-12-09T10:00:00+09:00",
            "tags": ["<img src=x onerror=alert(6)>"],
            "snippet": "&lt;b&gt;<mark>hit</mark></mark><svg onload=alert(4)>"
            "<script>alert(5)</script>&amp;amp;",
        }
    ],
    "totalHits": 1,
}


def test_hostile_api_response_stays_text(page):
    """Even raw markup from the API (a bug, a compromised server) is shown as text.

    The host page has no CSP, like many blogs: only the widget stands between
    the JSON and the DOM. Everything is served by routes (a public page may
    not load from loopback).
    """
    host, api = "http://blog.test", "http://search.test"
    html = (
        '<!doctype html><meta charset="utf-8"><title>blog</title><div id="blogsearch"></div>'
        f'<script src="{api}/static/blogsearch.js" data-api="{api}"></script>'
    )
    cors = {"Access-Control-Allow-Origin": "*"}
    page.route(host + "/post.html", lambda r: r.fulfill(body=html, content_type="text/html"))
    page.route(api + "/static/blogsearch.js", lambda r: r.fulfill(path=WIDGET_JS))
    page.route(api + "/api/search?*", lambda r: r.fulfill(json=HOSTILE, headers=cors))
    page.goto(host + "/post.html")
    page.locator(BOX).click()
    page.keyboard.insert_text("x")
    option = page.locator(OPTIONS)
    expect(option).to_have_count(1)
    title = option.locator(".bs-title")
    expect(title).to_have_text('<img src=x onerror=alert(2)><mark onmouseover="alert(3)">xok')
    assert title.evaluate("e => e.tagName") == "SPAN"  # no javascript: link
    expect(title.locator("mark")).to_have_text("ok")
    expect(option.locator(".bs-snippet")).to_have_text(
        "<b>hit<svg onload=alert(4)><script>alert(5)</script>&amp;"
    )
    expect(option.locator("time")).to_have_text("2025年12月9日")
    expect(option.locator(".bs-tags")).to_have_text("#<img src=x onerror=alert(6)>")
    tags = page.locator("#blogsearch .bs-panel *").evaluate_all(
        "els => [...new Set(els.map(e => e.tagName))].sort()"
    )
    assert set(tags) <= {"A", "DIV", "LI", "MARK", "P", "SPAN", "TIME", "UL"}, tags
    option.hover()
    page.keyboard.press("ArrowDown")
    # A javascript: URL is never followed: Enter goes to the full results instead.
    page.route(api + "/search?*", lambda r: r.fulfill(body="results", content_type="text/plain"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == api + "/search?q=x"
    assert page.watch.dialogs == []


def test_related_posts_under_the_newest_post(page, server, browser_index, screenshots):
    from search.query import SearchEngine, SearchRequest

    engine = SearchEngine(browser_index)
    try:
        newest = engine.search(SearchRequest(sort="date", per_page=1)).hits[0]
        expected = [h.title for h in engine.related(newest.id)]
    finally:
        engine.close()
    assert expected, "the demo blog's newest post has related posts"
    page.goto(server.url + "/demo")
    links = page.locator("[data-blogsearch-related] .bs-related-link")
    expect(links).to_have_count(len(expected))
    assert links.all_text_contents() == expected
    expect(page.get_by_role("navigation", name="関連記事")).to_be_visible()
    page.locator(".demo-post").screenshot(path=screenshots / "widget-related.png")
