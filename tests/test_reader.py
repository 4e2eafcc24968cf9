"""The reader: span decoding, the adapters merged into the packaged model, and the shipped fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.answering.reader import (
    CHOICE_FEATURES,
    KEPT_SPANS,
    NEAR_CAP,
    NEAR_PENALTY,
    NO_SPAN,
    WEIGHTS,
    Chooser,
    Reader,
    Reading,
    asked_marks,
    best_spans,
    choice_features,
    evidence_row,
    merge_adapters,
    said_already,
    span_prior,
    traced,
    whole_words,
    words_from_asked,
)
from rag.text import normalise_answer, terms


def test_best_spans_are_ordered_inside_their_bounds_and_never_too_long():
    start = np.array([9.0, 0.0, 5.0, 1.0, 0.0, 3.0])
    end = np.array([9.0, 0.0, 1.0, 4.0, 0.0, 2.0])
    spans = best_spans(start, end, 2, 5, max_len=3)
    assert spans[0][:2] == (2, 3)  # 5 + 4: the best pair inside tokens 2..5, the 9s outside it
    assert all(2 <= i <= j <= 5 and j - i < 3 for i, j, _ in spans)
    assert [s for *_, s in spans] == sorted((s for *_, s in spans), reverse=True)
    assert best_spans(start, end, 3, 2) == []


def test_a_span_is_widened_to_whole_words():
    text = "The mayor repainted the wall."
    assert whole_words(text, text.index("painted"), text.index(" the wall")) == (text.index("repainted"), text.index(" the wall"))
    assert whole_words(text, 0, 3) == (0, 3)
    assert whole_words(text, text.index("wal"), text.index("wal") + 3) == (text.index("wall"), text.index("wall") + 4)
    # An article a span ends on is left out; a capital "A" may be a name's.
    text = "Shareholders will receive $41 a share under Plan A."
    at = text.index("$41")
    assert text[slice(*whole_words(text, at, at + len("$41 a")))] == "$41"
    assert text[slice(*whole_words(text, text.index("Plan"), len(text) - 1))] == "Plan A"


def test_a_span_inside_a_number_is_widened_to_the_whole_number():
    text = "He ran for 2,249 yards, a magnitude 6.7 record, in 2014."
    at = text.index("249")
    assert whole_words(text, at, at + 3) == (text.index("2,249"), at + 3)
    at = text.index("6.7")
    assert whole_words(text, at, at + 1) == (at, at + 3)
    assert whole_words(text, at + 2, at + 3) == (at, at + 3)
    # a comma or full stop that ends a number is no part of it
    assert whole_words(text, text.index("2014"), text.index("2014") + 4) == (text.index("2014"), text.index("2014") + 4)
    assert whole_words(text, text.index("yards"), text.index("yards") + 5) == (text.index("yards"), text.index("yards") + 5)


def test_an_answer_already_given_is_matched_by_whole_words():
    given = ["ann lee"]
    assert said_already("Ann Lee", given) and said_already("Lee", given)
    assert not said_already("Fleet Street", ["lee"])
    assert not said_already("Bob", given)


def test_the_span_prior_counts_against_long_spans_and_the_questions_own_words():
    asked = set(terms("Who represented Italy at the summit?"))
    assert span_prior(asked, "a deputy foreign minister") == 0.0  # 3 words once "a" goes, none asked
    assert span_prior(asked, "a deputy secretary of state") == pytest.approx(-0.3)  # one word too many
    assert span_prior(asked, "the summit") == -2.0  # every word the question's ("the" goes)
    assert span_prior(asked, "the summit envoy") == pytest.approx(-1.0)
    assert span_prior(asked, "Representatives") < 0  # stemmed as the question's words are
    long = "its main and indispensable support, with a deputy secretary of state"  # 10 words
    assert span_prior(asked, long) == pytest.approx(-0.3 * (10 - 3))
    assert span_prior(asked, "") == 0.0 and span_prior(set(), "the summit") == 0.0
    # Words are split as the question's are: a possessive or a hyphenated name is one word.
    asked = set(terms("What did the Secretary-General say about Kyiv's army?"))
    assert span_prior(asked, "the Secretary-General") == -2.0
    assert span_prior(asked, "Kyiv's army") == -2.0


def test_the_span_prior_counts_the_words_between_a_span_and_the_questions_words():
    sentence = "A video by Zelensky was broadcast, in which he thanked the help received, but asked for more."
    asked = set(terms("What did Zelensky ask for?"))
    marks = asked_marks(sentence, asked)
    assert [sentence[a:z] for a, z, q in marks if q] == ["Zelensky", "asked"]

    def apart(span: str) -> int | None:
        start = sentence.index(span)
        return words_from_asked(marks, start, start + len(span))

    assert apart("more") == 1  # "for" between "asked" and it
    assert apart("the help") == 2  # "received, but" before "asked"; "Zelensky" is further
    assert apart("Zelensky") == 10  # its own word of the question does not count: "asked" is 10 words on
    assert words_from_asked(marks, 0, 0) is None  # no whole word
    assert words_from_asked(asked_marks("No one came.", asked), 0, 2) is None  # no word of the question
    # Each word apart costs NEAR_PENALTY, up to NEAR_CAP words; the closer span wins at equal scores.
    assert span_prior(asked, "more", 1) == pytest.approx(-NEAR_PENALTY)
    assert span_prior(asked, "more", 50) == pytest.approx(-NEAR_PENALTY * NEAR_CAP)
    assert span_prior(asked, "more", None) == 0.0
    assert span_prior(asked, "more", apart("more")) > span_prior(asked, "the help", apart("the help"))


def test_the_reader_chooses_its_span_with_the_prior():
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer

    from rag.answering.reader import base_model_dir

    question, sentence = "Who opened the bridge?", "It was opened by the mayor of the old town of York on a Friday."
    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir()))
    enc = tokenizer([question], [sentence])

    def token(word: str) -> int:
        return enc.char_to_token(0, sentence.index(word), sequence_index=1)

    class Net(torch.nn.Module):
        """Start at "the mayor"; ending at "Friday" scores 0.5 above ending at "mayor"."""

        def __init__(self):
            super().__init__()
            self.null = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids, attention_mask, token_type_ids, evidence):
            start, end = torch.zeros(input_ids.shape), torch.zeros(input_ids.shape)
            start[0, token("the mayor")] = 5.0
            end[0, token("mayor")], end[0, token("Friday")] = 5.0, 5.5
            return start, end, torch.zeros(len(input_ids))

    reader = Reader.from_network(Net(), tokenizer)
    [reading] = reader.read(question, [sentence], [evidence_row(1.0, 0.5, 0.5, 1.0, 0.0, 0)])
    assert sentence[reading.start : reading.end] == "the mayor"  # 10 over 10.5 - 0.3 * 5 (8 words, "the"s go)
    assert reading.spans[0][:2] == (reading.start, reading.end) and reading.spans[0][2] == 10.0
    chosen_over = [sentence[a:z] for a, z, s in reading.spans if s > 10.0]
    assert chosen_over == ["the mayor of the old town of York on a Friday"]
    assert reading.agrees(sentence, *reading.spans[1][:2])  # the reader's own best is 0.5 above
    # An answer already given that would have been chosen is passed over.
    [again] = reader.read(question, [sentence], [evidence_row(1.0, 0.5, 0.5, 1.0, 0.0, 0)], exclude=["the mayor"])
    assert again.passed_over and "mayor" not in sentence[again.start : again.end]


def test_the_reader_prefers_a_span_near_the_questions_words_but_not_for_why():
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer

    from rag.answering.reader import base_model_dir

    sentence = "The bridge was closed on Monday, after engineers found cracks in its pillars."
    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir()))

    class Net(torch.nn.Module):
        """The span "cracks" scores 0.5 above "Monday", whatever the question."""

        def __init__(self):
            super().__init__()
            self.null = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids, attention_mask, token_type_ids, evidence):
            enc = tokenizer([self.question], [sentence])
            start, end = torch.zeros(input_ids.shape), torch.zeros(input_ids.shape)
            for word, score in (("Monday", 5.0), ("cracks", 5.25)):
                at = enc.char_to_token(0, sentence.index(word), sequence_index=1)
                start[0, at], end[0, at] = score, score
            return start, end, torch.zeros(len(input_ids))

    net = Net()
    reader = Reader.from_network(net, tokenizer)
    chosen = {}
    for question in ("When was the bridge closed?", "Why was the bridge closed?"):
        net.question = question
        [reading] = reader.read(question, [sentence], [evidence_row(1.0, 0.5, 0.5, 1.0, 0.0, 0)])
        chosen[question] = sentence[reading.start : reading.end]
    # "Monday" is one word from "closed" (-0.2), "cracks" five (-1.0); a reason stands apart.
    assert chosen == {"When was the bridge closed?": "Monday", "Why was the bridge closed?": "cracks"}


def test_adapters_are_added_to_the_weights_they_adapt():
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(3, 2, bias=False)

    net = Net()
    before = net.layer.weight.detach().clone()
    a, b = torch.ones(1, 3), torch.tensor([[1.0], [2.0]])
    merge_adapters(net, {"lora.layer.A": a, "lora.layer.B": b, "heads.other": torch.zeros(1)}, scale=0.5)
    assert torch.allclose(net.layer.weight, before + 0.5 * (b @ a))


def test_probabilities_are_a_softmax_over_none_and_the_sentences():
    reader = Reader()
    reader.null = 0.0
    from rag.answering.reader import Reading

    p_none, p = reader.probabilities([Reading(0.0, 0, 1), Reading(np.log(2.0), 0, 1)])
    assert p_none == pytest.approx(0.25) and p == pytest.approx([0.25, 0.5])


def test_a_reading_moves_to_its_likeliest_span_that_fits():
    from rag.answering.reader import Reading

    reading = Reading(1.0, 0, 4, spans=((0, 4, 9.0), (10, 15, 8.0), (20, 22, 7.0)))
    assert reading.likeliest(lambda a, z: True) is reading  # its own span first
    moved = reading.likeliest(lambda a, z: a >= 10)
    assert (moved.start, moved.end, moved.spans) == (10, 15, reading.spans)
    assert reading.likeliest(lambda a, z: a >= 30) is None
    assert Reading(1.0, 0, 0).likeliest(lambda a, z: True) is None  # no span at all


def test_a_span_agrees_with_a_reading_when_it_is_near_one_of_the_likely_spans():
    from rag.answering.reader import Reading

    sentence = "Holden announced it in May 2013, followed by Ford in December of the same year."
    def at(text):
        return sentence.index(text), sentence.index(text) + len(text)
    reading = Reading(2.0, *at("May 2013"), spans=((*at("May 2013"), 9.0), (*at("in May 2013"), 8.0),
                                                   (*at("December"), 5.0)))
    assert reading.agrees(sentence, *at("May 2013")) and reading.agrees(sentence, *at("in May 2013"))
    assert reading.agrees(sentence, *at("2013"))  # half the words of a likely span
    assert not reading.agrees(sentence, *at("December"))  # a span, but 4 below the best
    assert reading.agrees(sentence, *at("December"), margin=5.0)
    assert not reading.agrees(sentence, *at("Ford"))  # not near any span the reader found
    assert Reading(0.0, 0, 0).agrees(sentence, *at("Ford"))  # no spans to compare: not for it to say
    assert not reading.agrees(sentence, 0, 0) and not reading.agrees(sentence, 0, 3)  # "", "Hol" ok below
    with pytest.raises(ValueError):
        reading.agrees(sentence, *at("May 2013"), margin=-1.0)
    # Chosen with the prior, the first span may score below another: the margin counts from the
    # best score, and the span chosen agrees whatever its score.
    chosen = Reading(2.0, *at("May 2013"), spans=((*at("May 2013"), 7.0), (*at("in May 2013, followed by Ford"), 9.0),
                                                  (*at("December"), 6.5)))
    assert chosen.agrees(sentence, *at("May 2013"), margin=0.0)
    assert not chosen.agrees(sentence, *at("December"), margin=2.0)  # within 2 of the chosen 7, not of 9
    assert chosen.agrees(sentence, *at("December"), margin=2.5)


@pytest.fixture(scope="module")
def shipped():
    if not WEIGHTS.exists():
        pytest.fail(f"{WEIGHTS} is missing: run python -m bench.fit_reader fit --write (see its docstring)")
    reader = Reader()
    reader.warm_up()
    return reader


@pytest.mark.slow
def test_the_shipped_reader_finds_the_words_that_answer(shipped):
    sentences = [
        "The bridge over the Ouse was built in 1890 by a private company.",
        "The mayor, Ann Lee, opened the new library on Friday after a long campaign.",
    ]
    evidence = [evidence_row(1.2, 0.3, 0.4, 1.0, 0.0, 0), evidence_row(1.3, 0.5, 0.5, 1.0, 0.0, 1)]
    readings = shipped.read("Who opened the new library?", sentences, evidence)
    _, p = shipped.probabilities(readings)
    assert p[1] > p[0]
    r = readings[1]
    assert sentences[1][r.start : r.end] in ("Ann Lee", "The mayor, Ann Lee", "mayor, Ann Lee")
    # "Who else?": an answer already given is passed over.
    again = shipped.read("Who opened the new library?", sentences[1:], evidence[1:], exclude=["Ann Lee"])[0]
    assert "Ann Lee" not in sentences[1][again.start : again.end]


@pytest.mark.slow
def test_the_shipped_readers_likely_spans_are_whole_words_in_the_order_chosen(shipped):
    sentence = ("Holden's announcement occurred in May 2013, followed by Ford's decision in December "
                "of the same year to close its plants.")
    [reading] = shipped.read("When did Holden announce that it would close its plant?", [sentence],
                             [evidence_row(1.2, 0.4, 0.5, 1.0, 0.0, 0)])
    assert "May 2013" in sentence[reading.start : reading.end]
    assert reading.spans[0][:2] == (reading.start, reading.end)
    asked = set(terms("When did Holden announce that it would close its plant?"))
    marks = asked_marks(sentence, asked)
    ranked = [score + span_prior(asked, sentence[a:z], words_from_asked(marks, a, z)) for a, z, score in reading.spans]
    assert ranked == sorted(ranked, reverse=True) and len(ranked) > 5
    for a, z, _ in reading.spans:
        assert whole_words(sentence, a, z) == (a, z) and sentence[a:z].strip() == sentence[a:z]
    assert reading.agrees(sentence, reading.start, reading.end)
    plants = sentence.index("its plants")
    assert not reading.agrees(sentence, plants, plants + len("its plants"))
    # An answer already given is passed over, and is not one an LLM's answer may match.
    first = sentence[reading.start : reading.end]
    [again] = shipped.read("When did Holden announce that it would close its plant?", [sentence],
                           [evidence_row(1.2, 0.4, 0.5, 1.0, 0.0, 0)], exclude=[first])
    assert again.passed_over and first not in sentence[again.start : again.end]
    assert again.spans[0][:2] == (again.start, again.end) and 0 < len(again.spans) <= KEPT_SPANS
    assert all(not said_already(sentence[a:z], [normalise_answer(first)]) for a, z, _ in again.spans)
    assert not again.agrees(sentence, reading.start, reading.end)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(sentence=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=200),
       question=st.sampled_from(["Who opened it?", "When did it happen?", "How many were there?", "What is it?"]))
def test_every_span_is_verbatim_text_of_its_sentence(shipped, sentence, question):
    reading = shipped.read(question, [sentence], [evidence_row(1.0, 0.2, 0.3, 0.0, 0.0, 0)])[0]
    assert 0 <= reading.start <= reading.end <= len(sentence)
    span = sentence[reading.start : reading.end]
    assert span == span.strip() or not span.strip()


class FakeReader:
    """A reader that finds `span` wherever a sentence holds it (logit `found`, else `missed`)."""

    sentences = 3  # read to answer
    fitted = 6  # read for an LLM's endorsement
    threshold = 0.5
    chooser = None  # the answerer keeps its switch ratio

    def __init__(self, span: str, found: float = 4.0, missed: float = -4.0, null: float = 0.0):
        self.span, self.found, self.missed, self.null = span, found, missed, null
        self.read_calls = []

    def warm_up(self):
        pass

    def read(self, question, sentences, evidence, exclude=()):
        from rag.answering.reader import Reading

        self.read_calls.append(sentences)
        out = []
        for s in sentences:
            at = s.find(self.span)
            out.append(Reading(self.found, at, at + len(self.span)) if at >= 0 else Reading(self.missed, 0, 0))
        return out

    probabilities = Reader.probabilities


class LogitsReader(FakeReader):
    """A reader that finds in each sentence the first of `spans` it holds, with that span's logit."""

    def __init__(self, spans: dict[str, float]):
        super().__init__(next(iter(spans)))
        self.spans = spans

    def read(self, question, sentences, evidence, exclude=()):
        from rag.answering.reader import Reading

        out = []
        for s in sentences:
            span, logit = next(((x, v) for x, v in self.spans.items() if x in s), ("", self.missed))
            at = s.find(span) if span else 0
            out.append(Reading(logit, at, at + len(span)))
        return out


