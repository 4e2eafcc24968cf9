"""Short answers and refusals through the whole pipeline, on a SQuAD-format file.

For each sampled question: is the short answer exactly a gold answer (EM) and how much of one
(F1), both SQuAD-normalised and over all answerable questions (a refusal or an answer without a
short answer scores 0); does the cited sentence hold a gold answer; and, for unanswerable
questions (SQuAD 2.0), is it refused. Also the false refusals and warm latency.

With the reader (the default), `--reader fold-K.safetensors` (from `bench.fit_reader fit --folds
--save-folds`) measures a reader fitted without some articles on the questions about those
articles only: the held-out figure. `--no-reader` measures the answerer without it (the
best-scored sentence alone, no short answer).

Run: python -m bench.spans [--data squad_v1_public.jsonl] [--sample 0 = all] [--key-facts RULE ...]
     [--reader WEIGHTS | --no-reader]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from bench.fit_reader import fold_reader, questions_about
from rag.answering.keyfacts import RULES
from rag.assistant import Assistant
from rag.config import Settings
from rag.embeddings import OnnxEmbeddings
from rag.evaluate import load_file
from rag.text import answer_f1, normalise_answer
from rag.types import Article

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def measure(assistant: Assistant, questions) -> dict:
    answerable = [q for q in questions if q.answerable]
    impossible = [q for q in questions if not q.answerable]
    em = f = cited = shown = refused_ok = false_refusals = 0.0
    seconds = []
    for q in questions:
        started = time.perf_counter()
        answer = assistant.ask(q.question)
        seconds.append(time.perf_counter() - started)
        if not q.answerable:
            refused_ok += answer.refused
            continue
        if answer.refused:
            false_refusals += 1
            continue
        golds = [normalise_answer(g) for g in q.answers]
        if any(g and g in normalise_answer(c.quote) for c in answer.citations[:1] for g in golds):
            cited += 1
        if answer.short_answer:
            shown += 1
            em += normalise_answer(answer.short_answer.text) in golds
            f += max(answer_f1(answer.short_answer.text, g) for g in q.answers)
    seconds.sort()
    n = max(len(answerable), 1)
    return {
        "answerable": len(answerable),
        "unanswerable": len(impossible),
        "short_answer_em": round(em / n, 3),
        "short_answer_f1": round(f / n, 3),
        "with_short_answer": round(shown / n, 3),
        "cited_sentence_holds_gold": round(cited / n, 3),
        "false_refusals": round(false_refusals / n, 3),
        "unanswerable_refused": round(refused_ok / len(impossible), 3) if impossible else None,
        "p50_ms": round(1000 * seconds[len(seconds) // 2], 1),
        "p95_ms": round(1000 * seconds[int(0.95 * (len(seconds) - 1))], 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.spans", description=__doc__)
    ap.add_argument("--data", type=Path, default=EVAL / "squad_v1_public.jsonl")
    ap.add_argument("--sample", type=int, default=0, help="questions sampled (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--index-dir", type=Path, default=None, help="reuse an index of the file's articles")
    ap.add_argument("--key-facts", nargs="*", default=list(RULES), help=f"key-fact rules on (of {', '.join(RULES)})")
    ap.add_argument("--reader", type=Path, default=None, help="reader weights; a fold's: its held-out articles only")
    ap.add_argument("--no-reader", action="store_true", help="without the reader (the best-scored sentence alone)")
    ap.add_argument("--threshold", type=float, default=None, help="the reader's refusal threshold on P(none)")
    ap.add_argument("--sentences", type=int, default=None, help="sentences the reader reads (default: as fitted)")
    ap.add_argument("--result", type=Path, default=None)
    args = ap.parse_args(argv)

    raw, questions = load_file(args.data)
    reader = None
    if args.reader:
        reader, held = fold_reader(args.reader)
        questions = questions_about(args.data, questions, held)
    if args.sample:
        questions = random.Random(args.seed).sample(questions, min(args.sample, len(questions)))
    index_dir = args.index_dir or Path(tempfile.mkdtemp(prefix="rag-spans-")) / "index"
    embeddings = OnnxEmbeddings()
    assistant = Assistant(Settings(_env_file=None, index_dir=index_dir), embeddings=embeddings)
    started = time.perf_counter()
    assistant.index_articles(Article(id=a["id"], title=a["title"], source="bench", text=a["text"]) for a in raw)
    index_seconds = time.perf_counter() - started
    answerer = assistant._answer_pipeline().answerer
    answerer.key_facts = tuple(args.key_facts)
    if args.no_reader:
        answerer._reader = None
    elif reader is not None:
        answerer._reader = reader
    if answerer.reader is not None:
        if args.threshold is not None:
            answerer.reader.threshold = args.threshold
        if args.sentences:
            answerer.reader.warm_up()
            answerer.reader._sentences = args.sentences
    assistant.warm_up()
    result = {"data": args.data.name, "key_facts": args.key_facts,
              "reader": None if answerer.reader is None else str(answerer.reader.weights),
              "index_seconds": round(index_seconds, 1), **measure(assistant, questions)}
    print(json.dumps(result, indent=1))
    if args.result:
        args.result.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
