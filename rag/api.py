"""The HTTP API: ask (plain and streamed), manage articles, OpenAI-compatible chat, with the chat UI at /.

`create_app(assistant)` builds the FastAPI app; `serve(assistant)` runs it with uvicorn on
127.0.0.1:7860 unless told otherwise. Endpoints (OpenAPI docs at /docs):

    GET    /healthz                   open even with a token: index readable, model loaded
    POST   /v1/ask                    {question, article?, history?} -> the Answer as JSON
    POST   /v1/ask/stream             same body -> server-sent events: delta*, answer, done
    GET    /v1/articles               the indexed articles
    POST   /v1/articles               JSON {text, title?, id?} or {url}, or multipart `file` (+ `source`?)
    GET    /v1/articles/{id}          one article's text and chunks
    DELETE /v1/articles/{id}          remove an article and its chunks
    POST   /v1/chat/completions       OpenAI-compatible, `stream: true` supported
    GET    /v1/models                 the one model, "article-chat"

Errors are always `{"error": {"type": ..., "message": ...}}` with a 4xx status for bad input.

Auth: when `settings.api_token` is set, every path but /healthz and /auth/* needs
`Authorization: Bearer <token>`, or the `rag_session` cookie that `/auth/login` sets for
browsers (open `/auth/login?token=<token>` once, or the form at `/auth/login`; `/auth/logout`
forgets it). The cookie is HttpOnly and SameSite=Lax, so other sites cannot post with it. The
UI mounted at / is behind the same check. Gradio owns /login, hence /auth/login.

Concurrency: one `Assistant` serves every request. Blocking calls run in the threadpool; writes
(indexing, removal) take one lock, so one writer at a time while questions keep being answered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.answer import Answer
from rag.errors import (
    AnswerError,
    ArticleNotFoundError,
    EmbeddingError,
    IndexNotReadyError,
    IngestError,
    RagError,
    TooLargeError,
)
from rag.store import ArticleInfo, IndexReport

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from rag.assistant import Assistant

log = logging.getLogger(__name__)

MODEL_ID = "article-chat"
SESSION_COOKIE = "rag_session"
# Writers waiting for the write lock each hold a threadpool thread; past this many, refuse (503)
# rather than let uploads starve the threads that answer questions.
MAX_WAITING_WRITERS = 8

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


# --- request bodies -----------------------------------------------------------------------------
class HistoryMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"question": "Who represented the US?"}]}
    )

    question: str = Field(description="The question (at most RAG_MAX_QUESTION_CHARS characters).")
    article: str | None = Field(None, description="Only answer from this article id.")
    history: list[HistoryMessage] | None = Field(
        None, description="The conversation so far, so follow-ups like 'And Italy?' work."
    )


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
        if (self.text is None) == (self.url is None):
            raise ValueError("give either 'text' (with an optional 'title') or 'url', not both or neither")
        if self.url is not None and (self.title is not None or self.id is not None):
            raise ValueError("'title' and 'id' apply to pasted 'text' only")
        return self


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat request. Sampling options are accepted and ignored; answers are extractive."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"model": MODEL_ID, "messages": [{"role": "user", "content": "Who represented the US?"}]}]
        },
    )

    model: str = Field(MODEL_ID, description="Any value; echoed back.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    article: str | None = Field(None, description="Extension: only answer from this article id.")


# --- errors -------------------------------------------------------------------------------------
class RequestTooLarge(StarletteHTTPException):
    """Raised while reading a body past the limit; FastAPI passes HTTPExceptions through untouched."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"The request body is over the {limit:,}-byte limit (RAG_MAX_REQUEST_BYTES).",
        )


class WritersBusy(RagError):
    """Too many indexing requests are already waiting."""



_STATUS_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal_error",
    503: "unavailable",
}


def error_response(status: int, message: str, kind: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": kind or _STATUS_TYPES.get(status, "error"), "message": message}},
        status_code=status,
        headers=headers,
    )


