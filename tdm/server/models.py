"""Request and response bodies of the API (pydantic), as they appear in /openapi.json."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tdm.models import NAME_RE
from tdm.server.settings import MAX_RECORD_COUNT

NAME_PATTERN = NAME_RE.pattern
Name = Field(pattern=NAME_PATTERN, min_length=1, max_length=100)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Finding(BaseModel):
    loc: list[str] = Field(default_factory=list)
    msg: str
    type: str = ""


class ErrorBody(BaseModel):
    """Every error: a sentence in ``detail``; validation failures list their findings."""

    detail: str
    findings: list[dict[str, Any]] | None = None


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Names(BaseModel):
    """Names of files of one kind at a commit."""

    revision: str
    commit: str
    names: list[str]


class Document(BaseModel):
    """One schema, template or masking file, parsed (YAML or JSON)."""

    name: str
    path: str
    revision: str
    commit: str
    document: dict[str, Any]


class WriteResult(BaseModel):
    """A write: the commit it made on the environment's branch."""

    name: str
    path: str
    environment: str
    branch: str
    commit: str
    author: str
    deleted: bool = False


class DatasetItem(BaseModel):
    dataset: str  # template/dataset
    template: str
    name: str
    schema_: str | None = Field(default=None, alias="schema")
    rows: int | None = None
    sha256: str | None = None

    model_config = ConfigDict(populate_by_name=True)


class DatasetList(BaseModel):
    revision: str
    commit: str
    datasets: list[DatasetItem]


class RecordPage(BaseModel):
    """A page of records (``Accept: application/x-ndjson`` streams them instead)."""

    dataset: str
    revision: str
    commit: str
    offset: int
    limit: int
    total: int
    next_offset: int | None
    records: list[dict[str, Any]]


class DatasetCreate(Body):
    """Generate a dataset into an environment's branch."""

    name: str = Name
    schema_: str = Field(alias="schema", pattern=NAME_PATTERN, min_length=1, max_length=100)
    template: str | None = Field(default=None, pattern=NAME_PATTERN, min_length=1, max_length=100)
    environment: str | None = Field(
        default=None, pattern=NAME_PATTERN, min_length=1, max_length=100
    )
    record_count: int = Field(
        gt=0,
        description=f"1 to {MAX_RECORD_COUNT:,} (a 413 above the server's limit)",
    )
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)


class DatasetSummary(BaseModel):
    id: str  # a UUID derived from the dataset's path
    dataset: str
    template: str
    name: str
    environment: str
    branch: str
    version: str | None  # the newest version (tag) the branch holds
    rows: int
    sha256: str
    commit: str
    created_at: str
    created_by: str


class VersionDataset(BaseModel):
    dataset: str
    rows: int
    sha256: str
    schema_: str | None = Field(default=None, alias="schema")

    model_config = ConfigDict(populate_by_name=True)


class VersionItem(BaseModel):
    version: str
    commit: str
    date: int | None
    tagger: str | None
    message: str
    datasets: list[VersionDataset]


class VersionCreate(Body):
    version: str = Field(pattern=r"^v(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)){0,2}$", max_length=40)
    message: str = Field(default="", max_length=10_000)
    environment: str | None = Field(
        default=None, pattern=NAME_PATTERN, min_length=1, max_length=100
    )


class EnvironmentItem(BaseModel):
    name: str
    branch: str
    exists: bool
    current: bool
    head: str | None
    version: str | None
    protected: bool
    requires_masking: bool
    description: str


class Promote(Body):
    from_: str = Field(alias="from", pattern=NAME_PATTERN, min_length=1, max_length=100)
    allow_breaking: bool = False
    dry_run: bool = False
    message: str | None = Field(default=None, max_length=10_000)


class Promotion(BaseModel):
    source: str
    target: str
    kind: Literal["up to date", "fast-forward", "merge"]
    commit: str | None
    merged_by_key: list[str]
    breaking: list[str]
    dry_run: bool


class ValidateRequest(Body):
    environment: str | None = Field(
        default=None, pattern=NAME_PATTERN, min_length=1, max_length=100
    )
    rev: str | None = Field(default=None, min_length=1, max_length=250)


class ValidationResult(BaseModel):
    """``tdm validate --json`` of the commit, plus which commit it was."""

    revision: str
    commit: str
    ok: bool
    report: dict[str, Any]


class MaskPreviewRequest(Body):
    records: list[dict[str, Any]] = Field(min_length=1)


class MaskPreview(BaseModel):
    name: str
    revision: str
    commit: str
    records: list[dict[str, Any]]
    not_applied: list[str]  # column-wide rules (shuffle) that need the whole dataset
