"""The ``blogsearch`` command: index, search, stats (and serve, from ``web``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .indexer import DEFAULT_KEEP_VERSIONS, IndexReport, build_index, check_posts
from .names import NameTable, posts_with
from .query import QueryError, SearchEngine, SearchRequest
from .site import SiteConfigError, load_site_config
from .store import IndexLocked, IndexStore, NoIndex

DEFAULT_INDEX_DIR = "index"

synonyms_option = click.option(
    "--synonyms",
    type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("BLOGSEARCH_SYNONYMS_FILE") or None,
    help="Solr-format synonyms file applied to queries [$BLOGSEARCH_SYNONYMS_FILE].",
)

# None when not given: serve then leaves it to the app's LOANWORDS setting.
loanwords_option = click.option(
    "--loanwords/--no-loanwords",
    "use_loanwords",
    default=None,
    help="Also search the English form of a katakana loanword (ソケット: socket), "
    "and the other way round, at a lower weight [default: on; for serve, the "
    "LOANWORDS setting, $BLOGSEARCH_LOANWORDS].",
)

index_dir_option = click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("BLOGSEARCH_INDEX_DIR", DEFAULT_INDEX_DIR),
    show_default="$BLOGSEARCH_INDEX_DIR or ./index",
    help="Directory holding the index versions.",
)


@click.group()
@click.version_option(package_name="blogsearch")
def main() -> None:
    """Full-text search for a Japanese Jekyll blog."""


def _progress_enabled() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def _progress(items, length):
    """A progress bar on a terminal; nothing in CI or a pipe."""
    if not _progress_enabled() or length < 20:
        yield from items
        return
    with click.progressbar(items, length=length, label="indexing", file=sys.stderr) as bar:
        yield from bar


def _print_report(report: IndexReport, check: bool) -> None:
    for problem in report.problems:
        click.echo(str(problem), err=True)
    skipped = len(report.skipped)
    warnings = len(report.warnings)
    if check:
        click.echo(
            f"checked: {report.documents} posts readable, {skipped} skipped, "
            f"{warnings} warnings ({report.seconds:.1f} s)"
        )
        return
    kind = "full build" if report.full else "incremental"
    rate = report.characters / report.seconds if report.seconds else 0
    click.echo(
        f"{kind}: {report.added} added, {report.updated} updated, {report.deleted} deleted, "
        f"{report.unchanged} unchanged, {skipped} skipped, {warnings} warnings"
        f"{f' ({report.remembered} from earlier runs)' if report.remembered else ''}; "
        f"{report.documents} documents in version {report.version} "
        f"({report.seconds:.1f} s, {rate / 1000:.0f}k chars/s)"
    )


@main.command()
@click.argument(
    "posts_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@index_dir_option
@click.option("--full", is_flag=True, help="Rebuild everything into a new version.")
@click.option("--rollback", is_flag=True,
              help="Switch back to the previous index version (no POSTS_DIR needed).")  # fmt: skip
@click.option("--check", is_flag=True, help="Read and validate the posts; write nothing.")
@click.option("--strict", is_flag=True, help="Exit with status 2 if any file has a problem.")
@click.option("--timezone", default=None, help="Site time zone for naive dates [_config.yml].")
@click.option("--permalink", default=None, help="Permalink style or template [_config.yml].")
@click.option("--baseurl", default=None, help="Prefix for every post URL [_config.yml].")
@click.option(
    "--site-url", default=None,
    help="The blog's address, e.g. https://blog.example.com: hits link there "
    "rather than to the search server [_config.yml url].",
)  # fmt: skip
@click.option(
    "--max-chars", type=click.IntRange(min=1000), default=None,
    help="Characters of a post that are indexed; longer posts are truncated [1000000].",
)  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes [cores].")
@click.option("--keep", type=click.IntRange(min=1), default=DEFAULT_KEEP_VERSIONS,
              show_default=True, help="Index versions kept for rollback.")  # fmt: skip
@click.option("--wait", type=float, default=10.0, show_default=True,
              help="Seconds to wait for another indexer to finish.")  # fmt: skip
def index(posts_dir, index_dir, full, rollback, check, strict, timezone, permalink, baseurl,
          site_url, max_chars, workers, keep, wait):  # fmt: skip
    """Index the Jekyll posts in POSTS_DIR.

    Incremental by default: only added or changed files are analyzed, deleted
    files leave the index. Every run writes a new index version and switches
    to it atomically; readers never see a half-built index.

    Exit status: 0 on success (warnings allowed), 1 on a fatal error,
    2 with --strict when a file was skipped or repaired (in this run or, for a
    file unchanged since, in an earlier one).
    """
    if rollback:
        store = IndexStore(index_dir)
        try:
            with store.lock(wait=wait):
                name = store.rollback()
        except (IndexLocked, NoIndex) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"rolled back: version {name} is current")
        return
    if posts_dir is None:
        raise click.UsageError("POSTS_DIR is required (except with --rollback)")
    try:
        site = load_site_config(
            posts_dir, timezone=timezone, permalink=permalink, baseurl=baseurl, url=site_url,
            max_chars=max_chars,
        )  # fmt: skip
        if check:
            report = check_posts(posts_dir, site, workers)
        else:
            report = build_index(
                posts_dir, index_dir, site, full=full, workers=workers, keep=keep,
                lock_wait=wait, progress=_progress,
            )  # fmt: skip
    except (SiteConfigError, IndexLocked) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"indexing failed: {exc}") from exc
    _print_report(report, check)
    if strict and report.problems:
        sys.exit(2)


@main.command()
@click.argument("query", nargs=-1)
@index_dir_option
@click.option("--tag", "tags", multiple=True, help="Only posts with this tag (repeatable).")
@click.option("--category", "categories", multiple=True, help="Only posts in this category.")
@click.option("--sort", type=click.Choice(["relevance", "date", "-date"]), default="relevance",
              show_default=True, help="Order of the hits.")  # fmt: skip
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 50), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the /api/search JSON object.")
@synonyms_option
@loanwords_option
def search(query, index_dir, tags, categories, sort, page, per_page, as_json, synonyms,
           use_loanwords):  # fmt: skip
    """Search the index for QUERY and print the top hits."""
    engine = SearchEngine(index_dir, synonyms=synonyms, use_loanwords=use_loanwords is not False)
    request = SearchRequest(
        q=" ".join(query), tags=list(tags), categories=list(categories), sort=sort,
        page=page, per_page=per_page,
    )  # fmt: skip
    try:
        result = engine.search(request)
    except NoIndex as exc:
        raise click.ClickException(str(exc)) from exc
    except QueryError as exc:
        raise click.BadParameter(exc.message, param_hint=exc.param) from exc
    finally:
        engine.close()
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    relaxed = " (not every word matched)" if result.relaxed else ""
    click.echo(f"{result.total} hits{relaxed}, {result.processing_ms:.1f} ms")
    for hit in result.hits:
        click.echo("")
        click.secho(hit.title, bold=True)
        click.echo(f"  {hit.date[:10]}  {hit.url}")
        click.echo("  " + _terminal_snippet(hit.snippet))


def _name_pairs(version_path) -> list[dict]:
    """The version's learned name pairs, with how many posts write each side."""
    from whoosh import index as whoosh_index

    table = NameTable.read(version_path)
    ix = whoosh_index.open_dir(str(version_path))
    try:
        with ix.reader() as reader:
            return [
                {"latin": latin, "katakana": kana, "source": source,
                 "latinPosts": posts_with(reader, latin), "katakanaPosts": posts_with(reader, kana)}
                for latin, kana, source in table.pairs()
            ]  # fmt: skip
    finally:
        ix.close()


