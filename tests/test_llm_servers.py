"""The LLM backends over real HTTP: tiny fake OpenAI-compatible and Ollama servers on free loopback ports."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from rag.types import Answer, AnswerContext

# The backends are the optional `llm` extra (in the dev extra, so CI runs these tests).
pytest.importorskip("langchain_openai")
pytest.importorskip("langchain_ollama")

from rag.answering.factory import make_answerer, make_rewriter
from rag.answering.llm import REFUSAL_REPLY
from rag.answering.pipeline import AnswerPipeline
from rag.config import Settings
from tests.helpers.server import running_server
from tests.test_llm import SECRET, US_SENTENCE, assert_integrity

HISTORY = [
    {"role": "user", "content": "Who represented the US?"},
    {"role": "assistant", "content": "A deputy secretary of state [1]."},
]


def canned_reply(messages: list[dict]) -> str:
    """What the fake LLM says: a standalone question, or an answer citing the passage that says it."""
    system = messages[0]["content"]
    if "standalone question" in system:
        return "Who represented Italy?"
    human = messages[-1]["content"]
    passages = re.findall(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', human, flags=re.DOTALL)
    needle, claim = "deputy secretary of state", "The US was represented by a deputy secretary of state"
    if "Italy" in human.split("Question:")[-1]:
        needle, claim = "deputy foreign minister", "Italy was represented by a deputy foreign minister"
    n = next((n for n, text in passages if needle in text), None)
    if n is None:
        return REFUSAL_REPLY
    # One supported citation, one to no passage.
    return f"{claim} [{n}][9]."


def openai_app(seen: list[dict], delay: float = 0.0) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        body = await request.json()
        seen.append({"body": body, "authorization": request.headers.get("authorization")})
        if delay:
            await asyncio.sleep(delay)
        reply = canned_reply(body["messages"])
        base = {"id": "chatcmpl-1", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            return JSONResponse({
                **base,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            })

        async def events():
            pieces = re.findall(r"\S+\s*", reply)
            for i, piece in enumerate(pieces):
                delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                chunk = {**base, "object": "chat.completion.chunk",
                         "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
            done = {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(done)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def ollama_app(seen: list[dict]) -> FastAPI:
    app = FastAPI()

    @app.post("/api/chat")
    async def chat(request: Request):
        body = await request.json()
        seen.append({"body": body, "authorization": request.headers.get("authorization")})
        reply = canned_reply(body["messages"])
        stamp = "2025-01-01T00:00:00Z"

        def line(content: str, done: bool) -> str:
            out = {"model": body["model"], "created_at": stamp, "message": {"role": "assistant", "content": content},
                   "done": done}
            if done:
                out.update(done_reason="stop", total_duration=1, eval_count=1, prompt_eval_count=1)
            return json.dumps(out) + "\n"

        if body.get("stream") is False:
            return JSONResponse(json.loads(line(reply, True)))

        async def lines():
            for piece in re.findall(r"\S+\s*", reply):
                yield line(piece, False)
            yield line("", True)

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    return app


def pipeline(seeded, **llm) -> AnswerPipeline:
    settings = Settings(
        index_dir=seeded.settings.index_dir, embedding_backend="fake", _env_file=None, llm_model="fake-model", **llm
    )
    return AnswerPipeline(
        settings, seeded.store, seeded.embeddings,
        rewriter=make_rewriter(settings), answerer=make_answerer(settings, seeded.embeddings),
    )


def check_us_answer(seeded, answer: Answer, name: str) -> None:
    assert answer.answerer == name and not answer.refused
    assert answer.text == "The US was represented by a deputy secretary of state [1]."
    assert [c.quote for c in answer.citations] == [US_SENTENCE]
    assert "1 citation to no retrieved passage" in answer.notice
    assert_integrity(seeded, answer)


def test_openai_compatible_server(seeded, caplog):
    caplog.set_level(logging.DEBUG)
    seen: list[dict] = []
    with running_server(openai_app(seen), timeout=20) as url:
        pipe = pipeline(seeded, answerer="openai", llm_base_url=f"{url}/v1", llm_api_key=SECRET, llm_timeout=10,
                        llm_max_tokens=200)
        check_us_answer(seeded, pipe.run("Who represented the US?"), "openai")

        question = "Who represented the US?"
        vector = pipe.embeddings.embed_query(question)
        hits = pipe.retriever.retrieve(question, k=pipe.settings.k, query_vector=vector)
        *pieces, streamed = list(pipe.answerer.stream(AnswerContext(question, hits, pipe.corpus, vector)))
        check_us_answer(seeded, streamed, "openai")
        assert "".join(pieces) == streamed.text

        followup = pipe.run("And Italy?", history=HISTORY)
        assert followup.query == "Who represented Italy?" and followup.answerer == "openai"
        assert_integrity(seeded, followup)
        assert "Question: Who represented Italy?" in seen[-1]["body"]["messages"][-1]["content"]

    plain, stream, rewrite = seen[0]["body"], seen[1]["body"], seen[2]["body"]
    assert "standalone question" in rewrite["messages"][0]["content"]
    assert rewrite["messages"][-1] == {"role": "user", "content": "And Italy?"}
    assert not plain.get("stream") and stream["stream"] is True
    assert plain["model"] == "fake-model" and plain["temperature"] == 0 and plain["max_tokens"] == 200
    assert [m["role"] for m in plain["messages"]] == ["system", "user"]
    assert all(s["authorization"] == f"Bearer {SECRET}" for s in seen)  # the key is sent...
    assert SECRET not in caplog.text  # ...and never logged


def test_ollama_server(seeded):
    seen: list[dict] = []
    with running_server(ollama_app(seen), timeout=20) as url:
        pipe = pipeline(seeded, answerer="ollama", llm_base_url=url, llm_api_key=SECRET, llm_timeout=10)
        check_us_answer(seeded, pipe.run("Who represented the US?"), "ollama")
        assert pipe.run("And Italy?", history=HISTORY).query == "Who represented Italy?"
    assert seen[0]["body"]["model"] == "fake-model"
    assert seen[0]["body"]["options"]["num_predict"] == 512
    assert seen[0]["authorization"] == f"Bearer {SECRET}"


def test_server_that_times_out_gives_the_offline_answer(seeded):
    seen: list[dict] = []
    with running_server(openai_app(seen, delay=3.0), timeout=20) as url:
        pipe = pipeline(seeded, answerer="openai", llm_base_url=f"{url}/v1", llm_api_key=SECRET, llm_timeout=0.5)
        answer = pipe.run("Who represented the US?", history=HISTORY)
    assert answer.answerer == "extractive" and not answer.refused
    assert answer.notice.startswith(f"The LLM backend at {url}/v1 (model fake-model) did not answer (")
    assert "Timeout" in answer.notice and SECRET not in answer.notice


@pytest.mark.parametrize("answerer", ["openai", "ollama"])
def test_server_that_is_down_gives_the_offline_answer(seeded, answerer):
    with socket.socket() as sock:  # a free port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}" + ("/v1" if answerer == "openai" else "")
    pipe = pipeline(seeded, answerer=answerer, llm_base_url=base, llm_api_key=SECRET, llm_timeout=5)
    answer = pipe.run("Who represented the US?", history=HISTORY)
    assert answer.answerer == "extractive" and "deputy secretary of state" in answer.text
    assert answer.notice.startswith(f"The LLM backend at {base} (model fake-model) did not answer (")
    assert answer.notice.endswith("this is the offline answer.")
    assert SECRET not in answer.notice


def test_assistant_with_an_llm_from_the_environment(tmp_path, monkeypatch):
    """RAG_ANSWERER=openai end to end: Assistant.ask and Assistant.stream through the real settings."""
    from rag.assistant import Assistant
    from rag.config import Settings
    from tests.conftest import SEED

    seen: list[dict] = []
    with running_server(openai_app(seen), timeout=20) as url:
        monkeypatch.setenv("RAG_ANSWERER", "openai")
        monkeypatch.setenv("RAG_LLM_MODEL", "fake-model")
        monkeypatch.setenv("RAG_LLM_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("RAG_LLM_API_KEY", SECRET)
        assistant = Assistant(Settings(index_dir=tmp_path / "index", embedding_backend="fake", _env_file=None))
        assistant.index(SEED)
        answer = assistant.ask("Who represented the US?")
        check_us_answer(assistant, answer, "openai")
        *pieces, streamed = list(assistant.stream("Who represented the US?"))
        assert streamed == answer and "".join(pieces) == answer.text
        assert SECRET not in repr(assistant.settings)
    assert [s["body"].get("stream", False) for s in seen] == [False, True]
