"""tdm scan: detectors and their reserved ranges, redaction, exit codes, the per-field
allow-list, the salted baseline, --staged/--rev, and the guarantee that datasets made by
tdm's generators carry no personal data, all against real git repositories."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import git, init_repo, tdm, write_file
from typer.testing import Result

from tdm import catalogue
from tdm import scan as scanmod

PEOPLE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "email"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "email": {"type": "string"},
        "note": {"type": "string"},
        "test_email": {"type": "string", "x-tdm": {"pii": "synthetic"}},
        "contact": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "x-tdm": {"pii": "synthetic"}},
                "backup": {"type": "string"},
            },
        },
        "aliases": {"type": "array", "items": {"type": "string"}, "x-tdm": {"pii": "synthetic"}},
        "people": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "email": {"type": "string", "x-tdm": {"pii": "synthetic"}},
                    "other": {"type": "string"},
                },
            },
        },
    },
}
PEOPLE_FILE = "datasets/t/people.jsonl"
LEAK = "alice.smith@gmail.com"


def rows_bytes(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(rows_bytes(rows))
    return path


def clean_rows(n: int = 3) -> list[dict[str, Any]]:
    return [{"id": i, "email": f"p{i}@example.com"} for i in range(1, n + 1)]


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", message)
    return git(root, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def people(tmp_path: Path) -> Path:
    """A tdm repository with schema people (some fields x-tdm pii: synthetic), template t
    and three clean rows, committed."""
    root = tmp_path / "people"
    init_repo(root)
    write_file(root / "schemas" / "people.yaml", PEOPLE)
    write_file(
        root / "templates" / "t.yaml",
        {"seed": 1, "datasets": {"people": {"schema": "people", "count": 3}}},
    )
    write_rows(root / PEOPLE_FILE, clean_rows())
    commit_all(root, "clean data")
    return root


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty tdm repository, for scanning files outside it (no schema, no allow-list)."""
    return init_repo(tmp_path_factory.mktemp("scan-plain") / "plain")


def run_scan(root: Path, *args: str | Path) -> Result:
    return tdm("scan", *args, "--repo", root)


def scan_json(root: Path, *args: str | Path) -> tuple[int, dict[str, Any]]:
    result = run_scan(root, *args, "--json")
    assert result.exit_code in (0, 1), result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return result.exit_code, data


def assert_not_shown(result: Result, *values: str) -> None:
    """No raw value in anything tdm printed (stdout and stderr)."""
    for value in values:
        assert value not in result.output, f"{value!r} printed in clear"
        assert value not in result.stderr, f"{value!r} printed in clear"


# ---------------------------------------------------------------- detectors

FOUND = [
    # e-mail outside the reserved example domains
    ("alice@gmail.com", "email"),
    ("x@example.co", "email"),
    ("x@notexample.com", "email"),
    ("x@example.com.evil.io", "email"),
    ("bob@test.com", "email"),
    ("carol@mail.testing", "email"),
    ("see alice@gmail.com.", "email"),
    # phones just outside the fictional ranges
    ("+1-415-555-2671", "phone"),
    ("+1-415-555-0200", "phone"),
    ("+1-415-555-0099", "phone"),
    ("+14155552671", "phone"),
    ("+1 (415) 555-2671", "phone"),
    ("(415) 555-2671", "phone"),
    ("415-555-2671", "phone"),
    ("+44 7700 899999", "phone"),
    ("+44 7700 901123", "phone"),
    ("+49 30 23126123", "phone"),
    # Luhn-valid cards that are not published test numbers
    ("4539578763621486", "payment_card"),
    ("4539 5787 6362 1486", "payment_card"),
    ("4539-5787-6362-1486", "payment_card"),
    ("4111111111111129", "payment_card"),
    ("378282246310013", "payment_card"),
    ("5555555555554451", "payment_card"),
    # IBANs with a valid mod-97 check
    ("GB82WEST12345698765432", "iban"),
    ("GB82 WEST 1234 5698 7654 32", "iban"),
    ("DE89370400440532013000", "iban"),
    ("NL91ABNA0417164300", "iban"),
    ("FR1420041010050500013M02606", "iban"),
    # SSNs in valid ranges
    ("123-45-6789", "us_ssn"),
    ("665-45-6789", "us_ssn"),
    ("667-45-6789", "us_ssn"),
    ("899-45-6789", "us_ssn"),
    ("001-01-0001", "us_ssn"),
    # IPv4 just outside the documentation blocks
    ("192.0.3.1", "ipv4"),
    ("192.0.1.255", "ipv4"),
    ("198.51.101.7", "ipv4"),
    ("198.51.99.1", "ipv4"),
    ("203.0.114.9", "ipv4"),
    ("203.0.112.255", "ipv4"),
    ("8.8.8.8", "ipv4"),
    ("ip=192.0.2.7;next=192.0.3.7", "ipv4"),
    # IPv6 outside 2001:db8::/32
    ("2001:db9::1", "ipv6"),
    ("2001:db7:ffff::1", "ipv6"),
    ("2606:4700:4700::1111", "ipv6"),
    ("2001:4860:4860::8888", "ipv6"),
]

