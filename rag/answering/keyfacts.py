"""Key facts: what a question pins down (the names, years, decades, centuries and dates it gives, the
thing it counts, a negation) and that the answering sentence must match.

A sentence can share most of a question's words and still answer another question: "How many
tanks did France send last year?" against "two years ago no one thought about sending tanks". The
overlap score cannot see that the one fact that matters is missing, so these rules look for each
key fact in the sentence, its neighbours in the paragraph and the article's title; any fact not
found there makes the answer a refusal. Paraphrases keep their answers: only names, years,
dates, the counted noun and negation are checked, each loosely (stems and prefixes); names and
the counted noun only have to belong to the article, and one of the question's names at least
must be in the evidence unless the evidence speaks of someone unnamed ("he", "the host").
"""

from __future__ import annotations

import re

from rag.answering.countries import countries_in
from rag.answering.language import ROLE_NOUNS, QuestionWords
from rag.answering.parsing import parse
from rag.text import STOPWORDS, fold, numbers, prefix, stem, terms

_RELATIVE_DATE = re.compile(
    r"\b(?:(?:last|next|this|previous|past|coming)\s+(?:year|month|week|decade|century|season|spring|summer|autumn|fall|winter)"
    r"|yesterday|today|tomorrow|tonight)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\b\d[\d,.]*\b")  # whole numbers only: a question's "1980s" is a decade (below)
_YEAR = re.compile(r"1\d{3}|20\d{2}|21\d{2}")
# "the 20th century": a year as coarse as that; the evidence says it with the ordinal anywhere in it.
_CENTURY = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)[\s-]+centur(?:y|ies)\b", re.IGNORECASE)
_ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE)
# "the 1980s": said by "the 1980s" or by any year of them ("in 1985"); "the 1100s" may also mean the
# century, said by any year 1100-1199 or "the 12th century".
_DECADE = re.compile(r"\b(1\d{2}|20\d)0s\b")
_ANY_YEAR = re.compile(r"\b(?:1\d{3}|20\d{2})(?=s?\b)")
# "How many electric *trams* did …": the counted noun is the last word before the verb.
_COUNTED = re.compile(
    r"\bhow\s+(?:many|much)\s+(?:of\s+the\s+)?(?:[a-z][\w-]*\s+){0,2}?([a-z][\w-]*)"
    r"(?=\s+(?:did|do|does|were|was|are|is|have|has|had|will|would|can|could|should|may|might)\b)"
    r"|\bhow\s+(?:many|much)\s+(?:of\s+the\s+)?([a-z][\w-]*)",
    re.IGNORECASE,
)
# Counted nouns an article says in other words, counting them: "How many people were injured?" is
# answered by "two fishermen were taken to hospital", "How many times …?" by "postponed twice". The
# other word must be counted ("two fishermen", "about 3,000 residents"): "an 1875 vote of the student
# body" does not say how many people were at a regatta.
_COUNT = (
    r"(?:\d[\d,.]*|(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|twenty|thirty|"
    r"forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?)\b)"
)
_PERSONS = (
    r"persons?|individuals?|\w*(?:men|women|people|folk)|residents?|citizens?|inhabitants?|villagers?|"
    r"workers?|employees?|staff|visitors?|tourists?|spectators?|fans?|attendees?|participants?|members?|"
    r"students?|pupils?|children|adults?|soldiers?|troops|officers?|victims?|passengers?|patients?|"
    r"voters?|protesters?|refugees?|migrants?|survivors?|casualties|firefighters?|volunteers?|delegates?|"
    r"leaders?|heads? of state|players?|athletes?|runners?"
)
_SAID_OTHERWISE = {
    "people": re.compile(rf"\b{_COUNT}(?:\s+[\w-]+){{0,2}}?\s+(?:{_PERSONS})\b", re.IGNORECASE),
    "times": re.compile(rf"\b(?:once|twice|thrice)\b|\b{_COUNT}\s+(?:times|occasions)\b", re.IGNORECASE),
}
_SAID_OTHERWISE["persons"] = _SAID_OTHERWISE["individuals"] = _SAID_OTHERWISE["people"]
# Words that say "not" on their own too: "could not attend" is matched by "was unable to participate".
_NEGATION = re.compile(
    r"\b(?:not|never|no|none|nobody|nothing|neither|nor|without|n't|cannot|fail(?:ed|s)?|refus\w*|lack\w*"
    r"|unable|impossible|unwilling)\b|n't\b",
    re.IGNORECASE,
)


