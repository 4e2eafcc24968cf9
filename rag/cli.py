"""The `rag` command: index articles, ask and chat, evaluate, serve. Every known error is one line."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Column, Table

from rag.errors import RagError

log = logging.getLogger(__name__)

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
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from rag.http.client import index_via_server, running_server
    from rag.ingest import expand_paths, is_url

    assistant = _assistant(index_dir)
    server = running_server(assistant.settings)
    if server:
        err.print(
            f"A server ({server}) has this index open: handing the articles to it, so there is one "
            "writer and its answers include them at once.",
            highlight=False,
        )
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
        advance = lambda name: progress.update(task, advance=1, description=name)  # noqa: E731
        if server:
            report = index_via_server(server, assistant.settings, targets, on_progress=advance)
        else:
            report = assistant.index(
                *targets, on_progress=advance, on_wait=lambda msg: err.print(f"[yellow]{msg}")
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
    # Ids are what `rag remove` and `--article` take: never cut them; the source wraps instead.
    table = Table(
        Column("id", no_wrap=True, overflow="ignore"), "title", Column("chunks", justify="right"),
        Column("chars", justify="right"), Column("source", overflow="fold"),
    )
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


@app.command("ask")
def ask_cmd(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    article: Annotated[Optional[str], typer.Option("--article", "-a", help="Only this article id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
    index_dir: IndexDir = None,
) -> None:
    """Ask one question; prints the answer and the passages it cites."""
    answer = _assistant(index_dir).ask(question, article=article)
    if as_json:
        out.print_json(json.dumps(answer.to_dict()))
    else:
        _print_answer(answer)


def _print_answer(answer) -> None:
    from rich.markdown import Markdown

    if answer.query:
        out.print(f"[dim]Searched for: {answer.query}[/dim]", highlight=False)
    style = "yellow" if answer.refused else "bold"
    out.print(Markdown(answer.text), style=style)
    if answer.notice:
        out.print(f"[dim]{answer.notice}[/dim]", highlight=False)
    for c in answer.citations:
        out.print(f"  [cyan][{c.n}][/cyan] {c.title} ({c.article_id}, chars {c.start}-{c.end})", highlight=False)
        out.print(f"      “{c.quote}”", highlight=False)
    if answer.refused and answer.passages:
        out.print("[dim]Nearest passages (not cited):[/dim]")
        for p in answer.passages[:3]:
            snippet = p.text if len(p.text) < 200 else p.text[:200] + "…"
            out.print(f"  [dim]- {p.title}: {snippet}[/dim]", highlight=False)


@app.command("chat")
def chat_cmd(
    article: Annotated[Optional[str], typer.Option("--article", "-a", help="Only this article id.")] = None,
    index_dir: IndexDir = None,
) -> None:
    """A terminal chat that keeps the conversation, so follow-ups like "And Italy?" work."""
    assistant = _assistant(index_dir)
    assistant.warm_up()
    history: list[dict[str, str]] = []
    out.print("Ask about the articles. Empty line or Ctrl-D to quit; /new starts over.")
    while True:
        try:
            question = input("> ").strip()
        except EOFError:
            break
        if not question:
            break
        if question == "/new":
            history.clear()
            continue
        try:
            answer = assistant.ask(question, article=article, history=history)
        except RagError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            continue
        _print_answer(answer)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


@app.command("eval")
def eval_cmd(
    file: Annotated[Path, typer.Argument(help="A .jsonl question file (dev or SQuAD format).")],
    limit: Annotated[Optional[int], typer.Option(help="Answer a random sample of this many questions.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    show_misses: Annotated[bool, typer.Option("--misses", help="List the questions answered wrongly.")] = False,
    index_dir: IndexDir = None,
) -> None:
    """Measure support recall@k, answer hit rate, refusals and latency on a question file."""
    from rich.progress import Progress

    from rag.evaluate import run_eval

    with Progress(console=err, transient=True, disable=as_json) as progress:
        task = progress.add_task("Answering", total=None)
        report = run_eval(
            file, _assistant(index_dir), limit=limit, seed=seed,
            on_progress=lambda: progress.advance(task),
        )
    metrics = report.metrics()
    if as_json:
        out.print_json(json.dumps(metrics))
    else:
        table = Table("metric", "value")
        for key, value in metrics.items():
            table.add_row(key, "-" if value is None else str(value))
        out.print(table)
    if show_misses:
        for o in report.outcomes:
            wrong = o.refused if o.question.answerable else not o.refused
            if wrong or (o.question.answerable and not o.hit):
                out.print(f"[red]{o.question.id}[/red] {o.question.question} -> {o.text[:160]}", highlight=False)


@app.command("serve")
def serve_cmd(
    host: Annotated[Optional[str], typer.Option(help="Bind address (default RAG_HOST or 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default RAG_PORT or 7860).")] = None,
    share: Annotated[bool, typer.Option("--share", help="Gradio share links need its tunnel on the internet, which an offline tool does not use: prints how to expose the server safely instead.")] = False,
    index_dir: IndexDir = None,
) -> None:
    """Serve the chat UI at / and the HTTP API under /v1 (127.0.0.1 by default)."""
    from rag.http.serve import serve

    assistant = _assistant(index_dir)
    if assistant.writer_active():
        err.print(
            "An indexing run holds the index lock; serving what is indexed now. Its articles "
            "appear in answers as soon as it finishes (no restart needed).",
            highlight=False,
        )
    serve(assistant, host=host, port=port, share=share, ui=chat_ui())


def chat_ui():
    """The Gradio chat's mount function: the one place `rag` meets `ui` (this command composes the
    two). None, with a warning, when `ui.app` cannot be imported: the API is served alone."""
    try:
        from ui.app import mount
    except ImportError as exc:
        log.warning("The chat UI is not mounted (ui.app cannot be imported: %s); serving the API only.", exc)
        return None
    return mount


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
