"""Article records and LangChain's record manager in a real PostgreSQL (RAG_RECORDS_URL), not SQLite."""

import pytest

from tests.conftest import SEED, write
from tests.helpers.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures


def test_index_ask_reindex_remove_with_records_in_postgresql(postgres_url, postgres_server, tmp_path):  # noqa: F811
    from rag.assistant import Assistant
    from rag.config import Settings

    settings = Settings(_env_file=None, index_dir=tmp_path / "index", embedding_backend="fake", records_url=postgres_url)
    assistant = Assistant(settings)
    assert assistant.index(SEED).added == ["paris-summit-on-ukraine"]
    assert not (tmp_path / "index" / "records.sqlite").exists()
    assert "deputy secretary of state" in assistant.ask("Who represented the US?").text
    assert assistant.index(SEED).skipped == ["paris-summit-on-ukraine"]

    database = postgres_url.rsplit("/", 1)[1]
    with postgres_server.connect(database) as conn:
        (recorded,) = conn.execute("SELECT chunk_count FROM articles WHERE id = 'paris-summit-on-ukraine'").fetchone()
        (keys,) = conn.execute("SELECT count(*) FROM upsertion_record").fetchone()
    assert recorded == keys == assistant.store.count_chunks() > 0

    short = write(tmp_path / "short.md", SEED.read_text()[:900])
    assistant.index(short)
    assistant.remove("short")
    assert [a.id for a in Assistant(settings).articles()] == ["paris-summit-on-ukraine"]  # as another process sees it
    with postgres_server.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM articles WHERE id = 'short'").fetchone() == (0,)


def test_a_wrong_password_is_a_clear_error_without_the_password(postgres_server, tmp_path):  # noqa: F811
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.errors import IndexNotReadyError

    url = postgres_server.url().replace(postgres_server.password, "not-the-password")
    assistant = Assistant(Settings(_env_file=None, index_dir=tmp_path / "index", embedding_backend="fake", records_url=url))
    with pytest.raises(IndexNotReadyError) as err:
        assistant.articles()
    message = str(err.value)
    assert "RAG_RECORDS_URL" in message and "password authentication failed" in message
    assert "not-the-password" not in message
