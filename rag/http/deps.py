"""What every route is handed: the one `Assistant` the app serves."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.assistant import Assistant


def _assistant(request: Request) -> Assistant:
    return request.app.state.assistant


AssistantDep = Annotated[Assistant, Depends(_assistant)]
