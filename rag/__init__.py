"""article-chat: answers about news articles with cited passages, offline by default.

    from rag import Assistant
    answer = Assistant().ask("Who represented the US?")

Heavy libraries (onnxruntime, torch, chromadb, gradio) load on first use, never on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Article",
    "ArticleInfo",
    "ArticleNotFoundError",
    "Assistant",
    "Citation",
    "IndexReport",
    "IngestError",
    "Passage",
    "RagError",
    "Settings",
    "StoredChunk",
]

_LAZY = {
    "Assistant": "rag.assistant",
    "Answer": "rag.types",
    "Article": "rag.types",
    "ArticleInfo": "rag.types",
    "Citation": "rag.types",
    "IndexReport": "rag.types",
    "Passage": "rag.types",
    "StoredChunk": "rag.types",
    "Settings": "rag.config",
    "RagError": "rag.errors",
    "IngestError": "rag.errors",
    "ArticleNotFoundError": "rag.errors",
}

if TYPE_CHECKING:
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.errors import ArticleNotFoundError, IngestError, RagError
    from rag.types import (
        Answer,
        Article,
        ArticleInfo,
        Citation,
        IndexReport,
        Passage,
        StoredChunk,
    )


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
