"""The item of a list sentence that a question is about.

News packs parallel facts into one sentence: "There were also the German chancellor, Olaf Scholz;
the head of the British Foreign Office, David Cameron; and the Spanish president, Pedro Sánchez."
Asked "Who represented Britain?", the reader (fitted on SQuAD's sentences, which rarely list)
bolds a name from any item; it read "Olaf Scholz". The answer is in the one item that names what
the question names: "Britain" meets "British" in the second item, so the short answer is taken
from there. Within that item, a description set off by commas right after the name ("the US,
Kyiv's main and indispensable support, with a deputy secretary of state") says what the named
thing is, not what was asked of it, unless the question asks what it is.

Both rules are narrow on purpose: a sentence splits into items only at ";" or a comma followed by
"and", "while", "whereas" or "but"; the question must name a country, and everything it names
(capitalised words after its first) must be said by exactly one item while another item names
another country.
"""

from __future__ import annotations

import re

from rag.answering.countries import countries_in
from rag.answering.language import asked_what_is
from rag.text import STOPWORDS, terms

# Where one item of a list sentence ends and the next begins.
ITEM_BREAK = re.compile(r"\s*;\s*|,\s+(?=(?:and|while|whereas|but)\s)")
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of\s+)?[A-Z][\w'’.-]*)*")  # "Britain", "United States"
# "Other than the US and Britain, where …?" asks about the other items.
OTHER_THAN = re.compile(r"\b(?:other than|besides|apart from|aside from|except|along with|in addition to)\b", re.IGNORECASE)


def items(sentence: str) -> list[tuple[int, int]]:
    """(start, end) of each item of a list sentence, or [] where it lists nothing."""
    bounds, at = [], 0
    for m in ITEM_BREAK.finditer(sentence):
        bounds.append((at, m.start()))
        at = m.end()
    bounds.append((at, len(sentence)))
    return [(a, z) for a, z in bounds if sentence[a:z].strip()] if len(bounds) > 1 else []


def _names(question: str) -> list[str]:
    """The names a question gives: its runs of capitalised words but a first word ("Who represented
    the United States?": "United States"), without stopwords."""
    found = [m.group(0) for m in _NAME.finditer(question) if m.start() > 0]
    return [w for w in found if w.lower() not in STOPWORDS]


def _says(text: str, name: str) -> bool:
    """`text` says `name`, as a word (stemmed) or as the country it is under another name."""
    asked = countries_in(name)
    if asked:
        return bool(asked.keys() & countries_in(text).keys())
    wanted = set(terms(name))
    return bool(wanted) and wanted <= set(terms(text))


def item_about(question: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) of the one item of a list sentence that says every name the question gives,
    where the question names a country and another item names another: the parallel facts of
    "Italy sent X, and the US Y". None otherwise.

    Without the countries the rule was wrong more often than right on SQuAD's held-out questions
    (F1 0.491 -> 0.482 over 2,976): there the question's names usually sit in the clause that sets
    the scene, and the answer in another ("How old was Peyton Manning in 2015?")."""
    names = _names(question)
    parts = items(sentence)
    asked = countries_in(question).keys()
    if not names or not parts or not asked or OTHER_THAN.search(question):
        return None
    matching = [(a, z) for a, z in parts if all(_says(sentence[a:z], n) for n in names)]
    if len(matching) != 1:
        return None
    others = set().union(*(countries_in(sentence[a:z]).keys() for a, z in parts if (a, z) != matching[0]))
    return matching[0] if others - asked else None


def gives_to_other_countries(question: str, sentence: str) -> bool:
    """Whether `sentence` lists facts item by item, at least two items naming a country, and no item
    names a country the question names: "Who is the president of the United States?" is not
    answered by "There were also the German chancellor, Olaf Scholz; …; and the Spanish president,
    Pedro Sánchez." (the reader's likeliest span there is a president, of Spain). Not where the
    question asks about the others ("Besides the US, who …?")."""
    asked = countries_in(question).keys()
    parts = items(sentence)
    if not asked or len(parts) < 2 or OTHER_THAN.search(question):
        return False
    named = [countries_in(sentence[a:z]).keys() for a, z in parts]
    return sum(bool(n) for n in named) >= 2 and not any(n & asked for n in named)


def description_of_name(question: str, sentence: str, within: tuple[int, int]) -> tuple[int, int] | None:
    """(start, end) of a description set off by commas right after a name the question gives, in
    `sentence[within[0]:within[1]]` ("the US, Kyiv's main and indispensable support, with …"): a
    phrase with a word in lower case that is not a stopword (a name in apposition, "the head of the
    Foreign Office, David Cameron;", is no description). None where there is none, or where the
    question asks what the name is ("Who is Pedro Sánchez?", "What was the Entente?")."""
    names = _names(question)
    asked = asked_what_is(question)
    if not names or (asked and re.sub(r"^the\s+", "", asked[1], flags=re.IGNORECASE) in names):
        return None
    a, z = within
    commas = [i for i in range(a, z) if sentence[i] == ","]
    for opening, closing in zip(commas, commas[1:]):
        before = " ".join(re.findall(r"[\w'’.-]+", sentence[a:opening])[-3:])  # the words before the comma
        phrase = sentence[opening + 1 : closing]
        if any(_says(before, n) for n in names) and any(
            w[0].islower() and w.lower() not in STOPWORDS for w in re.findall(r"[\w'’-]+", phrase)
        ):
            return opening + 1 + (len(phrase) - len(phrase.lstrip())), closing
    return None