# Evidence that speaks of someone without the name: "he", "their", "the French president". News names
# a person once and says "the host" after, so there a question's names need not be in the evidence.
_STANDS_IN = re.compile(rf"\b(?:he|she|him|his|her|they|them|their)\b|\bthe\s+(?:[a-z]+\s+){{0,2}}(?:{ROLE_NOUNS})\b", re.IGNORECASE)


# A country and the word for its people, which news uses interchangeably ("Spain" is asked, "the
# Spanish president" is written); a name is found when any word of its family is. The rule works
# on single stems, so it keeps this short list rather than `countryinfo`'s data (which word
# matching uses: rag/answering/countries.py): there every word of an official name ("Federal
# Republic of Germany") would become a name of the country, and "republic" in an article would
# stand for Germany.
_FAMILIES = [
    "spain spanish", "france french", "britain british uk england english united kingdom", "america american us usa united states",
    "china chinese", "poland polish", "netherlands dutch holland", "switzerland swiss", "sweden swedish swede",
    "denmark danish dane", "finland finnish finn", "norway norwegian", "greece greek", "turkey turkish turk",
    "portugal portuguese", "japan japanese", "korea korean", "vietnam vietnamese", "philippines filipino",
    "israel israeli", "iran iranian", "iraq iraqi", "wales welsh", "scotland scottish scot", "ireland irish",
    "belgium belgian", "austria austrian", "hungary hungarian", "czech czechia", "peru peruvian",
    "brazil brazilian", "mexico mexican", "canada canadian", "india indian", "pakistan pakistani",
    "egypt egyptian", "lebanon lebanese", "sudan sudanese", "yemen yemeni", "kenya kenyan",
    "nigeria nigerian", "argentina argentine argentinian", "chile chilean", "cuba cuban",
]
_FAMILY_OF: dict[str, frozenset[str]] = {}
for _family in _FAMILIES:
    for _word in _family.split():
        _FAMILY_OF[stem(_word)] = _FAMILY_OF.get(stem(_word), frozenset()) | {stem(x) for x in _family.split()}


def _names(question: str) -> set[str]:
    """Stems of the names a question gives: title-case words after its first ("Millbrook",
    "Harvard"); all-capital words ("NY", "ARPNET") and two-letter ones are left out, as questions
    spell abbreviations and typos in ways the article does not."""
    tokens = re.findall(r"[\w'’-]+", question)
    return {
        stem(fold(t)) for i, t in enumerate(tokens)
        if i > 0 and len(t) >= 3 and re.fullmatch(r"[A-Z][a-z][\w'’-]*", t) and fold(t) not in STOPWORDS
    }


def _countries_act(question: str, names: list[str]) -> bool:
    """Whether every one of a question's `names` (stems, from `_names`) is a country, and one of them
    does what the question asks about (its verb's subject: "How many tanks did Germany send?"), not
    a country it only speaks of ("Which countries are threatened by Russia?")."""
    said = set().union(*countries_in(question).values())
    if not names or not all(n in said or n in _FAMILY_OF for n in names):
        return False
    return any(t.dep_ in ("nsubj", "nsubjpass") and stem(fold(t.text)) in names for t in parse(question))


# "of" and a name, or a name's possessive: a question that may give something to a name.
_GIVES_TO_A_NAME = re.compile(r"\bof\s+(?:the\s+)?[A-Z]|[A-Z][\w-]*['’]s?(?=\s)")


def _owners(text: str) -> dict[str, set[frozenset[str]]]:
    """Each thing `text` says belongs to a name (by the thing's stem), with the stems of each name
    it belongs to: "Nordline's chief executive" and "the chief executive of Nordline" both give
    "execut" -> {"nordlin"} (from spaCy's parse: a possessive name, or "of" and a name)."""
    out: dict[str, set[frozenset[str]]] = {}
    for tok in parse(text):
        if tok.pos_ not in ("NOUN", "PROPN"):
            continue
        for child in tok.children:
            owner = child if child.dep_ == "poss" and child.pos_ == "PROPN" else None
            if child.dep_ == "prep" and child.lower_ == "of":
                owner = next((t for t in child.children if t.dep_ == "pobj" and t.pos_ == "PROPN"), None)
            if owner is not None:
                name = frozenset(stem(fold(t.text)) for t in owner.subtree if t.pos_ == "PROPN")
                out.setdefault(stem(fold(tok.text)), set()).add(name)
    return out