def _rag_error_status(exc: RagError) -> tuple[int, str]:
    if isinstance(exc, ArticleNotFoundError):
        return 404, "not_found"
    if isinstance(exc, IngestError):
        if isinstance(exc, TooLargeError):
            return 413, "too_large"
        return 422, "invalid_article"
    if isinstance(exc, AnswerError):
        return 422, "invalid_question"
    if isinstance(exc, IndexNotReadyError):
        return 503, "index_not_ready"
    if isinstance(exc, (EmbeddingError, WritersBusy)):
        return 503, "unavailable"
    return 400, "bad_request"


def _validation_message(errors: list[dict]) -> str:
    parts = []
    for err in errors[:5]:
        if err.get("type") == "json_invalid":
            detail = (err.get("ctx") or {}).get("error", "")
            return f"The request body is not valid JSON ({detail}): send a JSON object."
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts) + "."


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def _rag(request: Request, exc: RagError):
        status, kind = _rag_error_status(exc)
        # Clients (the openai one among them) retry 503s: worth it when writers are queued, not
        # when nothing is indexed yet. x-should-retry is the openai client's own hint.
        headers = None
        if isinstance(exc, WritersBusy):
            headers = {"Retry-After": "5"}
        elif status == 503:
            headers = {"x-should-retry": "false"}
        return error_response(status, str(exc), kind, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return error_response(422, _validation_message(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("Unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, f"Internal error ({type(exc).__name__}); the server log has the details.")


# --- middleware (pure ASGI, so streaming responses and websockets pass through untouched) -------
class BodyLimit:
    """413 for bodies over `max_bytes`: at once from Content-Length, else while the body is read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                await error_response(400, "The Content-Length header is not a number.")(scope, receive, send)
                return
            if too_large:
                await error_response(413, RequestTooLarge(self.max_bytes).detail)(scope, receive, send)
                return
        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLarge(self.max_bytes)
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except RequestTooLarge as exc:  # read outside a route with our handlers (e.g. the UI)
            if started:
                raise
            await error_response(413, exc.detail)(scope, receive, send)


def _session_value(token: str) -> str:
    """The cookie holds a digest of the token, so the browser never stores the token itself."""
    return hashlib.sha256(b"article-chat session\0" + token.encode("utf-8")).hexdigest()


def has_token(scope: Scope, token: str) -> bool:
    """The request carries `Authorization: Bearer <token>` or the session cookie of /auth/login."""
    from starlette.requests import HTTPConnection

    conn = HTTPConnection(scope)
    scheme, _, credentials = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secrets.compare_digest(credentials.strip().encode(), token.encode()):
        return True
    cookie = conn.cookies.get(SESSION_COOKIE, "")
    return secrets.compare_digest(cookie.encode(), _session_value(token).encode())


class TokenGuard:
    """Every path but the open ones needs `Authorization: Bearer <token>` or the session cookie."""

    OPEN_PATHS = ("/healthz", "/auth/login", "/auth/logout")

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    def authorized(self, scope: Scope) -> bool:
        return has_token(scope, self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.OPEN_PATHS or self.authorized(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = error_response(
            401,
            "Missing or wrong API token: send 'Authorization: Bearer <token>' (RAG_API_TOKEN), "
            "or open /auth/login in a browser.",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)


# --- the app ------------------------------------------------------------------------------------
class _Writer:
    """One writer at a time in this process; a bounded queue of waiting writers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_WAITING_WRITERS)

    def run(self, fn: Callable[..., IndexReport], *args, **kwargs) -> IndexReport:
        if not self._slots.acquire(blocking=False):
            raise WritersBusy("Too many indexing requests are waiting: try again when they have finished.")
        try:
            with self.lock:
                return fn(*args, **kwargs)
        finally:
            self._slots.release()


def create_app(assistant: Assistant, *, mount_ui: bool = True) -> FastAPI:
    """The API for `assistant`, with the Gradio chat UI at / when `ui.app` is importable."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    settings = assistant.settings
    app = FastAPI(
        title="article-chat",
        version=_version(),
        summary="Answers about news articles with cited passages.",
        description=(
            "Ask questions about the indexed articles and get answers whose `[n]` markers cite "
            "exact passages. `/v1/chat/completions` speaks the OpenAI chat protocol."
        ),
    )
    app.state.assistant = assistant
    app.state.writer = writer = _Writer()
    _install_error_handlers(app)
    # The last middleware added runs first: auth before anything reads the body.
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    api_token = settings.api_token_value
    if api_token:
        app.add_middleware(TokenGuard, token=api_token)

    # --- health and auth ---------------------------------------------------------------------
    @app.get("/healthz", tags=["health"])
    def healthz(request: Request):
        """Index readable and embedding model loaded (loads it if needed). Open without a token.

        `app`, `store` and `index_dir` let `rag index` find a server that has its index open and
        hand it the articles (rag.remote). With a token set, `index_dir` (a server path) is only
        shown to requests that carry the token.
        """
        try:
            articles = assistant.articles()
            chunks = assistant.store.count_chunks()  # reaches Chroma (a server, in server mode)
            if not getattr(assistant.embeddings, "loaded", True):
                assistant.embeddings.warm_up()
        except Exception as exc:  # a health check reports every failure, it never raises
            kind = _rag_error_status(exc)[1] if isinstance(exc, RagError) else "unavailable"
            return JSONResponse(
                {"status": "error", "error": {"type": kind, "message": str(exc) or type(exc).__name__}},
                status_code=503,
            )
        health = {
            "status": "ok",
            "app": "article-chat",
            "articles": len(articles),
            "chunks": chunks,
            "model": getattr(assistant.embeddings, "name", type(assistant.embeddings).__name__),
            "model_loaded": bool(getattr(assistant.embeddings, "loaded", True)),
            "store": settings.store,
        }
        if not api_token or has_token(request.scope, api_token):
            health["index_dir"] = str(Path(settings.index_dir).resolve())
        return health

    def _login(request: Request, token: str | None, next_path: str):
        # Only local paths: never an open redirect to another site.
        target = next_path if next_path.startswith("/") and not next_path.startswith("//") else "/"
        if not api_token:
            return RedirectResponse(target, status_code=303)
        if token is None:
            return HTMLResponse(_LOGIN_PAGE.format(next=_html_attr(target)))
        if not secrets.compare_digest(token.encode(), api_token.encode()):
            return error_response(401, "Wrong token: use the value of RAG_API_TOKEN.")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            _session_value(api_token),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            max_age=30 * 24 * 3600,
        )
        return response

    @app.get("/auth/login", tags=["auth"], response_model=None)
    def login_page(request: Request, token: str | None = None, next_path: str = Query("/", alias="next")):
        """Browser login for the UI: `?token=` sets the session cookie; without it, a form."""
        return _login(request, token, next_path)

    @app.post("/auth/login", tags=["auth"], response_model=None, include_in_schema=False)
    async def login_form(request: Request):
        form = await request.form()
        return _login(request, str(form.get("token") or ""), str(form.get("next") or "/"))

    @app.get("/auth/logout", tags=["auth"], response_model=None)
    def logout():
        """Forget the browser's session cookie."""
        response = RedirectResponse("/auth/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    # --- answers -----------------------------------------------------------------------------
    @app.post("/v1/ask", tags=["answers"], response_model=Answer)
    def ask(body: AskRequest):
        """Answer a question from the indexed articles, with cited passages."""
        return assistant.ask(body.question, article=body.article, history=_history(body.history))

    @app.post(
        "/v1/ask/stream",
        tags=["answers"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "delta*, answer, done"}},
    )
    async def ask_stream(body: AskRequest):
        """Server-sent events: `delta` {"text"} pieces, then `answer` (the Answer), then `done`.

        Bad input is a 4xx JSON error before the stream starts.
        """
        stream = assistant.stream(body.question, article=body.article, history=_history(body.history))
        first = await run_in_threadpool(next, stream)

        def events() -> Iterator[str]:
            try:
                for item in _chain(first, stream):
                    if isinstance(item, Answer):
                        yield _sse(item.to_dict(), "answer")
                    else:
                        yield _sse({"text": item}, "delta")
                yield _sse({}, "done")
            except Exception as exc:  # the status line is sent; the error goes in the stream
                yield _sse(_stream_error(exc), "error")

        return StreamingResponse(events(), media_type="text/event-stream", headers=_SSE_HEADERS)

    # --- articles ----------------------------------------------------------------------------
    @app.get("/v1/articles", tags=["articles"])
    def list_articles() -> dict[str, list[ArticleInfo]]:
        """The indexed articles with their chunk counts."""
        return {"articles": assistant.articles()}

    @app.post(
        "/v1/articles",
        tags=["articles"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": ArticleIn.model_json_schema()},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "file": {"type": "string", "format": "binary"},
                                "source": {
                                    "type": "string",
                                    "description": "The article's identity (default upload:<file name>); "
                                    "the same source again updates or skips it.",
                                },
                            },
                            "required": ["file"],
                        }
                    },
                },
            }
        },
    )
    async def add_article(request: Request):
        """Index pasted text, a URL, or an uploaded file (.txt, .md, .html, .pdf).

        Returns how many articles were added, updated (changed) and skipped (unchanged), and the
        full report. A bad article is a 4xx error and changes nothing in the index.
        """
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            data, filename, source = await _read_upload(request, settings.max_upload_bytes)
            report = await run_in_threadpool(writer.run, assistant.index_bytes, data, filename, source=source)
        else:
            article = _parse_article(await request.body())
            if article.url is not None:
                report = await run_in_threadpool(writer.run, assistant.index_url, article.url)
            else:
                size = len(article.text.encode("utf-8"))
                if size > settings.max_upload_bytes:
                    raise TooLargeError(
                        f"The text is {size:,} bytes, over the {settings.max_upload_bytes:,}-byte limit "
                        "(RAG_MAX_UPLOAD_BYTES)."
                    )
                # An explicit id names the article: posting it again replaces it, whatever its title.
                report = await run_in_threadpool(
                    writer.run, assistant.index_text, article.text, title=article.title, article_id=article.id,
                    source=f"pasted:{article.id}" if article.id else None,
                )
        if report.failed and not (report.added or report.updated or report.skipped):
            raise IngestError(report.failed[0][1])
        return {
            "added": len(report.added),
            "updated": len(report.updated),
            "skipped": len(report.skipped),
            "report": report.as_dict(),
        }

    @app.get("/v1/articles/{article_id}", tags=["articles"])
    def get_article(article_id: str):
        """One article: its text, and its chunks with their offsets into the text."""
        article = assistant.article(article_id)
        chunks = assistant.store.chunks(article_id)
        return {
            "id": article.id,
            "title": article.title,
            "source": article.source,
            "content_hash": article.content_hash,
            "text": article.text,
            "chunks": [
                {"id": c.id, "index": c.index, "start": c.start, "end": c.end, "text": c.text} for c in chunks
            ],
        }

    @app.delete("/v1/articles/{article_id}", tags=["articles"])
    def delete_article(article_id: str):
        """Remove an article and all its chunks."""
        report = writer.run(assistant.remove, article_id)
        return {"removed": len(report.removed), "report": report.as_dict()}

    # --- OpenAI-compatible ------------------------------------------------------------------
    @app.get("/v1/models", tags=["openai"])
    def models():
        """The one model, for clients that list models first."""
        return {"object": "list", "data": [_model_card()]}

    @app.get("/v1/models/{model_id}", tags=["openai"])
    def model(model_id: str):
        return _model_card(model_id)

    @app.post(
        "/v1/chat/completions",
        tags=["openai"],
        response_model=None,
        responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
    )
    async def chat_completions(body: ChatCompletionRequest):
        """OpenAI chat: the last user message is the question, earlier turns the history.

        The answer's `[n]` markers stay in the content; `citations` (and `refused`) sit on the
        response, and on the final chunk when streaming (`data: [DONE]` ends the stream).
        """
        question, history = _chat_turns(body.messages)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if not body.stream:
            answer = await run_in_threadpool(assistant.ask, question, body.article, history)
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": body.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "citations": [_citation_dict(c) for c in answer.citations],
                "refused": answer.refused,
            }

        stream = assistant.stream(question, article=body.article, history=history)
        first = await run_in_threadpool(next, stream)

        def chunk(delta: dict, finish: str | None = None, **extra) -> str:
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                **extra,
            }
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        def events() -> Iterator[str]:
            try:
                yield chunk({"role": "assistant", "content": ""})
                for item in _chain(first, stream):
                    if isinstance(item, Answer):
                        citations = [_citation_dict(c) for c in item.citations]
                        yield chunk({}, "stop", citations=citations, refused=item.refused)
                    else:
                        yield chunk({"content": item})
            except Exception as exc:
                yield f"data: {json.dumps(_stream_error(exc), ensure_ascii=False)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=_SSE_HEADERS)

    # Unknown /v1 paths get our error shape, not the UI's 404 page.
    @app.api_route(
        "/v1/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    def unknown(path: str, request: Request):
        from starlette.routing import Match

        allowed = sorted(
            {m for r in app.router.routes if r.matches({**request.scope, "type": "http"})[0] == Match.PARTIAL
             for m in getattr(r, "methods", ())}
        )
        if allowed:
            raise StarletteHTTPException(
                405, f"{request.method} is not allowed on /v1/{path}: use {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        raise StarletteHTTPException(404, f"No endpoint {request.method} /v1/{path}: see /docs for the API.")

    app.state.ui_mounted = _mount_ui(app, assistant) if mount_ui else False
    return app


def _mount_ui(app: FastAPI, assistant: Assistant) -> bool:
    """Mount `ui.app.build_app(assistant)` at / (after every API route, which it would shadow)."""
    try:
        from ui.app import CSS, build_app, theme, ui_auth
    except ImportError as exc:
        log.warning("The chat UI is not mounted (ui.app cannot be imported: %s); serving the API only.", exc)
        return False
    import gradio as gr

    gr.mount_gradio_app(
        app,
        build_app(assistant),
        path="/",
        auth=ui_auth(assistant.settings),
        max_file_size=assistant.settings.max_upload_bytes,
        theme=theme(),
        css=CSS,
    )
    return True


def serve(
    assistant: Assistant,
    *,
    host: str | None = None,
    port: int | None = None,
    share: bool = False,
) -> None:
    """Run the UI and the API with uvicorn (settings.host/port, 127.0.0.1:7860 by default).

    `share` is not supported: Gradio's share links need its tunnel binary from the internet,
    and article-chat runs offline. Expose the port through an SSH tunnel or a reverse proxy
    (with RAG_API_TOKEN set) instead.
    """
    import sys

    import uvicorn

    settings = assistant.settings
    host = host or settings.host
    port = port or settings.port
    if share:
        print(
            "note: --share is not supported (share links need Gradio's tunnel from the internet); "
            "use an SSH tunnel or a reverse proxy, with RAG_API_TOKEN set.",
            file=sys.stderr,
        )
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.api_token:
        print(
            f"warning: serving on {host} without RAG_API_TOKEN: anyone who can reach it can read and "
            "change the index.",
            file=sys.stderr,
        )
    _check_port_free(host, port)
    try:
        assistant.warm_up()
    except IndexNotReadyError as exc:  # an empty index is fine: articles can be added over HTTP
        print(f"note: {exc}", file=sys.stderr)
    app = create_app(assistant)
    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    ui = f"chat UI: {base}/   " if app.state.ui_mounted else ""
    print(f"{ui}API: {base}/v1   docs: {base}/docs", file=sys.stderr)
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access_log.filters):
        access_log.addFilter(RedactTokens())
    # Open browser tabs keep Gradio streams alive: on Ctrl-C, wait 5 s for them, not forever.
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)


