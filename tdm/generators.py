"""Column generators: each turns an array of row indices into a list of values.

A generator holds only its parameters and stream keys (see :mod:`tdm.rng`), so
``column(idx)`` is a pure function of the indices: that is what makes output
stable under count changes and identical for any number of worker processes.
Generators are built by :mod:`tdm.planner` from schemas and ``x-tdm`` hints.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math
import re
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt

from tdm import refdraw, rng
from tdm.rng import U64

with warnings.catch_warnings():
    # the stdlib's regex parser: deprecated as a public name, still the only one
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants
    import sre_parse


def objects(values: list[Any]) -> npt.NDArray[np.object_]:
    """A 1-D numpy object array of ``values`` as they are (a list value stays one element):
    ``table[picks].tolist()`` picks from a table in C, several times faster than a list
    comprehension, and gives the very same objects."""
    table = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        table[i] = value
    return table


class Gen(abc.ABC):
    """Base of all column generators."""

    #: how many distinct values it can make when asked to be unique (None: unbounded)
    unique_capacity: int | None = None

    @abc.abstractmethod
    def column(self, idx: U64) -> list[Any]:
        """One value per row index."""


# ------------------------------------------------------------------ simple scalars


@dataclass
class Constant(Gen):
    value: Any

    def column(self, idx: U64) -> list[Any]:
        return [self.value] * len(idx)


@dataclass
class Choice(Gen):
    key: int
    values: list[Any]
    weights: list[float] | None = None

    def column(self, idx: U64) -> list[Any]:
        if self.weights is not None:
            picks = rng.weighted(self.key, idx, self.weights)
        else:
            picks = rng.below(self.key, idx, len(self.values))
        return cast(list[Any], self._table[picks].tolist())

    @functools.cached_property
    def _table(self) -> npt.NDArray[np.object_]:
        return objects(self.values)


@dataclass
class Sequence(Gen):
    start: int = 1
    step: int = 1
    prefix: str | None = None
    width: int | None = None

    def column(self, idx: U64) -> list[Any]:
        nums = (idx.astype(np.int64) * self.step + self.start).tolist()
        if self.prefix is None and self.width is None:
            return nums
        prefix, width = self.prefix or "", self.width or 0
        return [f"{prefix}{n:0{width}d}" for n in nums]


_FLOAT_EXACT = 1 << 53
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


@dataclass
class Integer(Gen):
    key: int
    lo: int
    hi: int
    multiple_of: int = 1
    unique: bool = False

    def __post_init__(self) -> None:
        first = -(-self.lo // self.multiple_of)
        last = self.hi // self.multiple_of
        self._first, self._n = first, last - first + 1
        self.unique_capacity = max(self._n, 0)
        self._wide = first * self.multiple_of < _I64_MIN or last * self.multiple_of > _I64_MAX

    def column(self, idx: U64) -> list[Any]:
        if self._n > _FLOAT_EXACT:
            # beyond 2**53 values (e.g. the whole int64 range): exact Python integers
            n, first, m = self._n, self._first, self.multiple_of
            if self.unique:  # rng.permute works in int64: the first 2**63-1 values suffice
                ks = rng.permute(self.key, idx, min(n, _I64_MAX)).tolist()
                return [(first + k) * m for k in ks]
            return [(first + b % n) * m for b in rng.bits(self.key, idx).tolist()]
        if self.unique:
            k = rng.permute(self.key, idx, self._n)
        else:
            k = rng.below(self.key, idx, self._n)
        if self._wide:  # the same values, without numpy's int64 overflow
            return [(self._first + x) * self.multiple_of for x in k.tolist()]
        return ((k + self._first) * self.multiple_of).tolist()


@dataclass
class Number(Gen):
    key: int
    lo: float
    hi: float
    exclusive_lo: bool = False
    exclusive_hi: bool = False
    multiple_of: float | None = None
    decimals: int = 2

    def __post_init__(self) -> None:
        self._fixes: dict[int, float] = {}
        if self.multiple_of is None:
            return
        m = self.multiple_of
        first = math.ceil(self.lo / m - 1e-9)
        last = math.floor(self.hi / m + 1e-9)
        while first <= last and not self._in_bounds(round(first * m, self.decimals)):
            first += 1
        while last >= first and not self._in_bounds(round(last * m, self.decimals)):
            last -= 1
        self._first, self._last = first, last
        if first > last or self._fix(first) is None:
            raise ValueError(f"no number in [{self.lo}, {self.hi}] is a multiple of {m}")

    def _in_bounds(self, v: float) -> bool:
        low = v > self.lo if self.exclusive_lo else v >= self.lo
        high = v < self.hi if self.exclusive_hi else v <= self.hi
        return low and high

    def _ok(self, v: float) -> bool:
        # JSON Schema validators test multipleOf as "the quotient is integral" in
        # floating point, so 1029.39 fails multipleOf 0.01 (102938.99999999999)
        assert self.multiple_of is not None
        q = v / self.multiple_of
        return self._in_bounds(v) and math.isfinite(q) and int(q) == q

    def _fix(self, k: int) -> float | None:
        """The nearest multiple to k*m that validators accept (cached per k)."""
        if k in self._fixes:
            return self._fixes[k]
        assert self.multiple_of is not None
        for step in range(64):
            for cand in (k + step, k - step) if step else (k,):
                if self._first <= cand <= self._last:
                    v = round(cand * self.multiple_of, self.decimals)
                    if self._ok(v):
                        self._fixes[k] = v
                        return v
        return None

    def column(self, idx: U64) -> list[Any]:
        if self.multiple_of is not None:
            m, d = self.multiple_of, self.decimals
            ks = (rng.below(self.key, idx, self._last - self._first + 1) + self._first).tolist()
            out: list[Any] = []
            fallback = self._fix(self._first)
            for k in ks:
                v = round(k * m, d)
                if not self._ok(v):
                    v = self._fix(k)
                    if v is None:
                        v = fallback
                out.append(v)
            return out
        u = rng.uniform(self.key, idx)
        # lo*(1-u) + hi*u cannot overflow where hi - lo would (e.g. [-1e308, 1e308])
        raw = self.lo * (1.0 - u) + self.hi * u
        big = max(abs(self.lo), abs(self.hi)) >= 1e15  # rounding would overflow; nothing to round
        values = raw if big else np.round(raw, self.decimals)
        low_ok = values > self.lo if self.exclusive_lo else values >= self.lo
        high_ok = values < self.hi if self.exclusive_hi else values <= self.hi
        middle = self.lo / 2 + self.hi / 2
        fallback = round(middle, self.decimals)
        if not self._in_bounds(fallback):
            fallback = middle
        values = np.where(low_ok & high_ok, values, fallback)
        return values.tolist()


@dataclass
class Boolean(Gen):
    key: int
    probability: float = 0.5

    def column(self, idx: U64) -> list[Any]:
        return rng.chance(self.key, idx, self.probability).tolist()


# ------------------------------------------------------------------ identifiers, dates


@dataclass
class Uuid(Gen):
    key: int

    def column(self, idx: U64) -> list[Any]:
        hi = rng.bits(self.key, idx)
        lo = rng.bits(rng.derive(self.key, "lo"), idx)
        hi = (hi & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)
        lo = (lo & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000)
        out = []
        for h, low in zip(hi.tolist(), lo.tolist(), strict=True):
            s = f"{h:016x}{low:016x}"
            out.append(f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}")
        return out


_EPOCH_DAY = np.datetime64("1970-01-01", "D")
_EPOCH_S = np.datetime64("1970-01-01T00:00:00", "s")


@dataclass
class Date(Gen):
    key: int
    lo: int  # days since 1970-01-01
    hi: int
    unique: bool = False

    def __post_init__(self) -> None:
        self.unique_capacity = self.hi - self.lo + 1

    def column(self, idx: U64) -> list[Any]:
        n = self.hi - self.lo + 1
        days = rng.permute(self.key, idx, n) if self.unique else rng.below(self.key, idx, n)
        if n <= _TABLE_DAYS:
            return cast(list[Any], _day_table(self.lo, self.hi)[days].tolist())
        return (_EPOCH_DAY + (days + self.lo)).astype(str).tolist()


_TABLE_DAYS = 200_000  # about 550 years of ISO dates, a few MB of strings at most


@functools.lru_cache(maxsize=64)
def _day_table(lo: int, hi: int) -> npt.NDArray[np.object_]:
    """ISO dates of days lo..hi since the epoch (formatting once beats formatting per row)."""
    return objects((_EPOCH_DAY + np.arange(lo, hi + 1, dtype=np.int64)).astype(str).tolist())


@dataclass
class DateTime(Gen):
    key: int
    lo: int  # seconds since the epoch, UTC
    hi: int

    def column(self, idx: U64) -> list[Any]:
        secs = rng.between(self.key, idx, self.lo, self.hi)
        first_day, last_day = self.lo // 86_400, self.hi // 86_400
        if last_day - first_day + 1 > _TABLE_DAYS:
            return [s + "Z" for s in (_EPOCH_S + secs).astype(str).tolist()]
        days = _day_table(first_day, last_day)[secs // 86_400 - first_day]
        return cast(list[Any], (days + _clock_table()[secs % 86_400]).tolist())


@functools.lru_cache(maxsize=1)
def _clock_table() -> npt.NDArray[np.object_]:
    """ "THH:MM:SSZ" for every second of a day: a date-time's time part."""
    two = [f"{i:02d}" for i in range(60)]
    minutes = [f"T{h}:{m}:" for h in two[:24] for m in two]  # "THH:MM:", 1,440 of them
    return objects([hm + sec + "Z" for hm in minutes for sec in two])


