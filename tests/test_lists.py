"""The item of a list sentence that a question names gives the short answer."""

from __future__ import annotations

import pytest

from rag.answering.lists import description_of_name, gives_to_other_countries, item_about, items

REPRESENTED = ("The low level of Italian representation was significant, with a deputy foreign minister, and the US, "
               "Kyiv’s main and indispensable support, with a deputy secretary of state.")
ALSO_THERE = ("There were also the German chancellor, Olaf Scholz; the head of the British Foreign Office, David "
              "Cameron; and the Spanish president, Pedro Sánchez.")


def _said(sentence, span):
    return None if span is None else sentence[span[0] : span[1]]


def test_a_sentence_splits_into_items_only_where_it_lists():
    assert [ALSO_THERE[a:z] for a, z in items(ALSO_THERE)] == [
        "There were also the German chancellor, Olaf Scholz",
        "the head of the British Foreign Office, David Cameron",
        "and the Spanish president, Pedro Sánchez.",
    ]
    assert len(items(REPRESENTED)) == 2
    assert items("The mayor, Ann Lee, opened the bridge on Friday.") == []


@pytest.mark.parametrize(
    ("question", "sentence", "item"),
    [
        ("Who represented the US?", REPRESENTED, "and the US, Kyiv’s main and indispensable support, with a deputy "
                                                  "secretary of state."),
        ("Who represented the United States?", REPRESENTED, "and the US, Kyiv’s main and indispensable support, "
                                                              "with a deputy secretary of state."),
        ("Who attended for Italy?", REPRESENTED, "The low level of Italian representation was significant, with a "
                                                 "deputy foreign minister"),
        ("Who represented Britain?", ALSO_THERE, "the head of the British Foreign Office, David Cameron"),
        ("Who came from Spain?", ALSO_THERE, "and the Spanish president, Pedro Sánchez."),
        ("Who spoke for the British Foreign Office?", ALSO_THERE, "the head of the British Foreign Office, David Cameron"),
    ],
)
def test_the_item_is_the_one_that_names_what_the_question_names(question, sentence, item):
    assert _said(sentence, item_about(question, sentence)) == item


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        ("Who represented France?", ALSO_THERE),  # no item names it
        ("Who came?", ALSO_THERE),  # the question names nothing
        ("Who opened the bridge?", "The mayor, Ann Lee, opened the bridge on Friday."),  # no list
        ("Who spoke for Germany and Spain?", ALSO_THERE),  # no one item names both
        ("Which leaders came from Europe?", "Leaders from Europe came; and more from Europe followed."),  # two do
        ("Who represented the Foreign Office?", ALSO_THERE),  # no country asked: not the parallel facts of countries
        # The question's names set the scene in one clause, the answer is in the next.
        ("When did Tesla leave Graz for France?", "Tesla studied in Graz; he left for France in 1880."),
    ],
)
def test_no_item_where_the_sentence_does_not_single_one_out(question, sentence):
    assert item_about(question, sentence) is None


def test_a_description_after_the_name_is_not_what_was_asked():
    item = item_about("Who represented the US?", REPRESENTED)
    assert _said(REPRESENTED, description_of_name("Who represented the US?", REPRESENTED, item)) == (
        "Kyiv’s main and indispensable support")
    # A name in apposition is the answer, not a description of the name.
    item = item_about("Who represented Britain?", ALSO_THERE)
    assert description_of_name("Who represented Britain?", ALSO_THERE, item) is None
    # Asked what the name is, the description is the answer.
    assert description_of_name("What is the US?", REPRESENTED, item_about("What is the US?", REPRESENTED)) is None


def test_other_than_asks_about_the_other_items():
    sentence = "Patents were granted in the US; in Britain, on the same day; and in Canada, a year later."
    assert item_about("Where else, other than the US, were patents granted?", sentence) is None
    assert sentence[slice(*item_about("When were patents granted in Canada?", sentence))] == "and in Canada, a year later."


@pytest.mark.parametrize(
    ("question", "gives_to_others"),
    [
        ("Who is the president of the United States?", True),  # no item names the US
        ("Who is the president of Spain?", False),
        ("Who represented Britain?", False),
        ("Besides the US, who attended?", False),  # asks about the others
        ("Who is the German chancellor?", False),  # names no country by name: "German" is its people's word
    ],
)
def test_a_list_of_other_countries_facts_does_not_answer_about_a_country_it_does_not_name(question, gives_to_others):
    assert gives_to_other_countries(question, ALSO_THERE) is gives_to_others
    assert not gives_to_other_countries(question, "The US sent a deputy secretary of state.")  # no list


def test_a_question_about_a_country_the_list_does_not_name_is_refused(seeded):
    from tests.test_reader import SpansReader, _answerer

    _answerer(seeded, SpansReader("Pedro Sánchez", "deputy secretary of state"))
    assert seeded.ask("Who is the president of the United States?").refused
    answer = seeded.ask("Who is the president of Spain?")
    assert answer.short_answer is not None and answer.short_answer.text == "Pedro Sánchez"
