"""Schema compatibility as a Confluent-compatible schema registry decides it.

:func:`check` compares two JSON Schemas the way the registry does when a new version
is registered under BACKWARD compatibility, and lists every difference with the
registry's type name and JSON path.  FORWARD is ``check(new, old)``; FULL is both.
"""

from __future__ import annotations

from typing import Any

from tdm.compat.engine import Difference, differences
from tdm.compat.model import Loader, dialect_of
from tdm.compat.types import COMPATIBLE, LENIENT, RULES, STRICT, TYPES, Rules

__all__ = [
    "COMPATIBLE",
    "LENIENT",
    "RULES",
    "STRICT",
    "TYPES",
    "Difference",
    "Rules",
    "check",
    "dialect_of",
]


def check(old: Any, new: Any, rules: Rules = "strict") -> list[Difference]:
    """Every difference from ``old`` to ``new``; each file is read in its own dialect."""
    return differences(Loader(old).load(old), Loader(new).load(new), COMPATIBLE[rules])
