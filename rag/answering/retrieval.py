"""Hybrid retrieval: dense search in Chroma fused with BM25 keyword search by reciprocal rank fusion.

The fusion is written here rather than taken from LangChain's `EnsembleRetriever` because each
query must be scoped to one article or all of them in both searches, and the answerer and the
refusal rule need the per-retriever scores, which the ensemble discards.

The retriever follows the index article by article: `refresh` compares each article's stamp (its
content hash and indexing time) with the one it holds and reloads only the articles that changed,
so a write costs the same whatever the archive's size, in the writer and in every replica.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from rag.answering.keywords import KeywordIndex
from rag.index import ArticleIndex
from rag.types import EmbeddingModel, Hit, StoredChunk

# From this many changed articles on, `refresh` reads every chunk in one paged read (see _read_chunks).
BULK_READ_FROM = 200
# The keyword search runs in one of these threads while the question is embedded and searched in
# Chroma: SQLite, onnxruntime and the HTTP client work with the GIL released, so the two searches
# overlap instead of adding up (docs/benchmarks.md). Shared by every retriever of the process;
# its threads start on first use.
_KEYWORD_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rag-keyword")


class ArticleChunks(NamedTuple):
    """One article's usable chunks, without their text (a slice of the article's, cut on demand:
    at 500,000 chunks a copy of every chunk's text would be most of the memory)."""

    title: str
    source: str
    ids: tuple[str, ...]
    positions: tuple[int, ...]  # chunk_index
    starts: tuple[int, ...]
    ends: tuple[int, ...]


def usable_chunks(chunks: Iterable[StoredChunk], text: str) -> list[StoredChunk]:
    """The chunks that are exact slices of the article's recorded text.

    A run killed or failed between writing vectors and writing the article's record (a new
    article, an edit, a removal) leaves chunks that the next run completes or cleans up, and
    until then they must not be quoted against text they were not cut from."""
    return [c for c in chunks if text[c.start : c.end] == c.text]


