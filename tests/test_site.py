"""Site settings and Jekyll's permalink rules (search/site.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from search.posts import load_post
from search.site import SiteConfig, SiteConfigError, load_site_config, post_url

UTC = timezone.utc
TOKYO = ZoneInfo("Asia/Tokyo")
# 2024-03-01 10:15 in Tokyo; 2024 is a leap year, so March 1st is day 061.
DATE = datetime(2024, 3, 1, 10, 15, tzinfo=TOKYO)


def url(permalink: str = "date", *, baseurl: str = "", categories=(), slug="my-post",
        date=DATE, own: str | None = None, tz: str = "Asia/Tokyo") -> str:  # fmt: skip
    site = SiteConfig(timezone=tz, permalink=permalink, baseurl=baseurl)
    return post_url(site, date, slug, list(categories), own)


def test_default_permalink_style_is_date():
    assert SiteConfig().permalink == "date"
    assert url() == "/2024/03/01/my-post.html"


def test_date_style_with_categories():
    assert url("date", categories=["travel"]) == "/travel/2024/03/01/my-post.html"


def test_pretty_style():
    assert url("pretty", categories=["travel"]) == "/travel/2024/03/01/my-post/"


def test_ordinal_style_uses_day_of_year():
    assert url("ordinal") == "/2024/061/my-post.html"


def test_none_style():
    assert url("none", categories=["travel"]) == "/travel/my-post.html"


def test_weekdate_style():
    assert url("weekdate") == "/2024/W09/Fri/my-post.html"


def test_template_string():
    assert url("/blog/:year/:month/:day/:title/") == "/blog/2024/03/01/my-post/"
    assert url("/:categories/:i_month/:i_day/:slug:output_ext", categories=["a"]) == (
        "/a/3/1/my-post.html"
    )


def test_unknown_placeholder_is_kept_as_written():
    assert url("/:year/:nonsense/:title/") == "/2024/:nonsense/my-post/"


def test_post_own_permalink_wins_over_site_style():
    assert url("pretty", own="/about/custom-page/", categories=["x"]) == "/about/custom-page/"


def test_post_own_permalink_with_placeholders():
    assert url("pretty", own="/notes/:year/:title.html") == "/notes/2024/my-post.html"


@pytest.mark.parametrize("baseurl", ["/blog", "/blog/", "blog"])
def test_baseurl_is_prefixed(baseurl):
    assert url(baseurl=baseurl) == "/blog/2024/03/01/my-post.html"


def test_absolute_baseurl_is_prefixed():
    assert url(baseurl="https://example.com/blog") == (
        "https://example.com/blog/2024/03/01/my-post.html"
    )


def test_category_with_space_is_downcased_and_percent_encoded():
    assert url("none", categories=["GIMP ヘルプ"]) == (
        "/gimp%20%E3%83%98%E3%83%AB%E3%83%97/my-post.html"
    )


def test_japanese_category_and_slug_are_percent_encoded_utf8():
    assert url("none", categories=["旅行"], slug="日本語") == (
        "/%E6%97%85%E8%A1%8C/%E6%97%A5%E6%9C%AC%E8%AA%9E.html"
    )


def test_several_categories_join_with_slashes_and_deduplicate_case_insensitively():
    assert url("none", categories=["Travel", "Food", "travel"]) == "/travel/food/my-post.html"


def test_date_placeholders_are_in_site_timezone():
    # 23:30 UTC on June 30th is 08:30 on July 1st in Tokyo.
    late = datetime(2024, 6, 30, 23, 30, tzinfo=UTC)
    assert url(date=late) == "/2024/07/01/my-post.html"
    assert url(date=late, tz="UTC") == "/2024/06/30/my-post.html"


def test_hour_minute_placeholders_are_in_site_timezone():
    late = datetime(2024, 6, 30, 23, 30, tzinfo=UTC)
    assert url("/:year/:month/:day/:hour:minute/:title/", date=late) == "/2024/07/01/0830/my-post/"


def test_loaded_post_url_uses_site_timezone(tmp_path):
    posts = tmp_path / "_posts"
    posts.mkdir()
    (posts / "2024-07-01-late.md").write_text(
        "---\ntitle: t\ndate: 2024-06-30 23:30:00 +0000\ncategories: [日記]\n---\n本文\n",
        encoding="utf-8",
    )
    post = load_post(posts, "2024-07-01-late.md", SiteConfig()).post
    assert post.url == "/%E6%97%A5%E8%A8%98/2024/07/01/late.html"


def test_unknown_timezone_is_a_config_error():
    with pytest.raises(SiteConfigError):
        SiteConfig(timezone="Mars/Olympus_Mons")


# --- _config.yml ------------------------------------------------------------------


def make_site(tmp_path, config: str):
    (tmp_path / "_config.yml").write_text(config, encoding="utf-8")
    posts = tmp_path / "_posts"
    posts.mkdir()
    return posts


def test_config_yml_above_posts_folder_is_read(tmp_path):
    posts = make_site(tmp_path, "timezone: America/New_York\npermalink: pretty\nbaseurl: /blog\n")
    site = load_site_config(posts)
    assert site.timezone == "America/New_York"
    assert site.permalink == "pretty"
    assert site.baseurl == "/blog"
    assert site.tz == ZoneInfo("America/New_York")


def test_cli_overrides_win_over_config_yml(tmp_path):
    posts = make_site(tmp_path, "timezone: America/New_York\npermalink: pretty\nbaseurl: /blog\n")
    site = load_site_config(posts, timezone="UTC", permalink="none", baseurl=None, max_chars=5000)
    assert site.timezone == "UTC"
    assert site.permalink == "none"
    assert site.baseurl == "/blog"  # None means "not given": the file's value stays
    assert site.max_chars == 5000


def test_no_config_yml_gives_defaults(tmp_path):
    posts = tmp_path / "a" / "b" / "c" / "d" / "_posts"
    posts.mkdir(parents=True)
    site = load_site_config(posts)
    assert site == SiteConfig()
    assert site.timezone == "Asia/Tokyo"


def test_config_with_bad_timezone_is_an_error(tmp_path):
    posts = make_site(tmp_path, "timezone: Nowhere/Nothing\n")
    with pytest.raises(SiteConfigError):
        load_site_config(posts)


def test_unreadable_config_yml_is_an_error_naming_the_file(tmp_path):
    posts = make_site(tmp_path, "timezone: [unclosed\n")
    with pytest.raises(SiteConfigError, match="_config.yml"):
        load_site_config(posts)


def test_fixture_blog_config_is_found():
    site = load_site_config(Path(__file__).parent / "fixtures" / "posts")
    assert site.timezone == "Asia/Tokyo"
    assert site.permalink == "date"


def test_site_url_makes_post_urls_absolute():
    site = SiteConfig(url="https://blog.example.com/", baseurl="/notes")
    date = datetime(2024, 3, 1, 12, tzinfo=ZoneInfo("UTC"))
    assert post_url(site, date, "my-post", []) == (
        "https://blog.example.com/notes/2024/03/01/my-post.html"
    )


def test_site_url_is_read_from_jekyll_config_and_can_be_overridden(tmp_path):
    (tmp_path / "_config.yml").write_text("url: https://blog.example.com\n", "utf-8")
    (tmp_path / "_posts").mkdir()
    assert load_site_config(tmp_path / "_posts").url == "https://blog.example.com"
    assert load_site_config(tmp_path / "_posts", url="https://other.example").url == (
        "https://other.example"
    )


@pytest.mark.parametrize("bad", ["blog.example.com", "ftp://blog.example.com", "https://"])
def test_site_url_that_is_not_http_is_a_clear_error(bad):
    with pytest.raises(SiteConfigError, match="site url"):
        SiteConfig(url=bad)
