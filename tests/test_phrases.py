"""A short answer grows to the whole phrase it is part of: the noun asked about, the subject of
"… is the main problem", every item of a list."""

from __future__ import annotations

import pytest

from rag.answering.phrases import whole_phrase

SUMMIT = ("The summit was convened as part of the events and discussions on the occasion of the second anniversary "
          "of the Russian invasion and to reaffirm the continuity and strengthening of support for Kyiv.")
MEETING = ("Macron was unable to participate in Saturday’s videoconference meeting of G-7 leaders and wanted to show "
           "French leadership in Europe.")
COALITION = ("Despite this German refusal, the allies have nevertheless committed in Paris to create a coalition to "
             "supply Ukraine with long-range missiles and bombs.")
GAP = "The gap between rhetoric and facts is the main problem facing allies."
OLDEST = "The market, which opened in 1896, is the oldest covered market in the region."
THREATENED = ("Listening to these words were the leaders of the countries most directly threatened, such as the "
              "presidents of Finland, Poland, Romania and Lithuania.")


def _grown(question: str, sentence: str, span: str) -> str | None:
    start = sentence.index(span)
    found = whole_phrase(question, sentence, start, start + len(span))
    if found is not None:
        assert found[0] <= start and start + len(span) <= found[1]  # it only grows
    return None if found is None else sentence[found[0] : found[1]]


@pytest.mark.parametrize(
    ("question", "sentence", "span", "whole"),
    [
        ("What anniversary did the summit coincide with?", SUMMIT, "second",
         "second anniversary of the Russian invasion"),
        ("Which meeting could Macron not attend?", MEETING, "Saturday’s videoconference",
         "Saturday’s videoconference meeting of G-7 leaders"),
        ("What is the coalition going to give Ukraine?", COALITION, "bombs", "long-range missiles and bombs"),
        ("What is the main problem facing the allies?", GAP, "rhetoric and facts", "gap between rhetoric and facts"),
        # The first item of a list, where the question asks for several.
        ("Which countries are most directly threatened?", THREATENED, "Finland", "Finland, Poland, Romania and Lithuania"),
        ("Who were listening to these words?", THREATENED, "Finland", "Finland, Poland, Romania and Lithuania"),
    ],
)
def test_a_span_grows_to_the_phrase_it_is_part_of(question, sentence, span, whole):
    assert _grown(question, sentence, span) == whole


@pytest.mark.parametrize("span", ["1896", "market, which opened"])
def test_a_span_inside_what_a_comma_sets_off_gives_way_to_the_subject(span):
    start = OLDEST.index(span)
    found = whole_phrase("What is the oldest covered market in the region?", OLDEST, start, start + len(span))
    assert found is not None and OLDEST[found[0] : found[1]] == "market"


@pytest.mark.parametrize(
    ("question", "sentence", "span"),
    [
        ("When was the summit convened?", SUMMIT, "second"),  # no noun asked about, no list beside it
        ("What did Macron want to show?", MEETING, "French leadership in Europe"),  # whole already
        ("Which meeting could Macron not attend?", MEETING, "G-7 leaders"),  # modifies nothing asked
        ("What is the main problem facing the allies?", GAP, "main problem"),  # not in the subject
        ("What culture reached Scotland?", "Norman culture reached Scotland.", "Norman"),  # whole as it is
        ("What company agreed to end the case?", "Both BSkyB and Virgin Media agreed to end it.", "Virgin Media"),  # one asked
        ("What is the term for it?", "It is called sequential, low-to-high energy, or Aufbau.", "Aufbau"),  # one asked
        ("Which country is most directly threatened?", THREATENED, "Finland"),  # one asked: it may be the first
        ("Other than Finland, which countries are threatened?", THREATENED, "Lithuania"),  # the others asked
        ("What did Harvard win?", "Harvard fields top teams in several sports, and even recently won.", "won"),  # clauses
        ("Who were the tight ends?", "He found Owen Daniels and a 22-yard throw followed.", "Owen Daniels"),  # not one list
    ],
)
def test_a_span_that_is_whole_stays_as_it_is(question, sentence, span):
    assert _grown(question, sentence, span) is None


def test_the_seed_article_answers_with_the_whole_phrase(seeded):
    from tests.test_reader import SpansReader, _answerer

    _answerer(seeded, SpansReader("bombs"))
    answer = seeded.ask("What is the coalition going to give Ukraine?")
    assert answer.short_answer is not None and answer.short_answer.text == "long-range missiles and bombs"
    article = seeded.article(answer.short_answer.article_id).text
    assert article[answer.short_answer.start : answer.short_answer.end] == answer.short_answer.text