def _short(assistant, reader, question: str) -> str | None:
    """The short answer `assistant` gives to `question` read by `reader` (None: none, or a refusal)."""
    _answerer(assistant, reader)
    answer = assistant.ask(question)
    return answer.short_answer.text if answer.short_answer else None


def _best_scored(assistant, reader, question: str) -> str:
    """The text of the sentence the answerer scores best for `question` (before the reader chooses)."""
    answerer = _answerer(assistant, reader)
    ctx = assistant._answer_pipeline().context(question)  # noqa: SLF001
    best = answerer.verdict(ctx).cands[0]
    return ctx.corpus.sentence_text(best.article_id, best.index)


def _answerer(assistant, reader):
    answerer = assistant._answer_pipeline().answerer  # noqa: SLF001 - the test swaps the reader
    answerer._reader = reader  # noqa: SLF001
    return answerer


def test_the_reader_chooses_the_sentence_and_its_span_is_the_short_answer(seeded):
    # First, which sentences the answerer offers; then a reader that prefers the third of them.
    probe = FakeReader("no sentence says this")
    _answerer(seeded, probe)
    seeded.ask("Who represented the US?")
    third = probe.read_calls[0][2]
    word = max((w for w in third.split() if w.isalpha()), key=len)
    reader = FakeReader(word)
    _answerer(seeded, reader)
    answer = seeded.ask("Who represented the US?")
    assert len(reader.read_calls[0]) <= reader.sentences
    assert not answer.refused
    sa = answer.short_answer
    assert sa is not None and sa.text == word
    text = seeded.article(sa.article_id).text
    assert text[sa.start : sa.end] == word
    cited = next(c for c in answer.citations if c.n == sa.n)
    assert cited.start <= sa.start and sa.end <= cited.end and word in cited.quote
    assert answer.text.startswith(f"**{word}** [{sa.n}]")


