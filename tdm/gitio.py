"""All of tdm's git access, through pygit2; git errors become tdm errors with a fix."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

from tdm import blobread
from tdm.errors import GitError

# libgit2 re-hashes every object it reads; git itself does not (it checks objects in
# `git fsck` and when receiving them), and the check costs a fifth of reading a large
# dataset.  tdm reads what git wrote, like git.
pygit2.option(pygit2.enums.Option.ENABLE_STRICT_HASH_VERIFICATION, False)

#: pygit2's types, named here so other modules can annotate without importing pygit2
Commit = pygit2.Commit
Tree = pygit2.Tree
Oid = pygit2.Oid
Repository = pygit2.Repository
Signature = pygit2.Signature

_REGULAR = (pygit2.enums.FileMode.BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE)

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


def _objects_dir(repo: pygit2.Repository) -> Path:
    """The object folder (a linked work tree's git folder names the shared one)."""
    base = Path(repo.path)
    common = base / "commondir"
    if common.is_file():
        base = base / common.read_text(encoding="utf-8").strip()
    return base / "objects"


def state_dir(repo: pygit2.Repository) -> Path:
    """tdm's own folder inside the git directory (``.git/tdm``): the validation cache,
    merge conflict reports and scratch folders.  Not created here."""
    return Path(repo.path) / "tdm"


def is_ignored(repo: pygit2.Repository, path: str) -> bool:
    """Whether git ignores ``path`` (relative to the git work tree; a folder ends in "/").
    An unusual path git cannot answer for counts as not ignored."""
    try:
        return bool(repo.path_is_ignored(path))
    except (KeyError, ValueError, pygit2.GitError):
        return False


def valid_branch_name(name: str) -> bool:
    """Whether git accepts ``name`` as a branch name."""
    return bool(pygit2.reference_is_valid_name(f"refs/heads/{name}"))


def hooks_dir(repo: pygit2.Repository) -> Path:
    """Where git looks for hooks: ``core.hooksPath`` when set, else ``.git/hooks``."""
    try:
        configured = repo.config["core.hooksPath"]
    except KeyError:
        configured = None
    if configured:
        path = Path(os.path.expanduser(str(configured)))
        if not path.is_absolute():
            path = Path(repo.workdir or repo.path) / path
        return path
    return Path(repo.path) / "hooks"


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


# ---------------------------------------------------------------------- versions in git


def _translate(exc: Exception, doing: str) -> GitError:
    text = str(exc)
    if "index.lock" in text or "Failed to create locked file" in text or "lock" in text.lower():
        return GitError(
            f"{doing}: another git process seems to be running (a .lock file exists in .git); "
            "wait for it to finish, or remove the stale lock file if no git process is running"
        )
    return GitError(f"{doing}: {text}")


class CheckoutConflict(GitError):
    """A checkout would overwrite uncommitted changes in ``paths``."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        super().__init__(f"uncommitted changes in the way: {', '.join(paths)}")


class _ConflictWatcher(pygit2.callbacks.CheckoutCallbacks):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def checkout_notify_flags(self) -> pygit2.enums.CheckoutNotify:
        return pygit2.enums.CheckoutNotify.CONFLICT

    def checkout_notify(
        self, why: Any, path: str, baseline: Any, target: Any, workdir: Any
    ) -> None:
        self.paths.append(path)


@dataclass(frozen=True)
class CommitInfo:
    id: str
    short: str
    author: str
    email: str
    time: int  # seconds since the epoch
    offset: int  # minutes east of UTC
    message: str


@dataclass(frozen=True)
class TagInfo:
    name: str
    target: str  # commit id
    tagger: str | None
    time: int | None
    message: str


class Git:
    """One git repository seen from a tdm repository at ``root`` (possibly a sub-folder)."""

    def __init__(self, root: Path) -> None:
        repo = discover(root)
        if repo is None or repo.workdir is None:
            raise GitError(
                f"{root} is not in a git repository (or it is bare); run `git init` or `tdm init` there"
            )
        self.repo = repo
        self.workdir = Path(repo.workdir).resolve()
        try:
            below = root.resolve().relative_to(self.workdir).as_posix()
        except ValueError:
            raise GitError(f"{root} is outside the git work tree {self.workdir}") from None
        #: the tdm root inside the git tree: "" or "sub/dir/"
        self.prefix = "" if below == "." else below + "/"

    # ------------------------------------------------------------------ identity, revisions

    def signature(self, role: str = "COMMITTER") -> pygit2.Signature:
        """The user's identity as git would use it: GIT_AUTHOR_* / GIT_COMMITTER_* from the
        environment first, then user.name and user.email from git config."""
        name = os.environ.get(f"GIT_{role}_NAME")
        email = os.environ.get(f"GIT_{role}_EMAIL")
        try:
            if name and email:
                return pygit2.Signature(name, email)
            default = self.repo.default_signature
            return pygit2.Signature(name or default.name, email or default.email)
        except (KeyError, ValueError, pygit2.GitError):
            raise GitError(
                'no git identity is configured; run `git config --global user.name "Your Name"` '
                "and `git config --global user.email you@example.com`"
            ) from None

    def head(self) -> pygit2.Commit | None:
        """The commit HEAD points at, None on an unborn branch."""
        if self.repo.head_is_unborn:
            return None
        return self.repo.head.peel(pygit2.Commit)

    def resolve(self, rev: str) -> pygit2.Commit:
        """A branch, tag, commit id (short too) or any git revision expression."""
        try:
            obj = self.repo.revparse_single(rev)
            return obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise GitError(
                f"unknown revision '{rev}': not a branch, tag or commit here (see `tdm versions`, `tdm log`)"
            ) from None

    def branch_of(self, rev: str) -> pygit2.Branch | None:
        """The local branch named ``rev``, if it is one."""
        return self.repo.branches.local.get(rev)

    def current_branch(self) -> str | None:
        if self.repo.head_is_detached:
            return None
        ref = self.repo.lookup_reference("HEAD").target
        return str(ref).removeprefix("refs/heads/")

    # ------------------------------------------------------------------ reading trees

    def read_blob(self, oid: pygit2.Oid | str) -> bytes:
        """A blob's bytes straight from the object database (no Blob object is kept, so
        libgit2's copy is freed as soon as Python has its own)."""
        return bytes(self.repo.odb.read(oid)[1])

    def merge_base(self, a: pygit2.Commit, b: pygit2.Commit) -> pygit2.Commit | None:
        """The best common ancestor of two commits, None when they share no history."""
        found = self.repo.merge_base(a.id, b.id)
        return None if found is None else self.repo[found].peel(pygit2.Commit)

    def add_paths(self, rels: list[str]) -> None:
        """``git add`` of files (relative to the tdm root): also clears their conflict state."""
        index = self.repo.index
        index.read()
        for rel in rels:
            index.add(self.prefix + rel)
        index.write()

    def staged_index(self) -> pygit2.Index:
        """The index the next commit is made from.  Inside a hook git may point at a
        temporary one (``git commit -a`` or ``git commit FILES``) in GIT_INDEX_FILE."""
        named = os.environ.get("GIT_INDEX_FILE")
        if named:
            path = Path(named)
            if not path.is_absolute():
                path = self.workdir / path
            if path.is_file():
                return pygit2.Index(str(path))
        index: pygit2.Index = self.repo.index
        index.read()
        return index

    # ------------------------------------------------------------------ entries (snapshots)

    def entry(self, tree: pygit2.Tree | None, rel: str) -> Entry | None:
        """The entry at ``rel`` (relative to the tdm root) in ``tree``, or None."""
        obj = _get(tree, self.prefix + rel)
        return None if obj is None else _entry(obj)

    def entries(self, tree: pygit2.Tree | None, folder: str) -> list[Entry]:
        """The entries directly in ``folder`` (relative to the tdm root) of ``tree``."""
        if tree is None:
            return []
        path = (self.prefix + folder).rstrip("/")
        obj = _get(tree, path) if path else tree
        if not isinstance(obj, pygit2.Tree):
            return []
        return [_entry(e) for e in obj if e.name]

    def staged_entries(self) -> dict[str, Entry]:
        """Every staged file under the tdm root: path relative to it -> entry (its ``name``
        is that path).  Conflicted paths (no stage 0 entry) are left out."""
        out = {}
        for e in self.staged_index():
            if e.path.startswith(self.prefix):
                rel = e.path[len(self.prefix) :]
                out[rel] = Entry(rel, _kind(e.mode), str(e.id), int(e.mode))
        return out

    def tree_of(self, rev_or_id: str) -> pygit2.Tree:
        """The tree object with id ``rev_or_id`` (or the tree of a revision)."""
        try:
            obj = self.repo.revparse_single(rev_or_id)
            return obj.peel(pygit2.Tree)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise GitError(f"unknown tree or revision '{rev_or_id}'") from None

    def chunks(self, blob_id: str) -> Iterator[bytes]:
        """A blob's bytes in blocks (see :meth:`blob_bytes`)."""
        found = self.blob_bytes(blob_id)
        if not isinstance(found, bytes):
            return found
        return (found[i : i + READ_BLOCK] for i in range(0, len(found), READ_BLOCK))

    def streamed_lines(self, blob_id: str) -> Iterator[bytes]:
        """A blob's lines in bounded memory, however large the blob (for exports of large
        datasets at a revision): a loose or undeltified packed object is inflated as a
        stream (the blob cache, which holds whole blobs, is not used); only a delta is
        rebuilt whole (libgit2)."""
        oid = str(blob_id)
        objects = _objects_dir(self.repo)
        loose = objects / oid[:2] / oid[2:]
        if loose.is_file():
            yield from blobread.lines(blobread.loose_blocks(loose, None))
            return
        try:
            _kind, size = self.repo.odb.read_header(oid)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise GitError(f"cannot read the git object {oid}: {exc}") from None
        packed = blobread.find_packed(objects, oid)
        if packed is not None and packed[2] == size:
            yield from blobread.lines(blobread.packed_blocks(packed[0], packed[1], size, None))
            return
        yield from io.BytesIO(self.read_blob(oid))

    def lines(self, blob_id: str) -> Iterator[bytes]:
        """A blob's lines, each with its newline (see :meth:`blob_bytes`)."""
        found = self.blob_bytes(blob_id)
        if not isinstance(found, bytes):
            return blobread.lines(found)
        return iter(io.BytesIO(found))

    def blob_cache(self) -> blobread.BlobCache:
        """Inflated large blobs under ``.git/tdm/blobs`` (see :mod:`tdm.blobread`)."""
        return blobread.BlobCache(state_dir(self.repo) / "blobs", blobread.cap_bytes())

    def blob_bytes(self, blob_id: str) -> bytes | Iterator[bytes]:
        """A blob's bytes: whole, or for a large loose or whole packed object a stream of
        blocks inflated as the caller reads them (:mod:`tdm.blobread`).  A large blob is
        read from the blob cache when it is there, and put there otherwise (written by a
        thread beside the caller)."""
        oid = str(blob_id)
        try:
            kind, size = self.repo.odb.read_header(oid)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise GitError(f"cannot read the git object {oid}: {exc}") from None
        if kind != pygit2.enums.ObjectType.BLOB:
            raise GitError(f"the git object {oid} is not a file")
        if size < blobread.MIN_CACHED:
            return self.read_blob(oid)
        cache = self.blob_cache()
        wanted = cache.wants(size)
        if wanted:
            cached = cache.read(oid)
            if cached is not None:
                return cached
        writer = (lambda: cache.writer(oid, size)) if wanted else None
        objects = _objects_dir(self.repo)
        loose = objects / oid[:2] / oid[2:]
        if loose.is_file():
            return blobread.loose_blocks(loose, writer)
        packed = blobread.find_packed(objects, oid)
        if packed is not None and packed[2] == size:
            pack, offset, _ = packed
            return blobread.packed_blocks(pack, offset, size, writer)
        data = self.read_blob(oid)  # a delta in a pack (or an alternate): libgit2 reads it
        if wanted:  # written beside the caller's parsing (file writes release the GIL)
            threading.Thread(target=cache.put, args=(oid, data), name="tdm-cache").start()
        return data

    def export_tree(self, tree: pygit2.Tree, dest: Path, prefixes: tuple[str, ...]) -> Path:
        """The files of ``tree`` under the tdm root whose path starts with one of
        ``prefixes``, written under ``dest`` (regular files only, every path checked to stay
        inside it); returns ``dest``."""
        base = self.prefix.rstrip("/")
        node = _get(tree, base) if base else tree
        if not isinstance(node, pygit2.Tree):
            return dest

        def wanted() -> Iterator[tuple[str, pygit2.Oid | str, int]]:
            for rel, obj in walk_entries(node):
                if any(rel == p or rel.startswith(p + "/") for p in prefixes):
                    yield rel, obj.id, obj.filemode

        write_regular_blobs(self, wanted(), dest)
        return dest

    # ------------------------------------------------------------------ branches

    def branch_names(self) -> list[str]:
        """The local branches' names."""
        return list(self.repo.branches.local)

    def branch_commit(self, name: str) -> pygit2.Commit | None:
        """The commit the local branch ``name`` points at, None when there is no such branch."""
        branch = self.repo.branches.local.get(name)
        return None if branch is None else branch.peel(pygit2.Commit)

    def create_branch(self, name: str, start: pygit2.Commit) -> None:
        """A new local branch at ``start`` (never moves an existing one)."""
        try:
            self.repo.branches.local.create(name, start)
        except (pygit2.GitError, ValueError) as exc:
            raise GitError(f"cannot create branch {name}: {exc}") from None

    def delete_branch(self, name: str) -> None:
        try:
            self.repo.branches.local.delete(name)
        except (KeyError, pygit2.GitError) as exc:
            raise _translate(exc, f"cannot delete branch {name}") from None

    def contains(self, tip: pygit2.Commit | pygit2.Oid | str, commit: pygit2.Oid | str) -> bool:
        """Whether ``commit`` is ``tip`` or one of its ancestors."""
        tip_id = tip.id if isinstance(tip, pygit2.Commit) else pygit2.Oid(hex=str(tip))
        other = pygit2.Oid(hex=str(commit))
        return tip_id == other or bool(self.repo.descendant_of(tip_id, other))

    def move_branch(
        self, name: str, new: pygit2.Oid | str, *, expected: pygit2.Oid | str | None, message: str
    ) -> None:
        """Point the local branch ``name`` at ``new`` if it still points at ``expected``
        (None: the branch must not exist yet), atomically: the ref is locked (git's own
        ``.lock`` protocol), compared, then written.  Raises :class:`RefMoved` when another
        writer moved it first, so the caller can rebuild on the new tip and retry."""
        ref = f"refs/heads/{name}"
        if not valid_branch_name(name):
            raise GitError(f"'{name}' is not a valid branch name")
        try:
            with self.repo.transaction() as txn:
                txn.lock_ref(ref)
                current = self._ref_target(ref)
                want = None if expected is None else str(expected)
                if current != want:
                    raise RefMoved(name, want, current)
                # no signature: pygit2 1.21 cannot pass one here; libgit2 then writes the
                # reflog entry with the repository's configured identity
                txn.set_target(ref, pygit2.Oid(hex=str(new)), None, message)
        except pygit2.GitError as exc:
            if "lock" in str(exc).lower():
                raise RefMoved(name, None if expected is None else str(expected), None) from None
            raise _translate(exc, f"cannot update branch {name}") from None

    def _ref_target(self, ref: str) -> str | None:
        try:
            found = self.repo.references.get(ref)
        except pygit2.GitError:
            return None
        if found is None:
            return None
        return str(found.resolve().target)

    # ------------------------------------------------------------------ commits in memory

    def build_tree(
        self, base: pygit2.Tree | pygit2.Commit | None, changes: Mapping[str, bytes | None]
    ) -> pygit2.Oid:
        """A tree: ``base`` (a tree, a commit's tree, or empty) with ``changes`` applied,
        paths relative to the tdm root -> new bytes (a regular file) or None (delete).
        Blobs and trees are written to the object database; the working tree, the index
        and every ref are left alone."""
        index = pygit2.Index()
        tree = base.tree if isinstance(base, pygit2.Commit) else base
        if tree is not None:
            index.read_tree(tree)
        for rel, data in sorted(changes.items()):
            if not safe_relpath(rel):
                raise GitError(f"refusing the path {rel!r}: not a plain path inside the repository")
            path = self.prefix + rel
            if data is None:
                if path in index:
                    index.remove(path)
                continue
            oid = self.repo.create_blob(data)
            index.add(pygit2.IndexEntry(path, oid, pygit2.enums.FileMode.BLOB))
        try:
            return index.write_tree(self.repo)
        except pygit2.GitError as exc:
            raise _translate(exc, "cannot write the tree") from None

    def commit_tree(
        self,
        tree: pygit2.Oid | str,
        parents: list[pygit2.Oid | str],
        message: str,
        *,
        author: pygit2.Signature | None = None,
        committer: pygit2.Signature | None = None,
    ) -> pygit2.Oid:
        """A commit object of ``tree`` on ``parents``; no ref moves (see :meth:`move_branch`).
        The identities default to the user's (environment, then git config)."""
        try:
            return self.repo.create_commit(
                None,
                author or self.signature("AUTHOR"),
                committer or self.signature("COMMITTER"),
                message if message.endswith("\n") else message + "\n",
                pygit2.Oid(hex=str(tree)),
                [pygit2.Oid(hex=str(p)) for p in parents],
            )
        except pygit2.GitError as exc:
            raise _translate(exc, "cannot create the commit") from None

    def commit_changes(
        self,
        branch: str,
        changes: Mapping[str, bytes | None],
        message: str,
        *,
        base: pygit2.Oid | str | None = None,
        author: pygit2.Signature | None = None,
        committer: pygit2.Signature | None = None,
    ) -> pygit2.Oid:
        """Commit ``changes`` on top of ``base`` (default: the branch's tip now) and move
        ``branch`` to it only if the branch still points at ``base``: the working tree and
        the index are never touched.  Raises :class:`RefMoved` when the branch moved since
        ``base`` was read (read again, rebuild, retry)."""
        if base is None:
            tip = self.branch_commit(branch)
            expected = None if tip is None else str(tip.id)
        else:
            expected = str(base)
        parent = None if expected is None else self.repo[expected].peel(pygit2.Commit)
        tree = self.build_tree(parent, changes)
        new = self.commit_tree(
            tree,
            [] if parent is None else [parent.id],
            message,
            author=author,
            committer=committer,
        )
        self.move_branch(
            branch,
            new,
            expected=expected,
            message=f"commit: {message.splitlines()[0]}" if message.strip() else "commit",
        )
        return new

    # ------------------------------------------------------------------ merging trees

    def merge(self, ours: pygit2.Commit, theirs: pygit2.Commit) -> TreeMerge:
        """libgit2's three-way merge of two commits, in memory (see :class:`TreeMerge`)."""
        try:
            index = self.repo.merge_commits(ours, theirs)
        except pygit2.GitError as exc:
            raise _translate(exc, "cannot merge") from None
        return TreeMerge(self, index)

    # ------------------------------------------------------------------ status

    def changes(self, prefixes: tuple[str, ...]) -> list[FileState]:
        return status(
            self.repo, self.workdir / self.prefix if self.prefix else self.workdir, prefixes
        )

    def clean_blob_id(self, rel: str) -> str | None:
        """The index's blob id of ``rel`` when the working file equals it (git's stat check,
        the file is not read unless its timestamps are ambiguous); None otherwise."""
        path = self.prefix + rel
        try:
            flags = self.repo.status_file(path)
        except (KeyError, pygit2.GitError):
            return None
        staged_only = pygit2.enums.FileStatus.INDEX_MODIFIED | pygit2.enums.FileStatus.INDEX_NEW
        if flags & ~staged_only:
            return None  # changed in the working tree, untracked, ignored or conflicted
        try:
            entry = self.repo.index[path]
        except (KeyError, ValueError):
            return None
        return str(entry.id)

    def content_blob_id(self, rel: str) -> str | None:
        """The blob id git would give the working file ``rel``: the index's when the stat
        check says it is unchanged, else hashed from the file's bytes (read once, nothing
        written), so a byte-identical file has the same id whatever the index holds."""
        clean = self.clean_blob_id(rel)
        if clean is not None:
            return clean
        try:
            return str(pygit2.hashfile(str(self.workdir / (self.prefix + rel))))
        except (OSError, pygit2.GitError):
            return None

    # ------------------------------------------------------------------ commit

    def stage(self, prefixes: tuple[str, ...], *, all_tracked: bool = False) -> pygit2.Index:
        """Stage additions, changes and deletions under ``prefixes`` (like `git add -A PATHS`);
        with ``all_tracked`` also every modified or deleted tracked file (like `git commit -a`).

        Only the files git status reports are hashed (libgit2's add_all re-reads more)."""
        index: pygit2.Index = self.repo.index
        flags = pygit2.enums.FileStatus
        under = tuple(self.prefix + p for p in prefixes)
        try:
            index.read()
            for path, state in self.repo.status(untracked_files="all").items():
                if state & (flags.IGNORED | flags.CONFLICTED):
                    continue
                wanted = any(path == p or path.startswith(p + "/") for p in under)
                tracked_change = all_tracked and state & (flags.WT_MODIFIED | flags.WT_DELETED)
                if not (wanted or tracked_change):
                    continue
                if state & flags.WT_DELETED:
                    index.remove(path)
                elif state & (
                    flags.WT_MODIFIED | flags.WT_NEW | flags.WT_TYPECHANGE | flags.WT_RENAMED
                ):
                    index.add(path)
            index.write()
        except pygit2.GitError as exc:
            raise _translate(exc, "cannot stage the tdm files") from None
        return index

    def nothing_staged(self) -> bool:
        """True when the index holds nothing that HEAD does not (no staged change)."""
        try:
            index: pygit2.Index = self.repo.index
            index.read()
            head = self.head()
            if head is None:
                return len(index) == 0
            return index.write_tree() == head.tree_id
        except pygit2.GitError as exc:
            raise _translate(exc, "cannot read the index") from None

    def commit(self, index: pygit2.Index, message: str) -> pygit2.Oid | None:
        """Commit the index on HEAD's branch; None when it equals HEAD's tree."""
        author = self.signature("AUTHOR")
        committer = self.signature("COMMITTER")
        head = self.head()
        try:
            tree = index.write_tree()
        except pygit2.GitError as exc:
            raise _translate(exc, "cannot write the tree") from None
        if head is not None and head.tree_id == tree:
            return None
        parents = [head.id] if head is not None else []
        try:
            return self.repo.create_commit("HEAD", author, committer, message, tree, parents)
        except pygit2.GitError as exc:
            raise _translate(exc, "cannot create the commit") from None

    # ------------------------------------------------------------------ tags

    def tags(self) -> list[TagInfo]:
        out = []
        for ref in self.repo.references.iterator(pygit2.enums.ReferenceFilter.TAGS):
            name = ref.shorthand
            target = self.repo.get(ref.target)
            if isinstance(target, pygit2.Tag):
                tagger = target.tagger
                commit = target.peel(pygit2.Commit)
                out.append(
                    TagInfo(
                        name,
                        str(commit.id),
                        tagger.name if tagger else None,
                        tagger.time if tagger else None,
                        target.message or "",
                    )
                )
            elif isinstance(target, pygit2.Commit):
                out.append(TagInfo(name, str(target.id), None, target.commit_time, ""))
        return out

    def has_tag(self, name: str) -> bool:
        return f"refs/tags/{name}" in self.repo.references

    def create_tag(self, name: str, commit: pygit2.Commit, message: str) -> None:
        sig = self.signature()
        try:
            self.repo.create_tag(name, commit.id, pygit2.enums.ObjectType.COMMIT, sig, message)
        except (pygit2.GitError, ValueError) as exc:
            raise _translate(exc, f"cannot create tag {name}") from None

    # ------------------------------------------------------------------ checkout

    def checkout_tree_safely(self, tree: pygit2.Tree) -> None:
        """Update the working tree and index to ``tree`` without touching uncommitted work:
        raises :class:`CheckoutConflict` naming the files in the way, before writing."""
        watcher = _ConflictWatcher()
        try:
            self.repo.checkout_tree(  # type: ignore[no-untyped-call]
                tree, strategy=pygit2.enums.CheckoutStrategy.SAFE, callbacks=watcher
            )
        except pygit2.GitError as exc:
            if watcher.paths:
                raise CheckoutConflict(sorted(set(watcher.paths))) from None
            raise _translate(exc, "cannot update the working tree") from None

    def checkout(self, rev: str, *, force: bool = False) -> tuple[pygit2.Commit, str | None]:
        """Check out a branch (HEAD attached) or a tag/commit (detached HEAD), like git.

        Without ``force``, uncommitted changes that the checkout would overwrite stop it
        before any file is touched (libgit2 reports them to us first) and raise
        :class:`CheckoutConflict` naming them."""
        target = self.resolve(rev)
        branch = self.branch_of(rev)
        strategy = (
            pygit2.enums.CheckoutStrategy.FORCE if force else pygit2.enums.CheckoutStrategy.SAFE
        )
        watcher = _ConflictWatcher()
        try:
            self.repo.checkout_tree(  # type: ignore[no-untyped-call]
                target.tree, strategy=strategy, callbacks=watcher
            )
            if branch is not None:
                self.repo.set_head(branch.name)
            else:
                self.repo.set_head(target.id)
        except pygit2.GitError as exc:
            if watcher.paths:  # libgit2 stopped at the conflicts it reported, before writing
                raise CheckoutConflict(sorted(set(watcher.paths))) from None
            raise _translate(exc, f"cannot check out {rev}") from None
        return target, branch.branch_name if branch is not None else None

    # ------------------------------------------------------------------ history

    def walk(self) -> Iterator[pygit2.Commit]:
        head = self.head()
        if head is None:
            return
        yield from self.repo.walk(
            head.id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
        )

    def changed_paths(self, commit: pygit2.Commit, prefixes: tuple[str, ...]) -> list[str]:
        """tdm paths (relative to the tdm root) that ``commit`` changed against its first parent."""
        parent_tree = commit.parents[0].tree if commit.parents else None
        out: list[str] = []
        for p in prefixes:
            new = _get(commit.tree, self.prefix + p)
            old = _get(parent_tree, self.prefix + p) if parent_tree is not None else None
            if (new.id if new else None) == (old.id if old else None):
                continue
            if isinstance(new, pygit2.Tree) and isinstance(old, pygit2.Tree):
                for delta in old.diff_to_tree(new).deltas:
                    out.append(f"{p}/{delta.new_file.path or delta.old_file.path}")
            elif isinstance(new, pygit2.Tree) or isinstance(old, pygit2.Tree):
                whole = new if isinstance(new, pygit2.Tree) else old
                assert isinstance(whole, pygit2.Tree)
                out.extend(
                    f"{p}/{path}" for path in _walk_tree(whole, "")
                )  # added or removed folder
            else:
                out.append(p)
        return out


@dataclass(frozen=True)
class Entry:
    """One entry of a tree or the index."""

    name: str  # the entry's name (in a folder listing) or its path (index entries)
    kind: str  # "file" (a regular file), "link", "tree" or "submodule"
    id: str  # the object id, hex
    mode: int


def _kind(mode: int) -> str:
    if mode in _REGULAR:
        return "file"
    if mode == pygit2.enums.FileMode.LINK:
        return "link"
    if mode == pygit2.enums.FileMode.TREE:
        return "tree"
    return "submodule"


def _entry(obj: pygit2.Object) -> Entry:
    return Entry(obj.name or "", _kind(obj.filemode), str(obj.id), int(obj.filemode))


class RefMoved(GitError):
    """A branch did not point where the caller read it: another writer moved it first."""

    def __init__(self, branch: str, expected: str | None, actual: str | None) -> None:
        self.branch = branch
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"branch {branch} moved while this change was prepared "
            f"(expected {expected or 'no branch'}, found {actual or 'none or locked'}); "
            "read it again and retry"
        )


