"""``tdm scan``: find personal data in the clear in dataset files.

Detectors run over the raw bytes of a file (one regular expression each, so a
million-row file is not decoded row by row); every candidate is then checked the
way its kind is defined (Luhn for cards, mod-97 for IBANs, number ranges for SSNs,
address parsing for IPs) and dropped when it is in a range reserved for examples
and fiction: the domains of RFC 2606/6761, the phone numbers regulators keep for
drama, the card numbers networks publish for testing, the documentation address
blocks.  Only lines with a finding are decoded, to name the field.

Findings never show a value: only a redacted form.  A baseline stores salted
HMAC fingerprints of accepted findings, never values or plain hashes of them.
"""

from __future__ import annotations

import bisect
import dataclasses
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tdm import catalogue
from tdm.errors import UserError
from tdm.fsutil import write_bytes_atomic

DETECTORS = ("email", "phone", "payment_card", "iban", "us_ssn", "ipv4", "ipv6")
#: findings listed per file before the rest are counted
SHOWN_PER_FILE = 50
BASELINE_VERSION = 1

# ---------------------------------------------------------------------- detectors

_RESERVED_DOMAIN = rb"(?:[A-Za-z0-9-]+\.)*(?:example\.(?:com|net|org|edu)|[A-Za-z0-9-]+\.(?:test|example|invalid|localhost)|example|test|invalid|localhost)(?![A-Za-z0-9.-])"
_PATTERNS: dict[str, re.Pattern[bytes]] = {
    "email": re.compile(
        rb"[A-Za-z0-9._%+-]+@(?!"
        + _RESERVED_DOMAIN
        + rb")[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
    ),
    "phone": re.compile(
        rb"(?<![\w+.-])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}|\(?[2-9]\d{2}\)?[ .-][2-9]\d{2}[ .-]\d{4})(?![\w.-])"
    ),
    "payment_card": re.compile(rb"(?<![\w.-])(?:\d[ -]?){12,18}\d(?![\w.-])"),
    "iban": re.compile(
        rb"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
    ),
    "us_ssn": re.compile(rb"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])"),
    "ipv4": re.compile(rb"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"),
    "ipv6": re.compile(rb"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"),
}
#: a cheap test that a buffer can hold a candidate at all
_NEEDS: dict[str, bytes] = {"email": b"@", "ipv4": b".", "ipv6": b":"}

_FICTIONAL_PHONE_DIGITS = tuple(
    sorted(
        {
            re.sub(r"\D", "", prefix)
            for prefixes, _free in catalogue.FICTIONAL_PHONES.values()
            for prefix in prefixes
        }
    )
)
_TEST_CARDS = frozenset(catalogue.TEST_CARD_NUMBERS)
_DOC_V4 = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
_DOC_V6 = ipaddress.ip_network("2001:db8::/32")


def _digits(text: bytes) -> str:
    return re.sub(rb"\D", b"", text).decode()


def _luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_CARD_PREFIX = re.compile(
    r"^(?:4\d{12}(?:\d{3}){0,2}|5[1-5]\d{14}|2(?:2[2-9]|[3-6]\d|7[01]|720)\d{12}|3[47]\d{13}|"
    r"3(?:0[0-5]|[68]\d)\d{11,13}|6(?:011|5\d\d|4[4-9]\d)\d{12,15}|35\d{14,17}|62\d{14,17})$"
)


def _is_card(raw: bytes) -> bool:
    number = _digits(raw)
    return (
        13 <= len(number) <= 19
        and number not in _TEST_CARDS
        and _CARD_PREFIX.match(number) is not None
        and _luhn(number)
    )


def _is_phone(raw: bytes) -> bool:
    number = _digits(raw)
    if not raw.startswith(b"+"):
        number = "1" + number  # the national pattern is NANP
    if not 8 <= len(number) <= 15:
        return False
    return not number.startswith(_FICTIONAL_PHONE_DIGITS)


def _is_iban(raw: bytes) -> bool:
    text = raw.replace(b" ", b"").decode()
    if not 15 <= len(text) <= 34:
        return False
    moved = text[4:] + text[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in moved))
    except ValueError:
        return False
    return number % 97 == 1


def _is_ipv4(raw: bytes) -> bool:
    try:
        address = ipaddress.IPv4Address(raw.decode())
    except ValueError:
        return False
    return not any(address in net for net in _DOC_V4)


def _is_ipv6(raw: bytes) -> bool:
    if raw.count(b":") < 2:
        return False
    try:
        address = ipaddress.IPv6Address(raw.decode())
    except ValueError:
        return False
    return address not in _DOC_V6


def _always(raw: bytes) -> bool:
    return True


_CHECKS: dict[str, Callable[[bytes], bool]] = {
    "email": _always,
    "phone": _is_phone,
    "payment_card": _is_card,
    "iban": _is_iban,
    "us_ssn": _always,
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
}


def redact(value: str) -> str:
    """Enough to find the value in the file, not enough to read it."""
    if len(value) <= 4:
        return "*" * len(value)
    return f"{value[0]}{'*' * (len(value) - 3)}{value[-2:]}"


