"""The data every layer shares (articles, chunks, hits, answers, reports) and the contracts between layers.

Dataclasses only hold data; the protocols say what an answerer, a rewriter and an embedding model
must offer, with their capabilities declared as attributes (`Answerer.can_stream`,
`EmbeddingModel.pools_sentences`) rather than discovered at run time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from rag.answering.corpus import Corpus

# One chat turn, in the OpenAI/Gradio shape: {"role": "user" | "assistant", "content": str}.
Message = dict[str, str]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- articles and the index ----------------------------------------------------------------------
@dataclass
class Article:
    """One article: its clean text and where it came from."""

    id: str
    title: str
    source: str
    text: str
    content_hash: str = field(default="")
    # Where the text came from, which decides how it may be re-indexed: "file" (read from the
    # server's disk by its owner, through the CLI or the Python API), "url" (fetched through the
    # SSRF guard), "upload" / "pasted" (bytes a client sent; `source` is then only a label), or
    # "code" (an `Article` built in Python).
    origin: str = field(default="code")
    # Where a file was read from on the server's disk (absolute), for re-indexing it and telling
    # two files of the same name apart; never shown to clients, who see `source` (the path
    # relative to the folder given to `rag index`, or the file name). None for anything else.
    location: str | None = field(default=None)

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(self.text)


@dataclass(frozen=True)
class ArticleInfo:
    id: str
    title: str
    source: str
    content_hash: str
    chunk_count: int
    chars: int
    indexed_at: float


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored: its id in Chroma and where it sits in its article."""

    id: str
    article_id: str
    title: str
    source: str
    index: int
    start: int
    end: int
    text: str


@dataclass
class IndexReport:
    """What one indexing run did, per article and in chunks."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_added: int = 0
    chunks_deleted: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.skipped)} skipped (unchanged)",
        ]
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return (
            ", ".join(parts)
            + f"; {self.chunks_added} chunks embedded, {self.chunks_deleted} deleted in {self.seconds:.1f} s"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "skipped": self.skipped,
            "removed": self.removed,
            "failed": [{"source": s, "error": e} for s, e in self.failed],
            "chunks_added": self.chunks_added,
            "chunks_deleted": self.chunks_deleted,
            "seconds": round(self.seconds, 3),
        }


# --- retrieval and answers -----------------------------------------------------------------------
@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its fused score and the scores behind it."""

    chunk: StoredChunk
    score: float
    dense: float
    keyword: float


@dataclass
class Citation:
    """A cited passage: `quote == article_text[start:end]`, numbered as `[n]` in the answer text."""

    n: int
    article_id: str
    title: str
    source: str
    chunk_id: str
    quote: str
    start: int
    end: int
    score: float
    highlight_start: int | None = None
    highlight_end: int | None = None


@dataclass
class ShortAnswer:
    """The words that answer, a span of cited sentence `n`: `text == article_text[start:end]`."""

    text: str
    article_id: str
    start: int
    end: int
    n: int
    probability: float | None  # the reader's P(its sentence answers); None when a rule found it (the name "he" refers to)


@dataclass
class Passage:
    """A retrieved passage shown for context (or, on a refusal, as the nearest passages)."""

    article_id: str
    title: str
    chunk_id: str
    text: str
    start: int
    end: int
    score: float

    @classmethod
    def from_hit(cls, hit: Hit) -> Passage:
        c = hit.chunk
        return cls(c.article_id, c.title, c.id, c.text, c.start, c.end, round(hit.score, 6))


@dataclass
class Answer:
    """What `Assistant.ask()` returns: the text, the passages it cites, and whether it refused."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    passages: list[Passage] = field(default_factory=list)
    query: str | None = None  # the question as searched, after follow-up rewriting
    answer_span: str | None = None  # the short answer's text (kept for clients of the earlier API)
    short_answer: ShortAnswer | None = None
    confidence: float = 0.0
    answerer: str = "extractive"
    notice: str | None = None  # e.g. "the LLM backend was down; this is the offline answer"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        data = dict(data)
        data["citations"] = [Citation(**c) for c in data.get("citations", [])]
        data["passages"] = [Passage(**p) for p in data.get("passages", [])]
        if data.get("short_answer"):
            data["short_answer"] = ShortAnswer(**data["short_answer"])
        return cls(**data)


@dataclass
class AnswerContext:
    """What every answerer is handed for one question: the retrieval's result and its scope."""

    question: str  # as the user asked it
    hits: list[Hit]
    corpus: Corpus
    query_vector: np.ndarray | list[float] | None = None
    query: str | None = None  # the question as searched, when follow-up rewriting changed it
    scope_title: str | None = None  # the one article in scope, if there is one
    exclude: tuple[str, ...] = ()  # short answers already given ("Who else?" asks for another)

    @property
    def search(self) -> str:
        """The question the answer must answer: the rewritten one when there is one."""
        return self.query or self.question

    @property
    def passages(self) -> list[Passage]:
        return [Passage.from_hit(h) for h in self.hits]


# --- contracts -----------------------------------------------------------------------------------
@runtime_checkable
class EmbeddingModel(Protocol):
    """The embedding model every layer uses: LangChain's `Embeddings` plus what we rely on."""

    name: str  # recorded with the index: vectors of two models never mix
    legacy_names: tuple[str, ...]  # earlier names of the same model, accepted once
    pools_sentences: bool  # has `encode_with_spans` (sentence vectors from the chunk pass)

    @property
    def loaded(self) -> bool: ...

    def warm_up(self) -> None: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...  # unit vectors, one row per text

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class Rewriter(Protocol):
    """Turns a follow-up ("And Italy?") into a standalone question, given the chat so far."""

    def rewrite(self, question: str, history: list[Message] | None) -> str: ...


class Answerer(Protocol):
    """Makes the `Answer` for one question from its `AnswerContext`."""

    name: str
    can_stream: bool  # `stream()` yields text as it is produced; otherwise the pipeline pieces it

    def warm_up(self) -> None: ...  # load its models now rather than on the first question

    def answer(self, ctx: AnswerContext) -> Answer: ...

    def stream(self, ctx: AnswerContext) -> Iterator[str | Answer]: ...
