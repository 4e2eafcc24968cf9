"""What the chat page shows, as pure functions of the assistant and the user's input.

Every piece of article text that reaches the page goes through `html.escape` here: an article
containing `<script>` or markup renders as text. The chat is kept as a list of turns (question,
scope, Answer); the Chatbot's messages, the sources panel, the article viewer and the Markdown
export are all drawn from it, so every `[n]` of every answer can always be opened again.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.assistant import message_text  # noqa: F401 - also ui.app's reading of Gradio messages
from rag.errors import RagError
from rag.types import Answer

log = logging.getLogger(__name__)

ALL_ARTICLES = "All articles"
CONTEXT_CHARS = 280  # article text shown on each side of a cited sentence
SEARCHED_CHARS = 100  # a "Searched for" note longer than this is shortened
# Example questions written for the articles that ship in seeds/; other articles get none
# rather than questions they cannot answer.
EXAMPLES = {
    "paris-summit-on-ukraine": [
        "Who represented the US?",
        "Which German leader attended?",
        "What did Macron lament about Russia?",
        "What weapons system did Germany refuse to send?",
    ],
}
ARTICLE_COLUMNS = ["id", "title", "chunks", "characters", "source"]


@dataclass
class Turn:
    """One question of the chat and what came back: an Answer, or an error message."""

    question: str
    scope: str | None  # an article id, or None for all articles
    scope_label: str
    answer: Answer | None = None
    error: str | None = None


def friendly_error(exc: BaseException) -> str:
    """The message a user sees: ours in plain words, anything else generic (and logged)."""
    if isinstance(exc, RagError):
        return plain_words(str(exc))
    log.exception("unexpected error in the UI", exc_info=exc)
    return "Something went wrong on the server; the error was logged. Nothing indexed was lost."


_SETTING = r"RAG_[A-Z_]+"


def plain_words(message: str) -> str:
    """A message without server setting names: those are for the server's owner (log, CLI), not
    for the person using the page. The full message goes to the log."""
    if not re.search(_SETTING, message):
        return message
    log.info("shown to the user without setting names: %s", message)
    text = re.sub(rf"\s*\({_SETTING}\)", "", message)  # "limit (RAG_MAX_UPLOAD_BYTES)" -> "limit"
    # A sentence that tells the owner which setting to change is dropped whole.
    text = re.sub(rf"(?:(?<=[.:;])|^)\s*[^.:;]*{_SETTING}[^.]*\.?", "", text).strip()
    return text or "The server does not allow this."


def _escape_markdown(text: str) -> str:
    """Article text inside a Markdown chat message: HTML escaped, our own markers kept."""
    return html.escape(text, quote=False)


# Backslash escapes (CommonMark: any ASCII punctuation) rather than entities, so that the
# question reads as typed in the Chatbot's edit box too; `$` because the Chatbot renders LaTeX.
_INLINE_SYNTAX = re.compile(r"([\\`*_\[\]<>~&|$])")
_LINE_SYNTAX = re.compile(r"^([ \t]*)(?:([#>+=-])|(\d+)([.)]))", re.M)


def user_markdown(question: str) -> str:
    """The user's question exactly as typed: no HTML and no Markdown of theirs is rendered."""
    text = _INLINE_SYNTAX.sub(r"\\\1", question)
    return _LINE_SYNTAX.sub(
        lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4)), text
    )


def typed_question(markdown: str) -> str:
    """The question back from the Chatbot's edit box (our escapes removed)."""
    return re.sub(r"\\([\\`*_\[\]<>~&|$#>+=\-.)])", r"\1", markdown)


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"


def _same_question(a: str, b: str) -> bool:
    norm = lambda s: re.sub(r"[\W_]+", " ", s.casefold()).strip()  # noqa: E731
    return norm(a) == norm(b)


