"""Retrieval-only sweep: chunk recall@1/@4/@6 for fusion weights and candidate counts.

Run: python -m bench.retrieval_sweep [--file squad_v1_public.jsonl]
"""

from __future__ import annotations

import argparse
import tempfile
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
    for dense_w, kw_w, cand in [(1, 0, 20), (0, 1, 20), (1, 1, 20), (1, 0.5, 20), (0.5, 1, 20), (1, 1, 40), (1, 1, 10)]:
        retriever.dense_weight, retriever.keyword_weight, retriever.candidates = dense_w, kw_w, cand
        ranks = []
        for q, v in zip(questions, vectors):
            hits = retriever.retrieve(q.question, k=6, query_vector=v.tolist())
            ranks.append(next((i + 1 for i, h in enumerate(hits) if _contains(h.chunk.text, q.support)), None))
        r = lambda k: sum(1 for x in ranks if x is not None and x <= k) / len(ranks)  # noqa: E731
        print(f"dense {dense_w} keyword {kw_w} candidates {cand}: recall@1 {r(1):.3f} @4 {r(4):.3f} @6 {r(6):.3f}")


if __name__ == "__main__":
    main()
