"""The HTTP API: every endpoint with good and bad input, limits, auth, the UI mount, concurrent use."""

from __future__ import annotations

import json
import sys
import threading

import pytest
from fastapi.testclient import TestClient

from rag.http.app import create_app
from tests.conftest import SEED

SEED_ID = "paris-summit-on-ukraine"
QUESTION = "Who represented the US?"


@pytest.fixture
def client(seeded):
    with TestClient(create_app(seeded)) as c:
        yield c


def _client(assistant, **overrides):
    """A client for `assistant` with settings overridden (limits, token)."""
    assistant.settings = assistant.settings.model_copy(update=overrides)
    return TestClient(create_app(assistant))


def _error(response, status: int, kind: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    if kind:
        assert body["error"]["type"] == kind, body
    return body["error"]["message"]


def _index_state(assistant):
    return [(a.id, a.content_hash, a.chunk_count) for a in assistant.articles()], assistant.store.count_chunks()


def _sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


# --- health ----------------------------------------------------------------------------------------
def test_healthz_reports_articles_and_a_loaded_model(client, seeded):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["app"] == "article-chat" and body["articles"] == 1
    assert body["chunks"] == seeded.store.count_chunks() > 0
    assert body["model_loaded"] is True and body["model"]
    assert body["store"] == "embedded" and body["index_dir"] == str(seeded.settings.index_dir.resolve())


def test_healthz_shows_the_index_path_only_with_the_token(seeded):
    with _client(seeded, api_token="s3cret") as c:
        assert "index_dir" not in c.get("/healthz").json()
        assert "index_dir" in c.get("/healthz", headers={"Authorization": "Bearer s3cret"}).json()


def test_healthz_is_ok_on_an_empty_index(assistant):
    with _client(assistant) as c:
        r = c.get("/healthz")
    assert r.status_code == 200 and r.json()["articles"] == 0


def test_healthz_is_503_when_the_index_cannot_be_read(seeded):
    from rag.errors import IndexNotReadyError

    def broken():
        raise IndexNotReadyError("Cannot reach the Chroma server at 127.0.0.1:8000.")

    seeded.articles = broken
    with _client(seeded) as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "error" and "Chroma server" in r.json()["error"]["message"]


def test_docs_and_openapi_are_served(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/ask", "/v1/ask/stream", "/v1/articles", "/v1/articles/{article_id}", "/v1/chat/completions"):
        assert path in paths


# --- ask -------------------------------------------------------------------------------------------
def test_ask_returns_the_answer_with_exact_citations(client):
    r = client.post("/v1/ask", json={"question": QUESTION})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert "deputy secretary of state" in answer["text"] and not answer["refused"]
    assert answer["citations"] and "[1]" in answer["text"]
    text = client.get(f"/v1/articles/{SEED_ID}").json()["text"]
    for c in answer["citations"]:
        assert text[c["start"] : c["end"]] == c["quote"]


def test_ask_within_one_article_and_with_history(client):
    r = client.post(
        "/v1/ask",
        json={
            "question": "And Italy?",
            "article": SEED_ID,
            "history": [
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": "A deputy secretary of state. [1]"},
            ],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["query"] and "Italy" in r.json()["query"]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"question": ""}, "invalid_question"),
        ({"question": "   \n "}, "invalid_question"),
        ({"question": "x" * 2001}, "invalid_question"),
        ({}, "invalid_request"),
        ({"question": 42}, "invalid_request"),
        ({"question": QUESTION, "history": [{"role": "wizard", "content": "hi"}]}, "invalid_request"),
        ([QUESTION], "invalid_request"),
    ],
)
def test_ask_rejects_bad_input_with_422(client, body, kind):
    _error(client.post("/v1/ask", json=body), 422, kind)


def test_too_long_question_names_the_limit(client):
    message = _error(client.post("/v1/ask", json={"question": "why " * 600}), 422)
    assert "2,000" in message


def test_ask_with_malformed_json_is_422(client):
    r = client.post("/v1/ask", content=b'{"question": "Who', headers={"content-type": "application/json"})
    assert "not valid JSON" in _error(r, 422, "invalid_request")


