"""Hybrid retrieval: the keyword search runs beside the question's embedding and dense search."""

from __future__ import annotations

import threading

import pytest


def test_the_keyword_search_runs_while_the_question_is_embedded(seeded, monkeypatch):
    retriever = seeded._answer_pipeline().retriever
    keyword_started = threading.Event()
    real_keyword, real_embed = retriever._keyword, retriever.embeddings.embed_query
    seen = {}

    def keyword(*args):
        seen["keyword thread"] = threading.current_thread()
        keyword_started.set()
        return real_keyword(*args)

    def embed(text):
        # Sequential code would reach the keyword search only after this returns.
        seen["overlapped"] = keyword_started.wait(timeout=10)
        return real_embed(text)

    monkeypatch.setattr(retriever, "_keyword", keyword)
    monkeypatch.setattr(retriever.embeddings, "embed_query", embed)
    hits, vector = retriever.search("Who represented the US?", k=4)
    assert seen["overlapped"] and seen["keyword thread"] is not threading.current_thread()
    assert vector == real_embed("Who represented the US?")
    assert hits and any("deputy secretary of state" in h.chunk.text for h in hits)
    assert [h.chunk.id for h in hits] == [h.chunk.id for h in retriever.retrieve("Who represented the US?", k=4)]


def test_a_failed_keyword_search_fails_the_retrieval(seeded, monkeypatch):
    retriever = seeded._answer_pipeline().retriever

    def broken(*args):
        raise RuntimeError("keyword index unreadable")

    monkeypatch.setattr(retriever, "_keyword", broken)
    with pytest.raises(RuntimeError, match="keyword index unreadable"):
        retriever.search("Who represented the US?")


def test_no_articles_in_scope_still_gives_the_vector(seeded):
    retriever = seeded._answer_pipeline().retriever
    hits, vector = retriever.search("Who represented the US?", article="no-such-article")
    assert hits == [] and len(vector) == len(retriever.embeddings.embed_query("x"))
