"""The repository layer: which commit a request reads, which branch a write moves, and
the files of a commit.

The server reads commits, never the working tree: a request names an environment
(its branch), a revision (tag, branch, commit), or neither (the server's default
environment, else HEAD).  Writes go to an environment's branch only, and never to a
branch checked out in the working tree (git refuses a push into one for the same
reason: the checkout would silently fall behind).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tdm import gitio
from tdm.errors import UserError
from tdm.models import Environment, check_name
from tdm.project import (
    CONFIG_FILE,
    DATASET_DIR,
    LOCK_FILE,
    MASKING_DIR,
    SCHEMA_DIR,
    TEMPLATE_DIR,
    Project,
)
from tdm.server.auth import Caller
from tdm.server.errors import BadRequest, Conflict, Forbidden, NotFound
from tdm.server.settings import Settings
from tdm.snapshot import TreeSnapshot
from tdm.yamlio import parse_json, parse_yaml

SUFFIXES = (".yaml", ".yml", ".json")


def checked_name(value: str, what: str) -> str:
    try:
        return check_name(value, what)
    except ValueError as exc:
        raise NotFound(f"{exc}; no such {what}") from None


@dataclass
class View:
    """The tdm files of one commit."""

    git: gitio.Git
    label: str  # the environment, revision or "HEAD" the caller asked for
    commit: gitio.Commit
    environment: str | None = None
    branch: str | None = None

    def __post_init__(self) -> None:
        self.side = TreeSnapshot.of_commit(self.git, self.commit, self.label)

    @property
    def commit_id(self) -> str:
        return str(self.commit.id)

    def names(self, folder: str) -> list[str]:
        return sorted(
            {f.rsplit(".", 1)[0] for f in self.side.files(folder) if f.endswith(SUFFIXES)}
        )

    def path_of(self, folder: str, name: str) -> str | None:
        """``folder/name.yaml`` (or .yml, .json) as it exists in the commit."""
        for suffix in SUFFIXES:
            rel = f"{folder}/{name}{suffix}"
            if self.side.blob_id(rel) is not None:
                return rel
        return None

    def document(self, folder: str, name: str, what: str) -> tuple[str, Any]:
        """(path, parsed document) of a named YAML or JSON file; 404 when it is missing."""
        checked_name(name, what)
        rel = self.path_of(folder, name)
        if rel is None:
            known = ", ".join(self.names(folder)) or "none"
            raise NotFound(f"{what} '{name}' does not exist at {self.label} (known: {known})")
        return rel, parse_document(self.side.read(rel) or b"", f"{rel}@{self.label}")

    def blob_id(self, rel: str) -> str | None:
        return self.side.blob_id(rel)

    def export(
        self,
        dest: Path,
        changes: Mapping[str, bytes | None] | None = None,
        *,
        datasets: bool = True,
    ) -> Project:
        """The commit's tdm files written under ``dest`` with ``changes`` applied (path ->
        bytes, None deletes): a project that tdm's core can validate or generate into."""
        files: dict[str, bytes | None] = {}
        for rel in (CONFIG_FILE, LOCK_FILE, ".gitignore", ".gitattributes"):
            files[rel] = None
        folders = [SCHEMA_DIR, TEMPLATE_DIR, MASKING_DIR]
        if datasets:
            folders += [f"{DATASET_DIR}/{f}" for f in self.side.folders(DATASET_DIR)]
        wanted = [rel for rel in files]
        for folder in folders:
            wanted += [f"{folder}/{name}" for name in self.side.files(folder)]
        for rel in wanted:
            if not gitio.safe_relpath(rel):
                continue
            data = self.side.read(rel)
            if data is not None:
                files[rel] = data
        files.update(changes or {})
        root = dest.resolve()
        for rel, data in files.items():
            if data is None:
                continue
            target = dest / rel
            if not gitio.safe_relpath(rel) or not target.parent.resolve().is_relative_to(root):
                raise BadRequest(f"refusing the path {rel!r}: it would leave the repository")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return Project.load(dest)

    def read(self, rel: str) -> bytes | None:
        return self.side.read(rel)


