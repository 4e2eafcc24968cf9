"""Answers as data, and the offline extractive answerer that cites the sentence that says it.

No PyPI package ships an extractive-QA or cross-encoder model that loads offline, so answer
selection is ours: the retrieved chunks are split into sentences, each scored by idf-weighted
overlap with the question (its own words and its neighbours'), by the embedding model's
similarity, and by whether it holds the kind of thing the question asks for (a person, a date,
a number, a place). The best sentence is the answer; the span that matches the question type is
highlighted where one can be found. Weak evidence is a refusal, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.chunking import Sentence
from rag.text import STOPWORDS, fold, stem, terms, words

if TYPE_CHECKING:
    from rag.retrieval import Hit


@dataclass
class Citation:
    """A cited passage: `quote == article_text[start:end]`, numbered as `[n]` in the answer text."""

    n: int
    article_id: str
    title: str
    source: str
    chunk_id: str
    quote: str
    start: int
    end: int
    score: float
    highlight_start: int | None = None
    highlight_end: int | None = None


@dataclass
class Passage:
    """A retrieved passage shown for context (or, on a refusal, as the nearest passages)."""

    article_id: str
    title: str
    chunk_id: str
    text: str
    start: int
    end: int
    score: float


@dataclass
class Answer:
    """What `Assistant.ask()` returns: the text, the passages it cites, and whether it refused."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    passages: list[Passage] = field(default_factory=list)
    query: str | None = None  # the question as searched, after follow-up rewriting
    answer_span: str | None = None
    confidence: float = 0.0
    answerer: str = "extractive"
    notice: str | None = None  # e.g. "the LLM backend was down; this is the offline answer"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        data = dict(data)
        data["citations"] = [Citation(**c) for c in data.get("citations", [])]
        data["passages"] = [Passage(**p) for p in data.get("passages", [])]
        return cls(**data)


# --- question types ------------------------------------------------------------------------------
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|twenty|thirty|forty|"
    "fifty|hundred|hundreds|thousand|thousands|million|millions|billion|billions|half|several"
)
_TYPE_PATTERNS = {
    "date": re.compile(
        rf"\b(?:\d{{1,2}}\s+(?:{_MONTHS})\w*(?:\s+\d{{4}})?|(?:{_MONTHS})\w*\.?(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?"
        rf"|(?:in|since|by|until|from)\s+\d{{4}}s?|\d{{4}}s?|(?:{_DAYS})|\d+(?:st|nd|rd|th)\s+century"
        rf"|(?:last|next|this)\s+(?:year|month|week)|\d+\s+(?:years?|months?|weeks?|days?)\s+ago)\b",
        re.IGNORECASE,
    ),
    "number": re.compile(
        rf"\b(?:[$€£]\s?)?\d[\d,.]*(?:\s?%|\s+(?:per\s?cent|percent|million|billion|thousand))?"
        rf"|\b(?:{_NUMBER_WORDS})(?:[\s-]+(?:{_NUMBER_WORDS}))*\b",
        re.IGNORECASE,
    ),
    "person": re.compile(r"\b[A-Z][\w'’.-]+(?:\s+(?:de|van|von|da|al|bin|la|le)?\s*[A-Z][\w'’.-]+)*"),
    "place": re.compile(r"\b(?:in|at|from|to|near)\s+((?:the\s+)?[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+)*)"),
}


def question_type(question: str) -> str | None:
    q = fold(question).strip()
    if re.search(r"\b(how many|how much|how long|how old|how far|what percentage|what number)\b", q):
        return "number"
    if re.search(r"\b(when|what year|what date|which year|what day|what month|what century)\b", q):
        return "date"
    if re.search(r"^(who|whom|whose)\b|\b(who|whom)\b|\bwhat (person|organi[sz]ation|group|leader)\b", q):
        return "person"
    if re.search(r"\b(where|what country|which country|what city|which city|what place)\b", q):
        return "place"
    return None


def _find_span(sentence: str, offset: int, qtype: str | None, question_words: set[str]) -> tuple[int, int] | None:
    """The part of the sentence that answers the question type, not already in the question."""
    if qtype is None:
        return None
    pattern = _TYPE_PATTERNS[qtype]
    best = None
    for m in pattern.finditer(sentence):
        group = 1 if qtype == "place" else 0
        s, e = m.span(group)
        text = sentence[s:e]
        toks = {stem(w) for w in words(text)} - {stem(w) for w in STOPWORDS}
        if not toks or toks <= question_words:
            continue
        if qtype == "person" and s == 0 and len(toks) == 1:
            continue  # a capitalised first word is usually just the sentence start
        if best is None or (e - s) > (best[1] - best[0]):
            best = (s, e)
    return (offset + best[0], offset + best[1]) if best else None


# --- the extractive answerer ---------------------------------------------------------------------
@dataclass
class Candidate:
    """A sentence of a retrieved chunk and the evidence that it answers the question."""

    article_id: str
    index: int  # sentence number in its article
    sentence: Sentence
    hit: Hit
    hit_rank: int
    lexical: float = 0.0
    context: float = 0.0
    dense: float = 0.0
    type_match: float = 0.0
    score: float = 0.0


