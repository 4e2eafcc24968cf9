"""The whole phrase a short answer is part of: the noun a "what/which" question asks about, the
subject of "… is the <noun>", and the rest of a list.

The reader was fitted on SQuAD's spans, which rarely repeat the question's words, and its prior
(`reader.span_prior`) holds spans short. So "What anniversary did the summit coincide with?" was
answered "second" of "the second anniversary of the Russian invasion", "Which meeting could Macron
not attend?" "Saturday's videoconference" of "Saturday's videoconference meeting of G-7 leaders",
"What is the main problem facing the allies?" "rhetoric and facts" of "The gap between rhetoric
and facts is the main problem …", and "What is the coalition going to give Ukraine?" "bombs" of
"long-range missiles and bombs". Here the span grows to the phrase spaCy's parse puts it in: the
noun asked about with what it takes ("of …"), the subject that "is" the noun asked about, and
every item of the list the span is one of. Only where the text beside the
span shows such a phrase is the sentence parsed (`parsing.parse`, cached).
"""

from __future__ import annotations

import re

from rag.answering.language import asked_noun, asked_what_is
from rag.answering.lists import OTHER_THAN
from rag.answering.parsing import parse
from rag.text import fold, stem

# Where a span may be one item of a list: a comma, "and" or "or" right before or after it.
_LIST_BEFORE = re.compile(r"(?:,|\band|\bor)\s*$", re.IGNORECASE)
_LIST_AFTER = re.compile(r"^\s*(?:,|and\b|or\b)", re.IGNORECASE)
# How a span's word may modify the noun asked about: "second anniversary", "videoconference
# meeting", "Saturday's meeting".
_MODIFIES = frozenset({"amod", "compound", "nummod", "poss", "nmod", "npadvmod"})
_SKIPPED_AT_START = frozenset({"det", "punct", "cc"})
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth"
                      r"|\w+tieth|hundredth|thousandth")
_SEVERAL = re.compile(r"^\W*(?:who|what|which)\s+(?:were|are)\b", re.IGNORECASE)
_BE = frozenset({"is", "was", "are", "were", "be", "been", "remains", "remained"})
_COPULA = re.compile(r"\b(?:is|was|are|were|remains|remained)\b", re.IGNORECASE)


