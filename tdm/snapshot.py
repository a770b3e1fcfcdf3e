"""The repository at a revision: one reader for the working tree, the index, a commit or
a tree built in memory.

A :class:`Snapshot` lists the files of one version of a tdm repository, reads a file's
bytes (whole, in blocks or by line) and gives a file's git blob id when it is known
without reading the file.  The lookups every command needs sit on top, once:
templates, schemas (parsed and checked as :class:`~tdm.project.SchemaDoc`), tdm.lock,
the datasets, and the one rule for which schema a dataset follows
(:meth:`Snapshot.dataset_schema`).

- :class:`WorktreeSnapshot`: the files on disk.  Symbolic links and files resolving
  outside the repository are never read; files git ignores are not part of it.
- :class:`TreeSnapshot`: a commit's tree, or any tree object (a merge computed in
  memory, a tree built by :meth:`tdm.gitio.Git.build_tree`).
- :class:`IndexSnapshot`: what is staged, the next commit.

Paths are POSIX and relative to the tdm root.  Blobs are read from the object database
without a checkout.  Git access goes through :mod:`tdm.gitio`.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tdm import gitio
from tdm.errors import UserError
from tdm.models import Template, check_name, parse_model
from tdm.project import (
    DATASET_DIR,
    LOCK_FILE,
    SCHEMA_DIR,
    TEMPLATE_DIR,
    Project,
    SchemaDoc,
    schema_doc,
)
from tdm.yamlio import Located, parse_json, parse_yaml

SUFFIXES = (".yaml", ".yml", ".json")
DATASET_SUFFIX = ".jsonl"


class Snapshot(ABC):
    """One version of a tdm repository's files."""

    #: how messages name this version ("working tree", "HEAD", "v1.2", "staged", ...)
    label: str
    #: the commit id when this version is a commit
    commit: str | None = None

    # ------------------------------------------------------------------ files

    @abstractmethod
    def files(self, folder: str) -> list[str]:
        """Names of the regular files directly in ``folder``, sorted."""

    @abstractmethod
    def folders(self, folder: str) -> list[str]:
        """Names of the folders directly in ``folder``, sorted."""

    @abstractmethod
    def blob_id(self, rel: str) -> str | None:
        """The git blob id of ``rel`` when known without reading it, else None."""

    @abstractmethod
    def read(self, rel: str) -> bytes | None:
        """The bytes of ``rel``, None when it is not a file of this version."""

    def chunks(self, rel: str) -> Iterator[bytes] | None:
        """The bytes of ``rel`` in blocks (for hashing or streaming a large file)."""
        data = self.read(rel)
        return None if data is None else iter((data,))

    def lines(self, rel: str) -> Iterator[bytes] | None:
        """The lines of ``rel``, each with its newline (rows of a dataset, streamed)."""
        data = self.read(rel)
        return None if data is None else iter(io.BytesIO(data))

    def where(self, rel: str) -> str:
        """``rel`` as messages name it: ``path@label``."""
        return f"{rel}@{self.label}"

    def walk(self, folder: str) -> list[tuple[str, str | None]]:
        """(path, blob id if known) of every regular file under ``folder``, at any depth."""
        out: list[tuple[str, str | None]] = []
        for name in self.files(folder):
            rel = f"{folder}/{name}"
            out.append((rel, self.blob_id(rel)))
        for sub in self.folders(folder):
            out.extend(self.walk(f"{folder}/{sub}"))
        return sorted(out)

    # ------------------------------------------------------------------ documents

    def located(self, rel: str) -> Located | None:
        """A YAML or JSON file parsed with its line numbers, None when it does not exist."""
        data = self.read(rel)
        if data is None:
            return None
        where = self.where(rel)
        if rel.endswith(".json") or rel == LOCK_FILE:
            return parse_json(data, where)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError("not UTF-8 text", path=where) from None
        return parse_yaml(text, where)

    def mapping(self, rel: str) -> dict[str, Any]:
        """A YAML or JSON file parsed (once) that must be a mapping with string keys; {}
        when it does not exist.  A schema must also be a valid JSON Schema."""
        cache: dict[str, dict[str, Any]] = self.__dict__.setdefault("_mappings", {})
        if rel not in cache:
            cache[rel] = self._mapping(rel)
        return cache[rel]

    def _mapping(self, rel: str) -> dict[str, Any]:
        doc = self.located(rel)
        if doc is None:
            return {}
        data = doc.data
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise UserError("expected a mapping at the top of the file", path=self.where(rel))
        bad = _non_string_key(data)
        if bad is not None:
            raise UserError(
                f"key {bad!r} is not a string (YAML reads unquoted on/off/yes/no as booleans "
                "and digits as numbers); quote it",
                path=self.where(rel),
            )
        if rel.startswith(f"{SCHEMA_DIR}/"):
            _check_schema(data, self.where(rel))
        return data

    # ------------------------------------------------------------------ named files

    def _named(self, folder: str) -> dict[str, str]:
        """name -> file for the YAML/JSON files of ``folder``: the first of .yaml, .yml,
        .json, as tdm loads them."""
        cache: dict[str, dict[str, str]] = self.__dict__.setdefault("_named_cache", {})
        if folder not in cache:
            out: dict[str, str] = {}
            names = self.files(folder)
            for suffix in SUFFIXES:
                for name in names:
                    if name.endswith(suffix):
                        out.setdefault(name[: -len(suffix)], f"{folder}/{name}")
            cache[folder] = out
        return cache[folder]

    def schema_files(self) -> dict[str, str]:
        """schema name -> its file."""
        return self._named(SCHEMA_DIR)

    def template_files(self) -> dict[str, str]:
        """template name -> its file."""
        return self._named(TEMPLATE_DIR)

    def schema_names(self) -> list[str]:
        return sorted(self.schema_files())

    def template_names(self) -> list[str]:
        return sorted(self.template_files())

    def schema(self, name: str) -> SchemaDoc:
        """A schema parsed and checked as ``tdm validate`` loads it."""
        rel = self.schema_files().get(_checked(name, "schema"))
        if rel is None:
            raise UserError(
                f"schema '{name}' does not exist at {self.label} "
                f"(known: {', '.join(self.schema_names()) or 'none'})"
            )
        doc = self.located(rel)
        assert doc is not None
        return schema_doc(name, doc)

    def template(self, name: str) -> Template:
        """A template parsed as ``tdm generate`` loads it."""
        rel = self.template_files().get(_checked(name, "template"))
        doc = self.located(rel) if rel is not None else None
        if doc is None:
            raise UserError(
                f"template '{name}' does not exist at {self.label} "
                f"(known: {', '.join(self.template_names()) or 'none'})"
            )
        if not isinstance(doc.data, dict):
            raise UserError("a template must be a mapping with 'datasets'", path=doc.path, line=1)
        return parse_model(Template, doc)

    # ------------------------------------------------------------------ lock and datasets

    def lock(self) -> dict[str, Any]:
        """tdm.lock parsed, {} when there is none; invalid JSON is a UserError."""
        return self.mapping(LOCK_FILE)

    def lock_entries(self) -> dict[str, Any]:
        """tdm.lock's ``datasets``: ``template/dataset`` -> its entry."""
        return _dict(self.lock().get("datasets"))

    def datasets(self) -> dict[str, str]:
        """``template/dataset`` -> its file, for every datasets/<template>/<name>.jsonl."""
        cache: dict[str, str] | None = self.__dict__.get("_datasets")
        if cache is None:
            cache = {}
            for folder in self.folders(DATASET_DIR):
                for name in self.files(f"{DATASET_DIR}/{folder}"):
                    if name.endswith(DATASET_SUFFIX):
                        stem = name[: -len(DATASET_SUFFIX)]
                        cache[f"{folder}/{stem}"] = f"{DATASET_DIR}/{folder}/{name}"
            self.__dict__["_datasets"] = cache
        return cache

    def dataset_file(self, dataset: str) -> str:
        """The file of ``template/dataset`` (both names checked), whether or not it exists."""
        template, sep, name = dataset.partition("/")
        if not sep:
            raise UserError(
                f"dataset '{dataset}' must be written <template>/<dataset>, e.g. smoke/customers"
            )
        _checked(template, "template")
        _checked(name, "dataset")
        return f"{DATASET_DIR}/{template}/{name}{DATASET_SUFFIX}"

    def dataset_schema(self, dataset: str) -> str | None:
        """The schema ``template/dataset`` follows, the one rule every command uses: its
        template's spec, else its tdm.lock entry (masked datasets have no template), else a
        schema with the dataset's own name; None when none applies.  A malformed template
        or lock file raises UserError."""
        template, _, name = dataset.partition("/")
        rel = self.template_files().get(template)
        if rel is not None:
            spec = _dict(self.mapping(rel).get("datasets")).get(name)
            if isinstance(spec, dict) and isinstance(spec.get("schema"), str):
                return str(spec["schema"])
        entry = self.lock_entries().get(dataset)
        if isinstance(entry, dict) and isinstance(entry.get("schema"), str):
            return str(entry["schema"])
        return name if name in self.schema_files() else None

    def primary_key(self, dataset: str) -> str | None:
        """The primary key of the schema ``dataset`` follows, None when it has none (or no
        schema, or its schema file is missing)."""
        from tdm.schemadiff import primary_key

        schema = self.dataset_schema(dataset)
        rel = self.schema_files().get(schema) if schema is not None else None
        return None if rel is None else primary_key(self.mapping(rel))

    def dataset_lines(self, dataset: str) -> Iterator[bytes]:
        """The JSON lines of ``template/dataset``, each with its newline, streamed."""
        rel = self.dataset_file(dataset)
        found = self.lines(rel)
        if found is None:
            raise UserError(f"dataset '{dataset}' does not exist at {self.label} ({rel})")
        return found


