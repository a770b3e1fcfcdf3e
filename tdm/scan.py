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
import functools
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tdm import canon, catalogue
from tdm.errors import UserError
from tdm.fsutil import write_bytes_atomic
from tdm.measure import count_rows

DETECTORS = ("email", "phone", "payment_card", "iban", "us_ssn", "ipv4", "ipv6")
#: findings listed per file before the rest are counted
SHOWN_PER_FILE = 50
BASELINE_VERSION = 1

# ---------------------------------------------------------------------- detectors

#: NANP exchange and line, without the 555-0100..0199 numbers kept for fiction
_NANP_REST = rb"(?:(?:[0-46-9]\d\d|5[0-46-9]\d|55[0-46-9])SEP\d{4}|555SEP(?:[1-9]\d|0[02-9])\d\d)"
#: one pattern per detector (RE2 syntax: no look-around; boundaries are checked after)
_PATTERNS: dict[str, bytes] = {
    "email": rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    # international numbers; NANP with +1; NANP written nationally (separators required,
    # so ten digits inside an identifier are not a phone).  The 555-01xx numbers kept for
    # fiction are excluded in the pattern itself: they fill generated data.
    "phone": (
        rb"\+[2-9]\d{0,2}[ .-]?\(?\d{1,4}\)?[ .-]?\d{2,4}[ .-]?\d{2,4}(?:[ .-]?\d{1,4})?"
        rb"|\+1[ .-]?\(?[2-9]\d{2}\)?[ .-]?"
        + _NANP_REST.replace(b"SEP", rb"[ .-]?")
        + rb"|(?:\([2-9]\d{2}\)[ .-]?|[2-9]\d{2}[ .-])"
        + _NANP_REST.replace(b"SEP", rb"[ .-]")
    ),
    "payment_card": rb"\d(?:[ -]?\d){12,18}",
    "iban": rb"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?",
    "us_ssn": rb"\d{3}-\d{2}-\d{4}",
    "ipv4": rb"(?:\d{1,3}\.){3}\d{1,3}",
    # three or more colons, or a "::" (2a00::1); never a time of day like 12:30:45
    "ipv6": rb"(?:[0-9A-Fa-f]{0,4}:){3,7}[0-9A-Fa-f]{0,4}|[0-9A-Fa-f]{1,4}::[0-9A-Fa-f]{0,4}|::[0-9A-Fa-f]{1,4}",
}
#: the same, for telling which detector a match of the combined pattern belongs to
_FULL = {name: re.compile(rb"(?:" + p + rb")\Z") for name, p in _PATTERNS.items()}
#: characters that may not touch a match (it would be part of a longer token)
_EDGE = re.compile(rb"[A-Za-z0-9_]")
#: exact strings tdm's generators write on every row (reserved e-mail domains at the end
#: of a JSON string, documentation address blocks at its start), hidden before the scan
#: with same-length stand-ins, so offsets and lines are kept: this spares a million
#: candidates that would all be rejected one by one.  Each is only a shortcut; the
#: detector's own check rejects the same values.
_HIDE = {
    "email": [
        (b'@example.org"', b'@example_org"'),
        (b'@example.com"', b'@example_com"'),
        (b'@example.net"', b'@example_net"'),
    ],
    "ipv4": [
        (b'"192.0.2.', b'"192_0_2.'),
        (b'"198.51.100.', b'"198_51_100.'),
        (b'"203.0.113.', b'"203_0_113.'),
    ],
}

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
_RESERVED_TLDS = (".test", ".example", ".invalid", ".localhost")
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org", "example.edu")


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


_TEST_CARD_BYTES = frozenset(c.encode() for c in catalogue.TEST_CARD_NUMBERS)


def _is_card(raw: bytes) -> bool:
    if raw in _TEST_CARD_BYTES:
        return False
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


_DOC_V4_PREFIXES = (b"192.0.2.", b"198.51.100.", b"203.0.113.")


def _is_ipv4(raw: bytes) -> bool:
    if raw.startswith(_DOC_V4_PREFIXES):
        return False  # documentation blocks (RFC 5737)
    try:
        address = ipaddress.IPv4Address(raw.decode())
    except ValueError:
        return False
    return not any(address in net for net in _DOC_V4)


