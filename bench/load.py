"""A bounded load test of `rag serve`: N concurrent clients asking questions for T seconds.

Run against a server on this machine only (loopback addresses are enforced):
    rag serve &                      # or any running server
    python -m bench.load --url http://127.0.0.1:7860 --clients 32 --seconds 60

Reports requests/s, latency p50/p95/p99 and errors. It stops by itself after `--seconds` (and
after `--max-requests` in total), whatever the server does.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import socket
import time
from urllib.parse import urlparse

QUESTIONS = [
    "Who represented the US?",
    "Which German leader attended?",
    "What did Macron lament about Russia?",
    "What weapons system did Germany refuse to send?",
    "What is the capital of Australia?",
    "Who hosted the meeting?",
]


def check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    for info in socket.getaddrinfo(host, None):
        if not ipaddress.ip_address(info[4][0]).is_loopback:
            raise SystemExit(f"Refusing to load-test {url}: only loopback addresses are allowed.")


async def _client(http, url: str, stop_at: float, budget: list[int], results: list, headers: dict, i: int) -> None:
    n = i
    while time.monotonic() < stop_at and budget[0] > 0:
        budget[0] -= 1
        question = QUESTIONS[n % len(QUESTIONS)]
        n += 1
        started = time.perf_counter()
        try:
            resp = await http.post(f"{url}/v1/ask", json={"question": question}, headers=headers)
            ok = resp.status_code == 200 and "text" in resp.json()
            results.append((time.perf_counter() - started, None if ok else f"HTTP {resp.status_code}"))
        except Exception as exc:  # counted, reported, never raised: a load test must finish
            results.append((time.perf_counter() - started, type(exc).__name__))


async def run_load(url: str, clients: int, seconds: float, max_requests: int, token: str | None = None) -> dict:
    """Drive the server and summarise; bounded by `seconds` and `max_requests`."""
    import httpx

    check_loopback(url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    results: list[tuple[float, str | None]] = []
    budget = [max_requests]
    limits = httpx.Limits(max_connections=clients)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        stop_at = started + seconds
        await asyncio.wait_for(
            asyncio.gather(*(_client(http, url, stop_at, budget, results, headers, i) for i in range(clients))),
            timeout=seconds + 60,
        )
    elapsed = time.monotonic() - started
    lat = sorted(r[0] for r in results)
    errors = [r[1] for r in results if r[1]]

    def pct(p: float) -> float | None:
        return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None

    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(results),
        "requests_per_s": round(len(results) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:7860")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--max-requests", type=int, default=100_000)
    ap.add_argument("--token", default=None, help="Bearer token, when the server has RAG_API_TOKEN set.")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run_load(args.url, args.clients, args.seconds, args.max_requests, args.token)), indent=2))


if __name__ == "__main__":
    main()
