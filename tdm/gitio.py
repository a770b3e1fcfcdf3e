"""All of tdm's git access, through pygit2; git errors become tdm errors with a fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pygit2

from tdm.errors import GitError

_FLAGS = [
    (pygit2.enums.FileStatus.INDEX_NEW, "added"),
    (pygit2.enums.FileStatus.INDEX_MODIFIED, "modified"),
    (pygit2.enums.FileStatus.INDEX_DELETED, "deleted"),
    (pygit2.enums.FileStatus.INDEX_RENAMED, "renamed"),
    (pygit2.enums.FileStatus.WT_NEW, "untracked"),
    (pygit2.enums.FileStatus.WT_MODIFIED, "modified"),
    (pygit2.enums.FileStatus.WT_DELETED, "deleted"),
    (pygit2.enums.FileStatus.WT_RENAMED, "renamed"),
    (pygit2.enums.FileStatus.CONFLICTED, "conflicted"),
]


@dataclass(frozen=True)
class FileState:
    path: str  # relative to the tdm repository root, POSIX
    state: str  # added | modified | deleted | renamed | untracked | conflicted
    staged: bool


def discover(path: Path) -> pygit2.Repository | None:
    """The git repository containing ``path``, or None."""
    found = pygit2.discover_repository(str(path))
    if found is None:
        return None
    try:
        return pygit2.Repository(found)
    except pygit2.GitError as exc:
        raise GitError(f"cannot open the git repository at {found}: {exc}") from None


def init(path: Path) -> pygit2.Repository:
    """``git init`` with ``main`` as the initial branch."""
    try:
        return pygit2.init_repository(str(path), initial_head="main")
    except pygit2.GitError as exc:
        raise GitError(f"cannot create a git repository in {path}: {exc}") from None


def status(repo: pygit2.Repository, root: Path, prefixes: tuple[str, ...]) -> list[FileState]:
    """Changed and untracked files under ``root`` whose path starts with one of ``prefixes``."""
    workdir = Path(repo.workdir).resolve() if repo.workdir else None
    if workdir is None:
        return []
    try:
        below = root.resolve().relative_to(workdir).as_posix()
    except ValueError:
        return []
    below = "" if below == "." else below + "/"
    out: list[FileState] = []
    try:
        entries = repo.status(untracked_files="all")
    except pygit2.GitError as exc:
        raise GitError(f"git status failed: {exc}") from None
    for path, flags in sorted(entries.items()):
        if flags & pygit2.enums.FileStatus.IGNORED or not path.startswith(below):
            continue
        rel = path[len(below) :]
        if not any(rel == p or rel.startswith(p + "/") for p in prefixes):
            continue
        for flag, name in _FLAGS:
            if flags & flag:
                staged = name != "untracked" and bool(flag & _INDEX_MASK)
                out.append(FileState(rel, name, staged))
                break
    return out


_INDEX_MASK = (
    pygit2.enums.FileStatus.INDEX_NEW
    | pygit2.enums.FileStatus.INDEX_MODIFIED
    | pygit2.enums.FileStatus.INDEX_DELETED
    | pygit2.enums.FileStatus.INDEX_RENAMED
)
