"""The post loader (search/posts.py), on small files written by each test."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from search.posts import LoadResult, find_post_files, load_post
from search.site import SiteConfig

TOKYO = ZoneInfo("Asia/Tokyo")
UTC = timezone.utc


def load(
    tmp_path: Path, name: str, content: str | bytes, site: SiteConfig | None = None
) -> LoadResult:
    posts = tmp_path / "_posts"
    posts.mkdir(exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    (posts / name).write_bytes(data)
    return load_post(posts, name, site or SiteConfig())


def post_with(front_matter: str, body: str = "本文です。\n") -> str:
    return f"---\n{front_matter.strip()}\n---\n{body}"


def messages(result: LoadResult, level: str | None = None) -> list[str]:
    return [p.message for p in result.problems if level is None or p.level == level]


# --- dates -------------------------------------------------------------------


def test_jekyll_date_string_with_offset_is_that_instant(tmp_path):
    r = load(tmp_path, "2025-12-09-a.md", post_with("title: t\ndate: 2025-12-09 16:42:55 +0000"))
    assert r.post is not None
    assert r.post.date == datetime(2025, 12, 9, 16, 42, 55, tzinfo=UTC)
    assert r.post.date.utcoffset() == timedelta(0)
    assert r.problems == []


def test_jekyll_date_string_with_plus0900_offset(tmp_path):
    r = load(tmp_path, "2025-12-09-a.md", post_with("title: t\ndate: 2025-12-09 16:42:55 +0900"))
    assert r.post.date == datetime(2025, 12, 9, 7, 42, 55, tzinfo=UTC)


def test_iso_datetime_with_offset_is_that_instant(tmp_path):
    r = load(tmp_path, "2025-12-09-a.md", post_with("title: t\ndate: 2025-12-09T16:42:55+09:00"))
    assert r.post.date == datetime(2025, 12, 9, 7, 42, 55, tzinfo=UTC)
    assert r.post.date.tzinfo is not None


def test_date_only_is_midnight_in_site_timezone(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\ndate: 2025-12-09"))
    assert r.post.date == datetime(2025, 12, 9, 0, 0, tzinfo=TOKYO)
    assert r.post.date == datetime(2025, 12, 8, 15, 0, tzinfo=UTC)


def test_date_only_in_another_site_timezone(tmp_path):
    site = SiteConfig(timezone="America/New_York")
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\ndate: 2025-12-09"), site)
    assert r.post.date == datetime(2025, 12, 9, 5, 0, tzinfo=UTC)


def test_missing_date_falls_back_to_file_name_at_midnight_site_time(tmp_path):
    r = load(tmp_path, "2025-02-14-no-date.md", post_with("title: t"))
    assert r.post.date == datetime(2025, 2, 14, 0, 0, tzinfo=TOKYO)
    assert r.problems == []


def test_unparseable_date_falls_back_to_file_name_with_warning(tmp_path):
    r = load(tmp_path, "2025-01-17-x.md", post_with("title: t\ndate: not a date"))
    assert r.post.date == datetime(2025, 1, 17, 0, 0, tzinfo=TOKYO)
    assert any("not a date" in m for m in messages(r, "warning"))


def test_naive_datetime_takes_site_timezone_tokyo_by_default(tmp_path):
    r = load(tmp_path, "2025-12-09-a.md", post_with("title: t\ndate: 2025-12-09 16:42:55"))
    assert r.post.date == datetime(2025, 12, 9, 16, 42, 55, tzinfo=TOKYO)
    assert r.post.date == datetime(2025, 12, 9, 7, 42, 55, tzinfo=UTC)


def test_naive_datetime_takes_configured_site_timezone(tmp_path):
    site = SiteConfig(timezone="America/New_York")
    r = load(tmp_path, "2025-12-09-a.md", post_with("title: t\ndate: 2025-12-09 16:42:55"), site)
    assert r.post.date == datetime(2025, 12, 9, 21, 42, 55, tzinfo=UTC)


def test_naive_date_string_with_slashes_takes_site_timezone(tmp_path):
    site = SiteConfig(timezone="Europe/London")
    r = load(tmp_path, "2025-01-15-a.md", post_with('title: t\ndate: "2025/12/09 10:30"'), site)
    assert r.post.date == datetime(2025, 12, 9, 10, 30, tzinfo=UTC)


def test_file_name_date_uses_configured_site_timezone(tmp_path):
    site = SiteConfig(timezone="UTC")
    r = load(tmp_path, "2025-02-14-a.md", post_with("title: t"), site)
    assert r.post.date == datetime(2025, 2, 14, tzinfo=UTC)


def test_file_without_date_prefix_is_skipped_as_not_a_post(tmp_path):
    r = load(tmp_path, "about.md", post_with("title: t"))
    assert r.post is None
    assert any("not a post" in m for m in messages(r, "skip"))


def test_file_name_with_impossible_date_is_skipped(tmp_path):
    r = load(tmp_path, "2025-02-30-a.md", post_with("title: t"))
    assert r.post is None
    assert messages(r, "skip")


# --- tags and categories -----------------------------------------------------


def test_tags_as_list(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\ntags: [Linux, サーバー]"))
    assert r.post.tags == ["Linux", "サーバー"]


def test_tags_as_comma_separated_string(tmp_path):
    fm = 'title: t\ntags: "Linux, サーバー, 設定ファイル"'
    r = load(tmp_path, "2025-01-01-a.md", post_with(fm))
    assert r.post.tags == ["Linux", "サーバー", "設定ファイル"]


def test_tags_as_space_separated_string(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\ntags: debian apt パッケージ"))
    assert r.post.tags == ["debian", "apt", "パッケージ"]


def test_singular_tag_key_is_one_tag(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\ntag: 京都 旅行"))
    assert r.post.tags == ["京都 旅行"]


def test_categories_as_plain_string(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\ncategories: ユーザーコマンド"))
    assert r.post.categories == ["ユーザーコマンド"]


def test_categories_space_string_is_split_like_jekyll(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\ncategories: 趣味 音楽"))
    assert r.post.categories == ["趣味", "音楽"]


def test_singular_category_key_keeps_spaces(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\ncategory: GIMP ヘルプ"))
    assert r.post.categories == ["GIMP ヘルプ"]


def test_null_tags_are_empty(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\ntags:\ncategories:"))
    assert r.post.tags == []
    assert r.post.categories == []


def test_tags_of_wrong_type_are_dropped_with_warning(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\ntags: {a: 1}"))
    assert r.post is not None
    assert r.post.tags == []
    assert any("tags" in m for m in messages(r, "warning"))


# --- drafts, titles ------------------------------------------------------------


def test_published_false_is_skipped_as_draft(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\npublished: false"))
    assert r.post is None
    assert any("draft" in m for m in messages(r, "skip"))


def test_published_false_as_string_is_skipped_as_draft(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with('title: t\npublished: "false"'))
    assert r.post is None
    assert any("draft" in m for m in messages(r, "skip"))


def test_published_true_is_indexed(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\npublished: true"))
    assert r.post is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3.10", "3.10"), ("yes", "yes"), ("2025", "2025"), ("no", "no"), ("1e3", "1e3")],
)
def test_scalar_title_keeps_the_text_as_written(tmp_path, raw, expected):
    r = load(tmp_path, "2025-01-01-a.md", post_with(f"title: {raw}"))
    assert r.post.title == expected


def test_missing_title_comes_from_first_heading(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("date: 2025-01-01", "# 最初の見出し\n\n本文\n"))
    assert r.post.title == "最初の見出し"
    assert any("no title" in m for m in messages(r, "warning"))


def test_missing_title_without_heading_comes_from_slug(tmp_path):
    r = load(tmp_path, "2025-01-19-title-missing.md", post_with("date: 2025-01-19"))
    assert r.post.title == "Title Missing"


def test_duplicate_keys_keep_last_value_with_warning(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: 一番目\ntitle: 二番目"))
    assert r.post.title == "二番目"
    assert any("duplicate" in m for m in messages(r, "warning"))


# --- encodings and bytes -------------------------------------------------------


def test_utf8_bom_is_stripped_and_front_matter_recognised(tmp_path):
    data = b"\xef\xbb\xbf" + post_with("title: BOM 付き\ntags: [a]").encode()
    r = load(tmp_path, "2025-01-08-a.md", data)
    assert r.post.title == "BOM 付き"
    assert r.post.tags == ["a"]
    assert "\ufeff" not in r.post.title + r.post.body
    assert r.problems == []


def test_crlf_line_endings(tmp_path):
    text = "---\r\ntitle: CRLF 改行\r\ntags: [CRLF, Windows]\r\n---\r\n本文の一行目\r\n二行目\r\n"
    r = load(tmp_path, "2025-01-09-a.md", text.encode())
    assert r.post.title == "CRLF 改行"
    assert r.post.tags == ["CRLF", "Windows"]
    assert "\r" not in r.post.body
    assert r.post.body == "本文の一行目\n二行目"


def test_shift_jis_file_is_decoded_with_warning(tmp_path):
    text = post_with(
        "title: Shift_JIS で保存された投稿\ntags: [文字コード]",
        "これは日本語の文章で、シフトJISで保存されています。" * 5 + "\n",
    )
    r = load(tmp_path, "2025-01-07-a.md", text.encode("cp932"))
    assert r.post is not None
    assert r.post.title == "Shift_JIS で保存された投稿"
    assert r.post.tags == ["文字コード"]
    assert "シフトJIS" in r.post.body
    assert "\ufffd" not in r.post.title + r.post.body
    assert any("Shift_JIS" in m for m in messages(r, "warning"))


def test_utf16_with_bom_is_decoded_with_warning(tmp_path):
    text = post_with("title: UTF-16 の投稿", "ユニコードの本文。\n")
    r = load(tmp_path, "2025-01-30-a.md", text.encode("utf-16"))
    assert r.post.title == "UTF-16 の投稿"
    assert "\x00" not in r.post.body
    assert any("UTF-16" in m for m in messages(r, "warning"))


def test_invalid_utf8_warns_naming_byte_offset(tmp_path):
    head = post_with("title: 不正なバイト", "前の文章").encode()
    data = head + b"\xff\xfe" + "後ろの文章\n".encode()
    r = load(tmp_path, "2025-01-06-a.md", data)
    assert r.post is not None
    assert "前の文章" in r.post.body and "後ろの文章" in r.post.body
    warnings = messages(r, "warning")
    assert any(f"byte {len(head)}" in m for m in warnings), warnings


def test_nul_characters_are_removed_with_warning(tmp_path):
    r = load(tmp_path, "2025-01-25-a.md", post_with("title: NUL", "前\x00後ろ\x00の文\n"))
    assert r.post is not None
    assert "\x00" not in r.post.body
    assert "前後ろの文" in r.post.body
    assert any("NUL" in m for m in messages(r, "warning"))


def test_binary_file_is_skipped(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", b"\x00\x01\x02\x00" * 100)
    assert r.post is None
    assert messages(r, "skip")


def test_empty_file_is_skipped(tmp_path):
    r = load(tmp_path, "2025-01-04-empty.md", b"")
    assert r.post is None
    assert messages(r, "skip") == ["empty file"]


def test_whitespace_only_file_is_skipped(tmp_path):
    r = load(tmp_path, "2025-01-04-blank.md", "  \n\n\t\n")
    assert r.post is None
    assert messages(r, "skip")


# --- front matter problems ------------------------------------------------------


def test_front_matter_not_closed_is_skipped(tmp_path):
    r = load(tmp_path, "2025-01-02-a.md", "---\ntitle: 閉じていない\n本文がずっと続く。\n")
    assert r.post is None
    assert any("not closed" in m for m in messages(r, "skip"))


def test_yaml_error_indexes_with_fallback_and_warns(tmp_path):
    text = "---\ntitle: [閉じていない\ndate: 2020-01-01\n---\n本文は読める。\n"
    r = load(tmp_path, "2025-01-01-malformed-yaml.md", text)
    assert r.post is not None
    assert r.post.title == "Malformed Yaml"
    assert r.post.date == datetime(2025, 1, 1, tzinfo=TOKYO)
    assert "本文は読める" in r.post.body
    assert any("invalid YAML" in m for m in messages(r, "warning"))


def test_front_matter_that_is_a_list_indexes_with_fallback(tmp_path):
    r = load(tmp_path, "2025-02-01-list-fm.md", "---\n- a\n- b\n---\n本文\n")
    assert r.post is not None
    assert r.post.date == datetime(2025, 2, 1, tzinfo=TOKYO)
    assert any("not a mapping" in m for m in messages(r, "warning"))


def test_no_front_matter_uses_file_name_and_heading(tmp_path):
    r = load(tmp_path, "2025-01-03-a.md", "# テキストエディター\n\n本文\n")
    assert r.post.title == "テキストエディター"
    assert r.post.date == datetime(2025, 1, 3, tzinfo=TOKYO)


def test_recursion_deep_yaml_does_not_crash(tmp_path):
    deep = "title: " + "[" * 5000 + "]" * 5000
    r = load(tmp_path, "2025-01-01-deep.md", post_with(deep))
    assert isinstance(r, LoadResult)
    assert r.problems
    assert all("2025-01-01-deep.md" in str(p) for p in r.problems)


def test_recursion_deep_yaml_mapping_does_not_crash(tmp_path):
    deep = "title: t\ntags: " + "{a: " * 5000 + "1" + "}" * 5000
    r = load(tmp_path, "2025-01-01-deep.md", post_with(deep))
    assert isinstance(r, LoadResult)
    assert r.problems


# --- size ------------------------------------------------------------------------


def test_post_over_max_chars_is_truncated_with_warning(tmp_path):
    line = "長い文章の一行です。これを何度も繰り返します。\n"
    body = line * 200 + "最後の行にだけある言葉\n"
    site = SiteConfig(max_chars=1000)
    r = load(tmp_path, "2025-01-24-huge.md", post_with("title: 巨大", body), site)
    assert r.post is not None
    assert len(r.post.body) <= 1000
    assert r.post.body.startswith("長い文章の一行です。")
    assert "最後の行にだけある言葉" not in r.post.body
    assert any("1,000" in m for m in messages(r, "warning"))


def test_post_under_max_chars_is_not_truncated(tmp_path):
    site = SiteConfig(max_chars=1000)
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t", "短い本文。\n"), site)
    assert r.post.body == "短い本文。"
    assert r.problems == []


# --- problems name the file --------------------------------------------------------


BAD_INPUTS: dict[str, bytes] = {
    "2025-01-01-empty.md": b"",
    "2025-01-02-not-closed.md": b"---\ntitle: x\n",
    "2025-01-03-yaml-error.md": b"---\ntitle: [x\n---\nbody\n",
    "2025-01-04-invalid-utf8.md": b"---\ntitle: x\n---\n\xff\xfe body\n",
    "2025-01-05-nul.md": b"---\ntitle: x\n---\na\x00b\n",
    "2025-01-06-draft.md": b"---\ntitle: x\npublished: false\n---\nbody\n",
    "2025-01-07-bad-date.md": b"---\ntitle: x\ndate: someday\n---\nbody\n",
    "2025-01-08-no-title.md": b"---\ndate: 2025-01-08\n---\nbody\n",
    "2025-01-09-list.md": b"---\n- a\n---\nbody\n",
    "2025-01-10-deep.md": b"---\ntitle: " + b"[" * 5000 + b"]" * 5000 + b"\n---\n",
    "2025-02-30-bad-day.md": b"---\ntitle: x\n---\nbody\n",
    "no-date.md": b"---\ntitle: x\n---\nbody\n",
}


def test_every_problem_names_the_file(tmp_path):
    posts = tmp_path / "_posts"
    posts.mkdir()
    for name, data in BAD_INPUTS.items():
        (posts / name).write_bytes(data)
    seen = 0
    for name in BAD_INPUTS:
        result = load_post(posts, name, SiteConfig())
        assert result.problems, f"{name}: expected a problem"
        for problem in result.problems:
            assert name in str(problem)
            assert str(problem).startswith(("skip ", "warning "))
            seen += 1
    assert seen >= len(BAD_INPUTS)


def test_problem_in_subfolder_names_the_relative_path(tmp_path):
    posts = tmp_path / "_posts"
    (posts / "2025").mkdir(parents=True)
    (posts / "2025" / "2025-01-04-empty.md").write_bytes(b"")
    result = load_post(posts, "2025/2025-01-04-empty.md", SiteConfig())
    assert str(result.problems[0]) == "skip 2025/2025-01-04-empty.md: empty file"


# --- finding files -------------------------------------------------------------------


def test_find_post_files_ignores_hidden_underscore_backup_and_other_extensions(tmp_path):
    for rel in [
        "2025-01-01-a.md",
        "2025-01-02-b.markdown",
        "sub/2025-01-03-c.mkd",
        "_drafts/2025-01-04-d.md",
        ".hidden/2025-01-05-e.md",
        "_2025-01-06-f.md",
        "#2025-01-07-g.md",
        "2025-01-08-h.md~",
        "2025-01-09-i.txt",
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    assert find_post_files(tmp_path) == [
        "2025-01-01-a.md",
        "2025-01-02-b.markdown",
        "sub/2025-01-03-c.mkd",
    ]


def test_post_id_is_relative_path_and_content_hash_changes_with_content(tmp_path):
    r1 = load(tmp_path, "2025-01-01-a.md", post_with("title: t", "一\n"))
    r2 = load(tmp_path, "2025-01-01-a.md", post_with("title: t", "二\n"))
    assert r1.post.id == "2025-01-01-a.md"
    assert r1.post.content_hash != r2.post.content_hash


def test_excerpt_defaults_to_first_paragraph(tmp_path):
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t", "最初の段落。\n\n次の段落。\n"))
    assert r.post.excerpt == "最初の段落。"


def test_loaded_date_is_a_date_of_the_post(tmp_path):
    # date objects in YAML become aware datetimes, never bare dates.
    r = load(tmp_path, "2025-01-01-a.md", post_with("title: t\ndate: 2025-03-04"))
    assert isinstance(r.post.date, datetime)
    assert r.post.date.date() == date(2025, 3, 4)
