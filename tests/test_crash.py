"""Crash-safe re-indexing: a writer killed with SIGKILL mid-batch leaves an index that answers,
holds no duplicates, and is completed by running the same command again."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from tests.conftest import ROOT


def _env():
    return {**os.environ, "RAG_EMBEDDING_BACKEND": "fake", "PYTHONPATH": str(ROOT)}


def _rag(*args, index_dir, **kw):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args, "--index-dir", str(index_dir)],
                          env=_env(), capture_output=True, text=True, timeout=300, **kw)


def _recorded(db):
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_minus_nine_mid_batch_then_rerun_completes(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    n = 60
    for i in range(n):
        body = " ".join(f"Town {i} item {j} opened a museum wing number {j} in spring." for j in range(40))
        (folder / f"town-{i:02d}.txt").write_text(f"Town {i} gazette. The mayor of town {i} is Mayor{i} Berg. {body}")
    index_dir = tmp_path / "index"
    db = index_dir / "records.sqlite"
    writer = subprocess.Popen([sys.executable, "-m", "rag.cli", "index", str(folder), "--index-dir", str(index_dir)],
                              env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _recorded(db) < 3 and time.monotonic() < deadline and writer.poll() is None:
        time.sleep(0.05)
    assert writer.poll() is None, "the batch finished before it could be killed; make it bigger"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    partial = _recorded(db)
    assert 0 < partial < n

    # The index answers after the crash, from what was recorded.
    ask = _rag("ask", "Who is the mayor of town 1?", "--json", index_dir=index_dir)
    assert ask.returncode == 0, ask.stderr

    # Re-running the same command completes the batch without duplicates.
    again = _rag("index", str(folder), index_dir=index_dir)
    assert again.returncode == 0, again.stderr
    listing = _rag("list", "--json", index_dir=index_dir)
    import json

    articles = json.loads(listing.stdout)
    assert len(articles) == n
    from rag.config import Settings
    from rag.embeddings import HashingEmbeddings
    from rag.index import ArticleIndex

    store = ArticleIndex(Settings(index_dir=index_dir, _env_file=None), HashingEmbeddings())
    chunks = store.chunks()
    assert len(chunks) == sum(a["chunk_count"] for a in articles)
    assert len({(c.article_id, c.start, c.end) for c in chunks}) == len(chunks), "duplicate chunks"
    assert set(store.record_manager.list_keys()) == {c.id for c in chunks}
