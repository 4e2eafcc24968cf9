"""The offline extractive answerer: cite the sentence that says it, or refuse.

The retrieved chunks are split into sentences, each scored by idf-weighted overlap with the
question (its own words and its neighbours'), by the embedding model's similarity, and by whether
it holds the kind of thing the question asks for (a person, a date, a number, a place). The
reader (`rag.answering.reader`, fitted on the public SQuAD questions since no QA model ships its
weights on PyPI) reads the best of them with the question: the most likely one is the answer and
its span the short answer, and when none is likely the answer is a refusal, never a guess. Key
facts the question pins down and the sentence lacks also make a refusal; a name given earlier, a
reason in the next sentence or the rest of a list are cited with it.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from rag.answering.clauses import ASKS_WHAT_DONE, object_clause
from rag.answering.countries import countries_in, said_in_other_words
from rag.answering.doers import doer_in, names_no_doer, only_reports, reported_doer
from rag.answering.keyfacts import (
    ALL_RULES, RULES, counts_another_thing, evidence_of, missing_facts, number_counting, part_of_whole,
)
from rag.answering.lists import description_of_name, gives_to_other_countries, item_about
from rag.answering.language import (
    ROLE_NOUNS,
    TYPE_PATTERNS,
    highlight_span,
    is_yes_no,
    named_as_asked,
    question_names,
    question_type,
    type_spans,
    wh_class,
)
from rag.answering.neighbours import (
    antecedent,
    asks_what_someone_named_is,
    follower,
    reason_in,
    refers_by_the_role_asked,
    refers_to_someone,
)
from rag.answering.overlap import overlap
from rag.answering.parsing import parse
from rag.answering.phrases import whole_phrase
from rag.answering.reader import Reader, Reading, choice_features, default_reader, evidence_row
from rag.answering.render import answer_text, cited_quote, refusal
from rag.chunking import Sentence
from rag.text import base_stem, prefix, terms
from rag.types import Answer, AnswerContext, Citation, Hit, ShortAnswer


def is_heading(sentence: str, title: str) -> bool:
    """A Markdown heading ("# Paris summit"), or the article's title standing as its first line."""
    text = sentence.strip()
    return text.startswith("#") or (bool(title) and " ".join(text.split()) == " ".join(title.split()))


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


@dataclass
class Verdict:
    """What the evidence decides before an answer is written: the candidate sentences (best
    scored first), the reader's readings of the best of them (most likely first), P(none of them
    answers), the sentence that answers (None: a refusal) and the confidence reported."""

    cands: list[Candidate]
    read: list[tuple[Candidate, Reading, float]]
    p_none: float
    primary: Candidate | None
    confidence: float