def test_ask_about_an_unknown_article_is_404(client):
    message = _error(client.post("/v1/ask", json={"question": QUESTION, "article": "ghost"}), 404, "not_found")
    assert "ghost" in message


def test_ask_before_anything_is_indexed_says_what_to_do(assistant):
    with _client(assistant) as c:
        r = c.post("/v1/ask", json={"question": QUESTION})
    assert "No articles are indexed" in _error(r, 503, "index_not_ready")
    assert r.headers["x-should-retry"] == "false"  # retrying will not index anything


def test_stream_sends_deltas_then_the_answer_then_done(client):
    r = client.post("/v1/ask/stream", json={"question": QUESTION})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _sse_events(r.text)
    names = [name for name, _ in events]
    assert names[-2:] == ["answer", "done"] and set(names[:-2]) == {"delta"}
    answer = events[-2][1]
    assert "".join(data["text"] for name, data in events if name == "delta") == answer["text"]
    assert "deputy secretary of state" in answer["text"] and answer["citations"]


def test_stream_with_bad_input_is_a_json_error_not_a_stream(client):
    r = client.post("/v1/ask/stream", json={"question": ""})
    _error(r, 422, "invalid_question")
    _error(client.post("/v1/ask/stream", json={"question": QUESTION, "article": "ghost"}), 404)


# --- articles --------------------------------------------------------------------------------------
def test_list_and_get_articles_with_exact_chunks(client):
    listed = client.get("/v1/articles").json()["articles"]
    assert [a["id"] for a in listed] == [SEED_ID] and listed[0]["chunk_count"] > 0
    article = client.get(f"/v1/articles/{SEED_ID}").json()
    assert article["title"] == "Paris summit on Ukraine"
    assert len(article["chunks"]) == listed[0]["chunk_count"]
    for chunk in article["chunks"]:
        assert article["text"][chunk["start"] : chunk["end"]] == chunk["text"]


def test_get_unknown_article_is_404(client):
    _error(client.get("/v1/articles/ghost"), 404, "not_found")


def test_add_pasted_text_then_again_is_skipped(client):
    body = {"text": "The mayor opened a new library. It holds ten thousand books.", "title": "Library opens"}
    r = client.post("/v1/articles", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 1 and r.json()["report"]["added"] == ["library-opens"]
    again = client.post("/v1/articles", json=body).json()
    assert (again["added"], again["skipped"]) == (0, 1)
    answer = client.post("/v1/ask", json={"question": "How many books does the library hold?"}).json()
    assert "ten thousand" in answer["text"]


def test_add_pasted_text_with_an_id_then_update_it(client):
    r = client.post("/v1/articles", json={"text": "First version of the story.", "id": "story-1"})
    assert r.json()["added"] == 1
    r = client.post("/v1/articles", json={"text": "Second, longer version of the story.", "id": "story-1"})
    assert r.json()["updated"] == 1
    assert "Second" in client.get("/v1/articles/story-1").json()["text"]


def test_upload_a_file(client):
    r = client.post(
        "/v1/articles",
        files={"file": ("harbour.md", b"# Harbour news\n\nThe lantern of harbour 19 is green.", "text/markdown")},
    )
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 1
    assert client.get("/v1/articles/harbour").json()["title"] == "Harbour news"


def test_upload_with_a_source_keeps_that_identity(client, seeded):
    """`rag index` hands files to a running server with their own path as the source."""
    own_path = {"source": str(SEED.resolve())}
    r = client.post("/v1/articles", files={"file": (SEED.name, SEED.read_bytes())}, data=own_path)
    assert r.status_code == 200, r.text
    assert r.json()["skipped"] == 1 and r.json()["report"]["skipped"] == [SEED_ID]
    edited = SEED.read_bytes() + b"\n\nA late paragraph about the summit's closing dinner.\n"
    r = client.post("/v1/articles", files={"file": (SEED.name, edited)}, data=own_path)
    assert r.json()["updated"] == 1 and [a.id for a in seeded.articles()] == [SEED_ID]
    _error(client.post("/v1/articles", files={"file": ("a.txt", b"Some text.")}, data={"source": " "}), 422)


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"files": {"file": ("photo.txt", b"\x89PNG\r\n\x00\x00\x00\rIHDR\x00\x01", "text/plain")}},
        {"files": {"file": ("empty.md", b"   \n", "text/markdown")}},
        {"files": {"other": ("a.txt", b"hello there", "text/plain")}},
        {"json": {"text": ""}},
        {"json": {"text": "Some text.", "url": "https://example.org/a"}},
        {"json": {"title": "No text"}},
        {"json": {"text": "Some text.", "id": "../etc/passwd"}},
        {"json": {"url": "/etc/passwd"}},
        {"json": {"url": "file:///etc/passwd"}},
        {"json": {"url": "http://127.0.0.1:1/private"}},
        {"content": b"not json", "headers": {"content-type": "application/json"}},
    ],
)
def test_bad_articles_are_422_and_change_nothing(client, seeded, request_kwargs):
    before = _index_state(seeded)
    r = client.post("/v1/articles", **request_kwargs)
    _error(r, 422)
    assert _index_state(seeded) == before


