"""Versions in git: commit, tag, versions, checkout, log, show, tdm.open and plain-git interop.

Everything runs against real repositories; results are checked with the git CLI.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import git, read_rows, sha256_file, snapshot, tdm, write_file

import tdm as tdm_api
from tdm import versions
from tdm.project import Project

CUSTOMERS = "datasets/smoke/customers.jsonl"


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").stdout.strip()


def set_count(root: Path, dataset: str, count: int) -> None:
    """Change a smoke dataset's count and regenerate."""
    template = root / "templates" / "smoke.yaml"
    text = re.sub(
        rf"(\n  {dataset}: +\{{schema: {dataset}, count: )\d+\}}",
        rf"\g<1>{count}}}",
        template.read_text(),
    )
    assert f"count: {count}}}" in text
    template.write_text(text)
    assert tdm("generate", "smoke", "--repo", root).exit_code == 0


def grow_customers(root: Path, count: int) -> None:
    """Raise the smoke customer count and regenerate (the other datasets keep their bytes)."""
    set_count(root, "customers", count)


@pytest.fixture
def committed(sample_repo: Path) -> Path:
    """The sample (with its smoke data) committed once and tagged v1.0."""
    result = tdm("commit", "-m", "first data", "--repo", sample_repo)
    assert result.exit_code == 0, result.output
    result = tdm("tag", "v1.0", "-m", "baseline for release 3", "--repo", sample_repo)
    assert result.exit_code == 0, result.output
    return sample_repo


# ---------------------------------------------------------------- commit


def test_first_commit_on_an_unborn_branch_looks_normal_to_git(sample_repo: Path) -> None:
    result = tdm("commit", "-m", "first data", "--repo", sample_repo)
    assert result.exit_code == 0, result.output
    assert "[main " in result.output
    log = git(sample_repo, "log", "--format=%an <%ae>|%cn|%s").stdout.splitlines()
    assert log == ["Test Author <author@example.com>|Test Committer|first data"]
    files = set(git(sample_repo, "ls-files").stdout.split())
    assert {"tdm.yaml", "tdm.lock", ".gitignore", CUSTOMERS, "schemas/customers.yaml"} <= files
    # only the sample's README, which is not a tdm file, is left out
    assert git(sample_repo, "status", "--porcelain").stdout == "?? README.md\n"
    fsck = git(sample_repo, "fsck", "--strict")
    assert fsck.returncode == 0 and "dangling" not in fsck.stdout + fsck.stderr


def test_commit_only_stages_tdm_files_unless_all(committed: Path) -> None:
    git(committed, "add", "README.md")
    git(committed, "commit", "-q", "-m", "readme")
    (committed / "notes.txt").write_text("not tdm's\n")
    (committed / "README.md").write_text("changed\n")
    grow_customers(committed, 210)
    assert tdm("commit", "-m", "more", "--repo", committed).exit_code == 0
    porcelain = git(committed, "status", "--porcelain").stdout
    assert "?? notes.txt" in porcelain and " M README.md" in porcelain
    assert CUSTOMERS not in porcelain

    assert tdm("commit", "-m", "readme", "--all", "--repo", committed).exit_code == 0
    porcelain = git(committed, "status", "--porcelain").stdout
    assert porcelain == "?? notes.txt\n"  # -a: tracked files only, like git commit -a


def test_nothing_to_commit_is_exit_0(committed: Path) -> None:
    before = head(committed)
    result = tdm("commit", "-m", "again", "--repo", committed)
    assert result.exit_code == 0
    assert "nothing to commit" in result.output
    assert head(committed) == before


def test_invalid_data_is_refused_and_nothing_changes(committed: Path) -> None:
    path = committed / CUSTOMERS
    lines = path.read_text().splitlines()
    row = json.loads(lines[2])
    row["loyalty_points"] = "lots"
    lines[2] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")
    before_head = head(committed)
    before_files = snapshot(committed)
    before_index = git(committed, "ls-files", "--stage").stdout

    result = tdm("commit", "-m", "broken", "--repo", committed)
    assert result.exit_code == 1
    assert f"{CUSTOMERS}:3" in result.output and "/loyalty_points" in result.output
    assert head(committed) == before_head
    assert snapshot(committed) == before_files
    assert git(committed, "ls-files", "--stage").stdout == before_index

    forced = tdm("commit", "-m", "broken on purpose", "--no-verify", "--repo", committed)
    assert forced.exit_code == 0
    assert git(committed, "show", f"HEAD:{CUSTOMERS}").stdout == path.read_text()


