"""`tdm diff` with the schema registry's rules, end to end: --rules, the JSON `type`
and `path` of each change, sentences in text and Markdown, and the transitive modes
over a real tagged history (git repositories, the CLI in-process)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import PEOPLE, git, init_repo, tdm, write_file

Schema = dict[str, Any]


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").stdout.strip()


def people_with(**props: Any) -> Schema:
    schema = copy.deepcopy(PEOPLE)
    for name, value in props.items():
        if value is None:
            del schema["properties"][name]
        else:
            schema["properties"][name] = value
    return schema


def save(root: Path, schema: Schema) -> None:
    write_file(root / "schemas" / "people.yaml", schema)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """people at v1.0 (name maxLength 40), v1.1 (maxLength 20, a break released anyway)
    and v1.2 (an optional nickname added to the closed object): each step but the
    second is compatible with the one before it."""
    root = tmp_path / "people"
    init_repo(root)
    save(root, people_with())
    commit_all(root, "v1.0")
    git(root, "tag", "v1.0")
    save(root, people_with(name={"type": "string", "maxLength": 20}))
    commit_all(root, "v1.1")
    git(root, "tag", "-a", "v1.1", "-m", "annotated")
    save(
        root,
        people_with(name={"type": "string", "maxLength": 20}, nickname={"type": "string"}),
    )
    commit_all(root, "v1.2")
    git(root, "tag", "v1.2")
    git(root, "tag", "release-candidate")  # not a v* tag: never compared
    return root


def diff_json(root: Path, *args: str) -> dict[str, Any]:
    result = tdm("diff", *args, "--format", "json", "--repo", root)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def changes(report: dict[str, Any]) -> list[tuple[str, str, str | None, bool]]:
    return [
        (c["type"], c["path"], c["version"], c["breaking"])
        for s in report["schemas"]
        for c in s["changes"]
    ]


def test_each_change_carries_its_registry_type_and_json_path(history: Path) -> None:
    report = diff_json(history, "v1.0", "v1.1")
    assert report["rules"] == "strict" and report["compat"] == "backward"
    assert changes(report) == [("MAX_LENGTH_DECREASED", "#/properties/name/maxLength", None, True)]
    (change,) = report["schemas"][0]["changes"]
    assert change["detail"] == "name: maxLength 40 -> 20"
    assert change["direction"] == "backward"
    assert change["reason"].startswith("registry (strict) refuses it")


def test_text_and_markdown_name_the_type_in_a_sentence(history: Path) -> None:
    text = tdm("diff", "v1.1", "v1.2", "--repo", history).stdout
    assert "Schemas (compatibility: backward, rules: strict)" in text
    assert (
        "compatible nickname: optional property added to a closed object "
        "[OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL]"
    ) in text
    md = tdm("diff", "v1.0", "v1.1", "--format", "markdown", "--repo", history).stdout
    assert "| `people` | name: maxLength 40 -&gt; 20 | `MAX_LENGTH_DECREASED` | ❌ breaking |" in md
    assert "(compatibility mode: backward, rules: strict)" in md


def test_forward_and_full_compare_with_the_sides_swapped(history: Path) -> None:
    def gate(*args: str) -> int:
        return tdm("diff", *args, "--fail-on", "breaking", "--repo", history).exit_code

    # maxLength 40 -> 20: old readers can read new data, new readers not old data
    assert gate("v1.0", "v1.1") == 1
    assert gate("v1.0", "v1.1", "--compat", "forward") == 0
    assert gate("v1.0", "v1.1", "--compat", "full") == 1
    # an optional property added to a closed object: the reverse
    assert gate("v1.1", "v1.2") == 0
    assert gate("v1.1", "v1.2", "--compat", "forward") == 1
    forward = diff_json(history, "v1.1", "v1.2", "--compat", "forward")
    assert changes(forward) == [
        ("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", "#/properties/nickname", None, True)
    ]
    assert forward["schemas"][0]["changes"][0]["direction"] == "forward"
    full = diff_json(history, "v1.1", "v1.2", "--compat", "full")
    assert [(c[0], c[3]) for c in changes(full)] == [
        ("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", False),
        ("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", True),
    ]


def test_lenient_accepts_what_strict_refuses(tmp_path: Path) -> None:
    root = tmp_path / "r"
    init_repo(root)
    open_people = people_with()
    del open_people["additionalProperties"]
    save(root, open_people)
    commit_all(root, "open")
    save(
        root,
        {**open_people, "properties": {**open_people["properties"], "age": {"type": "integer"}}},
    )
    strict = tdm("diff", "--fail-on", "breaking", "--repo", root)
    assert strict.exit_code == 1
    assert "[PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL]" in strict.stdout
    lenient = tdm("diff", "--rules", "lenient", "--fail-on", "breaking", "--repo", root)
    assert lenient.exit_code == 0, lenient.output
    assert "rules: lenient" in lenient.stdout
    bad = tdm("diff", "--rules", "loose", "--repo", root)
    assert bad.exit_code == 2 and "loose" in bad.output


def test_backward_transitive_checks_every_tagged_version(history: Path) -> None:
    # v1.2 -> working tree: a description only; compatible with v1.2 itself
    schema = people_with(
        name={"type": "string", "maxLength": 20, "description": "display name"},
        nickname={"type": "string"},
    )
    save(history, schema)
    plain = tdm("diff", "HEAD", "--fail-on", "breaking", "--repo", history)
    assert plain.exit_code == 0, plain.output
    result = tdm(
        "diff",
        "HEAD",
        "--compat",
        "backward-transitive",
        "--fail-on",
        "breaking",
        "--repo",
        history,
    )
    assert result.exit_code == 1
    assert "against v1.0: name: maxLength 40 -> 20" in result.stdout
    report = diff_json(history, "HEAD", "--compat", "backward-transitive")
    assert report["compat"] == "backward-transitive"
    found = changes(report)
    assert ("DESCRIPTION_CHANGED", "#/properties/name", None, False) in found
    # only v1.0 breaks: v1.1 and v1.2 have maxLength 20 already; v1.2 is the base
    assert [c for c in found if c[3]] == [
        ("MAX_LENGTH_DECREASED", "#/properties/name/maxLength", "v1.0", True)
    ]


def test_forward_and_full_transitive(history: Path) -> None:
    # the head drops nickname again: old readers of v1.2 are fine (closed object:
    # forward sees a property added to it), v1.0 and v1.1 never had it
    save(history, people_with(name={"type": "string", "maxLength": 20}))
    fwd = diff_json(history, "HEAD", "--compat", "forward-transitive")
    assert [c for c in changes(fwd) if c[3]] == []
    full = diff_json(history, "HEAD", "--compat", "full-transitive")
    breaking = [c for c in changes(full) if c[3]]
    assert (
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "#/properties/nickname",
        None,
        True,
    ) in breaking
    assert ("MAX_LENGTH_DECREASED", "#/properties/name/maxLength", "v1.0", True) in breaking
    # a schema unchanged since the base still shows when it breaks an older version
    git(history, "checkout", "-q", "--", ".")
    unchanged = diff_json(history, "v1.2", "HEAD", "--compat", "backward-transitive")
    assert [s["name"] for s in unchanged["schemas"]] == ["people"]
    assert [c[2] for c in changes(unchanged)] == ["v1.0"]


def test_transitive_mode_without_tags_is_the_plain_mode(tmp_path: Path) -> None:
    root = tmp_path / "r"
    init_repo(root)
    save(root, people_with())
    commit_all(root, "one")
    save(root, people_with(name={"type": "string", "maxLength": 10}))
    plain = diff_json(root, "HEAD")
    transitive = diff_json(root, "HEAD", "--compat", "backward-transitive")
    assert changes(plain) == changes(transitive)


def test_a_draft07_schema_without_dollar_schema_is_read_as_draft07(tmp_path: Path) -> None:
    root = tmp_path / "r"
    init_repo(root)
    tuple_v1 = {
        "type": "object",
        "properties": {
            "pair": {"type": "array", "items": [{"type": "string"}], "additionalItems": False}
        },
    }
    write_file(root / "schemas" / "pairs.yaml", tuple_v1)
    commit_all(root, "v1")
    tuple_v2 = copy.deepcopy(tuple_v1)
    tuple_v2["properties"]["pair"]["items"].append({"type": "number"})
    write_file(root / "schemas" / "pairs.yaml", tuple_v2)
    result = tdm("diff", "--fail-on", "breaking", "--format", "json", "--repo", root)
    assert result.exit_code == 0, result.output
    assert changes(json.loads(result.stdout)) == [
        ("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", "#/properties/pair/items/1", None, False)
    ]


def test_diff_reads_patterns_and_dialects_as_validate_does(tmp_path: Path) -> None:
    root = tmp_path / "r"
    init_repo(root)
    save(root, people_with())
    commit_all(root, "base")
    # \p{L} is a valid ECMA-262 pattern (the validator's reading), not a Python one
    save(root, people_with(name={"type": "string", "pattern": "^\\p{L}+$"}))
    result = tdm("diff", "--repo", root)
    assert result.exit_code == 0, result.output
    assert tdm("validate", "--repo", root).exit_code == 0
    save(root, {**people_with(), "$schema": "https://example.com/my-dialect"})
    unknown = tdm("diff", "--repo", root)
    assert unknown.exit_code == 2
    assert "schemas/people.yaml" in unknown.output and "dialect" in unknown.output
