"""tdm mask's check of unique fields by hashes: equal hashes are only candidates, the
values decide, and the first repeat in input order is the one reported."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tdm.masking import MISSING
from tdm.maskunique import Hashes, first_repeat, hash_key, hash_keys, key_bytes, set_key


def parts_of(chunks: list[list[Any]]) -> tuple[list[tuple[int, Hashes]], list[Any]]:
    """Each chunk's first row and hashes, and every row's key (rows over all chunks)."""
    parts, keys = [], []
    for chunk in chunks:
        parts.append((len(keys), hash_keys(chunk)))
        keys.extend(chunk)
    return parts, keys


def colliding(keys: list[Any]) -> list[tuple[int, Hashes]]:
    """One chunk whose rows all have the same hash, whatever their keys."""
    return [(0, Hashes(None, np.full(len(keys), 42, dtype=np.int64)))]


def test_set_keys_tell_types_apart_and_skip_absent_values() -> None:
    keys = [set_key(v) for v in ("1", 1, True, 1.0, None, MISSING, {"a": 1})]

    assert keys == ["1", b"1", b"true", b"1.0", None, None, b'{"a":1}']
    assert len({k for k in keys if k is not None}) == 5
    assert key_bytes("1") == b'"1"'  # shuffle ids: bytes for every value
    assert [hash_key(v) for v in ("1", 1, True, 1.0, None)] == ["1", 1, b"true", b"1.0", None]


def test_integers_whose_hashes_are_equal_are_still_distinct() -> None:
    values = [-1, -2, 7, True, 1]  # hash(-1) == hash(-2) and hash(True) == hash(1) in CPython
    parts, _ = parts_of([[hash_key(v) for v in values]])

    assert first_repeat(parts, lambda row: set_key(values[row])) is None
    values.append(7)
    parts, _ = parts_of([[hash_key(v) for v in values]])
    assert first_repeat(parts, lambda row: set_key(values[row])) == (2, 5)


def test_distinct_keys_have_no_repeat_even_when_their_hashes_are_equal() -> None:
    keys = [f"person{n}@example.org" for n in range(50)]
    asked: list[int] = []

    def key_of(row: int) -> Any:
        asked.append(row)
        return keys[row]

    assert first_repeat(colliding(keys), key_of) is None
    assert sorted(asked) == list(range(50)), "every row sharing a hash is read back"


def test_the_earliest_repeating_row_is_reported_with_its_first_occurrence() -> None:
    keys = [f"k{n}" for n in range(30)]
    keys[17] = keys[4]
    keys[25] = keys[2]
    keys[26] = keys[4]

    assert first_repeat(colliding(keys), keys.__getitem__) == (4, 17)
    parts, rows = parts_of([keys[:10], keys[10:20], keys[20:]])
    assert first_repeat(parts, rows.__getitem__) == (4, 17)


def test_only_rows_whose_hash_repeats_are_read_back() -> None:
    parts, keys = parts_of([["a", "b", None], [None, "c", "a"], ["d"]])
    asked: list[int] = []

    def key_of(row: int) -> Any:
        asked.append(row)
        return keys[row]

    assert first_repeat(parts, key_of) == (0, 5)
    assert sorted(asked) == [0, 5]


def test_absent_values_never_repeat() -> None:
    parts, keys = parts_of([[None, None], [None, "x"], [None]])
    assert parts[0][1].rows is not None and parts[0][1].rows.tolist() == []

    assert first_repeat(parts, keys.__getitem__) is None
    assert first_repeat([], keys.__getitem__) is None


@pytest.mark.parametrize("repeat", [(0, 1), (3, 9), (8, 9)])
def test_a_repeat_among_byte_keys_of_numbers_is_found(repeat: tuple[int, int]) -> None:
    keys = [set_key(n) for n in range(10)]
    keys[repeat[1]] = keys[repeat[0]]
    parts, rows = parts_of([keys[:5], keys[5:]])

    assert first_repeat(parts, rows.__getitem__) == repeat
