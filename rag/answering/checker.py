"""The citation checker: an LLM's answer is kept sentence by sentence, and a `[n]` only where passage n
says what the sentence claims.

An LLM writes fluent answers but may cite a passage that does not say what it wrote, or a passage
that does not exist. So its answer is never shown as it comes: it is split into sentences, and
each `[n]` marker is kept only when passage n holds a sentence that supports the answer sentence
(idf-weighted overlap of content words, and embedding similarity where the embedding model can
encode), and whose own words say the claim's answer part: the words of the claim that are not
the question's (the name, number or phrase that answers). A kept marker becomes a `Citation` quoting that supporting sentence of the article,
exactly as the extractive answerer quotes: `quote == article_text[start:end]`. A sentence left with
no supported citation is removed.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from rag.answering.language import FACT
from rag.answering.overlap import overlap
from rag.chunking import split_sentences
from rag.text import numbers, prefix, terms
from rag.types import Citation, Hit

if TYPE_CHECKING:
    from rag.answering.corpus import Corpus

log = logging.getLogger(__name__)

# Thresholds measured on synthetic LLM-style claims ("<gold answer> <question words>.") over 4
# SQuAD v1 articles indexed with the default embedding model (226 claims cited to the passage that
# holds their answer, 239 cited to another retrieved passage, 226 with a wrong answer from the same
# article cited to the right passage). With these values the checker keeps 95% of the supported
# citations and 6% of those to the wrong passage; a wrong answer passes 29% of the time (51% without
# the name/number rule below), as it shares the question's words with the passage. On all 12
# articles (25 other questions each): 96% / 9% / 34%. Words alone at 0.5 keep 89% / 4% / 25%:
# embedding similarity recovers paraphrases at a small cost.
MIN_LEXICAL = 0.5
MIN_LEXICAL_WITH_DENSE = 0.4
MIN_DENSE = 0.55
# Credit for a claim word found only elsewhere in the cited chunk or its title (a name the
# sentence calls "he"): 0.5 measured a little better than 0 (93% / 6% kept against 89% / 5%, with
# the other rules as above). A word matched by its prefix gets overlap.LOOSE_MATCH.
CONTEXT_MATCH = 0.5
# The answer part of a claim (its words that are not the question's) must be said by the cited
# sentence: at least MIN_ANSWER_PART of its idf weight, with at least one of its words in the
# sentence itself (a word found only in the neighbouring sentence of the chunk counts
# NEIGHBOUR_MATCH); and the sentence itself must hold at least MIN_QUESTION_PART of the words the
# claim shares with the question, so it is about the same thing. `python -m bench.citations`
# (12 articles, 290 / 281 / 290 claims): kept 89.3% of supported claims, 1.8% of those to the
# wrong passage, 1.4% of wrong answers cited to the right passage (before these rules: 92.8% /
# 5.7% / 25.2%). Letting an answer found only in the neighbouring sentence pass (credit 0.5,
# no own word) keeps 90.7% / 1.8% / 1.7%, but then "The US was represented by David Cameron"
# passes on the sentence after the one naming him; the question part with chunk-wide credit
# (0.5) keeps 91.7% / 1.8% / 1.7% and lets a name that only sits near the question's words pass.
MIN_ANSWER_PART = 0.5
NEIGHBOUR_MATCH = 0.5
MIN_QUESTION_PART = 0.1
# Claims this short ("Macron [1].") are checked together with the question they answer.
SHORT_CLAIM_TERMS = 3

_MARKER = re.compile(
    r"\s*(?<!\\)\[\s*(?:(?:passages?|sources?|p)\s*)?(\d{1,3}(?:\s*(?:,|;|-|–|and)\s*(?:(?:passages?|p)\s*)?\d{1,3})*)\s*\]",
    re.IGNORECASE,
)
# Adjacent markers ("[2][5]", "[2], [5]") are one run: rewritten together, spaced once.
_MARKER_RUN = re.compile(rf"(?:(?:{_MARKER.pattern})[,;]?)+", re.IGNORECASE)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_REFUSAL = re.compile(
    r"\bI\s+(?:cannot|can't|can not|am unable to|am not able to|could not|couldn't|do not|don't)\s+"
    r"(?:answer|tell|find|determine|say|know|see)\b"
    r"|\b(?:cannot|can't|can not|unable to)\s+(?:be\s+)?answer(?:ed)?\b"
    r"|\b(?:passages?|articles?|context|sources?|texts?|documents?)\s+(?:provided\s+)?(?:do|does|did)\s*(?:not|n't)\s+"
    r"(?:say|mention|state|contain|specify|provide|include|tell|answer|discuss|cover)"
    r"|\bnot\s+(?:mentioned|stated|specified|provided|given|included|covered|said)\s+in\s+the\s+"
    r"(?:passages?|articles?|context|sources?|texts?)"
    r"|\bno\s+(?:information|mention)\s+(?:about|on|of|regarding|in)\b",
    re.IGNORECASE,
)


def visible_text(text: str) -> str:
    """The answer without reasoning blocks (<think>…</think>), cut at one still open."""
    text = _THINK.sub("", text)
    open_at = text.lower().find("<think>")
    return text if open_at < 0 else text[:open_at]


def _marker_numbers(group: str) -> list[int]:
    nums = [int(x) for x in re.findall(r"\d+", group)]
    if len(nums) == 2 and re.search(r"\d\s*[-–]\s*(?:\D*)\d", group) and 0 < nums[1] - nums[0] <= 10:
        return list(range(nums[0], nums[1] + 1))
    return nums


def cited_numbers(text: str) -> list[int]:
    """The passage numbers of every `[n]` marker in `text`, in order ("[2-4]" gives 2, 3, 4)."""
    return [n for m in _MARKER.finditer(text) for n in _marker_numbers(m.group(1))]


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text)


def _claim(sentence: str) -> str:
    """The sentence as a claim: markers and markdown emphasis removed."""
    return re.sub(r"\s+", " ", _MARKER.sub("", sentence).replace("**", "")).strip()


def answer_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of an LLM answer; markers written after the full stop stay with their sentence."""
    spans = [(s.start, s.end) for s in split_sentences(text, max_chars=4000)]
    out: list[tuple[int, int]] = []
    for start, end in spans:
        lead = re.match(r"(?:\s*(?<!\\)\[[^\]\n]{0,30}\])+", text[start:end])
        if out and lead:
            cut = start + lead.end()
            out[-1] = (out[-1][0], cut)
            start = cut
            while start < end and text[start].isspace():
                start += 1
            if start >= end:
                continue
        out.append((start, end))
    return out


