"""The reader's forward pass, eager against traced, and the question's embedding, back to back
against after a pause: the parts of a warm answer that `bench.spans` times only together.

Batches are 3 sentences of the SQuAD articles (as the reader reads them when answering) with one
of the file's questions, in a seeded order. For each batch the eager network and the TorchScript
graph the reader answers with (`reader.traced`) run in turn; every output is compared. Then the
question is embedded back to back, and again after each of the `--pauses` (a chat's questions
come seconds apart). Bounded: `--batches` batches, `--embeds` embeddings per pause.

Run: python -m bench.reader_speed [--data squad_v1_public.jsonl] [--batches 150] [--embeds 40]
[--pauses 0 0.02 0.5]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from bench.spans import EVAL
from rag.answering.reader import _inputs, default_reader
from rag.chunking import split_sentences
from rag.embeddings import OnnxEmbeddings
from rag.evaluate import load_file


def _ms(seconds: list[float]) -> dict:
    return {"p50_ms": round(float(np.median(seconds)) * 1000, 2), "p95_ms": round(float(np.percentile(seconds, 95)) * 1000, 2)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.reader_speed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=EVAL / "squad_v1_public.jsonl")
    ap.add_argument("--batches", type=int, default=150)
    ap.add_argument("--embeds", type=int, default=40)
    ap.add_argument("--pauses", type=float, nargs="+", default=[0.0, 0.02, 0.5])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    articles, asked = load_file(args.data)
    questions = [q.question for q in asked]
    # The sentences the index cuts the articles into, as the reader reads them.
    texts = (a["text"][x.start : x.end] for a in articles or [] for x in split_sentences(a["text"]))
    sentences = sorted({t for t in texts if len(t.split()) >= 5})
    rng = random.Random(args.seed)

    reader = default_reader()
    reader.warm_up()
    torch = reader._torch  # noqa: SLF001 - the bench times the reader's own two forward passes
    eager, graph = reader._net, reader._forward  # noqa: SLF001
    eager_s, graph_s, differ = [], [], 0
    with torch.inference_mode():
        for k in range(args.batches + 10):  # the first 10 warm up and are not counted
            inputs = _inputs(reader._pairs, rng.choice(questions), rng.sample(sentences, 3), torch,  # noqa: SLF001
                             eager.null.dtype)
            started = time.perf_counter()
            a = eager(*inputs)
            middle = time.perf_counter()
            b = graph(*inputs)
            ended = time.perf_counter()
            if k >= 10:
                eager_s.append(middle - started)
                graph_s.append(ended - middle)
                differ += not all(torch.equal(x, y) for x, y in zip(a, b))

    embeddings = OnnxEmbeddings()
    embeddings.warm_up()
    embedded = {}
    for pause in args.pauses:
        seconds = []
        for _ in range(args.embeds):
            if pause:
                time.sleep(pause)
            question = rng.choice(questions)
            started = time.perf_counter()
            embeddings.embed_query(question)
            seconds.append(time.perf_counter() - started)
        embedded[f"after_{pause}s"] = _ms(seconds[2:])
    print(json.dumps({
        "batches": args.batches, "traced": graph is not eager,
        "forward_eager": _ms(eager_s), "forward_traced": _ms(graph_s), "batches_differing": differ,
        "embed_query": embedded,
    }, indent=1))


if __name__ == "__main__":
    main()
