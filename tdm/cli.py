"""The ``tdm`` command line: a thin layer over the typed core.

Each command parses its options, calls one core function and prints the
result; errors are translated once, in :class:`_Group`.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import orjson
import typer
from typer.core import TyperGroup

from tdm import canon
from tdm._version import __version__
from tdm.errors import TdmError, UserError

if TYPE_CHECKING:
    from tdm.project import Project

INTERNAL_ERROR = 3
TERMINATED = 143  # 128 + SIGTERM, as shells report it


class Terminated(BaseException):
    """SIGTERM arrived (CI cancelling a job, say): unwound like Ctrl-C, so nothing is lost."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def _plain_flags(params: list[Any]) -> list[Any]:
    """Boolean flags show as `--flag` in --help, without a `<bool>` value column."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Group(TyperGroup):
    """Translates errors at the edge: message on stderr and an exit code, no traceback."""

    def get_params(self, ctx: typer.Context) -> list[Any]:  # type: ignore[override]
        return _plain_flags(super().get_params(ctx))

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:  # type: ignore[override]
        command = super().get_command(ctx, cmd_name)
        if command is not None:  # its help is printed by the command itself
            _plain_flags(command.get_params(ctx))
        return command

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        debug = (
            "--debug" in sys.argv
            or os.environ.get("TDM_DEBUG") == "1"
            or bool(ctx.params.get("debug"))
        )
        try:
            return super().invoke(ctx)
        except TdmError as exc:
            if debug:
                traceback.print_exc()
            typer.echo(f"tdm: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # the reader went away (`tdm show ... | head`): stop quietly, as git does
            sys.stderr.close()
            ctx.exit(0)
        except KeyboardInterrupt:
            typer.echo("tdm: interrupted; files being written were left as they were", err=True)
            ctx.exit(130)
        except Terminated:
            typer.echo(
                "tdm: terminated (SIGTERM); files being written were left as they were", err=True
            )
            ctx.exit(TERMINATED)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("click", "typer"):
                raise  # usage errors and exits: the CLI framework reports them (exit 2)
            if debug:
                traceback.print_exc()
            typer.echo(
                f"tdm: internal error: {type(exc).__name__}: {exc} (a bug; run with --debug for the "
                "traceback and report it)",
                err=True,
            )
            ctx.exit(INTERNAL_ERROR)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list of the plain help, with each command's whole first sentence
        wrapped (click would cut it at the terminal width with "...")."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _group(help: str | None = None, **options: Any) -> typer.Typer:
    """A command group as all of tdm's are: errors translated by :class:`_Group`, -h as
    well as --help, and click's plain help (rich costs ~0.15 s of start-up per --help)."""
    if help is not None:  # else typer takes the group callback's docstring
        options["help"] = help
    return typer.Typer(
        cls=_Group,
        context_settings={"help_option_names": ["-h", "--help"]},
        rich_markup_mode=None,
        **options,
    )


app = _group(
    "Test data as code: schemas, templates and masking rules in git; deterministic datasets.",
    name="tdm",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _complete(kind: str) -> Callable[[typer.Context, str], list[str]]:
    """A completion callback: names of ``kind`` (see tdm.completion) in the repository the
    command line names with --repo, else the current directory's."""

    def complete(ctx: typer.Context, incomplete: str) -> list[str]:
        from tdm import completion

        start = ctx.params.get("repo") or Path(".")
        names: Callable[[Path, str], list[str]] = getattr(completion, kind)
        return names(Path(start), incomplete)

    return complete


RepoOpt = Annotated[
    Path,
    typer.Option(
        "--repo", "-C", help="Run as if tdm was started in this directory.", show_default=False
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON result.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tdm {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option(
            "-C",
            metavar="DIR",
            help="Run as if tdm was started in DIR (as `git -C DIR`).",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="Fail at once (exit 2) if another tdm process is writing to the repository, "
            "instead of waiting for it (also TDM_NO_WAIT=1).",
        ),
    ] = False,
) -> None:
    """Test data as code: schemas, templates and masking rules in git; deterministic datasets."""
    if directory is not None:
        try:
            os.chdir(directory)
        except OSError as exc:
            raise UserError(f"-C {directory}: cannot change to it ({exc.strerror})") from None
    _RUN["no_wait"] = no_wait
    _RUN["command"] = ctx.invoked_subcommand or ""


#: what the top-level options said for this run (read by _writing)
_RUN: dict[str, Any] = {"no_wait": False, "command": ""}


@contextlib.contextmanager
def _writing(project: Project) -> Iterator[None]:
    """Hold the repository's write lock (one tdm writer at a time) for the block."""
    from tdm import replock

    no_wait = _RUN["no_wait"] or os.environ.get("TDM_NO_WAIT") == "1"
    with replock.writing(
        project,
        f"tdm {_RUN['command']}".strip(),
        wait=not no_wait,
        notify=lambda msg: typer.echo(f"tdm: {msg}", err=True),
    ) as removed:
        if removed:
            typer.echo(
                f"tdm: removed {len(removed)} temporary file(s) an interrupted tdm run left",
                err=True,
            )
        yield


def _echo_json(data: Any) -> None:
    typer.echo(canon.encode(data, sort_keys=False, indent=True).decode())


def _show_progress() -> bool:
    return (
        sys.stderr.isatty() and not os.environ.get("CI") and not os.environ.get("TDM_NO_PROGRESS")
    )


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar on stderr when it is a terminal (not in pipes or CI)."""
    if not _show_progress():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(name: str, n: int, total: int) -> None:
            bar.update(task, advance=n, total=total, description=f"{label} {name}")

        yield advance


# ------------------------------------------------------------------ init


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Directory to create or use.")] = Path("."),
    sample: Annotated[
        bool, typer.Option("--sample", help="Copy the e-commerce example and commit it.")
    ] = False,
) -> None:
    """Create a tdm repository (and `git init` when PATH is not in one).

    Refused inside another tdm repository's tree. With --sample the example (schemas,
    templates, masking rules, smoke data, README.md) is committed as the first commit,
    unless other changes are staged.

    Examples: tdm init shop --sample | tdm init
    """
    from tdm import scaffold

    result = scaffold.init(path, sample=sample, commit=True)
    what = "the e-commerce sample" if result.sample else "an empty tdm layout"
    git = " (new git repository)" if result.created_git else ""
    typer.echo(f"Initialised {what} in {result.root}{git}")
    if result.commit:
        typer.echo(f"Committed the sample as {result.commit[:7]}")
    elif result.not_committed:
        typer.echo(f"Not committed: {result.not_committed}")
    where = "" if result.root == Path.cwd().resolve() else f"cd {path} && "
    if result.sample:
        typer.echo(f"Next: {where}tdm generate && tdm validate && tdm status")
    else:
        typer.echo(
            f"Next: {where}tdm new schema NAME && tdm new template NAME (commented skeletons "
            "to edit), then tdm generate && tdm validate"
        )


# ------------------------------------------------------------------ generate


@app.command()
def generate(
    templates: Annotated[
        list[str] | None,
        typer.Argument(
            help="Templates to generate (default: all).",
            show_default=False,
            autocompletion=_complete("templates"),
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            max=64,
            show_default=False,
            help="Processes rendering rows, this one included (default: one per CPU, up to "
            "8, when 200,000 rows or more are to be written; else 1). The bytes are the same "
            "for any number.",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Regenerate in memory; exit 1 if any dataset would change."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Regenerate even datasets that are up to date.")
    ] = False,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Write datasets/<template>/<dataset>.jsonl from templates and record them in tdm.lock.

    Output is deterministic: the same files, seed and tdm version give the same bytes, for any --jobs. Up-to-date datasets are skipped unless --force.

    Examples: tdm generate | tdm generate smoke --jobs 2 | tdm generate --check
    """
    from tdm import engine
    from tdm.checkcache import CheckedRecipes
    from tdm.project import Project

    project = Project.find(repo)
    with (
        contextlib.nullcontext() if check else _writing(project),
        _progress("generating") as progress,
    ):
        result = engine.generate(
            project,
            templates,
            jobs=jobs,
            check=check,
            force=force,
            progress=progress,
            checks=CheckedRecipes(project),
        )
    if as_json:
        _echo_json(
            {
                "check": check,
                "datasets": [
                    {
                        "dataset": d.dataset,
                        "path": d.path,
                        "rows": d.rows,
                        "sha256": d.sha256,
                        "status": d.status,
                    }
                    for d in result.datasets
                ],
            }
        )
    else:
        for d in result.datasets:
            typer.echo(f"{d.status:<13} {d.path}  ({d.rows:,} rows)")
        if not result.datasets:
            typer.echo(
                "nothing to generate: no template in templates/; start with "
                "`tdm new schema NAME && tdm new template NAME`"
            )
        if check:
            if result.changed:
                typer.echo(
                    f"{len(result.changed)} dataset(s) would change: run `tdm generate` and commit"
                )
            else:
                typer.echo("all datasets match their recipes and tdm.lock")
    if check and result.changed:
        raise typer.Exit(1)


# ------------------------------------------------------------------ validate


@app.command()
def validate(
    templates: Annotated[
        list[str] | None,
        typer.Argument(
            help="Only these templates' datasets (default: all); tdm files are always checked.",
            show_default=False,
            autocompletion=_complete("dataset_folders"),
        ),
    ] = None,
    repo: RepoOpt = Path("."),
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, max=64, help="Processes for large files.")
    ] = (os.cpu_count() or 1),
    as_json: JsonOpt = False,
) -> None:
    """Check tdm.yaml, schemas, templates, masking rules and every dataset row.

    Rows are validated against their schema (file:line and JSON path), primary keys must be unique, references must resolve, and datasets must match tdm.lock. Exit 0 clean, 1 findings, 2 a file is malformed.

    Examples: tdm validate --json | tdm validate smoke
    """
    from tdm import validate as validate_mod
    from tdm.project import Project

    project = Project.find(repo)
    with _progress("validating") as progress:
        report = validate_mod.validate(
            project, jobs=jobs, progress=progress, only_templates=templates
        )
    if as_json:
        _echo_json(report.to_json())
    else:
        for finding in report.findings:
            typer.echo(str(finding))
        for path, n in sorted(report.omitted.items()):
            typer.echo(f"{path}: ... and {n} more finding(s) not listed")
        rows = sum(d.rows for d in report.datasets)
        if report.ok:
            typer.echo(f"ok: {len(report.datasets)} dataset(s), {rows:,} rows valid")
        else:
            total = len(report.findings) + sum(report.omitted.values())
            typer.echo(f"{total} finding(s)")
    raise typer.Exit(report.exit_code)


# ------------------------------------------------------------------ status


@app.command()
def status(
    templates: Annotated[
        list[str] | None,
        typer.Argument(
            help="Only these templates' datasets (default: all).",
            show_default=False,
            autocompletion=_complete("dataset_folders"),
        ),
    ] = None,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Show stale, missing and hand-edited datasets, and changed tdm files (git status).

    A dataset is stale when its schema or template changed since tdm.lock recorded it. Exit 0, or 1 when a dataset tdm.lock records is missing, or 2 when a tdm file is malformed (its datasets are listed as blocked). Leftover temporary files of an interrupted run are listed (`tdm clean`).

    Examples: tdm status --json | tdm status smoke
    """
    from tdm import status as status_mod
    from tdm.project import Project

    project = Project.find(repo)
    report = status_mod.status(project, templates)
    if as_json:
        _echo_json(report.to_json())
        raise typer.Exit(report.exit_code)
    for problem in report.problems:
        typer.echo(f"error: {problem}")
    typer.echo("Datasets:")
    for d in report.datasets:
        typer.echo(f"  {d.state:<11} {d.path}  ({d.reason})")
    if not report.datasets:
        typer.echo("  (none: add a template and run `tdm generate`)")
    if not report.git:
        typer.echo("Not in a git repository: run `git init` (or `tdm init`) to version the data.")
    elif report.files:
        typer.echo("Changed tdm files:")
        for f in report.files:
            typer.echo(f"  {f.state:<11} {f.path}{' (staged)' if f.staged else ''}")
    else:
        typer.echo("No uncommitted changes to tdm files.")
    if report.conflicts:
        typer.echo("Merge conflicts (settle with `tdm resolve DATASET --ours|--theirs [--key K]`):")
        for line in report.conflicts:
            typer.echo(f"  {line}")
    if report.temp_files:
        typer.echo("Temporary files an interrupted tdm run left (`tdm clean` removes them):")
        for path in report.temp_files:
            typer.echo(f"  {path}")
    raise typer.Exit(report.exit_code)


@app.command()
def rm(
    datasets: Annotated[
        list[str], typer.Argument(help="TEMPLATE/DATASET to remove (one or more).")
    ],
    repo: RepoOpt = Path("."),
) -> None:
    """Remove datasets on purpose: the file and its tdm.lock entry, then commit the removal.

    A dataset tdm.lock records but whose file is missing is a finding of validate, status and commit; `tdm rm` is how to say the removal is intended. Deleting the dataset from its template works too: the next `tdm generate TEMPLATE` drops its tdm.lock entry.

    Example: tdm rm smoke/payments && tdm commit -m "drop payments"
    """
    from tdm import removal
    from tdm.project import Project

    project = Project.find(repo)
    with _writing(project):
        for name in datasets:
            result = removal.remove(project, name)
            what = " and ".join(
                w
                for w, done in (
                    (result.path, result.removed_file),
                    ("its tdm.lock entry", result.removed_entry),
                )
                if done
            )
            typer.echo(f"removed {what}")
            if result.still_in_template:
                typer.echo(
                    f"note: templates/{result.dataset.split('/')[0]}.yaml still lists it, so "
                    "`tdm generate` will write it again; delete it there to keep it gone"
                )


@app.command()
def clean(repo: RepoOpt = Path(".")) -> None:
    """Remove temporary files an interrupted or killed tdm run left (see `tdm status`).

    Only tdm's own temporary files (.NAME.XXXXXXXX.tmp next to datasets and tdm.lock), and only once no other tdm process is writing (it waits for the repository lock, or fails with `tdm --no-wait clean`). Every writing command also does this first.

    Example: tdm clean
    """
    from tdm import replock
    from tdm.project import Project

    project = Project.find(repo)
    result = replock.clean(
        project,
        wait=not (_RUN["no_wait"] or os.environ.get("TDM_NO_WAIT") == "1"),
        notify=lambda msg: typer.echo(f"tdm: {msg}", err=True),
    )
    for path in result.removed:
        typer.echo(f"removed {path}")
    typer.echo(f"{len(result.removed)} temporary file(s) removed")


def main() -> None:
    """Console-script entry point."""
    # SIGTERM (CI cancelling a job) unwinds like Ctrl-C: temp files removed, exit 143
    signal.signal(signal.SIGTERM, _on_sigterm)
    # tdm's own models (tdm.yaml, templates, tdm.lock) need no pydantic plugins, and looking
    # for them reads every installed package's entry points (as typer also skips them);
    # PYDANTIC_DISABLE_PLUGINS="" in the environment turns the search back on
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # tdm uses numpy for vector arithmetic, never for linear algebra: OpenBLAS's thread
    # pool, started when numpy is imported, would cost ~50 ms of CPU (~20 ms of wall time)
    # of every generate, mask or validate; a value already in the environment is kept
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        _for_command(app, sys.argv[1:])(prog_name="tdm")
    except SystemExit as exc:
        _exit(exc.code)
    _exit(0)


def _exit(code: object) -> NoReturn:
    """End the process as ``sys.exit(code)`` would, without the interpreter's teardown.

    Freeing every object of a run one by one (tens of milliseconds after a generate: the
    value pools, the tables, numpy) is work the kernel does at once when the process
    ends.  Everything an exit must do still happens, in the same order: threads that are
    not daemons are waited for (a cache entry being written, say), the ``atexit``
    handlers run, and standard output and error are flushed.  Files tdm writes are closed
    (and renamed into place) before a command returns.
    """
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        status = 1
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe, a closed stream
            stream.flush()
    os._exit(status)


#: top-level options, and whether each takes a value (see _main)
_TOP_OPTIONS = {"-C": True, "--debug": False, "--no-wait": False}


def _for_command(full: typer.Typer, argv: list[str]) -> typer.Typer:
    """The app with only the command the command line names registered.

    typer builds every command's parameters (signatures, annotations) before it parses
    anything: for tdm's commands that is a good part of a short run's start-up, and a run
    needs one.  The command is found as click will find it, after the top-level options;
    anything else (--help, --version, no command, an unknown one, shell completion) gets
    the whole app, so listings, suggestions and completion see every command.
    """
    if any(k.startswith("_TDM_COMPLETE") or k == "_TYPER_COMPLETE_ARGS" for k in os.environ):
        return full
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg in _TOP_OPTIONS:
            i += 2 if _TOP_OPTIONS[arg] else 1
        elif arg.startswith("-C") or arg.startswith("--debug=") or arg.startswith("--no-wait="):
            i += 1  # -CDIR; a flag given a value is click's to refuse
        else:
            return full  # --help, --version or an option tdm does not have
    if i >= len(argv):
        return full
    name = argv[i]
    from typer.main import get_command_name

    commands = [
        c
        for c in full.registered_commands
        if (c.name or get_command_name(c.callback.__name__ if c.callback else "")) == name
    ]
    groups = [g for g in full.registered_groups if g.name == name]
    if not commands and not groups:
        return full
    only = copy.copy(full)
    only.registered_commands = commands
    only.registered_groups = groups
    return only


# ------------------------------------------------------------------ versions in git


def _date(ts: int | None) -> str:
    if ts is None:
        return "-"
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@app.command()
def commit(
    message: Annotated[str, typer.Option("--message", "-m", help="The commit message.")],
    no_verify: Annotated[
        bool,
        typer.Option(
            "--no-verify", help="Commit without validating (like git commit --no-verify)."
        ),
    ] = False,
    all_tracked: Annotated[
        bool,
        typer.Option(
            "--all", "-a", help="Also commit changes to other tracked files (like git commit -a)."
        ),
    ] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Validate, then commit the tdm files (tdm.yaml, tdm.lock, schemas/, templates/, masking/, datasets/).

    Datasets whose content and schema are unchanged since they were last validated are not read again. Uses your git identity; works on a new branch with no commits.

    Example: tdm commit -m "add loyalty tier"
    """
    from tdm import versions
    from tdm.project import Project

    project = Project.find(repo)
    try:
        with _writing(project):
            result = versions.commit(
                project, message, verify=not no_verify, all_tracked=all_tracked
            )
    except versions.ValidationFailed as exc:
        for finding in exc.report.findings:
            typer.echo(str(finding), err=True)
        raise
    if result.commit is None:
        typer.echo("nothing to commit: the tdm files match HEAD")
        return
    where = result.branch or "detached HEAD"
    typer.echo(f"[{where} {result.commit[:7]}] {message.strip().splitlines()[0]}")
    for f in result.files:
        typer.echo(f"  {f.state:<10} {f.path}")
    if not no_verify:
        typer.echo(
            f"validated {result.validated} dataset(s), {result.cached} unchanged since last validated"
        )


@app.command()
def tag(
    version: Annotated[str, typer.Argument(help="vX, vX.Y or vX.Y.Z")],
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="What this version is for.")
    ] = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Tag HEAD as a data version (an annotated git tag that lists datasets, rows and sha256).

    Tags are never moved, and a tree with uncommitted tdm changes is not tagged.

    Example: tdm tag v1.0 -m "baseline for release 3"
    """
    from tdm import versions
    from tdm.project import Project

    project = Project.find(repo)
    with _writing(project):
        v = versions.tag(project, version, message)
    typer.echo(f"tagged {v.name} at {v.commit[:7]}: {len(v.datasets)} dataset(s)")
    for d in v.datasets:
        typer.echo(f"  {d.dataset}: {d.rows:,} rows")


@app.command(name="versions")
def versions_cmd(repo: RepoOpt = Path("."), as_json: JsonOpt = False) -> None:
    """List data versions, newest first, with date, message and datasets.

    Example: tdm versions --json
    """
    from tdm import versions
    from tdm.project import Project

    found = versions.versions(Project.find(repo))
    if as_json:
        _echo_json([v.to_json() for v in found])
        return
    if not found:
        typer.echo("no versions yet: `tdm tag v1.0` after `tdm commit`")
    for v in found:
        rows = sum(d.rows for d in v.datasets)
        typer.echo(f"{v.name:<10} {_date(v.date)}  {v.commit[:7]}  {v.message}")
        typer.echo(f"           {len(v.datasets)} dataset(s), {rows:,} rows")
        for d in v.datasets:
            typer.echo(f"             {d.dataset}: {d.rows:,} rows")


@app.command()
def checkout(
    rev: Annotated[
        str,
        typer.Argument(
            help="A version tag, branch or commit (short ids too).",
            autocompletion=_complete("revisions"),
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Discard uncommitted changes in the way.")
    ] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Make the working tree match REV, like git checkout (a tag or commit detaches HEAD).

    Refuses (exit 1, naming the files) when uncommitted changes would be overwritten, unless --force.

    Example: tdm checkout v1.0 && tdm checkout main
    """
    from tdm import versions
    from tdm.project import Project

    project = Project.find(repo)
    with _writing(project):
        result = versions.checkout(project, rev, force=force)
    if result.branch:
        typer.echo(f"switched to branch {result.branch} ({result.commit[:7]})")
    else:
        typer.echo(f"HEAD is now at {result.commit[:7]} ({rev}, detached)")


@app.command()
def log(
    limit: Annotated[
        int | None, typer.Option("-n", "--max-count", min=1, help="Show at most N commits.")
    ] = None,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """History of the data: commits that changed tdm files, newest first.

    Example: tdm log -n 5
    """
    from tdm import versions
    from tdm.project import Project

    entries = versions.log(Project.find(repo), limit)
    if as_json:
        _echo_json([e.to_json() for e in entries])
        return
    for e in entries:
        c = e.commit
        typer.echo(
            f"{c.short}  {_date(c.time)}  {c.author}  {c.message.strip().splitlines()[0] if c.message.strip() else ''}"
        )
        for f in e.files[:10]:
            typer.echo(f"         {f}")
        if len(e.files) > 10:
            typer.echo(f"         ... and {len(e.files) - 10} more")


@app.command()
def show(
    dataset: Annotated[
        str,
        typer.Argument(
            help="TEMPLATE/DATASET or TEMPLATE/DATASET@REV", autocompletion=_complete("datasets")
        ),
    ],
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=0, help="At most N rows.")
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option("--where", "-w", help="Only rows where FIELD=VALUE (repeatable)."),
    ] = None,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Print the rows of a dataset, as JSON Lines, at a version without checking it out.

    Without @REV the working tree is read. VALUE in --where is JSON when it parses (5, true, null), else text; FIELD may be dotted (card.holder).

    Example: tdm show smoke/customers@v1.0 --limit 5 --where country=DE
    """
    from tdm import versions
    from tdm.project import Project

    filters = versions.parse_where(where or [])
    project = Project.find(repo)
    rows: list[Any] = []
    out = sys.stdout
    count = 0
    unseen = {f for f, _ in filters}  # --where fields no row has had yet
    fields: list[str] = []
    for row in versions.read_dataset(project, dataset):
        if limit is not None and count >= limit:
            break
        if unseen:
            fields = fields or list(row)
            unseen = {f for f in unseen if not versions.has_field(row, f)}
        if filters and not versions.matches(row, filters):
            continue
        count += 1
        if as_json:
            rows.append(row)
        else:
            out.write(orjson.dumps(row).decode() + "\n")
    for name in sorted(unseen):
        known = f" (its fields: {', '.join(fields)})" if fields else ""
        typer.echo(
            f"tdm: warning: --where {name}: no row of {dataset} has a field '{name}'{known}",
            err=True,
        )
    if as_json:
        _echo_json({"dataset": dataset, "rows": rows})


class DiffFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class CompatMode(StrEnum):
    backward = "backward"
    forward = "forward"
    full = "full"
    backward_transitive = "backward-transitive"
    forward_transitive = "forward-transitive"
    full_transitive = "full-transitive"


class RuleSet(StrEnum):
    strict = "strict"
    lenient = "lenient"


class FailOn(StrEnum):
    breaking = "breaking"


class ColourWhen(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


def _print_diff(report: Any, fmt: DiffFormat, color: ColourWhen) -> None:
    from tdm import diffformat

    if fmt is DiffFormat.json:
        sys.stdout.write(diffformat.render_json(report))
    elif fmt is DiffFormat.markdown:
        sys.stdout.write(diffformat.render_markdown(report))
    else:
        colour = color is ColourWhen.always or (
            color is ColourWhen.auto and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        )
        sys.stdout.write(diffformat.render_text(report, colour=colour))
    sys.stdout.flush()


@app.command()
def diff(
    base: Annotated[
        str | None,
        typer.Argument(
            help="Base revision (default HEAD); also A..B, or A...B for merge-base(A, B) to B."
        ),
    ] = None,
    head: Annotated[
        str | None, typer.Argument(help="Head revision; omitted: the working tree.")
    ] = None,
    fmt: Annotated[
        DiffFormat,
        typer.Option("--format", "-f", help="text, markdown (for a PR comment) or json."),
    ] = DiffFormat.text,
    compat: Annotated[
        CompatMode,
        typer.Option(
            "--compat",
            help="Schema compatibility mode, as a schema registry checks it: backward, forward, "
            "full, or the -transitive forms (also against every tagged v* version).",
        ),
    ] = CompatMode.backward,
    rules: Annotated[
        RuleSet,
        typer.Option(
            "--rules",
            help="The registry's set of compatible changes: strict (its default) or lenient.",
        ),
    ] = RuleSet.strict,
    rows: Annotated[
        int, typer.Option("--rows", "-n", min=0, help="Sample rows shown per dataset and kind.")
    ] = 5,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when there are differences (as git diff).")
    ] = False,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on", help="Exit 1 only on breaking schema changes (overrides --exit-code)."
        ),
    ] = None,
    color: Annotated[
        ColourWhen,
        typer.Option("--color", help="Colour text output: auto (a terminal), always, never."),
    ] = ColourWhen.auto,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Show what changed between two versions, for review and for CI gates.

    Schema changes get a Confluent-compatible schema registry's verdict (its difference
    types and its strict or lenient rules); dataset rows are compared by primary key;
    templates, masking rules and tdm.lock changes are put in words.

    Unchanged files are recognised by their git blob id and never read.

    Examples:
      tdm diff                                  # working tree vs HEAD
      tdm diff v1.0 v1.1 --format json
      tdm diff main...feature --format markdown > comment.md
      tdm diff origin/main HEAD --fail-on breaking   # CI gate
      tdm diff HEAD --compat backward-transitive --fail-on breaking
    """
    from tdm import diff as diffmod
    from tdm.project import Project

    project = Project.find(repo)
    report = diffmod.diff(project, base, head, compat=compat.value, sample=rows, rules=rules.value)
    _print_diff(report, DiffFormat.json if as_json else fmt, color)
    if fail_on is FailOn.breaking:
        if report.breaking():
            raise typer.Exit(1)
    elif exit_code and report.differs:
        raise typer.Exit(1)


@app.command()
def mask(
    input_file: Annotated[
        Path, typer.Argument(metavar="INPUT", help="Real records: JSON Lines or CSV.")
    ],
    rules: Annotated[
        str, typer.Option("--rules", "-r", help="Masking rules: a name or masking/<name>.yaml.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write: datasets/<folder>/<name>.jsonl.")
    ],
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="File holding the masking key (outside the repository); default: $TDM_MASKING_KEY.",
        ),
    ] = None,
    allow_unmasked: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-unmasked", help="A personal-data FIELD that may stay as it is (repeatable)."
        ),
    ] = None,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Mask real records (JSON Lines or CSV) into a dataset.

    Consistent (the same input and key give the same output everywhere, so joins survive),
    validated, in primary-key order, written atomically.

    The key comes from TDM_MASKING_KEY or --key-file and is never printed or stored;
    tdm.lock records the input's name and hash and the rules file.

    Example: tdm mask prod_customers.csv -r customers -o datasets/prod-sample/customers.jsonl
    """
    from tdm import maskrun
    from tdm.project import Project

    project = Project.find(repo)
    with _writing(project):
        result = maskrun.mask(
            project, input_file, rules, output, key_file=key_file, allow_unmasked=allow_unmasked
        )
    for warning in result.warnings:
        typer.echo(f"tdm: warning: {warning}", err=True)
    if as_json:
        _echo_json(result.to_json())
    else:
        typer.echo(f"masked {result.rows:,} rows with {result.rules} -> {result.path}")


@app.command()
def scan(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders to scan (default: every dataset).")
    ] = None,
    staged: Annotated[
        bool, typer.Option("--staged", help="Scan the staged versions of changed datasets.")
    ] = False,
    rev: Annotated[
        str | None, typer.Option("--rev", help="Scan the datasets at a revision.")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Accepted findings (salted fingerprints); default: .tdm-scan-baseline.json if present.",
        ),
    ] = None,
    update_baseline: Annotated[
        bool,
        typer.Option("--update-baseline", help="Accept every current finding into the baseline."),
    ] = False,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Find personal data in the clear in datasets.

    Detectors: e-mail addresses (not on reserved example domains), phone numbers (not
    fictional ranges), payment cards (Luhn; test cards allowed), IBANs (mod-97), US SSNs,
    IPv4/IPv6 addresses outside documentation ranges.

    Findings show file:line, field, detector and a redacted value, never the value.
    Fields declared x-tdm: {pii: synthetic} are allow-listed. Exit 1 when anything is found.

    Example: tdm scan --staged
    """
    from tdm import scan as scanmod
    from tdm.project import Project

    project = Project.find(repo)
    report = scanmod.scan(
        project, paths, staged=staged, rev=rev, baseline=baseline, update_baseline=update_baseline
    )
    if as_json:
        _echo_json(report.to_json())
    else:
        for finding in report.findings:
            typer.echo(str(finding))
        for path, n in report.omitted.items():
            typer.echo(f"{path}: {n} more finding(s) not listed")
        total = len(report.findings) + sum(report.omitted.values())
        note = f"; {report.baselined} accepted by the baseline" if report.baselined else ""
        if update_baseline:
            typer.echo(f"baseline updated: {report.baselined} finding(s) accepted")
        else:
            typer.echo(
                f"scanned {report.files} file(s), {report.rows:,} rows: {total} finding(s){note}",
                err=bool(total),
            )
    if report.findings:
        raise typer.Exit(1)


hooks_app = _group(
    "Git hooks: a pre-commit hook that validates and scans the staged tdm files.\n\n"
    "Example: tdm hooks install",
    no_args_is_help=True,
)
app.add_typer(hooks_app, name="hooks")


@hooks_app.command("install")
def hooks_install(repo: RepoOpt = Path(".")) -> None:
    """Install the pre-commit hook (.git/hooks/pre-commit, or core.hooksPath).

    A hook already there keeps working: it is kept as pre-commit.tdm-chained and run first.
    The hook skips itself during rebase, merge, cherry-pick and revert, and returns at once
    when no tdm file is staged.

    Example: tdm hooks install
    """
    from tdm import hooks
    from tdm.project import Project

    change = hooks.install(Project.find(repo))
    chained = f" (runs the earlier hook {change.chained.name} first)" if change.chained else ""
    typer.echo(f"{change.action} {change.path}{chained}")


@hooks_app.command("uninstall")
def hooks_uninstall(repo: RepoOpt = Path(".")) -> None:
    """Remove tdm's pre-commit hook and put back the hook that was there before.

    Example: tdm hooks uninstall
    """
    from tdm import hooks
    from tdm.project import Project

    change = hooks.uninstall(Project.find(repo))
    typer.echo(f"{change.action} {change.path}")


@hooks_app.command("run")
def hooks_run(repo: RepoOpt = Path(".")) -> None:
    """What the installed hook runs: validate and scan the staged tdm files.

    tdm validate on the staged tdm files and tdm scan on the staged datasets; exit 1
    (commit blocked) on findings.

    Example: tdm hooks run   # check what `git commit` would check
    """
    from tdm import hooks
    from tdm.project import Project

    result = hooks.run_pre_commit(Project.find(repo))
    for line in result.lines:
        typer.echo(line, err=True)
    if not result.ok:
        raise typer.Exit(1)


import_app = _group(
    "Import schemas written elsewhere into schemas/.\n\n"
    "Example: tdm import openapi openapi.yaml --only Pet",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")


@import_app.command("openapi")
def import_openapi(
    spec: Annotated[Path, typer.Argument(help="The OpenAPI 3.0 or 3.1 document (YAML or JSON).")],
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Import this component schema (repeatable); default: all."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite schema files that already exist.")
    ] = False,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Write one schemas/<Name>.json (JSON Schema 2020-12) per component schema.

    References between components become references between the files (Pet.json);
    3.0's nullable becomes a type with null; a required 'id' becomes the primary key.
    x-tdm.ref suggestions for <thing>_id properties are printed, not written. The
    document is only read, never run. Nothing is written when it is invalid or when a
    file exists (unless --force); components named with --only bring the components
    they reference.

    Example: tdm import openapi openapi.yaml --only Pet --only Order
    """
    from tdm import openapi
    from tdm.project import Project

    result = openapi.import_openapi(Project.find(repo), spec, only or None, force)
    if as_json:
        _echo_json(
            {
                "spec": result.spec,
                "openapi": result.openapi,
                "schemas": [s.__dict__ for s in result.schemas],
                "suggestions": [s.__dict__ for s in result.suggestions],
                "notes": result.notes,
            }
        )
        return
    for s in result.schemas:
        extra = [f"primary key: {s.primary_key}"] if s.primary_key else []
        if not s.requested:
            extra.append("referenced")
        if not s.record:
            extra.append("not a record")
        suffix = f"  ({', '.join(extra)})" if extra else ""
        typer.echo(f"{s.action:<12}{s.path}{suffix}")
    for g in result.suggestions:
        note = f"  # {g.note}" if g.note else ""
        typer.echo(f"suggestion: {g.schema}.{g.property}: x-tdm: {{ref: {g.target}}}{note}")
    for n in result.notes:
        typer.echo(f"note: {n}")


@app.command("merge-driver")
def merge_driver(
    base: Annotated[
        Path, typer.Argument(metavar="BASE", help="%O: the common ancestor's version.")
    ],
    ours: Annotated[
        Path, typer.Argument(metavar="OURS", help="%A: our version; the result goes here.")
    ],
    theirs: Annotated[Path, typer.Argument(metavar="THEIRS", help="%B: their version.")],
    path: Annotated[
        str, typer.Argument(metavar="PATH", help="%P: the file's path in the repository.")
    ],
) -> None:
    """Git merge driver: merges datasets row by row by primary key, and tdm.lock.

    Registered by `tdm init` and `tdm hooks install` (.gitattributes: merge=tdm; git config
    merge.tdm.driver). Rows changed on one side merge cleanly; a row changed differently on
    both sides is a conflict: exit 1, our row kept, the conflict recorded for `tdm resolve`.

    Example: git config merge.tdm.driver "tdm merge-driver %O %A %B %P"
    """
    from tdm import merge

    outcome = merge.run_driver(base, ours, theirs, path, Path.cwd())
    for line in outcome.messages:
        typer.echo(line, err=True)
    if not outcome.clean:
        raise typer.Exit(1)


@app.command()
def resolve(
    dataset: Annotated[
        str, typer.Argument(help="TEMPLATE/DATASET with row conflicts, or tdm.lock.")
    ],
    ours: Annotated[bool, typer.Option("--ours", help="Keep our rows.")] = False,
    theirs: Annotated[bool, typer.Option("--theirs", help="Take their rows.")] = False,
    key: Annotated[
        str | None, typer.Option("--key", help="Only the row with this primary key.")
    ] = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Settle row conflicts left by a merge (see `tdm status`), then stage the dataset.

    `tdm resolve tdm.lock` recomputes rows and sha256 of tdm.lock from the datasets.

    Example: tdm resolve smoke/customers --theirs --key 42
    """
    from tdm import merge
    from tdm.project import Project

    project = Project.find(repo)
    if dataset not in ("tdm.lock", "lock") and ours == theirs:
        raise UserError("give exactly one of --ours or --theirs")
    with _writing(project):
        result = merge.resolve(project, dataset, "theirs" if theirs else "ours", key)
    if result.dataset == "tdm.lock":
        typer.echo("tdm.lock recomputed from the datasets and staged")
    elif result.remaining:
        typer.echo(
            f"{result.dataset}: {result.settled} settled, {result.remaining} conflict(s) left"
        )
    else:
        typer.echo(
            f"{result.dataset}: {result.settled} settled; staged (commit to finish the merge)"
        )


new_app = _group(
    "Commented skeletons to start from: a schema, a template. Each validates and "
    "generates as it is.\n\nExample: tdm new schema customers && tdm new template smoke",
    no_args_is_help=True,
)
app.add_typer(new_app, name="new")


@new_app.command("schema")
def new_schema(
    name: Annotated[str, typer.Argument(help="The schema's name (schemas/NAME.yaml).")],
    repo: RepoOpt = Path("."),
) -> None:
    """Write schemas/NAME.yaml: a commented JSON Schema with a primary key and three fields.

    Example: tdm new schema customers
    """
    from tdm import skeleton
    from tdm.project import Project

    created = skeleton.new_schema(Project.find(repo), name)
    typer.echo(f"wrote {created.path}: edit its fields, then `tdm new template NAME`")


@new_app.command("template")
def new_template(
    name: Annotated[str, typer.Argument(help="The template's name (templates/NAME.yaml).")],
    schemas: Annotated[
        list[str] | None,
        typer.Option(
            "--schema",
            "-s",
            help="A schema to make a dataset of (repeatable; default: every schema).",
            show_default=False,
        ),
    ] = None,
    count: Annotated[int, typer.Option("--count", min=0, help="Rows per dataset.")] = 10,
    repo: RepoOpt = Path("."),
) -> None:
    """Write templates/NAME.yaml: one dataset per schema, commented.

    Example: tdm new template smoke --count 100
    """
    from tdm import skeleton
    from tdm.project import Project

    created = skeleton.new_template(Project.find(repo), name, schemas, count=count)
    typer.echo(
        f"wrote {created.path} ({len(created.schemas)} dataset(s)): "
        f"`tdm generate {name} && tdm validate`"
    )


env_app = _group(
    "Environments (dev, staging, ...): git branches named in tdm.yaml; data moves between "
    "them by promotion.\n\nExample: tdm env promote dev staging",
    no_args_is_help=True,
)
app.add_typer(env_app, name="env")


