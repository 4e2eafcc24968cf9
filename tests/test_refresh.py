"""After a write the answering side is updated article by article, in the writer and in a replica."""

from __future__ import annotations

from rag.assistant import Assistant
from rag.types import Article

SEED_ID = "paris-summit-on-ukraine"


def _article(aid: str, sentence: str) -> Article:
    return Article(id=aid, title=aid.title(), source=f"test:{aid}", text=f"{sentence} It was reported on Monday.")


def _spy(monkeypatch, store, name):
    calls = []
    real = getattr(store, name)

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(store, name, spy)
    return calls


def test_a_write_reloads_only_the_written_article(seeded, monkeypatch):
    seeded.ask("Who represented the US?")  # the pipeline is built
    chunk_reads = _spy(monkeypatch, seeded.store, "chunks")
    reopens = _spy(monkeypatch, seeded.store, "reopen")
    seeded.index_articles([_article("tram", "The new tram line to the airport opened.")])
    answer = seeded.ask("Which tram line opened?", article="tram")
    assert not answer.refused and "tram line" in answer.citations[0].quote
    assert chunk_reads == [("tram",)]  # not every article's chunks again
    assert reopens == []  # its own write: the handles it holds already see it
    assert seeded.ask("Who represented the US?").citations  # the old article still answers


def test_removing_and_editing_an_article_leave_nothing_stale(seeded):
    seeded.index_articles([_article("tram", "The new tram line to the airport opened.")])
    pipeline = seeded._answer_pipeline()
    assert {c.article_id for c in pipeline.retriever.chunks} == {SEED_ID, "tram"}
    seeded.index_articles([_article("tram", "The new ferry route to the island opened.")])
    answer = seeded.ask("Which route opened?", article="tram")
    assert "ferry route" in answer.citations[0].quote
    text = seeded.article("tram").text
    assert all(text[c.start : c.end] == c.text for c in pipeline.retriever.chunks if c.article_id == "tram")
    assert all(h.chunk.article_id != "tram" or "tram" not in h.chunk.text
               for h in pipeline.retriever.retrieve("tram line airport", k=10))
    seeded.remove("tram")
    assert seeded._answer_pipeline() is pipeline  # updated in place, not rebuilt
    assert {c.article_id for c in pipeline.retriever.chunks} == {SEED_ID}
    assert pipeline.retriever.keyword.stamps().keys() == {SEED_ID}
    assert "tram" not in pipeline.article_ids


def test_a_replica_answers_a_write_made_through_another(seeded, monkeypatch):
    replica = Assistant(seeded.settings)  # as another `rag serve` on the same index would hold
    replica.ask("Who represented the US?")
    chunk_reads = _spy(monkeypatch, replica.store, "chunks")
    reopens = _spy(monkeypatch, replica.store, "reopen")
    seeded.index_articles([_article("tram", "The new tram line to the airport opened.")])
    answer = replica.ask("Which tram line opened?", article="tram")
    assert not answer.refused and "tram line" in answer.citations[0].quote
    assert chunk_reads == [("tram",)]
    assert len(reopens) == 1  # another process's write: its handles are dropped once


def test_keyword_scores_rank_as_bm25s_does(seeded):
    """The keyword side is scored as bm25s scores (Lucene idf, k1 1.5, b 0.75)."""
    import bm25s

    from rag.answering.keywords import chunk_terms
    from rag.text import terms

    retriever = seeded._answer_pipeline().retriever
    chunks = retriever.chunks
    ref = bm25s.BM25()
    ref.index([chunk_terms(c) for c in chunks], show_progress=False)
    for question in ("Who represented the US?", "Which German leader attended?", "What did Italy send?"):
        scores = ref.get_scores(sorted(set(terms(question))))
        want = [chunks[i].id for i in sorted(range(len(chunks)), key=lambda i: -scores[i]) if scores[i] > 0][:5]
        got = retriever.keyword.search(question, 5)
        assert [cid for cid, _ in got] == want
        assert [round(s, 4) for _, s in got] == [round(float(scores[[c.id for c in chunks].index(cid)]), 4) for cid, _ in got]


def test_a_first_refresh_of_many_articles_reads_every_chunk_at_once(seeded, monkeypatch):
    """One paged read of the whole store instead of one filtered read per article (whose cost
    grows with the collection): the same chunks either way."""
    import rag.answering.retrieval as retrieval

    seeded.index_articles([_article(f"tram-{i}", f"Tram line {i} opened to the airport.") for i in range(3)])
    one_by_one = seeded._answer_pipeline().retriever.chunks  # noqa: SLF001
    monkeypatch.setattr(retrieval, "BULK_READ_FROM", 2)
    reads = _spy(monkeypatch, seeded.store, "chunks")
    fresh = retrieval.HybridRetriever(seeded.store, seeded.embeddings)
    fresh.refresh(seeded.store.article_stamps(), seeded.store.article_texts())
    assert reads == [()]
    assert [c.id for c in fresh.chunks] == [c.id for c in one_by_one]
