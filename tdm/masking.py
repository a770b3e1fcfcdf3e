"""Masking real records: keyed, consistent strategies over the fields of one schema.

Every keyed strategy draws from HMAC-SHA256 under a sub-key derived from the user's
masking key and the strategy's purpose, so:

- the same input and key give the same output in every dataset and run (joins
  survive: ``orders.customer_email`` still equals ``customers.email``);
- a different key gives different output;
- without the key the output cannot be linked back to the input.

The key itself lives only in this process: it is never printed, logged, written to
tdm.lock or passed to git.  :class:`MaskingKey` hides it from ``repr``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import math
import os
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from hashlib import blake2b
from pathlib import Path
from typing import Any

import orjson

from tdm import canon, catalogue
from tdm.errors import UserError
from tdm.fields import all_fields, name_kind, property_schema
from tdm.models import (
    ConstantRule,
    DateShiftRule,
    FakeRule,
    GeneralizeRule,
    HashRule,
    MaskingRules,
    MaskRule,
    NoiseRule,
    NullifyRule,
    PartialRule,
    RedactRule,
    ShuffleRule,
)

KEY_ENV = "TDM_MASKING_KEY"
MIN_KEY_LENGTH = 16
_KEY_FIX = (
    f"set {KEY_ENV} or pass --key-file PATH (a file outside the repository); "
    "make a key with: python -c 'import secrets; print(secrets.token_hex(32))'"
)


class MaskingKey:
    """The secret behind every keyed strategy; never shown."""

    __slots__ = ("_secret", "_subkeys")

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_KEY_LENGTH:
            raise UserError(
                f"the masking key is shorter than {MIN_KEY_LENGTH} characters; use a long random key "
                f"({_KEY_FIX.split('; ', 1)[1]})"
            )
        self._secret = secret
        self._subkeys: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return "MaskingKey(<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled into a worker or a file by accident
        raise TypeError("a MaskingKey cannot be pickled")

    def prf(self, purpose: str) -> Callable[[bytes], bytes]:
        """A keyed pseudo-random function for one purpose: BLAKE2b keyed with the purpose's
        sub-key (RFC 7693's MAC mode), three times faster here than HMAC-SHA256.  Each
        call copies a state that has already absorbed the key block (the same digest as
        ``blake2b(message, key=...)``, a quarter faster than setting the key up again)."""
        keyed = self.keyed(purpose)

        def prf(message: bytes) -> bytes:
            h = keyed.copy()
            h.update(message)
            return h.digest()

        return prf

    def keyed(self, purpose: str) -> blake2b:
        """The BLAKE2b state of :meth:`prf` that has absorbed the purpose's sub-key: the
        per-row maskers copy it themselves (``copy(); update(m); digest()`` inline saves
        a Python call per keyed value)."""
        return blake2b(key=self.subkey(purpose))

    def subkey(self, purpose: str) -> bytes:
        sub = self._subkeys.get(purpose)
        if sub is None:
            sub = hmac.digest(self._secret, b"tdm-mask/v1/" + purpose.encode(), "sha256")
            self._subkeys[purpose] = sub
        return sub


def load_key(repo_roots: Iterable[Path], key_file: Path | None = None) -> MaskingKey:
    """The masking key from ``key_file`` (outside every path in ``repo_roots``), else from
    the environment.  A missing key is a usage error that says how to provide one."""
    if key_file is not None:
        resolved = key_file.expanduser().resolve()
        for root in repo_roots:
            if resolved.is_relative_to(root.resolve()):
                raise UserError(
                    f"the key file {key_file} is inside the repository ({root}); a key committed "
                    "by mistake unmasks everything: keep it outside, e.g. ~/.config/tdm/masking.key"
                )
        try:
            secret = resolved.read_bytes().strip()
        except OSError as exc:
            raise UserError(f"cannot read the key file {key_file}: {exc.strerror}") from None
        if not secret:
            raise UserError(f"the key file {key_file} is empty; {_KEY_FIX}")
        return MaskingKey(secret)
    value = os.environ.get(KEY_ENV, "")
    if not value.strip():
        raise UserError(f"no masking key: {_KEY_FIX}")
    return MaskingKey(value.strip().encode())


# ---------------------------------------------------------------------- field paths


def get_path(row: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = row
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def set_path(row: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = row
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


#: a float in [0, 1) is (the first 8 bytes of a digest, big-endian, >> 11) * _UNIT
_UNIT = 1.0 / (1 << 53)
_HEAD64 = struct.Struct(">Q").unpack_from
#: a digest's bytes 0-3 and 4-7 as big-endian integers and bytes 8-12 (fake e-mails)
_EMAIL_BITS = struct.Struct(">II5s").unpack_from
#: a digest's bytes 0-3 as a big-endian integer and byte 4 (date shifts)
_SHIFT_BITS = struct.Struct(">IB").unpack_from


# ---------------------------------------------------------------------- fake values

_FAKE_KINDS = ("email", "name", "phone", "credit_card_number", "ipv4", "ipv6", "uuid", "hostname")
_FORMAT_KINDS = {
    "email": "email",
    "ipv4": "ipv4",
    "ipv6": "ipv6",
    "uuid": "uuid",
    "hostname": "hostname",
}


def fake_kind(field: str, prop: dict[str, Any], rule: FakeRule) -> str:
    """What a consistent fake of ``field`` is: the rule's generator, the property's tdm
    generator, its format, else its name."""
    hint = prop.get("x-tdm") if isinstance(prop.get("x-tdm"), dict) else {}
    assert isinstance(hint, dict)
    for candidate in (rule.generator, hint.get("generator")):
        if isinstance(candidate, str):
            kind = catalogue.canonical(candidate) or candidate
            if kind in _FAKE_KINDS or kind in catalogue.FAKER_METHODS:
                return kind
            if rule.generator is not None:
                raise UserError(
                    f"rule for {field}: fake cannot make '{candidate}' values; use one of "
                    f"{', '.join(sorted({*_FAKE_KINDS, *catalogue.FAKER_METHODS}))}"
                )
    fmt = prop.get("format")
    if isinstance(fmt, str) and fmt in _FORMAT_KINDS:
        return _FORMAT_KINDS[fmt]
    named = name_kind(field.rsplit(".", 1)[-1], compound=True)
    if named is not None:
        named = catalogue.canonical(named) or named
        if named in _FAKE_KINDS or named in catalogue.FAKER_METHODS:
            return named
    raise UserError(
        f"rule for {field}: cannot tell what kind of fake value to make; add `generator:` to the "
        "rule, e.g. {strategy: fake, generator: email}"
    )


class _Faker:
    """Consistent fake values: the keyed hash of (kind, input) picks the value."""

    def __init__(self, key: MaskingKey, locale: str) -> None:
        self.prf = key.prf("fake")
        self.keyed = key.keyed("fake")
        self.locale = locale
        self._pools: dict[str, list[str]] = {}

    def pool(self, method: str) -> list[str]:
        found = self._pools.get(method)
        if found is None:
            found = catalogue.faker_pool(self.locale, method)
            self._pools[method] = found
        return found

    def make(self, kind: str) -> Masker:
        """A masker of ``kind`` values (the row is not read)."""
        prf = self.prf
        tag = kind.encode() + b"\0"
        make = self._maker(kind)

        if kind in UNIQUE_FAKES:  # every input is different: nothing to remember
            fold = kind == "email"  # addresses that differ only in case are one mailbox
            copy = self.keyed.copy

            def fresh(value: Any, _row: Any = None) -> Any:
                if value is None:
                    return None
                h = copy()  # prf(tag + canonical JSON), inline: one call fewer per value
                if type(value) is str:
                    h.update(tag + _str_canon(value.strip().lower() if fold else value))
                else:
                    h.update(tag + _fast_canon(value))
                return make(h.digest())

            return fresh

        memo: dict[Any, Any] = {}  # names and cities repeat: each input is hashed once

        def fake(value: Any, _row: Any = None) -> Any:
            if value is None:
                return None
            found = memo.get(value) if type(value) is str else None
            if found is not None:
                return found
            result = make(prf(tag + _fast_canon(value)))
            if type(value) is str and len(memo) < MEMO_LIMIT:
                memo[value] = result
            return result

        return fake

    def _maker(self, kind: str) -> Callable[[bytes], str]:
        """Digest -> fake value of ``kind``; people-like values from tdm's safe ranges."""

        def pick(pool: list[str]) -> Callable[[bytes], str]:
            n = len(pool)
            return lambda d: pool[int.from_bytes(d[:4], "big") % n]

        if kind in ("email", "name"):
            first, last = pick(self.pool("first_name")), pick(self.pool("last_name"))
            if kind == "name":
                return lambda d: f"{first(d[0:4])} {last(d[4:8])}"

            from tdm.generators import ascii_slug

            # plain ASCII local parts, as `tdm generate` writes them (Bähr -> bahr)
            firsts = [ascii_slug(n) for n in self.pool("first_name")]
            lasts = [ascii_slug(n) for n in self.pool("last_name")]
            nf, nl = len(firsts), len(lasts)

            def email(d: bytes) -> str:
                # 40 bits of the digest keep a million masked addresses distinct
                high, low, tail = _EMAIL_BITS(d)  # bytes 0-3, 4-7 and 8-12
                return f"{firsts[high % nf]}.{lasts[low % nl]}.{tail.hex()}@example.org"

            return email
        if kind == "phone":
            prefixes, free = catalogue.fictional_phone_ranges(self.locale)

            def phone(d: bytes) -> str:
                number = int.from_bytes(d[1:5], "big") % 10**free
                return prefixes[d[0] % len(prefixes)] + str(number).zfill(free)

            return phone
        if kind == "credit_card_number":
            cards = catalogue.TEST_CARD_NUMBERS
            return lambda d: cards[d[0] % len(cards)]
        if kind == "ipv4":
            blocks = catalogue.IPV4_DOC_PREFIXES
            return lambda d: f"{blocks[d[0] % len(blocks)]}{d[1] % 254 + 1}"
        if kind == "ipv6":
            return lambda d: "2001:db8:" + ":".join(d[i : i + 2].hex() for i in range(0, 12, 2))
        if kind == "uuid":
            return _uuid
        if kind == "hostname":
            return lambda d: f"host-{d[:6].hex()}.example.org"
        return pick(self.pool(kind))


def _uuid(d: bytes) -> str:
    b = bytearray(d[:16])
    b[6] = (b[6] & 0x0F) | 0x40  # version 4 layout
    b[8] = (b[8] & 0x3F) | 0x80
    h = bytes(b).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# ---------------------------------------------------------------------- strategies

Masker = Callable[[Any, dict[str, Any]], Any]  # (value, original row) -> masked value

#: inputs remembered per fake generator (names repeat; e-mails mostly do not)
MEMO_LIMIT = 1 << 16
#: fake kinds that embed enough of the keyed hash to stay distinct
UNIQUE_FAKES = frozenset({"email", "ipv6", "uuid", "hostname"})


def _partial(rule: PartialRule) -> Masker:
    first, last, char = rule.keep_first, rule.keep_last, rule.mask_char
    table = {c: char for c in range(128) if chr(c).isalnum()}

    def mask(value: Any, _: dict[str, Any]) -> Any:
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        masked = text.translate(table)  # every ASCII letter and digit hidden, in C
        if not text.isascii():
            masked = "".join(char if ch.isalnum() else ch for ch in text)
        size = len(text)
        # the common case: the characters to reveal are all letters/digits (a phone's last
        # four digits), so the loops that count them are not needed
        if first and size >= first and text[:first].isalnum():
            begin = first
        else:
            begin, seen = 0, 0
            while begin < size and seen < first:  # reveal the first `first` letters/digits
                seen += text[begin].isalnum()
                begin += 1
        if last and size - last >= begin and text[size - last :].isalnum():
            end = size - last
        else:
            end, seen = size, 0
            while end > begin and seen < last:  # and the last `last`; separators stay
                end -= 1
                seen += text[end].isalnum()
        return text[:begin] + masked[begin:end] + text[end:]

    return mask


_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


_ORDINALS: dict[str, int] = {}
_ISO_DATES: dict[int, str] = {}  # ordinal -> YYYY-MM-DD (a few decades of days)


def _shift_text(value: str, days: int) -> str:
    ordinal = _ORDINALS.get(value[:10]) or _ordinal(value[:10])
    text = _ISO_DATES.get(ordinal + days) or _iso_date(ordinal + days)
    return text + value[10:] if len(value) > 10 else text


def _ordinal(head: str) -> int:
    """The day number of YYYY-MM-DD (remembered: :func:`_shift_text` looks it up first)."""
    try:
        ordinal = dt.date.fromisoformat(head).toordinal()
    except ValueError:
        raise ValueError("date_shift needs dates written YYYY-MM-DD...") from None
    if len(_ORDINALS) < MEMO_LIMIT:
        _ORDINALS[head] = ordinal
    return ordinal


def _iso_date(ordinal: int) -> str:
    """YYYY-MM-DD of a day number (remembered: :func:`_shift_text` looks it up first)."""
    text = dt.date.fromordinal(ordinal).isoformat()
    if len(_ISO_DATES) < MEMO_LIMIT:
        _ISO_DATES[ordinal] = text
    return text


def _fast_canon(value: Any) -> bytes:
    """Canonical JSON of a value (integers without the encoder)."""
    if type(value) is int:
        return b"%d" % value
    return canon.dumps(value)


def _str_canon(value: str) -> bytes:
    """Canonical JSON of a string: orjson's bytes, without :func:`canon.dumps`'s call."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return canon.dumps(value)


def _date_shift(rule: DateShiftRule, key: MaskingKey, field: str) -> Masker:
    copy = key.keyed("date_shift").copy  # prf(message), inline (see MaskingKey.keyed)
    per = tuple(rule.per.split(".")) if rule.per else None
    span = rule.max_days

    top = per[0] if per is not None and len(per) == 1 else None
    tag = b"value\0" + field.encode() + b"\0"

    def mask(value: Any, row: dict[str, Any]) -> Any:
        if value is None:
            return None
        if type(value) is not str:
            raise ValueError(f"{field}: date_shift needs a date string, got {_type_of(value)}")
        h = copy()
        if per is None:
            h.update(tag + value.encode())
        else:
            entity = row.get(top) if top is not None else get_path(row, per)
            if type(entity) is int:
                h.update(b"per\0%d" % entity)
            else:
                h.update(b"per\0" + _fast_canon(None if entity is MISSING else entity))
        days, sign = _SHIFT_BITS(h.digest())
        days = days % span + 1  # never 0: every date moves
        return _shift_text(value, days if sign & 1 else -days)

    return mask


def _noise(
    rule: NoiseRule, key: MaskingKey, field: str, prop: dict[str, Any], pk: tuple[str, ...] | None
) -> Masker:
    copy = key.keyed("noise").copy  # prf(message), inline (see MaskingKey.keyed)
    integral = prop.get("type") == "integer"
    low = prop.get("minimum") if isinstance(prop.get("minimum"), (int, float)) else None
    high = prop.get("maximum") if isinstance(prop.get("maximum"), (int, float)) else None
    tag = field.encode() + b"\0"
    relative, absolute = rule.relative, rule.absolute or 0
    top = pk[0] if pk is not None and len(pk) == 1 else None
    untyped = "type" not in prop

    def mask(value: Any, row: dict[str, Any]) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if not isinstance(value, (int, float)):
            raise ValueError(f"{field}: noise needs a number, got {_type_of(value)}")
        ident = (row.get(top, MISSING) if top is not None else get_path(row, pk)) if pk else MISSING
        h = copy()
        if type(ident) is int and type(value) is int:  # the common case, without the encoder
            h.update(b"%b%d\0%d" % (tag, ident, value))
        else:
            h.update(
                tag
                + (_fast_canon(ident) if ident is not MISSING else b"")
                + b"\0"
                + _fast_canon(value)
            )
        u = (_HEAD64(h.digest())[0] >> 11) * _UNIT * 2 - 1  # _unit of the digest
        out = value * (1 + u * relative) if relative is not None else value + u * absolute
        if low is not None and out < low:
            out = low
        if high is not None and out > high:
            out = high
        if integral or (untyped and type(value) is int):
            return round(out)
        return round(out, 6)

    return mask


def _generalize(rule: GeneralizeRule, field: str) -> Masker:
    def mask(value: Any, _: dict[str, Any]) -> Any:
        if value is None:
            return None
        if rule.to is not None:
            if not isinstance(value, str) or _DATE.match(value) is None:
                raise ValueError(
                    f"{field}: generalize to {rule.to} needs a date, got {_type_of(value)}"
                )
            day = "01" if rule.to == "month" else None
            month = value[5:7] if rule.to == "month" else "01"
            head = f"{value[:4]}-{month}-{day or '01'}"
            rest = value[10:]
            if rest.startswith("T"):
                rest = "T00:00:00" + ("Z" if rest.endswith("Z") else _tz(rest))
            return head + rest
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(
                f"{field}: generalize with bucket needs a number, got {_type_of(value)}"
            )
        bucket = rule.bucket or 1
        out = math.floor(value / bucket) * bucket
        return int(out) if isinstance(value, int) and float(bucket).is_integer() else out

    return mask


def _tz(rest: str) -> str:
    m = re.search(r"[+-]\d{2}:\d{2}$", rest)
    return m.group(0) if m else ""


def _hash(rule: HashRule, key: MaskingKey) -> Masker:
    sub = key.subkey("hash")
    length = rule.length

    def mask(value: Any, _: dict[str, Any]) -> Any:
        if value is None:
            return None
        text = hmac.digest(sub, canon.dumps(value), "sha256").hex()
        return text[:length] if length else text

    return mask


def _type_of(value: Any) -> str:
    """A value's type, never its content: errors must not echo personal data."""
    return f"a {type(value).__name__}"


# ---------------------------------------------------------------------- a compiled rule set


@dataclass(frozen=True)
class FieldRule:
    field: str
    path: tuple[str, ...]
    strategy: str
    mask: Masker | None  # None for shuffle: applied over the whole column
    unique_safe: bool


class Masking:
    """A masking file compiled against its schema and a key."""

    def __init__(
        self,
        rules: MaskingRules,
        schema: dict[str, Any],
        key: MaskingKey,
        locale: str,
        display: str,
    ) -> None:
        self.display = display
        self.schema = schema
        self.key = key
        hint = schema.get("x-tdm") if isinstance(schema.get("x-tdm"), dict) else {}
        assert isinstance(hint, dict)
        pk = hint.get("primary_key")
        self.primary_key: str | None = pk if isinstance(pk, str) else None
        pk_path = (self.primary_key,) if self.primary_key else None
        faker = _Faker(key, locale)
        self.fields: list[FieldRule] = []
        for field, rule in rules.rules.items():
            prop = property_schema(schema, field)
            if prop is None:
                raise UserError(
                    f"rule for '{field}': the schema '{rules.schema_}' has no such property "
                    f"(known: {', '.join(sorted(all_fields(schema)))})",
                    path=display,
                )
            path = tuple(field.split("."))
            self.fields.append(self._compile(field, path, rule, prop, faker, pk_path))
        self._per_value = [f for f in self.fields if f.mask is not None]
        self._nested = any(len(f.path) > 1 for f in self.fields)
        self._flat = [(f.path[0], f.mask) for f in self._per_value if f.mask is not None]
        # the top-level fields a rule reads besides its own value: the primary key (noise)
        # and date_shift's `per`; masking in place is safe when no rule rewrites them
        read = {self.primary_key} | {
            r.per.split(".")[0]
            for r in rules.rules.values()
            if isinstance(r, DateShiftRule) and r.per
        }
        self._in_place = not self._nested and read.isdisjoint(name for name, _ in self._flat)

    def _compile(
        self,
        field: str,
        path: tuple[str, ...],
        rule: MaskRule,
        prop: dict[str, Any],
        faker: _Faker,
        pk: tuple[str, ...] | None,
    ) -> FieldRule:
        mask: Masker | None
        unique_safe = False
        if isinstance(rule, RedactRule):
            token = rule.token
            mask = lambda v, _r: None if v is None else token  # noqa: E731
        elif isinstance(rule, NullifyRule):
            mask = lambda v, _r: None  # noqa: E731
        elif isinstance(rule, ConstantRule):
            constant = rule.value
            mask = lambda v, _r: constant  # noqa: E731
        elif isinstance(rule, HashRule):
            mask = _hash(rule, self.key)
            unique_safe = rule.length is None or rule.length >= 16
        elif isinstance(rule, FakeRule):
            try:
                kind = fake_kind(field, prop, rule)
            except UserError as exc:
                raise UserError(str(exc), path=self.display) from None
            mask = faker.make(kind)
            unique_safe = kind in UNIQUE_FAKES
        elif isinstance(rule, PartialRule):
            mask = _partial(rule)
        elif isinstance(rule, DateShiftRule):
            if rule.per is not None and property_schema(self.schema, rule.per) is None:
                raise UserError(
                    f"rule for '{field}': per: '{rule.per}' is not a property of the schema",
                    path=self.display,
                )
            mask = _date_shift(rule, self.key, field)
        elif isinstance(rule, NoiseRule):
            mask = _noise(rule, self.key, field, prop, pk)
        elif isinstance(rule, GeneralizeRule):
            mask = _generalize(rule, field)
        else:
            assert isinstance(rule, ShuffleRule)
            mask = None
            unique_safe = True
        return FieldRule(field, path, rule.strategy, mask, unique_safe)

    # ------------------------------------------------------------------ applying

    def mask_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row with every per-value rule applied (shuffles are column-wide: see
        :meth:`shuffle`).  Rules read the *original* row (``per`` fields, the key)."""
        if not self._nested:  # the common case: top-level fields
            flat = dict(row)
            for name, mask in self._flat:
                if name in row:
                    flat[name] = mask(row[name], row)
            return flat
        out: dict[str, Any] = orjson.loads(orjson.dumps(row))
        for fr in self._per_value:
            value = get_path(row, fr.path)
            if value is MISSING:
                continue
            set_path(out, fr.path, fr.mask(value, row))  # type: ignore[misc]
        return out

    def mask_owned(self, row: dict[str, Any]) -> dict[str, Any]:
        """:meth:`mask_row` of a row the caller gives up (a freshly parsed record): its
        values are replaced in place, without a copy, when no rule reads a field another
        rule rewrites.  The fields no per-value rule rewrites (the primary key, ``per``
        fields, shuffled columns) keep their original values in ``row`` either way."""
        if not self._in_place:
            return self.mask_row(row)
        for name, mask in self._flat:
            if name in row:
                row[name] = mask(row[name], row)
        return row

    def shuffle_order(self, field: str, ids: list[bytes]) -> list[int]:
        """A keyed order of the rows for shuffling ``field``: rows sorted by the keyed hash
        of their primary key (else position).  Each value then moves one place along it,
        so the permutation is deterministic, independent of the input's order when there
        is a primary key, and moves every value of distinct rows."""
        prf = self.key.prf("shuffle/" + field)
        return sorted(range(len(ids)), key=lambda i: prf(ids[i]))
