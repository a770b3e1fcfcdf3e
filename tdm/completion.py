"""Names for shell completion: templates, datasets, environments and versions.

Each function reads the repository cheaply (file names, tdm.yaml, git refs; no dataset
is opened) and never fails: completion must not print a traceback into a shell, so any
problem gives no candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tdm.project import DATASET_DIR, Project


def _quietly(names: Callable[[Project], list[str]], start: Path, incomplete: str) -> list[str]:
    try:
        project = Project.find(start)
        found = names(project)
    except Exception:  # a completion never fails loudly
        return []
    return sorted(n for n in set(found) if n.startswith(incomplete))


def templates(start: Path, incomplete: str) -> list[str]:
    """Template names (templates/*.yaml)."""
    return _quietly(lambda p: p.template_names(), start, incomplete)


def datasets(start: Path, incomplete: str) -> list[str]:
    """``template/dataset`` for every dataset file and every dataset a template declares;
    after an ``@``, the revisions (versions and branches) to read it at."""
    name, at, rev = incomplete.partition("@")
    if at:
        return [f"{name}@{r}" for r in revisions(start, rev)]

    def names(project: Project) -> list[str]:
        out = [f"{p.parent.name}/{p.stem}" for p in project.dataset_files()]
        for template in project.template_names():
            try:
                out.extend(f"{template}/{ds}" for ds in project.template(template).datasets)
            except Exception:  # a broken template just adds no names
                continue
        return out

    return _quietly(names, start, incomplete)


def dataset_folders(start: Path, incomplete: str) -> list[str]:
    """Templates and folders of datasets/ (what `validate` and `status` take)."""

    def names(project: Project) -> list[str]:
        folders = [p.name for p in (project.root / DATASET_DIR).iterdir() if p.is_dir()]
        return project.template_names() + folders

    return _quietly(names, start, incomplete)


def environments(start: Path, incomplete: str) -> list[str]:
    """Environment names from tdm.yaml."""
    return _quietly(lambda p: list(p.config.environments), start, incomplete)


def versions(start: Path, incomplete: str) -> list[str]:
    """Version tags, newest first in the shell's own order (tags only)."""
    from tdm import gitio

    return _quietly(lambda p: [t.name for t in gitio.Git(p.root).tags()], start, incomplete)


def revisions(start: Path, incomplete: str) -> list[str]:
    """Version tags and local branches."""
    from tdm import gitio

    def names(project: Project) -> list[str]:
        git = gitio.Git(project.root)
        return [t.name for t in git.tags()] + git.branch_names()

    return _quietly(names, start, incomplete)
