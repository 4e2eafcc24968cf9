"""The `rag` command: summaries, one-line errors, non-zero exits."""

import subprocess
import sys

from tests.conftest import SEED, write


def rag(*args, env_dir, **extra_env):
    env = {"RAG_INDEX_DIR": str(env_dir), "RAG_EMBEDDING_BACKEND": "fake", "PATH": "/usr/bin:/bin", **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_index_list_remove_round_trip(tmp_path):
    idx = tmp_path / "index"
    r = rag("index", str(SEED), env_dir=idx)
    assert r.returncode == 0, r.stderr
    assert "1 added" in r.stdout
    r = rag("index", str(SEED), env_dir=idx)
    assert "1 skipped" in r.stdout
    r = rag("list", "--json", env_dir=idx)
    assert '"paris-summit-on-ukraine"' in r.stdout
    r = rag("remove", "paris-summit-on-ukraine", env_dir=idx)
    assert r.returncode == 0 and "Removed paris-summit-on-ukraine" in r.stdout


def test_errors_are_one_line_and_exit_non_zero(tmp_path):
    idx = tmp_path / "index"
    r = rag("index", str(tmp_path / "missing.txt"), env_dir=idx)
    assert r.returncode == 1
    assert "does not exist" in r.stderr and "Traceback" not in r.stderr
    r = rag("index", str(write(tmp_path / "bin.txt", b"\x00\xff\x00")), env_dir=idx)
    assert r.returncode == 1 and "binary" in r.stderr
    r = rag("remove", "ghost", env_dir=idx)
    assert r.returncode == 1 and "No article 'ghost'" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path):
    r = rag("ask", "Who?", env_dir=tmp_path / "index", RAG_ANSWERER="gpt")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "Invalid setting RAG_ANSWERER='gpt'" in r.stderr and "'extractive'" in r.stderr
    r = rag("list", env_dir=tmp_path / "index", RAG_K="many")
    assert r.returncode == 1 and "RAG_K='many'" in r.stderr
