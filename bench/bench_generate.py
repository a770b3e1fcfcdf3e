"""Benchmark ``tdm generate``: rows/s end to end, --jobs 2 speed-up and bytes, peak RSS.

The dataset is the sample ``customers`` schema (11 required fields plus an optional
``referrer_id``), ``seed: 1``.  Every tdm figure is the real CLI run as a child process
(``tdm generate --force --repo DIR``), wall clock from spawn to exit, so start-up,
planning, rendering, writing and fsync are all in it.

The baseline is what one would write without tdm: a plain Python loop calling one
Faker method per field per row for the same 11-field record and writing JSON Lines
with ``json.dumps``.  It runs in this process on a smaller count (Faker set-up not
timed) and is compared by rate, interleaved with the tdm runs so both see the same
machine load.

``--mimesis-only`` runs just the comparison with Mimesis (issue 16): the same record
written by a Mimesis script, 100,000 and 1,000,000 rows, interleaved rounds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from common import (
    BenchRepo,
    Config,
    Result,
    RunResult,
    Timed,
    background_note,
    bench_main,
    count_lines,
    fixed_cost,
    inprocess_note,
    median,
    progress,
    repo_for,
    run_timed,
    sha256_of,
    shell_quote,
    tdm_executable,
    timed_call,
)

RATE_GOAL = 150_000
FAKER_RATIO_GOAL = 45.0
JOBS2_GOAL = 1.6
RSS_GOAL_BYTES = 400_000_000  # "400 MB", read strictly as 400e6 bytes (381 MiB)
#: tdm's rate over Mimesis's, both as child processes: (rows, goal)
MIMESIS_GOALS = ((100_000, 5.0), (1_000_000, 7.0))
MIMESIS_SCRIPT = Path(__file__).resolve().parent / "mimesis_customers.py"


def faker_baseline(path: Path, rows: int) -> Timed:
    """Seconds for the naive Faker loop to write ``rows`` customers to ``path``."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(1)
    countries = ("US", "DE", "FR", "GB", "IN")
    tiers = ("bronze", "silver", "gold", None)

    def loop() -> int:
        dumps = json.dumps
        with path.open("w", encoding="utf-8") as fh:
            for i in range(1, rows + 1):
                row = {
                    "id": i,
                    "email": fake.email(),
                    "first_name": fake.first_name(),
                    "last_name": fake.last_name(),
                    "phone": fake.phone_number(),
                    "birth_date": fake.date_of_birth().isoformat(),
                    "signup_at": fake.date_time().isoformat(),
                    "country": fake.random_element(countries),
                    "tier": fake.random_element(tiers),
                    "marketing_opt_in": fake.pybool(),
                    "loyalty_points": fake.random_int(0, 50_000),
                }
                fh.write(dumps(row) + "\n")
        return rows

    return timed_call(loop)


def _rss_ok(kib: int) -> bool:
    return kib * 1024 <= RSS_GOAL_BYTES


