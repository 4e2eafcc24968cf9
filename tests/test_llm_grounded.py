"""The grounded LLM answerer: the model names a short answer and a passage; the quote comes from the article.

Chat models are LangChain's fakes; tests/test_llm_real_server.py runs a real one.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.answering.factory import make_answerer
from rag.answering.grounded import Choice, GroundedLLMAnswerer, find_span, parse_reply
from rag.answering.pipeline import AnswerPipeline
from tests.test_llm import (
    US_SENTENCE,
    DownChat,
    assert_integrity,
    other_passage,
    passage_number,
    retrieved,
)

QUESTION = "Who represented the US?"


def grounded(seeded, reply: str | None = None, chat=None) -> AnswerPipeline:
    answerer = GroundedLLMAnswerer(chat or FakeListChatModel(responses=[reply or "NONE"]), seeded.embeddings,
                                   name="openai", backend="http://127.0.0.1:9/v1 (model fake)")
    return AnswerPipeline(seeded.settings, seeded.store, seeded.embeddings, answerer=answerer)


def with_reply(pipe: AnswerPipeline, reply: str) -> AnswerPipeline:
    pipe.answerer.chat_model = FakeListChatModel(responses=[reply])
    return pipe


def test_short_answer_is_quoted_from_the_sentence_that_holds_it(seeded):
    pipe = grounded(seeded)
    hits, _ = retrieved(pipe, QUESTION)
    us = passage_number(hits, "deputy secretary of state")
    answer = with_reply(pipe, f"ANSWER: a deputy secretary of state [{us}]").run(QUESTION)
    assert not answer.refused and answer.answerer == "openai" and answer.notice is None
    [c] = answer.citations
    assert c.quote == US_SENTENCE
    text = seeded.article(c.article_id).text
    assert text[c.highlight_start : c.highlight_end] == "a deputy secretary of state"
    assert answer.answer_span == "a deputy secretary of state"
    assert "**a deputy secretary of state**" in answer.text and answer.text.endswith("[1]")
    assert_integrity(seeded, answer)


def test_case_and_spacing_of_the_short_answer_do_not_matter_but_words_do(seeded):
    pipe = grounded(seeded)
    hits, _ = retrieved(pipe, QUESTION)
    us = passage_number(hits, "deputy secretary of state")
    answer = with_reply(pipe, f"Answer: Deputy  Secretary of State. [{us}]").run(QUESTION)
    assert answer.citations and answer.answer_span == "deputy secretary of state"
    paraphrase = with_reply(pipe, f"ANSWER: the US deputy secretary [{us}]").run(QUESTION)
    assert paraphrase.refused and "not shown" in paraphrase.notice
    assert_integrity(seeded, paraphrase)


def test_answer_cited_to_a_passage_that_does_not_hold_it_is_dropped(seeded):
    pipe = grounded(seeded)
    hits, _ = retrieved(pipe, QUESTION)
    wrong = other_passage(hits, "deputy secretary of state")
    answer = with_reply(pipe, f"ANSWER: a deputy secretary of state [{wrong}]").run(QUESTION)
    assert answer.refused and not answer.citations
    assert "not shown" in answer.notice
    missing = with_reply(pipe, "ANSWER: a deputy secretary of state [42]").run(QUESTION)
    assert missing.refused


def test_wrong_answer_in_the_right_passage_is_dropped(seeded):
    """David Cameron is in the passage, but the sentence he is in does not say who represented the US."""
    pipe = grounded(seeded)
    hits, _ = retrieved(pipe, QUESTION)
    us = passage_number(hits, "deputy secretary of state")
    assert "David Cameron" in hits[us - 1].chunk.text
    answer = with_reply(pipe, f"ANSWER: David Cameron [{us}]").run(QUESTION)
    assert answer.refused, answer.text


class SpanReader:
    """A reader that finds the US sentence the answer and, in it, these spans likely (score)."""

    sentences = 3
    fitted = 6
    threshold = 0.5
    chooser = None  # the answerer keeps its switch ratio
    null = 0.0

    def __init__(self, likely: dict[str, float]):
        self.likely = likely

    def warm_up(self):
        pass

    def read(self, question, sentences, evidence, exclude=()):
        from rag.answering.reader import Reading

        out = []
        for s in sentences:
            spans = sorted(((s.find(t), s.find(t) + len(t), v) for t, v in self.likely.items() if t in s),
                           key=lambda x: -x[2])
            out.append(Reading(4.0, spans[0][0], spans[0][1], spans=tuple(spans)) if spans else Reading(-4.0, 0, 0))
        return out

    def probabilities(self, readings):
        from rag.answering.reader import Reader

        return Reader.probabilities(self, readings)


def test_another_name_in_the_sentence_that_answers_is_dropped(seeded):
    """The sentence answers the question; the model names the wrong thing in it."""
    pipe = grounded(seeded)
    pipe.answerer.fallback._reader = SpanReader({"a deputy secretary of state": 6.0, "Kyiv": 4.0,
                                                 "a deputy foreign minister": 1.0})
    hits, _ = retrieved(pipe, QUESTION)
    us = passage_number(hits, "deputy secretary of state")
    wrong = with_reply(pipe, f"ANSWER: a deputy foreign minister [{us}]").run(QUESTION)
    assert wrong.refused and "not shown" in wrong.notice
    right = with_reply(pipe, f"ANSWER: deputy secretary of state [{us}]").run(QUESTION)
    assert not right.refused and right.answer_span == "deputy secretary of state"
    near = with_reply(pipe, f"ANSWER: Kyiv [{us}]").run(QUESTION)  # within the margin of the best
    assert not near.refused and near.answer_span == "Kyiv"
    for answer in (wrong, right, near):
        assert_integrity(seeded, answer)


def test_a_restated_answer_keeps_only_the_words_the_article_says(seeded):
    """Small models wrap the answer in the question's words; the span shown is the run of the
    reply that the sentence says word for word, without the question's words around it."""
    question = "What will the new coalition supply Ukraine with?"
    pipe = grounded(seeded)
    hits, _ = retrieved(pipe, question)
    n = passage_number(hits, "long-range missiles")
    answer = with_reply(pipe, f"ANSWER: The new coalition will supply Ukraine with long-range missiles and bombs. [{n}]").run(question)
    assert answer.answer_span == "long-range missiles and bombs"
    [c] = answer.citations
    assert seeded.article(c.article_id).text[c.highlight_start : c.highlight_end] == "long-range missiles and bombs"
    restated = with_reply(pipe, f"ANSWER: The new coalition will supply Ukraine. [{n}]").run(question)
    assert restated.refused  # nothing but the question's words


