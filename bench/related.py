"""Related posts benchmark: do the related posts fit, and what do they cost?

Run from the repository root::

    .venv/bin/python bench/related.py [--posts DIR] [--index-dir DIR] [--limit N] [--sample N]

For every post of ``--posts`` (or an evenly spaced ``--sample`` of them), the
related posts of ``SearchEngine.related`` (search/related.py: text, tags,
category, names across scripts) and of the peer it replaced, Whoosh's
``more_like`` over the post's title, tags and excerpt (BM25F), run in the same
process over the same index. Printed per system: the share of related posts
that share at least one tag with the post, the share in its category, the
share of posts whose list has none of either, and the mean time per list.
Run on both corpora (``../shared/corpus/aiblog/posts`` and
``../shared/corpus/posts``); the index is built into ``--index-dir`` once and
reused.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.inputs import require_inputs  # noqa: E402
from search.indexer import build_index  # noqa: E402
from search.query import SearchEngine  # noqa: E402
from search.site import load_site_config  # noqa: E402


def _more_like(engine: SearchEngine, post_id: str, limit: int) -> list[str]:
    """The old related list: Whoosh's more_like on title, tags and excerpt."""
    state = engine._current()
    s = state.searcher
    docnum = state.table.docnum_by_id[post_id]
    stored = s.stored_fields(docnum)
    text = " ".join([stored.get("title", ""), *(stored.get("tags_display") or []),
                     stored.get("excerpt", "")])  # fmt: skip
    return [hit["id"] for hit in s.more_like(docnum, "body", text=text, top=limit, numterms=12)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=Path, default=REPO.parent / "shared/corpus/aiblog/posts")
    parser.add_argument("--index-dir", type=Path, default=None,
                        help="[bench/out/related-<posts folder's parent>]")  # fmt: skip
    parser.add_argument("--limit", type=int, default=5, help="related posts per post [5]")
    parser.add_argument("--sample", type=int, default=300, help="posts to ask about [300]")
    args = parser.parse_args()
    require_inputs("related.py", posts=args.posts)
    index_dir = args.index_dir or REPO / "bench/out" / f"related-{args.posts.resolve().parent.name}"
    started = time.perf_counter()
    report = build_index(args.posts, index_dir, load_site_config(args.posts))
    print(f"index {index_dir}: {report.documents} posts ({time.perf_counter() - started:.1f} s)")

    engine = SearchEngine(index_dir)
    state = engine._current()
    ids = sorted(state.table.docnum_by_id)
    step = max(1, len(ids) // args.sample)
    asked = ids[::step][: args.sample]
    stored = {i: state.searcher.stored_fields(state.table.docnum_by_id[i]) for i in ids}

    def facets(post_id: str) -> tuple[set[str], set[str]]:
        doc = stored[post_id]
        return set(doc.get("tags_display") or []), set(doc.get("categories_display") or [])

    systems = {
        "ours": lambda i: [h.id for h in engine.related(i, limit=args.limit)],
        "more_like": lambda i: _more_like(engine, i, args.limit),
    }
    for fn in systems.values():  # warm up: tokenizers, tables
        fn(asked[0])
    print(f"{len(asked)} posts asked, {args.limit} related each\n")
    print(f"{'system':<10} {'share tag':>10} {'same cat':>10} {'neither':>9} {'ms/list':>8}")
    for name, fn in systems.items():
        tag = cat = total = empty = 0
        seconds = 0.0
        for post_id in asked:
            tags, cats = facets(post_id)
            t0 = time.perf_counter()
            related = fn(post_id)
            seconds += time.perf_counter() - t0
            fit = 0
            for other in related:
                other_tags, other_cats = facets(other)
                tag += bool(tags & other_tags)
                cat += bool(cats & other_cats)
                fit += bool(tags & other_tags or cats & other_cats)
                total += 1
            empty += fit == 0
        print(f"{name:<10} {tag / max(total, 1):>10.3f} {cat / max(total, 1):>10.3f} "
              f"{empty / len(asked):>9.3f} {1000 * seconds / len(asked):>8.1f}")  # fmt: skip
    engine.close()


if __name__ == "__main__":
    main()
