"""The read side of the index, wired for answering: follow-up rewriting -> hybrid retrieval -> answerer."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from rag.answer import Answer, ExtractiveAnswerer
from rag.chunking import Sentence, sentence_range, split_sentences
from rag.followup import HeuristicRewriter, QueryRewriter
from rag.retrieval import HybridRetriever
from rag.store import ArticleIndex
from rag.text import fold, prefix, terms

# Sentence vectors kept in memory (~1.5 KB each): re-asked and nearby questions skip the model.
SENTENCE_VECTOR_CACHE = 20_000

# Two or more capitalised words in a row, not at a sentence start: "Emmanuel Macron", "Olaf Scholz".
_MULTI_NAME = re.compile(r"(?<![.!?\n] )(?<!^)\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)+")


class Corpus:
    """Article texts with their sentences and sentence words, computed once per article on demand."""

    def __init__(
        self,
        texts: dict[str, str],
        titles: dict[str, str],
        retriever: HybridRetriever,
        max_sentence: int,
        stored_vectors=None,
    ):
        self._texts = texts
        # (article id, text, sentence count) -> the sentence vectors pooled at indexing time, or None
        self._stored_loader = stored_vectors
        self._stored: dict[str, np.ndarray | None] = {}
        self.titles = titles
        self._retriever = retriever
        self._max_sentence = max_sentence
        self._lock = threading.Lock()
        self._sentences: dict[str, tuple] = {}
        self._names: dict[str, set[str]] = {}
        self._vectors: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    def text(self, article_id: str) -> str:
        return self._texts[article_id]

    def _prepare(self, article_id: str):
        got = self._sentences.get(article_id)
        if got is None:
            text = self._texts[article_id]
            sents = split_sentences(text, max_chars=self._max_sentence)
            own = [set(terms(text[s.start : s.end])) for s in sents]
            got = (sents, [s.start for s in sents], own, [{prefix(t) for t in ts} for ts in own])
            with self._lock:
                self._sentences[article_id] = got
        return got

    def sentences(self, article_id: str) -> list[Sentence]:
        return self._prepare(article_id)[0]

    def sentence_terms(self, article_id: str) -> list[set[str]]:
        return self._prepare(article_id)[2]

    def names(self, article_id: str) -> set[str]:
        """Lower-cased words that appear inside multi-word capitalised names in the article."""
        got = self._names.get(article_id)
        if got is None:
            got = set()
            for m in _MULTI_NAME.finditer(self._texts[article_id]):
                got.update(fold(w) for w in m.group(0).split())
            self._names[article_id] = got
        return got

    def title_terms(self, article_id: str) -> set[str]:
        return set(terms(self.titles.get(article_id, "")))

    def sentence_prefixes(self, article_id: str) -> list[set[str]]:
        return self._prepare(article_id)[3]

    def sentence_text(self, article_id: str, i: int) -> str:
        s = self.sentences(article_id)[i]
        return self._texts[article_id][s.start : s.end]

    def sentences_in(self, article_id: str, start: int, end: int) -> range:
        """Indices of the sentences that lie inside [start, end)."""
        sents, starts = self._prepare(article_id)[:2]
        return sentence_range(sents, starts, start, end)

    def idf(self, term: str) -> float:
        return self._retriever.idf(term)

    def stored_vectors(self, article_id: str) -> np.ndarray | None:
        """The article's sentence vectors from indexing (rows of NaN where a sentence has none),
        kept as float16 (768 bytes a sentence: ~300 MB less at 1,000 articles than float32)."""
        if article_id not in self._stored:
            got = None
            if self._stored_loader is not None:
                got = self._stored_loader(article_id, self._texts[article_id], len(self.sentences(article_id)))
            with self._lock:
                self._stored[article_id] = got
        return self._stored[article_id]

    def has_stored_vector(self, article_id: str, i: int) -> bool:
        stored = self.stored_vectors(article_id)
        return stored is not None and not np.isnan(stored[i, 0])

    def pooled_sentence_vectors(self, embeddings, keys: list[tuple[str, int]]) -> np.ndarray:
        """Sentence vectors for ranking: the ones pooled at indexing time where there are some,
        else embedded now (`sentence_vectors`)."""
        out: list[np.ndarray | None] = []
        for a, i in keys:
            out.append(self.stored_vectors(a)[i].astype(np.float32) if self.has_stored_vector(a, i) else None)
        missing = [k for k, v in zip(keys, out) if v is None]
        if missing:
            fresh = iter(self.sentence_vectors(embeddings, missing))
            out = [v if v is not None else next(fresh) for v in out]
        return np.vstack(out) if out else np.zeros((0, 384), dtype=np.float32)

    def sentence_vectors(self, embeddings, keys: list[tuple[str, int]]) -> np.ndarray:
        """Embeddings of sentences `(article_id, index)` read on their own, computed once and kept
        (LRU-bounded). The LLM citation checker compares claims with these."""
        with self._lock:
            found = {k: self._vectors[k] for k in keys if k in self._vectors}
        missing = [k for k in keys if k not in found]
        if missing:
            vecs = embeddings.encode([self.sentence_text(a, i) for a, i in missing])
            found.update(zip(missing, vecs))
        with self._lock:
            # Another thread may have evicted some of `found` meanwhile: this answer keeps its
            # own copies, and they go back into the cache as the most recently used.
            for key in keys:
                self._vectors[key] = found[key]
                self._vectors.move_to_end(key, last=True)
            while len(self._vectors) > SENTENCE_VECTOR_CACHE:
                self._vectors.popitem(last=False)
        return np.vstack([found[k] for k in keys])


class AnswerPipeline:
    """One question in, one `Answer` out. Rebuilt by the assistant when the index changes."""

    def __init__(self, settings, store: ArticleIndex, embeddings, rewriter: QueryRewriter | None = None, answerer=None):
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
            self.retriever,
            max_sentence=settings.chunk_size,
            stored_vectors=store.sentence_vectors,
        )

    @property
    def article_ids(self) -> set[str]:
        return set(self.corpus.titles)

    def _prepare(self, question: str, article: str | None, history) -> dict:
        """Rewrite a follow-up, embed it, retrieve: what every answerer gets."""
        query = self.rewriter.rewrite(question, history)
        vector = self.embeddings.embed_query(query)
        hits = self.retriever.retrieve(query, article=article, k=self.settings.k, query_vector=vector)
        if article:
            scope_title = self.corpus.titles.get(article)
        else:
            scope_title = next(iter(self.corpus.titles.values())) if len(self.corpus.titles) == 1 else None
        return {
            "hits": hits,
            "corpus": self.corpus,
            "query_vector": vector,
            "query": query if query != question.strip() else None,
            "scope_title": scope_title,
        }

    def run(self, question: str, *, article: str | None = None, history=None) -> Answer:
        p = self._prepare(question, article, history)
        return self.answerer.answer(
            question, p["hits"], p["corpus"], p["query_vector"], query=p["query"], scope_title=p["scope_title"]
        )

    def stream(self, question: str, *, article: str | None = None, history=None) -> Iterator[str | Answer]:
        """Text pieces as the answerer produces them, then the `Answer`; answerers that cannot
        stream (the extractive one answers in milliseconds) give their text in word-sized pieces."""
        stream = getattr(self.answerer, "stream", None)
        if stream is None:
            answer = self.run(question, article=article, history=history)
            yield from _pieces(answer.text)
            yield answer
            return
        p = self._prepare(question, article, history)
        yield from stream(
            question, p["hits"], p["corpus"], p["query_vector"], query=p["query"], scope_title=p["scope_title"]
        )


def _pieces(text: str) -> Iterator[str]:
    """Word-sized pieces (with their trailing spaces) that concatenate back to `text`."""
    yield from (m.group(0) for m in re.finditer(r"\S+\s*|\s+", text))
