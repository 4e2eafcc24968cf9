"""The HTTP API's request and response bodies, as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MODEL_ID = "article-chat"
# Text with at least one character that is neither space nor a control character (which the
# assistant strips): what a question or a pasted article must hold.
VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f]"


class HistoryMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"question": "Who represented the US?"}]}
    )

    # The assistant checks the question (its errors say what to do); the schema says the same:
    # some visible character, at most RAG_MAX_QUESTION_CHARS (set per app in `rag.http.app`).
    question: str = Field(
        description="The question (at most RAG_MAX_QUESTION_CHARS characters).",
        json_schema_extra={"minLength": 1, "pattern": VISIBLE},
    )
    article: str | None = Field(None, description="Only answer from this article id.")
    history: list[HistoryMessage] | None = Field(
        None, description="The conversation so far, so follow-ups like 'And Italy?' work."
    )

    def history_messages(self) -> list[dict[str, str]] | None:
        return [m.model_dump() for m in self.history] if self.history else None


class ArticleIn(BaseModel):
    """Pasted text (with an optional title and id) or an http(s) URL to fetch."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="The article text (markdown or plain).")
    title: str | None = Field(None, max_length=500, description="Title of pasted text.")
    id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$",
        description="Article id for pasted text (default: a slug of the title).",
    )
    url: str | None = Field(None, description="An http(s) URL to fetch and index.")

    @model_validator(mode="after")
    def _one_source(self) -> ArticleIn:
        # The OpenAPI document shows the two shapes (PastedArticle, UrlArticle); this is the check.
        if (self.text is None) == (self.url is None):
            raise ValueError("give either 'text' (with an optional 'title') or 'url', not both or neither")
        if self.url is not None and (self.title is not None or self.id is not None):
            raise ValueError("'title' and 'id' apply to pasted 'text' only")
        return self


class PastedArticle(BaseModel):
    """Pasted text, with an optional title and id (the OpenAPI shape of one kind of ArticleIn)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, pattern=VISIBLE, description="The article text (markdown or plain).")
    title: str | None = Field(None, max_length=500, description="Title of pasted text.")
    id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$",
        description="Article id for pasted text (default: a slug of the title).",
    )


class UrlArticle(BaseModel):
    """An http(s) URL to fetch (the OpenAPI shape of the other kind of ArticleIn)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$", description="An http(s) URL to fetch and index.")


_TEXT_PART = {
    "type": "object",
    "properties": {"type": {"const": "text"}, "text": {"type": "string", "pattern": VISIBLE}},
    "required": ["type", "text"],
}


class ChatMessage(BaseModel):
    # A user message is a question: the schema says it must hold some text (as a string, or a
    # text part); the assistant refuses an empty one with 422.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "if": {"properties": {"role": {"const": "user"}}, "required": ["role"]},
            "then": {
                "required": ["content"],
                "properties": {
                    "content": {
                        "anyOf": [
                            {"type": "string", "pattern": VISIBLE},
                            {"type": "array", "contains": _TEXT_PART},
                        ]
                    }
                },
            },
        },
    )

    # OpenAI's roles; only user and assistant turns are read, the rest are accepted and skipped.
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """OpenAI content is a string or a list of parts; only text parts count, a line each."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "\n".join(
            str(p.get("text", "")) for p in self.content if isinstance(p, dict) and p.get("type") == "text"
        )


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat request. Sampling options are accepted and ignored; answers are extractive."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"model": MODEL_ID, "messages": [{"role": "user", "content": "Who represented the US?"}]}]
        },
    )

    model: str = Field(MODEL_ID, description="Any value; echoed back.")
    messages: list[ChatMessage] = Field(
        min_length=1,
        description="The conversation; its last message with role 'user' is the question.",
        json_schema_extra={
            "contains": {"type": "object", "properties": {"role": {"const": "user"}}, "required": ["role"]}
        },
    )
    stream: bool = Field(False, strict=True)
    article: str | None = Field(None, description="Extension: only answer from this article id.")

    @model_validator(mode="after")
    def _has_a_question(self) -> ChatCompletionRequest:
        if not any(m.role == "user" for m in self.messages):
            raise ValueError("No user message: the last message with role 'user' is the question.")
        return self

    def turns(self) -> tuple[str, list[dict[str, str]] | None]:
        """The last user message is the question; user/assistant turns before it are the history."""
        last_user = max(i for i, m in enumerate(self.messages) if m.role == "user")
        history = [
            {"role": m.role, "content": text}
            for m in self.messages[:last_user]
            if m.role in ("user", "assistant") and (text := m.text()).strip()
        ]
        return self.messages[last_user].text(), history or None




class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    """Every error the API answers with."""

    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each error status it can answer, with the error body."""
    described = {
        400: "The body could not be read (not UTF-8, a broken multipart form)",
        401: "Missing or wrong API token", 404: "Not found", 405: "Method not allowed",
        413: "Request or article too large", 422: "Invalid input", 503: "Index or model not ready; writers busy",
    }
    return {s: {"model": ErrorBody, "description": described.get(s, "Error")} for s in statuses}
