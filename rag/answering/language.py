"""Question language: what a question asks for (a person, a date, a number, a place), the names in
questions and articles, and the span of a sentence that answers.

Every "is this a name" rule lives here, each named for the job it does: the kinds of answer a
question can want (`TYPE_PATTERNS`), names in an article (`MULTI_NAME`), names a follow-up can
refer back to (`NAME_WITH_PARTICLES`), and the names and numbers a claim asserts (`FACT`).
"""

from __future__ import annotations

import re

from functools import lru_cache

from rag.text import NUMBER, STOPWORDS, fold, prefix, stem, words

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|twenty|thirty|forty|"
    "fifty|hundred|hundreds|thousand|thousands|million|millions|billion|billions|half|several"
)
# Nouns that stand for a person named elsewhere, after "the" ("the host of the meeting", "the French
# president"): the antecedent rule looks back for the name, and a question's name counts as said.
ROLE_NOUNS = (
    r"host|president|chancellor|minister|leader|head|official|spokes(?:man|woman|person)|chief|secretary|premier|"
    r"king|queen|mayor|governor|founder|author|player|coach|chairman|chairwoman|ambassador|envoy|general"
)
TYPE_PATTERNS = {
    "date": re.compile(
        rf"\b(?:\d{{1,2}}\s+(?:{_MONTHS})\w*(?:\s+\d{{4}})?|(?:{_MONTHS})\w*\.?(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?"
        rf"|(?:in|since|by|until|from)\s+\d{{4}}s?|\d{{4}}s?|(?:{_DAYS})|\d+(?:st|nd|rd|th)\s+century"
        rf"|(?:last|next|this)\s+(?:year|month|week)|\d+\s+(?:years?|months?|weeks?|days?)\s+ago)\b",
        re.IGNORECASE,
    ),
    "number": re.compile(
        rf"\b(?:[$€£]\s?)?\d[\d,.]*(?:\s?%|\s+(?:per\s?cent|percent|million|billion|thousand))?"
        rf"|\b(?:{_NUMBER_WORDS})(?:[\s-]+(?:{_NUMBER_WORDS}))*\b",
        re.IGNORECASE,
    ),
    "person": re.compile(r"\b[A-Z][\w'’.-]+(?:\s+(?:de|van|von|da|al|bin|la|le)?\s*[A-Z][\w'’.-]+)*"),
    "place": re.compile(r"\b(?:in|at|from|to|near)\s+((?:the\s+)?[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+)*)"),
}


# Two or more capitalised words in a row, not at a sentence start: "Emmanuel Macron", "Olaf Scholz".
MULTI_NAME = re.compile(r"(?<![.!?\n] )(?<!^)\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)+")
# Capitalised words in a row, with the lower-case particles of names ("Marieke de Vos").
NAME_WITH_PARTICLES = re.compile(
    r"\b[A-Z][\w'’.-]*(?:\s+(?:(?:de|van|von|der|den|da|di|del|della|du|la|le|al|bin|ibn)\s+)?[A-Z][\w'’.-]*)*"
)
# Names and numbers are the facts an LLM invents: a claim naming one that its passage (and the
# question) never mentions is not supported, however many other words it shares.
FACT = re.compile(rf"(?<=\s)[A-Z][\w'’-]+|{NUMBER.pattern}")


def article_names(text: str) -> set[str]:
    """Lower-cased words that appear inside multi-word capitalised names in an article."""
    found: set[str] = set()
    for m in MULTI_NAME.finditer(text):
        found.update(fold(w) for w in m.group(0).split())
    return found


def question_names(question: str) -> set[str]:
    """Stems of the capitalised words inside a question (the names it asks about)."""
    tokens = re.findall(r"[\w'’-]+", question)
    return {
        stem(fold(t)) for i, t in enumerate(tokens)
        if i > 0 and t[:1].isupper() and fold(t) not in STOPWORDS
    }


def question_type(question: str) -> str | None:
    q = fold(question).strip()
    if re.search(r"\b(how many|how much|how long|how old|how far|what percentage|what number)\b", q):
        return "number"
    if re.search(r"\b(when|what year|what date|which year|what day|what month|what century)\b", q):
        return "date"
    if re.search(r"^(who|whom|whose)\b|\b(who|whom)\b", q) or re.search(
        r"\b(what|which)\s+(?:\w+\s+){0,2}(person|people|man|woman|leader|president|minister|king|queen|"
        r"official|chancellor|author|player|team|company|organi[sz]ation|group|party)\b",
        q,
    ):
        return "person"
    if re.search(r"\b(where|what country|which country|what city|which city|what place)\b", q):
        return "place"
    return None


