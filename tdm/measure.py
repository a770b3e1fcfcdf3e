"""What tdm records about a dataset file: its rows and its sha256, computed one way.

A row is a non-blank line of JSON Lines (a last line without a newline counts).
generate, mask, merge, resolve, diff, scan and the version manifest all count with
:class:`Measure` or :func:`count_rows`, and every file hash is :func:`file_sha256`.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Literal, overload

from tdm.errors import UserError

#: a line holding only whitespace (as bytes.strip sees it) that a newline ends
_BLANK_LINE = re.compile(rb"\n[ \t\r\x0b\x0c]*\n")
#: the same at the start of a buffer (apart: a leading alternation makes the search
#: above try every byte, 30x slower than scanning for its first newline)
_BLANK_FIRST = re.compile(rb"[ \t\r\x0b\x0c]*\n")


class Measure:
    """Rows and sha256 of bytes fed in pieces, in order."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._rows = 0
        self._open = False  # the line not yet ended holds something

    def update(self, data: bytes) -> None:
        if not data:
            return
        self._digest.update(data)
        ended = data.count(b"\n")
        if not ended:
            self._open = self._open or bool(data.strip())
            return
        if _BLANK_FIRST.match(data) or _BLANK_LINE.search(data):
            *lines, _ = data.split(b"\n")
            opened = self._open
            for line in lines:
                self._rows += opened or bool(line.strip())
                opened = False
        else:
            # no blank line: the first line has content here, whatever came before it
            self._rows += ended
        self._open = bool(data[data.rfind(b"\n") + 1 :].strip())

    @property
    def rows(self) -> int:
        return self._rows + self._open

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


def count_rows(data: bytes) -> int:
    """Rows (non-blank lines) of a JSON Lines buffer."""
    m = Measure()
    m.update(data)
    return m.rows


def measure(data: bytes) -> tuple[int, str]:
    """Rows and sha256 of a JSON Lines buffer."""
    m = Measure()
    m.update(data)
    return m.rows, m.sha256


def stat_key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """What changes when a file is rewritten: size, modification and change times (ns),
    inode and device (as git's index compares them)."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


@overload
def file_sha256(path: os.PathLike[str] | str, *, missing_ok: Literal[False] = False) -> str: ...
@overload
def file_sha256(path: os.PathLike[str] | str, *, missing_ok: Literal[True]) -> str | None: ...
def file_sha256(path: os.PathLike[str] | str, *, missing_ok: bool = False) -> str | None:
    """sha256 of a file; with ``missing_ok`` None when it does not exist."""
    if os.path.isdir(path):
        raise UserError(f"{path} is a directory where a file belongs; move it away")
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise
