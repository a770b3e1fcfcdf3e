"""Which datasets' plans passed the 200-row self-check, by recipe hash.

Planning a dataset renders its first rows and validates them against the schema
(:func:`tdm.recipes.check_sample`).  What decides that check is the dataset's name,
its recipe hash (schema, template spec, seed, locale, referenced keys, engine
version), the tdm version and the Faker version, so a passed check is remembered
under that key and not repeated:

- in ``.git/tdm/checked.json`` (never committed; bounded to :data:`MAX_ENTRIES`
  keys, the oldest dropped first);
- and, for ``tdm validate`` only, by tdm.lock itself: a dataset recorded there
  with the same recipe, tdm version and Faker version was planned when it was
  generated, so a fresh clone trusts its lock without a cache.

``tdm validate`` uses this to skip planning templates altogether when every
dataset's recipe is known to plan cleanly (:meth:`CheckedRecipes.seen`).  Planning
itself skips the check only where the first build passed it before
(:meth:`CheckedRecipes.passed`): a build that fails the check is built again another
way, and skipping the check must give the same plan.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import orjson

from tdm import gitdir
from tdm._version import ENGINE_VERSION, __version__, faker_version
from tdm.fsutil import write_bytes_atomic
from tdm.project import Project

MAX_ENTRIES = 2000
FILE = "checked.json"


class CheckedRecipes:
    """Passed self-checks: the state file (when in a git repository) and tdm.lock, both
    read on first use (an up-to-date `tdm generate` never asks)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._path: Path | None = None
        self._keys: list[str] | None = None
        self._trusted: set[str] | None = None

    def _trusted_keys(self) -> set[str]:
        if self._trusted is None:
            self._trusted = set()
            for key, entry in self.project.read_lock().datasets.items():
                if (
                    entry.recipe is not None
                    and entry.tdm_version == __version__
                    and entry.faker_version == faker_version()
                ):
                    self._trusted.add(self.key(key, entry.recipe))
        return self._trusted

    def folder(self) -> Path | None:
        """tdm's folder in the git directory (``.git/tdm``); None outside a git repository."""
        self._load()
        return None if self._path is None else self._path.parent

    @staticmethod
    def key(dataset: str, recipe: str) -> str:
        parts = (__version__, ENGINE_VERSION, faker_version(), dataset, recipe)
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def _load(self) -> list[str]:
        if self._keys is None:
            self._keys = []
            folder = gitdir.state_dir_of(self.project.root)
            self._path = None if folder is None else folder / FILE
            if self._path is not None:
                try:
                    data = orjson.loads(self._path.read_bytes())
                    self._keys = [k for k in data.get("keys", []) if isinstance(k, str)]
                except (OSError, orjson.JSONDecodeError, AttributeError):
                    pass  # no cache (or an unreadable one): check again
        return self._keys

    def seen(self, dataset: str, recipe: str) -> bool:
        key = self.key(dataset, recipe)
        return key in self._trusted_keys() or key in set(self._load())

    def passed(self, dataset: str, recipe: str) -> bool:
        """Whether the plan's first build passed the self-check for this recipe, as recorded
        by :meth:`add` (tdm.lock does not say: a generated dataset may have needed a second
        build, and skipping the check would keep the first)."""
        return self.key(dataset, recipe) in set(self._load())

    def add(self, dataset: str, recipe: str) -> None:
        key = self.key(dataset, recipe)
        keys = self._load()
        if key in keys:
            return
        keys.append(key)
        self._keys = keys[-MAX_ENTRIES:]
        if self._path is None:
            return
        # a read-only git directory: the check simply runs again next time
        with contextlib.suppress(OSError):
            write_bytes_atomic(self._path, orjson.dumps({"version": 1, "keys": self._keys}))