def answer_markdown(answer: Answer, turn: int = 1, scope_label: str = ALL_ARTICLES) -> str:
    """The chat message: escaped text, `[n]` linked to its source, refusals marked, and one line
    of notes (scope, the search when it differs from the question, a link to the sources)."""
    if answer.refused and not answer.citations:
        # A refusal repeats the question: it is shown as typed, none of its Markdown rendered.
        text = "⚠️ *Not answered.* " + user_markdown(_ESCAPED.sub(r"\1", answer.text))
    else:
        text = _escape_markdown(answer.text)
        text = re.sub(r"(?<!\\)\[(\d+)\]", lambda m: f"[[{m.group(1)}]](#source-{turn}-{m.group(1)})", text)
        if answer.refused:
            text = f"⚠️ *Not answered.* {text}"
    notes = [f"Asked about: {_escape_markdown(scope_label)}"]
    if answer.query and not _same_question(answer.query, answer.question):
        notes.append(f"Searched for: “{_escape_markdown(shorten(answer.query, SEARCHED_CHARS))}”")
    count = len(answer.citations) or len(answer.passages[:4])
    if count:
        what = "source" if answer.citations else "nearest passage"
        notes.append(f"[{count} {what}{'s' if count > 1 else ''}](#sources-{turn})")
    text += "\n\n<sub>" + " · ".join(notes) + "</sub>"
    if answer.notice:
        text += f"\n\n<sub>{_escape_markdown(answer.notice)}</sub>"
    return text


def chat_messages(turns: list[Turn], partial: str | None = None) -> list[dict]:
    """The Chatbot's messages: two per turn (question, answer), so message i belongs to turn i // 2."""
    messages = []
    for i, t in enumerate(turns, start=1):
        messages.append({"role": "user", "content": user_markdown(t.question)})
        if t.answer is not None:
            content = answer_markdown(t.answer, i, t.scope_label)
        elif t.error is not None:
            content = f"⚠️ {_escape_markdown(t.error)}"
        else:  # the turn being answered
            content = _escape_markdown(partial or "") or "…"
        messages.append({"role": "assistant", "content": content})
    return messages


# --- article text as the page shows it ------------------------------------------------------
# Private-use characters stand for our tags while the text is cleaned and escaped.
_MARK_OPEN, _MARK_CLOSE, _STRONG_OPEN, _STRONG_CLOSE = "\ue000", "\ue001", "\ue002", "\ue003"
_TAGS = {
    _MARK_OPEN: "<mark class='cited'>", _MARK_CLOSE: "</mark>",
    _STRONG_OPEN: "<strong class='answer-span'>", _STRONG_CLOSE: "</strong>",
}
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_LINK = re.compile(r"(?<!\\)\[([^\]\n]+)\]\([^)\n]*\)")
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_BULLET = re.compile(r"^[ \t]{0,3}[-*+][ \t]+", re.M)
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~>])")


def _readable(raw: str) -> str:
    """Article text with its Markdown syntax taken out (display only; offsets are never taken
    from this): headings, emphasis, links and images show as their words; then HTML-escaped."""
    text = _IMAGE.sub(r"\1", raw)
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _BULLET.sub("• ", text)
    text = _ESCAPED.sub(r"\1", text)
    lines = []
    for line in text.split("\n"):
        heading = _HEADING.match(line)
        if heading:
            words = heading.group(1)
            # A heading that our mark crosses stays plain text, so that tags always nest.
            line = words if any(ch in _TAGS for ch in words) else f"\ue004{words}\ue005"
        lines.append(line)
    text = html.escape("\n".join(lines), quote=False)
    for ch, tag in _TAGS.items():
        text = text.replace(ch, tag)
    text = text.replace("\ue004", "<b class='md-heading'>").replace("\ue005", "</b>")
    return text.replace("\n", "<br>")


def article_html(
    text: str, start: int, end: int, mark_start: int | None, mark_end: int | None,
    window: int | None = None,
) -> str:
    """Escaped, readable article text with [start, end) in <mark> and the answer span in <strong>;
    `window` characters either side (cut at a space, with …), or the whole text when None."""
    text = re.sub("[\ue000-\ue005]", "\ufffd", text)  # our placeholders never come from an article
    left, right = 0, len(text)
    if window is not None:
        left = max(0, start - window)
        left = text.rfind(" ", 0, left) + 1 if left else 0
        right = min(len(text), end + window)
    cuts = [(start, _MARK_OPEN), (end, _MARK_CLOSE)]
    if mark_start is not None and mark_end is not None and start <= mark_start < mark_end <= end:
        cuts += [(mark_start, _STRONG_OPEN), (mark_end, _STRONG_CLOSE)]
    order = {_MARK_OPEN: 0, _STRONG_OPEN: 1, _STRONG_CLOSE: 2, _MARK_CLOSE: 3}
    cuts.sort(key=lambda c: (c[0], order[c[1]]))
    pieces, at = [], left
    for pos, tag in cuts:
        pieces += [text[at:pos], tag]
        at = pos
    pieces.append(text[at:right])
    body = _readable("".join(pieces))
    return ("…" if left > 0 else "") + body + ("…" if right < len(text) else "")


