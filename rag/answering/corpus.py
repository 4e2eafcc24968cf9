"""The articles as answering reads them: texts, sentences and their words, names, and sentence vectors."""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np
from cachetools import LRUCache

from rag.answering.language import article_names
from rag.chunking import Sentence, sentence_range, split_sentences
from rag.text import prefix, terms

# Sentence vectors kept in memory (~1.5 KB each): re-asked and nearby questions skip the model.
SENTENCE_VECTOR_CACHE = 20_000
# Articles whose sentences, names and stored sentence vectors are kept, the most recently used
# (up to ~0.65 MB each for a 27,000-character article, once every sentence's words were read;
# split again in ~1 ms, words again as sentences are read): without a bound, a replica that has
# answered about every article of a 10,000-article archive could hold ~6.5 GB of them.
ARTICLE_CACHE = 1_000

# (article id, its text, its sentence count) -> the sentence vectors pooled at indexing, or None.
StoredVectors = Callable[[str, str, int], "np.ndarray | None"]


class PerSentence(Sequence):
    """One value per sentence, each computed the first time it is asked for. A question reads the
    words of the few sentences its chunks hold, not the whole article's: stemming every sentence
    of a 30,000-character article takes ~6 ms, paid for each article a question first reaches
    (several in a large archive: docs/benchmarks.md). Two threads may compute the same value
    at once; both get equal values and either is kept."""

    def __init__(self, count: int, compute: Callable[[int], set[str]]) -> None:
        self._values: list[set[str] | None] = [None] * count
        self._compute = compute

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        got = self._values[i]
        if got is None:
            got = self._values[i] = self._compute(i)
        return got


class ArticleSentences:
    """An article split for answering: its sentences at once, their words when first asked for."""

    def __init__(self, text: str, sentences: list[Sentence]) -> None:
        self.sentences = sentences
        self.starts = [s.start for s in sentences]  # each sentence's start offset, for bisecting
        # each sentence's stemmed words, and their five-letter prefixes
        self.terms = PerSentence(len(sentences), lambda i: set(terms(text[sentences[i].start : sentences[i].end])))
        self.prefixes = PerSentence(len(sentences), lambda i: {prefix(t) for t in self.terms[i]})

    @cached_property
    def all_terms(self) -> frozenset[str]:
        """Every stemmed word of the article."""
        return frozenset().union(*self.terms)

    @cached_property
    def all_prefixes(self) -> frozenset[str]:
        """The prefixes of every stemmed word of the article."""
        return frozenset(prefix(t) for t in self.all_terms)