NOT_FOUND = [
    # reserved e-mail domains
    "bob@example.com",
    "x@example.net",
    "x@example.org",
    "x@sub.example.org",
    "ALICE@EXAMPLE.COM",
    "x@foo.test",
    "x@a.example",
    "x@b.invalid",
    "x@c.localhost",
    # fictional phone numbers
    "+1-415-555-0100",
    "+1-415-555-0123",
    "+1-415-555-0199",
    "+14155550123",
    "+1 415 555 0123",
    "(415) 555-0123",
    "415-555-0150",
    "+44 7700 900000",
    "+44 7700 900999",
    "+49 30 23125123",
    "+33 1 99 00 12 34",
    # test cards written with separators, and a Luhn failure
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4539578763621487",
    # IBANs failing mod-97
    "GB83WEST12345698765432",
    "GB82WEST12345698765433",
    # SSNs outside the valid ranges
    "666-45-6789",
    "000-45-6789",
    "900-45-6789",
    "999-45-6789",
    "123-00-6789",
    "123-45-0000",
    # documentation address blocks
    "192.0.2.1",
    "192.0.2.255",
    "198.51.100.0",
    "198.51.100.7",
    "203.0.113.9",
    "203.0.113.255",
    "256.1.1.1",
    "2001:db8::1",
    "2001:DB8::1",
    "2001:0db8:85a3::8a2e:0370:7334",
    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
    # things that look like numbers but are not personal data
    "c6d49d4e-23d5-4146-9323-4c0283fb0d41",
    "2024-10-15",
    "2024-10-15T07:21:08Z",
    "2024-10-15T07:21:08+05:30",
    "12:30:45",
    "1.2.3",
    "2.0.1-beta",
    "v1.2.3.4",
    "1.2.3.4.5",
    "2024.10.15.1",
    "00:1A:2B:3C:4D:5E",
    "SKU-000006",
    "order 2024-10-15-0001",
    "1700000000000",
    "tel 555-0123",
]


def detect(value: str) -> list[tuple[int, str | None, str]]:
    """(line, field, detector) of the findings in a one-row buffer whose `note` is ``value``."""
    found, _ = scanmod.scan_bytes(orjson.dumps({"id": 7, "note": value}) + b"\n", "rows.jsonl")
    return [(f.line, f.field, f.detector) for f in found]


def datum(value: str) -> str:
    """The personal datum inside a test value (``see x@y.z.`` -> ``x@y.z``)."""
    return value.split("=")[-1].split(" ", 1)[-1].rstrip(".")


@pytest.mark.parametrize(("value", "detector"), FOUND)
def test_value_outside_the_allowed_ranges_is_found(value: str, detector: str) -> None:
    assert detect(value) == [(1, "note", detector)]


@pytest.mark.parametrize("value", NOT_FOUND)
def test_value_in_a_reserved_range_or_not_personal_is_not_found(value: str) -> None:
    assert detect(value) == []


