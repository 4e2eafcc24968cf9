"""`rag eval`: answer a question file and measure support recall, answer hits, refusals and latency.

Two formats (see ../shared/eval/README.md):
- questions about already indexed articles, one per line:
  `{"id", "question", "answers": [...], "support": [...], "answerable": bool}`;
- SQuAD-style, one article per line with its questions:
  `{"title", "article_text", "questions": [{"id", "question", "answers", "is_impossible"?}]}`.
  These articles are indexed into a scratch index (never the user's) with the same settings.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.text import normalise_answer


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]
    support: list[str]
    answerable: bool
    article: str | None = None


@dataclass
class Outcome:
    """One question's result, kept so reports can be recomputed and inspected."""

    question: Question
    refused: bool
    hit: bool
    support_rank: int | None  # 1-based rank of the first evidence item containing support
    cited_support: bool
    cited_chars: int
    seconds: float
    text: str = ""


@dataclass
class Report:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    index_seconds: float = 0.0
    chunks: int = 0

    def metrics(self) -> dict[str, Any]:
        answerable = [o for o in self.outcomes if o.question.answerable]
        unanswerable = [o for o in self.outcomes if not o.question.answerable]
        lat = sorted(o.seconds for o in self.outcomes)

        def share(items, pred):
            return round(sum(1 for o in items if pred(o)) / len(items), 4) if items else None

        def pct(p):
            if not lat:
                return None
            return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1)

        answered = [o for o in answerable if not o.refused]
        return {
            "file": self.name,
            "questions": len(self.outcomes),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "support_recall@1": share(answerable, lambda o: o.support_rank == 1),
            "support_recall@4": share(answerable, lambda o: o.support_rank is not None and o.support_rank <= 4),
            "cited_support": share(answerable, lambda o: o.cited_support),
            "answer_hit_rate": share(answerable, lambda o: o.hit),
            "false_refusal_rate": share(answerable, lambda o: o.refused),
            "refusal_accuracy": share(unanswerable, lambda o: o.refused),
            "mean_cited_chars": round(statistics.mean(o.cited_chars for o in answered), 1) if answered else None,
            "latency_p50_ms": pct(0.5),
            "latency_p95_ms": pct(0.95),
            "index_seconds": round(self.index_seconds, 2),
            "chunks": self.chunks,
        }


def _contains(haystack: str, needles: Iterable[str]) -> bool:
    h = normalise_answer(haystack)
    return any(n and normalise_answer(n) and normalise_answer(n) in h for n in needles)


def score_answer(question: Question, answer, seconds: float) -> Outcome:
    """Compare one `Answer` with the gold data (the metric definitions live here)."""
    evidence = [c.quote for c in answer.citations] + [p.text for p in answer.passages]
    rank = next((i + 1 for i, text in enumerate(evidence) if _contains(text, question.support)), None)
    return Outcome(
        question=question,
        refused=answer.refused,
        hit=(not answer.refused) and _contains(answer.text, question.answers),
        support_rank=rank,
        cited_support=any(_contains(c.quote, question.support) for c in answer.citations),
        cited_chars=sum(len(c.quote) for c in answer.citations),
        seconds=seconds,
        text=answer.text,
    )


def load_file(path: Path) -> tuple[list[dict] | None, list[Question]]:
    """`(articles, questions)`; `articles` is None for files about the already indexed articles."""
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise RagError(f"'{path}' {what}: give a .jsonl question file.")
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise RagError(f"Could not read '{path}': {exc.strerror or exc}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RagError(f"'{path}' is not JSON lines ({exc}).") from None
    if not rows:
        raise RagError(f"'{path}' holds no questions.")
    try:
        return _parse_rows(rows)
    except (KeyError, TypeError, AttributeError) as exc:
        raise RagError(
            f"'{path}' is not in a known question format ({type(exc).__name__}: {exc}); "
            "each line must be an object with a 'question', or an article with 'title', 'article_text' "
            "and 'questions' (SQuAD style)."
        ) from None


def _parse_rows(rows: list) -> tuple[list[dict] | None, list[Question]]:
    from rag.ingest import slugify

    if "article_text" in rows[0]:
        articles, questions = [], []
        for row in rows:
            article_id = slugify(row["title"])
            articles.append({"id": article_id, "title": row["title"].replace("_", " "), "text": row["article_text"]})
            for q in row["questions"]:
                impossible = bool(q.get("is_impossible"))
                answers = [] if impossible else list(q.get("answers", []))
                questions.append(Question(q["id"], q["question"], answers, answers, not impossible))
        return articles, questions
    questions = [
        Question(
            str(r.get("id", i)), r["question"], list(r.get("answers", [])), list(r.get("support", [])),
            bool(r.get("answerable", True)), r.get("article"),
        )
        for i, r in enumerate(rows)
    ]
    return None, questions


def run_eval(
    path: Path,
    assistant=None,
    *,
    limit: int | None = None,
    seed: int = 0,
    on_progress: Callable[[], None] | None = None,
    settings=None,
) -> Report:
    """Answer every question of `path` (or a seeded random sample of `limit`) and score it."""
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.types import Article

    articles, questions = load_file(Path(path))
    if limit is not None and limit < len(questions):
        questions = random.Random(seed).sample(questions, limit)
    report = Report(name=Path(path).name)
    scratch = None
    if articles is not None:
        base = settings or (assistant.settings if assistant else Settings())
        scratch = tempfile.TemporaryDirectory(prefix="rag-eval-")
        embeddings = assistant.embeddings if assistant else None
        # Always a private embedded index and records file: with RAG_STORE=server or a shared
        # RAG_RECORDS_URL, the scratch articles would otherwise land in the user's own index.
        private = {"index_dir": Path(scratch.name), "store": "embedded", "records_url": None}
        assistant = Assistant(base.with_overrides(**private), embeddings=embeddings)
        started = time.perf_counter()
        result = assistant.index_articles(
            Article(id=a["id"], title=a["title"], source=f"eval:{Path(path).name}#{a['id']}", text=a["text"])
            for a in articles
        )
        if result.failed:
            raise RagError(f"Could not index the articles of '{path}': {result.failed[0][1]}")
        report.index_seconds = time.perf_counter() - started
    elif assistant is None:
        assistant = Assistant(settings) if settings else Assistant()
    try:
        assistant.warm_up()
        report.chunks = assistant.chunk_count()
        for q in questions:
            started = time.perf_counter()
            answer = assistant.ask(q.question, article=q.article)
            report.outcomes.append(score_answer(q, answer, time.perf_counter() - started))
            if on_progress:
                on_progress()
    finally:
        if scratch is not None:
            assistant.reopen()
            scratch.cleanup()
    return report
