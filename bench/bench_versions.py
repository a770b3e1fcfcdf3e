"""Versions in git with a 1,000,000-row dataset in the repository.

- `tdm commit --no-verify` against `git add -A && git commit` of the same change;
- `tdm checkout v1.0` against `git checkout v1.0`;
- a second `tdm commit` (validation on) that changes only a small dataset beside the
  unchanged 1M-row one, against `tdm commit --no-verify` of the same change;
- `tdm.open(...).dataset(name, rev=...)` over all rows against reading and parsing the
  checked-out file with the same JSON library (orjson), in this process.

Each pair runs on fresh copies of the same repository, interleaved; medians of the repeats.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import orjson
from common import (
    Config,
    Result,
    add_arguments,
    check_workdir,
    cleanup,
    config_from,
    make_repo,
    median,
    print_results,
    progress,
    run_timed,
    tdm_executable,
)

COMMIT_GOAL = 1.5
CHECKOUT_GOAL = 1.5
INCREMENTAL_GOAL = 2.0
READ_GOAL = 1.5
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _git(root: Path, *args: str) -> list[str]:
    return ["git", "-C", str(root), *args]


def _copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)
    return dst


def _set_seed(root: Path, template: str, seed: int) -> None:
    path = root / "templates" / f"{template}.yaml"
    lines = path.read_text().splitlines()
    path.write_text(
        "\n".join(f"seed: {seed}" if ln.startswith("seed:") else ln for ln in lines) + "\n"
    )


def _base(cfg: Config) -> Path:
    """v1.0: the 1M-row dataset and a small one, committed with validation (the cache is
    filled as a user's first commit fills it) and tagged."""
    tdm = tdm_executable()
    repo = make_repo(cfg.workdir / "versions-base", cfg.rows)
    (repo.root / "templates" / "small.yaml").write_text(
        "seed: 1\ndatasets:\n  customers: {schema: customers, count: 500}\n", encoding="utf-8"
    )
    progress(f"versions: generating {cfg.rows:,} + 500 rows and committing v1.0")
    run_timed([tdm, "generate", "--repo", repo.root], sample_tree=False)
    run_timed([tdm, "commit", "-m", "v1.0 data", "--repo", repo.root], sample_tree=False)
    run_timed([tdm, "tag", "v1.0", "--repo", repo.root], sample_tree=False)
    return repo.root


def run(cfg: Config) -> list[Result]:
    os.environ.update(GIT_ENV)
    tdm = tdm_executable()
    base = _base(cfg)
    big = f"{cfg.rows:,}-row"

    # the same change for both sides: the big dataset regenerated with another seed
    changed = _copy(base, cfg.workdir / "versions-changed")
    _set_seed(changed, "bench", 2)
    run_timed([tdm, "generate", "bench", "--repo", changed], sample_tree=False)
    tdm_s: list[float] = []
    git_s: list[float] = []
    for i in range(cfg.repeats):
        progress(f"versions repeat {i + 1}/{cfg.repeats}: commit of the changed {big} dataset")
        a = _copy(changed, cfg.workdir / "a")
        b = _copy(changed, cfg.workdir / "b")
        tdm_s.append(run_timed([tdm, "commit", "--no-verify", "-m", "change", "--repo", a]).seconds)
        start = time.perf_counter()
        run_timed(_git(b, "add", "-A"), sample_tree=False)
        run_timed(_git(b, "commit", "-q", "-m", "change"), sample_tree=False)
        git_s.append(time.perf_counter() - start)
    commit_ratio = median(tdm_s) / median(git_s)
    results = [
        Result(
            name="commit --no-verify vs git",
            command=f"tdm commit --no-verify -m change  vs  git add -A && git commit ({big} dataset changed)",
            rows=cfg.rows,
            seconds=median(tdm_s),
            ratio=commit_ratio,
            target=f"<= {COMMIT_GOAL:g}x git",
            passed=commit_ratio <= COMMIT_GOAL,
            samples=tdm_s,
            notes=[
                "tdm s: " + ", ".join(f"{s:.2f}" for s in tdm_s),
                "git s: " + ", ".join(f"{s:.2f}" for s in git_s),
            ],
        )
    ]

    # checkout: HEAD has the changed dataset, v1.0 the original
    committed = _copy(changed, cfg.workdir / "versions-committed")
    run_timed([tdm, "commit", "-m", "change", "--repo", committed], sample_tree=False)
    tdm_s, git_s = [], []
    for i in range(cfg.repeats):
        progress(f"versions repeat {i + 1}/{cfg.repeats}: checkout v1.0")
        a = _copy(committed, cfg.workdir / "a")
        b = _copy(committed, cfg.workdir / "b")
        tdm_s.append(run_timed([tdm, "checkout", "v1.0", "--repo", a]).seconds)
        git_s.append(run_timed(_git(b, "checkout", "-q", "v1.0"), sample_tree=False).seconds)
    checkout_ratio = median(tdm_s) / median(git_s)
    results.append(
        Result(
            name="checkout v1.0 vs git",
            command=f"tdm checkout v1.0  vs  git checkout v1.0 ({big} dataset differs)",
            rows=cfg.rows,
            seconds=median(tdm_s),
            ratio=checkout_ratio,
            target=f"<= {CHECKOUT_GOAL:g}x git",
            passed=checkout_ratio <= CHECKOUT_GOAL,
            samples=tdm_s,
            notes=[
                "tdm s: " + ", ".join(f"{s:.2f}" for s in tdm_s),
                "git s: " + ", ".join(f"{s:.2f}" for s in git_s),
            ],
        )
    )

    # incremental validation: only the small dataset changes beside the unchanged big one
    small_changed = _copy(base, cfg.workdir / "versions-small")
    _set_seed(small_changed, "small", 3)
    run_timed([tdm, "generate", "small", "--repo", small_changed], sample_tree=False)
    verify_s, noverify_s = [], []
    note = ""
    for i in range(cfg.repeats):
        progress(f"versions repeat {i + 1}/{cfg.repeats}: second commit, small dataset changed")
        a = _copy(small_changed, cfg.workdir / "a")
        b = _copy(small_changed, cfg.workdir / "b")
        r = run_timed([tdm, "commit", "-m", "small", "--repo", a])
        verify_s.append(r.seconds)
        note = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        noverify_s.append(
            run_timed([tdm, "commit", "--no-verify", "-m", "small", "--repo", b]).seconds
        )
    inc_ratio = median(verify_s) / median(noverify_s)
    results.append(
        Result(
            name="second commit, validation on",
            command="tdm commit -m small  vs  tdm commit --no-verify -m small (500-row dataset changed)",
            rows=cfg.rows,
            seconds=median(verify_s),
            ratio=inc_ratio,
            target=f"<= {INCREMENTAL_GOAL:g}x --no-verify",
            passed=inc_ratio <= INCREMENTAL_GOAL,
            samples=verify_s,
            notes=[
                "with validation s: " + ", ".join(f"{s:.2f}" for s in verify_s),
                "--no-verify s: " + ", ".join(f"{s:.2f}" for s in noverify_s),
                f"tdm said: {note!r}",
            ],
        )
    )

    # reading a pinned version from git objects vs the checked-out file, same JSON library
    import tdm as tdm_api

    repo = tdm_api.open(committed)
    path = committed / "datasets" / "bench" / "customers.jsonl"  # HEAD's (changed) data
    api_s, file_s = [], []
    for i in range(cfg.repeats):
        progress(f"versions repeat {i + 1}/{cfg.repeats}: reading {big} dataset at v1.0")
        start = time.perf_counter()
        n_api = sum(1 for _ in repo.dataset("bench/customers", rev="v1.0"))
        api_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        loads = orjson.loads
        with path.open("rb") as fh:
            n_file = sum(1 for line in fh if loads(line) is not None)
        file_s.append(time.perf_counter() - start)
        assert n_api == n_file == cfg.rows, (n_api, n_file)
    read_ratio = median(api_s) / median(file_s)
    results.append(
        Result(
            name="dataset(rev=v1.0) vs file",
            command="sum(1 for _ in tdm.open(repo).dataset('bench/customers', rev='v1.0'))  vs  "
            "orjson.loads of each line of the checked-out file",
            rows=cfg.rows,
            seconds=median(api_s),
            rate=cfg.rows / median(api_s),
            baseline_rate=cfg.rows / median(file_s),
            ratio=read_ratio,
            target=f"<= {READ_GOAL:g}x the file",
            passed=read_ratio <= READ_GOAL,
            samples=api_s,
            notes=[
                "from git s: " + ", ".join(f"{s:.2f}" for s in api_s),
                "from the file s: " + ", ".join(f"{s:.2f}" for s in file_s),
                "the blob is a loose object right after the commit, as in a user's repository",
            ],
        )
    )
    for name in ("a", "b"):
        shutil.rmtree(cfg.workdir / name, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser)
    cfg = config_from(parser.parse_args(argv))
    check_workdir(cfg.workdir)
    try:
        print_results("tdm versions", run(cfg))
    finally:
        cleanup(cfg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
