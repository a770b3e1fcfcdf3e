"""Counter-based random streams.

Every value tdm generates is a pure function of (stream key, row index): the
key is derived from (seed, template, dataset, field path, purpose) with
BLAKE2b, and the row's 64 random bits are the SplitMix64 finaliser applied to
``key + (index + 1) * golden``.  There is no hidden state, so

* raising a count only appends rows (row i never depends on the count);
* changing one field's generator changes only that field's stream;
* any split of the rows over worker processes gives the same bytes;
* the arithmetic is wrapping uint64 in numpy, identical on every machine.

SplitMix64's finaliser is a bijection on 64-bit integers and ``index * golden``
is injective (golden is odd), so :func:`bits` never repeats within one stream:
generators that must be unique build on that.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / float(1 << 53)


def derive(*parts: object) -> int:
    """A 64-bit stream key from any parts (str() of each, NUL-separated)."""
    digest = hashlib.blake2b(
        "\0".join(str(p) for p in parts).encode("utf-8"), digest_size=8, person=b"tdm-rng-v1"
    ).digest()
    return int.from_bytes(digest, "little")


def rows(start: int, stop: int) -> U64:
    """Row indices ``start..stop-1`` as uint64."""
    return np.arange(start, stop, dtype=np.uint64)


def bits(key: int, idx: U64) -> U64:
    """64 random bits per row index; injective in ``idx`` for a fixed key."""
    with np.errstate(over="ignore"):
        z = (idx + np.uint64(1)) * _GOLDEN + np.uint64(key)
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)


def uniform(key: int, idx: U64) -> F64:
    """Uniform floats in [0, 1) with 53 bits of precision."""
    return (bits(key, idx) >> _S11).astype(np.float64) * _INV53


def below(key: int, idx: U64, n: int) -> I64:
    """Uniform integers in [0, n)."""
    if n <= 0:
        raise ValueError("n must be positive")
    out = (uniform(key, idx) * n).astype(np.int64)
    return np.minimum(out, n - 1)


def between(key: int, idx: U64, lo: int, hi: int) -> I64:
    """Uniform integers in [lo, hi] (inclusive)."""
    return below(key, idx, hi - lo + 1) + np.int64(lo)


def chance(key: int, idx: U64, probability: float) -> npt.NDArray[np.bool_]:
    """True with the given probability, per row."""
    return uniform(key, idx) < probability


def weighted(key: int, idx: U64, weights: list[float]) -> I64:
    """Indices into ``weights`` drawn with those relative weights."""
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    total = cumulative[-1]
    return np.searchsorted(cumulative / total, uniform(key, idx), side="right").astype(np.int64)


def permute(key: int, idx: U64, n: int) -> I64:
    """An injective map of row indices < n into [0, n): a keyed affine permutation."""
    if n <= 0:
        raise ValueError("n must be positive")
    a = derive(key, "mul") % n or 1
    while math.gcd(a, n) != 1:  # Python ints: n may exceed int64 (a full int64 range)
        a = (a + 1) % n or 1
    b = derive(key, "add") % n
    # exact integer arithmetic: Python ints in an object array would be slow, and
    # a*idx fits in uint64 only while n < 2**32; fall back to Python above that.
    if n < (1 << 31):
        i = idx.astype(np.int64) % n
        return (i * np.int64(a) + np.int64(b)) % np.int64(n)
    # object dtype once values may pass int64 (a unique integer over the whole int64 range)
    kind = np.int64 if n <= (1 << 63) else object
    return np.array([(int(i) * a + b) % n for i in idx], dtype=kind)
