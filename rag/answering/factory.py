"""Which answerer and which follow-up rewriter the settings ask for, built lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.followup import HeuristicRewriter, LLMRewriter
from rag.answering.grounded import GroundedLLMAnswerer
from rag.answering.llm import (
    LLM_BACKENDS,
    LLMAnswerer,
    backend_label,
    make_chat_model,
    secret_value,
)
from rag.answering.local import LOCAL_MISSING, LocalAnswerer
from rag.errors import AnswerError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from rag.config import Settings
    from rag.types import Answerer, EmbeddingModel, Rewriter


def make_answerer(
    settings: Settings, embeddings: EmbeddingModel, *, chat_model: BaseChatModel | None = None
) -> Answerer:
    """The answerer the settings name; the extractive one is also every LLM answerer's fallback."""
    extractive = ExtractiveAnswerer(
        embeddings,
        refusal_threshold=settings.refusal_threshold,
        min_lexical=settings.min_lexical,
        sentence_rerank=settings.sentence_rerank,
        reader=True if settings.reader else None,
        endorsed_share=settings.llm_endorsed_share,
    )
    kind = settings.answerer
    if kind == "extractive":
        return extractive
    if kind == "local":
        import importlib.util

        try:
            found = importlib.util.find_spec("llama_cpp") is not None
        except ValueError:  # a module entry without a spec: not really installed
            found = False
        if not found:
            raise AnswerError(LOCAL_MISSING)
        return LocalAnswerer(embeddings, fallback=extractive, model_path=settings.llm_model)
    if kind not in LLM_BACKENDS:
        raise AnswerError(f"Unknown RAG_ANSWERER={kind!r}: use extractive, openai, ollama or local.")
    answerer = GroundedLLMAnswerer if settings.llm_mode == "grounded" else LLMAnswerer
    return answerer(
        chat_model or make_chat_model(settings),
        embeddings,
        fallback=extractive,
        name=kind,
        backend=backend_label(settings),
        secrets=(secret_value(settings.llm_api_key) or "",),
    )


def make_rewriter(settings: Settings, *, chat_model: BaseChatModel | None = None) -> Rewriter:
    """`LLMRewriter` when an LLM backend answers and RAG_LLM_REWRITE is on; the heuristic rules otherwise."""
    kind = settings.answerer
    if kind not in LLM_BACKENDS or not settings.llm_rewrite:
        return HeuristicRewriter()
    return LLMRewriter(chat_model or make_chat_model(settings), backend=backend_label(settings))
