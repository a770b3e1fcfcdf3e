"""A real ``tdm serve`` process on a free loopback port, started and stopped by a fixture."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import git
from serverkit import auth, make_tokens, served_repo

# a real `tdm serve` process per test: marked slow (make test runs them, test-fast not)
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(self, proc: subprocess.Popen[str], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    repo = served_repo(tmp_path / "shop")
    tokens_file = tmp_path / "config" / "tokens"
    make_tokens(tokens_file)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tdm",
                "serve",
                "--port",
                str(port),
                "-C",
                str(repo),
                "--tokens",
                str(tokens_file),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"tdm serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(proc, url, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_real_server_answers_on_loopback(server: Server, tmp_path: Path) -> None:
    tokens_file = tmp_path / "config" / "tokens"
    repo = tmp_path / "shop"
    # a token created while the server runs works at once
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "tdm",
            "serve",
            "token",
            "create",
            "late",
            "--scope",
            "read",
            "--tokens",
            str(tokens_file),
            "-C",
            str(repo),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    secret = created.stdout.splitlines()[-1]
    expected = git(repo, "show", "HEAD:datasets/smoke/customers.jsonl").stdout

    names = httpx.get(f"{server.url}/schemas", headers=auth(secret), timeout=10)
    lines = httpx.get(
        f"{server.url}/datasets/smoke/customers",
        headers={**auth(secret), "Accept": "application/x-ndjson"},
        timeout=10,
    )
    anonymous = httpx.get(f"{server.url}/schemas", timeout=10)

    assert names.status_code == 200 and "customers" in names.json()["names"]
    assert lines.text == expected
    assert anonymous.status_code == 401


def test_the_server_binds_loopback_and_stops_on_interrupt(server: Server) -> None:
    port = int(server.url.split(":")[2].split("/")[0])
    addresses = [
        a for a in socket.getaddrinfo(socket.gethostname(), None) if a[0] == socket.AF_INET
    ]
    outside = [a[4][0] for a in addresses if not a[4][0].startswith("127.")]
    for host in outside[:1]:  # a non-loopback address of this machine, when it has one
        with pytest.raises(OSError), socket.create_connection((host, port), timeout=2):
            pass

    server.proc.send_signal(signal.SIGINT)

    assert server.proc.wait(timeout=20) == 0
    assert "Uvicorn running on http://127.0.0.1" in server.log.read_text()


def test_serve_refuses_a_token_file_inside_the_repository(tmp_path: Path) -> None:
    repo = served_repo(tmp_path / "shop")

    proc = subprocess.run(
        [sys.executable, "-m", "tdm", "serve", "-C", str(repo), "--tokens", str(repo / "t")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 2
    assert "inside the repository" in proc.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    repo = served_repo(tmp_path / "shop")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tdm",
                "serve",
                "-C",
                str(repo),
                "--port",
                str(port),
                "--tokens",
                str(tmp_path / "t"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert proc.returncode == 2
    assert f"could not serve on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr
