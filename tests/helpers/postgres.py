"""A throw-away PostgreSQL cluster for tests: `initdb` + `pg_ctl` in a temporary folder, loopback only.

Debian's `postgresql` package puts its programs in /usr/lib/postgresql/<version>/bin (not on PATH).
PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to the
`postgres` user the package creates and its programs run through `runuser`. Tests that use it
skip, saying why, when the programs or the Python driver are missing (`make test` installs both).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "rag"


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=database, autocommit=True
        )

    def new_database(self) -> str:
        """A fresh empty database's SQLAlchemy URL (each test its own)."""
        name = f"t_{secrets.token_hex(6)}"
        with self.connect() as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def start_postgres():
    """Start a cluster; returns (server, stop) or calls pytest.skip with the reason."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; `make test` does it as root)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("the psycopg driver is not installed (pip install 'psycopg[binary]', in the dev extra)")

    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without `runuser`: cannot start PostgreSQL as an unprivileged user")
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
        as_user = ["runuser", "-u", "postgres", "--"]

    # Directly under the temp folder: pytest's own folders are private to root, and the
    # unprivileged owner must reach its data and socket folders.
    base = Path(tempfile.mkdtemp(prefix="rag-pg-"))
    data, sockets, log = base / "data", base / "run", base / "server.log"
    sockets.mkdir()
    password = secrets.token_urlsafe(16)
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    if owner is not None:
        for path in (base, sockets, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    base.chmod(0o700)

    def run(*args, timeout=120):
        return subprocess.run([*as_user, *map(str, args)], capture_output=True, text=True, timeout=timeout)

    done = run(bin_dir / "initdb", "-D", data, "-U", USER, f"--pwfile={pwfile}", "--auth=scram-sha-256",
               "-E", "UTF8", "--locale=C", "--no-sync")
    if done.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off -c max_connections=200"
    done = run(bin_dir / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start", timeout=90)
    if done.returncode != 0:
        text = log.read_text(errors="replace") if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {done.stderr.strip()} {text[-2000:]}")

    server = PostgresServer("127.0.0.1", port, USER, password)
    deadline = time.monotonic() + 30
    while True:
        try:
            server.connect().close()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

    def stop():
        run(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "30", "stop", timeout=60)
        shutil.rmtree(base, ignore_errors=True)

    return server, stop


@pytest.fixture(scope="session")
def postgres_server():
    """One cluster for the test session (initdb takes a few seconds), stopped at the end."""
    server, stop = start_postgres()
    try:
        yield server
    finally:
        stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A SQLAlchemy URL of a new empty database on the throw-away cluster."""
    return postgres_server.new_database()
