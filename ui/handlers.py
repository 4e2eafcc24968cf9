"""What the chat page shows, as pure functions of the assistant and the user's input.

Every piece of article text that reaches the page goes through `html.escape` here: an article
containing `<script>` or markup renders as text.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from rag.assistant import message_text
from rag.errors import RagError
from rag.types import Answer

log = logging.getLogger(__name__)

ALL_ARTICLES = "All articles"
CONTEXT_CHARS = 280  # article text shown on each side of a cited sentence
EXAMPLES = [
    "Who represented the US?",
    "Which German leader attended?",
    "What did Macron lament about Russia?",
    "What weapons system did Germany refuse to send?",
]
ARTICLE_COLUMNS = ["id", "title", "chunks", "characters", "source"]
EARLIER_KEPT = 10  # earlier answers whose sources stay in the panel (older [n] links lead nowhere)


def friendly_error(exc: BaseException) -> str:
    """The message a user sees: ours as they are, anything else generic (and logged)."""
    if isinstance(exc, RagError):
        return str(exc)
    log.exception("unexpected error in the UI", exc_info=exc)
    return "Something went wrong on the server; the error was logged. Nothing indexed was lost."


def _escape_html(text: str) -> str:
    """Text inside a Markdown chat message: HTML escaped (our Markdown markers are kept)."""
    return html.escape(text, quote=False)


def answer_markdown(answer: Answer, turn: int = 1) -> str:
    """The chat message: escaped text, `[n]` linked to its source card, refusals marked.

    Card ids carry the answer's turn, so an earlier answer's [1] still leads to its own card."""
    text = _escape_html(answer.text)
    text = re.sub(r"(?<!\\)\[(\d+)\]", lambda m: f"[[{m.group(1)}]](#source-{turn}-{m.group(1)})", text)
    if answer.refused:
        text = f"⚠️ *Not answered.* {text}"
    notes = []
    if answer.query:
        notes.append(f"Searched for: “{_escape_html(answer.query)}”")
    if answer.notice:
        notes.append(_escape_html(answer.notice))
    if notes:
        text += "\n\n" + "\n\n".join(f"<sub>{n}</sub>" for n in notes)
    return text


def _context(text: str, start: int, end: int, mark_start: int | None, mark_end: int | None) -> str:
    """Escaped article text around [start, end) with the quote in <mark> and the span in <strong>."""
    left = max(0, start - CONTEXT_CHARS)
    right = min(len(text), end + CONTEXT_CHARS)
    left = text.rfind(" ", 0, start - CONTEXT_CHARS) + 1 if left else 0
    quote = html.escape(text[start:end])
    if mark_start is not None and mark_end is not None and start <= mark_start < mark_end <= end:
        quote = (
            html.escape(text[start:mark_start])
            + "<strong>" + html.escape(text[mark_start:mark_end]) + "</strong>"
            + html.escape(text[mark_end:end])
        )
    before = ("…" if left > 0 else "") + html.escape(text[left:start])
    after = html.escape(text[end:right]) + ("…" if right < len(text) else "")
    return f"{before}<mark>{quote}</mark>{after}".replace("\n", "<br>")


def sources_html(assistant, answer: Answer | None, turn: int = 1) -> str:
    """The sources panel: each cited passage in context, or the nearest passages of a refusal."""
    if answer is None:
        return "<div class='sources-empty'>Cited passages appear here.</div>"
    cards = [f"<p class='source-question'>{html.escape(answer.question)}</p>"]
    if answer.citations:
        cards.insert(0, "<h3>Sources</h3>")
        for c in answer.citations:
            try:
                text = assistant.article(c.article_id).text
                body = _context(text, c.start, c.end, c.highlight_start, c.highlight_end)
            except RagError:
                body = f"<mark>{html.escape(c.quote)}</mark>"
            cards.append(
                f"<div class='source-card' id='source-{turn}-{c.n}'>"
                f"<div class='source-head'><span class='source-n'>[{c.n}]</span> "
                f"<b>{html.escape(c.title)}</b> <code>{html.escape(c.article_id)}</code></div>"
                f"<div class='source-body'>{body}</div>"
                f"<div class='source-meta'>{html.escape(c.source)} · characters {c.start}–{c.end}</div></div>"
            )
    elif answer.passages:
        cards.append("<h3>Nearest passages (not cited)</h3>")
        cards.append("<p class='refused-note'>The articles do not support an answer; these passages came closest.</p>")
        for p in answer.passages[:4]:
            cards.append(
                f"<div class='source-card nearest'><div class='source-head'><b>{html.escape(p.title)}</b> "
                f"<code>{html.escape(p.article_id)}</code></div>"
                f"<div class='source-body'>{html.escape(p.text)}</div></div>"
            )
    else:
        cards.append("<div class='sources-empty'>No passages.</div>")
    return "<div class='sources'>" + "".join(cards) + "</div>"


def with_earlier(panel: str, earlier: list[str]) -> str:
    """The latest answer's sources, then those of earlier answers (newest first), so that every
    answer's [n] in the chat still leads to its card."""
    if not earlier:
        return panel
    return panel + "<div class='earlier'><h3>Earlier answers</h3>" + "".join(earlier) + "</div>"


