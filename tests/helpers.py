"""Helpers for building tdm repositories in temp dirs and checking what tdm leaves behind.

Everything is real: repositories are made by ``tdm init`` (pygit2), datasets by the
engine or the CLI, and checks use an independent JSON Schema validator and the git CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml
from typer.testing import CliRunner, Result

from tdm import engine, scaffold
from tdm.cli import app
from tdm.project import Project

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "sample_repo"
SMOKE_DATASETS = ("customers", "addresses", "products", "orders", "order_items", "payments")

# ------------------------------------------------------------------ running tdm


def tdm(*args: str | Path) -> Result:
    """Run the tdm CLI in-process; never raises, the result carries the exit code."""
    runner = CliRunner()
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=True)


def tdm_subprocess(
    *args: str | Path, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point (``python -m tdm``) in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "tdm", *[str(a) for a in args]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The git command line, in ``root``."""
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=check
    )


def init_repo(root: Path, *, sample: bool = False) -> Path:
    scaffold.init(root, sample=sample)
    return root


def strip_generated(root: Path) -> None:
    """Remove datasets/ and tdm.lock (the sample ships generated smoke data)."""
    shutil.rmtree(root / "datasets", ignore_errors=True)
    (root / "datasets").mkdir()
    (root / "tdm.lock").unlink(missing_ok=True)


def generate_in_process(root: Path, templates: list[str] | None = None, **kwargs: Any) -> Any:
    return engine.generate(Project.find(root), templates, **kwargs)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_file(path: Path, data: Any) -> Path:
    """Write YAML (``data`` a mapping) or literal text (``data`` a str)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else dump(data), encoding="utf-8")
    return path


def make_project(
    root: Path,
    schemas: Mapping[str, Any],
    templates: Mapping[str, Any],
    masking: Mapping[str, Any] | None = None,
) -> Path:
    """``tdm init root`` plus the given schema, template and masking files."""
    init_repo(root)
    for name, data in schemas.items():
        write_file(root / "schemas" / f"{name}.yaml", data)
    for name, data in templates.items():
        write_file(root / "templates" / f"{name}.yaml", data)
    for name, data in (masking or {}).items():
        write_file(root / "masking" / f"{name}.yaml", data)
    return root


def one_dataset_project(
    root: Path, schema: Mapping[str, Any], count: int, *, seed: int = 7, **spec: Any
) -> Path:
    """A project with one schema ``s`` and one template ``t`` with one dataset ``s``."""
    return make_project(
        root,
        {"s": schema},
        {"t": {"seed": seed, "datasets": {"s": {"schema": "s", "count": count, **spec}}}},
    )


# ------------------------------------------------------------------ reading results


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_lock(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "tdm.lock").read_text(encoding="utf-8"))
    return data


def dataset(root: Path, template: str, name: str) -> Path:
    return root / "datasets" / template / f"{name}.jsonl"


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the working tree (not .git), by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def tmp_leftovers(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob(".*.tmp")
        if ".git" not in p.relative_to(root).parts
    )


def load_schema(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


# ------------------------------------------------------------------ independent validation

_TIME = re.compile(
    r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)"
)
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")


def format_checker() -> jsonschema.FormatChecker:
    """Draft 2020-12 formats, plus strict RFC 3339 date-time/time, hostname and uri checks
    (jsonschema only checks those when optional packages are installed)."""
    checker = jsonschema.FormatChecker(formats=())
    checker.checkers = dict(jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers)

    @checker.checks("time")
    def _time(value: object) -> bool:
        return not isinstance(value, str) or bool(_TIME.fullmatch(value))

    @checker.checks("date-time")
    def _datetime(value: object) -> bool:
        if not isinstance(value, str):
            return True
        day, sep, time = value.partition("T")
        if not sep or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            return False
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            return False
        return bool(_TIME.fullmatch(time))

    @checker.checks("hostname")
    def _hostname(value: object) -> bool:
        return not isinstance(value, str) or bool(_HOSTNAME.fullmatch(value))

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme)) and not re.search(
            r"\s", value
        )

    return checker


def validator_for(schema: Mapping[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema, format_checker=format_checker())


def invalid_rows(schema: Mapping[str, Any], rows: Iterable[Any], limit: int = 5) -> list[str]:
    """Up to ``limit`` descriptions of rows that do not validate (empty: all valid)."""
    validator = validator_for(schema)
    out: list[str] = []
    for line, row in enumerate(rows, start=1):
        for error in validator.iter_errors(row):
            out.append(f"line {line} at {error.json_path}: {error.message}")
            if len(out) >= limit:
                return out
    return out


def status_line(output: str, status: str, path: str) -> bool:
    """Whether ``output`` has a line ``<status> <path>`` (any padding)."""
    return bool(re.search(rf"^\s*{re.escape(status)}\s+{re.escape(path)}\b", output, re.M))


def column(rows: Sequence[Mapping[str, Any]], name: str) -> list[Any]:
    return [row[name] for row in rows if name in row]


# ------------------------------------------------------------------ a small keyed dataset

#: a schema keyed by `id`, for diff, merge and environment tests on hand-written rows
PEOPLE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "email", "name"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "email": {"type": "string", "format": "email", "maxLength": 80},
        "name": {"type": "string", "maxLength": 40},
        "tier": {"type": "string", "enum": ["bronze", "silver"]},
    },
}
PEOPLE_FILE = "datasets/t/people.jsonl"


def person(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": i, "email": f"p{i}@example.com", "name": f"P {i}", **extra}
