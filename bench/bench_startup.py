"""Benchmark start-up and fixed costs: the commands users run many times on small data.

- ``tdm --version`` and ``tdm --help`` (target <= 0.25 s),
- ``tdm status`` on the sample with every dataset generated (target <= 0.3 s),
- ``tdm generate`` of that up-to-date sample (target <= 0.3 s),
- ``tdm validate`` of the sample as shipped (its smoke datasets, 2,350 rows; <= 0.4 s).

Every figure is the median of 10 child-process runs, wall clock from spawn to exit,
interleaved with the baseline ``python -c pass`` (the interpreter's own start-up, the
floor no Python CLI goes under) so both see the same machine load.  CPU seconds
(user + system) of each run are reported too: on a loaded machine they are the steadier
figure.  Every command runs once untimed first, so the figures are the steady state
(the caches in .git/tdm are warm, as after any earlier run: the self-check cache, and
the dataset hashes that status and generate keep in hashes.json).  What the first
``status`` after the datasets changed costs (every file hashed, 97 MB) is reported
beside it: the median of runs with .git/tdm/hashes.json deleted before each.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from common import (
    REPO_ROOT,
    Config,
    Result,
    RunResult,
    background_note,
    bench_main,
    median,
    progress,
    run_timed,
    shell_quote,
    tdm_executable,
)

REPEATS = 10
TARGETS = {"--version": 0.25, "--help": 0.25, "status": 0.3, "generate": 0.3, "validate": 0.4}


def _sample(root: Path, *, generate_all: bool) -> Path:
    """A git repository holding a copy of sample_repo (optionally with `full` generated)."""
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(REPO_ROOT / "sample_repo", root)
    env = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    if generate_all:
        run_timed([tdm_executable(), "generate", "--repo", root], sample_tree=False)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), *env, "commit", "-q", "-m", "sample"], check=True)
    return root


def _result(name: str, argv: list[str], runs: list[RunResult], base: list[RunResult]) -> Result:
    secs = [r.seconds for r in runs]
    cpu = [r.cpu_seconds for r in runs]
    base_secs = median([r.seconds for r in base])
    key = argv[1]
    goal = TARGETS[key]
    return Result(
        name=name,
        command=f"{shell_quote(argv)}  vs  python -c pass",
        seconds=median(secs),
        target=f"<= {goal:g} s wall",
        passed=median(secs) <= goal,
        samples=secs,
        notes=[
            f"median CPU (user+sys) {median(cpu):.3f} s; baseline `python -c pass`: wall "
            f"{base_secs:.3f} s, CPU {median([r.cpu_seconds for r in base]):.3f} s (interleaved)",
            f"over the interpreter's own start-up: {median(secs) - base_secs:.3f} s wall",
            background_note(runs),
        ],
    )


def _cold_status(argv: list[str], root: Path, repeats: int = 5) -> str:
    """The status note: runs with no cached hashes (the first after a dataset changed)."""
    runs = []
    for _ in range(repeats):
        (root / ".git" / "tdm" / "hashes.json").unlink(missing_ok=True)
        runs.append(run_timed(argv, sample_tree=False))
    wall = median([r.seconds for r in runs])
    cpu = median([r.cpu_seconds for r in runs])
    return (
        f"with no cached hashes (.git/tdm/hashes.json deleted before each of {repeats} runs, "
        f"every dataset hashed): wall {wall:.3f} s, CPU {cpu:.3f} s"
    )


def run(cfg: Config) -> list[Result]:
    tdm = str(tdm_executable())
    full = _sample(cfg.workdir / "startup-full", generate_all=True)
    shipped = _sample(cfg.workdir / "startup-shipped", generate_all=False)
    commands = {
        "tdm --version": [tdm, "--version"],
        "tdm --help": [tdm, "--help"],
        "tdm status (sample, all generated)": [tdm, "status", "--repo", str(full)],
        "tdm generate (sample, up to date)": [tdm, "generate", "--repo", str(full)],
        "tdm validate (sample as shipped, 2,350 rows)": [tdm, "validate", "--repo", str(shipped)],
    }
    for argv in commands.values():
        run_timed(argv, sample_tree=False, check=False)  # warm: caches, page cache
    runs: dict[str, list[RunResult]] = {name: [] for name in commands}
    base: list[RunResult] = []
    repeats = 3 if cfg.quick else REPEATS
    for i in range(repeats):
        progress(f"start-up round {i + 1}/{repeats}")
        base.append(run_timed([sys.executable, "-c", "pass"], sample_tree=False))
        for name, argv in commands.items():
            runs[name].append(run_timed(argv, sample_tree=False))
    results = [_result(name, commands[name], runs[name], base) for name in commands]
    status = "tdm status (sample, all generated)"
    next(r for r in results if r.name == status).notes.append(_cold_status(commands[status], full))
    shutil.rmtree(full, ignore_errors=True)
    shutil.rmtree(shipped, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    return bench_main("tdm start-up and fixed costs", run, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
