"""How an answer reads: quoted sentences in Markdown with the answer span in bold, `[n]` markers,
and the sentence a refusal says."""

from __future__ import annotations

import re

from rag.types import Answer, AnswerContext


def escape_markers(text: str) -> str:
    """Article text may hold its own "[3]" references; escape them so every [n] is ours."""
    return re.sub(r"\[(\d+)\]", r"\\[\1\\]", text)


# Characters that would make quoted article text Markdown of its own: a "# Heading" line, an
# image `![](…)` fetched by the browser, emphasis. `<` and `&` are left to whoever renders HTML.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#~])")


def markdown_quote(text: str) -> str:
    """Article text for an answer's Markdown: shown as written, and every `[n]` left is ours."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def markdown_unquote(text: str) -> str:
    """`markdown_quote` undone: the article's words back from an answer's Markdown."""
    return re.sub(r"\\([\\`*_\[\]#~])", r"\1", text)


# "What is …", "How many tanks did …", "Did …": questions whose word order cannot follow "does not
# say" ("does not say what is the capital"); those are quoted instead.
_INVERTED = re.compile(
    r"^(?:(?:who|whom|whose|what|which|when|where|why|how)\b(?:\s+[\w’'-]+){0,3}?\s+)?"
    r"(?:is|are|was|were|am|do|does|did|has|have|had|can|could|will|would|shall|should|may|might|must)\b",
    re.IGNORECASE,
)


def unsupported_text(question: str, scope_title: str | None) -> str:
    q = question.strip().rstrip("?.! ").strip()
    if q and _INVERTED.match(q):
        subject = f"“{scope_title}” does not answer" if scope_title else "The articles do not answer"
        return f"{subject} “{q[:1].upper() + q[1:]}?”"
    q = q[:1].lower() + q[1:] if q else q
    subject = f"“{scope_title}” does not say" if scope_title else "The articles do not say"
    return f"{subject} {q}." if q else f"{subject} that."




def cited_quote(quote: str, n: int, span: tuple[int, int] | None = None) -> str:
    """One cited sentence for the answer text: `quote` as written, the answer span (offsets into
    the quote) in bold, then its marker."""
    if span is None:
        return f"{markdown_quote(quote)} [{n}]"
    s, e = span
    return f"{markdown_quote(quote[:s])}**{markdown_quote(quote[s:e])}**{markdown_quote(quote[e:])} [{n}]"


def short_answer_line(text: str, n: int) -> str:
    """The answer's first line: the words that answer, in bold, with the citation that says them."""
    return f"**{markdown_quote(text)}** [{n}]"


def answer_text(cited: list[str], short: tuple[str, int] | None = None) -> str:
    """An answer's Markdown: the short answer (text, citation number) first when there is one,
    then the cited sentences, in the order given."""
    body = " ".join(cited)
    return f"{short_answer_line(*short)}\n\n{body}" if short else body


def refusal(ctx: AnswerContext, answerer: str, *, confidence: float = 0.0, notice: str | None = None) -> Answer:
    """The refused `Answer`: what the articles do not say, with the nearest passages (not citations)."""
    passages = ctx.passages
    return Answer(
        question=ctx.question,
        text=unsupported_text(ctx.search, ctx.scope_title) + (" The nearest passages are shown below." if passages else ""),
        refused=True,
        passages=passages,
        query=ctx.query,
        confidence=round(confidence, 4),
        answerer=answerer,
        notice=notice,
    )