def run(cfg: Config, repo: BenchRepo | None = None) -> list[Result]:
    """All generate targets; leaves ``repo`` holding the generated dataset."""
    tdm = tdm_executable()
    repo = repo or repo_for(cfg.workdir, cfg.rows)
    argv1 = [str(tdm), "generate", "--force", "--jobs", "1", "--repo", str(repo.root)]
    argv2 = [str(tdm), "generate", "--force", "--jobs", "2", "--repo", str(repo.root)]
    baseline_file = cfg.workdir / "faker-baseline.jsonl"

    startup = [run_timed([tdm, "--version"], sample_tree=False).seconds for _ in range(3)]

    secs1: list[float] = []
    secs2: list[float] = []
    fakers: list[Timed] = []
    rss1: list[int] = []
    rss2: list[int] = []
    tree2: list[int] = []
    sha1: list[str] = []
    sha2: list[str] = []
    runs1: list[RunResult] = []
    runs2: list[RunResult] = []
    lines = 0
    for i in range(cfg.repeats):
        progress(
            f"generate repeat {i + 1}/{cfg.repeats}: naive Faker loop, {cfg.faker_rows:,} rows"
        )
        fakers.append(faker_baseline(baseline_file, cfg.faker_rows))
        progress(f"generate repeat {i + 1}/{cfg.repeats}: tdm --jobs 1, {cfg.rows:,} rows")
        r1 = run_timed(argv1)
        runs1.append(r1)
        secs1.append(r1.seconds)
        rss1.append(r1.peak_rss_kib)
        sha1.append(sha256_of(repo.dataset))
        if i == 0:
            lines = count_lines(repo.dataset)
        progress(f"generate repeat {i + 1}/{cfg.repeats}: tdm --jobs 2, {cfg.rows:,} rows")
        r2 = run_timed(argv2)
        runs2.append(r2)
        secs2.append(r2.seconds)
        rss2.append(r2.peak_rss_kib)
        tree2.append(r2.tree_rss_kib)
        sha2.append(sha256_of(repo.dataset))
    baseline_file.unlink(missing_ok=True)

    rate1 = cfg.rows / median(secs1)
    rate2 = cfg.rows / median(secs2)
    faker_rate = median([t.rate for t in fakers])
    progress("generate fixed cost: 3 runs of 1,000 rows")
    fixed = fixed_cost(cfg, "generate")
    assert fixed.seconds is not None
    net = median(secs1) - fixed.seconds
    net_rate = cfg.rows / net if net > 0 else float("nan")
    rows_note = f"output has {lines:,} lines (expected {cfg.rows:,})"
    startup_note = (
        f"CLI start-up alone (`tdm --version`): median {median(startup):.2f} s of 3, "
        "included in every tdm figure"
    )
    faker_cmd = (
        f"in-process naive Faker loop, {cfg.faker_rows:,} rows, 10 Faker calls + json.dumps "
        "per row (bench/bench_generate.py:faker_baseline)"
    )
    identical = len(set(sha1) | set(sha2)) == 1

    results = [
        Result(
            name="generate rows/s, --jobs 1",
            command=shell_quote(argv1),
            rows=cfg.rows,
            seconds=median(secs1),
            rate=rate1,
            target=f">= {RATE_GOAL:,} rows/s",
            passed=rate1 >= RATE_GOAL and lines == cfg.rows,
            peak_rss_kib=max(rss1),
            samples=secs1,
            notes=[rows_note, startup_note, background_note(runs1)],
        ),
        Result(
            name="generate vs naive Faker",
            command=f"{shell_quote(argv1)}  vs  {faker_cmd}",
            rows=cfg.rows,
            seconds=median(secs1),
            rate=rate1,
            baseline_rate=faker_rate,
            ratio=rate1 / faker_rate,
            target=f">= {FAKER_RATIO_GOAL:g}x",
            passed=rate1 / faker_rate >= FAKER_RATIO_GOAL,
            notes=[
                inprocess_note("baseline", fakers),
                "tdm rate is the CLI end to end (start-up included); the baseline is the bare loop",
                f"derived, not measured: without the fixed cost (1,000-row run, {fixed.seconds:.2f} s) "
                f"tdm makes {net_rate:,.0f} rows/s, {net_rate / faker_rate:.1f}x the baseline",
            ],
        ),
        Result(
            name="generate --jobs 2, CLI (info)",
            command=shell_quote(argv2),
            rows=cfg.rows,
            seconds=median(secs2),
            rate=rate2,
            baseline_rate=rate1,
            ratio=rate2 / rate1,
            target="(information only)",
            peak_rss_kib=max(rss2),
            tree_rss_kib=max(tree2),
            samples=secs2,
            notes=[
                "baseline = the --jobs 1 CLI runs of the same repeats (interleaved)",
                "per-repeat ratio (jobs 1 s / jobs 2 s): "
                + ", ".join(f"{a / b:.2f}x" for a, b in zip(secs1, secs2, strict=True)),
                background_note(runs2),
                "peak RSS = largest single process (main or a worker, from wait4); "
                "tree RSS = sampled peak of main + workers summed",
            ],
        ),
        Result(
            name="generate --jobs 2 bytes",
            command="sha256 of datasets/bench/customers.jsonl after each run",
            rows=cfg.rows,
            target="sha256 identical to --jobs 1",
            passed=identical,
            notes=[
                f"--jobs 1: {', '.join(sorted(set(sha1)))}",
                f"--jobs 2: {', '.join(sorted(set(sha2)))}",
            ],
        ),
        Result(
            name=f"generate peak RSS, {cfg.rows:,} rows",
            command=shell_quote(argv1),
            rows=cfg.rows,
            seconds=median(secs1),
            rate=rate1,
            target="<= 400 MB",
            passed=_rss_ok(max(rss1)),
            peak_rss_kib=max(rss1),
            notes=[
                "peak RSS is the maximum over the repeats (wait4 ru_maxrss of the CLI process)",
                "per repeat (MiB): " + ", ".join(f"{k / 1024:.0f}" for k in rss1),
            ],
        ),
    ]
    results.append(engine_jobs(cfg, repo))
    for rows, goal in MIMESIS_GOALS:
        results.append(mimesis_comparison(cfg, rows, goal))
    results.append(run_big(cfg, tdm, max(rss1)))
    results.append(fixed)
    return results


