"""Canonical JSON: the one way tdm turns data into bytes for hashing, tdm.lock and display.

orjson writes every document (it is fast and its bytes are what existing hashes and
lock files were made with), but it refuses integers beyond 64 bits, which YAML (and so
a schema's ``maximum: 100000000000000000000``) allows.  Such integers are written by
the same encoder through a placeholder, so a document with one wide integer keeps
orjson's bytes for everything else.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import orjson

#: orjson's integer range: -2**63 .. 2**64-1
_LOW, _HIGH = -(1 << 63), (1 << 64) - 1


_SORTED = orjson.OPT_SORT_KEYS


def dumps(value: Any) -> bytes:
    """Canonical JSON: compact, keys sorted, integers of any size."""
    try:
        return orjson.dumps(value, option=_SORTED)
    except orjson.JSONEncodeError:
        return _wide_dumps(value, _SORTED)


def encode(value: Any, *, sort_keys: bool = True, indent: bool = False) -> bytes:
    """JSON for a report or the terminal: keys sorted unless ``sort_keys`` is false,
    two-space indented with ``indent``; integers of any size."""
    option = (orjson.OPT_SORT_KEYS if sort_keys else 0) | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:
        return _wide_dumps(value, option)


def pretty(value: Any) -> bytes:
    """The bytes of a file tdm writes (tdm.lock, reports): sorted keys, two-space
    indent, a final newline."""
    return encode(value, indent=True) + b"\n"


def sha256(value: Any) -> str:
    """Hex sha256 of the canonical (compact, sorted) JSON of ``value``."""
    return hashlib.sha256(dumps(value)).hexdigest()


def show(value: Any, limit: int = 60) -> str:
    """A value as compact JSON clipped to ``limit`` characters, for one-line messages.
    It prints the value: never use it on data that may hold personal values."""
    text = dumps(value).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wide_dumps(value: Any, option: int) -> bytes:
    wide: list[int] = []
    swapped = _swap_wide(value, wide)
    if not wide:  # orjson refused something else: its error stands
        return orjson.dumps(value, option=option)
    return _with_wide(swapped, wide, option)


class _Wide:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _swap_wide(value: Any, wide: list[int]) -> Any:
    """``value`` with each integer orjson cannot write replaced by a _Wide marker (the
    integers are appended to ``wide``); containers without one are returned as they are."""
    if type(value) is int:
        if _LOW <= value <= _HIGH:
            return value
        wide.append(value)
        return _Wide(len(wide) - 1)
    if isinstance(value, dict):
        before = len(wide)
        items = {k: _swap_wide(v, wide) for k, v in value.items()}
        return items if len(wide) > before else value
    if isinstance(value, (list, tuple)):
        before = len(wide)
        seq = [_swap_wide(v, wide) for v in value]
        return seq if len(wide) > before else value
    return value


def _with_wide(value: Any, wide: list[int], option: int) -> bytes:
    # each marker becomes a string no document holds (it carries a random nonce, and
    # orjson writes the NUL around it as \u0000), then that string becomes the digits
    nonce = os.urandom(8).hex()

    def token(index: int) -> str:
        return f"\0{nonce}:{index}\0"

    def default(obj: Any) -> str:
        if isinstance(obj, _Wide):
            return token(obj.index)
        raise TypeError

    data = orjson.dumps(value, default=default, option=option)
    for index, number in enumerate(wide):
        data = data.replace(orjson.dumps(token(index)), str(number).encode(), 1)
    return data


def decode_error(line: bytes, exc: orjson.JSONDecodeError) -> str:
    """Why one line of JSON Lines does not parse, in tdm's words: the column and the
    problem (a blank line, a byte that is not UTF-8), never the decoder's own
    ``line 1 column 1 (char 0)`` (each line is decoded on its own, so its line is 1)."""
    if not line.strip():
        return "the line is blank (JSON Lines has one JSON object on every line)"
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return (
            f"byte {bad.start + 1} of the line (0x{line[bad.start]:02x}) is not UTF-8; "
            "save the file as UTF-8"
        )
    message = str(getattr(exc, "msg", "") or exc).split(": line ")[0]
    column = getattr(exc, "colno", None)
    return f"column {column}: {message}" if column else message
