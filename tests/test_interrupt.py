"""Nothing lost: Ctrl-C during `tdm generate` leaves every dataset as it was or complete."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (
    dataset,
    generate_in_process,
    make_project,
    read_lock,
    sha256_file,
    tmp_leftovers,
    write_file,
)

SCHEMA = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "n", "token"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "n": {"type": "integer", "minimum": 0, "maximum": 1000},
        "token": {"type": "string", "format": "uuid"},
    },
}
COUNT = 300_000


def _template(seed: int) -> dict[str, object]:
    return {
        "seed": seed,
        "datasets": {
            "a": {"schema": "s", "count": COUNT},
            "b": {"schema": "s", "count": COUNT},
        },
    }


def _wait_until_writing(root: Path, proc: subprocess.Popen[str], timeout: float = 60) -> bool:
    """Wait until generate is writing a dataset: its temp file exists and has data in it.

    Any worker processes are started before the first temp file is opened, so
    from here on the interrupt lands in the middle of writing a dataset."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rel in tmp_leftovers(root / "datasets"):
            with contextlib.suppress(FileNotFoundError):  # renamed into place meanwhile
                if (root / "datasets" / rel).stat().st_size > 0:
                    return True
        if proc.poll() is not None:
            return False
        time.sleep(0.002)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_interrupted_generate_leaves_datasets_intact(tmp_path: Path, jobs: str) -> None:
    root = make_project(tmp_path / "p", {"s": SCHEMA}, {"t": _template(1)})
    generate_in_process(root)
    old = {name: sha256_file(dataset(root, "t", name)) for name in ("a", "b")}
    old_lock = read_lock(root)["datasets"]
    write_file(root / "templates" / "t.yaml", _template(2))  # new data: a different seed

    proc = subprocess.Popen(
        [sys.executable, "-m", "tdm", "generate", "--force", "--jobs", jobs, "--repo", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        writing = _wait_until_writing(root, proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert writing, "generate finished before it could be interrupted; raise COUNT"
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert tmp_leftovers(root) == []
    lock = read_lock(root)["datasets"]  # still valid JSON

    # finish the job to learn the bytes of a complete regeneration
    interrupted = {name: sha256_file(dataset(root, "t", name)) for name in ("a", "b")}
    generate_in_process(root)
    new = {name: sha256_file(dataset(root, "t", name)) for name in ("a", "b")}
    assert new != old

    for name in ("a", "b"):
        key = f"t/{name}"
        assert interrupted[name] in (old[name], new[name]), f"{name} is neither old nor complete"
        # an untouched file keeps its lock entry; a replaced one is recorded right after
        # (an interrupt between the rename and the lock write may leave the old entry,
        # which only makes the next generate redo that dataset)
        if interrupted[name] == old[name]:
            assert lock[key] == old_lock[key]
        else:
            assert lock[key]["sha256"] in (new[name], old[name])
