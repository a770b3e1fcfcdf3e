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
import hashlib
import hmac
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tdm import catalogue
from tdm.errors import UserError
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
            return _MISSING
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


_MISSING = _Missing()


def _canon(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _unit(digest: bytes) -> float:
    """A float in [0, 1) from the first 8 bytes of a digest."""
    return (int.from_bytes(digest[:8], "big") >> 11) * (1.0 / (1 << 53))


# ---------------------------------------------------------------------- fake values

_FAKE_KINDS = ("email", "name", "phone", "credit_card_number", "ipv4", "ipv6", "uuid", "hostname")
_NAME_HINTS = [
    (re.compile(r"e_?mail"), "email"),
    (re.compile(r"first_?name|given_?name|forename"), "first_name"),
    (re.compile(r"last_?name|surname|family_?name"), "last_name"),
    (re.compile(r"(^|_)(full_?)?name$|holder|recipient"), "name"),
    (re.compile(r"phone|mobile|msisdn|fax"), "phone"),
    (re.compile(r"street|address_?line|line_?[12]$"), "street_address"),
    (re.compile(r"city|town"), "city"),
    (re.compile(r"post_?code|zip"), "postcode"),
    (re.compile(r"(^|_)ip(_?address)?$|ipv4"), "ipv4"),
    (re.compile(r"ipv6"), "ipv6"),
    (re.compile(r"card|pan$"), "credit_card_number"),
    (re.compile(r"company|employer"), "company"),
    (re.compile(r"user_?name|login"), "user_name"),
]
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
    leaf = field.rsplit(".", 1)[-1].lower()
    for pattern, kind in _NAME_HINTS:
        if pattern.search(leaf):
            return kind
    raise UserError(
        f"rule for {field}: cannot tell what kind of fake value to make; add `generator:` to the "
        "rule, e.g. {strategy: fake, generator: email}"
    )


class _Faker:
    """Consistent fake values: the keyed hash of (kind, input) picks the value."""

    def __init__(self, key: MaskingKey, locale: str) -> None:
        self.sub = key.subkey("fake")
        self.locale = locale
        self._pools: dict[str, list[str]] = {}

    def pool(self, method: str) -> list[str]:
        found = self._pools.get(method)
        if found is None:
            found = catalogue.faker_pool(self.locale, method)
            self._pools[method] = found
        return found

    def make(self, kind: str) -> Callable[[Any], Any]:
        sub = self.sub
        tag = kind.encode() + b"\0"
        digest = hmac.digest
        make = self._maker(kind)

        fold = kind == "email"  # addresses differ only in case are the same mailbox

        def fake(value: Any) -> Any:
            if value is None:
                return None
            if fold and isinstance(value, str):
                value = value.strip().lower()
            return make(digest(sub, tag + _canon(value), "sha256"))

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

            def email(d: bytes) -> str:
                # 40 bits of the digest keep a million masked addresses distinct
                return f"{first(d[0:4]).lower()}.{last(d[4:8]).lower()}.{d[8:13].hex()}@example.org"

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

#: strategies whose output keeps distinct inputs distinct (up to negligible hash collisions)
UNIQUE_SAFE = frozenset({"hash", "shuffle"})
#: fake kinds that embed enough of the keyed hash to stay distinct
UNIQUE_FAKES = frozenset({"email", "ipv6", "uuid", "hostname"})


def _partial(rule: PartialRule) -> Masker:
    def mask(value: Any, _: dict[str, Any]) -> Any:
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        positions = [i for i, ch in enumerate(text) if ch.isalnum()]
        keep = set(positions[: rule.keep_first])
        if rule.keep_last:
            keep.update(positions[-rule.keep_last :])
        hide = set(positions) - keep
        return "".join(rule.mask_char if i in hide else ch for i, ch in enumerate(text))

    return mask


_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _shift_text(value: str, days: int) -> str:
    m = _DATE.match(value)
    if m is None:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD...)")
    day = dt.date(int(m[1]), int(m[2]), int(m[3])) + dt.timedelta(days=days)
    return day.isoformat() + value[10:]


def _date_shift(rule: DateShiftRule, key: MaskingKey, field: str) -> Masker:
    sub = key.subkey("date_shift")
    per = tuple(rule.per.split(".")) if rule.per else None
    span = rule.max_days

    def amount(material: bytes) -> int:
        d = hmac.digest(sub, material, "sha256")
        days = int.from_bytes(d[:4], "big") % span + 1  # never 0: every date moves
        return days if d[4] & 1 else -days

    def mask(value: Any, row: dict[str, Any]) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"{field}: date_shift needs a date string, got {_show(value)}")
        if per is not None:
            entity = get_path(row, per)
            material = b"per\0" + _canon(None if entity is _MISSING else entity)
        else:
            material = b"value\0" + field.encode() + b"\0" + value.encode()
        return _shift_text(value, amount(material))

    return mask


