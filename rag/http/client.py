"""The client of a running server: hand indexing work to a running `rag serve` on the same index, so only one process writes it.

Chroma's embedded client is not process-safe; when the server already has the index open, the
safest writer is the server itself, and its answers then include the new articles at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.errors import IngestError, RagError
from rag.ingest import expand_paths, is_url, shown_path
from rag.types import IndexReport


def _headers(settings) -> dict[str, str]:
    token = settings.api_token_value
    return {"Authorization": f"Bearer {token}"} if token else {}


def running_server(settings) -> str | None:
    """The base URL of a `rag serve` that has this very index open, or None."""
    import httpx

    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    base = f"http://{host}:{settings.port}"
    try:
        resp = httpx.get(f"{base}/healthz", headers=_headers(settings), timeout=0.5)
        info = resp.json()
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("app") != "article-chat":
        return None
    if info.get("store") == "server" or settings.store == "server":
        return None  # a Chroma server needs no hand-off: every process may write
    ours = str(Path(settings.index_dir).resolve())
    return base if info.get("index_dir") == ours else None


def index_via_server(
    base: str,
    settings,
    targets: list[str],
    on_progress: Callable[[str], None] | None = None,
) -> IndexReport:
    """Upload files (and pass URLs) to the server's `POST /v1/articles`, one at a time."""
    import httpx

    report = IndexReport()
    items: list[str] = []
    shown: dict[str, str] = {}  # file -> the label the server records and shows (never our absolute path)
    for target in targets:
        if is_url(target):
            items.append(target)
            continue
        root = Path(target).expanduser()
        try:
            files = expand_paths(root)
        except IngestError as exc:
            report.failed.append((target, str(exc)))
            continue
        for p in files:
            items.append(str(p))
            shown[str(p)] = shown_path(p, root)
    with httpx.Client(base_url=base, headers=_headers(settings), timeout=600) as client:
        for item in items:
            try:
                if is_url(item):
                    resp = client.post("/v1/articles", json={"url": item})
                else:
                    path = Path(item)
                    if not path.is_file():
                        raise IngestError(f"'{item}' does not exist: check the path.")
                    data = path.read_bytes()
                    resp = client.post(
                        "/v1/articles",
                        files={"file": (path.name, data)},
                        data={"source": shown[item]},
                    )
            except IngestError as exc:
                report.failed.append((item, str(exc)))
                continue
            except httpx.HTTPError as exc:
                raise RagError(f"The server at {base} stopped answering ({exc}); nothing more was sent.") from None
            body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
            if resp.status_code >= 400:
                message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
                report.failed.append((item, message or f"HTTP {resp.status_code}"))
            else:
                sub = body.get("report", {})
                report.added += sub.get("added", [])
                report.updated += sub.get("updated", [])
                report.skipped += sub.get("skipped", [])
                report.failed += [(f["source"], f["error"]) for f in sub.get("failed", [])]
                report.chunks_added += sub.get("chunks_added", 0)
                report.chunks_deleted += sub.get("chunks_deleted", 0)
                report.seconds += sub.get("seconds", 0.0)
            if on_progress:
                on_progress(item)
    return report