# A second sentence is cited only when it scores at least this share of the best one.
SECOND_CITATION_RATIO = 0.5
# A second sentence the reader finds likely is cited too when it holds this share of the question's
# words (by idf) that the first does not: what the question asks about, said in another sentence.
MIN_COMPLEMENT = 0.2
# Without a chooser stored with its weights (`Reader.chooser`), the reader's choice replaces the
# best-scored sentence only when it finds it this many times as likely to answer. Chosen on held-out
# folds (docs/benchmarks.md): readers fitted on 6 or 9 of the 12 articles chose worse than the
# scores alone by their first choice, and best with 2-3.
SWITCH_RATIO = 3.0
# ...and where its choice does not say what the question asks for (an amount of money, a number, what
# someone said) and another sentence read does, how much less likely that one may be and still answer.
KIND_SWITCH_RATIO = 10.0
# An LLM may cite a sentence the reader gives at least this share of the best sentence's probability
# (RAG_LLM_ENDORSED_SHARE). Chosen on SmolLM2-135M-Instruct's real replies to 211 questions per
# fold, each fold's reader on articles it never saw (`bench.llm --replies`, the share swept on the
# recorded replies at stop 28, before the checker compared numbers as numbers; docs/benchmarks.md
# gives the figures since): at 0.75 grounded mode showed 36 answers, 5 citing a sentence without the
# answer (13.9 %); at 0.25 (stop 24), 47 with 13 (27.7 %). On bench.citations' synthetic claims
# 0.75 keeps 73.6 % of the good ones, 0.25 78.8 % (docs/benchmarks.md, "The endorsement made
# stricter"): a capable model's good answers are overruled more, so the setting lowers it.
ENDORSED_SHARE = 0.75
# Where P(none) is below this, the question's own words need not be in the passage (`supported`):
# held out, 2 of 2,976 SQuAD v1 questions the word floor refused are answered, and none of 760
# unanswerable v2 questions (docs/benchmarks.md, "List sentences, counts and sure readings").
SURE_READING = 0.05
# The most words a short answer to "how many" / "how much" may have ("about twenty", "$1.2 million").
MAX_COUNT_WORDS = 5
# A question that asks for a count ("how much" may ask for an amount in words: "little", "no damage").
_HOW_MANY = re.compile(r"\bhow\s+many\b", re.IGNORECASE)
# Units of time: "How many years …?" asks for a time, which "two years ago" gives; any other "how
# many" asks for things, which it does not count ("How many tanks did France send?" is not answered
# by "two years ago no one thought about sending tanks").
_TIME_UNITS = r"years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centur(?:y|ies)|generations?"
_HOW_MANY_TIMES = re.compile(rf"\bhow\s+many\s+(?:{_TIME_UNITS})\b", re.IGNORECASE)
_ELAPSED = re.compile(rf"\s+(?:{_TIME_UNITS})\s+(?:ago|earlier|later|before|after)\b", re.IGNORECASE)
# An age: "a six-year-old girl" says how old she is, not how long anything lasted nor how many girls.
_AGE = re.compile(rf"[\w.,]+-(?:{_TIME_UNITS})-old\b", re.IGNORECASE)
_PERCENT_AFTER = re.compile(r"\s?(?:%|percent\b|per\s?cent\b)", re.IGNORECASE)
# A share said in words: "sales had fallen by a third", "two thirds of the members", "half".
_FRACTION = re.compile(r"\b(?:(?:a|one|two|three|four|nine)\s+(?:third|quarter|fifth|tenth)s?|half)\b", re.IGNORECASE)
_HOW_LONG = re.compile(r"\bhow\s+long\b", re.IGNORECASE)
_ASKS_MONEY = re.compile(  # not "By how much has Valrail raised wages?", which asks for a change
    r"(?<!\bby\s)\bhow\s+much\b(?:\s+[\w'’-]+){0,10}?\s+(?:cost|costs|costed|pay|paid|spend|spent|charge|charged|earn|earned|"
    r"raise|raised|sell|sold|buy|bought|worth|fund|funded|owe|owed)\b"
    r"|\bhow\s+much\s+(?:money|funding|cash)\b",
    re.IGNORECASE,
)
# A year, after the words that give one: not a count. (A share is: "How many Victorians are
# Catholic?" is answered "26.7%".)
_YEAR = re.compile(r"1[5-9]\d\d|20\d\d")
_BEFORE_A_YEAR = re.compile(r"\b(?:in|by|since|until|till|before|after|from|of|to|early|late|mid|around|circa)\s*-?\s*$"
                            r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+(?:\d{1,2},?\s+)?$", re.IGNORECASE)
# Words of a question that asks for an amount ("How much was the deal worth?") which any amount of
# money says: "the €4.2 billion deal" says what the deal was worth.
_SAID_BY_AN_AMOUNT = frozenset(terms("cost costs worth price money cash"))
# An amount of money: a currency sign or a currency's name.
_CURRENCIES = (r"dollars?|euros?|pounds?|sterling|yen|yuan|renminbi|francs?|rupees?|roubles?|rubles?|"
               r"pesos?|krona|kronor|kroner|krone|crowns?|koruna|zlotys?|forints?|lira|lire|dinars?|dirhams?|"
               r"riyals?|rials?|shekels?|baht|ringgit|rupiah|hryvnias?|naira|shillings?|cents?|pence|guineas?|"
               r"USD|EUR|GBP")
_MONEY = re.compile(rf"[$€£¥₹]|\b(?:{_CURRENCIES})\b", re.IGNORECASE)
# A number that is an amount of money: a currency's sign before it ("$9 million"), its name after it
# ("9 million euros"). "How many hotels …?" is not answered by "$9 million".
_SIGN_BEFORE = re.compile(r"(?:[$€£¥₹]|\b(?:US|USD|EUR|GBP))\s*$")
_NAME_AFTER = re.compile(rf"\s*(?:(?:million|billion|trillion|bn|m)\b\s*)?(?:{_CURRENCIES})\b", re.IGNORECASE)


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
        key_facts: tuple[str, ...] = RULES,
        reader: Reader | None | bool = True,
        endorsed_share: float = ENDORSED_SHARE,
    ) -> None:
        self.endorsed_share = endorsed_share
        self.key_facts = key_facts
        # True: the fitted reader (rag/answering/reader.py), loaded on first use; it chooses the
        # sentence among the best few, its short answer, and refuses when none of them answers.
        self._reader = reader
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

    @property
    def reader(self) -> Reader | None:
        if self._reader is True:
            self._reader = default_reader()
        return self._reader or None

    def warm_up(self) -> None:
        """Load the reader, spaCy's pipeline and the country names now rather than on the first question."""
        if self.reader is not None:
            self.reader.warm_up()
        parse("Warm up.")
        countries_in("Warm up.")  # countryinfo's data, read once

    def supported(self, best: Candidate | None, *, scored: bool = True) -> bool:
        """Enough evidence to answer: the question's own words in the passage, and (`scored`) a
        high score."""
        return (
            best is not None
            and (not scored or best.score >= self.refusal_threshold)
            and best.lexical + best.context >= self.min_lexical
        )

    def candidates(self, question: str, hits: list[Hit], corpus, query_vector) -> list[Candidate]:
        """Every sentence of the retrieved chunks, scored, best first."""
        q_terms = list(dict.fromkeys(terms(question)))
        q_set = set(q_terms)
        q_names = question_names(question)
        q_weight = sum(corpus.idf(t) for t in q_terms) or 1.0
        qtype = question_type(question)
        money_words = q_set & _SAID_BY_AN_AMOUNT if _ASKS_MONEY.search(question) else set()
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
                text = corpus.sentence_text(chunk.article_id, i)
                if is_heading(text, corpus.titles.get(chunk.article_id, "")):
                    continue  # a title labels the text; it says nothing that answers
                sent = sents[i]
                # A country the question names in other words than the sentence ("Spain" for
                # "Spanish", "the United States" for "the US") counts as said.
                own = sent_terms[i] | said_in_other_words(question, text)
                # "What did the storm bring?" is said by "Storm Hilda brought winds …".
                own |= {base_stem(t) for t in own if base_stem(t) != t}
                if money_words and _says_money(text):
                    own |= money_words
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
                if qtype and type_spans(text, qtype, q_set, corpus.names(chunk.article_id)):
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

    def read(
        self, question: str, cands: list[Candidate], corpus, exclude=(), sentences: int | None = None,
    ) -> tuple[float, list[tuple[Candidate, Reading, float]]]:
        """The reader over the answerer's best `sentences` (default: as many as it reads when
        answering): P(none of them answers), and each sentence with its reading (span offsets
        into the sentence; empty where it found none) and P(it answers), most likely first."""
        top = cands[: sentences or self.reader.sentences]
        texts = [corpus.sentence_text(c.article_id, c.index) for c in top]
        evidence = [_evidence(c, r) for r, c in enumerate(top)]
        readings = self.reader.read(question, texts, evidence, exclude)
        p_none, p = self.reader.probabilities(readings)
        # "Who else?": a sentence whose best span was an answer already given comes last.
        out = sorted(zip(top, readings, p), key=lambda x: (x[1].passed_over, -x[2]))
        return p_none, out

    def verdict(self, ctx: AnswerContext, sentences: int | None = None) -> Verdict:
        """The evidence and what it decides: the sentence that answers (None: a refusal), the
        reader reading the best `sentences` (default: as many as it reads when answering)."""
        search, corpus = ctx.search, ctx.corpus
        cands = self.candidates(search, ctx.hits, corpus, ctx.query_vector)
        if not cands:
            return Verdict(cands, [], 1.0, None, 0.0)
        if self.reader is None:
            # No reader (its weights absent): the best-scored sentence alone, as it says it.
            primary = cands[0] if self.supported(cands[0]) else None
            return self._with_key_facts(search, corpus, Verdict(cands, [], 1.0, primary, cands[0].score))
        says = _says_what_is_asked(search)
        n = sentences or self.reader.sentences
        to_read = cands
        if says is not None and not any(says(corpus.sentence_text(c.article_id, c.index)) for c in cands[:n]):
            # "How much did it cost to build Levi's Stadium?": the sentence with the amount ("The $1.2
            # billion stadium opened in 2014.") may be scored below the few read; the best-scored
            # one that says what is asked is read with them.
            extra = next((c for c in cands[n : self.reader.fitted]
                          if says(corpus.sentence_text(c.article_id, c.index))), None)
            if extra is not None:
                to_read, n = [*cands[:n], extra], n + 1
        p_none, read = self.read(search, to_read, corpus, ctx.exclude, n)
        verdict = Verdict(cands, read, p_none, None, 1.0 - p_none)
        # The question's own words must be in the passage, as without the reader, and the reader
        # must find an answer there. The score threshold is not applied: on paraphrased questions
        # the seed article answers plainly ("Who represented the United States?") it took false
        # refusals from 4 of 22 to 9, for 3.8 more points of SQuAD 2.0's look-alike questions
        # refused (docs/benchmarks.md, "Paraphrased questions").
        # A reading this sure of a sentence answers although the question words it shares are few
        # ("Which Russian opposition figure died?" of "… the death of Alexei Navalny").
        sure = p_none < SURE_READING
        if p_none > self.reader.threshold or not (sure or self.supported(cands[0], scored=False)):
            return verdict
        # The most likely sentence, but never one that matches fewer of the question's key facts
        # (another harbour's number, another year) than the best-scored one does.
        missed: dict[tuple[str, int], int] = {}

        def misses(c: Candidate) -> int:
            # Names looked for as the refusal looks for them (`_misses_key_facts`): "Who is the mayor
            # of Port Elwin?" is answered from "The mayor, Claire Dubois, …", which need not repeat
            # the town the article is about. Once a sentence: the rules below ask again.
            key = (c.article_id, c.index)
            if key not in missed:
                missed[key] = len(missing_facts(
                    search, evidence_of(corpus, c.article_id, c.index), corpus.titles.get(c.article_id, ""),
                    ALL_RULES, corpus.article_terms(c.article_id), corpus.article_prefixes(c.article_id)))
            return missed[key]

        def text(c: Candidate) -> str:
            return corpus.sentence_text(c.article_id, c.index)

        most = misses(cands[0])
        chooser = self.reader.chooser
        if chooser is not None:
            # The sentence the reader's chooser scores highest: its logit and span scores with the
            # answerer's evidence, weighed on held-out articles (rag/answering/reader.py, Chooser).
            # A sentence whose span was an answer already given only where every one's was.
            fair = [x for x in read if misses(x[0]) <= most] or read[:1]
            score = chooser.scores([choice_features(r, _evidence(c), c is cands[0]) for c, r, _ in fair])
            chosen, _, p_chosen = min(zip(fair, score), key=lambda x: (x[0][1].passed_over, -x[1]))[0]
        else:
            chosen, p_chosen = next(((c, p) for c, _, p in read if misses(c) <= most), read[0][::2])
            # ...and it must be clearly likelier than the best-scored sentence to replace it.
            first = next(((r, p) for c, r, p in read if c is cands[0]), None)
            if first is not None and not first[0].passed_over and p_chosen < SWITCH_RATIO * first[1]:
                chosen, p_chosen = cands[0], first[1]

        def instead(fits: Callable[[Candidate], bool], *, as_many_words: bool = True) -> Candidate:
            """A sentence read that `fits`, if the reader finds it likely too (KIND_SWITCH_RATIO), it or
            its neighbours hold as many of the question's words (`as_many_words`) and it misses no
            more key facts; else the chosen one."""
            return next((c for c, _, p in read if p * KIND_SWITCH_RATIO >= p_chosen
                         and (not as_many_words or c.lexical + c.context >= chosen.lexical + chosen.context)
                         and misses(c) <= most and fits(c)), chosen)

        if says is not None and not says(text(chosen)):
            # "What did Scholz say?" is answered by the sentence in which he says something ("Scholz
            # said … that Germany cannot …"), not by the one that lists him; "How much did it cost?"
            # by one with an amount of money.
            chosen = instead(lambda c: says(text(c)))
        if (role := _ROLE_ASKED.match(search)) and not _says_word(text(chosen), role.group(1)):
            # "Who is the mayor of Port Elwin?" is answered by a sentence that says "mayor" ("The
            # mayor, Claire Dubois, …"), not by one that names the town and a storm ("… as Storm
            # Hilda brought winds …"), though that one holds more of the question's words.
            chosen = instead(lambda c: _says_word(text(c), role.group(1)), as_many_words=False)
        if wh_class(search) == "who":
            # "Who wrote the decision?" of '"…," she wrote in a 140-page decision.': a sentence that
            # says more of the question's words but names its doer only as "he" or "she", whose name
            # the article gives before it. The reader, fitted on SQuAD's names, finds it unlikely.
            def by_pronoun(c: Candidate) -> bool:
                said = text(c)
                return (c.lexical + c.context > chosen.lexical + chosen.context
                        and _HE_OR_SHE.search(said) is not None
                        and not _names_a_person(said)
                        and antecedent(corpus, c.article_id, c.index, search) is not None)

            chosen = instead(by_pronoun)
        readings = {id(c): r for c, r, _ in read}
        asked = set(terms(search))
        asked_prefixes = {prefix(t) for t in asked}

        def echoes(c: Candidate) -> bool:
            """Whether the reader's span in sentence `c` says only words of the question (a span of no
            content word included; no span is not an echo)."""
            r = readings.get(id(c))
            if r is None or r.end <= r.start:
                return False
            return all(t in asked or prefix(t) in asked_prefixes for t in terms(text(c)[r.start : r.end]))

        if echoes(chosen):
            # "Who is the president of the Federal Cartel Office?" is not answered by "The Federal
            # Cartel Office, which had opposed …" whose likeliest words are the question's own, where
            # the reader finds the next sentence likely too ("Its president, Andreas Mundt, …").
            chosen = instead(lambda c: not echoes(c))
        verdict.primary = chosen
        return self._with_key_facts(search, corpus, verdict)

    def _with_key_facts(self, question: str, corpus, verdict: Verdict) -> Verdict:
        """No answer where the chosen sentence matches the question's words but not what it pins
        down (a year, a number, a name the article never mentions or none of the question's names
        near the sentence, the thing counted, a negation; for "how many", any number)."""
        if verdict.primary is not None and self._misses_key_facts(question, corpus, verdict.primary):
            verdict.primary = None
        # A sentence that says no number at all does not answer "how many" ("How many people were at
        # the meeting?" is not answered with "The tone of the meeting was severe."), nor one without
        # an amount of money what something cost ("How much did the sea wall cost?" is not answered
        # with "built in 1962"); nor is an LLM's citation of it endorsed.
        if verdict.primary is None:
            return verdict
        sentence = corpus.sentence_text(verdict.primary.article_id, verdict.primary.index)
        says = _must_say(question)
        if (says is not None and not says(sentence)) or gives_to_other_countries(question, sentence):
            verdict.primary = None  # (or a list of other countries' facts: lists.gives_to_other_countries)
        elif names_no_doer(question, sentence):
            # "Who founded Nordcell?" of "Nordcell was founded in 2012 and …"; "Who will pay for the
            # strike?" of "workers could no longer pay their bills"
            verdict.primary = None
        elif (reading := next((r for c, r, _ in verdict.read if c is verdict.primary), None)) is not None and (
                reading.end > reading.start and only_reports(question, sentence, reading.start, reading.end)):
            verdict.primary = None  # "Who will pay for the repairs?" of "Paul Everett said the building needed repairs"
        return verdict

    def _misses_key_facts(self, question: str, corpus, c: Candidate) -> bool:
        """Whether sentence `c`, with its neighbours and its article's title, misses a key fact of
        `question` (the rules on: `key_facts`)."""
        return bool(self.key_facts) and bool(missing_facts(
            question, evidence_of(corpus, c.article_id, c.index), corpus.titles.get(c.article_id, ""),
            self.key_facts, corpus.article_terms(c.article_id), corpus.article_prefixes(c.article_id),
        ))

    def endorsed(self, ctx: AnswerContext) -> dict[tuple[str, int], Reading] | None:
        """The sentences (article id, index) the reader finds answer the question, with its reading
        of each: those an LLM's citations must quote (in grounded mode, its short answer must also
        agree with one of the reading's likely spans): those at least `endorsed_share` as likely as
        its best, and the one the offline answer cites. Empty when the offline answer would be a
        refusal; None without a reader."""
        if self.reader is None:
            return None
        # Every sentence it was fitted to choose among, not only the few it reads to answer: an
        # LLM may cite a sentence further down, and its seconds dwarf the reader's milliseconds
        # (reading 3 kept 2 points fewer good claims in bench.citations: docs/benchmarks.md).
        verdict = self.verdict(ctx, self.reader.fitted)
        if verdict.primary is None:
            return {}
        best = verdict.read[0][2]
        # The key facts hold for an LLM's sentence as for the offline answer's: "What is continuing far
        # beyond the turn of the 20th century?" is not answered from "… the turn of the 19th century"
        # because the offline answer chose another sentence. The sentence the offline answer cites
        # is endorsed whatever its share: the answerer keeps its best-scored sentence unless the
        # reader finds another 3 times as likely (+2.7 points of good claims in bench.citations, the
        # same wrong answers: docs/benchmarks.md, stop 31).
        return {(c.article_id, c.index): r for c, r, p in verdict.read
                if (c is verdict.primary or p >= self.endorsed_share * best)
                and not self._misses_key_facts(ctx.search, ctx.corpus, c)}

    def answer(self, ctx: AnswerContext) -> Answer:
        search, corpus = ctx.search, ctx.corpus
        verdict = self.verdict(ctx)
        cands, read, confidence, primary = verdict.cands, verdict.read, verdict.confidence, verdict.primary
        if primary is None:
            return refusal(ctx, self.name, confidence=confidence)
        wh = wh_class(search)
        reading, probability = next(((r, p) for c, r, p in read if c is primary), (None, None))
        picked = (reading, probability) if reading is not None and reading.end > reading.start else None
        primary_text = corpus.sentence_text(primary.article_id, primary.index)
        # "Who hosted the summit?" of "After the host's speech, a video recorded by Volodymyr
        # Zelensky …": whom "the host" means answers, not the name the sentence gives.
        refers = wh == "who" and refers_to_someone(primary_text)
        by_role = refers and refers_by_the_role_asked(search, primary_text)
        if picked and refers and (by_role or not _names_a_person(primary_text)):
            picked = None  # "the host of the meeting said …": the name is given earlier (below)
        if picked and (in_item := self._in_item(search, primary_text, picked[0])) is not None:
            # "Who represented Britain?" of "the German chancellor, Olaf Scholz; the head of the
            # British Foreign Office, David Cameron; …": the item that names Britain answers.
            picked = in_item, picked[1]
        doer = None
        if picked and wh == "who" and not by_role:
            # "Who blocked the plan?" of "A district court on Thursday blocked the city of Brenton's
            # plan": the verb's subject, not the name the reader found beside the question's words
            # (not where the sentence speaks of someone as "he", "his": "Carolina suffered a setback
            # when Thomas Davis broke his arm"); "Who rescued the girl?" of "Rescue teams pulled a
            # girl from the rubble …, the agency's director, Marta Quinn, told reporters": who did
            # it, not who reports it.
            a, z = picked[0].start, picked[0].end
            doer = (None if refers else doer_in(search, primary_text, a, z)) or reported_doer(search, primary_text, a, z)
            if doer is not None:
                picked = replace(picked[0], start=doer[0], end=doer[1]), picked[1]
        count = bool(_HOW_MANY.search(search))  # "how many" (not "how much"): a year is no count
        time = bool(_HOW_MANY_TIMES.search(search))
        if picked and wh == "how_many" and (
            counted := self._counted(primary_text, picked[0], count=count, time=time,
                                     question=search if count else None)
        ) != picked[0]:
            # "How many heads of state attended?" is answered with a number: the likeliest span that
            # has one, else the sentence alone.
            picked = (counted, picked[1]) if counted else None
        if picked and wh == "how_many" and count and _counts_a_thing(primary_text, picked[0]) and (
            counting := number_counting(search, primary_text)
        ) is not None and not (picked[0].start < counting[1] and counting[0] < picked[0].end):
            # "How many hospitals …?" of "The army sent 400 soldiers and two field hospitals": the one
            # number that counts the noun asked about, not the reader's, which counts another thing
            # ("career sack leader with 136, …" counts what it says before it: the reader's stays).
            picked = replace(picked[0], start=counting[0], end=counting[1]), picked[1]
        if picked and wh == "how_many" and (part := part_of_whole(search, primary_text, picked[0].start, picked[0].end)):
            # "How many floodgates no longer close?" of "two of the four floodgates no longer close":
            # "two", of which the sentence says it, not the "four" next to the noun.
            picked = replace(picked[0], start=part[0], end=part[1]), picked[1]
        if picked and _HOW_LONG.search(search) and _in_an_age(primary_text, picked[0].start, picked[0].end):
            # "How long was the girl under the rubble?" of "Rescue teams pulled a six-year-old girl
            # alive from the rubble … after nine hours": not "six-year", an age; the likeliest other
            # span, else the sentence alone.
            moved = picked[0].likeliest(lambda a, z: not _in_an_age(primary_text, a, z))
            picked = (moved, picked[1]) if moved is not None else None
        if picked and is_yes_no(search):
            # "Did Germany agree to send the missiles?" is answered by the sentence that says so, not by
            # one of its words: the reader, fitted on SQuAD's spans, would bold "Ukraine".
            picked = None
        qtype = question_type(search)
        # (article id, sentence index) of each cited sentence, in article order; the short answer
        # as (article id, start, end) in article offsets.
        cited = [(primary.article_id, primary.index)]
        short = None
        at = primary.sentence.start
        if picked:
            reading, probability = picked
            end = reading.end
            if (percent := _PERCENT_AFTER.match(primary_text, end)) and primary_text[end - 1 : end].isdigit():
                end = percent.end()  # "6.8 percent", not "6.8": SQuAD's gold keeps the sign 31 times to 1
            short = (primary.article_id, at + reading.start, at + end, probability)
        if picked and wh in ("what", "which", "who") and (
            whole := whole_phrase(search, primary_text, picked[0].start, picked[0].end)
        ) is not None:
            # "What anniversary …?" of "the second anniversary of the Russian invasion": the reader's
            # "second" grows to the noun asked about; "bombs" to "long-range missiles and bombs".
            short = (primary.article_id, at + whole[0], at + whole[1], picked[1])
        if wh in ("what", "which") and (named := named_as_asked(search, primary_text)) is not None:
            # "What storm hit the coast?": the one name with "storm" in it ("Storm Hilda"), which the
            # reader, fitted to leave the question's words out of its spans, cuts to "Hilda" or misses.
            short = (primary.article_id, at + named[0], at + named[1], None)
        if wh == "what" and (said := object_clause(search, primary_text)) is not None:
            # "What did Scholz say in Berlin?": what he said, the clause "said" takes, is the answer
            # (the reader, fitted on SQuAD's short spans, bolds "yesterday").
            short = (primary.article_id, at + said[0], at + said[1], None)
        if (refers and (by_role or not self._names_someone(short, corpus))
                and not asks_what_someone_named_is(search, primary_text)
                and (doer is None or _ROLE_WORD.search(primary_text[doer[0] : doer[1]].lower()))):
            # "the host of the meeting insisted …": the answer is the name given earlier. (A doer
            # found above stands, unless it is a role: "the host of the meeting".)
            found = antecedent(corpus, primary.article_id, primary.index, search)
            if found:
                j, s0, e0 = found
                cited.insert(0, (primary.article_id, j))
                short = (primary.article_id, s0, e0, None)
        nxt = follower(corpus, primary.article_id, primary.index, wh)
        if wh == "why" and nxt is None and (reason := self._reason(primary.article_id, primary.index, corpus)):
            # "… because it requires German personnel": the reason it gives is the answer (the
            # reader, fitted on SQuAD's few "why" questions, bolds a name of the sentence instead).
            short = reason
        if nxt is not None:
            cited.append((primary.article_id, nxt))
            if wh == "why":
                # The reason is the answer: the clause that gives it, else the reader's span of it.
                short = self._reason(primary.article_id, nxt, corpus) or self._span_in(
                    search, nxt, primary.article_id, read, corpus)
        elif (second := self._completing(search, primary, read, cited, corpus)) is not None:
            # "Ann Lee chaired the meeting" / "the host of the meeting said about the river wall":
            # a second sentence the reader also finds likely, which says what the question asks
            # about and the first does not.
            cited.append(second)
            cited.sort()
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
    def _completing(question: str, primary: Candidate, read, cited, corpus) -> tuple[str, int] | None:
        """The reader's next most likely sentence, when it is likely too (SECOND_CITATION_RATIO of
        the primary's probability), not cited yet, and holds question words (MIN_COMPLEMENT of
        their idf weight) that the primary lacks."""
        p1 = next((p for c, _, p in read if c is primary), None)
        c2, p2 = next(((c, p) for c, _, p in read if c is not primary), (None, 0.0))
        if p1 is None or c2 is None or p2 < SECOND_CITATION_RATIO * p1 or (c2.article_id, c2.index) in cited:
            return None
        q_terms = set(terms(question))
        own1 = corpus.sentence_terms(primary.article_id)[primary.index]
        own2 = corpus.sentence_terms(c2.article_id)[c2.index]
        total = sum(corpus.idf(t) for t in q_terms) or 1.0
        if sum(corpus.idf(t) for t in (q_terms & own2) - own1) / total < MIN_COMPLEMENT:
            return None
        return c2.article_id, c2.index

    def _span_in(self, question: str, index: int, article_id: str, read, corpus):
        """The short answer (article id, start, end, None) the reader finds in sentence `index`, or None."""
        reading = next((r for c, r, _ in read if (c.article_id, c.index) == (article_id, index)), None)
        if reading is None and self.reader is not None:
            reading = self.reader.read(question, [corpus.sentence_text(article_id, index)],
                                       [evidence_row(0.0, 0.0, 0.0, 0.0, 0.0, len(read))])[0]
        if reading is None or reading.end <= reading.start:
            return None
        at = corpus.sentences(article_id)[index].start
        return article_id, at + reading.start, at + reading.end, None

    def _in_item(self, question: str, sentence: str, reading: Reading) -> Reading | None:
        """The reading with its span moved into the item of a list sentence that the question names
        (`lists.item_about`), outside a description of the name (`lists.description_of_name`): the
        likeliest of its spans there, else the reader's span in the item read alone. None where the
        sentence lists nothing the question names, the span is there already, or nothing is found."""
        item = item_about(question, sentence)
        if item is None:
            return None
        described = description_of_name(question, sentence, item) or (0, 0)

        def fits(a: int, z: int) -> bool:
            return item[0] <= a < z <= item[1] and (z <= described[0] or a >= described[1])

        found = reading.likeliest(fits)
        if found is reading:
            return None
        if found is None and self.reader is not None:
            # Its 15 likeliest spans in the whole sentence can all lie elsewhere ("Olaf Scholz …").
            alone = self.reader.read(question, [sentence[item[0] : item[1]]], [evidence_row(0.0, 0.0, 0.0, 0.0, 0.0, 0)])[0]
            a, z = item[0] + alone.start, item[0] + alone.end
            found = replace(reading, start=a, end=z) if fits(a, z) else None
        return found

    @staticmethod
    def _counted(
        sentence: str, reading: Reading, *, count: bool = False, time: bool = False, question: str | None = None,
    ) -> Reading | None:
        """The reading with its span moved to the likeliest of its spans that says a number in at
        most `MAX_COUNT_WORDS` words (the reading itself where its span does), or None where none
        does."""
        return reading.likeliest(lambda a, z: len(sentence[a:z].split()) <= MAX_COUNT_WORDS
                                 and _says_a_number(sentence, a, z, count=count, time=time,
                                                    money=not count or bool(question and _MONEY.search(question)))
                                 and not (question and counts_another_thing(question, sentence, a, z)))

    @staticmethod
    def _reason(article_id: str, index: int, corpus):
        """The reason sentence `index` gives (`neighbours.reason_in`) as a short answer (article id,
        start, end, None), or None."""
        reason = reason_in(corpus.sentence_text(article_id, index))
        if reason is None:
            return None
        at = corpus.sentences(article_id)[index].start
        return article_id, at + reason[0], at + reason[1], None

    @staticmethod
    def _names_someone(short, corpus) -> bool:
        """The short answer is a person's name (not "the host" or "he")."""
        if short is None:
            return False
        text = corpus.text(short[0])[short[1] : short[2]]
        return _names_a_person(text) or bool(
            re.fullmatch(r"(?:[A-Z][\w'’.-]+\s*){2,}", text.strip())
        )

    def stream(self, ctx: AnswerContext) -> Iterator[str | Answer]:
        """The answer in word-sized pieces, then the `Answer` (it is made in milliseconds)."""
        answer = self.answer(ctx)
        yield from word_pieces(answer.text)
        yield answer


