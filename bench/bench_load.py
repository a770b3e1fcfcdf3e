"""Export and load of the 1,000,000-row customers dataset (the sample's customers schema).

- `tdm load bench --into postgresql://...` against `psql -c "\\copy customers from ... csv"` of
  the same rows (the CSV that `tdm export` writes) into the same table definition, each
  into a fresh database of one throwaway cluster (initdb/pg_ctl, default durability
  settings), interleaved; the ratio is psql's seconds over tdm's (>= 0.7 is the goal);
- `tdm load bench --into sqlite:///...` (goal: >= 150,000 rows/s), beside a plain
  ``executemany`` of the same rows (read and parsed with orjson) into the same table in a
  child Python process;
- `tdm export bench/customers --format csv -o FILE` from the working tree and from a
  commit (`--rev HEAD`), rows/s (goal >= 200,000) and peak RSS (goal < 300 MB).

Each figure is the median of the repeats; every run is a child process, so start-up counts.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import uuid
from pathlib import Path

from common import (
    REPO_ROOT,
    Config,
    Result,
    bench_main,
    ensure_dataset,
    make_repo,
    median,
    progress,
    run_timed,
    tdm_executable,
)

sys.path.insert(0, str(REPO_ROOT / "tests"))
import pgcluster  # the tests' throwaway cluster

PG_GOAL = 0.7
SQLITE_GOAL = 150_000
EXPORT_GOAL = 200_000
EXPORT_RSS_MIB = 300
MIB = 1024

BASELINE_SQLITE = textwrap.dedent(
    """
    import sqlite3, sys, orjson
    ddl, data, db, columns = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute(ddl)
    loads = orjson.loads
    with open(data, "rb") as fh:
        rows = (tuple(map(loads(line).get, columns)) for line in fh)
        marks = ",".join("?" * len(columns))
        conn.executemany(f"INSERT INTO customers VALUES ({marks})", rows)
    conn.execute("COMMIT")
    """
)


def _cpu_note(label: str, rows: int, cpu: list[float]) -> str:
    return f"{label}: {median(cpu):.2f} CPU s ({rows / median(cpu):,.0f} rows per CPU second)"


def _ddl(tdm: Path, root: Path, dialect: str) -> str:
    out = run_timed(
        [tdm, "export", "bench/customers", "--format", "sql", "--dialect", dialect, "--repo", root],
        sample_tree=False,
    ).stdout
    create = out[out.index("CREATE TABLE") :]
    return create[: create.index(";\n")]


def bench_export(cfg: Config, root: Path, csv_path: Path) -> list[Result]:
    tdm = tdm_executable()
    results = []
    for label, extra in (("working tree", []), ("--rev HEAD", ["--rev", "HEAD"])):
        runs = []
        for i in range(cfg.repeats):
            progress(f"export csv ({label}) {i + 1}/{cfg.repeats}")
            out = cfg.workdir / f"export-{i}.csv"
            argv = [tdm, "export", "bench/customers", *extra, "-o", out, "--repo", root]
            runs.append(run_timed(argv))
            if i == 0 and label == "working tree":
                shutil.copyfile(out, csv_path)
            out.unlink()
        secs = [r.seconds for r in runs]
        rate = cfg.rows / median(secs)
        rss = max(r.peak_rss_kib for r in runs)
        results.append(
            Result(
                name=f"export csv ({label})",
                command=f"tdm export bench/customers {' '.join(extra)} --format csv -o FILE".replace(
                    "  ", " "
                ),
                rows=cfg.rows,
                seconds=median(secs),
                rate=rate,
                target=f">= {EXPORT_GOAL:,} rows/s, < {EXPORT_RSS_MIB} MB",
                passed=rate >= EXPORT_GOAL and rss < EXPORT_RSS_MIB * MIB,
                peak_rss_kib=rss,
                samples=secs,
                notes=[
                    _cpu_note("tdm", cfg.rows, [r.cpu_seconds for r in runs]),
                    f"background load {median([r.background_cpus for r in runs]):.1f} CPUs",
                ],
            )
        )
    return results


def bench_sqlite(cfg: Config, root: Path) -> Result:
    tdm = tdm_executable()
    ddl = _ddl(tdm, root, "sqlite")
    columns = ",".join(
        line.strip().split('"')[1] for line in ddl.splitlines()[1:] if line.strip().startswith('"')
    )
    data = root / "datasets" / "bench" / "customers.jsonl"
    tdm_runs, base_runs = [], []
    for i in range(cfg.repeats):
        progress(f"sqlite load {i + 1}/{cfg.repeats}")
        db = cfg.workdir / f"tdm-{i}.db"
        tdm_runs.append(
            run_timed([tdm, "load", "bench", "--into", f"sqlite:///{db}", "--repo", root])
        )
        base_db = cfg.workdir / f"base-{i}.db"
        base_runs.append(
            run_timed([sys.executable, "-c", BASELINE_SQLITE, ddl, data, base_db, columns])
        )
        db.unlink()
        base_db.unlink()
    secs = [r.seconds for r in tdm_runs]
    base = [r.seconds for r in base_runs]
    rate = cfg.rows / median(secs)
    return Result(
        name="load into SQLite",
        command="tdm load bench --into sqlite:///FILE  vs  executemany of the same rows",
        rows=cfg.rows,
        seconds=median(secs),
        rate=rate,
        baseline_rate=cfg.rows / median(base),
        ratio=median(base) / median(secs),
        target=f">= {SQLITE_GOAL:,} rows/s",
        passed=rate >= SQLITE_GOAL,
        peak_rss_kib=max(r.peak_rss_kib for r in tdm_runs),
        samples=secs,
        notes=[
            "tdm s: " + ", ".join(f"{s:.2f}" for s in secs),
            "executemany s: " + ", ".join(f"{s:.2f}" for s in base),
            _cpu_note("tdm", cfg.rows, [r.cpu_seconds for r in tdm_runs]),
            _cpu_note("executemany", cfg.rows, [r.cpu_seconds for r in base_runs]),
            f"background load {median([r.background_cpus for r in tdm_runs]):.1f} CPUs",
        ],
    )


def bench_postgres(cfg: Config, root: Path, csv_path: Path) -> Result:
    tdm = tdm_executable()
    ddl = _ddl(tdm, root, "postgresql")
    psql = shutil.which("psql")
    if psql is None or pgcluster.find_bindir() is None:
        return Result(
            name="load into PostgreSQL",
            command="tdm load bench --into postgresql://...",
            notes=[pgcluster.ENABLE_HINT],
        )
    progress("postgres: starting a throwaway cluster")
    tdm_runs, psql_runs = [], []
    with pgcluster.running(fast=False) as cluster:
        env_before = os.environ.get("PGPASSWORD")
        os.environ["PGPASSWORD"] = pgcluster.SUPERUSER_PASSWORD
        try:
            for i in range(cfg.repeats):
                progress(f"postgres load {i + 1}/{cfg.repeats}")
                a, b = f"b_{uuid.uuid4().hex[:8]}", f"b_{uuid.uuid4().hex[:8]}"
                for name in (a, b):
                    cluster.psql("postgres", "-c", f'CREATE DATABASE "{name}"')
                cluster.psql(b, "-c", ddl)
                psql_runs.append(
                    run_timed(
                        [
                            psql,
                            "-X",
                            "-q",
                            cluster.url(b),
                            "-c",
                            f"\\copy customers from '{csv_path}' with (format csv, header)",
                        ]
                    )
                )
                tdm_runs.append(
                    run_timed([tdm, "load", "bench", "--into", cluster.url(a), "--repo", root])
                )
                for name in (a, b):
                    cluster.psql("postgres", "-c", f'DROP DATABASE "{name}"')
        finally:
            if env_before is None:
                os.environ.pop("PGPASSWORD", None)
            else:
                os.environ["PGPASSWORD"] = env_before
    secs = [r.seconds for r in tdm_runs]
    base = [r.seconds for r in psql_runs]
    ratio = median(base) / median(secs)
    return Result(
        name="load into PostgreSQL vs psql \\copy",
        command='tdm load bench --into postgresql://...  vs  psql -c "\\copy customers from FILE csv"',
        rows=cfg.rows,
        seconds=median(secs),
        rate=cfg.rows / median(secs),
        baseline_rate=cfg.rows / median(base),
        ratio=ratio,
        target=f">= {PG_GOAL:g}x psql \\copy",
        passed=ratio >= PG_GOAL,
        peak_rss_kib=max(r.peak_rss_kib for r in tdm_runs),
        samples=secs,
        notes=[
            "tdm s: " + ", ".join(f"{s:.2f}" for s in secs),
            "psql s: " + ", ".join(f"{s:.2f}" for s in base),
            _cpu_note("tdm client", cfg.rows, [r.cpu_seconds for r in tdm_runs]),
            "the same table definition (tdm's DDL: primary key, unique e-mail, checks, "
            "self-reference) on both sides",
        ],
    )


def run(cfg: Config) -> list[Result]:
    repo = make_repo(cfg.workdir / "load", cfg.rows)
    progress(f"load: generating {cfg.rows:,} customers and committing them")
    ensure_dataset(repo)
    for args in (["add", "-A"], ["commit", "-q", "-m", "data"]):
        run_timed(
            [
                "git",
                "-C",
                repo.root,
                "-c",
                "user.name=bench",
                "-c",
                "user.email=b@example.com",
                *args,
            ],
            sample_tree=False,
        )
    csv_path = cfg.workdir / "customers.csv"
    results = bench_export(cfg, repo.root, csv_path)
    results.append(bench_sqlite(cfg, repo.root))
    results.append(bench_postgres(cfg, repo.root, csv_path))
    return results


def main(argv: list[str] | None = None) -> int:
    return bench_main("tdm export and load", run, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
