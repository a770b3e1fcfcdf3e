"""Writes: a change to an environment's branch, made in memory and moved into place with
a compare-and-swap of the branch's ref.

Nothing here touches a working tree or the index: the files of the branch's tip are
changed in memory (``gitio.Git.commit_changes``), the result is validated as
``tdm commit`` would validate it (in a scratch folder), and the branch moves only if
it still points where it was read.  A writer that lost that race reads the new tip
and tries again, unless the files it writes changed meanwhile: then its change
would silently undo another's, and it is answered 409.  Writers of one server take
turns per branch (a lock), so the race is only ever lost to another process.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tdm import gitio, validate
from tdm.server.auth import Caller
from tdm.server.errors import BadRequest, Conflict
from tdm.server.services.repository import Repository, View, scratch
from tdm.server.settings import Settings

MAX_ATTEMPTS = 25
Changes = Mapping[str, bytes | None]

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def branch_lock(root: str, branch: str) -> Iterator[None]:
    """This process's writers of one branch, one at a time."""
    with _locks_guard:
        lock = _locks.setdefault(f"{root}\0{branch}", threading.Lock())
    with lock:
        yield


def signature(name: str) -> Any:
    """The caller as a commit author: the token's name."""
    return gitio.Signature(name, f"{name}@tdm-serve.invalid")


@dataclass(frozen=True)
class Committed:
    environment: str
    branch: str
    commit: str
    time: int  # the commit's time, seconds since the epoch
    author: str


def check_valid(view: View, changes: Changes) -> None:
    """``tdm validate`` of the tip with ``changes``: findings are a 400 and nothing is
    committed."""
    with scratch(view.git) as tmp:
        report = validate.validate(view.export(tmp, changes), jobs=1)
    if not report.ok:
        data = report.to_json()
        findings = data["findings"]
        n = len(findings) + sum(data["omitted"].values())
        first = findings[0]
        where = first["path"] + (f":{first['line']}" if first["line"] else "")
        raise BadRequest(
            f"validation found {n} problem(s), nothing was committed; first: {where}: "
            f"{first['message']}",
            findings,
        )


def _same(view: View, rel: str, data: bytes | None) -> bool:
    """Whether ``rel`` already holds ``data`` at the view (None: is absent), by git's own
    object id of the bytes, so a large file is not read back."""
    current = view.blob_id(rel)
    if data is None or current is None:
        return data is None and current is None
    digest = hashlib.sha1(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest() == current


class Change(ABC):
    """A write, as an object a worker process can receive: what it changes on a tip,
    and which paths must not have changed under it between two attempts."""

    message: str = ""

    @abstractmethod
    def prepare(self, view: View) -> Changes:
        """The files this write puts on (bytes) or removes from (None) the tip ``view``."""

    @abstractmethod
    def watched(self, view: View) -> set[str]:
        """Paths whose change under this write, between two attempts, is a conflict."""


@dataclass(frozen=True)
class Outcome:
    committed: Committed
    change: Change  # as the worker left it (what it found out while preparing)


def run_change(settings: Settings, env: str, branch: str, author: str, change: Change) -> Outcome:
    """In the worker: :func:`commit_on` for one change."""
    repo = Repository(settings)
    done = commit_on(repo, env, branch, author, change.message, change.prepare, change.watched)
    return Outcome(done, change)


def commit(
    repo: Repository, caller: Caller, environment: str | None, change: Change, worker: Any
) -> Outcome:
    """Commit ``change`` on the environment's branch: validated and committed in the
    worker process (the server's readers never wait on a validation), one writer of
    the branch at a time in this server."""
    env, branch = repo.write_target(caller, environment)
    with branch_lock(str(repo.root), branch):
        out: Outcome = submit(worker, run_change, repo.settings, env, branch, caller.name, change)
        return out


def submit(worker: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in the worker process; a dead worker is replaced on the next call."""
    try:
        return worker().submit(fn, *args).result()
    except BrokenProcessPool:
        worker.shutdown(wait=False)
        raise


def commit_on(
    repo: Repository,
    env: str,
    branch: str,
    author: str,
    message: str,
    prepare: Callable[[View], Changes],
    watched: Callable[[View], set[str]],
) -> Committed:
    first: View | None = None
    for _ in range(MAX_ATTEMPTS):
        view = repo.branch_view(env, branch)
        if first is None:
            first = view
        else:
            moved = sorted(p for p in watched(first) if first.blob_id(p) != view.blob_id(p))
            if moved:
                raise Conflict(
                    f"{', '.join(moved)} changed on {branch} while this change was made "
                    f"(now at {view.commit_id[:12]}); read it again and retry"
                )
        changes = prepare(view)
        if all(_same(view, rel, data) for rel, data in changes.items()):
            # nothing to change (the same write again): no empty commit
            return Committed(env, branch, view.commit_id, int(view.commit.commit_time), author)
        check_valid(view, changes)
        try:
            oid = view.git.commit_changes(
                branch, changes, message, base=view.commit_id, author=signature(author)
            )
        except gitio.RefMoved:
            continue  # another process moved the branch first: rebuild on its tip
        made = view.git.resolve(str(oid))
        return Committed(env, branch, str(oid), int(made.commit_time), author)
    raise Conflict(
        f"{branch} kept moving: {MAX_ATTEMPTS} attempts lost the race to other writers; retry"
    )
