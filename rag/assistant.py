"""The one object users hold: index articles, then ask questions and get answers with cited passages."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Settings, load_settings
from rag.embeddings import as_embedding_model, make_embeddings
from rag.errors import (
    AnswerError,
    ArticleNotFoundError,
    IndexNotReadyError,
    IngestError,
    RagError,
    TooLargeError,
)
from rag.index import ArticleIndex
from rag.ingest import (
    article_from_bytes,
    check_web_url,
    load_path,
    load_sources,
    load_url,
    normalise_text,
    pasted_title,
    slugify,
)
from rag.types import Article, ArticleInfo, IndexReport, Message, StoredChunk

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from rag.answering.pipeline import AnswerPipeline
    from rag.types import Answer

# Writers waiting for the write lock each hold a thread; past this many, refuse rather than let
# uploads starve the threads that answer questions.
MAX_WAITING_WRITERS = 8


class WritersBusy(RagError):
    """Too many indexing requests are already waiting."""


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
        self.embeddings = as_embedding_model(embeddings) if embeddings is not None else make_embeddings(settings)
        self.store = ArticleIndex(settings, self.embeddings)
        # One writer at a time in this process (the file lock orders processes), and a bounded
        # queue of waiting ones, whichever interface the write comes from.
        self._write_lock = threading.Lock()
        self._write_slots = threading.BoundedSemaphore(MAX_WAITING_WRITERS)
        self._pipeline: AnswerPipeline | None = None
        self._pipeline_version: str | None = None
        self._pipeline_lock = threading.Lock()
        self._answerer = None
        self._rewriter = None

    # --- lifecycle ---------------------------------------------------------------------------
    def warm_up(self) -> Assistant:
        """Load the embedding model (and the answerer's own models) and open the index now rather
        than on the first question."""
        self.embeddings.warm_up()
        if self.store.exists:
            self._answer_pipeline().answerer.warm_up()
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
            [str(t) for t in _flatten(targets)],
            timeout=self.settings.url_timeout,
            max_bytes=self.settings.max_article_bytes,
            allow_private=self.settings.allow_private_urls,
        )
        return self._write(
            self.store.index_articles,
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
        return self._write(self.store.index_articles, [article])

    def reindex(self, article_id: str) -> IndexReport:
        """Index an article again from where it came from: a file the owner indexed from this
        machine is read again, a URL fetched again through the guard; an upload or pasted text
        cannot be (its `source` is only the label a client gave it)."""
        article = self.store.get_article(article_id)
        if article.origin == "file" and article.location:
            # Read again from where it lies, still shown as it was (its path in the folder).
            try:
                again: Article | tuple[str, Exception] = load_path(Path(article.location), self.settings.max_article_bytes, article.source)
            except IngestError as exc:
                again = (article.source, exc)
            return self._write(self.store.index_articles, [again])
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
        return self._write(self.store.index_articles, articles, on_progress=on_progress)

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
        return self._write(self.store.index_articles, [article])

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
        return self._write(self.store.index_articles, [article])

    def check_upload_size(self, size: int, what: str) -> None:
        """The one size rule for what a client of the server sends (an upload, pasted text):
        RAG_MAX_UPLOAD_BYTES. The HTTP API and the UI call it before reading more."""
        limit = self.settings.max_upload_bytes
        if size > limit:
            raise TooLargeError(
                f"{what} is {size:,} bytes, over the {limit:,}-byte upload limit (RAG_MAX_UPLOAD_BYTES): "
                "nothing was indexed."
            )

    def remove(self, *article_ids: str) -> IndexReport:
        """Remove articles with all their chunks."""
        return self._write(self.store.remove, article_ids)

    def _write(self, fn, *args, **kwargs) -> IndexReport:
        """Run a write: one at a time in this process, at most MAX_WAITING_WRITERS waiting."""
        if not self._write_slots.acquire(blocking=False):
            raise WritersBusy("Too many indexing requests are waiting: try again when they have finished.")
        try:
            with self._write_lock:
                return fn(*args, **kwargs)
        finally:
            self._write_slots.release()

    # --- reading -----------------------------------------------------------------------------
    def articles(self) -> list[ArticleInfo]:
        """The indexed articles with their chunk counts."""
        return self.store.list_articles()

    def article(self, article_id: str) -> Article:
        return self.store.get_article(article_id)

    def chunks(self, article_id: str) -> list[StoredChunk]:
        """One article's chunks with their offsets into its text."""
        self.store.get_article(article_id)  # a clear error for an unknown id
        return self.store.chunks(article_id)

    def writer_active(self) -> bool:
        """True when another process is writing the index right now."""
        return self.store.writer_active()

    def chunk_count(self) -> int:
        return self.store.count_chunks()

    def reopen(self) -> None:
        """Forget open handles (another process wrote the index): the next question reopens it."""
        self.store.reopen()

    def health(self) -> dict:
        """Index readable, model loaded (loading it if needed): raises what is wrong."""
        articles = self.articles()
        chunks = self.store.count_chunks()  # reaches Chroma (a server, in server mode)
        if not self.embeddings.loaded:
            self.embeddings.warm_up()
        return {
            "articles": len(articles),
            "chunks": chunks,
            "model": self.embeddings.name,
            "model_loaded": self.embeddings.loaded,
            "store": self.settings.store,
        }

    # --- answering ---------------------------------------------------------------------------
    def _answer_pipeline(self):
        """The answering pipeline: built on first use, then brought up to date, article by
        article, whenever any process has written the index since."""
        version = self.store.version()
        with self._pipeline_lock:
            if self._pipeline is None:
                if not self.store.list_articles():
                    raise IndexNotReadyError(self._empty_message())
                self._pipeline = self._new_pipeline()
            elif version != self._pipeline_version:
                if self.store.changed_elsewhere(self._pipeline_version or "", version):
                    self.store.reopen()  # another process wrote: our handles may not see it
                self._pipeline.refresh()
            self._pipeline_version = version
            if not self._pipeline.article_ids:
                raise IndexNotReadyError(self._empty_message())
            return self._pipeline

    def _new_pipeline(self) -> AnswerPipeline:
        from rag.answering.pipeline import AnswerPipeline

        if self._answerer is None:
            # Built once, kept across index changes (a local model loads once).
            from rag.answering.factory import make_answerer, make_rewriter

            self._answerer = make_answerer(self.settings, self.embeddings)
            self._rewriter = make_rewriter(self.settings)
        return AnswerPipeline(
            self.settings, self.store, self.embeddings, rewriter=self._rewriter, answerer=self._answerer
        )

    def _empty_message(self) -> str:
        return (
            f"No articles are indexed in '{self.settings.index_dir}' yet: run "
            "`rag index seeds/` (or any file, folder or URL) first."
        )

    def _check_question(self, question: str) -> str:
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

    def _ready(self, question: str, article: str | None) -> tuple[str, AnswerPipeline]:
        """The checked question and the current pipeline; a clear error for an unknown article."""
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
        history: list[Message] | None = None,
    ) -> Answer:
        """Answer `question` from the indexed articles (or only `article`), with cited passages.

        `history` is the conversation so far as `{"role": "user"|"assistant", "content": str}`
        messages; follow-ups like "And Italy?" are rewritten against it.
        """
        question, pipeline = self._ready(question, article)
        return pipeline.run(question, article=article, history=clean_history(history))

    def stream(
        self,
        question: str,
        article: str | None = None,
        history: list[Message] | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it is produced, then the final `Answer`.

        The pieces concatenate to `Answer.text`. With an LLM answerer each piece is a sentence
        whose citations have already been checked.
        """
        question, pipeline = self._ready(question, article)
        yield from pipeline.stream(question, article=article, history=clean_history(history))


def message_text(content) -> str | None:
    """A message's text: a string, or OpenAI/Gradio content parts (`[{"type": "text", "text": …}]`),
    whose text parts are joined; None for content with no text (files, images)."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else [content]
    texts = [p.get("text") for p in parts if isinstance(p, dict) and p.get("type", "text") == "text"]
    texts = [t for t in texts if isinstance(t, str)]
    return "".join(texts) if texts else None


def clean_history(history) -> list[Message] | None:
    """The one reading of a chat history, for every interface: user and assistant turns with text
    (plain or in content parts); other roles and empty turns are dropped."""
    if not history:
        return None
    cleaned = []
    for message in history:
        if isinstance(message, dict) and message.get("role") in ("user", "assistant"):
            content = message_text(message.get("content"))
            if content is not None and content.strip():
                cleaned.append({"role": message["role"], "content": content})
    return cleaned or None


def _flatten(targets) -> Iterator:
    """`index("a.md", "b.md")` and `index(["a.md", "b.md"])` mean the same."""
    for target in targets:
        if isinstance(target, (list, tuple, set)):
            yield from _flatten(target)
        else:
            yield target