def mimesis_comparison(cfg: Config, rows: int, goal: float) -> Result:
    """``tdm generate`` against a Mimesis script (bench/mimesis_customers.py) writing the same
    customer record shape, both run as child processes in interleaved rounds.  tdm runs as a
    user runs it, without --jobs (a worker per CPU from 50,000 rows); its --jobs 1 time is
    reported beside it."""
    tdm = tdm_executable()
    repo = repo_for(cfg.workdir, rows)
    out = cfg.workdir / "mimesis.jsonl"
    argv_tdm = [str(tdm), "generate", "--force", "--repo", str(repo.root)]
    argv_one = [*argv_tdm, "--jobs", "1"]
    argv_mim = [sys.executable, str(MIMESIS_SCRIPT), str(rows), str(out)]
    runs_tdm: list[RunResult] = []
    runs_one: list[RunResult] = []
    runs_mim: list[RunResult] = []
    repeats = max(cfg.repeats, 3 if rows > 100_000 else 7)  # short runs: more rounds
    for i in range(repeats):
        progress(f"generate vs Mimesis, {rows:,} rows, round {i + 1}/{repeats}")
        runs_mim.append(run_timed(argv_mim, sample_tree=False))
        runs_tdm.append(run_timed(argv_tdm, sample_tree=False))
        runs_one.append(run_timed(argv_one, sample_tree=False))
    lines = count_lines(out)
    out.unlink(missing_ok=True)
    secs_tdm = median([r.seconds for r in runs_tdm])
    secs_mim = median([r.seconds for r in runs_mim])
    cpu_tdm = median([r.cpu_seconds for r in runs_tdm])
    cpu_mim = median([r.cpu_seconds for r in runs_mim])
    ratio = secs_mim / secs_tdm
    return Result(
        name=f"generate vs Mimesis, {rows:,} rows",
        command=f"{shell_quote(argv_tdm)}  vs  {shell_quote(argv_mim)}",
        rows=rows,
        seconds=secs_tdm,
        rate=rows / secs_tdm,
        baseline_rate=rows / secs_mim,
        ratio=ratio,
        target=f">= {goal:g}x",
        passed=ratio >= goal and lines == rows,
        samples=[r.seconds for r in runs_tdm],
        notes=[
            f"both are child processes (start-up included), {repeats} interleaved rounds, medians; "
            f"Mimesis wrote {lines:,} lines",
            f"CPU s (user+sys), median: tdm {cpu_tdm:.2f}, Mimesis {cpu_mim:.2f}: "
            f"{cpu_mim / cpu_tdm:.2f}x by CPU time",
            f"tdm --jobs 1: median {median([r.seconds for r in runs_one]):.2f} s wall, "
            f"{median([r.cpu_seconds for r in runs_one]):.2f} s CPU: "
            f"{secs_mim / median([r.seconds for r in runs_one]):.2f}x Mimesis by wall time",
            "Mimesis per-run s: " + ", ".join(f"{r.seconds:.2f}" for r in runs_mim),
            background_note(runs_tdm),
        ],
    )


