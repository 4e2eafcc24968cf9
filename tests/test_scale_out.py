"""Scale-out end to end: one `chroma run`, one PostgreSQL, two `rag serve` replicas on loopback.

Both replicas index at once (20 articles each, 5 of them the same); then chunk counts are exact,
nothing is duplicated, each replica answers about every article, and a removal through one is
gone from the other. Then one replica is killed with SIGKILL in the middle of writing a long
article while a reader asks the other one questions the whole time: no request fails, no answer
quotes the half-written article, and posting it again completes it.

Slow-marked (processes and servers, ~1 minute), fake embeddings: the model is not the point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.helpers.chroma import chroma_run
from tests.helpers.postgres import _free_port, postgres_server, postgres_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

CHUNK_SIZE, CHUNK_OVERLAP = 800, 200  # the defaults, which the replicas use


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got = predicate()
            if got:
                return got
        except Exception:  # not up yet
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} within {seconds:.0f} s")


@pytest.fixture
def chroma_port(tmp_path):
    with chroma_run(tmp_path / "chroma") as port:
        _wait(lambda: httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200,
              60, "chroma run did not answer")
        yield port


class Replica:
    """One `rag serve` process on loopback, sharing the Chroma server and the database."""

    def __init__(self, name: str, env: dict, tmp_path: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (tmp_path / f"{name}.log").open("w")
        # Its temporary files (the chat's export folder) go under the test's folder: a replica
        # killed with SIGKILL cannot remove them itself.
        scratch = tmp_path / f"{name}-tmp"
        scratch.mkdir()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--index-dir", str(tmp_path / f"{name}-local")],
            env={**env, "TMPDIR": str(scratch)}, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def wait_ready(self):
        _wait(lambda: self.client.get("/healthz", timeout=2).status_code == 200, 90, f"{self.url} was not healthy")
        return self

    def post(self, article: dict) -> dict:
        got = self.client.post("/v1/articles", json=article)
        assert got.status_code == 200, got.text
        return got.json()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.client.close()
        self.log.close()


def _article(i: int) -> dict:
    """An article of a few chunks with one fact of its own (the colour of harbour i's lantern)."""
    filler = " ".join(
        f"Paragraph {p} of the harbour {i} report covers tides, moorings and the fish market in week {p}."
        for p in range(12)
    )
    fact = f"The lantern of harbour {i} is painted colour number {i * 7 + 1000}."
    return {"id": f"harbour-{i:02d}", "title": f"Harbour {i} report", "text": f"{filler}\n\n{fact}\n\n{filler}"}


def _question(i: int) -> str:
    return f"Which colour number is the lantern of harbour {i} painted?"


def _expected_chunks(text: str) -> int:
    from rag.chunking import chunk_article

    return len(chunk_article(text, CHUNK_SIZE, CHUNK_OVERLAP)[1])


def _collection(chroma_port: int):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.HttpClient(host="127.0.0.1", port=chroma_port, settings=ChromaSettings(anonymized_telemetry=False))
    return client.get_collection("articles")


def _check_stored(replica: Replica, collection, ids: set[str]) -> None:
    """Exact chunk counts, no duplicate chunk, records and vectors agree."""
    listed = {a["id"]: a for a in replica.client.get("/v1/articles").json()["articles"]}
    assert set(listed) == ids
    stored = collection.get(include=["metadatas"])
    assert len(stored["ids"]) == len(set(stored["ids"]))
    positions = [(m["article_id"], m["chunk_index"]) for m in stored["metadatas"]]
    assert len(positions) == len(set(positions)), "two vectors for one chunk"
    for article_id in ids:
        got = replica.client.get(f"/v1/articles/{article_id}").json()
        want = _expected_chunks(got["text"])
        assert listed[article_id]["chunk_count"] == want
        assert len(got["chunks"]) == want
        assert sorted(c["index"] for c in got["chunks"]) == list(range(want))
        for c in got["chunks"]:
            assert got["text"][c["start"] : c["end"]] == c["text"]
    assert collection.count() == sum(a["chunk_count"] for a in listed.values())


def test_two_replicas_on_chroma_server_and_postgresql(tmp_path, chroma_port, postgres_url):  # noqa: F811
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RAG_EMBEDDING_BACKEND": "fake",
        "RAG_STORE": "server",
        "RAG_CHROMA_HOST": "127.0.0.1",
        "RAG_CHROMA_PORT": str(chroma_port),
        "RAG_RECORDS_URL": postgres_url,
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    a, b = Replica("a", env, tmp_path), Replica("b", env, tmp_path)
    replicas = [a, b]
    try:
        a.wait_ready()
        b.wait_ready()

        # --- both index at once: 15-19 through both, first, so that they collide ---------------
        shared = list(range(15, 20))
        orders = {a: shared + list(range(0, 15)), b: shared + list(range(20, 35))}
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda r: [r.post(_article(i)) for i in orders[r]], replicas))
        assert all(len(rs) == 20 for rs in results)
        for i, (ra, rb) in enumerate(zip(results[0][:5], results[1][:5])):
            # Each shared article was added once and skipped (or updated with the same text) once.
            assert ra["added"] + rb["added"] >= 1, (i, ra, rb)
        ids = {f"harbour-{i:02d}" for i in range(35)}
        collection = _collection(chroma_port)
        for r in replicas:
            _check_stored(r, collection, ids)

        # --- each replica answers about every article ----------------------------------------
        for r in replicas:
            for i in range(35):
                got = r.client.post("/v1/ask", json={"question": _question(i)})
                assert got.status_code == 200, got.text
                answer = got.json()
                assert f"colour number {i * 7 + 1000}" in answer["text"], (r.url, i, answer["text"])
                assert {c["article_id"] for c in answer["citations"]} == {f"harbour-{i:02d}"}

        # --- a removal through one is gone from the other ------------------------------------
        assert a.client.delete("/v1/articles/harbour-03").json()["removed"] == 1
        ids.discard("harbour-03")
        assert b.client.get("/v1/articles/harbour-03").status_code == 404
        assert b.client.post("/v1/ask", json={"question": _question(3), "article": "harbour-03"}).status_code == 404
        answer = b.client.post("/v1/ask", json={"question": _question(3)}).json()
        assert "harbour-03" not in {c["article_id"] for c in answer["citations"]}
        assert "colour number 1021" not in answer["text"]
        assert collection.get(where={"article_id": "harbour-03"})["ids"] == []
        _check_stored(b, collection, ids)

        # --- kill -9 of A in the middle of a long write, while B answers the whole time -------
        long_article = {
            "id": "long-harbour-history",
            "title": "A long history of the harbours",
            "text": "\n\n".join(
                f"Chapter {n}. In year {1500 + n} the harbour master recorded {n * 3} ships, "
                f"{n * 11} barrels of salt and a storm named Storm{n}." * 3
                for n in range(1500)
            ),
        }
        long_chunks = _expected_chunks(long_article["text"])
        assert long_chunks > 5 * 64, "the write must span many of LangChain's 64-chunk batches"
        reader = _Reader(b, stop_after=120)
        reader.start()
        try:
            before = collection.count()
            posting = threading.Thread(target=lambda: _post_quietly(a, long_article), daemon=True)
            posting.start()
            _wait(lambda: collection.count() > before, 60, "the long article's first vectors did not arrive")
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(timeout=20)
            killed_at = time.monotonic()
            partial = collection.count() - before
            assert 0 < partial < long_chunks, "the kill must land in the middle of the write"
            # B keeps answering, and never from the half-written article (it has no record yet).
            time.sleep(2)
            assert b.client.get(f"/v1/articles/{long_article['id']}").status_code == 404
            rerun_at = time.monotonic()
            report = b.post(long_article)  # re-running the write through the survivor completes it
            assert report["added"] == 1, report
            time.sleep(1)
        finally:
            reader.stop()
        assert reader.asked > 20
        assert reader.failures == []
        assert reader.bad_quotes == []
        assert [t for t, cited in reader.cited if long_article["id"] in cited and t < rerun_at] == []
        assert any(t > killed_at for t, _ in reader.cited)  # it was answering during the kill, not only before

        ids.add(long_article["id"])
        _check_stored(b, collection, ids)
        got = b.client.post("/v1/ask", json={"question": "How many barrels of salt were recorded in year 1700?",
                                             "article": long_article["id"]}).json()
        assert "2200 barrels of salt" in got["text"], got["text"]

        # A restarted replica sees everything as it is.
        a2 = Replica("a2", env, tmp_path)
        replicas.append(a2)
        a2.wait_ready()
        _check_stored(a2, collection, ids)
        assert "colour number 1231" in a2.client.post("/v1/ask", json={"question": _question(33)}).json()["text"]
    finally:
        for r in replicas:
            r.stop()


