"""sha256 of dataset files, remembered by their stat data (``.git/tdm/hashes.json``).

``tdm status`` and an up-to-date ``tdm generate`` compare every dataset file's sha256
with tdm.lock.  Hashing the full sample (97 MB) took most of their time, so a file's
hash is kept with the file's stat data, as git's index keeps a blob id: path, size,
mtime, ctime, inode and device.  A file whose stat data still match is not read again.

That alone would not be safe, for the reason git documents as "racy git": a file
changed again within the file system's timestamp granularity of the hashed version,
with the same size, keeps its mtime and ctime, so its stat data match.  Git trusts an
index entry only when the file's mtime is older than the index file's own write time.
Here the clock is read the same way, but *before* a file is read: the file system's
current time is taken by touching ``.git/tdm`` (its mtime is set to "now" by the same
clock that stamps writes), and an entry is trusted only when the file's mtime *and*
ctime are both strictly older than that reading.  Any change made after the reading
stamps the file's ctime with that time or a later one (a tool can put the mtime back,
as ``touch -d`` or ``rsync -t`` do, but not the ctime), so its stat data no longer
match.  A file changed at or after the reading is hashed again on every call until a
later reading is taken.  This is stricter than git's rule (the reading comes before
the hash, and the cache file is written after it), and it needs the clock of the
file's own file system: a file on another device than ``.git/tdm`` is always hashed.
As with git, a file system that keeps no ctime of its own (FAT reports the mtime)
cannot show an edit that keeps the size and has its mtime put back.

The cache is only a cache: an unreadable, corrupt or foreign file is ignored (and
replaced at the next write), a read-only git directory means hashing every time, and
deleting ``.git/tdm`` only costs time.  Writes are atomic (temp file and rename) and
the file keeps the :data:`MAX_ENTRIES` most recently hashed files.  Two tdm runs that
write at once lose entries, never make a wrong one: each entry is checked on its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from pathlib import Path

import orjson

from tdm.errors import UserError
from tdm.fsutil import atomic_writer
from tdm.measure import stat_key

FILE = "hashes.json"
VERSION = 1
#: files remembered (an entry is about 200 bytes); the least recently hashed go first
MAX_ENTRIES = 4096

_SHA256 = re.compile(r"\A[0-9a-f]{64}\Z")
#: an entry: size, mtime_ns, ctime_ns, inode, device, clock reading before the hash, sha256
_Entry = tuple[int, int, int, int, int, int, str]


def _entry(value: object) -> _Entry | None:
    """A stored entry, or None when it is not one (a corrupt or foreign file)."""
    if not isinstance(value, list) or len(value) != 7:
        return None
    *numbers, sha = value
    if not all(type(n) is int for n in numbers) or not isinstance(sha, str):
        return None
    if not _SHA256.match(sha):
        return None
    size, mtime, ctime, ino, dev, clock = numbers
    return (size, mtime, ctime, ino, dev, clock, sha)


class FileHashes:
    """sha256 of files by path, from the stat-keyed cache where it can be trusted.

    ``folder`` is tdm's folder in the git directory (``.git/tdm``); None keeps nothing
    (outside a git repository).  Call :meth:`save` when done.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._entries: dict[str, _Entry] | None = None
        self._clock: tuple[int, int] | None = None  # (mtime_ns, device) of the folder
        self._clock_failed = False
        self._dirty = False

    @property
    def path(self) -> Path | None:
        return None if self.folder is None else self.folder / FILE

    def _load(self) -> dict[str, _Entry]:
        if self._entries is None:
            self._entries = {}
            path = self.path
            if path is not None:
                try:
                    data = orjson.loads(path.read_bytes())
                except (OSError, orjson.JSONDecodeError):
                    data = None  # no cache, or one that cannot be read: hash again
                stored = data.get("entries") if isinstance(data, dict) else None
                if isinstance(stored, dict) and data.get("version") == VERSION:
                    for key, value in stored.items():
                        entry = _entry(value)
                        if entry is not None:
                            self._entries[key] = entry
        return self._entries

    def _read_clock(self) -> tuple[int, int] | None:
        """The file system's time now, as it stamps a write (the mtime that touching the
        folder gives it), and the folder's device; None when it cannot be taken."""
        if self._clock is None and not self._clock_failed and self.folder is not None:
            try:
                self.folder.mkdir(exist_ok=True)
                os.utime(self.folder)
                st = os.stat(self.folder)
            except OSError:
                self._clock_failed = True  # a read-only git directory: nothing is kept
            else:
                self._clock = (st.st_mtime_ns, st.st_dev)
        return self._clock

    def sha256(self, path: Path) -> str | None:
        """The file's sha256 (as :func:`tdm.measure.file_sha256`); None when it does not
        exist.  Read from the cache when the file's stat data match an entry hashed after
        the file last changed, else hashed (and remembered)."""
        key = os.path.abspath(path)
        try:
            st = os.stat(key)
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(st.st_mode):
            raise UserError(f"{path} is a directory where a file belongs; move it away")
        entry = self._load().get(key)
        if (
            entry is not None
            and stat.S_ISREG(st.st_mode)
            and entry[:5] == stat_key(st)
            # last written (or its times set) before the clock reading that preceded the
            # hash: a later change would have moved its ctime
            and max(st.st_mtime_ns, st.st_ctime_ns) < entry[5]
        ):
            return entry[6]
        clock = self._read_clock()  # before the file is opened
        try:
            with open(key, "rb") as fh:
                before = os.fstat(fh.fileno())
                sha = hashlib.file_digest(fh, "sha256").hexdigest()
                after = os.fstat(fh.fileno())
        except FileNotFoundError:
            return None
        if (
            clock is not None
            and stat.S_ISREG(before.st_mode)
            and stat_key(before) == stat_key(after)
            and before.st_dev == clock[1]
        ):
            entries = self._load()
            entries.pop(key, None)  # the most recently hashed go last, and stay longest
            entries[key] = (*stat_key(before), clock[0], sha)
            self._dirty = True
        return sha

    def save(self) -> None:
        """Write the cache when something was hashed; a failed write is no error (the
        files are hashed again next time)."""
        path = self.path
        if not self._dirty or path is None or self._entries is None:
            return
        kept = list(self._entries.items())[-MAX_ENTRIES:]
        data = orjson.dumps({"version": VERSION, "entries": {k: list(v) for k, v in kept}})
        # not fsynced (a cache): after a power cut the file may be empty or hold zeros,
        # which do not parse and are ignored
        with contextlib.suppress(OSError, UserError), atomic_writer(path, durable=False) as fh:
            fh.write(data)
        self._dirty = False