def test_none_is_a_plain_refusal_and_prose_a_refusal_that_says_why(seeded):
    pipe = grounded(seeded)
    none = with_reply(pipe, "NONE").run(QUESTION)
    assert none.refused and none.notice is None
    prose = with_reply(pipe, "The summit was held in Paris and many leaders came.").run(QUESTION)
    assert prose.refused and "form asked for" in prose.notice


def test_the_question_repeated_is_no_answer(seeded):
    pipe = grounded(seeded)
    hits, _ = retrieved(pipe, QUESTION)
    us = passage_number(hits, "deputy secretary of state")
    answer = with_reply(pipe, f"ANSWER: the US [{us}]").run(QUESTION)
    assert answer.refused


def test_backend_down_gives_the_offline_answer_with_a_notice(seeded):
    answer = grounded(seeded, chat=DownChat(responses=["x"])).run(QUESTION)
    assert answer.answerer == "extractive" and "did not answer" in answer.notice
    assert "DO-NOT-LEAK" not in answer.notice


def test_stream_is_the_whole_answer_in_pieces(seeded):
    pipe = grounded(seeded)
    hits, _ = retrieved(pipe, QUESTION)
    us = passage_number(hits, "deputy secretary of state")
    with_reply(pipe, f"ANSWER: a deputy secretary of state [{us}]")
    *pieces, answer = list(pipe.stream(QUESTION))
    assert "".join(pieces) == answer.text and answer.citations


@pytest.mark.parametrize(
    ("reply", "choices", "none"),
    [
        ("ANSWER: Macron [2]", [Choice("Macron", (2,))], False),
        ("**Answer:** Olaf Scholz [1][3]\n", [Choice("Olaf Scholz", (1, 3))], False),
        ("Sure!\nANSWER: \"Taurus cruise missiles\". [4]", [Choice("Taurus cruise missiles", (4,))], False),
        ("Taurus [passage 2]", [Choice("Taurus", (2,))], False),
        ("ANSWER: Macron", [Choice("Macron", ())], False),
        ("The answer is: 2", [Choice("2", ())], False),
        ("NONE", [], True),
        ("ANSWER: NONE", [], True),
        ("<think>ANSWER: x [1]</think>NONE.", [], True),
        ("I think it is the French president.", [], False),
    ],
)
def test_parse_reply(reply, choices, none):
    assert parse_reply(reply) == (choices, none)


def test_prompt_shows_the_format_once_then_asks(seeded):
    from rag.answering.grounded import EXAMPLE_REPLY, grounded_messages

    pipe = grounded(seeded)
    hits, _ = retrieved(pipe, QUESTION)
    messages = grounded_messages(QUESTION, hits)
    assert [m.type for m in messages] == ["system", "human", "ai", "human"]
    assert messages[2].content == EXAMPLE_REPLY
    assert messages[-1].content.endswith(f"Question: {QUESTION}") and hits[0].chunk.text[:40] in messages[-1].content


def test_factory_follows_the_mode(seeded):
    settings = seeded.settings.with_overrides(answerer="openai", llm_model="m", llm_base_url="http://127.0.0.1:9/v1",
                                              llm_mode="grounded")
    assert isinstance(make_answerer(settings, seeded.embeddings), GroundedLLMAnswerer)
    free = make_answerer(settings.with_overrides(llm_mode="free"), seeded.embeddings)
    assert type(free).__name__ == "LLMAnswerer"


@given(st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "Zs", "P"]), min_size=1, max_size=80),
       st.data())
def test_find_span_returns_a_span_of_the_sentence_holding_the_words(sentence, data):
    words = [w for w in sentence.split() if any(ch.isalnum() for ch in w)]
    if not words:
        return
    i = data.draw(st.integers(0, len(words) - 1))
    short = words[i]
    got = find_span(short, sentence)
    assert got is not None, (short, sentence)
    s, e = got
    assert 0 <= s < e <= len(sentence)
    assert re.findall(r"\w+", sentence[s:e].lower()) == re.findall(r"\w+", short.lower())