def test_the_answer_reads_its_few_sentences_and_an_llm_endorsement_all_it_was_fitted_on(seeded):
    reader = FakeReader("deputy secretary of state")
    answerer = _answerer(seeded, reader)
    question = "Who represented the US?"
    assert not seeded.ask(question).refused
    assert len(reader.read_calls[-1]) == reader.sentences
    ctx = seeded._answer_pipeline().context(question)  # noqa: SLF001
    endorsed = answerer.endorsed(ctx)
    assert len(reader.read_calls[-1]) == reader.fitted
    assert endorsed and all("deputy secretary of state" in ctx.corpus.sentence_text(a, i) for a, i in endorsed)


class TwoLevelReader(FakeReader):
    """Finds `span` likeliest, and sentences holding `also` e (2.7) times less likely."""

    def __init__(self, span: str, also: str):
        super().__init__(span)
        self.also = also

    def read(self, question, sentences, evidence, exclude=()):
        from rag.answering.reader import Reading

        out = super().read(question, sentences, evidence, exclude)
        return [Reading(self.found - 1.0, 0, 0) if r.logit == self.missed and self.also in s else r
                for r, s in zip(out, sentences)]


def test_an_llm_may_cite_only_sentences_the_reader_finds_nearly_as_likely_as_its_best(seeded):
    from rag.answering.extractive import ENDORSED_SHARE
    from rag.answering.factory import make_answerer
    from rag.config import Settings

    assert Settings(_env_file=None).llm_endorsed_share == ENDORSED_SHARE
    question = "Who represented the US?"
    ctx = seeded._answer_pipeline().context(question)  # noqa: SLF001

    def endorsed(share):
        answerer = make_answerer(Settings(_env_file=None, llm_endorsed_share=share), seeded.embeddings)
        answerer._reader = TwoLevelReader("deputy secretary of state", also=" the ")  # noqa: SLF001
        return {ctx.corpus.sentence_text(a, i) for a, i in answerer.endorsed(ctx)}

    strict, lenient = endorsed(ENDORSED_SHARE), endorsed(0.25)
    assert strict and all("deputy secretary of state" in s for s in strict)
    # 1/e of the best is below 0.75 of it, above 0.25: the other sentences read come in too.
    others = lenient - strict
    assert others and all(" the " in s for s in others)


