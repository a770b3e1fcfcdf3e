"""What export and load read from the repository, at the working tree or any revision.

This is the one door through which :mod:`tdm.tables` (and so ``tdm export`` and
``tdm load``) reads: dataset names, their lines, the schema each follows and the
template overrides that decide its references.  It adds no reading of its own: it
asks the core (:mod:`tdm.versions` for revisions, :class:`tdm.project.Project` for the
working tree).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from pydantic import ValidationError

from tdm import versions
from tdm.errors import UserError
from tdm.models import FieldHint, Lock, SchemaHint, Template, parse_model
from tdm.project import LOCK_FILE, TEMPLATE_DIR, Project, SchemaDoc
from tdm.yamlio import Located


class DataSource:
    """The datasets, schemas, templates and lock of one revision (None: the working tree)."""

    def __init__(self, project: Project, rev: str | None) -> None:
        self.project = project
        self.rev = rev
        self._names: list[str] | None = None
        self._schemas: dict[str, SchemaDoc] = {}
        self._templates: dict[str, Template | None] = {}
        self._lock: Lock | None = None
        if rev is not None:
            from tdm import gitio

            self._git = gitio.Git(project.root)
            self._commit = self._git.resolve(rev)  # an unknown revision fails here, once

    # ------------------------------------------------------------------ datasets

    def dataset_names(self) -> list[str]:
        """``template/dataset`` of every dataset file, sorted."""
        if self._names is None:
            self._names = sorted(versions.list_datasets(self.project, self.rev))
        return self._names

    def lines(self, dataset: str) -> tuple[Iterator[bytes], str]:
        """The lines of a dataset (each with its newline) and its name for messages."""
        return versions.dataset_lines(self.project, dataset, self.rev)

    # ------------------------------------------------------------------ recipes

    def schema_name(self, dataset: str) -> str | None:
        """The schema ``dataset`` follows: its template's spec, else its tdm.lock entry."""
        if self.rev is None:
            return self.project.dataset_schema(dataset)
        folder, _, name = dataset.partition("/")
        template = self.template(folder)
        if template is not None and name in template.datasets:
            return template.datasets[name].schema_
        entry = self.lock().datasets.get(dataset)
        return entry.schema_ if entry is not None else None

    def schema(self, name: str) -> SchemaDoc:
        if name not in self._schemas:
            if self.rev is None:
                self._schemas[name] = self.project.schema(name)
            else:
                data = versions.read_schema(self.project, name, self.rev)
                hint = SchemaHint.model_validate(data.get("x-tdm", {}))
                display = f"schemas/{name}@{self.rev}"
                self._schemas[name] = SchemaDoc(
                    name, display, data, Located(data, {}, display), hint
                )
        return self._schemas[name]

    def overrides(self, dataset: str) -> dict[str, FieldHint]:
        """The template's per-field overrides of ``dataset`` (none for masked data)."""
        folder, _, name = dataset.partition("/")
        template = self.template(folder)
        if template is None or name not in template.datasets:
            return {}
        return dict(template.datasets[name].overrides)

    def template(self, name: str) -> Template | None:
        if name not in self._templates:
            self._templates[name] = self._read_template(name)
        return self._templates[name]

    def _read_template(self, name: str) -> Template | None:
        if self.rev is None:
            if name not in self.project.template_names():
                return None
            return self.project.template(name)
        from tdm.yamlio import parse_json, parse_yaml

        for suffix in (".yaml", ".yml", ".json"):
            rel = f"{TEMPLATE_DIR}/{name}{suffix}"
            blob = self._git.blob(self._commit, rel)
            if blob is None:
                continue
            display = f"{rel}@{self.rev}"
            doc = (
                parse_json(blob.data, display)
                if suffix == ".json"
                else parse_yaml(blob.data.decode("utf-8"), display)
            )
            if not isinstance(doc.data, dict):
                raise UserError("a template must be a mapping with 'datasets'", path=display)
            return parse_model(Template, doc)
        return None

    def lock(self) -> Lock:
        if self._lock is None:
            if self.rev is None:
                self._lock = self.project.read_lock()
            else:
                blob = self._git.blob(self._commit, LOCK_FILE)
                try:
                    data: Any = {} if blob is None else orjson.loads(blob.data)
                    self._lock = Lock.model_validate(data)
                except (orjson.JSONDecodeError, ValidationError):
                    raise UserError(
                        "is not a valid tdm.lock at this revision", path=f"{LOCK_FILE}@{self.rev}"
                    ) from None
        return self._lock

    def rows_hint(self, dataset: str) -> int | None:
        """The row count tdm.lock records for ``dataset`` (for progress bars), if any."""
        entry = self.lock().datasets.get(dataset)
        return entry.rows if entry is not None else None

    def describe(self) -> str:
        return "the working tree" if self.rev is None else self.rev

    @staticmethod
    def folder_of(dataset: str) -> str:
        return dataset.partition("/")[0]