def test_binary_upload_says_it_is_binary(client):
    message = _error(client.post("/v1/articles", files={"file": ("x.txt", b"\x00\x01\x02" * 50)}), 422)
    assert "binary" in message


def test_upload_over_the_upload_limit_is_413_and_changes_nothing(seeded):
    with _client(seeded, max_upload_bytes=1_000, max_request_bytes=100_000) as c:
        r = c.post("/v1/articles", files={"file": ("big.txt", b"Words and more words. " * 100)})
        assert "1,000-byte" in _error(r, 413, "too_large")
        r = c.post("/v1/articles", json={"text": "Words and more words. " * 100})
        _error(r, 413, "too_large")
        ok = c.post("/v1/articles", files={"file": ("small.txt", b"A small article about the harbour.")})
        assert ok.status_code == 200
    assert [a.id for a in seeded.articles()] == [SEED_ID, "small"]


def test_body_over_the_request_limit_is_413(seeded):
    before = _index_state(seeded)
    with _client(seeded, max_request_bytes=2_000) as c:
        big = json.dumps({"text": "Words and more words. " * 200})
        _error(c.post("/v1/articles", content=big, headers={"content-type": "application/json"}), 413, "too_large")
        _error(c.post("/v1/ask", json={"question": "x" * 3_000}), 413, "too_large")

        def chunked():  # no Content-Length: the limit is enforced while reading
            for _ in range(10):
                yield b"x" * 500

        r = c.post("/v1/articles", content=chunked(), headers={"content-type": "application/json"})
        assert "content-length" not in {k.lower() for k in r.request.headers}
        _error(r, 413, "too_large")
        assert c.post("/v1/ask", json={"question": QUESTION}).status_code == 200
    assert _index_state(seeded) == before


def test_delete_an_article(client, seeded):
    client.post("/v1/articles", json={"text": "A short story about a ferry.", "id": "ferry"})
    r = client.delete("/v1/articles/ferry")
    assert r.status_code == 200 and r.json()["removed"] == 1
    assert [a.id for a in seeded.articles()] == [SEED_ID]
    _error(client.delete("/v1/articles/ferry"), 404, "not_found")
    assert client.post("/v1/ask", json={"question": QUESTION}).status_code == 200


def test_unknown_paths_and_methods_are_json_errors(client):
    _error(client.get("/v1/nothing-here"), 404, "not_found")
    r = client.get("/v1/ask")
    _error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["allow"]


# --- auth ------------------------------------------------------------------------------------------
def test_without_a_token_configured_everything_is_open(client):
    assert client.get("/v1/articles").status_code == 200


