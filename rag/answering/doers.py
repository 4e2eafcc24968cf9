"""Who did it: a sentence that says a thing was done, but not by whom, does not answer "who".

"Who founded Nordcell?" is not answered by "Nordcell was founded in 2012 and supplies batteries to
three European carmakers": the sentence says the founding, in the passive, and names no founder.
The reader, which sees the question's words around a name, would answer "three European
carmakers". Where the sentence does name the doer, it is the subject of the verb asked about
("A district court … blocked the plan"), and not the one who reports it ("…, police said").
Read off spaCy's parse of the question and of the sentence.
"""

from __future__ import annotations

import re

from rag.answering.clauses import SAYING, verb_stem
from rag.answering.parsing import parse
from rag.answering.phrases import before_comma
from rag.text import prefix

# "Who founded …?", "Who wrote …?": not "Who is …?", which asks for a person, not a doer.
_WHO_DID = re.compile(r"^\W*who\s+(?!(?:is|was|are|were|be|been|'s)\b)\w", re.IGNORECASE)
# A question that asks who did not do something ("Who did not comment?").
_NEGATED = re.compile(r"\b(?:not|never|no)\b|n't\b", re.IGNORECASE)


def _asked_verb(question: str) -> str | None:
    """The verb (`verb_stem`) whose doer "who <verb> …?" asks for; None for any other question ("Who
    did the mayor meet?" asks for the object)."""
    if not _WHO_DID.match(question):
        return None
    q = parse(question)
    verb = q[0].head
    if q[0].dep_ != "nsubj" or verb.pos_ != "VERB" or any(
        c.dep_ in ("nsubj", "nsubjpass") and c.i != 0 for c in verb.children
    ):
        return None
    return verb_stem(verb.text)


def names_no_doer(question: str, sentence: str) -> bool:
    """Whether "who <verb> …?" asks for the doer of a verb that `sentence` says only in the passive
    with no doer ("was founded in 2012", not "was founded by Ann Lee" nor "Ann Lee founded it"), or
    only as not done ("workers could no longer pay their bills" for "Who will pay for the strike?").
    False where the question asks otherwise or the sentence does not say the verb: that is for the
    other rules to judge."""
    want = _asked_verb(question)
    if want is None:
        return False
    said = [t for t in parse(sentence) if t.pos_ in ("VERB", "AUX") and verb_stem(t.text) == want]
    denies = not _NEGATED.search(question)  # "Who did not comment?" is answered by "Reid did not comment"
    return bool(said) and all((_passive(t) and not _by_after(t)) or (denies and _denied(t)) for t in said)


