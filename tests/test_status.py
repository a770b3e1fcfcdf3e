"""`tdm status`: dataset states against tdm.lock, and tdm files changed in git."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from helpers import SMOKE_DATASETS, dataset, git, init_repo, snapshot, tdm, write_file


def _status(root: Path, code: int = 0) -> dict[str, Any]:
    """`tdm status --json`; exit 1 when recorded data is missing, 2 when a file is malformed."""
    result = tdm("status", "--json", "--repo", root)
    assert result.exit_code == code, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _states(report: dict[str, Any]) -> dict[str, str]:
    return {d["dataset"]: d["state"] for d in report["datasets"]}


def _files(report: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    return {f["path"]: (f["state"], f["staged"]) for f in report["files"]}


def _commit_all(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "data")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_fresh_sample_after_generate(smoke_repo: Path) -> None:
    before = snapshot(smoke_repo)

    report = _status(smoke_repo)

    states = _states(report)
    for name in SMOKE_DATASETS:
        assert states[f"smoke/{name}"] == "up to date"
        assert states[f"full/{name}"] == "missing"
    assert report["clean"] is False  # full is missing
    assert report["git"] is True
    assert report["problems"] == []
    assert snapshot(smoke_repo) == before

    text = tdm("status", "--repo", smoke_repo).output
    assert "up to date" in text
    assert "datasets/full/orders.jsonl" in text


def test_json_shape(smoke_repo: Path) -> None:
    report = _status(smoke_repo)

    # the documented keys (new keys may be added, none removed)
    assert set(report) >= {"clean", "datasets", "files", "problems", "git"}
    for d in report["datasets"]:
        assert set(d) >= {"dataset", "path", "state", "reason"}
        assert d["path"] == f"datasets/{d['dataset']}.jsonl"
    for f in report["files"]:
        assert set(f) >= {"path", "state", "staged"}


def test_clean_when_everything_is_generated_and_committed(tmp_path: Path) -> None:
    root = tmp_path / "p"
    init_repo(root)
    write_file(
        root / "schemas" / "s.yaml",
        {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
    )
    write_file(root / "templates" / "t.yaml", {"datasets": {"s": {"schema": "s", "count": 5}}})
    assert tdm("generate", "--repo", root).exit_code == 0
    _commit_all(root)

    report = _status(root)

    assert report["clean"] is True
    assert _states(report) == {"t/s": "up to date"}
    assert report["files"] == []
    assert "No uncommitted changes to tdm files." in tdm("status", "--repo", root).output


def test_schema_edit_makes_its_datasets_stale(smoke_repo: Path) -> None:
    _edit(
        smoke_repo / "schemas" / "customers.yaml",
        "  loyalty_points:",
        "  nickname:         {type: string, maxLength: 12}\n  loyalty_points:",
    )

    report = _status(smoke_repo)

    states = _states(report)
    assert states["smoke/customers"] == "stale"
    # children reference only customers.id, which did not change
    for name in ("addresses", "orders", "order_items", "payments", "products"):
        assert states[f"smoke/{name}"] == "up to date", name
    reason = {d["dataset"]: d["reason"] for d in report["datasets"]}["smoke/customers"]
    assert "customers" in reason


def test_changing_a_referenced_key_makes_children_stale(smoke_repo: Path) -> None:
    _edit(
        smoke_repo / "schemas" / "orders.yaml",
        "id:          {type: string, format: uuid}",
        "id:          {type: string, format: uuid, x-tdm: {generator: uuid, unique: true}}",
    )

    states = _states(_status(smoke_repo))

    assert states["smoke/orders"] == "stale"
    assert states["smoke/order_items"] == "stale"
    assert states["smoke/payments"] == "stale"
    assert states["smoke/customers"] == "up to date"
    assert states["smoke/products"] == "up to date"


def test_stale_agrees_with_regenerated_bytes(smoke_repo: Path) -> None:
    """What status calls up to date must regenerate to the same bytes (checked by --check)."""
    _edit(
        smoke_repo / "schemas" / "customers.yaml",
        "loyalty_points:   {type: integer, minimum: 0, maximum: 50000}",
        "loyalty_points:   {type: integer, minimum: 10, maximum: 20}",
    )
    states = _states(_status(smoke_repo))

    check = tdm("generate", "smoke", "--check", "--json", "--repo", smoke_repo)
    outcome = {d["dataset"]: d["status"] for d in json.loads(check.stdout)["datasets"]}

    for name in SMOKE_DATASETS:
        key = f"smoke/{name}"
        if states[key] == "up to date":
            assert outcome[key] == "up to date", key
        else:
            assert outcome[key] in ("would change", "lock outdated"), key


def test_template_edit_makes_datasets_stale(smoke_repo: Path) -> None:
    _edit(
        smoke_repo / "templates" / "smoke.yaml",
        "{schema: products, count: 100}",
        "{schema: products, count: 120}",
    )

    states = _states(_status(smoke_repo))

    assert states["smoke/products"] == "stale"
    assert states["smoke/customers"] == "up to date"


def test_hand_edit_is_modified(smoke_repo: Path) -> None:
    path = dataset(smoke_repo, "smoke", "products")
    path.write_bytes(path.read_bytes().replace(b'"in_stock":true', b'"in_stock":false', 1))

    states = _states(_status(smoke_repo))

    assert states["smoke/products"] == "modified"
    assert tdm("status", "--repo", smoke_repo).output.count("modified") >= 1


def test_deleted_dataset_is_missing(smoke_repo: Path) -> None:
    dataset(smoke_repo, "smoke", "payments").unlink()

    # tdm.lock records it: data went missing, a finding (exit 1)
    assert _states(_status(smoke_repo, 1))["smoke/payments"] == "missing"


def test_orphaned_and_unknown_datasets(smoke_repo: Path) -> None:
    write_file(smoke_repo / "datasets" / "old" / "leftover.jsonl", '{"a": 1}\n')
    lock = json.loads((smoke_repo / "tdm.lock").read_text(encoding="utf-8"))
    del lock["datasets"]["smoke/orders"]
    (smoke_repo / "tdm.lock").write_text(json.dumps(lock), encoding="utf-8")

    report = _status(smoke_repo)

    states = _states(report)
    assert states["old/leftover"] == "orphaned"
    assert states["smoke/orders"] == "unknown"
    paths = {d["dataset"]: d["path"] for d in report["datasets"]}
    assert paths["old/leftover"] == "datasets/old/leftover.jsonl"


def test_broken_template_is_a_problem_not_a_crash(smoke_repo: Path) -> None:
    write_file(smoke_repo / "templates" / "smoke.yaml", "datasets: [oops\n")

    report = _status(smoke_repo, 2)  # a malformed file: exit 2, as in validate

    assert report["problems"]
    assert "templates/smoke.yaml" in report["problems"][0]
    assert report["clean"] is False
    # the broken template's datasets are not reported as orphans
    assert "orphaned" not in _states(report).values()
    assert "error: templates/smoke.yaml" in tdm("status", "--repo", smoke_repo).output


def test_git_part_lists_untracked_then_modified_tdm_files(smoke_repo: Path) -> None:
    report = _status(smoke_repo)
    files = _files(report)
    assert files["tdm.yaml"] == ("untracked", False)
    assert files["schemas/customers.yaml"] == ("untracked", False)
    assert files["datasets/smoke/orders.jsonl"] == ("untracked", False)

    _commit_all(smoke_repo)
    assert _files(_status(smoke_repo)) == {}

    _edit(smoke_repo / "schemas" / "customers.yaml", "title: Customer", "title: Client")
    write_file(smoke_repo / "templates" / "extra.yaml", "datasets: {}\n")
    (smoke_repo / "masking" / "payments.yaml").unlink()
    write_file(smoke_repo / "notes.txt", "not a tdm file\n")
    write_file(smoke_repo / "datasets" / "smoke" / ".orders.jsonl.123.tmp", "partial")

    files = _files(_status(smoke_repo, 2))  # templates/extra.yaml is malformed
    assert files == {
        "schemas/customers.yaml": ("modified", False),
        "templates/extra.yaml": ("untracked", False),
        "masking/payments.yaml": ("deleted", False),
    }

    git(smoke_repo, "add", "schemas/customers.yaml")
    files = _files(_status(smoke_repo, 2))
    assert files["schemas/customers.yaml"] == ("modified", True)

    text = tdm("status", "--repo", smoke_repo).output
    assert "schemas/customers.yaml (staged)" in text
    # agrees with plain git
    porcelain = git(smoke_repo, "status", "--porcelain").stdout
    assert "M  schemas/customers.yaml" in porcelain


def test_tdm_repository_inside_a_larger_git_repository(tmp_path: Path) -> None:
    outer = tmp_path / "app"
    outer.mkdir()
    git(outer, "init", "-q")
    write_file(outer / "src" / "main.py", "print()\n")
    root = outer / "testdata"
    init_repo(root, sample=True)

    report = _status(root)

    files = _files(report)
    assert "tdm.yaml" in files
    assert "schemas/orders.yaml" in files
    assert not any(p.startswith(("src", "testdata/", "../")) for p in files)


def test_not_in_a_git_repository(smoke_repo: Path) -> None:
    shutil.rmtree(smoke_repo / ".git")

    report = _status(smoke_repo)

    assert report["git"] is False
    assert report["files"] == []
    assert "Not in a git repository" in tdm("status", "--repo", smoke_repo).output
