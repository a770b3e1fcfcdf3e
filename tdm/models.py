"""Pydantic models of tdm's files: tdm.yaml, templates, x-tdm hints, masking rules, tdm.lock.

Every model forbids unknown keys so that a typo is an error naming the key,
never a silently ignored setting.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tdm.errors import UserError
from tdm.yamlio import Located

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
NAME_HELP = "letters, digits, '_', '-' or '.', starting with a letter or digit (no '/' or '..')"
Scalar = str | int | float | bool | None


def check_name(value: str, what: str) -> str:
    """A name that becomes a file name: no separators, no '..', no leading dot."""
    if not NAME_RE.match(value) or ".." in value:
        raise ValueError(f"{what} {value!r} is not a valid name: use {NAME_HELP}")
    return value


def _empty_dict() -> dict[str, Any]:
    # a Python function, not the builtin dict: pydantic reads a default factory's signature,
    # and a builtin's costs a first run of the tokenizer (~5 ms of every command)
    return {}


def _empty_list() -> list[Any]:
    return []


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# ---------------------------------------------------------------- tdm.yaml


class Database(Model):
    """An environment's database (``tdm load --env``); the URL never holds a password."""

    url: str
    password_env: str | None = None  # the variable holding the password, if libpq's are not used

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str) -> str:
        from tdm import dburl

        if dburl.has_password(value):  # the message never repeats the URL: it holds the secret
            raise ValueError(f"the URL holds a password: {dburl.PASSWORD_FIX}")
        return value

    @field_validator("password_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
            raise ValueError("password_env must be the name of an environment variable")
        return value


class Environment(Model):
    branch: str
    protected: bool = False
    requires_masking: bool = False
    description: str = ""
    database: Database | None = None

    @field_validator("branch")
    @classmethod
    def _branch_name(cls, value: str) -> str:
        if plain_branch_name(value):
            return value
        from tdm.gitio import valid_branch_name  # git's own rule for branch names

        if not valid_branch_name(value):
            raise ValueError(f"'{value}' is not a valid git branch name")
        return value


#: names like ``main``, ``release/1.2`` or ``qa_env-2``: words of letters, digits, ``_`` and
#: ``-`` joined by single dots and slashes, starting with a letter, digit or ``_``
_PLAIN_BRANCH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(?:[./][A-Za-z0-9_-]+)*")


def plain_branch_name(name: str) -> bool:
    """A name git certainly accepts as a branch name, decided without loading libgit2 (every
    command reads tdm.yaml's environments); any other name is asked of git itself."""
    return _PLAIN_BRANCH.fullmatch(name) is not None and not any(
        part.endswith(".lock") or part.startswith(".") for part in name.split("/")
    )


class ProjectConfig(Model):
    """``tdm.yaml``: project name, defaults and environments."""

    name: str
    version: Literal[1] = 1
    seed: int = 0
    locale: str = "en_US"
    environments: dict[str, Environment] = Field(default_factory=_empty_dict)

    @field_validator("environments")
    @classmethod
    def _env_names(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        for name in value:
            check_name(name, "environment")
        return value


# ---------------------------------------------------------------- x-tdm hints


class FieldHint(Model):
    """The ``x-tdm`` object on a property (and a template override)."""

    generator: str | None = None
    params: dict[str, Scalar] = Field(default_factory=_empty_dict)
    unique: bool = False
    null_probability: float | None = Field(default=None, ge=0, le=1)
    presence: float | None = Field(default=None, ge=0, le=1)
    weights: list[Annotated[float, Field(ge=0)]] | None = None
    values: list[Any] | None = None
    value: Any = None
    ref: str | None = None
    min: int | float | date | datetime | str | None = None
    max: int | float | date | datetime | str | None = None
    start: int | None = None
    step: int | None = Field(default=None, ge=1)
    prefix: str | None = None
    width: int | None = Field(default=None, ge=0, le=40)
    pattern: str | None = None
    pii: bool | Literal["synthetic"] | None = None

    @field_validator("ref")
    @classmethod
    def _ref_form(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9_.-]+\.[A-Za-z0-9_-]+$", value):
            raise ValueError("ref must look like '<schema-or-dataset>.<field>', e.g. customers.id")
        return value


class SchemaHint(Model):
    """The ``x-tdm`` object at the top of a schema."""

    primary_key: str | None = None
    description: str = ""
    #: how many times a recursive $ref is expanded (default 3), for every property
    max_depth: int | None = Field(default=None, ge=0, le=10)


# ---------------------------------------------------------------- templates


class DatasetSpec(Model):
    schema_: str = Field(alias="schema")
    count: int = Field(ge=0, le=1_000_000_000, strict=True)  # `true` is not 1 row
    overrides: dict[str, FieldHint] = Field(default_factory=_empty_dict)

    @field_validator("schema_")
    @classmethod
    def _schema_name(cls, value: str) -> str:
        return check_name(value, "schema")


class Template(Model):
    """``templates/<name>.yaml``: a generation recipe."""

    description: str = ""
    seed: int | None = None
    locale: str | None = None
    datasets: dict[str, DatasetSpec]

    @field_validator("datasets")
    @classmethod
    def _dataset_names(cls, value: dict[str, DatasetSpec]) -> dict[str, DatasetSpec]:
        if not value:
            raise ValueError("a template needs at least one dataset")
        for name in value:
            check_name(name, "dataset")
        return value


# ---------------------------------------------------------------- masking rules


class _Rule(Model):
    pass


class RedactRule(_Rule):
    strategy: Literal["redact"]
    token: str = "[REDACTED]"


class NullifyRule(_Rule):
    strategy: Literal["nullify"]


class ConstantRule(_Rule):
    strategy: Literal["constant"]
    value: Any


class HashRule(_Rule):
    strategy: Literal["hash"]
    length: int | None = Field(default=None, ge=8, le=64)


class FakeRule(_Rule):
    strategy: Literal["fake"]
    generator: str | None = None


class PartialRule(_Rule):
    strategy: Literal["partial"]
    keep_first: int = Field(default=0, ge=0)
    keep_last: int = Field(default=0, ge=0)
    mask_char: str = Field(default="*", min_length=1, max_length=1)


class DateShiftRule(_Rule):
    strategy: Literal["date_shift"]
    max_days: int = Field(ge=1, le=36_500)
    per: str | None = None


class NoiseRule(_Rule):
    strategy: Literal["noise"]
    relative: float | None = Field(default=None, gt=0, le=10)
    absolute: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_of(self) -> NoiseRule:
        if (self.relative is None) == (self.absolute is None):
            raise ValueError("noise needs exactly one of 'relative' or 'absolute'")
        return self


class GeneralizeRule(_Rule):
    strategy: Literal["generalize"]
    to: Literal["month", "year"] | None = None
    bucket: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_of(self) -> GeneralizeRule:
        if (self.to is None) == (self.bucket is None):
            raise ValueError("generalize needs exactly one of 'to' (month|year) or 'bucket'")
        return self


class ShuffleRule(_Rule):
    strategy: Literal["shuffle"]


MaskRule = Annotated[
    RedactRule
    | NullifyRule
    | ConstantRule
    | HashRule
    | FakeRule
    | PartialRule
    | DateShiftRule
    | NoiseRule
    | GeneralizeRule
    | ShuffleRule,
    Field(discriminator="strategy"),
]


class MaskingRules(Model):
    """``masking/<name>.yaml``: how to mask the fields of one schema."""

    schema_: str = Field(alias="schema")
    description: str = ""
    rules: dict[str, MaskRule]


# ---------------------------------------------------------------- tdm.lock


class MaskProvenance(Model):
    """Where a masked dataset came from (``tdm mask``); never the key."""

    source: str  # the input file's name, without its directory
    source_sha256: str
    rules: str  # masking/<name>.yaml
    rules_sha256: str
    allowed_unmasked: list[str] = Field(default_factory=_empty_list)


class LockEntry(Model):
    """One dataset in tdm.lock: generated (recipe fields) or masked (``masked``)."""

    schema_: str = Field(alias="schema")
    template: str  # the datasets/ folder; for generated data, the template
    seed: int | None = None
    locale: str | None = None
    count: int | None = None
    rows: int
    sha256: str
    recipe: str | None = None
    tdm_version: str
    faker_version: str | None = None
    masked: MaskProvenance | None = None


class Lock(Model):
    version: Literal[1] = 1
    datasets: dict[str, LockEntry] = Field(default_factory=_empty_dict)


# ---------------------------------------------------------------- loading helpers

M = TypeVar("M", bound=BaseModel)


def _fix_for(error_type: str) -> str:
    if error_type == "extra_forbidden":
        return "remove this key or check its spelling"
    if error_type == "missing":
        return "add this key"
    return "correct this value"


def parse_model(model: type[M], doc: Located, *, base: tuple[str | int, ...] = ()) -> M:
    """Validate ``doc.data`` as ``model``; errors name the file, line, key and the fix."""
    try:
        return model.model_validate(doc.data if not base else _get(doc.data, base))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = tuple("schema" if part == "schema_" else part for part in err["loc"])
        if len(loc) > 2 and loc[0] == "rules" and loc[2] in _UNION_TAGS:
            loc = loc[:2] + loc[3:]  # pydantic adds the discriminator's tag to the path
        full = base + loc
        where = ".".join(str(p) for p in full) or "(top level)"
        more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
        raise UserError(
            f"{where}: {err['msg']}; {_fix_for(err['type'])}{more}",
            path=doc.path,
            line=doc.line_of(full),
        ) from None


_UNION_TAGS = {
    "redact",
    "nullify",
    "constant",
    "hash",
    "fake",
    "partial",
    "date_shift",
    "noise",
    "generalize",
    "shuffle",
}


def _get(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        data = data[part]
    return data
