"""``tdm mask INPUT -r RULES -o OUT``: real records in, a masked dataset out.

The input (JSON Lines or CSV, CSV cells typed by the schema) is masked with the
rules, checked (primary key and unique fields still distinct, every row valid
against the schema) and only then written, in primary-key order, atomically.
tdm.lock records where the dataset came from: the input's file name and hash and
the rules file, never the key.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pygit2

from tdm import gitio
from tdm._version import __version__
from tdm.errors import CheckFailed, UserError
from tdm.fsutil import atomic_writer
from tdm.masking import (
    Masking,
    MaskingKey,
    all_fields,
    digest_file,
    load_key,
    pii_fields,
    property_schema,
)
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


def _csv_rows(path: Path, schema: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """CSV rows with cells typed by the schema's property types."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UserError("is not UTF-8 text", path=str(path)) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    if not columns:
        raise UserError("has no header row", path=str(path))
    coerce = {c: _coercer(property_schema(schema, c), c) for c in columns}
    out = []
    for record in reader:
        line = reader.line_num
        row: dict[str, Any] = {}
        for column, cell in record.items():
            if column is None:
                raise UserError(
                    "a row has more cells than the header has columns", path=str(path), line=line
                )
            if cell is None:
                continue  # a short row: the cell is absent
            try:
                row[column] = coerce[column](cell)
            except ValueError as exc:
                raise UserError(f"column {column}: {exc}", path=str(path), line=line) from None
        out.append((line, row))
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


def _jsonl_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    out = []
    loads = orjson.loads
    with path.open("rb") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = loads(line)
            except orjson.JSONDecodeError as exc:
                # the decoder's message has positions, never the text
                raise UserError(f"not valid JSON ({exc})", path=str(path), line=line_no) from None
            if not isinstance(row, dict):
                raise UserError("a row must be a JSON object", path=str(path), line=line_no)
            out.append((line_no, row))
    return out


