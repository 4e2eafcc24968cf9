"""Scale-out: the same assistant on a real `chroma run` server instead of the embedded index."""


import pytest

from tests.conftest import SEED, write
from tests.helpers.chroma import chroma_run


@pytest.fixture
def chroma_server(tmp_path):
    with chroma_run(tmp_path / "chroma-data") as port:
        yield port


def test_index_ask_reindex_on_a_chroma_server(chroma_server, tmp_path):
    from rag.assistant import Assistant
    from rag.config import Settings

    settings = Settings(
        _env_file=None, store="server", chroma_host="127.0.0.1", chroma_port=chroma_server,
        index_dir=tmp_path / "records", embedding_backend="fake",
    )
    assistant = Assistant(settings)
    report = assistant.index(SEED)
    assert report.added == ["paris-summit-on-ukraine"]
    assert not (tmp_path / "records" / "chroma").exists(), "server mode must not create an embedded index"
    answer = assistant.ask("Who represented the US?")
    assert "deputy secretary of state" in answer.text
    assert assistant.index(SEED).skipped == ["paris-summit-on-ukraine"]

    # A second process-like client (another replica) sees the same vectors.
    other = Assistant(settings)
    assert other.store.count_chunks() == assistant.store.count_chunks() > 0

    path = write(tmp_path / "short.md", SEED.read_text()[:900])
    assistant.index(path)
    assistant.remove("short")
    assert {a.id for a in assistant.articles()} == {"paris-summit-on-ukraine"}
    assert all(c.article_id == "paris-summit-on-ukraine" for c in other.store.chunks())
