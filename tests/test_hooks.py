"""tdm hooks: installing and removing the git pre-commit hook (core.hooksPath, an earlier
hook chained and restored byte for byte), and real `git commit`s through it: personal data
and invalid rows in the *staged* content block the commit, --no-verify and SKIP go through,
a commit without tdm files does not start Python, and commits that conclude a merge,
cherry-pick, rebase step or revert are not checked.  Then the pre-commit framework: its
manifest, and a commit blocked through `pre-commit install`."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from helpers import git, init_repo, tdm, write_file
from typer.testing import Result

from tdm import hooks as hooksmod
from tdm import scan as scanmod

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
VENV_BIN = Path(sys.executable).parent

PEOPLE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "email"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "email": {"type": "string", "maxLength": 80},
        "note": {"type": "string"},
    },
}
PEOPLE_FILE = "datasets/t/people.jsonl"
LEAK = "alice.smith@gmail.com"


def rows_with(email: str, first_id: int = 1) -> list[dict[str, Any]]:
    """Three rows; the first one's address is ``email``."""
    return [
        {"id": first_id, "email": email},
        {"id": 2, "email": "p2@example.com"},
        {"id": 3, "email": "p3@example.com"},
    ]


def write_rows(root: Path, rows: list[dict[str, Any]], rel: str = PEOPLE_FILE) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", message)
    return head(root)


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").stdout.strip()


def committed(root: Path, rel: str = PEOPLE_FILE, rev: str = "HEAD") -> str:
    return git(root, "show", f"{rev}:{rel}").stdout


