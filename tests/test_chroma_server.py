"""Scale-out: the same assistant on a real `chroma run` server instead of the embedded index."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import SEED, write

CHROMA = shutil.which("chroma") or str(Path(__import__("sys").executable).with_name("chroma"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    if not Path(CHROMA).exists():
        pytest.skip("the `chroma` command (from the chromadb package) is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [CHROMA, "run", "--path", str(tmp_path / "chroma-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("chroma run did not start within 60 s")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


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
