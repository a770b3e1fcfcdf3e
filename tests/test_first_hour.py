"""The first hour with tdm (issue 11, items 7-12): environments from HEAD, options,
completion, skeletons, messages in tdm's words, and the smaller surprises."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import git, tdm, tdm_subprocess

# ------------------------------------------------------------------ 7. environments


def test_sample_is_committed_with_its_readme_and_env_walkthrough_works(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    result = tdm("init", root, "--sample")
    assert result.exit_code == 0, result.output
    assert "Committed the sample as" in result.output
    tracked = git(root, "ls-files").stdout.split()
    assert "README.md" in tracked and "tdm.lock" in tracked
    assert git(root, "status", "--porcelain").stdout == ""

    # the README's walkthrough, without `git branch -f`
    staging = tdm("env", "create", "staging", "--from", "dev", "--repo", root)
    assert staging.exit_code == 0, staging.output
    assert "(from HEAD, as dev has no branch env/dev yet)" in staging.output
    dev = tdm("env", "create", "dev", "--repo", root)
    assert dev.exit_code == 0, dev.output
    assert "(from HEAD)" in dev.output
    head = git(root, "rev-parse", "HEAD").stdout.strip()
    for branch in ("env/dev", "env/staging"):
        assert git(root, "rev-parse", branch).stdout.strip() == head
    assert tdm("env", "switch", "dev", "--repo", root).exit_code == 0
    listing = tdm("env", "list", "--repo", root).output
    assert listing.startswith("* dev ")
    assert "prod-like    env/prod-like        (no branch yet)" in listing


def test_env_hints_name_a_command_that_works(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    assert tdm("init", root, "--sample").exit_code == 0
    refused = tdm("env", "switch", "dev", "--repo", root)
    assert refused.exit_code == 2
    assert "--from ENV" not in refused.output
    assert "`tdm env create dev`" in refused.output
    # following the hint works
    assert tdm("env", "create", "dev", "--repo", root).exit_code == 0
    assert tdm("env", "switch", "dev", "--repo", root).exit_code == 0
    unknown = tdm("env", "create", "qa", "--from", "nowhere", "--repo", root)
    assert unknown.exit_code == 2 and "unknown revision 'nowhere'" in unknown.output


def test_env_create_without_a_commit_says_commit_first(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    assert tdm("init", root).exit_code == 0
    result = tdm("env", "create", "dev", "--repo", root)
    assert result.exit_code == 2
    assert "HEAD has no commit yet" in result.output
    assert git(root, "branch", "--list").stdout == ""


# ------------------------------------------------------------------ 8. options


def test_global_dash_c_runs_in_that_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "shop"
    assert tdm("init", root, "--sample").exit_code == 0
    monkeypatch.chdir(tmp_path)
    result = tdm("-C", "shop", "validate")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 6 dataset(s)")
    missing = tdm("-C", "nowhere", "status")
    assert missing.exit_code == 2
    assert "-C nowhere: cannot change to it" in missing.output


def test_dash_c_in_a_real_process(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    assert tdm("init", root, "--sample").exit_code == 0
    done = tdm_subprocess("-C", root, "status", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"datasets"' in done.stdout


@pytest.mark.parametrize(
    "args", [(), ("generate",), ("validate",), ("init",), ("env", "promote"), ("scan",)]
)
def test_help_shows_flags_without_a_bool_value(args: tuple[str, ...]) -> None:
    result = tdm(*args, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help" in result.output


def test_init_inside_a_tdm_repository_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    assert tdm("init", root, "--sample").exit_code == 0
    before = sorted(p.name for p in root.iterdir())
    result = tdm("init", "--sample", root / "true")
    assert result.exit_code == 2
    assert "inside the tdm repository" in result.output
    assert not (root / "true").exists()
    assert sorted(p.name for p in root.iterdir()) == before
    deeper = tdm("init", root / "schemas" / "x")
    assert deeper.exit_code == 2 and not (root / "schemas" / "x").exists()


def test_a_boolean_is_not_a_count(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    assert tdm("init", root, "--sample").exit_code == 0
    path = root / "templates" / "smoke.yaml"
    text = path.read_text(encoding="utf-8")
    assert "count: 200" in text
    path.write_text(text.replace("count: 200", "count: true", 1), encoding="utf-8")
    line = next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if "count: true" in ln)
    result = tdm("validate", "--repo", root)
    assert result.exit_code == 2, result.output
    assert f"templates/smoke.yaml:{line}:" in result.output
    assert "count" in result.output
    assert tdm("generate", "smoke", "--repo", root).exit_code == 2


# ------------------------------------------------------------------ 10. skeletons


def test_empty_init_hint_leads_to_skeletons_that_validate_and_generate(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init = tdm("init", root)
    assert init.exit_code == 0
    assert "tdm new schema NAME" in init.output
    nothing = tdm("generate", "--repo", root)
    assert nothing.exit_code == 0
    assert "no template in templates/" in nothing.output
    early = tdm("new", "template", "smoke", "--repo", root)
    assert early.exit_code == 2 and "`tdm new schema NAME`" in early.output

    for name in ("customers", "orders"):
        made = tdm("new", "schema", name, "--repo", root)
        assert made.exit_code == 0, made.output
        text = (root / "schemas" / f"{name}.yaml").read_text(encoding="utf-8")
        assert text.startswith("# schemas/")
    made = tdm("new", "template", "smoke", "--schema", "customers", "--count", "7", "--repo", root)
    assert made.exit_code == 0, made.output
    assert "#" in (root / "templates" / "smoke.yaml").read_text(encoding="utf-8")
    assert tdm("validate", "--repo", root).exit_code == 0
    generated = tdm("generate", "--repo", root)
    assert generated.exit_code == 0, generated.output
    rows = (root / "datasets" / "smoke" / "customers.jsonl").read_text().splitlines()
    assert len(rows) == 7
    checked = tdm("validate", "--repo", root)
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("ok: 1 dataset(s), 7 rows valid")


def test_new_refuses_to_overwrite_or_escape(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    assert tdm("init", root).exit_code == 0
    assert tdm("new", "schema", "customers", "--repo", root).exit_code == 0
    before = (root / "schemas" / "customers.yaml").read_bytes()
    again = tdm("new", "schema", "customers", "--repo", root)
    assert again.exit_code == 2 and "exists already" in again.output
    assert (root / "schemas" / "customers.yaml").read_bytes() == before
    escape = tdm("new", "schema", "../outside", "--repo", root)
    assert escape.exit_code == 2 and not (tmp_path / "outside.yaml").exists()
    unknown = tdm("new", "template", "smoke", "--schema", "nope", "--repo", root)
    assert unknown.exit_code == 2 and "no schema 'nope'" in unknown.output
