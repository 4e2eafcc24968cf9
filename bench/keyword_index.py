"""Keyword-index write cost and query latency as the archive grows: FTS5 (rag.answering.keywords) vs
an incremental in-memory inverted index vs rebuilding bm25s (what rag/retrieval.py does today).

Synthetic articles of 50 chunks (100 content words each, Zipf-distributed vocabulary), or with
`--corpus squad` the articles of a SQuAD file over and over under new ids (chunked as indexing
cuts them; what `bench.scale` indexes) asked its own questions. At each size: the time to add one
new article, to remove one, to bring another replica's index up to date after that write
(`sync`), and the latency of queries over all articles and one article. `--shares` then times the
search over all articles with each `KeywordIndex.match_share` (1 = match on every word), and
where the time goes: counting the rows matched against ranking them, then the same with the
product's budget (MATCH_SHARE within MATCH_FLOOR and MATCH_CEILING rows).

Run: python -m bench.keyword_index [--sizes 100 1000 10000] [--rebuild-up-to 1000] [--memory-up-to 1000]
     [--corpus synthetic|squad] [--data squad_v1_public.jsonl] [--shares 1 0.05]
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import resource
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rag.answering.keywords import KeywordIndex, chunk_terms
from rag.text import terms

CHUNKS_PER_ARTICLE = 50
WORDS_PER_CHUNK = 100


@dataclass(frozen=True)
class Chunk:
    id: str
    article_id: str
    title: str
    text: str


class Corpus:
    def __init__(self, seed: int = 0, vocab: int = 30_000) -> None:
        self.rng = random.Random(seed)
        # Pronounceable letter words, so the stemmer and the tokenizer see ordinary words.
        sy = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "da", "pe", "gor", "lin", "mar", "tes"]
        seen: set[str] = set()
        while len(seen) < vocab:
            seen.add("".join(self.rng.choices(sy, k=self.rng.randint(2, 4))))
        self.words = sorted(seen)
        self.rng.shuffle(self.words)
        # Zipf from rank 150 on: the content words left once the ~150 commonest English words
        # (rag.text.STOPWORDS) are dropped, as they are from real chunks and questions.
        self.cum = list(_cumulative([1 / (r + 151) for r in range(vocab)]))

    def text(self, n: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cum, k=n))

    def article(self, i: int) -> list[Chunk]:
        title = self.text(4)
        return [Chunk(f"a{i}-{j}", f"a{i}", title, self.text(WORDS_PER_CHUNK)) for j in range(CHUNKS_PER_ARTICLE)]

    def query(self) -> str:
        return self.text(5)


class SquadCorpus:
    """The articles of a SQuAD-format file over and over, each copy under a new id, chunked with
    the default settings; queries are the file's questions (seeded)."""

    def __init__(self, data: Path, seed: int = 0) -> None:
        from rag.chunking import chunk_article
        from rag.config import Settings
        from rag.evaluate import load_file

        settings = Settings(_env_file=None)
        raw, questions = load_file(data)
        self.articles = [(a["title"], [c.text for c in chunk_article(a["text"], settings.chunk_size,
                                                                      settings.chunk_overlap)[1]]) for a in raw]
        self.questions = [q.question for q in questions]
        self.rng = random.Random(seed)

    def article(self, i: int) -> list[Chunk]:
        title, texts = self.articles[i % len(self.articles)]
        return [Chunk(f"a{i}-{j}", f"a{i}", title, t) for j, t in enumerate(texts)]

    def query(self) -> str:
        return self.rng.choice(self.questions)


def _cumulative(weights):
    total = 0.0
    for w in weights:
        total += w
        yield total