def whole_phrase(question: str, sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """(start, end) in `sentence` of the phrase the span `start:end` is part of, where it is larger:
    for "What is the <noun> …?", the subject of "… is the <noun>" the span is part of (up to a comma
    after its noun: a span inside what the comma sets off gives way to the subject); for a
    "what/which <noun>" question, the noun asked about, which the span modifies, with the "of …"
    it takes; else the whole list the span is one item of. None where none applies."""
    noun = asked_noun(question)
    after = sentence[end : end + 60]
    asks_noun = noun is not None and re.match(rf"^(?:\S*\s+){{0,2}}{re.escape(noun)}", fold(after)) is not None
    in_list = _LIST_BEFORE.search(sentence[:start]) is not None or _LIST_AFTER.match(sentence[end:]) is not None
    what_is = asked_what_is(question)
    defines = what_is is not None and what_is[0] == "what" and _COPULA.search(sentence) is not None
    # The noun of "What is the <noun> …?", parsed once (a few words): for the subject of "… is the
    # <noun>" and for whether one thing is asked.
    what_noun = _head_noun(what_is[1]) if what_is is not None and (defines or noun is None) else None
    # "What is a descriptive term for …?" asks for one thing as "What term …?" does.
    one = noun if noun is not None else what_noun
    several = _asks_for_several(question, one)
    # Not where the question asks for one thing ("What company …?") or about the others ("Other
    # than the 1980s, in which decade …?").
    whole_list = in_list and not OTHER_THAN.search(question) and (one is None or several)
    if not (asks_noun or whole_list or defines):
        return None  # nothing beside the span suggests a larger phrase: no parse of the sentence
    doc = parse(sentence)
    inside = [t for t in doc if t.idx >= start and t.idx + len(t) <= end]
    if not inside:
        return None
    root = next((t for t in inside if not start <= t.head.idx < end or t.head is t), inside[0])
    grown = _subject_of(doc, what_noun, inside) if defines else None
    if grown is not None and not grown[0] <= start < end <= grown[1]:
        return grown  # the subject, in place of a span inside what a comma sets off after it
    if grown is None and asks_noun:
        head = root.head
        if (root.dep_ in _MODIFIES and head.pos_ in ("NOUN", "PROPN") and stem(fold(head.text)) == stem(noun)
                and (_counts_or_orders(root) or _takes_of(head))):
            # "second" of "the second anniversary of …", "Saturday's videoconference" of "… meeting of
            # G-7 leaders"; not "Norman" of "Norman culture", a whole answer as it stands (held out on
            # SQuAD, adding the noun alone lost more than it won).
            grown = _noun_phrase(head)
    if grown is None and whole_list and (
        root.dep_ == "conj" or (several and any(c.dep_ == "conj" for c in root.children))
    ):
        # The last items of a list ("bombs" of "long-range missiles and bombs") stand for all of it;
        # the first only where the question asks for several ("Which countries …?", "Who were …?"):
        # else the first may be the one asked about.
        grown = _list_of(root)
    if grown is None:
        return None
    a, z = min(grown[0], start), max(grown[1], end)
    return (a, z) if (a, z) != (start, end) else None


def _head_noun(phrase: str) -> str | None:
    """The noun a phrase is about ("problem" of "the main problem facing the allies"), folded."""
    return next((fold(t.text) for t in parse(phrase) if t.dep_ == "ROOT" and t.pos_ in ("NOUN", "PROPN")), None)


def _subject_of(doc, noun: str | None, inside: list) -> tuple[int, int] | None:
    """Where the sentence says "<subject> is the <noun>" ("The gap between rhetoric and facts is the
    main problem facing allies") and the span is part of the subject: the whole subject."""
    if noun is None:
        return None
    for t in doc:
        if t.dep_ == "attr" and stem(fold(t.text)) == stem(noun) and t.head.lower_ in _BE:
            subject = next((c for c in t.head.children if c.dep_ in ("nsubj", "nsubjpass")), None)
            if subject is not None and all(subject.left_edge.i <= x.i <= subject.right_edge.i for x in inside):
                return before_comma(subject)  # not "market, which opened in 1896," (nor the reader's "1896")
    return None


def before_comma(noun) -> tuple[int, int]:
    """(start, end) of `noun` with its words, without the article it opens with, up to what a comma
    after it sets off: "The market, which opened in 1896, is …" is "market"."""
    first = noun.left_edge
    while first.dep_ in _SKIPPED_AT_START and first.i < noun.i:
        first = first.nbor()
    last = next((t.nbor(-1) for t in noun.subtree if t.i > noun.i and t.text == ","), noun.right_edge)
    return first.idx, last.idx + len(last)


def _asks_for_several(question: str, noun: str | None) -> bool:
    """"Which countries …?", "What weapons …?", "Who were …?": the answer is more than one thing."""
    if noun is not None and re.search(r"[^suia]s$", noun):
        return True
    return _SEVERAL.match(question) is not None


def _counts_or_orders(word) -> bool:
    """A number or an ordinal: "two", "second", "50th"."""
    return word.pos_ == "NUM" or _ORDINAL.fullmatch(word.lower_) is not None


def _takes_of(noun) -> bool:
    return any(c.dep_ == "prep" and c.lower_ == "of" for c in noun.rights)


def _noun_phrase(noun) -> tuple[int, int]:
    """The noun with the words before it that belong to it and the "of …" after it."""
    left = [t for t in noun.lefts if t.dep_ not in _SKIPPED_AT_START]
    first = min((t.left_edge for t in left), key=lambda t: t.i, default=noun)
    last = noun
    for child in noun.rights:
        if child.dep_ == "prep" and child.lower_ == "of":
            last = child.right_edge
    return first.idx, last.idx + len(last)


def _list_of(item) -> tuple[int, int] | None:
    """From the first item of the list `item` belongs to to the end of its last, each item with the
    words before it that belong to it; None where the items are not things (nouns, names, numbers)
    of one kind."""
    first = item
    while first.dep_ == "conj" and first.head is not first:
        first = first.head
    items = [first, *first.conjuncts]
    kinds = {t.pos_ for t in items}
    if len(kinds) > 1 or not kinds <= {"NOUN", "PROPN", "NUM"}:
        return None  # not one list of things: "Owen Daniels and a 22-yard throw", or of clauses
    last = max(items, key=lambda t: t.i)
    lead = [t for t in first.lefts if t.dep_ not in _SKIPPED_AT_START]
    begin = min((t.left_edge for t in lead), key=lambda t: t.i, default=first)
    return begin.idx, last.idx + len(last)
