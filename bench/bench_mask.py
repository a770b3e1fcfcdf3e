"""Benchmark ``tdm mask``, ``tdm scan`` and the pre-commit hook (issue 5).

- ``tdm mask PROD.jsonl -r customers -o DIR/datasets/prod-sample/customers.jsonl --repo DIR``
  on a 1,000,000-row "production" extract with the sample rules
  (``sample_repo/masking/customers.yaml``), rows/s end to end, against a naive
  consistent-fake loop measured in the same run; the same rows as CSV once (info);
- ``tdm scan DATASET --repo DIR`` of the generated 1,000,000-row customers dataset
  (clean), and as information of the masked output, of the production extract (every
  row has a finding) and of a 1,000,000-row payments dataset (cards and IPs);
- ``git commit`` of a README change with tdm's pre-commit hook installed (no tdm file
  staged) against the same commit with ``--no-verify``.

The production extract is a ``tdm generate`` of the customers schema with every e-mail
moved to ``@gmail.com`` (generated data uses reserved example domains, which scan
accepts), written outside the repository.  The naive baseline is what one would write
without tdm: for every row and every keyed field of the sample rules, re-seed one Faker
instance from HMAC-SHA256(key, value) and call the provider; it runs in this process on
a sample of the same input, interleaved with the tdm runs, and is compared by rate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from common import (
    REPO_ROOT,
    Config,
    Result,
    RunResult,
    Timed,
    background_note,
    bench_main,
    count_lines,
    inprocess_note,
    make_repo,
    median,
    progress,
    run_timed,
    sha256_of,
    shell_quote,
    tdm_executable,
    timed_call,
)

MASK_RATE_GOAL = 100_000  # tdm mask >= 100,000 rows/s
NAIVE_RATIO_GOAL = 25.0  # and > 25x the naive consistent-fake loop (issue 16)
SCAN_RATE_GOAL = 150_000  # tdm scan >= 150,000 rows/s
HOOK_GOAL_S = 0.5  # git commit with the hook, no tdm file staged, <= 0.5 s
HOOK_REPEATS = 10  # short runs: more of them, for a steadier median
SAMPLE_DIR = REPO_ROOT / "sample_repo"
RULES = SAMPLE_DIR / "masking" / "customers.yaml"
OUTPUT = Path("datasets") / "prod-sample" / "customers.jsonl"
#: a fixed key for reproducible output; a benchmark key, not a secret
MASKING_KEY = "tdm-bench-masking-key-not-a-secret"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
COLUMNS = [
    "id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "birth_date",
    "signup_at",
    "country",
    "tier",
    "marketing_opt_in",
    "loyalty_points",
    "referrer_id",
]
_EXAMPLE_EMAIL = re.compile(rb'@example\.(?:com|org|net)"')
_SUMMARY = re.compile(r"scanned (\d+) file\(s\), ([\d,]+) rows: (\d+) finding")


def _git(root: Path, *args: str) -> list[str]:
    return ["git", "-C", str(root), *args]


# ------------------------------------------------------------------ set-up


def _production_input(dataset: Path, workdir: Path) -> tuple[Path, Path, int]:
    """The generated dataset as a "production" extract, JSON Lines and CSV, outside the
    repository: every e-mail moved from a reserved example domain to gmail.com."""
    jsonl = workdir / "prod-customers.jsonl"
    csv_path = workdir / "prod-customers.csv"
    moved = 0
    with dataset.open("rb") as src, jsonl.open("wb") as dst:
        for line in src:
            line, n = _EXAMPLE_EMAIL.subn(b'@gmail.com"', line)
            moved += n
            dst.write(line)
    import csv

    def cell(value: object) -> object:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return value

    with jsonl.open("rb") as fin, csv_path.open("w", encoding="utf-8", newline="") as fout:
        writer = csv.writer(fout)
        writer.writerow(COLUMNS)
        for line in fin:
            row = json.loads(line)
            writer.writerow([cell(row.get(c)) for c in COLUMNS])
    return jsonl, csv_path, moved


def _payments_repo(cfg: Config) -> Path:
    """A repo with the sample customers, orders and payments schemas and a template of
    1,000 customers, ``cfg.rows`` orders and ``cfg.rows`` payments (order_id is unique)."""
    root = cfg.workdir / "payments"
    run_timed([tdm_executable(), "init", root], sample_tree=False)
    for name in ("customers", "orders", "payments"):
        shutil.copyfile(SAMPLE_DIR / "schemas" / f"{name}.yaml", root / "schemas" / f"{name}.yaml")
    (root / "templates" / "pay.yaml").write_text(
        "seed: 1\ndatasets:\n"
        "  customers: {schema: customers, count: 1000}\n"
        f"  orders: {{schema: orders, count: {cfg.rows}}}\n"
        f"  payments: {{schema: payments, count: {cfg.rows}}}\n",
        encoding="utf-8",
    )
    run_timed([tdm_executable(), "generate", "--repo", root], sample_tree=False)
    return root


# ------------------------------------------------------------------ the naive baseline


def naive_mask(src: Path, dst: Path, rows: int, key: bytes) -> Timed:
    """Seconds for the naive consistent-fake loop to mask the first ``rows`` rows of ``src``
    into ``dst``: json.loads, a Faker instance re-seeded from HMAC-SHA256(key, value) for
    every keyed field (birth_date is keyed on the row's id, as the rule's ``per: id``),
    the phone's digits but the last 4 starred, json.dumps."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(0)
    fake.email()  # Faker's lazy provider set-up, not timed

    def seed(value: object) -> None:
        digest = hmac.new(key, str(value).encode(), hashlib.sha256).digest()
        fake.seed_instance(int.from_bytes(digest[:8], "big"))

    digit = re.compile(r"\d")

    def loop() -> int:
        loads, dumps = json.loads, json.dumps
        n = 0
        with src.open("rb") as fin, dst.open("w", encoding="utf-8") as fout:
            for line in itertools.islice(fin, rows):
                row = loads(line)
                seed(row["email"])
                row["email"] = fake.email()
                seed(row["first_name"])
                row["first_name"] = fake.first_name()
                seed(row["last_name"])
                row["last_name"] = fake.last_name()
                seed(row["id"])
                shift = dt.timedelta(days=fake.random_int(-30, 30))
                row["birth_date"] = (dt.date.fromisoformat(row["birth_date"]) + shift).isoformat()
                seed(row["loyalty_points"])
                noisy = row["loyalty_points"] * (1 + fake.pyfloat(min_value=-0.05, max_value=0.05))
                row["loyalty_points"] = min(50_000, max(0, round(noisy)))
                phone = row["phone"]
                row["phone"] = digit.sub("*", phone[:-4]) + phone[-4:]
                fout.write(dumps(row) + "\n")
                n += 1
        return n

    return timed_call(loop)


