"""Sentences an answer needs besides the one that answers: who "he" or "the host" is, the reason a
"why" sentence leaves to the next one, and the rest of a list; and the reason a sentence gives.

News writing names a person once and then says "the host of the meeting" or "he"; it gives a fact
in one sentence and its reason in the next ("This is because …"). The sentence that matches the
question best then answers only half of it, so the answer also cites the sentence that completes
it. Each rule is narrow on purpose: a neighbour is cited only when the sentence itself points at it.
"""

from __future__ import annotations

import re
from itertools import chain

from rag.answering.language import ROLE_NOUNS, QuestionWords, asked_what_is
from rag.answering.parsing import parse
from rag.text import STOPWORDS, fold, stem

# A person referred to, not named: a pronoun, or "the" + a role ("the host of the meeting").
REFERS = re.compile(rf"\b(?:he|she|him|his|her)\b|\bthe\s+(?:[a-z]+\s+){{0,2}}(?:{ROLE_NOUNS})\b")
CAUSAL = re.compile(
    r"\b(?:because|since|as a result|due to|so that|in order to|owing to|reason|therefore|thus|hence)\b",
    re.IGNORECASE,
)
CARRIES_ON = re.compile(r"^\W*(?:this|that|it|these|those|such)\b", re.IGNORECASE)
MORE_OF_A_LIST = re.compile(r"^\W*(?:\w+\s+){0,3}?(?:also|as well|in addition|besides|others?|another)\b", re.IGNORECASE)
LOOKBACK = 6  # sentences searched back for the name a reference points to


# Words that introduce a reason or a purpose, followed by what they introduce: a clause
# ("because it requires …", "so that …") or a noun phrase ("because of the storm", "due to …").
REASON_CLAUSE = ("because", "since", "so", "as")  # as the `mark` of a clause
REASON_PHRASE = {("because", "of"), ("due", "to"), ("owing", "to"), ("thanks", "to")}
# Where no word says "because": a clause of a verb of fearing, judging or saying hung on the
# sentence's verb ("opposed the deal, fearing that jobs would be cut"; "blocked the merger, ruling
# that …"), or of purpose ("sold the shares to raise money"): news gives many reasons so.
REASON_PARTICIPLES = frozenset(stem(w) for w in (
    "fear", "worry", "cite", "argue", "say", "claim", "rule", "note", "warn", "insist", "complain",
    "hope", "believe", "accuse", "allege", "find", "conclude", "judge",
))
# ...or the clause a feeling takes: "were angry that the report had been kept private".
FEELINGS = frozenset(stem(w) for w in (
    "angry", "upset", "worried", "concerned", "disappointed", "happy", "glad", "pleased", "relieved",
    "surprised", "furious", "sad", "afraid", "frustrated", "delighted", "proud", "ashamed", "sorry",
    "shocked", "outraged", "unhappy", "annoyed", "alarmed", "dismayed", "grateful", "thankful",
    "fear", "dread", "regret",  # verbs: "said it feared that production would move"
))


def reason_in(text: str) -> tuple[int, int] | None:
    """(start, end) in `text` of the reason it gives, without the word that introduces it: the
    clause after "because" (or "since", "so that", "as" marking a clause of reason) or the phrase
    after "because of", "due to", "owing to", "thanks to"; where no such word is, a clause of fearing,
    judging or saying ("…, fearing that …") or of purpose ("… to raise money", "in order to …")
    hung on the sentence's verb, or what a feeling takes ("angry that …"); None where it gives none. From spaCy's parse rather than a
    pattern, so that the clause ends where it ends ("…, because X, Y said")."""
    doc = parse(text)
    for words in chain(_after_a_word_of_reason(doc), _hung_on_the_verb(doc)):
        words = [t for t in words if not t.is_punct or words[0].i < t.i < words[-1].i]
        if words:
            return words[0].idx, words[-1].idx + len(words[-1].text)
    return None


def _after_a_word_of_reason(doc):
    """The words of each reason a word introduces ("because …", "due to …"), in order."""
    for tok in doc:
        word = tok.lower_
        if tok.dep_ == "mark" and word in REASON_CLAUSE and tok.head.i > tok.i:
            if word == "so" and (tok.i + 1 >= len(doc) or doc[tok.i + 1].lower_ != "that"):
                continue  # "so" alone marks a result, not a reason
            if word in ("since", "as") and any(t.ent_type_ in ("DATE", "TIME") for t in tok.head.subtree):
                continue  # "since 2014", "as the year ended": time, not a reason
            yield [t for t in tok.head.subtree if t.i > tok.i + (word == "so")]
        elif tok.i + 1 < len(doc) and (word, doc[tok.i + 1].lower_) in REASON_PHRASE:
            after = doc[tok.i + 1]
            obj = next((t for t in after.children if t.dep_ == "pobj"), None) or next(
                (t for t in tok.children if t.dep_ == "pobj"), None)
            yield list(obj.subtree) if obj is not None else []


