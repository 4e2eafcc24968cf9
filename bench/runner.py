"""The measuring side of `python -m bench`: one system on one question file, or one point of the scale curve.

Each job runs in a process of its own (`python -m bench.runner eval|prewarm|scale …`, started by
`bench/__main__.py`), so its peak resident memory (`ru_maxrss`) is its own and the two systems
never share a model, a Chroma client or a cache. Answers are scored by `rag.evaluate.score_answer`
and summarised by `Report.metrics()`; the only metrics defined here are the two citation
precisions, which `rag.evaluate` does not have.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.evaluate import Question, Report, _contains, load_file, score_answer
from rag.types import Answer

SYSTEMS = ("ours", "baseline")


# --- metrics -------------------------------------------------------------------------------------
def citation_precision(question: Question, answer: Answer) -> float | None:
    """Share of the cited characters that are the support: `len(support) / cited characters`.

    Defined for answerable questions whose support (for SQuAD: a gold answer) lies inside a cited
    quote, with the same normalisation as `score_answer`; None otherwise (how often the support is
    cited at all is `cited_support` in `Report.metrics()`). The longest support string found counts
    once, however many citations repeat it. 1.0 means the user reads nothing but the support.
    """
    if not question.answerable or answer.refused or not answer.citations:
        return None
    cited = sum(len(c.quote) for c in answer.citations)
    found = [s for s in question.support if s and any(_contains(c.quote, [s]) for c in answer.citations)]
    if not found or cited == 0:
        return None
    return min(1.0, max(len(s) for s in found) / cited)


def passage_precision(question: Question, answer: Answer) -> float | None:
    """Share of the cited passages that contain the support (answered, answerable questions only)."""
    if not question.answerable or answer.refused or not answer.citations:
        return None
    return sum(1 for c in answer.citations if _contains(c.quote, question.support)) / len(answer.citations)


def summarize(report: Report, precisions: list[float | None], passages: list[float | None]) -> dict[str, Any]:
    """`Report.metrics()` plus the mean citation precisions (over the questions they are defined for)."""
    metrics = report.metrics()
    chars = [p for p in precisions if p is not None]
    items = [p for p in passages if p is not None]
    metrics["citation_precision"] = round(float(np.mean(chars)), 4) if chars else None
    metrics["citation_precision_n"] = len(chars)
    metrics["passage_precision"] = round(float(np.mean(items)), 4) if items else None
    return metrics


# --- helpers -------------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def dir_bytes(path: Path) -> int:
    """Bytes the files under `path` occupy on disk (allocated blocks, not apparent sizes)."""
    return sum(f.stat().st_blocks * 512 for f in Path(path).rglob("*") if f.is_file())


def base_settings(index_dir: Path, fake: bool, chroma_port: int | None = None):
    """Default settings (no `.env`), in a scratch index; `fake` swaps in the hashing embeddings;
    `chroma_port` puts the chunks on a Chroma server on loopback (records in the index folder)."""
    from rag.config import Settings

    over: dict[str, Any] = {"embedding_backend": "fake"} if fake else {}
    if chroma_port is not None:
        Path(index_dir).mkdir(parents=True, exist_ok=True)
        over.update(store="server", chroma_host="127.0.0.1", chroma_port=chroma_port,
                    records_url=f"sqlite:///{Path(index_dir).resolve() / 'records.sqlite'}")
    return Settings(_env_file=None, index_dir=Path(index_dir), **over)


def make_system(name: str, index_dir: Path, fake: bool, embeddings=None):
    """`ours` (the assistant with default settings) or `baseline` (the tutorial recipe), not yet warm."""
    from rag.embeddings import make_embeddings

    settings = base_settings(index_dir, fake)
    embeddings = embeddings if embeddings is not None else make_embeddings(settings)
    if name == "ours":
        from rag.assistant import Assistant

        return Assistant(settings, embeddings=embeddings)
    if name == "baseline":
        from bench.baseline import TutorialBaseline

        return TutorialBaseline(index_dir, embeddings)
    raise ValueError(f"Unknown system '{name}': use one of {', '.join(SYSTEMS)}.")


def load_articles(path: Path, article_paths: list[str]):
    """The articles and questions of a question file; plain question files use `article_paths`."""
    from rag.errors import RagError
    from rag.ingest import load_sources
    from rag.types import Article

    raw, questions = load_file(path)
    if raw is not None:
        articles = [Article(id=a["id"], title=a["title"], source=f"eval:{path.name}#{a['id']}", text=a["text"]) for a in raw]
        return articles, questions
    articles = []
    for source, item in load_sources(article_paths, timeout=15, max_bytes=25_000_000, allow_private=False):
        if isinstance(item, Exception):
            raise RagError(f"Could not load the article '{source}' for '{path.name}': {item}")
        articles.append(item)
    if not articles:
        raise RagError(f"'{path.name}' asks about indexed articles, but --articles named none.")
    return articles, questions


def sample(questions: list[Question], limit: int | None, seed: int) -> list[Question]:
    """The same seeded sample for every system (like `rag eval --limit`)."""
    if limit is not None and limit < len(questions):
        return random.Random(seed).sample(questions, limit)
    return questions


def _bar(total: int, desc: str):
    from tqdm import tqdm

    # disable=None: a bar on a terminal, silence in CI logs.
    return tqdm(total=total, desc=desc, unit="q" if "quest" in desc else "art", leave=False, disable=None, file=sys.stderr)


# --- one system on one question file --------------------------------------------------------------
def run_eval(
    system: str,
    data: Path,
    index_dir: Path,
    *,
    articles_from: list[str],
    limit: int | None = None,
    seed: int = 0,
    fake: bool = False,
    outcomes_file: Path | None = None,
) -> dict[str, Any]:
    """Index the file's articles into `index_dir` with `system`, ask its questions, score them."""
    articles, questions = load_articles(Path(data), articles_from)
    questions = sample(questions, limit, seed)
    runner = make_system(system, index_dir, fake)

    started = time.perf_counter()
    emb = runner.embeddings
    if hasattr(emb, "warm_up"):
        emb.warm_up()
    model_load = time.perf_counter() - started
    # Open the store outside the timed part, for both systems (bench/indexing.py does the same).
    _ = runner.store.vector_store if system == "ours" else runner.store
    count_chunks = runner.store.count_chunks if system == "ours" else runner.count_chunks

    with _bar(len(articles), f"{system}: index {Path(data).name}") as bar:
        started = time.perf_counter()
        result = runner.index_articles(articles, on_progress=lambda _a: bar.update())
        index_seconds = time.perf_counter() - started
    if system == "ours" and result.failed:
        from rag.errors import RagError

        raise RagError(f"Could not index the articles of '{data}': {result.failed[0][1]}")

    report = Report(name=Path(data).name, index_seconds=index_seconds)
    report.chunks = count_chunks()
    # Untimed first question: builds our answering pipeline and loads Chroma's HNSW segment for
    # both, so the timed loop is warm for both (cold start is measured by bench/cold.py).
    if hasattr(runner, "warm_up"):
        runner.warm_up()
    if questions:
        runner.ask(questions[0].question, article=questions[0].article)

    precisions, passages, rows = [], [], []
    with _bar(len(questions), f"{system}: questions {Path(data).name}") as bar:
        for q in questions:
            started = time.perf_counter()
            answer = runner.ask(q.question, article=q.article)
            seconds = time.perf_counter() - started
            outcome = score_answer(q, answer, seconds)
            report.outcomes.append(outcome)
            precisions.append(citation_precision(q, answer))
            passages.append(passage_precision(q, answer))
            rows.append({
                "id": q.id, "answerable": q.answerable, "refused": outcome.refused, "hit": outcome.hit,
                "support_rank": outcome.support_rank, "cited_chars": outcome.cited_chars,
                "citation_precision": precisions[-1], "ms": round(1000 * seconds, 2),
            })
            bar.update()
    if outcomes_file is not None:
        outcomes_file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    chars = sum(len(a.text) for a in articles)
    return {
        "system": system,
        "file": Path(data).name,
        "articles": len(articles),
        "article_chars": chars,
        "chunks": report.chunks,
        "index_seconds": round(index_seconds, 3),
        "chunks_per_s": round(report.chunks / index_seconds, 2) if index_seconds else None,
        "articles_per_s": round(len(articles) / index_seconds, 3) if index_seconds else None,
        "model_load_seconds": round(model_load, 3),
        "metrics": summarize(report, precisions, passages),
        "peak_rss_mb": peak_rss_mb(),
        "first_question": questions[0].question if questions else None,
        "embedding": getattr(emb, "name", type(emb).__name__),
    }


