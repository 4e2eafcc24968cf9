"""A throw-away `chroma run` server on a free loopback port, for the tests of the server store."""

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMA = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def chroma_run(data_dir: Path, timeout: float = 60):
    """`chroma run` on 127.0.0.1 with its data in `data_dir`; yields the port once it accepts
    connections, and stops the server on exit. Skips where the command is not installed."""
    if not Path(CHROMA).exists():
        pytest.skip("the `chroma` command (from the chromadb package) is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [CHROMA, "run", "--path", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"chroma run did not start within {timeout:g} s")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
