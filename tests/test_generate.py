"""`tdm generate`: dataset files, tdm.lock, skipping, --force, --json, template selection."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import faker
import pytest
from helpers import (
    SMOKE_DATASETS,
    dataset,
    make_project,
    one_dataset_project,
    read_lock,
    read_rows,
    sha256_file,
    snapshot,
    status_line,
    tdm,
    write_file,
)

from tdm._version import __version__

TINY = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "n"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "n": {"type": "integer", "minimum": 0, "maximum": 9},
    },
}


def test_generate_writes_jsonl_datasets_and_lock(bare_sample: Path) -> None:
    sample_repo = bare_sample
    result = tdm("generate", "smoke", "--repo", sample_repo)

    assert result.exit_code == 0, result.output
    lock = read_lock(sample_repo)
    assert lock["version"] == 1
    assert sorted(lock["datasets"]) == sorted(f"smoke/{name}" for name in SMOKE_DATASETS)
    counts = {"customers": 200, "addresses": 300, "products": 100, "orders": 400}
    for name in SMOKE_DATASETS:
        path = dataset(sample_repo, "smoke", name)
        raw = path.read_bytes()
        assert raw.endswith(b"\n")
        assert b"\r" not in raw
        text = raw.decode("utf-8")  # strict: must be UTF-8
        lines = text.split("\n")[:-1]
        assert all(lines), "no blank lines"
        assert all(isinstance(json.loads(line), dict) for line in lines)
        entry = lock["datasets"][f"smoke/{name}"]
        assert entry["schema"] == name
        assert entry["template"] == "smoke"
        assert entry["seed"] == 42
        assert entry["locale"] == "en_US"
        assert entry["rows"] == len(lines) == entry["count"]
        if name in counts:
            assert entry["count"] == counts[name]
        assert entry["sha256"] == sha256_file(path)
        assert re.fullmatch(r"[0-9a-f]{64}", entry["recipe"])
        assert entry["tdm_version"] == __version__
        assert entry["faker_version"] == faker.VERSION
        assert status_line(result.output, "written", f"datasets/smoke/{name}.jsonl")


def test_lock_file_is_stable_sorted_json(smoke_repo: Path) -> None:
    raw = (smoke_repo / "tdm.lock").read_text(encoding="utf-8")
    data = json.loads(raw)
    assert raw.endswith("}\n")
    assert list(data["datasets"]) == sorted(data["datasets"])
    for entry in data["datasets"].values():
        assert list(entry) == sorted(entry)


def test_second_run_reports_unchanged_and_touches_nothing(smoke_repo: Path) -> None:
    before = snapshot(smoke_repo)
    inodes = {n: os.stat(dataset(smoke_repo, "smoke", n)).st_ino for n in SMOKE_DATASETS}

    result = tdm("generate", "smoke", "--repo", smoke_repo)

    assert result.exit_code == 0, result.output
    for name in SMOKE_DATASETS:
        assert status_line(result.output, "unchanged", f"datasets/smoke/{name}.jsonl")
        assert os.stat(dataset(smoke_repo, "smoke", name)).st_ino == inodes[name]
    assert "written" not in result.output
    assert snapshot(smoke_repo) == before


def test_force_rewrites_identical_bytes(smoke_repo: Path) -> None:
    before = snapshot(smoke_repo)
    inodes = {n: os.stat(dataset(smoke_repo, "smoke", n)).st_ino for n in SMOKE_DATASETS}

    result = tdm("generate", "smoke", "--force", "--repo", smoke_repo)

    assert result.exit_code == 0, result.output
    for name in SMOKE_DATASETS:
        assert status_line(result.output, "written", f"datasets/smoke/{name}.jsonl")
        # really rewritten (a new file renamed into place), yet the same bytes
        assert os.stat(dataset(smoke_repo, "smoke", name)).st_ino != inodes[name]
    assert snapshot(smoke_repo) == before


def test_json_output_lists_datasets(bare_sample: Path) -> None:
    sample_repo = bare_sample
    result = tdm("generate", "smoke", "--json", "--repo", sample_repo)

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["check"] is False
    listed = {d["dataset"]: d for d in data["datasets"]}
    assert set(listed) == {f"smoke/{name}" for name in SMOKE_DATASETS}
    lock = read_lock(sample_repo)
    for key, d in listed.items():
        assert set(d) >= {"dataset", "path", "rows", "sha256", "status"}  # documented keys
        assert d["status"] == "written"
        assert d["path"] == f"datasets/{key}.jsonl"
        assert d["sha256"] == lock["datasets"][key]["sha256"]
        assert d["rows"] == lock["datasets"][key]["rows"]

    again = json.loads(tdm("generate", "smoke", "--json", "--repo", sample_repo).stdout)
    assert {d["status"] for d in again["datasets"]} == {"unchanged"}


def test_generate_selects_templates_by_name(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        {"tiny": TINY},
        {
            "one": {"seed": 1, "datasets": {"a": {"schema": "tiny", "count": 5}}},
            "two": {"seed": 2, "datasets": {"b": {"schema": "tiny", "count": 6}}},
        },
    )

    result = tdm("generate", "two", "--repo", root)

    assert result.exit_code == 0, result.output
    assert dataset(root, "two", "b").is_file()
    assert not (root / "datasets" / "one").exists()
    assert set(read_lock(root)["datasets"]) == {"two/b"}

    # generating another template keeps the first one's lock entries
    assert tdm("generate", "one", "--repo", root).exit_code == 0
    assert set(read_lock(root)["datasets"]) == {"one/a", "two/b"}


def test_generate_without_names_generates_every_template(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        {"tiny": TINY},
        {
            "one": {"datasets": {"a": {"schema": "tiny", "count": 3}}},
            "two": {"datasets": {"b": {"schema": "tiny", "count": 4}}},
        },
    )

    result = tdm("generate", "--repo", root)

    assert result.exit_code == 0, result.output
    assert len(read_rows(dataset(root, "one", "a"))) == 3
    assert len(read_rows(dataset(root, "two", "b"))) == 4


def test_generate_runs_from_a_subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = one_dataset_project(tmp_path / "p", TINY, 10)
    monkeypatch.chdir(root / "schemas")

    result = tdm("generate")

    assert result.exit_code == 0, result.output
    assert len(read_rows(dataset(root, "t", "s"))) == 10


def test_removed_dataset_is_dropped_from_lock(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        {"tiny": TINY},
        {
            "t": {
                "datasets": {
                    "a": {"schema": "tiny", "count": 3},
                    "b": {"schema": "tiny", "count": 3},
                }
            }
        },
    )
    assert tdm("generate", "--repo", root).exit_code == 0
    write_file(root / "templates" / "t.yaml", {"datasets": {"a": {"schema": "tiny", "count": 3}}})

    assert tdm("generate", "--repo", root).exit_code == 0

    assert set(read_lock(root)["datasets"]) == {"t/a"}


def test_changed_count_regenerates_only_that_dataset(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        {"tiny": TINY},
        {
            "t": {
                "datasets": {
                    "a": {"schema": "tiny", "count": 3},
                    "b": {"schema": "tiny", "count": 3},
                }
            }
        },
    )
    assert tdm("generate", "--repo", root).exit_code == 0
    write_file(
        root / "templates" / "t.yaml",
        {"datasets": {"a": {"schema": "tiny", "count": 3}, "b": {"schema": "tiny", "count": 5}}},
    )

    result = tdm("generate", "--json", "--repo", root)

    assert result.exit_code == 0, result.output
    statuses = {d["dataset"]: d["status"] for d in json.loads(result.stdout)["datasets"]}
    assert statuses == {"t/a": "unchanged", "t/b": "written"}
    assert read_lock(root)["datasets"]["t/b"]["rows"] == 5


def test_zero_count_dataset_is_an_empty_file(tmp_path: Path) -> None:
    root = one_dataset_project(tmp_path / "p", TINY, 0)

    assert tdm("generate", "--repo", root).exit_code == 0

    path = dataset(root, "t", "s")
    assert path.read_bytes() == b""
    entry = read_lock(root)["datasets"]["t/s"]
    assert entry["rows"] == 0
    assert entry["sha256"] == sha256_file(path)


def test_non_ascii_values_are_written_as_utf8(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["last_name", "city"],
        "properties": {"last_name": {"type": "string"}, "city": {"type": "string"}},
    }
    root = one_dataset_project(tmp_path / "p", schema, 300)
    write_file(
        root / "templates" / "t.yaml",
        {"seed": 1, "locale": "de_DE", "datasets": {"s": {"schema": "s", "count": 300}}},
    )

    assert tdm("generate", "--repo", root).exit_code == 0

    raw = dataset(root, "t", "s").read_bytes()
    text = raw.decode("utf-8")
    assert re.search(r"[äöüÄÖÜß]", text), "German names should contain umlauts"
    assert "\\u00" not in text, "non-ASCII must be written as UTF-8, not escaped"


def test_written_files_honour_the_umask(tmp_path: Path) -> None:
    root = one_dataset_project(tmp_path / "p", TINY, 5)
    old = os.umask(0o022)
    try:
        assert tdm("generate", "--repo", root).exit_code == 0
    finally:
        os.umask(old)

    for path in (dataset(root, "t", "s"), root / "tdm.lock"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o644, f"{path.name} has mode {oct(mode)}, expected 0o644 like any new file"


def test_empty_repository_generates_nothing(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    assert tdm("init", root).exit_code == 0

    generate = tdm("generate", "--repo", root)
    validate = tdm("validate", "--repo", root)
    status = tdm("status", "--repo", root)

    assert generate.exit_code == 0, generate.output
    assert read_lock(root)["datasets"] == {}
    assert list((root / "datasets").glob("*/*.jsonl")) == []
    assert validate.exit_code == 0, validate.output
    assert "ok: 0 dataset(s)" in validate.output
    assert status.exit_code == 0
    assert "(none" in status.output