def test_an_llm_may_not_cite_a_sentence_that_misses_a_key_fact_of_the_question(assistant):
    from rag.types import Article

    text = ("In 2019 the council opened the stone bridge over the river.\n\n"
            "Traffic on the road doubled within a month.\n\n"
            "In 2021 the council opened the tunnel under the river.")
    assistant.index_articles([Article(id="works", title="River works", source="test", text=text)])
    answerer = _answerer(assistant, TwoLevelReader("tunnel", also="bridge"))
    answerer.endorsed_share = 0.25  # the bridge sentence, e times less likely, is near enough
    ctx = assistant._answer_pipeline().context("What did the council open in 2021?")  # noqa: SLF001

    def endorsed():
        return {ctx.corpus.sentence_text(a, i) for a, i in answerer.endorsed(ctx)}

    assert any("tunnel" in s for s in endorsed()) and not any("2019" in s for s in endorsed())
    answerer.key_facts = ()  # without the rules the reader's endorsement alone lets it in
    assert any("2019" in s for s in endorsed())


def test_an_llm_may_cite_the_sentence_the_offline_answer_cites(assistant):
    from rag.types import Article

    text = ("In 2021 the council opened the tunnel under the river. "
            "The work cost ten million pounds and took three years.")
    assistant.index_articles([Article(id="works", title="River works", source="test", text=text)])
    # The reader finds the cost sentence e times as likely as the best-scored one: not the 3 times
    # it takes to replace it, so the offline answer cites the tunnel sentence...
    answerer = _answerer(assistant, TwoLevelReader("ten million", also="tunnel under"))
    question = "What did the council open in 2021?"
    answer = assistant.ask(question)
    assert not answer.refused and "tunnel" in answer.citations[0].quote
    # ...and an LLM may cite it too, though it is under the endorsed share of the reader's best.
    assert answerer.endorsed_share > 1 / math.e
    ctx = assistant._answer_pipeline().context(question)  # noqa: SLF001
    endorsed = {ctx.corpus.sentence_text(a, i) for a, i in answerer.endorsed(ctx)}
    assert any("tunnel" in s for s in endorsed) and any("ten million" in s for s in endorsed)


def test_the_reader_refuses_when_none_of_the_sentences_answers(seeded):
    _answerer(seeded, FakeReader("no sentence says this", missed=-6.0))
    answer = seeded.ask("Who represented the US?")
    assert answer.refused and not answer.citations and answer.short_answer is None


def test_with_the_reader_a_low_score_is_answered_but_missing_question_words_are_refused_unless_it_is_sure(seeded):
    # The score threshold refuses only without the reader (paraphrases score low: docs/benchmarks.md);
    # the question's own words in the passage are required either way.
    answerer = _answerer(seeded, FakeReader("deputy secretary of state"))
    defaults = answerer.refusal_threshold, answerer.min_lexical
    try:
        answerer.refusal_threshold = 100.0  # far above any score the answerer gives
        answer = seeded.ask("Who represented the US?")
        assert not answer.refused and answer.short_answer.text == "deputy secretary of state"
        answerer._reader = None  # noqa: SLF001 - without the reader the threshold refuses
        assert seeded.ask("Who represented the US?").refused
        # P(none) ~0.12: not sure enough to answer without the question's words.
        answerer._reader = FakeReader("deputy secretary of state", found=2.0)  # noqa: SLF001
        answerer.min_lexical = 100.0  # more of the question's words than any passage holds
        answer = seeded.ask("Who represented the US?")
        assert answer.refused and not answer.citations
        # P(none) ~0.002: a reading that sure answers without them.
        answerer._reader = FakeReader("deputy secretary of state", found=6.0)  # noqa: SLF001
        answer = seeded.ask("Who represented the US?")
        assert not answer.refused and answer.short_answer.text == "deputy secretary of state"
    finally:
        answerer.refusal_threshold, answerer.min_lexical = defaults


@pytest.mark.slow
def test_calibration_stores_how_many_sentences_to_read(tmp_path):
    from bench.fit_reader import calibrate

    weights = tmp_path / "reader.safetensors"
    weights.write_bytes(WEIGHTS.read_bytes())
    calibrate(weights, 0.97, 0.04, {}, read=3)
    reader = Reader(weights)
    assert reader.sentences == 3 and reader.threshold == 0.97
    calibrate(weights, 0.95, 0.04, {})  # without --read: every sentence it was fitted to choose among
    reader = Reader(weights)
    assert reader.sentences == reader.meta["k"] == 6 and reader.threshold == 0.95


def test_the_choice_features_are_the_reading_its_best_span_the_evidence_and_first_place():
    reading = Reading(1.5, 0, 4, spans=((0, 4, 7.0), (5, 9, 9.0)), span_score=6.2)
    row = evidence_row(2.0, 0.5, 0.6, 1.0, 0.1, 3)
    assert choice_features(reading, row, True) == [1.5, 9.0, 6.2, 2.0, 0.5, 0.6, 1.0, 0.1, 1.0]
    assert len(CHOICE_FEATURES) == len(choice_features(reading, row, False))
    assert choice_features(Reading(0.0, 0, 0), row, False)[1:3] == [NO_SPAN, NO_SPAN]  # no span at all


def test_a_chooser_scores_standardised_features_and_loads_only_for_its_own_features():
    chooser = Chooser(mean=(1.0,) * 9, scale=(2.0,) * 9, weights=(1.0, 0.5) + (0.0,) * 7)
    assert chooser.scores([[3.0, 5.0] + [0.0] * 7, [1.0] * 9]) == [2.0, 0.0]  # (3-1)/2 + 0.5 (5-1)/2
    assert Chooser.from_meta(chooser.to_meta()) == chooser
    assert Chooser.from_meta({**chooser.to_meta(), "features": ["logit"]}) is None
    assert Chooser.from_meta(None) is None


