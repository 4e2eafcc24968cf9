"""Countries under their other names count as the same words when a question is matched to a sentence."""

from __future__ import annotations

import pytest

from rag.answering.countries import countries_in, said_in_other_words


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("Who is the president of Spain?", "Spain"),
        ("Who is Spain's president?", "Spain"),
        ("the Spanish president, Pedro Sánchez", "Spain"),
        ("Who represented the United States?", "United States"),
        ("and the US, Kyiv’s main support", "United States"),
        ("talks with U.S. officials", "United States"),
        ("It was signed in the US.", "United States"),
        ("two Americans were there", "United States"),
        ("the head of the British Foreign Office", "United Kingdom"),
        ("Who represented the UK?", "United Kingdom"),
        ("Who represented Britain?", "United Kingdom"),
    ],
)
def test_a_country_is_found_by_its_name_demonym_or_code(text, country):
    assert country in countries_in(text)


@pytest.mark.parametrize("text", ["Send it to us.", "The IT department said so.", "It is IN the box.", "Nobody came."])
def test_everyday_words_are_no_country(text):
    assert countries_in(text) == {}


def test_the_question_s_words_for_a_country_the_sentence_names_otherwise_count_as_said():
    sentence = "There were also the German chancellor, Olaf Scholz, and the Spanish president, Pedro Sánchez."
    assert said_in_other_words("Who is the president of Spain?", sentence) == {"spain"}
    assert said_in_other_words("Who leads Germany?", sentence) == {"germani"}
    assert said_in_other_words("Who is the president of France?", sentence) == frozenset()
    assert said_in_other_words("Who is the president?", sentence) == frozenset()


def test_a_country_asked_in_other_words_is_answered_on_the_seed_article(seeded):
    answer = seeded.ask("Who is the president of Spain?")
    assert not answer.refused
    assert "the Spanish president, Pedro Sánchez" in answer.citations[0].quote
