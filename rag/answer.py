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
from rag.text import STOPWORDS, fold, prefix, stem, terms, words

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


def question_names(question: str) -> set[str]:
    """Stems of the capitalised words inside a question (the names it asks about)."""
    tokens = re.findall(r"[\w'’-]+", question)
    return {
        stem(fold(t)) for i, t in enumerate(tokens)
        if i > 0 and t[:1].isupper() and fold(t) not in STOPWORDS
    }


def question_type(question: str) -> str | None:
    q = fold(question).strip()
    if re.search(r"\b(how many|how much|how long|how old|how far|what percentage|what number)\b", q):
        return "number"
    if re.search(r"\b(when|what year|what date|which year|what day|what month|what century)\b", q):
        return "date"
    if re.search(r"^(who|whom|whose)\b|\b(who|whom)\b", q) or re.search(
        r"\b(what|which)\s+(?:\w+\s+){0,2}(person|people|man|woman|leader|president|minister|king|queen|"
        r"official|chancellor|author|player|team|company|organi[sz]ation|group|party)\b",
        q,
    ):
        return "person"
    if re.search(r"\b(where|what country|which country|what city|which city|what place)\b", q):
        return "place"
    return None


_ROLE = re.compile(
    r"\b(?:(?:a|an|the|its|his|her|their)\s+)?(?:[a-z][\w-]*\s+){0,3}"
    r"(?:minister|secretary|president|chancellor|prime minister|premier|king|queen|prince|princess|"
    r"ambassador|envoy|spokes(?:man|woman|person)|chief|head|director|governor|mayor|general|leader|"
    r"official|officials|delegation|representative|senator|judge|ceo|chairman|chairwoman|founder)"
    r"(?:\s+of\s+(?:the\s+)?[\w-]+(?:\s+[A-Z][\w-]+)*)?\b"
)


def type_spans(sentence: str, qtype: str | None, question_words: set[str], names: set[str]) -> list[tuple[int, int]]:
    """Spans of the sentence of the kind the question asks for that the question does not already name.

    For people, a capitalised word counts only inside a multi-word name or when the article
    names someone with it elsewhere (`names`): "Macron" after "Emmanuel Macron", not "Russia".
    """
    if qtype is None:
        return []
    spans = []
    matches = list(_TYPE_PATTERNS[qtype].finditer(sentence))
    if qtype == "person":
        matches += list(_ROLE.finditer(sentence))
    for m in matches:
        s, e = m.span(1 if qtype == "place" else 0)
        if m.re is _ROLE:
            # "sent a deputy secretary of state", "with a deputy …": the role starts at its
            # article, or after a leading preposition when it has none.
            piece = sentence[s:e]
            head = piece.split(" of ", 1)[0]  # not the article of "… of the treasury"
            article = re.search(r"\b(?:a|an|the|its|his|her|their)\s", head)
            lead = re.match(r"(?:(?:with|by|and|of|for|to|from|as|at|in|on)\s+)+", piece)
            s += article.start() if article else (lead.end() if lead else 0)
        # A name at the end of a sentence keeps its own full stop out ("Le Goff.", not "U.S.").
        while e - s > 2 and sentence[e - 1] in ".,;:" and not sentence[e - 3 : e - 1].startswith("."):
            e -= 1
        piece = sentence[s:e]
        toks = {stem(w) for w in words(piece)} - {stem(w) for w in STOPWORDS}
        if not toks or toks <= question_words:
            continue
        if qtype == "person" and m.re is _TYPE_PATTERNS["person"]:
            parts = piece.split()
            if len(parts) == 1 and (s == 0 or fold(piece) not in names):
                continue
        spans.append((s, e))
    return spans


# Where a sentence joins clauses: "…, and the US, …", "…; …", "…, while …", "…, but …".
_CLAUSE_BREAK = re.compile(r";\s+|,\s+(?:and|but|while|whereas)\s+|\s+(?:whereas|while)\s+")


