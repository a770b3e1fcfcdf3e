"""Run every tdm benchmark (``make bench``) and print one summary table.

    .venv/bin/python bench/run_all.py            # full: 1,000,000 rows x 3, 5,000,000 once
    .venv/bin/python bench/run_all.py --quick    # smoke: 200,000 rows x 1, 1,000,000 once

Generate runs first and leaves its dataset for validate (the generate-and-check bench
makes a repository of its own); versions, diff, the 50-schema diff, mask (mask, scan and
the pre-commit hook), merge (the merge driver), export/load and serve (the REST API) then make
repositories of their own.  Scratch data goes to a new directory under --workdir (default
/tmp/tdm-bench) and is removed afterwards.
The exit status is 0 even when a target fails (benchmarks report, they do not gate);
pass --strict to exit 1 on any FAIL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import bench_diff
import bench_generate
import bench_generate_check
import bench_load
import bench_mask
import bench_merge
import bench_schemadiff
import bench_serve
import bench_startup
import bench_validate
import bench_versions
from common import (
    HEADERS,
    Config,
    Result,
    add_arguments,
    cleanup,
    config_from,
    format_table,
    print_results,
    quick_warning,
    repo_for,
    run_timed,
    table_rows,
    tdm_executable,
)


def source_state() -> str:
    """The git commit of the tdm checkout and whether tdm/ has uncommitted changes (read-only)."""
    import subprocess

    from common import REPO_ROOT

    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(REPO_ROOT), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--", "tdm")
    return commit + (" + uncommitted changes in tdm/" if dirty else " (tdm/ clean)")


def environment(cfg: Config) -> dict[str, str]:
    from importlib import metadata

    import faker
    import numpy
    import orjson

    from tdm._version import __version__

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    version = run_timed([tdm_executable(), "--version"], sample_tree=False).stdout.strip()
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "python": sys.version.split()[0],
        "tdm": f"{version} (package {__version__}), source {source_state()}",
        "libraries": (
            f"faker {faker.VERSION}, numpy {numpy.__version__}, orjson {orjson.__version__}, "
            f"jsonschema {metadata.version('jsonschema')}, "
            f"jsonschema-rs {metadata.version('jsonschema-rs')}, "
            f"mimesis {metadata.version('mimesis')}"
        ),
        "load average": " ".join(f"{x:.2f}" for x in load),
        "mode": (
            f"{'quick' if cfg.quick else 'full'}: {cfg.rows:,} rows x {cfg.repeats} repeat(s), "
            f"memory run {cfg.big_rows:,} rows, baselines {cfg.faker_rows:,} (Faker) / "
            f"{cfg.jsonschema_rows:,} (jsonschema) rows"
        ),
        "scratch": str(cfg.workdir),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run all tdm benchmarks.")
    add_arguments(parser)
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any target fails")
    args = parser.parse_args(argv)
    cfg = config_from(args)
    env = environment(cfg)
    print("tdm benchmarks")
    for key, value in env.items():
        print(f"  {key:<13} {value}")
    sys.stdout.flush()
    started = time.perf_counter()
    results: list[Result] = []
    try:
        repo = repo_for(cfg.workdir, cfg.rows)
        generate = bench_generate.run(cfg, repo)
        print_results("tdm generate", generate)
        generate_check = bench_generate_check.run(cfg)
        print_results("tdm generate, generate-and-check path", generate_check)
        validate = bench_validate.run(cfg, repo)
        print_results("tdm validate", validate)
        versions = bench_versions.run(cfg)
        print_results("tdm versions in git", versions)
        diff = bench_diff.run(cfg)
        print_results("tdm diff", diff)
        schemadiff = bench_schemadiff.run(cfg)
        print_results("tdm diff of 50 changed schemas", schemadiff)
        mask = bench_mask.run(cfg)
        print_results("tdm mask, scan and the pre-commit hook", mask)
        merge = bench_merge.run(cfg)
        print_results("tdm merge driver", merge)
        load = bench_load.run(cfg)
        print_results("tdm export and load", load)
        serve = bench_serve.run(cfg)
        print_results("tdm serve", serve)
        startup = bench_startup.run(cfg)
        print_results("tdm start-up and fixed costs", startup)
        results = (
            generate
            + generate_check
            + validate
            + versions
            + diff
            + schemadiff
            + mask
            + merge
            + load
            + serve
            + startup
        )
    finally:
        cleanup(cfg)
    elapsed = time.perf_counter() - started
    print(f"\n== summary ({elapsed:.0f} s in all) ==\n")
    print(format_table(HEADERS, table_rows(results)))
    quick_warning(cfg)
    failed = [r.name for r in results if r.passed is False]
    print(f"\n{len(failed)} target(s) failed" + (f": {', '.join(failed)}" if failed else ""))
    if args.json:
        payload = {
            "environment": env,
            "seconds": elapsed,
            "results": [r.to_json() for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