def has_words(sentence: str) -> bool:
    """True when a sentence holds a word outside markers (so the one before it is complete)."""
    return bool(re.search(r"\w", re.sub(r"\[[^\]]*\]?", "", sentence)))


@dataclass
class Support:
    """How well the best sentence of one cited passage supports one answer sentence."""

    passage: int  # 1-based, as cited
    article_id: str
    sentence: int  # index of the supporting sentence in its article
    start: int
    end: int
    lexical: float
    dense: float | None
    supported: bool
    missing_facts: tuple[str, ...] = ()
    answer_part: float = 1.0  # share of the claim's answer part the sentence says

    @property
    def score(self) -> float:
        return self.lexical + (self.dense or 0.0)


class CitationChecker:
    """Decides whether passage n supports an answer sentence, and which of its sentences to quote."""

    def __init__(
        self,
        embeddings=None,
        *,
        min_lexical: float = MIN_LEXICAL,
        min_lexical_with_dense: float = MIN_LEXICAL_WITH_DENSE,
        min_dense: float = MIN_DENSE,
        min_answer_part: float = MIN_ANSWER_PART,
        min_question_part: float = MIN_QUESTION_PART,
        neighbour_match: float = NEIGHBOUR_MATCH,
    ) -> None:
        # Dense similarity uses the model's `encode` (unit vectors, cached per sentence by the corpus).
        self.embeddings = embeddings
        self.min_lexical = min_lexical
        self.min_lexical_with_dense = min_lexical_with_dense
        self.min_dense = min_dense
        self.min_answer_part = min_answer_part
        self.min_question_part = min_question_part
        self.neighbour_match = neighbour_match

    def claim_terms(self, claim: str, search: str) -> list[str]:
        own = list(dict.fromkeys(terms(claim)))
        if len(own) < SHORT_CLAIM_TERMS:
            own = list(dict.fromkeys(own + terms(search)))
        return own

    def accepts(self, lexical: float, dense: float | None) -> bool:
        if lexical >= self.min_lexical:
            return True
        return dense is not None and lexical >= self.min_lexical_with_dense and dense >= self.min_dense

    def parts(self, claim: str, search: str) -> tuple[list[str], list[str]]:
        """The claim's answer part (its words the question does not have: the name, number or phrase
        that answers) and its question part (the words it shares with the question)."""
        asked = set(terms(search))
        asked_prefixes = {prefix(t) for t in asked}
        answer = [t for t in dict.fromkeys(terms(claim)) if t not in asked and prefix(t) not in asked_prefixes]
        question = [t for t in self.claim_terms(claim, search) if t not in answer]
        return answer, question

    def support(
        self, claim: str, n: int, hit: Hit, corpus: Corpus, search: str = "", claim_vector=None
    ) -> Support | None:
        """The best sentence of `hit` for `claim`, scored; None when the chunk has no sentence."""
        chunk = hit.chunk
        aid = chunk.article_id
        idx = list(corpus.sentences_in(aid, chunk.start, chunk.end))
        if not idx:
            return None
        q_terms = self.claim_terms(claim, search)
        answer_part, question_part = self.parts(claim, search)
        weight = sum(corpus.idf(t) for t in q_terms)
        sent_terms = corpus.sentence_terms(aid)
        sent_prefixes = corpus.sentence_prefixes(aid)
        around = set(corpus.title_terms(aid))
        for i in idx:
            around |= sent_terms[i]
        lexical = [
            overlap(q_terms, sent_terms[i], sent_prefixes[i], corpus.idf, around=around, around_credit=CONTEXT_MATCH)
            for i in idx
        ]

        def neighbours(j: int) -> set[str]:
            return set().union(*(sent_terms[idx[k]] for k in (j - 1, j + 1) if 0 <= k < len(idx)))

        # The answer part must be said by the sentence itself (a word of it found only in the next
        # or previous sentence of the chunk counts less, and never alone): sharing the question's
        # words is not saying the answer.
        def answer_share(j: int, i: int) -> float:
            if not answer_part:
                return 1.0
            if not any(t in sent_terms[i] or prefix(t) in sent_prefixes[i] for t in answer_part):
                return 0.0
            return overlap(answer_part, sent_terms[i], sent_prefixes[i], corpus.idf,
                           around=neighbours(j), around_credit=self.neighbour_match)

        answer_found = [answer_share(j, i) for j, i in enumerate(idx)]
        # ...and the sentence itself must be about the question (a name elsewhere in the chunk is not).
        question_found = [
            overlap(question_part, sent_terms[i], sent_prefixes[i], corpus.idf) if question_part else 1.0
            for i in idx
        ]
        dense: list[float | None] = [None] * len(idx)
        if self.embeddings is not None and weight > 0:
            try:
                if claim_vector is None:
                    claim_vector = self.embeddings.encode([claim])[0]
                vecs = corpus.standalone_sentence_vectors(self.embeddings, [(aid, i) for i in idx])
                dense = [float(x) for x in vecs @ np.asarray(claim_vector, dtype=np.float32)]
            except Exception:  # noqa: BLE001 - similarity is extra evidence; words alone still decide
                log.warning("Embedding the answer sentence failed; checking citations by words only.", exc_info=True)

        def says_parts(j: int) -> bool:
            return answer_found[j] >= self.min_answer_part and question_found[j] >= self.min_question_part

        # The sentence to quote: one that says the answer part, then the best scored.
        best = max(range(len(idx)), key=lambda j: (says_parts(j), lexical[j] + (dense[j] or 0.0)))
        sent = corpus.sentences(aid)[idx[best]]
        known = around | set(terms(search))
        known_prefixes = {prefix(t) for t in known}
        # Numbers are compared as numbers: as words, "1980s" in the passage did not say the "1980"
        # of a claim's "the 1980s" (nor "24-yard" its "24"), and 12 of 290 supported claims failed
        # so (`python -m bench.citations`, docs/benchmarks.md).
        said = numbers(f"{chunk.text} {corpus.titles.get(aid, '')} {search}")

        def unsaid(fact: str) -> list[str]:
            if fact[0].isdigit():
                return [n for n in numbers(fact) if n not in said]
            return [t for t in terms(fact) if t not in known and prefix(t) not in known_prefixes]

        missing = tuple(dict.fromkeys(f for m in FACT.finditer(claim) for f in unsaid(m.group(0))))
        return Support(
            passage=n,
            article_id=aid,
            sentence=idx[best],
            start=sent.start,
            end=sent.end,
            lexical=lexical[best],
            dense=dense[best],
            supported=not missing and says_parts(best) and self.accepts(lexical[best], dense[best]),
            missing_facts=missing,
            answer_part=round(answer_found[best], 4),
        )


