"""BM25 keyword search over chunks that is updated article by article (SQLite FTS5), never rebuilt.

Why FTS5 and not an in-memory index or a rebuild of bm25s: bm25s builds its matrix from every
chunk, so each write costs time in proportion to the archive (and every replica pays it again when
the version stamp moves). FTS5 (in the standard library's sqlite3) keeps an inverted index in
b-tree segments and merges them incrementally, so adding or removing an article's ~50 chunks costs
the same at 100 or 10,000 articles, and scoring runs in C. `bench/keyword_index.py` measured it
against an incremental pure-Python inverted index (docs/benchmarks.md).

The text is tokenised here, with `rag.text.terms` (PyStemmer's English stems, our stopwords), and
FTS5 is given the stems separated by spaces, so both searches match exactly the same words; FTS5
only splits them again on spaces (hyphenated stems such as "x-ray" stay one token). Each process
(replica) holds its own index, private to it, and brings it up to date with `sync()`, which only
touches the articles whose stamp changed.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from typing import Protocol

from rag.text import terms

# FTS5 splits tokens on anything that is not a letter or digit unless told otherwise: the stems
# keep their hyphens, and are already folded, so nothing else is changed.
_TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '-'"
# Stands in for a chunk with no content word, as `rag.answering.retrieval` does for bm25s (a document
# must have a token to have a length).
_EMPTY = "∅"
# From this many chunks on, words found in over half of them are not searched for (see `search`).
SKIP_COMMON_FROM = 10_000


class KeywordChunk(Protocol):
    """What the index needs of a chunk (`rag.types.StoredChunk` has it)."""

    id: str
    article_id: str
    title: str
    text: str


def chunk_terms(chunk: KeywordChunk) -> list[str]:
    """The words a chunk is found by: its title's and its own (questions often name the subject)."""
    return terms(f"{chunk.title}. {chunk.text}") or [_EMPTY]


