"""What someone said, ruled out or committed to: the clause a question's verb asks for.

"What did Scholz say in Berlin?" is answered by the clause "said" takes in "Scholz said yesterday in
Berlin that Germany cannot deliver Taurus cruise missiles to Ukraine", not by one of the
sentence's names: the reader, fitted on SQuAD's short spans, bolds "yesterday". News is full of
what people said, warned, ruled out and committed to, so where the question asks for the whole
object of its verb ("what" is that object and the question adds nothing the clause must say), the
short answer is that clause, read off spaCy's parse of the question and of the sentence.
"""

from __future__ import annotations

import re

from rag.answering.parsing import parse
from rag.text import STOPWORDS, base_stem, fold, stem

# A question that may ask for the object of its verb: "What did/does/has … <verb> …?".
ASKS_WHAT_DONE = re.compile(r"^\W*what\s+(?:did|does|do|has|have|had|will|would|could|might)\b", re.IGNORECASE)

# Verbs of saying: "What did Macron say?" is answered by what he stressed, warned or insisted.
SAYING = frozenset(stem(w) for w in (
    "say", "tell", "state", "stress", "insist", "add", "warn", "declare", "note", "explain", "argue",
    "claim", "announce", "recall", "lament", "write", "remark", "assert", "affirm", "reply", "respond",
    "repeat",
))  # matched against `verb_stem`, which brings "said", "told", "wrote" back to the verb
SAY = frozenset(stem(w) for w in ("say", "tell", "state"))
# Where the question asks about a topic ("What did Macron say about Russia?"), the clause may name it.
TOPIC_PREPOSITIONS = frozenset({"about", "on", "regarding", "concerning"})
COMPLEMENTS = ("ccomp", "xcomp")
# Where a clause of what was said ends: a comma and then one of these.
BREAKS = frozenset({"because", "although", "though", "while", "whereas", "which", "who", "since", "as"})
QUOTE_OPENERS, QUOTE_CLOSERS = "“\"", "”\""


def verb_stem(word: str) -> str:
    """A verb's stem, its forms brought together ("said", "says" -> "say"; "wrote" -> "write")."""
    return base_stem(stem(fold(word)))


def object_clause(question: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) in `sentence` of the clause that answers "what did <someone> <verb>?", or None.

    The question's verb must be in the sentence (a verb of saying stands for any other), "what" must
    be its object (or the object of a preposition left at the end: "commit to", "ask for"), and the
    clause must not hold the question's other content words: "What did Tesla believe X-rays were?"
    asks for part of a clause, and the reader's span stays."""
    asked = _asked(question)
    if asked is None:
        return None
    want, particle, preposition, rest = asked
    doc = parse(sentence)
    for verb in doc:
        if verb.pos_ not in ("VERB", "AUX"):
            continue
        have = verb_stem(verb.text)
        if have != want and not (want in SAY and have in SAYING):
            continue
        if particle and not any(t.dep_ == "prt" and t.lower_ == particle for t in verb.children):
            continue
        # "What did Varga say?" is not answered by "declared a state of emergency": another verb of
        # saying stands for "say" with a clause or a quote, not with a thing.
        words = _complement(verb, preposition, rest, clause_only=have != want)
        if not words or rest & {stem(fold(t.text)) for t in words if t.is_alpha}:
            continue
        span = _trimmed(sentence, words)
        if span is not None:
            return span
    return None


def _asked(question: str) -> tuple[str, str | None, str | None, set[str]] | None:
    """Of "what did <someone> <verb> …?" asking for the verb's whole object: the verb (`_verb`), its
    particle ("rule out"), the preposition it ends on ("commit to"), and the question's content words
    besides the verb, its subject and its topic ("about Russia"); None for any other question."""
    if not ASKS_WHAT_DONE.match(question):
        return None
    q = parse(question)
    root = next((t for t in q if t.dep_ == "ROOT"), None)
    if root is None or q[0].lower_ != "what":
        return None
    # spaCy's small model may take the verb of a short question for a noun ("What did Macron
    # stress?"); the word the question's "did" hangs on is the verb all the same.
    if not any(t.dep_ == "aux" and t.i == 1 for t in root.children):
        return None
    dangling = next((t for t in root.children if t.dep_ == "prep"
                     and all(c.i == 0 for c in t.children)), None)
    # ("dative": spaCy's reading of "what" in "What did the mayor tell reporters?")
    ends_on_preposition = q[0].dep_ == "pobj" and dangling is not None and q[0].head.i == dangling.i
    last = next((t for t in reversed(q) if not t.is_punct), None)
    if (dangling is None and q[0].dep_ == "dobj" and last is not None and last.dep_ == "prep"
            and not list(last.children)):
        # "What did Berg accuse the mayor of?": spaCy hangs the stranded "of" on "the mayor".
        dangling, ends_on_preposition = last, True
    # "What does Berlin refuse to do?" asks for what the verb's "to" takes, as "commit to" does:
    # "refuses to participate in …".
    to_do = next((t for t in root.children if t.dep_ == "xcomp" and t.lower_ == "do" and q[0].head.i == t.i
                  and any(a.dep_ == "aux" and a.lower_ == "to" for a in t.children)), None)
    if q[0].dep_ not in ("dobj", "dative") and not ends_on_preposition:
        return None
    particle = next((t.lower_ for t in root.children if t.dep_ == "prt"), None)
    # Before the verb: "what", "did" and the subject; after it, the question's own words, but for
    # the particle, the preposition it ends on and the topic ("about sending troops").
    said = {t.i for t in q if t.i <= root.i} | {t.i for t in root.children if t.dep_ in ("neg", "prt", "punct")}
    if to_do is not None:
        said |= {t.i for t in to_do.subtree}
    for child in root.children:
        if child.dep_ == "prep" and child.lower_ in TOPIC_PREPOSITIONS:
            said |= {t.i for t in child.subtree}
    if any(t.pos_ in ("VERB", "AUX") for t in q if t.i > root.i and t.i not in said):
        return None  # "What did Tesla tell Brisbane he didn't believe in?" asks about another verb's object
    rest = {stem(fold(t.text)) for t in q if t.i not in said and t.is_alpha and fold(t.text) not in STOPWORDS}
    preposition = "to" if to_do is not None else dangling.lower_ if dangling is not None else None
    return verb_stem(root.text), particle, preposition, rest


