"""Issue 11, items 1-6: safe under faults and honest about missing data.

Real git, real `tdm` processes (python -m tdm) where locks and signals are concerned.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (
    dataset,
    git,
    make_project,
    read_lock,
    snapshot,
    tdm,
    tdm_subprocess,
    tmp_leftovers,
    write_file,
)

from tdm.project import Project

# ---------------------------------------------------------------- helpers


def _commit(root: Path, message: str = "data") -> str:
    result = tdm("commit", "-m", message, "--repo", root)
    assert result.exit_code == 0, result.output
    return git(root, "rev-parse", "HEAD").stdout.strip()


def _head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").stdout.strip()


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has exited


def _wait_gone(pids: list[int], limit: float = 60) -> list[int]:
    """The pids still alive after waiting up to ``limit`` seconds (a bound, not a timing)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def _tdm_popen(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tdm", *[str(a) for a in args]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# ---------------------------------------------------------------- 1. symbolic links


def test_a_symlinked_dataset_folder_is_refused_everywhere(smoke_repo: Path, tmp_path: Path) -> None:
    head = _commit(smoke_repo)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(smoke_repo / "datasets" / "smoke")
    (smoke_repo / "datasets" / "smoke").symlink_to(elsewhere)

    for args in (("generate", "smoke"), ("validate",), ("status",), ("commit", "-m", "x")):
        result = tdm(*args, "--repo", smoke_repo)
        assert result.exit_code == 2, (args, result.output)
        assert "datasets/smoke is a symbolic link" in result.stderr
        assert "Traceback" not in result.output
    assert list(elsewhere.iterdir()) == []  # nothing written outside
    assert _head(smoke_repo) == head  # nothing committed
    assert git(smoke_repo, "ls-files", "-s", "datasets/smoke").stdout.count("120000") == 0


@pytest.mark.parametrize("what", ["schemas", "templates", "masking", "tdm.lock"])
def test_symlinked_tdm_folders_and_lock_are_refused(
    smoke_repo: Path, tmp_path: Path, what: str
) -> None:
    real = smoke_repo / what
    moved = tmp_path / f"moved-{what}"
    shutil.move(real, moved)
    real.symlink_to(moved)
    before = {p: b for p, b in snapshot(moved.parent).items() if p.startswith("moved-")}

    result = tdm("generate", "--force", "--repo", smoke_repo)

    assert result.exit_code == 2, result.output
    assert f"{what} is a symbolic link" in result.stderr
    after = {p: b for p, b in snapshot(moved.parent).items() if p.startswith("moved-")}
    assert after == before


def test_a_symlinked_dataset_file_is_a_finding_and_blocks_the_commit(
    smoke_repo: Path, tmp_path: Path
) -> None:
    head = _commit(smoke_repo)
    secret = write_file(tmp_path / "secret.jsonl", '{"id": 1}\n')
    (smoke_repo / "datasets" / "smoke" / "evil.jsonl").symlink_to(secret)

    result = tdm("validate", "--repo", smoke_repo)
    assert result.exit_code == 2, result.output
    assert "datasets/smoke/evil.jsonl: is a symbolic link" in result.output
    assert tdm("commit", "-m", "x", "--repo", smoke_repo).exit_code == 2
    assert _head(smoke_repo) == head


def test_a_symlinked_state_dir_is_refused_by_writers(smoke_repo: Path, tmp_path: Path) -> None:
    _commit(smoke_repo)
    elsewhere = tmp_path / "state"
    elsewhere.mkdir()
    shutil.rmtree(smoke_repo / ".git" / "tdm", ignore_errors=True)
    (smoke_repo / ".git" / "tdm").symlink_to(elsewhere)

    result = tdm("generate", "--force", "--repo", smoke_repo)

    assert result.exit_code == 2, result.output
    assert "is a symbolic link" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_mask_output_through_a_symlinked_folder_is_refused(
    smoke_repo: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (smoke_repo / "datasets" / "prod").symlink_to(elsewhere)
    result = tdm(
        "mask",
        tmp_path / "in.jsonl",
        "-r",
        "customers",
        "-o",
        smoke_repo / "datasets" / "prod" / "customers.jsonl",
        "--repo",
        smoke_repo,
    )
    assert result.exit_code == 2, result.output
    assert list(elsewhere.iterdir()) == []


# ---------------------------------------------------------------- 2. one writer at a time

_HOLD = """
import sys
from pathlib import Path
from tdm import replock
from tdm.project import Project
project = Project.find(Path(sys.argv[1]))
with replock.writing(project, "tdm holder-test"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def _holder(root: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_a_second_writer_waits_or_fails_fast_and_readers_go_on(smoke_repo: Path) -> None:
    holder = _holder(smoke_repo)
    try:
        busy = tdm_subprocess("--no-wait", "generate", "--force", "--repo", smoke_repo)
        assert busy.returncode == 2, busy.stderr
        assert f"another tdm process (pid {holder.pid}: tdm holder-test)" in busy.stderr
        env_busy = subprocess.run(
            [sys.executable, "-m", "tdm", "rm", "smoke/payments", "--repo", str(smoke_repo)],
            capture_output=True,
            text=True,
            env={**os.environ, "TDM_NO_WAIT": "1"},
            check=False,
        )
        assert env_busy.returncode == 2, env_busy.stderr
        assert dataset(smoke_repo, "smoke", "payments").exists()

        # readers are not blocked
        assert tdm_subprocess("validate", "--repo", smoke_repo).returncode == 0
        assert tdm_subprocess("status", "--repo", smoke_repo).returncode in (0, 1)

        waiter = _tdm_popen("rm", "smoke/payments", "--repo", smoke_repo)
        assert waiter.stderr is not None
        line = waiter.stderr.readline()
        assert f"waiting for another tdm process (pid {holder.pid}: tdm holder-test)" in line
        assert waiter.poll() is None
        assert dataset(smoke_repo, "smoke", "payments").exists()
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=60)
    _, err = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, err
    assert not dataset(smoke_repo, "smoke", "payments").exists()
    assert "smoke/payments" not in read_lock(smoke_repo)["datasets"]


def test_a_killed_writer_never_leaves_a_stale_lock(smoke_repo: Path) -> None:
    holder = _holder(smoke_repo)
    holder.kill()
    holder.wait(timeout=60)
    result = tdm_subprocess("--no-wait", "rm", "smoke/payments", "--repo", smoke_repo)
    assert result.returncode == 0, result.stderr


SMALL = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "n"],
    "properties": {"id": {"type": "integer", "minimum": 1}, "n": {"type": "integer"}},
}


@pytest.mark.slow
def test_concurrent_generates_do_not_lose_lock_updates(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        {"s": SMALL},
        {
            "big": {"seed": 1, "datasets": {"s": {"schema": "s", "count": 150_000}}},
            "small": {"seed": 2, "datasets": {"s": {"schema": "s", "count": 10}}},
        },
    )
    first = _tdm_popen("generate", "big", "--repo", root)
    second = _tdm_popen("generate", "small", "--repo", root)
    for proc in (first, second):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    lock = read_lock(root)["datasets"]
    assert set(lock) == {"big/s", "small/s"}
    assert tdm("validate", "--repo", root).exit_code == 0


# ---------------------------------------------------------------- 3. signals

COUNT = 400_000


def _generate_project(tmp_path: Path) -> Path:
    return make_project(
        tmp_path / "p",
        {"s": SMALL},
        {"t": {"seed": 1, "datasets": {"a": {"schema": "s", "count": COUNT}}}},
    )


def _start_and_wait_for_workers(root: Path) -> tuple[subprocess.Popen[str], list[int]]:
    # --jobs 3: this process renders beside two workers
    proc = _tdm_popen("generate", "--jobs", "3", "--repo", root)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)
        if len(workers) >= 2 and tmp_leftovers(root / "datasets"):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "generate finished before the signal; raise COUNT"
    assert len(workers) >= 2 and tmp_leftovers(root / "datasets")
    return proc, workers


@pytest.mark.slow
def test_sigterm_cleans_up_and_exits_143(tmp_path: Path) -> None:
    root = _generate_project(tmp_path)
    proc, workers = _start_and_wait_for_workers(root)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)

    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert _wait_gone(workers) == []
    assert tmp_leftovers(root) == []
    assert not dataset(root, "t", "a").exists()


@pytest.mark.slow
def test_sigkill_of_the_parent_takes_the_workers_and_clean_removes_temp_files(
    tmp_path: Path,
) -> None:
    root = _generate_project(tmp_path)
    proc, workers = _start_and_wait_for_workers(root)
    proc.kill()
    proc.communicate(timeout=60)

    assert _wait_gone(workers) == []  # they die with their parent
    leftovers = tmp_leftovers(root)
    assert leftovers  # a SIGKILL cannot be cleaned up after by the process itself

    status = tdm("status", "--json", "--repo", root)
    assert json.loads(status.stdout)["temp_files"] == leftovers
    assert "tdm clean" in tdm("status", "--repo", root).output
    result = tdm("clean", "--repo", root)
    assert result.exit_code == 0, result.output
    assert tmp_leftovers(root) == []
    assert "1 temporary file(s) removed" in result.output


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_the_next_writer_removes_temp_files_left_behind(smoke_repo: Path) -> None:
    left = write_file(smoke_repo / "datasets" / "smoke" / ".orders.jsonl.k2j4h5g6.tmp", "x")
    other = write_file(smoke_repo / "datasets" / "smoke" / "notes.tmp", "mine")
    result = tdm("generate", "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    assert not left.exists()
    assert other.exists()  # only tdm's own temp files


# ---------------------------------------------------------------- 4. missing data


def test_a_deleted_dataset_is_a_finding_until_removed_on_purpose(smoke_repo: Path) -> None:
    _commit(smoke_repo)
    dataset(smoke_repo, "smoke", "payments").unlink()
    head = _head(smoke_repo)

    result = tdm("validate", "--repo", smoke_repo)
    assert result.exit_code == 1, result.output
    assert "datasets/smoke/payments.jsonl: is recorded in tdm.lock" in result.output
    assert "tdm rm smoke/payments" in result.output
    assert tdm("commit", "-m", "oops", "--repo", smoke_repo).exit_code == 1
    assert _head(smoke_repo) == head
    status = tdm("status", "--json", "--repo", smoke_repo)
    assert status.exit_code == 1
    states = {d["dataset"]: d for d in json.loads(status.stdout)["datasets"]}
    assert states["smoke/payments"]["state"] == "missing"
    assert "recorded in tdm.lock" in states["smoke/payments"]["reason"]

    removed = tdm("rm", "smoke/payments", "--repo", smoke_repo)
    assert removed.exit_code == 0, removed.output
    assert "still lists it" in removed.output
    assert "smoke/payments" not in read_lock(smoke_repo)["datasets"]
    assert tdm("validate", "--repo", smoke_repo).exit_code == 0
    _commit(smoke_repo, "drop payments")
    assert "datasets/smoke/payments.jsonl" in git(smoke_repo, "show", "--stat", "HEAD").stdout


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_the_commit_hook_blocks_a_staged_deletion_of_recorded_data(smoke_repo: Path) -> None:
    _commit(smoke_repo)
    assert tdm("hooks", "install", "--repo", smoke_repo).exit_code == 0
    head = _head(smoke_repo)
    git(smoke_repo, "rm", "-q", "datasets/smoke/payments.jsonl")

    result = git(smoke_repo, "commit", "-m", "drop", check=False)

    assert result.returncode != 0
    assert "is recorded in tdm.lock" in result.stderr + result.stdout
    assert _head(smoke_repo) == head


def test_tdm_rm_of_an_unknown_dataset_is_a_user_error(smoke_repo: Path) -> None:
    result = tdm("rm", "smoke/nothing", "--repo", smoke_repo)
    assert result.exit_code == 2
    assert "no dataset smoke/nothing" in result.stderr


def test_a_deleted_tdm_lock_is_a_finding(smoke_repo: Path) -> None:
    _commit(smoke_repo)
    (smoke_repo / "tdm.lock").unlink()
    result = tdm("validate", "--repo", smoke_repo)
    assert result.exit_code == 1, result.output
    assert "tdm.lock: is missing" in result.output


def test_removing_a_dataset_from_its_template_is_deliberate(smoke_repo: Path) -> None:
    template = smoke_repo / "templates" / "smoke.yaml"
    text = template.read_text(encoding="utf-8")
    assert text.count("\n  payments:") == 1  # the last dataset of the sample template
    template.write_text(text[: text.index("\n  payments:") + 1], encoding="utf-8")
    dataset(smoke_repo, "smoke", "payments").unlink()

    assert tdm("validate", "--repo", smoke_repo).exit_code == 0
    assert tdm("generate", "smoke", "--repo", smoke_repo).exit_code == 0
    assert "smoke/payments" not in read_lock(smoke_repo)["datasets"]


# ---------------------------------------------------------------- 5. one bad file


def test_a_malformed_schema_is_reported_once_with_what_it_blocks(smoke_repo: Path) -> None:
    _commit(smoke_repo)
    head = _head(smoke_repo)
    with (smoke_repo / "schemas" / "customers.yaml").open("a", encoding="utf-8") as fh:
        fh.write("  bad: [\n")

    result = tdm("validate", "--repo", smoke_repo)
    assert result.exit_code == 2, result.output
    findings = [
        ln
        for ln in result.output.splitlines()
        if ln.startswith(("schemas", "datasets", "masking", "templates"))
    ]
    assert len(findings) == 1, result.output
    assert (
        "schemas/customers.yaml" in findings[0] and "blocks checking smoke/customers" in findings[0]
    )
    assert "does not exist" not in result.output
    assert "no such dataset" not in result.output

    commit = tdm("commit", "-m", "x", "--repo", smoke_repo)
    assert commit.exit_code == 2
    assert _head(smoke_repo) == head

    status = tdm("status", "--json", "--repo", smoke_repo)
    assert status.exit_code == 2
    report = json.loads(status.stdout)
    assert len(report["problems"]) == 1
    states = {d["dataset"]: d["state"] for d in report["datasets"]}
    assert states["smoke/customers"] == "blocked"


def test_a_byte_order_mark_is_one_finding_not_a_cascade(smoke_repo: Path) -> None:
    path = dataset(smoke_repo, "smoke", "customers")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    result = tdm("validate", "--json", "--repo", smoke_repo)
    report = json.loads(result.stdout)
    kinds = [f["kind"] for f in report["findings"]]
    assert "foreign_key" not in kinds, result.stdout
    assert kinds.count("row") == 1
    assert "byte-order mark" in report["findings"][0]["message"]


def test_a_yaml_byte_order_mark_is_accepted(smoke_repo: Path) -> None:
    path = smoke_repo / "schemas" / "customers.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert tdm("validate", "--repo", smoke_repo).exit_code == 0


# ---------------------------------------------------------------- 6. a deliberate hand fix


def test_a_hand_fix_is_accepted_with_the_command_the_refusal_names(smoke_repo: Path) -> None:
    _commit(smoke_repo)
    path = dataset(smoke_repo, "smoke", "products")
    rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
    row = json.loads(rows[0])
    row["name"] = row["name"] + " (fixed)"
    rows[0] = json.dumps(row) + "\n"
    path.write_text("".join(rows), encoding="utf-8")
    head = _head(smoke_repo)

    refused = tdm("commit", "-m", "fix", "--repo", smoke_repo)
    assert refused.exit_code == 1
    assert "tdm resolve tdm.lock" in refused.stderr
    assert _head(smoke_repo) == head

    assert tdm("resolve", "tdm.lock", "--repo", smoke_repo).exit_code == 0
    _commit(smoke_repo, "fix")
    assert "(fixed)" in git(smoke_repo, "show", "HEAD:datasets/smoke/products.jsonl").stdout
    assert Project.find(smoke_repo).read_lock().datasets["smoke/products"].sha256