def test_a_chooser_fitted_on_readings_learns_which_feature_tells_the_answering_sentence():
    from bench.fit_reader import by_chooser, choice_figures, fit_chooser

    rng = np.random.default_rng(0)
    rows = []
    for _ in range(200):
        x = rng.normal(size=(3, len(CHOICE_FEATURES)))
        y = np.zeros(3)
        y[int(np.argmax(x[:, 1]))] = 1.0  # the best span's score tells which sentence answers
        rows.append((x, y, [(float(v), float(v)) for v in y]))
    chooser = fit_chooser(rows[:100])
    assert int(np.argmax(np.abs(chooser.weights))) == 1
    assert choice_figures(rows[100:], by_chooser(chooser))["sentence_holds_gold"] > 0.9


class ChoosingReader(LogitsReader):
    """A `LogitsReader` with a chooser that weighs only the best span's score: spans found score as
    given in `span_scores`."""

    def __init__(self, spans: dict[str, float], span_scores: dict[str, float]):
        super().__init__(spans)
        self.span_scores = span_scores
        weights = [0.0] * len(CHOICE_FEATURES)
        weights[CHOICE_FEATURES.index("best_span")] = 1.0
        self.chooser = Chooser((0.0,) * len(weights), (1.0,) * len(weights), tuple(weights))

    def read(self, question, sentences, evidence, exclude=()):
        out = []
        for s, r in zip(sentences, super().read(question, sentences, evidence, exclude)):
            span = s[r.start : r.end]
            score = self.span_scores.get(span, NO_SPAN)
            out.append(Reading(r.logit, r.start, r.end, spans=((r.start, r.end, score),) if span else (), span_score=score))
        return out


def test_with_a_chooser_the_sentence_is_the_one_it_scores_highest_not_the_likeliest(assistant):
    from rag.types import Article

    text = ("The mayor of Port Elwin opened the new bridge on Friday. "
            "The mayor of Port Elwin, Claire Dubois, spoke at the new bridge.")
    assistant.index_articles([Article(id="bridge", title="Bridge", source="test", text=text)])
    question = "Who is the mayor of Port Elwin?"
    likelier, chosen = "Friday", "Claire Dubois"
    # Without a chooser the reader's likelier sentence answers; with one, the one it scores highest.
    assert _short(assistant, LogitsReader({likelier: 5.0, chosen: 1.0}), question) == likelier
    scores = {likelier: 2.0, chosen: 9.0}
    assert _short(assistant, ChoosingReader({likelier: 5.0, chosen: 1.0}, scores), question) == chosen
    scores = {likelier: 9.0, chosen: 2.0}
    assert _short(assistant, ChoosingReader({likelier: 1.0, chosen: 5.0}, scores), question) == likelier


@pytest.mark.slow
def test_choosing_stores_a_chooser_the_reader_loads_with_its_held_out_figures(tmp_path):
    from bench.fit_reader import calibrate, choose

    items, predictions = [], []
    rng = np.random.default_rng(1)
    for n in range(40):
        texts = [f"Sentence {k} of question {n}." for k in range(3)]
        answer = int(rng.integers(3))
        features = rng.normal(size=(3, len(CHOICE_FEATURES)))
        features[answer, 0] += 3.0  # the logit tells the answering sentence
        items.append({"id": str(n), "file": "f.jsonl", "impossible": False, "answers": [f"{answer} of question {n}"],
                      "cands": [{"text": t} for t in texts]})
        predictions.append({"id": str(n), "file": "f.jsonl", "fold": n % 2, "spans": texts, "features": features.tolist()})
    weights = tmp_path / "reader.safetensors"
    weights.write_bytes(WEIGHTS.read_bytes())
    choose(items, predictions, [weights], read=3)
    reader = Reader(weights)
    reader.warm_up()
    assert reader.chooser is not None and reader.chooser.weights[0] > 0
    assert reader.meta["choice"]["heldout"]["chooser"]["sentence_holds_gold"] > 0.8
    calibrate(weights, 0.9, 0.05, {})  # calibrating again keeps the chooser
    reader = Reader(weights)
    reader.warm_up()
    assert reader.meta["choice"]["read"] == 3 and reader.chooser is not None


@pytest.mark.slow
def test_a_fit_stopped_and_resumed_from_its_checkpoint_ends_as_one_that_ran_through(tmp_path):
    import argparse

    import torch
    from transformers import AutoTokenizer

    from bench.fit_reader import fit
    from rag.answering.reader import base_model_dir

    items = []
    for n in range(6):
        answerable = n % 3 != 2
        items.append({
            "id": str(n), "question": f"Who opened bridge {n}?", "answers": [f"Ann Lee {n}"] if answerable else [],
            "impossible": not answerable,
            "cands": [{"text": f"Ann Lee {n} opened bridge {n} on Friday.", "evidence": [1.0, 0.5, 0.4, 1.0, 0.0, 1.0]},
                      {"text": f"The bridge {n} is old.", "evidence": [0.5, 0.3, 0.3, 0.0, 0.0, 0.5]}]})
    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir()))

    def settings(**changes):
        return argparse.Namespace(**{"epochs": 2, "lr": 3e-4, "lora_r": 4, "questions_per_step": 2,
                                     "impossible_weight": 2.0, "seed": 0, "stop_after": 0,
                                     "checkpoint_every": 50, **changes})

    through = fit(items, settings(), tokenizer)
    checkpoint = tmp_path / "fit" / "all.pt"
    assert fit(items, settings(stop_after=4), tokenizer, checkpoint) is None  # 4 of 6 steps
    assert checkpoint.exists()
    resumed = fit(items, settings(), tokenizer, checkpoint)
    trained = {n: p for n, p in through.named_parameters() if p.requires_grad}
    again = {n: p for n, p in resumed.named_parameters() if p.requires_grad}
    assert trained.keys() == again.keys()
    for name, p in trained.items():
        assert torch.equal(p, again[name]), name
    with pytest.raises(SystemExit, match="not"):  # another recipe does not resume it
        fit(items, settings(lr=1e-3), tokenizer, checkpoint)


