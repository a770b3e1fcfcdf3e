"""schemathesis against the app's own OpenAPI document: generated requests to every
operation (a bounded number each) get no 5xx, and every answer matches its declared
status codes, content type and schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks as st_checks
from serverkit import auth, make_tokens, served_repo

from tdm.server.app import create_app
from tdm.server.settings import Settings

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]
EXAMPLES = 12


@pytest.mark.slow
def test_every_operation_keeps_its_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TDM_MASKING_KEY", "k" * 32)
    repo = served_repo(tmp_path / "shop")
    tokens = make_tokens(tmp_path / "config" / "tokens")
    app = create_app(
        Settings(
            root=repo,
            tokens_file=tmp_path / "config" / "tokens",
            default_environment="dev",
            max_record_count=2_000,
        )
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = auth(tokens["admin"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