class InMemoryIndex:
    """The other candidate: postings in dicts (term -> {chunk: tf}), Lucene BM25 as bm25s scores."""

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.postings: dict[str, dict[str, int]] = defaultdict(dict)
        self.length: dict[str, int] = {}
        self.article_of: dict[str, str] = {}
        self.by_article: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
        self.total = 0

    def add(self, chunks) -> None:
        for c in chunks:
            ts = chunk_terms(c)
            tf: dict[str, int] = {}
            for t in ts:
                tf[t] = tf.get(t, 0) + 1
            for t, n in tf.items():
                self.postings[t][c.id] = n
            self.length[c.id] = len(ts)
            self.total += len(ts)
            self.article_of[c.id] = c.article_id
            self.by_article[c.article_id].append((c.id, list(tf)))

    def remove(self, article_id: str) -> None:
        for cid, ts in self.by_article.pop(article_id, []):
            for t in ts:
                del self.postings[t][cid]
            self.total -= self.length.pop(cid)
            del self.article_of[cid]

    def search(self, query: str, k: int, article_id: str | None = None):
        n = len(self.length)
        avg = self.total / max(n, 1)
        scores: dict[str, float] = defaultdict(float)
        for t in set(terms(query)):
            post = self.postings.get(t)
            if not post:
                continue
            idf = math.log(1 + (n - len(post) + 0.5) / (len(post) + 0.5))
            for cid, tf in post.items():
                if article_id is None or self.article_of[cid] == article_id:
                    scores[cid] += idf * tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * self.length[cid] / avg))
        return sorted(scores.items(), key=lambda kv: -kv[1])[:k]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def _time(fn, repeat: int = 1) -> float:
    best = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best.append(time.perf_counter() - started)
    return statistics.median(best)


