"""How often the LLM citation checker (rag/answering/checker.py) keeps a citation it should keep, and one it should drop.

No LLM runs here: claims are written the way an LLM answers a SQuAD question, "<question without
its question word>: <answer>." ("represented the US: a deputy secretary of state."), and cited to
a retrieved passage. Three kinds per question:

- supported: the gold answer, cited to the retrieved passage that contains it (should be kept);
- wrong passage: the gold answer, cited to another retrieved passage without it (should be dropped);
- wrong answer: another question's gold answer from the same article, not in the cited passage,
  cited to the passage that holds the real answer (should be dropped; the hardest case, as the claim
  shares the question's words with the passage).

With `--reader` (the shipped one, or a fold's from `bench.fit_reader --save-folds`: then only
the articles it never saw), a citation must also quote a sentence the reader finds to answer the
question (`ExtractiveAnswerer.endorsed`), as the LLM answerers require.

Run: python -m bench.citations [--articles 12] [--per-article 25] [--reader [WEIGHTS]]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
from pathlib import Path

from bench.folds import fold_reader, questions_about
from rag.answering.checker import (
    MIN_ANSWER_PART,
    MIN_QUESTION_PART,
    NEIGHBOUR_MATCH,
    CitationChecker,
)
from rag.answering.reader import WEIGHTS
from rag.assistant import Assistant
from rag.config import Settings
from rag.evaluate import _contains, load_file
from rag.types import Article

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
_QWORD = re.compile(r"^\s*(?:who|whom|whose|what|which|when|where|why|how(?: many| much)?)\s+(?:is|was|are|were|did|does|do)?\s*", re.I)


def claim(question: str, answer: str) -> str:
    return f"{_QWORD.sub('', question).rstrip('?. ')}: {answer}."


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.citations", description=__doc__)
    ap.add_argument("--data", type=Path, default=EVAL / "squad_v1_public.jsonl")
    ap.add_argument("--articles", type=int, default=12, help="first N articles of the file")
    ap.add_argument("--per-article", type=int, default=25, help="questions sampled per article")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-answer-part", type=float, default=MIN_ANSWER_PART,
                    help="share of the claim's answer part the cited sentence must say (0: the rule off)")
    ap.add_argument("--min-question-part", type=float, default=MIN_QUESTION_PART)
    ap.add_argument("--neighbour-match", type=float, default=NEIGHBOUR_MATCH,
                    help="credit for an answer word found only in the neighbouring sentence")
    ap.add_argument("--reader", type=Path, nargs="?", const=WEIGHTS, default=None,
                    help="also require the reader's endorsement (default weights: the shipped ones)")
    ap.add_argument("--endorsed-share", type=float, default=None)
    args = ap.parse_args(argv)

    raw, questions = load_file(args.data)
    raw = raw[: args.articles]
    # The questions of a SQuAD-format file follow its articles, one line per article.
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    article_of = {q["id"]: a["id"] for a, row in zip(raw, rows) for q in row["questions"]}
    rng = random.Random(args.seed)
    by_article: dict[str, list] = {}
    reader = None
    if args.reader:
        reader, held = fold_reader(args.reader)
        questions = questions_about(args.data, questions, held)
    for q in questions:
        if q.id in article_of and q.answerable:
            by_article.setdefault(article_of[q.id], []).append(q)

    assistant = Assistant(Settings(_env_file=None, index_dir=Path(tempfile.mkdtemp(prefix="rag-cite-")) / "index"))
    assistant.index_articles(Article(id=a["id"], title=a["title"], source="bench", text=a["text"]) for a in raw)
    pipeline = assistant._answer_pipeline()  # noqa: SLF001 - a benchmark looks inside
    answerer = pipeline.answerer
    answerer._reader = reader  # noqa: SLF001 - None: the word rules alone
    if args.endorsed_share is not None:
        answerer.endorsed_share = args.endorsed_share
    checker = CitationChecker(assistant.embeddings, min_answer_part=args.min_answer_part,
                              min_question_part=args.min_question_part, neighbour_match=args.neighbour_match)

    kept = {"supported": [0, 0], "wrong passage": [0, 0], "wrong answer": [0, 0]}
    for aid, qs in by_article.items():
        for q in rng.sample(qs, min(args.per_article, len(qs))):
            ctx = pipeline.context(q.question, article=aid)
            hits = ctx.hits
            endorsed = answerer.endorsed(ctx)
            right = next((n for n, h in enumerate(hits, 1) if _contains(h.chunk.text, q.answers)), None)
            if right is None:
                continue
            gold = q.answers[0]

            def check(kind: str, text: str, n: int) -> None:
                sup = checker.support(claim(q.question, text), n, hits[n - 1], ctx.corpus, q.question)
                ok = bool(sup and sup.supported)
                if ok and endorsed is not None:
                    ok = (sup.article_id, sup.sentence) in endorsed
                kept[kind][0] += ok
                kept[kind][1] += 1

            check("supported", gold, right)
            other = next((n for n, h in enumerate(hits, 1) if not _contains(h.chunk.text, q.answers)), None)
            if other is not None:
                check("wrong passage", gold, other)
            wrong = [o.answers[0] for o in qs if o.id != q.id and not _contains(hits[right - 1].chunk.text, o.answers)]
            if wrong:
                check("wrong answer", rng.choice(wrong), right)

    print(f"{args.data.name}, {len(by_article)} articles, up to {args.per_article} questions each; "
          f"answer part >= {args.min_answer_part}, question part >= {args.min_question_part}, "
          f"neighbour sentence credit {args.neighbour_match}; reader {args.reader or 'off'}")
    print("| claim cited to | claims | kept |\n|---|---:|---:|")
    for kind, (k, n) in kept.items():
        print(f"| {kind} | {n} | {k / n:.1%} |" if n else f"| {kind} | 0 | – |")


if __name__ == "__main__":
    main()
