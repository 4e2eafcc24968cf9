"""Server-sent events: our own `/v1/ask/stream` events and the pieces both streaming routes share."""

from __future__ import annotations

import json
from collections.abc import Iterator

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def chain(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def sse(data: dict, event: str) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
