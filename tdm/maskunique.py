"""The unique fields of a masked dataset, checked over all its chunks by 64-bit hashes.

A worker hands over only the hash of each row's value of a unique field (of
:func:`hash_key`: Python's ``hash``, the same in every worker forked from one process).  The parent sorts all the hashes of a field once, in C;
equal hashes are only candidates, and the keys themselves, read back from the masked
rows, decide.  So a million masked e-mail addresses are never pickled, sent between
processes or put in a dict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tdm import canon
from tdm.masking import MISSING


def key_bytes(value: Any) -> bytes | None:
    """A value as canonical JSON bytes (True and 1 differ), None when absent or null."""
    if value is None or value is MISSING:
        return None
    if type(value) is int:  # the common primary key: its canonical JSON without the encoder
        return b"%d" % value
    return canon.dumps(value)


def set_key(value: Any) -> Any:
    """A value as a set key: strings as they are (cheaper than JSON), anything else as
    :func:`key_bytes` (never equal to a string)."""
    return value if type(value) is str else key_bytes(value)


def hash_key(value: Any) -> Any:
    """What a value's hash is taken of: a string or an integer as it is (``hash(1)`` is
    ``hash(True)``, but equal hashes are only candidates: :func:`set_key` decides), else
    :func:`key_bytes`; None when absent or null."""
    return value if type(value) is str or type(value) is int else key_bytes(value)


@dataclass
class Hashes:
    """One chunk's hashes of one unique field's set keys."""

    rows: npt.NDArray[np.int64] | None  # the rows (in the chunk) that have a key; None: all
    hashes: npt.NDArray[np.int64]


def hash_keys(keys: list[Any]) -> Hashes:
    """The hashes of a chunk's hash keys (:func:`hash_key`), one per row (None: the row
    has no value)."""
    if None not in keys:
        return Hashes(None, np.fromiter(map(hash, keys), np.int64, len(keys)))
    rows = [n for n, key in enumerate(keys) if key is not None]
    return Hashes(
        np.array(rows, np.int64), np.fromiter((hash(keys[n]) for n in rows), np.int64, len(rows))
    )


def first_repeat(
    parts: Sequence[tuple[int, Hashes]], key_of: Callable[[int], Any]
) -> tuple[int, int] | None:
    """The earliest row whose key an earlier row has, as (that earlier row, the row); None
    when the keys are distinct.  ``parts`` holds each chunk's first row (rows are numbered
    over all chunks, in order) and hashes; ``key_of(row)`` gives one row's set key, and
    is asked only for rows whose hash another row shares."""
    if not parts:
        return None
    hashes = np.concatenate([h.hashes for _, h in parts])
    ordered = np.sort(hashes)
    if not (ordered[1:] == ordered[:-1]).any():
        return None  # the common case: every hash distinct, so every key
    rows = np.concatenate(
        [base + (h.rows if h.rows is not None else np.arange(len(h.hashes))) for base, h in parts]
    )
    order = np.argsort(hashes, kind="stable")
    same = hashes[order][1:] == hashes[order][:-1]
    shared = np.zeros(len(order), dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    known: dict[Any, int] = {}
    for row in np.sort(rows[order[shared]]).tolist():
        first = known.setdefault(key_of(row), row)
        if first != row:
            return first, row
    return None
