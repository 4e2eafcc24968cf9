"""Compare the two offline embedding backends: load time, throughput, agreement.

Run: python -m bench.embeddings [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from rag.chunking import chunk_text, split_sentences
from rag.embeddings import OnnxEmbeddings, SentenceTransformerEmbeddings

SQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "squad_v1_public.jsonl"


def _corpus() -> tuple[list[str], list[str]]:
    articles = [json.loads(line)["article_text"] for line in SQUAD.open()]
    text = articles[0]
    sentences = [text[s.start : s.end] for s in split_sentences(text)][:400]
    chunks = [c.text for c in chunk_text(text, 600, 150)][:120]
    return sentences, chunks


def measure(model, sentences, chunks) -> dict:
    t0 = time.perf_counter()
    model.warm_up()
    load = time.perf_counter() - t0
    model.encode(sentences[:8])  # first call warms kernels
    t0 = time.perf_counter()
    sv = model.encode(sentences)
    st = time.perf_counter() - t0
    t0 = time.perf_counter()
    cv = model.encode(chunks)
    ct = time.perf_counter() - t0
    return {
        "load_s": round(load, 2),
        "sentences_per_s": round(len(sentences) / st, 1),
        "chunks_per_s": round(len(chunks) / ct, 1),
        "chars_per_s": round(sum(map(len, chunks)) / ct),
        "_vectors": (sv, cv),
    }


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    sentences, chunks = _corpus()
    print(f"{len(sentences)} sentences (mean {np.mean([len(s) for s in sentences]):.0f} chars), "
          f"{len(chunks)} chunks (mean {np.mean([len(c) for c in chunks]):.0f} chars)")
    results = {}
    for name, model in [("onnx-int8", OnnxEmbeddings()), ("sentence-transformers", SentenceTransformerEmbeddings())]:
        results[name] = measure(model, sentences, chunks)
    a, b = results["onnx-int8"].pop("_vectors"), results["sentence-transformers"].pop("_vectors")
    cos = np.concatenate([(a[0] * b[0]).sum(1), (a[1] * b[1]).sum(1)])
    for name, r in results.items():
        print(name, r)
    print(f"cosine onnx vs torch: mean {cos.mean():.4f}, min {cos.min():.4f}")


if __name__ == "__main__":
    main()
