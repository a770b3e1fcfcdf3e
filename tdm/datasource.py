"""What export and load read: a :class:`tdm.snapshot.Snapshot` of the working tree or of
any revision, with the few questions :mod:`tdm.tables` asks of it.

Every answer comes from the snapshot (its datasets, their lines, the schema a dataset
follows, templates, tdm.lock); this module only names them for tables.
"""

from __future__ import annotations

from collections.abc import Iterator

from tdm import snapshot
from tdm.errors import UserError
from tdm.models import FieldHint, Template
from tdm.project import Project, SchemaDoc


class DataSource:
    """The datasets, schemas, templates and lock of one revision (None: the working tree)."""

    def __init__(self, project: Project, rev: str | None) -> None:
        self.rev = rev
        self.snap = snapshot.at(project, rev)  # an unknown revision fails here, once

    def dataset_names(self) -> list[str]:
        """``template/dataset`` of every dataset file, sorted."""
        return sorted(self.snap.datasets())

    def lines(self, dataset: str) -> tuple[Iterator[bytes], str]:
        """The lines of a dataset (each with its newline) and its name for messages."""
        rel = self.snap.dataset_file(dataset)
        if isinstance(self.snap, snapshot.TreeSnapshot):
            # streamed out of git: a 10M-row dataset at a revision is never held whole
            blob_id = self.snap.blob_id(rel)
            if blob_id is None:
                raise UserError(f"dataset '{dataset}' does not exist at {self.snap.label} ({rel})")
            return self.snap.git.streamed_lines(blob_id), self.snap.where(rel)
        return self.snap.dataset_lines(dataset), self.snap.where(rel)

    def schema_name(self, dataset: str) -> str | None:
        """The schema ``dataset`` follows (the snapshot's one rule)."""
        return self.snap.dataset_schema(dataset)

    def schema(self, name: str) -> SchemaDoc:
        return self.snap.schema(name)

    def template(self, name: str) -> Template | None:
        """The template ``name``, None when there is none (masked data has no template)."""
        if name not in self.snap.template_files():
            return None
        return self.snap.template(name)

    def overrides(self, dataset: str) -> dict[str, FieldHint]:
        """The template's per-field overrides of ``dataset`` (none for masked data)."""
        folder, _, name = dataset.partition("/")
        template = self.template(folder)
        if template is None or name not in template.datasets:
            return {}
        return dict(template.datasets[name].overrides)

    def rows_hint(self, dataset: str) -> int | None:
        """The row count tdm.lock records for ``dataset`` (for progress bars), if any."""
        entry = self.snap.lock_entries().get(dataset)
        rows = entry.get("rows") if isinstance(entry, dict) else None
        return rows if isinstance(rows, int) else None

    def describe(self) -> str:
        return "the working tree" if self.rev is None else self.rev

    @staticmethod
    def folder_of(dataset: str) -> str:
        return dataset.partition("/")[0]
