"""The scale curve to 10,000 articles, on the embedded store or a Chroma server: build, then measure.

Building 10,000 articles (~500,000 chunks) takes most of an hour on this machine, so it is a job of
its own that writes a checkpoint (articles, chunks, seconds, bytes, memory) after each step and
can be stopped at any point with what it reached kept; `measure` then opens that index in a fresh
process and times what the issue asks: time to open, query p50/p95, memory, and how long a write
takes to be answerable on the writer and on a second replica (another `Assistant` on the same
index, which learns of the write only through the version stamp, as another process does), and
where an answer's time goes (`stages_ms_p50_p95`: embedding, dense, keyword, context, answerer,
reader; and the answer without the reader).

    python -m bench.scale prewarm --data squad.jsonl --cache /tmp/s/emb.npz
    python -m bench.scale build --data squad.jsonl --steps 100 1000 10000 --index-dir /tmp/s/e \\
        --cache /tmp/s/emb.npz --result /tmp/s/build-e.json [--chroma-port 8123]
    python -m bench.scale measure --data squad.jsonl --index-dir /tmp/s/e --cache /tmp/s/emb.npz \\
        --result /tmp/s/measure-e.json [--chroma-port 8123]

Chunk vectors come from the cache (`bench.runner.CachedEmbeddings`); query vectors from the model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.runner import (
    CachedEmbeddings,
    _pct_ms,
    base_settings,
    dir_bytes,
    peak_rss_mb,
    run_prewarm,
    scale_articles,
    scale_questions,
)


def _assistant(index_dir: Path, cache: Path, fake: bool, chroma_port: int | None, reader: bool = True):
    from rag.assistant import Assistant
    from rag.embeddings import make_embeddings

    settings = base_settings(index_dir, fake, chroma_port).model_copy(update={"reader": reader})
    emb = CachedEmbeddings(make_embeddings(settings), CachedEmbeddings.load_vectors(cache))
    emb.load_spans(cache)
    emb.warm_up()
    return Assistant(settings, embeddings=emb), emb


def _bytes(index_dir: Path, chroma_path: Path | None) -> int:
    return dir_bytes(index_dir) + (dir_bytes(chroma_path) if chroma_path else 0)


def run_build(
    data: Path, steps: list[int], index_dir: Path, cache: Path, result: Path, *,
    fake: bool = False, chroma_port: int | None = None, chroma_path: Path | None = None,
) -> dict[str, Any]:
    """Index up to max(steps) articles, writing a checkpoint to `result` at each step."""
    assistant, emb = _assistant(index_dir, cache, fake, chroma_port)
    articles = scale_articles(data, max(steps))
    out: dict[str, Any] = {"store": "server" if chroma_port else "embedded", "points": []}
    done, total_seconds = 0, 0.0
    for step in sorted(steps):
        batch = articles[done:step]
        started = time.perf_counter()
        report = assistant.index_articles(batch)
        seconds = time.perf_counter() - started
        total_seconds += seconds
        done = step
        out["points"].append({
            "articles": step,
            "chunks": assistant.chunk_count(),
            "added": len(report.added), "skipped": len(report.skipped), "failed": len(report.failed),
            "step_seconds": round(seconds, 1),
            "seconds_per_article": round(seconds / max(1, len(batch)), 4),
            "index_bytes": _bytes(index_dir, chroma_path),
            "peak_rss_mb": peak_rss_mb(),
            "embedded_chunks": emb.misses,
        })
        result.write_text(json.dumps(out, indent=2), encoding="utf-8")
        print(f"build: {step} articles, {seconds:.0f} s this step", file=sys.stderr, flush=True)
    return out


def _answerable(assistant, article_id: str, question: str, limit: float) -> float | None:
    """Seconds until `question` scoped to `article_id` is answered (None past `limit`)."""
    from rag.errors import ArticleNotFoundError

    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        try:
            assistant.ask(question, article=article_id)
            return time.perf_counter() - started
        except ArticleNotFoundError:
            time.sleep(0.05)
    return None


class _Stages:
    """Times each stage of an answer: the question's vector, the dense and the keyword search (as
    the retriever runs them, 20 candidates each over all articles), the context (follow-up
    rewriting, the vector and retrieval), then the answerer, and inside it the reader; `total` is
    context + answerer. Every other question is answered without the reader instead
    (`RAG_READER=false`): `answerer_no_reader`, `total_no_reader`; each answerer is timed only on
    the questions it answers first, so both pay for first touches of their articles."""

    STAGES = ("embed", "dense", "keyword", "context", "answerer", "reader", "total", "answerer_no_reader",
              "total_no_reader")

    def __init__(self, pipeline) -> None:
        from rag.answering.factory import make_answerer

        self.pipeline = pipeline
        self.took: dict[str, list[float]] = {k: [] for k in self.STAGES}
        self.plain = make_answerer(pipeline.settings.model_copy(update={"reader": False}), pipeline.embeddings)
        self._reader_s = 0.0
        reader = getattr(pipeline.answerer, "reader", None)
        self.has_reader = reader is not None  # with --no-reader its stage is None, not 0
        if reader is not None:
            read = reader.read

            def timed_read(*args, **kwargs):
                t = time.perf_counter()
                try:
                    return read(*args, **kwargs)
                finally:
                    self._reader_s += time.perf_counter() - t

            reader.read = timed_read

    def time(self, question: str) -> None:
        p, took = self.pipeline, self.took
        t0 = time.perf_counter()
        vector = p.embeddings.embed_query(question)
        t1 = time.perf_counter()
        p.retriever._dense(vector, None, p.retriever.candidates)  # noqa: SLF001
        t2 = time.perf_counter()
        p.retriever._keyword(question, None, p.retriever.candidates)  # noqa: SLF001
        t3 = time.perf_counter()
        ctx = p.context(question)
        t4 = time.perf_counter()
        for key, seconds in (("embed", t1 - t0), ("dense", t2 - t1), ("keyword", t3 - t2), ("context", t4 - t3)):
            took[key].append(seconds)
        self._reader_s = 0.0
        if len(took["embed"]) % 2:
            p.answerer.answer(ctx)
            t5 = time.perf_counter()
            for key, seconds in (("answerer", t5 - t4), ("reader", self._reader_s), ("total", t5 - t3)):
                if key != "reader" or self.has_reader:
                    took[key].append(seconds)
        else:
            self.plain.answer(ctx)
            t5 = time.perf_counter()
            took["answerer_no_reader"].append(t5 - t4)
            took["total_no_reader"].append(t5 - t3)

    def report(self) -> dict[str, list[float | None]]:
        return {k: [_pct_ms(v, 0.5), _pct_ms(v, 0.95)] for k, v in self.took.items()}


def run_measure(
    data: Path, index_dir: Path, cache: Path, *, questions: int = 200, writes: int = 5, seed: int = 0,
    fake: bool = False, chroma_port: int | None = None, chroma_path: Path | None = None, reader: bool = True,
) -> dict[str, Any]:
    """Open the built index in this fresh process and time it (see the module's docstring)."""
    from rag.types import Article

    writer, _ = _assistant(index_dir, cache, fake, chroma_port, reader)
    replica, _ = _assistant(index_dir, cache, fake, chroma_port, reader)
    n = len(writer.articles())
    started = time.perf_counter()
    writer.warm_up()
    open_seconds = time.perf_counter() - started
    rss_open = peak_rss_mb()
    replica.warm_up()
    sample_q = scale_questions(data, n, questions, seed)
    latencies, retrieval = [], []
    pipeline = writer._answer_pipeline()  # noqa: SLF001 - a benchmark looks inside
    stages = _Stages(pipeline)
    for q in sample_q:
        t = time.perf_counter()
        writer.ask(q.question)
        latencies.append(time.perf_counter() - t)
        vector = writer.embeddings.embed_query(q.question)
        t = time.perf_counter()
        pipeline.retriever.retrieve(q.question, k=writer.settings.k, query_vector=vector)
        retrieval.append(time.perf_counter() - t)
    # Where an answer's time goes, asked again on a second sample (first touches of its articles
    # included, as in the answers above).
    for q in scale_questions(data, n, questions, seed + 1):
        stages.time(q.question)
    # Writes of a new article (a repeat of an existing text under a new id: vectors cached), each
    # then asked about on the writer and on the replica; then removed again.
    template = scale_articles(data, 1)[0]
    write_s, writer_s, replica_s, remove_s = [], [], [], []
    for i in range(writes):
        aid = f"bench-write-{i}"
        art = Article(id=aid, title=template.title, source=f"bench-scale:{aid}", text=template.text)
        t = time.perf_counter()
        writer.index_articles([art])
        write_s.append(time.perf_counter() - t)
        got = _answerable(writer, aid, "What is this article about?", 60)
        writer_s.append(write_s[-1] + got if got is not None else None)
        got = _answerable(replica, aid, "What is this article about?", 60)
        replica_s.append(write_s[-1] + got if got is not None else None)
        t = time.perf_counter()
        writer.remove(aid)
        remove_s.append(time.perf_counter() - t)
    return {
        "store": "server" if chroma_port else "embedded",
        "reader": reader,
        "articles": n,
        "chunks": writer.chunk_count(),
        "index_bytes": _bytes(index_dir, chroma_path),
        "open_seconds": round(open_seconds, 2),
        "rss_after_open_mb": rss_open,
        "questions": len(sample_q),
        "latency_p50_ms": _pct_ms(latencies, 0.5),
        "latency_p95_ms": _pct_ms(latencies, 0.95),
        "retrieval_p50_ms": _pct_ms(retrieval, 0.5),
        "retrieval_p95_ms": _pct_ms(retrieval, 0.95),
        "stages_ms_p50_p95": stages.report(),
        "write_p50_ms": _pct_ms(write_s, 0.5),
        "write_to_answerable_writer_ms": _pct_ms([s for s in writer_s if s is not None], 0.5),
        "write_to_answerable_replica_ms": _pct_ms([s for s in replica_s if s is not None], 0.5),
        "write_to_answerable_replica_max_ms": _pct_ms([s for s in replica_s if s is not None], 1.0),
        "never_answerable": sum(s is None for s in writer_s + replica_s),
        "remove_p50_ms": _pct_ms(remove_s, 0.5),
        "peak_rss_mb_two_assistants": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="job", required=True)
    pw = sub.add_parser("prewarm", help="embed the distinct articles once")
    b = sub.add_parser("build", help="index up to max(--steps) articles, a checkpoint per step")
    b.add_argument("--steps", type=int, nargs="+", required=True)
    m = sub.add_parser("measure", help="open the built index and time it")
    m.add_argument("--questions", type=int, default=200)
    m.add_argument("--writes", type=int, default=5)
    m.add_argument("--no-reader", action="store_true", help="answer with RAG_READER=false")
    for p in (pw, b, m):
        p.add_argument("--data", type=Path, required=True)
        p.add_argument("--cache", type=Path, required=True)
        p.add_argument("--result", type=Path, required=True)
        p.add_argument("--fake-embeddings", action="store_true")
    for p in (b, m):
        p.add_argument("--index-dir", type=Path, required=True)
        p.add_argument("--chroma-port", type=int, default=None, help="a `chroma run` on 127.0.0.1")
        p.add_argument("--chroma-path", type=Path, default=None, help="its --path, to count its bytes")
    args = ap.parse_args(argv)
    if args.job == "prewarm":
        out = run_prewarm(args.data, 10**9, args.cache, args.fake_embeddings)
    elif args.job == "build":
        out = run_build(args.data, args.steps, args.index_dir, args.cache, args.result,
                        fake=args.fake_embeddings, chroma_port=args.chroma_port, chroma_path=args.chroma_path)
    else:
        out = run_measure(args.data, args.index_dir, args.cache, questions=args.questions, writes=args.writes,
                          fake=args.fake_embeddings, chroma_port=args.chroma_port, chroma_path=args.chroma_path,
                          reader=not args.no_reader)
    args.result.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