# ------------------------------------------------------------------ checks


def _scan_summary(run: RunResult) -> tuple[int, int]:
    """(rows, findings) from the summary line of a ``tdm scan`` run; else exit."""
    match = _SUMMARY.search(run.stdout + run.stderr)
    if match is None:
        raise SystemExit(f"bench: `{run.command}` printed no summary:\n{run.stdout}{run.stderr}")
    return int(match.group(2).replace(",", "")), int(match.group(3))


def _check_scan(run: RunResult, rows: int, clean: bool) -> int:
    """A scan of ``rows`` rows: exit 0 and no finding when ``clean``, else exit 1; findings."""
    got_rows, findings = _scan_summary(run)
    ok = got_rows == rows and (
        (run.returncode == 0 and findings == 0) if clean else (run.returncode == 1 and findings > 0)
    )
    if not ok:
        raise SystemExit(
            f"bench: `{run.command}` exited {run.returncode}: {got_rows:,} rows, {findings} "
            f"finding(s); expected {rows:,} rows, {'none' if clean else 'some'}"
        )
    return findings


def _check_masked(path: Path, rows: int) -> None:
    lines = count_lines(path)
    if lines != rows:
        raise SystemExit(f"bench: {path} has {lines:,} lines, expected {rows:,}")


# ------------------------------------------------------------------ the hook