def _post_quietly(replica: Replica, article: dict) -> None:
    try:
        replica.client.post("/v1/articles", json=article)
    except httpx.HTTPError:
        pass  # the replica is killed under it: that is the point


class _Reader(threading.Thread):
    """Asks one replica questions in a loop; every failure and every misquote is kept."""

    def __init__(self, replica: Replica, stop_after: float):
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=replica.url, timeout=30)
        self.deadline = time.monotonic() + stop_after
        self._halt = threading.Event()
        self.asked = 0
        self.failures: list[str] = []
        self.bad_quotes: list[str] = []
        self.cited: list[tuple[float, set[str]]] = []
        self._texts: dict[str, str] = {}

    def run(self):
        questions = [_question(i) for i in range(35)] + ["How many barrels of salt were recorded in year 1634?"]
        n = 0
        while not self._halt.is_set() and time.monotonic() < self.deadline:
            question = questions[n % len(questions)]
            n += 1
            try:
                got = self.client.post("/v1/ask", json={"question": question})
            except httpx.HTTPError as exc:
                self.failures.append(f"{question}: {type(exc).__name__}: {exc}")
                continue
            self.asked += 1
            if got.status_code != 200:
                self.failures.append(f"{question}: {got.status_code} {got.text[:200]}")
                continue
            citations = got.json()["citations"]
            self.cited.append((time.monotonic(), {c["article_id"] for c in citations}))
            for c in citations:
                text = self._text(c["article_id"])
                if text is None or text[c["start"] : c["end"]] != c["quote"]:
                    self.bad_quotes.append(f"{c['article_id']} [{c['start']}:{c['end']}] {c['quote'][:80]!r}")

    def _text(self, article_id: str) -> str | None:
        if article_id not in self._texts:
            got = self.client.get(f"/v1/articles/{article_id}")
            if got.status_code != 200:
                return None
            self._texts[article_id] = got.json()["text"]
        return self._texts[article_id]

    def stop(self):
        self._halt.set()
        self.join(timeout=60)
        self.client.close()
