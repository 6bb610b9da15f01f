"""A real, throwaway PostgreSQL server for database tests (import the fixtures into a test module).

``initdb`` + ``pg_ctl`` from the installed PostgreSQL binaries, trust authentication, a free TCP
port on 127.0.0.1 and the Unix socket in the same temporary directory; ``fsync`` off because the
data dies with the test session.  As root the binaries run as the ``postgres`` user (PostgreSQL
refuses to run as root).  Without binaries the tests skip with the reason, so a laptop without
PostgreSQL still runs the SQLite half; ``.ci/run`` installs PostgreSQL so CI runs both.

- ``postgres_server`` (session): the server's base URL (``postgresql+psycopg://postgres@…:port``).
- ``postgres_url`` (function): a fresh, empty database on it for one test.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def find_pg_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with ``initdb``, else wherever ``initdb`` is on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")])
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runner() -> tuple[list[str], bool]:
    if os.geteuid() != 0:
        return [], False
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"], True
    return ["su", "postgres", "-s", "/bin/sh", "-c"], True  # handled below (one string command)


def _cmd(prefix: list[str], args: list[str]) -> list[str]:
    """``args`` run as ``postgres`` when we are root (``su -c`` wants one quoted string)."""
    if prefix[:1] == ["su"]:
        return prefix + [" ".join(f"'{a}'" for a in args)]
    return prefix + args


def _run(prefix: list[str], args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(prefix, args), check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start PostgreSQL once per test session; skip (with the reason) when it is not installed."""
    bindir = find_pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: install the 'postgresql' package "
                    "to run the PostgreSQL half of the database tests")
    prefix, as_root = _runner()
    if as_root:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
    # Not under pytest's tmp_path: that is private to root, and the server runs as 'postgres'.
    root = Path(tempfile.mkdtemp(prefix="ppp-pg-"))
    data, sock, logfile = root / "data", root / "sock", root / "server.log"
    sock.mkdir()
    if as_root:
        for path in (root, sock):
            shutil.chown(path, "postgres", "postgres")
    port = _free_port()
    try:
        _run(prefix, [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--locale=C", "--no-sync"])
        _run(prefix, [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-w", "-t", "60", "-o",
                      f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                      f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=100",
                      "start"])
    except subprocess.CalledProcessError as exc:
        log = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc.stderr or exc.stdout}\n{log}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_cmd(prefix, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new empty database for one test, dropped afterwards."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    admin = postgres_server.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{postgres_server}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
