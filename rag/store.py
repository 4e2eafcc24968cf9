"""The article index: chunks in Chroma, content hashes in LangChain's record manager, article texts in SQLite.

Writes go through `ArticleIndex.index_articles()` / `remove()` only, under an inter-process file
lock (Chroma's embedded client is not process-safe), and bump a version stamp so readers in
other processes know to reopen. An unchanged article is skipped by its content hash (nothing
embedded). A new or edited one gets one model pass over its chunks, which gives the chunk vectors
and, pooled from the same token states, its sentence vectors (kept with the records); LangChain's
indexing API then writes only chunks it does not hold yet, cleans up an edited article's stale
ones (`scoped_full`), and derives chunk ids from content so an interrupted run re-adds the same
ids. Answers use only chunks that are exact slices of their article's recorded text.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.chunking import chunk_article, sentence_spans
from rag.errors import ArticleNotFoundError, IndexNotReadyError, RagError
from rag.ingest import Article

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from rag.config import Settings

log = logging.getLogger(__name__)

LOCK_NAME = ".write.lock"
# Chroma turns a `get` into one SQLite statement with a variable per id, and SQLite allows
# 32,766 of them: an index of some 30,000 chunks or more fails to load in one call ("too many
# SQL variables"). Reads and deletes go in pages of this many ids.
PAGE = 5_000


def _pages(collection, **query):
    """Yield `collection.get(**query)` results a page at a time (see PAGE)."""
    offset = 0
    while True:
        got = collection.get(limit=PAGE, offset=offset, **query)
        if not got["ids"]:
            return
        yield got
        if len(got["ids"]) < PAGE:
            return
        offset += PAGE


def _database_url(url: str) -> tuple[str, str | None]:
    """A database URL fit for an error message (password hidden), and the password to scrub from
    the driver's own message. SQLAlchemy's parser, which reads SQLite paths right."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        return parsed.render_as_string(hide_password=True), parsed.password or None
    except Exception:
        return "the configured RAG_RECORDS_URL", None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]


@dataclass(frozen=True)
class ArticleInfo:
    id: str
    title: str
    source: str
    content_hash: str
    chunk_count: int
    chars: int
    indexed_at: float


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored: its id in Chroma and where it sits in its article."""

    id: str
    article_id: str
    title: str
    source: str
    index: int
    start: int
    end: int
    text: str


@dataclass
class IndexReport:
    """What one indexing run did, per article and in chunks."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_added: int = 0
    chunks_deleted: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.skipped)} skipped (unchanged)",
        ]
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return (
            ", ".join(parts)
            + f"; {self.chunks_added} chunks embedded, {self.chunks_deleted} deleted in {self.seconds:.1f} s"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "skipped": self.skipped,
            "removed": self.removed,
            "failed": [{"source": s, "error": e} for s, e in self.failed],
            "chunks_added": self.chunks_added,
            "chunks_deleted": self.chunks_deleted,
            "seconds": round(self.seconds, 3),
        }


