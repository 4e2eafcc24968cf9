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
    "ArticleNotFoundError",
    "Assistant",
    "Citation",
    "IngestError",
    "RagError",
    "Settings",
]

_LAZY = {
    "Assistant": "rag.assistant",
    "Answer": "rag.answer",
    "Citation": "rag.answer",
    "Article": "rag.ingest",
    "Settings": "rag.config",
    "RagError": "rag.errors",
    "IngestError": "rag.errors",
    "ArticleNotFoundError": "rag.errors",
}

if TYPE_CHECKING:
    from rag.answer import Answer, Citation
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.errors import ArticleNotFoundError, IngestError, RagError
    from rag.ingest import Article


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
