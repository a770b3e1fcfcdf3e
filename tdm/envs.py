"""Environments as git branches (``tdm env``): list, create, switch, diff, promote, delete.

An environment is a name in tdm.yaml mapped to a branch.  Data moves between
environments by *promotion*, a merge with gates, computed entirely in memory:

1. fast-forward when the target has nothing of its own, else a three-way merge
   (libgit2) in which datasets changed on both sides are merged by primary key and
   tdm.lock is recomputed for them;
2. the merged tree is validated (in a temporary folder, never the working tree);
3. a protected target refuses breaking schema changes (``tdm diff``'s rules) unless
   ``--allow-breaking``; a target that ``requires_masking`` refuses datasets that
   neither tdm generated nor masked, and any personal data ``tdm scan`` finds;
4. only then is the commit written and the branch moved (and, when the target is
   checked out, its working tree updated).

A promotion that cannot be made changes nothing: refs, index and working tree.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tdm import gitio
from tdm.errors import CheckFailed, GitError, UserError
from tdm.fsutil import write_text_atomic
from tdm.models import Environment, check_name
from tdm.project import COMMITTED, CONFIG_FILE, Project
from tdm.snapshot import TreeSnapshot


class PromotionRefused(CheckFailed):
    """A gate refused the promotion; nothing was changed."""


def _envs(project: Project) -> dict[str, Environment]:
    return dict(project.config.environments)


def env(project: Project, name: str) -> Environment:
    envs = _envs(project)
    if name not in envs:
        known = ", ".join(sorted(envs)) or "none"
        raise UserError(
            f"no environment '{name}' in {CONFIG_FILE} (known: {known}); add it there or create it "
            f"with `tdm env create {name}` (from HEAD; `--from` names another environment or a "
            "revision)"
        )
    return envs[name]


def _branch_commit(git: gitio.Git, name: str, environment: Environment) -> gitio.Commit:
    commit = git.branch_commit(environment.branch)
    if commit is None:
        raise UserError(
            f"environment '{name}' has no branch {environment.branch} yet; create it with "
            f"`tdm env create {name}` (from HEAD; `--from` names another environment or a "
            "revision)"
        )
    return commit


# ---------------------------------------------------------------------- list


@dataclass(frozen=True)
class EnvInfo:
    name: str
    branch: str
    exists: bool
    current: bool
    head: str | None
    version: str | None  # the newest version tag contained in the branch
    protected: bool
    requires_masking: bool
    description: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "branch": self.branch,
            "exists": self.exists,
            "current": self.current,
            "head": self.head,
            "version": self.version,
            "protected": self.protected,
            "requires_masking": self.requires_masking,
            "description": self.description,
        }


def list_envs(project: Project) -> list[EnvInfo]:
    from tdm.versions import version_key

    git = gitio.Git(project.root)
    current = git.current_branch()
    tags = []
    for t in git.tags():
        try:
            tags.append((version_key(t.name), t.name, t.target))
        except (UserError, ValueError):
            continue
    tags.sort(reverse=True)
    out = []
    for name, e in sorted(_envs(project).items()):
        head = git.branch_commit(e.branch)
        version = None
        if head is not None:
            for _, tag, target in tags:
                if git.contains(head, target):
                    version = tag
                    break
        out.append(
            EnvInfo(
                name,
                e.branch,
                head is not None,
                current == e.branch,
                str(head.short_id) if head is not None else None,
                version,
                e.protected,
                e.requires_masking,
                e.description,
            )
        )
    return out


# ---------------------------------------------------------------------- create, switch, delete


@dataclass(frozen=True)
class Created:
    name: str
    branch: str
    commit: str
    declared: bool  # added to tdm.yaml (uncommitted)
    start: str  # where the branch started, in words: "HEAD", "dev", a revision


def _start(
    git: gitio.Git, envs: dict[str, Environment], source: str | None
) -> tuple[gitio.Commit, str]:
    """The commit a new environment starts from, and how to say it.

    No source is HEAD, as with `git branch`; an environment resolves to its branch, and a
    declared environment whose branch does not exist yet stands for HEAD too (its branch
    would start there), so `tdm env create staging --from dev` works in a fresh repository.
    """
    if source is not None and source in envs:
        e = envs[source]
        commit = git.branch_commit(e.branch)
        if commit is not None:
            return commit, source
        what = f"HEAD, as {source} has no branch {e.branch} yet"
    elif source is not None:
        return git.resolve(source), source
    else:
        what = "HEAD"
    head = git.head()
    if head is None:
        raise UserError(
            "HEAD has no commit yet, so there is nothing to start an environment from; commit "
            'first (`tdm commit -m "first data"`)'
        )
    return head, what


def create(
    project: Project, name: str, source: str | None = None, *, branch: str | None = None
) -> Created:
    try:
        check_name(name, "environment")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    git = gitio.Git(project.root)
    envs = _envs(project)
    declared = name not in envs
    target = envs[name].branch if name in envs else (branch or f"env/{name}")
    if not gitio.valid_branch_name(target):
        raise UserError(f"'{target}' is not a valid branch name")
    if git.branch_commit(target) is not None:
        raise UserError(
            f"branch {target} already exists; switch to it with `tdm env switch {name}`"
        )
    start, start_words = _start(git, envs, source)
    if declared:
        _declare(project, name, target)  # first: when it cannot be done, nothing changed
    try:
        git.create_branch(target, start)
    except GitError:
        if declared:
            _undeclare(project)
        raise
    return Created(name, target, str(start.id), declared, start_words)


def _declare(project: Project, name: str, branch: str) -> None:
    """Add ``name: {branch: ...}`` under ``environments:`` in tdm.yaml, keeping the file's
    comments and layout (the config is re-read to check the edit)."""
    path = project.root / CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    entry = f"  {name}:\n    branch: {branch}\n"
    lines = text.splitlines(keepends=True)
    at = next((i for i, ln in enumerate(lines) if re.match(r"^environments:\s*(#.*)?$", ln)), None)
    if at is None:
        new = text + ("" if text.endswith("\n") else "\n") + "environments:\n" + entry
    else:
        end = at + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][:1] in (" ", "\t", "#")):
            end += 1
        new = "".join(lines[:end]) + entry + "".join(lines[end:])
    write_text_atomic(path, new)
    _BEFORE[path] = text
    try:
        loaded = Project.load(project.root)
        if name not in loaded.config.environments:
            raise UserError("not declared")
    except UserError:
        _BEFORE.pop(path, None)
        write_text_atomic(path, text)
        raise UserError(
            f"could not add environment '{name}' to {CONFIG_FILE}; add `{name}: {{branch: {branch}}}` "
            "under environments: by hand"
        ) from None


_BEFORE: dict[Path, str] = {}


def _undeclare(project: Project) -> None:
    path = project.root / CONFIG_FILE
    if path in _BEFORE:
        write_text_atomic(path, _BEFORE.pop(path))


def switch(project: Project, name: str, *, force: bool = False) -> str:
    from tdm.versions import checkout

    e = env(project, name)
    git = gitio.Git(project.root)
    _branch_commit(git, name, e)
    checkout(project, e.branch, force=force)
    return e.branch


def delete(project: Project, name: str, *, force: bool = False) -> str:
    e = env(project, name)
    git = gitio.Git(project.root)
    tip = _branch_commit(git, name, e)
    if git.current_branch() == e.branch:
        raise CheckFailed(f"{e.branch} is checked out; switch to another environment first")
    head = git.head()
    if not force and head is not None and not git.contains(head, tip.id):
        raise CheckFailed(
            f"{e.branch} has commits that HEAD does not contain; promote them first or pass --force"
        )
    git.delete_branch(e.branch)
    return e.branch


# ---------------------------------------------------------------------- promote


@dataclass
class Promotion:
    source: str
    target: str
    kind: Literal["up to date", "fast-forward", "merge"]
    commit: str | None = None  # the target's new head (None: dry run or nothing to do)
    merged_by_key: list[str] = field(default_factory=list)  # datasets merged row by row
    breaking: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "commit": self.commit,
            "merged_by_key": self.merged_by_key,
            "breaking": self.breaking,
            "dry_run": self.dry_run,
        }


def promote(
    project: Project,
    source: str,
    target: str,
    *,
    allow_breaking: bool = False,
    dry_run: bool = False,
    message: str | None = None,
) -> Promotion:
    src_env, dst_env = env(project, source), env(project, target)
    if src_env.branch == dst_env.branch:
        raise UserError(f"{source} and {target} are the same branch ({src_env.branch})")
    git = gitio.Git(project.root)
    src = _branch_commit(git, source, src_env)
    dst = _branch_commit(git, target, dst_env)
    if git.contains(dst, src.id):
        return Promotion(source, target, "up to date", dry_run=dry_run)
    current = git.current_branch() == dst_env.branch
    if current:
        dirty = [f.path for f in git.changes(COMMITTED)]
        if dirty:
            raise PromotionRefused(
                f"{dst_env.branch} is checked out with uncommitted changes ({', '.join(dirty[:5])}); "
                "commit them first: a promotion never touches unsaved work"
            )
    fast = git.contains(src, dst.id)
    merged_by_key: list[str] = []
    if fast:
        tree = src.tree
    else:
        tree, merged_by_key = _merge(git, dst, src)
    _gate_valid(project, git, tree)
    result = Promotion(source, target, "fast-forward" if fast else "merge", None, merged_by_key)
    result.breaking = _breaking(git, dst, tree)
    protected, requires_masking = _gates_of(git, dst, target, dst_env)
    if result.breaking and protected and not allow_breaking:
        raise PromotionRefused(
            f"{target} is protected and the promotion brings breaking schema changes:\n"
            + "\n".join(f"  {b}" for b in result.breaking)
            + "\nnothing was changed; pass --allow-breaking to promote anyway"
        )
    if requires_masking:
        _gate_masking(project, git, tree, target)
    if dry_run:
        result.dry_run = True
        return result
    if fast:
        new = src.id
    else:
        new = git.commit_tree(
            tree.id, [dst.id, src.id], message or f"tdm env promote {source} -> {target}\n"
        )
    if current:
        try:  # files and index entries the promotion changes; other staged work is kept
            git.checkout_tree_safely(tree)
        except gitio.CheckoutConflict as exc:
            raise PromotionRefused(
                f"{dst_env.branch} is checked out and the promotion would overwrite uncommitted "
                f"changes in: {', '.join(exc.paths[:10])}; commit or move them first. "
                "Nothing was changed."
            ) from None
    git.move_branch(
        dst_env.branch, new, expected=dst.id, message=f"tdm env promote {source} -> {target}"
    )
    result.commit = str(new)
    return result


def _gates_of(
    git: gitio.Git, dst: gitio.Commit, name: str, environment: Environment
) -> tuple[bool, bool]:
    """The target's gates as the checked-out tdm.yaml *or* the target branch's own
    tdm.yaml sets them: a source branch cannot lift a protection by editing its copy."""
    protected, masking = environment.protected, environment.requires_masking
    try:
        own = TreeSnapshot.of_commit(git, dst, "target").mapping(CONFIG_FILE)
    except UserError:
        return protected, masking
    declared = own.get("environments", {}) if isinstance(own.get("environments"), dict) else {}
    entry = declared.get(name)
    if not isinstance(entry, dict):
        return protected, masking
    return (
        protected or entry.get("protected") is True,
        masking or entry.get("requires_masking") is True,
    )


def _merge(
    git: gitio.Git, ours: gitio.Commit, theirs: gitio.Commit
) -> tuple[gitio.Tree, list[str]]:
    """The merged tree (:func:`tdm.merge.merge_commits`), or a refusal naming what conflicts."""
    from tdm import merge

    merged = merge.merge_commits(git, ours, theirs)
    if merged.tree is None:
        raise PromotionRefused(
            "the promotion cannot be merged automatically; nothing was changed:\n"
            + "\n".join(f"  {p}" for p in merged.problems[:20])
            + "\nmerge the branches with `git merge` (datasets merge by key there too) and settle "
            "the conflicts with `tdm resolve`"
        )
    return merged.tree, merged.merged_by_key


def _gate_valid(project: Project, git: gitio.Git, tree: gitio.Tree) -> None:
    from tdm import validate

    work = gitio.state_dir(git.repo)
    work.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="promote-", dir=work))
    try:
        merged = Project.load(git.export_tree(tree, tmp, COMMITTED))
        report = validate.validate(merged)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not report.ok:
        raise PromotionRefused(
            "the promoted data would not be valid; nothing was changed:\n"
            + "\n".join(f"  {f}" for f in report.findings[:20])
        )


def _breaking(git: gitio.Git, dst: gitio.Commit, tree: gitio.Tree) -> list[str]:
    from tdm.diff import diff_sides

    before = TreeSnapshot.of_commit(git, dst, "target")
    after = TreeSnapshot(git, tree, "promoted")
    report = diff_sides(before, after)
    return [f"{s.name}: {c.detail} ({c.reason(report.compat)})" for s, c in report.breaking()]


def _gate_masking(project: Project, git: gitio.Git, tree: gitio.Tree, target: str) -> None:
    """Every dataset must come from generation or masking (tdm.lock says which), and
    scan clean."""
    from tdm import scan

    side = TreeSnapshot(git, tree, "promoted")
    try:
        lock = side.lock_entries()
    except UserError:
        lock = {}  # an unreadable lock records nothing
    problems = []
    for dataset, rel in sorted(side.datasets().items()):
        entry = lock.get(dataset)
        if not isinstance(entry, dict) or not (entry.get("recipe") or entry.get("masked")):
            problems.append(f"{dataset}: neither generated nor masked by tdm (no tdm.lock record)")
            continue
        data = side.read(rel) or b""
        found, _ = scan.scan_bytes(data, rel)
        problems.extend(str(f) for f in found[:5])
    if problems:
        raise PromotionRefused(
            f"{target} requires masked or generated data; nothing was changed:\n"
            + "\n".join(f"  {p}" for p in problems[:20])
        )
