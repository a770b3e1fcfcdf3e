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

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from common import (
    Config,
    Result,
    bench_main,
    make_repo,
    median,
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


def _git(root: Path, *args: str) -> list[str | Path]:
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


def _paired(
    cfg: Config,
    source: Path,
    label: str,
    first: Callable[[Path], float],
    second: Callable[[Path], float],
) -> tuple[list[float], list[float]]:
    """Seconds of ``first`` and ``second``, each on its own fresh copy of ``source``."""
    one: list[float] = []
    two: list[float] = []
    for i in range(cfg.repeats):
        progress(f"versions repeat {i + 1}/{cfg.repeats}: {label}")
        one.append(first(_copy(source, cfg.workdir / "a")))
        two.append(second(_copy(source, cfg.workdir / "b")))
    return one, two


def _ratio(
    name: str,
    command: str,
    cfg: Config,
    secs: tuple[list[float], list[float]],
    goal: float,
    of: str,
) -> Result:
    """A result whose ratio is median(first) / median(second), met when <= ``goal``."""
    first, second = secs
    ratio = median(first) / median(second)
    return Result(
        name=name,
        command=command,
        rows=cfg.rows,
        seconds=median(first),
        ratio=ratio,
        target=f"<= {goal:g}x {of}",
        passed=ratio <= goal,
        samples=first,
        notes=[
            "tdm s: " + ", ".join(f"{s:.2f}" for s in first),
            f"{of} s: " + ", ".join(f"{s:.2f}" for s in second),
        ],
    )


def run(cfg: Config) -> list[Result]:
    os.environ.update(GIT_ENV)
    tdm = tdm_executable()
    base = _base(cfg)
    big = f"{cfg.rows:,}-row"

    def seconds(argv: list[str | Path]) -> float:
        return run_timed(argv, sample_tree=False).seconds

    def git_commit(repo: Path) -> float:
        start = time.perf_counter()
        run_timed(_git(repo, "add", "-A"), sample_tree=False)
        run_timed(_git(repo, "commit", "-q", "-m", "change"), sample_tree=False)
        return time.perf_counter() - start

    # the same change for both sides: the big dataset regenerated with another seed
    changed = _copy(base, cfg.workdir / "versions-changed")
    _set_seed(changed, "bench", 2)
    run_timed([tdm, "generate", "bench", "--repo", changed], sample_tree=False)
    commit_secs = _paired(
        cfg,
        changed,
        f"commit of the changed {big} dataset",
        lambda a: seconds([tdm, "commit", "--no-verify", "-m", "change", "--repo", a]),
        git_commit,
    )
    results = [
        _ratio(
            "commit --no-verify vs git",
            f"tdm commit --no-verify -m change  vs  git add -A && git commit ({big} dataset changed)",
            cfg,
            commit_secs,
            COMMIT_GOAL,
            "git",
        )
    ]

    # checkout: HEAD has the changed dataset, v1.0 the original
    committed = _copy(changed, cfg.workdir / "versions-committed")
    run_timed([tdm, "commit", "-m", "change", "--repo", committed], sample_tree=False)
    checkout_secs = _paired(
        cfg,
        committed,
        "checkout v1.0",
        lambda a: seconds([tdm, "checkout", "v1.0", "--repo", a]),
        lambda b: seconds(_git(b, "checkout", "-q", "v1.0")),
    )
    results.append(
        _ratio(
            "checkout v1.0 vs git",
            f"tdm checkout v1.0  vs  git checkout v1.0 ({big} dataset differs)",
            cfg,
            checkout_secs,
            CHECKOUT_GOAL,
            "git",
        )
    )

    # incremental validation: only the small dataset changes beside the unchanged big one
    small_changed = _copy(base, cfg.workdir / "versions-small")
    _set_seed(small_changed, "small", 3)
    run_timed([tdm, "generate", "small", "--repo", small_changed], sample_tree=False)
    said: list[str] = []

    def verified_commit(repo: Path) -> float:
        r = run_timed([tdm, "commit", "-m", "small", "--repo", repo], sample_tree=False)
        said.append(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "")
        return r.seconds

    inc = _ratio(
        "second commit, validation on",
        "tdm commit -m small  vs  tdm commit --no-verify -m small (500-row dataset changed)",
        cfg,
        _paired(
            cfg,
            small_changed,
            "second commit, small dataset changed",
            verified_commit,
            lambda b: seconds([tdm, "commit", "--no-verify", "-m", "small", "--repo", b]),
        ),
        INCREMENTAL_GOAL,
        "--no-verify",
    )
    inc.notes.append(f"tdm said: {said[-1]!r}")
    results.append(inc)

    results.extend(read_results(cfg, committed, big))
    for name in ("a", "b"):
        shutil.rmtree(cfg.workdir / name, ignore_errors=True)
    return results


def _read_api(root: Path) -> tuple[float, float, int]:
    """(wall s, CPU s of this process's threads, rows) of reading all rows at v1.0."""
    import tdm as tdm_api

    repo = tdm_api.open(root)
    cpu, start = time.process_time(), time.perf_counter()
    n = sum(1 for _ in repo.dataset("bench/customers", rev="v1.0"))
    return time.perf_counter() - start, time.process_time() - cpu, n


def _read_file(path: Path) -> tuple[float, float, int]:
    """The same for the checked-out file, parsed with the same JSON library (orjson)."""
    loads = orjson.loads
    cpu, start = time.process_time(), time.perf_counter()
    with path.open("rb") as fh:
        n = sum(1 for line in fh if loads(line) is not None)
    return time.perf_counter() - start, time.process_time() - cpu, n


def read_results(cfg: Config, committed: Path, big: str) -> list[Result]:
    """``tdm.open(...).dataset(name, rev="v1.0")`` against reading the checked-out file in
    the same repeat, three ways: right after the commit (the blob a loose object, no blob
    cache: each repeat empties .git/tdm/blobs first), in a fresh ``git clone --no-local``
    (objects packed, as a clone from a server has them; a new clone per repeat) and with
    a warm blob cache (the entry the read right after the commit wrote)."""
    path = committed / "datasets" / "bench" / "customers.jsonl"  # HEAD's (changed) data
    cache = committed / ".git" / "tdm" / "blobs"
    clone_src = cfg.workdir / "versions-clone"
    ways: dict[str, tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {
        w: ([], []) for w in ("loose", "clone", "warm")
    }

    def fresh_loose() -> tuple[float, float, int]:
        shutil.rmtree(cache, ignore_errors=True)
        return _read_api(committed)

    def fresh_clone() -> tuple[float, float, int]:
        shutil.rmtree(clone_src, ignore_errors=True)
        run_timed(
            ["git", "clone", "-q", "--no-local", str(committed), str(clone_src)],
            sample_tree=False,
        )
        run_timed(_git(clone_src, "fetch", "-q", "--tags"), sample_tree=False)
        return _read_api(clone_src)

    def warm() -> tuple[float, float, int]:
        return _read_api(committed)

    for i in range(cfg.repeats):
        for way, read in (("loose", fresh_loose), ("clone", fresh_clone), ("warm", warm)):
            progress(
                f"versions repeat {i + 1}/{cfg.repeats}: reading {big} dataset at v1.0 ({way})"
            )
            wall, cpu, n_api = read()
            f_wall, f_cpu, n_file = _read_file(path)
            assert n_api == n_file == cfg.rows, (n_api, n_file)
            ways[way][0].append((wall, cpu))
            ways[way][1].append((f_wall, f_cpu))
    shutil.rmtree(clone_src, ignore_errors=True)
    said = {
        "loose": "fresh after the commit (blob a loose object, no blob cache)",
        "clone": "fresh git clone --no-local (blob packed, no blob cache)",
        "warm": "warm blob cache (.git/tdm/blobs)",
    }
    out = []
    for way, (api, file) in ways.items():
        api_s, file_s = [w for w, _ in api], [w for w, _ in file]
        api_cpu, file_cpu = [c for _, c in api], [c for _, c in file]
        r = _ratio(
            f"dataset(rev=v1.0) vs file, {way}",
            "sum(1 for _ in tdm.open(repo).dataset('bench/customers', rev='v1.0'))  vs  "
            f"orjson.loads of each line of the checked-out file; {said[way]}",
            cfg,
            (api_s, file_s),
            READ_GOAL,
            "the file",
        )
        r.rate, r.baseline_rate = cfg.rows / median(api_s), cfg.rows / median(file_s)
        r.notes.append(
            f"CPU (user+sys, all threads) median: tdm {median(api_cpu):.2f} s, file "
            f"{median(file_cpu):.2f} s, ratio {median(api_cpu) / median(file_cpu):.2f}x; "
            "tdm CPU s: " + ", ".join(f"{c:.2f}" for c in api_cpu)
        )
        r.notes.append(f"inflate: {_inflate_library()}")
        out.append(r)
    return out


def _inflate_library() -> str:
    """Which library inflates git objects in tdm.blobread (ISA-L through isal, or zlib)."""
    from tdm import blobread

    inflater = getattr(blobread, "inflater", None)
    return "isal (ISA-L)" if inflater is getattr(blobread, "_isal_inflater", False) else "zlib"


def run_reads(cfg: Config) -> list[Result]:
    """Only the reads of a pinned version (``--reads-only``), on v1.0 as committed."""
    os.environ.update(GIT_ENV)
    return read_results(cfg, _base(cfg), f"{cfg.rows:,}-row")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--reads-only" in args:
        args.remove("--reads-only")
        return bench_main("tdm versions in git: reads", run_reads, __doc__, args)
    return bench_main("tdm versions in git", run, __doc__, args)


if __name__ == "__main__":
    raise SystemExit(main())
