"""Tune the extractive answerer's weights and refusal threshold on the development files.

Features of every candidate sentence are computed once (retrieval + embeddings), then weights
and thresholds are searched offline. Prints the best settings and the figures behind them.

Run: python -m bench.tune [--sample 800] [--chunk-size 600 --chunk-overlap 150]
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path

import numpy as np

from rag.answering.extractive import ExtractiveAnswerer
from rag.assistant import Assistant
from rag.config import Settings
from rag.evaluate import _contains, load_file
from rag.types import Article

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
FEATURES = ("lexical", "context", "dense", "type", "rank", "novelty", "missing")


def collect(path: Path, settings: Settings, sample: int | None, seed: int = 0, embeddings=None):
    """Per question: candidate feature rows, which contain the gold answer, and retrieval ranks."""
    import random

    articles, questions = load_file(path)
    if sample and sample < len(questions):
        questions = random.Random(seed).sample(questions, sample)
    tmp = tempfile.mkdtemp(prefix="rag-tune-")
    assistant = Assistant(settings.model_copy(update={"index_dir": Path(tmp)}), embeddings=embeddings)
    assistant.index_articles(
        Article(id=a["id"], title=a["title"], source=f"tune:{a['id']}", text=a["text"]) for a in articles
    )
    pipeline = assistant._answer_pipeline()  # noqa: SLF001 - a tuning tool looks inside
    return feature_rows(pipeline, assistant.embeddings, questions, settings.k), assistant.store.count_chunks()


def feature_rows(pipeline, embeddings, questions, k: int) -> list[dict]:
    """Per question: every candidate sentence's features (all scored by similarity), which hold a
    gold answer, and the rank of the first retrieved chunk that does."""
    scorer = ExtractiveAnswerer(embeddings, sentence_rerank=10_000)
    rows = []
    for q in questions:
        vec = embeddings.embed_query(q.question)
        hits = pipeline.retriever.retrieve(q.question, k=k, query_vector=vec)
        chunk_rank = next((i + 1 for i, h in enumerate(hits) if _contains(h.chunk.text, q.support)), None)
        cands = scorer.candidates(q.question, hits, pipeline.corpus, vec)
        feats = np.array(
            [[c.lexical, c.context, c.dense, c.type_match, 1.0 / (1 + c.hit_rank), c.novelty, c.missing_names] for c in cands]
        ).reshape(-1, len(FEATURES))
        gold = np.array(
            [_contains(pipeline.corpus.sentence_text(c.article_id, c.index), q.answers) for c in cands], dtype=bool
        ).reshape(-1)
        rows.append({"q": q, "feats": feats, "gold": gold, "chunk_rank": chunk_rank})
    return rows


def evaluate(rows, weights, min_lexical: float = 0.0) -> tuple[float, list[float], list[bool]]:
    """Top-1 sentence accuracy, best scores (-1 when lexical evidence is too thin), answerability."""
    w = np.array([weights[f] for f in FEATURES])
    correct, best, answerable = 0, [], []
    for r in rows:
        answerable.append(r["q"].answerable)
        if len(r["feats"]) == 0:
            best.append(-1.0)
            continue
        scores = r["feats"] @ w
        i = int(np.argmax(scores))
        lexical = r["feats"][i, 0] + r["feats"][i, 1]
        best.append(float(scores[i]) if lexical >= min_lexical else -1.0)
        if r["q"].answerable and r["gold"][i]:
            correct += 1
    n = sum(answerable) or 1
    return correct / n, best, answerable


def refusal_curve(best, answerable, max_false=0.05):
    """The highest threshold whose false-refusal rate stays within `max_false`, and its refusal rate."""
    pos = np.array([b for b, a in zip(best, answerable) if a])
    neg = np.array([b for b, a in zip(best, answerable) if not a])
    if len(neg) == 0:
        return None
    thr = float(np.quantile(pos, max_false)) if len(pos) else 0.0
    return {"threshold": round(thr, 4), "false_refusal": round(float((pos < thr).mean()), 4),
            "refusal_accuracy": round(float((neg < thr).mean()), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sample", type=int, default=800)
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--chunk-overlap", type=int, default=None)
    ap.add_argument("--k", type=int, default=None)
    ap.add_argument("--cache", default=None, help="Pickle of the computed features, reused when present.")
    args = ap.parse_args()
    over = {k: v for k, v in {"chunk_size": args.chunk_size, "chunk_overlap": args.chunk_overlap, "k": args.k}.items() if v}
    settings = Settings(_env_file=None, **over)
    import pickle

    from rag.embeddings import make_embeddings

    emb = make_embeddings(settings)
    cache = Path(args.cache) if args.cache else None
    if cache and cache.exists():
        v1, v2, chunks = pickle.loads(cache.read_bytes())
    else:
        v1, chunks = collect(EVAL / "squad_v1_public.jsonl", settings, args.sample, embeddings=emb)
        v2, _ = collect(EVAL / "squad_v2_public.jsonl", settings, args.sample, embeddings=emb)
        if cache:
            cache.write_bytes(pickle.dumps((v1, v2, chunks)))
    ranks = [r["chunk_rank"] for r in v1]
    print(f"settings {over or 'defaults'}: {chunks} chunks; retrieval recall@1 "
          f"{np.mean([r == 1 for r in ranks]):.3f} @k {np.mean([r is not None for r in ranks]):.3f}; "
          f"oracle sentence {np.mean([r['gold'].any() for r in v1]):.3f}")
    grid = {
        "lexical": [1.0],
        "context": [0.0, 0.15, 0.3, 0.5],
        "dense": [0.4, 0.8, 1.2, 1.6],
        "type": [0.0, 0.1, 0.2, 0.3],
        "rank": [0.0, 0.1, 0.2],
        "novelty": [0.0, 0.1, 0.2, 0.4],
        "missing": [0.0],
    }
    results = []
    for combo in itertools.product(*grid.values()):
        weights = dict(zip(grid, combo))
        acc, _, _ = evaluate(v1, weights)
        results.append((acc, weights))
    results.sort(key=lambda r: -r[0])
    for acc, weights in results[:5]:
        for min_lex in (0.0, 0.2, 0.3, 0.4, 0.5):
            _, best, answerable = evaluate(v2, weights, min_lex)
            print(f"v1 top-1 sentence hit {acc:.3f}  {weights} min_lexical {min_lex} "
                  f"v2 refusal {refusal_curve(best, answerable)}")
    # Refusal: how often the best sentence misses a name the question asks about.
    for missing_weight in (0.0, 0.2, 0.4, 0.8):
        weights = dict(results[0][1], missing=-missing_weight)
        acc1, _, _ = evaluate(v1, weights)
        for min_lex in (0.0, 0.2, 0.3):
            _, best, answerable = evaluate(v2, weights, min_lex)
            print(f"missing-name penalty {missing_weight} min_lexical {min_lex}: v1 hit {acc1:.3f} "
                  f"v2 refusal {refusal_curve(best, answerable)}")
    print(json.dumps({"best": results[0][1]}))


if __name__ == "__main__":
    main()