class ArticleRecords:
    """Article texts and metadata (what citations quote from and `rag list` shows), via SQLAlchemy.

    SQLite in the index folder by default; any SQLAlchemy URL (e.g. PostgreSQL) when several
    app replicas share one Chroma server.
    """

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self._sa = sa
        kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        self.engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            @sa.event.listens_for(self.engine, "connect")
            def _wal(dbapi_conn, _record):  # readers never wait for the writer
                dbapi_conn.execute("PRAGMA journal_mode=WAL")

        meta = sa.MetaData()
        self.articles = sa.Table(
            "articles", meta,
            sa.Column("id", sa.String(200), primary_key=True),
            sa.Column("title", sa.Text, nullable=False),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("content_hash", sa.String(64), nullable=False),
            sa.Column("chunking", sa.Text, nullable=False),
            sa.Column("text", sa.Text, nullable=False),
            sa.Column("chunk_count", sa.Integer, nullable=False),
            sa.Column("indexed_at", sa.Float, nullable=False),
            # How the text came in (Article.origin); NULL in indexes made before it was recorded,
            # which are never re-read from disk on a client's request.
            sa.Column("origin", sa.String(20), nullable=True),
        )
        # Sentence vectors pooled from the indexing pass (float16, one row per sentence, NaN where
        # a sentence got none), so answering embeds only the question.
        self.sentence_vectors = sa.Table(
            "sentence_vectors", meta,
            sa.Column("article_id", sa.String(200), primary_key=True),
            sa.Column("chunking", sa.Text, nullable=False),
            sa.Column("content_hash", sa.String(64), nullable=False),
            sa.Column("rows", sa.Integer, nullable=False),
            sa.Column("dim", sa.Integer, nullable=False),
            sa.Column("data", sa.LargeBinary, nullable=False),
        )
        self.meta = sa.Table(
            "meta", meta,
            sa.Column("key", sa.String(200), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
        meta.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added since an index was made (create_all adds tables, never columns)."""
        def missing() -> bool:
            return "origin" not in {c["name"] for c in self._sa.inspect(self.engine).get_columns("articles")}

        if missing():
            try:
                with self.engine.begin() as conn:
                    conn.execute(self._sa.text("ALTER TABLE articles ADD COLUMN origin VARCHAR(20)"))
            except self._sa.exc.DBAPIError:
                if missing():  # not another process adding it at the same moment
                    raise

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(self._sa.select(self.meta.c.value).where(self.meta.c.key == key)).scalar()

    def _replace(self, write: Callable) -> None:
        """Run a delete-then-insert transaction `write(conn)`, again if another replica inserted
        the same key between our delete and insert (PostgreSQL: unique violation); the retry's
        delete then sees that row and replaces it."""
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    write(conn)
                return
            except self._sa.exc.IntegrityError:
                if attempt == 2:
                    raise

    def set_meta(self, key: str, value: str) -> None:
        def write(conn):
            conn.execute(self.meta.delete().where(self.meta.c.key == key))
            conn.execute(self.meta.insert().values(key=key, value=value))

        self._replace(write)

    def get(self, article_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(self.articles.select().where(self.articles.c.id == article_id)).mappings().first()
        return dict(row) if row else None

    def by_source(self, source: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                self._sa.select(self.articles.c.id).where(self.articles.c.source == source)
            ).scalar()

    def upsert(self, article: Article, chunking: str, chunk_count: int) -> None:
        def write(conn):
            conn.execute(self.articles.delete().where(self.articles.c.id == article.id))
            conn.execute(
                self.articles.insert().values(
                    id=article.id, title=article.title, source=article.source,
                    content_hash=article.content_hash, chunking=chunking, text=article.text,
                    chunk_count=chunk_count, indexed_at=time.time(), origin=article.origin,
                )
            )

        self._replace(write)

    def delete(self, article_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.articles.delete().where(self.articles.c.id == article_id))
            conn.execute(self.sentence_vectors.delete().where(self.sentence_vectors.c.article_id == article_id))

    def save_sentence_vectors(self, article_id: str, chunking: str, content_hash: str, vectors: np.ndarray) -> None:
        table = self.sentence_vectors
        data = np.asarray(vectors, dtype=np.float16)

        def write(conn):
            conn.execute(table.delete().where(table.c.article_id == article_id))
            conn.execute(table.insert().values(
                article_id=article_id, chunking=chunking, content_hash=content_hash,
                rows=data.shape[0], dim=data.shape[1], data=data.tobytes(),
            ))

        self._replace(write)

    def load_sentence_vectors(self, article_id: str) -> tuple[str, str, np.ndarray] | None:
        """(chunking signature, content hash of the text they were made from, vectors), or None."""
        table = self.sentence_vectors
        with self.engine.connect() as conn:
            row = conn.execute(table.select().where(table.c.article_id == article_id)).mappings().first()
        if row is None:
            return None
        vectors = np.frombuffer(row["data"], dtype=np.float16).reshape(row["rows"], row["dim"])
        return row["chunking"], row["content_hash"], vectors

    def has_sentence_vectors(self, article_id: str, chunking: str, content_hash: str) -> bool:
        t = self.sentence_vectors.c
        query = self._sa.select(t.article_id).where(
            (t.article_id == article_id) & (t.chunking == chunking) & (t.content_hash == content_hash)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def list(self) -> list[ArticleInfo]:
        a = self.articles.c
        query = self._sa.select(
            a.id, a.title, a.source, a.content_hash, a.chunk_count, self._sa.func.length(a.text), a.indexed_at
        ).order_by(a.id)
        with self.engine.connect() as conn:
            return [ArticleInfo(*row) for row in conn.execute(query)]

    def texts(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {row.id: row.text for row in conn.execute(self._sa.select(self.articles.c.id, self.articles.c.text))}

    def close(self) -> None:
        self.engine.dispose()


class _PrecomputedFirst:
    """The embedding function Chroma is given: chunk vectors computed by the indexing pass (with
    the sentence vectors, in one model run) are looked up by text; anything else goes to the model.
    LangChain's `index()` embeds through the vector store, so this is where its work is saved."""

    def __init__(self, embeddings) -> None:
        self.inner = embeddings
        # Per thread: LangChain's `index()` embeds in the thread that called it, and two indexing
        # runs may overlap in one process (server mode takes no lock).
        self._local = threading.local()

    @contextmanager
    def precomputed(self, vectors: dict[str, list[float]]):
        """Use `vectors` (chunk text -> vector) for this thread's embedding calls inside the block."""
        self._local.pending = vectors
        try:
            yield
        finally:
            self._local.pending = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        pending = getattr(self._local, "pending", {})
        missing = [t for t in texts if t not in pending]
        fresh = dict(zip(missing, self.inner.embed_documents(missing))) if missing else {}
        return [pending[t] if t in pending else fresh[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


class ArticleIndex:
    """Everything stored about the indexed articles, behind one small interface."""

    def __init__(self, settings: Settings, embeddings: Embeddings) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.dir = Path(settings.index_dir)
        self._vector_store = None
        self._indexing_embeddings = _PrecomputedFirst(embeddings)
        self._record_manager = None
        self._records: ArticleRecords | None = None
        self._open_lock = threading.Lock()

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
                reason = _first_line(exc)
                shown, password = _database_url(self.settings.records_db_url)
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
            rm.create_schema()
            self._record_manager = rm
        return self._record_manager

    @property
    def vector_store(self):
        with self._open_lock:
            if self._vector_store is None:
                self._vector_store = self._open_vector_store()
            return self._vector_store

    def _open_vector_store(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.settings.store == "server":
            token = self.settings.chroma_auth_token
            try:
                client = chromadb.HttpClient(
                    host=self.settings.chroma_host,
                    port=self.settings.chroma_port,
                    ssl=self.settings.chroma_ssl,
                    headers={"Authorization": f"Bearer {token.get_secret_value()}"} if token else None,
                    settings=chroma_settings,
                )
            except Exception as exc:
                raise IndexNotReadyError(
                    f"Cannot reach the Chroma server at {self.settings.chroma_host}:{self.settings.chroma_port} "
                    f"({type(exc).__name__}): start it with `chroma run --path … --host 127.0.0.1` "
                    "or check RAG_CHROMA_HOST/RAG_CHROMA_PORT."
                ) from None
        else:
            self._make_dir()
            client = chromadb.PersistentClient(path=str(self.settings.chroma_dir), settings=chroma_settings)
        return Chroma(
            collection_name=self.settings.collection,
            embedding_function=self._indexing_embeddings,
            client=client,
            collection_metadata={"hnsw:space": "cosine"},
        )

    def reopen(self) -> None:
        """Drop open handles so the next use sees what another process wrote."""
        with self._open_lock:
            if self._vector_store is not None:
                try:
                    self._vector_store._client.clear_system_cache()  # noqa: SLF001
                except Exception:
                    pass
            self._vector_store = None
        if self._records is not None:
            self._records.close()
            self._records = None

    # --- reading ----------------------------------------------------------------------------
    def version(self) -> str:
        """A stamp that changes after every write by any process (kept with the article records)."""
        if not self.exists:
            return ""
        return self.records.get_meta("version") or ""

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
            id=row["id"], title=row["title"], source=row["source"], text=row["text"],
            content_hash=row["content_hash"], origin=row["origin"] or "unknown",
        )

    def article_texts(self) -> dict[str, str]:
        return self.records.texts() if self.exists else {}

    def chunks(self, article_id: str | None = None) -> list[StoredChunk]:
        """Every stored chunk (or one article's), in article and position order."""
        if not self.exists:
            return []
        collection = self.vector_store._collection  # noqa: SLF001 - langchain-chroma exposes no bulk read
        where = {"article_id": article_id} if article_id else None
        chunks = [
            StoredChunk(
                id=cid, article_id=m["article_id"], title=m["title"], source=m["source"],
                index=int(m["chunk_index"]), start=int(m["start"]), end=int(m["end"]), text=doc,
            )
            for got in _pages(collection, where=where, include=["documents", "metadatas"])
            for cid, doc, m in zip(got["ids"], got["documents"], got["metadatas"])
        ]
        chunks.sort(key=lambda c: (c.article_id, c.index))
        return chunks

    def count_chunks(self) -> int:
        if not self.exists:
            return 0
        return self.vector_store._collection.count()  # noqa: SLF001

    # --- writing ----------------------------------------------------------------------------
    @contextmanager
    def write_lock(self, on_wait: Callable[[str], None] | None = None, timeout: float = -1):
        """Hold the single-writer lock; tell `on_wait` if another process has it.

        Only the embedded store needs it: Chroma's PersistentClient is not process-safe. A Chroma
        server is one process that owns its files and serialises writes itself, and the records
        live in a database that handles concurrent writers, so server mode takes no file lock.
        """
        from filelock import FileLock, Timeout

        if self.settings.store == "server":
            try:
                yield
            finally:
                self._bump_version()
            return
        self._make_dir()
        lock = FileLock(str(self.dir / LOCK_NAME))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait:
                on_wait("Another process is writing the index; waiting for it to finish…")
            try:
                lock.acquire(timeout=timeout)
            except Timeout:
                raise IndexNotReadyError(
                    "The index is locked by another writer; try again when it has finished."
                ) from None
        try:
            yield
        finally:
            self._bump_version()
            lock.release()

    def writer_active(self) -> bool:
        """True when another process holds the single-writer lock right now."""
        from filelock import FileLock, Timeout

        if self.settings.store == "server" or not (self.dir / LOCK_NAME).exists():
            return False
        lock = FileLock(str(self.dir / LOCK_NAME))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return True
        lock.release()
        return False

    def _bump_version(self) -> None:
        self.records.set_meta("version", f"{time.time():.6f}-{uuid.uuid4().hex[:8]}")

    def _chunking_signature(self) -> str:
        model = getattr(self.embeddings, "name", type(self.embeddings).__name__)
        return json.dumps(
            {"size": self.settings.chunk_size, "overlap": self.settings.chunk_overlap, "model": model},
            sort_keys=True,
        )

    def _check_model(self) -> None:
        """Refuse to mix vectors of two embedding models in one collection."""
        model = getattr(self.embeddings, "name", type(self.embeddings).__name__)
        stored = self.records.get_meta("embedding_model")
        if stored is None or stored in getattr(self.embeddings, "legacy_names", ()):
            self.records.set_meta("embedding_model", model)
        elif stored != model:
            raise IndexNotReadyError(
                f"The index in '{self.dir}' was built with the embedding model '{stored}', not "
                f"'{model}': use the same RAG_EMBEDDING_BACKEND, or delete the index folder and re-index."
            )

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
        collection = self.vector_store._collection  # noqa: SLF001
        stored = {
            cid: (meta or {}).get("article_id")
            for got in _pages(collection, include=["metadatas"])
            for cid, meta in zip(got["ids"], got["metadatas"])
        }
        if not stored:
            return 0
        known = set(self.record_manager.list_keys())
        recorded = {a.id for a in self.records.list()}
        orphans = sorted(cid for cid, article_id in stored.items() if cid not in known or article_id not in recorded)
        for start in range(0, len(orphans), PAGE):
            page = orphans[start : start + PAGE]
            collection.delete(ids=page)
            self.record_manager.delete_keys([cid for cid in page if cid in known])
        return len(orphans)

    def _unique_id(self, article: Article) -> str:
        existing = self.records.get(article.id)
        if existing is None or existing["source"] == article.source:
            return article.id
        by_source = self.records.by_source(article.source)
        if by_source:
            return by_source
        import hashlib

        return f"{article.id}-{hashlib.sha1(article.source.encode()).hexdigest()[:6]}"

    def _embed_chunks(self, chunks, sentences) -> tuple[dict[str, list[float]], np.ndarray | None]:
        """One model pass over the chunks: their vectors by text (handed to Chroma through
        `_PrecomputedFirst`) and each sentence's vector pooled from its tokens (averaged over the
        chunks that hold it; NaN where none could be had). ({}, None) when the backend cannot pool."""
        if not getattr(self.embeddings, "pools_sentences", False):
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

    def sentence_vectors(self, article_id: str, text: str, expected_rows: int) -> np.ndarray | None:
        """The article's pooled sentence vectors (float16), if they were made from exactly `text`
        with the current chunking and model; None otherwise (the caller embeds on demand)."""
        from rag.ingest import content_hash

        try:
            got = self.records.load_sentence_vectors(article_id)
        except Exception:  # a read error: embed instead
            return None
        if got is None:
            return None
        chunking, made_from, vectors = got
        if chunking != self._chunking_signature() or made_from != content_hash(text) or vectors.shape[0] != expected_rows:
            return None
        return vectors.copy()  # float16, detached from the database row's buffer

    def index_articles(
        self,
        articles: Iterable[Article | tuple[str, Exception]],
        *,
        on_progress: Callable[[str], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> IndexReport:
        """Index articles (errors passed in as `(source, exc)` are reported, not raised)."""
        from langchain_core.documents import Document
        from langchain_core.indexing import index

        report = IndexReport()
        started = time.perf_counter()
        with self.write_lock(on_wait=on_wait):
            self._check_model()
            self._repair()
            signature = self._chunking_signature()
            can_pool = bool(getattr(self.embeddings, "pools_sentences", False))
            for item in articles:
                if isinstance(item, tuple):
                    source, exc = item
                    report.failed.append((source, str(exc)))
                    if on_progress:
                        on_progress(source)
                    continue
                article = item
                article.id = self._unique_id(article)
                existing = self.records.get(article.id)
                if (
                    existing is not None
                    and existing["content_hash"] == article.content_hash
                    and existing["chunking"] == signature
                    and existing["title"] == article.title
                    # An index made before sentence vectors gets them on its next run.
                    and (not can_pool or self.records.has_sentence_vectors(article.id, signature, article.content_hash))
                ):
                    report.skipped.append(article.id)
                    if on_progress:
                        on_progress(article.id)
                    continue
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
                    with self._indexing_embeddings.precomputed(chunk_vectors):
                        result = index(
                            docs,
                            self.record_manager,
                            self.vector_store,
                            cleanup="scoped_full",
                            source_id_key="article_id",
                            key_encoder="sha256",
                            batch_size=64,
                        )
                except Exception as exc:
                    if isinstance(exc, RagError):
                        raise
                    report.failed.append((article.source, f"indexing failed: {exc}"))  # report, keep going
                    continue
                self.records.upsert(article, signature, len(chunks))
                if sentence_vectors is not None:
                    try:
                        self.records.save_sentence_vectors(article.id, signature, article.content_hash, sentence_vectors)
                    except Exception:  # answering embeds sentences on demand without them
                        log.warning("Could not store the sentence vectors of %s", article.id, exc_info=True)
                (report.updated if existing is not None else report.added).append(article.id)
                report.chunks_added += result["num_added"] + result["num_updated"]
                report.chunks_deleted += result["num_deleted"]
                if on_progress:
                    on_progress(article.id)
        report.seconds = time.perf_counter() - started
        return report

    def remove(self, article_ids: Iterable[str], on_wait: Callable[[str], None] | None = None) -> IndexReport:
        """Remove articles and every chunk and record of theirs."""
        report = IndexReport()
        started = time.perf_counter()
        ids = list(article_ids)
        known = {a.id for a in self.list_articles()}
        missing = [a for a in ids if a not in known]
        if missing:
            raise ArticleNotFoundError(
                f"No article {', '.join(repr(m) for m in missing)} in the index: "
                "`rag list` shows the indexed ones. Nothing was removed."
            )
        with self.write_lock(on_wait=on_wait):
            for article_id in ids:
                # The record goes first: from then on the article is not used for answers, so a
                # run killed before its vectors are gone leaves nothing visible (only recorded
                # articles are answered from), and indexing it again cleans up what is left.
                self.records.delete(article_id)
                keys = self.record_manager.list_keys(group_ids=[article_id])
                collection = self.vector_store._collection  # noqa: SLF001
                before = collection.count()
                collection.delete(where={"article_id": article_id})
                if keys:
                    collection.delete(ids=keys)
                    self.record_manager.delete_keys(keys)
                report.chunks_deleted += before - collection.count()
                report.removed.append(article_id)
        report.seconds = time.perf_counter() - started
        return report
