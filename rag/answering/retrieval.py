"""Hybrid retrieval: dense search in Chroma fused with BM25 keyword search by reciprocal rank fusion.

The fusion is written here rather than taken from LangChain's `EnsembleRetriever` because each
query must be scoped to one article or all of them in both searches, and the answerer and the
refusal rule need the per-retriever scores, which the ensemble discards.
"""

from __future__ import annotations

import math
import threading
from collections import Counter

import numpy as np

from rag.index import ArticleIndex
from rag.text import terms
from rag.types import EmbeddingModel, Hit, StoredChunk


class HybridRetriever:
    """Dense + BM25 over the chunks of an `ArticleIndex`; call `refresh()` after the index changes."""

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
        self.chunks: list[StoredChunk] = []
        self._by_id: dict[str, int] = {}
        self._bm25 = None
        self._article_of: np.ndarray = np.zeros(0, dtype=object)
        self._df: Counter[str] = Counter()

    def refresh(self, texts: dict[str, str]) -> None:
        """Reload the chunks and rebuild the keyword index.

        Only chunks that are exact slices of their recorded article are used: a run killed or
        failed between writing vectors and writing the article's record (a new article, an edit,
        a removal) leaves chunks that the next run completes or cleans up, and until then they
        must not be quoted against text they were not cut from.
        """
        import bm25s

        chunks = [
            c for c in self.store.chunks()
            if c.article_id in texts and texts[c.article_id][c.start : c.end] == c.text
        ]
        # Title words count as chunk words: questions often name the article's subject.
        chunk_terms = [terms(f"{c.title}. {c.text}") or ["∅"] for c in chunks]
        bm25 = None
        if chunks:
            bm25 = bm25s.BM25()
            bm25.index(chunk_terms, show_progress=False)
        df: Counter[str] = Counter()
        for t in chunk_terms:
            df.update(set(t))
        with self._lock:
            self.chunks = chunks
            self._by_id = {c.id: i for i, c in enumerate(chunks)}
            self._article_of = np.array([c.article_id for c in chunks], dtype=object)
            self._bm25 = bm25
            self._df = df

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency over chunks; unseen words weigh the most."""
        n, df = len(self.chunks), self._df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def _dense(self, query_vector: list[float], article: str | None, n: int) -> list[tuple[int, float]]:
        out = []
        for cid, similarity in self.store.nearest(query_vector, n, article_id=article):
            idx = self._by_id.get(cid)
            if idx is not None:
                out.append((idx, similarity))
        return out

    def _keyword(self, question: str, article: str | None, n: int) -> list[tuple[int, float]]:
        query = terms(question)
        if not query or self._bm25 is None:
            return []
        scores = np.asarray(self._bm25.get_scores(query), dtype=np.float32)
        if article:
            scores = np.where(self._article_of == article, scores, 0.0)
        top = np.argsort(-scores)[:n]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def retrieve(
        self,
        question: str,
        *,
        article: str | None = None,
        k: int = 4,
        query_vector: list[float] | None = None,
    ) -> list[Hit]:
        """The `k` best chunks for `question`, optionally only from `article`."""
        if not self.chunks:
            return []
        if article is not None and article not in set(self._article_of.tolist()):
            return []
        if query_vector is None:
            query_vector = self.embeddings.embed_query(question)
        scope = int((self._article_of == article).sum()) if article else len(self.chunks)
        n = max(1, min(self.candidates, scope))
        dense = self._dense(query_vector, article, n)
        keyword = self._keyword(question, article, n)
        fused: dict[int, float] = {}
        dense_score = dict(dense)
        keyword_score = dict(keyword)
        for rank, (idx, _) in enumerate(dense):
            fused[idx] = fused.get(idx, 0.0) + self.dense_weight / (self.rrf_k + rank + 1)
        for rank, (idx, _) in enumerate(keyword):
            fused[idx] = fused.get(idx, 0.0) + self.keyword_weight / (self.rrf_k + rank + 1)
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        return [
            Hit(self.chunks[i], score, dense_score.get(i, 0.0), keyword_score.get(i, 0.0))
            for i, score in best
        ]