def read_input(path: Path, schema: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise UserError(f"input file {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path, schema)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _jsonl_rows(path)
    raise UserError(f"{path}: the input must be JSON Lines (.jsonl, .ndjson) or CSV (.csv)")


# ---------------------------------------------------------------------- the command


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def mask(
    project: Project,
    input_path: Path,
    rules_ref: str,
    output: Path,
    *,
    key: MaskingKey | None = None,
    key_file: Path | None = None,
    allow_unmasked: list[str] | None = None,
) -> MaskResult:
    name, rules_rel = resolve_rules(project, rules_ref)
    rules = project.masking(name)
    schema_doc = project.schema(rules.schema_)
    schema = schema_doc.data
    folder, dataset, out_path = resolve_output(project, output)
    allowed = list(dict.fromkeys(allow_unmasked or []))
    known = set(all_fields(schema))
    for f in allowed:
        if f not in known:
            raise UserError(f"--allow-unmasked {f}: the schema '{rules.schema_}' has no such field")
    covered = list(rules.rules)
    unmasked = {
        f: why
        for f, why in pii_fields(schema).items()
        if not any(f == c or f.startswith(c + ".") for c in covered)
        and not any(f == a or f.startswith(a + ".") for a in allowed)
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
    source = read_input(input_path, schema)
    originals = [row for _, row in source]
    masked: list[dict[str, Any]] = []
    display = input_path.name
    for line, row in source:
        try:
            masked.append(masking.mask_row(row))
        except ValueError as exc:
            raise UserError(str(exc), path=display, line=line) from None
    masking.shuffle(originals, masked)
    lines = [line for line, _ in source]
    _check_unique(masking, schema, originals, masked, lines, display)
    _check_schema(schema, masked, lines, display)
    order = list(range(len(masked)))
    pk = masking.primary_key
    if pk is not None:
        keys = [_sort_key(r.get(pk)) for r in masked]
        if any(keys[i] > keys[i + 1] for i in range(len(keys) - 1)):
            order.sort(key=keys.__getitem__)
    digest = hashlib.sha256()
    with atomic_writer(out_path) as fh:
        buf = bytearray()
        for i in order:
            buf += orjson.dumps(masked[i])
            buf += b"\n"
            if len(buf) > 1 << 20:
                digest.update(buf)
                fh.write(buf)
                buf.clear()
        digest.update(buf)
        fh.write(buf)
    sha = digest.hexdigest()
    lock = project.read_lock()
    entries = dict(lock.datasets)
    entries[f"{folder}/{dataset}"] = LockEntry(
        schema=rules.schema_,
        template=folder,
        rows=len(masked),
        sha256=sha,
        tdm_version=__version__,
        masked=MaskProvenance(
            source=input_path.name,
            source_sha256=digest_file(input_path),
            rules=rules_rel,
            rules_sha256=digest_file(project.root / rules_rel),
            allowed_unmasked=sorted(allowed),
        ),
    )
    project.write_lock(lock.model_copy(update={"datasets": entries}))
    return MaskResult(
        f"{folder}/{dataset}", project.rel(out_path), len(masked), sha, rules_rel, warnings
    )


def _input_warnings(project: Project, path: Path) -> list[str]:
    """Real records inside the repository are one `git add -A` away from being committed."""
    resolved = path.resolve()
    if not resolved.is_relative_to(project.root.resolve()):
        return []
    repo = gitio.discover(project.root)
    if repo is not None and repo.workdir:
        rel = resolved.relative_to(Path(repo.workdir).resolve()).as_posix()
        try:
            if repo.path_is_ignored(rel):
                return []
        except (KeyError, ValueError, pygit2.GitError):
            pass  # an unusual path: warn rather than fail
    return [
        f"{path} holds unmasked records inside the repository and is not ignored by git; "
        "move it out (or add it to .gitignore) so it is never committed"
    ]


def _check_unique(
    masking: Masking,
    schema: dict[str, Any],
    originals: list[dict[str, Any]],
    masked: list[dict[str, Any]],
    lines: list[int],
    display: str,
) -> None:
    """The primary key and fields marked unique must stay distinct; a collision is an
    error, never silent.  Values are not printed (they may be personal)."""
    unique = [masking.primary_key] if masking.primary_key else []
    for f in all_fields(schema):
        prop = property_schema(schema, f) or {}
        hint = prop.get("x-tdm") if isinstance(prop.get("x-tdm"), dict) else {}
        if isinstance(hint, dict) and hint.get("unique") is True and f not in unique:
            unique.append(f)
    by_field = {fr.field: fr for fr in masking.fields}
    for f in unique:
        path = tuple(f.split("."))
        rule = by_field.get(f)
        seen_in: dict[bytes, int] = {}
        seen_out: dict[bytes, int] = {}
        for i, (before, after) in enumerate(zip(originals, masked, strict=True)):
            for rows, seen, side in ((before, seen_in, "input"), (after, seen_out, "output")):
                value = _get(rows, path)
                if value is None:
                    continue
                canon = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
                first = seen.get(canon)
                if first is not None:
                    if side == "input":
                        raise UserError(
                            f"{f} repeats in the input (rows at lines {lines[first]} and {lines[i]}) "
                            "but the schema says it is unique",
                            path=display,
                        )
                    how = f"strategy {rule.strategy}" if rule else "no rule"
                    raise MaskCheckFailed(
                        f"{display}: masked {f} collides (rows at lines {lines[first]} and {lines[i]} "
                        f"get the same value; {how} cannot keep values distinct); use hash or fake "
                        "for unique fields. Nothing was written."
                    )
                seen[canon] = i


def _get(row: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = row
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _check_schema(
    schema: dict[str, Any], masked: list[dict[str, Any]], lines: list[int], display: str
) -> None:
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    problems: list[str] = []
    bad = 0
    for row, line in zip(masked, lines, strict=True):
        if validator.is_valid(row):
            continue
        bad += 1
        if len(problems) < SHOWN_PROBLEMS:
            for error in validator.iter_errors(row):
                pointer = "/" + "/".join(str(p) for p in error.instance_path)
                problems.append(f"  {display}:{line}: {pointer}: {_describe(error)}")
                break
    if bad:
        more = f"\n  ... and {bad - len(problems)} more rows" if bad > len(problems) else ""
        raise MaskCheckFailed(
            f"{bad} masked row(s) do not validate against the schema; nothing was written:\n"
            + "\n".join(problems)
            + more
        )


def _describe(error: Any) -> str:
    """The kind of schema violation, without the value (it may be personal data)."""
    kind = type(error.kind).__name__.removeprefix("ValidationErrorKind_")
    path = "/".join(str(p) for p in error.schema_path)
    return f"fails {kind} ({path})"
