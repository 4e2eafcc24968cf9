"""`/v1/ask` and `/v1/ask/stream`: a question in, the `Answer` out (plain, or as server-sent events)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from rag.http.deps import AssistantDep
from rag.http.errors import stream_error
from rag.http.schemas import AskRequest, errors
from rag.http.streams import SSE_HEADERS, chain, sse
from rag.types import Answer

router = APIRouter(prefix="/v1", tags=["answers"])


@router.post("/ask", response_model=Answer, responses=errors(400, 401, 404, 413, 422, 503))
def ask(body: AskRequest, assistant: AssistantDep):
    """Answer a question from the indexed articles, with cited passages."""
    return assistant.ask(body.question, article=body.article, history=body.history_messages())


@router.post(
    "/ask/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "delta*, answer, done"},
               **errors(400, 401, 404, 413, 422, 503)},
)
async def ask_stream(body: AskRequest, assistant: AssistantDep):
    """Server-sent events: `delta` {"text"} pieces, then `answer` (the Answer), then `done`.

    Bad input is a 4xx JSON error before the stream starts.
    """
    stream = assistant.stream(body.question, article=body.article, history=body.history_messages())
    first = await run_in_threadpool(next, stream)

    def events() -> Iterator[str]:
        try:
            for item in chain(first, stream):
                if isinstance(item, Answer):
                    yield sse(item.to_dict(), "answer")
                else:
                    yield sse({"text": item}, "delta")
            yield sse({}, "done")
        except Exception as exc:  # the status line is sent; the error goes in the stream
            yield sse(stream_error(exc), "error")

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
