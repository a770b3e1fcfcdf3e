"""``tdm serve`` over loopback, with a 1,000,000-row dataset committed in the repository.

- Streaming the dataset as JSON Lines (``GET /api/v1/datasets/bench/customers`` with
  ``Accept: application/x-ndjson``, written to a file by curl) against ``tdm show
  bench/customers@HEAD`` of the same rows to a file; interleaved, medians of the
  repeats.  Goal: at least 0.5x the throughput of ``tdm show``.
- 50 concurrent readers of 1,000-row pages (JSON) while a generation runs through the
  same server (``POST /api/v1/datasets``): the p99 latency.  Goal: at most 100 ms.

The server is a real ``tdm serve`` process on a free loopback port; request loops are
bounded (a fixed number of requests) and the server is stopped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import (
    Config,
    Result,
    bench_main,
    make_repo,
    median,
    progress,
    run_timed,
    tdm_executable,
)

STREAM_GOAL = 0.5
P99_GOAL_MS = 100.0
READERS = int(__import__("os").environ.get("READERS", "50"))
REQUESTS_PER_READER = 20
PAGE = 1_000
GENERATE_ROWS = 300_000
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _repo(cfg: Config) -> Path:
    tdm = tdm_executable()
    repo = make_repo(cfg.workdir / "serve", cfg.rows)
    # `tdm init` declares the environment dev on the branch env/dev
    progress(f"serve: generating and committing {cfg.rows:,} rows")
    run_timed([tdm, "generate", "--repo", repo.root], sample_tree=False)
    run_timed([tdm, "commit", "--no-verify", "-m", "bench", "--repo", repo.root], sample_tree=False)
    subprocess.run(["git", "-C", str(repo.root), "branch", "env/dev"], check=True)
    return repo.root


class Server:
    """A ``tdm serve`` child process on a free loopback port."""

    def __init__(self, root: Path, tokens: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        self.proc = subprocess.Popen(
            [
                str(tdm_executable()),
                "serve",
                "--port",
                str(self.port),
                "--repo",
                str(root),
                "--tokens",
                str(tokens),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("tdm serve did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _stream(cfg: Config, root: Path, server: Server, secret: str) -> Result:
    tdm = tdm_executable()
    api_argv = [
        "curl",
        "-sS",
        "--fail",
        "-o",
        str(cfg.workdir / "api.jsonl"),
        "-H",
        f"Authorization: Bearer {secret}",
        "-H",
        "Accept: application/x-ndjson",
        f"{server.url}/datasets/bench/customers",
    ]
    show_argv = [tdm, "show", "bench/customers@HEAD", "--repo", root]
    api: list[float] = []
    show: list[float] = []
    size = 0
    for i in range(cfg.repeats):
        progress(f"serve repeat {i + 1}/{cfg.repeats}: streaming {cfg.rows:,} rows")
        api.append(run_timed(api_argv, sample_tree=False).seconds)
        size = (cfg.workdir / "api.jsonl").stat().st_size
        shown = run_timed(show_argv, sample_tree=False)
        show.append(shown.seconds)
    api_rate = cfg.rows / median(api)
    show_rate = cfg.rows / median(show)
    ratio = api_rate / show_rate
    return Result(
        name="serve: stream 1M rows as x-ndjson",
        command="curl -H 'Accept: application/x-ndjson' .../datasets/bench/customers -o FILE",
        rows=cfg.rows,
        seconds=median(api),
        rate=api_rate,
        baseline_rate=show_rate,
        ratio=ratio,
        target=f">= {STREAM_GOAL:g}x tdm show to a file",
        passed=ratio >= STREAM_GOAL,
        samples=api,
        notes=[
            "api s (the first is cold: the blob is inflated once, then served from memory): "
            + ", ".join(f"{s:.2f}" for s in api),
            "tdm show s: " + ", ".join(f"{s:.2f}" for s in show),
            f"{size / 2**20:.0f} MiB streamed per run",
        ],
    )


class _Connection:
    """One keep-alive HTTP/1.1 connection on raw asyncio streams: the cheapest client
    there is in Python, so the latencies measured are the server's, not a client
    library's (two cores are shared by the server, its generation worker and us)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def _readers(url: str, secret: str, total_rows: int) -> list[float]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    headers = {"Authorization": f"Bearer {secret}"}
    rng = random.Random(7)
    latencies: list[float] = []

    async def reader() -> None:
        conn = _Connection(host, port)
        try:
            for _ in range(REQUESTS_PER_READER):
                offset = rng.randrange(0, max(1, total_rows - PAGE))
                target = f"{parts.path}/datasets/bench/customers?offset={offset}&limit={PAGE}"
                start = time.perf_counter()
                status, _ = await conn.get(target, headers)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    raise RuntimeError(f"GET {target}: HTTP {status}")
        finally:
            await conn.close()

    await asyncio.gather(*(reader() for _ in range(READERS)))
    return latencies


def _latency(cfg: Config, server: Server, secret: str) -> Result:
    import httpx

    # warm the page cache and the server as any long-running server is
    httpx.get(
        f"{server.url}/datasets/bench/customers",
        params={"limit": PAGE},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=120,
    ).raise_for_status()
    rows = min(GENERATE_ROWS, cfg.rows)
    outcome: dict[str, object] = {}

    def generate() -> None:
        start = time.perf_counter()
        r = httpx.post(
            f"{server.url}/datasets",
            json={
                "name": "fresh",
                "schema": "customers",
                "environment": "dev",
                "record_count": rows,
            },
            headers={"Authorization": f"Bearer {secret}"},
            timeout=600,
        )
        outcome["status"] = r.status_code
        outcome["seconds"] = time.perf_counter() - start
        outcome["end"] = time.perf_counter()

    progress(
        f"serve: {READERS} readers x {REQUESTS_PER_READER} pages while generating {rows:,} rows"
    )
    worker = threading.Thread(target=generate)
    worker.start()
    time.sleep(1.0)  # the generation is under way in the server's worker process
    began = time.perf_counter()
    latencies = asyncio.run(_readers(server.url, secret, cfg.rows))
    ended = time.perf_counter()
    worker.join()
    overlapped = float(outcome.get("end", 0.0)) > ended  # type: ignore[arg-type]
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2] * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return Result(
        name="serve: p99 of 50 readers, 1,000-row pages, during a generation",
        command=f"{READERS} x {REQUESTS_PER_READER} GET .../datasets/bench/customers?limit={PAGE}",
        rows=len(latencies),
        seconds=ended - began,
        rate=len(latencies) / (ended - began),
        target=f"p99 <= {P99_GOAL_MS:g} ms",
        passed=p99 <= P99_GOAL_MS and overlapped,
        samples=[x * 1000 for x in ordered[-5:]],
        notes=[
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ordered[-1] * 1000:.1f} ms over "
            f"{len(latencies)} requests ({len(latencies) / (ended - began):.0f} requests/s)",
            f"generation of {rows:,} rows: HTTP {outcome.get('status')}, "
            f"{float(outcome.get('seconds', 0.0)):.1f} s; "  # type: ignore[arg-type]
            + ("it ran during every request" if overlapped else "it ENDED before the readers"),
        ],
    )


def run(cfg: Config) -> list[Result]:
    os.environ.update(GIT_ENV)
    root = _repo(cfg)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tdm.server.tokens import TokenStore

    tokens = cfg.workdir / "serve-tokens"
    _, secret = TokenStore(tokens).create("bench", "write")
    server = Server(root, tokens)
    try:
        return [_stream(cfg, root, server, secret), _latency(cfg, server, secret)]
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(bench_main("tdm serve", run, __doc__, None))