def test_findings_from_the_cli_are_redacted_in_text_and_json(plain: Path, tmp_path: Path) -> None:
    path = write_rows(
        tmp_path / "rows.jsonl", [{"id": i, "note": v} for i, (v, _) in enumerate(FOUND)]
    )
    text, as_json = run_scan(plain, path), run_scan(plain, path, "--json")
    assert (text.exit_code, as_json.exit_code) == (1, 1), text.output
    findings = json.loads(as_json.stdout)["findings"]
    assert {FOUND[f["line"] - 1][0]: (f["field"], f["detector"]) for f in findings} == {
        v: ("note", d) for v, d in FOUND
    }
    assert len(findings) == len(FOUND)
    for f in findings:
        value = FOUND[f["line"] - 1][0]
        assert f["value"].count("*") >= len(f["value"]) - 3, f
        assert f["value"] != value
    for line, (_, detector) in enumerate(FOUND, start=1):
        assert f"rows.jsonl:{line}: note {detector} " in text.stdout
    assert f"{len(FOUND)} finding(s)" in text.stderr
    for value, _ in FOUND:
        assert_not_shown(text, value, datum(value))
        assert_not_shown(as_json, value, datum(value))


def test_values_not_found_give_a_clean_exit(plain: Path, tmp_path: Path) -> None:
    path = write_rows(
        tmp_path / "rows.jsonl", [{"id": i, "note": v} for i, v in enumerate(NOT_FOUND)]
    )
    result = run_scan(plain, path)
    assert result.exit_code == 0, result.output
    assert f"{len(NOT_FOUND)} rows: 0 finding(s)" in result.output


def test_every_published_test_card_is_allowed() -> None:
    for card in catalogue.TEST_CARD_NUMBERS:
        spaced = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
        assert detect(card) == detect(spaced) == [], card


def test_every_fictional_phone_range_of_the_catalogue_is_allowed() -> None:
    for locale, (prefixes, free) in catalogue.FICTIONAL_PHONES.items():
        for prefix in prefixes:
            for filler in ("0" * free, "9" * free, "5" * free):
                assert detect(prefix + filler) == [], (locale, prefix + filler)


@pytest.mark.parametrize("prefix", catalogue.IPV4_DOC_PREFIXES)
def test_documentation_ipv4_blocks_are_allowed_whole(
    plain: Path, tmp_path: Path, prefix: str
) -> None:
    path = write_rows(tmp_path / "ips.jsonl", [{"ip": f"{prefix}{n}"} for n in range(256)])
    code, data = scan_json(plain, path)
    assert (code, data["findings"], data["rows"]) == (0, [], 256)
    # also where the scanner's shortcut for generated JSON strings does not apply
    text = " ".join(f"{prefix}{n}" for n in range(256)).encode()
    assert scanmod.scan_bytes(text, "ips.txt")[0] == []


def test_numbers_in_json_are_scanned_and_named_by_field(plain: Path, tmp_path: Path) -> None:
    path = write_rows(
        tmp_path / "n.jsonl",
        [{"id": 1, "pan": 4539578763621486, "count": 1234567890123, "ok": True}],
    )
    code, data = scan_json(plain, path)
    assert code == 1
    assert [(f["field"], f["detector"]) for f in data["findings"]] == [("pan", "payment_card")]


def test_findings_name_file_line_field_and_detector_and_never_the_value(
    people: Path,
) -> None:
    leaks = {
        "email": "bob.jones@outlook.com",
        "phone": "+1-212-555-7788",
        "card": "4539578763621486",
        "iban": "GB82WEST12345698765432",
        "ssn": "123-45-6789",
        "ip": "8.8.4.4",
        "ip6": "2606:4700:4700::1111",
    }
    rows = [*clean_rows(2), {"id": 3, "email": "p3@example.com", "nested": {"deep": leaks}}]
    write_rows(people / PEOPLE_FILE, rows)
    text = run_scan(people)
    as_json = run_scan(people, "--json")
    assert (text.exit_code, as_json.exit_code) == (1, 1)
    expected = {
        ("nested.deep.email", "email"),
        ("nested.deep.phone", "phone"),
        ("nested.deep.card", "payment_card"),
        ("nested.deep.iban", "iban"),
        ("nested.deep.ssn", "us_ssn"),
        ("nested.deep.ip", "ipv4"),
        ("nested.deep.ip6", "ipv6"),
    }
    report = json.loads(as_json.stdout)
    assert {(f["field"], f["detector"]) for f in report["findings"]} == expected
    assert {(f["path"], f["line"]) for f in report["findings"]} == {(PEOPLE_FILE, 3)}
    assert set(report["findings"][0]) == {"path", "line", "field", "detector", "value"}
    assert (report["ok"], report["files"], report["rows"], report["omitted"]) == (
        False,
        1,
        3,
        {},
    )
    for field, detector in expected:
        assert f"{PEOPLE_FILE}:3: {field} {detector} " in text.stdout
    assert "7 finding(s)" in text.stderr
    assert_not_shown(text, *leaks.values())
    assert_not_shown(as_json, *leaks.values())


