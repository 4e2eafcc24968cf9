"""The LLM path measured on real model output: how much of what a model says survives the citation
checker, and how often what survives is wrong.

Systems, each on the same index and the same questions:
- `extractive`: the offline answerer (no model);
- `free`: SmolLM2-135M-Instruct through llama-cpp-python's OpenAI-compatible server
  (`bench.llama_server`), writing its own answer, every `[n]` checked afterwards;
- `grounded`: the same server, naming only a short answer and its passage (rag/answering/grounded.py);
- `local-gemma`, `local-smollm2`: the `local` answerer (in-process GGUF through llama-cpp-python,
  proposing the short answer) with Gemma 3 270M (base) and SmolLM2-135M-Instruct.

Questions: the seed dev set (../shared/eval/dev_article.jsonl on seeds/) and a seeded sample of
SQuAD v1 (answerable) and v2 (with unanswerable) questions, each file on its own index.

Measures: answer hit (a gold answer in the text, not refused), short-answer EM / F1 (SQuAD
normalisation; the answer's short span, else its text without markers; refused = 0), claims
proposed / kept (a claim is an answer sentence with `[n]`; for the grounded mode a short answer),
kept claims that are wrong (none of their cited sentences holds a gold answer; every claim kept
for an unanswerable question is wrong), bold short answers wrong (counted per answer, not per
claim: an answer whose bold short answer shares no word with a gold answer, or that gives one to
an unanswerable question; stricter, since a claim can quote a sentence that holds the answer and
bold another thing in it), refusals of unanswerable questions, p50 / p95 seconds.

With `--reader fold-K.safetensors` (`bench.fit_reader --save-folds`) the offline answerer and the
checker's endorsement use a reader fitted without some articles, and the SQuAD questions are
sampled from those articles only: figures on articles the reader never saw.

With `--replies FILE` every reply of the server's model is written to FILE, keyed by its prompt,
and a prompt already there is answered from it without asking the model; with `--replay` too, no
server is started and every reply comes from FILE (a prompt missing from it fails like a server
that is down, so the offline answer stands in and is counted as a fallback). A change to the
checker is then measured on the same real model output in seconds, not an hour of both cores.
The prompts depend on the index and retrieval only, so a file stays valid across checker and
reader changes, not across retrieval or prompt changes (the fallback count shows those).

Run: python -m bench.llm [--v1 100 --v2 100] [--systems extractive free grounded local-gemma local-smollm2]
     [--reader WEIGHTS] [--replies FILE [--replay]]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from pathlib import Path

from langchain_core.caches import BaseCache
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration

from bench.folds import questions_about
from rag.answering.checker import (
    answer_sentences,
    has_words,
    strip_markers,
    visible_text,
)
from rag.assistant import Assistant
from rag.config import Settings
from rag.evaluate import Question, _contains, load_file
from rag.text import answer_f1, normalise_answer
from rag.types import Answer, Article

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"
SYSTEMS = ("extractive", "free", "grounded", "local-gemma", "local-smollm2")
LLM_K = 3


class Replies(BaseCallbackHandler):
    """The chat model's raw replies (the claims it proposed, before checking)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def on_llm_end(self, response, **kwargs):
        for generations in response.generations:
            for g in generations:
                self.texts.append(g.text)


class ReplyBook(BaseCache):
    """The model's replies by prompt, in a JSON-lines file: LangChain's cache interface, so the chat
    model looks a prompt up before asking the server and records what the server says. Keyed by
    the prompt alone (a book holds one model's replies at temperature 0); LangChain's own
    SQLiteCache lives in langchain-community, which the project does not otherwise need, and
    keys on the model's settings, which hold the server's port, new each run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.replies: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.replies[row["prompt"]] = row["reply"]

    def lookup(self, prompt: str, llm_string: str):
        if prompt not in self.replies:
            return None
        return [ChatGeneration(message=AIMessage(content=self.replies[prompt]))]

    def update(self, prompt: str, llm_string: str, return_val) -> None:
        reply = "".join(g.text for g in return_val)
        self.replies[prompt] = reply
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"prompt": prompt, "reply": reply}, ensure_ascii=False) + "\n")

    def clear(self, **kwargs) -> None:
        self.replies.clear()
        self.path.unlink(missing_ok=True)


# --- scoring -------------------------------------------------------------------------------------
def short_answer(answer: Answer) -> str:
    if answer.answer_span:
        return answer.answer_span
    return " ".join(strip_markers(answer.text).replace("**", "").replace("\\", "").split())


def claims(answer: Answer) -> list[list[str]]:
    """The quotes each shown claim cites (one list per answer sentence with markers)."""
    if answer.refused:
        return []
    by_n = {c.n: c.quote for c in answer.citations}
    out = []
    for s, e in answer_sentences(answer.text):
        ns = [int(n) for n in re.findall(r"(?<!\\)\[(\d+)\]", answer.text[s:e])]
        if ns:
            out.append([by_n[n] for n in ns if n in by_n])
    return out


def proposed_claims(reply: str) -> int:
    """Sentences of the model's reply that say something (before any checking)."""
    text = visible_text(reply)
    return sum(1 for s, e in answer_sentences(text) if has_words(text[s:e]))


