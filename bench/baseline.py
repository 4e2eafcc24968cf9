"""The LangChain RAG tutorial recipe without its LLM: the baseline `python -m bench` measures us against.

The recipe (python.langchain.com/docs/tutorials/rag): `RecursiveCharacterTextSplitter(chunk_size=1000,
chunk_overlap=200, add_start_index=True)`, a Chroma vector store, `similarity_search(k=4)`, and the
four chunks handed to an LLM. With no LLM the honest stand-in is what the user would be shown as
evidence: the four chunks are the citations and the top chunk is the answer text. It never refuses.

The embedding model is whatever `Embeddings` it is given (the benchmark passes ours), so a
comparison with `rag.assistant.Assistant` is about the pipeline, not the model. Heavy imports
happen on first use so that `python -m bench.cold` times them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.types import Answer, Citation

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from rag.types import Article

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
K = 4


class TutorialBaseline:
    """Index articles and answer questions the way the LangChain RAG tutorial does."""

    name = "baseline"

    def __init__(self, directory: Path | str, embeddings: Embeddings, *, collection: str = "tutorial") -> None:
        self.directory = Path(directory)
        self.embeddings = embeddings
        self.collection = collection
        self._store = None

    @property
    def store(self):
        """The langchain-chroma store on an embedded `PersistentClient` in `directory`."""
        if self._store is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
            from langchain_chroma import Chroma

            self.directory.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=str(self.directory), settings=ChromaSettings(anonymized_telemetry=False)
            )
            # The tutorial's defaults: Chroma's default (L2) space; the vectors are unit length,
            # so the ranking is the same as cosine.
            self._store = Chroma(collection_name=self.collection, embedding_function=self.embeddings, client=client)
        return self._store

    def warm_up(self) -> TutorialBaseline:
        warm = getattr(self.embeddings, "warm_up", None)
        if warm:
            warm()
        _ = self.store
        return self

    def split(self, article: Article) -> list:
        """The tutorial's chunks of one article, with where each starts in the article text."""
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
        )
        doc = Document(
            page_content=article.text,
            metadata={"article_id": article.id, "title": article.title, "source": article.source},
        )
        return splitter.split_documents([doc])

    def index_articles(self, articles: Iterable[Article], on_progress: Callable[[str], None] | None = None) -> int:
        """Split and add the articles (one `add_documents` call each, like the tutorial); chunks added."""
        added = 0
        for article in articles:
            chunks = self.split(article)
            if chunks:
                self.store.add_documents(documents=chunks)
            added += len(chunks)
            if on_progress:
                on_progress(article.id)
        return added

    def count_chunks(self) -> int:
        return self.store._collection.count()  # noqa: SLF001 - langchain-chroma exposes no count

    def ask(self, question: str, article: str | None = None) -> Answer:
        """The top `K` chunks as citations; the first one is the answer text."""
        # `similarity_search` is this call without the scores; the scores fill `Citation.score`.
        found = self.store.similarity_search_with_score(
            question, k=K, filter={"article_id": article} if article else None
        )
        citations = [
            Citation(
                n=n,
                article_id=doc.metadata.get("article_id", ""),
                title=doc.metadata.get("title", ""),
                source=doc.metadata.get("source", ""),
                chunk_id=doc.id or "",
                quote=doc.page_content,
                start=int(doc.metadata.get("start_index", -1)),
                end=int(doc.metadata.get("start_index", -1)) + len(doc.page_content),
                score=round(float(distance), 6),
            )
            for n, (doc, distance) in enumerate(found, start=1)
        ]
        return Answer(
            question=question,
            text=citations[0].quote if citations else "",
            citations=citations,
            refused=False,
            answerer="langchain-tutorial",
        )
