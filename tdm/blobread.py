"""Reading large blobs: a loose object inflated as a stream beside its parsing, and a
bounded cache of inflated blobs under ``.git/tdm/blobs/``.

libgit2 inflates a blob in one call that holds the GIL, so reading a pinned 272 MB
dataset took twice as long as reading the checked-out file.  Here:

- a *loose* object (git's format: ``zlib("blob <size>\\0" + bytes)``) is inflated by
  a thread in blocks while the caller parses the blocks already out (zlib, file writes
  and hashlib release the GIL);
- the inflated bytes are kept in a :class:`BlobCache` entry named by the object id, so
  the next read is a plain file read.  An entry is used only when its bytes hash to its
  name, as git computes an object id (SHA-1 of ``"blob <size>\\0" + bytes``): a
  truncated, corrupted or misnamed entry is deleted and the object read from git.

The cache is bounded: entries are at least :data:`MIN_CACHED` bytes, their total stays
under ``TDM_BLOB_CACHE_MB`` megabytes (default :data:`DEFAULT_CAP_MB`; 0 turns the cache
off), the least recently read going first.  Entries are written to a temporary file and
renamed, so concurrent readers see a whole entry or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import queue
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from tdm.errors import GitError

#: blobs smaller than this are not cached (libgit2 reads them in a few milliseconds)
MIN_CACHED = 1 << 20
#: the cache's default bound in megabytes (TDM_BLOB_CACHE_MB overrides it; 0: no cache)
DEFAULT_CAP_MB = 1024
CACHE_ENV = "TDM_BLOB_CACHE_MB"
#: compressed bytes inflated per step of a loose object (about 5 MB of JSON Lines out)
INFLATE_STEP = 1 << 20
#: inflated blocks waiting for the parser (bounds the memory of a stream)
QUEUE_BLOCKS = 8
#: a temporary entry older than this was left by a killed reader
STALE_TEMP_S = 3600.0


def object_id(data: bytes | memoryview) -> str:
    """The git object id of a blob with these bytes."""
    h = hashlib.sha1(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def cap_bytes() -> int:
    """The cache bound from the environment (megabytes), in bytes; 0 when off."""
    raw = os.environ.get(CACHE_ENV, "").strip()
    try:
        megabytes = float(raw) if raw else float(DEFAULT_CAP_MB)
    except ValueError:
        megabytes = float(DEFAULT_CAP_MB)
    return max(0, int(megabytes * (1 << 20)))


class BlobCache:
    """Inflated blobs in ``folder``, one file per object id, at most ``cap`` bytes."""

    def __init__(self, folder: Path, cap: int) -> None:
        self.folder = folder
        self.cap = cap

    def wants(self, size: int) -> bool:
        return self.cap > 0 and MIN_CACHED <= size <= self.cap

    def path(self, oid: str) -> Path:
        return self.folder / oid

    def read(self, oid: str) -> bytes | None:
        """The blob's bytes when a whole, correct entry is there; a bad entry is deleted."""
        path = self.path(oid)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if object_id(data) != oid:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently read: pruned last
        return data

    def writer(self, oid: str, size: int) -> _EntryWriter | None:
        """A new entry for ``oid`` of ``size`` bytes, written in pieces; None when the
        cache folder cannot be written."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            return _EntryWriter(self, oid, size)
        except OSError:
            return None  # a read-only repository: no cache, the read goes on

    def put(self, oid: str, data: bytes) -> None:
        """Keep ``data`` (already read whole) as the entry of ``oid``."""
        entry = self.writer(oid, len(data))
        if entry is not None:
            entry.write(data)
            entry.commit()

    def entries(self) -> list[tuple[float, int, Path]]:
        """(last read, size, path) of every entry; stale temporary files are removed."""
        found: list[tuple[float, int, Path]] = []
        now = time.time()
        try:
            listing = list(os.scandir(self.folder))
        except OSError:
            return found
        for item in listing:
            try:
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if item.name.startswith("."):
                if now - st.st_mtime > STALE_TEMP_S:
                    with contextlib.suppress(OSError):
                        os.unlink(item.path)
                continue
            found.append((st.st_mtime, st.st_size, Path(item.path)))
        return found

    def prune(self) -> None:
        """Delete the least recently read entries until the total is within the cap."""
        entries = sorted(self.entries())
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= self.cap:
                break
            with contextlib.suppress(OSError):
                path.unlink()
            total -= size


class _EntryWriter:
    """One entry being written: a temporary file, renamed into place when its bytes hash
    to the object id."""

    def __init__(self, cache: BlobCache, oid: str, size: int) -> None:
        self.cache = cache
        self.oid = oid
        self.expected = size
        self.temp = cache.folder / f".{oid}.{os.getpid()}.{threading.get_ident()}.tmp"
        self.fh: io.BufferedWriter | None = self.temp.open("wb")
        self.sha = hashlib.sha1(b"blob %d\0" % size)
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        if self.fh is None:
            return
        try:
            self.fh.write(data)
        except OSError:  # a full disk: give the entry up, not the read
            self.abort()
            return
        self.sha.update(data)
        self.size += len(data)

    def commit(self) -> None:
        if self.fh is None:
            return
        try:
            self.fh.close()
            self.fh = None
            whole_ok = self.size == self.expected and self.sha.hexdigest() == self.oid
            if whole_ok:
                os.replace(self.temp, self.cache.path(self.oid))
            else:
                self.temp.unlink()
        except OSError:
            self.abort()
            return
        if whole_ok:
            self.cache.prune()

    def abort(self) -> None:
        if self.fh is not None:
            with contextlib.suppress(OSError):
                self.fh.close()
            self.fh = None
        with contextlib.suppress(OSError):
            self.temp.unlink()


# ---------------------------------------------------------------------- loose objects


def loose_blocks(path: Path, entry: _EntryWriter | None = None) -> Iterator[bytes]:
    """The bytes of the loose blob object at ``path`` in blocks, inflated by a thread
    while the caller works on the blocks already out.  Each block also goes to ``entry``,
    committed when the whole object was read (and dropped when the caller stops early)."""
    out: queue.Queue[bytes | BaseException | None] = queue.Queue(QUEUE_BLOCKS)
    stop = threading.Event()

    def hand_over(item: bytes | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for block in _inflate(path):
                if entry is not None:
                    entry.write(block)
                if not hand_over(block):
                    if entry is not None:
                        entry.abort()
                    return
            if entry is not None:
                entry.commit()
            hand_over(None)
        except Exception as exc:  # handed to the reader, never lost
            if entry is not None:
                entry.abort()
            hand_over(GitError(f"cannot read the git object {path.parent.name}{path.name}: {exc}"))

    worker = threading.Thread(target=produce, name="tdm-inflate", daemon=True)
    worker.start()
    try:
        while (item := out.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _inflate(path: Path) -> Iterator[bytes]:
    """The inflated bytes of a loose blob after its ``blob <size>\\0`` header, in blocks
    of at most INFLATE_STEP * 8 bytes; the size is checked at the end."""
    d = zlib.decompressobj()
    head = b""
    size: int | None = None
    seen = 0
    with path.open("rb") as fh:
        while True:
            piece = fh.read(INFLATE_STEP)
            pending = piece
            while True:
                block = d.decompress(pending, INFLATE_STEP * 8) if piece else d.flush()
                if size is None:
                    head += block
                    end = head.find(b"\0")
                    if end == -1:
                        if len(head) > 64:
                            raise ValueError("not a blob")
                        block = b""
                    else:
                        kind, _, number = head[:end].partition(b" ")
                        if kind != b"blob" or not number.isdigit():
                            raise ValueError("not a blob")
                        size, block, head = int(number), head[end + 1 :], b""
                if block:
                    seen += len(block)
                    yield block
                pending = d.unconsumed_tail
                if not piece or not pending:
                    break
            if not piece:
                break
    if not d.eof or size is None or seen != size:
        raise ValueError("the object is truncated")


def lines(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The lines of bytes given in blocks, each with its newline (a last line may have
    none), split in C within each block."""
    tail = b""
    try:
        for block in blocks:
            cut = block.rfind(b"\n") + 1
            if not cut:
                tail += block
                continue
            start = 0
            if tail:
                start = block.find(b"\n") + 1
                yield tail + block[:start]
            yield from io.BytesIO(block[start:cut] if start or cut < len(block) else block)
            tail = block[cut:]
        if tail:
            yield tail
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:  # a reader that stops early stops the inflating thread
            close()