@dataclass
class Tally:
    questions: int = 0
    answerable: int = 0
    unanswerable: int = 0
    hits: int = 0
    em: float = 0.0
    f1: float = 0.0
    false_refusals: int = 0
    refused_unanswerable: int = 0
    proposed: int = 0
    kept: int = 0
    kept_wrong: int = 0
    shown_short: int = 0
    short_wrong: int = 0
    fallbacks: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, q: Question, answer: Answer, seconds: float, proposed: int) -> None:
        self.questions += 1
        self.seconds.append(seconds)
        shown = claims(answer)
        self.proposed += proposed
        self.kept += len(shown)
        self.fallbacks += answer.answerer == "extractive" and bool(answer.notice)
        if not answer.refused and answer.answer_span:
            # Stricter than a wrong claim: the bold short answer shares no word with a gold answer
            # (a claim can quote a sentence that holds the answer and bold another thing in it).
            self.shown_short += 1
            self.short_wrong += not q.answerable or not any(answer_f1(answer.answer_span, g) for g in q.answers)
        if q.answerable:
            self.answerable += 1
            self.false_refusals += answer.refused
            if not answer.refused:
                self.hits += _contains(answer.text, q.answers)
                pred = short_answer(answer)
                self.em += max((float(normalise_answer(pred) == normalise_answer(g)) for g in q.answers), default=0.0)
                self.f1 += max((answer_f1(pred, g) for g in q.answers), default=0.0)
            self.kept_wrong += sum(1 for quotes in shown if not any(_contains(x, q.answers) for x in quotes))
        else:
            self.unanswerable += 1
            self.refused_unanswerable += answer.refused
            self.kept_wrong += len(shown)

    def row(self, name: str) -> str:
        def share(a, b):
            return f"{a / b:.1%}" if b else "–"

        s = sorted(self.seconds)
        p50 = statistics.median(s) if s else 0.0
        p95 = s[min(len(s) - 1, int(0.95 * len(s)))] if s else 0.0
        dropped = self.proposed - self.kept
        return (
            f"| {name} | {self.questions} | {share(self.hits, self.answerable)} | "
            f"{share(self.em, self.answerable)} / {share(self.f1, self.answerable)} | "
            f"{self.proposed} / {self.kept} / {max(dropped, 0)} | {self.kept_wrong} ({share(self.kept_wrong, self.kept)}) | "
            f"{self.short_wrong} / {self.shown_short} ({share(self.short_wrong, self.shown_short)}) | "
            f"{share(self.refused_unanswerable, self.unanswerable)} | {share(self.false_refusals, self.answerable)} | "
            f"{p50:.2f} / {p95:.2f} |"
        )


