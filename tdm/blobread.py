"""Reading large blobs: a loose object or a whole packed one inflated as a stream while
it is parsed, and a bounded cache of inflated blobs under ``.git/tdm/blobs/``.

libgit2 inflates a blob in one call that holds the GIL, so reading a pinned 272 MB
dataset took twice as long as reading the checked-out file.  Here:

- a *loose* object (git's format: ``zlib("blob <size>\\0" + bytes)``) or a blob stored
  whole in a pack is inflated in blocks of at most :data:`BLOCK` bytes as the caller
  asks for them, with ISA-L (python-isal) when it is installed, else zlib: the same
  format and bytes, and ISA-L's inflate takes 0.24 s of CPU for 272 MB where zlib's
  takes 0.6 s;
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
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Protocol, cast

from tdm.errors import GitError


class _Inflater(Protocol):
    """What :func:`_inflate` uses of a ``decompressobj()`` (zlib's or ISA-L's)."""

    @property
    def eof(self) -> bool: ...
    @property
    def unconsumed_tail(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = 0, /) -> bytes: ...
    def flush(self) -> bytes: ...


def _zlib_inflater() -> _Inflater:
    return zlib.decompressobj()


#: what a damaged stream raises (zlib's error, and ISA-L's when it is there)
_BAD_STREAM: tuple[type[Exception], ...] = (OSError, ValueError, zlib.error)

try:  # ISA-L's inflate (python-isal): the same zlib format and bytes, 2.6x less CPU
    from isal import isal_zlib

    def _isal_inflater() -> _Inflater:
        return isal_zlib.decompressobj()

    inflater: Callable[[], _Inflater] = _isal_inflater
    _BAD_STREAM += (cast("type[Exception]", isal_zlib.error),)  # a class; its stub says not
except ImportError:  # a platform without an isal wheel: the standard library's zlib
    inflater = _zlib_inflater

#: blobs smaller than this are not cached (libgit2 reads them in a few milliseconds)
MIN_CACHED = 1 << 20
#: the cache's default bound in megabytes (TDM_BLOB_CACHE_MB overrides it; 0: no cache)
DEFAULT_CAP_MB = 1024
CACHE_ENV = "TDM_BLOB_CACHE_MB"
#: compressed bytes read per step of a stream
INFLATE_STEP = 256 << 10
#: the most inflated bytes handed to the reader at once: blocks of one size, small
#: enough that the allocator reuses their memory (8 MB blocks each took fresh pages:
#: 67,000 page faults, 0.1 s, per 272 MB)
BLOCK = 1 << 20
#: inflated blocks waiting for the thread that writes the cache entry (bounds memory)
QUEUE_BLOCKS = 32
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
        fd, name = tempfile.mkstemp(prefix=f".{oid}.", suffix=".tmp", dir=cache.folder)
        self.temp = Path(name)
        self.fh: io.BufferedWriter | None = os.fdopen(fd, "wb")
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


#: makes the cache entry a stream also writes (called when the stream starts), or None
EntryFactory = Callable[[], "_EntryWriter | None"] | None


def loose_blocks(path: Path, entry: EntryFactory = None) -> Iterator[bytes]:
    """The bytes of the loose blob object at ``path`` in blocks, inflated as the caller
    asks for them.  Each block also goes to ``entry`` (written by a thread), committed
    when the whole object was read (and dropped when the caller stops early)."""
    return _streamed(lambda: _inflate(path), path, entry)


def _streamed(
    inflate: Callable[[], Iterator[bytes]], path: Path, make_entry: EntryFactory
) -> Iterator[bytes]:
    """The blocks of ``inflate()``, inflated in the caller's thread as it asks for them;
    a thread writes them to the cache entry (hashing and file writes release the GIL, so
    that work runs on another core), committed once the caller has read them all.

    Inflating here rather than in a thread is faster: with ISA-L the inflate is a quarter
    of the parse's time, and a thread that inflates beside a busy parser waits for the GIL
    after each block (CPython hands it over every 5 ms), so the parser ended up waiting
    for blocks and the process spent more CPU (bench/README.md, 2026-12-07 evening)."""
    entry = make_entry() if make_entry is not None else None  # only once reading starts
    if entry is None:
        try:
            yield from inflate()
        except _BAD_STREAM as exc:
            raise GitError(f"cannot read a git object from {path}: {exc}") from None
        return
    pending: queue.Queue[bytes | bool] = queue.Queue(QUEUE_BLOCKS)  # True: commit

    def write() -> None:
        failed = False
        while not isinstance(block := pending.get(), bool):
            if failed:
                continue  # still taken off the queue: the reader never blocks on it
            try:
                entry.write(block)
            except Exception:  # the entry is given up, never the read
                failed = True
                entry.abort()
        try:
            if block and not failed:
                entry.commit()
            else:
                entry.abort()
        except Exception:
            entry.abort()

    writer = threading.Thread(target=write, name="tdm-cache", daemon=True)
    writer.start()
    whole = False
    try:
        for block in inflate():
            pending.put(block)
            yield block
        whole = True
    except _BAD_STREAM as exc:
        raise GitError(f"cannot read a git object from {path}: {exc}") from None
    finally:  # also when the caller stops early (close) or fails: the entry is dropped
        pending.put(whole)
        writer.join()  # the entry is in place (or gone) before the reader goes on or exits


def _inflate(path: Path, offset: int = 0, size: int | None = None) -> Iterator[bytes]:
    """The inflated bytes of the zlib stream at ``offset`` of ``path`` in blocks of at
    most :data:`BLOCK` bytes: a loose blob (``size`` None: the ``blob <size>\0``
    header read and dropped) or a pack entry's data (``size`` known, the stream ends
    before the file does).  The size is checked at the end."""
    d = inflater()
    head = b""
    seen = 0

    def taken(block: bytes) -> bytes:
        nonlocal head, size
        if size is not None:
            return block
        head += block
        end = head.find(b"\0")
        if end == -1:
            if len(head) > 64:
                raise ValueError("not a blob")
            return b""
        kind, _, number = head[:end].partition(b" ")
        if kind != b"blob" or not number.isdigit():
            raise ValueError("not a blob")
        size, block, head = int(number), head[end + 1 :], b""
        return block

    with path.open("rb") as fh:
        fh.seek(offset)
        while not d.eof:
            piece = fh.read(INFLATE_STEP)
            if not piece:  # the file ended: what zlib still holds, if anything
                block = taken(d.flush())
                seen += len(block)
                if block:
                    yield block
                break
            while True:
                block = taken(d.decompress(piece, BLOCK))
                if block:
                    seen += len(block)
                    yield block
                piece = d.unconsumed_tail
                if not piece or d.eof:
                    break
    if not d.eof or size is None or seen != size:
        raise ValueError("the object is truncated")


# ---------------------------------------------------------------------- packed objects

_PACK_BLOB = 3  # git's type number of a blob in a pack (6 and 7 are deltas)


def find_packed(objects: Path, oid: str) -> tuple[Path, int, int] | None:
    """(pack file, offset of the zlib data, size) of ``oid`` when a pack holds it whole
    (not as a delta: libgit2 resolves those), else None.  Reads git's version-2 pack
    index (fan-out table, sorted ids, CRCs, 31-bit offsets, large offsets)."""
    want = bytes.fromhex(oid)
    for idx in sorted((objects / "pack").glob("pack-*.idx")):
        try:
            data = idx.read_bytes()
        except OSError:
            continue
        if data[:8] != b"\xfftOc\x00\x00\x00\x02" or len(data) < 8 + 1024:
            continue
        count = int.from_bytes(data[8 + 1020 : 8 + 1024], "big")
        lo = (
            0
            if want[0] == 0
            else int.from_bytes(data[8 + 4 * (want[0] - 1) : 8 + 4 * want[0]], "big")
        )
        hi = int.from_bytes(data[8 + 4 * want[0] : 12 + 4 * want[0]], "big")
        ids = 8 + 1024
        while lo < hi:  # binary search in the sorted ids
            mid = (lo + hi) // 2
            here = data[ids + 20 * mid : ids + 20 * mid + 20]
            if here < want:
                lo = mid + 1
            elif here > want:
                hi = mid
            else:
                break
        else:
            continue
        offsets = ids + 24 * count  # after the ids (20 bytes each) and the CRCs (4 each)
        offset = int.from_bytes(data[offsets + 4 * mid : offsets + 4 * mid + 4], "big")
        if offset & 0x80000000:
            large = offsets + 4 * count + 8 * (offset & 0x7FFFFFFF)
            offset = int.from_bytes(data[large : large + 8], "big")
        return _pack_entry(idx.with_suffix(".pack"), offset)
    return None


def _pack_entry(pack: Path, offset: int) -> tuple[Path, int, int] | None:
    """A pack entry's header: a whole blob's (pack, data offset, size), else None."""
    try:
        with pack.open("rb") as fh:
            fh.seek(offset)
            head = fh.read(16)
    except OSError:
        return None
    if not head:
        return None
    kind, size, shift, n = (head[0] >> 4) & 7, head[0] & 15, 4, 0
    while head[n] & 0x80:
        n += 1
        if n >= len(head):
            return None
        size |= (head[n] & 0x7F) << shift
        shift += 7
    if kind != _PACK_BLOB:
        return None
    return pack, offset + n + 1, size


def packed_blocks(
    pack: Path, offset: int, size: int, entry: EntryFactory = None
) -> Iterator[bytes]:
    """A whole blob stored in a pack, in blocks (see :func:`loose_blocks`)."""
    return _streamed(lambda: _inflate(pack, offset, size), pack, entry)


def lines(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The lines of bytes given in blocks, each with its newline (a last line may have
    none).  Lines are split in C and handed out in C (``itertools.chain`` of
    ``islice`` over each block): the Python code runs once per block, not per line."""
    return _Lines(blocks)


class _Lines:
    """An iterator of lines whose ``close()`` (or loss) closes the blocks' stream."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._runs = _runs(blocks)
        self._lines = chain.from_iterable(self._runs)

    def __iter__(self) -> Iterator[bytes]:
        return self._lines  # a for loop takes lines straight from the C iterators

    def __next__(self) -> bytes:
        return next(self._lines)

    def close(self) -> None:
        self._runs.close()


def _runs(blocks: Iterator[bytes]) -> Generator[Iterable[bytes], None, None]:
    """Runs of consecutive lines, one run per block: its whole lines (the first one
    with the end of the previous block), the part after its last newline kept for
    the next.  The block is split where it is: a megabyte copied per block cost page
    faults as well as the copy."""
    tail = b""
    try:
        for block in blocks:
            if not block:
                continue
            run = io.BytesIO(block).readlines()  # in C; the block itself is not copied
            if tail:
                run[0] = tail + run[0]
            tail = b"" if run[-1].endswith(b"\n") else run.pop()
            yield run
        if tail:
            yield (tail,)
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:  # a reader that stops early stops the stream
            close()
