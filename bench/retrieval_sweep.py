"""Retrieval-only sweep: chunk recall@1/@4/@6 for fusion weights and candidate counts.

Run: python -m bench.retrieval_sweep [--file squad_v1_public.jsonl] [--keyword bm25s|fts5|both]
     [--match-share 0.05 0.02]

`fts5` is the retriever's own keyword search (rag.answering.keywords, SQLite FTS5 updated article
by article); `bm25s` scores every chunk with a bm25s index built here over the same chunks and
stems, as HybridRetriever did before issue 15 (the reference for recall). `--match-share` runs
fts5 again with each share forced on whatever the archive's size (`KeywordIndex.match_floor` 0):
a search over all articles then finds its candidates by its rarest words only, as it does in a
large archive (see rag.answering.keywords.MATCH_SHARE). Which words that leaves out depends only
on their share of the chunks, so these 12 articles stand for an archive of their copies.
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
GRID = [(1, 0, 20), (0, 1, 20), (1, 1, 20), (1, 0.5, 20), (0.5, 1, 20), (1, 1, 40), (1, 1, 10)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", default="squad_v1_public.jsonl")
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--chunk-overlap", type=int, default=None)
    ap.add_argument("--keyword", choices=["bm25s", "fts5", "both"], default="fts5")
    ap.add_argument("--match-share", type=float, nargs="*", default=[], help="fts5 again with each share forced on")
    args = ap.parse_args()
    over = {k: v for k, v in {"chunk_size": args.chunk_size, "chunk_overlap": args.chunk_overlap}.items() if v is not None}
    settings = Settings(_env_file=None, index_dir=Path(tempfile.mkdtemp(prefix="rag-sweep-")), **over)
    articles, questions = load_file(EVAL / args.file)
    questions = [q for q in questions if q.answerable]
    assistant = Assistant(settings)
    assistant.index_articles([Article(id=a["id"], title=a["title"], source=a["id"], text=a["text"]) for a in articles])
    retriever = assistant._answer_pipeline().retriever  # noqa: SLF001
    vectors = assistant.embeddings.encode([q.question for q in questions])
    print(f"{over or 'default chunking'}: {assistant.store.count_chunks()} chunks, {len(questions)} questions")
    fts5_keyword = retriever._keyword  # noqa: SLF001
    keyword = retriever.keyword
    runs: list[tuple[str, object, float | None]] = []
    if args.keyword in ("bm25s", "both"):
        runs.append(("bm25s", _bm25s_keyword(retriever), None))
    if args.keyword in ("fts5", "both"):
        runs.append(("fts5", fts5_keyword, None))
    runs += [(f"fts5 share {s}", fts5_keyword, s) for s in args.match_share]
    floor, share = keyword.match_floor, keyword.match_share
    for name, search, forced in runs:
        retriever._keyword = search  # noqa: SLF001
        keyword.match_floor, keyword.match_share = (floor, share) if forced is None else (0, forced)
        took = []
        for q in questions[:500]:
            started = time.perf_counter()
            retriever._keyword(q.question, None, retriever.candidates)  # noqa: SLF001
            took.append(time.perf_counter() - started)
        print(f"keyword search: {name}, {statistics.median(took) * 1000:.2f} ms p50 per query (all articles)")
        for dense_w, kw_w, cand in GRID:
            if name != "bm25s" and kw_w == 0:
                continue  # dense only: the same for every keyword engine
            retriever.dense_weight, retriever.keyword_weight, retriever.candidates = dense_w, kw_w, cand
            ranks = []
            for q, v in zip(questions, vectors):
                hits = retriever.retrieve(q.question, k=6, query_vector=v.tolist())
                ranks.append(next((i + 1 for i, h in enumerate(hits) if _contains(h.chunk.text, q.support)), None))
            r = lambda k: sum(1 for x in ranks if x is not None and x <= k) / len(ranks)  # noqa: E731
            print(f"{name} dense {dense_w} keyword {kw_w} candidates {cand}: recall@1 {r(1):.3f} @4 {r(4):.3f} @6 {r(6):.3f}",
                  flush=True)
    keyword.match_floor, keyword.match_share = floor, share


def _bm25s_keyword(retriever):
    """HybridRetriever._keyword's contract (question, article, n) -> [(chunk id, score)], answered
    by bm25s over every chunk the retriever holds (stems as the FTS5 index has them)."""
    import bm25s
    import numpy as np

    from rag.answering.keywords import chunk_terms
    from rag.text import terms

    chunks = retriever.chunks
    ids = [c.id for c in chunks]
    article_of = np.array([c.article_id for c in chunks], dtype=object)
    index = bm25s.BM25()
    index.index([chunk_terms(c) for c in chunks], show_progress=False)

    def keyword(question: str, article: str | None, n: int) -> list[tuple[str, float]]:
        words = terms(question)
        if not words:
            return []
        scores = np.asarray(index.get_scores(words), dtype=np.float32)
        if article is not None:
            scores = np.where(article_of == article, scores, 0.0)
        best = np.argsort(-scores)[:n]
        return [(ids[i], float(scores[i])) for i in best if scores[i] > 0]

    return keyword


if __name__ == "__main__":
    main()
