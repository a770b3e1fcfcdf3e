"""One tdm writer at a time per repository, and the temp files a killed writer leaves.

Commands that write tdm.lock, datasets or refs hold an exclusive ``flock`` on
``.git/tdm/write.lock`` for their whole run.  The kernel releases the lock when
the holder's process ends, however it ends (even SIGKILL), so a lock can never
go stale.  A second writer waits (saying for whom) or, with ``--no-wait``,
fails at once; readers (validate, status, diff, ...) never take it.

Whoever holds the lock is the only tdm writer, so any temp file of
:func:`tdm.fsutil.atomic_writer` still in the working tree belongs to a writer
that was killed: :func:`writing` removes them, as does ``tdm clean``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tdm import gitdir
from tdm.errors import UserError
from tdm.fsutil import is_temp_file
from tdm.project import DATASET_DIR, MASKING_DIR, SCHEMA_DIR, TEMPLATE_DIR, Project

LOCK_NAME = "write.lock"
#: folders (besides the repository root itself) where tdm writes files atomically
_TEMP_FOLDERS = (DATASET_DIR, SCHEMA_DIR, TEMPLATE_DIR, MASKING_DIR)


class RepositoryBusy(UserError):
    """Another tdm process is writing to the repository and the caller would not wait."""


def lock_path(project: Project) -> Path:
    """``.git/tdm/write.lock``; outside git, a file in the temp folder named after the root."""
    folder = gitdir.state_dir_of(project.root)
    if folder is not None:
        if folder.is_symlink():
            raise UserError(
                f"{folder} is a symbolic link; tdm keeps its state inside the git directory: "
                "remove the link"
            )
        folder.mkdir(parents=True, exist_ok=True)
        return folder / LOCK_NAME
    digest = hashlib.sha256(str(project.root.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"tdm-{digest}.{LOCK_NAME}"


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        pid, _, command = text.partition(" ")
        if pid.isdigit():
            return f"pid {pid}: {command}" if command else f"pid {pid}"
    return "pid unknown"


@contextlib.contextmanager
def writing(
    project: Project,
    command: str,
    *,
    wait: bool = True,
    notify: Callable[[str], None] | None = None,
) -> Iterator[list[Path]]:
    """Hold the repository's write lock for the block; yields the leftover temp files
    it removed on the way in.  Without ``wait`` a held lock raises RepositoryBusy."""
    import fcntl

    path = lock_path(project)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise UserError(f"cannot open the repository lock {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                raise RepositoryBusy(
                    f"another tdm process ({holder}) is writing to this repository; "
                    "try again when it has finished (or leave out --no-wait to wait for it)"
                ) from None
            if notify is not None:
                notify(f"waiting for another tdm process ({holder}) to finish…")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
        yield remove_temp_files(project)
    finally:
        os.close(fd)  # releases the lock


def temp_files(project: Project) -> list[Path]:
    """Temp files of tdm's atomic writers in the working tree (root and tdm folders)."""
    root = project.root
    found = [p for p in _listdir(root) if is_temp_file(p) and p.is_file()]
    for name in _TEMP_FOLDERS:
        folder = root / name
        if folder.is_symlink() or not folder.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
            found.extend(
                Path(dirpath) / f
                for f in filenames
                if is_temp_file(Path(f)) and not (Path(dirpath) / f).is_symlink()
            )
    return sorted(found)


def _listdir(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def remove_temp_files(project: Project) -> list[Path]:
    """Remove the temp files a killed writer left; call only while holding the lock."""
    removed = []
    for path in temp_files(project):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


@dataclass
class CleanResult:
    removed: list[str] = field(default_factory=list)


def clean(
    project: Project, *, wait: bool = True, notify: Callable[[str], None] | None = None
) -> CleanResult:
    """``tdm clean``: take the write lock (so no writer is running) and remove leftover temp files."""
    command = "tdm clean"
    with writing(project, command, wait=wait, notify=notify) as removed:
        return CleanResult([project.rel(p) for p in removed])
