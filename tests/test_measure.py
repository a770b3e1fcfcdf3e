"""Rows and sha256 of dataset bytes (tdm.measure): one definition for every command."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdm import measure
from tdm.errors import UserError

jsonl_bytes = st.lists(
    st.sampled_from([b'{"a":1}', b"", b"  ", b"\t\r", b"x", b" y ", b"\x0c"]), max_size=12
).map(b"\n".join) | st.binary(max_size=64)


def _rows_by_definition(data: bytes) -> int:
    return sum(1 for line in data.split(b"\n") if line.strip())


@given(jsonl_bytes, st.lists(st.integers(min_value=0, max_value=64), max_size=6))
def test_rows_and_sha_do_not_depend_on_how_the_bytes_are_cut(data: bytes, cuts: list[int]) -> None:
    m = measure.Measure()
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for a, b in itertools.pairwise(bounds):
        m.update(data[a:b])
    assert m.rows == _rows_by_definition(data) == measure.count_rows(data)
    assert m.sha256 == hashlib.sha256(data).hexdigest()
    assert measure.measure(data) == (m.rows, m.sha256)


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        (b"", 0),
        (b"\n", 0),
        (b'{"a":1}\n{"a":2}\n', 2),
        (b'{"a":1}\n{"a":2}', 2),
        (b'{"a":1}\n\n  \n{"a":2}\n', 2),
        (b"  \n", 0),
    ],
)
def test_a_row_is_a_non_blank_line(data: bytes, rows: int) -> None:
    assert measure.count_rows(data) == rows


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"a":1}\n')
    assert measure.file_sha256(path) == hashlib.sha256(b'{"a":1}\n').hexdigest()
    assert measure.file_sha256(tmp_path / "missing", missing_ok=True) is None
    with pytest.raises(FileNotFoundError):
        measure.file_sha256(tmp_path / "missing")
    with pytest.raises(UserError, match="is a directory"):
        measure.file_sha256(tmp_path, missing_ok=True)