@dataclass
class Time(Gen):
    key: int

    def column(self, idx: U64) -> list[Any]:
        secs = rng.below(self.key, idx, 86_400).tolist()
        return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in secs]


# ------------------------------------------------------------------ strings


@dataclass
class Pool(Gen):
    """Values picked from a fixed pool (Faker-made, or a safe list)."""

    key: int
    pool: list[str]
    unique: bool = False

    def column(self, idx: U64) -> list[Any]:
        pool = self.pool
        picks = rng.below(self.key, idx, len(pool))
        if self.unique:
            pairs = zip(picks.tolist(), idx.tolist(), strict=True)
            return [f"{pool[p]} {i + 1}" for p, i in pairs]
        return cast(list[Any], self._table[picks].tolist())

    @functools.cached_property
    def _table(self) -> npt.NDArray[np.object_]:
        return objects(self.pool)


@dataclass
class FullName(Gen):
    key: int
    first: list[str]
    last: list[str]

    def column(self, idx: U64) -> list[Any]:
        a = rng.below(self.key, idx, len(self.first)).tolist()
        b = rng.below(rng.derive(self.key, "last"), idx, len(self.last)).tolist()
        first, last = self.first, self.last
        return [f"{first[i]} {last[j]}" for i, j in zip(a, b, strict=True)]


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits only (for e-mail local parts, host names)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower()) or "user"


