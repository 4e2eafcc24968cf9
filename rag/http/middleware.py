"""Pure ASGI middleware (so streaming responses and websockets pass through untouched): the request
body limit, and the token guard in front of everything but the open paths."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from rag.http.errors import RequestTooLarge, error_response

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "rag_session"


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


def session_value(token: str) -> str:
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
    return secrets.compare_digest(cookie.encode(), session_value(token).encode())


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