# "What storm …?", "Which stadium …?": the noun a question asks for a name of.
_ASKS_FOR_NAMED = re.compile(r"^\W*(?:what|which)\s+([a-z]{3,})\b", re.IGNORECASE)
_CAPITALISED = r"(?:[A-Z][\w'’.&-]*)"
_TITLES = rf"(?:{ROLE_NOUNS}|senator|judge|bishop|pope|emperor|prince|princess|duke|admiral|captain)"


def asked_noun(question: str) -> str | None:
    """The noun a "what/which <noun>" question asks about, as written ("storm" of "What storm hit the
    coast?"); None for other questions, and for a name ("Which Yale alumnus …?" asks about a name,
    not for one)."""
    m = _ASKS_FOR_NAMED.match(question)
    if not m or not m.group(1).islower() or fold(m.group(1)) in STOPWORDS:
        return None
    return m.group(1)


def named_as_asked(question: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) in `sentence` of the one name that holds the noun a "what/which <noun>" question
    asks about: "Storm Hilda" for "What storm hit the coast?", "Levi's Stadium" for "Which stadium
    …?", "IF Metall union" for "Which union …?". The reader, fitted to leave the question's own words out of its spans, cuts such names;
    None where the question asks otherwise, the sentence has no such name or more than one, or the
    question names it already."""
    noun = asked_noun(question)
    if noun is None:
        return None
    head = rf"{noun[0].upper()}{re.escape(noun[1:])}s?"
    # ...or in lower case after the name it is "the" of: "the IF Metall union" for "Which union …?",
    # not "NDS, a Cisco Systems company", which describes.
    after_name = rf"(?<=[Tt]he\s)(?:{_CAPITALISED}\s+){{1,3}}{re.escape(noun)}s?"
    found = [f for f in re.finditer(rf"\b(?:(?:{_CAPITALISED}\s+){{0,3}}{head}(?:\s+{_CAPITALISED}){{0,3}}|{after_name})\b",
                                    sentence)
             if len(f.group(0).split()) >= 2]
    if len(found) != 1:
        return None
    a, z = found[0].span()
    words = sentence[a:z].split()
    # "The" at the start of a sentence (not an acronym that spells a stopword: "IF Metall")
    while words and fold(words[0]) in STOPWORDS and not (len(words[0]) > 1 and words[0].isupper()):
        a += len(words[0]) + 1
        words = words[1:]
    if len(words) < 2 or fold(sentence[a:z]) in fold(question):
        return None
    if re.fullmatch(_TITLES, noun) and fold(words[0]).rstrip("s") == noun:
        a += len(words[0]) + 1  # "Which king …?": "Charles III", the title left out as the question says it
    return a, z


_ROLE = re.compile(
    r"\b(?:(?:a|an|the|its|his|her|their)\s+)?(?:[a-z][\w-]*\s+){0,3}"
    r"(?:minister|secretary|president|chancellor|prime minister|premier|king|queen|prince|princess|"
    r"ambassador|envoy|spokes(?:man|woman|person)|chief|head|director|governor|mayor|general|leader|"
    r"official|officials|delegation|representative|senator|judge|ceo|chairman|chairwoman|founder)"
    r"(?:\s+of\s+(?:the\s+)?[\w-]+(?:\s+[A-Z][\w-]+)*)?\b"
)


def type_spans(sentence: str, qtype: str | None, question_words: set[str], names: set[str]) -> list[tuple[int, int]]:
    """Spans of the sentence of the kind the question asks for that the question does not already name.

    For people, a capitalised word counts only inside a multi-word name or when the article
    names someone with it elsewhere (`names`): "Macron" after "Emmanuel Macron", not "Russia".
    """
    if qtype is None:
        return []
    spans = []
    matches = list(TYPE_PATTERNS[qtype].finditer(sentence))
    if qtype == "person":
        matches += list(_ROLE.finditer(sentence))
    for m in matches:
        s, e = m.span(1 if qtype == "place" else 0)
        if m.re is _ROLE:
            # "sent a deputy secretary of state", "with a deputy …": the role starts at its
            # article, or after a leading preposition when it has none.
            piece = sentence[s:e]
            head = piece.split(" of ", 1)[0]  # not the article of "… of the treasury"
            article = re.search(r"\b(?:a|an|the|its|his|her|their)\s", head)
            lead = re.match(r"(?:(?:with|by|and|of|for|to|from|as|at|in|on)\s+)+", piece)
            s += article.start() if article else (lead.end() if lead else 0)
        # A name at the end of a sentence keeps its own full stop out ("Le Goff.", not "U.S.").
        while e - s > 2 and sentence[e - 1] in ".,;:" and not sentence[e - 3 : e - 1].startswith("."):
            e -= 1
        piece = sentence[s:e]
        toks = {stem(w) for w in words(piece)} - {stem(w) for w in STOPWORDS}
        if not toks or toks <= question_words:
            continue
        if qtype == "person" and m.re is TYPE_PATTERNS["person"]:
            parts = piece.split()
            if len(parts) == 1 and (s == 0 or fold(piece) not in names):
                continue
        spans.append((s, e))
    return spans


# Where a sentence joins clauses: "…, and the US, …", "…; …", "…, while …", "…, but …".
_CLAUSE_BREAK = re.compile(r";\s+|,\s+(?:and|but|while|whereas)\s+|\s+(?:whereas|while)\s+")


def clause_spans(sentence: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _CLAUSE_BREAK.finditer(sentence):
        spans.append((start, m.start()))
        start = m.start() + 1
    spans.append((start, len(sentence)))
    return spans


def highlight_span(sentence: str, offset: int, qtype, question_words, names) -> tuple[int, int] | None:
    """The answer span to highlight: the one candidate of the sentence, or, when it holds several,
    the one candidate of the clause that holds most of the question's words ("…a deputy foreign
    minister, and the US …, with a deputy secretary of state" for "Who represented the US?")."""
    spans = type_spans(sentence, qtype, question_words, names)
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    if len(merged) > 1:
        scored = []
        for cs, ce in clause_spans(sentence):
            own = {stem(w) for w in words(sentence[cs:ce])}
            inside = [(s, e) for s, e in merged if cs <= s and e <= ce]
            scored.append((len(own & question_words), inside))
        scored.sort(key=lambda x: -x[0])
        best_overlap, inside = scored[0]
        clear_winner = best_overlap > 0 and (len(scored) == 1 or scored[1][0] < best_overlap)
        merged = inside if clear_winner else merged
    if len(merged) > 1 and qtype == "person":
        # "the German chancellor, Olaf Scholz": the name answers "who", the title describes them.
        named = [(s, e) for s, e in merged if sentence[s : e][:1].isupper()]
        merged = named if len(named) == 1 else merged
    if len(merged) != 1:
        return None
    return offset + merged[0][0], offset + merged[0][1]


