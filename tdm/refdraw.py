"""Which parent row a reference points to: draws that stay put when counts grow.

A reference (``x-tdm.ref``) picks a parent row per child row.  A plain
``floor(u * count)`` draw moves almost every reference when the parent's count
changes; these draws move only the references that must move:

* :func:`jump` is jump consistent hashing (Lamping and Veach, 2014,
  https://arxiv.org/abs/1406.2294) over the child row's 64 random bits.  When
  the parent grows from N to N+k rows, a reference moves with probability
  k/(N+k), and only to one of the k new rows; each parent row stays equally
  likely.
* :func:`stable_permutation` is the one-to-one version for unique references:
  the inside-out Fisher-Yates shuffle, in which adding parent row n swaps it
  into one uniformly chosen position.  Growing N to N+k changes exactly the
  positions those k swaps land on (each with probability about k/(N+k)), and
  each such position then holds a new row.  The value at one position is found
  by walking back through the swaps that touched it, so nothing is simulated
  row by row.

Both are pure functions of (stream key, row index, count), so any split of the
rows over worker processes gives the same result.
"""

from __future__ import annotations

import functools

import numpy as np

from tdm import rng
from tdm.rng import I64, U64

_JUMP_MUL = np.uint64(2862933555777941757)
_S33 = np.uint64(33)
_TWO31 = float(1 << 31)
_BIG = float(1 << 62)  # caps the float before the int cast; far above any count


def jump(keys: U64, buckets: I64 | int) -> I64:
    """Jump consistent hash of each 64-bit key into ``[0, buckets)`` (per key or one count)."""
    n = len(keys)
    limit = np.broadcast_to(np.asarray(buckets, dtype=np.int64), (n,))
    if n and int(limit.min()) <= 0:
        raise ValueError("buckets must be positive")
    out = np.zeros(n, dtype=np.int64)
    # the keys still jumping, kept compact: plain vector arithmetic per round, no scatter
    pos = np.arange(n)
    key = keys.astype(np.uint64, copy=True)
    b = np.zeros(n, dtype=np.int64)
    lim = limit.copy()
    with np.errstate(over="ignore"):
        while pos.size:
            key = key * _JUMP_MUL + np.uint64(1)
            step = _TWO31 / ((key >> _S33) + np.uint64(1)).astype(np.float64)
            j = np.minimum((b + 1).astype(np.float64) * step, _BIG).astype(np.int64)
            jumps = j < lim
            stop = ~jumps
            out[pos[stop]] = b[stop]
            pos, key, b, lim = pos[jumps], key[jumps], j[jumps], lim[jumps]
    return out


@functools.lru_cache(maxsize=8)
def _swaps(key: int, n: int) -> tuple[I64, I64]:
    """The inside-out shuffle of ``n`` rows: ``dest[s]`` is the position step ``s`` swaps
    into (uniform in ``[0, s]``); returns ``dest`` and the steps sorted by (dest, step)
    as one int64 code ``dest * n + step``."""
    steps = rng.rows(0, n)
    dest = np.minimum(
        (rng.uniform(key, steps) * (steps + np.uint64(1)).astype(np.float64)).astype(np.int64),
        steps.astype(np.int64),
    )
    codes = np.sort(dest * np.int64(n) + steps.astype(np.int64))
    return dest, codes


def stable_permutation(key: int, idx: U64, n: int) -> I64:
    """An injective map of row indices ``< n`` into ``[0, n)``: position ``i`` of a uniform
    random permutation that only changes where new rows are swapped in as ``n`` grows."""
    if n <= 0:
        raise ValueError("n must be positive")
    if n >= 1 << 31:
        raise ValueError("a unique reference can point into at most 2**31 - 1 rows")
    dest, codes = _swaps(key, n)
    nn = np.int64(n)
    pos = idx.astype(np.int64)
    until = np.full(len(pos), nn, dtype=np.int64)  # only steps before this one count
    out = np.empty(len(pos), dtype=np.int64)
    active = np.arange(len(pos))
    while active.size:
        p, t = pos[active], until[active]
        last = np.searchsorted(codes, p * nn + t, side="left") - 1
        code = codes[np.maximum(last, 0)]
        hit = (last >= 0) & (code >= p * nn)  # the last swap into position p before step t
        out[active[hit]] = code[hit] - p[hit] * nn
        rest = active[~hit]
        # no later swap: p still holds what it was created with, the value that position
        # dest[p] had just before step p
        until[rest] = pos[rest]
        pos[rest] = dest[pos[rest]]
        active = rest
    return out