# ---------------------------------------------------------------------- the working tree


class WorktreeSnapshot(Snapshot):
    """The files on disk under the tdm root."""

    def __init__(self, project: Project, git: gitio.Git | None = None) -> None:
        self.project = project
        self.git = git
        self.label = "working tree"
        self._root = project.root.resolve()

    def _path(self, rel: str) -> Path:
        return self.project.root / rel

    def _regular(self, path: Path) -> bool:
        """A plain file inside the repository: a symbolic link is never followed."""
        return (
            path.is_file() and not path.is_symlink() and path.resolve().is_relative_to(self._root)
        )

    def files(self, folder: str) -> list[str]:
        base = self._path(folder)
        if not base.is_dir() or base.is_symlink():
            return []
        return sorted(
            p.name
            for p in base.iterdir()
            if self._regular(p) and not self._ignored(f"{folder}/{p.name}")
        )

    def folders(self, folder: str) -> list[str]:
        base = self._path(folder)
        if not base.is_dir() or base.is_symlink():
            return []
        return sorted(
            p.name
            for p in base.iterdir()
            if p.is_dir() and not p.is_symlink() and not self._ignored(f"{folder}/{p.name}/")
        )

    def _ignored(self, rel: str) -> bool:
        """Files git ignores are not part of the working tree's version (as in git)."""
        if self.git is None:
            return False
        return gitio.is_ignored(self.git.repo, self.git.prefix + rel)

    def blob_id(self, rel: str) -> str | None:
        return self.git.clean_blob_id(rel) if self.git is not None else None

    def read(self, rel: str) -> bytes | None:
        path = self._path(rel)
        if not path.is_file():
            return None
        if not self._regular(path):
            raise UserError(
                f"{rel} is a symbolic link or resolves outside the repository; tdm only reads "
                "regular files inside it"
            )
        return path.read_bytes()

    def lines(self, rel: str) -> Iterator[bytes] | None:
        path = self._path(rel)
        if not path.is_file():
            return None
        if not self._regular(path):
            self.read(rel)  # raises
        return _file_lines(path)

    def chunks(self, rel: str) -> Iterator[bytes] | None:
        path = self._path(rel)
        if not path.is_file():
            return None
        if not self._regular(path):
            self.read(rel)  # raises
        return _file_chunks(path)

    def where(self, rel: str) -> str:
        return rel

    def schema(self, name: str) -> SchemaDoc:
        return self.project.schema(name)  # loaded once per version of the file


