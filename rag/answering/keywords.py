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
from collections import Counter
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
# A search over all articles has FTS5 rank (bm25(), ~1-2 µs a row) every chunk that holds any word
# it matches on, and at 500,000 chunks a question's words are in ~90,000 of them: ranking is most
# of the time (counting the same matches takes a tenth of it; docs/benchmarks.md). So it matches
# on its rarest words only, as many as hold together at most MATCH_SHARE of the chunks (the rarest
# always), and scores the candidates with every word: a chunk holding only the commoner words
# can score at most their small idfs. Below MATCH_FLOOR matched rows nothing is left out (cheap);
# above MATCH_CEILING no more are matched, so the rows ranked, and the time, stop growing with the
# archive (10,000 rows is 2 % of the chunks at 10,000 articles, where recall at 2 % was within
# 0.003 of bm25s's at the default weights; docs/benchmarks.md).
MATCH_SHARE = 0.05
MATCH_FLOOR = 5_000
MATCH_CEILING = 10_000
# Document frequencies looked up are kept until the next write (fts5vocab counts a word's chunks
# by reading its whole posting list: ~1 ms for a common word at 500,000 chunks), at most this many.
DF_CACHE_SIZE = 100_000
# FTS5 picks this many candidates per hit asked for (at least MIN_CANDIDATES), which are then
# scored as bm25s scores; bm25s's own defaults.
CANDIDATES_PER_HIT = 5
MIN_CANDIDATES = 100
BM25_K1 = 1.5
BM25_B = 0.75


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

    def __init__(
        self, path: str = ":memory:", *, match_share: float = MATCH_SHARE, match_floor: int = MATCH_FLOOR,
        match_ceiling: float = MATCH_CEILING,
    ) -> None:
        self.match_share, self.match_floor, self.match_ceiling = match_share, match_floor, match_ceiling
        # The database is this process's own cache (rebuilt from the records at start-up), so it
        # needs no durability: no journal, no fsync.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.executescript(
            f"""
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE IF NOT EXISTS chunk (
                rowid INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL,
                length INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS chunk_article ON chunk (article_id);
            -- An article's chunks have consecutive rowids lo..hi (inserted together, under the
            -- lock), so a search scoped to it is a rowid range, which FTS5 seeks to directly.
            CREATE TABLE IF NOT EXISTS article (
                article_id TEXT PRIMARY KEY, stamp TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL);
            CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5 (body, tokenize = "{_TOKENIZER}");
            CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab (fts, 'row');
            """
        )
        self._dfs: dict[str, int] = {}  # see DF_CACHE_SIZE; emptied by every write
        # Chunks held, kept here: count(*) reads the whole table, and `idf` is called per word.
        self._n, self._tokens = self._db.execute("SELECT count(*), coalesce(sum(length), 0) FROM chunk").fetchone()

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
        rows = [(c.id, chunk_terms(c)) for c in chunks]  # stemming outside the lock
        with self._lock, self._transaction():
            self._delete(article_id)
            lo = self._db.execute("SELECT coalesce(max(rowid), 0) + 1 FROM chunk").fetchone()[0]
            for rowid, (chunk_id, words) in enumerate(rows, start=lo):
                self._db.execute("INSERT INTO chunk VALUES (?, ?, ?, ?)", (rowid, chunk_id, article_id, len(words)))
                self._db.execute("INSERT INTO fts (rowid, body) VALUES (?, ?)", (rowid, " ".join(words)))
            self._db.execute("INSERT INTO article VALUES (?, ?, ?, ?)", (article_id, stamp, lo, lo + len(rows) - 1))
            self._n += len(rows)
            self._tokens += sum(len(w) for _, w in rows)
        return len(rows)

    def _delete(self, article_id: str) -> int:
        held = self._db.execute("SELECT rowid, length FROM chunk WHERE article_id = ?", (article_id,)).fetchall()
        rowids = [r for r, _ in held]
        self._tokens -= sum(n for _, n in held)
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
        self._dfs.clear()
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            # undo our counts too
            self._n, self._tokens = self._db.execute("SELECT count(*), coalesce(sum(length), 0) FROM chunk").fetchone()
            raise
        self._db.execute("COMMIT")

    # --- reading -----------------------------------------------------------------------------
    def search(self, query: str, k: int, article_id: str | None = None) -> list[tuple[str, float]]:
        """The `k` best chunks for `query` as (chunk id, BM25 score > 0), best first, over all
        articles or only `article_id`. Scores use the whole archive's statistics either way, as
        a bm25s index of every chunk does.

        FTS5 finds the candidates (its own BM25, in C, best `CANDIDATES_PER_HIT` x k); they are
        then scored as bm25s scores (Lucene idf, k1 1.5, b 0.75) from their stored stems, so the
        ranking is bm25s's, not FTS5's (whose idf of a word in half the chunks is ~0, which on a
        small archive reorders the best chunks: the dev questions' recall@4 fell from 1.0 to 0.89).
        Over all articles of a large archive only the rarest words find candidates (MATCH_SHARE)."""
        words = sorted(set(terms(query)))
        if not words or k <= 0:
            return []
        with self._lock:
            df = {w: self._df(w) for w in words}
            n, avg = self._n, (self._tokens / self._n if self._n else 1.0)
            # Scoped to one article the rowid range bounds the rows ranked: every word is matched.
            matched = words if article_id is not None else self._match_words(df)
            rows = self._candidates(matched, max(k * CANDIDATES_PER_HIT, MIN_CANDIDATES), article_id)
        idf = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}
        scored = []
        for chunk_id, body, length in rows:
            tf = Counter(t for t in body.split(" ") if t in idf)
            norm = BM25_K1 * ((1 - BM25_B) + BM25_B * length / avg)
            score = sum(idf[w] * c / (norm + c) for w, c in tf.items())
            if score > 0:
                scored.append((chunk_id, score))
        scored.sort(key=lambda cs: -cs[1])
        return scored[:k]

    def _match_words(self, df: Mapping[str, int]) -> list[str]:
        """The words a search over all articles matches on (see MATCH_SHARE): the rarest first,
        while the chunks holding them add up to the budget (MATCH_SHARE of the chunks, within
        MATCH_FLOOR and MATCH_CEILING rows); the rarest (held) one always."""
        budget = max(self.match_floor, min(self.match_share * self._n, self.match_ceiling))
        held = sorted((d, w) for w, d in df.items() if d > 0)
        if sum(d for d, _ in held) <= budget:
            return list(df)
        out, rows = [], 0
        for d, w in held:
            if out and rows + d > budget:
                break
            out.append(w)
            rows += d
        return out

    def _candidates(self, words: list[str], limit: int, article_id: str | None) -> list[tuple[str, str, int]]:
        """(chunk id, stems, length) of the `limit` best chunks by FTS5's own BM25."""
        # Every word quoted: a stem is data, never FTS5 query syntax (AND, NEAR, *, column:).
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        sql = (
            "SELECT chunk.chunk_id, fts.body, chunk.length FROM fts JOIN chunk ON chunk.rowid = fts.rowid "
            "WHERE fts MATCH ? {scope} ORDER BY bm25(fts) LIMIT ?"
        )
        if article_id is None:
            return self._db.execute(sql.format(scope=""), (match, limit)).fetchall()
        span = self._db.execute("SELECT lo, hi FROM article WHERE article_id = ?", (article_id,)).fetchone()
        if span is None:
            return []
        return self._db.execute(sql.format(scope="AND fts.rowid BETWEEN ? AND ?"), (match, span[0], span[1], limit)).fetchall()

    def _df(self, term: str) -> int:
        """Chunks holding `term` (called under the lock)."""
        got = self._dfs.get(term)
        if got is None:
            row = self._db.execute("SELECT doc FROM vocab WHERE term = ?", (term,)).fetchone()
            got = row[0] if row else 0
            if len(self._dfs) >= DF_CACHE_SIZE:
                self._dfs.clear()
            self._dfs[term] = got
        return got

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
