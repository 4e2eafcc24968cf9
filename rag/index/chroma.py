"""The one Chroma adapter: opens the embedded or server client, and reads, searches and deletes chunks
through public APIs (langchain-chroma's vector store for LangChain's indexing API, chromadb's own
collection handle for reads in pages, similarity by id and counts)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rag.errors import IndexNotReadyError
from rag.types import StoredChunk

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.types import EmbeddingModel

# Chroma turns a `get` into one SQLite statement with a variable per id, and SQLite allows
# 32,766 of them: an index of some 30,000 chunks or more fails to load in one call ("too many
# SQL variables"). Reads and deletes go in pages of this many ids.
PAGE = 5_000


class PrecomputedFirst:
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




class ChromaChunks:
    """The chunks of one Chroma collection, embedded (a folder) or on a Chroma server."""

    def __init__(self, settings: Settings, embeddings: EmbeddingModel, make_dir) -> None:
        self.settings = settings
        self.indexing_embeddings = PrecomputedFirst(embeddings)
        self._make_dir = make_dir  # the index folder, created on first use
        self._client = None
        self._store = None
        self._collection = None
        self._lock = threading.Lock()

    # --- opening ----------------------------------------------------------------------------
    def _open(self) -> None:
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
        store = Chroma(
            collection_name=self.settings.collection,
            embedding_function=self.indexing_embeddings,
            client=client,
            collection_metadata={"hnsw:space": "cosine"},
        )
        # chromadb's own handle on the collection LangChain just made: langchain-chroma has no
        # public count, paged read with offsets or similarity by id.
        self._collection = client.get_collection(self.settings.collection)
        self._client, self._store = client, store

    @property
    def vector_store(self):
        """The langchain-chroma vector store (what LangChain's indexing API writes through)."""
        with self._lock:
            if self._store is None:
                self._open()
            return self._store

    @property
    def collection(self):
        self.vector_store  # noqa: B018 - opens the client
        return self._collection

    def reopen(self) -> None:
        """Drop open handles so the next use sees what another process wrote."""
        with self._lock:
            if self._client is not None:
                try:
                    self._client.clear_system_cache()
                except Exception:  # noqa: BLE001 - a stale cache is dropped with the client anyway
                    pass
            embedded, self._client = self._client is not None and self.settings.store != "server", None
            self._store = self._collection = None
        if embedded:
            # The dropped embedded client's System (which holds the whole vector index in memory,
            # ~2 KB a chunk) sits in a reference cycle that only the cyclic collector frees, and
            # rarely does: without this, every reopen kept another copy (+113 MB each at 50,000
            # chunks; 10 GB peak in `bench.scale measure` at 500,000). The collection takes ~0.3 s
            # in a process holding 10,000 articles, after another process's write only. A server
            # client holds no vectors, so server mode does not pay it on every write.
            gc.collect()

    # --- reading ----------------------------------------------------------------------------
    def pages(self, **query: Any) -> Iterator[dict]:
        """`collection.get(**query)` results a page at a time (see PAGE)."""
        offset = 0
        while True:
            got = self.collection.get(limit=PAGE, offset=offset, **query)
            if not got["ids"]:
                return
            yield got
            if len(got["ids"]) < PAGE:
                return
            offset += PAGE

    def by_ids(self, ids: Sequence[str], include: list[str]) -> Iterator[dict]:
        """`collection.get(ids=...)` a page at a time: a lookup by id, whose cost does not grow
        with the collection (a `where` filter on metadata does: ~50 ms for one article's chunks at
        50,000 chunks, ten times that at 500,000)."""
        for start in range(0, len(ids), PAGE):
            yield self.collection.get(ids=list(ids[start : start + PAGE]), include=include)

    def chunks(self, ids: Sequence[str] | None = None) -> list[StoredChunk]:
        """Every stored chunk, or those of `ids`, in article and position order."""
        include = ["documents", "metadatas"]
        pages = self.pages(include=include) if ids is None else self.by_ids(ids, include)
        chunks = [
            StoredChunk(
                id=cid, article_id=m["article_id"], title=m["title"], source=m["source"],
                index=int(m["chunk_index"]), start=int(m["start"]), end=int(m["end"]), text=doc,
            )
            for got in pages
            for cid, doc, m in zip(got["ids"], got["documents"], got["metadatas"])
        ]
        chunks.sort(key=lambda c: (c.article_id, c.index))
        return chunks

    def article_of_each(self) -> dict[str, str | None]:
        """Every chunk id with the article it says it belongs to."""
        return {
            cid: (meta or {}).get("article_id")
            for got in self.pages(include=["metadatas"])
            for cid, meta in zip(got["ids"], got["metadatas"])
        }

    def count(self) -> int:
        return self.collection.count()

    def nearest(self, vector, n: int) -> list[tuple[str, float]]:
        """The `n` chunk ids nearest to `vector`, with cosine similarity (within one article:
        `nearest_among` its chunk ids)."""
        got = self.collection.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(got["ids"][0], got["distances"][0])]

    def nearest_among(self, vector, ids: Sequence[str], n: int) -> list[tuple[str, float]]:
        """The `n` of the chunks `ids` nearest to `vector`, with cosine similarity, computed exactly
        from their stored vectors. For a search within one article (~50 chunks) this costs the same
        at any collection size; Chroma's filtered `query` grew with it (77 ms at 50,000 chunks,
        docs/benchmarks.md). Written here because neither Chroma nor langchain-chroma ranks a
        given list of ids."""
        import numpy as np

        found, rows = [], []
        for got in self.by_ids(ids, ["embeddings"]):
            found += got["ids"]
            rows += list(got["embeddings"])
        if not found:
            return []
        matrix = np.asarray(rows, dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)
        similarity = matrix @ query / np.maximum(norms, 1e-12)
        best = np.argsort(-similarity, kind="stable")[:n]
        return [(found[i], float(similarity[i])) for i in best]

    # --- deleting ---------------------------------------------------------------------------
    def delete_ids(self, ids: list[str]) -> None:
        for start in range(0, len(ids), PAGE):
            self.collection.delete(ids=ids[start : start + PAGE])

    def delete_article(self, article_id: str) -> None:
        self.collection.delete(where={"article_id": article_id})