def parse_document(data: bytes, display: str) -> Any:
    if display.split("@")[0].endswith(".json"):
        return parse_json(data, display).data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("file is not UTF-8 text", path=display) from None
    return parse_yaml(text, display).data


@contextlib.contextmanager
def scratch(git: gitio.Git) -> Iterator[Path]:
    """A temporary folder inside the git directory (same file system, never the
    working tree), removed afterwards."""
    base = Path(git.repo.path) / "tdm"
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="serve-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Repository:
    """The served repository.  Each thread keeps its own open git repository (pygit2
    objects are never shared between threads); refs are read afresh on every lookup."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.root
        self._local = threading.local()
        self._project: tuple[tuple[int, int], Project] | None = None
        self._project_lock = threading.Lock()

    def project(self) -> Project:
        """The repository's tdm.yaml, read again when it changed."""
        st = (self.root / CONFIG_FILE).stat()
        stamp = (st.st_mtime_ns, st.st_size)
        with self._project_lock:
            if self._project is None or self._project[0] != stamp:
                self._project = (stamp, Project.load(self.root))
            return self._project[1]

    def git(self) -> gitio.Git:
        git: gitio.Git | None = getattr(self._local, "git", None)
        if git is None:
            git = gitio.Git(self.root)
            self._local.git = git
        return git

    def environments(self) -> dict[str, Environment]:
        return dict(self.project().config.environments)

    def environment(self, name: str) -> Environment:
        envs = self.environments()
        if name not in envs:
            known = ", ".join(sorted(envs)) or "none"
            raise NotFound(f"no environment '{name}' in tdm.yaml (known: {known})")
        return envs[name]

    def view(self, caller: Caller, environment: str | None = None, rev: str | None = None) -> View:
        """The commit a read sees: ``rev``, else the environment's branch tip, else the
        default environment's, else HEAD."""
        git = self.git()
        if rev is not None:
            if environment is not None:
                raise BadRequest("name either an environment or a rev, not both")
            commit = self._resolve(git, rev)
            if caller.token.environments:
                self._check_contained(git, caller, rev, commit)
            return View(git, rev, commit)
        name = environment or self.settings.default_environment
        if name is None:
            if caller.token.environments:
                raise Forbidden(
                    f"token '{caller.name}' is limited to the environment(s) "
                    f"{', '.join(caller.token.environments)}: name one with ?environment="
                )
            head = git.head()
            if head is None:
                raise NotFound("nothing is committed yet in the served repository")
            return View(git, "HEAD", head)
        caller.check_environment(name)
        env = self.environment(name)
        branch = git.branch_of(env.branch)
        if branch is None:
            raise NotFound(
                f"environment '{name}' has no branch {env.branch} yet; create it with "
                f"`tdm env create {name} --from ENV`"
            )
        return View(git, name, git.resolve(f"refs/heads/{env.branch}"), name, env.branch)

    def _resolve(self, git: gitio.Git, rev: str) -> Any:
        if rev.startswith("-") or not rev.strip():
            raise NotFound(f"unknown revision '{rev}'")
        try:
            return git.resolve(rev)
        except UserError:
            raise NotFound(
                f"unknown revision '{rev}': not a branch, tag or commit of the served repository"
            ) from None

    def _check_contained(self, git: gitio.Git, caller: Caller, rev: str, commit: Any) -> None:
        """A token limited to some environments reads only commits their branches hold."""
        envs = self.environments()
        for name in caller.token.environments:
            env = envs.get(name)
            if env is None or git.branch_of(env.branch) is None:
                continue
            tip = git.resolve(f"refs/heads/{env.branch}")
            base = git.merge_base(tip, commit)
            if base is not None and base.id == commit.id:
                return
        raise Forbidden(
            f"token '{caller.name}' is limited to the environment(s) "
            f"{', '.join(caller.token.environments)}, whose branches do not contain {rev}"
        )

    def branch_view(self, environment: str, branch: str) -> View:
        """The tip of ``branch`` now, read afresh."""
        git = self.git()
        return View(git, environment, git.resolve(f"refs/heads/{branch}"), environment, branch)

    def write_target(self, caller: Caller, environment: str | None) -> tuple[str, str]:
        """(environment, branch) a write goes to: named, or the server's default."""
        name = environment or self.settings.default_environment
        if name is None:
            known = ", ".join(sorted(self.environments())) or "none declared in tdm.yaml"
            raise BadRequest(
                "writes go to an environment's branch: name one with `environment` "
                f"(known: {known}), or start the server with --environment NAME"
            )
        caller.check_environment(name)
        env = self.environment(name)
        git = self.git()
        if git.branch_of(env.branch) is None:
            raise NotFound(
                f"environment '{name}' has no branch {env.branch} yet; create it with "
                f"`tdm env create {name} --from ENV`"
            )
        if git.current_branch() == env.branch:
            raise Conflict(
                f"the branch {env.branch} of environment '{name}' is checked out in the served "
                "clone; the server never moves a checked-out branch (its working tree would fall "
                "behind): switch that clone to another branch, or serve a clone of its own"
            )
        return name, env.branch