HEADER = (
    "| system | questions | answer hit | short answer EM / F1 | claims proposed / kept / dropped | "
    "kept claims wrong | bold short answers wrong | unanswerable refused | false refusals | p50 / p95 s |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


# --- data ----------------------------------------------------------------------------------------
def datasets(v1: int, v2: int, seed: int, titles: set[str] | None = None) -> list[tuple[str, list[Article], list[Question]]]:
    seed_text = (ROOT / "seeds" / "paris-summit-on-ukraine.md").read_text(encoding="utf-8")
    _, dev = load_file(EVAL / "dev_article.jsonl")
    out = [("seed dev set", [Article(id="paris-summit-on-ukraine", title="Paris summit on Ukraine",
                                      source="seeds/paris-summit-on-ukraine.md", text=seed_text)], dev)]
    for name, count in (("squad_v1_public", v1), ("squad_v2_public", v2)):
        if count <= 0:
            continue
        raw, questions = load_file(EVAL / f"{name}.jsonl")
        articles = [Article(id=a["id"], title=a["title"], source=f"eval:{name}", text=a["text"]) for a in raw]
        questions = questions_about(EVAL / f"{name}.jsonl", questions, titles)
        out.append((name, articles, random.Random(seed).sample(questions, min(count, len(questions)))))
    return out


# --- systems -------------------------------------------------------------------------------------
def system_settings(name: str, index_dir: Path, server) -> dict:
    if name == "extractive":
        return {"answerer": "extractive"}
    if name in ("free", "grounded"):
        # Three passages, not six: the prompt is what costs on 2 shared cores (~60 tokens/s).
        return {"answerer": "openai", "llm_base_url": server.base_url, "llm_model": server.model,
                "llm_mode": name, "llm_max_tokens": 64, "llm_timeout": 300, "llm_rewrite": False, "k": LLM_K}
    if name == "local-gemma":
        return {"answerer": "local"}
    if name == "local-smollm2":
        from bench.llama_server import smollm2_gguf

        return {"answerer": "local", "llm_model": str(smollm2_gguf())}
    raise ValueError(f"Unknown system {name!r}: use {', '.join(SYSTEMS)}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.llm", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--v1", type=int, default=100, help="questions sampled from squad_v1_public")
    ap.add_argument("--v2", type=int, default=100, help="questions sampled from squad_v2_public")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    ap.add_argument("--out", type=Path, help="also write every answer as JSON lines here")
    ap.add_argument("--reader", type=Path, default=None, help="reader weights (a fold's: its held-out articles only)")
    ap.add_argument("--replies", type=Path, default=None, help="the server model's replies by prompt: read, and written")
    ap.add_argument("--replay", action="store_true", help="start no server: every reply from --replies")
    args = ap.parse_args(argv)
    if args.replay and args.replies is None:
        ap.error("--replay needs --replies FILE (written by an earlier run with --replies)")
    book = ReplyBook(args.replies) if args.replies else None
    reader = held = None
    if args.reader:
        from bench.folds import fold_reader

        reader, held = fold_reader(args.reader)

    from rag.embeddings import OnnxEmbeddings

    embeddings = OnnxEmbeddings()
    embeddings.warm_up()
    records = args.out.open("w", encoding="utf-8") if args.out else None
    totals = {name: Tally() for name in args.systems}
    with ExitStack() as stack:
        server = None
        if args.replay:
            from bench.llama_server import RunningServer

            # Nothing listens on the discard port: a prompt missing from the book fails at once.
            server = RunningServer(base_url="http://127.0.0.1:9/v1", model="replay", log=Path(os.devnull))
        elif {"free", "grounded"} & set(args.systems):
            from bench.llama_server import llama_server

            server = stack.enter_context(llama_server())
        for data_name, articles, questions in datasets(args.v1, args.v2, args.seed, held):
            index_dir = Path(tempfile.mkdtemp(prefix="rag-llm-bench-")) / "index"
            Assistant(Settings(_env_file=None, index_dir=index_dir), embeddings=embeddings).index_articles(articles)
            print(f"\n{data_name}: {len(questions)} questions "
                  f"({sum(q.answerable for q in questions)} answerable), {len(articles)} articles", flush=True)
            print(HEADER, flush=True)
            for name in args.systems:
                settings = Settings(_env_file=None, index_dir=index_dir, **system_settings(name, index_dir, server))
                assistant = Assistant(settings, embeddings=embeddings)
                pipeline = assistant._answer_pipeline()  # noqa: SLF001 - a benchmark looks inside
                if reader is not None:
                    offline = getattr(pipeline.answerer, "fallback", pipeline.answerer)
                    offline._reader = reader  # noqa: SLF001
                replies = Replies()
                chat = getattr(pipeline.answerer, "chat_model", None)
                if chat is not None:
                    chat.callbacks = [replies]
                    if book is not None and name in ("free", "grounded"):
                        chat.cache = book
                assistant.ask(questions[0].question)  # loads a local model, warms the server
                tally = Tally()
                for q in questions:
                    before = len(replies.texts)
                    started = time.perf_counter()
                    answer = assistant.ask(q.question)
                    seconds = time.perf_counter() - started
                    if name == "free":
                        proposed = sum(proposed_claims(t) for t in replies.texts[before:])
                    elif name == "grounded":
                        proposed = pipeline.answerer.last_proposed
                    else:
                        proposed = len(claims(answer))
                    tally.add(q, answer, seconds, proposed)
                    if records:
                        records.write(json.dumps({
                            "data": data_name, "system": name, "id": q.id, "question": q.question,
                            "answers": q.answers, "answerable": q.answerable, "reply": replies.texts[before:],
                            "text": answer.text, "refused": answer.refused, "span": answer.answer_span,
                            "notice": answer.notice, "seconds": round(seconds, 3),
                        }, ensure_ascii=False) + "\n")
                        records.flush()
                _merge(totals[name], tally)
                print(tally.row(name) + (f" ({tally.fallbacks} offline fallbacks)" if tally.fallbacks else ""), flush=True)
    print("\nall questions\n" + HEADER)
    for name, tally in totals.items():
        print(tally.row(name))
    if records:
        records.close()


def _merge(into: Tally, one: Tally) -> None:
    for f in fields(Tally):
        if f.name == "seconds":
            into.seconds.extend(one.seconds)
        else:
            setattr(into, f.name, getattr(into, f.name) + getattr(one, f.name))


if __name__ == "__main__":
    main()
