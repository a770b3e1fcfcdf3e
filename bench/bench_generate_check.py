"""Benchmark the generate-and-check path: a 10-field record whose every field uses a
keyword the plain planner does not build (``not``, ``contains``, ``patternProperties``
with ``minProperties``, ``if``/``then``, a ``\\p{...}`` pattern, ``prefixItems``...), so
each value is drawn, then checked by the compiled validator (and redrawn if it fails).

Side by side in the same process and the same repeats: the plain 10-field record the
same fields make without those keywords (the plain path).  Both run through
``tdm.engine.generate`` in-process (rendering, hashing and writing the file included;
CLI start-up left out, it is the same for both), after one untimed planning run so
Faker pools are built.  Every row of the checked run is valid by construction; the
bench also validates the output once with ``tdm validate``'s compiled validator.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from common import Config, Result, bench_main, median, progress

RATE_GOAL = 20_000

PLAIN: dict[str, Any] = {
    "id": {"type": "integer"},
    "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
    "score": {"type": "integer", "minimum": 0, "maximum": 100},
    "ratio": {"type": "number", "minimum": 0, "maximum": 1},
    "email": {"type": "string", "format": "email"},
    "tags": {"type": "array", "items": {"type": "string", "enum": ["new", "sale", "eco"]}},
    "meta": {"type": "object", "properties": {"x-a": {"type": "integer"}}},
    "kind": {"type": "string", "enum": ["a", "b", "c"]},
    "label": {"type": "string", "maxLength": 12},
    "size": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 9}},
}
#: the same fields, each with a keyword that sends it down the generate-and-check path
CHECKED: dict[str, Any] = {
    "id": {"type": "integer", "minimum": 1, "not": {"multipleOf": 1000}},
    "code": {**PLAIN["code"], "not": {"pattern": "^AAA"}},
    "score": {**PLAIN["score"], "not": {"const": 13}},
    "ratio": {**PLAIN["ratio"], "not": {"const": 0}},
    "email": {**PLAIN["email"], "not": {"pattern": "^admin"}},
    "tags": {**PLAIN["tags"], "contains": {"const": "new"}, "maxItems": 3},
    "meta": {
        "type": "object",
        "patternProperties": {"^x-": {"type": "integer"}},
        "additionalProperties": False,
        "minProperties": 1,
    },
    "kind": {**PLAIN["kind"], "if": {"const": "a"}, "then": {"minLength": 1}},
    "label": {"type": "string", "pattern": "^\\p{Lu}\\p{Ll}{2,10}$"},
    "size": {
        "type": "array",
        "prefixItems": [{"type": "integer", "minimum": 1, "maximum": 9}],
        "items": False,
        "minItems": 1,
    },
}


def _record(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(props), "properties": props}


def make_repo(root: Path, rows: int) -> Path:
    from tdm import scaffold

    scaffold.init(root)
    for name, props in (("plain", PLAIN), ("checked", CHECKED)):
        (root / "schemas" / f"{name}.json").write_text(json.dumps(_record(props)))
        (root / "templates" / f"{name}.yaml").write_text(
            f"seed: 1\ndatasets:\n  {name}: {{schema: {name}, count: {rows}}}\n"
        )
    return root


def run(cfg: Config) -> list[Result]:
    from tdm import engine
    from tdm.project import Project
    from tdm.recipes import plan_templates, row_validator

    rows = cfg.rows
    root = make_repo(cfg.workdir / "generate-check", rows)
    project = Project.find(root)
    plan_templates(project, ["plain", "checked"])  # Faker pools, sample checks: untimed
    secs: dict[str, list[float]] = {"plain": [], "checked": []}
    repeats = max(cfg.repeats, 3)
    for i in range(repeats):
        for name in ("plain", "checked"):
            progress(f"generate-check repeat {i + 1}/{repeats}: {name}, {rows:,} rows")
            start = time.perf_counter()
            engine.generate(project, [name], force=True)
            secs[name].append(time.perf_counter() - start)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    validator = row_validator(project.schema("checked"))
    data = (root / "datasets" / "checked" / "checked.jsonl").read_text().splitlines()
    invalid = sum(not validator.is_valid(json.loads(line)) for line in data)
    rate = rows / median(secs["checked"])
    plain_rate = rows / median(secs["plain"])
    return [
        Result(
            name="generate-and-check rows/s (10 checked fields)",
            command="tdm.engine.generate(project, ['checked'], force=True), in-process "
            "(bench/bench_generate_check.py)",
            rows=rows,
            seconds=median(secs["checked"]),
            rate=rate,
            baseline_rate=plain_rate,
            ratio=rate / plain_rate,
            target=f">= {RATE_GOAL:,} rows/s, 0 invalid rows",
            passed=rate >= RATE_GOAL and invalid == 0 and len(data) == rows,
            samples=secs["checked"],
            notes=[
                "baseline = the same 10 fields without the extra keywords (plain path), "
                "same process, interleaved repeats",
                f"{invalid} invalid of {len(data):,} rows (compiled validator, formats on)",
                "plain seconds per repeat: " + ", ".join(f"{s:.2f}" for s in secs["plain"]),
                f"load average at the end: {load} (other work on the machine slows both sides)",
            ],
        )
    ]


def main(argv: list[str] | None = None) -> int:
    return bench_main("tdm generate, generate-and-check path", run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
