"""The fast row renderer writes exactly ``orjson.dumps(row)`` for every generated row.

The renderer never builds the rows it writes (it lays out JSON text column by column and
asks an optional or nullable property's generator only for the rows that have a value),
so these tests build the rows the slow way, from the same generators, and compare bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from tdm import generators as g
from tdm import render, rng
from tdm.project import Project
from tdm.recipes import DatasetPlan, plan_templates

# every kind of column the renderer treats differently: required and optional, nullable
# numbers and strings, strings that need escaping, names that need escaping, nested values
ODD_SCHEMA = """\
type: object
x-tdm: {primary_key: id}
required: [id, "per%cent", quoted, nested, maybe_text]
properties:
  id: {type: integer, minimum: 1, x-tdm: {generator: sequence}}
  "per%cent": {type: number, minimum: 0, maximum: 1}
  quoted: {type: string, enum: ['say "hi"', "back\\\\slash", "tab\\tin", "ünïcödé"]}
  nested:
    type: object
    required: [a]
    properties:
      a: {type: [integer, "null"], minimum: 0, maximum: 9, x-tdm: {null_probability: 0.5}}
      b: {type: array, items: {type: string, enum: [x, y]}, maxItems: 3}
  maybe_text: {type: [string, "null"], enum: [alpha, beta, null], x-tdm: {null_probability: 0.4}}
  opt_int: {type: [integer, "null"], minimum: 0, maximum: 5, x-tdm: {null_probability: 0.3, presence: 0.6}}
  opt_str: {type: string, enum: [one, two], x-tdm: {presence: 0.2}}
  opt_any: {type: string, enum: ['"quoted"', plain], x-tdm: {presence: 0.7}}
  opt_never: {type: string, enum: [gone], x-tdm: {presence: 0.0}}
  opt_always: {type: integer, minimum: 1, maximum: 3, x-tdm: {presence: 1.0}}
"""


def _slow(plan: DatasetPlan, start: int, stop: int) -> bytes:
    rows = plan.root.column(rng.rows(start, stop))
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def _plans(root: Path, template: str) -> list[DatasetPlan]:
    return plan_templates(Project.find(root), [template])


def test_every_sample_dataset_renders_as_its_rows_dumped(bare_sample: Path) -> None:
    plans = _plans(bare_sample, "full")
    assert {p.name for p in plans} >= {"customers", "orders", "order_items", "payments"}
    for plan in plans:
        stop = min(plan.count, 3_000)
        fast = plan.render(0, stop)
        assert fast == _slow(plan, 0, stop), plan.key
        # any split of the rows gives the same bytes
        assert plan.render(0, 1234) + plan.render(1234, stop) == fast, plan.key


def test_optional_nullable_and_escaped_columns_render_as_their_rows_dumped(
    bare_sample: Path,
) -> None:
    (bare_sample / "schemas" / "odd.yaml").write_text(ODD_SCHEMA, encoding="utf-8")
    (bare_sample / "templates" / "odd.yaml").write_text(
        "seed: 5\ndatasets:\n  odd: {schema: odd, count: 2000}\n", encoding="utf-8"
    )
    (plan,) = _plans(bare_sample, "odd")
    assert plan.renderer.fast  # the layout path, not the dict fallback
    kinds = dict(zip((p.name for p in plan.root.props), plan.renderer.kinds, strict=True))
    assert {"number", "safe", "safe_or_null", "any"} <= set(kinds.values())
    fast = plan.render(0, 2000)
    assert fast == _slow(plan, 0, 2000)
    rows = [orjson.loads(line) for line in fast.splitlines()]
    assert all("opt_never" not in r for r in rows)
    assert all("opt_always" in r for r in rows)
    assert 0 < sum("opt_str" in r for r in rows) < 2000
    assert any(r.get("opt_int", 0) is None for r in rows)
    for start, stop in [(0, 1), (1, 2), (7, 8), (1999, 2000), (500, 517)]:
        assert plan.render(start, stop) == _slow(plan, start, stop)


@pytest.mark.parametrize("n", [1, 2, 5, 100])
def test_scatter_places_values_and_fills_the_rest(n: int) -> None:
    where = np.flatnonzero(np.arange(n) % 2 == 0)
    values = [f"v{i}" for i in where.tolist()]
    out = render.scatter(n, where, values, "-")
    assert out == [f"v{i}" if i % 2 == 0 else "-" for i in range(n)]
    assert render.scatter(n, np.arange(0), [], "x") == ["x"] * n


def test_a_nullable_column_asks_its_inner_generator_only_for_non_null_rows() -> None:
    asked: list[int] = []

    class Counting(g.Gen):
        def column(self, idx: rng.U64) -> list[object]:
            asked.append(len(idx))
            return [int(i) * 10 for i in idx.tolist()]

    gen = g.Nullable(key=42, inner=Counting(), probability=0.75)
    idx = rng.rows(0, 4000)
    text = render.fragments(gen, idx, "number")
    assert text == ["null" if v is None else str(v) for v in gen.column(idx)]
    assert 700 < asked[0] < 1300  # about a quarter of the rows; then the full column above
