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


def test_every_kind_of_bad_article_is_one_line_and_the_index_is_kept(tmp_path):
    idx = tmp_path / "index"
    assert rag("index", str(SEED), env_dir=idx).returncode == 0
    bad = {
        "empty": (write(tmp_path / "empty.txt", ""), "empty"),
        "blank": (write(tmp_path / "blank.md", "  \n\t\n"), "empty"),
        "latin-1": (write(tmp_path / "latin.txt", "Caf\xe9 cr\xe8me".encode("latin-1")), "UTF-8"),
        "unreachable": ("http://127.0.0.1:9/story.html", "127.0.0.1"),
    }
    for kind, (target, says) in bad.items():
        r = rag("index", str(target), env_dir=idx)
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert r.returncode == 1, kind
        assert len(lines) == 1 and says in lines[0] and "Traceback" not in r.stderr, (kind, r.stderr)
    r = rag("list", "--json", env_dir=idx)
    assert '"paris-summit-on-ukraine"' in r.stdout


def test_eval_and_chat_from_the_command_line(tmp_path):
    idx = tmp_path / "index"
    assert rag("index", str(SEED), env_dir=idx).returncode == 0
    questions = write(
        tmp_path / "q.jsonl",
        '{"id": "a", "question": "Who represented the US?", "answers": ["deputy secretary of state"], '
        '"support": ["with a deputy secretary of state"], "answerable": true}\n',
    )
    r = rag("eval", str(questions), "--json", env_dir=idx)
    assert r.returncode == 0, r.stderr
    assert '"answer_hit_rate": 1.0' in r.stdout.replace(" 1,", " 1.0,")
    for broken, says in ((tmp_path, "is a folder"), (write(tmp_path / "x.jsonl", '{"q": 1}\n'), "question")):
        r = rag("eval", str(broken), env_dir=idx)
        assert r.returncode == 1 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    chat = subprocess.run(
        [sys.executable, "-m", "rag.cli", "chat"],
        input="Who represented the US?\nAnd Italy?\n",
        capture_output=True, text=True, timeout=120,
        env={"RAG_INDEX_DIR": str(idx), "RAG_EMBEDDING_BACKEND": "fake", "PATH": "/usr/bin:/bin"},
    )
    assert chat.returncode == 0, chat.stderr
    assert "deputy secretary of state" in chat.stdout
    assert "Who represented Italy?" in chat.stdout + chat.stderr  # the follow-up, as searched


def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path):
    r = rag("ask", "Who?", env_dir=tmp_path / "index", RAG_ANSWERER="gpt")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "Invalid setting RAG_ANSWERER='gpt'" in r.stderr and "'extractive'" in r.stderr
    r = rag("list", env_dir=tmp_path / "index", RAG_K="many")
    assert r.returncode == 1 and "RAG_K='many'" in r.stderr


def test_serve_on_a_busy_port_is_one_line(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = rag("serve", "--port", str(port), env_dir=tmp_path / "index")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"Cannot listen on 127.0.0.1:{port}" in r.stderr and "RAG_PORT" in r.stderr
    assert "chat UI:" not in r.stderr  # no banner for a server that never started
