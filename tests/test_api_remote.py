"""`rag index` hands its articles to a running server on the same index (rag.remote), through the API."""

from __future__ import annotations

import httpx

from rag.http.app import create_app
from tests.conftest import SEED, write
from tests.test_api_openai import running_server


def _settings_for(assistant, url: str, **overrides):
    port = int(url.rsplit(":", 1)[1])
    return assistant.settings.model_copy(update={"host": "127.0.0.1", "port": port, **overrides})


def test_index_is_handed_to_the_server_that_has_the_index_open(seeded, tmp_path):
    from rag.http.client import index_via_server
    from rag.http.client import running_server as find_server

    story = write(tmp_path / "harbour.md", "# Harbour news\n\nThe lantern of harbour 19 is green.\n")
    with running_server(create_app(seeded)) as url:
        settings = _settings_for(seeded, url)
        assert find_server(settings) == url
        other_index = settings.model_copy(update={"index_dir": tmp_path / "elsewhere"})
        assert find_server(other_index) is None

        report = index_via_server(url, settings, [str(SEED), str(story), str(tmp_path / "missing.md")])
        assert report.skipped == ["paris-summit-on-ukraine"]  # same source as `rag index` gave it
        assert report.added == ["harbour"]
        assert [source for source, _ in report.failed] == [str(tmp_path / "missing.md")]
        answer = httpx.post(f"{url}/v1/ask", json={"question": "What colour is the lantern of harbour 19?"},
                            timeout=60).json()
        assert "green" in answer["text"]
    # Clients are shown the path relative to the folder given, never the absolute one (issue 15).
    assert [a.source for a in seeded.articles() if a.id == "harbour"] == ["harbour.md"]


def test_hand_off_with_a_token(seeded, tmp_path):
    from rag.http.client import index_via_server

    seeded.settings = seeded.settings.model_copy(update={"api_token": "s3cret"})
    story = write(tmp_path / "ferry.txt", "The ferry to the island leaves at nine.")
    with running_server(create_app(seeded)) as url:
        settings = _settings_for(seeded, url)
        report = index_via_server(url, settings, [str(story)])
        assert report.added == ["ferry"], report.failed
        wrong = index_via_server(url, settings.model_copy(update={"api_token": "wrong"}), [str(story)])
        assert wrong.failed and "token" in wrong.failed[0][1]
        # With a token, /healthz shows the index path only to requests that carry it.
        from rag.http.client import _headers

        health = httpx.get(f"{url}/healthz", headers=_headers(settings), timeout=30).json()
        assert health["index_dir"] == str(seeded.settings.index_dir.resolve())
        assert "index_dir" not in httpx.get(f"{url}/healthz", timeout=30).json()
