"""The first hour with tdm (issue 11, items 7-12): environments from HEAD, options,
completion, skeletons, messages in tdm's words, and the smaller surprises."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
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


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
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


# ------------------------------------------------------------------ 11. messages in tdm's words


def _sample(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    assert tdm("init", root, "--sample").exit_code == 0
    return root


def _set_line(path: Path, number: int, raw: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = raw
    path.write_bytes(b"\n".join(lines))


LIBRARY_WORDS = ("surrogates", "char 0", "zero-length", "line 1 column")


def test_jsonl_errors_name_file_line_column_and_byte(tmp_path: Path) -> None:
    root = _sample(tmp_path)
    products = root / "datasets" / "smoke" / "products.jsonl"
    line5 = products.read_bytes().split(b"\n")[4]
    _set_line(products, 5, line5.replace(b"SKU", b"S\xffKU", 1))
    _set_line(products, 7, b"{oops")
    _set_line(products, 9, b"")
    out = tdm("validate", "--repo", root).output
    assert "datasets/smoke/products.jsonl:5: not valid JSON: byte " in out
    assert "(0xff) is not UTF-8" in out
    assert "datasets/smoke/products.jsonl:7: not valid JSON: column 2: " in out
    assert "datasets/smoke/products.jsonl:9: not valid JSON: the line is blank" in out
    shown = tdm("show", "smoke/products", "--repo", root)
    assert shown.exit_code == 2
    assert "datasets/smoke/products.jsonl" in shown.output and "line 5" in shown.output
    assert "is not UTF-8" in shown.output
    for words in LIBRARY_WORDS:
        assert words not in out + shown.output


def test_mask_jsonl_error_gives_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _sample(tmp_path)
    monkeypatch.setenv("TDM_MASKING_KEY", "0123456789abcdef0123456789abcdef")
    rows = (root / "datasets" / "smoke" / "customers.jsonl").read_text().splitlines()[:3]
    records = tmp_path / "prod.jsonl"
    records.write_text("\n".join([*rows, "", '{"id": 9,}']) + "\n")
    result = tdm(
        "mask", records, "-r", "customers", "-o", root / "datasets/prod/c.jsonl", "--repo", root
    )
    assert result.exit_code == 2
    assert "prod.jsonl:5: not valid JSON (column " in result.output
    for words in LIBRARY_WORDS:
        assert words not in result.output
    assert not (root / "datasets" / "prod").exists()


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _customer_cells(root: Path, n: int) -> tuple[list[str], list[list[str]]]:
    import json

    lines = (root / "datasets" / "smoke" / "customers.jsonl").read_text().splitlines()[:n]
    rows = [json.loads(line) for line in lines]
    header = [k for k in rows[0] if k != "referrer_id"]

    def cell(value: object) -> str:
        return (
            "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )

    return header, [[cell(r[c]) for c in header] for r in rows]


def test_mask_csv_names_the_missing_and_the_extra_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _sample(tmp_path)
    monkeypatch.setenv("TDM_MASKING_KEY", "0123456789abcdef0123456789abcdef")
    header, rows = _customer_cells(root, 3)
    short = _csv(tmp_path / "short.csv", header, [*rows[:2], rows[2][:5]])
    result = tdm(
        "mask", short, "-r", "customers", "-o", root / "datasets/prod/c.jsonl", "--repo", root
    )
    assert result.exit_code == 1, result.output
    assert f"short.csv:4: column '{header[5]}' is required but has no value" in result.output
    assert "fails Required" not in result.output

    extra = _csv(tmp_path / "extra.csv", [*header, "nickname"], [[*r, "x"] for r in rows])
    result = tdm(
        "mask", extra, "-r", "customers", "-o", root / "datasets/prod/c.jsonl", "--repo", root
    )
    assert result.exit_code == 1, result.output
    assert "extra.csv:2: column(s) 'nickname' not in the schema" in result.output
    assert "AdditionalProperties" not in result.output
    assert not (root / "datasets" / "prod").exists()


def test_a_bad_locale_in_tdm_yaml_is_blamed_on_tdm_yaml(tmp_path: Path) -> None:
    root = _sample(tmp_path)
    config = root / "tdm.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("locale: en_US", "locale: xx_YY"), encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("locale:"))
    result = tdm("validate", "--repo", root)
    assert result.exit_code == 2
    assert result.output.count("xx_YY") == 1, result.output
    assert f"tdm.yaml:{line}: locale 'xx_YY'" in result.output
    assert "templates/" not in result.output
    generated = tdm("generate", "smoke", "--repo", root)
    assert generated.exit_code == 2 and f"tdm.yaml:{line}:" in generated.output


# ------------------------------------------------------------------ 12. smaller ones


def test_show_warns_about_an_unknown_where_field(tmp_path: Path) -> None:
    root = _sample(tmp_path)
    result = tdm("show", "smoke/products", "--where", "nofield=1", "--repo", root)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "warning: --where nofield: no row of smoke/products has a field 'nofield'" in (
        result.stderr
    )
    known = tdm("show", "smoke/products", "--where", "category=books", "-n", "1", "--repo", root)
    assert known.exit_code == 0 and known.stdout.count("\n") == 1
    assert "warning" not in known.stderr
    nested = tdm("show", "smoke/products", "--where", "dimensions.width_cm=-1", "--repo", root)
    assert nested.exit_code == 0 and "warning" not in nested.stderr


def test_incremental_validation_counts_byte_identical_datasets_as_unchanged(
    tmp_path: Path,
) -> None:
    from tdm import gitio
    from tdm import validate as validate_mod
    from tdm.project import Project
    from tdm.vcache import ValidationCache

    root = _sample(tmp_path)
    project = Project.find(root)
    cache = ValidationCache(gitio.Git(root))
    first = validate_mod.validate(project, jobs=1, cache=cache)
    assert first.ok and not any(d.cached for d in first.datasets)
    assert validate_mod.record_cache(first, project, cache) == 6

    # the index now holds another version of customers, the working file the validated bytes
    customers = root / "datasets" / "smoke" / "customers.jsonl"
    original = customers.read_bytes()
    customers.write_bytes(original + b"\n")
    git(root, "add", "datasets/smoke/customers.jsonl")
    customers.write_bytes(original)
    assert git(root, "status", "--porcelain").stdout.startswith("MM ")

    again = validate_mod.validate(project, jobs=1, cache=cache)
    assert again.ok
    assert sorted(d.path for d in again.datasets if not d.cached) == []

    customers.write_bytes(original.replace(b'"loyalty_points":', b'"loyalty_points": ', 1))
    changed = validate_mod.validate(project, jobs=1, cache=cache)
    assert "datasets/smoke/customers.jsonl" in {d.path for d in changed.datasets if not d.cached}


def test_validate_and_status_accept_templates(tmp_path: Path) -> None:
    root = _sample(tmp_path)
    schema = root / "schemas" / "orders.yaml"
    (root / "templates" / "tiny.yaml").write_text(
        "datasets:\n  products: {schema: products, count: 3}\n", encoding="utf-8"
    )
    assert tdm("generate", "tiny", "--repo", root).exit_code == 0
    assert schema.exists()
    valid = tdm("validate", "tiny", "--repo", root)
    assert valid.exit_code == 0, valid.output
    assert valid.output.startswith("ok: 1 dataset(s), 3 rows valid")
    both = tdm("validate", "tiny", "smoke", "--repo", root)
    assert both.output.startswith("ok: 7 dataset(s)")
    status = tdm("status", "tiny", "--json", "--repo", root)
    assert status.exit_code == 0
    import json

    assert [d["dataset"] for d in json.loads(status.stdout)["datasets"]] == ["tiny/products"]
    unknown = tdm("validate", "nope", "--repo", root)
    assert unknown.exit_code == 2 and "no template or dataset folder 'nope'" in unknown.output
    assert tdm("status", "nope", "--repo", root).exit_code == 2


def test_readme_documents_the_json_of_versions_and_log(tmp_path: Path) -> None:
    import json

    from helpers import REPO_ROOT

    root = _sample(tmp_path)
    assert tdm("tag", "v1.0", "-m", "baseline", "--repo", root).exit_code == 0
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("versions", "log"):
        line = next(ln for ln in readme.splitlines() if ln.startswith(f"- `tdm {command} --json`"))
        out = json.loads(tdm(command, "--json", "--repo", root).stdout)
        assert isinstance(out, list) and out
        keys = set(out[0]) | (set(out[0]["datasets"][0]) if command == "versions" else set())
        for key in keys:
            assert f'"{key}"' in line, (command, key)


def test_scan_redacts_short_values_fully(tmp_path: Path) -> None:
    root = _sample(tmp_path)
    leak = root / "datasets" / "smoke" / "leak.jsonl"
    leak.write_text('{"id": 1, "ip": "8.8.8.8"}\n', encoding="utf-8")
    result = tdm("scan", leak, "--repo", root)
    assert result.exit_code == 1
    assert "*******" in result.stdout
    assert "8.8.8.8" not in result.output and "8****.8" not in result.output


# ------------------------------------------------------------------ 9. shell completion


def test_completion_callbacks_read_names_and_never_fail(tmp_path: Path) -> None:
    from tdm import completion

    root = _sample(tmp_path)
    assert tdm("tag", "v1.0", "-m", "baseline", "--repo", root).exit_code == 0
    assert tdm("env", "create", "dev", "--repo", root).exit_code == 0
    assert completion.templates(root, "") == ["full", "smoke"]
    assert completion.templates(root, "sm") == ["smoke"]
    assert "smoke/customers" in completion.datasets(root, "smoke/c")
    assert "full/customers" in completion.datasets(root, "")  # declared, not generated yet
    assert completion.datasets(root, "smoke/customers@v") == ["smoke/customers@v1.0"]
    assert completion.environments(root, "") == ["dev", "prod-like", "staging"]
    assert completion.versions(root, "") == ["v1.0"]
    assert completion.revisions(root, "") == ["env/dev", "main", "v1.0"]
    assert completion.dataset_folders(root / "schemas", "f") == ["full"]  # from a subfolder
    # outside a repository, or with a broken tdm.yaml: no candidates, no exception
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert completion.templates(outside, "") == []
    (root / "tdm.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    assert completion.environments(root, "") == []
    assert completion.versions(root, "") == []


def _complete(words: str, cwd: Path) -> list[str]:
    import subprocess
    import sys

    env = {
        **os.environ,
        "_TDM_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tdm"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout.split()


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_shell_completion_in_a_real_process(tmp_path: Path) -> None:
    root = _sample(tmp_path)
    assert _complete("tdm generate ", root) == ["full", "smoke"]
    assert _complete("tdm env switch st", root) == ["staging"]
    assert _complete(f"tdm show --repo {root} smoke/pro", tmp_path) == ["smoke/products"]
    assert _complete("tdm generate ", tmp_path) == []  # not a repository: quietly nothing


def test_show_completion_prints_a_script() -> None:
    # typer detects the shell from the process tree: run tdm from a real bash, as a user does
    # (a second statement keeps bash from exec-ing tdm in its place)
    result = subprocess.run(
        ["bash", "-c", f"{shlex.quote(sys.executable)} -m tdm --show-completion; exit $?"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "_tdm_completion()" in result.stdout
    assert "complete " in result.stdout and "_TDM_COMPLETE=complete_bash" in result.stdout
    assert "--install-completion" in tdm("--help").output
