"""Readers fitted without some articles (`bench.fit_reader fit --folds --save-folds`), and the
questions about those articles: what the benchmarks measure a fold's reader on."""

from __future__ import annotations

import json
from pathlib import Path

from rag.answering.reader import Reader


def fold_reader(weights: Path) -> tuple[Reader, set[str] | None]:
    """A reader loaded from `weights`, and the titles of the articles it was not fitted on (a
    fold's, from `fit --save-folds`; None for the shipped reader, fitted on every article)."""
    reader = Reader(weights)
    reader.warm_up()
    held = reader.meta.get("held_out")
    return reader, set(held) if held else None


def questions_about(data: Path, questions: list, titles: set[str] | None) -> list:
    """The questions of SQuAD-format `data` about the articles titled `titles` (all for None)."""
    if titles is None:
        return questions
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    wanted = {q["id"] for row in rows if row["title"] in titles for q in row["questions"]}
    return [q for q in questions if q.id in wanted]
