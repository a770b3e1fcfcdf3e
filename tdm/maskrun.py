"""``tdm mask INPUT -r RULES -o OUT``: real records in, a masked dataset out.

The input (JSON Lines or CSV, CSV cells typed by the schema) is masked with the
rules, checked (primary key and unique fields still distinct, every row valid
against the schema) and only then written, in primary-key order, atomically.
tdm.lock records where the dataset came from: the input's file name and hash and
the rules file, never the key.
"""

from __future__ import annotations

import bisect
import csv
import gc
import itertools
import math
import multiprocessing
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from tdm import canon, gitio
from tdm._version import __version__
from tdm.errors import CheckFailed, UserError
from tdm.fields import all_fields, pii_fields, property_schema
from tdm.fsutil import atomic_writer
from tdm.masking import (
    MISSING,
    Masking,
    MaskingKey,
    get_path,
    load_key,
    set_path,
)
from tdm.maskunique import Hashes, first_repeat, hash_key, hash_keys, key_bytes, set_key
from tdm.measure import Measure, file_sha256, stat_key
from tdm.models import LockEntry, MaskProvenance, check_name
from tdm.project import DATASET_DIR, MASKING_DIR, Project

#: validation problems listed before the rest are counted
SHOWN_PROBLEMS = 20


@dataclass
class MaskResult:
    dataset: str  # folder/name
    path: str
    rows: int
    sha256: str
    rules: str
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "path": self.path,
            "rows": self.rows,
            "sha256": self.sha256,
            "rules": self.rules,
            "warnings": self.warnings,
        }


class MaskCheckFailed(CheckFailed):
    """The masked output broke the schema or a uniqueness guarantee; nothing was written."""


def repo_roots(project: Project) -> list[Path]:
    roots = [project.root]
    repo = gitio.discover(project.root)
    if repo is not None and repo.workdir:
        roots.append(Path(repo.workdir))
    return roots


def resolve_rules(project: Project, ref: str) -> tuple[str, str]:
    """``-r`` as a masking name (customers) or a path (masking/customers.yaml) ->
    (name, path relative to the root)."""
    if "/" not in ref and "\\" not in ref and not ref.endswith((".yaml", ".yml", ".json")):
        name = ref
    else:
        path = Path(ref).resolve()
        folder = (project.root / MASKING_DIR).resolve()
        if path.parent != folder:
            raise UserError(
                f"rules file {ref} is not in {MASKING_DIR}/ of the repository; masking rules are "
                f"versioned with the data: put it in {MASKING_DIR}/ and pass its name"
            )
        name = path.stem
    project.masking(name)  # loads and checks it
    for suffix in (".yaml", ".yml", ".json"):
        candidate = project.root / MASKING_DIR / f"{name}{suffix}"
        if candidate.is_file():
            return name, project.rel(candidate)
    raise UserError(f"masking rules '{name}' not found in {MASKING_DIR}/")


def resolve_output(project: Project, out: Path) -> tuple[str, str, Path]:
    """``-o`` must be datasets/<folder>/<name>.jsonl in the repository, in a folder no
    template generates into."""
    path = project.inside(out.resolve()) if out.is_absolute() else project.inside(Path.cwd() / out)
    rel = Path(project.rel(path))
    parts = rel.parts
    if len(parts) != 3 or parts[0] != DATASET_DIR or not parts[2].endswith(".jsonl"):
        raise UserError(
            f"the output must be {DATASET_DIR}/<folder>/<name>.jsonl inside the repository, "
            f"e.g. {DATASET_DIR}/prod-sample/customers.jsonl (got {out})"
        )
    folder, name = parts[1], parts[2][: -len(".jsonl")]
    try:
        check_name(folder, "dataset folder")
        check_name(name, "dataset")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if folder in project.template_names():
        raise UserError(
            f"{DATASET_DIR}/{folder}/ is where template '{folder}' writes generated data; "
            f"write masked data to a folder of its own, e.g. {DATASET_DIR}/prod-sample/"
        )
    return folder, name, project.root / DATASET_DIR / folder / f"{name}.jsonl"


# ---------------------------------------------------------------------- reading input