def test_redaction_keeps_too_little_to_read_the_value() -> None:
    assert scanmod.redact("alice@gmail.com") == "a************om"
    assert scanmod.redact("8.8.8.8") == "*******"  # short values: nothing shown (issue 11)
    assert scanmod.redact("1.2.3.4:99") != "1.2.3.4:99"
    assert scanmod.redact("1234") == "****"
    for short in ("8.8.8.8", "10.1.2.3", "::1", "123456789"):
        assert set(scanmod.redact(short)) == {"*"}
    for value in ("alice@gmail.com", "4539578763621486", "123-45-6789"):
        shown = scanmod.redact(value)
        assert len(shown) == len(value)
        assert sum(c != "*" for c in shown) == 3


def test_findings_per_file_are_capped_and_the_rest_counted(people: Path) -> None:
    rows = [{"id": i, "email": f"user{i}@gmail.com"} for i in range(1, 61)]
    write_rows(people / PEOPLE_FILE, rows)
    text = run_scan(people)
    assert text.exit_code == 1
    assert text.stdout.count(f"{PEOPLE_FILE}:") == scanmod.SHOWN_PER_FILE + 1
    assert f"{PEOPLE_FILE}: 10 more finding(s) not listed" in text.stdout
    assert "60 finding(s)" in text.stderr
    code, data = scan_json(people)
    assert code == 1
    assert len(data["findings"]) == scanmod.SHOWN_PER_FILE
    assert data["omitted"] == {PEOPLE_FILE: 10}
    assert_not_shown(text, *(r["email"] for r in rows))


# ---------------------------------------------------------------- exit codes


def test_clean_repository_exits_0_and_says_so(people: Path) -> None:
    result = run_scan(people)
    assert result.exit_code == 0, result.output
    assert "scanned 1 file(s), 3 rows: 0 finding(s)" in result.output
    code, data = scan_json(people)
    assert (code, data["ok"], data["findings"]) == (0, True, [])


