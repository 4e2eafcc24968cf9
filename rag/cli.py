"""The `rag` command: index articles, ask and chat, evaluate, serve. Every known error is one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from rag.errors import RagError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Chat with news articles: answers with cited passages, offline by default.",
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _assistant(index_dir: Path | None = None):
    from rag.assistant import Assistant

    overrides = {"index_dir": index_dir} if index_dir else {}
    return Assistant(**overrides)


IndexDir = Annotated[
    Optional[Path],
    typer.Option("--index-dir", help="Index folder (default: RAG_INDEX_DIR or ./index).", show_default=False),
]


@app.command("index")
def index_cmd(
    targets: Annotated[list[str], typer.Argument(help="Files, folders and http(s) URLs to index.")],
    index_dir: IndexDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Index articles (txt, md, html, pdf, URLs). Unchanged articles are skipped; edited ones replaced."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rag.ingest import expand_paths, is_url

    assistant = _assistant(index_dir)
    total = 0
    for t in targets:
        try:
            total += 1 if is_url(t) else len(expand_paths(Path(t).expanduser()))
        except RagError:
            total += 1
    with Progress(
        TextColumn("[bold]Indexing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}"), console=err, transient=True, disable=as_json or total < 2,
    ) as progress:
        task = progress.add_task("", total=total)
        report = assistant.index(
            *targets,
            on_progress=lambda name: progress.update(task, advance=1, description=name),
            on_wait=lambda msg: err.print(f"[yellow]{msg}"),
        )
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    else:
        for source, message in report.failed:
            err.print(f"[red]error:[/red] {message}", highlight=False)
        out.print(report.summary(), highlight=False)
        if report.added or report.updated:
            out.print('Ask with: rag ask "your question"  (or `rag serve` for the chat in a browser)')
    if report.failed:
        raise typer.Exit(1)


@app.command("list")
def list_cmd(
    index_dir: IndexDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the indexed articles with their chunk counts."""
    articles = _assistant(index_dir).articles()
    if as_json:
        out.print_json(json.dumps([a.__dict__ for a in articles]))
        return
    if not articles:
        out.print("No articles indexed yet: run `rag index seeds/` (or any file, folder or URL).")
        return
    table = Table("id", "title", "chunks", "chars", "source")
    for a in articles:
        table.add_row(a.id, a.title, str(a.chunk_count), f"{a.chars:,}", a.source)
    out.print(table)


@app.command("remove")
def remove_cmd(
    article_ids: Annotated[list[str], typer.Argument(help="Article ids, as `rag list` shows them.")],
    index_dir: IndexDir = None,
) -> None:
    """Remove articles and all their chunks from the index."""
    report = _assistant(index_dir).remove(*article_ids)
    out.print(f"Removed {', '.join(report.removed)} ({report.chunks_deleted} chunks).", highlight=False)


@app.command("serve")
def serve_cmd(
    host: Annotated[Optional[str], typer.Option(help="Bind address (default RAG_HOST or 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default RAG_PORT or 7860).")] = None,
    share: Annotated[bool, typer.Option("--share", help="Also open a public Gradio share link.")] = False,
    index_dir: IndexDir = None,
) -> None:
    """Serve the chat UI at / and the HTTP API under /v1 (127.0.0.1 by default)."""
    from rag.api import serve

    serve(_assistant(index_dir), host=host, port=port, share=share)


def main() -> None:
    """Entry point: Typer handles usage errors and help; every `RagError` becomes one line and exit 1."""
    try:
        app()
    except RagError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
