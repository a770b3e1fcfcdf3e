"""``tdm init``: the layout of a new tdm repository, optionally with the e-commerce sample."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tdm import gitio
from tdm.errors import UserError
from tdm.fsutil import write_text_atomic
from tdm.models import NAME_RE
from tdm.project import CONFIG_FILE, DATASET_DIR, MASKING_DIR, SCHEMA_DIR, TEMPLATE_DIR
from tdm.yamlio import dump_yaml

GITIGNORE = "# temp files of interrupted tdm writes\n.*.tmp\n"


def sample_dir() -> Path:
    """The e-commerce example shipped in this checkout of tdm (``sample_repo/``)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_sample", here.parent / "sample_repo"):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise UserError(
        "the sample repository is not installed with this copy of tdm (sample_repo/ is missing)"
    )


@dataclass(frozen=True)
class InitResult:
    root: Path
    created_git: bool
    sample: bool
    files: list[str]
    commit: str | None = None  # the sample's first commit
    not_committed: str | None = None  # why the sample was not committed


def init(
    path: Path, *, sample: bool = False, name: str | None = None, commit: bool = False
) -> InitResult:
    """Create a tdm repository at ``path`` (git init first when it is not in one); with
    ``commit``, the sample's files are committed as the first commit (`tdm init --sample`)."""
    root = path.resolve()
    outer = next((p for p in root.parents if (p / CONFIG_FILE).is_file()), None)
    if outer is not None:
        raise UserError(
            f"{path} is inside the tdm repository {outer}; a repository in a repository is "
            "refused (to create one elsewhere: `tdm init DIR` outside it; `--sample` takes no "
            "value)"
        )
    if root.exists() and not root.is_dir():
        raise UserError(f"{path} exists and is not a directory")
    if (root / CONFIG_FILE).exists():
        raise UserError(
            f"{path} is already a tdm repository ({CONFIG_FILE} exists); nothing was changed"
        )
    if sample:
        src = sample_dir()
        clashes = [
            p.relative_to(src).as_posix()
            for p in src.rglob("*")
            if p.is_file() and (root / p.relative_to(src)).exists()
        ]
        if clashes:
            raise UserError(
                f"{path} already has files the sample would overwrite: {', '.join(sorted(clashes)[:5])}; "
                "use an empty directory"
            )
    root.mkdir(parents=True, exist_ok=True)
    created_git = False
    if gitio.discover(root) is None:
        gitio.init(root)
        created_git = True
    files: list[str] = []
    if sample:
        src = sample_dir()
        for item in sorted(src.rglob("*")):
            if item.is_file():
                rel = item.relative_to(src)
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(item, root / rel)
                files.append(rel.as_posix())
    else:
        project_name = name or root.name
        if not NAME_RE.match(project_name):
            project_name = "tdm-project"
        config = {
            "name": project_name,
            "seed": 0,
            "locale": "en_US",
            "environments": {"dev": {"branch": "env/dev"}},
        }
        write_text_atomic(root / CONFIG_FILE, "# tdm project settings\n" + dump_yaml(config))
        files.append(CONFIG_FILE)
        for folder in (SCHEMA_DIR, TEMPLATE_DIR, MASKING_DIR, DATASET_DIR):
            (root / folder).mkdir(exist_ok=True)
            keep = root / folder / ".gitkeep"
            if not any((root / folder).iterdir()):
                keep.touch()
                files.append(f"{folder}/.gitkeep")
        gitignore = root / ".gitignore"
        existing = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
        if ".*.tmp" not in existing:
            sep = "" if not existing or existing.endswith("\n") else "\n"
            write_text_atomic(gitignore, existing + sep + GITIGNORE)
            files.append(".gitignore")
    from tdm.merge import register
    from tdm.project import Project

    for changed in register(Project.load(root)):
        if not changed.startswith("git config") and changed not in files:
            files.append(changed)
    if not (sample and commit):
        return InitResult(root, created_git, sample, files)
    made, why = _commit_sample(root, files)
    return InitResult(root, created_git, sample, files, made, why)


def _commit_sample(root: Path, files: list[str]) -> tuple[str | None, str | None]:
    """Commit the sample's files (its README.md too) as the first commit; not when other
    changes are staged already (they are the user's to commit) or git has no identity."""
    git = gitio.Git(root)
    if not git.nothing_staged():
        return None, "other changes are staged; commit the sample with them (`tdm commit -a`)"
    try:
        git.signature("AUTHOR")
        index = git.stage(tuple(files))
        oid = git.commit(index, "tdm init --sample: the e-commerce sample\n")
    except UserError as exc:
        return None, str(exc)
    return (str(oid) if oid is not None else None), None