@env_app.command("list")
def env_list(repo: RepoOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Environments, their branches, head commit and version, and which one is current.

    Example: tdm env list --json
    """
    from tdm import envs
    from tdm.project import Project

    infos = envs.list_envs(Project.find(repo))
    if as_json:
        _echo_json({"environments": [i.to_json() for i in infos]})
        return
    if not infos:
        typer.echo("no environments in tdm.yaml; add one with `tdm env create NAME`")
    for i in infos:
        mark = "*" if i.current else " "
        head = f"{i.head} {i.version or '(no version)'}" if i.exists else "(no branch yet)"
        flags = ", ".join(
            f
            for f, on in (("protected", i.protected), ("requires masking", i.requires_masking))
            if on
        )
        extra = f"  [{flags}]" if flags else ""
        desc = f"  {i.description}" if i.description else ""
        typer.echo(f"{mark} {i.name:<12} {i.branch:<20} {head}{extra}{desc}")


@env_app.command("create")
def env_create(
    name: Annotated[
        str, typer.Argument(help="The new environment.", autocompletion=_complete("environments"))
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="ENV|REV",
            autocompletion=_complete("environments"),
            help="An environment (its branch) or any revision to start from (default: HEAD).",
            show_default=False,
        ),
    ] = None,
    branch: Annotated[
        str | None, typer.Option("--branch", help="Branch name (default env/NAME, or tdm.yaml's).")
    ] = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Create an environment's branch at HEAD, like `git branch`, or at another environment's head (or a revision) with --from.

    An environment declared in tdm.yaml whose branch does not exist yet stands for HEAD as a
    source. An environment not yet in tdm.yaml is added to it (commit that change).

    Examples: tdm env create dev | tdm env create staging --from dev
    """
    from tdm import envs
    from tdm.project import Project

    project = Project.find(repo)
    with _writing(project):
        created = envs.create(project, name, source, branch=branch)
    typer.echo(f"created {created.branch} at {created.commit[:7]} (from {created.start})")
    if created.declared:
        typer.echo(f'added {name} to tdm.yaml: commit it (`tdm commit -m "environment {name}"`)')


@env_app.command("switch")
def env_switch(
    name: Annotated[
        str,
        typer.Argument(
            help="The environment to work on.", autocompletion=_complete("environments")
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Discard uncommitted changes in the way.")
    ] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Check out an environment's branch, never losing uncommitted work.

    Refuses, naming the files, when uncommitted changes would be overwritten (other
    uncommitted changes are carried over, as in git).

    Example: tdm env switch staging
    """
    from tdm import envs
    from tdm.project import Project

    project = Project.find(repo)
    with _writing(project):
        branch = envs.switch(project, name, force=force)
    typer.echo(f"switched to {name} ({branch})")


@env_app.command("diff")
def env_diff(
    source: Annotated[
        str,
        typer.Argument(
            help="The environment data comes from.", autocompletion=_complete("environments")
        ),
    ],
    target: Annotated[
        str,
        typer.Argument(
            help="The environment it would go to.", autocompletion=_complete("environments")
        ),
    ],
    fmt: Annotated[
        DiffFormat, typer.Option("--format", "-f", help="text, markdown or json.")
    ] = DiffFormat.text,
    compat: Annotated[
        CompatMode, typer.Option("--compat", help="backward, forward or full.")
    ] = CompatMode.backward,
    rows: Annotated[int, typer.Option("--rows", "-n", min=0, help="Sample rows per dataset.")] = 5,
    color: Annotated[
        ColourWhen, typer.Option("--color", help="auto, always, never.")
    ] = ColourWhen.auto,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """What promoting SOURCE into TARGET would bring (`tdm diff TARGET...SOURCE`).

    SOURCE's changes since the two branches diverged, as a pull request shows them.

    Example: tdm env diff dev staging --format markdown
    """
    from tdm import diff as diffmod
    from tdm import envs
    from tdm.project import Project

    project = Project.find(repo)
    a, b = envs.env(project, target), envs.env(project, source)
    report = diffmod.diff(project, f"{a.branch}...{b.branch}", compat=compat.value, sample=rows)
    _print_diff(report, DiffFormat.json if as_json else fmt, color)


@env_app.command("promote")
def env_promote(
    source: Annotated[
        str,
        typer.Argument(
            help="The environment data comes from.", autocompletion=_complete("environments")
        ),
    ],
    target: Annotated[
        str,
        typer.Argument(
            help="The environment it goes to.", autocompletion=_complete("environments")
        ),
    ],
    allow_breaking: Annotated[
        bool,
        typer.Option(
            "--allow-breaking", help="Let breaking schema changes into a protected environment."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would happen; change nothing.")
    ] = False,
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="The merge commit's message.")
    ] = None,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Merge SOURCE into TARGET, with gates; a refused promotion changes nothing.

    Fast-forward where possible, else a merge commit in which datasets merge by primary
    key. The merged result is validated first; a protected TARGET refuses breaking schema
    changes without --allow-breaking, and one that requires masking refuses data tdm did
    not generate or mask (exit 1).

    Example: tdm env promote dev staging --dry-run
    """
    from tdm import envs
    from tdm.project import Project

    project = Project.find(repo)
    with contextlib.nullcontext() if dry_run else _writing(project):
        result = envs.promote(
            project,
            source,
            target,
            allow_breaking=allow_breaking,
            dry_run=dry_run,
            message=message,
        )
    if as_json:
        _echo_json(result.to_json())
        return
    if result.kind == "up to date":
        typer.echo(f"{target} already contains {source}: nothing to promote")
        return
    verb = "would be" if result.dry_run else "was"
    what = f"{result.kind}" + (
        f" (datasets merged by key: {', '.join(result.merged_by_key)})"
        if result.merged_by_key
        else ""
    )
    typer.echo(f"{source} -> {target} {verb} promoted: {what}")
    for b in result.breaking:
        typer.echo(f"  breaking (allowed): {b}")
    if result.commit:
        typer.echo(f"{target} is now at {result.commit[:7]}")


@env_app.command("delete")
def env_delete(
    name: Annotated[
        str,
        typer.Argument(
            help="The environment whose branch goes.", autocompletion=_complete("environments")
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Delete even if HEAD does not contain it.")
    ] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Delete an environment's branch, like `git branch -d`.

    Refused when HEAD does not contain it, unless --force. Its entry in tdm.yaml stays
    until you remove it.

    Example: tdm env delete staging
    """
    from tdm import envs
    from tdm.project import Project

    project = Project.find(repo)
    with _writing(project):
        branch = envs.delete(project, name, force=force)
    typer.echo(f"deleted branch {branch}")


# ------------------------------------------------------------------ export and load


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    sql = "sql"
    parquet = "parquet"


class SqlDialect(StrEnum):
    sqlite = "sqlite"
    postgresql = "postgresql"


TablePrefixOpt = Annotated[
    str, typer.Option("--table-prefix", help="Put this in front of every table name.")
]
DbSchemaOpt = Annotated[
    str | None,
    typer.Option("--db-schema", help="PostgreSQL schema for the tables (created if missing)."),
]


@app.command()
def export(
    name: Annotated[
        str,
        typer.Argument(metavar="TEMPLATE|DATASET", help="A template, or TEMPLATE/DATASET[@REV]."),
    ],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="csv, json, jsonl, sql or parquet.")
    ] = ExportFormat.csv,
    rev: Annotated[
        str | None,
        typer.Option("--rev", help="A version, branch or commit (default: the working tree)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="A file; a directory for one file per dataset (default: standard output).",
        ),
    ] = None,
    dialect: Annotated[
        SqlDialect, typer.Option("--dialect", help="SQL dialect of --format sql.")
    ] = SqlDialect.sqlite,
    table_prefix: TablePrefixOpt = "",
    db_schema: DbSchemaOpt = None,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Write datasets as CSV, JSON, JSON Lines, SQL or Parquet, from any revision.

    Streams: memory stays bounded however large the dataset. Without -o one dataset goes to standard output (pipe it into psql, sqlite3 or duckdb); a template's datasets need -o DIRECTORY (one file each), except --format sql, which writes one script with CREATE TABLE and batched INSERTs in foreign-key order. CSV: RFC 4180, a header row, null as an empty field, objects and arrays as JSON text. Parquet needs the extra tdm[parquet].

    Examples: tdm export smoke/customers --rev v1.0 -o customers.csv | tdm export smoke --format sql --dialect postgresql -o smoke.sql | tdm export smoke --format parquet -o out/
    """
    from tdm import export as exporter
    from tdm.project import Project

    project = Project.find(repo)
    if output is None and as_json:
        raise UserError("--json reports the files written: give -o as well")
    result = exporter.export(
        project,
        name,
        exporter.Format(fmt.value),
        rev=rev,
        out=output,
        stdout=sys.stdout.buffer,
        dialect=dialect.value,
        table_prefix=table_prefix,
        db_schema=db_schema,
    )
    if as_json:
        _echo_json(result.to_json())
    elif output is not None:
        for w in result.files:
            typer.echo(f"{w.dataset}: {w.rows:,} rows -> {w.path}", err=True)


@app.command()
def load(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="[TEMPLATE|DATASET]",
            help="A template, or TEMPLATE/DATASET (default with --env: every dataset).",
            show_default=False,
        ),
    ] = None,
    into: Annotated[
        str | None,
        typer.Option(
            "--into",
            help="sqlite:///PATH or postgresql://USER@HOST[:PORT]/DB (never with a password).",
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option("--env", help="An environment: its database and its branch from tdm.yaml."),
    ] = None,
    rev: Annotated[
        str | None,
        typer.Option(
            "--rev",
            help="A version, branch or commit (default: the working tree, or the env's branch).",
        ),
    ] = None,
    append: Annotated[
        bool, typer.Option("--append", help="Add the rows to tables that exist.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Drop tables that exist and create them again.")
    ] = False,
    table_prefix: TablePrefixOpt = "",
    db_schema: DbSchemaOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (tables, order, rows); touch nothing.")
    ] = False,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Load datasets into SQLite or PostgreSQL: tables from the schemas, all or nothing.

    A template's datasets load in foreign-key order inside one transaction; any failure rolls it back. Tables are named after the datasets. PostgreSQL passwords come from PGPASSWORD, ~/.pgpass or an environment's password_env, never from the URL. Exit 2: unusable URL or database, refused login, an environment without a database, tables that exist (without --replace or --append); exit 1: rows the database refuses (dataset, line and constraint named).

    Examples: tdm load smoke --rev v1.0 --into sqlite:///test.db | tdm load smoke --into postgresql://qa@localhost/testdb --db-schema test --replace | tdm load --env staging
    """
    from tdm import load as loader
    from tdm.project import Project

    if append and replace:
        raise UserError("--append and --replace exclude each other: pick one")
    mode: loader.Mode = "append" if append else "replace" if replace else "create"
    project = Project.find(repo)
    with _progress("loading") as progress:
        result = loader.load(
            project,
            name,
            into=into,
            env=env,
            rev=rev,
            mode=mode,
            table_prefix=table_prefix,
            db_schema=db_schema,
            dry_run=dry_run,
            progress=progress,
        )
    if as_json:
        _echo_json(result.to_json())
        return
    at = result.rev or "the working tree"
    if result.dry_run:
        typer.echo(f"would load {at} into {result.database} ({result.kind}), in this order:")
    else:
        typer.echo(f"loaded {at} into {result.database} ({result.kind}):")
    width = max((len(t.table) for t in result.tables), default=0)
    for t in result.tables:
        typer.echo(f"  {t.table:<{width}}  {t.rows:>10,} rows  {t.action}  ({t.dataset})")


# ------------------------------------------------------------------ serve

serve_app = _group()
app.add_typer(serve_app, name="serve")
token_app = _group(
    "Bearer tokens for `tdm serve`.\n\nExample: tdm serve token create ci --scope read",
    no_args_is_help=True,
)
serve_app.add_typer(token_app, name="token")

TokensOpt = Annotated[
    Path | None,
    typer.Option(
        "--tokens",
        help="The token file (default: $TDM_TOKENS, else $XDG_CONFIG_HOME/tdm/tokens).",
        show_default=False,
    ),
]


class TokenScope(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


@serve_app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback unless told otherwise).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port.")] = 8000,
    environment: Annotated[
        str | None,
        typer.Option(
            "--environment",
            "-e",
            help="Environment that requests naming none read and write (default: reads see HEAD, writes must name one).",
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin", help="A browser origin allowed to call the API (repeatable)."
        ),
    ] = None,
    max_body: Annotated[
        int, typer.Option("--max-body", min=1024, help="Largest request body, in bytes.")
    ] = 10 << 20,
    tokens: TokensOpt = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Serve the repository's REST API (OpenAPI at /docs) until interrupted.

    Needs the server extra of tdm (FastAPI, uvicorn). Every request but /api/v1/health needs a bearer token: make one with `tdm serve token create NAME --scope read`. Writes commit to environment branches in memory and never touch the working tree.

    Example: tdm serve --port 8000 --environment dev
    """
    if ctx.invoked_subcommand is not None:
        return
    try:
        from tdm.server.run import run
    except ImportError:
        raise UserError(
            "tdm serve needs the server extra: pip install 'tdm[server]' (FastAPI and uvicorn)"
        ) from None
    from tdm.project import Project
    from tdm.server.settings import Settings
    from tdm.server.tokens import TokenStore, check_outside, default_tokens_file

    project = Project.find(repo)
    token_file = tokens or default_tokens_file()
    check_outside(token_file, project.root)
    if not TokenStore(token_file).tokens():
        typer.echo(
            f"tdm: warning: no tokens in {token_file} yet: every request but /api/v1/health will "
            "get a 401; create one with `tdm serve token create NAME --scope read`",
            err=True,
        )
    settings = Settings(
        root=project.root,
        tokens_file=token_file,
        cors_origins=tuple(cors_origin or ()),
        default_environment=environment,
        max_body_bytes=max_body,
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"tdm: warning: serving on {host}, not only this machine", err=True)
    run(settings, host, port)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="Who uses the token; the author of its commits.")],
    scope: Annotated[
        TokenScope,
        typer.Option(
            "--scope",
            help="read; write (also schemas, datasets); admin (also versions, promotion).",
        ),
    ] = TokenScope.read,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="Limit the token to this environment (repeatable)."),
    ] = None,
    tokens: TokensOpt = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Create a bearer token; it is printed once, alone on the last line.

    Only its SHA-256 is stored, in a file outside the repository.

    Example: tdm serve token create qa-portal --scope write --env dev --env staging
    """
    from tdm.errors import NotARepositoryError
    from tdm.project import Project
    from tdm.server.tokens import TokenStore, check_outside, default_tokens_file

    token_file = tokens or default_tokens_file()
    try:
        project: Project | None = Project.find(repo)
    except NotARepositoryError:
        project = None
    if project is not None:
        check_outside(token_file, project.root)
        known = project.config.environments
        unknown = [e for e in env or [] if e not in known]
        if unknown:
            raise UserError(
                f"no environment {', '.join(unknown)} in tdm.yaml (known: {', '.join(sorted(known)) or 'none'})"
            )
    token, secret = TokenStore(token_file).create(name, scope.value, env)
    limits = f" for {', '.join(token.environments)}" if token.environments else ""
    typer.echo(f"created token '{token.name}' ({token.scope}{limits}) in {token_file}")
    typer.echo("it is shown once; keep it secret:")
    typer.echo(secret)
