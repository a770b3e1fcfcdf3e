"""Shared helpers for the tdm benchmarks: temp repos, timed CLI runs, peak RSS, tables.

Every figure the benchmarks report comes from code in this directory; nothing here
asserts on timings.  The CLI is always run as a child process so that start-up,
planning, fsync and (for ``--jobs``) worker processes are all part of the number.

Peak memory of a child run is taken from ``os.wait4``: on Linux its ``ru_maxrss``
is the largest resident set of the child *or of any descendant it waited for*
(the kernel folds a reaped child's peak into its parent's "children" peak).  It
is a maximum over single processes, not a sum, so for ``--jobs 2`` it is the
biggest of {main process, worker 1, worker 2}.  To show what the process tree
holds at once, :class:`TreeRssSampler` also polls ``/proc`` and sums the RSS of
the whole tree (shared copy-on-write pages of forked workers are counted once
per process, so that sum over-states real memory use a little).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import functools
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SCHEMA = REPO_ROOT / "sample_repo" / "schemas" / "customers.yaml"
DEFAULT_WORKDIR = Path("/tmp/tdm-bench")
TEMPLATE = "bench"
DATASET = "customers"
MB = 1024 * 1024


# ------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class Config:
    """Sizes and repeats of one benchmark session."""

    rows: int  # rows of the main generate/validate dataset
    big_rows: int  # rows of the single memory-growth run
    repeats: int
    faker_rows: int  # rows of the naive Faker baseline
    jsonschema_rows: int  # rows of the pure-Python jsonschema baseline
    workdir: Path  # this session's own scratch directory
    quick: bool = False
    keep: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 200,000 rows (1,000,000 for the memory run), one repeat, small baselines",
    )
    parser.add_argument("--rows", type=int, help="rows of the main dataset (default 1,000,000)")
    parser.add_argument(
        "--big-rows", type=int, help="rows of the memory-growth run (default 5,000,000)"
    )
    parser.add_argument("--repeats", type=int, help="repeats per measurement (median is reported)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"parent of the scratch directory for repos and data (default {DEFAULT_WORKDIR})",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated data in --workdir afterwards"
    )


def config_from(args: argparse.Namespace) -> Config:
    """The session's settings; its scratch directory is a new directory under --workdir."""
    import tempfile

    quick = bool(args.quick)
    rows = args.rows or (200_000 if quick else 1_000_000)
    check_workdir(args.workdir)
    args.workdir.mkdir(parents=True, exist_ok=True)
    session = Path(tempfile.mkdtemp(prefix="run-", dir=args.workdir))
    return Config(
        rows=rows,
        big_rows=args.big_rows or (1_000_000 if quick else 5_000_000),
        repeats=args.repeats or (1 if quick else 3),
        faker_rows=5_000 if quick else 20_000,
        jsonschema_rows=10_000 if quick else 50_000,
        workdir=session,
        quick=quick,
        keep=bool(args.keep),
    )


def check_workdir(workdir: Path) -> None:
    """Refuse to write benchmark data inside the source tree."""
    resolved = workdir.resolve()
    if resolved == REPO_ROOT or REPO_ROOT in resolved.parents:
        sys.exit(f"bench: --workdir {workdir} is inside {REPO_ROOT}; use a temp directory")


# ------------------------------------------------------------------ the CLI


@functools.cache
def compile_tdm() -> None:
    """Byte-compile tdm's own modules, as ``pip install`` does for an installed wheel.

    An editable install (``make install``) has no ``.pyc`` files until Python writes
    them on first import, and it never does when ``PYTHONDONTWRITEBYTECODE`` is set
    (as it is on some CI machines and in containers): every child run would then
    compile tdm from source, about 50-90 ms that no installed tdm pays.
    """
    compileall.compile_dir(REPO_ROOT / "tdm", quiet=1)