def commit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real `git commit` (the hook runs in a child process with this environment)."""
    return git(root, "commit", "-m", "change", *args, check=False)


def install(root: Path) -> Result:
    result = tdm("hooks", "install", "--repo", root)
    assert result.exit_code == 0, result.output
    return result


def hook_path(root: Path) -> Path:
    return root / ".git" / "hooks" / "pre-commit"


def assert_blocked(result: subprocess.CompletedProcess[str], root: Path, before: str) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    assert head(root) == before


@pytest.fixture(scope="module")
def _master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hooks-master") / "repo"
    init_repo(root)
    write_file(root / "schemas" / "people.yaml", PEOPLE)
    write_file(
        root / "templates" / "t.yaml",
        {"seed": 1, "datasets": {"people": {"schema": "people", "count": 3}}},
    )
    write_rows(root, rows_with("p1@example.com"))
    (root / "README.md").write_text("# data\n")
    commit_all(root, "clean data")
    return root


@pytest.fixture
def repo(_master: Path, tmp_path: Path) -> Path:
    """A private copy of a tdm repository on branch main: schema people, template t,
    three clean rows and a README, committed; no hook installed."""
    root = tmp_path / "repo"
    shutil.copytree(_master, root, symlinks=True)
    assert git(root, "status", "--porcelain").stdout == ""
    return root


# ---------------------------------------------------------------- install / uninstall


def test_install_writes_an_executable_hook_and_is_idempotent(repo: Path) -> None:
    first = install(repo)
    hook = hook_path(repo)
    assert first.stdout.strip() == f"installed {hook}"
    text = hook.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert hooksmod.MARKER in text
    assert hook.stat().st_mode & stat.S_IXUSR
    assert subprocess.run(["sh", "-n", str(hook)], check=False).returncode == 0
    second = install(repo)
    assert second.stdout.strip() == f"updated {hook}"
    assert hook.read_text() == text
    assert sorted(p.name for p in hook.parent.iterdir() if p.name.startswith("pre-commit")) == [
        "pre-commit"
    ]


@pytest.mark.parametrize("where", ["relative", "absolute"])
@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_core_hooks_path_is_respected(repo: Path, tmp_path: Path, where: str) -> None:
    folder = repo / "githooks" if where == "relative" else tmp_path / "shared-hooks"
    git(repo, "config", "core.hooksPath", "githooks" if where == "relative" else str(folder))
    result = install(repo)
    assert result.stdout.strip() == f"installed {folder / 'pre-commit'}"
    assert hooksmod.MARKER in (folder / "pre-commit").read_text()
    assert not hook_path(repo).exists()
    if where == "relative":  # git runs it from there
        write_rows(repo, rows_with(LEAK))
        git(repo, "add", PEOPLE_FILE)
        before = head(repo)
        assert_blocked(commit(repo), repo, before)
    removed = tdm("hooks", "uninstall", "--repo", repo)
    assert removed.exit_code == 0, removed.output
    assert not (folder / "pre-commit").exists()


EARLIER = b"#!/bin/sh\n# team hook \xc3\xa9\necho 'EARLIER HOOK RAN' >&2\necho ran >> \"$(git rev-parse --git-dir)/earlier.log\"\nexit 0"


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_an_earlier_hook_runs_first_and_uninstall_restores_it_byte_for_byte(repo: Path) -> None:
    hook = hook_path(repo)
    hook.write_bytes(EARLIER)
    hook.chmod(0o750)
    mode = stat.S_IMODE(hook.stat().st_mode)
    result = install(repo)
    chained = hook.with_name("pre-commit" + hooksmod.CHAINED_SUFFIX)
    assert "pre-commit.tdm-chained" in result.stdout
    assert chained.read_bytes() == EARLIER
    assert hooksmod.MARKER in hook.read_text()
    log = repo / ".git" / "earlier.log"

    # a leak: the earlier hook runs first, then tdm blocks
    write_rows(repo, rows_with(LEAK))
    git(repo, "add", PEOPLE_FILE)
    before = head(repo)
    blocked = commit(repo)
    assert_blocked(blocked, repo, before)
    assert log.read_text() == "ran\n"
    assert blocked.stderr.index("EARLIER HOOK RAN") < blocked.stderr.index("tdm scan")

    # installing again updates tdm's hook and keeps the earlier one as it was
    again = install(repo)
    assert again.stdout.startswith(f"updated {hook}")
    assert chained.read_bytes() == EARLIER

    removed = tdm("hooks", "uninstall", "--repo", repo)
    assert removed.exit_code == 0, removed.output
    assert removed.stdout.strip() == f"restored {hook}"
    assert hook.read_bytes() == EARLIER
    assert stat.S_IMODE(hook.stat().st_mode) == mode
    assert not chained.exists()


def test_a_failing_earlier_hook_blocks_the_commit_on_its_own(repo: Path) -> None:
    hook = hook_path(repo)
    hook.write_text("#!/bin/sh\necho 'earlier hook says no' >&2\nexit 3\n")
    hook.chmod(0o755)
    install(repo)
    write_rows(repo, rows_with("new@example.com"))
    git(repo, "add", PEOPLE_FILE)
    before = head(repo)
    result = commit(repo)
    assert_blocked(result, repo, before)
    assert "earlier hook says no" in result.stderr
    assert "tdm" not in result.stderr


def test_uninstall_refuses_a_hook_tdm_did_not_write(repo: Path) -> None:
    hook = hook_path(repo)
    foreign = b"#!/bin/sh\n# somebody else's hook\nexit 0\n"
    hook.write_bytes(foreign)
    hook.chmod(0o755)
    result = tdm("hooks", "uninstall", "--repo", repo)
    assert result.exit_code == 1, result.output
    assert "not installed by tdm" in result.stderr
    assert hook.read_bytes() == foreign
    assert stat.S_IMODE(hook.stat().st_mode) == 0o755


def test_uninstall_removes_tdms_hook_and_then_has_nothing_to_remove(repo: Path) -> None:
    install(repo)
    removed = tdm("hooks", "uninstall", "--repo", repo)
    assert removed.exit_code == 0, removed.output
    assert removed.stdout.strip() == f"removed {hook_path(repo)}"
    assert not hook_path(repo).exists()
    again = tdm("hooks", "uninstall", "--repo", repo)
    assert again.exit_code == 1
    assert "nothing to remove" in again.stderr


def test_install_refuses_to_chain_a_second_earlier_hook(repo: Path) -> None:
    hook = hook_path(repo)
    chained = hook.with_name("pre-commit" + hooksmod.CHAINED_SUFFIX)
    hook.write_bytes(b"#!/bin/sh\nexit 0\n")
    chained.write_bytes(b"#!/bin/sh\n# older\nexit 0\n")
    result = tdm("hooks", "install", "--repo", repo)
    assert result.exit_code == 2, result.output
    assert hook.read_bytes() == b"#!/bin/sh\nexit 0\n"
    assert chained.read_bytes() == b"#!/bin/sh\n# older\nexit 0\n"


# ---------------------------------------------------------------- commits through the hook


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_a_commit_staging_an_unmasked_email_is_blocked(repo: Path) -> None:
    install(repo)
    write_rows(repo, rows_with(LEAK))
    git(repo, "add", PEOPLE_FILE)
    before = head(repo)
    result = commit(repo)
    assert_blocked(result, repo, before)
    assert f"{PEOPLE_FILE}:1: email email " in result.stderr
    assert "tdm scan" in result.stderr and "--no-verify" in result.stderr
    assert LEAK not in result.stderr + result.stdout
    # nothing was lost: the change is still staged
    assert git(repo, "diff", "--cached", "--name-only").stdout.split() == [PEOPLE_FILE]
    # --no-verify goes through, as with any git hook
    skipped = commit(repo, "--no-verify")
    assert skipped.returncode == 0, skipped.stderr
    assert LEAK in committed(repo)


@pytest.mark.parametrize(
    ("skip", "passes"),
    [("tdm-scan", True), ("flake8,tdm", True), ("tdm-validate", False)],
)
@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_skip_ids_as_pre_commit_users_write_them(
    repo: Path, monkeypatch: pytest.MonkeyPatch, skip: str, passes: bool
) -> None:
    install(repo)
    write_rows(repo, rows_with(LEAK))
    git(repo, "add", PEOPLE_FILE)
    before = head(repo)
    monkeypatch.setenv("SKIP", skip)
    result = commit(repo)
    if passes:
        assert result.returncode == 0, result.stderr
        assert LEAK in committed(repo)
    else:
        assert_blocked(result, repo, before)
        assert f"{PEOPLE_FILE}:1: email email " in result.stderr
    assert LEAK not in result.stderr


def test_skip_ids_are_read_like_the_pre_commit_framework() -> None:
    assert hooksmod.skipped({"SKIP": "flake8, tdm-scan ,mypy"}) == {"tdm-scan"}
    assert hooksmod.skipped({"SKIP": "tdm,tdm-validate"}) == {"tdm", "tdm-validate"}
    assert hooksmod.skipped({"SKIP": "tdm-scanner,xtdm"}) == set()
    assert hooksmod.skipped({}) == set()


def test_a_staged_invalid_row_blocks_even_when_the_working_copy_was_fixed(repo: Path) -> None:
    install(repo)
    write_rows(repo, rows_with("p1@example.com", first_id=0))  # id minimum is 1
    git(repo, "add", PEOPLE_FILE)
    write_rows(repo, rows_with("p1@example.com", first_id=1))  # fixed, not staged
    assert tdm("validate", "--repo", repo).exit_code == 0
    before = head(repo)
    result = commit(repo)
    assert_blocked(result, repo, before)
    assert "tdm validate (staged files):" in result.stderr
    assert f"{PEOPLE_FILE}:1" in result.stderr


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_a_staged_leak_blocks_even_when_the_working_copy_was_fixed(repo: Path) -> None:
    install(repo)
    write_rows(repo, rows_with(LEAK))
    git(repo, "add", PEOPLE_FILE)
    write_rows(repo, rows_with("p1@example.com"))  # fixed, not staged
    assert tdm("scan", "--repo", repo).exit_code == 0
    before = head(repo)
    result = commit(repo)
    assert_blocked(result, repo, before)
    assert f"{PEOPLE_FILE}:1: email email " in result.stderr


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_a_staged_clean_file_passes_even_when_the_working_copy_is_broken_and_leaks(
    repo: Path,
) -> None:
    install(repo)
    write_rows(repo, rows_with("new@example.com"))
    git(repo, "add", PEOPLE_FILE)
    (repo / PEOPLE_FILE).write_text('{"id": "broken"\n{"id": 1, "email": "' + LEAK + '"}\n')
    assert tdm("validate", "--repo", repo).exit_code != 0
    assert tdm("scan", "--repo", repo).exit_code == 1
    result = commit(repo)
    assert result.returncode == 0, result.stderr
    assert "new@example.com" in committed(repo)
    assert LEAK not in committed(repo)


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_a_commit_with_no_tdm_file_staged_does_not_start_python(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook is installed with a Python that logs each start; a commit of README.md
    alone never starts it, a commit of a dataset does."""
    calls = tmp_path / "python-starts.log"
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.write_text(
        f'#!/bin/sh\necho "$*" >> {shlex.quote(str(calls))}\n'
        f'exec {shlex.quote(sys.executable)} "$@"\n'
    )
    python.chmod(0o755)
    with monkeypatch.context() as m:
        m.setattr(sys, "executable", str(python))
        install(repo)
    assert str(python) in hook_path(repo).read_text()

    (repo / "README.md").write_text("# data\n\nmore words\n")
    write_rows(repo, rows_with(LEAK))  # a leak in the working copy, not staged
    git(repo, "add", "README.md")
    result = commit(repo)
    assert result.returncode == 0, result.stderr
    assert not calls.exists()
    assert "tdm" not in result.stderr
    assert committed(repo, "README.md").endswith("more words\n")

    # control: staging a tdm file starts Python
    write_rows(repo, rows_with("new@example.com"))
    git(repo, "add", PEOPLE_FILE)
    result = commit(repo)
    assert result.returncode == 0, result.stderr
    assert calls.read_text().split() == ["-m", "tdm", "hooks", "run", "--repo", str(repo)]