def _hung_on_the_verb(doc):
    """The words of each reason given without such a word: "in order to …", a participle of fearing
    or saying, an infinitive of purpose, the "that" clause of a feeling."""
    for tok in doc:
        if tok.i + 2 < len(doc) and tok.lower_ == "in" and doc[tok.i + 1].lower_ == "order" and doc[tok.i + 2].lower_ == "to":
            yield list(tok.subtree)  # "closed the bridge in order to repair it"
        elif tok.dep_ == "advcl" and tok.i > tok.head.i and (
            (tok.tag_ == "VBG" and stem(fold(tok.text)) in REASON_PARTICIPLES)
            or (tok.tag_ == "VB" and any(t.dep_ == "aux" and t.lower_ == "to" for t in tok.children))
        ):
            yield list(tok.subtree)
        elif tok.dep_ == "ccomp" and tok.i > tok.head.i and stem(fold(tok.head.text)) in FEELINGS:
            that = next((t for t in tok.children if t.dep_ == "mark" and t.lower_ == "that"), None)
            if that is not None:
                yield [t for t in tok.subtree if t.i > that.i]


def asks_what_someone_named_is(question: str, sentence: str) -> bool:
    """"Who is Pedro Sánchez?" of a sentence that names him: the question gives the name and asks
    what the person is ("the Spanish president"), so no earlier name is the answer."""
    asked = asked_what_is(question)
    if asked is None or asked[0] != "who":
        return False
    name = asked[1]
    words = [w for w in re.findall(r"[\w'’-]+", name) if w.lower() not in STOPWORDS]
    # A name, as the sentence writes it; not a title, which comes with "the" ("Who is the
    # Commissioner of the National Football League?" asks for a name).
    return (
        bool(words) and all(w[0].isupper() for w in words) and not re.match(r"(?:the|a|an)\b", name, re.IGNORECASE)
        and fold(name) in fold(sentence)
    )


def refers_to_someone(text: str) -> bool:
    return bool(REFERS.search(text))


_ROLE_WORD = re.compile(rf"(?:{ROLE_NOUNS})")


def refers_by_the_role_asked(question: str, text: str) -> bool:
    """Whether `text` refers to someone by the role the question's verb asks about, without naming
    them there: "the host" ("the host's speech", "the host of the meeting") for "Who hosted the
    summit?", "the founder" for "Who founded it?"; not "the host, Emmanuel Macron, …". Such a sentence
    answers with whom the role means, though it names someone else ("… recorded by Volodymyr
    Zelensky")."""
    verbs = {stem(t.lower_) for t in parse(question) if t.pos_ == "VERB"}
    if not verbs:
        return False
    for tok in parse(text):
        role = stem(tok.lower_)
        if not _ROLE_WORD.fullmatch(tok.lower_) or not any(role in (v, v + "er", v + "or") for v in verbs):
            continue
        named = any(c.dep_ == "appos" and c.ent_type_ == "PERSON" for c in tok.children) or (
            tok.dep_ == "appos" and tok.head.ent_type_ == "PERSON")
        if not named and any(c.lower_ == "the" for c in tok.children):
            return True
    return False


def antecedent(corpus, article_id: str, index: int, question: str) -> tuple[int, int, int] | None:
    """(sentence index, start, end) of the nearest earlier name of a person that the question does
    not already give, within the same article: whom "he" or "the host" in sentence `index` means."""
    q = QuestionWords(question)
    sents = corpus.sentences(article_id)
    text = corpus.text(article_id)
    for j in range(index - 1, max(-1, index - LOOKBACK - 1), -1):
        s = sents[j]
        doc = parse(text[s.start : s.end])
        people = [e for e in doc.ents if e.label_ == "PERSON" and not all(q.says(t.text) for t in e)]
        if people:
            # The one the sentence is about: a subject ("…, Macron said") before any other name.
            subjects = [e for e in people if e.root.dep_ in ("nsubj", "nsubjpass")]
            ent = (subjects or people)[0]
            return j, s.start + ent.start_char, s.start + ent.end_char
    return None


def follower(corpus, article_id: str, index: int, wh: str) -> int | None:
    """The next sentence of the same paragraph when it carries the answer on: the reason for a
    "why" the sentence itself does not give, or more of a list."""
    sents = corpus.sentences(article_id)
    if index + 1 >= len(sents) or sents[index + 1].paragraph != sents[index].paragraph:
        return None
    here, nxt = corpus.sentence_text(article_id, index), corpus.sentence_text(article_id, index + 1)
    if wh == "why" and not CAUSAL.search(here) and reason_in(here) is None and (CAUSAL.search(nxt) or CARRIES_ON.match(nxt)):
        return index + 1
    is_list = here.count(",") >= 2 or ";" in here or bool(re.search(r"\w,\s+[^,]+\s+and\s+\w", here))
    if wh in ("who", "what", "which") and is_list and MORE_OF_A_LIST.match(nxt) and ("," in nxt or ";" in nxt):
        return index + 1
    return None
