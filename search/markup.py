"""Markdown (with HTML and Liquid) to plain text for indexing.

This is not a renderer: it keeps the words a reader sees and drops the
syntax around them. Code blocks are returned separately so that they can be
indexed in a field of their own and rank below prose. Every pattern here is
linear in the input; a post is untrusted text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^<>]*>.*?(?:</\1\s*>|\Z)", re.S | re.I)
_LIQUID_COMMENT = re.compile(r"{%-?\s*comment\s*-?%}.*?(?:{%-?\s*endcomment\s*-?%}|\Z)", re.S)
_LIQUID_RAW = re.compile(r"{%-?\s*raw\s*-?%}(.*?)(?:{%-?\s*endraw\s*-?%}|\Z)", re.S)
_LIQUID_HIGHLIGHT = re.compile(
    r"{%-?\s*highlight\b[^%{}]*%}(.*?)(?:{%-?\s*endhighlight\s*-?%}|\Z)", re.S
)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*)$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t])#+$")
# The next three are matched against stripped lines, which keeps them linear.
_SETEXT_UNDERLINE = re.compile(r"^(=+|-+)$")
_HR = re.compile(r"^([-*_])(?:[ \t]*\1){2,}$")
_TABLE_RULE = re.compile(r"^\|?:?-+:?(?:[ \t]*\|[ \t]*:?-+:?)*[ \t]*\|?$")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*\S+.*$")
_BLOCKQUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?")
# Brackets may not nest inside the text: each "[" then scans only to the
# next bracket, which keeps a line of 10,000 unclosed "[" linear.
_IMAGE = re.compile(r"!\[([^\[\]\n]*)\]\([^()\n]*\)")
_LINK = re.compile(r"\[([^\[\]\n]+)\](?:\([^()\n]*\)|\[[^\[\]\n]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^<>\s]+)>")
_BLOCK_TAGS = (
    "address|article|aside|blockquote|br|dd|details|div|dl|dt|figcaption|figure|footer|"
    "h[1-6]|header|hr|li|main|nav|ol|p|pre|section|summary|table|tbody|td|tfoot|th|thead|tr|ul"
)
_BLOCK_TAG = re.compile(rf"</?(?:{_BLOCK_TAGS})\b[^<>]*>", re.I)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<![A-Za-z][^<>]*>")
# Emphasis text may not contain its own marker character: each opening then
# scans only to the next marker, never to the end of a long line.
_STRONG = re.compile(r"\*\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*\*|__(?=[^\s_])([^_\n]+?)(?<=[^\s_])__")
# "*" may sit between letters (本文の*斜体*と), "_" may not (snake_case).
_EM_STAR = re.compile(r"(?<!\*)\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?!\*)")
_EM_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(?=[^\s~])([^~\n]+?)(?<=[^\s~])~~")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~&])")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass
class PlainText:
    """The parts of a Markdown document that are indexed."""

    body: str
    code: str = ""
    headings: list[str] = field(default_factory=list)
    first_h1: str | None = None


def _strip_liquid(text: str, code_blocks: list[str]) -> str:
    text = _LIQUID_COMMENT.sub("", text)

    def keep_highlight(m: re.Match[str]) -> str:
        code_blocks.append(m.group(1).strip("\n"))
        return "\n"

    text = _LIQUID_HIGHLIGHT.sub(keep_highlight, text)
    raw_parts: list[str] = []

    def protect_raw(m: re.Match[str]) -> str:
        raw_parts.append(m.group(1))
        return f"\x00{len(raw_parts) - 1}\x00"

    text = _LIQUID_RAW.sub(protect_raw, text)
    text = _remove_between(text, "{%", "%}")
    text = _remove_between(text, "{{", "}}")
    if raw_parts:
        text = re.sub(r"\x00(\d+)\x00", lambda m: raw_parts[int(m.group(1))], text)
    return text


def _remove_between(text: str, opening: str, closing: str) -> str:
    """Drop every ``opening…closing`` span, in one pass (unclosed ones stay)."""
    out: list[str] = []
    i = 0
    while True:
        j = text.find(opening, i)
        k = text.find(closing, j + len(opening)) if j >= 0 else -1
        if k < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        i = k + len(closing)


def _inline(line: str) -> str:
    # Backslash escapes become character references first, so an escaped
    # "<" or "*" is never taken for markup; html.unescape restores them.
    line = _ESCAPE.sub(lambda m: f"&#{ord(m.group(1))};", line)
    line = _IMAGE.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _AUTOLINK.sub(r"\1", line)
    line = _INLINE_CODE.sub(lambda m: m.group(2).strip(), line)
    line = _STRONG.sub(lambda m: m.group(1) or m.group(2), line)
    line = _STRIKE.sub(r"\1", line)
    line = _EM_STAR.sub(r"\1", line)
    line = _EM_UNDERSCORE.sub(r"\1", line)
    return line


def markdown_to_text(markdown: str) -> PlainText:
    """Reduce Markdown with embedded HTML and Liquid to indexable text."""
    code_blocks: list[str] = []
    text = _COMMENT.sub("", markdown.replace("\x00", ""))
    text = _SCRIPT_STYLE.sub("", text)
    text = _strip_liquid(text, code_blocks)

    out: list[str] = []
    headings: list[str] = []
    first_h1: str | None = None
    fence: str | None = None
    code: list[str] = []
    previous = ""
    for line in text.split("\n"):
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and stripped.strip(fence[0]) == "":
                code_blocks.append("\n".join(code))
                code, fence = [], None
            else:
                code.append(line)
            continue
        m = _FENCE.match(line)
        if m:
            fence = m.group(1)
            continue
        m = _HEADING.match(line)
        if m:
            heading = _CLOSING_HASHES.sub("", m.group(2).rstrip())
            heading = _clean_inline_html(_inline(heading)).strip()
            if heading:
                headings.append(heading)
                if first_h1 is None and len(m.group(1)) == 1:
                    first_h1 = heading
            out.append(heading)
            previous = heading
            continue
        stripped = line.strip()
        if _SETEXT_UNDERLINE.match(stripped) and previous.strip():
            # The line above was a heading (CommonMark: even "---" under a
            # paragraph line is an underline, not a rule).
            headings.append(previous.strip())
            if first_h1 is None and stripped.startswith("="):
                first_h1 = previous.strip()
            previous = ""
            continue
        if _HR.match(stripped) or _TABLE_RULE.match(stripped) or _REF_DEF.match(line):
            out.append("")
            previous = ""
            continue
        line = _BLOCKQUOTE.sub("", line)
        line = _LIST_MARKER.sub("", line)
        if "|" in line and line.strip().startswith("|"):
            line = line.replace("|", " ")
        line = _inline(line)
        out.append(line)
        previous = line
    if fence is not None and code:
        # An unclosed fence runs to the end of the document, as in CommonMark.
        code_blocks.append("\n".join(code))

    body = _clean_inline_html("\n".join(out))
    body = "\n".join(_SPACES.sub(" ", ln).strip() for ln in body.split("\n"))
    body = _BLANK_LINES.sub("\n\n", body).strip()
    return PlainText(
        body=body,
        code=html.unescape("\n\n".join(b for b in code_blocks if b.strip())),
        headings=headings,
        first_h1=first_h1,
    )


def _clean_inline_html(text: str) -> str:
    text = _BLOCK_TAG.sub("\n", text)
    text = _TAG.sub("", text)
    return html.unescape(text)