def test_an_llm_citation_must_quote_a_sentence_the_reader_finds_answers(seeded):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from rag.answering.llm import LLMAnswerer
    from rag.answering.pipeline import AnswerPipeline

    question = "Who represented the US?"
    answerer = LLMAnswerer(FakeListChatModel(responses=["placeholder"]), seeded.embeddings, name="openai")
    answerer.fallback._reader = FakeReader("deputy secretary of state")  # noqa: SLF001
    pipe = AnswerPipeline(seeded.settings, seeded.store, seeded.embeddings, answerer=answerer)
    hits = pipe.context(question).hits
    us = next(n for n, h in enumerate(hits, 1) if "deputy secretary of state" in h.chunk.text)
    taurus = next(n for n, h in enumerate(hits, 1) if "Taurus" in h.chunk.text)
    answerer.chat_model = FakeListChatModel(responses=[
        f"Germany cannot deliver Taurus cruise missiles to Ukraine [{taurus}]. "
        f"The US was represented by a deputy secretary of state [{us}]."
    ])
    answer = pipe.run(question)
    assert answer.text == "The US was represented by a deputy secretary of state [1]."
    assert "deputy secretary of state" in answer.citations[0].quote
    assert "1 citation to a sentence that does not answer the question" in answer.notice
    # A reader that refuses the question leaves nothing of the LLM's answer.
    answerer.fallback._reader = FakeReader("no sentence says this", missed=-6.0)  # noqa: SLF001
    answerer.chat_model = FakeListChatModel(responses=[f"The US was represented by a deputy secretary of state [{us}]."])
    assert pipe.run(question).refused


@pytest.mark.slow
def test_the_traced_forward_pass_gives_what_the_network_gives(shipped):
    """The shipped reader answers through its TorchScript graph, which must agree with the eager
    network to the last bit on batches of other sizes and lengths than the one it was traced on."""
    import torch

    from rag.answering.reader import _inputs

    assert shipped._forward is not shipped._net  # noqa: SLF001 - traced, not the eager fallback
    batches = [
        ("Who?", ["Ann Lee."]),
        ("Which company built the bridge over the river Ouse, and in what year?", [
            "The bridge over the Ouse was built in 1890 by a private company.",
            "The mayor, Ann Lee, opened the new library on Friday after a long campaign " * 6,
            "It rained.", "Nobody knows who built the bridge, said the historian who wrote its history.",
        ]),
    ]
    with torch.inference_mode():
        for question, sentences in batches:
            inputs = _inputs(shipped._pairs, question, sentences, torch, shipped._net.null.dtype)  # noqa: SLF001
            for a, b in zip(shipped._forward(*inputs), shipped._net(*inputs)):  # noqa: SLF001
                assert torch.equal(a, b)


def test_a_network_that_cannot_be_traced_is_left_eager():
    import torch

    class Untraceable(torch.nn.Module):
        null = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids, attention_mask, token_type_ids, evidence):
            if len(input_ids) == 2:  # a Python branch: the trace keeps the one its example took
                return input_ids.float(), attention_mask.float(), evidence.sum(-1) + 1
            return input_ids.float(), attention_mask.float(), evidence.sum(-1)

    from transformers import AutoTokenizer

    from rag.answering.reader import base_model_dir, pair_tokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir()))
    assert traced(Untraceable().eval(), pair_tokenizer(tokenizer), torch) is None


def test_the_pair_tokenizer_cuts_and_pads_as_the_transformers_tokenizer_the_reader_was_fitted_with():
    """The reader tokenises with its own copy of the Rust tokenizer (`pair_tokenizer`); its tokens,
    masks and offsets must be those the fitting saw, on pairs cut to MAX_TOKENS and padded."""
    from transformers import AutoTokenizer

    from rag.answering.reader import MAX_TOKENS, base_model_dir, pair_tokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir()))
    pairs = pair_tokenizer(tokenizer)
    batches = [
        ("Who?", ["Ann Lee."]),
        ("Where did the Élysée’s “coalition” meet, and when? " * 8, [  # the question the longer: cut first
            "At the end of a meeting at the Elysée, Macron said that “nothing can be excluded”.",
            "The mayor, Ann Lee, opened the new library on Friday after a long campaign " * 12,  # over MAX_TOKENS
            "It rained.",
        ]),
    ]
    for question, sentences in batches:
        want = tokenizer([question] * len(sentences), sentences, truncation="longest_first", max_length=MAX_TOKENS,
                         padding=True, return_offsets_mapping=True)
        got = pairs.encode_batch([(question, s) for s in sentences])
        for b, e in enumerate(got):
            assert e.ids == want["input_ids"][b] and e.type_ids == want["token_type_ids"][b]
            assert e.attention_mask == want["attention_mask"][b]
            assert e.offsets == [tuple(x) for x in want["offset_mapping"][b]]
            assert e.sequence_ids == want.sequence_ids(b)
        assert max(len(e.ids) for e in got) <= MAX_TOKENS
    assert len(got[1].ids) == MAX_TOKENS  # the long batch was cut


@pytest.mark.slow
def test_the_reader_answers_from_several_threads_at_once(shipped):
    """One reader serves a multi-threaded server: its tokenizer and network are shared by threads."""
    from concurrent.futures import ThreadPoolExecutor

    sentence = "The mayor, Ann Lee, opened the new library on Friday after a long campaign."
    questions = [f"Who opened the new library {'again ' * (i % 5)}?" for i in range(24)]

    def one(q):
        return shipped.read(q, [sentence, sentence[:40]], [evidence_row(1.0, 0.3, 0.4, 1.0, 0.0, r) for r in range(2)])

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(one, questions))
    assert all(len(r) == 2 and 0 <= r[0].start <= r[0].end <= len(sentence) for r in results)


class SpansReader(FakeReader):
    """A reader whose likely spans in a sentence are the `phrases` it holds, best first, the first
    its choice: as the shipped reader reads a sentence, with the right span among the likely ones
    but not first."""

    def __init__(self, *phrases: str):
        super().__init__(phrases[0])
        self.phrases = phrases

    def read(self, question, sentences, evidence, exclude=()):
        from rag.answering.reader import Reading

        out = []
        for s in sentences:
            found = [(s.find(w), s.find(w) + len(w), 8.0 - k) for k, w in enumerate(self.phrases) if w in s]
            out.append(Reading(self.found, *found[0][:2], spans=tuple(found)) if found else Reading(self.missed, 0, 0))
        return out


@pytest.mark.parametrize(
    ("question", "short"),
    [("Who represented the US?", "deputy secretary of state"), ("Who was the Italian representative?", "deputy foreign minister")],
)
def test_a_list_sentence_is_answered_from_the_item_the_question_names(seeded, question, short):
    # "Kyiv" is in the description of the US ("the US, Kyiv's main and indispensable support").
    _answerer(seeded, SpansReader("Kyiv", "deputy foreign minister", "deputy secretary of state"))
    answer = seeded.ask(question)
    assert answer.short_answer is not None and answer.short_answer.text == short
    assert "Italian representation" in answer.citations[answer.short_answer.n - 1].quote


