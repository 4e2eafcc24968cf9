"""One question in, one `Answer` out: follow-up rewriting -> hybrid retrieval -> the answerer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from rag.answering.corpus import Corpus
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.followup import HeuristicRewriter
from rag.answering.retrieval import HybridRetriever
from rag.types import Answer, AnswerContext, Message

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.index import ArticleIndex
    from rag.types import Answerer, EmbeddingModel, Rewriter


class AnswerPipeline:
    """The read side of the index, wired for answering. Rebuilt by the assistant when the index changes."""

    def __init__(
        self,
        settings: Settings,
        store: ArticleIndex,
        embeddings: EmbeddingModel,
        rewriter: Rewriter | None = None,
        answerer: Answerer | None = None,
    ):
        self.settings = settings
        self.store = store
        self.embeddings = embeddings
        self.rewriter = rewriter or HeuristicRewriter()
        self.retriever = HybridRetriever(
            store,
            embeddings,
            candidates=settings.candidates,
            rrf_k=settings.rrf_k,
            dense_weight=settings.dense_weight,
            keyword_weight=settings.keyword_weight,
        )
        self.answerer = answerer or ExtractiveAnswerer(
            embeddings,
            refusal_threshold=settings.refusal_threshold,
            min_lexical=settings.min_lexical,
            sentence_rerank=settings.sentence_rerank,
        )
        texts = store.article_texts()
        self.retriever.refresh(texts)
        articles = store.list_articles()
        self.corpus = Corpus(
            texts,
            {a.id: a.title for a in articles},
            self.retriever.idf,
            max_sentence=settings.chunk_size,
            stored_vectors=store.sentence_vectors,
        )

    @property
    def article_ids(self) -> set[str]:
        return set(self.corpus.titles)

    def context(self, question: str, article: str | None = None, history: list[Message] | None = None) -> AnswerContext:
        """Rewrite a follow-up, embed it, retrieve: what every answerer gets."""
        query = self.rewriter.rewrite(question, history)
        vector = self.embeddings.embed_query(query)
        hits = self.retriever.retrieve(query, article=article, k=self.settings.k, query_vector=vector)
        if article:
            scope_title = self.corpus.titles.get(article)
        else:
            scope_title = next(iter(self.corpus.titles.values())) if len(self.corpus.titles) == 1 else None
        return AnswerContext(
            question=question,
            hits=hits,
            corpus=self.corpus,
            query_vector=vector,
            query=query if query != question.strip() else None,
            scope_title=scope_title,
        )

    def run(self, question: str, *, article: str | None = None, history: list[Message] | None = None) -> Answer:
        return self.answerer.answer(self.context(question, article, history))

    def stream(
        self, question: str, *, article: str | None = None, history: list[Message] | None = None
    ) -> Iterator[str | Answer]:
        """Text pieces as the answerer produces them, then the `Answer`."""
        yield from self.answerer.stream(self.context(question, article, history))
