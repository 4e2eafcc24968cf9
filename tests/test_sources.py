"""Clients see a file's path relative to the folder it was indexed from (or its name), never the
server's absolute path; the absolute path is kept, privately, to re-index the file."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from rag.http.app import create_app
from tests.conftest import write
from tests.test_cli import rag


def _news(root):
    write(root / "world" / "harbour.md", "# Harbour\n\nThe harbour reopened on Tuesday after the storm.\n")
    write(root / "local" / "bakery.md", "# Bakery\n\nThe bakery on Main Street won the bread prize.\n")
    return root


def test_the_api_shows_paths_relative_to_the_indexed_folder(assistant, tmp_path):
    root = _news(tmp_path / "news")
    other = tmp_path / "elsewhere"
    write(other / "harbour.md", "# Harbour\n\nA second harbour story: the ferry was cancelled.\n")
    assert len(assistant.index(root).added) == 2
    assert len(assistant.index(other).added) == 1  # same name, another file: another article
    with TestClient(create_app(assistant)) as client:
        listed = client.get("/v1/articles").json()["articles"]
        assert sorted(a["source"] for a in listed) == ["harbour.md", "local/bakery.md", "world/harbour.md"]
        shown = [client.get(f"/v1/articles/{a['id']}").text for a in listed]
        asked = client.post("/v1/ask", json={"question": "When did the harbour reopen?"}).json()
    assert asked["citations"] and {c["source"] for c in asked["citations"]} <= {"world/harbour.md", "harbour.md"}
    for body in [json.dumps(listed), json.dumps(asked), *shown]:
        assert str(tmp_path) not in body


def test_a_file_is_reindexed_from_where_it_lies_and_keeps_its_shown_path(assistant, tmp_path):
    root = _news(tmp_path / "news")
    assistant.index(root)
    write(root / "world" / "harbour.md", "# Harbour\n\nThe harbour reopened on Wednesday after repairs.\n")
    assert assistant.reindex("harbour").updated == ["harbour"]
    article = assistant.article("harbour")
    assert "Wednesday" in article.text and article.source == "world/harbour.md"
    assert article.location == str((root / "world" / "harbour.md").resolve())
    assert assistant.index(root / "world" / "harbour.md").skipped == ["harbour"]  # the same file, not a copy


def test_an_index_from_before_shows_the_file_name_and_still_reindexes(assistant, tmp_path):
    """Records made before `location`: a file's source was its absolute path."""
    story = write(tmp_path / "news" / "harbour.md", "# Harbour\n\nThe harbour reopened on Tuesday.\n")
    assistant.index(story)
    records = assistant.store.records
    with records.engine.begin() as conn:
        conn.execute(records.articles.update().values(source=str(story.resolve()), location=None))
    assert [a.source for a in assistant.articles()] == ["harbour.md"]
    assert assistant.article("harbour").source == "harbour.md"
    assert str(tmp_path) not in assistant.ask("When did the harbour reopen?").citations[0].source
    write(story, "# Harbour\n\nThe harbour reopened on Friday.\n")
    assert assistant.reindex("harbour").updated == ["harbour"]
    assert "Friday" in assistant.article("harbour").text


def test_the_cli_lists_and_cites_relative_paths(tmp_path):
    root = _news(tmp_path / "news")
    idx = tmp_path / "index"
    r = rag("index", str(root), env_dir=idx)
    assert r.returncode == 0 and "2 added" in r.stdout, r.stderr
    listed = rag("list", "--json", env_dir=idx)
    assert {a["source"] for a in json.loads(listed.stdout)} == {"world/harbour.md", "local/bakery.md"}
    asked = rag("ask", "Which bakery won the bread prize?", "--json", env_dir=idx)
    assert asked.returncode == 0, asked.stderr
    assert [c["source"] for c in json.loads(asked.stdout)["citations"]][:1] == ["local/bakery.md"]
    for out in (listed.stdout, asked.stdout, rag("list", env_dir=idx).stdout):
        assert str(tmp_path) not in out
