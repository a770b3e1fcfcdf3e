"""Hostile repository content (a pull request's): nothing is read or written outside the
repository, whatever symbolic links or crafted tree entries a commit carries."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import git, init_repo, tdm


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    init_repo(root, sample=True)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "sample")
    return root


def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.jsonl"
    path.parent.mkdir()
    path.write_text('{"id": 1, "email": "jane.roe@gmail.com", "ssn": "123-45-6789"}\n')
    return path


def test_a_committed_symlink_dataset_is_never_read(repo: Path, tmp_path: Path) -> None:
    (repo / "datasets" / "smoke" / "evil.jsonl").symlink_to(secret(tmp_path))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a link")
    result = tdm("scan", "--repo", repo)
    assert result.exit_code == 0, result.output
    assert "evil" not in result.output
    # validate names the link (a finding, exit 2) but never reads through it
    validated = tdm("validate", "--repo", repo)
    assert validated.exit_code == 2
    assert "evil.jsonl: is a symbolic link" in validated.output
    assert "jane" not in validated.output and "123-45" not in validated.output


def test_a_staged_symlink_is_not_followed_by_the_hook(repo: Path, tmp_path: Path) -> None:
    assert tdm("hooks", "install", "--repo", repo).exit_code == 0
    (repo / "datasets" / "smoke" / "evil.jsonl").symlink_to(secret(tmp_path))
    git(repo, "add", "datasets/smoke/evil.jsonl")
    result = tdm("hooks", "run", "--repo", repo)
    assert "gmail" not in result.output and "jane" not in result.output
    assert "123-45" not in result.output


def _tree(root: Path, entries: list[tuple[str, str, str]]) -> str:
    """A tree object with arbitrary entry names (git mktree --literally)."""
    body = b"".join(
        f"{mode} {name}".encode() + b"\0" + bytes.fromhex(oid) for mode, name, oid in entries
    )
    return (
        subprocess.run(
            ["git", "-C", str(root), "hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
            input=body,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )


def test_a_crafted_tree_cannot_make_a_promotion_write_outside(repo: Path, tmp_path: Path) -> None:
    blob = (
        subprocess.run(
            ["git", "-C", str(repo), "hash-object", "-w", "--stdin"],
            input=b"#!/bin/sh\ntouch escaped\n",
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    hooks = _tree(repo, [("100755", "post-checkout", blob)])
    up = _tree(repo, [("40000", "hooks", hooks)])
    upper = _tree(repo, [("40000", "..", up)])
    head_tree = git(repo, "rev-parse", "HEAD^{tree}").stdout.strip()
    listing = git(repo, "ls-tree", head_tree).stdout.splitlines()
    entries = []
    for line in listing:
        meta, name = line.split("\t")
        mode, _kind, oid = meta.split()
        if name == "datasets":
            sub = git(repo, "ls-tree", oid).stdout.splitlines()
            sub_entries = [(m.split()[0], n, m.split()[2]) for m, n in (x.split("\t") for x in sub)]
            oid = _tree(repo, [*sub_entries, ("40000", "..", upper)])
        entries.append((mode, name, oid))
    crafted = _tree(repo, sorted(entries, key=lambda e: e[1]))
    commit = git(repo, "commit-tree", crafted, "-p", "HEAD", "-m", "crafted").stdout.strip()
    git(repo, "branch", "-f", "env/dev", commit)
    git(repo, "branch", "-f", "env/staging", "HEAD")
    result = tdm("env", "promote", "dev", "staging", "--dry-run", "--repo", repo)
    assert result.exit_code == 2, result.output
    assert "refusing the path" in result.output
    assert not (repo / ".git" / "hooks" / "post-checkout").exists()
    assert not any(p.name == "post-checkout" for p in (repo / ".git").rglob("post-checkout"))


def test_resolve_takes_plain_dataset_names_only(repo: Path) -> None:
    result = tdm("resolve", "../../etc/passwd", "--theirs", "--repo", repo)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_a_lock_entry_cannot_make_resolve_read_outside(repo: Path, tmp_path: Path) -> None:
    import orjson

    probe = tmp_path / "probe.jsonl"
    probe.write_text('{"id": 1}\n')
    lock = orjson.loads((repo / "tdm.lock").read_bytes())
    name = os.path.relpath(probe.with_suffix(""), repo / "datasets")
    lock["datasets"][name] = {"rows": 0, "sha256": "0" * 64}
    (repo / "tdm.lock").write_bytes(orjson.dumps(lock))
    tdm("resolve", "tdm.lock", "--repo", repo)
    after = orjson.loads((repo / "tdm.lock").read_bytes())
    assert after["datasets"][name]["sha256"] == "0" * 64  # the outside file was not hashed
