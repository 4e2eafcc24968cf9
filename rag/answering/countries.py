"""Countries under their other names: "Spain" and "Spanish", "the United States", "the US" and
"American", "the UK" and "British".

A reader asks "Who is the president of Spain?" of an article that says "the Spanish president,
Pedro Sánchez"; keyword matching sees two different words and finds too few of the question's in
the sentence. The names come from the data `countryinfo` ships (each country's name, its other
spellings and its demonym), not from a list of our own. Codes ("US", "UK", "U.S.") count only in
capitals and never where they spell an everyday word ("IT", "IN"); names and demonyms count in any
case ("spain"), with a plural or a possessive ("Americans", "Spain's"). "Great Britain" is also
"Britain", which the data does not give.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag.text import STOPWORDS, terms

_TOKEN = re.compile(r"[A-Za-z][A-Za-z.]*(?:['’]s)?")
_DOTTED = re.compile(r"(?:[A-Z]\.){1,2}[A-Z]\.?")  # "U.S.", "U.K"


@lru_cache(maxsize=1)
def _forms() -> tuple[dict[str, set[str]], dict[str, set[str]], int]:
    """Names and demonyms (lower case, words joined by one space) and codes (capitals, no dots),
    each with the countries it names ("american": the United States, American Samoa, …), and the
    most words a name has."""
    from countryinfo import all_countries

    names: dict[str, set[str]] = {}
    codes: dict[str, set[str]] = {}
    for country in all_countries():
        info = country.info()
        for form in [info["name"], info.get("demonym") or "", *info.get("altSpellings", [])]:
            form = form.strip()
            if not form or not form.isascii():
                continue  # native spellings ("Reino de España") are not how English news names it
            if re.fullmatch(r"[A-Z]{2,3}", form):
                if form.lower() not in STOPWORDS:
                    codes.setdefault(form, set()).add(info["name"])
            elif len(form) >= 4:
                names.setdefault(" ".join(form.lower().split()), set()).add(info["name"])
                if form.startswith("Great "):  # "Great Britain" is also "Britain" (not in the data)
                    names.setdefault(form[len("Great "):].lower(), set()).add(info["name"])
    return names, codes, max(len(n.split()) for n in names)


@lru_cache(maxsize=20_000)
def countries_in(text: str) -> dict[str, frozenset[str]]:
    """The countries `text` names, each with the stemmed words (`rag.text.terms`) of its mentions.
    Written as a lookup of the text's words and word runs rather than one pattern of every name,
    which took ~0.7 ms a sentence."""
    names, codes, longest = _forms()
    tokens = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(text)]
    words = [re.sub(r"['’]s$", "", t).rstrip(".").lower() for _, _, t in tokens]
    found: dict[str, set[str]] = {}
    i = 0
    while i < len(tokens):
        hit = None
        token = tokens[i][2]
        plain, undotted = token.rstrip("."), token.replace(".", "")
        if plain in codes:
            hit = (1, codes[plain])  # "US", or "US." ending a sentence
        elif undotted in codes and _DOTTED.fullmatch(token):
            hit = (1, codes[undotted])  # "U.S."
        else:
            for n in range(min(longest, len(tokens) - i), 0, -1):
                run = " ".join(words[i : i + n])
                owners = names.get(run) or (names.get(run[:-1]) if run.endswith("s") else None)
                if owners:
                    hit = (n, owners)  # the longest name first: "United States of America"
                    break
        if hit is None:
            i += 1
            continue
        n, owners = hit
        said = text[tokens[i][0] : tokens[i + n - 1][1]]
        for key in owners:
            found.setdefault(key, set()).update(terms(said))
        i += n
    return {k: frozenset(v) for k, v in found.items()}


def said_in_other_words(question: str, sentence: str) -> frozenset[str]:
    """The question's words for the countries the sentence also names, in whatever words: those
    the sentence says, for keyword matching ("spain" where the sentence says "Spanish")."""
    asked = countries_in(question)
    if not asked:
        return frozenset()
    named = countries_in(sentence)
    return frozenset().union(*(asked[k] for k in asked.keys() & named.keys()))
