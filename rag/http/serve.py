"""`rag serve`: the app under uvicorn, on 127.0.0.1 unless told otherwise, with tokens kept out of logs."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from rag.errors import IndexNotReadyError, RagError
from rag.http.app import MountUI, create_app

if TYPE_CHECKING:
    from rag.assistant import Assistant


def serve(
    assistant: Assistant,
    *,
    host: str | None = None,
    port: int | None = None,
    share: bool = False,
    ui: MountUI | None = None,
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
    app = create_app(assistant, ui=ui)
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
