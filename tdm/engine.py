"""``tdm generate``: write datasets from their plans, chunk by chunk, atomically.

Rows are rendered in chunks; with ``jobs > 1`` the chunks are shared between this
process and ``jobs - 1`` worker processes and written in order by this process, so
the output is byte-identical for any number of jobs.  Memory stays bounded by the number of
chunks in flight, not by the row count.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from tdm._version import __version__, faker_version
from tdm.errors import UserError
from tdm.fsutil import atomic_writer
from tdm.hashcache import FileHashes
from tdm.measure import file_sha256
from tdm.models import Lock, LockEntry
from tdm.project import Project
from tdm.recipes import DatasetPlan, SampleChecks, TemplatePlanner, plan_templates

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

#: rows rendered at a time: small enough for a chunk's strings to stay in the CPU's caches
#: (5,000 rows render about a third faster than 20,000) and for workers to share a
#: dataset evenly; any split gives the same bytes
CHUNK_ROWS = 5_000
#: without --jobs: worker processes only when this many rows are to be rendered (a pool
#: costs milliseconds to start and its chunks travel through pipes; on 2 CPUs one process
#: and its writer thread were as fast at 100,000 rows as two processes) ...
AUTO_JOBS_ROWS = 200_000
#: ... and at most this many
AUTO_JOBS_MAX = 8


def auto_jobs(rows: int) -> int:
    """Processes to render ``rows`` rows (this one included) when the caller did not say:
    one per CPU this process may run on (at most :data:`AUTO_JOBS_MAX`) for a large run,
    else 1.  The bytes are the same for any number."""
    if rows < AUTO_JOBS_ROWS:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks (macOS)
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, AUTO_JOBS_MAX))


#: called as progress(dataset, rows just done, total rows of the run)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DatasetOutcome:
    dataset: str  # "<template>/<dataset>"
    path: str
    rows: int
    sha256: str
    #: written / unchanged (generate); up to date / would change / lock outdated (--check)
    status: Literal["written", "unchanged", "would change", "lock outdated", "up to date"]


@dataclass(frozen=True)
class GenerateResult:
    datasets: list[DatasetOutcome]

    @property
    def changed(self) -> list[DatasetOutcome]:
        return [d for d in self.datasets if d.status in ("would change", "lock outdated")]


# ------------------------------------------------------------------ workers

_WORKER_PLANS: list[DatasetPlan] = []


def _init_worker(plans: list[DatasetPlan], parent: int) -> None:
    global _WORKER_PLANS
    _WORKER_PLANS = plans
    # Ctrl-C and SIGTERM are the parent's to handle: it stops the pool after the chunks
    # in hand and removes its temp file
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive its parent (killed with SIGKILL, say): on Linux the kernel
    kills it (PR_SET_PDEATHSIG); everywhere, a thread checks the parent every second."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="tdm-parent-watch", daemon=True).start()


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _ready() -> None:
    """A no-op task: once it has run, every worker process has been started."""


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold back SIGINT for the block; one that arrived meanwhile is raised at its end."""
    if not hasattr(signal, "pthread_sigmask"):  # no signal masks (Windows)
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _render(plan_index: int, start: int, stop: int) -> bytes:
    return _WORKER_PLANS[plan_index].render(start, stop)


def _chunks(count: int) -> list[tuple[int, int]]:
    return [(s, min(s + CHUNK_ROWS, count)) for s in range(0, count, CHUNK_ROWS)]