@pytest.mark.parametrize(
    "args",
    [
        ["--staged", "--rev", "HEAD"],
        ["datasets", "--staged"],
        ["datasets", "--rev", "HEAD"],
        ["datasets/t/missing.jsonl"],
        ["--rev", "no-such-rev"],
        ["--baseline", "missing-baseline.json"],
        ["--no-such-option"],
    ],
)
def test_usage_errors_exit_2(
    people: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(people)
    write_rows(people / PEOPLE_FILE, [{"id": 1, "email": LEAK}])  # findings do not mask errors
    for extra in ([], ["--json"]):
        result = run_scan(people, *args, *extra)
        assert result.exit_code == 2, (args, result.output)
        assert_not_shown(result, LEAK)


@pytest.mark.parametrize(
    "content",
    [
        "{",
        "[]",
        '{"version": 2, "salt": "00", "fingerprints": []}',
        '{"version": 1, "salt": "not hex", "fingerprints": []}',
        '{"version": 1, "salt": "00"}',
        '{"version": 1, "salt": "00", "fingerprints": 5}',
    ],
)
def test_malformed_baseline_exits_2(people: Path, content: str) -> None:
    for path in (people / "named-baseline.json", people / scanmod.DEFAULT_BASELINE):
        path.write_text(content)
    named = run_scan(people, "--baseline", people / "named-baseline.json")
    assert named.exit_code == 2, named.output
    assert "not a tdm scan baseline" in named.stderr
    default = run_scan(people)
    assert default.exit_code == 2, default.output
    assert scanmod.DEFAULT_BASELINE in default.stderr


# ---------------------------------------------------------------- allow-list in the schema


def test_fields_declared_synthetic_are_allow_listed(people: Path) -> None:
    rows = [
        {
            "id": 1,
            "email": "p1@example.com",
            "test_email": "qa.bot@gmail.com",
            "contact": {"email": "carol@gmail.com", "backup": "dan@gmail.com"},
            "aliases": ["erin@gmail.com", "frank@gmail.com"],
            "note": "call +1-415-555-2671",
        }
    ]
    write_rows(people / PEOPLE_FILE, rows)
    code, data = scan_json(people)
    assert code == 1
    assert [(f["field"], f["detector"]) for f in data["findings"]] == [
        ("contact.backup", "email"),
        ("note", "phone"),
    ]


def test_the_allow_list_is_per_field_not_per_detector(people: Path) -> None:
    write_rows(people / PEOPLE_FILE, [{"id": 1, "email": "gina@gmail.com"}])
    code, data = scan_json(people)
    assert (code, [f["field"] for f in data["findings"]]) == (1, ["email"])
    # the same file outside datasets/ has no schema: nothing is allow-listed
    outside = people.parent / "loose.jsonl"
    write_rows(outside, [{"id": 1, "test_email": "qa.bot@gmail.com"}])
    code, data = scan_json(people, outside)
    assert (code, [f["field"] for f in data["findings"]]) == (1, ["test_email"])


def test_synthetic_fields_inside_array_items_are_allow_listed(people: Path) -> None:
    rows = [{"id": 1, "email": "p1@example.com", "people": [{"email": "hank@gmail.com"}]}]
    write_rows(people / PEOPLE_FILE, rows)
    code, data = scan_json(people)
    assert (code, data["findings"]) == (0, [])


def test_a_value_in_a_plain_field_is_found_even_if_a_synthetic_field_repeats_it(
    people: Path,
) -> None:
    rows = [
        {"id": 1, "email": "p1@example.com", "test_email": LEAK, "note": f"write to {LEAK}"},
        {"id": 2, "email": "p2@example.com", "contact": {"email": LEAK, "backup": LEAK}},
    ]
    write_rows(people / PEOPLE_FILE, rows)
    code, data = scan_json(people)
    assert code == 1
    assert [(f["line"], f["field"]) for f in data["findings"]] == [
        (1, "note"),
        (2, "contact.backup"),
    ]


def test_a_synthetic_field_is_not_reported_under_another_field(people: Path) -> None:
    rows = [{"id": 1, "note": f"write to {LEAK}", "email": "p1@example.com", "test_email": LEAK}]
    write_rows(people / PEOPLE_FILE, rows)
    code, data = scan_json(people)
    assert (code, [(f["line"], f["field"]) for f in data["findings"]]) == (1, [(1, "note")])


# ---------------------------------------------------------------- baseline


def hexdigests(value: str) -> list[str]:
    raw = value.encode()
    return [hashlib.new(name, raw).hexdigest() for name in ("sha256", "sha1", "md5")]


def test_baseline_accepts_current_findings_and_stores_no_value(people: Path) -> None:
    write_rows(people / PEOPLE_FILE, [{"id": 1, "email": LEAK}, *clean_rows(3)[1:]])
    assert run_scan(people).exit_code == 1
    update = run_scan(people, "--update-baseline")
    assert update.exit_code == 0, update.output
    assert "1 finding(s) accepted" in update.stdout
    assert_not_shown(update, LEAK)
    path = people / scanmod.DEFAULT_BASELINE
    text = path.read_text()
    doc = json.loads(text)
    assert doc["version"] == scanmod.BASELINE_VERSION
    assert len(doc["fingerprints"]) == 1
    assert len(bytes.fromhex(doc["salt"])) >= 16
    for secret in (LEAK, LEAK.upper(), *hexdigests(LEAK), *hexdigests(f"{PEOPLE_FILE}:{LEAK}")):
        assert secret not in text
        assert secret.lower() not in text.lower()
    # the default baseline is used when present
    result = run_scan(people)
    assert result.exit_code == 0, result.output
    assert "1 accepted by the baseline" in result.output
    code, data = scan_json(people)
    assert (code, data["baselined"], data["findings"]) == (0, 1, [])


def test_baseline_survives_moved_lines_but_not_new_values_or_other_files(people: Path) -> None:
    write_rows(people / PEOPLE_FILE, [{"id": 1, "email": LEAK}])
    assert run_scan(people, "--update-baseline").exit_code == 0
    salt = json.loads((people / scanmod.DEFAULT_BASELINE).read_text())["salt"]
    # the accepted finding moves down: still accepted
    write_rows(people / PEOPLE_FILE, [*clean_rows(4)[1:], {"id": 1, "email": LEAK}])
    assert run_scan(people).exit_code == 0
    # a new value in the same field is not
    write_rows(people / PEOPLE_FILE, [{"id": 1, "email": LEAK}, {"id": 2, "email": "z@gmail.com"}])
    code, data = scan_json(people)
    assert (code, data["baselined"], [f["line"] for f in data["findings"]]) == (1, 1, [2])
    # nor the accepted value in another dataset
    write_rows(people / "datasets" / "t" / "other.jsonl", [{"id": 1, "email": LEAK}])
    code, data = scan_json(people)
    assert {f["path"] for f in data["findings"]} == {PEOPLE_FILE, "datasets/t/other.jsonl"}
    # updating again keeps the salt and accepts everything
    assert run_scan(people, "--update-baseline").exit_code == 0
    doc = json.loads((people / scanmod.DEFAULT_BASELINE).read_text())
    assert (doc["salt"], len(doc["fingerprints"])) == (salt, 3)
    assert run_scan(people).exit_code == 0


def test_a_named_baseline_file(people: Path, tmp_path: Path) -> None:
    write_rows(people / PEOPLE_FILE, [{"id": 1, "email": LEAK}])
    named = tmp_path / "accepted.json"
    assert run_scan(people, "--update-baseline", "--baseline", named).exit_code == 0
    assert named.is_file()
    assert not (people / scanmod.DEFAULT_BASELINE).exists()
    assert run_scan(people, "--baseline", named).exit_code == 0
    assert run_scan(people).exit_code == 1  # not the default: not used unless named


def test_baselines_made_separately_have_different_salts_and_fingerprints(
    people: Path, tmp_path: Path
) -> None:
    write_rows(people / PEOPLE_FILE, [{"id": 1, "email": LEAK}])
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for path in (first, second):
        assert run_scan(people, "--update-baseline", "--baseline", path).exit_code == 0
    a, b = (json.loads(p.read_text()) for p in (first, second))
    assert a["salt"] != b["salt"]
    assert len(a["fingerprints"]) == len(b["fingerprints"]) == 1
    assert a["fingerprints"] != b["fingerprints"]
    # each one still accepts the finding
    assert run_scan(people, "--baseline", first).exit_code == 0
    assert run_scan(people, "--baseline", second).exit_code == 0


def test_a_baseline_with_too_many_findings_for_the_listing_accepts_them_all(
    people: Path,
) -> None:
    rows = [{"id": i, "email": f"user{i}@gmail.com"} for i in range(1, 61)]
    write_rows(people / PEOPLE_FILE, rows)
    update = run_scan(people, "--update-baseline")
    assert "60 finding(s) accepted" in update.stdout
    code, data = scan_json(people)
    assert (code, data["baselined"], data["omitted"]) == (0, 60, {})


def test_baseline_applies_to_rev_scans(people: Path) -> None:
    write_rows(people / PEOPLE_FILE, [{"id": 1, "email": LEAK}])
    assert run_scan(people, "--update-baseline").exit_code == 0
    commit_all(people, "accepted leak")
    assert run_scan(people).exit_code == 0
    assert run_scan(people, "--staged").exit_code == 0
    result = run_scan(people, "--rev", "HEAD")
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- --staged and --rev


def test_staged_scans_the_index_not_the_working_copy(people: Path) -> None:
    path = people / PEOPLE_FILE
    write_rows(path, [{"id": 1, "email": LEAK}, *clean_rows(3)[1:]])
    git(people, "add", PEOPLE_FILE)
    write_rows(path, clean_rows())  # fixed, but the fix is not staged
    assert run_scan(people).exit_code == 0
    code, data = scan_json(people, "--staged")
    assert code == 1
    assert [(f["path"], f["line"], f["field"]) for f in data["findings"]] == [
        (PEOPLE_FILE, 1, "email")
    ]
    text = run_scan(people, "--staged")
    assert text.exit_code == 1
    assert_not_shown(text, LEAK)
    # the reverse: the fix staged, a new leak only in the working copy
    git(people, "add", PEOPLE_FILE)
    write_rows(path, [*clean_rows(2), {"id": 3, "email": "zed@gmail.com"}])
    assert run_scan(people, "--staged").exit_code == 0
    code, data = scan_json(people)
    assert (code, [f["line"] for f in data["findings"]]) == (1, [3])


def test_staged_new_dataset_and_a_repository_without_commits(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "fresh")
    write_rows(root / "datasets" / "t" / "new.jsonl", [{"id": 1, "email": LEAK}])
    assert run_scan(root, "--staged").exit_code == 0  # not staged yet
    git(root, "add", "datasets")
    code, data = scan_json(root, "--staged")
    assert (code, [f["path"] for f in data["findings"]]) == (1, ["datasets/t/new.jsonl"])


def test_staged_only_scans_datasets_that_changed(people: Path) -> None:
    """An earlier commit that let a leak in is history; --staged checks what is added."""
    write_rows(people / PEOPLE_FILE, [{"id": 1, "email": LEAK}])
    commit_all(people, "leak committed without the hook")
    write_rows(people / "datasets" / "t" / "other.jsonl", clean_rows())
    git(people, "add", "-A")
    code, data = scan_json(people, "--staged")
    assert (code, data["files"]) == (0, 1)


def test_rev_scans_the_datasets_of_a_commit(people: Path) -> None:
    write_rows(people / PEOPLE_FILE, [*clean_rows(2), {"id": 3, "email": LEAK}])
    leaked = commit_all(people, "leak")
    write_rows(people / PEOPLE_FILE, clean_rows())
    commit_all(people, "fixed")
    git(people, "tag", "fixed")
    assert run_scan(people).exit_code == 0
    assert run_scan(people, "--rev", "HEAD").exit_code == 0
    assert run_scan(people, "--rev", "fixed").exit_code == 0
    for rev in ("HEAD~1", leaked, leaked[:10]):
        code, data = scan_json(people, "--rev", rev)
        assert code == 1, rev
        assert [(f["path"], f["line"], f["field"], f["detector"]) for f in data["findings"]] == [
            (f"{PEOPLE_FILE}@{rev}", 3, "email", "email")
        ]
    text = run_scan(people, "--rev", "HEAD~1")
    assert f"{PEOPLE_FILE}@HEAD~1:3: email email " in text.stdout
    assert_not_shown(text, LEAK)
    # the working copy is not what --rev reads
    write_rows(people / PEOPLE_FILE, [{"id": 1, "email": "zed@gmail.com"}])
    assert run_scan(people, "--rev", "HEAD").exit_code == 0


def test_paths_and_folders(people: Path, tmp_path: Path) -> None:
    write_rows(people / "datasets" / "a" / "x.jsonl", [{"id": 1, "note": "ssn 123-45-6789"}])
    write_rows(people / "datasets" / "b" / "y.jsonl", [{"id": 1, "note": "ip 8.8.8.8"}])
    code, data = scan_json(people, people / "datasets" / "a")
    assert (code, [f["path"] for f in data["findings"]]) == (1, ["datasets/a/x.jsonl"])
    code, data = scan_json(people, people / "datasets" / "b" / "y.jsonl", people / PEOPLE_FILE)
    assert (code, data["files"], [f["detector"] for f in data["findings"]]) == (1, 2, ["ipv4"])
    code, data = scan_json(people)
    assert (data["files"], len(data["findings"])) == (3, 2)


# ---------------------------------------------------------------- known gaps


@pytest.mark.parametrize(
    "value",
    [
        "my ssn is 123-45-6789.",
        "call me at 415-555-2671.",
        "call +1-415-555-2671.",
        "card 4539578763621486.",
        "from 8.8.8.8.",
    ],
)
def test_numbers_at_the_end_of_a_sentence_are_found(value: str) -> None:
    assert len(detect(value)) == 1


@pytest.mark.parametrize("value", ["2a00::1", "2c0f::8"])
def test_short_ipv6_addresses_are_found(value: str) -> None:
    assert detect(value) == [(1, "note", "ipv6")]


def test_personal_data_in_keys_is_not_printed(plain: Path, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "keys.jsonl", [{"contacts": {LEAK: LEAK}}])
    text, as_json = run_scan(plain, path), run_scan(plain, path, "--json")
    assert text.exit_code == 1
    assert_not_shown(text, LEAK)
    assert_not_shown(as_json, LEAK)


# ---------------------------------------------------------------- generated data is clean


@pytest.fixture(scope="module")
def full_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample repository with the `full` template generated (~500k rows), once."""
    root = tmp_path_factory.mktemp("scan-full") / "shop"
    init_repo(root, sample=True)
    result = tdm("generate", "full", "--repo", root)
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.slow
def test_the_generated_full_sample_has_no_findings(full_repo: Path) -> None:
    code, data = scan_json(full_repo)
    assert (code, data["findings"], data["omitted"], data["baselined"]) == (0, [], {}, 0)
    assert data["files"] == 12  # smoke and full
    assert data["rows"] > 500_000
    # the data has the kinds of values the detectors look for
    customers = (full_repo / "datasets" / "full" / "customers.jsonl").read_text().splitlines()
    payments = (full_repo / "datasets" / "full" / "payments.jsonl").read_text().splitlines()
    assert len(customers) == 25_000 and len(payments) == 95_000
    first = [json.loads(line) for line in customers[:50]]
    assert all("@" in r["email"] and r["phone"].startswith("+1-") for r in first)
    cards = [json.loads(line)["card"] for line in payments[:200]]
    assert any(c and c["number"] in catalogue.TEST_CARD_NUMBERS for c in cards)


@pytest.mark.slow
def test_generated_values_are_clean_without_the_scanners_shortcuts(full_repo: Path) -> None:
    """The scanner hides reserved values it knows generators write at the edges of JSON
    strings; with the quotes gone, every value goes through its detector's own check."""
    for path in sorted((full_repo / "datasets").rglob("*.jsonl")):
        data = path.read_bytes().replace(b'"', b" ")
        found, lines = scanmod.scan_bytes(data, path.name)
        assert lines > 0
        assert found == [], (path.name, [str(f) for f in found[:5]])


@pytest.mark.slow
def test_one_leaking_row_among_generated_ones_is_found(full_repo: Path, tmp_path: Path) -> None:
    source = full_repo / "datasets" / "full" / "customers.jsonl"
    lines = source.read_bytes().splitlines(keepends=True)
    row = json.loads(lines[12_345])
    row["phone"] = "+1-415-555-2671"
    lines[12_345] = orjson.dumps(row) + b"\n"
    copy = tmp_path / "customers.jsonl"
    copy.write_bytes(b"".join(lines))
    code, data = scan_json(full_repo, copy)
    assert code == 1
    assert [(f["line"], f["field"], f["detector"]) for f in data["findings"]] == [
        (12_346, "phone", "phone")
    ]


CONTACTS = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": [
        "id",
        "email",
        "phone",
        "ip_address",
        "ipv6",
        "card_number",
        "notes",
        "guid",
        "born",
        "seen_at",
        "host",
        "website",
        "street_address",
        "postcode",
    ],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "email": {"type": "string", "format": "email"},
        "phone": {"type": "string"},
        "ip_address": {"type": "string", "format": "ipv4"},
        "ipv6": {"type": "string", "format": "ipv6"},
        "card_number": {"type": "string"},
        "notes": {"type": "string"},
        "guid": {"type": "string", "format": "uuid"},
        "born": {"type": "string", "format": "date"},
        "seen_at": {"type": "string", "format": "date-time"},
        "host": {"type": "string", "format": "hostname"},
        "website": {"type": "string", "format": "uri"},
        "street_address": {"type": "string"},
        "postcode": {"type": "string"},
    },
}