SAFE_DOMAINS = ("example.com", "example.net", "example.org")
_AT_DOMAINS = tuple("@" + d for d in SAFE_DOMAINS)


@dataclass
class Email(Gen):
    """first.last<n>@example.(com|net|org): reserved domains, never a real mailbox."""

    key: int
    first: list[str]
    last: list[str]
    unique: bool = False

    def __post_init__(self) -> None:
        self._first = [ascii_slug(x) + "." for x in self.first]  # "first."
        self._last = [ascii_slug(x) for x in self.last]

    def column(self, idx: U64) -> list[Any]:
        a = rng.below(self.key, idx, len(self._first)).tolist()
        b = rng.below(rng.derive(self.key, "last"), idx, len(self._last)).tolist()
        d = rng.below(rng.derive(self.key, "domain"), idx, 3)
        first, last = self._first, self._last
        if self.unique:
            n = (idx + np.uint64(1)).tolist()
            return [
                f"{first[i]}{last[j]}{k}{_AT_DOMAINS[m]}"
                for i, j, k, m in zip(a, b, n, d.tolist(), strict=True)
            ]
        n3 = rng.below(rng.derive(self.key, "n"), idx, 1000) * 3 + d
        tails = _email_tails()
        return [f"{first[i]}{last[j]}{tails[t]}" for i, j, t in zip(a, b, n3.tolist(), strict=True)]


@functools.lru_cache(maxsize=1)
def _email_tails() -> list[str]:
    """ "<n>@<domain>" for n < 1000 and each safe domain, at n * 3 + domain."""
    return [f"{n}@{domain}" for n in range(1000) for domain in SAFE_DOMAINS]