def _evidence(c: Candidate, rank: int = 0) -> list[float]:
    """The answerer's evidence for candidate `c`, read `rank`-th, as the reader weighs it."""
    return evidence_row(c.score, c.lexical, c.dense, c.type_match, c.context, rank)


# "Who is the mayor of …?", "Who was the host?": the role asked about, which the answering sentence
# says. In lower case only: "Who was the Most Valuable Player of Super Bowl II?" names a title, which
# the article may write otherwise ("MVP"): held out, that question lost its right answer.
_ROLE_WORD = re.compile(rf"\b(?:{ROLE_NOUNS})\b")
_ROLE_ASKED = re.compile(rf"^\W*(?i:who\s+(?:is|was|are|were)\s+the)\s+(?:[a-z-]+\s+){{0,2}}?({ROLE_NOUNS})\b")


_HE_OR_SHE = re.compile(r"\b(?:he|she)\b", re.IGNORECASE)


def _names_a_person(text: str) -> bool:
    """spaCy finds the name of a person in `text`."""
    return any(e.label_ == "PERSON" for e in parse(text).ents)


def _says_word(sentence: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", sentence, re.IGNORECASE) is not None


def _says_what_is_asked(question: str) -> Callable[[str], bool] | None:
    """For a question that asks for a kind of thing a sentence can be seen to say or not (an amount
    of money, a number, the clause "say" takes in "What did Scholz say?"), whether a sentence says
    one; None for other questions."""
    says = _must_say(question)
    if says is not None:
        return says
    if ASKS_WHAT_DONE.match(question):
        return lambda sentence: object_clause(question, sentence) is not None
    return None


def _says_a_number(
    sentence: str, a: int = 0, z: int | None = None, *, count: bool = False, time: bool = False,
    money: bool = True,
) -> bool:
    """Whether `sentence[a:z]` says a number ("twenty", "2,400", "twice", "a few", "a third"); "no one" and
    "someone" count nothing, "some 150" does, and a number joined to a name ("G-7", "F-16",
    "COVID-19") is part of the name. With `count` (for "how many"), a number that may count things:
    not a year ("by 2030"), nor, unless `time` ("How many years …?"), a time gone by ("two years
    ago", "three days later"), nor, unless `money`, an amount of money ("$9 million")."""
    z = len(sentence) if z is None else z

    def counts(m: re.Match) -> bool:
        before = sentence[: a + m.start()]
        if re.search(r"[A-Za-z]-$", before):
            return False
        if count and _YEAR.fullmatch(m.group(0).rstrip(".,")) and _BEFORE_A_YEAR.search(before):
            return False  # "How many locomotives …?" is not answered by "… emission rules by 2030"
        if count and not time and _ELAPSED.match(sentence, a + m.end()):
            return False
        if count and _in_an_age(sentence, a + m.start(), a + m.end()):
            return False  # "How many girls …?" is not answered by "a six-year-old girl"
        if not money and (_SIGN_BEFORE.search(before) or _NAME_AFTER.match(sentence, a + m.end())):
            return False
        return m.group(0).lower() != "one" or not re.search(r"\b(?:no|any|some|every)\s*$", before, re.IGNORECASE)

    return any(counts(m) for m in TYPE_PATTERNS["number"].finditer(sentence[a:z])) or bool(
        re.search(r"\b(?:twice|thrice|double|triple|treble|few|dozens)\b", sentence[a:z], re.IGNORECASE)
        or _FRACTION.search(sentence[a:z]))


def _in_an_age(sentence: str, a: int, z: int) -> bool:
    """Whether `sentence[a:z]` overlaps an age ("six-year-old")."""
    return any(m.start() < z and a < m.end() for m in _AGE.finditer(sentence))


def _counts_a_thing(sentence: str, reading: Reading) -> bool:
    """Whether the last number of the reading's span has a word after it, the thing it counts
    ("400 soldiers", "seven times"), not a comma or the sentence's end ("… leader with 136,")."""
    last = None
    for last in TYPE_PATTERNS["number"].finditer(sentence, reading.start, reading.end):
        pass
    return last is not None and re.match(r"[\s-]+[A-Za-z]", sentence[last.end() :]) is not None


def _says_a_count(sentence: str, a: int = 0, z: int | None = None) -> bool:
    return _says_a_number(sentence, a, z, count=True, money=False)


def _says_a_time(sentence: str, a: int = 0, z: int | None = None) -> bool:
    return _says_a_number(sentence, a, z, count=True, time=True, money=False)


def _says_money(sentence: str) -> bool:
    """Whether `sentence` names an amount of money (a currency's sign or name)."""
    return bool(_MONEY.search(sentence))


# What a sentence must say to answer such a question at all: an amount of money for "how much did it
# cost", a number for "how many" (the first that applies is also what the sentence choice prefers).
_MUST_SAY = ((_ASKS_MONEY, _says_money), (_HOW_MANY_TIMES, _says_a_time), (_HOW_MANY, _says_a_count))


def _must_say(question: str) -> Callable[[str], bool] | None:
    """What a sentence must say to answer `question` (the first of `_MUST_SAY` that applies); None
    where nothing is asked for."""
    says = next((says for asks, says in _MUST_SAY if asks.search(question)), None)
    if says is _says_a_count and _MONEY.search(question):
        return lambda sentence: _says_a_number(sentence, count=True)  # "How many dollars …?"
    return says
