"""tdm env: environments declared in tdm.yaml as branches; list, create, switch, diff,
delete, and promote with its gates (validation of the merged result, protected targets
and breaking schema changes, requires_masking), against real git repositories."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from helpers import (
    PEOPLE,
    PEOPLE_FILE,
    generate_in_process,
    git,
    init_repo,
    person,
    read_lock,
    read_rows,
    snapshot,
    tdm,
    write_file,
)

from tdm.project import Project

PETS = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "owner_id", "name"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "owner_id": {"type": "integer", "x-tdm": {"ref": "people.id"}},
        "name": {"type": "string", "maxLength": 20},
    },
}
PETS_FILE = "datasets/t/pets.jsonl"
CONFIG = """\
# tdm project settings
name: shop
seed: 0
locale: en_US
environments:
  dev:
    branch: env/dev
    description: Day-to-day data
  qa:
    branch: env/qa
  staging:
    branch: env/staging
    protected: true
  prod:
    branch: env/prod
    protected: true
    requires_masking: true
"""


def pet(i: int, owner: int | None = None) -> dict[str, Any]:
    return {"id": i, "owner_id": i if owner is None else owner, "name": f"Pet {i}"}


def people(
    changes: dict[int, dict[str, Any]] | None = None, ids: range = range(1, 7)
) -> list[dict[str, Any]]:
    changes = changes or {}
    return [person(i, **changes.get(i, {})) for i in ids]


BASE_PEOPLE = people()
BASE_PETS = [pet(i) for i in range(1, 5)]


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def rows_writer(rel: str, rows: list[dict[str, Any]]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        (root / rel).write_bytes(jsonl(rows))

    return edit


def head(root: Path, rev: str = "HEAD") -> str:
    return git(root, "rev-parse", rev).stdout.strip()


def commit_on(root: Path, branch: str, *edits: Callable[[Path], object], back: bool = True) -> str:
    """Check out ``branch``, apply ``edits``, recompute tdm.lock (`tdm resolve tdm.lock`),
    commit; then check out the branch that was current before (unless ``back`` is False)."""
    before = git(root, "symbolic-ref", "--short", "HEAD").stdout.strip()
    git(root, "checkout", "-q", branch)
    for edit in edits:
        edit(root)
    assert tdm("resolve", "tdm.lock", "--repo", root).exit_code == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"edit {branch}")
    new = head(root)
    if back:
        git(root, "checkout", "-q", before)
    return new


@pytest.fixture(scope="module")
def _envs_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("envs-master") / "shop"
    init_repo(root)
    write_file(root / "tdm.yaml", CONFIG)
    write_file(root / "schemas" / "people.yaml", PEOPLE)
    write_file(root / "schemas" / "pets.yaml", PETS)
    write_file(
        root / "templates" / "t.yaml",
        {
            "seed": 1,
            "datasets": {
                "people": {"schema": "people", "count": 6},
                "pets": {"schema": "pets", "count": 4},
            },
        },
    )
    generate_in_process(root)
    rows_writer(PEOPLE_FILE, BASE_PEOPLE)(root)  # known rows; tdm.lock recomputed for them
    rows_writer(PETS_FILE, BASE_PETS)(root)
    assert tdm("resolve", "tdm.lock", "--repo", root).exit_code == 0
    write_file(root / "notes.txt", "not a tdm file\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    for name in ("dev", "qa", "staging", "prod"):
        result = tdm("env", "create", name, "--from", "main", "--repo", root)
        assert result.exit_code == 0, result.output
    assert git(root, "status", "--porcelain").stdout == ""
    return root


@pytest.fixture
def repo(_envs_master: Path, tmp_path: Path) -> Path:
    """dev, qa, staging (protected) and prod (protected, requires_masking), each a branch
    at main's commit: people (person 1..6) and pets (pet i owned by person i, 1..4) with
    matching tdm.lock entries; main checked out, nothing uncommitted."""
    root = tmp_path / "shop"
    shutil.copytree(_envs_master, root, symlinks=True)
    return root


def state(root: Path) -> dict[str, Any]:
    """Everything a refused command must leave alone: refs, HEAD, index, work tree."""
    return {
        "refs": git(root, "show-ref").stdout,
        "HEAD": (root / ".git" / "HEAD").read_text(),
        "status": git(root, "status", "--porcelain", "--untracked-files=all").stdout,
        "diff": git(root, "diff").stdout,
        "cached": git(root, "diff", "--cached").stdout,
        "index": git(root, "ls-files", "--stage").stdout,
        "files": snapshot(root),
        "leftovers": sorted(p.name for p in (root / ".git").glob("tdm/promote-*")),
    }


def env_json(root: Path) -> dict[str, dict[str, Any]]:
    result = tdm("env", "list", "--json", "--repo", root)
    assert result.exit_code == 0, result.output
    return {e["name"]: e for e in json.loads(result.stdout)["environments"]}


def promote(root: Path, *args: str) -> Any:
    return tdm("env", "promote", *args, "--repo", root)


def lock_matches(root: Path, rev: str) -> None:
    """tdm.lock at ``rev`` describes the datasets at ``rev`` (sha256 and rows)."""
    lock = json.loads(git(root, "show", f"{rev}:tdm.lock").stdout)["datasets"]
    for name, rel in (("t/people", PEOPLE_FILE), ("t/pets", PETS_FILE)):
        data = git(root, "show", f"{rev}:{rel}").stdout.encode()
        assert lock[name]["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert lock[name]["rows"] == len(data.splitlines()), name


def rows_at(root: Path, rev: str, rel: str = PEOPLE_FILE) -> list[dict[str, Any]]:
    return [json.loads(line) for line in git(root, "show", f"{rev}:{rel}").stdout.splitlines()]


# ---------------------------------------------------------------- tdm.yaml


def test_tdm_init_declares_a_dev_environment(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    assert tdm("init", root).exit_code == 0
    config = yaml.safe_load((root / "tdm.yaml").read_text())
    assert config["environments"] == {"dev": {"branch": "env/dev"}}
    assert env_json(root) == {
        "dev": {
            "name": "dev",
            "branch": "env/dev",
            "exists": False,
            "current": False,
            "head": None,
            "version": None,
            "protected": False,
            "requires_masking": False,
            "description": "",
        }
    }
    text = tdm("env", "list", "--repo", root)
    assert text.stdout == "  dev          env/dev              (no branch yet)\n"


def test_environments_are_listed_with_their_settings(repo: Path) -> None:
    short = head(repo)[:7]
    envs = env_json(repo)
    assert list(envs) == ["dev", "prod", "qa", "staging"]
    assert {n: (e["branch"], e["exists"], e["current"], e["head"]) for n, e in envs.items()} == {
        "dev": ("env/dev", True, False, short),
        "prod": ("env/prod", True, False, short),
        "qa": ("env/qa", True, False, short),
        "staging": ("env/staging", True, False, short),
    }
    assert {n: (e["protected"], e["requires_masking"]) for n, e in envs.items()} == {
        "dev": (False, False),
        "prod": (True, True),
        "qa": (False, False),
        "staging": (True, False),
    }
    assert envs["dev"]["description"] == "Day-to-day data"
    assert envs["qa"]["description"] == ""
    text = tdm("env", "list", "--repo", repo).stdout.splitlines()
    assert text == [
        f"  dev          env/dev              {short} (no version)  Day-to-day data",
        f"  prod         env/prod             {short} (no version)  [protected, requires masking]",
        f"  qa           env/qa               {short} (no version)",
        f"  staging      env/staging          {short} (no version)  [protected]",
    ]


@pytest.mark.parametrize("name", ["../up", "bad name", ".hidden", "a/b", "_under"])
def test_a_bad_environment_name_is_refused_with_exit_2(repo: Path, name: str) -> None:
    before = state(repo)
    created = tdm("env", "create", name, "--from", "main", "--repo", repo)
    assert created.exit_code == 2
    assert f"environment {name!r} is not a valid name" in created.stderr
    assert state(repo) == before  # no branch, tdm.yaml untouched

    config = yaml.safe_load(CONFIG)
    config["environments"][name] = {"branch": "env/x"}
    write_file(repo / "tdm.yaml", config)
    listed = tdm("env", "list", "--repo", repo)
    assert listed.exit_code == 2
    assert "is not a valid name" in listed.stderr


def test_an_unknown_environment_setting_is_refused(repo: Path) -> None:
    config = yaml.safe_load(CONFIG)
    config["environments"]["qa"]["protect"] = True  # a typo must not leave qa unprotected
    write_file(repo / "tdm.yaml", config)
    result = tdm("env", "list", "--repo", repo)
    assert result.exit_code == 2
    assert "protect" in result.stderr


# ---------------------------------------------------------------- list, create, switch, delete


def test_list_shows_the_current_environment_and_its_newest_version(repo: Path) -> None:
    assert tdm("tag", "v1.0", "--repo", repo).exit_code == 0  # on main: in every env
    dev = commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({1: {"name": "One"}})))
    git(repo, "tag", "v1.1", "env/dev")
    assert tdm("env", "switch", "dev", "--repo", repo).exit_code == 0
    envs = env_json(repo)
    assert {n: (e["current"], e["version"]) for n, e in envs.items()} == {
        "dev": (True, "v1.1"),
        "prod": (False, "v1.0"),
        "qa": (False, "v1.0"),
        "staging": (False, "v1.0"),
    }
    assert envs["dev"]["head"] == dev[:7]
    text = tdm("env", "list", "--repo", repo).stdout.splitlines()
    assert text[0] == f"* dev          env/dev              {dev[:7]} v1.1  Day-to-day data"
    assert text[2].startswith("  qa           env/qa               ")


def test_create_starts_from_another_environments_head_and_declares_it(repo: Path) -> None:
    dev = commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({1: {"name": "One"}})))
    result = tdm("env", "create", "feature", "--from", "dev", "--repo", repo)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"created env/feature at {dev[:7]} (from dev)\n"
        'added feature to tdm.yaml: commit it (`tdm commit -m "environment feature"`)\n'
    )
    assert head(repo, "env/feature") == dev  # dev's head, not main's
    assert head(repo) != dev
    assert (repo / "tdm.yaml").read_text() == CONFIG + "  feature:\n    branch: env/feature\n"
    assert Project.load(repo).config.environments["feature"].branch == "env/feature"
    assert git(repo, "status", "--porcelain").stdout == " M tdm.yaml\n"
    assert env_json(repo)["feature"]["head"] == dev[:7]


def test_create_keeps_the_comments_and_layout_of_tdm_yaml(repo: Path) -> None:
    text = (
        "# settings\n"
        "name: shop\n"
        "environments:   # where data lives\n"
        "  dev:\n"
        "    branch: env/dev   # day to day\n"
        "\n"
        "  # staging comes later\n"
        "seed: 0\n"
        "locale: en_US\n"
    )
    (repo / "tdm.yaml").write_text(text)
    result = tdm(
        "env", "create", "review", "--from", "main", "--branch", "review/x", "--repo", repo
    )
    assert result.exit_code == 0, result.output
    assert (repo / "tdm.yaml").read_text() == (
        "# settings\n"
        "name: shop\n"
        "environments:   # where data lives\n"
        "  dev:\n"
        "    branch: env/dev   # day to day\n"
        "\n"
        "  # staging comes later\n"
        "  review:\n"
        "    branch: review/x\n"
        "seed: 0\n"
        "locale: en_US\n"
    )
    assert head(repo, "review/x") == head(repo, "main")
    config = Project.load(repo).config
    assert (config.seed, config.locale) == (0, "en_US")


def test_create_declares_in_a_tdm_yaml_without_environments(repo: Path) -> None:
    (repo / "tdm.yaml").write_text("name: shop\nseed: 0")  # no final newline either
    result = tdm("env", "create", "feature", "--from", "main", "--repo", repo)
    assert result.exit_code == 0, result.output
    assert (repo / "tdm.yaml").read_text() == (
        "name: shop\nseed: 0\nenvironments:\n  feature:\n    branch: env/feature\n"
    )
    assert head(repo, "env/feature") == head(repo, "main")


def test_create_that_cannot_declare_the_environment_changes_nothing(repo: Path) -> None:
    (repo / "tdm.yaml").write_text("name: shop\nenvironments: {dev: {branch: env/dev}}\n")
    before = state(repo)
    result = tdm("env", "create", "feature", "--from", "main", "--repo", repo)
    assert result.exit_code == 2
    assert "could not add environment 'feature' to tdm.yaml" in result.stderr
    assert state(repo) == before  # actual: refs/heads/env/feature exists


def test_create_refuses_an_existing_branch_an_unknown_source_and_a_bad_branch(
    repo: Path,
) -> None:
    before = state(repo)
    exists = tdm("env", "create", "dev", "--from", "main", "--repo", repo)
    assert exists.exit_code == 2
    assert "branch env/dev already exists" in exists.stderr
    unknown = tdm("env", "create", "feature", "--from", "nowhere", "--repo", repo)
    assert unknown.exit_code == 2
    assert "unknown revision 'nowhere'" in unknown.stderr
    bad = tdm("env", "create", "feature", "--from", "main", "--branch", "a..b", "--repo", repo)
    assert bad.exit_code == 2
    assert "'a..b' is not a valid branch name" in bad.stderr
    assert state(repo) == before


def test_switch_checks_out_the_environments_branch(repo: Path) -> None:
    dev = commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({1: {"name": "One"}})))
    result = tdm("env", "switch", "dev", "--repo", repo)
    assert result.exit_code == 0, result.output
    assert result.stdout == "switched to dev (env/dev)\n"
    assert git(repo, "symbolic-ref", "HEAD").stdout.strip() == "refs/heads/env/dev"
    assert head(repo) == dev
    assert read_rows(repo / PEOPLE_FILE) == people({1: {"name": "One"}})
    assert git(repo, "status", "--porcelain").stdout == ""


def test_switch_refuses_to_overwrite_uncommitted_work_naming_the_files(repo: Path) -> None:
    commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({1: {"name": "One"}})))
    rows_writer(PEOPLE_FILE, people({2: {"name": "Unsaved"}}))(repo)
    before = state(repo)
    result = tdm("env", "switch", "dev", "--repo", repo)
    assert result.exit_code == 1
    assert "would overwrite uncommitted changes in: datasets/t/people.jsonl" in result.stderr
    assert state(repo) == before
    assert read_rows(repo / PEOPLE_FILE) == people({2: {"name": "Unsaved"}})

    forced = tdm("env", "switch", "dev", "--force", "--repo", repo)
    assert forced.exit_code == 0, forced.output
    assert read_rows(repo / PEOPLE_FILE) == people({1: {"name": "One"}})


def test_switch_carries_other_uncommitted_changes_over(repo: Path) -> None:
    commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({1: {"name": "One"}})))
    rows_writer(PETS_FILE, [*BASE_PETS, pet(5)])(repo)  # pets are the same on dev
    (repo / "schemas" / "extra.yaml").write_text("type: object\n")
    result = tdm("env", "switch", "dev", "--repo", repo)
    assert result.exit_code == 0, result.output
    assert git(repo, "symbolic-ref", "HEAD").stdout.strip() == "refs/heads/env/dev"
    assert read_rows(repo / PEOPLE_FILE) == people({1: {"name": "One"}})
    assert read_rows(repo / PETS_FILE) == [*BASE_PETS, pet(5)]
    assert git(repo, "status", "--porcelain").stdout == (f" M {PETS_FILE}\n?? schemas/extra.yaml\n")


def test_switch_to_an_unknown_environment_or_one_without_a_branch(repo: Path) -> None:
    unknown = tdm("env", "switch", "nope", "--repo", repo)
    assert unknown.exit_code == 2
    assert "no environment 'nope' in tdm.yaml (known: dev, prod, qa, staging)" in unknown.stderr
    git(repo, "branch", "-D", "env/qa")
    missing = tdm("env", "switch", "qa", "--repo", repo)
    assert missing.exit_code == 2
    assert "environment 'qa' has no branch env/qa yet" in missing.stderr


def test_delete_removes_the_branch_but_not_the_declaration(repo: Path) -> None:
    dev = commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({1: {"name": "One"}})))
    before = state(repo)
    unmerged = tdm("env", "delete", "dev", "--repo", repo)
    assert unmerged.exit_code == 1
    assert "env/dev has commits that HEAD does not contain" in unmerged.stderr
    assert state(repo) == before

    deleted = tdm("env", "delete", "qa", "--repo", repo)  # at main's commit: contained
    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout == "deleted branch env/qa\n"
    assert git(repo, "branch", "--list", "env/qa").stdout == ""
    assert env_json(repo)["qa"]["exists"] is False
    assert "qa" in Project.load(repo).config.environments

    # recreated from dev: already declared, tdm.yaml not touched
    again = tdm("env", "create", "qa", "--from", "dev", "--repo", repo)
    assert again.stdout == f"created env/qa at {dev[:7]} (from dev)\n"
    assert (repo / "tdm.yaml").read_text() == CONFIG

    assert tdm("env", "switch", "qa", "--repo", repo).exit_code == 0
    current = tdm("env", "delete", "qa", "--repo", repo)
    assert current.exit_code == 1
    assert "env/qa is checked out; switch to another environment first" in current.stderr
    assert tdm("env", "switch", "staging", "--repo", repo).exit_code == 0

    forced = tdm("env", "delete", "dev", "--force", "--repo", repo)
    assert forced.exit_code == 0, forced.output
    assert git(repo, "branch", "--list", "env/dev").stdout == ""


def test_env_diff_shows_what_a_promotion_would_bring(repo: Path) -> None:
    commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({3: {"name": "Three"}})))
    commit_on(repo, "env/qa", rows_writer(PEOPLE_FILE, people({4: {"name": "Four"}})))
    before = state(repo)
    result = tdm("env", "diff", "dev", "qa", "--json", "--repo", repo)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    [people_diff] = report["datasets"]
    # dev's changes since the branches diverged; qa's own change to row 4 is not listed
    assert (people_diff["name"], people_diff["changed"], people_diff["added"]) == ("t/people", 1, 0)
    assert [c["key"] for c in people_diff["samples"]["changed"]] == [3]
    assert people_diff["samples"]["changed"][0]["fields"] == {
        "name": {"old": "P 3", "new": "Three"}
    }
    text = tdm("env", "diff", "dev", "qa", "--repo", repo)
    assert text.exit_code == 0
    assert 'name: "P 3" -> "Three"' in text.stdout
    assert "Four" not in text.stdout
    assert state(repo) == before


# ---------------------------------------------------------------- promote


def test_promote_fast_forwards_when_the_target_has_nothing_of_its_own(repo: Path) -> None:
    dev = commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({3: {"name": "Three"}})))
    files = snapshot(repo)
    result = promote(repo, "dev", "qa")
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"dev -> qa was promoted: fast-forward\nqa is now at {dev[:7]}\n")
    assert head(repo, "env/qa") == dev
    assert head(repo, "main") != dev  # HEAD and work tree untouched
    assert snapshot(repo) == files
    # nothing left to promote either way
    again = promote(repo, "dev", "qa")
    assert again.exit_code == 0
    assert again.stdout == "qa already contains dev: nothing to promote\n"
    assert json.loads(promote(repo, "qa", "dev", "--json").stdout)["kind"] == "up to date"
    assert head(repo, "env/qa") == dev


def test_promote_merges_diverged_branches_by_key_with_a_merge_commit(repo: Path) -> None:
    # dev: row 3 changed, a pet for person 6; qa: the adjacent row 4 changed, person 7 added
    dev = commit_on(
        repo,
        "env/dev",
        rows_writer(PEOPLE_FILE, people({3: {"name": "Three"}})),
        rows_writer(PETS_FILE, [*BASE_PETS, pet(5, owner=6)]),
    )
    qa = commit_on(
        repo, "env/qa", rows_writer(PEOPLE_FILE, [*people({4: {"tier": "silver"}}), person(7)])
    )
    result = promote(repo, "dev", "qa", "--json", "-m", "release dev to qa")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    new = head(repo, "env/qa")
    assert outcome == {
        "source": "dev",
        "target": "qa",
        "kind": "merge",
        "commit": new,
        "merged_by_key": ["t/people"],
        "breaking": [],
        "dry_run": False,
    }
    assert git(repo, "rev-list", "--parents", "-n", "1", new).stdout.split() == [new, qa, dev]
    assert git(repo, "log", "-1", "--format=%B", new).stdout.strip() == "release dev to qa"
    assert head(repo, "env/dev") == dev
    assert rows_at(repo, new) == [*people({3: {"name": "Three"}, 4: {"tier": "silver"}}), person(7)]
    assert rows_at(repo, new, PETS_FILE) == [*BASE_PETS, pet(5, owner=6)]
    lock_matches(repo, new)
    # the promoted environment is valid as checked out
    assert tdm("env", "switch", "qa", "--repo", repo).exit_code == 0
    valid = tdm("validate", "--repo", repo)
    assert valid.exit_code == 0, valid.output
    assert json.loads(tdm("status", "--json", "--repo", repo).stdout)["clean"] is True


def test_promote_merges_datasets_changed_on_different_sides(repo: Path) -> None:
    dev = commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({6: {"name": "Six"}})))
    qa = commit_on(repo, "env/qa", rows_writer(PETS_FILE, [*BASE_PETS, pet(5)]))
    result = promote(repo, "dev", "qa", "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert (outcome["kind"], outcome["merged_by_key"]) == ("merge", [])  # git's merge sufficed
    new = head(repo, "env/qa")
    assert git(repo, "rev-list", "--parents", "-n", "1", new).stdout.split() == [new, qa, dev]
    assert rows_at(repo, new) == people({6: {"name": "Six"}})
    assert rows_at(repo, new, PETS_FILE) == [*BASE_PETS, pet(5)]
    lock_matches(repo, new)


def test_rows_added_with_the_same_key_on_both_sides_refuse_the_promotion(repo: Path) -> None:
    commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, [*BASE_PEOPLE, person(7, name="Dev")]))
    commit_on(repo, "env/qa", rows_writer(PEOPLE_FILE, [*BASE_PEOPLE, person(7, name="QA")]))
    before = state(repo)
    result = promote(repo, "dev", "qa")
    assert result.exit_code == 1
    assert "datasets/t/people.jsonl: id=7: added on both sides with different values" in (
        result.stderr
    )
    assert state(repo) == before


def test_promote_text_output_and_default_message(repo: Path) -> None:
    commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({3: {"name": "Three"}})))
    commit_on(repo, "env/qa", rows_writer(PEOPLE_FILE, people({4: {"name": "Four"}})))
    result = promote(repo, "dev", "qa")
    assert result.exit_code == 0, result.output
    new = head(repo, "env/qa")
    assert result.stdout == (
        "dev -> qa was promoted: merge (datasets merged by key: t/people)\n"
        f"qa is now at {new[:7]}\n"
    )
    assert git(repo, "log", "-1", "--format=%B", new).stdout == "tdm env promote dev -> qa\n\n"


def test_dry_run_reports_the_promotion_and_changes_nothing(repo: Path) -> None:
    commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({3: {"name": "Three"}})))
    commit_on(repo, "env/qa", rows_writer(PEOPLE_FILE, people({4: {"name": "Four"}})))
    before = state(repo)
    text = promote(repo, "dev", "qa", "--dry-run")
    assert text.exit_code == 0, text.output
    assert text.stdout == "dev -> qa would be promoted: merge (datasets merged by key: t/people)\n"
    as_json = json.loads(promote(repo, "dev", "qa", "--dry-run", "--json").stdout)
    assert (as_json["kind"], as_json["commit"], as_json["dry_run"]) == ("merge", None, True)
    assert state(repo) == before


def test_a_conflicting_promotion_is_refused_and_changes_nothing(repo: Path) -> None:
    commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({3: {"name": "Dev"}})))
    commit_on(repo, "env/qa", rows_writer(PEOPLE_FILE, people({3: {"name": "QA"}})))
    before = state(repo)
    result = promote(repo, "dev", "qa")
    assert result.exit_code == 1
    assert "the promotion cannot be merged automatically; nothing was changed" in result.stderr
    assert "datasets/t/people.jsonl: id=3: both sides changed name" in result.stderr
    assert "tdm resolve" in result.stderr
    assert state(repo) == before


def test_an_invalid_merged_result_is_refused_always_and_changes_nothing(repo: Path) -> None:
    # each side is valid; merged, dev's new pet points at the person qa removed
    commit_on(repo, "env/dev", rows_writer(PETS_FILE, [*BASE_PETS, pet(5, owner=6)]))
    commit_on(repo, "env/qa", rows_writer(PEOPLE_FILE, BASE_PEOPLE[:5]))
    for branch in ("env/dev", "env/qa"):
        git(repo, "checkout", "-q", branch)
        assert tdm("validate", "--repo", repo).exit_code == 0
    git(repo, "checkout", "-q", "main")
    before = state(repo)
    for extra in ((), ("--allow-breaking",), ("--dry-run",)):
        result = promote(repo, "dev", "qa", *extra)
        assert result.exit_code == 1, extra
        assert "the promoted data would not be valid; nothing was changed" in result.stderr
        assert "datasets/t/pets.jsonl:5: owner_id=6 has no row in t/people (id)" in result.stderr
        assert state(repo) == before
    # the merge commit was never written
    fsck = git(repo, "fsck", "--no-reflogs", "--unreachable").stdout
    assert "unreachable commit" not in fsck


def test_invalid_data_is_refused_even_as_a_fast_forward(repo: Path) -> None:
    commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({2: {"name": "N" * 41}})))
    before = state(repo)
    result = promote(repo, "dev", "qa")
    assert result.exit_code == 1
    assert "the promoted data would not be valid" in result.stderr
    assert "datasets/t/people.jsonl:2:" in result.stderr
    assert state(repo) == before


def tighten_names(root: Path) -> None:
    schema = json.loads(json.dumps(PEOPLE))
    schema["properties"]["name"]["maxLength"] = 20
    write_file(root / "schemas" / "people.yaml", schema)


BREAKING = (
    "people: name: maxLength 40 -> 20 (registry (strict) refuses it: "
    "data written with the old schema may not be valid under the new one)"
)


def test_a_protected_target_refuses_breaking_schema_changes(repo: Path) -> None:
    dev = commit_on(repo, "env/dev", tighten_names)
    before = state(repo)
    for extra in ((), ("--dry-run",)):
        refused = promote(repo, "dev", "staging", *extra)
        assert refused.exit_code == 1
        assert refused.stderr == (
            "tdm: error: staging is protected and the promotion brings breaking schema changes:\n"
            f"  {BREAKING}\n"
            "nothing was changed; pass --allow-breaking to promote anyway\n"
        )
        assert state(repo) == before

    # an unprotected environment takes it, saying so
    unprotected = promote(repo, "dev", "qa")
    assert unprotected.exit_code == 0, unprotected.output
    assert f"  breaking (allowed): {BREAKING}\n" in unprotected.stdout
    # and so does the protected one when asked to
    allowed = promote(repo, "dev", "staging", "--allow-breaking", "--json")
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["breaking"] == [BREAKING]
    assert head(repo, "env/staging") == dev


def test_a_source_branch_cannot_lift_the_targets_protection(repo: Path) -> None:
    def unprotect(root: Path) -> None:
        text = (root / "tdm.yaml").read_text()
        (root / "tdm.yaml").write_text(text.replace("    protected: true\n", "", 1))

    commit_on(repo, "env/dev", unprotect, tighten_names, back=False)  # dev checked out
    assert Project.load(repo).config.environments["staging"].protected is False
    before = state(repo)
    result = promote(repo, "dev", "staging")
    assert result.exit_code == 1
    assert "staging is protected and the promotion brings breaking schema changes" in result.stderr
    assert state(repo) == before


def test_a_source_branch_cannot_lift_the_targets_masking_requirement(repo: Path) -> None:
    def unmask(root: Path) -> None:
        text = (root / "tdm.yaml").read_text()
        (root / "tdm.yaml").write_text(text.replace("    requires_masking: true\n", ""))

    leak = rows_writer(PEOPLE_FILE, people({2: {"email": "jane.doe@gmail.com"}}))
    commit_on(repo, "env/dev", unmask, leak, back=False)
    assert Project.load(repo).config.environments["prod"].requires_masking is False
    before = state(repo)
    result = promote(repo, "dev", "prod")
    assert result.exit_code == 1
    assert "prod requires masked or generated data; nothing was changed" in result.stderr
    assert state(repo) == before


def test_requires_masking_refuses_data_tdm_did_not_generate_or_mask(repo: Path) -> None:
    def forget_pets(root: Path) -> None:
        lock = read_lock(root)
        del lock["datasets"]["t/pets"]
        (root / "tdm.lock").write_text(json.dumps(lock, indent=2) + "\n")

    commit_on(repo, "env/dev", forget_pets)
    git(repo, "checkout", "-q", "env/dev")
    assert tdm("validate", "--repo", repo).exit_code == 0  # valid data, just unrecorded
    git(repo, "checkout", "-q", "main")
    before = state(repo)
    result = promote(repo, "dev", "prod")
    assert result.exit_code == 1
    assert result.stderr == (
        "tdm: error: prod requires masked or generated data; nothing was changed:\n"
        "  t/pets: neither generated nor masked by tdm (no tdm.lock record)\n"
    )
    assert state(repo) == before
    assert promote(repo, "dev", "qa").exit_code == 0  # qa does not require masking


def test_requires_masking_refuses_personal_data_that_scan_finds(repo: Path) -> None:
    generated = commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({1: {"name": "One"}})))
    ok = promote(repo, "dev", "prod")  # generated data with fictional addresses: accepted
    assert ok.exit_code == 0, ok.output
    assert head(repo, "env/prod") == generated

    commit_on(
        repo, "env/dev", rows_writer(PEOPLE_FILE, people({2: {"email": "jane.doe@gmail.com"}}))
    )
    before = state(repo)
    result = promote(repo, "dev", "prod")
    assert result.exit_code == 1
    assert "prod requires masked or generated data; nothing was changed" in result.stderr
    assert "datasets/t/people.jsonl:2: email email" in result.stderr
    assert "jane.doe@gmail.com" not in result.stderr  # findings never show the value
    assert state(repo) == before
    assert head(repo, "env/prod") == generated


@pytest.mark.parametrize("kind", ["fast-forward", "merge"])
def test_promoting_into_the_checked_out_environment_updates_its_work_tree(
    repo: Path, kind: str
) -> None:
    dev = commit_on(
        repo,
        "env/dev",
        rows_writer(PEOPLE_FILE, people({3: {"name": "Three"}})),
        rows_writer(PETS_FILE, [*BASE_PETS, pet(5)]),
    )
    if kind == "merge":
        commit_on(repo, "env/qa", rows_writer(PEOPLE_FILE, people({4: {"name": "Four"}})))
    assert tdm("env", "switch", "qa", "--repo", repo).exit_code == 0
    (repo / "scratch.txt").write_text("untracked, not tdm's\n")
    result = promote(repo, "dev", "qa", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["kind"] == kind
    new = head(repo, "env/qa")
    assert head(repo) == new
    assert git(repo, "symbolic-ref", "HEAD").stdout.strip() == "refs/heads/env/qa"
    if kind == "fast-forward":
        assert new == dev
    assert git(repo, "status", "--porcelain").stdout == "?? scratch.txt\n"
    assert git(repo, "diff", "--cached").stdout == ""
    for rel in (PEOPLE_FILE, PETS_FILE, "tdm.lock"):
        assert (repo / rel).read_bytes() == git(repo, "show", f"{new}:{rel}").stdout.encode()
    expected = {3: {"name": "Three"}} | ({4: {"name": "Four"}} if kind == "merge" else {})
    assert read_rows(repo / PEOPLE_FILE) == people(expected)
    assert tdm("validate", "--repo", repo).exit_code == 0


def test_promoting_into_the_checked_out_environment_with_uncommitted_changes_is_refused(
    repo: Path,
) -> None:
    commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({3: {"name": "Three"}})))
    assert tdm("env", "switch", "qa", "--repo", repo).exit_code == 0
    rows_writer(PETS_FILE, [*BASE_PETS, pet(5)])(repo)  # unsaved work the promotion ignores
    before = state(repo)
    result = promote(repo, "dev", "qa")
    assert result.exit_code == 1
    assert (
        f"env/qa is checked out with uncommitted changes ({PETS_FILE}); commit them first"
    ) in result.stderr
    assert state(repo) == before

    (repo / PETS_FILE).write_bytes(jsonl(BASE_PETS))
    (repo / "schemas" / "extra.yaml").write_text("type: object\n")  # untracked tdm file
    before = state(repo)
    result = promote(repo, "dev", "qa")
    assert result.exit_code == 1
    assert "uncommitted changes (schemas/extra.yaml)" in result.stderr
    assert state(repo) == before


def test_promotion_that_would_overwrite_unsaved_non_tdm_files_changes_nothing(
    repo: Path,
) -> None:
    commit_on(
        repo,
        "env/dev",
        rows_writer(PEOPLE_FILE, people({3: {"name": "Three"}})),
        lambda root: write_file(root / "notes.txt", "dev's notes\n"),
    )
    assert tdm("env", "switch", "qa", "--repo", repo).exit_code == 0
    (repo / "notes.txt").write_text("unsaved notes\n")
    before = state(repo)
    result = promote(repo, "dev", "qa")
    assert result.exit_code == 1
    assert "would overwrite uncommitted changes in: notes.txt" in result.stderr
    assert state(repo) == before
    assert (repo / "notes.txt").read_text() == "unsaved notes\n"


def test_promoting_into_the_checked_out_environment_keeps_other_staged_changes(
    repo: Path,
) -> None:
    dev = commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({3: {"name": "Three"}})))
    assert tdm("env", "switch", "qa", "--repo", repo).exit_code == 0
    (repo / "notes.txt").write_text("staged notes\n")
    git(repo, "add", "notes.txt")
    result = promote(repo, "dev", "qa")
    assert result.exit_code == 0, result.output
    assert head(repo) == dev
    assert (repo / "notes.txt").read_text() == "staged notes\n"
    assert git(repo, "status", "--porcelain").stdout == "M  notes.txt\n"


def test_promote_refuses_bad_environments(repo: Path) -> None:
    before = state(repo)
    same = promote(repo, "dev", "dev")
    assert same.exit_code == 2
    assert "dev and dev are the same branch (env/dev)" in same.stderr
    unknown = promote(repo, "dev", "nope")
    assert unknown.exit_code == 2
    assert "no environment 'nope'" in unknown.stderr
    git(repo, "branch", "-D", "env/qa")
    before = state(repo)
    missing = promote(repo, "dev", "qa")
    assert missing.exit_code == 2
    assert "environment 'qa' has no branch env/qa yet" in missing.stderr
    assert state(repo) == before


def test_a_stale_lock_entry_does_not_change_the_key_promotion_merges_by(repo: Path) -> None:
    """The template says t/people follows `people` (key id); a stale tdm.lock entry still
    names `people_by_tier` (key tier, which the rows lack).  Promotion, the merge driver,
    diff and validate all follow the template: the rows merge by id."""
    from tdm import merge, snapshot
    from tdm.diff import diff

    by_tier = {**PEOPLE, "x-tdm": {"primary_key": "tier"}, "required": ["id", "tier"]}

    def stale(root: Path) -> None:
        write_file(root / "schemas" / "people_by_tier.yaml", by_tier)
        lock = json.loads((root / "tdm.lock").read_text())
        lock["datasets"]["t/people"]["schema"] = "people_by_tier"
        (root / "tdm.lock").write_text(json.dumps(lock, indent=2) + "\n")

    start = commit_on(repo, "env/dev", stale)
    git(repo, "branch", "-f", "env/qa", start)
    dev = commit_on(repo, "env/dev", rows_writer(PEOPLE_FILE, people({3: {"name": "Three"}})))
    commit_on(repo, "env/qa", rows_writer(PEOPLE_FILE, people({4: {"name": "Four"}})))
    project = Project.find(repo)
    at_dev = snapshot.at(project, dev)
    assert at_dev.lock_entries()["t/people"]["schema"] == "people_by_tier"
    assert (at_dev.dataset_schema("t/people"), at_dev.primary_key("t/people")) == ("people", "id")
    report = diff(project, "env/qa", "env/dev")
    assert [(d.name, d.primary_key) for d in report.datasets] == [("t/people", "id")]

    result = promote(repo, "dev", "qa", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["merged_by_key"] == ["t/people"]
    assert rows_at(repo, "env/qa") == people({3: {"name": "Three"}, 4: {"name": "Four"}})
    git(repo, "checkout", "-q", "env/qa")
    assert merge.dataset_key(Project.find(repo), "t/people") == "id"
    valid = tdm("validate", "--repo", repo)
    assert valid.exit_code == 0, valid.output