class _Renderer:
    """Renders chunks in this process, with ``jobs - 1`` worker processes beside it,
    always in order: this process renders every ``jobs``-th chunk itself (and writes and
    hashes them all), the workers the others, so ``jobs`` processes render and only the
    workers' chunks travel through pipes."""

    def __init__(self, plans: list[DatasetPlan], jobs: int) -> None:
        self.plans = plans
        self.jobs = jobs
        self.pool: ProcessPoolExecutor | None = None
        if jobs > 1:
            # workers inherit the plans by fork; frozen objects are not touched by the
            # children's garbage collector, so their pages are not copied on write (no
            # collection first: it costs tens of milliseconds, and a run this short does
            # not miss the little garbage that is frozen with the rest)
            gc.freeze()
            import multiprocessing  # only with workers: ~20 ms of imports
            from concurrent.futures import ProcessPoolExecutor

            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            # The workers start now, before any dataset file is opened, and not lazily at
            # the first chunk.  A Ctrl-C in the middle of the pool's start-up would leave
            # it unable to shut down, so SIGINT is held back until the pool is complete.
            try:
                with _sigint_held():
                    self.pool = ProcessPoolExecutor(
                        max_workers=jobs - 1,
                        mp_context=multiprocessing.get_context(method),
                        initializer=_init_worker,
                        initargs=(plans, os.getpid()),
                    )
                    self.pool.submit(_ready).result()
            except BaseException:
                self.close()
                raise

    def chunks(self, index: int) -> Iterator[tuple[int, bytes]]:
        plan = self.plans[index]
        spans = _chunks(plan.count)
        if self.pool is None:
            for start, stop in spans:
                yield stop - start, plan.render(start, stop)
            return
        pool, jobs = self.pool, self.jobs
        window = (jobs - 1) * 2  # worker chunks in flight (more made no difference)
        futures: dict[int, Future[bytes]] = {}
        ahead = 0  # the next span to consider handing to a worker

        def top_up(position: int) -> None:
            nonlocal ahead
            ahead = max(ahead, position)
            while ahead < len(spans) and len(futures) < window:
                if ahead % jobs:  # every jobs-th span is this process's own
                    futures[ahead] = pool.submit(_render, index, *spans[ahead])
                ahead += 1

        top_up(0)
        for i, (start, stop) in enumerate(spans):
            if i % jobs:
                data = futures.pop(i).result()
                top_up(i + 1)
            else:
                top_up(i + 1)  # the workers go on while this process renders its own
                data = plan.render(start, stop)
            yield stop - start, data

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.jobs > 1:
            gc.unfreeze()


# ------------------------------------------------------------------ generate


def _consume(
    chunks: Iterator[tuple[int, bytes]],
    digest: Any,
    out: IO[bytes] | None,
    name: str,
    total: int,
    progress: Progress | None,
) -> int:
    """Hash (and write, when ``out`` is given) the chunks in order; the number of rows.

    A thread writes and hashes (both release the GIL for large buffers) while this one
    renders the next chunks or collects them from the workers; at most a few chunks wait
    between them, and the thread is done with the file when this returns or raises."""
    rows = 0
    waiting: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
    failed: list[BaseException] = []

    def write() -> None:
        while (data := waiting.get()) is not None:
            if failed:
                continue  # drain: the producer must never block on a full queue
            try:
                if out is not None:
                    out.write(data)
                digest.update(data)
            except BaseException as exc:  # raised again in the caller's thread
                failed.append(exc)

    writer = threading.Thread(target=write, name="tdm-writer", daemon=True)
    writer.start()
    try:
        for n, data in chunks:
            if failed:
                break
            waiting.put(data)
            rows += n
            if progress:
                progress(name, n, total)
    finally:
        waiting.put(None)
        writer.join()
    if failed:
        raise failed[0]
    return rows


def _pools(checks: SampleChecks) -> Path | None:
    folder = checks.folder()
    return None if folder is None else folder / "pools"


def _all_unchanged(
    project: Project,
    templates: list[str] | None,
    lock: Lock,
    progress: Progress | None,
    hashes: FileHashes,
) -> list[DatasetOutcome] | None:
    """The outcomes when every chosen dataset is up to date (recipe, file and tdm version as
    tdm.lock records them) and tdm.lock needs no change: then nothing is planned (no
    generators, no Faker pools).  None when anything is to do, or to report.  ``hashes``
    holds the files' hashes between runs (tdm.hashcache)."""
    chosen = templates or project.template_names()
    found: list[tuple[DatasetOutcome, int]] = []
    try:
        for name in chosen:
            planner = TemplatePlanner(project, name)
            for dataset in planner.order():
                key = f"{name}/{dataset}"
                path = project.dataset_path(name, dataset)
                old = lock.datasets.get(key)
                if (
                    old is None
                    or old.tdm_version != __version__
                    or old.recipe != planner.recipe(dataset)
                    or old.sha256 != hashes.sha256(path)
                ):
                    return None
                outcome = DatasetOutcome(key, project.rel(path), old.rows, old.sha256, "unchanged")
                found.append((outcome, planner.template.datasets[dataset].count))
    except UserError:
        return None  # planning reports it, with the same message as always
    finally:
        hashes.save()
    keys = {outcome.dataset for outcome, _ in found}
    if not (project.root / "tdm.lock").exists() or any(
        entry.template in chosen and key not in keys for key, entry in lock.datasets.items()
    ):
        return None  # the lock is to be pruned
    total = sum(count for _, count in found)
    for outcome, count in found:
        if progress:
            progress(outcome.dataset, count, total)
    return [outcome for outcome, _ in found]


