"""``tdm rm TEMPLATE/DATASET``: remove a dataset on purpose, file and tdm.lock entry together.

A dataset that tdm.lock records but whose file is gone is a finding of validate,
status and the commit gate; `tdm rm` is the explicit way to say it should go.
tdm.lock is rewritten first and the file removed second, so an interruption in
between leaves a file tdm.lock no longer records (`tdm status`: unknown), never
a recorded dataset without its file.
"""

from __future__ import annotations

from dataclasses import dataclass

from tdm.errors import UserError
from tdm.project import Project


@dataclass(frozen=True)
class RemoveResult:
    dataset: str  # "<template>/<dataset>"
    path: str
    removed_file: bool
    removed_entry: bool
    #: the template still lists the dataset, so `tdm generate` would write it again
    still_in_template: bool


def remove(project: Project, name: str) -> RemoveResult:
    """Remove ``template/dataset``: its file and its tdm.lock entry (either may be gone)."""
    from tdm.versions import parse_dataset_name

    template, dataset, rev = parse_dataset_name(name)
    if rev is not None:
        raise UserError(f"`tdm rm` removes from the working tree; leave out '@{rev}'")
    key = f"{template}/{dataset}"
    path = project.dataset_path(template, dataset)
    if path.is_dir():
        raise UserError(f"{project.rel(path)} is a folder, not a dataset file; move it away")
    lock = project.read_lock()
    had_entry = key in lock.datasets
    had_file = path.is_file()
    if not had_entry and not had_file:
        raise UserError(
            f"no dataset {key}: neither {project.rel(path)} nor a tdm.lock entry (see `tdm status`)"
        )
    if had_entry:
        entries = {k: v for k, v in lock.datasets.items() if k != key}
        project.write_lock(lock.model_copy(update={"datasets": entries}))
    if had_file:
        path.unlink()
    listed = False
    if template in project.template_names():
        try:
            listed = dataset in project.template(template).datasets
        except UserError:
            listed = False
    return RemoveResult(key, project.rel(path), had_file, had_entry, listed)