def run(sizes: list[int], rebuild_up_to: int, memory_up_to: int, queries: int,
        corpus: Corpus | SquadCorpus | None = None, shares: list[float] | None = None) -> None:
    corpus = corpus or Corpus()
    fts, mem = KeywordIndex(), InMemoryIndex()
    stamps: dict[str, str] = {}
    replica = KeywordIndex()  # another process's index, following the writer through sync()
    held: dict[str, list[Chunk]] = {}
    filled = 0
    print(f"{type(corpus).__name__} articles; median of 5 writes / {queries} queries")
    print("| articles | chunks | FTS5 add one | FTS5 remove one | replica sync after it | FTS5 query all / one article "
          "| in-memory add one | in-memory query all / one | bm25s rebuild, query (today) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        started = time.perf_counter()
        while filled < size:
            chunks = corpus.article(filled)
            fts.add(chunks, stamp="v1")
            if size <= memory_up_to:
                mem.add(chunks)
            held[chunks[0].article_id] = chunks
            stamps[chunks[0].article_id] = "v1"
            filled += 1
        # The replica starts as a copy (what sync() from empty would build, without the wait).
        fts._db.backup(replica._db)  # noqa: SLF001
        replica._n = len(fts)  # noqa: SLF001
        fill = time.perf_counter() - started
        gc.collect()

        # One write on top of `size` articles, then undone, five times.
        adds, removes, syncs, mem_adds = [], [], [], []
        for r in range(5):
            new = corpus.article(10_000_000 + r)
            aid = new[0].article_id
            adds.append(_time(lambda: fts.add(new, stamp="v1")))
            held[aid] = new
            stamps[aid] = "v1"
            syncs.append(_time(lambda: replica.sync(stamps, held.__getitem__)))
            removes.append(_time(lambda: fts.remove(aid)))
            if size <= memory_up_to:
                mem_adds.append(_time(lambda: mem.add(new)))
                mem.remove(aid)
            del stamps[aid], held[aid]
            replica.remove(aid)
        qs = [corpus.query() for _ in range(queries)]
        scope = [f"a{corpus.rng.randrange(size)}" for _ in range(queries)]
        q_all = statistics.median(_time(lambda q=q: fts.search(q, 20)) for q in qs)
        q_one = statistics.median(_time(lambda q=q, a=a: fts.search(q, 20, a)) for q, a in zip(qs, scope))
        memory = "-", "-"
        if size <= memory_up_to:
            m_all = statistics.median(_time(lambda q=q: mem.search(q, 20)) for q in qs[:50])
            m_one = statistics.median(_time(lambda q=q, a=a: mem.search(q, 20, a)) for q, a in zip(qs[:50], scope))
            memory = _ms(statistics.median(mem_adds)), f"{_ms(m_all)} / {_ms(m_one)}"
        rebuild = "-"
        if size <= rebuild_up_to:
            import bm25s

            everything = [c for chunks in held.values() for c in chunks]

            def rebuild_bm25s():
                bm25 = bm25s.BM25()
                bm25.index([chunk_terms(c) for c in everything], show_progress=False)

            rebuild = _ms(_time(rebuild_bm25s))
            # And its query, as HybridRetriever._keyword runs it (score every chunk, sort).
            import numpy as np

            bm25 = bm25s.BM25()
            bm25.index([chunk_terms(c) for c in everything], show_progress=False)

            def query_bm25s(q):
                scores = np.asarray(bm25.get_scores(terms(q)), dtype=np.float32)
                np.argsort(-scores)[:20]

            rebuild += f" (query {_ms(statistics.median(_time(lambda q=q: query_bm25s(q)) for q in qs))})"
        print(
            f"| {size:,} | {len(fts):,} | {_ms(statistics.median(adds))} | {_ms(statistics.median(removes))} "
            f"| {_ms(statistics.median(syncs))} | {_ms(q_all)} / {_ms(q_one)} | {memory[0]} | {memory[1]} | {rebuild} |",
            flush=True,
        )
        print(f"  (filled in {fill:.0f} s; max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB)", flush=True)
        for share in shares or []:
            _time_share(fts, qs, share)
        if shares:
            _time_share(fts, qs, None)


def _time_share(index: KeywordIndex, qs: list[str], share: float | None) -> None:
    """Search over all articles with `match_share` = share (None: the product's budget, with its
    floor and ceiling; a share is forced without the ceiling), p50/p95, and what the FTS5 query of
    the words it matches on costs when it only counts the rows instead of ranking them."""
    held = index.match_share, index.match_floor, index.match_ceiling
    if share is not None:
        index.match_share, index.match_ceiling = share, math.inf
        if share >= 1:
            index.match_floor = len(index)
    took, counted, rows = [], [], []
    for q in qs:
        took.append(_time(lambda q=q: index.search(q, 20)))
        words = sorted(set(terms(q)))
        matched = index._match_words({w: index._df(w) for w in words})  # noqa: SLF001
        match = " OR ".join(f'"{w}"' for w in matched)
        started = time.perf_counter()
        rows.append(index._db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0])  # noqa: SLF001
        counted.append(time.perf_counter() - started)
    index.match_share, index.match_floor, index.match_ceiling = held
    took.sort()
    label = f"match share {share}" if share is not None else (
        f"default budget ({index.match_share:g} of the chunks, {index.match_floor:,}-{index.match_ceiling:,} rows)")
    print(f"  {label}: search all p50 {_ms(statistics.median(took))}, p95 {_ms(took[int(0.95 * len(took))])}; "
          f"rows matched p50 {statistics.median(rows):,.0f}, counting them p50 {_ms(statistics.median(counted))}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--rebuild-up-to", type=int, default=1000, help="largest size at which bm25s is rebuilt too")
    ap.add_argument("--memory-up-to", type=int, default=1000, help="largest size with the in-memory candidate too")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--corpus", choices=["synthetic", "squad"], default="synthetic")
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "eval"
                    / "squad_v1_public.jsonl", help="the SQuAD file of --corpus squad")
    ap.add_argument("--shares", type=float, nargs="*", default=[], help="match shares to time at each size")
    args = ap.parse_args()
    corpus = SquadCorpus(args.data) if args.corpus == "squad" else Corpus()
    run(sorted(args.sizes), args.rebuild_up_to, args.memory_up_to, args.queries, corpus, args.shares)


if __name__ == "__main__":
    main()
