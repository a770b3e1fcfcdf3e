"""``tdm new schema|template NAME``: commented skeletons that validate as they are.

A new repository is empty; these files are the first step after ``tdm init``: each
one validates and generates unchanged, and its comments say what to edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tdm.errors import UserError
from tdm.fsutil import write_text_atomic
from tdm.models import check_name
from tdm.project import SCHEMA_DIR, TEMPLATE_DIR, Project

_SCHEMA = """\
# schemas/{name}.yaml: one {name} row, as JSON Schema (draft 2020-12).
# Each property may carry an `x-tdm` hint that tells the generator how to fill it
# (generator, min/max, values/weights, unique, null_probability, ref: other.field);
# without one, tdm picks values from the type and constraints. Edit, then run
# `tdm validate` and `tdm generate`.
$schema: https://json-schema.org/draft/2020-12/schema
title: {title}
description: One {name} record.
type: object
x-tdm: {{primary_key: id}}          # the field that identifies a row (unique)
required: [id, name, created_on]
additionalProperties: false
properties:
  id:         {{type: integer, minimum: 1, x-tdm: {{generator: sequence}}}}
  name:       {{type: string, maxLength: 80, x-tdm: {{generator: name}}}}
  created_on: {{type: string, format: date, x-tdm: {{min: 2020-01-01, max: 2025-12-31}}}}
  # a reference to another schema's key, for example:
  # customer_id: {{type: integer, x-tdm: {{ref: customers.id}}}}
"""

_TEMPLATE = """\
# templates/{name}.yaml: a generation recipe. `tdm generate {name}` writes
# datasets/{name}/<dataset>.jsonl for each dataset below and records it in tdm.lock.
description: {name} test data
seed: 1                  # the same seed, files and tdm version give the same bytes
datasets:
  # <dataset>: {{schema: <file in schemas/>, count: <rows>}}; a dataset whose schema
  # refers to another (x-tdm ref) needs that one in the same template.
{datasets}"""


@dataclass(frozen=True)
class Created:
    path: str  # relative to the repository root
    schemas: list[str]  # the schemas a template's datasets use


def _target(project: Project, folder: str, name: str, what: str) -> Path:
    try:
        check_name(name, what)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    for suffix in (".yaml", ".yml", ".json"):
        existing = project.root / folder / f"{name}{suffix}"
        if existing.exists():
            raise UserError(f"{folder}/{existing.name} exists already; nothing was changed")
    path = project.root / folder / f"{name}.yaml"
    project.inside(path.parent)
    return path


def new_schema(project: Project, name: str) -> Created:
    path = _target(project, SCHEMA_DIR, name, "schema")
    title = name.replace("_", " ").replace("-", " ").capitalize()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, _SCHEMA.format(name=name, title=title))
    return Created(project.rel(path), [name])


def new_template(
    project: Project, name: str, schemas: list[str] | None = None, *, count: int = 10
) -> Created:
    """A template with one dataset per schema (default: every schema in schemas/)."""
    path = _target(project, TEMPLATE_DIR, name, "template")
    known = sorted(
        p.stem for p in (project.root / SCHEMA_DIR).glob("*") if p.suffix in (".yaml", ".yml")
    )
    chosen = list(schemas) if schemas else known
    if not chosen:
        raise UserError(
            f"no schema in {SCHEMA_DIR}/ for the template to use; create one first with "
            "`tdm new schema NAME`"
        )
    missing = [s for s in chosen if s not in known]
    if missing:
        raise UserError(
            f"no schema {', '.join(repr(m) for m in missing)} in {SCHEMA_DIR}/ "
            f"(known: {', '.join(known) or 'none'}); `tdm new schema NAME` creates one"
        )
    width = max(len(s) for s in chosen) + 1
    lines = "".join(f"  {s + ':':<{width}} {{schema: {s}, count: {count}}}\n" for s in chosen)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, _TEMPLATE.format(name=name, datasets=lines))
    return Created(project.rel(path), chosen)