def hook_runs(root: Path, repeats: int) -> tuple[list[RunResult], list[RunResult], str]:
    """``git commit`` of a staged README change with the hook, then with ``--no-verify``,
    interleaved; also one traced commit that shows the hook ran (its trace line)."""
    readme = root / "README.md"
    counter = itertools.count(1)

    def stage() -> None:
        with readme.open("a", encoding="utf-8") as fh:
            fh.write(f"change {next(counter)}\n")
        run_timed(_git(root, "add", "README.md"), sample_tree=False)

    # the hook must really run: a traced commit names it (not timed)
    stage()
    traced = dict(os.environ, GIT_TRACE="1")
    import subprocess

    proc = subprocess.run(
        _git(root, "commit", "-q", "-m", "traced"),
        env=traced,
        capture_output=True,
        text=True,
        check=False,
    )
    trace = next((ln for ln in proc.stderr.splitlines() if "hooks/pre-commit" in ln), "")
    if proc.returncode != 0 or not trace:
        raise SystemExit(f"bench: the pre-commit hook did not run:\n{proc.stderr}")
    trace = trace.split("trace: ", 1)[-1]

    hooked: list[RunResult] = []
    plain: list[RunResult] = []
    for i in range(repeats):
        progress(f"hook repeat {i + 1}/{repeats}: git commit (hook), git commit --no-verify")
        stage()
        hooked.append(run_timed(_git(root, "commit", "-q", "-m", f"hook {i}"), sample_tree=False))
        stage()
        plain.append(
            run_timed(
                _git(root, "commit", "-q", "--no-verify", "-m", f"plain {i}"), sample_tree=False
            )
        )
    return hooked, plain, trace


# ------------------------------------------------------------------ the benchmark


def _secs(runs: list[RunResult]) -> list[float]:
    return [r.seconds for r in runs]


def _joined(runs: list[RunResult], digits: int = 2) -> str:
    return ", ".join(f"{r.seconds:.{digits}f}" for r in runs)


def _rates(runs: list[RunResult], rows: int) -> str:
    return ", ".join(f"{rows / r.seconds:,.0f}" for r in runs)


