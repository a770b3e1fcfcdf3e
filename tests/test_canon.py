"""Canonical JSON (tdm.canon): orjson's bytes, integers of any size, and the commands
that hash, lock and show schemas holding integers beyond 64 bits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import (
    dataset,
    invalid_rows,
    one_dataset_project,
    read_lock,
    read_rows,
    snapshot,
    tdm,
)
from hypothesis import given
from hypothesis import strategies as st

from tdm import canon

BIG = 10**20

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
ordinary = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
wide_ints = st.integers(min_value=2**64) | st.integers(max_value=-(2**63) - 1)
with_wide = st.recursive(
    _scalars | wide_ints,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(ordinary)
def test_ordinary_values_keep_orjson_bytes(value: Any) -> None:
    # recipe hashes and tdm.lock files already committed were made with these bytes
    assert canon.dumps(value) == orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    assert (
        canon.pretty(value)
        == orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    )
    assert canon.encode(value, sort_keys=False) == orjson.dumps(value)


@given(with_wide)
def test_integers_of_any_size_round_trip(value: Any) -> None:
    for data in (canon.dumps(value), canon.pretty(value), canon.encode(value, sort_keys=False)):
        assert json.loads(data) == value  # the standard library reads integers exactly


def test_a_wide_integer_leaves_the_rest_as_orjson_writes_it() -> None:
    doc = {"b": [1.5, 1e20, "x\u2028\x00"], "a": {"maximum": BIG, "minimum": -(2**70)}}
    narrow = {"b": [1.5, 1e20, "x\u2028\x00"], "a": {"maximum": 7, "minimum": -8}}
    expected = orjson.dumps(narrow, option=orjson.OPT_SORT_KEYS)
    expected = expected.replace(b":7", b":%d" % BIG).replace(b":-8", b":%d" % -(2**70))
    assert canon.dumps(doc) == expected
    assert canon.sha256(doc) == canon.sha256(json.loads(canon.dumps(doc)))


def test_values_orjson_cannot_write_for_other_reasons_still_fail() -> None:
    with pytest.raises(TypeError):
        canon.dumps({"a": BIG, "b": object()})
    with pytest.raises(TypeError):
        canon.dumps({1: "a non-string key"})


def test_show_clips_to_the_limit() -> None:
    assert canon.show({"b": 1, "a": BIG}) == '{"a":100000000000000000000,"b":1}'
    clipped = canon.show(list(range(100)), limit=20)
    assert len(clipped) == 20 and clipped.endswith("…")


# ------------------------------------------------------------------ through the CLI

WIDE_SCHEMA = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "properties": {
        "id": {"type": "integer", "minimum": 1, "maximum": BIG},
        "low": {"type": "integer", "minimum": -BIG, "maximum": -5},
        "high": {"type": "integer", "minimum": BIG, "maximum": BIG + 10},
        "fixed": {"type": "integer", "const": BIG},
    },
    "required": ["id", "low", "high", "fixed"],
    "additionalProperties": False,
}


def test_generate_status_validate_with_a_bound_of_ten_to_the_twenty(tmp_path: Path) -> None:
    root = one_dataset_project(tmp_path / "p", WIDE_SCHEMA, 50)

    result = tdm("generate", "--repo", root)
    assert result.exit_code == 0, result.output
    rows = read_rows(dataset(root, "t", "s"))
    assert len(rows) == 50
    assert invalid_rows(WIDE_SCHEMA, rows) == []
    assert {r["fixed"] for r in rows} == {BIG}
    assert all(BIG <= r["high"] <= BIG + 10 and -BIG <= r["low"] <= -5 for r in rows)
    entry = read_lock(root)["datasets"]["t/s"]
    assert entry["rows"] == 50 and len(entry["recipe"]) == 64

    status = tdm("status", "--repo", root)
    assert status.exit_code == 0, status.output
    assert "up to date" in status.output

    validate = tdm("validate", "--repo", root)
    assert validate.exit_code == 0, validate.output

    # the same recipe hash and bytes on a second run: nothing to do
    before = snapshot(root)
    again = tdm("generate", "--repo", root)
    assert again.exit_code == 0, again.output
    assert "unchanged" in again.output
    assert snapshot(root) == before


def test_check_and_json_output_with_wide_integers(tmp_path: Path) -> None:
    root = one_dataset_project(tmp_path / "p", WIDE_SCHEMA, 5)
    assert tdm("generate", "--repo", root).exit_code == 0
    checked = tdm("generate", "--check", "--repo", root)
    assert checked.exit_code == 0, checked.output
    shown = tdm("status", "--json", "--repo", root)
    assert shown.exit_code == 0, shown.output
    json.loads(shown.output)