_WH = re.compile(
    r"\b(how\s+(?:many|much|long|old|far|big|large|often)|how|who|whom|whose|what|which|when|where|why)\b",
    re.IGNORECASE,
)


# A question asked with an auxiliary verb first: "Did Germany agree to send missiles?"
YES_NO = re.compile(
    r"^\s*(is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might|must)\s+(.+?)[?.!]*\s*$",
    re.IGNORECASE,
)


_WHO_OR_WHAT_IS = re.compile(r"\s*(who|what)\s+(?:is|was|are|were)\s+(.+)", re.IGNORECASE)


def asked_what_is(question: str) -> tuple[str, str] | None:
    """("who" or "what", what it asks about) of a question that asks who or what something is:
    "Who is Pedro Sánchez?" -> ("who", "Pedro Sánchez"); None for any other question. The closing
    punctuation is stripped before matching, so the pattern never backtracks over a long tail."""
    m = _WHO_OR_WHAT_IS.fullmatch(question.rstrip(" \t\n?.!"))
    return (m.group(1).lower(), m.group(2)) if m else None


def is_yes_no(question: str) -> bool:
    """A yes/no question: an auxiliary first, no question word, no alternatives to choose from
    ("Is it high or low?" is answered with one of them)."""
    return bool(YES_NO.match(question)) and wh_class(question) == "none" and not re.search(r"\bor\b", question, re.IGNORECASE)


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


@lru_cache(maxsize=100_000)
def _stem_of(word: str) -> str:
    """The stem of one token, cached: the same words come back in every sentence."""
    return stem(fold(word))


class QuestionWords:
    """A question's content words, to ask whether it already says a word (or one of its family)."""

    def __init__(self, question: str):
        self.stems = {stem(w) for w in re.findall(r"\w+", fold(question)) if w not in STOPWORDS}
        self.prefixes = {prefix(t) for t in self.stems}
        self._said: dict[str, bool] = {}

    def says(self, word: str) -> bool:
        """The question has this word, or one of its family ("Italian" for "Italy")."""
        found = self._said.get(word)
        if found is None:
            t = _stem_of(word)
            found = self._said[word] = t in self.stems or prefix(t) in self.prefixes
        return found