class HybridRetriever:
    """Dense + BM25 over the chunks of an `ArticleIndex`; `refresh()` follows the index's changes."""

    def __init__(
        self,
        store: ArticleIndex,
        embeddings: EmbeddingModel,
        *,
        candidates: int = 20,
        rrf_k: int = 60,
        dense_weight: float = 1.0,
        keyword_weight: float = 1.0,
    ) -> None:
        self.store = store
        self.embeddings = embeddings
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.keyword_weight = keyword_weight
        self._lock = threading.Lock()
        self.keyword = KeywordIndex()
        self._articles: dict[str, ArticleChunks] = {}
        self._stamps: dict[str, str] = {}
        self._texts: Mapping[str, str] = {}
        self._where: dict[str, tuple[str, int]] = {}  # chunk id -> (article id, position in its ArticleChunks)
        self._idf: dict[str, float] = {}

    def refresh(
        self, stamps: Mapping[str, str], texts: Mapping[str, str], sources: Mapping[str, str] | None = None
    ) -> tuple[list[str], list[str]]:
        """Hold exactly the articles in `stamps` (id -> stamp), with their texts `texts`: articles
        whose stamp changed are reloaded from the store, gone ones dropped, the rest untouched.
        `sources` (id -> the source shown to clients) overrides what the chunks carry, which for
        files indexed before sources were made relative is the server's absolute path.
        Returns (reloaded ids, dropped ids)."""
        changed = sorted(a for a, s in stamps.items() if self._stamps.get(a) != s)
        gone = sorted(set(self._stamps) - set(stamps))
        loaded = {a: usable_chunks(chunks, texts[a]) for a, chunks in self._read_chunks(changed).items()}
        self.keyword.sync(stamps, lambda a: loaded.get(a) or usable_chunks(self.store.chunks(a), texts[a]))
        with self._lock:
            for article_id in gone + changed:
                held = self._articles.pop(article_id, None)
                for cid in held.ids if held else ():
                    self._where.pop(cid, None)
                self._stamps.pop(article_id, None)
            for article_id, chunks in loaded.items():
                title, source = (chunks[0].title, chunks[0].source) if chunks else ("", "")
                source = (sources or {}).get(article_id, source)
                self._articles[article_id] = ArticleChunks(
                    title, source, tuple(c.id for c in chunks), tuple(c.index for c in chunks),
                    tuple(c.start for c in chunks), tuple(c.end for c in chunks),
                )
                for i, c in enumerate(chunks):
                    self._where[c.id] = (article_id, i)
                self._stamps[article_id] = stamps[article_id]
            self._texts = texts
            self._idf = {}
        return changed, gone

    def _read_chunks(self, article_ids: list[str]) -> dict[str, list[StoredChunk]]:
        """The stored chunks of `article_ids`: one read scoped to each, or, for more than
        BULK_READ_FROM of them (the first refresh of a process), one paged read of every chunk.
        Chroma finds an article's chunks by a metadata filter whose cost grows with the
        collection, so reading 10,000 articles one by one took ~25 minutes at 500,000 chunks."""
        if len(article_ids) < BULK_READ_FROM:
            return {a: self.store.chunks(a) for a in article_ids}
        wanted = set(article_ids)
        out: dict[str, list[StoredChunk]] = {a: [] for a in article_ids}
        for c in self.store.chunks():
            if c.article_id in wanted:
                out[c.article_id].append(c)
        return out

    @property
    def stamps(self) -> dict[str, str]:
        """The articles held, with the stamp each was loaded at."""
        with self._lock:
            return dict(self._stamps)

    @property
    def chunks(self) -> list[StoredChunk]:
        """Every usable chunk held, in article and position order (for tests and tools: it cuts
        every chunk's text)."""
        with self._lock:
            return [self._chunk(a, i) for a in sorted(self._articles) for i in range(len(self._articles[a].ids))]

    def _chunk(self, article_id: str, i: int) -> StoredChunk:
        held = self._articles[article_id]
        start, end = held.starts[i], held.ends[i]
        return StoredChunk(
            id=held.ids[i], article_id=article_id, title=held.title, source=held.source,
            index=held.positions[i], start=start, end=end, text=self._texts[article_id][start:end],
        )

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency over chunks; unseen words weigh the most."""
        got = self._idf.get(term)
        if got is None:
            got = self._idf[term] = self.keyword.idf(term)
        return got

    def _dense(self, query_vector: list[float], article: str | None, n: int) -> list[tuple[str, float]]:
        if article is not None:
            # Within one article: its usable chunks, ranked exactly by id (the same cost at any
            # archive size, where Chroma's filter on the article grows with the collection).
            held = self._articles.get(article)
            return self.store.nearest(query_vector, n, among=held.ids) if held else []
        return [(cid, s) for cid, s in self.store.nearest(query_vector, n) if cid in self._where]

    def _keyword(self, question: str, article: str | None, n: int) -> list[tuple[str, float]]:
        return [(cid, s) for cid, s in self.keyword.search(question, n, article) if cid in self._where]

    def retrieve(
        self,
        question: str,
        *,
        article: str | None = None,
        k: int = 4,
        query_vector: list[float] | None = None,
    ) -> list[Hit]:
        """The `k` best chunks for `question`, optionally only from `article`."""
        return self.search(question, article=article, k=k, query_vector=query_vector)[0]

    def search(
        self,
        question: str,
        *,
        article: str | None = None,
        k: int = 4,
        query_vector: list[float] | None = None,
    ) -> tuple[list[Hit], list[float]]:
        """`retrieve`, and the question's vector: embedded here when not given, while the keyword
        search runs in another thread."""
        if article is not None:
            held = self._articles.get(article)
            scope = len(held.ids) if held else 0
        else:
            scope = len(self._where)
        n = max(1, min(self.candidates, scope))
        keyword_search = _KEYWORD_POOL.submit(self._keyword, question, article, n) if scope else None
        if query_vector is None:
            query_vector = self.embeddings.embed_query(question)
        if keyword_search is None:
            return [], query_vector
        dense = self._dense(query_vector, article, n)
        keyword = keyword_search.result()
        fused: dict[str, float] = {}
        dense_score = dict(dense)
        keyword_score = dict(keyword)
        for rank, (cid, _) in enumerate(dense):
            fused[cid] = fused.get(cid, 0.0) + self.dense_weight / (self.rrf_k + rank + 1)
        for rank, (cid, _) in enumerate(keyword):
            fused[cid] = fused.get(cid, 0.0) + self.keyword_weight / (self.rrf_k + rank + 1)
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        hits = []
        with self._lock:
            for cid, score in best:
                where = self._where.get(cid)
                if where is not None:  # not dropped by a refresh meanwhile
                    hits.append(Hit(self._chunk(*where), score, dense_score.get(cid, 0.0), keyword_score.get(cid, 0.0)))
        return hits, query_vector
