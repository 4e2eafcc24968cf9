"""The LLM path against a real model server: llama-cpp-python's OpenAI-compatible server with
SmolLM2-135M-Instruct, a small model that is often wrong, so its output is real and messy.

What is asserted is the promise, not the model's wording: every `[n]` shown is a citation whose
quote is the article's text at its offsets and whose sentence the checker finds to support the
claim it ends; no sentence is shown without such a citation; a reply with nothing supported is
a refusal (or the offline answer) saying so. `make llm-server` builds the server; where it could
not, these tests skip with its reason.
"""

from __future__ import annotations

import json
import re

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from starlette.testclient import TestClient

from bench.llama_server import llama_server, unavailable
from rag.answering.checker import (
    _REFUSAL,
    CitationChecker,
    answer_sentences,
    has_words,
    strip_markers,
)
from rag.answering.llm import LLMAnswerer, message_text
from rag.types import Answer, AnswerContext, Citation, Hit
from tests.conftest import SEED

pytestmark = pytest.mark.slow

QUESTIONS = ["Who represented the US?", "What weapons system did Germany refuse to send?"]
UNANSWERABLE = "How many tanks did France send last year?"
MAX_TOKENS = 64


class Replies(BaseCallbackHandler):
    """Keeps the model's raw replies, so a failure shows what the model wrote."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def on_llm_end(self, response, **kwargs):
        self.texts.extend(g.text or message_text(getattr(g, "message", "")) for gs in response.generations for g in gs)


@pytest.fixture(scope="module")
def server():
    why = unavailable()
    if why:
        pytest.skip(why)
    with llama_server() as running:
        yield running


@pytest.fixture(scope="module")
def llm_assistant(server, tmp_path_factory, real_embeddings):
    from rag.assistant import Assistant
    from rag.config import Settings

    settings = Settings(
        _env_file=None,
        index_dir=tmp_path_factory.mktemp("real-llm") / "index",
        answerer="openai",
        llm_base_url=server.base_url,
        llm_model=server.model,
        llm_max_tokens=MAX_TOKENS,
        k=3,  # a short prompt: SmolLM2 reads ~60 tokens/s on one shared core
        llm_timeout=120,
        llm_rewrite=False,
    )
    assistant = Assistant(settings, embeddings=real_embeddings)
    assistant.index(SEED)
    return assistant


def assert_promise(assistant, question: str, text: str, citations: list[Citation], refused: bool,
                   *, checked: bool = True) -> None:
    """Every shown sentence ends in citations quoting the article at their offsets that the
    checker finds to support it (`checked`: False for the offline answer, which quotes only)."""
    markers = [int(n) for n in re.findall(r"(?<!\\)\[(\d+)\]", text)]
    assert set(markers) == {c.n for c in citations}, text
    assert [c.n for c in citations] == list(range(1, len(citations) + 1))
    for c in citations:
        assert assistant.article(c.article_id).text[c.start : c.end] == c.quote
    if refused or not citations:
        assert refused and not citations, text
        return
    if not checked:
        return
    pipeline = assistant._answer_pipeline()  # noqa: SLF001 - the test asks the checker again
    chunks = {ch.id: ch for ch in pipeline.retriever.chunks}
    checker = CitationChecker(assistant.embeddings)
    by_n = {c.n: c for c in citations}
    for start, end in answer_sentences(text):
        sentence = text[start:end]
        cited = [int(n) for n in re.findall(r"(?<!\\)\[(\d+)\]", sentence)]
        assert cited, f"a sentence without a citation is shown: {sentence!r}"
        claim = " ".join(strip_markers(sentence).replace("**", "").split())
        for n in cited:
            c = by_n[n]
            sup = checker.support(claim, 1, Hit(chunks[c.chunk_id], 1.0, 1.0, 1.0), pipeline.corpus, question)
            assert sup is not None and sup.supported, (claim, c.quote, sup)
            assert (sup.start, sup.end) == (c.start, c.end), (claim, c.quote)


def assert_answer(assistant, answer: Answer, question: str) -> None:
    offline = answer.answerer == "extractive"
    if offline:  # the server failed: the offline answer, which must say so
        assert answer.notice, answer
    if answer.refused and not offline and answer.notice:
        assert "not shown" in answer.notice or "Removed" in answer.notice, answer.notice
    assert_promise(assistant, question, answer.text, answer.citations, answer.refused,
                   checked=not offline)


def test_python_api_plain_and_streaming(llm_assistant):
    for question in (QUESTIONS[0], UNANSWERABLE):
        assert_answer(llm_assistant, llm_assistant.ask(question), question)
    *pieces, streamed = list(llm_assistant.stream(QUESTIONS[1]))
    assert isinstance(streamed, Answer)
    assert "".join(pieces) == streamed.text
    assert_answer(llm_assistant, streamed, QUESTIONS[1])


def test_all_unsupported_real_reply_becomes_a_refusal_with_a_notice(llm_assistant):
    """The model's real reply, with every citation pointed at passages that do not exist."""
    pipeline = llm_assistant._answer_pipeline()  # noqa: SLF001
    answerer: LLMAnswerer = pipeline.answerer
    replies = Replies()
    question = QUESTIONS[0]
    vector = llm_assistant.embeddings.embed_query(question)
    hits = pipeline.retriever.retrieve(question, k=llm_assistant.settings.k, query_vector=vector)
    from rag.answering.llm import answer_messages

    reply = message_text(answerer.chat_model.invoke(answer_messages(question, hits), config={"callbacks": [replies]}))
    assert reply.strip(), "the server returned an empty reply"
    sentences = [reply[s:e] for s, e in answer_sentences(reply)]
    bad = " ".join(strip_markers(s).strip() + f" [{len(hits) + 7}]" for s in sentences if s.strip())
    answer = answerer.check(bad, AnswerContext(question, hits, pipeline.corpus, vector))
    assert answer.refused and not answer.citations, (reply, answer.text)
    # Said why, unless every sentence of the reply was itself a refusal ("I cannot answer that...").
    if not all(_REFUSAL.search(s) for s in sentences if has_words(s)):
        assert answer.notice and "not shown" in answer.notice, (reply, answer)


def test_own_openai_endpoint_plain_and_streaming(llm_assistant):
    from rag.http.app import create_app

    client = TestClient(create_app(llm_assistant))
    question = QUESTIONS[1]
    body = {"model": "article-chat", "messages": [{"role": "user", "content": question}]}
    plain = client.post("/v1/chat/completions", json=body)
    assert plain.status_code == 200, plain.text
    data = plain.json()
    assert_promise(llm_assistant, question, data["choices"][0]["message"]["content"],
                   [Citation(**c) for c in data["citations"]], data["refused"])

    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as resp:
        assert resp.status_code == 200
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop"
    assert_promise(llm_assistant, question, text, [Citation(**c) for c in final["citations"]], final["refused"])