def hooks_run(root: Path) -> Result:
    """What the installed hook runs, in-process."""
    return tdm("hooks", "run", "--repo", root)


def with_email_synthetic(root: Path) -> None:
    schema = json.loads(json.dumps(PEOPLE))
    schema["properties"]["email"]["x-tdm"] = {"pii": "synthetic"}
    write_file(root / "schemas" / "people.yaml", schema)


def test_an_accepted_finding_in_the_baseline_passes_the_hook(repo: Path) -> None:
    write_rows(repo, rows_with(LEAK))
    git(repo, "add", PEOPLE_FILE)
    assert hooks_run(repo).exit_code == 1
    assert tdm("scan", "--update-baseline", "--repo", repo).exit_code == 0
    git(repo, "add", scanmod.DEFAULT_BASELINE)
    result = hooks_run(repo)
    assert result.exit_code == 0, result.output
    assert LEAK not in (repo / scanmod.DEFAULT_BASELINE).read_text()


def test_a_field_declared_synthetic_in_the_staged_schema_passes_the_hook(repo: Path) -> None:
    with_email_synthetic(repo)
    write_rows(repo, rows_with(LEAK))
    git(repo, "add", "-A")
    result = hooks_run(repo)
    assert result.exit_code == 0, result.output


def test_the_allow_list_comes_from_the_staged_schema(repo: Path) -> None:
    write_rows(repo, rows_with(LEAK))
    git(repo, "add", PEOPLE_FILE)
    with_email_synthetic(repo)  # not staged
    assert hooks_run(repo).exit_code == 1