# --- the scale curve -----------------------------------------------------------------------------
def _pct_ms(seconds: list[float], p: float) -> float | None:
    """Percentile in ms, picked the way `Report.metrics()` picks its latency percentiles."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class CachedEmbeddings(Embeddings):
    """Document vectors looked up by text, so articles repeated under new ids are not re-embedded.

    Queries go to the model every time: query latency stays real. The indexing pass (chunk and
    pooled sentence vectors) is cached by text in memory, so repeated articles cost no model time.
    """

    def __init__(self, inner, vectors: dict[str, np.ndarray]) -> None:
        self.inner = inner
        self.name = inner.name  # the index checks the model name
        self.legacy_names = inner.legacy_names
        self.vectors = vectors
        self.misses = 0
        self._span_cache: dict[tuple, tuple] = {}

    def warm_up(self) -> None:
        self.inner.warm_up()

    @property
    def loaded(self) -> bool:
        return self.inner.loaded

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.inner.encode(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)

    @property
    def pools_sentences(self) -> bool:
        return self.inner.pools_sentences

    def encode_with_spans(self, texts, spans):
        """The indexing pass (chunk and sentence vectors), cached in memory by text and spans."""
        key = tuple((_key(t), tuple(map(tuple, s))) for t, s in zip(texts, spans))
        got = self._span_cache.get(key)
        if got is None:
            got = self.inner.encode_with_spans(texts, spans)
            self._span_cache[key] = got
            self.misses += len(texts)
            for text, vec in zip(texts, got[0]):
                self.vectors.setdefault(_key(text), vec)
        return got

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if _key(t) not in self.vectors]
        if missing:
            self.misses += len(missing)
            for text, vec in zip(missing, self.inner.encode(missing)):
                self.vectors[_key(text)] = vec
        return [self.vectors[_key(t)].tolist() for t in texts]

    def save(self, path: Path) -> None:
        import pickle

        keys = sorted(self.vectors)
        np.savez(path, keys=np.array(keys), vectors=np.vstack([self.vectors[k] for k in keys]))
        Path(str(path) + ".spans.pkl").write_bytes(pickle.dumps(self._span_cache))

    @staticmethod
    def load_vectors(path: Path) -> dict[str, np.ndarray]:
        if not Path(path).exists():
            return {}
        got = np.load(path)
        return dict(zip(got["keys"].tolist(), got["vectors"]))

    def load_spans(self, path: Path) -> None:
        """The indexing passes `save` wrote beside the vectors (a file this benchmark made itself)."""
        import pickle

        spans = Path(str(path) + ".spans.pkl")
        if spans.exists():
            self._span_cache.update(pickle.loads(spans.read_bytes()))


def distinct_articles(data: Path, distinct: int | None) -> list[dict]:
    """The first `distinct` articles of a SQuAD-format file (all of them when None)."""
    raw, _ = load_file(Path(data))
    if not raw:
        raise ValueError(f"'{data}' holds no articles (the scale curve needs a SQuAD-format file).")
    return raw[: distinct or len(raw)]


def scale_articles(data: Path, n: int, distinct: int | None = None):
    """`n` articles: the file's first `distinct` articles over and over, each repeat under a new id."""
    from rag.types import Article

    raw = distinct_articles(data, distinct)
    out = []
    for i in range(n):
        a = raw[i % len(raw)]
        copy = i // len(raw)
        aid = a["id"] if copy == 0 else f"{a['id']}-copy{copy}"
        out.append(Article(id=aid, title=a["title"], source=f"bench-scale:{aid}", text=a["text"]))
    return out


