"""The articles answering has read stay in memory up to a bound, the most recently used."""

from __future__ import annotations

import numpy as np

from rag.answering import corpus as corpus_module
from rag.answering.corpus import Corpus

TEXTS = {
    "a": "The mayor opened the bridge. Ann Lee cut the ribbon.",
    "b": "The river rose on Monday. Boats stayed in port.",
    "c": "The council met in March. It voted on the budget.",
}


def _corpus(loads: list[str]) -> Corpus:
    def stored(article_id: str, text: str, count: int) -> np.ndarray:
        loads.append(article_id)
        return np.zeros((count, 4), dtype=np.float16)

    return Corpus(dict(TEXTS), {a: a.upper() for a in TEXTS}, lambda t: 1.0, 800, stored_vectors=stored)


def test_the_least_recently_used_article_is_forgotten_and_read_again_the_same(monkeypatch):
    monkeypatch.setattr(corpus_module, "ARTICLE_CACHE", 2)
    loads: list[str] = []
    corpus = _corpus(loads)
    first = corpus.sentences("a")
    corpus.stored_vectors("a")
    corpus.names("a")
    corpus.sentences("b")
    corpus.sentences("a")  # a is now the most recent: b goes next
    corpus.sentences("c")
    corpus.stored_vectors("c")
    assert set(corpus._sentences) == {"a", "c"}  # noqa: SLF001 - the bound is the point
    assert len(corpus._stored) <= 2 and len(corpus._names) <= 2  # noqa: SLF001
    assert corpus.sentences("b") == Corpus(dict(TEXTS), {}, lambda t: 1.0, 800).sentences("b")
    assert corpus.sentences("a") == first
    assert [corpus.sentence_text("a", i) for i in range(2)] == ["The mayor opened the bridge.", "Ann Lee cut the ribbon."]
    assert corpus.stored_vectors("c").shape == (2, 4)
    assert loads == ["a", "c"]  # still held: not loaded again


def test_an_update_keeps_what_was_read_for_unchanged_articles_only(monkeypatch):
    monkeypatch.setattr(corpus_module, "ARTICLE_CACHE", 2)
    loads: list[str] = []
    corpus = _corpus(loads)
    for a in ("a", "b"):
        corpus.sentences(a)
        corpus.stored_vectors(a)
    texts = dict(TEXTS, b="A new text. It replaced the old one.")
    new = corpus.updated(texts, {}, changed={"b"})
    assert set(new._sentences) == {"a"}  # noqa: SLF001
    assert new.sentence_text("b", 0) == "A new text."
    new.stored_vectors("a")
    new.stored_vectors("b")
    assert loads == ["a", "b", "b"]  # a kept, b read again for its new text
    assert corpus.sentence_text("b", 0) == "The river rose on Monday."  # the old corpus is untouched


def test_an_update_keeps_which_articles_were_used_last(monkeypatch):
    monkeypatch.setattr(corpus_module, "ARTICLE_CACHE", 2)
    corpus = _corpus([])
    corpus.sentences("a")
    corpus.sentences("b")
    corpus.sentences("a")  # a is the most recent
    new = corpus.updated(dict(TEXTS), {}, changed=set())
    new.sentences("c")  # evicts the least recently used: b, not a
    assert set(new._sentences) == {"a", "c"}  # noqa: SLF001


def test_a_sentences_words_are_computed_when_first_asked_for_and_equal_the_eager_ones(monkeypatch):
    from rag.text import prefix, terms

    calls: list[str] = []

    def counted(text: str) -> list[str]:
        calls.append(text)
        return terms(text)

    monkeypatch.setattr(corpus_module, "terms", counted)
    corpus = _corpus([])
    words = corpus.sentence_terms("a")
    assert calls == []  # splitting the article stems nothing
    assert words[1] == {"ann", "lee", "cut", "ribbon"} and calls == ["Ann Lee cut the ribbon."]
    assert words[1] is words[1] and len(calls) == 1  # kept
    eager = [set(terms(corpus.sentence_text("a", i))) for i in range(len(words))]
    assert list(words) == eager and words[-1] == eager[-1] and words[0:2] == eager
    assert list(corpus.sentence_prefixes("a")) == [{prefix(t) for t in ts} for ts in eager]
    assert corpus.article_terms("a") == frozenset().union(*eager)
    assert corpus.article_prefixes("a") == {prefix(t) for t in frozenset().union(*eager)}
