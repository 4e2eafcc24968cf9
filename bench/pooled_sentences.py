"""Sentence vectors pooled from the chunk pass's token states (what indexing stores) against each
sentence embedded on its own at question time (what answering did before, and still does where an
index has no pooled vectors).

One model pass over the chunks gives every token a contextual vector; a sentence's vector is the
mean of its tokens' (averaged over the chunks that hold it), so answering needs no model call
beyond the question's. This compares both on the answerer's sentence choice (SQuAD v1) and on
refusal (SQuAD v2), every candidate sentence scored, with the dense weight varied.

Run: python -m bench.pooled_sentences [--sample 600]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from bench.tune import EVAL, evaluate, feature_rows, refusal_curve
from rag.answering.extractive import ExtractiveAnswerer
from rag.assistant import Assistant
from rag.config import Settings
from rag.evaluate import load_file
from rag.types import Article


def collect(path: Path, sample: int, mode: str, embeddings) -> list[dict]:
    articles, questions = load_file(path)
    if sample < len(questions):
        questions = random.Random(0).sample(questions, sample)
    assistant = Assistant(Settings(_env_file=None, index_dir=Path(tempfile.mkdtemp(prefix="rag-pool-"))), embeddings=embeddings)
    assistant.index_articles(Article(id=a["id"], title=a["title"], source="bench", text=a["text"]) for a in articles)
    pipeline = assistant._answer_pipeline()  # noqa: SLF001
    if mode == "standalone":  # forget the vectors indexing pooled: every sentence is embedded alone
        pipeline.corpus._stored_loader = None  # noqa: SLF001
        pipeline.corpus._stored.clear()  # noqa: SLF001
    return feature_rows(pipeline, embeddings, questions, k=6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sample", type=int, default=600)
    args = ap.parse_args()
    from rag.embeddings import OnnxEmbeddings

    embeddings = OnnxEmbeddings()
    embeddings.warm_up()
    base = ExtractiveAnswerer(embeddings).weights
    print("| sentence vectors | dense weight | v1 top-1 sentence hit | v2 refusal at 5 % false refusals | at 2 % |")
    print("|---|---:|---:|---:|---:|")
    for mode in ("standalone", "pooled"):
        v1 = collect(EVAL / "squad_v1_public.jsonl", args.sample, mode, embeddings)
        v2 = collect(EVAL / "squad_v2_public.jsonl", args.sample, mode, embeddings)
        for dense in (0.8, 1.6, 2.4):
            weights = dict(base, dense=dense)
            hit, _, _ = evaluate(v1, weights)
            _, best, answerable = evaluate(v2, weights, 0.2)
            at5, at2 = refusal_curve(best, answerable, 0.05), refusal_curve(best, answerable, 0.02)
            print(f"| {mode} | {dense} | {hit:.3f} | {at5['refusal_accuracy']:.3f} | {at2['refusal_accuracy']:.3f} |")


if __name__ == "__main__":
    main()