def run(cfg: Config) -> list[Result]:
    os.environ.update(GIT_ENV)
    os.environ["TDM_MASKING_KEY"] = MASKING_KEY
    tdm = str(tdm_executable())
    rows = cfg.rows

    progress(f"mask: generating {rows:,} customers and the production extract")
    repo = make_repo(cfg.workdir / "mask", rows)
    root = repo.root
    shutil.copyfile(RULES, root / "masking" / "customers.yaml")
    run_timed([tdm, "generate", "--repo", root], sample_tree=False)
    prod, prod_csv, moved = _production_input(repo.dataset, cfg.workdir)
    out = root / OUTPUT
    naive_out = cfg.workdir / "naive-masked.jsonl"

    def mask(src: Path) -> list[str]:
        return [tdm, "mask", str(src), "-r", "customers", "-o", str(out), "--repo", str(root)]

    def scan(path: Path) -> list[str]:
        return [tdm, "scan", str(path), "--repo", str(root)]

    startup = [run_timed([tdm, "--version"], sample_tree=False).seconds for _ in range(3)]

    progress(f"mask: the CSV input once, {rows:,} rows (info)")
    csv_run = run_timed(mask(prod_csv))
    _check_masked(out, rows)

    masks: list[RunResult] = []
    naives: list[Timed] = []
    scans: list[RunResult] = []
    scans_out: list[RunResult] = []
    shas: list[str] = []
    for i in range(cfg.repeats):
        progress(f"mask repeat {i + 1}/{cfg.repeats}: naive loop, {cfg.faker_rows:,} rows")
        naives.append(naive_mask(prod, naive_out, cfg.faker_rows, MASKING_KEY.encode()))
        progress(f"mask repeat {i + 1}/{cfg.repeats}: tdm mask, {rows:,} rows")
        masks.append(run_timed(mask(prod)))
        _check_masked(out, rows)
        shas.append(sha256_of(out))
        progress(f"mask repeat {i + 1}/{cfg.repeats}: tdm scan of the generated dataset")
        scans.append(run_timed(scan(repo.dataset), check=False))
        _check_scan(scans[-1], rows, clean=True)
        progress(f"mask repeat {i + 1}/{cfg.repeats}: tdm scan of the masked output")
        scans_out.append(run_timed(scan(out), check=False))
        _check_scan(scans_out[-1], rows, clean=True)
    naive_out.unlink(missing_ok=True)

    progress("scan: the production extract once (every row has a finding)")
    prod_scan = run_timed(scan(prod), check=False)
    prod_findings = _check_scan(prod_scan, rows, clean=False)
    listed = sum(1 for ln in prod_scan.stdout.splitlines() if ln and "not listed" not in ln)
    prod_csv.unlink(missing_ok=True)

    progress(f"scan: generating {rows:,} orders and {rows:,} payments")
    pay_root = _payments_repo(cfg)
    payments = pay_root / "datasets" / "pay" / "payments.jsonl"
    pay_argv = [tdm, "scan", str(payments), "--repo", str(pay_root)]
    pay_scans: list[RunResult] = []
    for i in range(cfg.repeats):
        progress(f"scan repeat {i + 1}/{cfg.repeats}: tdm scan of the payments dataset")
        pay_scans.append(run_timed(pay_argv, check=False))
        _check_scan(pay_scans[-1], rows, clean=True)
    pay_mib = payments.stat().st_size / (1 << 20)
    shutil.rmtree(pay_root, ignore_errors=True)

    progress("hook: committing the repository (generated and masked datasets), installing")
    (root / "README.md").write_text("bench repository\n", encoding="utf-8")
    run_timed(_git(root, "add", "-A"), sample_tree=False)
    run_timed(_git(root, "commit", "-q", "-m", "datasets"), sample_tree=False)
    install = run_timed([tdm, "hooks", "install", "--repo", root], sample_tree=False)
    repeats = max(cfg.repeats, HOOK_REPEATS)
    hooked, plain, trace = hook_runs(root, repeats)
    tracked = run_timed(_git(root, "ls-files"), sample_tree=False).stdout.split()
    data_mib = sum((root / p).stat().st_size for p in tracked) / (1 << 20)
    shutil.rmtree(root, ignore_errors=True)
    prod.unlink(missing_ok=True)

    naive_rate = median([t.rate for t in naives])
    mask_s = median(_secs(masks))
    mask_rate = rows / mask_s
    csv_rate = rows / csv_run.seconds
    scan_s, out_s, pay_s = median(_secs(scans)), median(_secs(scans_out)), median(_secs(pay_scans))
    hook_s, plain_s = median(_secs(hooked)), median(_secs(plain))
    mask_argv = shell_quote(
        [tdm, "mask", "PROD.jsonl", "-r", "customers", "-o", f"DIR/{OUTPUT}", "--repo", "DIR"]
    )
    startup_note = (
        f"CLI start-up alone (`tdm --version`): median {median(startup):.2f} s of 3, "
        "included in every tdm figure"
    )
    identical = len(set(shas)) == 1
    input_note = (
        f"input: {rows:,} generated customers, {moved:,} e-mails moved to @gmail.com "
        f"({prod.name}, {cfg.workdir.name}/, outside the repo)"
    )
    naive_cmd = (
        f"in-process naive loop, {cfg.faker_rows:,} rows: Faker re-seeded from HMAC-SHA256 "
        "per keyed field (5 per row) + json (bench/bench_mask.py:naive_mask)"
    )
    big = f"{rows:,}-row"
    return [
        Result(
            name="mask rows/s, JSON Lines",
            command=mask_argv,
            rows=rows,
            seconds=mask_s,
            rate=mask_rate,
            target=f">= {MASK_RATE_GOAL:,} rows/s",
            passed=mask_rate >= MASK_RATE_GOAL,
            peak_rss_kib=max(r.peak_rss_kib for r in masks),
            tree_rss_kib=max(r.tree_rss_kib for r in masks),
            samples=_secs(masks),
            notes=[
                input_note,
                f"rows/s per repeat: {_rates(masks, rows)}",
                f"output {rows:,} lines every repeat; `tdm scan` of it clean every repeat; "
                f"sha256 {'identical' if identical else 'DIFFERS'} over the repeats "
                f"({shas[0][:16]}...)",
                "mask forks one worker per CPU (here "
                f"{os.cpu_count()}); peak RSS = largest single process (wait4), tree RSS = "
                "sampled peak of main + workers summed",
                startup_note,
                background_note(masks),
            ],
        ),
        Result(
            name="mask vs naive consistent fake",
            command=f"{mask_argv}  vs  {naive_cmd}",
            rows=rows,
            seconds=mask_s,
            rate=mask_rate,
            baseline_rate=naive_rate,
            ratio=mask_rate / naive_rate,
            target=f">= {NAIVE_RATIO_GOAL:g}x",
            passed=mask_rate / naive_rate >= NAIVE_RATIO_GOAL,
            notes=[
                inprocess_note("baseline", naives),
                "tdm rate is the CLI end to end (start-up, all CPUs); the baseline is the bare "
                "loop on one CPU; tdm per CPU second: "
                + ", ".join(f"{rows / r.cpu_seconds:,.0f}" for r in masks)
                + " rows",
            ],
        ),
        Result(
            name="mask rows/s, CSV (info)",
            command=mask_argv.replace("PROD.jsonl", "PROD.csv"),
            rows=rows,
            seconds=csv_run.seconds,
            rate=csv_rate,
            baseline_rate=naive_rate,
            ratio=csv_rate / naive_rate,
            target="(information only)",
            peak_rss_kib=csv_run.peak_rss_kib,
            tree_rss_kib=csv_run.tree_rss_kib,
            samples=[csv_run.seconds],
            notes=[
                "one run, before the JSON Lines repeats; the same rows as CSV, cells typed by "
                f"the schema; output {rows:,} lines",
                background_note([csv_run]),
            ],
        ),
        Result(
            name="scan rows/s",
            command=f"tdm scan DIR/datasets/bench/customers.jsonl --repo DIR ({big} generated)",
            rows=rows,
            seconds=scan_s,
            rate=rows / scan_s,
            target=f">= {SCAN_RATE_GOAL:,} rows/s",
            passed=rows / scan_s >= SCAN_RATE_GOAL,
            peak_rss_kib=max(r.peak_rss_kib for r in scans),
            samples=_secs(scans),
            notes=[
                f"rows/s per repeat: {_rates(scans, rows)}; exit 0, 0 findings every repeat",
                background_note(scans),
            ],
        ),
        Result(
            name="scan masked output (info)",
            command=f"tdm scan DIR/{OUTPUT} --repo DIR",
            rows=rows,
            seconds=out_s,
            rate=rows / out_s,
            target="(information only)",
            peak_rss_kib=max(r.peak_rss_kib for r in scans_out),
            samples=_secs(scans_out),
            notes=[f"rows/s per repeat: {_rates(scans_out, rows)}; exit 0, 0 findings"],
        ),
        Result(
            name="scan production extract (info)",
            command=f"tdm scan {prod.name} --repo DIR",
            rows=rows,
            seconds=prod_scan.seconds,
            rate=rows / prod_scan.seconds,
            target="(information only)",
            peak_rss_kib=prod_scan.peak_rss_kib,
            samples=[prod_scan.seconds],
            notes=[f"one run; exit 1, {prod_findings:,} finding(s) ({listed} listed)"],
        ),
        Result(
            name="scan payments (info)",
            command=f"tdm scan DIR/datasets/pay/payments.jsonl --repo DIR ({big}, {pay_mib:.0f} MiB)",
            rows=rows,
            seconds=pay_s,
            rate=rows / pay_s,
            target="(information only)",
            peak_rss_kib=max(r.peak_rss_kib for r in pay_scans),
            samples=_secs(pay_scans),
            notes=[
                "sample payments schema (card object or null, IPv4), generated with "
                f"{rows:,} orders and 1,000 customers; exit 0, 0 findings",
                f"rows/s per repeat: {_rates(pay_scans, rows)}",
            ],
        ),
        Result(
            name="pre-commit hook, no tdm file",
            command="git -C DIR commit -q -m M (README.md staged)  vs  the same with --no-verify",
            seconds=hook_s,
            ratio=hook_s / plain_s,
            target=f"<= {HOOK_GOAL_S:g} s",
            passed=hook_s <= HOOK_GOAL_S,
            samples=_secs(hooked),
            notes=[
                f"with the hook s: {_joined(hooked, 3)} (median {hook_s:.3f})",
                f"--no-verify s: {_joined(plain, 3)} (median {plain_s:.3f})",
                f"hook minus --no-verify, median: {(hook_s - plain_s) * 1000:.0f} ms",
                f"{install.stdout.strip()}; traced: {trace}",
                f"repo: {len(tracked)} tracked files, {data_mib:.0f} MiB (the generated and "
                "masked datasets committed)",
            ],
        ),
    ]


