"""Atomic file writes: a temp file in the same directory, fsync, then rename."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tdm.errors import UserError


@contextlib.contextmanager
def atomic_writer(path: Path, *, durable: bool = True) -> Iterator[IO[bytes]]:
    """Yield a binary file that replaces ``path`` only when the block ends without error.

    An exception (including KeyboardInterrupt) inside the block removes the temp
    file and leaves any previous ``path`` untouched.  With ``durable`` the data is
    fsynced before the rename (survives a power cut, not only a crash); generated
    datasets skip that, as git skips it for objects: they can be regenerated and
    tdm.lock, which is fsynced, tells when one no longer matches.
    """
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a directory; move it away")
    tmp: str | None = None
    try:
        # SIGINT/SIGTERM are held back while the temp file is made and named, so a
        # signal is only handled once `tmp` is set, inside this try that removes it
        with _signals_held():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent
                )
            except OSError as exc:
                raise UserError(f"cannot write {path}: {exc.strerror}") from None
        # mkstemp makes 0600 files; give the result the mode a plain open() would
        os.chmod(tmp, _mode_for(path))
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


TEMP_SUFFIX = ".tmp"
#: the temp files atomic_writer makes: ".<name>.<8 random characters of mkstemp>.tmp"
TEMP_NAME = re.compile(r"\A\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp\Z")
_HELD = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM for the block (where signal masks exist); a signal
    that arrived meanwhile is delivered when the block ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def is_temp_file(path: Path) -> bool:
    """Whether ``path`` is named as atomic_writer names its temp files."""
    return TEMP_NAME.match(path.name) is not None


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_writer(path) as fh:
        fh.write(data)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with UTF-8 ``text`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))