def test_token_is_required_everywhere_but_healthz(seeded):
    with _client(seeded, api_token="s3cret") as c:
        assert c.get("/healthz").status_code == 200
        for method, path in [("GET", "/v1/articles"), ("POST", "/v1/ask"), ("GET", "/docs"),
                             ("GET", "/openapi.json"), ("GET", "/v1/models"), ("GET", "/")]:
            r = c.request(method, path, json={"question": QUESTION} if method == "POST" else None)
            _error(r, 401, "unauthorized")
            assert r.headers["www-authenticate"] == "Bearer"
        _error(c.get("/v1/articles", headers={"Authorization": "Bearer wrong"}), 401)
        _error(c.get("/v1/articles", headers={"Authorization": "Basic s3cret"}), 401)
        good = {"Authorization": "Bearer s3cret"}
        assert c.get("/v1/articles", headers=good).status_code == 200
        assert c.post("/v1/ask", json={"question": QUESTION}, headers=good).status_code == 200


def test_unauthorized_bodies_are_not_indexed(seeded):
    before = _index_state(seeded)
    with _client(seeded, api_token="s3cret") as c:
        _error(c.post("/v1/articles", json={"text": "Sneaky article text."}), 401)
        _error(c.delete(f"/v1/articles/{SEED_ID}"), 401)
    assert _index_state(seeded) == before


