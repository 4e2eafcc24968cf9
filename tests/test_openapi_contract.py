"""The OpenAPI document tells the truth: schemathesis, with every check, finds no contract failure.

Run against a real server on loopback, bounded in examples and time: each declared status, each
request schema (what it admits the server accepts, what it rejects the server rejects), 405 with
`Allow` for methods a path does not have, so that a client generated from the spec works.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.http.app import create_app
from tests.helpers.server import running_server

CONFIG = Path(__file__).with_name("schemathesis.toml")


def test_schemathesis_finds_no_contract_failure(seeded):
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    with running_server(create_app(seeded)) as url:
        out = subprocess.run(
            [cli, "--config-file", str(CONFIG), "run", f"{url}/openapi.json", "--max-examples", "12",
             "--no-color", "--seed", "1"],
            capture_output=True, text=True, timeout=300,
        )
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "generated" in out.stdout, out.stdout[-2000:]