def test_validation_is_incremental(committed: Path) -> None:
    """Datasets unchanged since the last validated commit are not read again."""
    project = Project.find(committed)
    # more products: products and order_items (which references them) change; orders and
    # customers are read for the keys order_items and orders reference; addresses and
    # payments were validated with the same bytes and schema by the first commit
    set_count(committed, "products", 120)
    changed = git(committed, "status", "--porcelain").stdout
    assert "products.jsonl" in changed and "order_items.jsonl" in changed
    assert "payments.jsonl" not in changed and "addresses.jsonl" not in changed
    result = versions.commit(project, "more products")
    assert result.commit is not None
    assert (result.validated, result.cached) == (4, 2)

    nothing = versions.commit(project, "no change")
    assert nothing.commit is None
    assert (nothing.validated, nothing.cached) == (0, 6)

    # a schema change makes its dataset be read again, even with the same bytes
    schema = committed / "schemas" / "payments.yaml"
    schema.write_text(
        schema.read_text().replace("(at most one per order)", "(one per order at most)")
    )
    again = versions.commit(project, "reword payments", verify=True)
    assert again.commit is not None
    assert again.validated >= 1 and again.cached <= 5


def test_missing_identity_is_a_clear_error(
    sample_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var)
    result = tdm("commit", "-m", "x", "--repo", sample_repo)
    assert result.exit_code == 2
    assert "no git identity" in result.output and "git config --global user.email" in result.output
    assert git(sample_repo, "rev-parse", "--verify", "HEAD", check=False).returncode != 0


def test_locked_index_is_a_clear_error_and_loses_nothing(committed: Path) -> None:
    grow_customers(committed, 220)
    lock = committed / ".git" / "index.lock"
    lock.write_text("")
    before = snapshot(committed)
    result = tdm("commit", "-m", "x", "--no-verify", "--repo", committed)
    assert result.exit_code == 2
    assert "another git process" in result.output
    assert "Traceback" not in result.output
    assert lock.exists()
    assert snapshot(committed) == before
    lock.unlink()
    assert tdm("commit", "-m", "x", "--no-verify", "--repo", committed).exit_code == 0


def test_outside_git_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    write_file(root / "tdm.yaml", {"name": "plain"})
    result = tdm("commit", "-m", "x", "--repo", root)
    assert result.exit_code == 2
    assert "not in a git repository" in result.output


# ---------------------------------------------------------------- tag and versions


def test_tag_is_annotated_with_a_manifest(committed: Path) -> None:
    assert git(committed, "cat-file", "-t", "v1.0").stdout.strip() == "tag"
    message = git(committed, "tag", "-l", "--format=%(contents)", "v1.0").stdout
    assert message.startswith("baseline for release 3")
    manifest_line = next(line for line in message.splitlines() if line.startswith("tdm-manifest: "))
    manifest = json.loads(manifest_line[len("tdm-manifest: ") :])
    entry = manifest["datasets"]["smoke/customers"]
    assert entry["rows"] == 200
    assert entry["sha256"] == sha256_file(committed / CUSTOMERS)
    assert (
        git(committed, "rev-parse", "v1.0^{commit}").stdout
        == git(committed, "rev-parse", "HEAD").stdout
    )


@pytest.mark.parametrize("name", ["1.0", "v1.2.3.4", "v01", "release", "v1.", "V1"])
def test_tag_rejects_non_versions(committed: Path, name: str) -> None:
    result = tdm("tag", name, "--repo", committed)
    assert result.exit_code == 2
    assert "not a version" in result.output
    assert git(committed, "tag", "-l", name).stdout == ""


def test_existing_tag_is_never_moved(committed: Path) -> None:
    before = git(committed, "rev-parse", "v1.0").stdout
    grow_customers(committed, 230)
    assert tdm("commit", "-m", "more", "--repo", committed).exit_code == 0
    result = tdm("tag", "v1.0", "--repo", committed)
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert git(committed, "rev-parse", "v1.0").stdout == before


def test_dirty_tree_is_not_tagged(committed: Path) -> None:
    grow_customers(committed, 240)
    result = tdm("tag", "v1.1", "--repo", committed)
    assert result.exit_code == 1
    assert "uncommitted tdm changes" in result.output and CUSTOMERS in result.output
    assert git(committed, "tag", "-l", "v1.1").stdout == ""


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_versions_newest_first_by_version_order(committed: Path) -> None:
    for count, name in ((210, "v1.2"), (220, "v1.10"), (230, "v2")):
        grow_customers(committed, count)
        assert tdm("commit", "-m", f"for {name}", "--repo", committed).exit_code == 0
        assert tdm("tag", name, "--repo", committed).exit_code == 0
    git(committed, "tag", "not-a-version")  # plain git tags are not versions
    result = tdm("versions", "--json", "--repo", committed)
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert [v["version"] for v in data] == ["v2", "v1.10", "v1.2", "v1.0"]
    v10 = data[-1]
    assert v10["message"] == "baseline for release 3"
    rows = {d["dataset"]: d["rows"] for d in v10["datasets"]}
    assert rows["smoke/customers"] == 200 and rows["smoke/order_items"] == 1000
    assert {d["dataset"]: d["rows"] for d in data[0]["datasets"]}["smoke/customers"] == 230
    text = tdm("versions", "--repo", committed).output
    assert text.index("v2 ") < text.index("v1.10") < text.index("v1.2") < text.index("v1.0")


