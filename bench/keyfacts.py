"""Key-fact rules, one by one and together: false refusals on answerable questions and refusals of
unanswerable ones (SQuAD 2.0).

The answerer runs once per question with no key-fact rule; for each answer, every rule is checked
on its evidence (the short answer's sentence with its paragraph neighbours), so one pass gives the
figures of every combination of rules.

Run: python -m bench.keyfacts [--data ../shared/eval/squad_v2_public.jsonl] [--index-dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

from rag.answering.keyfacts import ALL_RULES, RULES, evidence_of, missing_facts
from rag.assistant import Assistant
from rag.config import Settings
from rag.embeddings import OnnxEmbeddings
from rag.evaluate import load_file
from rag.types import Article

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.keyfacts", description=__doc__)
    ap.add_argument("--data", type=Path, default=EVAL / "squad_v2_public.jsonl")
    ap.add_argument("--index-dir", type=Path, default=None)
    args = ap.parse_args(argv)

    raw, questions = load_file(args.data)
    index_dir = args.index_dir or Path(tempfile.mkdtemp(prefix="rag-keyfacts-")) / "index"
    assistant = Assistant(Settings(_env_file=None, index_dir=index_dir), embeddings=OnnxEmbeddings())
    assistant.index_articles(Article(id=a["id"], title=a["title"], source="bench", text=a["text"]) for a in raw)
    pipeline = assistant._answer_pipeline()
    pipeline.answerer.key_facts = ()
    counts = {"answerable": 0, "unanswerable": 0, "answerable_refused": 0, "unanswerable_refused": 0}
    fired: list[tuple[bool, set[str]]] = []
    for q in questions:
        kind = "answerable" if q.answerable else "unanswerable"
        counts[kind] += 1
        answer = assistant.ask(q.question)
        if answer.refused:
            counts[kind + "_refused"] += 1
            continue
        n = answer.short_answer.n if answer.short_answer else 1
        c = next(x for x in answer.citations if x.n == n)
        corpus = pipeline.corpus
        index = next(i for i, s in enumerate(corpus.sentences(c.article_id)) if s.start == c.start)
        evidence = evidence_of(corpus, c.article_id, index)
        article_terms = corpus.article_terms(c.article_id)
        title = corpus.titles.get(c.article_id, "")
        rules = {r for r in ALL_RULES if missing_facts(q.question, evidence, title, (r,), article_terms)}
        if rules:
            fired.append((q.answerable, rules))

    def row(combo: tuple[str, ...]) -> tuple[float, float]:
        fr = counts["answerable_refused"] + sum(1 for ok, r in fired if ok and r & set(combo))
        refused = counts["unanswerable_refused"] + sum(1 for ok, r in fired if not ok and r & set(combo))
        return fr / max(counts["answerable"], 1), refused / max(counts["unanswerable"], 1)

    print(f"{counts}")
    print("| rules on | false refusals | unanswerable refused |")
    print("|---|---:|---:|")
    combos = [()] + [(r,) for r in ALL_RULES] + [RULES, ALL_RULES]
    combos += [c for k in range(2, len(ALL_RULES)) for c in itertools.combinations(ALL_RULES, k) if c != RULES]
    for combo in combos:
        fr, refused = row(combo)
        label = ", ".join(combo) or "none"
        print(f"| {label}{' (default)' if combo == RULES else ''} | {fr:.1%} | {refused:.1%} |")


if __name__ == "__main__":
    main()
