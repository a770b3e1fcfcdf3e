"""The JSON Schema test suite as a generation corpus (draft 2020-12 and draft-07).

Every satisfiable schema of the suite (a group with at least one valid instance),
wrapped as the property ``value`` of a keyed record, is generated through the real
engine (25 rows); every row is checked by python ``jsonschema`` for the schema's own
draft with its format checker.  The bar: no invalid row, no internal error, and at
least 90% generated; the rest refused with a message (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus import jsts_cases, measure

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("draft", ["draft2020-12", "draft7"])
def test_json_schema_test_suite_generates_valid_rows(tmp_path: Path, draft: str) -> None:
    cases = jsts_cases(draft)
    assert len(cases) > 200  # the vendored suite is really there

    report = measure(tmp_path / "repo", cases)

    print(f"\n{draft}: {report.summary()}")
    assert report.count("invalid") == 0, report.listing("invalid")
    assert report.count("internal") == 0, report.listing("internal")
    assert report.generated_share >= 0.90, report.summary()
    for outcome in report.outcomes:
        if outcome.status == "refused":
            assert outcome.detail.startswith("schemas/"), outcome  # names the file
