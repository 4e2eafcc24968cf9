"""One question in, one `Answer` out: follow-up rewriting -> hybrid retrieval -> the answerer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from rag.answering.corpus import Corpus
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.followup import HeuristicRewriter, earlier_answers
from rag.answering.retrieval import HybridRetriever
from rag.types import Answer, AnswerContext, Message

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.index import ArticleIndex
    from rag.types import Answerer, EmbeddingModel, Rewriter


class AnswerPipeline:
    """The read side of the index, wired for answering; `refresh()` follows the index's changes."""

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
        self._texts: dict[str, str] = {}
        self._titles: dict[str, str] = {}
        self.corpus = Corpus(
            {}, {}, self.retriever.idf, max_sentence=settings.chunk_size, stored_vectors=store.stored_sentence_vectors
        )
        self.refresh()

    def refresh(self) -> tuple[list[str], list[str]]:
        """Follow the index: reload only the articles written since (by any process), drop the
        removed ones. Returns (reloaded ids, dropped ids). Called by the assistant when the
        index's version stamp moves; the first call loads everything."""
        stamps = self.store.article_stamps()
        held = self.retriever.stamps
        changed = [a for a, s in stamps.items() if held.get(a) != s]
        contents = self.store.article_contents(changed)
        texts, titles = dict(self._texts), dict(self._titles)
        for article_id in set(texts) - set(stamps):
            texts.pop(article_id)
            titles.pop(article_id, None)
        for article_id in changed:
            if article_id not in contents:  # removed between the two reads
                stamps.pop(article_id)
                texts.pop(article_id, None)
                titles.pop(article_id, None)
        sources = {}
        for article_id, (title, source, text, stamp) in contents.items():
            texts[article_id], titles[article_id], stamps[article_id] = text, title, stamp
            sources[article_id] = source
        reloaded, dropped = self.retriever.refresh(stamps, texts, sources)
        self.corpus = self.corpus.updated(texts, titles, set(reloaded) | set(dropped))
        self._texts, self._titles = texts, titles
        return reloaded, dropped

    @property
    def article_ids(self) -> set[str]:
        return set(self.corpus.titles)

    def context(self, question: str, article: str | None = None, history: list[Message] | None = None) -> AnswerContext:
        """Rewrite a follow-up, embed it, retrieve: what every answerer gets."""
        query = self.rewriter.rewrite(question, history)
        corpus = self.corpus  # one version of the texts for this answer, whatever refreshes meanwhile
        hits, vector = self.retriever.search(query, article=article, k=self.settings.k)
        # A refresh between taking `corpus` and retrieving may have given an article new text:
        # only chunks cut from the text this answer quotes from are used.
        hits = [h for h in hits if h.chunk.article_id in corpus.titles
                and corpus.text(h.chunk.article_id)[h.chunk.start : h.chunk.end] == h.chunk.text]
        if article:
            scope_title = corpus.titles.get(article)
        else:
            scope_title = next(iter(corpus.titles.values())) if len(corpus.titles) == 1 else None
        return AnswerContext(
            question=question,
            hits=hits,
            corpus=corpus,
            query_vector=vector,
            query=query if query != question.strip() else None,
            scope_title=scope_title,
            exclude=tuple(earlier_answers(question, history)),
        )

    def run(self, question: str, *, article: str | None = None, history: list[Message] | None = None) -> Answer:
        return self.answerer.answer(self.context(question, article, history))

    def stream(
        self, question: str, *, article: str | None = None, history: list[Message] | None = None
    ) -> Iterator[str | Answer]:
        """Text pieces as the answerer produces them, then the `Answer`."""
        yield from self.answerer.stream(self.context(question, article, history))