def _owner_swapped(question: str, evidence: str, names: set[str]) -> list[str]:
    """The names the question gives a thing to ("the chief executive of Baltic Freight") that the
    evidence does not name, where it gives the same thing to another name ("Nordline's chief
    executive"): a swapped name, which the article's title (naming both companies) would otherwise
    vouch for. Where the evidence names the question's name too, it may say it otherwise ("Tesla
    became a friend of Mark Twain" for "Tesla's friend"), so that is left to the other rules.
    `names`: the question's (`_names`)."""
    # Parsing costs milliseconds: only a question that gives something to a name is parsed, and only
    # evidence that says the thing without the name.
    if not _GIVES_TO_A_NAME.search(question):
        return []
    said = set(terms(evidence))
    said_prefixes = {prefix(t) for t in said}
    if all(_found(n, said, said_prefixes) for n in names):
        return []
    unnamed = [(thing, name) for thing, names in _owners(question).items() for name in names
               if thing in said and not any(_found(n, said, said_prefixes) for n in name)]
    if not unnamed:
        return []
    given = _owners(evidence)
    return [" ".join(sorted(name)) for thing, name in unnamed if given.get(thing)]


def _found(name: str, found_terms: set[str], found_prefixes: set[str]) -> bool:
    """Whether a name's stem is among `found_terms` (by itself, its prefix or its country family)."""
    return name in found_terms or prefix(name) in found_prefixes or bool(_FAMILY_OF.get(name, frozenset()) & found_terms)


# Each rule is measured on SQuAD 2.0's unanswerable questions in docs/benchmarks.md ("Key facts").
# Other numbers than years ("number") cost more false refusals than they save and are off by default.
ALL_RULES = ("year", "number", "date", "name", "counted", "negation")
RULES = ("year", "date", "name", "counted", "negation")


def missing_facts(
    question: str, evidence: str, title: str = "", rules: tuple[str, ...] = RULES,
    article_terms: set[str] | frozenset[str] | None = None, article_prefixes: set[str] | frozenset[str] | None = None,
) -> list[str]:
    """The key facts of `question` that `evidence` (the answering sentence with its neighbours)
    and the article's `title` do not state, each as the question words it is about. Names are
    looked for in the whole article (its `article_terms`) when given: news calls a person by name once and
    "the host" after, so a name only has to belong to the article the answer comes from, as long as
    the evidence names one of the question's names or speaks of someone unnamed. `article_prefixes`
    are the prefixes of `article_terms`, where the caller keeps them (made here otherwise)."""
    seen = f"{evidence} {title}"
    folded = fold(seen)
    seen_terms = set(terms(seen))
    missing: list[str] = []
    absent = sorted(numbers(question, _NUMBER) - numbers(seen, _NUMBER))
    if "year" in rules:
        missing += [n for n in absent if _YEAR.fullmatch(n)]
        ordinals = set(_ORDINAL.findall(seen))
        missing += [m.group(0) for m in _CENTURY.finditer(question) if m.group(1) not in ordinals]
        years = _ANY_YEAR.findall(seen)

        def said(decade: str) -> bool:
            if any(y.startswith(decade) for y in years):
                return True
            century = decade[:2]
            return decade.endswith("0") and (any(y.startswith(century) for y in years) or str(int(century) + 1) in ordinals)

        missing += [m.group(0) for m in _DECADE.finditer(question) if not said(m.group(1))]
    if "number" in rules:
        missing += [n for n in absent if not _YEAR.fullmatch(n)]
    if "date" in rules:
        missing += [m.group(0) for m in _RELATIVE_DATE.finditer(question) if fold(m.group(0)) not in folded]
    seen_prefixes = {prefix(t) for t in seen_terms}
    # The article's words are looked in beside the evidence's, not merged with them: a union would
    # copy every word of the article at each call.
    places = [(seen_terms, seen_prefixes)]
    if article_terms:
        places.append((article_terms, article_prefixes if article_prefixes is not None else {prefix(t) for t in article_terms}))
    if "name" in rules:
        asked = sorted(_names(question))
        missing += [n for n in asked if not any(_found(n, *place) for place in places)]
        # ...and one of them, at least, in the evidence itself, unless it speaks of someone unnamed:
        # "What rivalry do Oxford and Cambridge have?" is not answered from a sentence on Harvard and
        # Yale because the article names Oxford elsewhere. Someone unnamed stands in for a person,
        # not for a country that acts in the question: "How many tanks did Germany send?" is not
        # answered by "The French president recalled … sending tanks".
        stands_in = _STANDS_IN.search(evidence) is not None and not _countries_act(question, asked)
        if (asked and not stands_in and not any(n in missing for n in asked)
                and not any(_found(n, seen_terms, seen_prefixes) for n in asked)):
            missing.append(" and ".join(asked))
        missing += _owner_swapped(question, evidence, set(asked))
    counted_word = counted_noun(question) if "counted" in rules else None
    if counted_word:
        thing = stem(fold(counted_word))  # like a name: it only has to belong to the article
        otherwise = _SAID_OTHERWISE.get(fold(counted_word))
        if not any(thing in found or prefix(thing) in prefixes for found, prefixes in places) and not (
            otherwise and otherwise.search(evidence)
        ):
            missing.append(counted_word)
    if "negation" in rules and _NEGATION.search(question.replace("’", "'")) and not _NEGATION.search(seen.replace("’", "'")):
        missing.append("not")
    return missing


