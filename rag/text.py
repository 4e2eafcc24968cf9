"""Word-level text helpers shared by keyword retrieval, sentence scoring and evaluation."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from functools import lru_cache

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom whose why will with would you your yours yourself yourselves also s t said says say many much
    according""".split()
)

WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():
    # PyStemmer (Snowball in C) is a dependency: the answer weights and the refusal threshold
    # were tuned with its stems, and a cruder stemmer moves scores across the threshold.
    import Stemmer

    return Stemmer.Stemmer("english").stemWord


def fold(text: str) -> str:
    """Lower-case without accents, with curly quotes made straight."""
    if text.isascii():  # most text: nothing to decompose or straighten (~1 ms an answer saved)
        return text.lower()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("’", "'").replace("‘", "'").lower()


def words(text: str) -> list[str]:
    return WORD.findall(fold(text))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    word = word.replace("'s", "").replace("'", "")
    return _stemmer()(word)


def terms(text: str) -> list[str]:
    """Stemmed content words: the unit of keyword matching."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


# Past forms a suffix-stripping stemmer does not bring back to the verb (not those that are other
# words too: "found", "left", "saw", "rose", "fell").
_IRREGULAR = {
    "said": "say", "told": "tell", "thought": "think", "wrote": "write", "written": "write", "spoke": "speak",
    "spoken": "speak", "sought": "seek", "meant": "mean", "felt": "feel", "made": "make",
    "took": "take", "taken": "take", "gave": "give", "given": "give", "chose": "choose", "chosen": "choose",
    "knew": "know", "known": "know", "held": "hold", "sent": "send", "spent": "spend", "built": "build",
    "bought": "buy", "brought": "bring", "caught": "catch", "taught": "teach", "lost": "lose",
    "paid": "pay", "won": "win", "began": "begin", "begun": "begin", "kept": "keep", "led": "lead",
    "met": "meet", "ran": "run", "sold": "sell", "stood": "stand", "grew": "grow", "grown": "grow",
    "drew": "draw", "drawn": "draw", "threw": "throw", "thrown": "throw",
    "struck": "strike", "broke": "break", "broken": "break", "drove": "drive", "driven": "drive",
    "got": "get", "seen": "see", "heard": "hear", "became": "become", "came": "come",
    "went": "go", "gone": "go", "did": "do", "done": "do", "ate": "eat", "eaten": "eat", "forgot": "forget",
    "forbade": "forbid", "sang": "sing", "sung": "sing", "swore": "swear", "sworn": "swear",
}
_BASE_OF = {stem(form): stem(verb) for form, verb in _IRREGULAR.items()}


def base_stem(term: str) -> str:
    """The stem of the verb an irregular form's stem is of ("brought" -> "bring"); others unchanged."""
    return _BASE_OF.get(term, term)


# Digits with their separators, also inside words ("1980" of "the 1980s", "24" of "24-yard", "34"
# of "£34m"): how a claim's numbers are compared with a passage's.
NUMBER = re.compile(r"\d[\d,.]*")


def numbers(text: str, pattern: re.Pattern = NUMBER) -> set[str]:
    """The numbers `text` says (`pattern` finds them), without thousands separators or a final full stop."""
    return {n.replace(",", "").rstrip(".") for n in pattern.findall(text)}


def prefix(term: str) -> str:
    """A looser key than the stem, so "represented"/"representation" and "Italy"/"Italian" meet."""
    return term[:5] if len(term) >= 5 else term


# Punctuation becomes a space in one C pass (a character loop here took ~1 ms of each answer:
# the reader normalises some 45 spans a question).
_PUNCTUATION = str.maketrans({ch: " " for ch in string.punctuation + "“”«»—–"})
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = fold(text).translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_f1(prediction: str, gold: str) -> float:
    """SQuAD's F1 of a predicted answer against a gold one: the overlap of their normalised words."""
    p, g = normalise_answer(prediction).split(), normalise_answer(gold).split()
    same = sum((Counter(p) & Counter(g)).values())
    if not p or not g or not same:
        return float(p == g)
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)