def scale_questions(data: Path, n_articles: int, count: int, seed: int) -> list[Question]:
    """A seeded sample of the questions about the first `n_articles` distinct articles of the file."""
    rows = [json.loads(line) for line in Path(data).read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = {q["id"] for row in rows[:n_articles] for q in row["questions"]}
    _, questions = load_file(Path(data))
    return sample([q for q in questions if q.id in ids], count, seed)


def run_prewarm(data: Path, n: int, cache: Path, fake: bool, distinct: int | None = None) -> dict[str, Any]:
    """Embed the chunks of the distinct articles once, save them, and time the model on them."""
    from rag.chunking import chunk_article, sentence_spans
    from rag.embeddings import make_embeddings

    settings = base_settings(cache.parent / "unused-index", fake)
    model = make_embeddings(settings)
    model.warm_up()
    raw = distinct_articles(data, distinct)
    emb = CachedEmbeddings(model, {})
    count = 0
    started = time.perf_counter()
    for a in raw[: min(n, len(raw))]:
        # The same pass, with the same chunks and sentence spans, that indexing the article makes.
        sentences, chunks = chunk_article(a["text"], settings.chunk_size, settings.chunk_overlap)
        texts = [c.text for c in chunks]
        if emb.pools_sentences:
            emb.encode_with_spans(texts, sentence_spans(chunks, sentences)[1])
        else:
            emb.embed_documents(texts)
        count += len(texts)
    seconds = time.perf_counter() - started
    emb.save(cache)
    return {"chunks": count, "seconds": round(seconds, 3), "chunks_per_s": round(count / seconds, 2)}


def run_scale_point(
    data: Path,
    n: int,
    index_dir: Path,
    cache: Path,
    *,
    questions: int,
    seed: int = 0,
    fake: bool = False,
    distinct: int | None = None,
) -> dict[str, Any]:
    """Index `n` articles with our pipeline (embeddings from `cache`), then time warm questions."""
    from rag.embeddings import make_embeddings

    settings = base_settings(index_dir, fake)
    emb = CachedEmbeddings(make_embeddings(settings), CachedEmbeddings.load_vectors(cache))
    emb.load_spans(cache)
    runner = make_system("ours", index_dir, fake, embeddings=emb)
    emb.warm_up()
    _ = runner.store.vector_store
    articles = scale_articles(data, n, distinct)
    with _bar(n, f"scale: index {n} articles") as bar:
        started = time.perf_counter()
        result = runner.index_articles(articles, on_progress=lambda _a: bar.update())
        index_seconds = time.perf_counter() - started
    chunks = runner.store.count_chunks()
    sample_q = scale_questions(data, min(n, distinct or n), questions, seed)
    report = Report(name=f"scale-{n}", index_seconds=index_seconds, chunks=chunks)
    error = None
    pipeline_seconds = None
    retrieval: list[float] = []
    try:
        started = time.perf_counter()
        runner.warm_up()  # loads every chunk, builds BM25 and the article corpus
        pipeline_seconds = time.perf_counter() - started
        if sample_q:
            runner.ask(sample_q[0].question)
        with _bar(len(sample_q), f"scale: questions at {n} articles") as bar:
            for q in sample_q:
                started = time.perf_counter()
                answer = runner.ask(q.question)
                report.outcomes.append(score_answer(q, answer, time.perf_counter() - started))
                bar.update()
        # Retrieval alone (dense + BM25 + fusion, query vector given): the part that grows with
        # the index, apart from the model calls, whose cost does not depend on it.
        pipeline = runner._answer_pipeline()  # noqa: SLF001 - a benchmark looks inside
        for q in sample_q:
            vector = runner.embeddings.embed_query(q.question)
            started = time.perf_counter()
            pipeline.retriever.retrieve(q.question, k=runner.settings.k, query_vector=vector)
            retrieval.append(time.perf_counter() - started)
    except Exception as exc:  # a size the product cannot serve is a result, not a crash of the run
        error = f"{type(exc).__name__}: {exc}"
        print(f"scale point {n}: answering failed: {error}", file=sys.stderr)
    runner.store.reopen()
    metrics = report.metrics() if error is None else {"latency_p50_ms": None, "latency_p95_ms": None}
    return {
        "articles": n,
        "chunks": chunks,
        "failed": len(result.failed),
        "embedded_chunks": emb.misses,  # chunks not found in the cache (0 when it was warm)
        "index_seconds": round(index_seconds, 3),
        "pipeline_seconds": round(pipeline_seconds, 3) if pipeline_seconds is not None else None,
        "index_bytes": dir_bytes(index_dir),
        "chroma_bytes": dir_bytes(Path(index_dir) / "chroma"),
        "questions": len(sample_q),
        "latency_p50_ms": metrics["latency_p50_ms"],
        "latency_p95_ms": metrics["latency_p95_ms"],
        "retrieval_p50_ms": _pct_ms(retrieval, 0.5),
        "retrieval_p95_ms": _pct_ms(retrieval, 0.95),
        "peak_rss_mb": peak_rss_mb(),
        "error": error,
    }


# --- command line (used by bench/__main__.py) ----------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.runner", description=__doc__)
    sub = ap.add_subparsers(dest="job", required=True)
    ev = sub.add_parser("eval", help="one system on one question file")
    ev.add_argument("--system", choices=SYSTEMS, required=True)
    ev.add_argument("--data", type=Path, required=True)
    ev.add_argument("--articles", nargs="*", default=[])
    ev.add_argument("--limit", type=int, default=None)
    ev.add_argument("--outcomes", type=Path, default=None)
    pw = sub.add_parser("prewarm", help="embed the scale curve's distinct articles once")
    pw.add_argument("--data", type=Path, required=True)
    pw.add_argument("--n", type=int, required=True)
    sc = sub.add_parser("scale", help="one point of the scale curve")
    sc.add_argument("--data", type=Path, required=True)
    sc.add_argument("--n", type=int, required=True)
    sc.add_argument("--questions", type=int, default=100)
    for p in (ev, sc):
        p.add_argument("--index-dir", type=Path, required=True)
        p.add_argument("--seed", type=int, default=0)
    for p in (pw, sc):
        p.add_argument("--cache", type=Path, required=True)
        p.add_argument("--distinct", type=int, default=None, help="distinct articles to repeat (default: all)")
    for p in (ev, pw, sc):
        p.add_argument("--fake-embeddings", action="store_true")
        p.add_argument("--result", type=Path, required=True, help="where to write the JSON result")
    args = ap.parse_args(argv)
    if args.job == "eval":
        result = run_eval(
            args.system, args.data, args.index_dir, articles_from=args.articles, limit=args.limit,
            seed=args.seed, fake=args.fake_embeddings, outcomes_file=args.outcomes,
        )
    elif args.job == "prewarm":
        result = run_prewarm(args.data, args.n, args.cache, args.fake_embeddings, args.distinct)
    else:
        result = run_scale_point(
            args.data, args.n, args.index_dir, args.cache, questions=args.questions, seed=args.seed,
            fake=args.fake_embeddings, distinct=args.distinct,
        )
    args.result.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