def tdm_executable() -> Path:
    """The ``tdm`` console script of the interpreter running the benchmark (tdm's
    bytecode compiled first, see :func:`compile_tdm`)."""
    compile_tdm()
    candidates = [
        Path(sys.executable).parent / "tdm",
        REPO_ROOT / ".venv" / "bin" / "tdm",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which("tdm")
    if found:
        return Path(found)
    sys.exit("bench: no tdm executable found (run `make install` first)")


@dataclass(frozen=True)
class RunResult:
    argv: list[str]
    seconds: float
    returncode: int
    #: ru_maxrss of the child and its waited-for descendants (max of single processes), KiB
    peak_rss_kib: int
    #: sampled peak of the summed RSS of the whole process tree, KiB (0 if not sampled)
    tree_rss_kib: int
    stdout: str
    stderr: str
    #: CPU seconds the child tree used (user + system)
    cpu_seconds: float = 0.0
    #: average number of CPUs busy with *other* work while the child ran (noise indicator)
    background_cpus: float = 0.0

    @property
    def command(self) -> str:
        return shell_quote(self.argv)


def shell_quote(argv: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            resident_pages = int(fh.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return resident_pages * (os.sysconf("SC_PAGE_SIZE") // 1024)


class TreeRssSampler:
    """Polls /proc and records the peak of the summed RSS of ``pid`` and its descendants."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[int]:
        children = _children_map()
        todo, seen = [self.pid], []
        while todo:
            pid = todo.pop()
            seen.append(pid)
            todo.extend(children.get(pid, []))
        return seen

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(_rss_kib(pid) for pid in self._tree())
            self.peak_kib = max(self.peak_kib, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeRssSampler:
        if Path("/proc/self/statm").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def _busy_cpu_seconds() -> float:
    """Machine-wide non-idle CPU seconds since boot (from /proc/stat), 0 if unavailable."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()[1:]
    except OSError:
        return 0.0
    # user nice system idle iowait irq softirq steal ...: all but idle and iowait
    ticks = [int(x) for x in fields[:8]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def run_timed(
    argv: Sequence[str | os.PathLike[str]], *, sample_tree: bool = True, check: bool = True
) -> RunResult:
    """Run ``argv`` as a child process: wall-clock seconds and peak RSS (see module doc)."""
    args = [os.fspath(a) for a in argv]
    env = dict(os.environ, TDM_NO_PROGRESS="1")
    with (
        open(os.devnull, "rb") as stdin,
        _temp_capture() as out,
        _temp_capture() as err,
    ):
        busy_before = _busy_cpu_seconds()
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdin=stdin, stdout=out, stderr=err, env=env)
        sampler = TreeRssSampler(proc.pid) if sample_tree else None
        with sampler or contextlib.nullcontext():
            _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        busy = _busy_cpu_seconds() - busy_before
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    result = RunResult(
        argv=args,
        seconds=seconds,
        returncode=proc.returncode,
        peak_rss_kib=int(usage.ru_maxrss),
        tree_rss_kib=sampler.peak_kib if sampler else 0,
        stdout=stdout,
        stderr=stderr,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        background_cpus=max(0.0, busy - usage.ru_utime - usage.ru_stime) / seconds,
    )
    if check and result.returncode != 0:
        sys.exit(
            f"bench: `{result.command}` exited {result.returncode}\n{stdout}\n{stderr}".rstrip()
        )
    return result


@contextlib.contextmanager
def _temp_capture() -> Iterator[Any]:
    import tempfile

    with tempfile.TemporaryFile() as fh:
        yield fh


# ------------------------------------------------------------------ repositories


@dataclass(frozen=True)
class BenchRepo:
    root: Path
    count: int

    @property
    def dataset(self) -> Path:
        return self.root / "datasets" / TEMPLATE / f"{DATASET}.jsonl"

    @property
    def schema(self) -> Path:
        return self.root / "schemas" / "customers.yaml"


def make_repo(root: Path, count: int) -> BenchRepo:
    """A fresh tdm repo (``tdm init``) with the sample customers schema and a bench template."""
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    run_timed([tdm_executable(), "init", root], sample_tree=False)
    shutil.copyfile(SAMPLE_SCHEMA, root / "schemas" / "customers.yaml")
    (root / "templates" / f"{TEMPLATE}.yaml").write_text(
        f"seed: 1\ndatasets:\n  {DATASET}:\n    schema: customers\n    count: {count}\n",
        encoding="utf-8",
    )
    return BenchRepo(root, count)


def repo_for(workdir: Path, count: int) -> BenchRepo:
    return make_repo(workdir / f"repo-{count}", count)


def ensure_dataset(repo: BenchRepo) -> None:
    """Generate the repo's dataset (untimed) unless it is already there."""
    if not repo.dataset.exists():
        run_timed([tdm_executable(), "generate", "--repo", repo.root], sample_tree=False)


def fixed_cost(cfg: Config, command: str, repeats: int = 3) -> Result:
    """Median seconds of ``tdm <command>`` on a 1,000-row dataset: start-up and planning."""
    repo = repo_for(cfg.workdir, 1_000)
    ensure_dataset(repo)
    argv = [str(tdm_executable()), command, "--repo", str(repo.root)]
    if command == "generate":
        argv.insert(2, "--force")
    runs = [run_timed(argv, sample_tree=False) for _ in range(repeats)]
    secs = [r.seconds for r in runs]
    shutil.rmtree(repo.root, ignore_errors=True)
    return Result(
        name=f"{command} fixed cost (info)",
        command=shell_quote(argv),
        rows=repo.count,
        seconds=median(secs),
        target="(information only)",
        peak_rss_kib=max(r.peak_rss_kib for r in runs),
        samples=secs,
        notes=["a 1,000-row run is almost all start-up, file loading and planning"],
    )


def quick_warning(cfg: Config) -> None:
    """Say so when PASS/FAIL was judged on fewer rows than the targets are defined for."""
    if cfg.rows < 1_000_000:
        mode = "quick mode, " if cfg.quick else ""
        print(
            f"\nNOTE: {mode}{cfg.rows:,} rows: the targets are defined for 1,000,000 rows, "
            "where the fixed start-up cost weighs less; PASS/FAIL here is a smoke check only."
        )


def count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while block := fh.read(8 << 20):
            n += block.count(b"\n")
    return n


def sha256_of(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# ------------------------------------------------------------------ statistics


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def background_note(runs: Sequence[RunResult]) -> str:
    """How busy the machine was with other work during ``runs`` (see RunResult)."""
    loads = ", ".join(f"{r.background_cpus:.2f}" for r in runs)
    cpu = ", ".join(f"{r.cpu_seconds:.1f}" for r in runs)
    return (
        f"CPU s used by the tdm process tree per run: {cpu}; CPUs busy with other processes "
        f"meanwhile (of {os.cpu_count()}): {loads}"
    )


@dataclass(frozen=True)
class Timed:
    """An in-process measurement: seconds, rows done and the machine's other load meanwhile."""

    seconds: float
    rows: int
    #: average number of CPUs busy with work other than this process during the call
    background_cpus: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def timed_call(fn: Callable[[], int]) -> Timed:
    """Time ``fn`` (which returns the rows it handled) in this process."""
    import resource

    def own_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    busy, cpu = _busy_cpu_seconds(), own_cpu()
    start = time.perf_counter()
    rows = fn()
    seconds = time.perf_counter() - start
    other = (_busy_cpu_seconds() - busy) - (own_cpu() - cpu)
    return Timed(seconds, rows, max(0.0, other) / seconds)


def inprocess_note(label: str, runs: Sequence[Timed]) -> str:
    rates = ", ".join(f"{t.rate:,.0f}" for t in runs)
    loads = ", ".join(f"{t.background_cpus:.2f}" for t in runs)
    return (
        f"{label} rows/s per repeat: {rates}; CPUs busy with other processes meanwhile "
        f"(of {os.cpu_count()}): {loads}"
    )


# ------------------------------------------------------------------ results


@dataclass
class Result:
    """One target: what ran, what it measured, and whether it met the target."""

    name: str
    command: str
    rows: int | None = None
    seconds: float | None = None  # median wall-clock seconds
    rate: float | None = None  # rows/s (median)
    baseline_rate: float | None = None
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None
    peak_rss_kib: int | None = None
    tree_rss_kib: int | None = None
    notes: list[str] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)  # per-repeat seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": self.command,
            "rows": self.rows,
            "seconds": self.seconds,
            "rows_per_s": self.rate,
            "baseline_rows_per_s": self.baseline_rate,
            "ratio": self.ratio,
            "target": self.target,
            "passed": self.passed,
            "peak_rss_mib": None if self.peak_rss_kib is None else self.peak_rss_kib / 1024,
            "tree_rss_mib": None if self.tree_rss_kib is None else self.tree_rss_kib / 1024,
            "samples_s": self.samples,
            "notes": self.notes,
        }


def fmt_int(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def fmt_secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_mib(kib: int | None) -> str:
    return "-" if not kib else f"{kib / 1024:.0f} MiB"


def verdict(passed: bool | None) -> str:
    return "-" if passed is None else ("PASS" if passed else "FAIL")


HEADERS = [
    "target",
    "rows",
    "seconds",
    "rows/s",
    "baseline rows/s",
    "ratio",
    "goal",
    "result",
    "peak RSS",
    "tree RSS",
]


def table_rows(results: Sequence[Result]) -> list[list[str]]:
    return [
        [
            r.name,
            fmt_int(r.rows),
            fmt_secs(r.seconds),
            fmt_int(r.rate),
            fmt_int(r.baseline_rate),
            fmt_ratio(r.ratio),
            r.target,
            verdict(r.passed),
            fmt_mib(r.peak_rss_kib),
            fmt_mib(r.tree_rss_kib),
        ]
        for r in results
    ]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    numeric = {1, 2, 3, 4, 5, 8, 9}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(row) for row in rows)
    return "\n".join(out)


def print_results(title: str, results: Sequence[Result]) -> None:
    print(f"\n== {title} ==")
    for r in results:
        print(f"\n[{r.name}]  {verdict(r.passed)}  (goal: {r.target})")
        print(f"  command : {r.command}")
        if r.samples:
            runs = ", ".join(f"{s:.2f}" for s in r.samples)
            print(f"  runs (s): {runs}")
        for note in r.notes:
            print(f"  note    : {note}")
    print()
    print(format_table(HEADERS, table_rows(results)))
    sys.stdout.flush()


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def cleanup(cfg: Config) -> None:
    """Remove this session's scratch directory (only it: --workdir may hold other things)."""
    if cfg.keep:
        print(f"bench: data kept in {cfg.workdir}", file=sys.stderr)
    elif cfg.workdir.exists():
        shutil.rmtree(cfg.workdir, ignore_errors=True)


def bench_main(
    title: str, run: Callable[[Config], list[Result]], doc: str | None, argv: list[str] | None
) -> int:
    """The command line of one benchmark script: options, run, table, clean-up."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    add_arguments(parser)
    cfg = config_from(parser.parse_args(argv))
    try:
        results = run(cfg)
    finally:
        cleanup(cfg)
    print_results(title, results)
    quick_warning(cfg)
    return 0
