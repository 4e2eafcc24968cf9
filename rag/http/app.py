"""The HTTP API: `create_app(assistant)` composes the routers, the error shape, the body limit and the
token guard, and mounts whatever UI its caller hands it at / (`rag serve` hands it the Gradio chat).

Endpoints (OpenAPI docs at /docs):

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
`Authorization: Bearer <token>` or the session cookie of /auth/login; the UI is behind the same
check. Concurrency: one `Assistant` serves every request; blocking calls run in the threadpool,
and the assistant lets one write run at a time while questions keep being answered.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import RagError
from rag.http import answers, articles, auth, openai
from rag.http.errors import install_error_handlers, rag_error_status
from rag.http.middleware import BodyLimit, TokenGuard, has_token

if TYPE_CHECKING:
    from rag.assistant import Assistant

log = logging.getLogger("rag.http")

# Mounts a UI on the app (after every API route, which it would shadow); True when it did.
MountUI = Callable[[FastAPI, "Assistant"], bool]

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def create_app(assistant: Assistant, *, ui: MountUI | None = None) -> FastAPI:
    """The API for `assistant`, with `ui` mounted at / when given."""
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
    install_error_handlers(app)
    # The last middleware added runs first: auth before anything reads the body.
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    api_token = settings.api_token_value
    if api_token:
        app.add_middleware(TokenGuard, token=api_token)

    @app.get("/healthz", tags=["health"], responses={503: {"description": "Index unreadable or model not loadable"}})
    def healthz(request: Request):
        """Index readable and embedding model loaded (loads it if needed). Open without a token.

        `app`, `store` and `index_dir` let `rag index` find a server that has its index open and
        hand it the articles (rag.http.client). With a token set, `index_dir` (a server path) is
        only shown to requests that carry the token.
        """
        try:
            health = assistant.health()
        except Exception as exc:  # a health check reports every failure, it never raises
            kind = rag_error_status(exc)[1] if isinstance(exc, RagError) else "unavailable"
            return JSONResponse(
                {"status": "error", "error": {"type": kind, "message": str(exc) or type(exc).__name__}},
                status_code=503,
            )
        health = {"status": "ok", "app": "article-chat", **health}
        if not api_token or has_token(request.scope, api_token):
            health["index_dir"] = str(Path(settings.index_dir).resolve())
        return health

    for module in (auth, answers, articles, openai):
        app.include_router(module.router)

    # Unknown /v1 and /auth paths get our error shape, not the UI's 404 page; a known path with a
    # method it does not have is 405 with Allow.
    @app.api_route("/v1/{path:path}", methods=list(_METHODS), include_in_schema=False)
    @app.api_route("/auth/{path:path}", methods=list(_METHODS), include_in_schema=False)
    @app.api_route("/healthz", methods=["POST", "PUT", "PATCH", "DELETE", "OPTIONS"], include_in_schema=False)
    def unknown(request: Request):
        path = request.url.path
        from starlette.routing import Match, Mount

        # Which methods some other route takes on this path: asked route by route (included
        # routers nest their routes, so their methods cannot simply be listed).
        others = [
            r for r in app.router.routes
            if not isinstance(r, Mount) and getattr(r, "endpoint", None) is not unknown  # the UI takes any path
        ]
        allowed = sorted(
            m for m in _METHODS
            if any(r.matches({**request.scope, "type": "http", "method": m})[0] == Match.FULL for r in others)
        )
        if allowed:
            raise StarletteHTTPException(
                405, f"{request.method} is not allowed on {path}: use {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        raise StarletteHTTPException(404, f"No endpoint {request.method} {path}: see /docs for the API.")

    _document_limits(app, settings)
    app.state.ui_mounted = ui(app, assistant) if ui is not None else False
    return app


def _document_limits(app: FastAPI, settings) -> None:
    """The OpenAPI document states this server's own limits (they are settings, not constants)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            ask = schema.get("components", {}).get("schemas", {}).get("AskRequest")
            if ask:
                ask["properties"]["question"]["maxLength"] = settings.max_question_chars
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def _version() -> str:
    from rag import __version__

    return __version__
