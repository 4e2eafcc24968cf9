"""No user of the chat or the HTTP API can make the server read its own files.

A URL box that takes a path, or an uploaded article whose `source` label names a path, must never
reach the file loader: only the server's owner (CLI, Python API) indexes from disk.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from rag import ingest
from rag.errors import IngestError
from rag.http.app import create_app
from tests.conftest import ROOT, SEED
from ui import handlers

SEED_ID = "paris-summit-on-ukraine"

# What a user might type into "…or an http(s) URL", meaning (or not) a file on the server.
NOT_WEB_ADDRESSES = [
    "/etc/os-release",
    "~/.bashrc",
    ".",
    "seeds",
    str(ROOT / "seeds"),
    str(SEED),
    "file:///etc/passwd",
    "FILE:/etc/passwd",
    " /etc/passwd",
    "\t/etc/passwd\n",
    "ftp://example.org/article.txt",
    "http:/etc/passwd",
    "http:///etc/passwd",
    "https://",
]


@pytest.fixture
def no_disk_reads(monkeypatch):
    """Fail the test if anything tries to load an article from the server's disk."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"the server's disk was read: {args}")

    monkeypatch.setattr(ingest, "load_path", refuse)
    monkeypatch.setattr(ingest, "expand_paths", refuse)
    monkeypatch.setattr("rag.assistant.load_sources", refuse)


def _state(assistant):
    return [(a.id, a.content_hash, a.chunk_count) for a in assistant.articles()]


@pytest.mark.parametrize("typed", NOT_WEB_ADDRESSES)
def test_the_url_box_never_reads_a_server_path(seeded, no_disk_reads, typed):
    before = _state(seeded)
    message = handlers.add_url(seeded, typed)[1]
    assert message.startswith("⚠️") and "http:// or https://" in message, message
    assert _state(seeded) == before


@pytest.mark.parametrize("typed", NOT_WEB_ADDRESSES)
def test_the_api_url_field_never_reads_a_server_path(seeded, no_disk_reads, typed):
    before = _state(seeded)
    with TestClient(create_app(seeded)) as client:
        r = client.post("/v1/articles", json={"url": typed})
    assert r.status_code == 422, r.text
    assert "http:// or https://" in r.json()["error"]["message"]
    assert _state(seeded) == before


def test_assistant_index_url_refuses_paths(seeded, no_disk_reads):
    with pytest.raises(IngestError, match="not a web address"):
        seeded.index_url("/etc/os-release")


@pytest.mark.parametrize("label", ["/etc/os-release", ".", "/", str(SEED)])
def test_an_uploaded_source_label_is_never_read_on_reindex(seeded, no_disk_reads, label):
    with TestClient(create_app(seeded)) as client:
        r = client.post(
            "/v1/articles",
            files={"file": ("notes.txt", b"The ferry to the island leaves at noon on Sundays.")},
            data={"source": label},
        )
    assert r.status_code == 200, r.text
    article_id = (r.json()["report"]["added"] or r.json()["report"]["updated"])[0]
    before = _state(seeded)
    message = handlers.reindex(seeded, article_id)[1]
    assert message.startswith("⚠️") and "uploaded or pasted" in message, message
    assert _state(seeded) == before
    with pytest.raises(IngestError, match="uploaded or pasted"):
        seeded.reindex(article_id)


def test_pasted_text_cannot_be_reindexed_from_a_path(assistant, no_disk_reads):
    assistant.index_text("The ferry leaves at noon.", title="Ferry", source="/etc/os-release")
    assert "uploaded or pasted" in handlers.reindex(assistant, "ferry")[1]


def test_an_article_the_owner_indexed_from_disk_is_reindexed_from_it(seeded, tmp_path):
    story = tmp_path / "harbour.md"
    story.write_text("# Harbour\n\nThe harbour reopened on Tuesday.\n")
    seeded.index(story)
    story.write_text("# Harbour\n\nThe harbour reopened on Wednesday after repairs.\n")
    message = handlers.reindex(seeded, "harbour")[1]
    assert "Updated “Harbour”" in message, message
    assert "Wednesday" in seeded.article("harbour").text
    assert "already indexed and unchanged" in handlers.reindex(seeded, SEED_ID)[1]


def test_a_fetched_url_is_fetched_again_through_the_guard(assistant, local_site):
    assistant.settings = assistant.settings.model_copy(update={"allow_private_urls": True})
    report = assistant.index_url(f"  {local_site}/page  ")
    assert len(report.added) == 1, report.failed
    article_id = report.added[0]
    assert assistant.article(article_id).origin == "url"
    assert "already indexed and unchanged" in handlers.reindex(assistant, article_id)[1]
    # With the guard back on, the same loopback address is refused, not fetched.
    assistant.settings = assistant.settings.model_copy(update={"allow_private_urls": False})
    assert "non-public address" in handlers.reindex(assistant, article_id)[1]


def test_records_from_before_origins_are_not_read_from_disk(seeded, no_disk_reads):
    """An index made before origins were recorded: its `source` could have come from a client."""
    records = seeded.store.records
    with records.engine.begin() as conn:
        conn.execute(records.articles.update().values(origin=None))
    assert seeded.article(SEED_ID).origin == "unknown"
    assert "cannot be re-indexed from here" in handlers.reindex(seeded, SEED_ID)[1]


def test_an_old_index_gains_the_origin_column(tmp_path):
    """Records written before the column existed open, and say nothing about their origin."""
    import sqlalchemy as sa

    from rag.index.records import ArticleRecords

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE articles (id VARCHAR(200) PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, "
            "content_hash VARCHAR(64) NOT NULL, chunking TEXT NOT NULL, text TEXT NOT NULL, "
            "chunk_count INTEGER NOT NULL, indexed_at FLOAT NOT NULL)"
        ))
        conn.execute(sa.text(
            "INSERT INTO articles VALUES ('a', 'A', '/etc/os-release', 'h', 'c', 'Text.', 1, 0)"
        ))
    engine.dispose()
    records = ArticleRecords(url)
    assert records.get("a")["origin"] is None
    records.close()