@pytest.mark.parametrize("locale", ["en_US", "en_GB", "de_DE", "fr_FR"])
def test_generators_of_every_fictional_phone_locale_produce_clean_data(
    tmp_path: Path, locale: str
) -> None:
    root = init_repo(tmp_path / "contacts")
    config = (root / "tdm.yaml").read_text()
    (root / "tdm.yaml").write_text(config.replace("locale: en_US", f"locale: {locale}"))
    write_file(root / "schemas" / "contacts.yaml", CONTACTS)
    write_file(
        root / "templates" / "t.yaml",
        {"seed": 3, "datasets": {"contacts": {"schema": "contacts", "count": 2000}}},
    )
    result = tdm("generate", "--repo", root)
    assert result.exit_code == 0, result.output
    rows = (root / "datasets" / "t" / "contacts.jsonl").read_text().splitlines()
    prefixes = tuple(catalogue.fictional_phone_ranges(locale)[0])
    assert all(json.loads(r)["phone"].startswith(prefixes) for r in rows[:100])
    code, data = scan_json(root)
    assert (code, data["rows"], data["findings"]) == (0, 2000, [])


def test_the_sample_as_shipped_is_clean(sample_repo: Path) -> None:
    code, data = scan_json(sample_repo)
    assert (code, data["files"], data["findings"]) == (0, 6, [])
