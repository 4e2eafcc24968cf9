"""The offline extractive answerer: cite the sentence that says it, or refuse.

No PyPI package ships an extractive-QA or cross-encoder model that loads offline, so answer
selection is ours: the retrieved chunks are split into sentences, each scored by idf-weighted
overlap with the question (its own words and its neighbours'), by the embedding model's
similarity, and by whether it holds the kind of thing the question asks for (a person, a date,
a number, a place). The best sentence is the answer; the span that matches the question type is
highlighted where one can be found. Weak evidence is a refusal, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rag.answering.language import (
    highlight_span,
    question_names,
    question_type,
    type_spans,
)
from rag.answering.overlap import overlap
from rag.answering.render import cited_quote, refusal
from rag.chunking import Sentence
from rag.text import prefix, terms
from rag.types import Answer, AnswerContext, Citation, Hit


def word_pieces(text: str) -> Iterator[str]:
    """Word-sized pieces (with their trailing spaces) that concatenate back to `text`."""
    yield from (m.group(0) for m in re.finditer(r"\S+\s*|\s+", text))


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
    novelty: float = 0.0
    missing_names: int = 0
    score: float = 0.0


# A second sentence is cited only when it scores at least this share of the best one.
SECOND_CITATION_RATIO = 0.5

class ExtractiveAnswerer:
    """Pick the best-supported sentence from the retrieved chunks, or refuse. No LLM, no network."""

    name = "extractive"
    can_stream = False

    def __init__(
        self,
        embeddings,
        *,
        refusal_threshold: float = 0.9,
        min_lexical: float = 0.2,
        sentence_rerank: int = 4,
        weights: dict[str, float] | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.refusal_threshold = refusal_threshold
        self.min_lexical = min_lexical
        self.sentence_rerank = sentence_rerank
        # Tuned on the SQuAD development files with bench/tune.py (docs/benchmarks.md).
        self.weights = {
            "lexical": 1.0, "context": 0.0, "dense": 1.6, "type": 0.1, "rank": 0.0, "novelty": 0.0, "missing": 0.0,
        }
        if weights:
            self.weights.update(weights)

    def supported(self, best: Candidate | None) -> bool:
        """Enough evidence to answer: a high score, and the question's own words in the passage."""
        return (
            best is not None
            and best.score >= self.refusal_threshold
            and best.lexical + best.context >= self.min_lexical
        )

    def candidates(self, question: str, hits: list[Hit], corpus, query_vector) -> list[Candidate]:
        """Every sentence of the retrieved chunks, scored, best first."""
        q_terms = list(dict.fromkeys(terms(question)))
        q_set = set(q_terms)
        q_names = question_names(question)
        q_weight = sum(corpus.idf(t) for t in q_terms) or 1.0
        qtype = question_type(question)
        seen: set[tuple[str, int]] = set()
        cands: list[Candidate] = []
        for rank, hit in enumerate(hits):
            chunk = hit.chunk
            sents = corpus.sentences(chunk.article_id)
            sent_terms = corpus.sentence_terms(chunk.article_id)
            sent_prefixes = corpus.sentence_prefixes(chunk.article_id)
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
                c.lexical = overlap(q_terms, own, sent_prefixes[i], corpus.idf)
                c.context = sum(corpus.idf(t) for t in q_terms if t in near and t not in own) / q_weight
                if q_names:
                    seen_words = own | near | corpus.title_terms(chunk.article_id)
                    seen_prefixes = {prefix(t) for t in seen_words}
                    c.missing_names = sum(
                        1 for t in q_names if t not in seen_words and prefix(t) not in seen_prefixes
                    )
                # An answer adds something the question does not already say.
                c.novelty = min(1.0, len(own - q_set) / 8)
                if qtype and type_spans(
                    corpus.sentence_text(chunk.article_id, i), qtype, q_set, corpus.names(chunk.article_id)
                ):
                    c.type_match = 1.0
                cands.append(c)
        w = self.weights
        for c in cands:
            c.score = (
                w["lexical"] * c.lexical
                + w["context"] * c.context
                + w["type"] * c.type_match
                + w["rank"] / (1 + c.hit_rank)
                + w["novelty"] * c.novelty
                + w["missing"] * c.missing_names
            )
        cands.sort(key=lambda c: -c.score)
        if cands and query_vector is not None and w["dense"]:
            # Sentences with a vector from indexing are all re-scored (no model call); of the
            # others, only the lexically best `sentence_rerank` are embedded now.
            head = [
                c for rank, c in enumerate(cands)
                if rank < self.sentence_rerank or corpus.has_stored_vector(c.article_id, c.index)
            ]
            if head:
                keys = [(c.article_id, c.index) for c in head]
                sims = corpus.ranking_sentence_vectors(self.embeddings, keys) @ np.asarray(query_vector, dtype=np.float32)
                for c, sim in zip(head, sims):
                    c.dense = float(sim)
                    c.score += w["dense"] * c.dense
                # The rest was not re-ranked: keep it below the head so scores stay comparable.
                ranked = {id(c) for c in head}
                cands = sorted(head, key=lambda c: -c.score) + [c for c in cands if id(c) not in ranked]
        return cands

    def answer(self, ctx: AnswerContext) -> Answer:
        search, corpus = ctx.search, ctx.corpus
        cands = self.candidates(search, ctx.hits, corpus, ctx.query_vector)
        confidence = cands[0].score if cands else 0.0
        if not self.supported(cands[0] if cands else None):
            return refusal(ctx, self.name, confidence=confidence)
        best = cands[0]
        qtype = question_type(search)
        chosen = [best]
        if qtype and not best.type_match:
            # The best match does not name the kind of thing asked for (a "who" answered by
            # "the host of the meeting"): also cite the best close sentence that does.
            for c in cands[1:6]:
                if c.type_match and c.score >= SECOND_CITATION_RATIO * best.score:
                    chosen.append(c)
                    break
        q_set = set(terms(search))
        citations, bodies, spans = [], [], []
        for n, c in enumerate(chosen, start=1):
            article_text = corpus.text(c.article_id)
            sent = c.sentence
            quote = article_text[sent.start : sent.end]
            span = highlight_span(quote, sent.start, qtype, q_set, corpus.names(c.article_id))
            citations.append(
                Citation(
                    n=n,
                    article_id=c.article_id,
                    title=c.hit.chunk.title,
                    source=c.hit.chunk.source,
                    chunk_id=c.hit.chunk.id,
                    quote=quote,
                    start=sent.start,
                    end=sent.end,
                    score=round(c.score, 4),
                    highlight_start=span[0] if span else None,
                    highlight_end=span[1] if span else None,
                )
            )
            bodies.append(cited_quote(quote, n, (span[0] - sent.start, span[1] - sent.start) if span else None))
            if span:
                spans.append(article_text[span[0] : span[1]])
        return Answer(
            question=ctx.question,
            text=" ".join(bodies),
            citations=citations,
            refused=False,
            passages=ctx.passages,
            query=ctx.query,
            answer_span=spans[0] if spans else None,
            confidence=round(confidence, 4),
            answerer=self.name,
        )

    def stream(self, ctx: AnswerContext) -> Iterator[str | Answer]:
        """The answer in word-sized pieces, then the `Answer` (it is made in milliseconds)."""
        answer = self.answer(ctx)
        yield from word_pieces(answer.text)
        yield answer