def refresh_choices(assistant, scope: str | None, chosen: str | None) -> tuple[list[str], str, list[str], str | None]:
    """Article choices after a change: (scope choices, scope, article choices, chosen article).

    A scope or choice whose article is gone falls back to all articles / nothing chosen."""
    choices = scope_choices(assistant)
    scope = scope if scope in choices else ALL_ARTICLES
    chosen = chosen if chosen in choices[1:] else None
    return choices, scope, choices[1:], chosen


def scope_choices(assistant) -> list[str]:
    return [ALL_ARTICLES] + [a.id for a in assistant.articles()]


def _scope(value: str | None) -> str | None:
    return None if not value or value == ALL_ARTICLES else value


def respond(assistant, message: str, history: list[dict] | None, scope: str | None) -> Iterator[tuple[list[dict], str]]:
    """Stream one answer into the chat: yields (chat messages, sources panel) as it goes."""
    history = list(history or [])
    prior = [
        {"role": m["role"], "content": text}
        for m in history
        if m.get("role") in ("user", "assistant") and (text := message_text(m.get("content"))) is not None
    ]
    turn = 1 + sum(1 for m in prior if m["role"] == "assistant")
    history = history + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
    try:
        if scope and scope != ALL_ARTICLES and scope not in scope_choices(assistant):
            raise RagError(f"No article '{scope}' in the index (was it removed?): choose another one or all articles.")
        partial = ""
        for piece in assistant.stream(message, article=_scope(scope), history=_plain_history(prior)):
            if isinstance(piece, Answer):
                history[-1] = {"role": "assistant", "content": answer_markdown(piece, turn)}
                yield history, sources_html(assistant, piece, turn)
                return
            partial += piece
            history[-1] = {"role": "assistant", "content": _escape_html(partial)}
            yield history, sources_html(assistant, None)
    except Exception as exc:  # shown as a message, never a stack trace
        history[-1] = {"role": "assistant", "content": f"⚠️ {_escape_html(friendly_error(exc))}"}
        yield history, sources_html(assistant, None)


def _plain_history(messages: list[dict]) -> list[dict]:
    """The chat as the assistant reads it: our Markdown links and notes turned back into text."""
    out = []
    for m in messages:
        text = re.sub(r"\[\[(\d+)\]\]\(#source-[\d-]+\)", r"[\1]", m["content"])
        text = re.sub(r"\n\n<sub>.*", "", text, flags=re.S)
        out.append({"role": m["role"], "content": html.unescape(text)})
    return out


def article_rows(assistant) -> list[list]:
    return [[a.id, a.title, a.chunk_count, a.chars, a.source] for a in assistant.articles()]


def _summary(report) -> str:
    lines = [report.summary()]
    named = [f"{what}: {', '.join(html.escape(i, quote=False) for i in ids)}"
             for what, ids in (("Added", report.added), ("Updated", report.updated)) if ids]
    if named:
        lines.append(" · ".join(named))
    lines += [f"⚠️ {html.escape(msg, quote=False)}" for _, msg in report.failed]
    return "\n\n".join(lines)


def _outcome(write) -> str:
    """What the Articles tab says after a write: its summary, or the error as one line."""
    try:
        return write()
    except Exception as exc:  # shown as a message, never a stack trace
        return f"⚠️ {html.escape(friendly_error(exc), quote=False)}"


def add_upload(assistant, path: str | None) -> str:
    """Index an uploaded file (its temporary path from Gradio)."""
    if not path:
        return "Choose a file first (.txt, .md, .html or .pdf)."
    file = Path(path)

    def write() -> str:
        assistant.check_upload_size(file.stat().st_size, f"'{file.name}'")
        return _summary(assistant.index_bytes(file.read_bytes(), file.name))

    return _outcome(write)


def add_text(assistant, text: str | None, title: str | None) -> str:
    """Index pasted text."""
    if not text or not text.strip():
        return "Paste the article text first."

    def write() -> str:
        assistant.check_upload_size(len(text.encode("utf-8")), "The text")
        return _summary(assistant.index_text(text, title=(title or "").strip() or None))

    return _outcome(write)


def add_url(assistant, url: str | None) -> str:
    """Fetch and index a web page or PDF."""
    if not url or not url.strip():
        return "Give an http(s) URL first."
    return _outcome(lambda: _summary(assistant.index_url(url)))


def reindex(assistant, article_id: str | None) -> str:
    """Index an article again from its source file or URL (unchanged ones are skipped)."""
    if not article_id or article_id == ALL_ARTICLES:
        return "Choose an article to re-index."
    return _outcome(lambda: _summary(assistant.reindex(article_id)))


def remove(assistant, article_id: str | None) -> str:
    if not article_id or article_id == ALL_ARTICLES:
        return "Choose an article to remove."

    def write() -> str:
        report = assistant.remove(article_id)
        return f"Removed {html.escape(article_id)} ({report.chunks_deleted} chunks)."

    return _outcome(write)
