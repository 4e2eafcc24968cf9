"""The write side of the index: chunk, embed (chunk and sentence vectors in one model pass), write
through LangChain's indexing API, record; and removal. Every write holds the write lock."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from rag.chunking import chunk_article, sentence_spans
from rag.errors import ArticleNotFoundError, IndexNotReadyError, RagError
from rag.index import chroma
from rag.types import Article, IndexReport

if TYPE_CHECKING:
    from rag.index import ArticleIndex

log = logging.getLogger(__name__)


class IndexWriter:
    """Adds, updates and removes articles in an `ArticleIndex` (its records, chunks and keys)."""

    def __init__(self, index: ArticleIndex) -> None:
        self.index = index
        self.settings = index.settings
        self.embeddings = index.embeddings

    def _check_model(self) -> None:
        """Refuse to mix vectors of two embedding models in one collection."""
        model = self.embeddings.name
        stored = self.index.records.get_meta("embedding_model")
        if stored is None or stored in self.embeddings.legacy_names:
            self.index.records.set_meta("embedding_model", model)
        elif stored != model:
            raise IndexNotReadyError(
                f"The index in '{self.index.dir}' was built with the embedding model '{stored}', not "
                f"'{model}': use the same RAG_EMBEDDING_BACKEND, or delete the index folder and re-index."
            )

    # The repair reads every chunk's metadata and every record key: ~100 s at 10,000 articles
    # (docs/benchmarks.md). So it runs only when the last write did not finish: a marker is set
    # (under the file lock) before a write changes anything and cleared when it has finished.
    # An index made before the marker existed has none, and is repaired once.
    _WRITE_MARKER = "write_unfinished"

    # Only the embedded store repairs (see `_repair`), so only it keeps the marker.
    def _last_write_unfinished(self) -> bool:
        return self.settings.store == "embedded" and self.index.records.get_meta(self._WRITE_MARKER) != "0"

    def _open_write(self) -> None:
        if self.settings.store == "embedded":
            self.index.records.set_meta(self._WRITE_MARKER, "1")

    def _close_write(self) -> None:
        if self.settings.store == "embedded":
            self.index.records.set_meta(self._WRITE_MARKER, "0")

    def _repair(self) -> int:
        """Delete vectors that no record covers: chunks LangChain's record manager does not know
        (a run killed between writing vectors and keys) and chunks of articles with no article
        record (a run killed before recording a new article, or in the middle of a removal).

        Only in embedded mode, where the file lock makes this process the one writer. With a
        Chroma server, another replica may be between its two writes right now, and its fresh
        vectors would look orphaned; there, leftovers of a killed run are skipped when answering
        (only recorded articles are used) and replaced when the article is indexed again.
        """
        if self.settings.store != "embedded":
            return 0
        stored = self.index.chroma.article_of_each()
        if not stored:
            return 0
        known = set(self.index.record_manager.list_keys())
        recorded = {a.id for a in self.index.records.list()}
        orphans = sorted(cid for cid, article_id in stored.items() if cid not in known or article_id not in recorded)
        self.index.chroma.delete_ids(orphans)
        known_orphans = [cid for cid in orphans if cid in known]
        for start in range(0, len(known_orphans), chroma.PAGE):
            self.index.record_manager.delete_keys(known_orphans[start : start + chroma.PAGE])
        return len(orphans)

    def _unique_id(self, article: Article) -> str:
        # A file is known by where it lies (two files may share a name, or a relative path from
        # two folders); anything else by its source.
        key = article.location or article.source
        existing = self.index.records.get(article.id)
        # An upload labelled with the source clients are shown (`rag index` handing a file to a
        # running server) is the same article as the file indexed from disk.
        if existing is None or key in (existing["location"] or existing["source"], existing["source"]):
            return article.id
        known = self.index.records.by_identity(key)
        if known:
            return known
        return f"{article.id}-{hashlib.sha1(key.encode()).hexdigest()[:6]}"

    def _embed_chunks(self, chunks, sentences) -> tuple[dict[str, list[float]], np.ndarray | None]:
        """One model pass over the chunks: their vectors by text (handed to Chroma through
        `PrecomputedFirst`) and each sentence's vector pooled from its tokens (averaged over the
        chunks that hold it; NaN where none could be had). ({}, None) when the backend cannot pool."""
        if not self.embeddings.pools_sentences:
            return {}, None
        members, spans = sentence_spans(chunks, sentences)
        chunk_vectors, span_vectors = self.embeddings.encode_with_spans([c.text for c in chunks], spans)
        by_text = {c.text: v.tolist() for c, v in zip(chunks, chunk_vectors)}
        sums = np.zeros((len(sentences), chunk_vectors.shape[1]), dtype=np.float32)
        counts = np.zeros(len(sentences), dtype=np.int32)
        for m, vecs in zip(members, span_vectors):
            for i, v in zip(m, vecs):
                if v is not None:
                    sums[i] += v
                    counts[i] += 1
        out = np.full_like(sums, np.nan)
        have = counts > 0
        norms = np.linalg.norm(sums[have], axis=1, keepdims=True)
        out[have] = sums[have] / np.clip(norms, 1e-12, None)
        return by_text, out

    def add(
        self,
        articles: Iterable[Article | tuple[str, Exception]],
        *,
        on_progress: Callable[[str], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> IndexReport:
        """Index articles (errors passed in as `(source, exc)` are reported, not raised)."""
        report = IndexReport()
        started = time.perf_counter()
        with self.index.lock.hold(on_wait=on_wait):
            self._check_model()
            if self._last_write_unfinished():
                self._repair()
            self._open_write()
            signature = self.index.chunking_signature()
            for item in articles:
                if isinstance(item, tuple):
                    source, exc = item
                    report.failed.append((source, str(exc)))
                    done = source
                else:
                    self._add_one(item, signature, report)
                    done = item.id
                if on_progress:
                    on_progress(done)
            self._close_write()
        report.seconds = time.perf_counter() - started
        return report

    def _unchanged(self, article: Article, existing: dict | None, signature: str) -> bool:
        return (
            existing is not None
            and existing["content_hash"] == article.content_hash
            and existing["chunking"] == signature
            and existing["title"] == article.title
            # An index made before sentence vectors gets them on its next run.
            and (
                not self.embeddings.pools_sentences
                or self.index.records.has_sentence_vectors(article.id, signature, article.content_hash)
            )
        )

    def _add_one(self, article: Article, signature: str, report: IndexReport) -> None:
        """One article: skipped when unchanged, else chunked, embedded, written and recorded."""
        from langchain_core.documents import Document
        from langchain_core.indexing import index

        article.id = self._unique_id(article)
        existing = self.index.records.get(article.id)
        if self._unchanged(article, existing, signature):
            report.skipped.append(article.id)
            return
        sentences, chunks = chunk_article(article.text, self.settings.chunk_size, self.settings.chunk_overlap)
        docs = [
            Document(
                page_content=c.text,
                metadata={
                    "article_id": article.id,
                    "title": article.title,
                    "source": article.source,
                    "chunk_index": c.index,
                    "start": c.start,
                    "end": c.end,
                },
            )
            for c in chunks
        ]
        # The old record stays until the new chunks are written: answers use only chunks that
        # are exact slices of the recorded text, so until then the old article answers from
        # its old chunks, and a run killed or failed midway never quotes old text at new offsets.
        try:
            chunk_vectors, sentence_vectors = self._embed_chunks(chunks, sentences)
            with self.index.chroma.indexing_embeddings.precomputed(chunk_vectors):
                result = index(
                    docs,
                    self.index.record_manager,
                    self.index.chroma.vector_store,
                    cleanup="scoped_full",
                    source_id_key="article_id",
                    key_encoder="sha256",
                    batch_size=64,
                )
        except Exception as exc:
            if isinstance(exc, RagError):
                raise
            report.failed.append((article.source, f"indexing failed: {exc}"))  # report, keep going
            return
        self.index.records.upsert(article, signature, len(chunks))
        if sentence_vectors is not None:
            try:
                self.index.records.save_sentence_vectors(article.id, signature, article.content_hash, sentence_vectors)
            except Exception:  # answering embeds sentences on demand without them
                log.warning("Could not store the sentence vectors of %s", article.id, exc_info=True)
        (report.updated if existing is not None else report.added).append(article.id)
        report.chunks_added += result["num_added"] + result["num_updated"]
        report.chunks_deleted += result["num_deleted"]

    def remove(self, article_ids: Iterable[str], on_wait: Callable[[str], None] | None = None) -> IndexReport:
        """Remove articles and every chunk and record of theirs."""
        report = IndexReport()
        started = time.perf_counter()
        ids = list(article_ids)
        known = {a.id for a in self.index.list_articles()}
        missing = [a for a in ids if a not in known]
        if missing:
            raise ArticleNotFoundError(
                f"No article {', '.join(repr(m) for m in missing)} in the index: "
                "`rag list` shows the indexed ones. Nothing was removed."
            )
        with self.index.lock.hold(on_wait=on_wait):
            self._open_write()
            for article_id in ids:
                # The record goes first: from then on the article is not used for answers, so a
                # run killed before its vectors are gone leaves nothing visible (only recorded
                # articles are answered from), and indexing it again cleans up what is left.
                self.index.records.delete(article_id)
                keys = self.index.record_manager.list_keys(group_ids=[article_id])
                chroma = self.index.chroma
                before = chroma.count()
                chroma.delete_article(article_id)
                if keys:
                    chroma.delete_ids(keys)
                    self.index.record_manager.delete_keys(keys)
                report.chunks_deleted += before - chroma.count()
                report.removed.append(article_id)
            self._close_write()
        report.seconds = time.perf_counter() - started
        return report