def _clauses(sentence: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _CLAUSE_BREAK.finditer(sentence):
        spans.append((start, m.start()))
        start = m.start() + 1
    spans.append((start, len(sentence)))
    return spans


def highlight_span(sentence: str, offset: int, qtype, question_words, names) -> tuple[int, int] | None:
    """The answer span to highlight: the one candidate of the sentence, or, when it holds several,
    the one candidate of the clause that holds most of the question's words ("…a deputy foreign
    minister, and the US …, with a deputy secretary of state" for "Who represented the US?")."""
    spans = type_spans(sentence, qtype, question_words, names)
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    if len(merged) > 1:
        scored = []
        for cs, ce in _clauses(sentence):
            own = {stem(w) for w in words(sentence[cs:ce])}
            inside = [(s, e) for s, e in merged if cs <= s and e <= ce]
            scored.append((len(own & question_words), inside))
        scored.sort(key=lambda x: -x[0])
        best_overlap, inside = scored[0]
        clear_winner = best_overlap > 0 and (len(scored) == 1 or scored[1][0] < best_overlap)
        merged = inside if clear_winner else merged
    if len(merged) > 1 and qtype == "person":
        # "the German chancellor, Olaf Scholz": the name answers "who", the title describes them.
        named = [(s, e) for s, e in merged if sentence[s : e][:1].isupper()]
        merged = named if len(named) == 1 else merged
    if len(merged) != 1:
        return None
    return offset + merged[0][0], offset + merged[0][1]


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
    novelty: float = 0.0
    missing_names: int = 0
    score: float = 0.0


# A second sentence is cited only when it scores at least this share of the best one.
SECOND_CITATION_RATIO = 0.5

# Credit for a word that matches only by its first five letters ("Italy" / "Italian").
LOOSE_MATCH = 0.6


def _escape_markers(text: str) -> str:
    """Article text may hold its own "[3]" references; escape them so every [n] is ours."""
    return re.sub(r"\[(\d+)\]", r"\\[\1\\]", text)


# Characters that would make quoted article text Markdown of its own: a "# Heading" line, an
# image `![](…)` fetched by the browser, emphasis. `<` and `&` are left to whoever renders HTML.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#~])")


def markdown_quote(text: str) -> str:
    """Article text for an answer's Markdown: shown as written, and every `[n]` left is ours."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


# "What is …", "How many tanks did …", "Did …": questions whose word order cannot follow "does not
# say" ("does not say what is the capital"); those are quoted instead.
_INVERTED = re.compile(
    r"^(?:(?:who|whom|whose|what|which|when|where|why|how)\b(?:\s+[\w’'-]+){0,3}?\s+)?"
    r"(?:is|are|was|were|am|do|does|did|has|have|had|can|could|will|would|shall|should|may|might|must)\b",
    re.IGNORECASE,
)


def _unsupported_text(question: str, scope_title: str | None) -> str:
    q = question.strip().rstrip("?.! ").strip()
    if q and _INVERTED.match(q):
        subject = f"“{scope_title}” does not answer" if scope_title else "The articles do not answer"
        return f"{subject} “{q[:1].upper() + q[1:]}?”"
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
                loose = sent_prefixes[i]
                c.lexical = sum(
                    corpus.idf(t) * (1.0 if t in own else LOOSE_MATCH if prefix(t) in loose else 0.0)
                    for t in q_terms
                ) / q_weight
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
                sims = corpus.pooled_sentence_vectors(self.embeddings, keys) @ np.asarray(query_vector, dtype=np.float32)
                for c, sim in zip(head, sims):
                    c.dense = float(sim)
                    c.score += w["dense"] * c.dense
                # The rest was not re-ranked: keep it below the head so scores stay comparable.
                ranked = {id(c) for c in head}
                cands = sorted(head, key=lambda c: -c.score) + [c for c in cands if id(c) not in ranked]
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
        if not self.supported(cands[0] if cands else None):
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
            if span:
                s0, e0 = span[0] - sent.start, span[1] - sent.start
                bodies.append(
                    f"{markdown_quote(quote[:s0])}**{markdown_quote(quote[s0:e0])}**"
                    f"{markdown_quote(quote[e0:])} [{n}]"
                )
                spans.append(article_text[span[0] : span[1]])
            else:
                bodies.append(f"{markdown_quote(quote)} [{n}]")
        return Answer(
            question=question,
            text=" ".join(bodies),
            citations=citations,
            refused=False,
            passages=passages,
            query=query,
            answer_span=spans[0] if spans else None,
            confidence=round(confidence, 4),
            answerer=self.name,
        )