# ---------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    field: str | None
    detector: str
    redacted: str
    #: the raw match, kept only in memory for fingerprints; never printed or stored
    _value: str = dataclasses.field(repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "field": self.field,
            "detector": self.detector,
            "value": self.redacted,
        }

    def __str__(self) -> str:
        where = f" {self.field}" if self.field else ""
        return f"{self.path}:{self.line}:{where} {self.detector} {self.redacted}"


@dataclass
class ScanReport:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    rows: int = 0
    baselined: int = 0
    omitted: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "files": self.files,
            "rows": self.rows,
            "baselined": self.baselined,
            "findings": [f.to_json() for f in self.findings],
            "omitted": self.omitted,
        }


def _leaf_paths(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaf_paths(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaf_paths(v, f"{prefix}[{i}]")
    elif value is not None and not isinstance(value, bool):
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        yield prefix, text


def _field_of(line: bytes, match: str) -> str | None:
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    for path, text in _leaf_paths(row):
        if match in text:
            return path
    return None


def _normalise_field(path: str | None) -> str | None:
    """``items[3].email`` -> ``items.email``: how a schema names it."""
    return re.sub(r"\[\d+\]", "", path) if path else path


def scan_bytes(
    data: bytes,
    display: str,
    *,
    synthetic: frozenset[str] = frozenset(),
    detectors: Iterable[str] = DETECTORS,
) -> tuple[list[Finding], int]:
    """Findings in one JSONL (or text) buffer and its number of lines.  Fields in
    ``synthetic`` (``x-tdm: {pii: synthetic}``) are allow-listed."""
    candidates: list[tuple[int, str, bytes]] = []
    for name in detectors:
        need = _NEEDS.get(name)
        if need is not None and need not in data:
            continue
        check = _CHECKS[name]
        for m in _PATTERNS[name].finditer(data):
            raw = m.group(0)
            if check(raw):
                candidates.append((m.start(), name, raw))
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    if not candidates:
        return [], lines
    starts = [0]
    pos = data.find(b"\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = data.find(b"\n", pos + 1)
    out: list[Finding] = []
    fields_cache: dict[tuple[int, str], str | None] = {}
    for offset, name, raw in sorted(candidates):
        index = bisect.bisect_right(starts, offset) - 1
        begin = starts[index]
        end = data.find(b"\n", begin)
        line = data[begin : end if end != -1 else len(data)]
        value = raw.decode("utf-8", "replace")
        cache_key = (index, value)
        if cache_key not in fields_cache:
            fields_cache[cache_key] = _field_of(line, value)
        fld = _normalise_field(fields_cache[cache_key])
        if fld is not None and fld in synthetic:
            continue
        out.append(Finding(display, index + 1, fld, name, redact(value), value))
    return out, lines


# ---------------------------------------------------------------------- baseline


class Baseline:
    """Accepted findings as salted fingerprints: HMAC-SHA256 under a random salt kept in
    the file, of (path, field, detector, value).  Neither values nor plain hashes of
    them are stored, so the file cannot be searched for a known value without its salt
    being brute-forced value by value."""

    def __init__(self, salt: bytes, fingerprints: set[str]) -> None:
        self.salt = salt
        self.fingerprints = fingerprints

    @classmethod
    def load(cls, path: Path) -> Baseline:
        if not path.exists():
            return cls(secrets.token_bytes(32), set())
        try:
            data = orjson.loads(path.read_bytes())
            if data.get("version") != BASELINE_VERSION:
                raise ValueError(f"version {data.get('version')!r} is not {BASELINE_VERSION}")
            salt = bytes.fromhex(data["salt"])
            prints = {str(p) for p in data["fingerprints"]}
        except (
            OSError,
            orjson.JSONDecodeError,
            KeyError,
            ValueError,
            TypeError,
            AttributeError,
        ) as exc:
            raise UserError(
                f"not a tdm scan baseline ({exc}); recreate it with `tdm scan --update-baseline`",
                path=str(path),
            ) from None
        return cls(salt, prints)

    def fingerprint(self, finding: Finding) -> str:
        material = "\0".join(
            (finding.path, finding.field or "", finding.detector, finding._value)
        ).encode()
        return hmac.digest(self.salt, material, "sha256").hex()

    def save(self, path: Path, findings: Iterable[Finding]) -> int:
        prints = sorted({self.fingerprint(f) for f in findings})
        doc = {
            "version": BASELINE_VERSION,
            "about": "tdm scan baseline: salted fingerprints of accepted findings (no values)",
            "salt": self.salt.hex(),
            "fingerprints": prints,
        }
        write_bytes_atomic(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        return len(prints)


def apply_baseline(report: ScanReport, baseline: Baseline) -> None:
    kept = [f for f in report.findings if baseline.fingerprint(f) not in baseline.fingerprints]
    report.baselined = len(report.findings) - len(kept)
    report.findings = kept


def limit(report: ScanReport) -> None:
    """At most SHOWN_PER_FILE findings per file; the rest are counted."""
    per: dict[str, int] = {}
    kept = []
    for f in report.findings:
        n = per.get(f.path, 0) + 1
        per[f.path] = n
        if n <= SHOWN_PER_FILE:
            kept.append(f)
        else:
            report.omitted[f.path] = report.omitted.get(f.path, 0) + 1
    report.findings = kept