def run_mask_only(cfg: Config) -> list[Result]:
    """``--mask-only``: the JSON Lines mask runs and the naive loop, interleaved, with CPU
    time (user+sys of the whole process tree; the naive loop's in-process CPU) beside wall
    time, and with ``--before TDM`` another tdm executable (e.g. the main checkout's)
    masking the same input in the same repeats."""
    os.environ.update(GIT_ENV)
    os.environ["TDM_MASKING_KEY"] = MASKING_KEY
    tdm = str(tdm_executable())
    rows = cfg.rows
    progress(f"mask: generating {rows:,} customers and the production extract")
    repo = make_repo(cfg.workdir / "mask", rows)
    root = repo.root
    shutil.copyfile(RULES, root / "masking" / "customers.yaml")
    run_timed([tdm, "generate", "--repo", root], sample_tree=False)
    prod, prod_csv, _ = _production_input(repo.dataset, cfg.workdir)
    prod_csv.unlink(missing_ok=True)
    out = root / OUTPUT
    naive_out = cfg.workdir / "naive-masked.jsonl"
    sides = {"tdm": tdm} | ({"before": BEFORE[0]} if BEFORE else {})
    runs: dict[str, list[RunResult]] = {side: [] for side in sides}
    shas: dict[str, set[str]] = {side: set() for side in sides}
    naive_rates: list[float] = []
    naive_cpu_rates: list[float] = []
    for i in range(cfg.repeats):
        progress(f"mask repeat {i + 1}/{cfg.repeats}: naive loop, {cfg.faker_rows:,} rows")
        cpu = time.process_time()
        timed = naive_mask(prod, naive_out, cfg.faker_rows, MASKING_KEY.encode())
        naive_cpu_rates.append(timed.rows / (time.process_time() - cpu))
        naive_rates.append(timed.rate)
        for side, exe in sides.items():
            progress(f"mask repeat {i + 1}/{cfg.repeats}: {side} mask, {rows:,} rows")
            argv = [exe, "mask", str(prod), "-r", "customers", "-o", str(out), "--repo", str(root)]
            runs[side].append(run_timed(argv))
            _check_masked(out, rows)
            shas[side].add(sha256_of(out))
    naive_out.unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    prod.unlink(missing_ok=True)
    naive_rate, naive_cpu = median(naive_rates), median(naive_cpu_rates)
    results = []
    for side, done in runs.items():
        secs = _secs(done)
        cpu_rates = [rows / r.cpu_seconds for r in done]
        rate = rows / median(secs)
        results.append(
            Result(
                name=f"mask rows/s ({side})",
                command=f"{sides[side]} mask PROD.jsonl -r customers -o DIR/{OUTPUT} --repo DIR",
                rows=rows,
                seconds=median(secs),
                rate=rate,
                baseline_rate=naive_rate,
                ratio=rate / naive_rate,
                target=f">= {MASK_RATE_GOAL:,} rows/s, > {NAIVE_RATIO_GOAL:g}x naive",
                passed=rate >= MASK_RATE_GOAL and rate / naive_rate > NAIVE_RATIO_GOAL,
                peak_rss_kib=max(r.peak_rss_kib for r in done),
                samples=secs,
                notes=[
                    f"rows/s per repeat: {_rates(done, rows)}",
                    "rows per CPU second (user+sys, main + workers) per repeat: "
                    + ", ".join(f"{c:,.0f}" for c in cpu_rates)
                    + f"; median {median(cpu_rates):,.0f}, "
                    f"{median(cpu_rates) / naive_cpu:.1f}x the naive loop's {naive_cpu:,.0f} "
                    "rows per CPU second",
                    f"sha256 of the output: {', '.join(sorted(x[:16] for x in shas[side]))}",
                    background_note(done),
                ],
            )
        )
    if BEFORE and shas["tdm"] != shas["before"]:
        raise SystemExit("bench: the two tdm executables wrote different bytes")
    return results


#: ``--before TDM``: another tdm executable measured beside this checkout's in --mask-only
BEFORE: list[str] = []


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--before" in args:
        at = args.index("--before")
        BEFORE.append(args[at + 1])
        del args[at : at + 2]
    if "--mask-only" in args:
        args.remove("--mask-only")
        return bench_main("tdm mask (JSON Lines only)", run_mask_only, __doc__, args)
    return bench_main("tdm mask, scan and the pre-commit hook", run, __doc__, args)


if __name__ == "__main__":
    raise SystemExit(main())