def _is_ipv6(raw: bytes) -> bool:
    if raw.count(b":") < 2 or raw[:9].lower() == b"2001:db8:":
        return False
    try:
        address = ipaddress.IPv6Address(raw.decode())
    except ValueError:
        return False
    return address not in _DOC_V6


def _is_email(raw: bytes) -> bool:
    domain = raw.rsplit(b"@", 1)[1].decode().lower()
    if domain in ("example", "test", "invalid", "localhost") or domain.endswith(_RESERVED_TLDS):
        return False
    return not any(domain == d or domain.endswith("." + d) for d in _RESERVED_DOMAINS)


def _is_ssn(raw: bytes) -> bool:
    area, group, serial = raw.split(b"-")
    return (
        area not in (b"000", b"666")
        and not area.startswith(b"9")
        and group != b"00"
        and serial != b"0000"
    )


_CHECKS: dict[str, Callable[[bytes], bool]] = {
    "email": _is_email,
    "phone": _is_phone,
    "payment_card": _is_card,
    "iban": _is_iban,
    "us_ssn": _is_ssn,
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
}


#: values shorter than this are starred out entirely: three characters of `8.8.8.8`
#: (`8****.8`) say too much
REDACT_FULLY_BELOW = 10


def redact(value: str) -> str:
    """Enough to find the value in the file, not enough to read it."""
    if len(value) < REDACT_FULLY_BELOW:
        return "*" * len(value)
    return f"{value[0]}{'*' * (len(value) - 3)}{value[-2:]}"


# ---------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Detection:
    """A detector's hit: where, which detector, and the value only redacted (a check's
    problem is :class:`tdm.validate.Finding`)."""

    path: str
    line: int
    field: str | None
    detector: str
    redacted: str
    #: the raw match, kept only in memory for fingerprints; never printed or stored
    _value: str = dataclasses.field(repr=False, compare=False)
    #: the file as the baseline knows it: the path without @REV
    _key_path: str = dataclasses.field(default="", repr=False, compare=False)

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
    findings: list[Detection] = field(default_factory=list)
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