def _unsupported_text(question: str, scope_title: str | None) -> str:
    q = question.strip().rstrip("?.! ").strip()
    q = q[:1].lower() + q[1:] if q else q
    subject = f"“{scope_title}” does not say" if scope_title else "The articles do not say"
    return f"{subject} {q}." if q else f"{subject} that."


class ExtractiveAnswerer:
    """Pick the best-supported sentence from the retrieved chunks, or refuse. No LLM, no network."""

    name = "extractive"

    def __init__(
        self,
        embeddings,
        *,
        refusal_threshold: float = 0.35,
        sentence_rerank: int = 8,
        weights: dict[str, float] | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.refusal_threshold = refusal_threshold
        self.sentence_rerank = sentence_rerank
        self.weights = {"lexical": 1.0, "context": 0.3, "dense": 0.8, "type": 0.15, "rank": 0.1}
        if weights:
            self.weights.update(weights)

    def candidates(self, question: str, hits: list[Hit], corpus, query_vector) -> list[Candidate]:
        """Every sentence of the retrieved chunks, scored, best first."""
        q_terms = list(dict.fromkeys(terms(question)))
        q_set = set(q_terms)
        q_weight = sum(corpus.idf(t) for t in q_terms) or 1.0
        qtype = question_type(question)
        seen: set[tuple[str, int]] = set()
        cands: list[Candidate] = []
        for rank, hit in enumerate(hits):
            chunk = hit.chunk
            sents = corpus.sentences(chunk.article_id)
            sent_terms = corpus.sentence_terms(chunk.article_id)
            for i in corpus.sentences_in(chunk.article_id, chunk.start, chunk.end):
                if (chunk.article_id, i) in seen:
                    continue
                seen.add((chunk.article_id, i))
                sent = sents[i]
                own = sent_terms[i]
                near: set[str] = set()
                for j in (i - 1, i + 1):
                    if 0 <= j < len(sents) and sents[j].paragraph == sent.paragraph:
                        near |= sent_terms[j]
                c = Candidate(chunk.article_id, i, sent, hit, rank)
                c.lexical = sum(corpus.idf(t) for t in q_terms if t in own) / q_weight
                c.context = sum(corpus.idf(t) for t in q_terms if t in near and t not in own) / q_weight
                if qtype and _find_span(corpus.sentence_text(chunk.article_id, i), 0, qtype, q_set):
                    c.type_match = 1.0
                cands.append(c)
        w = self.weights
        for c in cands:
            c.score = (
                w["lexical"] * c.lexical
                + w["context"] * c.context
                + w["type"] * c.type_match
                + w["rank"] / (1 + c.hit_rank)
            )
        cands.sort(key=lambda c: -c.score)
        if cands and query_vector is not None and self.sentence_rerank > 0 and w["dense"]:
            head = cands[: self.sentence_rerank]
            vecs = self.embeddings.encode([corpus.sentence_text(c.article_id, c.index) for c in head])
            sims = vecs @ np.asarray(query_vector, dtype=np.float32)
            for c, sim in zip(head, sims):
                c.dense = float(sim)
                c.score += w["dense"] * c.dense
            # The tail was not re-ranked: keep it below the head so scores stay comparable.
            cands = sorted(head, key=lambda c: -c.score) + cands[len(head) :]
        return cands

    def answer(
        self,
        question: str,
        hits: list[Hit],
        corpus,
        query_vector=None,
        *,
        query: str | None = None,
        scope_title: str | None = None,
    ) -> Answer:
        search = query or question
        passages = [
            Passage(h.chunk.article_id, h.chunk.title, h.chunk.id, h.chunk.text, h.chunk.start, h.chunk.end,
                    round(h.score, 6))
            for h in hits
        ]
        cands = self.candidates(search, hits, corpus, query_vector)
        confidence = cands[0].score if cands else 0.0
        if not cands or confidence < self.refusal_threshold:
            return Answer(
                question=question,
                text=_unsupported_text(search, scope_title)
                + (" The nearest passages are shown below." if passages else ""),
                refused=True,
                passages=passages,
                query=query,
                confidence=round(confidence, 4),
                answerer=self.name,
            )
        best = cands[0]
        article_text = corpus.text(best.article_id)
        sent = best.sentence
        quote = article_text[sent.start : sent.end]
        span = _find_span(quote, sent.start, question_type(search), set(terms(search)))
        citation = Citation(
            n=1,
            article_id=best.article_id,
            title=best.hit.chunk.title,
            source=best.hit.chunk.source,
            chunk_id=best.hit.chunk.id,
            quote=quote,
            start=sent.start,
            end=sent.end,
            score=round(best.score, 4),
            highlight_start=span[0] if span else None,
            highlight_end=span[1] if span else None,
        )
        if span:
            s, e = span[0] - sent.start, span[1] - sent.start
            body = f"{quote[:s]}**{quote[s:e]}**{quote[e:]}"
        else:
            body = quote
        return Answer(
            question=question,
            text=f"{body} [1]",
            citations=[citation],
            refused=False,
            passages=passages,
            query=query,
            answer_span=article_text[span[0] : span[1]] if span else None,
            confidence=round(confidence, 4),
            answerer=self.name,
        )