class BlobCache:
    """Dataset bytes by blob id (blobs never change), bounded by total size, with the
    offsets of their line starts for paging.  A blob enters the cache checked: every
    line a JSON object, so a page can be answered with the stored bytes as they are."""

    def __init__(self, capacity: int = 1 << 30) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, tuple[bytes, Any]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, blob_id: str) -> tuple[bytes, Any] | None:
        """(bytes, line starts) of a cached blob."""
        with self._lock:
            hit = self._items.get(blob_id)
            if hit is not None:
                self._items.move_to_end(blob_id)
            return hit

    def load(self, blob_id: str, read: Callable[[], bytes], display: str) -> tuple[bytes, Any]:
        """Read, check and cache a blob (a blocking call: run it in a thread)."""
        hit = self.get(blob_id)
        if hit is not None:
            return hit
        data = read()
        starts = line_starts(data)
        check_json_lines(data, starts, display)
        with self._lock:
            if blob_id not in self._items and len(data) <= self.capacity:
                self._items[blob_id] = (data, starts)
                self._size += len(data)
                while self._size > self.capacity:
                    _, (old, _) = self._items.popitem(last=False)
                    self._size -= len(old)
        return data, starts


def line_starts(data: bytes) -> Any:
    """A numpy array of the offsets where the lines of ``data`` start."""
    import numpy as np

    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], ends + 1)).astype(np.int64)
    return starts[:-1] if starts[-1] == len(data) else starts


def check_json_lines(data: bytes, starts: Any, display: str, block: int = 2_000) -> None:
    """Every line of ``data`` is a JSON object; else a 400 naming the first bad line."""
    import orjson

    total = len(starts)
    for first in range(0, total, block):
        last = min(first + block, total)
        start = int(starts[first])
        end = int(starts[last]) if last < total else len(data)
        piece = data[start:end].rstrip(b"\n")
        try:
            rows = orjson.loads(b"[" + piece.replace(b"\n", b",") + b"]")
        except orjson.JSONDecodeError:
            rows = None
        if rows is None or len(rows) != last - first or not all(type(r) is dict for r in rows):
            for n, line in enumerate(piece.split(b"\n"), start=first + 1):
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise BadRequest(f"{display}: line {n} is not valid JSON ({exc})") from None
                if not isinstance(row, dict):
                    raise BadRequest(f"{display}: line {n} is not a JSON object")
            raise BadRequest(f"{display} is not valid JSON Lines")
