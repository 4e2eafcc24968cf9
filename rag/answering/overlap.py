"""One measure of how much of a question (or a claim) a sentence says: idf-weighted word overlap.

Used by the extractive answerer to score sentences and by the citation checker to test claims,
so that both read "the sentence says these words" the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rag.text import prefix

# Credit for a word that matches only by its first five letters ("Italy" / "Italian").
LOOSE_MATCH = 0.6


def overlap(
    query_terms: Iterable[str],
    own: set[str],
    loose: set[str],
    idf: Callable[[str], float],
    *,
    around: set[str] | frozenset[str] = frozenset(),
    around_credit: float = 0.0,
) -> float:
    """Share of the terms' idf weight that the sentence holds: a word of its own counts fully, one
    that matches only by its prefix (`loose`) counts LOOSE_MATCH, one found only `around` it (its
    chunk, its title) counts `around_credit`. 0.0 for no terms."""
    query_terms = list(query_terms)
    weight = sum(idf(t) for t in query_terms)
    if weight <= 0:
        return 0.0
    got = sum(
        idf(t) * (
            1.0 if t in own else LOOSE_MATCH if prefix(t) in loose else around_credit if t in around else 0.0
        )
        for t in query_terms
    )
    return got / weight
