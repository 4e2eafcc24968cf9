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

from rag.answering.keyfacts import ALL_RULES, RULES, evidence_of, missing_facts
from rag.answering.language import (
    highlight_span,
    question_names,
    question_type,
    type_spans,
)
from rag.answering.neighbours import antecedent, follower, refers_to_someone
from rag.answering.overlap import overlap
from rag.answering.render import answer_text, cited_quote, refusal
from rag.answering.spans import (
    ShortSpan,
    SpanRanker,
    default_ranker,
    parse,
    sentence_evidence,
    wh_class,
)
from rag.chunking import Sentence
from rag.text import prefix, terms
from rag.types import Answer, AnswerContext, Citation, Hit, ShortAnswer


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
# The span ranker chooses the short answer among this many of the best sentences (as it was fitted).
SPAN_SENTENCES = 3

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
        spans: SpanRanker | None | bool = True,
        key_facts: tuple[str, ...] = RULES,
    ) -> None:
        self.key_facts = key_facts
        self.embeddings = embeddings
        # True: the fitted ranker (rag/answering/span_weights.json), loaded on first use.
        self._spans = spans
        self.refusal_threshold = refusal_threshold
        self.min_lexical = min_lexical
        self.sentence_rerank = sentence_rerank
        # Tuned on the SQuAD development files with bench/tune.py (docs/benchmarks.md).
        self.weights = {
            "lexical": 1.0, "context": 0.0, "dense": 1.6, "type": 0.1, "rank": 0.0, "novelty": 0.0, "missing": 0.0,
        }
        if weights:
            self.weights.update(weights)

    @property
    def spans(self) -> SpanRanker | None:
        if self._spans is True:
            self._spans = default_ranker()
        return self._spans or None

    def warm_up(self) -> None:
        """Load spaCy's pipeline and the span weights now rather than on the first question."""
        if self.spans is not None:
            parse("Warm up.")

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

    def short_answer(self, question: str, cands: list[Candidate], corpus, exclude=()) -> tuple[Candidate, ShortSpan] | None:
        """The span ranker over the best `SPAN_SENTENCES` sentences: the words that answer and the
        sentence they are in (which may not be the best-scored one), or None."""
        if self.spans is None or not cands:
            return None
        top = [c for c in cands[:SPAN_SENTENCES] if c.score >= SECOND_CITATION_RATIO * cands[0].score]
        # Never move to a sentence that matches fewer of the question's key facts (another
        # harbour's number, another year) than the best one does.
        misses = [len(missing_facts(question, evidence_of(corpus, c.article_id, c.index),
                                    corpus.titles.get(c.article_id, ""), ALL_RULES)) for c in top]
        top = [c for c, m in zip(top, misses) if m <= misses[0]]
        wh = wh_class(question)
        texts = [corpus.sentence_text(c.article_id, c.index) for c in top]
        evidence = [sentence_evidence(r, c.score, top[0].score, c.lexical, c.dense, wh) for r, c in enumerate(top)]
        best = self.spans.best(question, texts, evidence, exclude)
        return (top[best.sentence], best) if best else None

    def answer(self, ctx: AnswerContext) -> Answer:
        search, corpus = ctx.search, ctx.corpus
        cands = self.candidates(search, ctx.hits, corpus, ctx.query_vector)
        confidence = cands[0].score if cands else 0.0
        if not self.supported(cands[0] if cands else None):
            return refusal(ctx, self.name, confidence=confidence)
        wh = wh_class(search)
        best_text = corpus.sentence_text(cands[0].article_id, cands[0].index)
        if wh == "who" and refers_to_someone(best_text) and not any(
            e.label_ == "PERSON" for e in parse(best_text).ents
        ):
            picked = None  # "the host of the meeting said …": the name is given earlier (below)
        else:
            picked = self.short_answer(search, cands, corpus, ctx.exclude)
        primary = picked[0] if picked else cands[0]
        if self.key_facts and missing_facts(
            search, evidence_of(corpus, primary.article_id, primary.index),
            corpus.titles.get(primary.article_id, ""), self.key_facts,
            corpus.article_terms(primary.article_id),
        ):
            # It matches the question's words but not what the question pins down.
            return refusal(ctx, self.name, confidence=confidence)
        qtype = question_type(search)
        # (article id, sentence index) of each cited sentence, in article order; the short answer
        # as (article id, start, end) in article offsets.
        cited = [(primary.article_id, primary.index)]
        short = None
        if picked:
            span = picked[1]
            at = primary.sentence.start
            short = (primary.article_id, at + span.start, at + span.end, span.probability)
        primary_text = corpus.sentence_text(primary.article_id, primary.index)
        if wh == "who" and not self._names_someone(short, corpus) and refers_to_someone(primary_text):
            # "the host of the meeting insisted …": the answer is the name given earlier.
            found = antecedent(corpus, primary.article_id, primary.index, search)
            if found:
                j, s0, e0 = found
                cited.insert(0, (primary.article_id, j))
                short = (primary.article_id, s0, e0, None)
        nxt = follower(corpus, primary.article_id, primary.index, wh)
        if nxt is not None:
            cited.append((primary.article_id, nxt))
        elif short is None and qtype and not primary.type_match:
            # No short answer and no span of the kind asked for: also cite the best close
            # sentence that has one.
            for c in cands[1:6]:
                if c.type_match and c.score >= SECOND_CITATION_RATIO * primary.score:
                    cited.append((c.article_id, c.index))
                    break
        by_key = {(c.article_id, c.index): c for c in cands}
        q_set = set(terms(search))
        citations, bodies = [], []
        short_answer = None
        for n, (article_id, i) in enumerate(cited, start=1):
            article_text = corpus.text(article_id)
            sent = corpus.sentences(article_id)[i]
            quote = article_text[sent.start : sent.end]
            cand = by_key.get((article_id, i))
            hit = cand.hit if cand else next(
                (h for h in ctx.hits if h.chunk.article_id == article_id and h.chunk.start <= sent.start
                 and sent.end <= h.chunk.end), primary.hit)
            if short and short[0] == article_id and sent.start <= short[1] and short[2] <= sent.end:
                span = short[1], short[2]
                short_answer = ShortAnswer(article_text[span[0] : span[1]], article_id, span[0], span[1], n,
                                           None if short[3] is None else round(short[3], 4))
            else:
                span = highlight_span(quote, sent.start, qtype, q_set, corpus.names(article_id))
            citations.append(
                Citation(
                    n=n,
                    article_id=article_id,
                    title=corpus.titles.get(article_id, hit.chunk.title),
                    source=hit.chunk.source,
                    chunk_id=hit.chunk.id,
                    quote=quote,
                    start=sent.start,
                    end=sent.end,
                    score=round(cand.score if cand else 0.0, 4),
                    highlight_start=span[0] if span else None,
                    highlight_end=span[1] if span else None,
                )
            )
            # The short answer leads; under it the sentences are quoted without bold.
            bold = None if short_answer or not span else (span[0] - sent.start, span[1] - sent.start)
            bodies.append(cited_quote(quote, n, bold))
        heuristic = next((c for c in citations if c.highlight_start is not None), None)
        return Answer(
            question=ctx.question,
            text=answer_text(bodies, (short_answer.text, short_answer.n) if short_answer else None),
            citations=citations,
            refused=False,
            passages=ctx.passages,
            query=ctx.query,
            answer_span=short_answer.text if short_answer else (
                corpus.text(heuristic.article_id)[heuristic.highlight_start : heuristic.highlight_end] if heuristic else None
            ),
            short_answer=short_answer,
            confidence=round(confidence, 4),
            answerer=self.name,
        )

    @staticmethod
    def _names_someone(short, corpus) -> bool:
        """The short answer is a person's name (not "the host" or "he")."""
        if short is None:
            return False
        text = corpus.text(short[0])[short[1] : short[2]]
        return any(ent.label_ == "PERSON" for ent in parse(text).ents) or bool(
            re.fullmatch(r"(?:[A-Z][\w'’.-]+\s*){2,}", text.strip())
        )

    def stream(self, ctx: AnswerContext) -> Iterator[str | Answer]:
        """The answer in word-sized pieces, then the `Answer` (it is made in milliseconds)."""
        answer = self.answer(ctx)
        yield from word_pieces(answer.text)
        yield answer