def test_how_many_is_answered_with_a_number_or_not_at_all(seeded):
    _answerer(seeded, SpansReader("Elysée", "about twenty"))
    answer = seeded.ask("How many heads of state came to the meeting at the Elysée?")
    assert answer.short_answer is not None and answer.short_answer.text == "about twenty"
    _answerer(seeded, SpansReader("Elysée", "heads of state"))
    answer = seeded.ask("How many heads of state came to the meeting at the Elysée?")
    assert not answer.refused and answer.short_answer is None  # the sentence alone, no bold word


def test_how_many_is_refused_from_a_sentence_that_says_no_number(assistant):
    from rag.types import Article

    text = ("The council met on Friday in the town hall. The mood at the meeting was tense from the start. "
            "About forty residents came to the meeting to protest.")
    assistant.index_articles([Article(id="hall", title="Town hall", source="test", text=text)])
    question = "How many residents came to the meeting?"
    # The reader finds the answer in a sentence that counts nothing: that is no answer to "how many".
    answerer = _answerer(assistant, SpansReader("tense from the start"))
    answer = assistant.ask(question)
    assert answer.refused, answer.text
    assert answerer.endorsed(assistant._answer_pipeline().context(question)) == {}  # nor may an LLM cite it  # noqa: SLF001
    # Nor in one whose only number is part of a name.
    assistant.index_articles([Article(id="hall", title="Town hall", source="test", text=text.replace(
        "The mood at the meeting was tense from the start.", "The mood at the meeting of G-7 leaders was tense."))])
    _answerer(assistant, SpansReader("G-7 leaders"))
    answer = assistant.ask(question)
    assert answer.refused, answer.text
    # A sentence that counts is answered, with its number.
    _answerer(assistant, SpansReader("About forty"))
    answer = assistant.ask(question)
    assert not answer.refused and answer.short_answer is not None and answer.short_answer.text == "About forty"


def test_who_else_passes_over_the_sentence_of_the_answer_already_given(seeded):
    """The sentence whose best span was already given comes after the others."""
    from rag.answering.reader import Reading

    class TwoNames(FakeReader):
        sentences = 6  # both names' sentences among those read

        def read(self, question, sentences, evidence, exclude=()):
            out = []
            for s in sentences:
                if "Olaf Scholz" in s:
                    given = any("scholz" in x.lower() for x in exclude)
                    at = s.index("David Cameron") if given else s.index("Olaf Scholz")
                    out.append(Reading(5.0, at, at + len("David Cameron" if given else "Olaf Scholz"), given))
                elif "Macron" in s:
                    at = s.index("Macron")
                    out.append(Reading(3.0, at, at + len("Macron")))
                else:
                    out.append(Reading(-4.0, 0, 0))
            return out

    _answerer(seeded, TwoNames("unused"))
    first = seeded.ask("Which leaders were there too?")
    assert first.short_answer is not None and first.short_answer.text == "Olaf Scholz"
    history = [{"role": "user", "content": "Which leaders were there too?"},
               {"role": "assistant", "content": first.text}]
    again = seeded.ask("Who else?", history=history)
    assert again.short_answer is not None and again.short_answer.text == "Macron", again.text


def test_rag_reader_false_answers_from_the_best_scored_sentence_without_loading_the_reader(settings):
    from rag.assistant import Assistant
    from tests.conftest import SEED

    fast = Assistant(settings.model_copy(update={"reader": False}))
    fast.index(SEED)
    answerer = fast._answer_pipeline().answerer  # noqa: SLF001
    assert answerer.reader is None
    answer = fast.ask("Who represented the US?")
    assert not answer.refused and "deputy secretary" in answer.citations[0].quote.lower()
    text = fast.article(answer.citations[0].article_id).text
    assert all(text[c.start : c.end] == c.quote for c in answer.citations)
    assert fast.ask("What is the capital of Australia?").refused


def test_the_sentence_chosen_need_not_repeat_a_name_the_article_gives_elsewhere(assistant):
    from rag.types import Article

    text = ("Around 3,000 residents of Port Elwin were evacuated on Tuesday night as the storm hit the coast.\n\n"
            "The mayor, Claire Dubois, ordered the evacuation shortly after 9 p.m.")
    assistant.index_articles([Article(id="storm", title="Storm", source="test", text=text)])
    # The reader finds the name in the second sentence; the first, which names the town, says nothing of a mayor.
    _answerer(assistant, FakeReader("Claire Dubois"))
    answer = assistant.ask("Who is the mayor of Port Elwin?")
    assert answer.short_answer is not None and answer.short_answer.text == "Claire Dubois"


def test_how_many_people_is_answered_by_the_people_the_sentence_counts(assistant):
    from rag.types import Article

    text = "No deaths were reported, but two fishermen were taken to hospital. The repairs were postponed twice."
    assistant.index_articles([Article(id="storm", title="Storm", source="test", text=text)])
    _answerer(assistant, FakeReader("two"))
    answer = assistant.ask("How many people were taken to hospital?")
    assert answer.short_answer is not None and answer.short_answer.text == "two"
    _answerer(assistant, FakeReader("twice"))
    answer = assistant.ask("How many times were the repairs postponed?")
    assert answer.short_answer is not None and answer.short_answer.text == "twice"
    # A counted noun of its own is still a key fact.
    answer = assistant.ask("How many boats were the repairs postponed?")
    assert answer.refused, answer.text


def test_what_something_cost_is_refused_from_a_sentence_without_an_amount_of_money(assistant):
    from rag.types import Article

    text = "The sea wall was built in 1962 and repaired twice. The new gate cost $4 million to build."
    assistant.index_articles([Article(id="wall", title="Sea wall", source="test", text=text)])
    _answerer(assistant, FakeReader("1962"))
    answer = assistant.ask("How much did the sea wall cost?")
    assert answer.refused, answer.text
    _answerer(assistant, FakeReader("$4 million"))
    answer = assistant.ask("How much did the new gate cost?")
    assert answer.short_answer is not None and answer.short_answer.text == "$4 million"


def test_how_much_it_cost_is_answered_from_a_likely_sentence_that_names_an_amount(assistant):
    from rag.types import Article

    text = ("The new stadium of the Riverton club was built in 2014 beside the river. "
            "It cost $1.2 billion.")
    assistant.index_articles([Article(id="stadium", title="Stadium", source="test", text=text)])

    question = "How much did the new stadium of the Riverton club cost?"
    # The year a little likelier than the amount.
    assert "2014" in _best_scored(assistant, LogitsReader({"2014": 4.0, "$1.2 billion": 3.5}), question)
    answer = assistant.ask(question)
    assert answer.short_answer is not None and answer.short_answer.text == "$1.2 billion"