def _leaf_paths(value: Any, match: str = "", prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            if match and match in key:  # personal data used as a key: never in a path
                yield prefix or "(key)", key
                key = "*"
            yield from _leaf_paths(v, match, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaf_paths(v, match, f"{prefix}[{i}]")
    elif value is not None and not isinstance(value, bool):
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        yield prefix, text


def _fields_of(line: bytes, match: str) -> list[str | None]:
    """The field of every occurrence of ``match`` in the row, in the order they appear in
    the line (leaves are serialised in document order).  Keys that contain the value
    count as occurrences too, under their parent's field."""
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError:
        return []
    out: list[str | None] = []
    for path, text in _leaf_paths(row, match):
        out.extend([path] * text.count(match))
    return out


def _normalise_field(path: str | None) -> str | None:
    """``items[3].email`` -> ``items.email``: how a schema names it."""
    return re.sub(r"\[\d+\]", "", path) if path else path


@functools.lru_cache(maxsize=16)
def _combined(detectors: tuple[str, ...]) -> Any:
    """One RE2 pattern for all detectors: RE2 scans in linear time (no backtracking a
    hostile file could exploit) at hundreds of MB/s."""
    import re2

    options = re2.Options()
    options.max_mem = 256 << 20
    return re2.compile(b"|".join(b"(?:" + _PATTERNS[d] + b")" for d in detectors), options)


_NUMERIC = ("phone", "payment_card", "us_ssn", "ipv4")


def _classify(data: bytes, start: int, end: int, detectors: tuple[str, ...]) -> str | None:
    """Which detector a match of the combined pattern is, if its kind's rules hold."""
    raw = data[start:end]
    before = data[start - 1 : start] if start else b""
    after = data[end : end + 1]
    if _EDGE.match(before) or _EDGE.match(after):
        return None  # part of a longer token
    if b"@" in raw:
        order: tuple[str, ...] = ("email",)
    elif b":" in raw:
        order = ("ipv6",)
    elif raw[:2].isalpha():
        order = ("iban",)
    else:
        joined_before = before in (b".", b"-") and _EDGE.match(
            data[start - 2 : start - 1] if start > 1 else b""
        )
        joined_after = after in (b".", b"-") and _EDGE.match(data[end + 1 : end + 2])
        if joined_before or joined_after:
            return None  # a piece of a dotted or dashed token (a version, a uuid); "... 8.8.8.8." ends a sentence
        order = _NUMERIC
    for name in order:
        if name in detectors and _FULL[name].match(raw) and _CHECKS[name](raw):
            return name
    return None


def scan_bytes(
    data: bytes,
    display: str,
    *,
    synthetic: frozenset[str] = frozenset(),
    detectors: Iterable[str] = DETECTORS,
    key_path: str = "",
) -> tuple[list[Detection], int]:
    """Findings in one JSONL (or text) buffer and its number of rows (non-blank
    lines).  Fields in ``synthetic`` (``x-tdm: {pii: synthetic}``) are allow-listed."""
    wanted = set(detectors)
    chosen = tuple(d for d in DETECTORS if d in wanted)
    lines = count_rows(data)
    if not chosen:
        return [], lines
    hidden = data
    for name, pairs in _HIDE.items():
        if name in chosen:
            for old, new in pairs:
                hidden = hidden.replace(old, new)
    candidates: list[tuple[int, str, bytes]] = []
    for m in _combined(chosen).finditer(hidden):
        start, end = m.span()
        kind = _classify(data, start, end, chosen)
        if kind is not None:
            candidates.append((start, kind, data[start:end]))
    del hidden
    if not candidates:
        return [], lines
    starts = [0]
    pos = data.find(b"\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = data.find(b"\n", pos + 1)
    out: list[Detection] = []
    fields_cache: dict[tuple[int, str], list[str | None]] = {}
    for offset, name, raw in candidates:
        index = bisect.bisect_right(starts, offset) - 1
        begin = starts[index]
        end = data.find(b"\n", begin)
        line = data[begin : end if end != -1 else len(data)]
        value = raw.decode("utf-8", "replace")
        cache_key = (index, value)
        if cache_key not in fields_cache:
            fields_cache[cache_key] = _fields_of(line, value)
        fields = fields_cache[cache_key]
        nth = line[: offset - begin].count(raw)  # which occurrence of the value in the line
        fld = _normalise_field(fields[nth] if nth < len(fields) else None)
        if fld is not None and fld in synthetic:
            continue
        out.append(Detection(display, index + 1, fld, name, redact(value), value, key_path))
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

    def fingerprint(self, finding: Detection) -> str:
        material = "\0".join(
            (
                finding._key_path or finding.path,
                finding.field or "",
                finding.detector,
                finding._value,
            )
        ).encode()
        return hmac.digest(self.salt, material, "sha256").hex()

    def save(self, path: Path, findings: Iterable[Detection]) -> int:
        prints = sorted({self.fingerprint(f) for f in findings})
        doc = {
            "version": BASELINE_VERSION,
            "about": "tdm scan baseline: salted fingerprints of accepted findings (no values)",
            "salt": self.salt.hex(),
            "fingerprints": prints,
        }
        write_bytes_atomic(path, canon.encode(doc, sort_keys=False, indent=True) + b"\n")
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


# ---------------------------------------------------------------------- what to scan

#: the baseline tdm uses when none is named (in the tdm root, committed with the data)
DEFAULT_BASELINE = ".tdm-scan-baseline.json"


@dataclass(frozen=True)
class Target:
    display: str  # the path shown in findings (relative to the tdm root when inside it)
    dataset: str | None  # folder/name for datasets/<folder>/<name>.jsonl
    read: Callable[[], bytes]
    key_path: str = ""  # the path without @REV, for baselines


def synthetic_fields(project: Any, dataset: str | None) -> frozenset[str]:
    """Fields of the dataset's schema declared ``x-tdm: {pii: synthetic}``."""
    if dataset is None:
        return frozenset()
    from tdm.fields import all_fields, property_schema

    try:
        schema_name = project.dataset_schema(dataset)
        if schema_name is None:
            return frozenset()
        schema = project.schema(schema_name).data
    except UserError:
        return frozenset()  # a broken file is validate's finding; scan everything
    out = set()
    for f in all_fields(schema):
        prop = property_schema(schema, f) or {}
        hint = prop.get("x-tdm")
        if isinstance(hint, dict) and hint.get("pii") == "synthetic":
            out.add(f)
    return frozenset(out)


def _dataset_of(rel: str) -> str | None:
    parts = rel.split("/")
    if len(parts) == 3 and parts[0] == "datasets" and parts[2].endswith(".jsonl"):
        return f"{parts[1]}/{parts[2][: -len('.jsonl')]}"
    return None


def targets(
    project: Any, paths: list[Path] | None = None, *, staged: bool = False, rev: str | None = None
) -> list[Target]:
    """The files to scan: named files (folders: their .jsonl files), the staged versions
    of changed datasets, the datasets at a revision, or every dataset in the working tree."""
    from tdm import snapshot

    if sum(bool(x) for x in (paths, staged, rev)) > 1:
        raise UserError("give paths, --staged or --rev, not more than one")
    if staged or rev:
        snap: snapshot.Snapshot = (
            snapshot.staged(project) if staged else snapshot.at(project, rev or "HEAD")
        )
        found = snap.walk("datasets")
        if isinstance(snap, snapshot.IndexSnapshot):  # what the next commit adds or changes
            head = snapshot.TreeSnapshot.of_commit(snap.git, snap.git.head(), "HEAD")
            found = [(rel, oid) for rel, oid in found if head.blob_id(rel) != oid]
        return [
            Target(snap.where(rel), _dataset_of(rel), functools.partial(_read, snap, rel), rel)
            for rel, _ in found
            if rel.endswith(".jsonl")
        ]
    if not paths:
        work = snapshot.WorktreeSnapshot(project)
        return [
            Target(rel, dataset, functools.partial(_read, work, rel))
            for dataset, rel in work.datasets().items()
        ]
    out = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise UserError(f"{path}: no such file or folder")
        for f in files:
            if f.is_symlink() and f.resolve().is_relative_to(project.root.resolve()) is False:
                raise UserError(
                    f"{f} is a symbolic link to outside the repository; scan the file itself"
                )
            resolved = f.resolve()
            inside = resolved.is_relative_to(project.root.resolve())
            display = resolved.relative_to(project.root.resolve()).as_posix() if inside else str(f)
            out.append(Target(display, _dataset_of(display) if inside else None, f.read_bytes))
    return out


def _read(snap: Any, rel: str) -> bytes:
    return snap.read(rel) or b""


def scan(
    project: Any,
    paths: list[Path] | None = None,
    *,
    staged: bool = False,
    rev: str | None = None,
    baseline: Path | None = None,
    update_baseline: bool = False,
    schemas: Any = None,
) -> ScanReport:
    """Scan; ``schemas`` is the project whose schemas allow-list fields (default: this one;
    the commit hook passes the staged files, so an unstaged schema edit allows nothing)."""
    report = ScanReport()
    for target in targets(project, paths, staged=staged, rev=rev):
        data = target.read()
        found, lines = scan_bytes(
            data,
            target.display,
            synthetic=synthetic_fields(schemas or project, target.dataset),
            key_path=target.key_path,
        )
        del data
        report.files += 1
        report.rows += lines
        report.findings.extend(found)
    path = baseline if baseline is not None else project.root / DEFAULT_BASELINE
    if update_baseline:
        accepted = Baseline.load(path)
        accepted.save(path, report.findings)
        report.baselined = len(report.findings)
        report.findings = []
        return report
    if path.exists():
        apply_baseline(report, Baseline.load(path))
    elif baseline is not None:
        raise UserError(
            f"baseline {baseline} not found; create it with `tdm scan --update-baseline --baseline {baseline}`"
        )
    limit(report)
    return report
