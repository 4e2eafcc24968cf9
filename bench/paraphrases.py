"""Paraphrased questions: answered where the article says it in other words, refused where it
does not say it at all.

SQuAD's questions were written by people looking at the paragraph, so they reuse its words; a
reader of the news does not. `bench/data/paraphrases.jsonl` holds questions written for this
benchmark (none comes from an eval file): each asks what one article says in other words ("the
United States" for "the US", "Britain" for "British", "the most valuable player" for "MVP", a
noun for a verb), with the gold answers as they stand verbatim in the article; a few about the
seed article ask what it does not say (`"answerable": false`).

The SQuAD articles are indexed all together, as `bench.spans` does, and the seed article on its
own, as `make run` does; every question goes through the whole pipeline and is summarised as
`bench.spans` summarises (short answer EM / F1, the cited sentence holding a gold answer, false
refusals, unanswerable questions refused). With a fold's reader (`--reader fold-K.safetensors`)
only the SQuAD questions about its held-out articles are asked, and all the seed article's (no
reader was fitted on it).

Run: python -m bench.paraphrases [--reader WEIGHTS] [--refusal-threshold S] [--records FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench.folds import fold_reader
from bench.spans import EVAL, ask_all, summarise
from rag.assistant import Assistant
from rag.config import Settings
from rag.embeddings import OnnxEmbeddings
from rag.evaluate import Question
from rag.types import Article

DATA = Path(__file__).with_name("data") / "paraphrases.jsonl"
SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SEED_TITLE = "Paris summit on Ukraine"


def load(path: Path = DATA) -> dict[str, list[Question]]:
    """The questions by article title, with ids `p<line>`."""
    by_article: dict[str, list[Question]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if line.strip():
            row = json.loads(line)
            answerable = row.get("answerable", True)
            answers = list(row["answers"]) if answerable else []
            by_article.setdefault(row["article"], []).append(Question(f"p{n}", row["question"], answers, answers, answerable))
    return by_article


def ask(articles: list[Article] | None, questions: list[Question], args, reader) -> list[dict]:
    """Index `articles` (None: the seeds folder) in a fresh index and ask `questions`."""
    index_dir = Path(tempfile.mkdtemp(prefix="rag-paraphrases-")) / "index"
    assistant = Assistant(Settings(_env_file=None, index_dir=index_dir), embeddings=OnnxEmbeddings())
    if articles is None:
        assistant.index(SEEDS)
    else:
        assistant.index_articles(articles)
    answerer = assistant._answer_pipeline().answerer
    if reader is not None:
        answerer._reader = reader
    if args.refusal_threshold is not None:
        answerer.refusal_threshold = args.refusal_threshold
    assistant.warm_up()
    return ask_all(assistant, questions, with_reader=answerer.reader is not None)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.paraphrases", description=__doc__)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--reader", type=Path, default=None, help="reader weights; a fold's: its held-out SQuAD articles only")
    ap.add_argument("--refusal-threshold", type=float, default=None, help="the answerer's score threshold")
    ap.add_argument("--records", type=Path, default=None, help="append each question's record here (JSON lines)")
    args = ap.parse_args(argv)
    wanted = load(args.data)
    reader, held = fold_reader(args.reader) if args.reader else (None, None)
    squad = [json.loads(line) for line in (EVAL / "squad_v1_public.jsonl").read_text(encoding="utf-8").splitlines()]
    squad_questions = [q for row in squad if held is None or row["title"] in held for q in wanted.get(row["title"], [])]
    unknown = set(wanted) - {row["title"] for row in squad} - {SEED_TITLE}
    if unknown:
        raise SystemExit(f"{args.data} asks about articles that are neither SQuAD's nor the seed's: {sorted(unknown)}")
    records = {
        "seed article": ask(None, wanted.get(SEED_TITLE, []), args, reader),
        "SQuAD articles": ask(
            [Article(id=row["title"].lower(), title=row["title"].replace("_", " "), source="bench", text=row["article_text"])
             for row in squad],
            squad_questions, args, reader,
        ),
    }
    if args.records:
        with args.records.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps({**r, "set": name}) + "\n" for name, rs in records.items() for r in rs)
    for name, rs in records.items():
        print(json.dumps({"set": name, "reader": str(args.reader or "shipped"), **summarise(rs)}))
    print(json.dumps({"set": "both", "reader": str(args.reader or "shipped"), **summarise([r for rs in records.values() for r in rs])}))


if __name__ == "__main__":
    main()
