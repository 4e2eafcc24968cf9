"""Property-based checks on arbitrary Unicode: chunk offsets and citation integrity always hold."""

import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from rag.errors import IngestError

WORDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=32), min_size=1, max_size=12
)
ARTICLES = st.lists(
    st.tuples(st.lists(WORDS, min_size=1, max_size=14), st.sampled_from([". ", "! ", "? ", "\n\n", "; ", " "])),
    min_size=1,
    max_size=25,
).map(lambda parts: "".join(" ".join(ws) + sep for ws, sep in parts))


@pytest.fixture(scope="module")
def prop_assistant(tmp_path_factory):
    from rag.assistant import Assistant
    from rag.config import Settings

    return Assistant(Settings(index_dir=tmp_path_factory.mktemp("prop"), embedding_backend="fake", _env_file=None))


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ARTICLES, pick=st.integers(0, 10_000))
def test_citations_quote_the_article_exactly(prop_assistant, text, pick):
    try:
        prop_assistant.index_text(text, title="Property article", article_id="prop")
    except IngestError:
        assert not re.sub(r"[\x00-\x1f\x7f-\x9f]", "", text).strip()
        return
    article = prop_assistant.article("prop")
    words = re.findall(r"\w+", article.text)
    question = ("What about " + " ".join(words[pick % len(words) :][:4]) + "?") if words else "What?"
    answer = prop_assistant.ask(question, article="prop")
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.n for c in answer.citations}
    for c in answer.citations:
        assert article.text[c.start : c.end] == c.quote
    for p in answer.passages:
        assert article.text[p.start : p.end] == p.text
