"""One writer for the embedded index: a reader process keeps answering while another process indexes."""

import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT, SEED


def _env():
    return {**os.environ, "RAG_EMBEDDING_BACKEND": "fake", "PYTHONPATH": str(ROOT)}


def _articles(folder, n):
    folder.mkdir()
    for i in range(n):
        (folder / f"harbour-{i:02d}.txt").write_text(
            f"Harbour {i} reopened after repairs. The lantern of harbour {i} is painted colour number {i * 7}. "
            f"Its keeper, Keeper{i} Lund, lit it on the first night."
        )
    return folder


def test_reader_process_sees_writes_of_another_process_and_never_fails(tmp_path):
    index_dir = tmp_path / "index"
    subprocess.run([sys.executable, "-m", "rag.cli", "index", str(SEED), "--index-dir", str(index_dir)],
                   env=_env(), check=True, capture_output=True, timeout=120)
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-m", "tests.helpers.reader", str(index_dir), str(stop), str(out)],
                              env=_env(), cwd=ROOT)
    try:
        ready = time.monotonic() + 120
        while not (tmp_path / "reader.json.ready").exists():
            assert reader.poll() is None and time.monotonic() < ready, "the reader process did not start"
            time.sleep(0.1)
        folder = _articles(tmp_path / "new", 20)
        writer = subprocess.run(
            [sys.executable, "-m", "rag.cli", "index", str(folder), "--index-dir", str(index_dir)],
            env=_env(), capture_output=True, text=True, timeout=180,
        )
        assert writer.returncode == 0, writer.stderr
        assert "20 added" in writer.stdout
        time.sleep(1)
    finally:
        stop.touch()
        reader.wait(timeout=120)
    result = json.loads(out.read_text())
    assert result["errors"] == []
    assert result["asked"] > 5
    assert "colour number 133" in result["last"]["text"], result["last"]["text"]
    listing = subprocess.run([sys.executable, "-m", "rag.cli", "list", "--json", "--index-dir", str(index_dir)],
                             env=_env(), capture_output=True, text=True, check=True, timeout=60)
    articles = json.loads(listing.stdout)
    assert len(articles) == 21
    assert result["chunks"] == sum(a["chunk_count"] for a in articles)


def _lock_holder(index_dir, seconds):
    """A process that takes the writer lock, says so, and sleeps holding it."""
    code = (
        "import time\n"
        "from rag.config import Settings\n"
        "from rag.index import ArticleIndex\n"
        "from rag.embeddings import HashingEmbeddings\n"
        f"store = ArticleIndex(Settings(index_dir={str(index_dir)!r}, _env_file=None), HashingEmbeddings())\n"
        "with store.write_lock():\n"
        "    print('locked', flush=True)\n"
        f"    time.sleep({seconds})\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], env=_env(), cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_writer_killed_while_holding_the_lock_does_not_block_the_next(tmp_path):
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    holder = _lock_holder(index_dir, 120)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    done = subprocess.run([sys.executable, "-m", "rag.cli", "index", str(SEED), "--index-dir", str(index_dir)],
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 added" in done.stdout


def test_a_second_writer_waits_and_says_so(tmp_path):
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    holder = _lock_holder(index_dir, 3)
    second = subprocess.run([sys.executable, "-m", "rag.cli", "index", str(SEED), "--index-dir", str(index_dir)],
                            env=_env(), capture_output=True, text=True, timeout=120)
    holder.wait(timeout=30)
    assert second.returncode == 0, second.stderr
    assert "Another process is writing the index" in second.stderr
    assert "1 added" in second.stdout
