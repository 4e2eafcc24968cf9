"""Indexing throughput, embedding model load time, warm answer latency and memory on this machine.

Run: python -m bench.indexing [--questions 300]

Indexes the 12 articles of ../shared/eval/squad_v1_public.jsonl into a scratch index with the
model already loaded (warm), then asks a sample of their questions.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from rag.assistant import Assistant
from rag.config import Settings
from rag.embeddings import make_embeddings
from rag.evaluate import load_file
from rag.types import Article

SQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "squad_v1_public.jsonl"


def rss_mb() -> float:
    """Current resident memory of this process in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--backend", default=None, help="onnx or sentence-transformers")
    args = ap.parse_args()
    over = {"embedding_backend": args.backend} if args.backend else {}
    settings = Settings(_env_file=None, index_dir=Path(tempfile.mkdtemp(prefix="rag-bench-")), **over)

    emb = make_embeddings(settings)
    t0 = time.perf_counter()
    emb.warm_up()
    load_s = time.perf_counter() - t0
    emb.encode(["warm the kernels"])

    articles, questions = load_file(SQUAD)
    docs = [Article(id=a["id"], title=a["title"], source=f"bench:{a['id']}", text=a["text"]) for a in articles]
    chars = sum(len(a.text) for a in docs)
    assistant = Assistant(settings, embeddings=emb)
    assistant.store.vector_store  # open Chroma outside the timed part  # noqa: B018
    t0 = time.perf_counter()
    report = assistant.index_articles(docs)
    index_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = assistant.index_articles(docs)
    reindex_s = time.perf_counter() - t0

    sample = random.Random(0).sample(questions, min(args.questions, len(questions)))
    assistant.ask(sample[0].question)  # builds the answering pipeline
    lat = []
    for q in sample:
        t0 = time.perf_counter()
        assistant.ask(q.question)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    result = {
        "backend": settings.embedding_backend,
        "model_load_s": round(load_s, 2),
        "articles": len(docs),
        "chars": chars,
        "chunks": report.chunks_added,
        "index_s": round(index_s, 2),
        "chunks_per_s": round(report.chunks_added / index_s, 1),
        "chars_per_s": round(chars / index_s),
        "articles_per_s": round(len(docs) / index_s, 2),
        "reindex_unchanged_s": round(reindex_s, 3),
        "reindex_embedded": again.chunks_added,
        "ask_p50_ms": round(1000 * lat[len(lat) // 2], 1),
        "ask_p95_ms": round(1000 * lat[int(0.95 * len(lat))], 1),
        "rss_mb": round(rss_mb()),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