def _noise(
    rule: NoiseRule, key: MaskingKey, field: str, prop: dict[str, Any], pk: tuple[str, ...] | None
) -> Masker:
    sub = key.subkey("noise")
    integral = prop.get("type") == "integer"
    low = prop.get("minimum")
    high = prop.get("maximum")
    tag = field.encode() + b"\0"

    def mask(value: Any, row: dict[str, Any]) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if not isinstance(value, (int, float)):
            raise ValueError(f"{field}: noise needs a number, got {_show(value)}")
        ident = get_path(row, pk) if pk is not None else _MISSING
        material = tag + (_canon(ident) if ident is not _MISSING else b"") + b"\0" + _canon(value)
        u = _unit(hmac.digest(sub, material, "sha256")) * 2 - 1
        out = (
            value * (1 + u * rule.relative)
            if rule.relative is not None
            else value + u * (rule.absolute or 0)
        )
        if isinstance(low, (int, float)):
            out = max(out, low)
        if isinstance(high, (int, float)):
            out = min(out, high)
        if integral or (isinstance(value, int) and "type" not in prop):
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
                    f"{field}: generalize to {rule.to} needs a date, got {_show(value)}"
                )
            day = "01" if rule.to == "month" else None
            month = value[5:7] if rule.to == "month" else "01"
            head = f"{value[:4]}-{month}-{day or '01'}"
            rest = value[10:]
            if rest.startswith("T"):
                rest = "T00:00:00" + ("Z" if rest.endswith("Z") else _tz(rest))
            return head + rest
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{field}: generalize with bucket needs a number, got {_show(value)}")
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
        text = hmac.digest(sub, _canon(value), "sha256").hex()
        return text[:length] if length else text

    return mask


def _show(value: Any) -> str:
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
            fake = faker.make(kind)
            mask = lambda v, _r: fake(v)  # noqa: E731
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
        out = orjson.loads(orjson.dumps(row)) if self._nested else dict(row)
        for fr in self._per_value:
            value = get_path(row, fr.path)
            if value is _MISSING:
                continue
            set_path(out, fr.path, fr.mask(value, row))  # type: ignore[misc]
        return out

    def shuffle(self, originals: list[dict[str, Any]], masked: list[dict[str, Any]]) -> None:
        """Permute each shuffled column over all rows: a keyed order of the rows (by
        primary key, else position) and every value moved one place along it."""
        shuffled = [f for f in self.fields if f.mask is None]
        if not shuffled or len(masked) < 2:
            return
        for fr in shuffled:
            sub = self.key.subkey("shuffle/" + fr.field)
            order = sorted(
                range(len(masked)),
                key=lambda i: hmac.digest(
                    sub,
                    _canon(originals[i].get(self.primary_key) if self.primary_key else i),
                    "sha256",
                ),
            )
            values = [get_path(originals[i], fr.path) for i in order]
            for j, i in enumerate(order):
                value = values[(j + 1) % len(order)]
                if value is _MISSING:
                    continue
                if get_path(masked[i], fr.path[:-1]) is _MISSING and len(fr.path) > 1:
                    continue
                set_path(masked[i], fr.path, value)


def property_schema(schema: dict[str, Any], field: str) -> dict[str, Any] | None:
    """The subschema of a (dotted) field, following properties, local $refs and allOf."""
    node: Any = schema
    for part in field.split("."):
        node = _properties(schema, node).get(part)
        if node is None:
            return None
    if node is True:
        return {}
    return node if isinstance(node, dict) else None


def _properties(root: dict[str, Any], node: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(node, dict):
        return out
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        out.update(_properties(root, target))
    for sub in node.get("allOf", []) if isinstance(node.get("allOf"), list) else []:
        out.update(_properties(root, sub))
    props = node.get("properties")
    if isinstance(props, dict):
        out.update(props)
    return out


def all_fields(schema: dict[str, Any], node: Any = None, prefix: str = "") -> list[str]:
    """Every (dotted) property path of a schema, objects' inner fields included."""
    node = schema if node is None else node
    out = []
    for name, sub in _properties(schema, node).items():
        path = f"{prefix}{name}"
        out.append(path)
        types = sub.get("type") if isinstance(sub, dict) else None
        if isinstance(sub, dict) and (
            "properties" in sub
            or "$ref" in sub
            or "allOf" in sub
            or types == "object"
            or (isinstance(types, list) and "object" in types)
        ):
            out.extend(all_fields(schema, sub, path + "."))
    return out


# ---------------------------------------------------------------------- personal data fields

_PII_NAMES = re.compile(
    r"e_?mail|phone|mobile|msisdn|first_?name|last_?name|full_?name|surname|given_?name|"
    r"family_?name|^name$|holder|recipient|birth|(^|_)dob$|ssn|social_security|passport|"
    r"iban|card_?number|(^|_)card$|^number$|street|address_?line|(^|_)ip(_?address)?$|ipv[46]|"
    r"tax_?id|national_?id|license_?number"
)
_PII_FORMATS = frozenset({"email", "ipv4", "ipv6", "idn-email"})


def pii_fields(schema: dict[str, Any]) -> dict[str, str]:
    """Fields holding personal data -> why: declared ``x-tdm: {pii: true}``, or detected
    by format or name; ``pii: false`` or ``pii: synthetic`` opts a field out."""
    out: dict[str, str] = {}
    for field in all_fields(schema):
        prop = property_schema(schema, field) or {}
        hint = prop.get("x-tdm") if isinstance(prop.get("x-tdm"), dict) else {}
        assert isinstance(hint, dict)
        declared = hint.get("pii")
        if declared is True:
            out[field] = "declared pii: true"
        elif declared in (False, "synthetic"):
            continue
        elif prop.get("format") in _PII_FORMATS:
            out[field] = f"format {prop['format']}"
        elif _PII_NAMES.search(field.rsplit(".", 1)[-1].lower()) and _holds_text(prop):
            out[field] = "its name"
    return out


def _holds_text(prop: dict[str, Any]) -> bool:
    t = prop.get("type")
    types = {t} if isinstance(t, str) else set(t) if isinstance(t, list) else {"string"}
    return bool(types & {"string", "integer"})


def digest_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()
