"""Short answers and refusals through the whole pipeline, on a SQuAD-format file.

For each sampled question: is the short answer exactly a gold answer (EM) and how much of one
(F1), both SQuAD-normalised and over all answerable questions (a refusal or an answer without a
short answer scores 0), and the same for what the answer bolds (`bold_em`/`bold_f1`: the short
answer, or without one the span simple rules bolded in the cited sentence); does the cited
sentence hold a gold answer; and, for unanswerable questions (SQuAD 2.0), is it refused. Also the
false refusals and warm latency.

With the reader (the default), `--reader fold-K.safetensors` (from `bench.fit_reader fit --folds
--save-folds`) measures a reader fitted without some articles on the questions about those
articles only: the held-out figure. `--no-reader` measures the answerer without it (the
best-scored sentence alone, a span bolded by rules, no short answer: `RAG_READER=false`).

`--sweep T ...` asks once with the reader's refusal off and summarises at each threshold on
P(none); `--records` keeps each question's record so that folds can be pooled (`--pool`).

Run: python -m bench.spans [--data squad_v1_public.jsonl] [--sample 0 = all] [--key-facts RULE ...]
     [--reader WEIGHTS | --no-reader] [--sweep 0.3 0.5 0.7] [--records FILE]
     python -m bench.spans --pool FILE ... [--sweep 0.3 0.5 0.7]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from bench.folds import fold_reader, questions_about
from rag.answering.keyfacts import RULES
from rag.assistant import Assistant
from rag.config import Settings
from rag.embeddings import OnnxEmbeddings
from rag.evaluate import load_file
from rag.text import answer_f1, normalise_answer
from rag.types import Answer, Article, Citation

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def answer_sentence(answer: Answer) -> Citation | None:
    """The sentence an answer is read from: the one its short answer cites (`[n]` after the bold
    words), else its first. An answer that also cites an earlier sentence for context ("Two days
    later, the FBI ordered …", then "John G. Trump … was called in") lists that one first, in
    article order, though the short answer comes from the second."""
    sa = answer.short_answer
    first = answer.citations[0] if answer.citations else None
    return next((c for c in answer.citations if sa is not None and c.n == sa.n), first)


def ask_all(assistant: Assistant, questions, with_reader: bool = True) -> list[dict]:
    """One record per question: what a summary at any refusal threshold needs. `p_none` is the
    reader's P(none of the sentences answers) (1 - the answer's confidence); `score` the
    answerer's score of its best-scored sentence (None: no sentence); `refused` is the answerer's
    own refusal at its thresholds."""
    answerer = assistant._answer_pipeline().answerer
    seen: list = []
    decide = answerer.verdict

    def watched(ctx):  # keeps each verdict's best score for the record (bench-only)
        seen.append(decide(ctx))
        return seen[-1]

    answerer.verdict = watched
    records = []
    try:
        for q in questions:
            seen.clear()
            started = time.perf_counter()
            answer = assistant.ask(q.question)
            seconds = time.perf_counter() - started
            cands = seen[0].cands if seen else []
            golds = [normalise_answer(g) for g in q.answers]
            sa, sentence = answer.short_answer, answer_sentence(answer)
            # What the answer puts in bold: the short answer, or without one the span of the cited
            # sentence that simple rules bolded (the answer without the reader has only that).
            bold = sa.text if sa is not None else answer.answer_span
            records.append({
                "id": q.id, "answerable": q.answerable, "refused": answer.refused,
                "p_none": round(1.0 - answer.confidence, 5) if with_reader else None, "seconds": round(seconds, 5),
                "score": round(cands[0].score, 5) if cands else None,
                # The best-scored sentence's evidence, for fitting refusal rules on these records.
                "evidence": [round(x, 5) for x in (
                    cands[0].lexical, cands[0].context, cands[0].dense, cands[0].type_match, cands[0].missing_names,
                    cands[0].score - (cands[1].score if len(cands) > 1 else 0.0),
                    max((p for _, _, p in seen[0].read), default=0.0),
                )] if cands else None,
                "cited": sentence is not None and any(g and g in normalise_answer(sentence.quote) for g in golds),
                "short": sa is not None,
                "short_text": sa.text if sa is not None else None,  # to tell two runs' answers apart
                "em": float(sa is not None and normalise_answer(sa.text) in golds),
                "f1": max((answer_f1(sa.text, g) for g in q.answers), default=0.0) if sa else 0.0,
                "bold_em": float(bool(bold) and normalise_answer(bold) in golds),
                "bold_f1": max((answer_f1(bold, g) for g in q.answers), default=0.0) if bold else 0.0,
            })
    finally:
        del answerer.verdict
    return records


def summarise(records: list[dict], threshold: float | None = None, floor: float | None = None) -> dict:
    """Short-answer EM / F1 over all answerable questions (a refusal scores 0), the cited sentence
    holding a gold answer, false refusals, unanswerable questions refused, warm latency. With
    `threshold`, a question is also refused where P(none) is above it (for records asked with the
    reader's refusal off); with `floor`, also where the best sentence's score is below it."""
    def refused(r):
        return (
            r["refused"]
            or (threshold is not None and r["p_none"] is not None and r["p_none"] > threshold)
            or (floor is not None and (r.get("score") is None or r["score"] < floor))
        )

    answerable = [r for r in records if r["answerable"]]
    impossible = [r for r in records if not r["answerable"]]
    answered = [r for r in answerable if not refused(r)]
    n = max(len(answerable), 1)
    seconds = sorted(r["seconds"] for r in records)
    return {
        "threshold": threshold,
        **({"floor": floor} if floor is not None else {}),
        "answerable": len(answerable),
        "unanswerable": len(impossible),
        "short_answer_em": round(sum(r["em"] for r in answered) / n, 3),
        "short_answer_f1": round(sum(r["f1"] for r in answered) / n, 3),
        "with_short_answer": round(sum(r["short"] for r in answered) / n, 3),
        # Records from before the bolded span was kept count their short answer.
        "bold_em": round(sum(r.get("bold_em", r["em"]) for r in answered) / n, 3),
        "bold_f1": round(sum(r.get("bold_f1", r["f1"]) for r in answered) / n, 3),
        "cited_sentence_holds_gold": round(sum(r["cited"] for r in answered) / n, 3),
        "false_refusals": round((len(answerable) - len(answered)) / n, 3),
        "unanswerable_refused": round(sum(refused(r) for r in impossible) / len(impossible), 3) if impossible else None,
        "p50_ms": round(1000 * seconds[len(seconds) // 2], 1) if seconds else None,
        "p95_ms": round(1000 * seconds[int(0.95 * (len(seconds) - 1))], 1) if seconds else None,
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
    ap.add_argument("--records", type=Path, default=None, help="append each question's record here (JSON lines)")
    ap.add_argument("--sweep", type=float, nargs="+", default=None,
                    help="ask with the reader's refusal off, then summarise at each of these thresholds on P(none)")
    ap.add_argument("--refusal-threshold", type=float, default=None,
                    help="the answerer's score threshold (default: the setting's); lower it to sweep --floors")
    ap.add_argument("--floors", type=float, nargs="+", default=None,
                    help="with --pool: also summarise refusing where the best score is below each of these")
    ap.add_argument("--pool", type=Path, nargs="+", default=None,
                    help="summarise these record files together (no asking): held-out folds pooled")
    args = ap.parse_args(argv)
    if args.pool:
        records = [json.loads(line) for path in args.pool for line in path.read_text(encoding="utf-8").splitlines()]
        for t in args.sweep or [None]:
            for floor in [None, *(args.floors or [])]:
                print(json.dumps(summarise(records, t, floor)))
        return

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
    if args.refusal_threshold is not None:
        answerer.refusal_threshold = args.refusal_threshold
    if args.no_reader:
        answerer._reader = None
    elif reader is not None:
        answerer._reader = reader
    if answerer.reader is not None:
        if args.sweep is not None:
            answerer.reader.warm_up()
            answerer.reader.threshold = 1.0
        elif args.threshold is not None:
            answerer.reader.threshold = args.threshold
        if args.sentences:
            answerer.reader.warm_up()
            answerer.reader._sentences = args.sentences
    assistant.warm_up()
    records = ask_all(assistant, questions, with_reader=answerer.reader is not None)
    if args.records:
        with args.records.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
    result = {"data": args.data.name, "key_facts": args.key_facts,
              "reader": None if answerer.reader is None else str(answerer.reader.weights),
              "index_seconds": round(index_seconds, 1)}
    if args.sweep is not None:
        result["by_threshold"] = [summarise(records, t) for t in args.sweep]
    else:
        result.update(summarise(records))
    print(json.dumps(result, indent=1))
    if args.result:
        args.result.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
