"""Retrieval-only sweep: chunk recall@1/@4/@6 for fusion weights and candidate counts.

Run: python -m bench.retrieval_sweep [--file squad_v1_public.jsonl] [--keyword bm25s|fts5|both]

`--keyword fts5` puts rag.answering.keywords (SQLite FTS5, updated article by article) in place of
the bm25s index that HybridRetriever rebuilds; `both` runs the grid with each.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rag.assistant import Assistant
from rag.config import Settings
from rag.evaluate import _contains, load_file
from rag.types import Article

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--file", default="squad_v1_public.jsonl")
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--chunk-overlap", type=int, default=None)
    ap.add_argument("--keyword", choices=["bm25s", "fts5", "both"], default="bm25s")
    args = ap.parse_args()
    over = {k: v for k, v in {"chunk_size": args.chunk_size, "chunk_overlap": args.chunk_overlap}.items() if v is not None}
    settings = Settings(_env_file=None, index_dir=Path(tempfile.mkdtemp(prefix="rag-sweep-")), **over)
    articles, questions = load_file(EVAL / args.file)
    questions = [q for q in questions if q.answerable]
    assistant = Assistant(settings)
    assistant.index_articles(Article(id=a["id"], title=a["title"], source=a["id"], text=a["text"]) for a in articles)
    retriever = assistant._answer_pipeline().retriever  # noqa: SLF001
    vectors = assistant.embeddings.encode([q.question for q in questions])
    print(f"{over or 'default chunking'}: {assistant.store.count_chunks()} chunks, {len(questions)} questions")
    bm25s_keyword = retriever._keyword  # noqa: SLF001
    for engine in ["bm25s", "fts5"] if args.keyword == "both" else [args.keyword]:
        retriever._keyword = bm25s_keyword if engine == "bm25s" else _fts5_keyword(retriever)  # noqa: SLF001
        took = []
        for q in questions[:500]:
            started = time.perf_counter()
            retriever._keyword(q.question, None, retriever.candidates)  # noqa: SLF001
            took.append(time.perf_counter() - started)
        print(f"keyword search: {engine}, {statistics.median(took) * 1000:.2f} ms p50 per query (all articles)")
        for dense_w, kw_w, cand in [(1, 0, 20), (0, 1, 20), (1, 1, 20), (1, 0.5, 20), (0.5, 1, 20), (1, 1, 40), (1, 1, 10)]:
            if engine != "bm25s" and kw_w == 0:
                continue  # dense only: the same for every keyword engine
            retriever.dense_weight, retriever.keyword_weight, retriever.candidates = dense_w, kw_w, cand
            ranks = []
            for q, v in zip(questions, vectors):
                hits = retriever.retrieve(q.question, k=6, query_vector=v.tolist())
                ranks.append(next((i + 1 for i, h in enumerate(hits) if _contains(h.chunk.text, q.support)), None))
            r = lambda k: sum(1 for x in ranks if x is not None and x <= k) / len(ranks)  # noqa: E731
            print(f"{engine} dense {dense_w} keyword {kw_w} candidates {cand}: recall@1 {r(1):.3f} @4 {r(4):.3f} @6 {r(6):.3f}")


def _fts5_keyword(retriever):
    """HybridRetriever._keyword's contract (question, article, n) -> [(chunk position, score)],
    answered by rag.answering.keywords over the same chunks."""
    from rag.answering.keywords import KeywordIndex

    index = KeywordIndex()
    index.add(retriever.chunks)
    position = retriever._by_id  # noqa: SLF001

    def keyword(question: str, article: str | None, n: int) -> list[tuple[int, float]]:
        return [(position[cid], score) for cid, score in index.search(question, n, article)]

    return keyword

if __name__ == "__main__":
    main()