_PEOPLE_ASKED = frozenset({"people", "persons", "individuals"})
_PERSON_WORDS = frozenset({"people", "persons", "individuals", "police", "staff", "crew", "faculty", "alumni", "heads"})
_IS_PERSONS = re.compile(f"(?:{_PERSONS})", re.IGNORECASE)
_PEOPLE_ENDINGS = ("ers", "ors", "ists", "ians", "ents", "ates", "ees", "als")
_COUNT_IN_WORDS = re.compile(rf"\b{_COUNT}", re.IGNORECASE)
_FOLLOWING = re.compile(r"[A-Za-z][\w'’-]*")


def counted_noun(question: str) -> str | None:
    """The noun a "how many" question counts, as written ("trams" of "How many electric trams did
    …?"); None where it counts none, or a stopword."""
    m = _COUNTED.search(question)
    word = (m.group(1) or m.group(2)) if m else None
    return word if word and fold(word) not in STOPWORDS else None


def counts_another_thing(question: str, sentence: str, start: int, end: int) -> bool:
    """Whether the span `start:end` of `sentence` counts something other than what the "how many"
    question counts: "300" or "300 homes" of "about 300 homes were damaged" for "How many people
    were hurt?". Only for a question that counts people in those words ("people", "persons",
    "individuals"), and only a plain difference counts, people against things, as the words for
    people are many ("1.3 million residents", "150 Nobel laureates"). The thing the span's last
    number counts is the plural word among the next three, before a stopword: a number with no
    plural after it ("two of the four", "rose by 12") may count anything."""
    noun = fold(counted_noun(question) or "")
    if noun not in _PEOPLE_ASKED:
        return False  # held out on SQuAD, "How many Panthers …?" and the like lost as many as they won
    last = None
    for last in _COUNT_IN_WORDS.finditer(sentence, start, end):
        pass
    if last is None:
        return False
    for word in _FOLLOWING.findall(sentence[last.end():])[:3]:
        folded = fold(word)
        if folded in STOPWORDS or prefix(stem(folded)) == prefix(stem(noun)):
            return False
        if word.islower() and len(folded) > 3 and folded.endswith("s") and not folded.endswith("ss"):
            return not _people(folded)  # the question counts people
    return False


# "two of the four floodgates": the part ("two"), then the whole it is taken from ("four"). "One of
# the 11 megaregions" names one thing, and the count is the whole.
_PARTITIVE = re.compile(
    rf"\b(?!one\b)({_COUNT})\s+of\s+(?:(?:the|its|their|his|her|our|these|those)\s+)?(?:[\w-]+['’]s?\s+)?"
    rf"(?:([a-z]+)\s+)?$",  # "40 of its usual 1,200 daily services"
    re.IGNORECASE,
)
# "How many lines does the network have?", "How many are there?": the whole is asked, not a part.
_ASKS_THE_WHOLE = re.compile(r"\b(?:do|does|did)\b.*\b(?:have|has)\b|\b(?:are|were)\s+there\b|\bin (?:total|all)\b",
                             re.IGNORECASE)


