"""Follow-up questions: rewrite "And Italy?" into a question that stands alone, using the chat history.

`rag.types.Rewriter` is the seam: the offline `HeuristicRewriter` needs no model; `LLMRewriter`
(LangChain's history-aware retriever prompt) asks the chat model and falls back to the rules.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from rag.answering.checker import visible_text
from rag.answering.language import NAME_WITH_PARTICLES, YES_NO
from rag.answering.llm import failure_reason, message_text
from rag.answering.render import markdown_unquote
from rag.text import STOPWORDS, fold
from rag.types import Message

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

log = logging.getLogger(__name__)

_WH = re.compile(r"^\s*(who|whom|whose|what|which|when|where|why|how)\b", re.IGNORECASE)
_LEAD = re.compile(
    r"^\s*(and|but|also|so|then|ok(?:ay)?|what about|how about|what of|and what about|and how about)\b[\s,]*",
    re.IGNORECASE,
)
_PRONOUNS = {"he", "she", "they", "him", "her", "them", "his", "hers", "their", "theirs", "it", "its"}
# "Why not?", "Why?", "How come?" after a yes/no question: ask the reason for what it asked about.
_WHY = re.compile(r"^\s*(?:and\s+|but\s+|so\s+)?(why|how come)(\s+not)?\s*[?.!]*\s*$", re.IGNORECASE)
# "Who else?", "Anyone else?", "What else did he say?": the same question, another answer.
ELSE = re.compile(r"\b(?:else|other(?:s)?|another)\b", re.IGNORECASE)
_BOLD_LEAD = re.compile(r"^\s*\*\*(.+?)\*\*")
# A question word (with the noun it asks about: "which country") before its auxiliary, and the
# rest: "What did Macron warn?" -> ("did", "Macron warn?").
_WH_AUX = re.compile(
    r"^\s*(?:who|whom|whose|what|which|when|where|why|how(?:\s+\w+)?)(?:\s+\w+)?\s+"
    r"(did|does|do|was|were|is|are|has|have|had|will|would|can|could)\s+(.+)$",
    re.IGNORECASE,
)


def short_answer_of(answer_text: str) -> str | None:
    """The short answer an earlier reply of ours led with ("**Macron** [1]…"), unescaped."""
    m = _BOLD_LEAD.match(answer_text or "")
    return markdown_unquote(m.group(1)) if m else None


def earlier_answers(question: str, history: list[Message] | None) -> list[str]:
    """For "who else?"-style follow-ups, the short answers already given (to give another)."""
    if not history or not ELSE.search(question) or len(re.findall(r"\w+", question)) > 8:
        return []
    found = []
    for m in history:
        if m.get("role") == "assistant":
            short = short_answer_of(str(m.get("content", "")))
            if short:
                found.append(short)
    return found[-3:]


def _why_of(previous: str, negated: bool) -> str | None:
    """ "Did Germany agree to send missiles?" + "Why not?" -> "Why did Germany not agree to send missiles?" """
    m = YES_NO.match(previous)
    if not m:
        return None
    aux, rest = m.group(1).lower(), m.group(2)
    if not negated:
        return f"Why {aux} {rest}?"
    words = rest.split()
    # "not" goes before the verb: after the subject, which is the words up to the first lower-case
    # word after a capitalised or determiner-led start ("Germany agree", "the host say").
    at = next((k for k, w in enumerate(words) if k > 0 and w[:1].islower() and fold(w) not in
               {"the", "a", "an", "of", "de", "von", "van"}), 1)
    return f"Why {aux} {' '.join(words[:at])} not {' '.join(words[at:])}?".replace("  ", " ")


def _entities(text: str) -> list[tuple[int, int]]:
    """Spans of capitalised names, leaving out a sentence's capitalised first word when it is a
    question word or a common word ("The", "We"): at a sentence start capitals say nothing."""
    spans = []
    for m in NAME_WITH_PARTICLES.finditer(text):
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
        resolved: list[str] = []
        users = [m["content"] for m in history if m.get("role") == "user" and str(m.get("content", "")).strip()]
        # Resolve the previous question against its own history first, so chains of follow-ups work.
        for content in users:
            resolved.append(self._rewrite_one(str(content), resolved) if resolved else str(content).strip())
        last_answer = next(
            (str(m.get("content", "")) for m in reversed(history) if m.get("role") == "assistant"), ""
        )
        if not resolved:
            return question
        return self._rewrite_one(question, resolved, last_answer)

    def _rewrite_one(self, question: str, earlier: list[str], last_answer: str = "") -> str:
        """`question` made to stand alone, `earlier` the questions before it (resolved), last last."""
        previous = earlier[-1]
        why = _WHY.match(question)
        if why:
            return _why_of(previous, bool(why.group(2))) or f"Why {previous.rstrip('?.! ')}?"
        if ELSE.search(question) and (wh := _WH.match(_LEAD.sub("", question))):
            rest = [w for w in re.findall(r"\w+", question)[1:] if not ELSE.fullmatch(w) and fold(w) not in STOPWORDS]
            if not rest:
                # "Who else?": the same question (the last one that asked "who", if any); the answerer
                # leaves out the answers given. "Who else attended?" says what it asks itself.
                asked = wh.group(1).lower()
                same = next((q for q in reversed(earlier) if q.lower().startswith(asked)), None)
                if same is not None or len(re.findall(r"\w+", question)) <= 3:
                    return same or previous
        bare = re.fullmatch(r"\s*((?:how\s+(?:many|much|long|often|far|old))|when|where|who|whom|what|which|how)\s*[?.!]*\s*",
                            _LEAD.sub("", question), flags=re.IGNORECASE)
        if bare:
            word = bare.group(1)[:1].upper() + bare.group(1)[1:].lower()
            if yes_no := YES_NO.match(previous):
                # "Did the council approve buses?" + "When?" -> "When did the council approve buses?"
                return f"{word} {yes_no.group(1).lower()} {yes_no.group(2)}?"
            if asked := _WH_AUX.match(previous):
                # "What did Macron warn?" + "When?" -> "When did Macron warn?"
                return f"{word} {asked.group(1).lower()} {asked.group(2)}"
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
                # Our answers lead with the short answer: after "Who …?", that is the person.
                short = short_answer_of(source)
                if short and _entities(short):
                    return f"{question} ({short})"
                # Our answers' Markdown: citation marks, bold spans, escaped characters.
                clean = markdown_unquote(re.sub(r"\[\d+\]|\*\*", "", source))
                clean = clean.split("\n\n")[-1] if short else clean
                ents = _entities(clean)
                if ents:
                    s, e = ents[0]
                    return f"{question} ({clean[s:e]})"
        return question


# --- with an LLM -------------------------------------------------------------------------------
# LangChain's history-aware retriever prompt (create_history_aware_retriever's contextualizer).
REWRITE_SYSTEM_PROMPT = (
    "Given a chat history and the latest user question which might reference context in the chat "
    "history, formulate a standalone question which can be understood without the chat history. "
    "Do NOT answer the question, just reformulate it if needed and otherwise return it as is. "
    "Reply with the question only, on one line."
)


class LLMRewriter:
    """A `Rewriter` by a chat model; any failure or odd reply falls back to the heuristic rules."""

    def __init__(self, chat_model: BaseChatModel, fallback=None, *, max_history: int = 6, backend: str = "the LLM backend"):
        self.chat_model = chat_model
        self.fallback = fallback or HeuristicRewriter()
        self.max_history = max_history
        self.backend = backend

    def __repr__(self) -> str:
        return f"LLMRewriter(backend={self.backend!r})"

    def messages(self, question: str, history) -> list[BaseMessage]:
        from langchain_core.messages import AIMessage, HumanMessage
        from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

        chat = []
        for m in history[-self.max_history :]:
            content = re.sub(r"\s*\[\d+\]|\*\*", "", str(m.get("content", "")))[:1500]
            chat.append(HumanMessage(content) if m.get("role") == "user" else AIMessage(content))
        prompt = ChatPromptTemplate.from_messages(
            [("system", REWRITE_SYSTEM_PROMPT), MessagesPlaceholder("chat_history"), ("human", "{input}")]
        )
        return prompt.format_messages(chat_history=chat, input=question)

    def rewrite(self, question: str, history) -> str:
        question = question.strip()
        if not history:
            return question
        try:
            reply = message_text(self.chat_model.invoke(self.messages(question, history)))
            rewritten = _clean_rewrite(visible_text(reply), question)
        except Exception as exc:  # noqa: BLE001 - the heuristic rules always work
            log.warning("LLM rewrite failed (%s); using the heuristic rewriter.", failure_reason(exc))
            return self.fallback.rewrite(question, history)
        if rewritten is None:
            return self.fallback.rewrite(question, history)
        return rewritten


def _clean_rewrite(reply: str, question: str) -> str | None:
    """The standalone question from the model's reply, or None when the reply is not one."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        return None
    text = re.sub(r"^(?:standalone question|question|rewritten question)\s*:\s*", "", lines[0], flags=re.I)
    text = text.strip().strip("\"'“”‘’`").strip()
    # A reply much longer than the question is an answer, not a reformulation.
    if not text or len(text) > max(300, 4 * len(question)):
        return None
    return text
