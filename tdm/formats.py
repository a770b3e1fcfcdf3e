"""Generators for the formats of the 2020-12 format vocabulary that have no Faker pool.

Every value is built from reserved names (example.com/net/org, documentation
addresses) and per-row random streams, like the rest of :mod:`tdm.generators`.
The planner maps ``date``, ``date-time``, ``time``, ``email``, ``uuid``, ``uri``,
``ipv4``, ``ipv6`` and ``hostname`` to its existing generators; this module adds
``duration``, ``uri-reference``, ``uri-template``, ``iri``, ``iri-reference``,
``idn-email``, ``idn-hostname``, ``json-pointer``, ``relative-json-pointer`` and
``regex``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tdm import rng
from tdm.generators import SAFE_DOMAINS, Gen, ascii_slug
from tdm.rng import U64

#: format -> the existing generator that makes it (see tdm.planner)
PLANNER_FORMATS = {
    "email": "email",
    "idn-email": "email",
    "date": "date",
    "date-time": "datetime",
    "time": "time",
    "uuid": "uuid",
    "uri": "uri",
    "iri": "uri",
    "ipv4": "ipv4",
    "ipv6": "ipv6",
    "hostname": "hostname",
    "idn-hostname": "hostname",
}
#: formats made by :class:`Formatted`
OWN_FORMATS = frozenset(
    {"duration", "uri-reference", "iri-reference", "uri-template", "json-pointer"}
    | {"relative-json-pointer", "regex"}
)
ALL_FORMATS = frozenset(PLANNER_FORMATS) | OWN_FORMATS


@dataclass
class Formatted(Gen):
    """Strings of one format, from pool words and per-row numbers."""

    key: int
    words: list[str]
    kind: str

    def column(self, idx: U64) -> list[Any]:
        words = [ascii_slug(w) for w in self.words]
        w = rng.below(self.key, idx, len(words)).tolist()
        a = rng.below(rng.derive(self.key, "a"), idx, 60).tolist()
        b = rng.below(rng.derive(self.key, "b"), idx, 24).tolist()
        d = rng.below(rng.derive(self.key, "d"), idx, 3).tolist()
        make = getattr(self, "_" + self.kind.replace("-", "_"))
        return [
            make(words[i], x, y, SAFE_DOMAINS[z]) for i, x, y, z in zip(w, a, b, d, strict=True)
        ]

    @staticmethod
    def _duration(word: str, a: int, b: int, domain: str) -> str:
        return f"P{a % 31}DT{b}H{a}M" if a % 2 else f"PT{b + 1}H"

    @staticmethod
    def _uri_reference(word: str, a: int, b: int, domain: str) -> str:
        return f"/{word}/{a * 24 + b}" if a % 3 else f"../{word}?page={b}"

    _iri_reference = _uri_reference

    @staticmethod
    def _uri_template(word: str, a: int, b: int, domain: str) -> str:
        return f"https://www.{domain}/{word}/{{id}}" + ("{?page}" if a % 2 else "")

    @staticmethod
    def _json_pointer(word: str, a: int, b: int, domain: str) -> str:
        return f"/{word}/{b}" if a % 2 else f"/{word}"

    @staticmethod
    def _relative_json_pointer(word: str, a: int, b: int, domain: str) -> str:
        return f"{b % 4}/{word}" if a % 4 else f"{b % 4}#"

    @staticmethod
    def _regex(word: str, a: int, b: int, domain: str) -> str:
        return f"^{word}[0-9]{{{b % 5 + 1}}}$" if a % 2 else f"{word}.*"