def _csv_lines(path: Path, schema: dict[str, Any]) -> list[tuple[int, bytes]]:
    """CSV records, cells typed by the schema's property types, as JSON object bytes.
    The file is streamed: only the JSON of each record is kept."""
    out: list[tuple[int, bytes]] = []
    dumps = orjson.dumps
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            if not columns:
                raise UserError("has no header row", path=str(path))
            coerce = {
                c: _coercer(_resolved(schema, property_schema(schema, c)), c) for c in columns
            }
            for record in reader:
                line = reader.line_num
                row: dict[str, Any] = {}
                for column, cell in record.items():
                    if column is None:
                        raise UserError(
                            "a row has more cells than the header has columns",
                            path=str(path),
                            line=line,
                        )
                    if cell is None:
                        continue  # a short row: the cell is absent
                    try:
                        row[column] = coerce[column](cell)
                    except ValueError as exc:
                        raise UserError(
                            f"column {column}: {exc}", path=str(path), line=line
                        ) from None
                out.append((line, bytes(memoryview(dumps(row)))))  # exact size (see _ChunkOut)
    except UnicodeDecodeError:
        raise UserError("is not UTF-8 text", path=str(path)) from None
    except csv.Error as exc:
        raise UserError(f"is not valid CSV ({exc})", path=str(path)) from None
    return out


def _types(prop: dict[str, Any] | None) -> set[str]:
    if not prop:
        return set()
    t = prop.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _resolved(schema: dict[str, Any], prop: dict[str, Any] | None) -> dict[str, Any] | None:
    """A property schema with a local ``$ref`` (and ``allOf``) followed, for its type."""
    hops = 0
    while prop is not None and isinstance(prop.get("$ref"), str) and hops < 16:
        ref = prop["$ref"]
        if not ref.startswith("#/"):
            break
        node: Any = schema
        for part in ref[2:].split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        extra = {k: v for k, v in prop.items() if k != "$ref"}
        prop = {**node, **extra} if isinstance(node, dict) else None
        hops += 1
    if prop is not None and "type" not in prop and isinstance(prop.get("allOf"), list):
        for sub in prop["allOf"]:
            found = _resolved(schema, sub) if isinstance(sub, dict) else None
            if found is not None and "type" in found:
                return {**prop, "type": found["type"]}
    return prop


def _coercer(prop: dict[str, Any] | None, column: str) -> Any:
    types = _types(prop)

    def coerce(cell: str) -> Any:
        if cell == "":  # CSV cannot tell an empty string from a missing value
            return "" if ("string" in types or not types) and "null" not in types else None
        if "integer" in types:
            try:
                return int(cell)
            except ValueError:
                if "number" not in types and "string" not in types:
                    raise ValueError("expected an integer") from None
        if "number" in types:
            try:
                number = float(cell)
                if not math.isfinite(number):  # JSON has no NaN or infinity
                    raise ValueError("not a finite number")
                return (
                    int(number)
                    if number.is_integer() and "." not in cell and "e" not in cell.lower()
                    else number
                )
            except ValueError:
                if "string" not in types:
                    raise ValueError("expected a number") from None
        if "boolean" in types:
            low = cell.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            if "string" not in types:
                raise ValueError("expected true or false")
        if types & {"object", "array"} and cell[:1] in ("{", "["):
            try:
                return orjson.loads(cell)
            except orjson.JSONDecodeError:
                raise ValueError("expected JSON (an object or array)") from None
        return cell

    return coerce


#: a piece of the input for one worker: the byte range of its JSON lines (in the input
#: file, which the workers read themselves, or in the converted CSV, which forked
#: workers share unpickled) and, for CSV (whose records may span lines), each record's
#: line number; a JSON Lines chunk numbers its lines from 0 and the parent, taking the
#: chunks in order, adds the line it starts at
Chunk = tuple[int, int, list[int] | None]
#: bytes of input per chunk (about 20,000 rows of a typical dataset)
CHUNK_BYTES = 6 << 20
#: the input line of each record of a chunk (a range when it has no blank line)
Lines = Sequence[int]


