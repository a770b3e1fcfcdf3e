"""Where tdm keeps its state in a repository (``.git/tdm``), found without loading libgit2
when the answer is plain.

Commands that never read git objects (``tdm generate`` among them) only need that folder,
for the write lock and their caches; importing pygit2 costs more than the rest of their
start-up.  When the project root holds an ordinary ``.git`` folder, that folder is the
answer (what ``pygit2.discover_repository`` returns from the root); anything else (a
linked work tree's ``.git`` file, a project below the work tree's root, no git at all)
is asked of git through :mod:`tdm.gitio`.
"""

from __future__ import annotations

from pathlib import Path


def state_dir_of(root: Path) -> Path | None:
    """``.git/tdm`` of the repository containing ``root``; None outside a git repository.
    Not created here."""
    dot = root / ".git"
    if (
        dot.is_dir()
        and not dot.is_symlink()
        and (dot / "HEAD").is_file()
        and (dot / "objects").is_dir()
        and not (dot / "commondir").exists()
    ):
        return dot / "tdm"
    from tdm import gitio

    repo = gitio.discover(root)
    return None if repo is None else gitio.state_dir(repo)