class TreeMerge:
    """The result of a three-way merge of two commits, held in memory: the paths libgit2
    could not merge, and a way to put a merged file in and write the tree."""

    def __init__(self, git: Git, index: pygit2.Index) -> None:
        self._git = git
        self._index = index

    def conflicts(self) -> list[str]:
        """Paths (relative to the tdm root where inside it) still in conflict."""
        if self._index.conflicts is None:
            return []
        prefix = self._git.prefix
        out = []
        for entries in self._index.conflicts:
            path = next(e.path for e in entries if e is not None)
            out.append(path[len(prefix) :] if path.startswith(prefix) else path)
        return out

    def put(self, rel: str, data: bytes) -> None:
        """``rel`` (relative to the tdm root) becomes a regular file with ``data``, its
        conflict, if any, resolved."""
        path = self._git.prefix + rel
        if self._index.conflicts is not None and path in self._index.conflicts:
            del self._index.conflicts[path]
        oid = self._git.repo.create_blob(data)
        self._index.add(pygit2.IndexEntry(path, oid, pygit2.enums.FileMode.BLOB))

    def write_tree(self) -> pygit2.Tree:
        try:
            tree = self._git.repo.get(self._index.write_tree(self._git.repo))
        except pygit2.GitError as exc:
            raise _translate(exc, "cannot write the merged tree") from None
        assert isinstance(tree, pygit2.Tree)
        return tree


