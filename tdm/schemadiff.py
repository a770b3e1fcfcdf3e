"""Schema changes between two versions of a JSON Schema, with the schema registry's verdict.

The rules are those of a Confluent-compatible schema registry (:mod:`tdm.compat`):
every change carries the registry's difference type (``MAX_LENGTH_DECREASED``,
``PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL``, ...), its JSON path, and whether the
registry accepts it under the chosen rule set (``strict``, the default, or
``lenient``).

- ``backward``: can readers on the new schema read data written with the old one?
  The registry compares old -> new.
- ``forward``: can readers on the old schema read data written with the new one?
  The same comparison with the sides swapped.
- ``full``: both.

The ``-transitive`` modes ask the same question against every tagged version (see
:mod:`tdm.diff`); a change then names the version it was found against.  tdm adds
two things of its own: a changed primary key (``x-tdm.primary_key``) breaks every
mode, and a changed generator hint (``x-tdm``) is reported and compatible.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from tdm.canon import dumps, show

Compat = Literal[
    "backward",
    "forward",
    "full",
    "backward-transitive",
    "forward-transitive",
    "full-transitive",
]
COMPAT_MODES: tuple[Compat, ...] = (
    "backward",
    "forward",
    "full",
    "backward-transitive",
    "forward-transitive",
    "full-transitive",
)
Rules = Literal["strict", "lenient"]
Direction = Literal["backward", "forward"]


@dataclass(frozen=True)
class SchemaChange:
    path: str  # JSON path in the schema, e.g. "#/properties/email/maxLength"
    type: str  # the registry's difference type, or tdm's own (PRIMARY_KEY_CHANGED, ...)
    detail: str  # what changed, in words
    compatible: bool  # the registry's verdict under the rule set
    direction: Direction = "backward"
    rules: Rules = "strict"
    #: the tagged version this change was found against (transitive modes)
    version: str | None = None
    why: str = ""  # why it is accepted or refused, and any known risk

    @property
    def kind(self) -> str:
        return self.type.lower()

    def breaking(self, mode: Compat | None = None) -> bool:
        """Breaking under the mode the change was computed for."""
        return not self.compatible

    def reason(self, mode: Compat | None = None) -> str:
        return self.why

    def against(self, version: str) -> SchemaChange:
        return replace(self, version=version, detail=f"against {version}: {self.detail}")


def primary_key(schema: dict[str, Any]) -> str | None:
    hint = schema.get("x-tdm")
    if isinstance(hint, dict) and isinstance(hint.get("primary_key"), str):
        return str(hint["primary_key"])
    return None


def directions(compat: Compat) -> tuple[Direction, ...]:
    base = compat.removesuffix("-transitive")
    if base == "full":
        return ("backward", "forward")
    return ("forward",) if base == "forward" else ("backward",)


def compare(
    old: dict[str, Any] | bool,
    new: dict[str, Any] | bool,
    *,
    compat: Compat = "backward",
    rules: Rules = "strict",
) -> list[SchemaChange]:
    """Every change from ``old`` to ``new`` the registry reports for ``compat``, tdm's
    own (primary key, generator hints) first, in a stable order."""
    from tdm.compat import COMPATIBLE, check
    from tdm.compat.engine import NOTES
    from tdm.compat.sentences import describe, reason

    allowed = COMPATIBLE[rules] | NOTES

    out: list[SchemaChange] = []
    if isinstance(old, dict) and isinstance(new, dict):
        out.extend(_key_change(old, new, rules))
    for direction in directions(compat):
        a, b = (old, new) if direction == "backward" else (new, old)
        for d in check(a, b, rules):
            ok = d.type in allowed
            out.append(
                SchemaChange(
                    d.path,
                    d.type,
                    ("forward, new -> old: " if direction == "forward" else "") + describe(d),
                    ok,
                    direction,
                    rules,
                    why=reason(d.type, ok, direction, rules, d),
                )
            )
    out.extend(_hint_changes(old, new, "#", rules, top=True))
    return out


def _key_change(old: dict[str, Any], new: dict[str, Any], rules: Rules) -> list[SchemaChange]:
    out = []
    pk_old, pk_new = primary_key(old), primary_key(new)
    if pk_old != pk_new:
        out.append(
            SchemaChange(
                "#/x-tdm/primary_key",
                "PRIMARY_KEY_CHANGED",
                f"primary key {pk_old or '(none)'} -> {pk_new or '(none)'}",
                False,
                rules=rules,
                why="rows are matched, joined and referenced by the primary key",
            )
        )
    return out


def _hint_changes(
    old: Any, new: Any, path: str, rules: Rules, *, top: bool = False
) -> list[SchemaChange]:
    """``x-tdm`` generator hints that changed, at the root and in nested properties,
    items and definitions: they change the generated data, not which data is valid."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    if dumps(old) == dumps(new):
        return []
    out = []
    hints_old, hints_new = _hints(old), _hints(new)
    if top:  # the primary key is reported on its own
        hints_old.pop("primary_key", None)
        hints_new.pop("primary_key", None)
    if dumps(hints_old) != dumps(hints_new):
        parts = [
            f"{key} {show(hints_old[key]) if key in hints_old else '(unset)'} -> "
            f"{show(hints_new[key]) if key in hints_new else '(unset)'}"
            for key in sorted(hints_old.keys() | hints_new.keys())
            if dumps(hints_old.get(key)) != dumps(hints_new.get(key))
        ]
        from tdm.compat.sentences import where

        at = where(path + "/")
        out.append(
            SchemaChange(
                f"{path}/x-tdm",
                "GENERATOR_CHANGED",
                ("" if top else f"{at}: ") + f"x-tdm {'; '.join(parts)}",
                True,
                rules=rules,
                why="changes the generated values, not which data is valid",
            )
        )
    for word in ("properties", "$defs", "definitions", "patternProperties"):
        a, b = old.get(word), new.get(word)
        if isinstance(a, dict) and isinstance(b, dict):
            for name in a:
                if name in b:
                    out.extend(
                        _hint_changes(a[name], b[name], f"{path}/{word}/{_escape(name)}", rules)
                    )
    for word in ("items", "additionalProperties", "additionalItems"):
        out.extend(_hint_changes(old.get(word), new.get(word), f"{path}/{word}", rules))
    return out


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _hints(schema: dict[str, Any]) -> dict[str, Any]:
    hint = schema.get("x-tdm")
    return dict(hint) if isinstance(hint, dict) else {}


def schema_added(name: str, rules: Rules = "strict") -> SchemaChange:
    return SchemaChange(
        "#/",
        "SCHEMA_FILE_ADDED",
        f"schema '{name}' added",
        True,
        rules=rules,
        why="a new schema: no existing data or reader depends on it",
    )


def schema_removed(name: str, rules: Rules = "strict") -> SchemaChange:
    return SchemaChange(
        "#/",
        "SCHEMA_FILE_REMOVED",
        f"schema '{name}' removed: its data has no schema",
        False,
        rules=rules,
        why="its datasets lose their contract: readers cannot validate them",
    )