@pytest.mark.parametrize("how", [["-a"], ["--", PEOPLE_FILE]], ids=["commit-a", "commit-path"])
@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_commit_all_and_commit_paths_are_checked_too(repo: Path, how: list[str]) -> None:
    """`git commit -a` and `git commit PATH` commit from a temporary index (GIT_INDEX_FILE)."""
    install(repo)
    before = head(repo)
    write_rows(repo, rows_with(LEAK))  # a tracked file, changed, not staged
    leak = commit(repo, *how)
    assert_blocked(leak, repo, before)
    assert f"{PEOPLE_FILE}:1: email email " in leak.stderr
    if how != ["-a"]:
        return
    write_rows(repo, rows_with("p1@example.com", first_id=0))  # invalid, not staged
    invalid = commit(repo, *how)
    assert_blocked(invalid, repo, before)
    assert "tdm validate (staged files):" in invalid.stderr


# ---------------------------------------------------------------- replaying commits


def _row1(root: Path, email: str) -> None:
    write_rows(root, rows_with(email))


def stop_on_a_conflict(root: Path, operation: str) -> str:
    """Run ``operation`` so that it stops on a conflict in PEOPLE_FILE; return the state
    git keeps in .git while it waits."""
    git(root, "checkout", "-q", "-b", "other")
    _row1(root, "other@example.com")
    commit_all(root, "other")
    git(root, "checkout", "-q", "main")
    _row1(root, "main@example.com")
    commit_all(root, "main")
    if operation == "merge":
        args, state = ["merge", "other"], "MERGE_HEAD"
    elif operation == "cherry-pick":
        args, state = ["cherry-pick", "other"], "CHERRY_PICK_HEAD"
    elif operation == "revert":
        _row1(root, "third@example.com")
        commit_all(root, "third")
        args, state = ["revert", "--no-edit", "HEAD~1"], "REVERT_HEAD"
    else:
        git(root, "checkout", "-q", "other")
        args, state = ["rebase", "main"], "rebase-merge"
    result = git(root, *args, check=False)
    assert result.returncode != 0, result.stdout
    assert "CONFLICT" in result.stdout + result.stderr
    assert (root / ".git" / state).exists()
    return state


