"""Who did it: a sentence that says a thing was done, but not by whom, does not answer "who".

"Who founded Nordcell?" is not answered by "Nordcell was founded in 2012 and supplies batteries to
three European carmakers": the sentence says the founding, in the passive, and names no founder.
The reader, which sees the question's words around a name, would answer "three European
carmakers". Read off spaCy's parse of the question and of the sentence.
"""

from __future__ import annotations

import re

from rag.answering.parsing import parse
from rag.text import base_stem, fold, stem

# "Who founded …?", "Who wrote …?": not "Who is …?", which asks for a person, not a doer.
_WHO_DID = re.compile(r"^\W*who\s+(?!(?:is|was|are|were|be|been|'s)\b)\w", re.IGNORECASE)


def _verb(word: str) -> str:
    return base_stem(stem(fold(word)))


def _asked_verb(question: str) -> str | None:
    """The verb (`_verb`) whose doer "who <verb> …?" asks for; None for any other question ("Who did
    the mayor meet?" asks for the object)."""
    if not _WHO_DID.match(question):
        return None
    q = parse(question)
    verb = q[0].head
    if q[0].dep_ != "nsubj" or verb.pos_ != "VERB" or any(
        c.dep_ in ("nsubj", "nsubjpass") and c.i != 0 for c in verb.children
    ):
        return None
    return _verb(verb.text)


def names_no_doer(question: str, sentence: str) -> bool:
    """Whether "who <verb> …?" asks for the doer of a verb that `sentence` says only in the passive
    with no doer ("was founded in 2012", not "was founded by Ann Lee" nor "Ann Lee founded it").
    False where the question asks otherwise or the sentence does not say the verb: that is for the
    other rules to judge."""
    want = _asked_verb(question)
    if want is None:
        return False
    said = [t for t in parse(sentence) if t.pos_ in ("VERB", "AUX") and _verb(t.text) == want]
    return bool(said) and all(_passive(t) and not _by_after(t) for t in said)


def doer_in(question: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) in `sentence` of the doer "who <verb> …?" asks for: the subject of the verb said
    in the active ("A district court on Thursday blocked the city's plan" for "Who blocked the
    plan?"), without its article and up to a comma after it ("Deputy mayor Paul Everett"). None
    where the question asks otherwise, the sentence does not say the verb, or its subject is a
    pronoun ("he", "who": whom it means is given elsewhere)."""
    want = _asked_verb(question)
    if want is None:
        return None
    for verb in parse(sentence):
        if verb.pos_ != "VERB" or _verb(verb.text) != want:
            continue
        subject = next((c for c in verb.children if c.dep_ == "nsubj"), None)
        if subject is None or subject.pos_ not in ("NOUN", "PROPN"):
            continue
        first = subject.left_edge
        while first.dep_ in ("det", "punct", "cc") and first.i < subject.i:
            first = first.nbor()
        last = next((t.nbor(-1) for t in subject.subtree if t.i > subject.i and t.text == ","), subject.right_edge)
        return first.idx, last.idx + len(last)
    return None


def _by_after(verb) -> bool:
    """A "by" after the verb: its doer. Any "by", not only the one spaCy hangs on the verb: it hangs
    "developed for the inventor Charles Porter by Charles Richard" on the inventor."""
    return any(t.lower_ == "by" for t in verb.doc[verb.i + 1 :])


def _passive(verb) -> bool:
    """"was founded", or "founded in 2012" hanging on a noun ("Nordcell, founded in 2012, …")."""
    return any(c.dep_ in ("nsubjpass", "auxpass") for c in verb.children) or (verb.dep_ == "acl" and verb.tag_ == "VBN")