def _citation_body(assistant, c, window: int | None) -> str:
    try:
        text = assistant.article(c.article_id).text
        return article_html(text, c.start, c.end, c.highlight_start, c.highlight_end, window)
    except RagError:
        return f"<mark class='cited'>{html.escape(c.quote)}</mark>"


def sources_html(assistant, answer: Answer | None, turn: int = 1, selected: int | None = None) -> str:
    """The sources panel for one answer: each cited passage in context, or the nearest passages
    of a refusal. Only this answer's; the others are a click on them away."""
    if answer is None:
        return "<div class='sources-empty'>Cited passages appear here: click an answer or its [n].</div>"
    cards = [
        f"<h3>Sources of answer {turn}</h3>" if answer.citations else "",
        f"<p class='source-question'>{html.escape(shorten(answer.question, 160))}</p>",
    ]
    if answer.citations:
        for c in answer.citations:
            chosen = " selected" if c.n == selected else ""
            cards.append(
                f"<div class='source-card{chosen}' id='source-{turn}-{c.n}'>"
                f"<div class='source-head'><a class='source-n' href='#source-{turn}-{c.n}' "
                f"title='Open the article at this sentence'>[{c.n}]</a> "
                f"<b>{html.escape(c.title)}</b> <code>{html.escape(c.article_id)}</code></div>"
                f"<div class='source-body'>{_citation_body(assistant, c, CONTEXT_CHARS)}</div>"
                f"<div class='source-meta'>{html.escape(c.source)} · characters {c.start}–{c.end} · "
                f"<a href='#source-{turn}-{c.n}'>open in the article</a></div></div>"
            )
    elif answer.passages:
        cards.insert(0, "<h3>Nearest passages (not cited)</h3>")
        cards.append("<p class='refused-note'>The articles do not support an answer; these passages came closest.</p>")
        for p in answer.passages[:4]:
            cards.append(
                f"<div class='source-card nearest'><div class='source-head'><b>{html.escape(p.title)}</b> "
                f"<code>{html.escape(p.article_id)}</code></div>"
                f"<div class='source-body'>{_readable(p.text)}</div></div>"
            )
    else:
        cards.append("<div class='sources-empty'>No passages.</div>")
    return f"<div class='sources' data-turn='{turn}'>" + "".join(cards) + "</div>"


def viewer_html(assistant, answer: Answer | None, turn: int, n: int) -> str:
    """The whole article of citation [n] of answer `turn`, its cited sentence marked (the page
    scrolls the viewer, never the chat, to it)."""
    citation = next((c for c in (answer.citations if answer else []) if c.n == n), None)
    if citation is None:
        return ""
    try:
        article = assistant.article(citation.article_id)
        body = article_html(article.text, citation.start, citation.end,
                            citation.highlight_start, citation.highlight_end)
    except RagError:
        body = f"<mark class='cited'>{html.escape(citation.quote)}</mark> (the article is no longer indexed)"
    return (
        "<div class='viewer'>"
        f"<div class='viewer-head'><span class='source-n'>[{n}]</span> <b>{html.escape(citation.title)}</b>"
        f" <a class='viewer-close' href='#close-viewer' title='Close the article'>Close ✕</a>"
        f"<div class='source-meta'>{html.escape(citation.source)} · cited in answer {turn}</div></div>"
        f"<div class='viewer-text'>{body}</div></div>"
    )


