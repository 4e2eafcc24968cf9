"""Short answers: how often the answer bolds a short span, and how often that span is a gold answer.

Compares the answerers that can run offline (`extractive`, and `local` when the `[local]` extra is
installed) on the same index and the same sampled questions of a SQuAD-format file.

Run: python -m bench.spans [--sample 300] [--answerers extractive local]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from rag.assistant import Assistant
from rag.config import Settings
from rag.embeddings import OnnxEmbeddings
from rag.evaluate import load_file
from rag.text import normalise_answer
from rag.types import Article

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.spans", description=__doc__)
    ap.add_argument("--data", type=Path, default=EVAL / "squad_v1_public.jsonl")
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--answerers", nargs="+", default=["extractive", "local"])
    args = ap.parse_args(argv)

    raw, questions = load_file(args.data)
    questions = [q for q in questions if q.answerable]
    questions = random.Random(args.seed).sample(questions, min(args.sample, len(questions)))
    index_dir = Path(tempfile.mkdtemp(prefix="rag-spans-")) / "index"
    embeddings = OnnxEmbeddings()
    Assistant(Settings(_env_file=None, index_dir=index_dir), embeddings=embeddings).index_articles(
        Article(id=a["id"], title=a["title"], source="bench", text=a["text"]) for a in raw
    )
    print("| answerer | answered | with a short answer | exactly a gold answer | overlaps a gold answer | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind in args.answerers:
        assistant = Assistant(Settings(_env_file=None, index_dir=index_dir, answerer=kind), embeddings=embeddings)
        assistant.warm_up()
        assistant.ask(questions[0].question)  # loads the local model, if any
        answered = spans = exact = overlap = 0
        seconds = []
        for q in questions:
            started = time.perf_counter()
            answer = assistant.ask(q.question)
            seconds.append(time.perf_counter() - started)
            if answer.refused:
                continue
            answered += 1
            if answer.answer_span:
                spans += 1
                span, golds = normalise_answer(answer.answer_span), [normalise_answer(g) for g in q.answers]
                exact += span in golds
                overlap += any(g and (g in span or span in g) for g in golds)
        seconds.sort()
        n = max(answered, 1)
        print(f"| {kind} | {answered} | {spans / n:.1%} | {exact / n:.1%} | {overlap / n:.1%} "
              f"| {1000 * seconds[len(seconds) // 2]:.0f} | {1000 * seconds[int(0.95 * len(seconds))]:.0f} |")


if __name__ == "__main__":
    main()