@dataclass
class Source:
    """The input cut into chunks: byte ranges of a file (JSON Lines) or of a buffer."""

    chunks: list[Chunk]
    fd: int | None = None  # the JSON Lines file, open for reading
    data: bytes = b""  # the CSV records as JSON Lines

    def read(self, start: int, end: int) -> bytes:
        return self.data[start:end] if self.fd is None else os.pread(self.fd, end - start, start)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _jsonl_chunks(fd: int) -> list[Chunk]:
    """The file cut at line ends into pieces of about CHUNK_BYTES: nothing is read but a
    little after each cut, up to its line end."""
    size = os.fstat(fd).st_size
    out: list[Chunk] = []
    start = 0
    while start < size:
        end = start + CHUNK_BYTES
        while end < size:
            window = os.pread(fd, 1 << 16, end)
            if not window:
                break
            cut = window.find(b"\n")
            if cut >= 0:
                end += cut + 1
                break
            end += len(window)
        end = min(end, size)
        out.append((start, end, None))
        start = end
    return out


def read_input(path: Path, schema: dict[str, Any]) -> Source:
    """The input's records as JSON Lines chunks (CSV records converted, typed by the schema)."""
    if not path.is_file():
        raise UserError(f"input file {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = _csv_lines(path, schema)
        per = max(1, CHUNK_BYTES // 300)
        chunks: list[Chunk] = []
        start = 0
        for i in range(0, len(records), per):
            part = records[i : i + per]
            end = start + sum(len(raw) + 1 for _, raw in part)
            chunks.append((start, end, [line for line, _ in part]))
            start = end
        return Source(chunks, data=b"".join(raw + b"\n" for _, raw in records))
    if suffix in (".jsonl", ".ndjson", ".json"):
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            return Source(_jsonl_chunks(fd), fd=fd)
        except BaseException:
            os.close(fd)
            raise
    raise UserError(f"{path}: the input must be JSON Lines (.jsonl, .ndjson) or CSV (.csv)")


# ---------------------------------------------------------------------- the command


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, canon.dumps(value))


def mask(
    project: Project,
    input_path: Path,
    rules_ref: str,
    output: Path,
    *,
    key: MaskingKey | None = None,
    key_file: Path | None = None,
    allow_unmasked: list[str] | None = None,
    jobs: int | None = None,
) -> MaskResult:
    name, rules_rel = resolve_rules(project, rules_ref)
    rules = project.masking(name)
    schema = project.schema(rules.schema_).data
    folder, dataset, out_path = resolve_output(project, output)
    allowed = list(dict.fromkeys(allow_unmasked or []))
    known = set(all_fields(schema))
    for f in allowed:
        if f not in known:
            raise UserError(f"--allow-unmasked {f}: the schema '{rules.schema_}' has no such field")
    unmasked = {
        f: why
        for f, why in pii_fields(schema).items()
        if not _covered(f, list(rules.rules)) and not _covered(f, allowed)
    }
    if unmasked:
        listing = ", ".join(f"{f} ({why})" for f, why in sorted(unmasked.items()))
        raise UserError(
            f"personal data would stay unmasked: {listing}; add rules for them to {rules_rel}, "
            "or pass --allow-unmasked FIELD for each one that is safe as it is"
        )
    if key is None:
        key = load_key(repo_roots(project), key_file)
    masking = Masking(rules, schema, key, project.config.locale, rules_rel)
    warnings = _input_warnings(project, input_path)
    before = stat_key(input_path.stat()) if input_path.is_file() else None
    source = read_input(input_path, schema)  # a missing input is its error
    job = _Job(masking, schema, input_path.name, source)
    source_digest: list[str] = []
    hashing = threading.Thread(  # hashlib releases the GIL: this runs beside the masking
        target=lambda: source_digest.append(file_sha256(input_path)), daemon=True
    )
    hashing.start()
    # the masked rows are measured as they come, in input order, beside the workers: that
    # is what is written unless they need a shuffle or a sort (see _merge)
    collected = None if job.shuffled else Measure()
    try:
        results, line_of = _run(job, source.chunks, jobs, collected)
    finally:
        source.close()
    del source
    job.source = Source([])  # the CSV records are not needed any more
    # the workers read the input as they go, and its hash is taken apart from them: a file
    # rewritten meanwhile would give masked rows and a recorded source hash of mixed origin
    source_sha256 = _joined(hashing, source_digest, input_path)
    if stat_key(input_path.stat()) != before:
        raise UserError(
            f"{input_path} changed while it was being masked; nothing was written: "
            "mask it again once it is complete"
        )
    out, as_collected = _merge(job, results, line_of)
    del results
    measured = collected if as_collected and collected is not None else Measure()
    with atomic_writer(out_path) as fh:
        for blob in out:
            if measured is not collected:
                measured.update(blob)
            fh.write(blob)
    rows, sha = measured.rows, measured.sha256
    lock = project.read_lock()
    entries = dict(lock.datasets)
    entries[f"{folder}/{dataset}"] = LockEntry(
        schema=rules.schema_,
        template=folder,
        rows=rows,
        sha256=sha,
        tdm_version=__version__,
        masked=MaskProvenance(
            source=input_path.name,
            source_sha256=source_sha256,
            rules=rules_rel,
            rules_sha256=file_sha256(project.root / rules_rel),
            allowed_unmasked=sorted(allowed),
        ),
    )
    project.write_lock(lock.model_copy(update={"datasets": entries}))
    return MaskResult(f"{folder}/{dataset}", project.rel(out_path), rows, sha, rules_rel, warnings)


def _joined(thread: threading.Thread, result: list[str], path: Path) -> str:
    thread.join()
    return result[0] if result else file_sha256(path)


def _covered(field: str, by: list[str]) -> bool:
    """A rule (or an allowance) on an object covers the fields inside it."""
    return any(field == c or field.startswith(c + ".") for c in by)


# ---------------------------------------------------------------------- the masking pass


class _Job:
    """Everything a worker needs; inherited by fork (the key is never pickled)."""

    def __init__(
        self, masking: Masking, schema: dict[str, Any], display: str, source: Source
    ) -> None:
        self.masking = masking
        self.display = display
        self.source = source  # the input: chunks are byte ranges of it
        self.validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        self.pk = masking.primary_key
        self.unique = unique_fields(schema, self.pk)
        self.shuffled = [fr for fr in masking.fields if fr.mask is None]


@dataclass
class _ChunkOut:
    #: the masked rows as JSON Lines, one buffer per chunk (built in a bytearray: orjson's
    #: result for each row keeps a 4 KiB allocation whatever its length, and a list of
    #: them cost 2 GB at 1M rows; bytes when sent, as pickle copies a bytearray twice)
    data: bytes = b""
    #: unique field -> the masked rows' values as hash keys (maskunique.hash_key), in the
    #: worker; what it sends are their hashes
    unique_keys: dict[str, list[Any]] = field(default_factory=dict)
    unique: dict[str, Hashes] = field(default_factory=dict)
    #: shuffled field -> the row's original value (MISSING when absent)
    shuffle_src: dict[str, list[Any]] = field(default_factory=dict)
    ids: list[bytes] = field(default_factory=list)  # canonical primary keys (shuffle order)
    keys: list[Any] = field(default_factory=list)  # the masked rows' primary keys
    #: each row's line in the input (counted from the chunk's first line, as 0, when
    #: relative; the parent makes them absolute)
    line_nos: Lines = field(default_factory=list)
    relative: bool = True
    newlines: int = 0  # the line ends in the chunk
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (row in chunk, problem)
    error: tuple[int, str] | None = None  # (input line, message): a row that cannot be masked


_ACTIVE: _Job | None = None


def _mask_chunk(chunk: Chunk) -> _ChunkOut:
    job = _ACTIVE
    assert job is not None
    out = _ChunkOut(
        unique_keys={f: [] for f in job.unique}, shuffle_src={fr.field: [] for fr in job.shuffled}
    )
    gc.disable()  # a chunk builds thousands of acyclic objects: no cycles to collect
    try:
        _mask_rows(job, chunk, out)
    finally:
        gc.enable()
    if out.error is None:
        out.unique = {f: hash_keys(keys) for f, keys in out.unique_keys.items()}
    out.unique_keys = {}
    return out


#: a line holding only whitespace (as bytes.strip sees it) that a newline ends; the same
#: at the start of a chunk (see tdm.measure)
_BLANK_LINE = re.compile(rb"\n[ \t\r\x0b\x0c]*\n")
_BLANK_FIRST = re.compile(rb"[ \t\r\x0b\x0c]*\n")


def _records(blob: bytes, first: int, numbers: list[int] | None) -> tuple[list[bytes], Lines]:
    """A chunk's records (its non-blank lines) and the input line of each."""
    raws = blob.split(b"\n")
    if raws and not raws[-1]:
        raws.pop()
    if raws and (_BLANK_FIRST.match(blob) or _BLANK_LINE.search(blob) or not raws[-1].strip()):
        kept = [n for n, raw in enumerate(raws) if raw.strip()]  # a blank line is no record
        lines = [numbers[n] if numbers is not None else first + n for n in kept]
        return [raws[n] for n in kept], lines
    return raws, numbers if numbers is not None else range(first, first + len(raws))


def _mask_rows(job: _Job, chunk: Chunk, out: _ChunkOut) -> None:
    validator, pk, shuffled = job.validator, job.pk, job.shuffled
    mask, is_valid = job.masking.mask_owned, validator.is_valid
    loads, dumps, newline = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    check_now = not shuffled  # with shuffles, rows are validated after the shuffle
    top = [(path[0], out.unique_keys[f]) for f, path in job.unique.items() if len(path) == 1]
    nested = [(path, out.unique_keys[f]) for f, path in job.unique.items() if len(path) > 1]
    start, end, numbers = chunk
    blob = job.source.read(start, end)
    out.newlines, out.relative = blob.count(b"\n"), numbers is None
    raws, line_nos = _records(blob, 0, numbers)
    out.line_nos = line_nos
    data, keys = bytearray(), out.keys
    for n, raw in enumerate(raws):
        try:
            row = loads(raw)
            if type(row) is not dict:
                raise ValueError("a record must be a JSON object")
            # the fields no rule rewrites (key, `per`, shuffled) stay as they were in row
            masked = mask(row)
        except orjson.JSONDecodeError as exc:
            # positions only, never the text
            out.error = (line_nos[n], f"not valid JSON ({canon.decode_error(raw, exc)})")
            return
        except ValueError as exc:
            out.error = (line_nos[n], str(exc))
            return
        for name, keys_of in top:  # maskunique.hash_key, inline
            value = masked.get(name)
            keys_of.append(value if type(value) is str or type(value) is int else key_bytes(value))
        for path, keys_of in nested:
            keys_of.append(hash_key(get_path(masked, path)))
        if shuffled:
            for fr in shuffled:
                out.shuffle_src[fr.field].append(get_path(row, fr.path))
            if pk:  # else each row's input line (known to the parent): see _shuffle
                out.ids.append(key_bytes(row.get(pk)) or b"")
        if check_now and not is_valid(masked):
            out.invalid.append((n, _problem(validator, masked, job.display)))
        if pk is not None:
            keys.append(masked.get(pk))
        data += dumps(masked, option=newline)
    out.data = bytes(data)


def _run(
    job: _Job, chunks: list[Chunk], jobs: int | None, measured: Measure | None = None
) -> tuple[list[_ChunkOut], list[int]]:
    """Mask every chunk; results are checked (errors, uniqueness) as they arrive, while the
    workers go on.  Returns the results and each row's input line."""
    global _ACTIVE
    workers = min(jobs or os.cpu_count() or 1, len(chunks))
    _ACTIVE = job
    try:
        if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            return _collect(job, (_mask_chunk(c) for c in chunks), measured)
        # the forked workers share the parent's objects copy-on-write; a garbage collection
        # in a worker would touch (and so copy) every one of them: freeze them first
        gc.collect()
        gc.freeze()
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        try:
            return _collect(job, pool.map(_mask_chunk, chunks), measured)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
            gc.unfreeze()
    finally:
        _ACTIVE = None


def _collect(
    job: _Job, results: Iterator[_ChunkOut], measured: Measure | None
) -> tuple[list[_ChunkOut], list[int]]:
    """Take results in order: a row that could not be masked, or a unique field whose
    masked values repeat, stops everything (values are never shown).  Which comes first
    in the input is reported: a repeat within the chunks before a row's error, else it."""
    hashes: dict[str, list[tuple[int, Hashes]]] = {f: [] for f in job.unique}
    line_of: list[int] = []
    out: list[_ChunkOut] = []
    line = 1  # where the next JSON Lines chunk starts
    for res in results:
        if res.relative:
            res.line_nos = _shifted(res.line_nos, line)
            if res.error is not None:
                res.error = (res.error[0] + line, res.error[1])
            res.relative = False
        line += res.newlines
        if res.error is not None:
            _check_unique(job, out, hashes, line_of)
            line, message = res.error
            raise UserError(message, path=job.display, line=line)
        for f, part in res.unique.items():
            hashes[f].append((len(line_of), part))
        res.unique = {}
        line_of.extend(res.line_nos)
        out.append(res)
        if measured is not None:
            measured.update(res.data)
    _check_unique(job, out, hashes, line_of)
    return out, line_of


def _shifted(lines: Lines, by: int) -> Lines:
    if isinstance(lines, range):
        return range(lines.start + by, lines.stop + by)
    return [n + by for n in lines]


def _check_unique(
    job: _Job,
    results: list[_ChunkOut],
    hashes: dict[str, list[tuple[int, Hashes]]],
    line_of: list[int],
) -> None:
    """The first repeat of a unique field's masked value, as taking the chunks in order
    and the fields in order within a chunk finds it, is a MaskCheckFailed."""
    starts = list(itertools.accumulate((len(res.line_nos) for res in results), initial=0))
    lines: dict[int, list[bytes]] = {}

    def key_of(path: tuple[str, ...]) -> Callable[[int], Any]:
        def key(row: int) -> Any:  # read back from the masked row
            chunk = bisect.bisect_right(starts, row) - 1
            if chunk not in lines:
                lines[chunk] = results[chunk].data.split(b"\n")
            return set_key(get_path(orjson.loads(lines[chunk][row - starts[chunk]]), path))

        return key

    repeats = []
    for order, (f, path) in enumerate(job.unique.items()):
        found = first_repeat(hashes[f], key_of(path))
        if found is not None:
            chunk = bisect.bisect_right(starts, found[1]) - 1
            repeats.append((chunk, order, f, *found))
    if repeats:
        _, _, f, first, row = min(repeats)
        _collision(job, f, line_of[first], line_of[row])


def _merge(job: _Job, results: list[_ChunkOut], line_of: list[int]) -> tuple[list[bytes], bool]:
    """Shuffles, validation and the primary-key order, over all rows: the output, and
    whether it is the chunks' buffers as they were collected."""
    display = job.display
    keys = [k for res in results for k in res.keys]
    if (
        not job.shuffled
        and not any(res.invalid for res in results)
        and (job.pk is None or _ascending(keys))
    ):
        return [res.data for res in results], True  # already in order: the buffers as they are
    lines = [line for res in results for line in res.data.split(b"\n")[:-1]]
    invalid = [(res.line_nos[i], p) for res in results for i, p in res.invalid]
    if job.shuffled:
        invalid = _shuffle(job, results, lines, line_of, keys)
    if invalid:
        shown = [f"  {display}:{line}: {problem}" for line, problem in invalid[:SHOWN_PROBLEMS]]
        more = (
            f"\n  ... and {len(invalid) - len(shown)} more rows"
            if len(invalid) > len(shown)
            else ""
        )
        raise MaskCheckFailed(
            f"{len(invalid)} masked row(s) do not validate against the schema; nothing was written:\n"
            + "\n".join(shown)
            + more
        )
    if job.pk is not None and not _ascending(keys):
        sort_keys = [_sort_key(k) for k in keys]
        order = sorted(range(len(lines)), key=sort_keys.__getitem__)
        lines = [lines[i] for i in order]
    return [b"".join(line + b"\n" for line in lines)], False


def _ascending(keys: list[Any]) -> bool:
    """Already in primary-key order (the common case: an export sorted by its key)?"""
    if set(map(type, keys)) in ({int}, {str}):
        return keys == sorted(keys)  # in C: a sorted list is one run for the sort
    sort_keys = [_sort_key(k) for k in keys]
    return all(a <= b for a, b in itertools.pairwise(sort_keys))


def _shuffle(
    job: _Job,
    results: list[_ChunkOut],
    lines: list[bytes],
    line_of: list[int],
    keys: list[Any],
) -> list[tuple[int, str]]:
    """Each shuffled column permuted over all rows (see :meth:`Masking.shuffle_order`),
    then every row validated."""
    ids = (
        [i for res in results for i in res.ids]
        if job.pk
        else [str(line).encode() for line in line_of]
    )
    rows = [orjson.loads(line) for line in lines]
    for fr in job.shuffled:
        src = [v for res in results for v in res.shuffle_src[fr.field]]
        # only the rows that have the field take part: the others stay without it
        order = [i for i in job.masking.shuffle_order(fr.field, ids) if src[i] is not MISSING]
        for j, i in enumerate(order):
            set_path(rows[i], fr.path, src[order[(j + 1) % len(order)]])
    invalid = []
    for n, row in enumerate(rows):
        if not job.validator.is_valid(row):
            invalid.append((line_of[n], _problem(job.validator, row, job.display)))
        lines[n] = bytes(memoryview(orjson.dumps(row)))  # exact size (see _ChunkOut)
        if job.pk is not None:
            keys[n] = row.get(job.pk)
    return invalid


def _collision(job: _Job, field: str, first: int, second: int) -> None:
    """Two output rows share a value of a unique field.  Which value is not said: it may
    be personal data."""
    rule = next((fr for fr in job.masking.fields if fr.field == field), None)
    if rule is None:
        why = "it has no masking rule, so the input repeats it"
    elif rule.unique_safe:
        why = f"strategy {rule.strategy} keeps distinct inputs distinct, so the input repeats it"
    else:
        why = (
            f"strategy {rule.strategy} cannot keep values distinct (use hash or fake), "
            "or the input repeats it"
        )
    raise MaskCheckFailed(
        f"{job.display}: masked {field} is not unique: the rows at lines {first} and {second} "
        f"get the same value; {why}. Nothing was written."
    )


def unique_fields(schema: dict[str, Any], pk: str | None) -> dict[str, tuple[str, ...]]:
    """The primary key and the fields marked ``x-tdm: {unique: true}``."""
    out: dict[str, tuple[str, ...]] = {}
    if pk:
        out[pk] = (pk,)
    for f in all_fields(schema):
        prop = property_schema(schema, f) or {}
        hint = prop.get("x-tdm") if isinstance(prop.get("x-tdm"), dict) else {}
        if isinstance(hint, dict) and hint.get("unique") is True:
            out.setdefault(f, tuple(f.split(".")))
    return out


def _problem(validator: Any, row: dict[str, Any], display: str = "") -> str:
    """Where a row fails and which keyword, without the value (it may be personal data).
    Missing and unexpected fields are named (names are not personal data): in a CSV they
    are columns, missing when a row has too few cells."""
    noun = "column" if display.lower().endswith(".csv") else "field"
    for error in validator.iter_errors(row):
        pointer = "/" + "/".join(str(p) for p in error.instance_path)
        kind = type(error.kind).__name__.removeprefix("ValidationErrorKind_")
        where = f" in {pointer}" if pointer != "/" else ""
        if kind == "Required":
            missing = f"{noun} '{error.kind.property}'{where} is required but has no value"
            return missing + (
                " (the row has fewer cells than the header, or no such column)"
                if noun == "column"
                else ""
            )
        if kind == "AdditionalProperties":
            names = ", ".join(f"'{n}'" for n in error.kind.unexpected)
            return (
                f"{noun}(s) {names}{where} not in the schema (additionalProperties: false); "
                "remove them from the input or add them to the schema"
            )
        return f"{pointer}: fails {kind} ({'/'.join(str(p) for p in error.schema_path)})"
    return "invalid"


def _input_warnings(project: Project, path: Path) -> list[str]:
    """Real records inside the repository are one `git add -A` away from being committed."""
    resolved = path.resolve()
    if not resolved.is_relative_to(project.root.resolve()):
        return []
    repo = gitio.discover(project.root)
    if repo is not None and repo.workdir:
        rel = resolved.relative_to(Path(repo.workdir).resolve()).as_posix()
        if gitio.is_ignored(repo, rel):  # an unusual path counts as not ignored: warn
            return []
    return [
        f"{path} holds unmasked records inside the repository and is not ignored by git; "
        "move it out (or add it to .gitignore) so it is never committed"
    ]