def engine_jobs(cfg: Config, repo: BenchRepo) -> Result:
    """--jobs 2 against --jobs 1 for the generation itself, in this process: the CLI's
    start-up, imports and planning (the same for both, and serial) left out."""
    from tdm import engine
    from tdm.project import Project
    from tdm.recipes import plan_templates

    project = Project.find(repo.root)
    plan_templates(project, ["bench"])  # Faker pools and sample checks, as the CLI does first
    secs: dict[int, list[float]] = {1: [], 2: []}
    repeats = max(cfg.repeats, 5)  # short runs: more of them, for a steadier median
    for i in range(repeats):
        for jobs in (1, 2):
            progress(f"engine repeat {i + 1}/{repeats}: engine.generate --jobs {jobs}")
            start = time.perf_counter()
            engine.generate(project, ["bench"], jobs=jobs, force=True)
            secs[jobs].append(time.perf_counter() - start)
    ratio = median(secs[1]) / median(secs[2])
    return Result(
        name="generate --jobs 2 speed-up",
        command="tdm.engine.generate(project, ['bench'], jobs=1|2, force=True), in-process",
        rows=cfg.rows,
        seconds=median(secs[2]),
        rate=cfg.rows / median(secs[2]),
        baseline_rate=cfg.rows / median(secs[1]),
        ratio=ratio,
        target=f">= {JOBS2_GOAL:g}x --jobs 1 (same process)",
        passed=ratio >= JOBS2_GOAL,
        samples=secs[2],
        notes=[
            "per-repeat seconds, jobs 1: "
            + ", ".join(f"{s:.2f}" for s in secs[1])
            + "; jobs 2: "
            + ", ".join(f"{s:.2f}" for s in secs[2]),
            "jobs 1 and jobs 2 interleaved in this process, as the benchmark rules ask; the CLI "
            "figure (info) adds a fresh interpreter's serial start-up and first-touch page "
            "faults to both",
        ],
    )


def run_big(cfg: Config, tdm: Path, small_rss_kib: int) -> Result:
    """One --jobs 1 run at ``cfg.big_rows``: memory must not grow with the row count."""
    big = repo_for(cfg.workdir, cfg.big_rows)
    argv = [str(tdm), "generate", "--force", "--jobs", "1", "--repo", str(big.root)]
    progress(f"generate memory run: tdm --jobs 1, {cfg.big_rows:,} rows")
    r = run_timed(argv)
    lines = count_lines(big.dataset)
    size = big.dataset.stat().st_size
    import shutil

    shutil.rmtree(big.root, ignore_errors=True)  # over a gigabyte: free it now
    growth = (r.peak_rss_kib - small_rss_kib) / 1024
    return Result(
        name=f"generate peak RSS, {cfg.big_rows:,} rows",
        command=shell_quote(argv),
        rows=cfg.big_rows,
        seconds=r.seconds,
        rate=cfg.big_rows / r.seconds,
        target="<= 400 MB",
        passed=_rss_ok(r.peak_rss_kib) and lines == cfg.big_rows,
        peak_rss_kib=r.peak_rss_kib,
        tree_rss_kib=r.tree_rss_kib,
        samples=[r.seconds],
        notes=[
            f"one run; output {lines:,} lines, {size / 1e9:.2f} GB",
            f"peak RSS vs the {cfg.rows:,}-row run: {growth:+.0f} MiB",
            background_note([r]),
        ],
    )


def run_mimesis_only(cfg: Config) -> list[Result]:
    """``--mimesis-only``: the Mimesis comparisons alone (100,000 and 1,000,000 rows)."""
    return [mimesis_comparison(cfg, rows, goal) for rows, goal in MIMESIS_GOALS]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--mimesis-only" in args:
        args.remove("--mimesis-only")
        return bench_main("tdm generate vs Mimesis", run_mimesis_only, __doc__, args)
    return bench_main("tdm generate", run, __doc__, args)


if __name__ == "__main__":
    raise SystemExit(main())
