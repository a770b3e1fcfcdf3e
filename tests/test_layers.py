"""The package's layers stay one-way, checked by reading every module's imports (ast):

- only tdm/gitio.py imports pygit2 (all git access goes through one door);
- the core never imports the command line (tdm.cli);
- generation (planner, recipes, generators, render, rng, engine, catalogue) never imports
  git or the repository reader (gitio, pygit2, snapshot);
- no module uses another module's ``_private`` names.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tdm"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))
CLI_SIDE = {"cli", "__main__"}  # the command line itself, and `python -m tdm`
GENERATION = {"planner", "recipes", "generators", "render", "rng", "engine", "catalogue"}
GIT_SIDE = {"tdm.gitio", "pygit2", "tdm.snapshot"}


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"), f"{module}.py")


def imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) of every import in ``module``, at any depth (a function's
    lazy import counts too); ``from tdm import x`` counts as importing ``tdm.x``."""
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            yield node.module, node.lineno
            if node.module == "tdm":
                for alias in node.names:
                    yield f"tdm.{alias.name}", node.lineno


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(module: str) -> Iterator[tuple[str, str, int]]:
    """(other module, private name, line) for ``from tdm.x import _y`` and ``x._y`` where
    ``x`` is another tdm module imported by name."""
    tree = _tree(module)
    aliases: dict[str, str] = {}  # local name -> tdm module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tdm"):
            for alias in node.names:
                if node.module == "tdm" and alias.name in MODULES:
                    aliases[alias.asname or alias.name] = f"tdm.{alias.name}"
                elif node.module != f"tdm.{module}" and _private(alias.name):
                    yield node.module, alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tdm.") and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and aliases[node.value.id] != f"tdm.{module}"
        ):
            yield aliases[node.value.id], node.attr, node.lineno


@pytest.mark.parametrize("module", MODULES)
def test_only_gitio_imports_pygit2(module: str) -> None:
    if module == "gitio":
        return
    found = [line for name, line in imports(module) if name.split(".")[0] == "pygit2"]
    assert not found, f"tdm/{module}.py imports pygit2 (lines {found}); go through tdm.gitio"


@pytest.mark.parametrize("module", sorted(set(MODULES) - CLI_SIDE))
def test_the_core_never_imports_the_cli(module: str) -> None:
    found = [line for name, line in imports(module) if name == "tdm.cli"]
    assert not found, f"tdm/{module}.py imports tdm.cli (lines {found})"


@pytest.mark.parametrize("module", sorted(GENERATION))
def test_generation_never_imports_git(module: str) -> None:
    found = [(name, line) for name, line in imports(module) if name in GIT_SIDE]
    assert not found, f"tdm/{module}.py imports {found}; generation must not touch git"


@pytest.mark.parametrize("module", MODULES)
def test_no_module_uses_another_modules_private_names(module: str) -> None:
    found = [f"{other}.{name} (line {line})" for other, name, line in private_uses(module)]
    assert not found, f"tdm/{module}.py uses private names of other modules: {found}"


def test_the_checks_see_what_they_look_for() -> None:
    """The readers find a real import of each kind (a check that finds nothing because it
    parses nothing would pass for ever)."""
    assert any(n == "pygit2" for n, _ in imports("gitio"))
    assert any(n == "tdm.cli" for n, _ in imports("__main__"))
    assert any(n == "tdm.gitio" for n, _ in imports("snapshot"))
    assert set(GENERATION) <= set(MODULES)


def test_a_private_import_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "tdm"
    fake.mkdir()
    (fake / "a.py").write_text(
        "from tdm.b import _hidden, shown\nfrom tdm import b\nb._other()\nb.__doc__\n"
    )
    (fake / "b.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    monkeypatch.setattr(sys.modules[__name__], "MODULES", ["a", "b"])
    assert sorted(private_uses("a")) == [("tdm.b", "_hidden", 1), ("tdm.b", "_other", 3)]


def _type_checking_names(tree: ast.Module) -> set[str]:
    """Names a module imports only under ``if TYPE_CHECKING:``."""
    names: set[str] = set()
    for node in tree.body:
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom | ast.Import):
                    names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
    return names


def _runtime_uses(fn: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    """Whether ``fn``'s body uses ``name`` at run time (annotations excepted) without
    importing it itself."""
    skip: set[int] = set()  # annotations are never evaluated (from __future__ import annotations)
    for n in ast.walk(fn):
        note: ast.expr | None = None
        if isinstance(n, ast.AnnAssign | ast.arg):
            note = n.annotation
        elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
            note = n.returns
        if note is not None:
            skip.update(id(x) for x in ast.walk(note))
    local_import = any(
        (
            isinstance(n, ast.ImportFrom | ast.Import)
            and any((a.asname or a.name).split(".")[0] == name for a in n.names)
        )
        or (isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store))
        for n in ast.walk(fn)
    )
    used = any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
        for stmt in fn.body
        for n in ast.walk(stmt)
        if id(n) not in skip
    )
    return used and not local_import


@pytest.mark.parametrize("module", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.stem)
def test_names_imported_for_type_checking_only_are_not_used_at_run_time(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    lazy = _type_checking_names(tree)
    bad = [
        f"{fn.name} uses {name}"
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for name in lazy
        if _runtime_uses(fn, name)
    ]
    assert bad == [], f"{module.name}: import these inside the function: {bad}"
