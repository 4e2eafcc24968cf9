"""Settings for article-chat: one object, read from `RAG_*` environment variables or a `.env` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the assistant. Defaults are the measured ones (see docs/benchmarks.md)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    # --- storage ---------------------------------------------------------------------------
    index_dir: Path = Field(
        Path("index"), description="Folder of the embedded Chroma index and the article records."
    )
    collection: str = Field("articles", description="Chroma collection name for article chunks.")
    store: Literal["embedded", "server"] = Field(
        "embedded",
        description="embedded: Chroma PersistentClient in index_dir (one writing process); "
        "server: a Chroma server (`chroma run`) shared by any number of app processes.",
    )
    chroma_host: str = Field("127.0.0.1", description="Chroma server host (store=server).")
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port (store=server).")
    chroma_ssl: bool = Field(False, description="Use https to reach the Chroma server.")
    chroma_auth_token: SecretStr | None = Field(
        None, description="Bearer token sent to the Chroma server, if it requires one."
    )
    records_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL of the article records and the indexing record manager. Default: "
        "a SQLite file in index_dir. For several app replicas use a shared database, e.g. "
        "postgresql+psycopg://user:pass@host/db.",
    )

    # --- embeddings ------------------------------------------------------------------------
    embedding_backend: Literal["onnx", "sentence-transformers", "fake"] = Field(
        "onnx",
        description=(
            "onnx: all-MiniLM-L6-v2 int8 through onnxruntime (fast, no torch); "
            "sentence-transformers: a local sentence-transformers folder through torch; "
            "fake: deterministic hashing vectors for tests."
        ),
    )
    embedding_model: Path | None = Field(
        None,
        description=(
            "A local sentence-transformers model folder (sentence-transformers backend) or an "
            ".onnx file (onnx backend). Empty means the model bundled by the installed package."
        ),
    )
    embedding_batch_size: int = Field(
        8, ge=1, description="Texts embedded per model call (8 measured fastest on 2 cores, and half the memory of 32)."
    )

    # --- chunking --------------------------------------------------------------------------
    chunk_size: int = Field(
        800,
        ge=100,
        le=2000,
        description=(
            "Target chunk length in characters. Whole sentences are kept; the embedding model "
            "reads at most 256 word pieces (~1,000 characters of English)."
        ),
    )
    chunk_overlap: int = Field(
        200, ge=0, description="Characters of trailing sentences repeated at the start of the next chunk."
    )

    # --- retrieval and answering -------------------------------------------------------------
    k: int = Field(6, ge=1, le=50, description="Chunks retrieved per question (fused dense + BM25).")
    candidates: int = Field(
        20, ge=1, le=500, description="Candidates each of dense and BM25 search contribute to the fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant (score = w / (rrf_k + rank)).")
    dense_weight: float = Field(1.0, ge=0, description="Weight of dense (embedding) search in the fusion.")
    keyword_weight: float = Field(1.0, ge=0, description="Weight of BM25 keyword search in the fusion.")
    sentence_rerank: int = Field(
        4,
        ge=0,
        description="Of the candidate sentences without a vector from indexing (another backend, an index "
        "built before sentence vectors), how many the embedding model reads at question time (0: none).",
    )
    refusal_threshold: float = Field(
        0.9,
        description="Without the reader (RAG_READER=false), answers whose best sentence scores below this are "
        "refused (calibrated); with it, the reader's P(none) decides.",
    )
    min_lexical: float = Field(
        0.2,
        description="Answers whose passage holds less than this idf-weighted share of the question's words are refused, "
        "unless the reader is sure of its sentence (P(none) under 0.05).",
    )
    reader: bool = Field(
        True,
        description="The fitted reader (rag/answering/reader.py) chooses the answer sentence among the best few, "
        "its short answer and whether to refuse (~20 ms a question on 2 cores). Off: the best-scored sentence "
        "with a span bolded by simple rules and no short answer (~10 ms), fewer answers right (docs/benchmarks.md); "
        "an LLM's citations are then checked without the reader's endorsement.",
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")

    # --- optional LLM answerers (rag/answering/) --------------------------------------------------
    answerer: Literal["extractive", "openai", "ollama", "local"] = Field(
        "extractive",
        description="Who writes the answer: the offline sentence extractor (default), an OpenAI-compatible "
        "server, Ollama, or a small local GGUF model (`pip install '.[local]'`). LLM citations are checked.",
    )
    llm_model: str | None = Field(
        None, description="Model name the server serves (openai, ollama) or a .gguf file (local)."
    )
    llm_base_url: str | None = Field(
        None, description="Server URL, e.g. http://127.0.0.1:8080/v1 (llama.cpp, vLLM) or http://localhost:11434."
    )
    llm_api_key: SecretStr | None = Field(None, description="API key for the server, if it needs one (never logged).")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for the LLM before the offline answer.")
    llm_max_tokens: int = Field(512, ge=16, le=8192, description="Longest LLM answer, in tokens.")
    llm_mode: Literal["free", "grounded"] = Field(
        "free",
        description="free: the LLM writes the answer and every sentence's [n] is checked afterwards; "
        "grounded: the LLM only names the short answer and its passage, and the quoted sentence is "
        "taken from the article (rag/answering/grounded.py).",
    )
    llm_endorsed_share: float = Field(
        0.75, ge=0.0, le=1.0,
        description="An LLM's citation must quote a sentence the offline reader finds at least this share as likely "
        "as its best one. Lower it for a capable model (0.25 kept 78.8 % of good synthetic claims against 73.6 %; "
        "with SmolLM2-135M it showed wrong sentences in 27.7 % of answers against 13.9 %: docs/benchmarks.md).",
    )
    llm_rewrite: bool = Field(
        True, description="With an LLM, rewrite follow-up questions with it (history-aware retrieval)."
    )

    # --- ingestion -------------------------------------------------------------------------
    max_article_bytes: int = Field(
        5_000_000, ge=1, description="Largest file or download accepted for one article (bytes)."
    )
    url_timeout: float = Field(15.0, gt=0, description="Seconds to wait for a URL to answer.")
    allow_private_urls: bool = Field(
        False, description="Allow fetching URLs that resolve to loopback/private addresses (SSRF guard)."
    )

    # --- serving (UI and HTTP API) ------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `rag serve` binds to (loopback by default).")
    port: int = Field(7860, ge=1, le=65535, description="Port of `rag serve`.")
    max_upload_bytes: int = Field(
        10_000_000, ge=1, description="Largest file accepted by the UI's and API's upload."
    )
    max_request_bytes: int = Field(
        12_000_000, ge=1, description="Largest HTTP request body accepted by the API."
    )
    ui_auth: SecretStr | None = Field(
        None, description="'user:password' to require a login for the chat UI (off by default)."
    )
    api_token: SecretStr | None = Field(
        None, description="Bearer token required by every endpoint but /healthz when set (and by the UI)."
    )

    @property
    def chroma_dir(self) -> Path:
        return self.index_dir / "chroma"

    @property
    def records_db(self) -> Path:
        return self.index_dir / "records.sqlite"

    @property
    def records_db_url(self) -> str:
        if self.records_url is not None:
            return _clear(self.records_url)
        return f"sqlite:///{self.records_db.resolve()}"

    @property
    def api_token_value(self) -> str | None:
        """The API token in clear, for comparing and sending it; never log it."""
        return _clear(self.api_token) if self.api_token else None

    @property
    def ui_auth_value(self) -> str | None:
        """`RAG_UI_AUTH` in clear, for Gradio's login; never log it."""
        return _clear(self.ui_auth) if self.ui_auth else None

    def with_overrides(self, **overrides) -> Settings:
        """A copy with some values changed, validated like the environment's (unlike `model_copy`)."""
        return type(self)(_env_file=None, **{**self.model_dump(), **overrides})


def _clear(value: SecretStr | str) -> str:
    # `model_copy(update=...)` does not validate, so a plain string can arrive here.
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def load_settings(**overrides) -> Settings:
    """`Settings(**overrides)`, with a bad value reported as one line naming its variable."""
    from pydantic import ValidationError

    from rag.errors import SettingsError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            field = ".".join(str(part) for part in e["loc"])
            name = f"RAG_{field.upper()}" if field not in overrides else field
            problems.append(f"{name}={e.get('input')!r}: {e['msg']}")
        raise SettingsError("Invalid setting " + "; ".join(problems) + ". Fix it in the environment or .env.") from None

