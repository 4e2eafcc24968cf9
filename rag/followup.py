"""Follow-up questions: rewrite "And Italy?" into a question that stands alone, using the chat history.

`QueryRewriter` is the seam: the offline `HeuristicRewriter` below needs no model; an LLM-based
rewriter (LangChain's history-aware retriever pattern) implements the same one method.
"""

from __future__ import annotations

import re
from typing import Protocol

from rag.text import STOPWORDS, fold

Message = dict  # {"role": "user" | "assistant", "content": str}

_WH = re.compile(r"^\s*(who|whom|whose|what|which|when|where|why|how)\b", re.IGNORECASE)
_LEAD = re.compile(
    r"^\s*(and|but|also|so|then|ok(?:ay)?|what about|how about|what of|and what about|and how about)\b[\s,]*",
    re.IGNORECASE,
)
_PRONOUNS = {"he", "she", "they", "him", "her", "them", "his", "hers", "their", "theirs", "it", "its"}
# Capitalised words in a row, with the lower-case particles of names ("Marieke de Vos").
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:(?:de|van|von|der|den|da|di|del|della|du|la|le|al|bin|ibn)\s+)?[A-Z][\w'’.-]*)*")


class QueryRewriter(Protocol):
    def rewrite(self, question: str, history: list[Message] | None) -> str:
        """The question made self-contained given the conversation so far."""
        ...


def _entities(text: str) -> list[tuple[int, int]]:
    """Spans of capitalised names, leaving out a sentence's capitalised first word when it is a
    question word or a common word ("The", "We"): at a sentence start capitals say nothing."""
    spans = []
    for m in _NAME.finditer(text):
        s, e = m.span()
        before = text[:s].rstrip(" \t\n\"“”‘’'«»(*")
        if before == "" or before.endswith((".", "!", "?", ":", ";")):
            first = m.group(0).split()[0]
            if _WH.match(first) or fold(first) in STOPWORDS:
                rest = m.group(0)[len(first) :].lstrip()
                if not rest:
                    continue
                s = e - len(rest)
        if all(fold(w) in STOPWORDS for w in text[s:e].split()):
            continue
        spans.append((s, e))
    return spans


class HeuristicRewriter:
    """Rules for elliptical follow-ups ("And Italy?") and pronouns ("What did he say?")."""

    def rewrite(self, question: str, history: list[Message] | None) -> str:
        question = question.strip()
        if not history:
            return question
        previous = None
        users = [m["content"] for m in history if m.get("role") == "user" and str(m.get("content", "")).strip()]
        # Resolve the previous question against its own history first, so chains of follow-ups work.
        for i, content in enumerate(users):
            previous = self._rewrite_one(str(content), previous) if i else str(content).strip()
        last_answer = next(
            (str(m.get("content", "")) for m in reversed(history) if m.get("role") == "assistant"), ""
        )
        if previous is None:
            return question
        return self._rewrite_one(question, previous, last_answer)

    def _rewrite_one(self, question: str, previous: str | None, last_answer: str = "") -> str:
        if not previous:
            return question
        stripped = _LEAD.sub("", question).strip()
        body = stripped.rstrip("?.! ")
        content_words = [w for w in re.findall(r"\w+", body) if fold(w) not in STOPWORDS]
        elliptical = bool(_LEAD.match(question)) and not _WH.match(stripped) or (
            not _WH.match(stripped) and len(content_words) <= 3 and not re.search(r"\b(is|are|was|were|did|does|do)\b", fold(body))
        )
        if elliptical and body:
            ents = _entities(previous)
            if ents:
                s, e = ents[-1]
                # "the US" -> "Italy": the replaced name takes its article with it.
                m = re.search(r"\bthe\s+$", previous[:s], flags=re.IGNORECASE)
                if m:
                    s = m.start()
                return f"{previous[:s]}{body}{previous[e:]}".strip()
            return f"{previous.rstrip('?.! ')} {body}?"
        words = re.findall(r"\w+", fold(question))
        if any(w in _PRONOUNS for w in words):
            # After "Who …?", "he" is the person the answer named; otherwise the question's subject.
            order = [last_answer, previous] if re.match(r"\s*who\b", fold(previous)) else [previous, last_answer]
            for source in order:
                # Our answers' Markdown: citation marks, bold spans, escaped characters.
                clean = re.sub(r"\\([\\`*_\[\]#~])", r"\1", re.sub(r"\[\d+\]|\*\*", "", source))
                ents = _entities(clean)
                if ents:
                    s, e = ents[0]
                    return f"{question} ({clean[s:e]})"
        return question