def generate(
    project: Project,
    templates: list[str] | None = None,
    *,
    jobs: int | None = 1,
    check: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    checks: SampleChecks | None = None,
) -> GenerateResult:
    """Generate (or with ``check``, regenerate in memory and compare) datasets.

    Without ``force``, a dataset whose recipe and file still match tdm.lock is
    left alone.  The lock is updated after each dataset, so an interrupted run
    leaves every finished dataset recorded and every unfinished one untouched.
    ``checks`` remembers the recipes whose 200-row self-check passed (tdm.checkcache).
    ``jobs`` None: :func:`auto_jobs` for the rows left to render at the first dataset
    that needs rendering.
    """
    lock = project.read_lock()
    # a file unchanged since a run hashed it is not read again (tdm.hashcache)
    hashes = FileHashes(None if checks is None else checks.folder())
    if not force and not check:
        unchanged = _all_unchanged(project, templates, lock, progress, hashes)
        if unchanged is not None:
            return GenerateResult(unchanged)
    from tdm import catalogue

    if checks is not None:
        # Faker pools built once are kept in .git/tdm/pools for the next run
        catalogue.keep_pools_in(lambda: _pools(checks))
    try:
        plans = plan_templates(project, templates, checks)
    finally:
        catalogue.keep_pools_in(None)
    total = sum(p.count for p in plans)
    entries = dict(lock.datasets)
    outcomes: list[DatasetOutcome] = []
    # recorded in tdm.lock; read from the package metadata (importing Faker takes a while,
    # and with its pools kept in .git/tdm a run may not need Faker itself)
    faker = faker_version()
    renderer: _Renderer | None = None  # made at the first dataset to render
    try:
        for index, plan in enumerate(plans):
            path = project.dataset_path(plan.template, plan.name)
            rel = project.rel(path)
            old = entries.get(plan.key)
            # the old file is hashed only when its hash decides something
            current = hashes.sha256(path) if check or not force else None
            up_to_date = (
                old is not None
                and old.recipe == plan.recipe
                and old.sha256 == current
                and old.tdm_version == __version__
            )
            if force and path.is_dir():
                file_sha256(path, missing_ok=True)  # the same clear error as without --force
            if up_to_date and not force and not check:
                assert old is not None
                outcomes.append(DatasetOutcome(plan.key, rel, old.rows, old.sha256, "unchanged"))
                if progress:
                    progress(plan.key, plan.count, total)
                continue
            if renderer is None:
                # any worker processes start here, before a dataset file is opened
                workers = auto_jobs(sum(p.count for p in plans[index:])) if jobs is None else jobs
                renderer = _Renderer(plans, max(1, workers))
            digest = hashlib.sha256()
            try:
                if check:
                    rows = _consume(renderer.chunks(index), digest, None, plan.key, total, progress)
                else:
                    with atomic_writer(path, durable=False) as fh:
                        rows = _consume(
                            renderer.chunks(index), digest, fh, plan.key, total, progress
                        )
            except ValueError as exc:
                # a generator that cannot go on past the checked sample (rare); nothing is replaced
                raise UserError(f"dataset '{plan.key}': {exc}", path=plan.schema.display) from None
            sha = digest.hexdigest()
            if check:
                status: Literal["would change", "lock outdated", "up to date"] = "up to date"
                if current != sha:
                    status = "would change"
                elif old is None or old.sha256 != sha or old.recipe != plan.recipe:
                    status = "lock outdated"  # same bytes, but tdm.lock would be rewritten
                outcomes.append(DatasetOutcome(plan.key, rel, rows, sha, status))
                continue
            entries[plan.key] = LockEntry(
                schema=plan.schema.name,
                template=plan.template,
                seed=plan.seed,
                locale=plan.locale,
                count=plan.count,
                rows=rows,
                sha256=sha,
                recipe=plan.recipe,
                tdm_version=__version__,
                faker_version=faker,
            )
            project.write_lock(Lock(datasets=entries))
            outcomes.append(DatasetOutcome(plan.key, rel, rows, sha, "written"))
    finally:
        hashes.save()
        if renderer is not None:
            renderer.close()
    if not check:
        generated_templates = {p.template for p in plans}
        planned = {p.key for p in plans}
        pruned = {
            k: v
            for k, v in entries.items()
            if v.template not in generated_templates or k in planned
        }
        if pruned != entries or not (project.root / "tdm.lock").exists():
            project.write_lock(Lock(datasets=pruned))
    return GenerateResult(outcomes)
