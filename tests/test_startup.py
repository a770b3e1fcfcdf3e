"""Start-up and fixed costs: what a command loads, and what it does not redo.

These check the modules a fresh interpreter loads and the work done (planning, the
200-row self-check), never timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import dataset, git, tdm

from tdm import checkcache, recipes
from tdm.project import Project
from tdm.recipes import TemplatePlanner, plan_templates

#: what `import tdm.cli`, `tdm --version` and `tdm --help` must not load
HEAVY = ("faker", "jsonschema", "jsonschema_rs", "numpy", "pydantic", "pygit2", "rich", "yaml")

# runs the console entry point, then writes the names of the loaded modules to a file
PROBE = """
import atexit, json, sys
out, args = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["tdm", *args]
from tdm.cli import main
main()
"""


def loaded(tmp_path: Path, *args: str | Path, cwd: Path | None = None) -> set[str]:
    """Top-level packages a fresh interpreter has loaded after running ``tdm ARGS``."""
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *[str(a) for a in args]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return {name.split(".")[0] for name in json.loads(out.read_text())}


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = "import sys, tdm.cli; print(' '.join(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    found = {name.split(".")[0] for name in proc.stdout.split()}
    assert "typer" in found  # the probe sees what was imported
    assert not found & set(HEAVY), sorted(found & set(HEAVY))


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["generate", "--help"]])
def test_version_and_help_load_no_heavy_library(tmp_path: Path, args: list[str]) -> None:
    heavy = set(HEAVY)
    if args[0] == "generate":
        heavy.discard("pydantic")  # typer itself loads it to build a command's parameters
    found = loaded(tmp_path, *args)
    assert not found & heavy, sorted(found & heavy)


def test_help_is_plain_and_keeps_each_commands_first_sentence(tmp_path: Path) -> None:
    result = tdm("--help")
    assert result.exit_code == 0
    assert "╭" not in result.output  # click's plain help, no rich panels
    # the whole first sentence, wrapped, not cut at the terminal width with "..."
    listing = " ".join(result.output.split("Commands:")[1].split())
    assert "from templates and record them in tdm.lock." in listing
    assert "Show stale, missing and hand-edited datasets, and changed tdm files (git status)." in (
        listing
    )


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_status_generate_and_validate_of_an_up_to_date_repo_build_no_generators(
    smoke_repo: Path, tmp_path: Path
) -> None:
    # every template generated (validate plans a template none of whose recipes is known)
    (smoke_repo / "templates" / "full.yaml").unlink()
    git(smoke_repo, "add", "-A")
    git(smoke_repo, "commit", "-q", "-m", "generated")
    for args, heavy in (
        (["status"], {"faker", "numpy"}),
        (["generate", "smoke"], {"faker", "numpy"}),
        (["validate"], {"faker", "numpy"}),
    ):
        found = loaded(tmp_path, *args, cwd=smoke_repo)
        assert "tdm" in found
        assert not found & heavy, (args, sorted(found & heavy))
    assert git(smoke_repo, "status", "--porcelain").stdout == ""  # nothing was rewritten


def test_up_to_date_generate_lists_datasets_in_planning_order(smoke_repo: Path) -> None:
    project = Project.find(smoke_repo)
    planned = [p.key for p in plan_templates(project, ["smoke"])]
    assert TemplatePlanner(project, "smoke").order() == [k.split("/")[1] for k in planned]
    result = tdm("generate", "smoke", "--json", "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    outcomes = json.loads(result.output)["datasets"]
    assert [d["dataset"] for d in outcomes] == planned
    assert {d["status"] for d in outcomes} == {"unchanged"}


def test_self_check_is_cached_by_recipe_and_skipped_next_time(
    bare_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(bare_sample, "add", "-A")  # a git repository: the cache lives in .git/tdm
    calls: list[str] = []
    real = recipes.sample_problem

    def counted(plan: recipes.DatasetPlan, others: dict[str, Any] | None = None) -> Any:
        calls.append(plan.key)
        return real(plan, others)

    monkeypatch.setattr(recipes, "sample_problem", counted)
    assert tdm("generate", "smoke", "--repo", bare_sample).exit_code == 0
    assert len(calls) == 6  # every dataset checked once
    state = bare_sample / ".git" / "tdm" / checkcache.FILE
    assert len(orjson.loads(state.read_bytes())["keys"]) == 6
    before = {ds: dataset(bare_sample, "smoke", ds).read_bytes() for ds in ("customers", "orders")}
    calls.clear()
    assert tdm("generate", "smoke", "--force", "--repo", bare_sample).exit_code == 0
    assert calls == []  # same recipes: the check passed before
    after = {ds: dataset(bare_sample, "smoke", ds).read_bytes() for ds in ("customers", "orders")}
    assert after == before  # the cache changes no byte
    # a changed recipe is checked again
    schema = bare_sample / "schemas" / "products.yaml"
    schema.write_text(schema.read_text().replace("maximum: 40}", "maximum: 39}"))
    assert tdm("generate", "smoke", "--repo", bare_sample).exit_code == 0
    assert calls == ["smoke/products"]


def test_a_corrupt_cache_only_means_checking_again(bare_sample: Path) -> None:
    git(bare_sample, "add", "-A")
    state = bare_sample / ".git" / "tdm" / checkcache.FILE
    state.parent.mkdir(parents=True)
    state.write_bytes(b"{not json")
    result = tdm("generate", "smoke", "--repo", bare_sample)
    assert result.exit_code == 0, result.output
    assert len(orjson.loads(state.read_bytes())["keys"]) == 6


def test_validate_plans_a_template_whose_recipe_changed(smoke_repo: Path) -> None:
    # the lock vouches for the generated recipes; a template edited since is planned again
    template = smoke_repo / "templates" / "smoke.yaml"
    text = template.read_text()
    old = "{schema: customers, count: 200}"
    assert old in text
    template.write_text(
        text.replace(old, "{schema: customers, count: 200, overrides: {email: {generator: nope}}}")
    )
    result = tdm("validate", "--repo", smoke_repo)
    assert result.exit_code != 0
    assert "nope" in result.output


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_kept_faker_pools_give_the_same_bytes_without_loading_faker(
    bare_sample: Path, tmp_path: Path
) -> None:
    git(bare_sample, "add", "-A")
    assert "faker" in loaded(tmp_path, "generate", "smoke", cwd=bare_sample)  # a fresh process
    pools = bare_sample / ".git" / "tdm" / "pools"
    assert sorted(pools.glob("*/*.json"))  # kept by the first run
    before = {p.name: p.read_bytes() for p in (bare_sample / "datasets" / "smoke").iterdir()}
    found = loaded(tmp_path, "generate", "smoke", "--force", cwd=bare_sample)
    assert "faker" not in found  # every pool and the locale list came from .git/tdm/pools
    # generation reads no git objects (its state folder is found without libgit2) and the
    # compiled meta-schema check needs no pure-Python jsonschema
    assert not found & {"pygit2", "jsonschema"}, sorted(found & {"pygit2", "jsonschema"})
    assert "numpy" in found  # the probe sees what generation loads
    after = {p.name: p.read_bytes() for p in (bare_sample / "datasets" / "smoke").iterdir()}
    assert after == before
    # an unreadable pool file is rebuilt, to the same bytes
    for path in pools.glob("*/*.json"):
        path.write_bytes(b'{"what": "something else", "values": ["x"]}')
    result = tdm("generate", "smoke", "--force", "--repo", bare_sample)
    assert result.exit_code == 0, result.output
    assert {p.name: p.read_bytes() for p in (bare_sample / "datasets" / "smoke").iterdir()} == (
        before
    )


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [x, {c: 2024-01-31}]\nd: ~\ne: 'yes'\nf: yes\n",
        "list:\n  - one\n  - two: 2\n    three: 3.5\n",
        "",
        "# only a comment\n",
    ],
)
def test_yaml_parsed_by_libyaml_equals_the_pure_python_parse(text: str) -> None:
    import yaml

    from tdm import yamlio

    fast = yamlio.parse_yaml(text, "x.yaml")
    node = yaml.compose(text, Loader=yamlio.JsonSafeLoader)
    data = yaml.load(text, Loader=yamlio.JsonSafeLoader)
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        yamlio._walk(node, (), lines, "x.yaml")
    assert (fast.data, fast.lines) == (data, lines)


# ------------------------------------------------------------------ only the invoked command built


def _names(app: Any) -> set[str]:
    from typer.main import get_command

    return set(get_command(app).commands)  # type: ignore[attr-defined]


def test_a_run_builds_only_the_command_it_names() -> None:
    from tdm import cli

    every = _names(cli.app)
    assert {"generate", "validate", "env", "hooks", "status"} <= every
    assert _names(cli._for_command(cli.app, ["generate", "--force"])) == {"generate"}
    assert _names(cli._for_command(cli.app, ["-C", "x", "--no-wait", "validate"])) == {"validate"}
    assert _names(cli._for_command(cli.app, ["-Cx", "--debug", "status"])) == {"status"}
    assert _names(cli._for_command(cli.app, ["env", "list"])) == {"env"}
    for argv in ([], ["--help"], ["--version"], ["gen"], ["-x", "generate"], ["-C"]):
        assert _names(cli._for_command(cli.app, argv)) == every, argv
    assert _names(cli.app) == every  # the app itself is left whole


def test_shell_completion_sees_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from tdm import cli

    monkeypatch.setenv("_TDM_COMPLETE", "complete_bash")
    assert _names(cli._for_command(cli.app, ["generate"])) == _names(cli.app)


def test_each_commands_help_is_the_same_from_the_one_command_app() -> None:
    from typer.testing import CliRunner

    from tdm import cli

    runner = CliRunner()
    for name in sorted(_names(cli.app)):
        whole = runner.invoke(cli.app, [name, "--help"], prog_name="tdm")
        one = runner.invoke(cli._for_command(cli.app, [name]), [name, "--help"], prog_name="tdm")
        assert whole.exit_code == one.exit_code == 0, name
        assert one.output == whole.output, name


def test_the_entry_point_runs_the_named_command_and_reports_unknown_ones(
    smoke_repo: Path,
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        code = "import sys; from tdm.cli import main; sys.argv = ['tdm', *sys.argv[1:]]; main()"
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    ok = run("-C", str(smoke_repo), "--no-wait", "status", "smoke")
    assert ok.returncode == 0, ok.stderr
    assert "smoke" in ok.stdout
    bad = run("-C", str(smoke_repo), "statu")
    assert bad.returncode == 2
    assert "No such command 'statu'" in bad.stderr and "status" in bad.stderr


def test_kept_pools_hold_one_version(bare_sample: Path, tmp_path: Path) -> None:
    """Pools another tdm or Faker version kept are removed when this version keeps its
    first one: .git/tdm/pools does not grow with every upgrade."""
    pools = bare_sample / ".git" / "tdm" / "pools"
    (pools / "0123456789abcdef").mkdir(parents=True)
    (pools / "0123456789abcdef" / "old.json").write_bytes(b'{"what": "x", "values": []}')
    (pools / "legacy.json").write_bytes(b"{}")  # the flat layout of earlier versions
    loaded(tmp_path, "generate", "smoke", cwd=bare_sample)  # a fresh process: no pool in memory
    kept = sorted(p.relative_to(pools).parts[0] for p in pools.rglob("*.json"))
    assert kept and len(set(kept)) == 1 and kept[0] != "0123456789abcdef"
    assert not (pools / "legacy.json").exists()
    # a second run finds its pools and removes nothing
    before = sorted(pools.rglob("*.json"))
    assert "faker" not in loaded(tmp_path, "generate", "smoke", "--force", cwd=bare_sample)
    assert sorted(pools.rglob("*.json")) == before


# ------------------------------------------------------------------ the fast exit


EXITING = """
import atexit, sys, threading, time
out = sys.argv[1]
def later() -> None:
    time.sleep(0.3)
    open(out + ".thread", "w").write("done")
