"""The keyed merge: merge.merge_rows and merge_lock, the `tdm merge-driver` git calls,
its registration by `tdm init` / `tdm hooks install`, and `tdm resolve`, exercised with
real branches merged by the git command line."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import (
    PEOPLE,
    PEOPLE_FILE,
    generate_in_process,
    git,
    init_repo,
    person,
    read_lock,
    read_rows,
    tdm,
    write_file,
)

from tdm import merge

REPORT = "datasets%2Ft%2Fpeople.jsonl.json"  # .git/tdm/conflicts/<percent-encoded path>.json


def jsonl(rows: list[dict[str, Any]], end: bytes = b"\n") -> bytes:
    return b"".join(orjson.dumps(r) + end for r in rows)


def people(
    changes: dict[int, dict[str, Any]] | None = None, ids: range = range(1, 7)
) -> list[dict[str, Any]]:
    """person(1..6), with the fields of ``changes[i]`` changed in row i."""
    changes = changes or {}
    return [person(i, **changes.get(i, {})) for i in ids]


BASE = people()


# ---------------------------------------------------------------- merge_rows


def rows_of(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines()]


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_a_row_changed_on_one_side_only_takes_that_sides_version(side: str) -> None:
    changed = people({3: {"name": "Changed"}})
    ours, theirs = (changed, BASE) if side == "ours" else (BASE, changed)
    result = merge.merge_rows(jsonl(BASE), jsonl(ours), jsonl(theirs), "id")
    assert result.clean
    assert result.data == jsonl(changed)
    assert result.rows == 6


def test_rows_changed_on_each_side_merge_even_when_adjacent() -> None:
    ours = people({3: {"name": "Three"}})
    theirs = people({4: {"tier": "silver"}})
    result = merge.merge_rows(jsonl(BASE), jsonl(ours), jsonl(theirs), "id")
    assert result.clean
    assert result.data == jsonl(people({3: {"name": "Three"}, 4: {"tier": "silver"}}))


def test_the_same_change_on_both_sides_is_taken_once() -> None:
    both = people({2: {"name": "Same"}})
    result = merge.merge_rows(jsonl(BASE), jsonl(both), jsonl(both), "id")
    assert result.clean
    assert result.data == jsonl(both)
    # the same values written differently (key order, spaces) are the same change: ours
    spaced = jsonl(both).replace(
        orjson.dumps(both[1]),
        json.dumps({"name": "Same", "id": 2, "email": "p2@example.com"}).encode(),
    )
    assert spaced != jsonl(both)
    result = merge.merge_rows(jsonl(BASE), jsonl(both), spaced, "id")
    assert result.clean
    assert result.data == jsonl(both)


def test_different_changes_to_one_row_conflict_and_our_row_is_kept() -> None:
    ours = people({2: {"name": "Ours", "tier": "bronze"}, 5: {"tier": "silver"}})
    theirs = people({2: {"name": "Theirs"}, 6: {"tier": "bronze"}})
    result = merge.merge_rows(jsonl(BASE), jsonl(ours), jsonl(theirs), "id")
    assert not result.clean
    [conflict] = result.conflicts
    assert (conflict.key, conflict.kind) == (2, "both_changed")
    assert conflict.ours == person(2, name="Ours", tier="bronze")
    assert conflict.theirs == person(2, name="Theirs")
    assert conflict.fields() == ["name", "tier"]
    assert conflict.describe("id") == "id=2: both sides changed name, tier"
    assert conflict.to_json() == {
        "key": 2,
        "kind": "both_changed",
        "fields": ["name", "tier"],
        "ours": person(2, name="Ours", tier="bronze"),
        "theirs": person(2, name="Theirs"),
    }
    # the file stays valid JSON Lines: our row 2, and both sides' clean changes
    expected = people({2: {"name": "Ours", "tier": "bronze"}, 5: {"tier": "silver"}})
    expected[5] = person(6, tier="bronze")
    assert result.data == jsonl(expected)


def test_a_row_changed_on_one_side_and_removed_on_the_other_conflicts() -> None:
    changed = people({3: {"name": "Changed"}})
    removed = [r for r in BASE if r["id"] != 3]

    ours_changed = merge.merge_rows(jsonl(BASE), jsonl(changed), jsonl(removed), "id")
    [c] = ours_changed.conflicts
    assert (c.key, c.kind, c.ours, c.theirs) == (
        3,
        "changed_removed",
        person(3, name="Changed"),
        None,
    )
    assert c.describe("id") == "id=3: changed on our side, removed on theirs"
    assert ours_changed.data == jsonl(changed)  # our version is kept for now

    ours_removed = merge.merge_rows(jsonl(BASE), jsonl(removed), jsonl(changed), "id")
    [c] = ours_removed.conflicts
    assert (c.key, c.kind, c.ours, c.theirs) == (
        3,
        "removed_changed",
        None,
        person(3, name="Changed"),
    )
    assert c.describe("id") == "id=3: removed on our side, changed on theirs"
    assert ours_removed.data == jsonl(removed)  # stays removed until resolved


def test_a_row_removed_on_one_or_both_sides_is_removed() -> None:
    without_4 = [r for r in BASE if r["id"] != 4]
    for ours, theirs in ((without_4, BASE), (BASE, without_4), (without_4, without_4)):
        result = merge.merge_rows(jsonl(BASE), jsonl(ours), jsonl(theirs), "id")
        assert result.clean
        assert result.data == jsonl(without_4)
        assert result.rows == 5


def test_additions_follow_the_base_order_ours_first_then_theirs() -> None:
    # ours inserts 10 in the middle and 11 at the end, and reorders nothing else;
    # theirs adds 20 first and changes row 2
    ours = [*BASE[:3], person(10), *BASE[3:], person(11)]
    theirs = [person(20), *people({2: {"name": "Two"}})]
    result = merge.merge_rows(jsonl(BASE), jsonl(ours), jsonl(theirs), "id")
    assert result.clean
    assert rows_of(result.data) == [
        *people({2: {"name": "Two"}}),
        person(10),
        person(11),
        person(20),
    ]
    assert result.rows == 9


def test_base_order_is_kept_when_a_side_moves_rows() -> None:
    moved = list(reversed(BASE))  # the same rows, another order: not a change
    theirs = people({1: {"name": "One"}})
    result = merge.merge_rows(jsonl(BASE), jsonl(moved), jsonl(theirs), "id")
    assert result.clean
    assert result.data == jsonl(theirs)


def test_the_same_key_added_on_both_sides() -> None:
    same = merge.merge_rows(jsonl(BASE), jsonl([*BASE, person(7)]), jsonl([*BASE, person(7)]), "id")
    assert same.clean
    assert same.data == jsonl([*BASE, person(7)])  # once

    ours, theirs = person(7, name="Ours"), person(7, name="Theirs")
    differ = merge.merge_rows(jsonl(BASE), jsonl([*BASE, ours]), jsonl([*BASE, theirs]), "id")
    [c] = differ.conflicts
    assert (c.key, c.kind, c.ours, c.theirs) == (7, "both_added", ours, theirs)
    assert c.describe("id") == "id=7: added on both sides with different values"
    assert differ.data == jsonl([*BASE, ours])


@pytest.mark.parametrize(
    ("ours", "message"),
    [
        (
            jsonl([*BASE, person(7), person(7, name="Again")]),
            "primary key id=7 repeats on our side",
        ),
        (jsonl([*BASE, person(7), person(7)]), "primary key id=7 repeats on our side"),
        (jsonl([*BASE, {"email": "x@example.com", "name": "X"}]), "no usable primary key 'id'"),
        (jsonl([*BASE, {"id": [1], "email": "x@example.com", "name": "X"}]), "no usable"),
        (jsonl(BASE) + b"{not json\n", "is not valid JSON"),
    ],
    ids=["repeated-key", "repeated-line", "no-key", "list-key", "not-json"],
)
def test_rows_that_cannot_be_matched_by_key_refuse_to_merge(ours: bytes, message: str) -> None:
    with pytest.raises(merge.CannotMerge, match=message):
        merge.merge_rows(jsonl(BASE), ours, jsonl(BASE), "id")
    with pytest.raises(merge.CannotMerge):
        merge.merge_rows(jsonl(BASE), jsonl(BASE), ours, "id")


def test_crlf_line_endings_are_not_changes_and_crlf_files_merge() -> None:
    crlf_base = jsonl(BASE, b"\r\n")
    # ours only converted the file to CRLF; theirs changed row 2
    theirs = people({2: {"name": "Two"}})
    result = merge.merge_rows(jsonl(BASE), crlf_base, jsonl(theirs), "id")
    assert result.clean
    assert result.data == jsonl(theirs)
    # all three CRLF, a change on each side: merged by key, written with \n as tdm writes
    ours = people({5: {"tier": "bronze"}})
    result = merge.merge_rows(crlf_base, jsonl(ours, b"\r\n"), jsonl(theirs, b"\r\n"), "id")
    assert result.clean
    assert result.data == jsonl(people({2: {"name": "Two"}, 5: {"tier": "bronze"}}))
    assert b"\r" not in result.data


def test_a_missing_trailing_newline_is_not_a_change() -> None:
    base = jsonl(BASE).rstrip(b"\n")
    ours = jsonl([*BASE, person(7)])  # the last base row gained its newline
    theirs = jsonl(people({6: {"name": "Six"}})).rstrip(b"\n")  # last row changed, no newline
    result = merge.merge_rows(base, ours, theirs, "id")
    assert result.clean
    assert result.data == jsonl([*people({6: {"name": "Six"}}), person(7)])
    assert result.data.endswith(b"\n")


def test_blank_lines_are_dropped_and_empty_files_merge() -> None:
    result = merge.merge_rows(b"", jsonl([person(1)]), b"\n\n", "id")
    assert result.clean
    assert result.data == jsonl([person(1)])
    spaced = jsonl(BASE[:3]) + b"\n" + jsonl(BASE[3:])
    result = merge.merge_rows(spaced, spaced, jsonl(people({1: {"name": "One"}})), "id")
    assert result.clean
    assert result.data == jsonl(people({1: {"name": "One"}}))


# ---------------------------------------------------------------- merge_lock


def entry(sha: str, rows: int, **extra: Any) -> dict[str, Any]:
    return {"schema": "people", "sha256": sha, "rows": rows, **extra}


def test_lock_entries_merge_per_dataset_and_are_recomputed_from_merged_data() -> None:
    base = {
        "version": 1,
        "datasets": {"t/a": entry("a0", 1), "t/b": entry("b0", 1), "t/c": entry("c0", 1)},
    }
    ours = {
        "version": 1,
        "datasets": {"t/a": entry("a1", 2), "t/b": entry("b0", 1), "t/c": entry("c0", 1)},
    }
    theirs = {
        "version": 1,
        "datasets": {
            "t/a": entry("a2", 3, seed=9),
            "t/b": entry("b2", 5),
            "t/d": entry("d2", 1),
        },
    }
    merged_a = jsonl([person(1), person(2)])
    lock = merge.merge_lock(base, ours, theirs, {"t/a": merged_a})
    assert lock == {
        "version": 1,
        "datasets": {
            # changed on both sides: theirs' entry, rows and sha256 from the merged data
            "t/a": entry(hashlib.sha256(merged_a).hexdigest(), 2, seed=9),
            "t/b": entry("b2", 5),  # changed on their side only
            # t/c: removed on their side, unchanged on ours
            "t/d": entry("d2", 1),  # added on their side
        },
    }
    assert merge.dumps_lock(lock).endswith(b"}\n")
    assert json.loads(merge.dumps_lock(lock)) == lock


# ---------------------------------------------------------------- repositories


def write_rows(root: Path, rows: list[dict[str, Any]]) -> None:
    (root / PEOPLE_FILE).write_bytes(jsonl(rows))


def commit_rows(root: Path, branch: str, rows: list[dict[str, Any]], start: str = "main") -> str:
    """On a new ``branch`` from ``start``: write the people rows, recompute tdm.lock with
    `tdm resolve tdm.lock` and commit."""
    git(root, "checkout", "-q", "-b", branch, start)
    write_rows(root, rows)
    result = tdm("resolve", "tdm.lock", "--repo", root)
    assert result.exit_code == 0, result.output
    assert result.stdout == "tdm.lock recomputed from the datasets and staged\n"
    git(root, "commit", "-q", "-am", f"{branch} edits people")
    return git(root, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture(scope="module")
def _people_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("merge-master") / "people"
    init_repo(root)
    write_file(root / "schemas" / "people.yaml", PEOPLE)
    write_file(
        root / "templates" / "t.yaml",
        {"seed": 1, "datasets": {"people": {"schema": "people", "count": 6}}},
    )
    generate_in_process(root)
    write_rows(root, BASE)  # known rows; the lock recomputed for them
    assert tdm("resolve", "tdm.lock", "--repo", root).exit_code == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "people")
    return root


@pytest.fixture
def repo(_people_master: Path, tmp_path: Path) -> Path:
    """A committed project (tdm init: the merge driver registered) with datasets/t/people
    holding person(1..6), its tdm.lock entry matching; branch main checked out."""
    root = tmp_path / "people"
    shutil.copytree(_people_master, root, symlinks=True)
    return root


def lock_matches_file(root: Path) -> None:
    data = (root / PEOPLE_FILE).read_bytes()
    lock = read_lock(root)["datasets"]["t/people"]
    assert lock["sha256"] == hashlib.sha256(data).hexdigest()
    assert lock["rows"] == len(data.splitlines())


def unmerged(root: Path) -> list[str]:
    return git(root, "diff", "--name-only", "--diff-filter=U").stdout.split()


def parents(root: Path, rev: str = "HEAD") -> list[str]:
    return git(root, "rev-list", "--parents", "-n", "1", rev).stdout.split()[1:]


DRIVER = f"{shlex.quote(sys.executable)} -m tdm merge-driver %O %A %B %P"


# ---------------------------------------------------------------- registration


def test_tdm_init_registers_the_driver_in_gitattributes_and_git_config(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    assert tdm("init", root).exit_code == 0
    assert (root / ".gitattributes").read_text() == (
        "# tdm: datasets and tdm.lock merge by primary key (see `tdm merge-driver --help`)\n"
        "datasets/*/*.jsonl merge=tdm\n"
        "tdm.lock merge=tdm\n"
    )
    attrs = git(root, "check-attr", "merge", "--", "datasets/t/x.jsonl", "tdm.lock", "README.md")
    assert attrs.stdout.splitlines() == [
        "datasets/t/x.jsonl: merge: tdm",
        "tdm.lock: merge: tdm",
        "README.md: merge: unspecified",
    ]
    assert git(root, "config", "merge.tdm.driver").stdout.strip() == DRIVER
    assert git(root, "config", "merge.tdm.name").stdout.strip() == (
        "tdm: merge datasets by primary key"
    )
    # .gitattributes is committed with the data
    assert tdm("commit", "-m", "start", "--repo", root).exit_code == 0
    assert ".gitattributes" in git(root, "ls-files").stdout.split()


def test_hooks_install_registers_the_driver_again_keeping_other_attributes(repo: Path) -> None:
    git(repo, "config", "--unset", "merge.tdm.driver")
    (repo / ".gitattributes").write_text("*.png binary")  # no merge=tdm, no final newline
    result = tdm("hooks", "install", "--repo", repo)
    assert result.exit_code == 0, result.output
    assert git(repo, "config", "merge.tdm.driver").stdout.strip() == DRIVER
    assert (repo / ".gitattributes").read_text() == "*.png binary\n" + merge.ATTRIBUTES
    # registering again changes nothing
    from tdm.project import Project

    assert merge.register(Project.find(repo)) == []
    assert (repo / ".gitattributes").read_text() == "*.png binary\n" + merge.ATTRIBUTES


# ---------------------------------------------------------------- the driver command


def test_merge_driver_command_merges_into_ours_by_key(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, ours, theirs = (tmp_path / n for n in ("O", "A", "B"))
    base.write_bytes(jsonl(BASE))
    ours.write_bytes(jsonl([person(8), *people({3: {"name": "Three"}})]))
    theirs.write_bytes(jsonl([*people({4: {"tier": "silver"}}), person(7)]))
    monkeypatch.chdir(repo)  # git runs the driver in the work tree
    result = tdm("merge-driver", base, ours, theirs, PEOPLE_FILE)
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert ours.read_bytes() == jsonl(
        [*people({3: {"name": "Three"}, 4: {"tier": "silver"}}), person(8), person(7)]
    )
    assert not (repo / ".git" / "tdm" / "conflicts" / REPORT).exists()


def test_merge_driver_command_reports_a_conflict_and_exits_1(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, ours, theirs = (tmp_path / n for n in ("O", "A", "B"))
    base.write_bytes(jsonl(BASE))
    ours.write_bytes(jsonl(people({2: {"name": "Ours"}})))
    theirs.write_bytes(jsonl(people({2: {"name": "Theirs"}})))
    monkeypatch.chdir(repo)
    result = tdm("merge-driver", base, ours, theirs, PEOPLE_FILE)
    assert result.exit_code == 1
    assert result.stderr == (
        "tdm: datasets/t/people.jsonl: 1 row conflict(s) (our rows kept for now):\n"
        "  id=2: both sides changed name\n"
        "  settle with: tdm resolve t/people --ours|--theirs [--key K]\n"
    )
    assert ours.read_bytes() == jsonl(people({2: {"name": "Ours"}}))
    report = json.loads((repo / ".git" / "tdm" / "conflicts" / REPORT).read_text())
    assert report == {
        "path": PEOPLE_FILE,
        "dataset": "t/people",
        "primary_key": "id",
        "conflicts": [
            {
                "key": 2,
                "kind": "both_changed",
                "fields": ["name"],
                "ours": person(2, name="Ours"),
                "theirs": person(2, name="Theirs"),
            }
        ],
    }


def test_merge_driver_without_a_primary_key_leaves_the_file_to_merge_by_hand(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, ours, theirs = (tmp_path / n for n in ("O", "A", "B"))
    for p in (base, ours, theirs):
        p.write_bytes(jsonl(BASE))
    ours.write_bytes(jsonl(BASE[:2]))
    monkeypatch.chdir(repo)
    result = tdm("merge-driver", base, ours, theirs, "datasets/t/unknown.jsonl")
    assert result.exit_code == 1
    assert "no primary key for t/unknown; merge it by hand" in result.stderr
    assert ours.read_bytes() == jsonl(BASE[:2])  # untouched


def test_merge_driver_on_tdm_lock_without_the_merged_commits_asks_for_resolve(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = read_lock(repo)
    sides = []
    for name, sha in (("O", None), ("A", "a" * 64), ("B", "b" * 64)):
        doc = json.loads(json.dumps(lock))
        if sha:
            doc["datasets"]["t/people"]["sha256"] = sha
        path = tmp_path / name
        path.write_bytes(merge.dumps_lock(doc))
        sides.append(path)
    monkeypatch.chdir(repo)
    for var in [k for k in os.environ if k.startswith("GITHEAD_")]:
        monkeypatch.delenv(var)
    result = tdm("merge-driver", *sides, "tdm.lock")
    assert result.exit_code == 1
    assert "after the merge run `tdm resolve tdm.lock` to recompute it" in result.stderr


# ---------------------------------------------------------------- real merges


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_adjacent_rows_changed_on_two_branches_merge_cleanly_only_with_the_driver(
    repo: Path,
) -> None:
    theirs = commit_rows(repo, "theirs", [*people({4: {"tier": "silver"}}), person(7)])
    ours = commit_rows(repo, "ours", [*people({3: {"name": "Three"}}), person(8)])

    # a line merge conflicts: the changed lines touch
    failed = git(repo, "-c", "merge.tdm.driver=false", "merge", "--no-edit", "theirs", check=False)
    assert failed.returncode == 1
    assert unmerged(repo) == [PEOPLE_FILE, "tdm.lock"]
    git(repo, "merge", "--abort")
    git(repo, "config", "--remove-section", "merge.tdm")  # no driver: git's own text merge
    failed = git(repo, "merge", "--no-edit", "theirs", check=False)
    assert failed.returncode == 1
    assert PEOPLE_FILE in unmerged(repo)
    assert "<<<<<<<" in (repo / PEOPLE_FILE).read_text()
    git(repo, "merge", "--abort")
    assert git(repo, "status", "--porcelain").stdout == ""

    assert tdm("hooks", "install", "--repo", repo).exit_code == 0  # registers it again
    merged = git(repo, "merge", "--no-edit", "theirs", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert parents(repo) == [ours, theirs]
    assert git(repo, "status", "--porcelain").stdout == ""
    assert read_rows(repo / PEOPLE_FILE) == [
        *people({3: {"name": "Three"}, 4: {"tier": "silver"}}),
        person(8),
        person(7),
    ]
    # tdm.lock merged too: its entry describes the merged file
    lock_matches_file(repo)
    assert read_lock(repo)["datasets"]["t/people"]["rows"] == 8
    result = tdm("validate", "--repo", repo)
    assert result.exit_code == 0, result.output
    status = tdm("status", "--json", "--repo", repo)
    assert json.loads(status.stdout)["clean"] is True


@pytest.mark.slow
def test_the_same_row_changed_on_both_branches_conflicts_and_is_resolved(repo: Path) -> None:
    theirs = commit_rows(
        repo,
        "theirs",
        people({2: {"name": "Two T"}, 3: {"name": "Three T"}, 5: {"tier": "silver"}}),
    )
    ours = commit_rows(
        repo,
        "ours",
        people(
            {2: {"name": "Two O", "tier": "bronze"}, 3: {"name": "Three O"}, 6: {"tier": "bronze"}}
        ),
    )
    result = git(repo, "merge", "--no-edit", "theirs", check=False)
    assert result.returncode == 1
    assert "tdm: datasets/t/people.jsonl: 2 row conflict(s)" in result.stderr
    assert unmerged(repo) == [PEOPLE_FILE]  # tdm.lock merged by the driver
    # the file stays JSON Lines: our rows for the conflicts, both sides' other changes
    assert read_rows(repo / PEOPLE_FILE) == people(
        {
            2: {"name": "Two O", "tier": "bronze"},
            3: {"name": "Three O"},
            5: {"tier": "silver"},
            6: {"tier": "bronze"},
        }
    )
    report = repo / ".git" / "tdm" / "conflicts" / REPORT
    assert [(c["key"], c["kind"]) for c in json.loads(report.read_text())["conflicts"]] == [
        (2, "both_changed"),
        (3, "both_changed"),
    ]

    status = tdm("status", "--repo", repo)
    assert status.exit_code == 0, status.output
    assert (
        "Merge conflicts (settle with `tdm resolve DATASET --ours|--theirs [--key K]`):\n"
        "  t/people: id=2: both sides changed name, tier\n"
        "  t/people: id=3: both sides changed name\n"
    ) in status.stdout
    as_json = json.loads(tdm("status", "--json", "--repo", repo).stdout)
    assert as_json["clean"] is False
    assert as_json["conflicts"] == [
        "t/people: id=2: both sides changed name, tier",
        "t/people: id=3: both sides changed name",
    ]

    # one row at a time: theirs for id 3
    first = tdm("resolve", "t/people", "--theirs", "--key", "3", "--repo", repo)
    assert first.exit_code == 0, first.output
    assert first.stdout == "t/people: 1 settled, 1 conflict(s) left\n"
    assert read_rows(repo / PEOPLE_FILE)[1:3] == [
        person(2, name="Two O", tier="bronze"),
        person(3, name="Three T"),
    ]
    assert unmerged(repo) == [PEOPLE_FILE]  # not staged while conflicts are left
    assert [c["key"] for c in json.loads(report.read_text())["conflicts"]] == [2]

    # the rest: ours
    last = tdm("resolve", "t/people", "--ours", "--repo", repo)
    assert last.exit_code == 0, last.output
    assert last.stdout == "t/people: 1 settled; staged (commit to finish the merge)\n"
    expected = people(
        {
            2: {"name": "Two O", "tier": "bronze"},
            3: {"name": "Three T"},
            5: {"tier": "silver"},
            6: {"tier": "bronze"},
        }
    )
    assert read_rows(repo / PEOPLE_FILE) == expected
    assert not report.exists()
    assert unmerged(repo) == []
    assert git(repo, "status", "--porcelain").stdout == f"M  {PEOPLE_FILE}\nM  tdm.lock\n"
    lock_matches_file(repo)
    assert tdm("status", "--json", "--repo", repo).stdout.count("both sides changed") == 0

    committed = git(repo, "commit", "--no-edit", check=False)
    assert committed.returncode == 0, committed.stdout + committed.stderr
    assert parents(repo) == [ours, theirs]
    assert git(repo, "status", "--porcelain").stdout == ""
    assert read_rows(repo / PEOPLE_FILE) == expected
    valid = tdm("validate", "--repo", repo)
    assert valid.exit_code == 0, valid.output


def driver_conflict(
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ours: list[dict[str, Any]],
    theirs: list[dict[str, Any]],
) -> None:
    """What git does for a conflicted dataset: the driver merges into the work-tree file."""
    base = tmp_path / "O"
    other = tmp_path / "B"
    base.write_bytes(jsonl(BASE))
    other.write_bytes(jsonl(theirs))
    write_rows(repo, ours)
    monkeypatch.chdir(repo)
    assert tdm("merge-driver", base, repo / PEOPLE_FILE, other, PEOPLE_FILE).exit_code == 1


def test_resolve_theirs_applies_their_removal_and_their_changed_row(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ours changed 2 (theirs removed it); ours removed 4 (theirs changed it); theirs added 7
    # with other values than ours
    ours = [r for r in people({2: {"name": "Two O"}}) if r["id"] != 4] + [person(7, name="O")]
    theirs = [r for r in people({4: {"name": "Four T"}}) if r["id"] != 2] + [person(7, name="T")]
    driver_conflict(repo, tmp_path, monkeypatch, ours, theirs)
    report = json.loads((repo / ".git" / "tdm" / "conflicts" / REPORT).read_text())
    assert [(c["key"], c["kind"]) for c in report["conflicts"]] == [
        (2, "changed_removed"),
        (4, "removed_changed"),
        (7, "both_added"),
    ]
    result = tdm("resolve", "t/people", "--theirs", "--repo", repo)
    assert result.exit_code == 0, result.output
    assert result.stdout == "t/people: 3 settled; staged (commit to finish the merge)\n"
    # 2 removed as they did, 7 their version in place, 4 (which we had removed) appended
    assert read_rows(repo / PEOPLE_FILE) == [
        person(1),
        person(3),
        person(5),
        person(6),
        person(7, name="T"),
        person(4, name="Four T"),
    ]
    lock_matches_file(repo)
    assert git(repo, "diff", "--cached", "--name-only").stdout.split() == [PEOPLE_FILE, "tdm.lock"]


def test_resolve_ours_keeps_the_file_as_the_driver_left_it(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = [r for r in people({2: {"name": "Two O"}}) if r["id"] != 4]
    theirs = [r for r in people({4: {"name": "Four T"}}) if r["id"] != 2]
    driver_conflict(repo, tmp_path, monkeypatch, ours, theirs)
    left = (repo / PEOPLE_FILE).read_bytes()
    assert left == jsonl(ours)
    result = tdm("resolve", "t/people", "--ours", "--key", "4", "--repo", repo)
    assert result.stdout == "t/people: 1 settled, 1 conflict(s) left\n"
    result = tdm("resolve", "t/people", "--ours", "--key", "2", "--repo", repo)
    assert result.stdout == "t/people: 1 settled; staged (commit to finish the merge)\n"
    assert (repo / PEOPLE_FILE).read_bytes() == left
    lock_matches_file(repo)


def test_resolve_refuses_what_it_cannot_settle(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nothing = tdm("resolve", "t/people", "--ours", "--repo", repo)
    assert nothing.exit_code == 2
    assert "no merge conflicts recorded for t/people" in nothing.stderr
    driver_conflict(
        repo, tmp_path, monkeypatch, people({2: {"name": "O"}}), people({2: {"name": "T"}})
    )
    before = (repo / PEOPLE_FILE).read_bytes()
    neither = tdm("resolve", "t/people", "--repo", repo)
    assert neither.exit_code == 2
    assert "give exactly one of --ours or --theirs" in neither.stderr
    both = tdm("resolve", "t/people", "--ours", "--theirs", "--repo", repo)
    assert both.exit_code == 2
    wrong_key = tdm("resolve", "t/people", "--theirs", "--key", "5", "--repo", repo)
    assert wrong_key.exit_code == 2
    assert "no conflict with id=5 in t/people" in wrong_key.stderr
    assert (repo / PEOPLE_FILE).read_bytes() == before
    assert (repo / ".git" / "tdm" / "conflicts" / REPORT).exists()


def test_resolve_tdm_lock_recomputes_the_entries_from_the_files_and_stages_it(
    repo: Path,
) -> None:
    before = read_lock(repo)["datasets"]["t/people"]
    write_rows(repo, [*BASE, person(7)])
    result = tdm("resolve", "tdm.lock", "--repo", repo)
    assert result.exit_code == 0, result.output
    after = read_lock(repo)["datasets"]["t/people"]
    lock_matches_file(repo)
    assert after["rows"] == 7
    # only rows and sha256 change; the recipe and the rest stay
    assert {k: v for k, v in after.items() if k not in ("rows", "sha256")} == {
        k: v for k, v in before.items() if k not in ("rows", "sha256")
    }
    assert git(repo, "diff", "--cached", "--name-only").stdout.split() == ["tdm.lock"]
    assert (repo / "tdm.lock").read_bytes() == merge.dumps_lock(read_lock(repo))


def test_conflicts_of_two_datasets_are_reported_separately(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for template, dataset in (("a__b", "c"), ("a", "b__c")):
        write_file(
            repo / "templates" / f"{template}.yaml",
            {"datasets": {dataset: {"schema": "people", "count": 6}}},
        )
    base, theirs = tmp_path / "O", tmp_path / "B"
    base.write_bytes(jsonl(BASE))
    theirs.write_bytes(jsonl(people({1: {"name": "Theirs"}})))
    monkeypatch.chdir(repo)
    for rel in ("datasets/a__b/c.jsonl", "datasets/a/b__c.jsonl"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(jsonl(people({1: {"name": "Ours"}})))
        assert tdm("merge-driver", base, repo / rel, theirs, rel).exit_code == 1
    reports = sorted((repo / ".git" / "tdm" / "conflicts").glob("*.json"))
    assert len(reports) == 2  # one per file, even though the names only differ in / and __
    datasets = sorted(json.loads(r.read_text())["dataset"] for r in reports)
    assert datasets == ["a/b__c", "a__b/c"]


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_an_aborted_merge_leaves_no_conflicts_in_status(repo: Path) -> None:
    commit_rows(repo, "theirs", people({2: {"name": "Two T"}}))
    commit_rows(repo, "ours", people({2: {"name": "Two O"}}))
    assert git(repo, "merge", "--no-edit", "theirs", check=False).returncode == 1
    git(repo, "merge", "--abort")
    assert git(repo, "status", "--porcelain").stdout == ""
    status = json.loads(tdm("status", "--json", "--repo", repo).stdout)
    assert status["conflicts"] == []  # actual: ["t/people: id=2: both sides changed name"]
    assert status["clean"] is True
