"""The validation cache of `tdm commit`: datasets whose content and schema have not
changed since they were last validated are not read again.

Entries are keyed on git object ids (a dataset file's blob id as git stored it,
the schema's content, the dataset's tdm.lock entry and the blob ids of the
datasets it references), so a cached entry can only match identical inputs.
The cache lives inside the git directory (``.git/tdm/validated.json``) and is
never committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson

from tdm._version import ENGINE_VERSION, __version__
from tdm.fsutil import write_bytes_atomic
from tdm.gitio import Git, state_dir

MAX_ENTRIES = 5000


class ValidationCache:
    def __init__(self, git: Git) -> None:
        self.git = git
        self.path = state_dir(git.repo) / "validated.json"
        self._keys: list[str] | None = None

    def _load(self) -> list[str]:
        if self._keys is None:
            try:
                data = orjson.loads(self.path.read_bytes())
                self._keys = [k for k in data.get("keys", []) if isinstance(k, str)]
            except (FileNotFoundError, orjson.JSONDecodeError, AttributeError):
                self._keys = []
        return self._keys

    def oid(self, rel: str) -> str | None:
        """The blob id of a file's content (relative to the tdm root): from the index when
        a stat check shows the working copy equals it, else hashed from the file, so a
        byte-identical dataset counts as unchanged whatever git's index says; None when
        the file cannot be read."""
        return self.git.content_blob_id(rel)

    def key(self, *parts: str) -> str:
        digest = hashlib.sha256(f"{__version__}\0{ENGINE_VERSION}".encode())
        for part in parts:
            digest.update(b"\0" + part.encode("utf-8"))
        return digest.hexdigest()

    def seen(self, key: str) -> bool:
        return key in set(self._load())

    def record(self, keys: Iterable[str]) -> None:
        current = self._load()
        new = [k for k in dict.fromkeys(keys) if k not in set(current)]
        if not new:
            return
        self._keys = (current + new)[-MAX_ENTRIES:]
        write_bytes_atomic(self.path, orjson.dumps({"version": 1, "keys": self._keys}))