def info(commit: pygit2.Commit) -> CommitInfo:
    return CommitInfo(
        str(commit.id),
        str(commit.short_id),
        commit.author.name,
        commit.author.email,
        commit.author.time,
        commit.author.offset,
        commit.message,
    )


def _get(tree: pygit2.Tree | None, path: str) -> pygit2.Object | None:
    if tree is None:
        return None
    try:
        return tree[path]
    except KeyError:
        return None


def _walk_tree(tree: pygit2.Tree, base: str) -> Iterator[str]:
    for entry in tree:
        path = f"{base}{entry.name}"
        if isinstance(entry, pygit2.Tree):
            yield from _walk_tree(entry, path + "/")
        else:
            yield path


def walk_entries(tree: pygit2.Tree, base: str = "") -> Iterator[tuple[str, pygit2.Object]]:
    """(path, object) of every file under ``tree``, walked entry by entry (a crafted tree
    can carry names that a path lookup would not find again)."""
    for entry in tree:
        path = f"{base}{entry.name}"
        if isinstance(entry, pygit2.Tree):
            yield from walk_entries(entry, path + "/")
        else:
            yield path, entry


def safe_relpath(path: str) -> bool:
    """A path from a tree or index that may be written under a folder: plain components
    only (no "", ".", "..", ".git", no backslash).  Git refuses such names itself, but a
    crafted commit can carry them."""
    parts = path.split("/")
    return all(
        p and p not in (".", "..") and p.lower() != ".git" and "\\" not in p and "\0" not in p
        for p in parts
    )