def _file_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from fh


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(gitio.READ_BLOCK):
            yield block


# ---------------------------------------------------------------------- git objects


class _BlobSnapshot(Snapshot):
    """A snapshot whose files are git blobs (a tree or the index): reading goes by blob id."""

    git: gitio.Git

    def read(self, rel: str) -> bytes | None:
        oid = self.blob_id(rel)
        return None if oid is None else self.git.read_blob(oid)

    def chunks(self, rel: str) -> Iterator[bytes] | None:
        oid = self.blob_id(rel)
        return None if oid is None else self.git.chunks(oid)

    def lines(self, rel: str) -> Iterator[bytes] | None:
        oid = self.blob_id(rel)
        return None if oid is None else self.git.lines(oid)


class TreeSnapshot(_BlobSnapshot):
    """A tree object: a commit's, or one built in memory.  ``tree`` None is an empty
    repository (an unborn branch)."""

    def __init__(
        self,
        git: gitio.Git,
        tree: gitio.Tree | None,
        label: str,
        commit: str | None = None,
    ) -> None:
        self.git = git
        self.tree = tree
        self.label = label
        self.commit = commit

    @classmethod
    def of_commit(cls, git: gitio.Git, commit: gitio.Commit | None, label: str) -> TreeSnapshot:
        if commit is None:
            return cls(git, None, label)
        return cls(git, commit.tree, label, str(commit.id))

    def _entry(self, rel: str) -> gitio.Entry | None:
        return self.git.entry(self.tree, rel)

    def files(self, folder: str) -> list[str]:
        return sorted(e.name for e in self.git.entries(self.tree, folder) if e.kind == "file")

    def folders(self, folder: str) -> list[str]:
        return sorted(e.name for e in self.git.entries(self.tree, folder) if e.kind == "tree")

    def blob_id(self, rel: str) -> str | None:
        found = self._entry(rel)
        return found.id if found is not None and found.kind == "file" else None