def test_what_a_deal_was_worth_is_said_by_an_amount_of_money(assistant):
    from rag.types import Article

    # "worth" is in no sentence: the amount says it (the question's words must be in the passage).
    text = ("Two rail companies announced a €4.2 billion deal in March. "
            "The deal was blocked by a court in Hamburg on Tuesday. The union had opposed the deal. "
            "Shippers said the deal would raise prices. The deal's backers will appeal.")
    assistant.index_articles([Article(id="deal", title="Rail merger", source="test", text=text)])
    reader = FakeReader("€4.2 billion", found=1.0)  # not so sure that the words need not match
    assert _short(assistant, reader, "How much was the deal worth?") == "€4.2 billion"


def test_how_many_is_not_answered_by_a_year(assistant):
    from rag.types import Article

    text = ("The company must buy new locomotives to meet emission rules by 2030. "
            "It ordered 40 locomotives last year. About 52 percent of its drivers backed the order.")
    assistant.index_articles([Article(id="rail", title="Rail company", source="test", text=text)])
    _answerer(assistant, FakeReader("2030"))
    assert assistant.ask("How many new locomotives must the company buy to meet emission rules?").refused
    assert _short(assistant, FakeReader("40"), "How many locomotives did the company order last year?") == "40"
    # A share counts ("How many Victorians are Catholic?" "26.7%").
    assert _short(assistant, FakeReader("52 percent"), "How many of its drivers backed the order?") == "52 percent"


def test_how_many_things_is_not_answered_by_a_time_gone_by(assistant):
    from rag.types import Article

    text = ("Two years ago no one in the town thought about building a sea wall. "
            "The council met on Friday in the town hall.")
    assistant.index_articles([Article(id="wall", title="Sea wall", source="test", text=text)])
    # "Two years ago" counts years, not walls: no answer to how many walls, whichever span is read.
    for span in ("Two", "sea wall"):
        _answerer(assistant, FakeReader(span))
        assert assistant.ask("How many sea walls did the town build?").refused, span
    # ...but it is the answer to how many years.
    assert _short(assistant, FakeReader("Two"), "How many years ago did no one think about a sea wall?") == "Two"


def test_how_many_is_not_answered_by_a_number_of_other_things(assistant):
    from rag.types import Article

    text = ("About 2,000 people live in the valley. The river rose overnight. "
            "Nobody was hurt, but about 300 homes were damaged.")
    assistant.index_articles([Article(id="flood", title="Flood", source="test", text=text)])
    # "300 homes" counts homes: for people, the sentence alone (it says nobody was hurt), no bold number.
    _answerer(assistant, FakeReader("300"))
    answer = assistant.ask("How many people were hurt?")
    assert not answer.refused and answer.short_answer is None, answer.text
    assert "Nobody was hurt" in answer.citations[0].quote
    assert _short(assistant, FakeReader("300"), "How many homes were damaged?") == "300"


def test_a_sentence_whose_likeliest_words_are_the_questions_gives_way_to_a_likely_one_that_answers(assistant):
    from rag.types import Article

    text = ("The Federal Cartel Office had opposed the merger since last summer. "
            "Its president, Andreas Mundt, welcomed the ruling on Tuesday.")
    assistant.index_articles([Article(id="office", title="Merger ruling", source="test", text=text)])

    # The office's own name likelier than the president's.
    reader = LogitsReader({"The Federal Cartel Office": 4.0, "Andreas Mundt": 3.0})
    assert _short(assistant, reader, "Who is the president of the Federal Cartel Office?") == "Andreas Mundt"


def test_why_is_answered_by_the_reason_a_participle_gives_not_the_next_sentence(assistant):
    from rag.types import Article

    text = ("The rail union EVG opposed the merger of the two companies, fearing that up to 1,500 jobs "
            "would be cut. It has 180,000 members.")
    assistant.index_articles([Article(id="union", title="Union", source="test", text=text)])
    _answerer(assistant, FakeReader("EVG"))  # the reader bolds the union's name
    answer = assistant.ask("Why did the rail union oppose the merger?")
    assert answer.short_answer is not None
    assert answer.short_answer.text == "fearing that up to 1,500 jobs would be cut"
    assert [c.quote for c in answer.citations] == [text.split(" It has")[0]]


def test_who_is_the_role_is_answered_by_a_likely_sentence_that_says_the_role(assistant):
    from rag.types import Article

    text = ("Around 3,000 residents of Port Elwin were evacuated as Storm Hilda brought winds to Port Elwin.\n\n"
            "The mayor, Claire Dubois, ordered the evacuation shortly after 9 p.m.")
    assistant.index_articles([Article(id="storm", title="Storm", source="test", text=text)])
    question = "Who is the mayor of Port Elwin?"
    # The storm's name likelier than the mayor's, in the sentence that names the town twice.
    assert "Hilda" in _best_scored(assistant, LogitsReader({"Hilda": 3.0, "Claire Dubois": 2.0}), question)
    assert _short(assistant, LogitsReader({"Hilda": 3.0, "Claire Dubois": 2.0}), question) == "Claire Dubois"
    # Far less likely than the reader's choice (KIND_SWITCH_RATIO), it does not answer.
    assert _short(assistant, LogitsReader({"Hilda": 6.0, "Claire Dubois": 2.0}), question) == "Hilda"


def test_who_prefers_a_sentence_that_says_more_of_the_question_through_he_or_she(assistant):
    from rag.types import Article

    text = ("Judge Petra Lindqvist said the combined company would control most of the traffic.\n\n"
            "\"Competition would disappear,\" she wrote in a long decision.\n\n"
            "The Federal Cartel Office welcomed the decision.")
    assistant.index_articles([Article(id="ruling", title="Ruling", source="test", text=text)])
    question = "Who wrote the decision?"
    # The reader, fitted on names, finds the office likelier than "she".
    reader = LogitsReader({"Federal Cartel Office": 3.0, "she": 1.5})
    _answerer(assistant, reader)
    answer = assistant.ask(question)
    assert answer.short_answer is not None and answer.short_answer.text == "Petra Lindqvist"
    assert [c.quote for c in answer.citations] == [
        "Judge Petra Lindqvist said the combined company would control most of the traffic.",
        "\"Competition would disappear,\" she wrote in a long decision.",
    ]
    # Far less likely than the reader's choice (KIND_SWITCH_RATIO), it does not answer.
    assert _short(assistant, LogitsReader({"Federal Cartel Office": 6.0, "she": 1.0}), question) == "Federal Cartel Office"


def test_the_role_asked_is_a_common_noun_not_a_title():
    from rag.answering.extractive import _ROLE_ASKED

    assert _ROLE_ASKED.match("Who is the mayor of Port Elwin?").group(1) == "mayor"
    assert _ROLE_ASKED.match("who was the deputy mayor?").group(1) == "mayor"
    assert _ROLE_ASKED.match("Who was the Most Valuable Player of Super Bowl II?") is None  # "MVP" in the article
    assert _ROLE_ASKED.match("Who is the Costa Rican President that went to Harvard?") is None