def _terminal_snippet(html_snippet: str) -> str:
    import html

    text = html_snippet.replace("<mark>", "\x1b[7m").replace("</mark>", "\x1b[0m")
    if not sys.stdout.isatty():
        text = text.replace("\x1b[7m", "[").replace("\x1b[0m", "]")
    return html.unescape(text)


@main.command()
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option("--names", is_flag=True,
              help="List the names learned across scripts (NVIDIA / エヌビディア) with their "
              "source (gloss or transliteration) and how many posts write each spelling; "
              "forbid a wrong pair with a '!' line in the synonyms file.")  # fmt: skip
def stats(index_dir, as_json, names):
    """Print document count, index size and last build time."""
    store = IndexStore(index_dir)
    try:
        version = store.current()
    except NoIndex as exc:
        raise click.ClickException(str(exc)) from exc
    info = {
        "version": version.name,
        "documents": version.documents,
        "sizeBytes": store.size_bytes(version),
        "builtAt": version.built_at,
        "postsDir": version.manifest.get("posts_dir"),
        "versions": store.list_versions(),
    }
    if names:
        info["names"] = _name_pairs(version.path)
        if not as_json:
            for p in info["names"]:
                click.echo(f"{p['latin']:<24} {p['katakana']:<20} {p['source']:<16} "
                           f"{p['latinPosts']:>5} {p['katakanaPosts']:>5}")  # fmt: skip
            click.echo(f"{len(info['names'])} pairs (latin, katakana, source, posts with each)")
            return
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    click.echo(f"version    {info['version']}")
    click.echo(f"documents  {info['documents']}")
    click.echo(f"size       {info['sizeBytes'] / 1e6:.1f} MB")
    click.echo(f"built at   {info['builtAt']}")
    click.echo(f"posts      {info['postsDir']}")
    click.echo(f"versions   {len(info['versions'])} kept")


@main.command()
@index_dir_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; the default serves this machine only.")  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="Origin allowed to call the API from a browser (repeatable, or '*').",
)
@click.option("--debug", is_flag=True, help="Flask debug mode (never in production).")
@synonyms_option
@loanwords_option
def serve(index_dir, host, port, cors_origins, debug, synonyms, use_loanwords):
    """Run the development web server (use gunicorn in production; see README)."""
    from web import create_app  # Flask is only needed for this command

    overrides: dict = {"INDEX_DIR": str(index_dir)}
    if use_loanwords is not None:
        overrides["LOANWORDS"] = use_loanwords
    if synonyms:
        overrides["SYNONYMS_FILE"] = str(synonyms)
    if cors_origins:
        overrides["CORS_ORIGINS"] = "*" if "*" in cors_origins else list(cors_origins)
    app = create_app(overrides)
    app.run(host=host, port=port, debug=debug, use_reloader=False)


if __name__ == "__main__":  # pragma: no cover
    main()
