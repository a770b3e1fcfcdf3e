"""Benchmark ``tdm validate``: rows/s end to end against a pure-Python jsonschema loop.

The tdm figure is the real CLI (``tdm validate --repo DIR``, default ``--jobs``, which is
``os.cpu_count()``) run as a child process on the generated customers dataset, wall
clock from spawn to exit: start-up, checking every tdm file (which plans the template
and validates a 200-row sample), every row against the schema, primary-key
uniqueness, the ``referrer_id`` references and the tdm.lock hash.  ``--jobs 1`` is
measured too, for information.

The baseline is the obvious pure-Python check of the same file: for each line
``json.loads`` then ``Draft202012Validator(schema, format_checker=FormatChecker())
.is_valid(row)``, the validator built once before the loop (the faster way to write
it), run in this process on the first rows of the same file and compared by rate.
It checks rows only: no keys, references or hash.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from common import (
    BenchRepo,
    Config,
    Result,
    RunResult,
    Timed,
    background_note,
    bench_main,
    ensure_dataset,
    fixed_cost,
    inprocess_note,
    median,
    progress,
    repo_for,
    run_timed,
    shell_quote,
    tdm_executable,
    timed_call,
)

RATE_GOAL = 250_000
JSONSCHEMA_RATIO_GOAL = 14.0


def load_schema(repo: BenchRepo) -> dict[str, Any]:
    import yaml

    with repo.schema.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict)
    return data


def asserted_formats(schema: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The schema's formats that jsonschema's FormatChecker checks here, and those it skips."""
    from jsonschema import FormatChecker

    used = sorted(
        {
            p["format"]
            for p in schema.get("properties", {}).values()
            if isinstance(p, dict) and "format" in p
        }
    )
    known = FormatChecker().checkers
    return [f for f in used if f in known], [f for f in used if f not in known]


def jsonschema_baseline(repo: BenchRepo, schema: dict[str, Any], rows: int) -> Timed:
    """Seconds for json.loads + jsonschema is_valid over the first ``rows`` lines."""
    from jsonschema import Draft202012Validator, FormatChecker

    validator = Draft202012Validator(schema, format_checker=FormatChecker())

    def loop() -> int:
        n = bad = 0
        with repo.dataset.open("rb") as fh:
            for line in itertools.islice(fh, rows):
                if not validator.is_valid(json.loads(line)):
                    bad += 1
                n += 1
        if bad:
            raise SystemExit(f"bench: jsonschema found {bad} invalid rows in {repo.dataset}")
        return n

    return timed_call(loop)


def run(cfg: Config, repo: BenchRepo | None = None) -> list[Result]:
    """All validate targets, on ``repo``'s dataset (generated first, untimed, if missing)."""
    tdm = tdm_executable()
    if repo is None:
        repo = repo_for(cfg.workdir, cfg.rows)
    progress(f"validate: preparing the {repo.count:,}-row dataset")
    ensure_dataset(repo)
    argv = [str(tdm), "validate", "--repo", str(repo.root)]
    argv1 = [*argv, "--jobs", "1"]
    schema = load_schema(repo)
    checked, skipped = asserted_formats(schema)

    bases: list[Timed] = []
    secs: list[float] = []
    secs1: list[float] = []
    rss: list[int] = []
    tree: list[int] = []
    rss1: list[int] = []
    runs: list[RunResult] = []
    runs1: list[RunResult] = []
    ok_line = ""
    for i in range(cfg.repeats):
        progress(
            f"validate repeat {i + 1}/{cfg.repeats}: jsonschema loop, {cfg.jsonschema_rows:,} rows"
        )
        bases.append(jsonschema_baseline(repo, schema, cfg.jsonschema_rows))
        progress(f"validate repeat {i + 1}/{cfg.repeats}: tdm validate, {repo.count:,} rows")
        r = run_timed(argv)
        runs.append(r)
        secs.append(r.seconds)
        rss.append(r.peak_rss_kib)
        tree.append(r.tree_rss_kib)
        ok_line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        progress(f"validate repeat {i + 1}/{cfg.repeats}: tdm validate --jobs 1")
        r1 = run_timed(argv1)
        runs1.append(r1)
        secs1.append(r1.seconds)
        rss1.append(r1.peak_rss_kib)

    rate = repo.count / median(secs)
    rate1 = repo.count / median(secs1)
    base = median([t.rate for t in bases])
    expected = f"ok: 1 dataset(s), {repo.count:,} rows valid"
    all_rows = ok_line == expected
    base_cmd = (
        f"in-process json.loads + jsonschema Draft202012Validator(format_checker=FormatChecker())"
        f".is_valid, {cfg.jsonschema_rows:,} rows (bench/bench_validate.py:jsonschema_baseline)"
    )
    format_note = (
        f"baseline FormatChecker asserts {', '.join(checked) or 'no formats'}"
        + (
            f"; skips {', '.join(skipped)} (its optional dependency is not installed)"
            if skipped
            else ""
        )
        + "; tdm (jsonschema-rs) asserts all of them"
    )
    tree_note = (
        "peak RSS = largest single process (main or a worker, from wait4); "
        "tree RSS = sampled peak of main + workers summed"
    )
    progress("validate fixed cost: 3 runs of 1,000 rows")
    fixed = fixed_cost(cfg, "validate")
    assert fixed.seconds is not None
    net = median(secs) - fixed.seconds
    net_rate = repo.count / net if net > 0 else float("nan")
    return [
        Result(
            name="validate rows/s",
            command=shell_quote(argv),
            rows=repo.count,
            seconds=median(secs),
            rate=rate,
            target=f">= {RATE_GOAL:,} rows/s",
            passed=rate >= RATE_GOAL and all_rows,
            peak_rss_kib=max(rss),
            tree_rss_kib=max(tree),
            samples=secs,
            notes=[f"CLI said: {ok_line!r}", tree_note, background_note(runs)],
        ),
        Result(
            name="validate vs jsonschema",
            command=f"{shell_quote(argv)}  vs  {base_cmd}",
            rows=repo.count,
            seconds=median(secs),
            rate=rate,
            baseline_rate=base,
            ratio=rate / base,
            target=f">= {JSONSCHEMA_RATIO_GOAL:g}x",
            passed=rate / base >= JSONSCHEMA_RATIO_GOAL,
            notes=[
                inprocess_note("baseline", bases),
                format_note,
                f"derived, not measured: without the fixed cost (1,000-row run, {fixed.seconds:.2f} s) "
                f"tdm checks {net_rate:,.0f} rows/s, {net_rate / base:.1f}x the baseline",
            ],
        ),
        Result(
            name="validate --jobs 1 (info)",
            command=shell_quote(argv1),
            rows=repo.count,
            seconds=median(secs1),
            rate=rate1,
            baseline_rate=base,
            ratio=rate1 / base,
            target="(information only)",
            peak_rss_kib=max(rss1),
            samples=secs1,
            notes=[background_note(runs1)],
        ),
        fixed,
    ]


def main(argv: list[str] | None = None) -> int:
    return bench_main("tdm validate", run, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
