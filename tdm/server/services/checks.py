"""Checks over commits: `tdm diff`'s JSON form, `tdm validate` of a commit, and masking
previews."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from tdm import diff as diffmod
from tdm import diffformat, masking, validate
from tdm.errors import UserError
from tdm.models import MaskingRules
from tdm.project import MASKING_DIR, SCHEMA_DIR, Project
from tdm.server.errors import BadRequest
from tdm.server.models import MaskPreview, ValidationResult
from tdm.server.services.repository import Repository, View, scratch
from tdm.server.settings import Settings


def diff(project: Project, base: View, head: View, compat: str, rows: int) -> dict[str, Any]:
    """``tdm diff BASE HEAD --format json`` of two commits."""
    report = diffmod.diff(project, base.commit_id, head.commit_id, compat=compat, sample=rows)  # type: ignore[arg-type]
    data = diffformat.report_json(report)
    data["base"]["revision"] = base.label
    data["head"]["revision"] = head.label
    return data


def validate_commit(settings: Settings, label: str, commit: str) -> ValidationResult:
    """In a worker process: ``tdm validate`` of the commit, in a scratch folder (never the
    working tree)."""
    git = Repository(settings).git()
    view = View(git, label, git.resolve(commit))
    with scratch(view.git) as tmp:
        report = validate.validate(view.export(tmp), jobs=1)
    return ValidationResult(
        revision=view.label, commit=view.commit_id, ok=report.ok, report=report.to_json()
    )


def mask_preview(
    view: View, project: Project, name: str, records: list[dict[str, Any]]
) -> MaskPreview:
    """The records masked by masking/<name> of the commit, with the server's key."""
    rel, data = view.document(MASKING_DIR, name, "masking rules")
    try:
        rules = MaskingRules.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        raise BadRequest(f"{rel}@{view.label}: {where}: {err['msg']}") from None
    _, schema = view.document(SCHEMA_DIR, rules.schema_, "schema")
    if not isinstance(schema, dict):
        raise BadRequest(f"schema '{rules.schema_}' is not a mapping")
    key = masking.load_key([project.root])  # the server's TDM_MASKING_KEY
    compiled = masking.Masking(rules, schema, key, project.config.locale, rel)
    out = []
    for n, record in enumerate(records, start=1):
        try:
            out.append(compiled.mask_row(record))
        except (UserError, ValueError, TypeError, OverflowError) as exc:
            raise BadRequest(f"record {n} cannot be masked by {rel}: {exc}") from None
    return MaskPreview(
        name=name,
        revision=view.label,
        commit=view.commit_id,
        records=out,
        not_applied=[f.field for f in compiled.fields if f.mask is None],
    )
