"""The Whoosh schema and the conversion of a :class:`Post` into field values.

Fields hold plain term frequencies; field weights are applied at query time
(:mod:`search.matching`), so ranking can be tuned without reindexing.

Text is analyzed twice: into words (ranked higher) and into character
bigrams (the fallback for words hidden inside compounds). Analysis is the
expensive part of indexing, so :func:`analyze_post` runs in worker processes
and hands the writer finished postings (:class:`Preanalyzed`), which the
field types below accept in place of text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timezone, tzinfo
from itertools import accumulate, pairwise
from operator import add
from typing import Any

from whoosh import columns, fields, formats

from .analysis import AnalyzedText, BigramTokenizer, Term, WordTokenizer, sequence_text, word_terms
from .anchors import encode_mentions, encode_page_names, mentions_of
from .codec import pack_streams, stream_length, unpack_streams
from .posts import Post, normalize_label

# Bump when analysis or the schema changes: an index built by another
# version is rebuilt in full instead of being updated.
# 15: the manifest keeps each post's names and glosses (search/names.py).
ANALYSIS_VERSION = "15"

TITLE_POSITION_FIELDS = ("title", "title_ngram")
# Positional fields (phrases, highlighting) and the count-only fields that
# score them.
SCORING_FIELDS = {
    "title": "title_counts",
    "title_ngram": "title_ngram_counts",
    "headings": "headings_counts",
    "lead": "lead_counts",
    "body": "body_counts",
    "body_ngram": "body_ngram_counts",
    "code": "code_counts",
    "tags_text": "tags_text_counts",
    "categories_text": "categories_text_counts",
}
# Postings per block of positional fields. Highlighting walks the headers of
# a term's blocks once (~2 µs a block), then reads the one block holding a
# hit: a packed block gives one posting without decoding the others, so
# long blocks cost little there.
POSITIONAL_BLOCK_POSTINGS = 256


@dataclass
class Preanalyzed:
    """Postings computed elsewhere: ``(term bytes, freq, weight, encoded value)``."""

    items: list[tuple[bytes, int, float, bytes]]


class _PreanalyzedMixin:
    def index(self, value: Any, **kwargs: Any):
        if isinstance(value, Preanalyzed):
            return iter(value.items)
        return super().index(value, **kwargs)  # type: ignore[misc]


class _PackedFormat:
    """Positional postings in packed blocks (see :mod:`search.codec`): a
    value is integer streams, read one posting at a time, uncompressed."""

    postings_per_block = POSITIONAL_BLOCK_POSTINGS
    packed_values = True
    postings_compression = 0

    def decode_frequency(self, value: bytes) -> int:
        return stream_length(value)

    def decode_weight(self, value: bytes) -> float:
        return stream_length(value) * self.field_boost  # type: ignore[attr-defined]

    def decode_positions(self, value: bytes) -> list[int]:
        return list(accumulate(unpack_streams(value)[0]))


class PackedPositions(_PackedFormat, formats.Positions):
    """Token positions, as deltas."""

    def encode(self, poslist: list[int]) -> bytes:
        return pack_streams([pos - prev for prev, pos in pairwise([0, *poslist])])


class PackedCharacters(_PackedFormat, formats.Characters):
    """Token positions and character offsets: position and start deltas and
    token lengths (overlapping bigrams make end-to-start deltas negative)."""

    def encode(self, poslist: list[tuple[int, int, int]]) -> bytes:
        positions, starts, lengths = [], [], []
        last_pos = last_start = 0
        for pos, start, end in poslist:
            positions.append(pos - last_pos)
            starts.append(start - last_start)
            lengths.append(end - start)
            last_pos, last_start = pos, start
        return pack_streams(positions, starts, lengths)

    def decode_characters(self, value: bytes) -> list[tuple[int, int, int]]:
        positions, starts, lengths = unpack_streams(value)
        absolute = zip(accumulate(positions), accumulate(starts), lengths, strict=True)
        return [(pos, start, start + length) for pos, start, length in absolute]

    def decode_character_map(self, value: bytes) -> dict[int, tuple[int, int]]:
        """``{position: (start, end)}``: what highlighting looks tokens up in."""
        positions, starts, lengths = unpack_streams(value)
        starts = list(accumulate(starts))
        spans = zip(starts, map(add, starts, lengths), strict=True)
        return dict(zip(accumulate(positions), spans, strict=True))


def _packed(format_: formats.Format) -> formats.Format:
    packed = PackedCharacters if isinstance(format_, formats.Characters) else PackedPositions
    return packed(field_boost=format_.field_boost)


class WordField(_PreanalyzedMixin, fields.TEXT):
    """Words, with positions and character offsets for phrases and snippets."""

    def __init__(self, stored: bool = False, chars: bool = True):
        super().__init__(
            analyzer=WordTokenizer(),
            phrase=True,
            chars=chars,
            stored=stored,
            multitoken_query="phrase",
        )
        self.format = _packed(self.format)


class _Counts(formats.Existence):
    """No values in the postings, the term frequency kept as the weight."""

    # Read whole by the scorer, never one block at a time (see search/codec.py).
    postings_per_block = 4096
    packed_counts = True
    # Packed deltas and counts gain little from zlib, which cost more to
    # undo than the rest of reading a common term.
    postings_compression = 0

    def word_values(self, value: Any, analyzer: Any, **kwargs: Any):
        counts = Counter(t.text for t in formats.tokens(value, analyzer, kwargs))
        fb = self.field_boost
        return ((w, n, n * fb, b"") for w, n in sorted(counts.items()))


class CountField(_PreanalyzedMixin, fields.FieldType):
    """Term frequencies only, for scoring.

    A postings block of a positional field is mostly positions and offsets,
    which scoring does not need. Scoring reads these (packed, see
    search/codec.py); phrases and highlighting the positional field the
    counts shadow (see :data:`SCORING_FIELDS`).
    """

    def __init__(self, analyzer: Any, scorable: bool = False):
        super().__init__(_Counts(), analyzer, scorable=scorable)


def counts_only(items: list[tuple[bytes, int, float, bytes]]) -> Preanalyzed:
    """The postings of a positional field without their positions."""
    return Preanalyzed([(t, freq, weight, b"") for t, freq, weight, _ in items])


class BigramField(_PreanalyzedMixin, fields.TEXT):
    """Character bigrams of the Japanese text, the fallback for compounds."""

    def __init__(self, chars: bool = True):
        super().__init__(
            analyzer=BigramTokenizer(),
            phrase=True,
            chars=chars,
            multitoken_query="phrase",
        )
        self.format = _packed(self.format)


def build_schema() -> fields.Schema:
    """The schema of every index version."""
    schema = fields.Schema(
        id=fields.ID(stored=True, unique=True),
        content_hash=fields.STORED(),
        url=fields.STORED(),
        title=WordField(stored=True),
        title_ngram=BigramField(),
        # The title's term positions again, read with the hit: highlighting a
        # title then needs no postings block from the index.
        title_positions=fields.STORED(),
        headings=WordField(chars=False),
        # The excerpt or first paragraph: where a post says what it is about.
        lead=WordField(chars=False),
        lead_ngram=CountField(BigramTokenizer(), scorable=True),
        body=WordField(stored=True),
        body_ngram=BigramField(),
        code=WordField(chars=False),
        # Tags and categories: exact normalized keys for filters and facets,
        # words for matching, and the values as written for display.
        tags=fields.KEYWORD(commas=True, scorable=False),
        tags_text=WordField(chars=False),
        tags_display=fields.STORED(),
        categories=fields.KEYWORD(commas=True, scorable=False),
        categories_text=WordField(chars=False),
        categories_display=fields.STORED(),
        date=fields.DATETIME(stored=True, sortable=True),
        date_iso=fields.STORED(),
        year=fields.ID(sortable=True),
        month=fields.ID(sortable=True),
        author=fields.ID(stored=True),
        excerpt=fields.STORED(),
        # The page references in the body with the words around them; the
        # build turns them into the anchor words of the posts they name
        # (search/anchors.py).
        mentions=fields.COLUMN(columns.VarBytesColumn()),
        # The pages its title names: what the build resolves mentions to.
        page_names=fields.COLUMN(columns.VarBytesColumn()),
        # All its text as character sequences (search.analysis.sequence_text,
        # UTF-8): where a word matched through its bigrams must stand
        # together, read for the candidate docs only.
        sequence=fields.COLUMN(columns.VarBytesColumn()),
    )
    for name, counts in SCORING_FIELDS.items():
        analyzer = BigramTokenizer() if isinstance(schema[name], BigramField) else WordTokenizer()
        schema.add(counts, CountField(analyzer))
    return schema


_ANALYZED_TEXT = {
    "title": "title",
    "title_ngram": "title",
    "headings": "headings",
    "lead_ngram": "lead",
    "body_ngram": "body",
    "code": "code",
    "tags_text": "tags",
    "categories_text": "categories",
}

LEAD_BODY_CHARS = 300


def _text_of(post: Post, source: str) -> str:
    if source == "lead":
        # What the post says it is about: its excerpt and its opening lines.
        return f"{post.excerpt}\n{post.body[:LEAD_BODY_CHARS]}"
    value = getattr(post, source)
    return "\n".join(value) if isinstance(value, list) else value


def analyze_post(schema: fields.Schema, post: Post, tz: tzinfo) -> dict[str, Any]:
    """Keyword arguments for ``writer.add_document`` for *post*.

    Runs the analyzers; safe to call in a worker process. Year and month are
    those of the site's time zone *tz*, where the reader lives. The body's
    words are analyzed once and serve the ``lead`` field too (Janome is most
    of the indexing time).
    """
    doc: dict[str, Any] = {}
    for name, source in _ANALYZED_TEXT.items():
        text = _text_of(post, source)
        if text:
            doc[name] = Preanalyzed(list(schema[name].index(text)))
    doc["title_positions"] = {
        name: {
            term.decode("utf-8"): tuple(schema[name].format.decoder("characters")(value))
            for term, _freq, _weight, value in doc[name].items
        }
        for name in TITLE_POSITION_FIELDS
        if name in doc
    }
    body_terms = word_terms(post.body) if post.body else []
    doc["mentions"] = encode_mentions(mentions_of(post.body, body_terms))
    doc["page_names"] = encode_page_names(post.title)
    texts = [post.title, post.excerpt, post.body, post.code, *post.tags, *post.categories]
    doc["sequence"] = sequence_text("\n".join(t for t in texts if t)).encode("utf-8")
    if body_terms:
        doc["body"] = Preanalyzed(list(schema["body"].index(AnalyzedText(post.body, body_terms))))
    lead_terms = word_terms(post.excerpt) if post.excerpt else []
    shift = len(lead_terms) + 1
    lead_terms += [
        Term(t.text, t.pos + shift, t.start, t.end) for t in body_terms if t.end <= LEAD_BODY_CHARS
    ]
    if lead_terms:
        lead = AnalyzedText(_text_of(post, "lead"), lead_terms)
        doc["lead"] = Preanalyzed(list(schema["lead"].index(lead)))
    for name, counts in SCORING_FIELDS.items():
        if name in doc:
            doc[counts] = counts_only(doc[name].items)
    local = post.date.astimezone(tz)
    doc.update(
        id=post.id,
        content_hash=post.content_hash,
        url=post.url,
        _stored_title=post.title,
        _stored_body=post.body,
        tags=",".join(normalize_label(t).replace(",", " ") for t in post.tags),
        tags_display=post.tags,
        categories=",".join(normalize_label(c).replace(",", " ") for c in post.categories),
        categories_display=post.categories,
        # Whoosh stores naive datetimes: keep UTC there, the offset in date_iso.
        date=post.date.astimezone(timezone.utc).replace(tzinfo=None),
        date_iso=post.date.isoformat(),
        year=f"{local.year:04d}",
        month=f"{local.year:04d}-{local.month:02d}",
        author=post.author,
        excerpt=post.excerpt,
    )
    return doc
