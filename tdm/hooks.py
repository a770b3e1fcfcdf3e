"""``tdm hooks``: a git pre-commit hook that validates and scans the *staged* tdm files.

The hook is a short POSIX shell script.  It hands over to a hook that was there
before (kept as ``pre-commit.tdm-chained`` and restored by ``uninstall``), skips
itself while git replays commits (rebase, merge, cherry-pick, revert) and returns
at once when no tdm file is staged; only then does it start Python, which
materialises the index's tdm files in a temporary folder and runs ``tdm validate``
and ``tdm scan`` there, so unstaged edits neither hide nor cause a problem.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tdm import gitio
from tdm.errors import CheckFailed, UserError
from tdm.project import COMMITTED, Project

MARKER = "# tdm pre-commit hook"
CHAINED_SUFFIX = ".tdm-chained"
HOOK = "pre-commit"
#: SKIP ids, as the pre-commit framework reads them (SKIP=tdm-scan git commit ...)
SKIP_IDS = {"tdm", "tdm-validate", "tdm-scan"}

_SCRIPT = """#!/bin/sh
{marker}: installed by `tdm hooks install`; `tdm hooks uninstall` removes it.
# Validates and scans the staged tdm files.  Skip once with `git commit --no-verify`
# or SKIP=tdm (or SKIP=tdm-scan / SKIP=tdm-validate).
hooks_dir=$(dirname "$0")
if [ -x "$hooks_dir/{hook}{chained}" ]; then
  "$hooks_dir/{hook}{chained}" "$@" || exit $?
fi
git_dir=$(git rev-parse --git-dir) || exit 1
for state in rebase-merge rebase-apply MERGE_HEAD CHERRY_PICK_HEAD REVERT_HEAD; do
  [ -e "$git_dir/$state" ] && exit 0
done
git diff --cached --quiet --no-ext-diff -- {pathspecs} && exit 0
if [ ! -x {python} ]; then
  echo "tdm pre-commit hook: {python} is gone; run \\`tdm hooks install\\` again" >&2
  exit 1
fi
exec {python} -m tdm hooks run --repo {root}
"""


def hooks_dir(repo: gitio.Repository) -> Path:
    """Where git looks for hooks: ``core.hooksPath`` when set, else ``.git/hooks``."""
    return gitio.hooks_dir(repo)


def _script(project: Project, git: gitio.Git) -> str:
    specs = " ".join(shlex.quote(git.prefix + p) for p in COMMITTED)
    return _SCRIPT.format(
        marker=MARKER,
        hook=HOOK,
        chained=CHAINED_SUFFIX,
        pathspecs=specs,
        python=shlex.quote(sys.executable),
        root=shlex.quote(str(project.root)),
    )


def _is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


@dataclass
class HookChange:
    path: Path
    action: str  # installed | updated | removed | restored
    chained: Path | None = None


def install(project: Project) -> HookChange:
    git = gitio.Git(project.root)
    folder = hooks_dir(git.repo)
    folder.mkdir(parents=True, exist_ok=True)
    hook = folder / HOOK
    chained = folder / (HOOK + CHAINED_SUFFIX)
    action = "installed"
    if hook.exists() or hook.is_symlink():
        if _is_ours(hook):
            action = "updated"
        elif chained.exists():
            raise UserError(
                f"{hook} exists and so does {chained.name}; tdm keeps one earlier hook: merge "
                "them by hand, then run `tdm hooks install` again"
            )
        else:
            os.replace(hook, chained)  # the earlier hook runs first, from the new one
    _write_executable(hook, _script(project, git))
    from tdm.merge import register

    register(project)  # datasets merge by key under plain `git merge` too
    return HookChange(hook, action, chained if chained.exists() else None)


def uninstall(project: Project) -> HookChange:
    git = gitio.Git(project.root)
    folder = hooks_dir(git.repo)
    hook = folder / HOOK
    chained = folder / (HOOK + CHAINED_SUFFIX)
    if not hook.exists():
        raise CheckFailed(f"no pre-commit hook at {hook}; nothing to remove")
    if not _is_ours(hook):
        raise CheckFailed(f"{hook} was not installed by tdm; left as it is")
    if chained.exists():
        os.replace(chained, hook)
        return HookChange(hook, "restored")
    hook.unlink()
    return HookChange(hook, "removed")


def _write_executable(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------- the hook itself


@dataclass
class HookResult:
    ok: bool
    lines: list[str] = field(default_factory=list)


def skipped(env: dict[str, str] | None = None) -> set[str]:
    env = dict(os.environ) if env is None else env
    return {s.strip() for s in env.get("SKIP", "").split(",") if s.strip()} & SKIP_IDS


def staged_tree(project: Project, dest: Path) -> Path:
    """Write the index's tdm files to ``dest`` and return the tdm root inside it: regular
    files only (a staged symbolic link is not followed), every path checked to stay in
    ``dest``; a working file that equals its staged version and is a plain file is
    hard-linked instead of copied."""
    git = gitio.Git(project.root)
    copies = []
    for rel, entry in git.staged_entries().items():
        if not (rel in COMMITTED or rel.startswith(tuple(p + "/" for p in COMMITTED))):
            continue
        if entry.kind != "file":
            continue  # symbolic links and submodules: tdm reads regular files only
        source = project.root / rel
        target = dest / rel
        if (
            gitio.safe_relpath(rel)
            and not source.is_symlink()
            and source.is_file()
            and git.clean_blob_id(rel) == str(entry.id)
        ):
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
                continue
            except OSError:
                pass  # another file system: copy the blob instead
        copies.append((rel, entry.id, entry.mode))
    gitio.write_regular_blobs(git, iter(copies), dest)
    return dest


def run_pre_commit(project: Project) -> HookResult:
    """Validate and scan what is staged.  Findings make the commit fail."""
    from tdm import scan as scanmod
    from tdm import validate as validatemod

    skip = skipped()
    if "tdm" in skip:
        return HookResult(True, ["tdm: skipped (SKIP=tdm)"])
    git = gitio.Git(project.root)
    work = gitio.state_dir(git.repo)
    work.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="staged-", dir=work))
    result = HookResult(True)
    try:
        staged = Project.load(staged_tree(project, tmp))
        if "tdm-validate" not in skip:
            report = validatemod.validate(staged)
            if not report.ok:
                result.ok = False
                result.lines.append("tdm validate (staged files):")
                result.lines.extend(f"  {f}" for f in report.findings)
        if "tdm-scan" not in skip:
            found = scanmod.scan(project, staged=True, schemas=staged)
            if found.findings:
                result.ok = False
                result.lines.append("tdm scan (staged datasets): personal data in the clear:")
                result.lines.extend(f"  {f}" for f in found.findings)
                result.lines.extend(f"  {p}: {n} more" for p, n in found.omitted.items())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not result.ok:
        result.lines.append(
            "commit blocked: fix the files and `git add` them, or skip once with "
            "`git commit --no-verify` (SKIP=tdm-scan or SKIP=tdm-validate skips one check)"
        )
    return result