def test_browser_login_sets_a_session_cookie(seeded):
    with _client(seeded, api_token="s3cret") as c:
        assert "<form" in c.get("/auth/login").text
        _error(c.get("/auth/login", params={"token": "wrong"}), 401)
        assert c.get("/v1/articles").status_code == 401
        r = c.get("/auth/login", params={"token": "s3cret", "next": "/docs"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/docs"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "s3cret" not in cookie
        assert c.get("/v1/articles").status_code == 200  # the client keeps the cookie
        c.get("/auth/logout")
        assert c.get("/v1/articles").status_code == 401
        r = c.post("/auth/login", data={"token": "s3cret"}, follow_redirects=False)
        assert r.status_code == 303 and c.get("/v1/articles").status_code == 200


def test_login_never_redirects_off_site(seeded):
    with _client(seeded, api_token="s3cret") as c:
        r = c.get("/auth/login", params={"token": "s3cret", "next": "//evil.example"}, follow_redirects=False)
        assert r.headers["location"] == "/"


# --- the UI mount ----------------------------------------------------------------------------------
def test_ui_is_mounted_at_root_and_the_api_still_answers(seeded):
    from ui.app import mount

    app = create_app(seeded, ui=mount)
    assert app.state.ui_mounted
    with TestClient(app) as c:
        root = c.get("/")
        assert root.status_code == 200 and "text/html" in root.headers["content-type"]
        assert c.get("/v1/articles").json()["articles"][0]["id"] == SEED_ID
        assert c.get("/healthz").json()["status"] == "ok"
        _error(c.get("/v1/nothing-here"), 404)


def test_ui_needs_the_token_too(seeded):
    from ui.app import mount

    seeded.settings = seeded.settings.model_copy(update={"api_token": "s3cret"})
    with TestClient(create_app(seeded, ui=mount)) as c:
        for path in ("/", "/config", "/gradio_api/info", "/theme.css"):
            assert c.get(path).status_code == 401, path
        c.get("/auth/login", params={"token": "s3cret"})
        assert c.get("/").status_code == 200


def test_missing_ui_is_a_warning_not_a_failure(seeded, monkeypatch, caplog):
    from rag.cli import chat_ui

    monkeypatch.setitem(sys.modules, "ui.app", None)  # makes the import raise ImportError
    with caplog.at_level("WARNING", logger="rag.cli"):
        app = create_app(seeded, ui=chat_ui())
    assert not app.state.ui_mounted
    assert "not mounted" in caplog.text
    with TestClient(app) as c:
        assert c.get("/v1/articles").status_code == 200


# --- concurrency -----------------------------------------------------------------------------------
MARKER = "zanzibarlantern"


def test_questions_are_answered_while_an_article_is_being_indexed(seeded):
    """A write held open inside the embedding step does not stop answers; writers run one at a time."""
    entered, release = threading.Event(), threading.Event()
    inside, most_inside = [0], [0]
    lock = threading.Lock()
    embed = seeded.embeddings.encode_with_spans  # the indexing pass: chunk and sentence vectors

    def slow_embed(texts, spans):
        if any(MARKER in t for t in texts):
            with lock:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
            entered.set()
            release.wait(timeout=60)
            with lock:
                inside[0] -= 1
        return embed(texts, spans)

    seeded.embeddings.encode_with_spans = slow_embed
    results = {}
    with TestClient(create_app(seeded)) as c:
        def write(name):
            results[name] = c.post("/v1/articles", json={"text": f"The {MARKER} of {name} is blue.", "id": name})

        writers = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(2)]
        writers[0].start()
        assert entered.wait(timeout=60), "the first write never reached the embedding step"
        writers[1].start()
        answer = c.post("/v1/ask", json={"question": QUESTION})  # while a write is in progress
        assert answer.status_code == 200 and "deputy secretary of state" in answer.json()["text"]
        assert not release.is_set() and writers[0].is_alive()
        release.set()
        for t in writers:
            t.join(timeout=60)
    assert [results[f"w{i}"].status_code for i in range(2)] == [200, 200]
    assert most_inside[0] == 1
    assert {"w0", "w1"} <= {a.id for a in seeded.articles()}


def test_concurrent_reads_and_writes_stay_consistent(seeded):
    errors, stop = [], threading.Event()
    with TestClient(create_app(seeded)) as c:
        def ask():
            while not stop.is_set():
                r = c.post("/v1/ask", json={"question": QUESTION})
                if r.status_code != 200 or "deputy secretary of state" not in r.json()["text"]:
                    errors.append(r.text)

        def write(k):
            for i in range(4):
                r = c.post("/v1/articles", json={"text": f"Ferry {k} sailed {i} times.", "id": f"f{k}-{i}"})
                if r.status_code != 200:
                    errors.append(r.text)
            if c.delete(f"/v1/articles/f{k}-0").status_code != 200:
                errors.append("delete failed")

        askers = [threading.Thread(target=ask) for _ in range(3)]
        writers = [threading.Thread(target=write, args=(k,)) for k in range(2)]
        for t in askers + writers:
            t.start()
        for t in writers:
            t.join(timeout=120)
        stop.set()
        for t in askers:
            t.join(timeout=60)
        listed = c.get("/v1/articles").json()["articles"]
    assert errors == []
    assert sorted(a["id"] for a in listed) == sorted([SEED_ID, "f0-1", "f0-2", "f0-3", "f1-1", "f1-2", "f1-3"])
    assert sum(a["chunk_count"] for a in listed) == seeded.store.count_chunks()


def test_too_many_waiting_writers_are_told_to_retry(seeded, monkeypatch):
    monkeypatch.setattr(seeded, "_write_slots", threading.BoundedSemaphore(1))  # MAX_WAITING_WRITERS=1
    entered, release = threading.Event(), threading.Event()
    embed = seeded.embeddings.encode_with_spans

    def slow_embed(texts, spans):
        if any(MARKER in t for t in texts):
            entered.set()
            release.wait(timeout=60)
        return embed(texts, spans)

    seeded.embeddings.encode_with_spans = slow_embed
    with TestClient(create_app(seeded)) as c:
        first = {}
        t = threading.Thread(target=lambda: first.update(r=c.post("/v1/articles", json={"text": f"A {MARKER}."})))
        t.start()
        try:
            assert entered.wait(timeout=60)
            r = c.post("/v1/articles", json={"text": "Another article entirely."})
            _error(r, 503, "unavailable")
            assert r.headers["retry-after"]
        finally:
            release.set()
            t.join(timeout=60)
        assert first["r"].status_code == 200
        assert c.post("/v1/articles", json={"text": "Another article entirely."}).status_code == 200


def test_access_logs_never_show_the_login_token():
    import logging

    from rag.http.serve import RedactTokens

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/auth/login?next=/&token=s3cret", "1.1", 303), None,
    )
    assert RedactTokens().filter(record) is True
    line = record.getMessage()
    assert "s3cret" not in line and "token=***" in line and "next=/" in line
