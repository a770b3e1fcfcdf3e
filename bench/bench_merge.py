"""`tdm merge-driver` on two branches that changed 1% of different rows (issue 6).

Three files outside the repository: BASE, a generated 1,000,000-row customers dataset;
OURS, BASE with ``loyalty_points`` changed in rows 0, 100, 200, ... (1%); THEIRS, BASE
with ``loyalty_points`` changed in another 1%, in two variants:

- *far*: rows 50, 150, 250, ... (49 unchanged lines between the two sides' changes);
- *adjacent*: rows 1, 101, 201, ... (each right after one of ours: a line merge sees
  touching hunks and conflicts; a merge by primary key does not).

The driver runs as git runs it, ``tdm merge-driver BASE OURS THEIRS
datasets/bench/customers.jsonl`` with the repository root as working directory, on a
fresh copy of OURS every time (it writes the result into OURS); it must exit 0 (no
conflicts) and leave exactly the expected merge, BASE with both sides' changes.  It is
compared with ``git merge-file -p OURS BASE THEIRS > /dev/null`` on the same three files,
interleaved in every repeat; medians of the repeats.  As information, a real ``git merge``
of two branches carrying the same changes with the driver registered (``tdm init``), every
repeat, and once without it (``merge=text`` in ``.git/info/attributes``), with git's
default strategy and with ``-s recursive``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import orjson
from common import (
    DATASET,
    MB,
    TEMPLATE,
    Config,
    Result,
    RunResult,
    background_note,
    bench_main,
    make_repo,
    median,
    progress,
    run_timed,
    sha256_of,
    tdm_executable,
)

MERGE_GOAL = 3.0  # the driver <= 3x git merge-file on the same three files
EVERY = 100  # each side changes one row in 100: 1% of the rows
OURS_AT = 0  # ours changes rows 0, 100, 200, ...
FAR_AT = 50  # theirs (far): rows 50, 150, 250, ...
ADJ_AT = 1  # theirs (adjacent): rows 1, 101, 201, ...
DATASET_PATH = f"datasets/{TEMPLATE}/{DATASET}.jsonl"  # %P as git passes it
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
NO_DRIVER = "datasets/*/*.jsonl merge=text\n"  # .git/info/attributes overrides .gitattributes


def _git(root: Path, *args: str) -> list[str]:
    return ["git", "-C", str(root), *args]


# ------------------------------------------------------------------ the three files


@dataclass(frozen=True)
class Variant:
    name: str  # far | adjacent
    at: int  # theirs changes rows i with i % EVERY == at
    theirs: Path
    expected_sha: str  # sha256 of BASE with both sides' changes
    changed: int  # rows theirs changed


@dataclass(frozen=True)
class Files:
    base: Path
    ours: Path
    ours_changed: int
    variants: tuple[Variant, ...]


def _bump(line: bytes, by: int) -> bytes:
    row = orjson.loads(line)
    row["loyalty_points"] = (row["loyalty_points"] + by) % 50_001  # stays in 0..50000
    return orjson.dumps(row) + b"\n"


def _write_sides(dataset: Path, workdir: Path) -> Files:
    """BASE (a copy of the generated dataset), OURS, THEIRS of both variants, and the
    sha256 of each expected merge; changed rows re-serialised, other lines byte for byte."""
    base = workdir / "base.jsonl"
    shutil.copyfile(dataset, base)
    ours = workdir / "ours.jsonl"
    spots = {"far": FAR_AT, "adjacent": ADJ_AT}
    theirs = {name: workdir / f"theirs-{name}.jsonl" for name in spots}
    expected = {name: hashlib.sha256() for name in spots}
    counts = dict.fromkeys(spots, 0)
    ours_changed = 0
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(base.open("rb"))
        out_o = stack.enter_context(ours.open("wb"))
        out_t = {name: stack.enter_context(p.open("wb")) for name, p in theirs.items()}
        for i, line in enumerate(src):
            slot = i % EVERY
            mine = line
            if slot == OURS_AT:
                mine = _bump(line, 1)
                ours_changed += 1
            out_o.write(mine)
            for name, at in spots.items():
                other = line
                if slot == at:
                    other = _bump(line, 2)
                    counts[name] += 1
                out_t[name].write(other)
                expected[name].update(mine if slot == OURS_AT else other)
    variants = tuple(
        Variant(name, at, theirs[name], expected[name].hexdigest(), counts[name])
        for name, at in spots.items()
    )
    return Files(base, ours, ours_changed, variants)


def _conflict_hunks(path: Path) -> int:
    """Conflict hunks git left in ``path`` (lines starting with ``<<<<<<<``)."""
    n = 0
    with path.open("rb") as fh:
        for line in fh:
            if line.startswith(b"<<<<<<<"):
                n += 1
    return n


# ------------------------------------------------------------------ the repository


def _branches(root: Path, files: Files) -> str:
    """Commit BASE; branch ``ours`` with OURS and one branch per variant with its THEIRS,
    all from the base commit; ``ours`` checked out.  Returns the ours commit."""
    dataset = root / DATASET_PATH

    def commit(message: str) -> None:
        run_timed(_git(root, "add", "-A"), sample_tree=False)
        run_timed(_git(root, "commit", "-q", "--no-verify", "-m", message), sample_tree=False)

    commit("base")
    run_timed(_git(root, "branch", "base"), sample_tree=False)
    for branch, src in [("ours", files.ours)] + [(v.name, v.theirs) for v in files.variants]:
        run_timed(_git(root, "checkout", "-q", "-B", branch, "base"), sample_tree=False)
        shutil.copyfile(src, dataset)
        commit(branch)
    run_timed(_git(root, "checkout", "-q", "ours"), sample_tree=False)
    return run_timed(_git(root, "rev-parse", "HEAD"), sample_tree=False).stdout.strip()


def _git_merge(root: Path, ours_sha: str, variant: Variant, mode: str) -> tuple[RunResult, str]:
    """One timed ``git merge VARIANT`` on ``ours`` (``mode``: driver, or text = without it
    with the default strategy, or recursive = without it, ``-s recursive``); what it left;
    then a reset to ``ours`` (not timed)."""
    dataset = root / DATASET_PATH
    strategy = ["-s", "recursive"] if mode == "recursive" else []
    run = run_timed(
        _git(root, "merge", "-q", "--no-edit", "--no-verify", *strategy, variant.name),
        sample_tree=False,
        check=False,
    )
    driver = mode == "driver"
    if run.returncode == 0:
        ok = sha256_of(dataset) == variant.expected_sha
        if driver and not ok:
            raise SystemExit(f"bench: `{run.command}` (driver) did not leave the expected merge")
        said = "exit 0, " + ("expected merge" if ok else "NOT the expected merge")
    else:
        said = f"exit {run.returncode}, {_conflict_hunks(dataset):,} conflict hunks"
        if driver:
            raise SystemExit(f"bench: `{run.command}` (driver) failed:\n{run.stderr}")
    run_timed(_git(root, "reset", "-q", "--hard", ours_sha), sample_tree=False)
    run_timed(_git(root, "update-index", "-q", "--refresh"), sample_tree=False, check=False)
    return run, said


# ------------------------------------------------------------------ the benchmark


def _secs(runs: list[RunResult]) -> list[float]:
    return [r.seconds for r in runs]


def _joined(runs: list[RunResult], digits: int = 2) -> str:
    return ", ".join(f"{r.seconds:.{digits}f}" for r in runs)


def run(cfg: Config) -> list[Result]:
    os.environ.update(GIT_ENV)
    tdm = str(tdm_executable())
    rows = cfg.rows
    progress(f"merge: generating {rows:,} customers, writing BASE, OURS and THEIRS")
    repo = make_repo(cfg.workdir / "merge", rows)
    root = repo.root
    run_timed([tdm, "generate", "--repo", root], sample_tree=False)
    files = _write_sides(repo.dataset, cfg.workdir)
    ours_copy = cfg.workdir / "ours-copy.jsonl"
    size_mib = files.base.stat().st_size / MB

    def driver(v: Variant) -> RunResult:
        shutil.copyfile(files.ours, ours_copy)  # the driver overwrites OURS; not timed
        with contextlib.chdir(root):
            return run_timed(
                [tdm, "merge-driver", files.base, ours_copy, v.theirs, DATASET_PATH], check=False
            )

    def merge_file(v: Variant, out: str = "/dev/null") -> RunResult:
        script = f'exec git merge-file -p "$@" > {out}'
        argv = ["sh", "-c", script, "sh", str(files.ours), str(files.base), str(v.theirs)]
        return run_timed(argv, sample_tree=False, check=False)

    def merge_file_in_place(v: Variant) -> RunResult:
        shutil.copyfile(files.ours, ours_copy)
        argv = ["git", "merge-file", str(ours_copy), str(files.base), str(v.theirs)]
        return run_timed(argv, sample_tree=False, check=False)

    # git merge-file's outcome on each variant: one untimed run with the output kept
    outcome: dict[str, str] = {}
    for v in files.variants:
        progress(f"merge: git merge-file on the {v.name} variant, output kept (not timed)")
        kept = cfg.workdir / f"merge-file-{v.name}.jsonl"
        first = merge_file(v, str(kept))
        hunks = _conflict_hunks(kept)
        same = sha256_of(kept) == v.expected_sha
        outcome[v.name] = f"exit {first.returncode}, {hunks:,} conflict hunks" + (
            ", output = the expected merge" if same else ", output != the expected merge"
        )
        kept.unlink()

    drivers: dict[str, list[RunResult]] = {v.name: [] for v in files.variants}
    gits: dict[str, list[RunResult]] = {v.name: [] for v in files.variants}
    in_place: dict[str, list[RunResult]] = {v.name: [] for v in files.variants}
    wrong: list[str] = []
    for i in range(cfg.repeats):
        for v in files.variants:
            progress(f"merge repeat {i + 1}/{cfg.repeats}, {v.name}: driver, git merge-file")
            drivers[v.name].append(driver(v))
            last = drivers[v.name][-1]
            same = sha256_of(ours_copy) == v.expected_sha
            if last.returncode != 0 or not same:
                wrong.append(
                    f"{v.name} repeat {i + 1}: exit {last.returncode}, output "
                    f"{'=' if same else '!='} expected; {last.stderr.strip()[:300]}"
                )
            gits[v.name].append(merge_file(v))
            in_place[v.name].append(merge_file_in_place(v))
    ours_copy.unlink(missing_ok=True)

    # information: a real git merge with the driver registered, and without it
    progress("merge: committing base, ours and theirs branches for `git merge` (info)")
    ours_sha = _branches(root, files)
    attributes = root / ".git" / "info" / "attributes"
    attributes.parent.mkdir(parents=True, exist_ok=True)
    merges: dict[tuple[str, str], list[RunResult]] = {}
    said: dict[tuple[str, str], set[str]] = {}

    def git_merge(v: Variant, mode: str) -> None:
        got, what = _git_merge(root, ours_sha, v, mode)
        merges.setdefault((v.name, mode), []).append(got)
        said.setdefault((v.name, mode), set()).add(what)

    for i in range(cfg.repeats):
        for v in files.variants:
            progress(f"merge repeat {i + 1}/{cfg.repeats}: git merge {v.name}, with the driver")
            git_merge(v, "driver")
    # without the driver: once per variant (the default strategy takes minutes at 1M rows)
    attributes.write_text(NO_DRIVER, encoding="utf-8")
    for mode in ("text", "recursive"):
        for v in files.variants:
            progress(f"merge: git merge {v.name} without the driver ({mode}), once")
            git_merge(v, mode)
    attributes.unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    for path in [files.base, files.ours, *(v.theirs for v in files.variants)]:
        path.unlink(missing_ok=True)

    results: list[Result] = []
    command = (
        f"tdm merge-driver BASE OURS THEIRS {DATASET_PATH} (cwd DIR)  vs  "
        "git merge-file -p OURS BASE THEIRS > /dev/null"
    )
    for v in files.variants:
        d, g, p = drivers[v.name], gits[v.name], in_place[v.name]
        d_s, g_s, p_s = median(_secs(d)), median(_secs(g)), median(_secs(p))
        where = f"ours rows i % {EVERY} == {OURS_AT}, theirs i % {EVERY} == {v.at}"
        results.append(
            Result(
                name=f"merge driver vs git merge-file, {v.name}",
                command=f"{command} ({rows:,} rows, {size_mib:.0f} MiB; {where})",
                rows=rows,
                seconds=d_s,
                ratio=d_s / g_s,
                target=f"<= {MERGE_GOAL:g}x git merge-file",
                passed=d_s / g_s <= MERGE_GOAL,
                peak_rss_kib=max(r.peak_rss_kib for r in d),
                tree_rss_kib=max(r.tree_rss_kib for r in d),
                samples=_secs(d),
                notes=[
                    f"driver s: {_joined(d)}; exit codes {[r.returncode for r in d]}",
                    f"git merge-file -p s: {_joined(g)} (median {g_s:.2f}); exit codes "
                    f"{[r.returncode for r in g]} (= conflicts, at most 127)",
                    f"git merge-file outcome: {outcome[v.name]}",
                    f"git merge-file in place (writes OURS, as the driver does) s: {_joined(p)} "
                    f"(median {p_s:.2f}); driver / that: {d_s / p_s:.2f}x",
                    f"{files.ours_changed:,} rows changed on our side, {v.changed:,} on theirs",
                    "driver peak RSS per run (wait4, MiB): "
                    + ", ".join(f"{r.peak_rss_kib / 1024:.0f}" for r in d),
                    background_note(d),
                ],
            )
        )
    clean = not wrong
    results.append(
        Result(
            name="merge driver: no conflicts",
            command=f"the driver runs above, both variants, {cfg.repeats} repeat(s) each",
            rows=rows,
            target="exit 0, output = expected merge",
            passed=clean,
            notes=(
                [
                    "every run exited 0 and wrote the expected merge byte for byte (sha256 of "
                    "BASE with ours' and theirs' changed lines put in)"
                ]
                if clean
                else wrong
            )
            + [f"git merge-file, {name}: {what}" for name, what in outcome.items()],
        )
    )
    for v in files.variants:
        w = merges[(v.name, "driver")]
        text, rec = merges[(v.name, "text")][0], merges[(v.name, "recursive")][0]
        w_s = median(_secs(w))
        results.append(
            Result(
                name=f"git merge with driver, {v.name} (info)",
                command=(
                    f"git -C DIR merge -q --no-edit --no-verify {v.name}  (on ours; vs the same "
                    "once with merge=text in .git/info/attributes)"
                ),
                rows=rows,
                seconds=w_s,
                ratio=w_s / text.seconds,
                target="(information only)",
                samples=_secs(w),
                notes=[
                    f"with the driver s: {_joined(w)}; "
                    + "; ".join(sorted(said[(v.name, "driver")])),
                    f"without it (merge=text, default strategy), once: {text.seconds:.2f} s; "
                    + "; ".join(sorted(said[(v.name, "text")])),
                    f"without it, `-s recursive`, once: {rec.seconds:.2f} s; "
                    + "; ".join(sorted(said[(v.name, "recursive")])),
                    "each merge is followed by `git reset --hard` to ours (not timed)",
                ],
            )
        )
    return results


def main(argv: list[str] | None = None) -> int:
    return bench_main("tdm merge driver", run, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