def part_of_whole(question: str, sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """Where the span `start:end` of `sentence` opens with the number of a whole that another
    number takes a part of ("four" of "two of the four floodgates no longer close"), the part's
    (start, end): what the sentence says of the floodgates it says of two of them. None where the
    question asks for the whole ("How many floodgates does the dam have?") and where no part is
    taken. On SQuAD's answerable "how many" questions (both files), the rule moves 4 spans from the
    whole to the part that is the gold answer, and 1 gold answer the wrong way (a throw-away probe of the
    candidate sentences that hold the gold)."""
    if not _COUNT_IN_WORDS.match(sentence, start) or (
        _ASKS_THE_WHOLE.search(question) and not re.search(r"\bhow many of\b", question, re.IGNORECASE)
    ):
        return None
    at = max(0, start - 60)
    m = _PARTITIVE.search(sentence[at:start])
    if m is None or (m.group(2) and QuestionWords(question).says(m.group(2))):
        return None  # "How many services does it usually run?" of "40 of its usual 1,200 services": the whole
    return at + m.start(1), at + m.end(1)


# A number and the next three words, none a break ("two field hospitals", "400 soldiers", "a
# 61-yard return"); a number of a range before it counts the same thing ("from 415,000 to 587,000
# square kilometres").
_NUMBER_AND_WORDS = re.compile(rf"\b({_COUNT})(?=((?:[\s-]+[A-Za-z][\w'’]*){{1,3}}))", re.IGNORECASE)
_RANGE_BEFORE = re.compile(rf"\b({_COUNT})\s*(?:to|and|or|-|–)\s*$", re.IGNORECASE)
# The noun right after "how many": "species" of "How many species of trees …?", beside the counted
# noun `counted_noun` reads ("trees").
_FIRST_COUNTED = re.compile(r"\bhow\s+many\s+(?:of\s+the\s+)?([a-z][\w-]*)", re.IGNORECASE)


def number_counting(question: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) in `sentence` of the one number that counts the noun a "how many" question
    counts, within the three words after it ("two" of "400 soldiers and two field hospitals" for
    "How many hospitals …?"); None where no number or more than one does (either noun of "How many
    species of trees …?" counts). On SQuAD's answerable "how many" questions, such a number is the
    gold answer 155 times in 202 in the sentences that hold one (a throw-away probe)."""
    nouns = {counted_noun(question)}
    if (first := _FIRST_COUNTED.search(question)) and fold(first.group(1)) not in STOPWORDS:
        nouns.add(first.group(1))
    wants = {prefix(stem(fold(n))) for n in nouns if n}
    if not wants:
        return None
    found = []
    for m in _NUMBER_AND_WORDS.finditer(sentence):
        for word in re.split(r"[\s-]+", m.group(2).strip(" -")):
            if prefix(stem(fold(word))) in wants:
                found.append(m.span(1))
                if (before := _RANGE_BEFORE.search(sentence, 0, m.start())) is not None:
                    found.append(before.span(1))
                break
            if fold(word) in STOPWORDS:
                break  # "one of four teams": the words after "of" count another thing
    return found[0] if len(found) == 1 else None


def _people(word: str) -> bool:
    """Whether a plural (folded) is a word for people: one of `_PERSONS`, or one of their endings
    ("laureates", "civilians", "scientists", "officials")."""
    return bool(_IS_PERSONS.fullmatch(word)) or word in _PERSON_WORDS or word.endswith(_PEOPLE_ENDINGS)


def evidence_of(corpus, article_id: str, index: int) -> str:
    """The answering sentence with its neighbours in the same paragraph: where a key fact may be."""
    sents = corpus.sentences(article_id)
    here = sents[index]
    keep = [j for j in (index - 1, index, index + 1) if 0 <= j < len(sents) and sents[j].paragraph == here.paragraph]
    return " ".join(corpus.sentence_text(article_id, j) for j in keep)

