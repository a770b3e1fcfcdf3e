"""tdm diff: schema compatibility, row-level dataset diffs, file summaries, formats,
revisions and bad input, all against real git repositories (pygit2 and the git CLI)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from helpers import PEOPLE, PEOPLE_FILE, git, init_repo, person, tdm, write_file

from tdm import diff as diffmod
from tdm import snapshot
from tdm.project import Project

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "docs" / "ci" / "tdm-pull-request.yml"


def write_rows(root: Path, rows: list[dict[str, Any]], rel: str = PEOPLE_FILE) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def people(tmp_path: Path) -> Path:
    """A repository with one schema (people, key id) and 5 rows, committed and tagged v1."""
    root = tmp_path / "people"
    init_repo(root)
    write_file(root / "schemas" / "people.yaml", PEOPLE)
    write_file(
        root / "templates" / "t.yaml",
        {"seed": 1, "datasets": {"people": {"schema": "people", "count": 5}}},
    )
    write_rows(root, [person(i) for i in range(1, 6)])
    commit_all(root, "v1 data")
    git(root, "tag", "v1")
    return root


def diff_json(root: Path, *args: str) -> dict[str, Any]:
    result = tdm("diff", *args, "--format", "json", "--repo", root)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def only_dataset(report: dict[str, Any]) -> dict[str, Any]:
    assert len(report["datasets"]) == 1, report["datasets"]
    data: dict[str, Any] = report["datasets"][0]
    return data


# ---------------------------------------------------------------- rows by key


def test_rows_added_removed_and_changed_are_matched_by_primary_key(people: Path) -> None:
    rows = [person(i) for i in range(1, 6)]
    rows[1]["email"] = "changed@example.com"  # id 2
    rows[2]["name"] = "Renamed"  # id 3
    rows[2]["tier"] = "silver"  # id 3 gains a field
    del rows[3]  # id 4 removed
    rows.append(person(6))  # id 6 added
    rows[0], rows[1] = rows[1], rows[0]  # moved rows are not changes
    write_rows(people, rows)
    commit_all(people, "v2 data")

    d = only_dataset(diff_json(people, "v1", "HEAD"))
    assert (d["name"], d["status"], d["mode"], d["primary_key"]) == (
        "t/people",
        "modified",
        "key",
        "id",
    )
    assert (d["rows_before"], d["rows_after"]) == (5, 5)
    assert (d["added"], d["removed"], d["changed"]) == (1, 1, 2)
    assert d["fields"] == {"email": 1, "name": 1, "tier": 1}
    changed = {c["key"]: c["fields"] for c in d["samples"]["changed"]}
    assert changed[2] == {"email": {"old": "p2@example.com", "new": "changed@example.com"}}
    assert changed[3] == {"name": {"old": "P 3", "new": "Renamed"}, "tier": {"new": "silver"}}
    assert d["samples"]["added"] == [person(6)]
    assert d["samples"]["removed"] == [person(4)]


def test_text_shows_fields_old_to_new_and_the_sample_size_is_respected(people: Path) -> None:
    rows = [person(i, name=f"New {i}") for i in range(1, 6)]
    write_rows(people, rows)
    result = tdm("diff", "--rows", "2", "--repo", people)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "t/people: 5 -> 5 rows: +0 added, -0 removed, ~5 changed" in out
    assert "fields changed: name (5)" in out
    assert 'name: "P 1" -> "New 1"' in out
    assert 'name: "P 2" -> "New 2"' in out
    assert "New 3" not in out  # only two samples
    assert "\x1b[" not in out  # no colour when not a terminal


def test_reordered_rows_and_reformatted_json_are_not_changes(people: Path) -> None:
    rows = [person(i) for i in range(5, 0, -1)]
    path = people / PEOPLE_FILE
    path.write_text(
        "".join(json.dumps(r, indent=None, separators=(", ", ": ")) + "\n" for r in rows)
    )
    report = diff_json(people)
    assert report["datasets"] == []
    assert report["summary"]["differs"] is False


def test_a_dataset_added_or_removed_as_a_whole_is_listed_with_its_row_count(people: Path) -> None:
    write_rows(people, [person(i) for i in range(1, 4)], "datasets/t/extra.jsonl")
    (people / PEOPLE_FILE).unlink()
    report = diff_json(people)
    by_name = {d["name"]: d for d in report["datasets"]}
    assert by_name["t/extra"]["status"] == "added"
    assert by_name["t/extra"]["rows_after"] == 3
    assert by_name["t/people"]["status"] == "removed"
    assert by_name["t/people"]["rows_before"] == 5


def test_masked_values_are_printed_as_they_are_in_the_file(people: Path) -> None:
    masked = "hash:9f86d081884c7d659a2feaa0c55ad015"
    rows = [person(i) for i in range(1, 6)]
    rows[0]["email"] = masked
    write_rows(people, rows)
    for fmt in ("text", "markdown", "json"):
        result = tdm("diff", "--format", fmt, "--repo", people)
        assert masked in result.stdout
        assert "p1@example.com" in result.stdout  # the old value, as committed


# ---------------------------------------------------------------- revisions


def test_working_tree_against_head_and_exit_code(people: Path) -> None:
    assert tdm("diff", "--exit-code", "--repo", people).exit_code == 0
    write_rows(people, [person(i) for i in range(1, 7)])
    result = tdm("diff", "--exit-code", "--repo", people)
    assert result.exit_code == 1
    assert "+1 added" in result.stdout
    assert tdm("diff", "--repo", people).exit_code == 0  # without --exit-code
    commit_all(people, "six")
    assert tdm("diff", "--exit-code", "--repo", people).exit_code == 0
    # one revision: that revision against the working tree, as `git diff v1`
    assert only_dataset(diff_json(people, "v1"))["added"] == 1


def test_three_dots_diff_from_the_merge_base_like_a_pull_request(people: Path) -> None:
    git(people, "checkout", "-q", "-b", "feature")
    write_rows(people, [person(i) for i in range(1, 7)])  # the PR adds id 6
    commit_all(people, "feature adds a person")
    git(people, "checkout", "-q", "main")
    write_rows(people, [person(i) for i in range(2, 6)])  # main meanwhile removes id 1
    commit_all(people, "main removes a person")

    pr = only_dataset(diff_json(people, "main...feature"))
    assert (pr["added"], pr["removed"]) == (1, 0)
    report = diff_json(people, "main...feature")
    assert report["base"]["commit"] == git(people, "merge-base", "main", "feature").stdout.strip()
    assert report["head"]["label"] == "feature"

    both = only_dataset(diff_json(people, "main..feature"))  # two dots: the tips
    tips = only_dataset(diff_json(people, "main", "feature"))
    assert tips == both
    assert (tips["rows_before"], tips["rows_after"]) == (4, 6)
    assert (tips["added"], tips["removed"]) == (2, 0)


def test_a_tdm_repository_in_a_subfolder_of_the_git_tree(tmp_path: Path) -> None:
    outer = tmp_path / "mono"
    outer.mkdir()
    git(outer, "init", "-q", "-b", "main")
    root = outer / "testdata"
    init_repo(root)
    write_file(root / "schemas" / "people.yaml", PEOPLE)
    write_rows(root, [person(1)])
    commit_all(outer, "one")
    write_rows(root, [person(1), person(2)])
    commit_all(outer, "two")
    d = only_dataset(diff_json(root, "HEAD~1", "HEAD"))
    assert (d["path"], d["added"], d["mode"]) == (PEOPLE_FILE, 1, "key")


# ---------------------------------------------------------------- schemas


def set_schema(root: Path, **changes: Any) -> None:
    schema = json.loads(json.dumps(PEOPLE))
    for dotted, value in changes.items():
        node = schema
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
    write_file(root / "schemas" / "people.yaml", schema)


def test_breaking_schema_change_fails_the_gate_and_names_the_reason(people: Path) -> None:
    set_schema(people, properties__name={"type": "string", "maxLength": 20})
    commit_all(people, "tighten")
    result = tdm("diff", "v1", "HEAD", "--fail-on", "breaking", "--repo", people)
    assert result.exit_code == 1
    assert "BREAKING" in result.stdout
    assert "name: maxLength 40 -> 20" in result.stdout
    assert "1 breaking schema change (backward)" in result.stdout
    # the same change is compatible for old readers of new data
    assert (
        tdm(
            "diff", "v1", "HEAD", "--compat", "forward", "--fail-on", "breaking", "--repo", people
        ).exit_code
        == 0
    )
    assert (
        tdm(
            "diff", "v1", "HEAD", "--compat", "full", "--fail-on", "breaking", "--repo", people
        ).exit_code
        == 1
    )

    change = diff_json(people, "v1", "HEAD")["schemas"][0]["changes"][0]
    assert change == {
        "type": "MAX_LENGTH_DECREASED",
        "path": "#/properties/name/maxLength",
        "direction": "backward",
        "version": None,
        "detail": "name: maxLength 40 -> 20",
        "breaking": True,
        "reason": "registry (strict) refuses it: "
        "data written with the old schema may not be valid under the new one",
    }


def test_compatible_schema_change_passes_the_gate_even_with_exit_code(people: Path) -> None:
    set_schema(people, properties__tier={"type": "string", "enum": ["bronze", "silver", "gold"]})
    commit_all(people, "widen tier")
    result = tdm("diff", "v1", "HEAD", "--exit-code", "--fail-on", "breaking", "--repo", people)
    assert result.exit_code == 0, result.output
    assert 'compatible tier: enum added ["gold"] [ENUM_ARRAY_EXTENDED]' in result.stdout
    assert tdm("diff", "v1", "HEAD", "--exit-code", "--repo", people).exit_code == 1


def test_primary_key_change_is_breaking_and_rows_fall_back_to_lines(people: Path) -> None:
    set_schema(people, **{"x-tdm": {"primary_key": "email"}})
    write_rows(people, [person(i) for i in range(1, 5)])
    report = diff_json(people, "v1")
    kinds = [(c["type"], c["breaking"]) for c in report["schemas"][0]["changes"]]
    assert ("PRIMARY_KEY_CHANGED", True) in kinds
    d = only_dataset(report)
    assert d["mode"] == "line"
    assert any("primary key changed (id -> email)" in n for n in d["notes"])
    for compat in ("backward", "forward", "full"):
        result = tdm("diff", "v1", "--compat", compat, "--fail-on", "breaking", "--repo", people)
        assert result.exit_code == 1


def test_schemas_added_and_removed(people: Path) -> None:
    write_file(people / "schemas" / "pets.yaml", {"type": "object"})
    report = diff_json(people)
    assert [(s["name"], s["status"], s["breaking"]) for s in report["schemas"]] == [
        ("pets", "added", False)
    ]
    commit_all(people, "pets")
    (people / "schemas" / "pets.yaml").unlink()
    report = diff_json(people)
    assert [(s["name"], s["status"], s["breaking"]) for s in report["schemas"]] == [
        ("pets", "removed", True)
    ]


# ---------------------------------------------------------------- files in words


def test_template_masking_and_lock_changes_in_words(sample_repo: Path) -> None:
    commit_all(sample_repo, "sample")
    template = sample_repo / "templates" / "smoke.yaml"
    text = template.read_text()
    text = text.replace(
        "customers:   {schema: customers, count: 200}",
        "customers:   {schema: customers, count: 240}",
    )
    text = text.replace("seed: 42", "seed: 43")
    template.write_text(text)
    masking = sample_repo / "masking" / "customers.yaml"
    masking.write_text(
        masking.read_text().replace(
            "phone:      {strategy: partial, keep_last: 4}", "phone:      {strategy: hash}"
        )
    )
    assert tdm("generate", "smoke", "--repo", sample_repo).exit_code == 0

    result = tdm("diff", "--repo", sample_repo)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "seed 42 -> 43" in out
    assert "customers: count 200 -> 240" in out
    assert "rule for phone changed from partial to hash" in out
    assert (
        "smoke/customers: count 200 -> 240, recipe changed, rows 200 -> 240, seed 42 -> 43, sha256 changed"
        in out
    )
    files = {f["path"]: f for f in diff_json(sample_repo)["files"]}
    assert set(files) == {"templates/smoke.yaml", "masking/customers.yaml", "tdm.lock"}
    assert files["tdm.lock"]["kind"] == "lock"


# ---------------------------------------------------------------- reading only what changed


def test_an_unchanged_dataset_is_never_read(people: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_rows(people, [person(i) for i in range(1, 3)], "datasets/t/small.jsonl")
    commit_all(people, "small")
    write_rows(people, [person(i) for i in range(1, 4)], "datasets/t/small.jsonl")
    commit_all(people, "small grows")
    reads: list[str] = []
    for cls in (snapshot.TreeSnapshot, snapshot.WorktreeSnapshot):
        original = cls.read

        def spy(self: Any, rel: str, _original: Any = original) -> bytes | None:
            reads.append(rel)
            data: bytes | None = _original(self, rel)
            return data

        monkeypatch.setattr(cls, "read", spy)
    report = diffmod.diff(Project.find(people), "HEAD~1", "HEAD")
    assert [d.name for d in report.datasets] == ["t/small"]
    assert "datasets/t/small.jsonl" in reads
    assert PEOPLE_FILE not in reads
    reads.clear()
    diffmod.diff(Project.find(people))  # the clean working tree: git's stat check, no reads
    assert PEOPLE_FILE not in reads


# ---------------------------------------------------------------- bad input


def test_schema_without_primary_key_is_compared_by_line_and_says_so(people: Path) -> None:
    set_schema(people, **{"x-tdm": None})
    commit_all(people, "no key")
    git(people, "tag", "v2")
    write_rows(people, [person(i) for i in range(2, 7)])
    d = only_dataset(diff_json(people, "v2"))
    assert d["mode"] == "line"
    assert (d["added"], d["removed"], d["changed"]) == (1, 1, 0)
    assert d["notes"] == ["schema 'people' has no primary key (x-tdm.primary_key); compared lines"]
    assert "compared lines" in tdm("diff", "v2", "--repo", people).stdout


def test_duplicate_keys_on_one_side_fall_back_to_lines_with_a_message(people: Path) -> None:
    write_rows(people, [*(person(i) for i in range(1, 6)), person(3, name="Twin")])
    d = only_dataset(diff_json(people))
    assert d["mode"] == "line"
    assert d["added"] == 1
    assert any("primary key id=3 repeats" in n for n in d["notes"]), d["notes"]


def test_rows_that_do_not_parse_are_reported_not_crashed_on(people: Path) -> None:
    path = people / PEOPLE_FILE
    path.write_bytes(path.read_bytes() + b'{"id": 9, "email": broken\n')
    result = tdm("diff", "--format", "json", "--repo", people)
    assert result.exit_code == 0, result.output
    d = only_dataset(json.loads(result.stdout))
    assert d["mode"] == "line"
    assert d["added"] == 1
    assert any("is not valid JSON" in n for n in d["notes"])
    assert d["samples"]["added"] == ['{"id": 9, "email": broken']


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown revision 'nope'"),
        (["v1", "nope"], "unknown revision 'nope'"),
        (["v1...nope"], "unknown revision 'nope'"),
        (["v1..HEAD", "HEAD"], "either two revisions (A B) or one range"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(
    people: Path, args: list[str], message: str
) -> None:
    result = tdm("diff", *args, "--repo", people)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_options_exit_2(people: Path) -> None:
    for args in (
        ["--rows", "-1"],
        ["--compat", "sideways"],
        ["--format", "html"],
        ["--fail-on", "any"],
    ):
        result = tdm("diff", *args, "--repo", people)
        assert result.exit_code == 2, (args, result.output)


def test_unrelated_histories_have_no_merge_base(people: Path) -> None:
    git(people, "checkout", "-q", "--orphan", "other")
    commit_all(people, "unrelated root")
    result = tdm("diff", "main...other", "--repo", people)
    assert result.exit_code == 2
    assert "no common ancestor" in result.output


def test_a_malformed_schema_at_one_side_names_the_file_and_revision(people: Path) -> None:
    (people / "schemas" / "people.yaml").write_text("type: [object\n")
    commit_all(people, "broken schema")
    result = tdm("diff", "v1", "HEAD", "--repo", people)
    assert result.exit_code == 2
    assert "schemas/people.yaml@HEAD" in result.output
    assert "malformed YAML" in result.output


def test_diff_changes_nothing_in_the_repository(people: Path) -> None:
    write_rows(people, [person(i) for i in range(1, 8)])
    before = git(people, "status", "--porcelain").stdout, (people / PEOPLE_FILE).read_bytes()
    refs = git(people, "show-ref").stdout
    for fmt in ("text", "markdown", "json"):
        tdm("diff", "--format", fmt, "--repo", people)
    assert (
        git(people, "status", "--porcelain").stdout,
        (people / PEOPLE_FILE).read_bytes(),
    ) == before
    assert git(people, "show-ref").stdout == refs


# ---------------------------------------------------------------- formats


def test_markdown_is_a_readable_pr_comment(people: Path) -> None:
    set_schema(people, properties__name={"type": "string", "maxLength": 20})
    rows = [person(i) for i in range(1, 6)]
    rows[0]["name"] = "Pipe | and `tick`"
    write_rows(people, rows)
    md = tdm("diff", "--format", "markdown", "--repo", people).stdout
    assert md.startswith("<!-- tdm diff -->\n## tdm diff `HEAD` → `working tree`")
    assert "**1 breaking schema change**" in md
    assert "| Schema | Change | Type | Compatibility | Reason |" in md
    assert "❌ breaking" in md
    assert "<details><summary>t/people:" in md and "</details>" in md
    # a value with a pipe does not break the table row
    row = next(line for line in md.splitlines() if "Pipe" in line)
    assert row.count(" | ") == 3 and "\\|" in row


def test_json_output_is_stable_and_documented(people: Path) -> None:
    write_rows(people, [person(i, tier="bronze") for i in range(1, 7)])
    first = tdm("diff", "--format", "json", "--repo", people).stdout
    assert tdm("diff", "--json", "--repo", people).stdout == first
    data = json.loads(first)
    assert set(data) == {
        "format_version",
        "base",
        "head",
        "compat",
        "rules",
        "summary",
        "schemas",
        "files",
        "datasets",
    }
    assert data["format_version"] == 2
    assert data["head"] == {"label": "working tree", "commit": None}
    readme = (ROOT / "README.md").read_text()
    for key in (*data, *data["summary"], *data["datasets"][0]):
        assert f"`{key}`" in readme, f"the README does not document the JSON key {key}"


def test_colour_only_when_asked_or_on_a_terminal(people: Path) -> None:
    set_schema(people, properties__name={"type": "string", "maxLength": 20})
    assert "\x1b[31m" in tdm("diff", "--color", "always", "--repo", people).stdout
    assert "\x1b[" not in tdm("diff", "--color", "never", "--repo", people).stdout


# ---------------------------------------------------------------- the CI recipe


@pytest.mark.slow
def test_the_github_workflow_parses_and_its_tdm_commands_run(people: Path, tmp_path: Path) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers
    steps = workflow["jobs"]["test-data"]["steps"]
    runs = [line.strip() for step in steps for line in str(step.get("run", "")).splitlines()]
    tdm_lines = [line for line in runs if line.startswith("tdm ")]
    assert any(line.startswith("tdm validate") for line in tdm_lines)
    assert any("--format markdown" in line for line in tdm_lines)
    assert any("--fail-on breaking" in line for line in tdm_lines)
    readme = (ROOT / "README.md").read_text()
    assert "docs/ci/tdm-pull-request.yml" in readme

    # run them as the workflow would: a clone of the repository, a pull-request branch
    git(people, "branch", "-M", "main")
    clone = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", str(people), str(clone)], check=True)
    git(clone, "checkout", "-q", "-b", "pr")
    set_schema(clone, properties__name={"type": "string", "maxLength": 20})
    write_rows(clone, [person(i) for i in range(1, 7)])
    commit_all(clone, "pr change")
    tdm_bin = shutil.which("tdm", path=str(Path(sys.executable).parent))
    assert tdm_bin is not None
    env = {**os.environ, "BASE_REF": "main", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    codes = {}
    for step in steps:
        script = str(step.get("run", ""))
        if not script.lstrip().startswith("tdm "):
            continue
        script = re.sub(r"^(\s*)tdm ", rf"\1{tdm_bin} ", script, flags=re.M)
        proc = subprocess.run(
            ["bash", "-ec", script], cwd=clone, env=env, capture_output=True, text=True
        )
        codes[step["name"]] = proc.returncode
    assert codes["Diff against the target branch"] == 0
    assert codes["Fail on breaking schema changes"] == 1  # maxLength 40 -> 20
    comment = (clone / "tdm-diff.md").read_text()
    assert "**1 breaking schema change**" in comment and "t/people" in comment
    assert (tmp_path / "summary.md").read_text() == comment


# ---------------------------------------------------------------- review findings: hostile input


def test_an_exact_duplicate_row_added_is_a_repeated_key(people: Path) -> None:
    write_rows(people, [*(person(i) for i in range(1, 6)), person(3)])
    d = only_dataset(diff_json(people))
    assert d["mode"] == "line"
    assert d["added"] == 1
    assert any("primary key id=3 repeats" in n for n in d["notes"]), d["notes"]


def test_a_key_repeated_on_both_sides_is_not_read_as_a_change(people: Path) -> None:
    write_rows(people, [*(person(i) for i in range(1, 6)), person(1, name="b")])
    commit_all(people, "two rows with id 1")
    write_rows(people, [*(person(i) for i in range(1, 6)), person(1, name="z")])
    d = only_dataset(diff_json(people))
    assert d["mode"] == "line"
    assert (d["added"], d["removed"]) == (1, 1)
    assert any("repeats" in n for n in d["notes"])


def test_json_true_and_1_are_different_keys(people: Path) -> None:
    rows = [person(i) for i in range(2, 6)]
    write_rows(people, [person(True), *rows])  # type: ignore[arg-type]
    commit_all(people, "a boolean key")
    write_rows(people, [person(1), *rows])
    d = only_dataset(diff_json(people))
    assert (d["added"], d["removed"], d["changed"]) == (1, 1, 0)


def test_blank_lines_are_not_rows(people: Path) -> None:
    path = people / PEOPLE_FILE
    path.write_bytes(b"\n".join(orjson.dumps(person(i)) + b"\n" for i in range(1, 6)))
    report = diff_json(people)
    assert report["datasets"] == []  # the same five rows, spaced out


def test_git_ignored_files_are_not_part_of_the_working_tree(people: Path) -> None:
    (people / ".gitignore").write_text("datasets/scratch/\n")
    commit_all(people, "ignore scratch")
    write_rows(people, [person(1)], "datasets/scratch/people.jsonl")
    assert tdm("diff", "--exit-code", "--repo", people).exit_code == 0


def test_markdown_cannot_be_injected_through_data(people: Path) -> None:
    rows = [person(i) for i in range(1, 6)]
    rows[0]["</details><h1>LGTM</h1>"] = 1
    rows[1]["name"] = "**approved** <img src=x>"
    write_rows(people, rows)
    (people / "datasets/t/people.jsonl").write_bytes(
        (people / "datasets/t/people.jsonl").read_bytes() + b"not json </details><h1>x</h1>\n"
    )
    md = tdm("diff", "--format", "markdown", "--repo", people).stdout
    rendered = markdown_outside_code(md)
    assert "<h1>" not in rendered and "<img" not in rendered and "**approved**" not in rendered
    assert rendered.count("<details>") == rendered.count("</details>")
    assert "LGTM" in md  # shown, as code


def markdown_outside_code(md: str) -> str:
    """The Markdown a renderer would interpret: fenced blocks and code spans removed."""
    out, fence = [], ""
    for line in md.splitlines():
        m = re.match(r"^(`{3,})", line)
        if fence:
            if line.startswith(fence):
                fence = ""
            continue
        if m:
            fence = m.group(1)
            continue
        out.append(re.sub(r"(`+)(?:.+?)\1", "", line))
    return "\n".join(out)


def test_terminal_escapes_in_data_are_shown_escaped(people: Path) -> None:
    rows = [person(i) for i in range(1, 6)]
    rows[0]["x\x1b[2J"] = 1
    write_rows(people, rows)
    for colour in ("never", "always"):
        out = tdm("diff", "--color", colour, "--repo", people).stdout
        assert "\x1b[2J" not in out
        assert "x\\x1b[2J" in out


def test_markdown_fits_a_github_comment(people: Path) -> None:
    for i in range(40):
        write_rows(people, [person(n) for n in range(1, 6)], f"datasets/t/copy{i}.jsonl")
    commit_all(people, "forty copies")
    for i in range(40):
        rows = [person(n, note=f"{i}{n}" + "x" * 5_000) for n in range(1, 6)]
        write_rows(people, rows, f"datasets/t/copy{i}.jsonl")
    md = tdm("diff", "--format", "markdown", "--repo", people).stdout
    assert len(md) < 65_536
    assert "left out to fit a comment" in md


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"templates/t.yaml": "seed: 1\ndatasets: [people]\n"}, None),
        ({"tdm.lock": '{"version": 1, "datasets": []}\n'}, None),
        ({"schemas/people.yaml": "type: object\nrequired: true\n"}, "not a valid JSON Schema"),
        (
            {"schemas/people.yaml": "type: object\nproperties:\n  on: {type: string}\n"},
            "is not a string",
        ),
        ({"schemas/people.yaml": "type: object\nmaximum: 99999999999999999999\n"}, None),
    ],
)
def test_malformed_files_in_a_pull_request_never_crash(
    people: Path, files: dict[str, str], message: str | None
) -> None:
    for rel, text in files.items():
        (people / rel).write_text(text)
    write_rows(people, [person(i) for i in range(1, 7)])
    result = tdm("diff", "--repo", people)
    assert result.exit_code in (0, 2), result.output
    assert "internal error" not in result.output
    if message is not None:
        assert result.exit_code == 2
        assert message in result.output
        assert "people.yaml" in result.output
