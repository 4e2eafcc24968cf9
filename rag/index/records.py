"""The article records in SQL (SQLite in the index folder, or any SQLAlchemy URL): texts, titles, hashes,
origins, pooled sentence vectors and the index's version stamp."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from rag.types import Article, ArticleInfo


def masked_database_url(url: str) -> tuple[str, str | None]:
    """A database URL fit for an error message (password hidden), and the password to scrub from
    the driver's own message. SQLAlchemy's parser, which reads SQLite paths right."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        return parsed.render_as_string(hide_password=True), parsed.password or None
    except Exception:
        return "the configured RAG_RECORDS_URL", None


def shown_source(source: str, origin: str | None, location: str | None) -> str:
    """What clients see as an article's source: a file recorded before `location` was has its
    absolute path as source, and shows its file name instead."""
    if origin == "file" and location is None:
        return source.replace("\\", "/").rsplit("/", 1)[-1]
    return source


def stamp(content_hash: str, indexed_at: float) -> str:
    return f"{content_hash}@{indexed_at!r}"


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]


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
            # A file's absolute path on the indexing machine (Article.location): the identity of
            # a file and where it is re-read from; `source` is what clients see. NULL otherwise,
            # and in indexes made before it, whose file sources are absolute paths.
            sa.Column("location", sa.Text, nullable=True),
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
        for name, kind in (("origin", "VARCHAR(20)"), ("location", "TEXT")):
            def missing(name=name) -> bool:
                return name not in {c["name"] for c in self._sa.inspect(self.engine).get_columns("articles")}

            if missing():
                try:
                    with self.engine.begin() as conn:
                        conn.execute(self._sa.text(f"ALTER TABLE articles ADD COLUMN {name} {kind}"))
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

    def by_identity(self, key: str) -> str | None:
        """The article whose identity is `key`: a file's location, else its source."""
        a = self.articles.c
        match = (a.location == key) | (a.location.is_(None) & (a.source == key))
        with self.engine.connect() as conn:
            return conn.execute(self._sa.select(a.id).where(match)).scalar()

    def upsert(self, article: Article, chunking: str, chunk_count: int) -> None:
        def write(conn):
            conn.execute(self.articles.delete().where(self.articles.c.id == article.id))
            conn.execute(
                self.articles.insert().values(
                    id=article.id, title=article.title, source=article.source,
                    content_hash=article.content_hash, chunking=chunking, text=article.text,
                    chunk_count=chunk_count, indexed_at=time.time(), origin=article.origin,
                    location=article.location,
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
            a.id, a.title, a.source, a.content_hash, a.chunk_count, self._sa.func.length(a.text), a.indexed_at,
            a.origin, a.location,
        ).order_by(a.id)
        with self.engine.connect() as conn:
            return [ArticleInfo(row[0], row[1], shown_source(row[2], row[7], row[8]), *row[3:7]) for row in conn.execute(query)]

    def stamps(self) -> dict[str, str]:
        """Every article's stamp: its content hash and indexing time, which change with every
        write of it (an edit, a new title, a re-chunking), so a reader reloads only those."""
        a = self.articles.c
        with self.engine.connect() as conn:
            return {row.id: stamp(row.content_hash, row.indexed_at) for row in conn.execute(
                self._sa.select(a.id, a.content_hash, a.indexed_at))}

    def contents(self, ids: list[str]) -> dict[str, tuple[str, str, str, str]]:
        """(title, shown source, text, stamp) of the articles `ids` that exist, read in pages."""
        a = self.articles.c
        out: dict[str, tuple[str, str, str, str]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                query = self._sa.select(
                    a.id, a.title, a.source, a.origin, a.location, a.text, a.content_hash, a.indexed_at
                ).where(a.id.in_(ids[start : start + 500]))
                for r in conn.execute(query):
                    shown = shown_source(r.source, r.origin, r.location)
                    out[r.id] = (r.title, shown, r.text, stamp(r.content_hash, r.indexed_at))
        return out

    def texts(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {row.id: row.text for row in conn.execute(self._sa.select(self.articles.c.id, self.articles.c.text))}

    def close(self) -> None:
        self.engine.dispose()