def pick(assistant, value: str | None, turns: list[Turn]) -> tuple[str | None, str, int | None]:
    """What a click in the chat asks for (`cite:<turn>:<n>`, `show:<turn>`, `close`; a counter may
    follow): (sources panel or None to keep it, viewer, selected turn or None to keep it)."""
    parts = (value or "").split(":")
    try:
        if parts[0] == "cite":
            turn, n = int(parts[1]), int(parts[2])
        elif parts[0] == "show":
            turn, n = int(parts[1]), None
        else:
            return None, "", None
    except (IndexError, ValueError):
        return None, "", None
    if not 1 <= turn <= len(turns) or turns[turn - 1].answer is None:
        return None, "", None
    answer = turns[turn - 1].answer
    viewer = viewer_html(assistant, answer, turn, n) if n is not None else ""
    return sources_html(assistant, answer, turn, n), viewer, turn


def select_turn(assistant, turns: list[Turn], message_index) -> tuple[str | None, int | None]:
    """The sources of the answer whose message (or question) was clicked."""
    index = message_index[0] if isinstance(message_index, (list, tuple)) else message_index
    if not isinstance(index, int) or not 0 <= index < 2 * len(turns):
        return None, None
    turn = index // 2 + 1
    answer = turns[turn - 1].answer
    return (sources_html(assistant, answer, turn), turn) if answer is not None else (None, None)


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


def _scope_label(assistant, scope: str | None) -> str:
    if scope is None:
        return ALL_ARTICLES
    info = next((a for a in assistant.articles() if a.id == scope), None)
    return f"“{info.title}”" if info else scope


def examples_for(assistant, scope: str | None) -> list[str]:
    """Example questions that fit the scope: those of the chosen article, or of every indexed
    article that has some; none for an article we have no questions for."""
    indexed = [a.id for a in assistant.articles()]
    wanted = [_scope(scope)] if _scope(scope) else indexed
    return [q for article_id in wanted if article_id in indexed for q in EXAMPLES.get(article_id, [])]


def history_of(turns: list[Turn]) -> list[dict]:
    """The chat as the assistant reads it: questions as typed, answers as their plain text."""
    out = []
    for t in turns:
        if t.answer is not None:
            out += [{"role": "user", "content": t.question}, {"role": "assistant", "content": t.answer.text}]
    return out


def respond(assistant, message: str, turns: list[Turn], scope: str | None) -> Iterator[tuple[list[Turn], list[dict], str | None]]:
    """Stream one answer: yields (turns, chat messages, sources panel or None while it streams)."""
    scope_id = _scope(scope)
    prior = list(turns)
    turn = Turn(question=message, scope=scope_id, scope_label=ALL_ARTICLES)
    turns = prior + [turn]
    try:
        if scope_id and scope_id not in scope_choices(assistant):
            raise RagError(f"No article '{scope_id}' in the index (was it removed?): choose another one or all articles.")
        turn.scope_label = _scope_label(assistant, scope_id)
        partial = ""
        for piece in assistant.stream(message, article=scope_id, history=history_of(prior)):
            if isinstance(piece, Answer):
                turn.answer = piece
                yield turns, chat_messages(turns), sources_html(assistant, piece, len(turns))
                return
            partial += piece
            yield turns, chat_messages(turns, partial), None
    except Exception as exc:  # shown as a message, never a stack trace
        turn.error = friendly_error(exc)
        yield turns, chat_messages(turns), sources_html(assistant, None)


def conversation_markdown(turns: list[Turn]) -> str:
    """The chat as Markdown: each question, its scope, the answer and the passages it quotes."""
    lines = ["# article-chat conversation", ""]
    for i, t in enumerate(turns, start=1):
        lines += [f"## {i}. {' '.join(t.question.split())}", "", f"*Asked about: {t.scope_label}*", ""]
        if t.answer is None:
            lines += [f"> ⚠️ {t.error or 'No answer.'}", ""]
            continue
        a = t.answer
        lines += [("**Not answered.** " if a.refused else "") + a.text, ""]
        if a.query and not _same_question(a.query, a.question):
            lines += [f"*Searched for: {a.query}*", ""]
        for c in a.citations:
            quote = " ".join(c.quote.split())
            lines += [f"> [{c.n}] “{quote}”  ", f"> — {c.title} (`{c.article_id}`, {c.source}, characters {c.start}–{c.end})", ""]
        if a.refused and a.passages:
            lines += ["Nearest passages (not cited):", ""]
            lines += [f"> {' '.join(p.text.split())[:400]} — {p.title}" for p in a.passages[:4]] + [""]
    return "\n".join(lines).rstrip() + "\n"