def write_regular_blobs(
    git: Git, entries: Iterator[tuple[str, pygit2.Oid | str, int]], dest: Path
) -> None:
    """Write (path, blob id, mode) entries under ``dest`` as plain, non-executable files.
    Symbolic links and submodules are skipped (tdm reads regular files only), and every
    path is checked to stay inside ``dest``."""
    root = dest.resolve()
    for rel, oid, mode in entries:
        if mode not in (pygit2.enums.FileMode.BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE):
            continue
        if not safe_relpath(rel):
            raise GitError(f"refusing the path {rel!r}: it would leave the folder it belongs in")
        target = dest / rel
        if not target.parent.resolve().is_relative_to(root):
            raise GitError(f"refusing the path {rel!r}: it would leave the folder it belongs in")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(git.read_blob(oid))


# ---------------------------------------------------------------------- reading blobs

READ_BLOCK = 8 << 20


def blob_lines(blob: pygit2.Blob) -> Iterator[bytes]:
    """The lines of a blob, each with its newline, split in C (as a file's are)."""
    return iter(io.BytesIO(blob.data))


def blob_chunks(blob: pygit2.Blob) -> Iterator[bytes]:
    """The bytes of a blob, in blocks.

    libgit2 inflates a blob in one call (``Blob.data``), about three times faster here
    than its streaming reader (``BlobIO``), so the blob is held in memory while its
    blocks are handed out; the rows parsed from them are still streamed."""
    data = memoryview(blob.data)
    for start in range(0, len(data), READ_BLOCK):
        yield bytes(data[start : start + READ_BLOCK])
