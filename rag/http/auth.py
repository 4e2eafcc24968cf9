"""Browser login for the UI when a token is set: `/auth/login` sets a session cookie, `/auth/logout` forgets it.

Gradio owns /login, hence /auth/login. The cookie holds a digest of the token (HttpOnly,
SameSite=Lax, so other sites cannot post with it).
"""

from __future__ import annotations

import html
import secrets

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from rag.http.deps import AssistantDep
from rag.http.errors import error_response
from rag.http.middleware import SESSION_COOKIE, session_value
from rag.http.schemas import errors

router = APIRouter(prefix="/auth", tags=["auth"])

_LOGIN_RESPONSES = {
    200: {"content": {"text/html": {}}, "description": "The sign-in form"},
    303: {"description": "Signed in (or no token is needed): on to `next`"},
    **errors(401),
}


def _login(request: Request, api_token: str | None, token: str | None, next_path: str):
    # Only local paths: never an open redirect to another site.
    target = next_path if next_path.startswith("/") and not next_path.startswith("//") else "/"
    if not api_token:
        return RedirectResponse(target, status_code=303)
    if token is None:
        return HTMLResponse(_LOGIN_PAGE.format(next=html.escape(target, quote=True)))
    if not secrets.compare_digest(token.encode(), api_token.encode()):
        return error_response(401, "Wrong token: use the value of RAG_API_TOKEN.")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(api_token),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=30 * 24 * 3600,
    )
    return response


@router.get("/login", response_model=None, response_class=HTMLResponse, responses=_LOGIN_RESPONSES)
def login_page(
    request: Request, assistant: AssistantDep, token: str | None = None, next_path: str = Query("/", alias="next")
):
    """Browser login for the UI: `?token=` sets the session cookie; without it, a form."""
    return _login(request, assistant.settings.api_token_value, token, next_path)


@router.post(
    "/login",
    response_model=None,
    responses=_LOGIN_RESPONSES,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {"token": {"type": "string"}, "next": {"type": "string"}},
                    }
                }
            }
        }
    },
)
async def login_form(request: Request, assistant: AssistantDep):
    """The sign-in form's post: `token` (RAG_API_TOKEN) and where to go `next`."""
    form = await request.form()
    return _login(request, assistant.settings.api_token_value, str(form.get("token") or ""), str(form.get("next") or "/"))


@router.get("/logout", response_model=None, responses={303: {"description": "To the sign-in form"}})
def logout():
    """Forget the browser's session cookie."""
    response = RedirectResponse("/auth/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


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
