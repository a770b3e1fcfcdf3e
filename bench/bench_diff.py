"""`tdm diff` between two commits of a repository with a 1,000,000-row dataset.

- `tdm diff A B --format json` where 1% of the 1M rows changed (`loyalty_points` of every
  100th row) against `git diff --shortstat A B` on the same repository;
- peak RSS of those `tdm diff` runs;
- `tdm diff C D --format json` where only a 500-row dataset changed beside the unchanged
  1M-row one: it must not read the big blob, so it must take well under the 1M-row diff.

All four commands run on the same repository (diff only reads it), interleaved in every
repeat; medians of the repeats.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
from common import (
    MB,
    Config,
    Result,
    RunResult,
    background_note,
    bench_main,
    make_repo,
    median,
    progress,
    run_timed,
    tdm_executable,
)

DIFF_GOAL = 2.0  # tdm diff A B <= 2x git diff --shortstat A B
RSS_GOAL_MIB = 1024  # peak RSS of tdm diff A B <= 1 GB
SMALL_GOAL = 0.25  # tdm diff C D < 25% of tdm diff A B
SMALL_ROWS = 500
EVERY = 100  # loyalty_points changes in every 100th row: 1% of the rows
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _git(root: Path, *args: str) -> list[str]:
    return ["git", "-C", str(root), *args]


def _git_commit(root: Path, message: str, tag: str) -> None:
    run_timed(_git(root, "add", "-A"), sample_tree=False)
    run_timed(_git(root, "commit", "-q", "-m", message), sample_tree=False)
    run_timed(_git(root, "tag", tag), sample_tree=False)


def _set_seed(root: Path, template: str, seed: int) -> None:
    path = root / "templates" / f"{template}.yaml"
    lines = path.read_text().splitlines()
    path.write_text(
        "\n".join(f"seed: {seed}" if ln.startswith("seed:") else ln for ln in lines) + "\n"
    )


def _change_every_100th(path: Path) -> int:
    """Rewrite ``path`` with ``loyalty_points`` changed in rows 100, 200, ...; rows changed."""
    tmp = path.with_suffix(".tmp")
    changed = 0
    with path.open("rb") as src, tmp.open("wb") as dst:
        for i, line in enumerate(src, 1):
            if i % EVERY == 0:
                row = orjson.loads(line)
                row["loyalty_points"] = (row["loyalty_points"] + 1) % 50_001  # stays in 0..50000
                line = orjson.dumps(row) + b"\n"
                changed += 1
            dst.write(line)
    os.replace(tmp, path)
    return changed


def _repository(cfg: Config) -> tuple[Path, int]:
    """A: the big and the small dataset (``tdm commit --no-verify``); B: 1% of the big one's
    rows changed; C = B; D: only the small dataset regenerated with another seed."""
    tdm = tdm_executable()
    repo = make_repo(cfg.workdir / "diff", cfg.rows)
    root = repo.root
    (root / "templates" / "small.yaml").write_text(
        f"seed: 1\ndatasets:\n  customers: {{schema: customers, count: {SMALL_ROWS}}}\n",
        encoding="utf-8",
    )
    progress(f"diff: generating {cfg.rows:,} + {SMALL_ROWS} rows and committing A")
    run_timed([tdm, "generate", "--repo", root], sample_tree=False)
    run_timed([tdm, "commit", "--no-verify", "-m", "A", "--repo", root], sample_tree=False)
    run_timed(_git(root, "tag", "A"), sample_tree=False)
    progress(f"diff: changing loyalty_points in every {EVERY}th row and committing B")
    changed = _change_every_100th(repo.dataset)
    _git_commit(root, "B: 1% of the big dataset's rows changed", "B")
    run_timed(_git(root, "tag", "C"), sample_tree=False)
    progress(f"diff: regenerating the {SMALL_ROWS}-row dataset with another seed, committing D")
    _set_seed(root, "small", 2)
    run_timed([tdm, "generate", "small", "--repo", root], sample_tree=False)
    _git_commit(root, "D: only the small dataset changed", "D")
    return root, changed


def _check_big(run: RunResult, rows: int, changed: int) -> None:
    """The A..B report: one dataset, ``changed`` rows, only loyalty_points; else exit."""
    report = orjson.loads(run.stdout)
    got = [
        (d["name"], d["status"], d["added"], d["removed"], d["changed"], d["fields"])
        for d in report["datasets"]
    ]
    want = [("bench/customers", "modified", 0, 0, changed, {"loyalty_points": changed})]
    if got != want or report["datasets"][0]["rows_after"] != rows:
        raise SystemExit(f"bench: `{run.command}` reported {got}, expected {want}")


def _check_small(run: RunResult) -> None:
    """The C..D report: only the small dataset, never the big one; else exit."""
    report = orjson.loads(run.stdout)
    names = [d["name"] for d in report["datasets"]]
    if names != ["small/customers"]:
        raise SystemExit(f"bench: `{run.command}` reported datasets {names}")


def _check_git(run: RunResult, changed: int) -> None:
    want = f"1 file changed, {changed} insertion"
    if not run.stdout.strip().startswith(want):
        raise SystemExit(f"bench: `{run.command}` said {run.stdout.strip()!r}, expected {want!r}")


def _secs(runs: list[RunResult]) -> list[float]:
    return [r.seconds for r in runs]


def _joined(runs: list[RunResult], digits: int = 2) -> str:
    return ", ".join(f"{r.seconds:.{digits}f}" for r in runs)


def run(cfg: Config) -> list[Result]:
    os.environ.update(GIT_ENV)
    tdm = str(tdm_executable())
    root, changed = _repository(cfg)
    big = f"{cfg.rows:,}-row"

    def diff(a: str, b: str) -> list[str]:
        return [tdm, "diff", a, b, "--format", "json", "--repo", str(root)]

    def shortstat(a: str, b: str) -> list[str]:
        return _git(root, "diff", "--shortstat", a, b)

    tdm_ab: list[RunResult] = []
    git_ab: list[RunResult] = []
    tdm_cd: list[RunResult] = []
    git_cd: list[RunResult] = []
    for i in range(cfg.repeats):
        progress(f"diff repeat {i + 1}/{cfg.repeats}: A..B ({big}, 1% changed), C..D (small)")
        tdm_ab.append(run_timed(diff("A", "B")))
        _check_big(tdm_ab[-1], cfg.rows, changed)
        git_ab.append(run_timed(shortstat("A", "B"), sample_tree=False))
        _check_git(git_ab[-1], changed)
        tdm_cd.append(run_timed(diff("C", "D")))
        _check_small(tdm_cd[-1])
        git_cd.append(run_timed(shortstat("C", "D"), sample_tree=False))

    ab, ab_git = median(_secs(tdm_ab)), median(_secs(git_ab))
    cd, cd_git = median(_secs(tdm_cd)), median(_secs(git_cd))
    ab_ratio, cd_ratio, small_ratio = ab / ab_git, cd / cd_git, cd / ab
    peak = max(r.peak_rss_kib for r in tdm_ab)
    tree = max(r.tree_rss_kib for r in tdm_ab)
    blob_mib = (root / "datasets" / "bench" / "customers.jsonl").stat().st_size / MB
    shutil.rmtree(root, ignore_errors=True)
    command = "tdm diff A B --format json --repo DIR  vs  git diff --shortstat A B"
    return [
        Result(
            name="diff 1% of rows vs git",
            command=f"{command} ({big} dataset, {changed:,} rows changed)",
            rows=cfg.rows,
            seconds=ab,
            ratio=ab_ratio,
            target=f"<= {DIFF_GOAL:g}x git diff --shortstat",
            passed=ab_ratio <= DIFF_GOAL,
            samples=_secs(tdm_ab),
            notes=[
                f"tdm s: {_joined(tdm_ab)}",
                f"git s: {_joined(git_ab)} (median {ab_git:.2f})",
                f"git said: {git_ab[-1].stdout.strip()!r}",
                f"tdm said: datasets[0].changed == {changed:,}, fields {{'loyalty_points'}}",
                background_note(tdm_ab),
            ],
        ),
        Result(
            name="diff peak RSS",
            command=f"tdm diff A B --format json --repo DIR ({big} dataset, {blob_mib:.0f} MiB)",
            rows=cfg.rows,
            seconds=ab,
            target=f"<= {RSS_GOAL_MIB} MiB",
            passed=max(peak, tree) <= RSS_GOAL_MIB * 1024,
            peak_rss_kib=peak,
            tree_rss_kib=tree,
            notes=[
                "judged on the larger of the wait4 peak and the sampled tree peak, over repeats",
                "wait4 peak per run (MiB): "
                + ", ".join(f"{r.peak_rss_kib / 1024:.0f}" for r in tdm_ab),
            ],
        ),
        Result(
            name="diff, only small dataset changed",
            command=(
                f"tdm diff C D --format json --repo DIR ({SMALL_ROWS}-row dataset changed)  vs  "
                f"tdm diff A B ({big} dataset, 1% changed)"
            ),
            rows=SMALL_ROWS,
            seconds=cd,
            ratio=small_ratio,
            target=f"< {SMALL_GOAL:g}x the {big} diff",
            passed=small_ratio < SMALL_GOAL,
            peak_rss_kib=max(r.peak_rss_kib for r in tdm_cd),
            samples=_secs(tdm_cd),
            notes=[
                f"tdm diff C D s: {_joined(tdm_cd)}",
                f"tdm diff A B s: {_joined(tdm_ab)} (median {ab:.2f})",
                f"the unchanged {big} dataset ({blob_mib:.0f} MiB) is beside it in C and D",
                background_note(tdm_cd),
            ],
        ),
        Result(
            name="diff small vs git (info)",
            command="tdm diff C D --format json --repo DIR  vs  git diff --shortstat C D",
            rows=SMALL_ROWS,
            seconds=cd,
            ratio=cd_ratio,
            target="(information only)",
            samples=_secs(tdm_cd),
            notes=[
                f"git s: {_joined(git_cd, 3)} (median {cd_git:.3f})",
                f"git said: {git_cd[-1].stdout.strip()!r}",
            ],
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    return bench_main("tdm diff", run, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