class Corpus:
    """Article texts with their sentences and sentence words, computed once per article on demand."""

    def __init__(
        self,
        texts: dict[str, str],
        titles: dict[str, str],
        idf: Callable[[str], float],
        max_sentence: int,
        stored_vectors: StoredVectors | None = None,
    ):
        self._texts = texts
        # (article id, text, sentence count) -> the sentence vectors pooled at indexing time, or None
        self._stored_loader = stored_vectors
        self._stored: LRUCache[str, np.ndarray | None] = LRUCache(ARTICLE_CACHE)
        self.titles = titles
        self._idf = idf
        self._max_sentence = max_sentence
        self._lock = threading.Lock()
        self._sentences: LRUCache[str, ArticleSentences] = LRUCache(ARTICLE_CACHE)
        self._names: LRUCache[str, set[str]] = LRUCache(ARTICLE_CACHE)
        self._vectors: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    def text(self, article_id: str) -> str:
        return self._texts[article_id]

    def updated(self, texts: dict[str, str], titles: dict[str, str], changed: set[str]) -> Corpus:
        """A new corpus of `texts` that keeps what this one computed for every article not in
        `changed` (nor gone): a write costs its own articles, not the archive. This one stays as
        it is for the answers that are using it."""
        new = Corpus(texts, titles, self._idf, self._max_sentence, self._stored_loader)
        keep = set(texts) - changed
        with self._lock:
            # Copies keep the caches' recency order (iterating one yields insertion order).
            new._sentences, new._names, new._stored = (copy.copy(c) for c in (self._sentences, self._names, self._stored))
            for cache in (new._sentences, new._names, new._stored):
                for article_id in [a for a in cache if a not in keep]:
                    del cache[article_id]
            new._vectors = OrderedDict((k, v) for k, v in self._vectors.items() if k[0] in keep)
        return new

    def _prepare(self, article_id: str) -> ArticleSentences:
        with self._lock:
            got = self._sentences.get(article_id)
        if got is None:
            text = self._texts[article_id]
            got = ArticleSentences(text, split_sentences(text, max_chars=self._max_sentence))
            with self._lock:
                self._sentences[article_id] = got
        return got

    def sentences(self, article_id: str) -> list[Sentence]:
        return self._prepare(article_id).sentences

    def sentence_terms(self, article_id: str) -> Sequence[set[str]]:
        """Each sentence's stemmed words (computed for a sentence when first asked for)."""
        return self._prepare(article_id).terms

    def article_terms(self, article_id: str) -> frozenset[str]:
        """Every stemmed word of the article (where a question's names must be found)."""
        return self._prepare(article_id).all_terms

    def article_prefixes(self, article_id: str) -> frozenset[str]:
        """The prefixes of `article_terms` (where a question's names are also looked for)."""
        return self._prepare(article_id).all_prefixes

    def names(self, article_id: str) -> set[str]:
        """Lower-cased words that appear inside multi-word capitalised names in the article."""
        with self._lock:
            got = self._names.get(article_id)
        if got is None:
            got = article_names(self._texts[article_id])
            with self._lock:
                self._names[article_id] = got
        return got

    def title_terms(self, article_id: str) -> set[str]:
        return set(terms(self.titles.get(article_id, "")))

    def sentence_prefixes(self, article_id: str) -> Sequence[set[str]]:
        return self._prepare(article_id).prefixes

    def sentence_text(self, article_id: str, i: int) -> str:
        s = self.sentences(article_id)[i]
        return self._texts[article_id][s.start : s.end]

    def sentences_in(self, article_id: str, start: int, end: int) -> range:
        """Indices of the sentences that lie inside [start, end)."""
        got = self._prepare(article_id)
        return sentence_range(got.sentences, got.starts, start, end)

    def idf(self, term: str) -> float:
        return self._idf(term)

    def stored_vectors(self, article_id: str) -> np.ndarray | None:
        """The article's sentence vectors from indexing (rows of NaN where a sentence has none),
        kept as float16 (768 bytes a sentence: ~300 MB less at 1,000 articles than float32)."""
        missing = object()
        with self._lock:
            got = self._stored.get(article_id, missing)
        if got is missing:
            got = None
            if self._stored_loader is not None:
                got = self._stored_loader(article_id, self._texts[article_id], len(self.sentences(article_id)))
            with self._lock:
                self._stored[article_id] = got
        return got

    def has_stored_vector(self, article_id: str, i: int) -> bool:
        stored = self.stored_vectors(article_id)
        return stored is not None and not np.isnan(stored[i, 0])

    def ranking_sentence_vectors(self, embeddings, keys: list[tuple[str, int]]) -> np.ndarray:
        """Sentence vectors for ranking: the ones pooled at indexing time where there are some,
        else embedded now (`standalone_sentence_vectors`)."""
        out: list[np.ndarray | None] = []
        for a, i in keys:
            out.append(self.stored_vectors(a)[i].astype(np.float32) if self.has_stored_vector(a, i) else None)
        missing = [k for k, v in zip(keys, out) if v is None]
        if missing:
            fresh = iter(self.standalone_sentence_vectors(embeddings, missing))
            out = [v if v is not None else next(fresh) for v in out]
        if not out:
            return np.zeros((0, 0), dtype=np.float32)  # no keys: nothing to compare, whatever the model's size
        return np.vstack(out)

    def standalone_sentence_vectors(self, embeddings, keys: list[tuple[str, int]]) -> np.ndarray:
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