def test_a_lightweight_git_tag_is_listed_from_its_commit(committed: Path) -> None:
    git(committed, "tag", "v0.9", "HEAD")
    data = json.loads(tdm("versions", "--json", "--repo", committed).output)
    v09 = next(v for v in data if v["version"] == "v0.9")
    assert {d["dataset"] for d in v09["datasets"]} >= {"smoke/customers", "smoke/orders"}


# ---------------------------------------------------------------- checkout


def test_checkout_round_trips_byte_for_byte(committed: Path) -> None:
    at_v1 = snapshot(committed)
    grow_customers(committed, 260)
    (committed / "schemas" / "extra.yaml").write_text("type: object\n")
    assert tdm("commit", "-m", "more", "--repo", committed).exit_code == 0
    at_main = snapshot(committed)

    result = tdm("checkout", "v1.0", "--repo", committed)
    assert result.exit_code == 0, result.output
    assert "detached" in result.output
    assert snapshot(committed) == at_v1  # byte for byte; schemas/extra.yaml is gone
    assert not (committed / "schemas" / "extra.yaml").exists()
    assert git(committed, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "HEAD"

    assert tdm("checkout", "main", "--repo", committed).exit_code == 0
    assert snapshot(committed) == at_main
    assert git(committed, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "main"

    short = git(committed, "rev-parse", "--short", "v1.0^{commit}").stdout.strip()
    assert tdm("checkout", short, "--repo", committed).exit_code == 0
    assert snapshot(committed) == at_v1
    assert git(committed, "status", "--porcelain", "--untracked-files=no").stdout == ""


def test_checkout_refuses_to_overwrite_uncommitted_work(committed: Path) -> None:
    grow_customers(committed, 270)
    assert tdm("commit", "-m", "more", "--repo", committed).exit_code == 0
    path = committed / CUSTOMERS
    path.write_text(path.read_text() + '{"hand": "edit"}\n')
    mine = path.read_bytes()
    before_head = head(committed)

    result = tdm("checkout", "v1.0", "--repo", committed)
    assert result.exit_code == 1
    assert CUSTOMERS in result.output and "--force" in result.output
    assert path.read_bytes() == mine
    assert head(committed) == before_head

    forced = tdm("checkout", "v1.0", "--force", "--repo", committed)
    assert forced.exit_code == 0
    assert path.read_bytes() == git(committed, "show", f"v1.0:{CUSTOMERS}").stdout.encode()


def test_checkout_keeps_unrelated_local_changes_like_git(committed: Path) -> None:
    grow_customers(committed, 280)
    assert tdm("commit", "-m", "more", "--repo", committed).exit_code == 0
    note = committed / "masking" / "customers.yaml"  # the same at v1.0 and main
    note.write_text(note.read_text() + "# local note\n")
    (committed / "scratch.txt").write_text("mine\n")
    assert tdm("checkout", "v1.0", "--repo", committed).exit_code == 0
    assert note.read_text().endswith("# local note\n")
    assert (committed / "scratch.txt").read_text() == "mine\n"


def test_checkout_unknown_revision(committed: Path) -> None:
    before = snapshot(committed)
    result = tdm("checkout", "v9.9", "--repo", committed)
    assert result.exit_code == 2
    assert "unknown revision 'v9.9'" in result.output
    assert snapshot(committed) == before


# ---------------------------------------------------------------- log and show


def test_log_lists_commits_that_touch_tdm_files(committed: Path) -> None:
    (committed / "README.md").write_text("docs only\n")
    git(committed, "add", "README.md")
    git(committed, "commit", "-q", "-m", "docs only")
    schema = committed / "schemas" / "products.yaml"
    schema.write_text(schema.read_text().replace("An item in the catalogue.", "A catalogue item."))
    git(committed, "commit", "-q", "-am", "reword products (plain git)")

    result = tdm("log", "--json", "--repo", committed)
    assert result.exit_code == 0
    entries = json.loads(result.output)
    subjects = [e["message"].strip() for e in entries]
    assert subjects == ["reword products (plain git)", "first data"]
    assert entries[0]["files"] == ["schemas/products.yaml"]
    assert entries[0]["commit"] == head(committed)
    assert len(json.loads(tdm("log", "-n", "1", "--json", "--repo", committed).output)) == 1
    status = json.loads(tdm("status", "--json", "--repo", committed).output)
    stale = {d["dataset"] for d in status["datasets"] if d["state"] == "stale"}
    assert "smoke/products" in stale  # plain-git commits are seen by tdm status too


def test_show_reads_a_version_without_checkout(committed: Path) -> None:
    grow_customers(committed, 290)
    assert tdm("commit", "-m", "more", "--repo", committed).exit_code == 0
    before = snapshot(committed)
    at_v1 = git(committed, "show", f"v1.0:{CUSTOMERS}").stdout.splitlines()

    result = tdm("show", "smoke/customers@v1.0", "--limit", "5", "--repo", committed)
    assert result.exit_code == 0
    shown = [json.loads(line) for line in result.output.splitlines()]
    assert shown == [json.loads(line) for line in at_v1[:5]]

    result = tdm(
        "show", "smoke/customers@v1.0", "--where", "country=DE", "--json", "--repo", committed
    )
    rows = json.loads(result.output)["rows"]
    expected = [json.loads(line) for line in at_v1 if json.loads(line)["country"] == "DE"]
    assert rows == expected and rows
    assert snapshot(committed) == before  # nothing was checked out

    current = tdm("show", "smoke/customers", "--repo", committed)
    assert len(current.output.splitlines()) == 290  # no @REV: the working tree


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("smoke/customers@nope", "unknown revision 'nope'"),
        ("smoke/nothing@v1.0", "does not exist at v1.0"),
        ("customers", "must be written <template>/<dataset>"),
        ("../etc/passwd@v1.0", "not a valid name"),
    ],
)
def test_show_bad_input(committed: Path, arg: str, message: str) -> None:
    result = tdm("show", arg, "--repo", committed)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- Python API and pytest


