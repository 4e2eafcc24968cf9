"""Errors as the API answers them: `{"error": {"type", "message"}}` with the status that fits."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.assistant import WritersBusy
from rag.errors import (
    AnswerError,
    ArticleNotFoundError,
    EmbeddingError,
    IndexNotReadyError,
    IngestError,
    RagError,
    TooLargeError,
)

log = logging.getLogger("rag.http")


class RequestTooLarge(StarletteHTTPException):
    """Raised while reading a body past the limit; FastAPI passes HTTPExceptions through untouched."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"The request body is over the {limit:,}-byte limit (RAG_MAX_REQUEST_BYTES).",
        )


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


def rag_error_status(exc: RagError) -> tuple[int, str]:
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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def _rag(request: Request, exc: RagError):
        status, kind = rag_error_status(exc)
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




def stream_error(exc: Exception) -> dict:
    if isinstance(exc, RagError):
        _, kind = rag_error_status(exc)
        return {"error": {"type": kind, "message": str(exc)}}
    log.exception("Error while streaming an answer")
    return {"error": {"type": "internal_error", "message": f"Internal error ({type(exc).__name__})."}}
