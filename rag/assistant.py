"""The one object users hold: index articles, then ask questions and get answers with cited passages."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Settings, load_settings
from rag.embeddings import make_embeddings
from rag.errors import IngestError, TooLargeError
from rag.ingest import (
    Article, article_from_bytes, check_web_url, load_sources, load_url, pasted_title, slugify,
)
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
            settings = load_settings(**overrides)
        elif overrides:
            settings = settings.with_overrides(**overrides)
        self.settings = settings
        self.embeddings = embeddings if embeddings is not None else make_embeddings(settings)
        self.store = ArticleIndex(settings, self.embeddings)
        self._pipeline = None
        self._pipeline_version: str | None = None
        self._pipeline_lock = threading.Lock()
        self._answerer = None
        self._rewriter = None

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
        """Index files, folders and URLs. Bad inputs are listed in `report.failed`; nothing is lost.

        Paths are read from this machine's disk: this is for the server's owner (the CLI, Python).
        A URL that a user typed goes through `index_url`, which never reads a file."""
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

    def index_url(self, url: str) -> IndexReport:
        """Fetch and index one web page or PDF given by a user: http(s) only, through the SSRF guard
        and the size limit. Anything else (a path, a folder, `file:`) is an `IngestError`."""
        url = check_web_url(url)
        article = load_url(
            url,
            timeout=self.settings.url_timeout,
            max_bytes=self.settings.max_article_bytes,
            allow_private=self.settings.allow_private_urls,
        )
        return self.store.index_articles([article])

    def reindex(self, article_id: str) -> IndexReport:
        """Index an article again from where it came from: a file the owner indexed from this
        machine is read again, a URL fetched again through the guard; an upload or pasted text
        cannot be (its `source` is only the label a client gave it)."""
        article = self.store.get_article(article_id)
        if article.origin == "file":
            return self.index(article.source)
        if article.origin == "url":
            return self.index_url(article.source)
        if article.origin in ("upload", "pasted"):
            raise IngestError(f"'{article_id}' was uploaded or pasted: upload or paste it again to update it.")
        raise IngestError(
            f"'{article_id}' cannot be re-indexed from here: index it again the way it was added."
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
        # The title keeps the text's capitals; the id is a short slug of it.
        name = title or pasted_title(text)
        short_id = slugify(" ".join(name.split()[:6]))[:40].strip("-") or "pasted"
        article = article_from_bytes(
            text.encode("utf-8"),
            source=source or f"pasted:{short_id}",
            name=f"{short_id}.md",
            kind="markdown",
            article_id=article_id or short_id,
        )
        article.title = name
        article.origin = "pasted"
        return self.store.index_articles([article])

    def index_bytes(self, data: bytes, filename: str, *, source: str | None = None) -> IndexReport:
        """Index an uploaded file's bytes (type from the file name).

        `source` is the article's identity label (uploading again with the same one updates it);
        it is never read as a path, however it looks."""
        safe_name = Path(filename).name or "upload.txt"
        if len(data) > self.settings.max_article_bytes:
            raise TooLargeError(
                f"'{safe_name}' is {len(data):,} bytes, over the {self.settings.max_article_bytes:,}-byte "
                "limit (RAG_MAX_ARTICLE_BYTES)."
            )
        article = article_from_bytes(data, source=source or f"upload:{safe_name}", name=safe_name)
        article.origin = "upload"
        return self.store.index_articles([article])

    def remove(self, *article_ids: str) -> IndexReport:
        """Remove articles with all their chunks."""
        return self.store.remove(article_ids)

    def articles(self) -> list[ArticleInfo]:
        """The indexed articles with their chunk counts."""
        return self.store.list_articles()

    def article(self, article_id: str) -> Article:
        return self.store.get_article(article_id)

    # --- answering ---------------------------------------------------------------------------
    def _answer_pipeline(self):
        """The answering pipeline, rebuilt whenever any process has written the index since."""
        from rag.errors import IndexNotReadyError
        from rag.pipeline import AnswerPipeline

        version = self.store.version()
        with self._pipeline_lock:
            if self._pipeline is None or version != self._pipeline_version:
                if self._pipeline is not None:
                    self.store.reopen()
                if not self.store.list_articles():
                    raise IndexNotReadyError(
                        f"No articles are indexed in '{self.settings.index_dir}' yet: run "
                        "`rag index seeds/` (or any file, folder or URL) first."
                    )
                if self._answerer is None:
                    # Built once, kept across index changes (a local model loads once).
                    from rag.llm import make_answerer, make_rewriter

                    self._answerer = make_answerer(self.settings, self.embeddings)
                    self._rewriter = make_rewriter(self.settings)
                self._pipeline = AnswerPipeline(
                    self.settings, self.store, self.embeddings, rewriter=self._rewriter, answerer=self._answerer
                )
                self._pipeline_version = version
            return self._pipeline

    def _check_question(self, question: str) -> str:
        from rag.errors import AnswerError
        from rag.ingest import normalise_text

        if not isinstance(question, str):
            raise AnswerError("The question must be text.")
        question = normalise_text(question).strip()
        if not question:
            raise AnswerError("The question is empty: ask something about the articles.")
        if len(question) > self.settings.max_question_chars:
            raise AnswerError(
                f"The question is {len(question):,} characters long; the limit is "
                f"{self.settings.max_question_chars:,} (RAG_MAX_QUESTION_CHARS)."
            )
        return question

    def _ready(self, question: str, article: str | None):
        """The checked question and the current pipeline; a clear error for an unknown article."""
        from rag.errors import ArticleNotFoundError

        question = self._check_question(question)
        pipeline = self._answer_pipeline()
        if article is not None and article not in pipeline.article_ids:
            raise ArticleNotFoundError(
                f"No article '{article}' in the index: `rag list` shows the indexed ones."
            )
        return question, pipeline

    def ask(
        self,
        question: str,
        article: str | None = None,
        history: list[dict[str, str]] | None = None,
    ) -> Answer:
        """Answer `question` from the indexed articles (or only `article`), with cited passages.

        `history` is the conversation so far as `{"role": "user"|"assistant", "content": str}`
        messages; follow-ups like "And Italy?" are rewritten against it.
        """
        question, pipeline = self._ready(question, article)
        return pipeline.run(question, article=article, history=_clean_history(history))

    def stream(
        self,
        question: str,
        article: str | None = None,
        history: list[dict[str, str]] | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it is produced, then the final `Answer`.

        The pieces concatenate to `Answer.text`. With an LLM answerer each piece is a sentence
        whose citations have already been checked.
        """
        question, pipeline = self._ready(question, article)
        yield from pipeline.stream(question, article=article, history=_clean_history(history))


def _clean_history(history) -> list[dict[str, str]] | None:
    """History in the OpenAI/Gradio message shape; other roles and empty turns are dropped."""
    if not history:
        return None
    cleaned = []
    for message in history:
        if isinstance(message, dict) and message.get("role") in ("user", "assistant"):
            content = message.get("content")
            if isinstance(content, str) and content.strip():
                cleaned.append({"role": message["role"], "content": content})
    return cleaned or None