def _check_port_free(host: str, port: int) -> None:
    """Say so in one line before loading anything when another server has the port."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise RagError(
                f"Cannot listen on {host}:{port} ({exc.strerror or exc}): another server may be running "
                "there; stop it, or choose another port with --port or RAG_PORT."
            ) from None


class RedactTokens:
    """A logging filter that hides `token=` query values (the browser login) in access logs."""

    _TOKEN = re.compile(r"(?i)([?&](?:token|api_key|access_token)=)[^&\s]*")

    def filter(self, record) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = self._TOKEN.sub(r"\1***", record.msg)
        return True


# --- helpers ------------------------------------------------------------------------------------
def _version() -> str:
    from rag import __version__

    return __version__


def _model_card(model_id: str = MODEL_ID) -> dict:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "article-chat"}


def _citation_dict(citation) -> dict:
    from dataclasses import asdict

    return asdict(citation)


def _history(messages: list[HistoryMessage] | None) -> list[dict[str, str]] | None:
    return [m.model_dump() for m in messages] if messages else None


def _message_text(content: str | list[dict[str, Any]] | None) -> str:
    """OpenAI content is a string or a list of parts; only text parts count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(
        str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
    )


def _chat_turns(messages: list[ChatMessage]) -> tuple[str, list[dict[str, str]] | None]:
    """The last user message is the question; user/assistant turns before it are the history."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        raise AnswerError("No user message: the last message with role 'user' is the question.")
    history = [
        {"role": m.role, "content": text}
        for m in messages[:last_user]
        if m.role in ("user", "assistant") and (text := _message_text(m.content)).strip()
    ]
    return _message_text(messages[last_user].content), history or None


def _chain(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def _sse(data: dict, event: str) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _stream_error(exc: Exception) -> dict:
    if isinstance(exc, RagError):
        _, kind = _rag_error_status(exc)
        return {"error": {"type": kind, "message": str(exc)}}
    log.exception("Error while streaming an answer")
    return {"error": {"type": "internal_error", "message": f"Internal error ({type(exc).__name__})."}}


def _parse_article(raw: bytes) -> ArticleIn:
    """The JSON body of POST /v1/articles (parsed here: the route also takes multipart)."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StarletteHTTPException(
            422,
            f"The request body is not valid JSON ({exc}): send {{\"text\": ..., \"title\": ...}} or "
            "{\"url\": ...} as JSON, or a multipart upload with a 'file' field.",
        ) from None
    try:
        return ArticleIn.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None