class IndexSnapshot(_BlobSnapshot):
    """The staged files: what the next commit would hold (inside a hook, the index git
    names in GIT_INDEX_FILE)."""

    def __init__(self, git: gitio.Git, label: str = "staged") -> None:
        self.git = git
        self.label = label
        self._entries = {rel: e for rel, e in git.staged_entries().items() if e.kind == "file"}
        self._children: dict[str, tuple[set[str], set[str]]] = {}
        for rel in self._entries:
            parts = rel.split("/")
            for depth in range(len(parts)):
                folder = "/".join(parts[:depth])
                files, folders = self._children.setdefault(folder, (set(), set()))
                (files if depth == len(parts) - 1 else folders).add(parts[depth])

    def files(self, folder: str) -> list[str]:
        return sorted(self._children.get(folder.rstrip("/"), (set(), set()))[0])

    def folders(self, folder: str) -> list[str]:
        return sorted(self._children.get(folder.rstrip("/"), (set(), set()))[1])

    def blob_id(self, rel: str) -> str | None:
        found = self._entries.get(rel)
        return None if found is None else found.id

    def where(self, rel: str) -> str:
        return rel


# ---------------------------------------------------------------------- opening


def at(project: Project, rev: str | None, git: gitio.Git | None = None) -> Snapshot:
    """The repository at ``rev`` (a branch, tag, commit or git revision expression), or
    the working tree when ``rev`` is None."""
    if rev is None:
        return worktree(project, git)
    git = git or gitio.Git(project.root)
    return TreeSnapshot.of_commit(git, git.resolve(rev), rev)


def worktree(project: Project, git: gitio.Git | None = None) -> WorktreeSnapshot:
    """The working tree; git (found when not given) says which files it ignores and which
    blob ids are known without reading, and is optional."""
    if git is None:
        try:
            git = gitio.Git(project.root)
        except UserError:
            git = None
    return WorktreeSnapshot(project, git)


def staged(project: Project, git: gitio.Git | None = None) -> IndexSnapshot:
    """What is staged for the next commit."""
    return IndexSnapshot(git or gitio.Git(project.root))


# ---------------------------------------------------------------------- helpers


def _checked(name: str, what: str) -> str:
    try:
        check_name(name, what)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return name


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _non_string_key(value: Any) -> Any:
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return k
            found = _non_string_key(v)
            if found is not None:
                return found
    elif isinstance(value, list):
        for v in value:
            found = _non_string_key(v)
            if found is not None:
                return found
    return None


def _check_schema(data: dict[str, Any], where: str) -> None:
    """A schema must be a valid JSON Schema in every version (as `tdm validate` requires)."""
    from tdm import jsonschema_norm as norm

    norm.dialect_of(data, where)  # an unknown $schema is named, as `tdm validate` does
    if _valid_schema_fast(data):
        return
    import jsonschema
    import jsonschema.validators

    cls = jsonschema.validators.validator_for(data, default=jsonschema.Draft202012Validator)
    try:
        norm.check_schema(cls, data)  # patterns read as ECMA-262 (\p{L}), as validate reads them
    except jsonschema.SchemaError as exc:
        if "$schema" not in data and jsonschema.Draft7Validator(
            jsonschema.Draft7Validator.META_SCHEMA
        ).is_valid(data):
            return  # no $schema: draft-07 is a schema registry's default dialect
        at = "/".join(str(p) for p in exc.path) or "(top level)"
        raise UserError(f"not a valid JSON Schema at {at}: {exc.message}", path=where) from None


_DRAFT7 = "http://json-schema.org/draft-07/schema#"


def _valid_schema_fast(data: dict[str, Any]) -> bool:
    """The compiled meta-schema check; any doubt goes the slow way, which words the error."""
    from tdm import jsonschema_norm as norm

    if norm.meta_valid_fast(data):
        return True
    # no $schema: draft-07 is a schema registry's default dialect
    return "$schema" not in data and norm.meta_valid_fast({**data, "$schema": _DRAFT7})
