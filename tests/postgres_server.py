"""A real PostgreSQL server from Debian's packages, on 127.0.0.1, in a temporary folder.

`make postgres` installs the packages. As root, the server runs as the `postgres` user the
package creates (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.loopback import free_port

HOST = "127.0.0.1"


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    def __init__(
        self, databases: tuple[str, ...] = ("dagster", "mlflow"), password: str = "energy"
    ) -> None:
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed: run `make postgres`")
        self.bin = bindir
        self.databases = databases
        self.root = Path(tempfile.mkdtemp(prefix="pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "energy"
        self.password = password

    def _run(self, *args: str) -> None:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    def __enter__(self) -> Self:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            self.bin / "initdb",
            "-D",
            self.data,
            "-A",
            "scram-sha-256",
            "-U",
            "postgres",
            "--pwfile",
            self._pwfile(),
            "-E",
            "UTF8",
        )
        self._run(
            self.bin / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.root / "server.log",
            "-w",
            "-o",
            f"-h {HOST} -p {self.port} -k {self.root}",
            "start",
        )
        if not self.databases:
            return self
        import psycopg2

        admin = psycopg2.connect(
            host=HOST, port=self.port, user="postgres", password=self.password, dbname="postgres"
        )
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
            for name in self.databases:
                cursor.execute(f"CREATE DATABASE {name} OWNER {self.user}")
        admin.close()
        return self

    def _pwfile(self) -> Path:
        path = self.root / "pw"
        path.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")
        return path

    def run_sql_file(self, path: Path, env: dict[str, str]) -> None:
        """`psql -f path` as the superuser "postgres", as an image's initdb scripts run."""
        subprocess.run(
            [str(self.bin / "psql"), "-h", HOST, "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-f", str(path)],
            check=True, capture_output=True, text=True,
            env={**os.environ, **env, "PGPASSWORD": self.password},
        )  # fmt: skip

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://{self.user}:{self.password}@{HOST}:{self.port}/{database}"

    def connect(self, database: str):  # type: ignore[no-untyped-def]
        import psycopg2

        return psycopg2.connect(
            host=HOST, port=self.port, user=self.user, password=self.password, dbname=database
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
