"""A short, bounded load test against a real server on loopback: many clients, zero errors."""

import asyncio

from bench.load import run_load
from rag.http.app import create_app
from tests.helpers.server import running_server


def test_concurrent_clients_get_answers_without_errors(seeded):
    with running_server(create_app(seeded)) as url:
        result = asyncio.run(run_load(url, clients=8, seconds=3, max_requests=300))
    assert result["errors"] == 0, result["error_kinds"]
    assert result["requests"] >= 8


def test_load_tests_refuse_non_loopback_targets():
    import pytest

    with pytest.raises(SystemExit, match="only loopback"):
        asyncio.run(run_load("http://192.0.2.1:7860", clients=1, seconds=1, max_requests=1))