# Why a `[n]` was removed (`CheckedAnswer.dropped_markers`).
NO_PASSAGE = "no such passage"
NOT_SAID = "the passage does not say it"
OFF_QUESTION = "the sentence does not answer the question"


@dataclass
class CheckedAnswer:
    """An answer checked sentence by sentence (so streaming can show each checked sentence at once)."""

    checker: CitationChecker
    hits: list[Hit]
    corpus: Corpus
    search: str
    citations: list[Citation] = field(default_factory=list)
    text: str = ""
    kept: int = 0
    dropped_sentences: int = 0
    dropped_markers: list[tuple[int, str]] = field(default_factory=list)
    refusal_said: bool = False
    # The sentences the reader finds answer the question (`ExtractiveAnswerer.endorsed`); a citation
    # must quote one of them (its keys). None: no reader, the word rules decide alone.
    endorsed: Container[tuple[str, int]] | None = None
    _numbers: dict = field(default_factory=dict)
    _vector_cache: dict = field(default_factory=dict)

    def _claim_vector(self, claim: str):
        if self.checker.embeddings is None:
            return None
        if claim not in self._vector_cache:
            try:
                self._vector_cache[claim] = self.checker.embeddings.encode([claim])[0]
            except Exception:  # noqa: BLE001 - see CitationChecker.support
                log.warning("Embedding the answer sentence failed; checking citations by words only.", exc_info=True)
                self._vector_cache[claim] = None
        return self._vector_cache[claim]

    def add(self, sentence: str, separator: str = " ") -> str:
        """The checked sentence with renumbered markers (with its separator), or "" when removed."""
        claim = _claim(sentence)
        if not claim:
            return ""
        if _REFUSAL.search(claim):
            self.refusal_said = True
            return ""
        kept_any = False

        def renumber(m: re.Match) -> str:
            nonlocal kept_any
            out: list[int] = []
            for n in [n for one in _MARKER.finditer(m.group(0)) for n in _marker_numbers(one.group(1))]:
                if not 1 <= n <= len(self.hits):
                    self.dropped_markers.append((n, NO_PASSAGE))
                    continue
                sup = self.checker.support(claim, n, self.hits[n - 1], self.corpus, self.search, self._claim_vector(claim))
                if sup is None or not sup.supported:
                    self.dropped_markers.append((n, NOT_SAID))
                    continue
                if self.endorsed is not None and (sup.article_id, sup.sentence) not in self.endorsed:
                    self.dropped_markers.append((n, OFF_QUESTION))
                    continue
                out.append(self._cite(sup))
            if not out:
                return ""
            kept_any = True
            lead = m.group(0)[: len(m.group(0)) - len(m.group(0).lstrip())]
            return lead + "".join(f"[{k}]" for k in dict.fromkeys(out))

        checked = _MARKER_RUN.sub(renumber, sentence).strip()
        if not kept_any:
            self.dropped_sentences += 1
            return ""
        piece = (separator if self.kept else "") + checked
        self.kept += 1
        self.text += piece
        return piece

    def _cite(self, sup: Support) -> int:
        key = (sup.article_id, sup.sentence)
        if key in self._numbers:
            n = self._numbers[key]
            c = self.citations[n - 1]
            c.score = max(c.score, round(sup.score, 4))
            return n
        n = len(self.citations) + 1
        self._numbers[key] = n
        chunk = self.hits[sup.passage - 1].chunk
        article_text = self.corpus.text(sup.article_id)
        self.citations.append(
            Citation(
                n=n,
                article_id=sup.article_id,
                title=chunk.title,
                source=chunk.source,
                chunk_id=chunk.id,
                quote=article_text[sup.start : sup.end],
                start=sup.start,
                end=sup.end,
                score=round(sup.score, 4),
            )
        )
        return n

    def notice(self) -> str | None:
        parts = []
        dropped = Counter(why for _, why in self.dropped_markers)
        for why, where in ((NOT_SAID, "a passage that does not say it"),
                           (OFF_QUESTION, "a sentence that does not answer the question"),
                           (NO_PASSAGE, "no retrieved passage")):
            if n := dropped[why]:
                parts.append(f"{n} citation{'s' if n > 1 else ''} to {where}")
        if self.dropped_sentences:
            n = self.dropped_sentences
            parts.append(f"{n} sentence{'s' if n > 1 else ''} without a supported citation")
        if not parts:
            return None
        return "Removed from the LLM's answer: " + "; ".join(parts) + "."




def sentence_separator(gap: str) -> str:
    return "\n\n" if "\n\n" in gap else "\n" if "\n" in gap else " "