class KeywordIndex:
    """BM25 over chunks, scoped to all articles or one; `add`, `remove` and `sync` change only
    the articles they are given. Thread-safe (one connection, one lock: queries take ~1 ms)."""

    def __init__(self, path: str = ":memory:") -> None:
        # The database is this process's own cache (rebuilt from the records at start-up), so it
        # needs no durability: no journal, no fsync.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.executescript(
            f"""
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE IF NOT EXISTS chunk (
                rowid INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS chunk_article ON chunk (article_id);
            -- An article's chunks have consecutive rowids lo..hi (inserted together, under the
            -- lock), so a search scoped to it is a rowid range, which FTS5 seeks to directly.
            CREATE TABLE IF NOT EXISTS article (
                article_id TEXT PRIMARY KEY, stamp TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL);
            CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5 (body, tokenize = "{_TOKENIZER}");
            CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab (fts, 'row');
            """
        )
        # Chunks held, kept here: count(*) reads the whole table, and `idf` is called per word.
        self._n = self._db.execute("SELECT count(*) FROM chunk").fetchone()[0]

    # --- writing -----------------------------------------------------------------------------
    def add(self, chunks: Iterable[KeywordChunk], *, stamp: str = "") -> int:
        """Index `chunks`, replacing whatever the index held for their articles; returns how many.

        `stamp` (e.g. the article's content hash and indexing time) is kept per article for `sync`."""
        by_article: dict[str, list[KeywordChunk]] = {}
        for c in chunks:
            by_article.setdefault(c.article_id, []).append(c)
        return sum(self._replace(a, cs, stamp) for a, cs in by_article.items())

    def remove(self, article_id: str) -> int:
        """Forget every chunk of `article_id`; returns how many there were (0 for an unknown id)."""
        with self._lock, self._transaction():
            return self._delete(article_id)

    def sync(
        self,
        stamps: Mapping[str, str],
        chunks_of: Callable[[str], Iterable[KeywordChunk]],
    ) -> tuple[list[str], list[str]]:
        """Make the index hold exactly the articles in `stamps` (article id -> stamp): articles it
        holds with another stamp or not at all are (re)loaded with `chunks_of(article_id)`, articles
        no longer listed are removed, the rest is not touched. Returns (loaded ids, removed ids).

        This is how a replica follows writes made by another: its cost is one dictionary
        comparison plus the changed articles, not the archive."""
        held = self.stamps()
        gone = sorted(set(held) - set(stamps))
        changed = sorted(a for a, s in stamps.items() if held.get(a) != s)
        for article_id in gone:
            self.remove(article_id)
        for article_id in changed:
            chunks = [c for c in chunks_of(article_id) if c.article_id == article_id]
            self._replace(article_id, chunks, stamps[article_id])
        return changed, gone

    def _replace(self, article_id: str, chunks: list[KeywordChunk], stamp: str) -> int:
        """One article's chunks in place of what was held, in one transaction; an article with
        no chunk is still recorded with its stamp, or every `sync` would load it again."""
        rows = [(c.id, " ".join(chunk_terms(c))) for c in chunks]  # stemming outside the lock
        with self._lock, self._transaction():
            self._delete(article_id)
            lo = self._db.execute("SELECT coalesce(max(rowid), 0) + 1 FROM chunk").fetchone()[0]
            for rowid, (chunk_id, body) in enumerate(rows, start=lo):
                self._db.execute("INSERT INTO chunk VALUES (?, ?, ?)", (rowid, chunk_id, article_id))
                self._db.execute("INSERT INTO fts (rowid, body) VALUES (?, ?)", (rowid, body))
            self._db.execute("INSERT INTO article VALUES (?, ?, ?, ?)", (article_id, stamp, lo, lo + len(rows) - 1))
            self._n += len(rows)
        return len(rows)

    def _delete(self, article_id: str) -> int:
        rowids = [r for (r,) in self._db.execute("SELECT rowid FROM chunk WHERE article_id = ?", (article_id,))]
        # A regular (not contentless) FTS5 table: deleting by rowid finds the row's own tokens, so
        # the cost is the article's chunks, not the table. (Contentless-delete tables need SQLite
        # 3.43; Debian 12's Python has 3.40.)
        self._db.executemany("DELETE FROM fts WHERE rowid = ?", ((r,) for r in rowids))
        self._db.execute("DELETE FROM chunk WHERE article_id = ?", (article_id,))
        self._db.execute("DELETE FROM article WHERE article_id = ?", (article_id,))
        self._n -= len(rowids)
        return len(rowids)

    @contextmanager
    def _transaction(self):
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self._n = self._db.execute("SELECT count(*) FROM chunk").fetchone()[0]  # undo our count too
            raise
        self._db.execute("COMMIT")

    # --- reading -----------------------------------------------------------------------------
    def search(self, query: str, k: int, article_id: str | None = None) -> list[tuple[str, float]]:
        """The `k` best chunks for `query` as (chunk id, BM25 score > 0), best first, over all
        articles or only `article_id`. Scores use the whole archive's statistics either way, as
        a bm25s index of every chunk does."""
        words = sorted(set(terms(query)))
        if not words or k <= 0:
            return []
        with self._lock:
            # FTS5's idf of a word in over half the chunks is ~0 (1e-6), so next to a rarer word
            # it only adds near-zero matches at the tail, yet scoring it visits most of a large
            # archive: there, leave it out. A query of such words only is kept whole.
            if self._n >= SKIP_COMMON_FROM:
                words = [w for w in words if self._df(w) <= self._n / 2] or words
            # Every word quoted: a stem is data, never FTS5 query syntax (AND, NEAR, *, column:).
            match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
            sql = (
                "SELECT chunk.chunk_id, -bm25(fts) FROM fts JOIN chunk ON chunk.rowid = fts.rowid "
                "WHERE fts MATCH ? {scope} ORDER BY bm25(fts) LIMIT ?"
            )
            if article_id is None:
                rows = self._db.execute(sql.format(scope=""), (match, k)).fetchall()
            else:
                span = self._db.execute("SELECT lo, hi FROM article WHERE article_id = ?", (article_id,)).fetchone()
                if span is None:
                    return []
                rows = self._db.execute(
                    sql.format(scope="AND fts.rowid BETWEEN ? AND ?"), (match, span[0], span[1], k)
                ).fetchall()
        return [(cid, float(score)) for cid, score in rows if score > 0]

    def _df(self, term: str) -> int:
        got = self._db.execute("SELECT doc FROM vocab WHERE term = ?", (term,)).fetchone()
        return got[0] if got else 0

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency of a stem over chunks (the formula of
        `HybridRetriever.idf`); unseen words weigh the most."""
        with self._lock:
            n, df = self._n, self._df(term)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def stamps(self) -> dict[str, str]:
        """The articles held, with the stamp each was added with."""
        with self._lock:
            return dict(self._db.execute("SELECT article_id, stamp FROM article"))

    def __len__(self) -> int:
        """Chunks held."""
        return self._n

    def close(self) -> None:
        with self._lock:
            self._db.close()
