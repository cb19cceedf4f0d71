"""Markdown/HTML/Liquid to indexable plain text (search/markup.py)."""

from __future__ import annotations

import time

import pytest

from search.markup import markdown_to_text


def test_script_and_style_contents_are_dropped():
    t = markdown_to_text(
        "前の文。\n<script>alert('ひみつ')</script>\n<STYLE type=x>.a{color:red}</STYLE>\n後の文。"
    )
    assert "alert" not in t.body and "ひみつ" not in t.body
    assert "color" not in t.body
    assert "前の文。" in t.body and "後の文。" in t.body


def test_unclosed_script_drops_the_rest():
    t = markdown_to_text("見える\n<script>var secret = 1;")
    assert t.body == "見える"


def test_html_comments_are_dropped_even_when_unclosed():
    assert markdown_to_text("表<!-- 隠し -->示").body == "表示"
    assert markdown_to_text("テキスト<!-- 閉じない コメント").body == "テキスト"


def test_liquid_tags_outputs_and_comments_are_dropped():
    t = markdown_to_text(
        "見える{% if x %}条件{% endif %}\n{{ page.title }}\n"
        "{% comment %}内緒のメモ{% endcomment %}\n{% include foo.html %}終わり"
    )
    assert "page.title" not in t.body
    assert "内緒のメモ" not in t.body
    assert "include" not in t.body and "{%" not in t.body and "{{" not in t.body
    assert "見える条件" in t.body
    assert "終わり" in t.body


def test_liquid_raw_block_keeps_its_text():
    assert "{{ 生 }}" in markdown_to_text("{% raw %}{{ 生 }}{% endraw %}").body


def test_fenced_code_goes_to_code_not_body():
    t = markdown_to_text("前\n\n```c\nint pthread_key_create(pthread_key_t *key);\n```\n\n後")
    assert t.code == "int pthread_key_create(pthread_key_t *key);"
    assert "pthread_key_create" not in t.body
    assert t.body == "前\n\n後"


def test_tilde_fence_and_liquid_highlight_go_to_code():
    t = markdown_to_text(
        "~~~python\nprint(1)\n~~~\n{% highlight ruby %}\nputs 2\n{% endhighlight %}"
    )
    assert "print(1)" in t.code
    assert "puts 2" in t.code
    assert "print" not in t.body and "puts" not in t.body


def test_unclosed_fence_runs_to_end_as_code():
    t = markdown_to_text("本文\n```\n閉じないコード")
    assert t.body == "本文"
    assert t.code == "閉じないコード"


def test_code_entities_are_unescaped():
    assert markdown_to_text("```\na &lt; b\n```").code == "a < b"


def test_atx_headings_are_collected_and_first_h1_found():
    t = markdown_to_text("## 二番目から\n\n# 本当の題 #\n\n### 小見出し ###\n本文")
    assert t.headings == ["二番目から", "本当の題", "小見出し"]
    assert t.first_h1 == "本当の題"
    assert "本当の題" in t.body
    assert "#" not in t.body


def test_heading_markup_is_cleaned():
    t = markdown_to_text("## **強調** と [リンク](http://x) の `code` 見出し")
    assert t.headings == ["強調 と リンク の code 見出し"]


def test_setext_equals_heading_is_collected_as_h1():
    t = markdown_to_text("大見出し\n========\n\n本文")
    assert t.headings == ["大見出し"]
    assert t.first_h1 == "大見出し"
    assert "=" not in t.body


def test_setext_dash_heading_is_collected():
    # CommonMark: a '---' line right under a paragraph line is a level-2 heading.
    t = markdown_to_text("中見出し\n--------\n\n本文")
    assert t.headings == ["中見出し"]
    assert "-" not in t.body


def test_thematic_break_after_blank_line_is_not_a_heading():
    t = markdown_to_text("段落\n\n---\n\n次の段落")
    assert t.headings == []
    assert "-" not in t.body


def test_links_and_images_are_reduced_to_their_text():
    t = markdown_to_text(
        "[リンク文字](http://example.com/x) と ![画像の説明](a.png) と "
        "[参照リンク][ref] と <https://example.com/a_b>\n\n[ref]: http://example.com/ref"
    )
    assert t.body == "リンク文字 と 画像の説明 と 参照リンク と https://example.com/a_b"


def test_emphasis_is_reduced_to_text_between_spaces():
    t = markdown_to_text("a *em* b and **strong** and _u_ and ~~gone~~ x")
    assert t.body == "a em b and strong and u and gone x"


def test_emphasis_is_reduced_to_text_inside_japanese():
    # Japanese has no spaces: CommonMark still reads *斜体* here as emphasis.
    t = markdown_to_text("本文の*斜体*と**太字**と~~取消~~です。")
    assert t.body == "本文の斜体と太字と取消です。"


def test_html_tags_are_dropped_and_entities_unescaped():
    t = markdown_to_text('<p>段落 &amp; <a href="x">リンク文字</a> &lt;tag&gt; <b>太字</b></p>')
    assert t.body == "段落 & リンク文字 <tag> 太字"


def test_identifiers_keep_underscores():
    t = markdown_to_text(
        "pthread_key_create と `pthread_getspecific()` と MAX_PATH と snake_case_name を使う。"
    )
    assert "pthread_key_create" in t.body
    assert "pthread_getspecific()" in t.body
    assert "MAX_PATH" in t.body
    assert "snake_case_name" in t.body


def test_block_quotes_lists_and_tables_keep_their_words_only():
    t = markdown_to_text(
        "> 引用文\n\n- リスト項目\n1. 番号付き\n- [x] 済み\n\n| 表 | 列 |\n|---|---|\n| a | b |"
    )
    lines = t.body.split("\n")
    assert "引用文" in lines
    assert "リスト項目" in lines and "番号付き" in lines and "済み" in lines
    assert "表 列" in lines and "a b" in lines
    assert ">" not in t.body and "|" not in t.body


def test_escaped_angle_bracket_is_literal_text_not_a_tag():
    # The corpus escapes every '<' before a letter: \<https://...>, \<user@host>.
    t = markdown_to_text(
        r"詳細は \<https://www.gnu.org/software/coreutils/> と \<stdio.h> を参照。"
    )
    assert t.body == "詳細は <https://www.gnu.org/software/coreutils/> と <stdio.h> を参照。"


def test_escaped_asterisks_are_literal_not_emphasis():
    assert markdown_to_text(r"\*星\* と a\_b\_c").body == "*星* と a_b_c"


def test_nul_characters_are_dropped():
    assert markdown_to_text("a\x00b").body == "ab"


@pytest.mark.parametrize(
    "unit",
    ["<", "[", "![", "{%", "{{", "`", "*", "_", "<!--x", "<script>", "~~"],
)
def test_unclosed_syntax_is_handled_in_linear_time(unit):
    # 16,000 characters of one unclosed construct on one line. A linear pass
    # takes milliseconds; a pattern that rescans to the end of the line from
    # every opening takes seconds (and hours for a 1 MB post).
    text = unit * (16_000 // len(unit))
    started = time.perf_counter()
    markdown_to_text(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5, f"{len(text):,} characters of {unit!r} took {elapsed:.2f} s"