def test_python_api_reads_pinned_versions(committed: Path) -> None:
    grow_customers(committed, 300)
    assert tdm("commit", "-m", "more", "--repo", committed).exit_code == 0
    repo = tdm_api.open(committed)
    at_v1 = [
        json.loads(line) for line in git(committed, "show", f"v1.0:{CUSTOMERS}").stdout.splitlines()
    ]
    assert list(repo.dataset("smoke/customers", rev="v1.0")) == at_v1
    assert list(repo.dataset("smoke/customers@v1.0")) == at_v1
    assert len(list(repo.dataset("smoke/customers"))) == 300
    assert list(repo.dataset("smoke/customers", rev="main")) == read_rows(committed / CUSTOMERS)
    assert "smoke/orders" in repo.datasets(rev="v1.0")
    assert [v.name for v in repo.versions()] == ["v1.0"]
    assert repo.schema("customers", rev="v1.0")["x-tdm"]["primary_key"] == "id"
    with pytest.raises(tdm_api.UserError, match="unknown revision"):
        list(repo.dataset("smoke/customers", rev="v7"))


@pytest.mark.slow
def test_pytest_plugin_reads_a_pinned_dataset(committed: Path) -> None:
    grow_customers(committed, 310)
    assert tdm("commit", "-m", "more", "--repo", committed).exit_code == 0
    tests_dir = committed / "tests"
    tests_dir.mkdir()
    (tests_dir / "test_data.py").write_text(
        "def test_customers_at_v1(tdm_dataset, tdm_repo):\n"
        '    customers = tdm_dataset("smoke/customers", rev="v1.0")\n'
        "    assert len(customers) == 200\n"
        '    customers[0]["id"] = -1  # a test may change its copy\n'
        '    assert tdm_dataset("smoke/customers", rev="v1.0")[0]["id"] == 1\n'
        '    assert len(tdm_dataset("smoke/customers")) == 310\n'
        '    assert "v1.0" in [v.name for v in tdm_repo.versions()]\n'
    )
    # the plugin is found through its pytest11 entry point, as in a user's project
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests_dir)],
        cwd=committed,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


# ---------------------------------------------------------------- plain git interop


def test_a_git_clone_checks_out_versions(committed: Path, tmp_path: Path) -> None:
    grow_customers(committed, 320)
    assert tdm("commit", "-m", "more", "--repo", committed).exit_code == 0
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(committed), str(clone)], check=True)
    result = tdm("checkout", "v1.0", "--repo", clone)
    assert result.exit_code == 0, result.output
    assert (clone / CUSTOMERS).read_bytes() == git(
        committed, "show", f"v1.0:{CUSTOMERS}"
    ).stdout.encode()
    validated = tdm("validate", "--repo", clone)
    assert validated.exit_code == 0, validated.output
    assert git(clone, "fsck", "--strict").returncode == 0
