"""The files of a tdm repository: finding it, naming things inside it, loading them.

Every name that becomes a path (schema, template, dataset, masking file) is
checked with :func:`tdm.models.check_name` and resolved inside the repository,
so no repository file can make tdm read or write outside it.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from tdm import canon
from tdm.errors import NotARepositoryError, UserError
from tdm.fsutil import write_bytes_atomic
from tdm.models import (
    Lock,
    MaskingRules,
    ProjectConfig,
    SchemaHint,
    Template,
    check_name,
    parse_model,
)
from tdm.yamlio import Located, load_document

CONFIG_FILE = "tdm.yaml"
LOCK_FILE = "tdm.lock"
SCHEMA_DIR = "schemas"
TEMPLATE_DIR = "templates"
MASKING_DIR = "masking"
DATASET_DIR = "datasets"
MANAGED = (CONFIG_FILE, LOCK_FILE, SCHEMA_DIR, TEMPLATE_DIR, MASKING_DIR, DATASET_DIR)
#: what `tdm commit` stages: the managed files plus the git files `tdm init` writes
COMMITTED = (*MANAGED, ".gitignore", ".gitattributes")
_SUFFIXES = (".yaml", ".yml", ".json")
#: the JSON Schema meta-schemas, which validators know without fetching them
_META_SCHEMAS = ("http://json-schema.org/", "https://json-schema.org/")


@dataclass(frozen=True)
class SchemaDoc:
    """A loaded, meta-schema-checked schema file."""

    name: str
    display: str
    data: dict[str, Any]
    doc: Located
    hint: SchemaHint

    @property
    def primary_key(self) -> str | None:
        return self.hint.primary_key

    @functools.cached_property
    def raw_bytes(self) -> bytes:
        return canon.dumps(self.data)


class Project:
    """A tdm repository on disk."""

    def __init__(self, root: Path, config: ProjectConfig) -> None:
        self.root = root
        self.config = config
        self._schemas: dict[str, tuple[tuple[str, int, int], SchemaDoc]] = {}

    # ------------------------------------------------------------ opening

    @classmethod
    def find(cls, start: Path | str = ".") -> Project:
        """The tdm repository containing ``start`` (searching upwards for tdm.yaml)."""
        here = Path(start).resolve()
        for candidate in (here, *here.parents):
            if (candidate / CONFIG_FILE).is_file():
                return cls.load(candidate)
        raise NotARepositoryError(
            f"not a tdm repository (no {CONFIG_FILE} in {here} or its parents); "
            "run `tdm init` to create one"
        )

    @classmethod
    def load(cls, root: Path) -> Project:
        doc = load_document(root / CONFIG_FILE, CONFIG_FILE)
        if not isinstance(doc.data, dict):
            raise UserError("must be a mapping with at least 'name'", path=CONFIG_FILE, line=1)
        project = cls(root, parse_model(ProjectConfig, doc))
        project.check_layout()
        return project

    def check_layout(self) -> None:
        """Refuse a repository whose tdm folders or tdm.lock are symbolic links.

        Through a linked ``datasets/smoke`` tdm would write data outside the repository and
        git would commit the link instead of the data, so every command stops (exit 2).
        Linked dataset files are findings of ``tdm validate`` instead (never read)."""
        for name in (LOCK_FILE, SCHEMA_DIR, TEMPLATE_DIR, MASKING_DIR, DATASET_DIR):
            self.no_link(self.root / name)
        base = self.root / DATASET_DIR
        if base.is_dir():
            for child in base.iterdir():
                self.no_link(child)

    def no_link(self, path: Path) -> Path:
        """``path`` unless it or a folder between it and the root is a symbolic link."""
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return self.inside(path)
        here = self.root
        for part in parts:
            here = here / part
            if here.is_symlink():
                target = os.readlink(here)
                what = "folder" if here.is_dir() or not here.exists() else "file"
                raise UserError(
                    f"{self.rel_link(here)} is a symbolic link (to {target}); tdm reads and "
                    "writes only real files and folders inside the repository (git would "
                    f"commit the link, not the data): replace it with a real {what}"
                )
        return path

    def rel_link(self, path: Path) -> str:
        """``path`` relative to the root without following a link at its end."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def config_line(self, loc: tuple[str | int, ...]) -> int | None:
        """The line of ``loc`` in tdm.yaml (None when it cannot be read again)."""
        try:
            return load_document(self.root / CONFIG_FILE, CONFIG_FILE).line_of(loc)
        except UserError:
            return None

    # ------------------------------------------------------------ paths

    def rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    def inside(self, path: Path) -> Path:
        """``path`` if it resolves inside the repository, else a UserError."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise UserError(f"{path} resolves outside the repository; tdm only works inside it")
        return path

    def writable(self, path: Path) -> Path:
        """``path`` (under the root) if no part of it is a symbolic link and it resolves
        inside the repository: where tdm may write."""
        return self.inside(self.no_link(path))

    def _find(self, folder: str, name: str, what: str) -> Path:
        try:
            check_name(name, what)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        for suffix in _SUFFIXES:
            candidate = self.root / folder / f"{name}{suffix}"
            if candidate.is_file():
                return self.inside(candidate)
        raise UserError(
            f"{what} '{name}' not found: expected {folder}/{name}.yaml "
            f"(known: {', '.join(self._names(folder)) or 'none'})"
        )

    def _names(self, folder: str) -> list[str]:
        base = self.root / folder
        if not base.is_dir():
            return []
        return sorted({p.stem for p in base.iterdir() if p.suffix in _SUFFIXES and p.is_file()})

    def schema_names(self) -> list[str]:
        return self._names(SCHEMA_DIR)

    def template_names(self) -> list[str]:
        return self._names(TEMPLATE_DIR)

    def select_templates(self, names: list[str] | None) -> set[str] | None:
        """The dataset folders a command is limited to (None: all): templates, or folders
        of datasets/ that no template writes (masked data); an unknown name is an error."""
        if not names:
            return None
        known = set(self.template_names()) | {p.parent.name for p in self.dataset_files()}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UserError(
                f"no template or dataset folder {', '.join(repr(u) for u in unknown)} "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            )
        return set(names)

    def masking_names(self) -> list[str]:
        return self._names(MASKING_DIR)

    def dataset_schema(self, dataset: str) -> str | None:
        """The schema ``template/dataset`` follows in the working tree: the one rule of
        :meth:`tdm.snapshot.Snapshot.dataset_schema` (its template's spec, else its tdm.lock
        entry, else a schema with the dataset's name).  A malformed template or lock
        raises UserError."""
        from tdm.snapshot import WorktreeSnapshot  # the reader sits on top of this module

        return WorktreeSnapshot(self).dataset_schema(dataset)

    def dataset_path(self, template: str, dataset: str) -> Path:
        check_name(template, "template")
        check_name(dataset, "dataset")
        return self.writable(self.root / DATASET_DIR / template / f"{dataset}.jsonl")

    def dataset_files(self) -> list[Path]:
        base = self.root / DATASET_DIR
        if not base.is_dir():
            return []
        root = self.root.resolve()
        return sorted(
            p
            for p in base.glob("*/*.jsonl")
            # a symbolic link (committed by a pull request, say) could point anywhere
            if p.is_file()
            and not p.is_symlink()
            and not p.parent.is_symlink()
            and p.resolve().is_relative_to(root)
        )

    # ------------------------------------------------------------ loading

    def schema(self, name: str) -> SchemaDoc:
        """A schema, loaded once per version of its file (a long-lived Project sees edits)."""
        path = self._find(SCHEMA_DIR, name, "schema")
        st = path.stat()
        stamp = (str(path), st.st_mtime_ns, st.st_size)
        cached = self._schemas.get(name)
        if cached is None or cached[0] != stamp:
            self._schemas[name] = (stamp, self._load_schema(name))
        return self._schemas[name][1]

    def schema_file(self, file_name: str) -> dict[str, Any] | None:
        """The data of ``schemas/<file_name>`` (e.g. 'customers.yaml', as a ``$ref`` names
        it), None when the repository has no such schema; names stay inside schemas/."""
        stem, dot, suffix = file_name.rpartition(".")
        if not dot or f".{suffix}" not in _SUFFIXES or "/" in stem or stem.startswith("."):
            return None
        if stem not in self.schema_names():
            return None
        path = self._find(SCHEMA_DIR, stem, "schema")
        if path.suffix != f".{suffix}":
            return None
        return self.schema(stem).data

    def schema_externals(
        self, data: Any, where: str | None = None, *, missing_ok: bool = False
    ) -> dict[str, Any]:
        """The other schema files that ``data`` (the schema file ``where``) references,
        directly or through each other (file name -> data), for validators that must
        resolve them.  A reference to anything else is a UserError (skipped with
        ``missing_ok``): tdm never fetches a schema from the network or from outside schemas/."""
        found: dict[str, Any] = {}
        todo: list[tuple[Any, str | None]] = [(data, where)]
        from tdm.jsonschema_norm import external_files  # jsonschema-rs: not at start-up

        while todo:
            node, at = todo.pop()
            for name in external_files(node):
                if name in found or name.startswith(_META_SCHEMAS):
                    continue
                doc = self.schema_file(name)
                if doc is None and missing_ok:
                    continue
                if doc is None:
                    raise UserError(
                        f"a $ref cannot be resolved: {name} is not a schema file of this "
                        "repository. References to other schemas name a file of schemas/ "
                        "relative to this one, e.g. Address.json or "
                        "customers.yaml#/$defs/Address",
                        path=at,
                    )
                found[name] = doc
                todo.append((doc, f"{SCHEMA_DIR}/{name}"))
        return found

    def _load_schema(self, name: str) -> SchemaDoc:
        path = self._find(SCHEMA_DIR, name, "schema")
        return schema_doc(name, load_document(path, self.rel(path)))

    def template(self, name: str) -> Template:
        path = self._find(TEMPLATE_DIR, name, "template")
        doc = load_document(path, self.rel(path))
        if not isinstance(doc.data, dict):
            raise UserError("a template must be a mapping with 'datasets'", path=doc.path, line=1)
        return parse_model(Template, doc)

    def template_doc(self, name: str) -> Located:
        path = self._find(TEMPLATE_DIR, name, "template")
        return load_document(path, self.rel(path))

    def masking(self, name: str) -> MaskingRules:
        path = self._find(MASKING_DIR, name, "masking rules")
        doc = load_document(path, self.rel(path))
        if not isinstance(doc.data, dict):
            raise UserError(
                "masking rules must be a mapping with 'schema' and 'rules'", path=doc.path, line=1
            )
        return parse_model(MaskingRules, doc)

    def masking_doc(self, name: str) -> Located:
        path = self._find(MASKING_DIR, name, "masking rules")
        return load_document(path, self.rel(path))

    # ------------------------------------------------------------ lock

    def read_lock(self) -> Lock:
        path = self.writable(self.root / LOCK_FILE)
        if not path.exists():
            return Lock()
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise UserError(
                f"is not valid JSON ({exc}); restore it from git or delete it and run `tdm generate`",
                path=LOCK_FILE,
                line=exc.lineno,
            ) from None
        try:
            return Lock.model_validate(data)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise UserError(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}; "
                "restore it from git or delete it and run `tdm generate`",
                path=LOCK_FILE,
            ) from None

    def write_lock(self, lock: Lock) -> None:
        data = lock.model_dump(by_alias=True, exclude_none=True)
        data["datasets"] = dict(sorted(data["datasets"].items()))
        write_bytes_atomic(self.writable(self.root / LOCK_FILE), canon.pretty(data))


def schema_doc(name: str, doc: Located) -> SchemaDoc:
    """A parsed schema file checked as tdm loads it: a mapping, a valid JSON Schema, a
    valid ``x-tdm`` hint whose primary key is a required property."""
    display = doc.path
    data = doc.data
    if not isinstance(data, dict):
        raise UserError("a schema must be a mapping (a JSON Schema object)", path=display, line=1)
    from tdm import jsonschema_norm as norm

    norm.dialect_of(data, display)  # an unknown $schema is named before anything else
    if not norm.meta_valid_fast(data):
        _check_schema_slow(data, doc)
    hint_raw = data.get("x-tdm", {})
    try:
        hint = SchemaHint.model_validate(hint_raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ("x-tdm", *err["loc"])
        raise UserError(
            f"{'.'.join(str(p) for p in loc)}: {err['msg']}; see the x-tdm reference in the README",
            path=display,
            line=doc.line_of(loc),
        ) from None
    props = data.get("properties", {})
    pk = hint.primary_key
    if pk is not None:
        if pk not in props:
            raise UserError(
                f"x-tdm.primary_key '{pk}' is not a property of the schema; name one of: "
                f"{', '.join(props) or '(none)'}",
                path=display,
                line=doc.line_of(("x-tdm", "primary_key")),
            )
        if pk not in data.get("required", []):
            raise UserError(
                f"primary key '{pk}' must be listed in 'required'",
                path=display,
                line=doc.line_of(("required",)) or doc.line_of(("x-tdm",)),
            )
    return SchemaDoc(name, display, data, doc, hint)


def _check_schema_slow(data: dict[str, Any], doc: Located) -> None:
    """The pure-Python meta-schema check, which decides any doubt of the compiled one and
    words the error with its place in the file."""
    import jsonschema  # only where the fast check is in doubt
    import jsonschema.validators

    from tdm import jsonschema_norm as norm

    cls = jsonschema.validators.validator_for(data, default=jsonschema.Draft202012Validator)
    try:
        norm.check_schema(cls, data)
    except jsonschema.SchemaError as exc:
        loc = tuple(exc.path)
        where = "/".join(str(p) for p in loc) or "(top level)"
        raise UserError(
            f"not a valid JSON Schema at {where}: {exc.message}; fix it to follow the JSON Schema spec",
            path=doc.path,
            line=doc.line_of(loc),
        ) from None