# --- the Articles tab --------------------------------------------------------------------------
def article_rows(assistant) -> list[list]:
    return [[a.id, a.title, a.chunk_count, a.chars, a.source] for a in assistant.articles()]


def _passages(count: int) -> str:
    return f"{count} passage{'s' if count != 1 else ''}"


def report_message(assistant, report) -> tuple[bool, str]:
    """(success, what happened in plain words) for an indexing report."""
    infos = {a.id: a for a in assistant.articles()}

    def named(article_id: str) -> str:
        info = infos.get(article_id)
        return f"“{info.title}” ({_passages(info.chunk_count)})" if info else f"“{article_id}”"

    parts = [f"Added {named(i)}." for i in report.added]
    parts += [f"Updated {named(i)}." for i in report.updated]
    parts += [f"{named(i)} is already indexed and unchanged." for i in report.skipped]
    parts += [f"⚠️ {plain_words(msg)}" for _, msg in report.failed]
    return (not report.failed and bool(report.added or report.updated or report.skipped),
            html.escape(" ".join(parts) or "Nothing was indexed.", quote=False))


def _failure(exc: BaseException) -> tuple[bool, str]:
    return False, f"⚠️ {html.escape(friendly_error(exc), quote=False)}"


def add_upload(assistant, path: str | None, max_bytes: int) -> tuple[bool, str]:
    """Index an uploaded file (its temporary path from Gradio)."""
    if not path:
        return False, "Choose a file first (.txt, .md, .html or .pdf)."
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > max_bytes:
            return False, (f"⚠️ '{html.escape(file.name, quote=False)}' is {size:,} bytes, over the "
                           f"{max_bytes:,}-byte upload limit: nothing was indexed.")
        return report_message(assistant, assistant.index_bytes(file.read_bytes(), file.name))
    except Exception as exc:
        return _failure(exc)


def add_text(assistant, text: str | None, title: str | None, max_bytes: int) -> tuple[bool, str]:
    """Index pasted text."""
    if not text or not text.strip():
        return False, "Paste the article text first."
    if len(text.encode("utf-8")) > max_bytes:
        return False, f"⚠️ The text is over the {max_bytes:,}-byte upload limit: nothing was indexed."
    try:
        return report_message(assistant, assistant.index_text(text, title=(title or "").strip() or None))
    except Exception as exc:
        return _failure(exc)


def add_url(assistant, url: str | None) -> tuple[bool, str]:
    """Fetch and index a web page or PDF."""
    if not url or not url.strip():
        return False, "Give an http(s) URL first."
    try:
        return report_message(assistant, assistant.index_url(url))
    except Exception as exc:
        return _failure(exc)


def reindex(assistant, article_id: str | None) -> tuple[bool, str]:
    """Index an article again from its source file or URL (unchanged ones are skipped)."""
    if not article_id or article_id == ALL_ARTICLES:
        return False, "Choose an article to re-index."
    try:
        return report_message(assistant, assistant.reindex(article_id))
    except Exception as exc:
        return _failure(exc)


def removal_question(assistant, article_id: str | None) -> str | None:
    """What the confirmation asks before removing `article_id`, or None when there is nothing to remove."""
    info = next((a for a in assistant.articles() if a.id == article_id), None)
    if info is None:
        return None
    return (f"Remove “{html.escape(info.title, quote=False)}” (<code>{html.escape(info.id)}</code>) and its "
            f"{info.chunk_count} chunk{'s' if info.chunk_count != 1 else ''}? This cannot be undone.")


def remove(assistant, article_id: str | None) -> tuple[bool, str]:
    if not article_id or article_id == ALL_ARTICLES:
        return False, "Choose an article to remove."
    info = next((a for a in assistant.articles() if a.id == article_id), None)
    try:
        report = assistant.remove(article_id)
        name = f"“{info.title}”" if info else f"“{article_id}”"
        return True, html.escape(f"Removed {name} ({_passages(report.chunks_deleted)}).", quote=False)
    except Exception as exc:
        return _failure(exc)