async def _read_upload(request: Request, max_bytes: int) -> tuple[bytes, str, str | None]:
    """The bytes, name and optional `source` of the multipart `file` field (at most `max_bytes`).

    `source` is the article's identity: uploading again with the same source replaces or skips
    that article. Without it the source is `upload:<file name>`.
    """
    form = await request.form()
    try:
        files = [v for k, v in form.multi_items() if isinstance(v, UploadFile)]
        if len(files) != 1 or not isinstance(form.get("file"), UploadFile):
            raise IngestError("Send exactly one file, in the multipart field 'file'.")
        source = form.get("source")
        if source is not None and (not isinstance(source, str) or not source.strip() or len(source) > 2000):
            raise IngestError("The 'source' field must be a non-empty text of at most 2,000 characters.")
        upload = files[0]
        size = upload.size  # counted by Starlette while it parsed the form
        if size is None:
            size = len(await upload.read())
            await upload.seek(0)
        if size > max_bytes:
            raise TooLargeError(
                f"'{upload.filename}' is {size:,} bytes, over the {max_bytes:,}-byte upload limit "
                "(RAG_MAX_UPLOAD_BYTES)."
            )
        data = await upload.read()
        return data, upload.filename or "upload.txt", source
    finally:
        await form.close()


def _html_attr(value: str) -> str:
    import html

    return html.escape(value, quote=True)


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>article-chat: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 28rem; margin: 4rem auto;">
<h1>article-chat</h1>
<form method="post" action="/auth/login">
<label for="token">API token (RAG_API_TOKEN)</label><br>
<input id="token" name="token" type="password" autofocus required style="width: 100%;">
<input type="hidden" name="next" value="{next}">
<p><button type="submit">Sign in</button></p>
</form></body></html>
"""
