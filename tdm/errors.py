"""The one exception hierarchy of tdm.

Every error a user can cause is a :class:`UserError` whose message is written for
the person at the terminal: it names the file, the line or field, and the fix.
The CLI edge turns it into a message on stderr and an exit code.
"""

from __future__ import annotations


class TdmError(Exception):
    """Root of all tdm errors."""

    exit_code = 2


class UserError(TdmError):
    """Bad input or usage: a malformed file, an unknown name, a path outside the repo."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


class Unsupported(UserError):
    """A schema construct the plain planner does not build; the generate-and-check path
    (:mod:`tdm.rich`) takes over, and reports it when that cannot either."""


class NotARepositoryError(UserError):
    """The directory is not inside a tdm repository."""


class GitError(UserError):
    """A git operation failed; the message says what to do."""


class CheckFailed(TdmError):
    """A check found problems (validation findings, stale data); exit code 1."""

    exit_code = 1
