"""The OpenAI-compatible wire format: `/v1/models` and `/v1/chat/completions` (plain and streamed).

The answer's `[n]` markers stay in the content; `citations` (and `refused`) sit on the response,
and on the final chunk when streaming (`data: [DONE]` ends the stream).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from rag.http.deps import AssistantDep
from rag.http.errors import stream_error
from rag.http.schemas import MODEL_ID, ChatCompletionRequest, errors
from rag.http.streams import SSE_HEADERS, chain
from rag.types import Answer

router = APIRouter(prefix="/v1", tags=["openai"])


def model_card(model_id: str = MODEL_ID) -> dict:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "article-chat"}


@router.get("/models", responses=errors(401))
def models():
    """The one model, for clients that list models first."""
    return {"object": "list", "data": [model_card()]}


@router.get("/models/{model_id}", responses=errors(401))
def model(model_id: str):
    return model_card(model_id)


@router.post(
    "/chat/completions",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}, **errors(400, 401, 404, 413, 422, 503)},
)
async def chat_completions(body: ChatCompletionRequest, assistant: AssistantDep):
    """OpenAI chat: the last user message is the question, earlier turns the history."""
    question, history = body.turns()
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
            "citations": [asdict(c) for c in answer.citations],
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
            for item in chain(first, stream):
                if isinstance(item, Answer):
                    yield chunk({}, "stop", citations=[asdict(c) for c in item.citations], refused=item.refused)
                else:
                    yield chunk({"content": item})
        except Exception as exc:
            yield f"data: {json.dumps(stream_error(exc), ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