threading.Thread(target=later).start()  # not a daemon: an exit waits for it
atexit.register(lambda: open(out + ".atexit", "w").write("ran"))
sys.argv = ["tdm", *sys.argv[2:]]
from tdm.cli import main
print("printed before main", flush=False)
main()
"""


@pytest.mark.parametrize(
    ("args", "code"),
    [(["--version"], 0), (["validate", "--repo", "{root}"], 0), (["no-such-command"], 2)],
)
def test_the_entry_point_exits_like_python_without_its_teardown(
    smoke_repo: Path, tmp_path: Path, args: list[str], code: int
) -> None:
    """main() ends the process with os._exit, after what an exit must do: waiting for
    threads that are not daemons, the atexit handlers, flushing the output."""
    out = tmp_path / "marker"
    argv = [a.replace("{root}", str(smoke_repo)) for a in args]
    proc = subprocess.run(
        [sys.executable, "-c", EXITING, str(out), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == code, proc.stderr
    assert proc.stdout.startswith("printed before main")  # buffered output was flushed
    assert (tmp_path / "marker.thread").read_text() == "done"
    assert (tmp_path / "marker.atexit").read_text() == "ran"


def test_findings_exit_1_through_the_entry_point(smoke_repo: Path) -> None:
    path = dataset(smoke_repo, "smoke", "customers")
    path.write_bytes(path.read_bytes() + b'{"id": "not a number"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "tdm", "validate", "--repo", str(smoke_repo)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "customers.jsonl" in proc.stdout + proc.stderr
