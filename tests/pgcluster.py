"""A throwaway PostgreSQL cluster for the tests and the benchmarks: initdb, pg_ctl, gone.

The binaries are found on PATH, else in /usr/lib/postgresql/*/bin (Debian's layout,
newest version first).  initdb refuses to run as root, so as root the cluster runs as
the ``postgres`` system user (``runuser``).  The cluster listens on 127.0.0.1 only, on a
free port, with password (SCRAM) logins over TCP for the superuser ``tdm``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: read at import, before the test session's hermetic environment drops CI
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ENABLE_HINT = (
    "PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; "
    "install them (Debian: apt-get install postgresql) to run the PostgreSQL tests"
)
SUPERUSER = "tdm"
SUPERUSER_PASSWORD = "tdm-test-secret"


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One running cluster; :meth:`stop` removes every file it made."""

    def __init__(self, bindir: Path, *, fast: bool = True) -> None:
        self.bindir = bindir
        self.fast = fast
        self.base = Path(tempfile.mkdtemp(prefix="tdm-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.owner: str | None = None
        if os.geteuid() == 0:
            self.owner = "postgres" if _user_exists("postgres") else "nobody"
            entry = pwd.getpwnam(self.owner)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        os.chmod(self.base, 0o700)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.owner is not None:
            cmd = ["runuser", "-u", self.owner, "--", *cmd]
        return subprocess.run(
            cmd, capture_output=True, text=True, check=False, cwd=self.base, timeout=120
        )

    def start(self) -> None:
        pwfile = self.base / "pwfile"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if self.owner is not None:
            entry = pwd.getpwnam(self.owner)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        init = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr or init.stdout}")
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-k {self.base}",
            "-c max_connections=40",
        ]
        if self.fast:  # the tests need no crash safety
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        started = self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.base / "server.log"),
            "-o",
            " ".join(options),
            "-w",
            "-t",
            "60",
            "start",
        )
        if started.returncode != 0:
            log = (self.base / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed: {started.stderr}\n{log}")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        """A URL without a password (give it in PGPASSWORD)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def admin_conninfo(self, database: str = "postgres") -> str:
        return (
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database} "
            f"password={SUPERUSER_PASSWORD}"
        )

    def psql(self, database: str, *args: str) -> subprocess.CompletedProcess[str]:
        """The psql client against ``database`` as the superuser."""
        psql = shutil.which("psql") or str(self.bindir / "psql")
        env = {**os.environ, "PGPASSWORD": SUPERUSER_PASSWORD}
        return subprocess.run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url(database), *args],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=600,
        )


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def running(*, fast: bool = True) -> Iterator[Cluster]:
    """A started cluster, stopped and removed afterwards; RuntimeError when no binaries."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(ENABLE_HINT)
    cluster = Cluster(bindir, fast=fast)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
