"""A private PostgreSQL server for the tests that run Warmpool on PostgreSQL.

Debian's PostgreSQL binaries (`apt-get install postgresql`; `.ci/run` installs them) run a fresh
cluster in a temporary folder on a free loopback port, trust authentication, for the session; it is
stopped (fast shutdown) and removed afterwards. `initdb` refuses to run as root, so as root the
cluster belongs to `nobody` and every server command runs through `runuser`.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


def postgres_bin_dir() -> Path | None:
    """Debian's newest PostgreSQL `bin` folder (`/usr/lib/postgresql/<major>/bin`), or one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class PostgresServer:
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database (each test its own); returns its URL."""
        import psycopg2

        con = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres")
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f'drop database if exists "{name}"')
                cur.execute(f'create database "{name}"')
        finally:
            con.close()
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server():
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.fail("PostgreSQL is not installed: apt-get install -y postgresql (.ci/run does)")
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to nobody
        owner = "nobody"
        run_as = ["runuser", "-u", owner, "--"]
    root = Path(tempfile.mkdtemp(prefix="warmpool-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if owner:
        shutil.chown(root, owner)
        shutil.chown(sockets, owner)
    user = "warmpool"
    subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust",
                    "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
                   check=True, capture_output=True, text=True)
    port = _free_port()
    # fsync off: a test cluster is thrown away, and durability costs seconds per dbt build here
    options = f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"),
                    "-w", "-t", "60", "start"], check=True, capture_output=True, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield PostgresServer(port=port, user=user)
    finally:
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, text=True)
        shutil.rmtree(root, ignore_errors=True)
