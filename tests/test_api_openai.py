"""The OpenAI-compatible endpoint: its wire format, and the official `openai` client against a real server."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from rag.http.app import create_app
from tests.helpers.server import running_server

QUESTION = "Who represented the US?"


@pytest.fixture
def client(seeded):
    with TestClient(create_app(seeded)) as c:
        yield c


def _openai(base_url: str, api_key: str = "not-needed"):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=60)


def _chat(question=QUESTION, **extra):
    return {"model": "article-chat", "messages": [{"role": "user", "content": question}], **extra}


# --- wire format -----------------------------------------------------------------------------------
def test_models_lists_article_chat(client):
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["article-chat"]


def test_chat_completion_shape(client):
    r = client.post("/v1/chat/completions", json=_chat(model="anything-goes"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "anything-goes"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    assert "deputy secretary of state" in choice["message"]["content"]
    markers = {f"[{c['n']}]" for c in body["citations"]}
    assert markers and all(m in choice["message"]["content"] for m in markers)
    assert body["refused"] is False


def test_chat_uses_earlier_turns_as_history_and_accepts_content_parts(client):
    messages = [
        {"role": "system", "content": "You answer from articles."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "A deputy secretary of state. [1]"},
        {"role": "user", "content": [{"type": "text", "text": "And Italy?"}]},
    ]
    r = client.post("/v1/chat/completions", json={"model": "article-chat", "messages": messages})
    assert r.status_code == 200, r.text
    # "And Italy?" is read against the history as "Who represented Italy?"
    spelled_out = client.post("/v1/ask", json={"question": "Who represented Italy?"}).json()["text"]
    assert r.json()["choices"][0]["message"]["content"] == spelled_out
    alone = client.post("/v1/chat/completions", json=_chat("And Italy?")).json()
    assert alone["choices"][0]["message"]["content"] != spelled_out


def test_chat_stream_is_openai_sse_ending_with_done(client):
    r = client.post("/v1/chat/completions", json=_chat(stream=True))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    lines = [line for line in r.text.split("\n\n") if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: "):]) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "deputy secretary of state" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]
    assert all("citations" not in c for c in chunks[:-1])


@pytest.mark.parametrize(
    "body",
    [
        {"model": "article-chat", "messages": []},
        {"model": "article-chat"},
        {"model": "article-chat", "messages": [{"role": "system", "content": "Be brief."}]},
        _chat(""),
        _chat("x" * 2001),
        _chat(stream=True) | {"messages": [{"role": "user", "content": ""}]},
    ],
)
def test_chat_bad_input_is_422(client, body):
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"]


def test_chat_about_an_unknown_article_is_404(client):
    r = client.post("/v1/chat/completions", json=_chat(article="ghost"))
    assert r.status_code == 404 and "ghost" in r.json()["error"]["message"]


# --- the official client against a real server -----------------------------------------------------
@pytest.fixture
def server(seeded):
    with running_server(create_app(seeded)) as url:
        yield url


def test_openai_client_non_streaming(server):
    client = _openai(server)
    assert [m.id for m in client.models.list()] == ["article-chat"]
    completion = client.chat.completions.create(
        model="article-chat", messages=[{"role": "user", "content": QUESTION}]
    )
    content = completion.choices[0].message.content
    assert "deputy secretary of state" in content
    citations = completion.model_extra["citations"]
    assert citations and f"[{citations[0]['n']}]" in content
    assert citations[0]["article_id"] == "paris-summit-on-ukraine"


def test_openai_client_streaming(server):
    client = _openai(server)
    pieces, citations = [], None
    stream = client.chat.completions.create(
        model="article-chat", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    for chunk in stream:
        delta = chunk.choices[0].delta
        if delta.content:
            pieces.append(delta.content)
        if (chunk.model_extra or {}).get("citations"):
            citations = chunk.model_extra["citations"]
    content = "".join(pieces)
    assert len(pieces) > 1, "the answer should arrive in pieces"
    assert "deputy secretary of state" in content
    assert citations and f"[{citations[0]['n']}]" in content


def test_openai_client_sees_our_errors(server):
    openai = pytest.importorskip("openai")
    client = _openai(server)
    with pytest.raises(openai.UnprocessableEntityError) as err:
        client.chat.completions.create(model="article-chat", messages=[{"role": "user", "content": " "}])
    assert "empty" in err.value.message


def test_openai_client_with_the_api_token(seeded):
    openai = pytest.importorskip("openai")
    seeded.settings = seeded.settings.model_copy(update={"api_token": "s3cret"})
    with running_server(create_app(seeded)) as url:
        with pytest.raises(openai.AuthenticationError):
            _openai(url, api_key="wrong").chat.completions.create(
                model="article-chat", messages=[{"role": "user", "content": QUESTION}]
            )
        completion = _openai(url, api_key="s3cret").chat.completions.create(
            model="article-chat", messages=[{"role": "user", "content": QUESTION}]
        )
        assert "deputy secretary of state" in completion.choices[0].message.content
        assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200


def test_ask_stream_over_the_network(server):
    """The SSE stream as a plain HTTP client sees it (what the curl example in the README does)."""
    events = []
    with httpx.stream("POST", f"{server}/v1/ask/stream", json={"question": QUESTION}, timeout=60) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("event: "):
                events.append(line[len("event: "):])
    assert events[-2:] == ["answer", "done"] and events.count("delta") > 1
