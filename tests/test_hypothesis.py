"""Generate-then-validate holds for any schema of the supported subset (hypothesis)."""

from __future__ import annotations

import os
import re
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import dataset, generate_in_process, invalid_rows, one_dataset_project, read_rows
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tdm.errors import UserError

ROWS = 40
FORMATS = ["email", "date", "date-time", "time", "uuid", "uri", "ipv4", "ipv6", "hostname"]
PATTERNS = [
    "^[a-z]{3}$",
    "^[A-Z]{2}-[0-9]{2,4}$",
    "^(ab|cd)+x?$",
    "^\\d{5}$",
    "^[^0-9]{1,3}$",
    "^[a-f0-9]{8}-[a-f0-9]{4}$",
    "x[0-9]*",
    "^(?:red|green|blue)$",
]
NAMED = ["email", "first_name", "last_name", "city", "phone", "name", "zip", "company"]
Schema = dict[str, Any]
scalars = st.one_of(
    st.integers(-1000, 1000),
    st.text(alphabet="abcxyz -", min_size=1, max_size=6),
    st.booleans(),
    st.none(),
)


@st.composite
def integers(draw: st.DrawFn) -> Schema:
    lo = draw(st.integers(-(10**6), 10**6))
    hi = draw(st.integers(lo, lo + draw(st.sampled_from([0, 1, 10, 1000, 10**6]))))
    schema: Schema = {"type": "integer"}
    mult = draw(st.sampled_from([None, 1, 2, 3, 5, 10]))
    if mult is not None and (hi // mult) * mult >= lo:
        schema["multipleOf"] = mult
    if draw(st.booleans()):
        if hi - lo >= 2 and "multipleOf" not in schema and draw(st.booleans()):
            schema["exclusiveMinimum"] = lo
            schema["exclusiveMaximum"] = hi
        else:
            schema["minimum"] = lo
            schema["maximum"] = hi
    else:
        choice = draw(st.sampled_from(["min", "max", "none"]))
        if choice == "min":
            schema["minimum"] = lo
        elif choice == "max":
            schema["maximum"] = hi
    return schema


@st.composite
def numbers(draw: st.DrawFn) -> Schema:
    cents_lo = draw(st.integers(-(10**6), 10**6))
    cents_hi = draw(st.integers(cents_lo, cents_lo + 10**5))
    lo, hi = float(Decimal(cents_lo) / 100), float(Decimal(cents_hi) / 100)
    schema: Schema = {"type": "number"}
    mult = draw(st.sampled_from([None, 0.01, 0.05, 0.25, 0.5]))
    exclusive = cents_hi - cents_lo >= 2 and draw(st.booleans())
    if exclusive:
        schema["exclusiveMinimum"] = lo
        schema["exclusiveMaximum"] = hi
    else:
        schema["minimum"] = lo
        schema["maximum"] = hi
    if mult is not None:
        step = round(mult * 100)
        first = -(-(cents_lo + int(exclusive)) // step) * step
        last = cents_hi - int(exclusive)
        # validators test multipleOf in floating point (367.4 / 0.05 = 7347.999...), so the
        # range must hold a multiple that passes that test, or no valid row exists at all
        # (tdm then refuses the schema; see test_float_multiple_of_that_no_value_passes)
        if any(_float_multiple(c / 100, mult) for c in range(first, last + 1, step)[:200]):
            schema["multipleOf"] = mult
    return schema


def _float_multiple(value: float, mult: float) -> bool:
    quotient = value / mult
    return int(quotient) == quotient


@st.composite
def strings(draw: st.DrawFn) -> Schema:
    kind = draw(st.sampled_from(["length", "format", "pattern", "plain"]))
    if kind == "format":
        return {"type": "string", "format": draw(st.sampled_from(FORMATS))}
    if kind == "pattern":
        return {"type": "string", "pattern": draw(st.sampled_from(PATTERNS))}
    schema: Schema = {"type": "string"}
    if kind == "length":
        lo = draw(st.integers(0, 15))
        if draw(st.booleans()):
            schema["minLength"] = lo
        if draw(st.booleans()):
            schema["maxLength"] = draw(st.integers(lo, 30))
    return schema


def enums() -> st.SearchStrategy[Schema]:
    return st.lists(scalars, min_size=1, max_size=5, unique_by=lambda v: (type(v), v)).map(
        lambda values: {"enum": values}
    )


leaves = st.one_of(
    integers(),
    numbers(),
    strings(),
    enums(),
    scalars.map(lambda v: {"const": v}),
    st.just({"type": "boolean"}),
)


@st.composite
def nullable(draw: st.DrawFn, inner: st.SearchStrategy[Schema]) -> Schema:
    schema = dict(draw(inner))
    if "type" in schema and draw(st.booleans()):
        schema["type"] = [schema["type"], "null"]
        if draw(st.booleans()):
            schema["x-tdm"] = {"null_probability": draw(st.sampled_from([0, 0.2, 0.5, 1]))}
    return schema


@st.composite
def arrays(draw: st.DrawFn) -> Schema:
    lo = draw(st.integers(0, 3))
    hi = draw(st.integers(lo, lo + 4))
    unique = draw(st.booleans())
    if unique:  # items with plenty of distinct values
        items = draw(
            st.sampled_from(
                [
                    {"type": "string", "format": "uuid"},
                    {"type": "integer", "minimum": 0, "maximum": 10**6},
                    {"enum": ["a", "b", "c", "d", "e", "f", "g", "h", "i"]},
                ]
            )
        )
    else:
        items = draw(nullable(leaves))
    schema: Schema = {"type": "array", "items": items, "minItems": lo, "maxItems": hi}
    if unique:
        schema["uniqueItems"] = True
    return schema


@st.composite
def objects(draw: st.DrawFn, children: st.SearchStrategy[Schema], depth: int) -> Schema:
    n = draw(st.integers(1, 5))
    props: dict[str, Schema] = {}
    for i in range(n):
        if depth == 0 and draw(st.integers(0, 5)) == 0:
            name = draw(st.sampled_from(NAMED))
            props.setdefault(name, {"type": "string"})
        else:
            props[f"p{i}"] = draw(children)
    required = [k for k in props if draw(st.booleans())]
    schema: Schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if draw(st.booleans()):
        schema["additionalProperties"] = False
    return schema


field_schemas = st.one_of(nullable(leaves), arrays(), objects(nullable(leaves), depth=1))
row_schemas = objects(field_schemas, depth=0)


@pytest.mark.slow
@settings(
    max_examples=50,
    deadline=None,
    # each example builds a repository and generates: shrinking a failure takes minutes,
    # so the failing example is reported as found (and replayed from the example
    # database, which conftest.py keeps outside the checkout)
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # in CI the same examples every run, so a landing is never decided by chance; on a
    # developer's machine new examples every run, to keep finding bugs
    derandomize=bool(os.environ.get("CI")),
)
@given(schema=row_schemas, seed=st.integers(0, 2**31))
def test_generated_rows_always_validate(schema: Schema, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = one_dataset_project(Path(tmp) / "p", schema, ROWS, seed=seed)
        generate_in_process(root)
        rows = read_rows(dataset(root, "t", "s"))

    assert len(rows) == ROWS
    assert invalid_rows(schema, rows) == []


def test_float_multiple_of_that_no_value_passes(tmp_path: Path) -> None:
    """[367.39, 367.4] holds 367.4 = 7348 * 0.05, but 367.4 / 0.05 is 7347.999... in floating
    point, so every JSON Schema validator rejects it: a clear error, not invalid rows."""
    schema: Schema = {
        "type": "object",
        "required": ["p"],
        "properties": {
            "p": {"type": "number", "minimum": 367.39, "maximum": 367.4, "multipleOf": 0.05}
        },
    }
    root = one_dataset_project(tmp_path / "p", schema, 10, seed=1)
    with pytest.raises(
        UserError, match=re.escape("no number in [367.39, 367.4] is a multiple of 0.05")
    ):
        generate_in_process(root)
    assert not dataset(root, "t", "s").exists()
