"""The article index: chunks in Chroma, content hashes in LangChain's record manager, article records in SQL.

`ArticleIndex` is the one way in: reads here, writes through `IndexWriter` (rag/index/writer.py)
under the single-writer lock (rag/index/lock.py). An unchanged article is skipped by its content
hash (nothing embedded). A new or edited one gets one model pass over its chunks, which gives the
chunk vectors and, pooled from the same token states, its sentence vectors (kept with the
records); LangChain's indexing API then writes only chunks it does not hold yet, cleans up an
edited article's stale ones (`scoped_full`), and derives chunk ids from content so an
interrupted run re-adds the same ids. Answers use only chunks that are exact slices of their
article's recorded text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ArticleNotFoundError, IndexNotReadyError
from rag.index.chroma import ChromaChunks
from rag.index.lock import LOCK_NAME, WriteLock
from rag.index.records import (
    ArticleRecords,
    first_line,
    masked_database_url,
    shown_source,
)
from rag.index.writer import IndexWriter
from rag.types import Article, ArticleInfo, IndexReport, StoredChunk, content_hash

if TYPE_CHECKING:
    import numpy as np

    from rag.config import Settings
    from rag.types import EmbeddingModel

__all__ = ["LOCK_NAME", "ArticleIndex"]

log = logging.getLogger(__name__)


class ArticleIndex:
    """Everything stored about the indexed articles, behind one small interface."""

    def __init__(self, settings: Settings, embeddings: EmbeddingModel) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.dir = Path(settings.index_dir)
        self._records: ArticleRecords | None = None
        self._record_manager = None
        self.chroma = ChromaChunks(settings, embeddings, self._make_dir)
        self.lock = WriteLock(settings, self.dir, lambda: self.records, self._make_dir)
        self.writer = IndexWriter(self)

    # --- opening ----------------------------------------------------------------------------
    @property
    def exists(self) -> bool:
        return self.settings.records_url is not None or self.settings.records_db.exists()

    @property
    def records(self) -> ArticleRecords:
        if self._records is None:
            self._make_dir()
            try:
                self._records = ArticleRecords(self.settings.records_db_url)
            except Exception as exc:
                reason = first_line(exc)
                shown, password = masked_database_url(self.settings.records_db_url)
                if password:
                    reason = reason.replace(password, "***")
                raise IndexNotReadyError(
                    f"Cannot open the article records at {shown} "
                    f"({type(exc).__name__}: {reason}): check RAG_RECORDS_URL (and that its "
                    "database driver is installed) or RAG_INDEX_DIR."
                ) from None
        return self._records

    def _make_dir(self) -> None:
        if self.settings.records_url is not None and self.settings.store == "server":
            return  # nothing of ours lives on this disk
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexNotReadyError(
                f"Cannot create the index folder '{self.dir}' ({exc.strerror or exc}): "
                "set RAG_INDEX_DIR to a folder you can write."
            ) from None

    @property
    def record_manager(self):
        if self._record_manager is None:
            from langchain_classic.indexes import SQLRecordManager

            self._make_dir()
            rm = SQLRecordManager(
                namespace=f"chroma/{self.settings.collection}",
                db_url=self.settings.records_db_url,
            )
            try:
                rm.create_schema()
            except Exception:  # noqa: BLE001 - see below
                # Two replicas starting on one PostgreSQL both issue CREATE TABLE IF NOT EXISTS;
                # the loser of that race gets a unique violation on the catalogue although the
                # table now exists. Asking again finds it (and raises if something else is wrong).
                rm.create_schema()
            self._record_manager = rm
        return self._record_manager

    @property
    def vector_store(self):
        """The langchain-chroma vector store."""
        return self.chroma.vector_store

    def reopen(self) -> None:
        """Drop open handles so the next use sees what another process wrote."""
        self.chroma.reopen()
        if self._records is not None:
            self._records.close()
            self._records = None

    # --- reading ----------------------------------------------------------------------------
    def version(self) -> str:
        """A stamp that changes after every write by any process (kept with the article records)."""
        return self.lock.version() if self.exists else ""

    def writer_active(self) -> bool:
        """True when another process holds the single-writer lock right now."""
        return self.lock.writer_active()

    def list_articles(self) -> list[ArticleInfo]:
        if not self.exists:
            return []
        return self.records.list()

    def get_article(self, article_id: str) -> Article:
        row = self.records.get(article_id) if self.exists else None
        if row is None:
            raise ArticleNotFoundError(
                f"No article '{article_id}' in the index: `rag list` shows the indexed ones."
            )
        return Article(
            id=row["id"], title=row["title"], text=row["text"], content_hash=row["content_hash"],
            source=shown_source(row["source"], row["origin"], row["location"]), origin=row["origin"] or "unknown",
            # An index made before locations were kept has a file's absolute path as its source.
            location=row["location"] or (row["source"] if row["origin"] == "file" else None),
        )

    def article_texts(self) -> dict[str, str]:
        return self.records.texts() if self.exists else {}

    def article_stamps(self) -> dict[str, str]:
        """Article id -> a stamp that changes whenever the article is written again."""
        return self.records.stamps() if self.exists else {}

    def article_contents(self, ids: list[str]) -> dict[str, tuple[str, str, str, str]]:
        """Article id -> (title, shown source, text, stamp) for those of `ids` that are recorded."""
        return self.records.contents(ids) if self.exists and ids else {}

    def changed_elsewhere(self, seen: str, now: str) -> bool:
        """Whether a write by another process may lie between versions `seen` and `now`, i.e.
        whether open handles must be dropped (`reopen`) to see it: not when every write since
        was this process's own, through the handles it holds (reopening an embedded Chroma of
        500,000 chunks reads its whole vector index from disk again)."""
        return self.lock.changed_elsewhere(seen, now)

    def chunks(self, article_id: str | None = None) -> list[StoredChunk]:
        """Every stored chunk (or one article's), in article and position order. One article's are
        read by the chunk ids LangChain's record manager lists for it (its group): a lookup by id
        costs the same at any archive size, which keeps a replica's reload after a write flat."""
        if not self.exists:
            return []
        if article_id is None:
            return self.chroma.chunks()
        keys = self.record_manager.list_keys(group_ids=[article_id])
        return [c for c in self.chroma.chunks(ids=keys) if c.article_id == article_id]

    def count_chunks(self) -> int:
        return self.chroma.count() if self.exists else 0

    def nearest(self, vector, n: int, among: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """Dense search: the `n` nearest chunk ids with their cosine similarity, over every chunk or
        exactly the chunks `among` (one article's ids, known to the caller: the same cost at any
        archive size, see `ChromaChunks.nearest_among`)."""
        if among is not None:
            return self.chroma.nearest_among(vector, among, n)
        return self.chroma.nearest(vector, n)

    def chunking_signature(self) -> str:
        """How chunks and vectors were made (sizes, model): a change re-embeds every article."""
        return json.dumps(
            {"size": self.settings.chunk_size, "overlap": self.settings.chunk_overlap, "model": self.embeddings.name},
            sort_keys=True,
        )

    def stored_sentence_vectors(self, article_id: str, text: str, expected_rows: int) -> np.ndarray | None:
        """The article's pooled sentence vectors (float16), if they were made from exactly `text`
        with the current chunking and model; None otherwise (the caller embeds on demand)."""
        try:
            got = self.records.load_sentence_vectors(article_id)
        except Exception:  # noqa: BLE001 - answering embeds the sentences instead
            log.warning("Could not read the sentence vectors of %s; embedding them instead", article_id, exc_info=True)
            return None
        if got is None:
            return None
        chunking, made_from, vectors = got
        if chunking != self.chunking_signature() or made_from != content_hash(text) or vectors.shape[0] != expected_rows:
            return None
        return vectors.copy()  # float16, detached from the database row's buffer

    # --- writing ----------------------------------------------------------------------------
    def write_lock(self, on_wait: Callable[[str], None] | None = None, timeout: float = -1):
        return self.lock.hold(on_wait=on_wait, timeout=timeout)

    def index_articles(self, articles: Iterable[Article | tuple[str, Exception]], **kwargs) -> IndexReport:
        """Index articles (errors passed in as `(source, exc)` are reported, not raised); see
        `IndexWriter.add` for `on_progress` / `on_wait`."""
        return self.writer.add(articles, **kwargs)

    def remove(self, article_ids: Iterable[str], on_wait: Callable[[str], None] | None = None) -> IndexReport:
        """Remove articles and every chunk and record of theirs."""
        return self.writer.remove(article_ids, on_wait=on_wait)