@dataclass
class Phone(Gen):
    """Numbers from ranges reserved for fiction (e.g. US 555-0100..0199)."""

    key: int
    prefixes: list[str]
    digits: int
    unique: bool = False

    def __post_init__(self) -> None:
        self.unique_capacity = len(self.prefixes) * 10**self.digits

    def column(self, idx: U64) -> list[Any]:
        n = 10**self.digits
        prefixes, tails = self._tables
        if self.unique:
            k = rng.permute(self.key, idx, len(self.prefixes) * n)
            return cast(list[Any], (prefixes[k // n] + tails[k % n]).tolist())
        p = rng.below(self.key, idx, len(self.prefixes))
        s = rng.below(rng.derive(self.key, "sub"), idx, n)
        return cast(list[Any], (prefixes[p] + tails[s]).tolist())

    @functools.cached_property
    def _tables(self) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
        # digits <= 4: the tails are a small table
        tails = [f"{j:0{self.digits}d}" for j in range(10**self.digits)]
        return objects(self.prefixes), objects(tails)


@dataclass
class IPv6Doc(Gen):
    """Addresses in 2001:db8::/32, the documentation prefix."""

    key: int

    def column(self, idx: U64) -> list[Any]:
        a = rng.bits(self.key, idx).tolist()
        b = rng.bits(rng.derive(self.key, "b"), idx).tolist()
        out = []
        for x, y in zip(a, b, strict=True):
            groups = [(x >> s) & 0xFFFF for s in (16, 0)] + [
                (y >> s) & 0xFFFF for s in (48, 32, 16, 0)
            ]
            out.append("2001:db8:" + ":".join(f"{g:x}" for g in groups))
        return out


@dataclass
class Slugged(Gen):
    """Host names and URIs under reserved example domains."""

    key: int
    words: list[str]
    kind: str  # "hostname" | "uri" | "domain"

    def column(self, idx: U64) -> list[Any]:
        words = [ascii_slug(w) for w in self.words]
        a = rng.below(self.key, idx, len(words)).tolist()
        d = rng.below(rng.derive(self.key, "domain"), idx, 3).tolist()
        n = rng.below(rng.derive(self.key, "n"), idx, 10_000).tolist()
        if self.kind == "domain":
            return [f"{words[i]}.{SAFE_DOMAINS[j]}" for i, j in zip(a, d, strict=True)]
        if self.kind == "hostname":
            return [f"{words[i]}{k}.{SAFE_DOMAINS[j]}" for i, j, k in zip(a, d, n, strict=True)]
        return [
            f"https://www.{SAFE_DOMAINS[j]}/{words[i]}/{k}" for i, j, k in zip(a, d, n, strict=True)
        ]


@dataclass
class Text(Gen):
    """Generic text of a length within [lo, hi], made of pool words."""

    key: int
    words: list[str]
    lo: int
    hi: int
    unique: bool = False

    def column(self, idx: U64) -> list[Any]:
        lengths = rng.between(rng.derive(self.key, "len"), idx, self.lo, self.hi).tolist()
        starts = rng.below(self.key, idx, len(self.words)).tolist()
        words, nw = self.words, len(self.words)
        out = []
        for i, length, j in zip(idx.tolist(), lengths, starts, strict=True):
            text = ""
            while len(text) < length:
                text = f"{text} {words[j]}" if text else words[j]
                j = (j * 31 + 7) % nw
            text = text[:length]  # exactly `length` characters
            if text.endswith(" "):
                text = text[:-1] + "x"
            if self.unique:
                tag = f"-{i + 1:x}"
                text = text[: max(length - len(tag), 0)] + tag
            out.append(text[:1].upper() + text[1:])
        return out


# ------------------------------------------------------------------ regex


class RegexGen(Gen):
    """Strings matching a regular expression, built column-wise from Python's regex parser.

    Every node of the parsed pattern draws from its own stream (keyed by its position
    in the pattern), so a row's string depends only on (key, index).
    """

    def __init__(
        self,
        key: int,
        pattern: str,
        max_repeat: int = 8,
        min_length: int = 0,
        max_length: int | None = None,
    ) -> None:
        self.key = key
        self.pattern = pattern
        self.max_repeat = max(max_repeat, min_length)
        self.min_length = min_length
        self.max_length = max_length
        core = ecma_to_python(pattern)
        if core.startswith("^"):
            core = core[1:]
        if core.endswith("$") and not core.endswith("\\$"):
            core = core[:-1]
        try:
            self._parsed = sre_parse.parse(core)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        self._check(self._parsed)
        shortest = self._min_len(self._parsed)
        #: extra repeats each unbounded repeat makes, so short patterns reach minLength
        self._boost = 0
        unbounded = self._unbounded(self._parsed)
        if min_length > shortest and unbounded:
            self._boost = -(-(min_length - shortest) // unbounded)
        if max_length is not None:
            slack = max_length - shortest - self._boost * unbounded
            if slack < 0:
                raise ValueError(
                    f"regex {pattern!r} cannot make strings of length {min_length}..{max_length}"
                )
            self.max_repeat = min(self.max_repeat, slack)

    def _unbounded(self, parsed: Any) -> int:
        n = 0
        for op, av in parsed:
            if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                n += int(av[1] == sre_constants.MAXREPEAT) + self._unbounded(av[2])
            elif op == sre_constants.SUBPATTERN:
                n += self._unbounded(av[-1])
        return n

    def _min_len(self, parsed: Any) -> int:
        total = 0
        for op, av in parsed:
            if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                total += av[0] * self._min_len(av[2])
            elif op == sre_constants.SUBPATTERN:
                total += self._min_len(av[-1])
            elif op == sre_constants.BRANCH:
                total += min(self._min_len(b) for b in av[1])
            elif op != sre_constants.AT:
                total += 1
        return total

    def _check(self, parsed: Any) -> None:
        for op, av in parsed:
            if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT, sre_constants.GROUPREF):
                raise ValueError(
                    f"regex {self.pattern!r} uses look-arounds or back-references, "
                    "which tdm cannot generate from; give an x-tdm generator"
                )
            if op == sre_constants.SUBPATTERN:
                self._check(av[-1])
            elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                self._check(av[2])
            elif op == sre_constants.BRANCH:
                for branch in av[1]:
                    self._check(branch)
            elif op not in _REGEX_LEAVES:
                raise ValueError(f"regex {self.pattern!r}: construct {op} is not supported")

    def column(self, idx: U64) -> list[Any]:
        values = self._seq(self._parsed, self.key, idx)
        if self.min_length == 0 and self.max_length is None:
            return values
        # length bounds: keep a row's first candidate (of a few streams) that fits
        lo, hi = self.min_length, self.max_length if self.max_length is not None else 1 << 30
        for attempt in range(1, 16):
            misfits = [i for i, v in enumerate(values) if not lo <= len(v) <= hi]
            if not misfits:
                return values
            again = self._seq(self._parsed, rng.derive(self.key, "retry", attempt), idx[misfits])
            for i, v in zip(misfits, again, strict=True):
                values[i] = v
        upper = "" if self.max_length is None else self.max_length
        raise ValueError(
            f"regex {self.pattern!r} rarely makes strings of length {lo}..{upper}; "
            "make the pattern's repeats fit the length bounds"
        )

    def _seq(self, parsed: Any, key: int, idx: U64) -> list[str]:
        nodes = [self._node(op, av, rng.derive(key, i), idx) for i, (op, av) in enumerate(parsed)]
        columns = [c for c in nodes if c is not None]
        if not columns:
            return [""] * len(idx)
        if len(columns) == 1:
            return columns[0]
        return ["".join(parts) for parts in zip(*columns, strict=True)]

    def _node(self, op: Any, av: Any, key: int, idx: U64) -> list[str] | None:
        if op == sre_constants.LITERAL:
            return [chr(av)] * len(idx)
        if op == sre_constants.AT:
            return None
        if op in (
            sre_constants.ANY,
            sre_constants.IN,
            sre_constants.CATEGORY,
            sre_constants.NOT_LITERAL,
        ):
            chars = self._chars(op, av)
            return [chars[i] for i in rng.below(key, idx, len(chars)).tolist()]
        if op == sre_constants.SUBPATTERN:
            return self._seq(av[-1], key, idx)
        if op == sre_constants.BRANCH:
            branches = [self._seq(b, rng.derive(key, j), idx) for j, b in enumerate(av[1])]
            picks = rng.below(key, idx, len(branches)).tolist()
            return [branches[p][i] for i, p in enumerate(picks)]
        lo, hi, sub = av  # MAX_REPEAT / MIN_REPEAT
        if hi == sre_constants.MAXREPEAT:
            lo += self._boost
            hi = lo + self.max_repeat
        slots = [self._seq(sub, rng.derive(key, j), idx) for j in range(hi)]
        if lo == hi:
            return (
                ["".join(parts) for parts in zip(*slots, strict=True)] if slots else [""] * len(idx)
            )
        counts = rng.between(rng.derive(key, "n"), idx, lo, hi).tolist()
        return ["".join(slots[j][i] for j in range(n)) for i, n in enumerate(counts)]

    _CATEGORIES: ClassVar[dict[Any, str]] = {
        sre_constants.CATEGORY_DIGIT: "0123456789",
        sre_constants.CATEGORY_NOT_DIGIT: "abcdefghijXYZ",
        sre_constants.CATEGORY_WORD: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
        sre_constants.CATEGORY_NOT_WORD: "-.!",
        sre_constants.CATEGORY_SPACE: " ",
        sre_constants.CATEGORY_NOT_SPACE: "abcdefXYZ012",
    }
    _ANY = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

    def _chars(self, op: Any, av: Any) -> str:
        if op == sre_constants.ANY:
            return self._ANY
        if op == sre_constants.CATEGORY:
            return self._CATEGORIES.get(av, "a")
        if op == sre_constants.NOT_LITERAL:
            return "".join(c for c in self._ANY if ord(c) != av)
        if av and av[0][0] == sre_constants.NEGATE:
            banned = self._set(av[1:])
            return "".join(c for c in self._ANY if c not in banned) or "~"
        return "".join(sorted(self._set(av))) or "a"

    def _set(self, items: Any) -> set[str]:
        chars: set[str] = set()
        for op, av in items:
            if op == sre_constants.LITERAL:
                chars.add(chr(av))
            elif op == sre_constants.RANGE:
                lo, hi = av
                chars.update(chr(c) for c in range(lo, min(hi, lo + 200) + 1))
            elif op == sre_constants.CATEGORY:
                chars.update(self._CATEGORIES.get(av, "a"))
        return chars


class UniqueRegex(Gen):
    """Distinct strings matching a regular expression made of fixed-width parts
    (literals, character classes and bounded repeats of them, e.g. ``^SHP-[0-9]{8}$``):
    each part is one digit of a mixed-radix number, and the row index maps to that
    number through a keyed permutation, so values are unique by construction."""

    _SPAN = (1 << 61) - 1  # a prime: the permutation needs no gcd search on huge spans

    def __init__(
        self, key: int, pattern: str, min_length: int = 0, max_length: int | None = None
    ) -> None:
        self.key = key
        self.pattern = pattern
        helper = RegexGen(key, pattern)  # parsing, checks and character classes
        self.slots: list[str] = []
        parsed: Any = helper._parsed
        for op, av in parsed:
            if op == sre_constants.AT:
                continue
            if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                lo, hi, sub = av
                if len(sub) != 1:
                    raise ValueError(
                        f"regex {pattern!r}: only repeats of one character class can be unique"
                    )
                count = hi if hi != sre_constants.MAXREPEAT else max(lo, 8)
                chars = self._one(helper, *sub[0])
                self.slots += [chars] * count
            else:
                self.slots.append(self._one(helper, op, av))
        width = len(self.slots)
        if width < min_length or (max_length is not None and width > max_length):
            raise ValueError(f"regex {pattern!r}: its unique values have length {width}")
        capacity = 1
        for chars in self.slots:
            capacity *= len(chars)
        self.unique_capacity = capacity
        self._n = min(capacity, self._SPAN)

    @staticmethod
    def _one(helper: RegexGen, op: Any, av: Any) -> str:
        if op == sre_constants.LITERAL:
            return chr(av)
        if op in (
            sre_constants.ANY,
            sre_constants.IN,
            sre_constants.CATEGORY,
            sre_constants.NOT_LITERAL,
        ):
            return "".join(dict.fromkeys(helper._chars(op, av)))
        raise ValueError(f"regex {helper.pattern!r}: construct {op} cannot be made unique")

    def column(self, idx: U64) -> list[Any]:
        numbers = rng.permute(self.key, idx, self._n).tolist()
        # the trailing parts carry the (injective) number; parts before them, when the
        # pattern has more room than 2**61, are free and drawn like any regex part
        tail, room = len(self.slots), 1
        while tail > 0 and room < self._n:
            tail -= 1
            room *= len(self.slots[tail])
        head = [
            [a[i] for i in rng.below(rng.derive(self.key, "head", j), idx, len(a)).tolist()]
            for j, a in enumerate(self.slots[:tail])
        ]
        digits = self.slots[tail:]
        out = []
        for row, n in enumerate(numbers):
            chars = []
            for alphabet in reversed(digits):
                n, d = divmod(n, len(alphabet))
                chars.append(alphabet[d])
            out.append("".join([h[row] for h in head]) + "".join(reversed(chars)))
        return out


#: general categories by their long names (\p{Letter} is \p{L})
_CATEGORY_NAMES = {
    "letter": "L",
    "cased_letter": "LC",
    "uppercase_letter": "Lu",
    "lowercase_letter": "Ll",
    "titlecase_letter": "Lt",
    "modifier_letter": "Lm",
    "other_letter": "Lo",
    "mark": "M",
    "number": "N",
    "decimal_number": "Nd",
    "digit": "Nd",
    "letter_number": "Nl",
    "other_number": "No",
    "punctuation": "P",
    "symbol": "S",
    "math_symbol": "Sm",
    "currency_symbol": "Sc",
    "separator": "Z",
    "space_separator": "Zs",
}
_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "ARABIC", "HEBREW", "HIRAGANA", "KATAKANA", "CJK")


@functools.lru_cache(maxsize=256)
def unicode_class(name: str) -> str | None:
    r"""Sample characters of an ECMA-262 ``\p{name}`` class (None: a class tdm does not know).

    Generation draws from these; the validator has the last word on every value."""
    key = name.split("=", 1)[-1]
    script = key.upper() if "=" in name or key.upper() in _SCRIPTS else None
    code = _CATEGORY_NAMES.get(key.lower(), key)
    chars = []
    for c in (
        *range(0x21, 0x250),
        *range(0x370, 0x3FF),
        *range(0x400, 0x450),
        *range(0x3041, 0x3097),
    ):
        ch = chr(c)
        if script is not None:
            if unicodedata.name(ch, "").startswith(script):
                chars.append(ch)
        elif unicodedata.category(ch).startswith(code) or (
            code == "LC" and unicodedata.category(ch) in ("Lu", "Ll", "Lt")
        ):
            chars.append(ch)
    if code in ("Z", "Zs"):
        chars.append(" ")
    return "".join(chars[:120]) or None


def ecma_to_python(pattern: str) -> str:
    r"""An ECMA-262 pattern in Python's syntax where the two differ: ``\p{...}`` classes
    (as sample characters) and ``(?<name>...)`` groups.  Other patterns are unchanged."""
    if "\\p" not in pattern and "\\P" not in pattern and "(?<" not in pattern:
        return pattern
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            m = re.match(r"\\([pP])\{([A-Za-z_=]+)\}", pattern[i:])
            chars = unicode_class(m.group(2)) if m else None
            if m and chars is not None and not (in_class and m.group(1) == "P"):
                body = re.sub(r"([\]\\^\-\[])", r"\\\1", chars)
                neg = "^" if m.group(1) == "P" else ""
                out.append(body if in_class else f"[{neg}{body}]")
                i += len(m.group(0))
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        elif (
            not in_class
            and pattern.startswith("(?<", i)
            and pattern[i + 3 : i + 4] not in ("=", "!")
        ):
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


_REGEX_LEAVES = {
    sre_constants.LITERAL,
    sre_constants.NOT_LITERAL,
    sre_constants.ANY,
    sre_constants.IN,
    sre_constants.AT,
    sre_constants.CATEGORY,
}


# ------------------------------------------------------------------ structure


@dataclass
class Bounded(Gen):
    """A string generator held to minLength/maxLength: a row whose value does not fit
    draws again from alternative streams of the same generator (so it still depends
    only on the row), and a row that never fits is a clear error."""

    inner: Gen
    lo: int
    hi: int | None
    label: str = ""

    def __post_init__(self) -> None:
        self.unique_capacity = self.inner.unique_capacity

    def _fits(self, v: Any) -> bool:
        return not isinstance(v, str) or (
            len(v) >= self.lo and (self.hi is None or len(v) <= self.hi)
        )

    def column(self, idx: U64) -> list[Any]:
        values = self.inner.column(idx)
        misfits = [i for i, v in enumerate(values) if not self._fits(v)]
        key = getattr(self.inner, "key", None)
        for attempt in range(1, 33):
            if not misfits or key is None or not dataclasses.is_dataclass(self.inner):
                break
            alt = dataclasses.replace(self.inner, key=rng.derive(key, "fit", attempt))
            again = alt.column(idx[misfits])
            for i, v in zip(misfits, again, strict=True):
                values[i] = v
            misfits = [i for i in misfits if not self._fits(values[i])]
        if misfits:
            upper = "" if self.hi is None else self.hi
            raise ValueError(
                f"property '{self.label}': its generator rarely makes values of length "
                f"{self.lo}..{upper} (e.g. {values[misfits[0]]!r}); relax minLength/maxLength "
                "or choose another generator"
            )
        return values


@dataclass
class Checked(Gen):
    """Values checked against their subschema's compiled validator.

    A row whose value fails draws again from the same generator at virtual row indices
    far beyond any real one (row + attempt * 2**40), so the value still depends only on
    the row; a row that never passes is a clear error, never an invalid row."""

    inner: Gen
    is_valid: Callable[[Any], bool]
    label: str = ""
    attempts: int = 100
    #: the subschema's keywords, for the message when no value is found
    keywords: str = ""

    def __post_init__(self) -> None:
        self.unique_capacity = self.inner.unique_capacity

    def column(self, idx: U64) -> list[Any]:
        values = self.inner.column(idx)
        ok = self.is_valid
        bad = [i for i, v in enumerate(values) if not ok(v)]
        attempt = 0
        while bad and attempt < self.attempts:
            attempt += 1
            again = self.inner.column(idx[bad] + np.uint64(attempt << 40))
            for i, v in zip(bad, again, strict=True):
                values[i] = v
            bad = [i for i in bad if not ok(values[i])]
        if bad:
            raise ValueError(
                f"property '{self.label}': no value satisfying its schema (keywords: "
                f"{self.keywords or '-'}) was found in {self.attempts} draws (row "
                f"{int(idx[bad[0]])}); simplify the schema or give the property an x-tdm generator"
            )
        return values


@dataclass
class Nullable(Gen):
    key: int
    inner: Gen
    probability: float

    def column(self, idx: U64) -> list[Any]:
        values = self.inner.column(idx)
        nulls = rng.chance(self.key, idx, self.probability).tolist()
        return [None if n else v for v, n in zip(values, nulls, strict=True)]


@dataclass
class Ref(Gen):
    """A foreign key: the parent's (unique) field at a random parent row.

    The parent row is a consistent draw (:mod:`tdm.refdraw`): raising the parent's
    count moves only the references that now land on new rows.  A self-reference
    (``earlier``) draws row i's parent among rows ``0..i-1`` only, so it never depends
    on the count and hierarchies are acyclic; row 0 has no earlier row and gets null."""

    key: int
    parent: Gen
    parent_count: int
    unique: bool = False
    earlier: bool = False

    def __post_init__(self) -> None:
        self.unique_capacity = self.parent_count

    def column(self, idx: U64) -> list[Any]:
        if self.earlier:
            return self._earlier(idx)
        if self.unique:
            rows = refdraw.stable_permutation(self.key, idx, self.parent_count)
        else:
            rows = refdraw.jump(rng.bits(self.key, idx), self.parent_count)
        return self.parent.column(rows.astype(np.uint64))

    def _earlier(self, idx: U64) -> list[Any]:
        out: list[Any] = [None] * len(idx)
        has = np.flatnonzero(idx > 0)
        if has.size:
            later = idx[has]
            if self.unique:  # the only injective choice of an earlier row for every row
                rows = (later - np.uint64(1)).astype(np.int64)
            else:
                rows = refdraw.jump(rng.bits(self.key, later), later.astype(np.int64))
            for i, v in zip(has.tolist(), self.parent.column(rows.astype(np.uint64)), strict=True):
                out[i] = v
        return out


@dataclass
class OneOf(Gen):
    key: int
    branches: list[Gen]

    def column(self, idx: U64) -> list[Any]:
        picks = rng.below(self.key, idx, len(self.branches)).tolist()
        columns = [b.column(idx) for b in self.branches]
        return [columns[p][i] for i, p in enumerate(picks)]


@dataclass
class Prop:
    name: str
    gen: Gen
    presence: float | None  # None: required; else probability the key appears
    presence_key: int = 0


@dataclass
class Object(Gen):
    props: list[Prop] = field(default_factory=list)
    #: a whole-row check (top-level keywords the properties alone do not satisfy): a row
    #: that fails draws its properties again at virtual row indices, except ``keep``
    check: Callable[[Any], bool] | None = None
    keep: frozenset[str] = frozenset()
    attempts: int = 100

    def column(self, idx: U64) -> list[Any]:
        rows = self._rows(idx)
        if self.check is None:
            return rows
        ok = self.check
        bad = [i for i, row in enumerate(rows) if not ok(row)]
        attempt = 0
        while bad and attempt < self.attempts:
            attempt += 1
            again = self._rows(idx[bad] + np.uint64(attempt << 40))
            for i, new in zip(bad, again, strict=True):
                old = rows[i]
                merged = {}
                for p in self.props:
                    source = old if p.name in self.keep else new
                    if p.name in source:
                        merged[p.name] = source[p.name]
                rows[i] = merged
            bad = [i for i in bad if not ok(rows[i])]
        if bad:
            raise ValueError(
                f"no row satisfying the schema's top-level keywords was found in "
                f"{self.attempts} draws (row {int(idx[bad[0]])}); simplify the schema"
            )
        return rows

    def _rows(self, idx: U64) -> list[Any]:
        if not self.props:
            return [{} for _ in range(len(idx))]
        names = [p.name for p in self.props]
        columns = [p.gen.column(idx) for p in self.props]
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
        for p in self.props:
            if p.presence is None:
                continue
            absent = np.flatnonzero(~rng.chance(p.presence_key, idx, p.presence)).tolist()
            name = p.name
            for i in absent:
                del rows[i][name]
        return rows


@dataclass
class Array(Gen):
    key: int
    slots: list[Gen]
    lo: int
    hi: int
    unique: bool = False

    def column(self, idx: U64) -> list[Any]:
        lengths = rng.between(self.key, idx, self.lo, self.hi).tolist()
        columns = [s.column(idx) for s in self.slots]
        out: list[Any] = []
        for i, length in enumerate(lengths):
            if not self.unique:
                out.append([columns[k][i] for k in range(length)])
                continue
            seen: set[str] = set()
            items: list[Any] = []
            for col in columns:
                if len(items) >= length:
                    break
                value = col[i]
                tag = repr(value)
                if tag not in seen:
                    seen.add(tag)
                    items.append(value)
            if len(items) < length:
                self._more(int(idx[i]), length, items, seen)
            out.append(items)
        return out

    def _more(self, row: int, length: int, items: list[Any], seen: set[str]) -> None:
        """Extra draws for a row whose slots repeated themselves: the same slot generators
        at virtual rows far beyond any real one, so the result still depends only on the row."""
        for attempt in range(1, 257):
            virtual = np.array([row + (attempt << 40)], dtype=np.uint64)
            value = self.slots[attempt % len(self.slots)].column(virtual)[0]
            tag = repr(value)
            if tag not in seen:
                seen.add(tag)
                items.append(value)
                if len(items) >= length:
                    return
        if len(items) < self.lo:
            raise ValueError(
                f"could not make {self.lo} distinct items for a uniqueItems array; "
                "the items have too few possible values"
            )
