"""gitio's commits made in memory (build a tree, commit it, move a branch with a
compare-and-swap), and the snapshot reader on top, against real repositories checked
with the git CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import git
from hypothesis import given
from hypothesis import strategies as st

from tdm import gitdir, gitio, snapshot
from tdm.errors import GitError
from tdm.models import plain_branch_name


def _repo(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "keep.txt").write_text("keep\n")
    (root / "old.txt").write_text("old\n")
    (root / "datasets" / "t").mkdir(parents=True)
    (root / "datasets" / "t" / "a.jsonl").write_text('{"id": 1}\n')
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "branch", "env/dev")
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def rev(root: Path, name: str) -> str:
    return git(root, "rev-parse", name).stdout.strip()


def fsck_clean(root: Path) -> None:
    result = git(root, "fsck", "--strict", "--no-progress", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stderr.lower()


def test_commit_changes_commits_on_a_branch_without_touching_work_tree_or_index(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path / "r")
    (root / "keep.txt").write_text("unsaved edit\n")  # uncommitted work stays as it is
    (root / "staged.txt").write_text("staged\n")
    git(root, "add", "staged.txt")
    files, index = _files(root), git(root, "ls-files", "--stage").stdout
    status = git(root, "status", "--porcelain").stdout
    base = rev(root, "env/dev")

    new = gitio.Git(root).commit_changes(
        "env/dev",
        {
            "datasets/t/a.jsonl": b'{"id": 2}\n',
            "datasets/u/b.jsonl": b'{"id": 3}\n',
            "old.txt": None,
            "not-there.txt": None,
        },
        "load rows",
    )

    assert rev(root, "env/dev") == str(new)
    assert git(root, "rev-list", "--parents", "-n", "1", "env/dev").stdout.split() == [
        str(new),
        base,
    ]
    log = git(root, "log", "-1", "--format=%an <%ae>|%cn|%s", "env/dev").stdout.strip()
    assert log == "Test Author <author@example.com>|Test Committer|load rows"
    shown = git(root, "diff", "--name-status", base, "env/dev").stdout.split("\n")
    assert sorted(filter(None, shown)) == [
        "A\tdatasets/u/b.jsonl",
        "D\told.txt",
        "M\tdatasets/t/a.jsonl",
    ]
    assert git(root, "show", "env/dev:datasets/t/a.jsonl").stdout == '{"id": 2}\n'
    reflog = git(root, "reflog", "show", "--format=%H %gs", "env/dev").stdout.splitlines()
    assert reflog[0] == f"{new} commit: load rows"
    fsck_clean(root)
    # the checked-out branch, the index and the files are as they were
    assert rev(root, "main") != str(new)
    assert (_files(root), git(root, "ls-files", "--stage").stdout) == (files, index)
    assert git(root, "status", "--porcelain").stdout == status


def test_a_lost_race_raises_ref_moved_and_leaves_the_winner(tmp_path: Path) -> None:
    root = _repo(tmp_path / "r")
    g = gitio.Git(root)
    base = rev(root, "env/dev")
    # another writer commits on env/dev after we read it
    winner = g.commit_changes("env/dev", {"w.txt": b"winner\n"}, "winner", base=base)
    with pytest.raises(gitio.RefMoved) as caught:
        g.commit_changes("env/dev", {"l.txt": b"loser\n"}, "loser", base=base)
    assert (caught.value.expected, caught.value.actual) == (base, str(winner))
    assert "retry" in str(caught.value)
    assert isinstance(caught.value, GitError)  # exit 2 at the CLI edge, like other git errors
    assert rev(root, "env/dev") == str(winner)
    assert git(root, "log", "--format=%s", "env/dev").stdout.split() == ["winner", "base"]
    fsck_clean(root)
    # the retry, on the tip read again, wins
    again = g.commit_changes("env/dev", {"l.txt": b"loser\n"}, "retry", base=str(winner))
    assert git(root, "log", "--format=%s", "env/dev").stdout.split() == ["retry", "winner", "base"]
    assert rev(root, "env/dev") == str(again)


def test_a_branch_locked_by_another_git_process_is_a_lost_race(tmp_path: Path) -> None:
    root = _repo(tmp_path / "r")
    base = rev(root, "env/dev")
    lock = root / ".git" / "refs" / "heads" / "env" / "dev.lock"
    lock.write_text(base + "\n")
    with pytest.raises(gitio.RefMoved):
        gitio.Git(root).commit_changes("env/dev", {"x.txt": b"x\n"}, "blocked", base=base)
    assert rev(root, "env/dev") == base
    assert lock.read_text() == base + "\n"  # someone else's lock is left alone


def test_move_branch_creates_a_branch_only_when_it_does_not_exist(tmp_path: Path) -> None:
    root = _repo(tmp_path / "r")
    g = gitio.Git(root)
    main = rev(root, "main")
    g.move_branch("feature/new", main, expected=None, message="create")
    assert rev(root, "feature/new") == main
    with pytest.raises(gitio.RefMoved):
        g.move_branch("feature/new", main, expected=None, message="create again")
    with pytest.raises(GitError, match="not a valid branch name"):
        g.move_branch("bad..name", main, expected=None, message="x")
    # a commit on an unborn branch has no parent
    first = g.commit_changes("orphan", {"a.txt": b"a\n"}, "first")
    assert git(root, "rev-list", "--parents", "-n", "1", "orphan").stdout.split() == [str(first)]
    assert git(root, "ls-tree", "-r", "--name-only", "orphan").stdout.split() == ["a.txt"]
    fsck_clean(root)


def test_paths_are_relative_to_a_tdm_root_in_a_subfolder_and_must_stay_inside(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path / "r")
    (root / "sub").mkdir()
    (root / "sub" / "tdm.yaml").write_text("name: x\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "sub")
    g = gitio.Git(root / "sub")
    g.commit_changes("main", {"datasets/t/a.jsonl": b"{}\n"}, "in sub")
    assert git(root, "show", "main:sub/datasets/t/a.jsonl").stdout == "{}\n"
    assert git(root, "show", "main:datasets/t/a.jsonl").stdout == '{"id": 1}\n'
    tip = rev(root, "main")
    for bad in ("../escape.txt", "/abs.txt", "a/./b", ".git/config", "a//b"):
        with pytest.raises(GitError, match="refusing the path"):
            g.commit_changes("main", {bad: b"x"}, "bad")
    assert rev(root, "main") == tip
    fsck_clean(root)


def test_read_at_a_branch_write_in_memory_read_the_new_tree(tmp_path: Path) -> None:
    """The flow a server follows: read a revision, build a tree, read it before committing."""
    root = _repo(tmp_path / "r")
    (root / "templates").mkdir()
    (root / "tdm.yaml").write_text("name: x\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "project")
    g = gitio.Git(root)
    from tdm.project import Project

    before = snapshot.at(Project.find(root), "main", g)
    assert list(before.datasets()) == ["t/a"]
    assert b"".join(before.dataset_lines("t/a")) == b'{"id": 1}\n'
    tree = g.build_tree(g.resolve("main"), {"datasets/t/b.jsonl": b'{"id": 9}\n'})
    after = snapshot.TreeSnapshot(g, g.tree_of(str(tree)), "pending")
    assert list(after.datasets()) == ["t/a", "t/b"]
    assert after.blob_id("datasets/t/a.jsonl") == before.blob_id("datasets/t/a.jsonl")
    assert after.read("datasets/t/b.jsonl") == b'{"id": 9}\n'
    assert rev(root, "main") == str(g.resolve("main").id)  # nothing committed yet
    new = g.commit_tree(tree, [rev(root, "main")], "add b")
    g.move_branch("main", new, expected=rev(root, "main"), message="add b")
    assert git(root, "show", "main:datasets/t/b.jsonl").stdout == '{"id": 9}\n'
    fsck_clean(root)


def test_the_index_snapshot_reads_what_is_staged_and_the_work_tree_never_follows_links(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path / "r")
    (root / "tdm.yaml").write_text("name: x\n")
    (root / "datasets" / "t" / "a.jsonl").write_text('{"id": 2}\n')
    git(root, "add", "-A")
    (root / "datasets" / "t" / "a.jsonl").write_text('{"id": 3}\n')  # not staged
    outside = tmp_path / "secret.jsonl"
    outside.write_text('{"ssn": "123-45-6789"}\n')
    (root / "datasets" / "t" / "link.jsonl").symlink_to(outside)
    from tdm.errors import UserError
    from tdm.project import Project

    project = Project.find(root)
    staged = snapshot.staged(project)
    assert staged.read("datasets/t/a.jsonl") == b'{"id": 2}\n'
    assert staged.read("tdm.yaml") == b"name: x\n"
    assert list(staged.datasets()) == ["t/a"]
    work = snapshot.worktree(project)
    assert work.read("datasets/t/a.jsonl") == b'{"id": 3}\n'
    assert list(work.datasets()) == ["t/a"]  # the link is not a file of the repository
    with pytest.raises(UserError, match="symbolic link"):
        work.read("datasets/t/link.jsonl")
    with pytest.raises(UserError, match="is not a valid name"):
        work.dataset_file("t/../../x")


# ------------------------------------------------------------------ branch names without libgit2

_NAME_CHARS = st.sampled_from([*"abZ09_-./@{}~^:?*[\\ ", "lock", ".lock", "ü"])


@given(st.lists(_NAME_CHARS, min_size=1, max_size=12).map("".join))
def test_a_plain_branch_name_is_one_git_accepts(name: str) -> None:
    # tdm.yaml's environments are checked without loading libgit2 when the name is plain;
    # that shortcut must never accept a name git refuses
    if plain_branch_name(name):
        assert gitio.valid_branch_name(name), name


@pytest.mark.parametrize("name", ["main", "release/1.2", "qa_env-2", "feature/x.y.z", "HEAD"])
def test_common_branch_names_are_plain(name: str) -> None:
    assert plain_branch_name(name) and gitio.valid_branch_name(name)


@pytest.mark.parametrize("name", ["a..b", "a.lock", "x/y.lock/z", "a//b", ".a", "a.", "a b"])
def test_names_git_refuses_are_not_plain(name: str) -> None:
    assert not plain_branch_name(name) and not gitio.valid_branch_name(name)


def test_the_state_folder_is_the_one_git_names(tmp_path: Path) -> None:
    # an ordinary repository: found without libgit2; a linked work tree and a project in a
    # sub-folder: asked of git; outside git: none
    main = tmp_path / "main"
    git(tmp_path, "init", "-q", "-b", "main", str(main))
    git(main, "commit", "-q", "--allow-empty", "-m", "first")
    repo = gitio.discover(main)
    assert repo is not None
    assert gitdir.state_dir_of(main) == gitio.state_dir(repo) == main / ".git" / "tdm"
    (main / "sub").mkdir()
    assert gitdir.state_dir_of(main / "sub") == main / ".git" / "tdm"
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", "-b", "other", str(linked))
    linked_repo = gitio.discover(linked)
    assert linked_repo is not None
    assert gitdir.state_dir_of(linked) == gitio.state_dir(linked_repo)
    assert gitdir.state_dir_of(linked) != main / ".git" / "tdm"
    outside = tmp_path / "plain"
    outside.mkdir()
    assert gitdir.state_dir_of(outside) is None