def _complement(verb, preposition: str | None, named: set[str] | frozenset[str] = frozenset(),
                clause_only: bool = False) -> list:
    """The tokens of what `verb` takes as its object: the object of `preposition` where the question
    ends on one ("asked for more"; "committed to create a coalition"), else its clause ("said that
    …"; "“…,” he stressed"), else its direct object. A clause after the verb runs to the end of the
    verb's own words (spaCy often splits a long quote into several clauses) and stops before a
    clause of reason or a relative one ("…, because …")."""
    children = list(verb.children)
    if preposition is not None:
        prep = next((t for t in children if t.dep_ == "prep" and t.lower_ == preposition), None)
        if prep is not None:
            obj = next((t for t in prep.children if t.dep_ in ("pobj", "pcomp")), None)
            return list(obj.subtree) if obj is not None else []
        if preposition != "to":
            return []
        # "committed to create …": spaCy hangs the infinitive on the verb.
        head = next((t for t in children if t.dep_ in ("xcomp", "advcl") and t.i > verb.i
                     and any(a.dep_ == "aux" and a.lower_ == "to" for a in t.children)), None)
    else:
        # "called the ruling “a good day for workers”": what the thing was called, where the question
        # names the thing (`named`: "What did she call the ruling?").
        head = next((t for t in children if t.dep_ in COMPLEMENTS), None)
        called = next((t for t in children if t.dep_ == "oprd" and t.i > verb.i), None)
        if head is None and called is not None:
            thing = next((t for t in children if t.dep_ == "dobj"), None)
            if thing is None or (named and not named & {stem(fold(t.text)) for t in thing.subtree if t.is_alpha}):
                return []  # "called the decision a disgrace" does not say what the referee was called
            head = called
        if head is None:
            # "What did the fire service send?": its object, "45 firefighters and six boats", up to
            # a comma (not with `clause_only`).
            obj = next((t for t in children if t.dep_ == "dobj" and t.i > verb.i), None)
            if obj is None or clause_only:
                return []
            words = list(obj.subtree)
            cut = next((k for k, t in enumerate(words) if t.text in ",;"), len(words))
            return words[:cut]
    if head is None:
        return []
    inner = list(head.subtree)
    that = next((t for t in head.children if t.dep_ == "mark" and t.lower_ in ("that", "whether")), None)
    if that is not None:
        inner = [t for t in inner if t.i > that.i]  # not "for example, that …"
    if head.i < verb.i:
        return [t for t in inner if t.i < verb.i]  # the quote before "he stressed"
    words = [t for t in verb.subtree if t.i >= inner[0].i]
    if head.dep_ == "oprd":
        # What it was called ends at a comma or at another verb of the sentence ("called it packet
        # switching, a more accessible name, and proposed …").
        words = words[: next((k for k, t in enumerate(words)
                              if t.text in ",;" or (t.dep_ in ("cc", "conj") and t.head.i == verb.i)), len(words))]
    for k in range(1, len(words)):
        # (A relative clause inside the clause's subject stays: "said Baltic Freight, which lost
        # money …, would now struggle …".)
        if words[k - 1].text in ",;" and words[k].lower_ in BREAKS and words[k].i > head.i:
            return words[: k - 1]
    return words


def _trimmed(sentence: str, words: list) -> tuple[int, int] | None:
    """(start, end) of `words` without "that" before them and punctuation around them; a quotation
    mark is kept where the quote it opens or closes is inside."""
    while words and (words[0].is_punct or (words[0].dep_ == "mark" and words[0].lower_ in ("that", "whether"))):
        words = words[1:]
    while words and words[-1].is_punct:
        words = words[:-1]
    if not words or (len(words) == 1 and words[0].pos_ == "PRON"):
        return None  # "asked for it" says nothing
    a, z = words[0].idx, words[-1].idx + len(words[-1].text)
    if z < len(sentence) and sentence[z] in QUOTE_CLOSERS and _opens(sentence[a:z]):
        z += 1
    if a > 0 and sentence[a - 1] in QUOTE_OPENERS and _closes(sentence[a:z]):
        a -= 1
    return a, z


def _opens(text: str) -> bool:
    return text.count("“") > text.count("”") or text.count('"') % 2 == 1


def _closes(text: str) -> bool:
    return text.count("”") > text.count("“") or text.count('"') % 2 == 1
