"""`tdm init`: the layout, the sample, git repositories, and refusing to clobber."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import SAMPLE_DIR, git, snapshot, tdm, write_file

LAYOUT_DIRS = ("schemas", "templates", "masking", "datasets")


def test_init_creates_empty_layout_and_git_repository(tmp_path: Path) -> None:
    root = tmp_path / "shop"

    result = tdm("init", root)

    assert result.exit_code == 0, result.output
    assert "new git repository" in result.output
    config = yaml.safe_load((root / "tdm.yaml").read_text(encoding="utf-8"))
    assert config["name"] == "shop"
    assert isinstance(config["seed"], int)
    assert config["locale"] == "en_US"
    for folder in LAYOUT_DIRS:
        assert (root / folder).is_dir(), folder
    assert ".*.tmp" in (root / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert not (root / "tdm.lock").exists()
    # a real repository that plain git understands, on branch main
    assert git(root, "rev-parse", "--git-dir").stdout.strip() == ".git"
    assert git(root, "symbolic-ref", "HEAD").stdout.strip() == "refs/heads/main"
    assert git(root, "rev-parse", "--show-toplevel").stdout.strip() == str(root.resolve())


def test_init_layout_is_committable_with_plain_git(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    assert tdm("init", root).exit_code == 0

    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")

    tracked = set(git(root, "ls-files").stdout.split())
    assert {"tdm.yaml", ".gitignore"} <= tracked
    # the empty folders survive a clone thanks to a placeholder file
    for folder in LAYOUT_DIRS:
        assert any(path.startswith(f"{folder}/") for path in tracked), folder
    assert git(root, "fsck", "--no-progress").returncode == 0


def test_init_defaults_to_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "here"
    root.mkdir()
    monkeypatch.chdir(root)

    result = tdm("init")

    assert result.exit_code == 0, result.output
    assert (root / "tdm.yaml").is_file()
    assert (root / ".git").is_dir()


def test_init_sample_copies_the_example_repository(tmp_path: Path) -> None:
    root = tmp_path / "shop"

    result = tdm("init", root, "--sample")

    assert result.exit_code == 0, result.output
    assert "sample" in result.output
    copied = snapshot(root)
    expected = snapshot(SAMPLE_DIR)
    assert expected, "the sample repository is missing"
    for rel, data in expected.items():
        assert copied.get(rel) == data, rel
    assert git(root, "rev-parse", "--git-dir").returncode == 0


def test_init_in_existing_git_repository_does_not_reinit(tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    git(root, "init", "-q", "-b", "trunk")
    write_file(root / "README", "my app\n")
    write_file(root / ".gitignore", "*.pyc")  # no final newline on purpose
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "app")
    head = git(root, "rev-parse", "HEAD").stdout.strip()

    result = tdm("init", root)

    assert result.exit_code == 0, result.output
    assert "new git repository" not in result.output
    assert git(root, "rev-parse", "HEAD").stdout.strip() == head
    assert git(root, "symbolic-ref", "HEAD").stdout.strip() == "refs/heads/trunk"
    assert git(root, "rev-list", "--count", "HEAD").stdout.strip() == "1"
    assert (root / "README").read_text() == "my app\n"
    ignore = (root / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ignore[0] == "*.pyc"
    assert ".*.tmp" in ignore
    assert (root / "tdm.yaml").is_file()


def test_init_in_subdirectory_of_git_repository_uses_the_outer_repository(tmp_path: Path) -> None:
    outer = tmp_path / "app"
    outer.mkdir()
    git(outer, "init", "-q")

    result = tdm("init", outer / "testdata")

    assert result.exit_code == 0, result.output
    assert not (outer / "testdata" / ".git").exists()
    status = git(outer, "status", "--porcelain", "--untracked-files=all").stdout
    assert "testdata/tdm.yaml" in status


def test_init_refuses_to_overwrite_a_tdm_repository(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    assert tdm("init", root).exit_code == 0
    write_file(root / "tdm.yaml", "name: precious\nseed: 99\n")
    before = snapshot(root)

    result = tdm("init", root)

    assert result.exit_code == 2
    assert "already a tdm repository" in result.output
    assert "Traceback" not in result.output
    assert snapshot(root) == before


def test_init_sample_refuses_to_overwrite_a_tdm_repository(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    assert tdm("init", root).exit_code == 0
    before = snapshot(root)

    result = tdm("init", root, "--sample")

    assert result.exit_code == 2
    assert snapshot(root) == before


def test_init_sample_refuses_to_overwrite_existing_files(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    write_file(root / "schemas" / "customers.yaml", "mine: true\n")

    result = tdm("init", root, "--sample")

    assert result.exit_code == 2
    assert "schemas/customers.yaml" in result.output
    assert (root / "schemas" / "customers.yaml").read_text() == "mine: true\n"
    assert not (root / "tdm.yaml").exists()
    assert not (root / ".git").exists()


def test_init_on_a_file_is_an_error(tmp_path: Path) -> None:
    target = write_file(tmp_path / "file.txt", "hello\n")

    result = tdm("init", target)

    assert result.exit_code == 2
    assert "not a directory" in result.output
    assert target.read_text() == "hello\n"