@pytest.mark.parametrize("operation", ["merge", "cherry-pick", "revert", "rebase"])
def test_the_hook_is_skipped_while_git_replays_commits(repo: Path, operation: str) -> None:
    install(repo)
    stop_on_a_conflict(repo, operation)
    _row1(repo, LEAK)  # a resolution the hook would refuse
    git(repo, "add", PEOPLE_FILE)
    assert hooks_run(repo).exit_code == 1
    result = git(repo, "commit", "--no-edit", check=False)
    assert result.returncode == 0, result.stderr
    assert LEAK in committed(repo)
    assert "tdm" not in result.stderr


def test_hooks_run_checks_what_git_commit_would(repo: Path) -> None:
    write_rows(repo, rows_with(LEAK))
    clean = tdm("hooks", "run", "--repo", repo)
    assert clean.exit_code == 0, clean.output  # nothing staged
    git(repo, "add", PEOPLE_FILE)
    result = tdm("hooks", "run", "--repo", repo)
    assert result.exit_code == 1
    assert f"{PEOPLE_FILE}:1: email email " in result.stderr
    assert LEAK not in result.output + result.stderr
    # it leaves nothing behind in .git/tdm
    assert not any((repo / ".git" / "tdm").glob("staged-*"))


# ---------------------------------------------------------------- the pre-commit framework


def test_the_manifest_is_valid_for_pre_commit() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "pre-commit"), "validate-manifest", str(MANIFEST)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    hooks = {h["id"]: h for h in yaml.safe_load(MANIFEST.read_text())}
    assert set(hooks) == {"tdm-validate", "tdm-scan"}
    assert hooks["tdm-scan"]["entry"] == "tdm scan"
    assert hooks["tdm-validate"]["entry"] == "tdm validate"
    assert hooks["tdm-validate"]["pass_filenames"] is False
    import re

    scan_files = re.compile(hooks["tdm-scan"]["files"])
    validate_files = re.compile(hooks["tdm-validate"]["files"])
    assert scan_files.search(PEOPLE_FILE) and not scan_files.search("README.md")
    for path in ("tdm.yaml", "tdm.lock", "schemas/people.yaml", PEOPLE_FILE):
        assert validate_files.search(path), path
    assert not validate_files.search("README.md")


@pytest.mark.slow
def test_a_commit_through_the_pre_commit_framework(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    local = [
        {
            **{k: h[k] for k in ("id", "name", "entry", "files", "pass_filenames") if k in h},
            "language": "system",
        }
        for h in manifest
    ]
    write_file(repo / ".pre-commit-config.yaml", {"repos": [{"repo": "local", "hooks": local}]})
    commit_all(repo, "pre-commit configuration")
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    installed = subprocess.run(
        ["pre-commit", "install"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert hooksmod.MARKER not in hook_path(repo).read_text()

    write_rows(repo, rows_with(LEAK))
    git(repo, "add", PEOPLE_FILE)
    before = head(repo)
    blocked = commit(repo)
    assert_blocked(blocked, repo, before)
    output = blocked.stdout + blocked.stderr
    assert "tdm scan" in output and "Failed" in output
    assert f"{PEOPLE_FILE}:1: email email " in output
    assert LEAK not in output

    write_rows(repo, rows_with("new@example.com"))
    git(repo, "add", PEOPLE_FILE)
    passed = commit(repo)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "tdm validate" in passed.stdout + passed.stderr
    assert "new@example.com" in committed(repo)
