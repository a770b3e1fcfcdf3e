"""Measure tdm on a corpus of schemas: generate through the real engine, check every row
with an independent validator (python ``jsonschema`` for the schema's own draft, with
its format checker), and count generated / refused (exit 2) / internal errors (exit 3).

Used by the JSON Schema test suite corpus test and the real-world schema test.
"""

from __future__ import annotations

import copy
import json
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.validators
from helpers import format_checker, init_repo, write_file

from tdm import engine
from tdm.errors import UserError
from tdm.project import Project

JSTS = Path(__file__).resolve().parent / "corpora" / "jsts"
DRAFTS = {
    "draft2020-12": "https://json-schema.org/draft/2020-12/schema",
    "draft7": "http://json-schema.org/draft-07/schema#",
}


@dataclass
class Outcome:
    name: str
    status: str  # generated | refused | invalid | internal
    detail: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def generated_share(self) -> float:
        return self.count("generated") / max(len(self.outcomes), 1)

    def summary(self) -> str:
        return (
            f"{len(self.outcomes)} schemas: {self.count('generated')} generated "
            f"({100 * self.generated_share:.1f}%), {self.count('refused')} refused, "
            f"{self.count('invalid')} with invalid rows, {self.count('internal')} internal errors"
        )

    def listing(self, status: str) -> str:
        return "\n".join(f"{o.name}: {o.detail}" for o in self.outcomes if o.status == status)


def _retarget(node: Any, prefix: str) -> Any:
    """Local references of a schema moved under ``prefix`` (so it can sit inside a record)."""
    if isinstance(node, dict):
        if "$id" in node and prefix:
            return node  # an embedded resource resolves its own '#'
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#"):
                out[k] = prefix + v[1:] if v != "#" else prefix
            else:
                out[k] = _retarget(v, prefix)
        return out
    if isinstance(node, list):
        return [_retarget(v, prefix) for v in node]
    return node


def wrap(schema: Any, dialect: str) -> dict[str, Any]:
    """A keyed record schema whose property ``value`` is ``schema``."""
    value = copy.deepcopy(schema)
    if isinstance(value, dict):
        value.pop("$schema", None)
        value = _retarget(value, "#/properties/value")
    return {
        "$schema": dialect,
        "type": "object",
        "x-tdm": {"primary_key": "id"},
        "required": ["id", "value"],
        "properties": {
            "id": {"type": "integer", "x-tdm": {"generator": "sequence"}},
            "value": value,
        },
    }


def jsts_cases(draft: str) -> list[tuple[str, dict[str, Any]]]:
    """Every satisfiable group of the vendored suite for ``draft``, wrapped as a record."""
    cases = []
    for path in sorted((JSTS / draft).glob("*.json")):
        for i, group in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            if not any(t["valid"] for t in group["tests"]):
                continue
            text = json.dumps(group["schema"])
            if "localhost:1234" in text:
                continue  # needs a remote server
            cases.append((f"{draft}/{path.stem}/{i}", wrap(group["schema"], DRAFTS[draft])))
    return cases


#: ECMA-262 classes in Python's re syntax (python jsonschema searches with re)
_ECMA = {r"\p{Letter}": r"[^\W\d_]", r"\p{L}": r"[^\W\d_]", r"\p{digit}": r"\d", r"\p{Nd}": r"\d"}


def _python_pattern(pattern: str) -> str:
    for ecma, python in _ECMA.items():
        pattern = pattern.replace(ecma, python)
    return pattern


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if isinstance(instance, str) and not re.search(_python_pattern(pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Any:
    if isinstance(instance, dict):
        for pattern, sub in patterns.items():
            for k, v in instance.items():
                if re.search(_python_pattern(pattern), k):
                    yield from validator.descend(v, sub, path=k, schema_path=pattern)


def checker_for(schema: dict[str, Any]) -> Any:
    """python jsonschema for the schema's draft, with its format checker; ECMA-262 \\p
    classes translated for Python's re."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    if "\\p{" in json.dumps(schema):
        cls = jsonschema.validators.extend(
            cls, {"pattern": _pattern, "patternProperties": _pattern_properties}
        )
    return cls(schema, format_checker=format_checker())


def measure(
    root: Path,
    cases: list[tuple[str, dict[str, Any]]],
    rows: int = 25,
    extra: dict[str, Any] | None = None,
) -> Report:
    """Generate ``rows`` rows of each case (name -> record schema) in one tdm repository.

    ``extra`` holds further schema files (name -> schema) the cases may reference."""
    init_repo(root)
    names = {}
    for n, (name, schema) in enumerate(cases):
        key = f"s{n:04d}"
        names[key] = name
        (root / "schemas" / f"{key}.json").write_text(json.dumps(schema), encoding="utf-8")
        write_file(
            root / "templates" / f"{key}.yaml",
            {"seed": 7, "datasets": {"d": {"schema": key, "count": rows}}},
        )
    for name, schema in (extra or {}).items():
        (root / "schemas" / f"{name}.json").write_text(json.dumps(schema), encoding="utf-8")
    report = Report()
    for key, name in names.items():
        schema = dict(cases[int(key[1:])][1])
        try:
            project = Project.find(root)
            engine.generate(project, [key])
        except UserError as exc:
            report.outcomes.append(Outcome(name, "refused", str(exc)))
            continue
        except Exception:
            report.outcomes.append(Outcome(name, "internal", traceback.format_exc(limit=-3)))
            continue
        data = (root / "datasets" / key / "d.jsonl").read_text(encoding="utf-8")
        got = [json.loads(line) for line in data.splitlines()]
        checker = checker_for(schema)
        bad = [e.message for row in got for e in checker.iter_errors(row)]
        if len(got) != rows or bad:
            detail = bad[0] if bad else f"{len(got)} rows"
            report.outcomes.append(Outcome(name, "invalid", detail))
        else:
            report.outcomes.append(Outcome(name, "generated"))
    return report
