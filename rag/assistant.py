"""The one object users hold: index articles, then ask questions and get answers with cited passages."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Settings
from rag.embeddings import make_embeddings
from rag.errors import IngestError
from rag.ingest import Article, article_from_bytes, load_sources, slugify
from rag.store import ArticleIndex, ArticleInfo, IndexReport

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from rag.answer import Answer


class Assistant:
    """Answers questions about the indexed articles.

    `Assistant()` reads settings from `RAG_*` environment variables; keyword arguments override
    them (`Assistant(index_dir="my-index")`). Construction is cheap: the model and the index open
    on first use, or explicitly with `warm_up()`.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embeddings: Embeddings | None = None,
        **overrides: Any,
    ) -> None:
        if settings is None:
            settings = Settings(**overrides)
        elif overrides:
            settings = settings.model_copy(update=overrides)
        self.settings = settings
        self.embeddings = embeddings if embeddings is not None else make_embeddings(settings)
        self.store = ArticleIndex(settings, self.embeddings)
        self._pipeline = None
        self._pipeline_version: str | None = None
        self._pipeline_lock = threading.Lock()

    # --- lifecycle ---------------------------------------------------------------------------
    def warm_up(self) -> Assistant:
        """Load the embedding model and open the index now rather than on the first question."""
        warm = getattr(self.embeddings, "warm_up", None)
        if warm:
            warm()
        if self.store.exists:
            self._answer_pipeline()
        return self

    # --- indexing ----------------------------------------------------------------------------
    def index(
        self,
        *targets: str | Path,
        on_progress: Callable[[str], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> IndexReport:
        """Index files, folders and URLs. Bad inputs are listed in `report.failed`; nothing is lost."""
        items = load_sources(
            [str(t) for t in targets],
            timeout=self.settings.url_timeout,
            max_bytes=self.settings.max_article_bytes,
            allow_private=self.settings.allow_private_urls,
        )
        return self.store.index_articles(
            ((art if isinstance(art, Article) else (src, art)) for src, art in items),
            on_progress=on_progress,
            on_wait=on_wait,
        )

    def index_articles(
        self,
        articles: Iterable[Article],
        on_progress: Callable[[str], None] | None = None,
    ) -> IndexReport:
        """Index `Article` objects built in code."""
        return self.store.index_articles(articles, on_progress=on_progress)

    def index_text(
        self,
        text: str,
        *,
        title: str | None = None,
        article_id: str | None = None,
        source: str | None = None,
    ) -> IndexReport:
        """Index pasted text as an article (the id defaults to a slug of the title)."""
        if not isinstance(text, str) or not text.strip():
            raise IngestError("The article text is empty: nothing was indexed.")
        name = title or text.strip().splitlines()[0][:60]
        article = article_from_bytes(
            text.encode("utf-8"),
            source=source or f"pasted:{slugify(name)}",
            name=f"{slugify(name)}.md",
            kind="markdown",
            article_id=article_id or slugify(name),
        )
        if title:
            article.title = title
        return self.store.index_articles([article])

    def index_bytes(self, data: bytes, filename: str, *, source: str | None = None) -> IndexReport:
        """Index an uploaded file's bytes (type from the file name)."""
        safe_name = Path(filename).name or "upload.txt"
        if len(data) > self.settings.max_article_bytes:
            raise IngestError(
                f"'{safe_name}' is {len(data):,} bytes, over the {self.settings.max_article_bytes:,}-byte "
                "limit (RAG_MAX_ARTICLE_BYTES)."
            )
        article = article_from_bytes(data, source=source or f"upload:{safe_name}", name=safe_name)
        return self.store.index_articles([article])

    def remove(self, *article_ids: str) -> IndexReport:
        """Remove articles with all their chunks."""
        return self.store.remove(article_ids)

    def articles(self) -> list[ArticleInfo]:
        """The indexed articles with their chunk counts."""
        return self.store.list_articles()

    def article(self, article_id: str) -> Article:
        return self.store.get_article(article_id)