def doer_in(question: str, sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """(start, end) in `sentence` of the doer "who <verb> …?" asks for, where the span `start:end`
    lies outside it: the subject of the verb said in the active ("district court" of "A district
    court on Thursday blocked the city's plan" for "Who blocked the plan?", not "Brenton"), the name
    set beside it ("The mayor, Ann Lee, opened …": "Ann Lee"). None where the question asks
    otherwise, the sentence does not say the verb, its subject is a pronoun ("he", "who": whom it
    means is given elsewhere) or holds the span."""
    want = _asked_verb(question)
    if want is None:
        return None
    for verb in parse(sentence):
        if verb.pos_ != "VERB" or verb_stem(verb.text) != want:
            continue
        core = _subject_phrase(verb, with_name=False)
        if core is None:
            continue  # no subject, or "he", "who"
        phrase = _subject_phrase(verb)
        if any(p[0] <= start and end <= p[1] for p in (phrase, core)):
            return None  # the reader's span is part of it ("mayor" or "Ann Lee" of "The mayor, Ann Lee")
        return phrase
    return None


def reported_doer(question: str, sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """Where the span `start:end` is the one who reports what happened ("Marta Quinn" of "Rescue
    teams pulled a girl from the rubble, the agency's director, Marta Quinn, told reporters") and
    "who <verb> …?" asks for a doer of something else than saying ("Who rescued the girl?"): the
    subject of what is reported ("Rescue teams"), else None."""
    want = _asked_verb(question)
    if want is None or want in SAYING:
        return None
    doc = parse(sentence)
    speaker = _speaker(doc, start, end)
    if speaker is None:
        return None
    reported = next((c for c in speaker.head.children if c.dep_ == "ccomp" and c.pos_ == "VERB"), None)
    if reported is None or any(verb_stem(t.text) == want for t in doc if t.pos_ == "VERB"
                               and not reported.left_edge.i <= t.i <= reported.right_edge.i):
        return None  # "Paul Everett, who led the project, said …" for "Who led the project?": the speaker
    # What is reported must say the question's verb in some form ("Rescue teams" for "rescued"):
    # "the building needed repairs" does not say who will pay for them.
    if not _in_some_form(reported.subtree, want):
        return None
    return _subject_phrase(reported)


def only_reports(question: str, sentence: str, start: int, end: int) -> bool:
    """Whether the span `start:end` is only the one who says something ("Paul Everett" of "Deputy
    mayor Paul Everett said the building needed repairs costing at least $9 million") where "who
    <verb> …?" asks for the doer of something else ("Who will pay for the repairs?") and the sentence
    says that verb in no form: it does not say who did it."""
    want = _asked_verb(question)
    if want is None or want in SAYING:
        return False
    doc = parse(sentence)
    return _speaker(doc, start, end) is not None and not _in_some_form(doc, want)


def _in_some_form(tokens, want: str) -> bool:
    """Whether any of the tokens says the verb `want` (a `verb_stem`) in some form, as any part of
    speech ("Rescue teams" says "rescued")."""
    return any(prefix(verb_stem(t.text)) == prefix(want) for t in tokens if t.is_alpha)


def _denied(verb) -> bool:
    """"did not comment", "could no longer pay", "never paid"."""
    return any(c.dep_ == "neg" or c.lower_ in ("never", "no") or (c.dep_ == "advmod" and c.lower_ == "longer")
               for c in verb.children)


def _speaker(doc, start: int, end: int):
    """The subject of a saying verb ("said", "told") that the span `start:end` of the parsed sentence
    is (or names: "the agency's director, Marta Quinn, told …"), else None."""
    inside = [t for t in doc if start <= t.idx and t.idx + len(t) <= end]
    speaker = next((t for t in inside if not start <= t.head.idx < end), None)
    if speaker is not None and speaker.dep_ == "appos":
        speaker = speaker.head
    if speaker is None or speaker.dep_ != "nsubj" or verb_stem(speaker.head.text) not in SAYING:
        return None
    return speaker


def _subject_phrase(verb, with_name: bool = True) -> tuple[int, int] | None:
    """(start, end) of the verb's subject, a noun or a name (not "he", "who"), without its article and
    up to a comma after it, or (`with_name`) the name set beside it; None where it has none."""
    subject = next((c for c in verb.children if c.dep_ == "nsubj"), None)
    if subject is None or subject.pos_ not in ("NOUN", "PROPN"):
        return None
    name = next((c for c in subject.children if c.dep_ == "appos" and c.pos_ == "PROPN"), None)
    if with_name and name is not None:
        return name.left_edge.idx, name.right_edge.idx + len(name.right_edge)  # "The mayor, Ann Lee, …"
    return before_comma(subject)


def _by_after(verb) -> bool:
    """A "by" after the verb: its doer. Any "by", not only the one spaCy hangs on the verb: it hangs
    "developed for the inventor Charles Porter by Charles Richard" on the inventor."""
    return any(t.lower_ == "by" for t in verb.doc[verb.i + 1 :])


def _passive(verb) -> bool:
    """"was founded", or "founded in 2012" hanging on a noun ("Nordcell, founded in 2012, …")."""
    return any(c.dep_ in ("nsubjpass", "auxpass") for c in verb.children) or (verb.dep_ == "acl" and verb.tag_ == "VBN")
