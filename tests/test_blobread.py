"""Large blobs read from git: a loose object streamed (inflated by a thread), a packed one
read whole, and the cache of inflated blobs under .git/tdm/blobs (bounded, checked
against the object id, safe for concurrent readers), against real repositories made
with the git CLI."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import git

from tdm import blobread, gitio
from tdm.errors import GitError

ROWS = 26_000  # about 1.3 MB: above blobread.MIN_CACHED


def _payload(seed: int, rows: int = ROWS, last_newline: bool = True) -> bytes:
    text = "".join(
        f'{{"id": {i}, "seed": {seed}, "note": "{"xyz" * (i % 7)}", "n": {i * seed % 9973}}}\n'
        for i in range(rows)
    ).encode()
    return text if last_newline else text.rstrip(b"\n")


def _repo(root: Path, files: dict[str, bytes]) -> tuple[gitio.Git, dict[str, str]]:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for name, data in files.items():
        (root / name).write_bytes(data)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "data")
    ids = {name: git(root, "rev-parse", f"HEAD:{name}").stdout.strip() for name in files}
    return gitio.Git(root), ids


def _cache(g: gitio.Git) -> Path:
    return gitio.state_dir(g.repo) / "blobs"


def _wait_for_workers() -> None:
    for t in threading.enumerate():
        if t.name in ("tdm-inflate", "tdm-cache"):
            t.join(timeout=30)


@pytest.fixture(autouse=True)
def _small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    # many small blocks: lines cross block boundaries, the cache writer's queue fills up
    monkeypatch.setattr(blobread, "INFLATE_STEP", 2048)
    monkeypatch.setattr(blobread, "BLOCK", 8192)
    monkeypatch.setattr(blobread, "QUEUE_BLOCKS", 2)
    monkeypatch.delenv(blobread.CACHE_ENV, raising=False)


@pytest.mark.parametrize("last_newline", [True, False])
def test_a_loose_blob_streams_its_exact_lines_and_fills_the_cache(
    tmp_path: Path, last_newline: bool
) -> None:
    data = _payload(1, last_newline=last_newline)
    g, ids = _repo(tmp_path / "r", {"a.jsonl": data})
    oid = ids["a.jsonl"]
    loose = tmp_path / "r" / ".git" / "objects" / oid[:2] / oid[2:]
    assert loose.is_file()  # what the streaming path reads

    streamed = g.blob_bytes(oid)
    assert not isinstance(streamed, bytes)  # a stream of blocks, not one inflate
    assert list(g.lines(oid)) == data.splitlines(keepends=True)
    _wait_for_workers()
    entry = _cache(g) / oid
    assert entry.read_bytes() == data
    assert b"".join(g.chunks(oid)) == data  # now from the cache
    assert isinstance(g.blob_bytes(oid), bytes)
    assert list(g.lines(oid)) == data.splitlines(keepends=True)
    assert [p.name for p in _cache(g).iterdir()] == [oid]  # no temporary file left


def _repack(root: Path) -> None:
    git(root, "repack", "-a", "-d", "-f", "-q", "--window=50", "--depth=50")
    git(root, "prune-packed")


def test_a_packed_blob_streams_its_exact_lines_and_fills_the_cache(tmp_path: Path) -> None:
    data = _payload(2, last_newline=False)
    _, ids = _repo(tmp_path / "r", {"a.jsonl": data, "small.txt": b"x\n"})
    _repack(tmp_path / "r")
    oid = ids["a.jsonl"]
    assert not (tmp_path / "r" / ".git" / "objects" / oid[:2] / oid[2:]).exists()
    g = gitio.Git(tmp_path / "r")
    assert not isinstance(g.blob_bytes(oid), bytes)  # inflated from the pack as a stream
    assert list(g.lines(oid)) == data.splitlines(keepends=True)
    _wait_for_workers()
    assert (_cache(g) / oid).read_bytes() == data
    assert b"".join(g.chunks(ids["small.txt"])) == b"x\n"


def test_a_blob_stored_as_a_delta_is_read_by_libgit2(tmp_path: Path) -> None:
    first = _payload(3)
    second = first.replace(b'"id": 500,', b'"id": 500, "extra": 1,')  # a delta of the first
    root = tmp_path / "r"
    _, ids = _repo(root, {"a.jsonl": first})
    (root / "a.jsonl").write_bytes(second)
    git(root, "commit", "-q", "-am", "second")
    _repack(root)
    two = git(root, "rev-parse", "HEAD:a.jsonl").stdout.strip()
    objects = gitio.Git(root).repo.path + "objects"
    deltas = [
        oid for oid in (ids["a.jsonl"], two) if blobread.find_packed(Path(objects), oid) is None
    ]
    assert deltas  # git stored one of the two as a delta of the other
    g = gitio.Git(root)
    for oid, data in ((ids["a.jsonl"], first), (two, second)):
        assert list(g.lines(oid)) == data.splitlines(keepends=True)
    _wait_for_workers()
    assert sorted(p.name for p in _cache(g).iterdir()) == sorted([ids["a.jsonl"], two])


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-10],  # truncated
        lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:],  # one bit flipped
        lambda b: b"",  # empty
        lambda b: _payload(9),  # another blob's bytes under this name
    ],
    ids=["truncated", "bit-flip", "empty", "other-blob"],
)
def test_a_damaged_cache_entry_is_detected_ignored_and_replaced(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    data = _payload(3)
    g, ids = _repo(tmp_path / "r", {"a.jsonl": data})
    oid = ids["a.jsonl"]
    assert b"".join(g.chunks(oid)) == data
    _wait_for_workers()
    entry = _cache(g) / oid
    entry.write_bytes(damage(data))

    assert list(g.lines(oid)) == data.splitlines(keepends=True)  # git's bytes, not the entry's
    _wait_for_workers()
    assert entry.read_bytes() == data  # the bad entry was dropped and written again


def test_the_cache_stays_within_its_cap_dropping_the_least_recently_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = {f"d{i}.jsonl": _payload(10 + i) for i in range(4)}
    g, ids = _repo(tmp_path / "r", blobs)
    size = max(len(b) for b in blobs.values())
    monkeypatch.setenv(blobread.CACHE_ENV, str(2.5 * size / (1 << 20)))  # room for two
    for name in ("d0.jsonl", "d1.jsonl", "d0.jsonl", "d2.jsonl", "d3.jsonl", "d0.jsonl"):
        assert b"".join(g.chunks(ids[name])) == blobs[name]
        _wait_for_workers()
        total = sum(p.stat().st_size for p in _cache(g).iterdir())
        assert total <= blobread.cap_bytes()
    # d0 read last (from git again: d2 and d3 pushed it out), d3 before it
    assert sorted(p.name for p in _cache(g).iterdir()) == sorted([ids["d0.jsonl"], ids["d3.jsonl"]])


def test_no_cache_when_turned_off_or_the_blob_is_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big, small = _payload(4), _payload(5, rows=100)
    g, ids = _repo(tmp_path / "r", {"big.jsonl": big, "small.jsonl": small})
    assert list(g.lines(ids["small.jsonl"])) == small.splitlines(keepends=True)
    monkeypatch.setenv(blobread.CACHE_ENV, "0")
    assert list(g.lines(ids["big.jsonl"])) == big.splitlines(keepends=True)
    _wait_for_workers()
    assert not _cache(g).exists() or not any(_cache(g).iterdir())


def test_a_reader_that_stops_early_leaves_no_entry(tmp_path: Path) -> None:
    data = _payload(6)
    g, ids = _repo(tmp_path / "r", {"a.jsonl": data})
    lines = g.lines(ids["a.jsonl"])
    assert next(lines) == data.splitlines(keepends=True)[0]
    lines.close()  # type: ignore[attr-defined]
    _wait_for_workers()
    assert not any(_cache(g).iterdir())


def test_concurrent_readers_get_the_same_bytes_and_one_whole_entry(tmp_path: Path) -> None:
    data = _payload(7)
    g, ids = _repo(tmp_path / "r", {"a.jsonl": data})
    oid = ids["a.jsonl"]
    got: list[bytes] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            # each reader has its own repository object, as separate processes would
            got.append(b"".join(gitio.Git(tmp_path / "r").lines(oid)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(6)]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    _wait_for_workers()
    assert not errors
    assert got == [data] * 6
    assert [p.name for p in _cache(g).iterdir()] == [oid]
    assert (_cache(g) / oid).read_bytes() == data


def test_a_truncated_loose_object_is_an_error_not_short_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _payload(8)
    g, ids = _repo(tmp_path / "r", {"a.jsonl": data})
    oid = ids["a.jsonl"]
    loose = tmp_path / "r" / ".git" / "objects" / oid[:2] / oid[2:]
    loose.chmod(0o644)
    loose.write_bytes(loose.read_bytes()[: len(loose.read_bytes()) // 2])
    with pytest.raises(GitError):
        b"".join(gitio.Git(tmp_path / "r").chunks(oid))
    _wait_for_workers()
    assert not _cache(g).exists() or not any(_cache(g).iterdir())


def test_lines_of_blocks_match_splitlines() -> None:
    text = b"a\nbb\n\nccc\nd"
    for cut in range(len(text) + 1):
        for cut2 in range(cut, len(text) + 1):
            blocks = iter([text[:cut], text[cut:cut2], text[cut2:]])
            assert list(blobread.lines(blocks)) == text.splitlines(keepends=True)


def test_every_whole_blob_of_a_pack_is_found_at_its_offset(tmp_path: Path) -> None:
    files = {f"f{i:03d}.txt": f"{i}\n".encode() * (i * 37 + 1) for i in range(120)}
    root = tmp_path / "r"
    _, ids = _repo(root, files)
    _repack(root)
    objects = Path(gitio.Git(root).repo.path) / "objects"
    whole = 0
    for name, oid in ids.items():
        found = blobread.find_packed(objects, oid)
        if found is None:
            continue  # stored as a delta
        whole += 1
        pack, offset, size = found
        assert size == len(files[name])
        assert b"".join(blobread.packed_blocks(pack, offset, size)) == files[name]
    assert whole > 60
    assert blobread.find_packed(objects, "0" * 40) is None
    assert blobread.find_packed(objects, "f" * 40) is None


def test_a_stream_never_started_or_read_twice_at_once_in_one_thread(tmp_path: Path) -> None:
    data = _payload(11)
    g, ids = _repo(tmp_path / "r", {"a.jsonl": data})
    oid = ids["a.jsonl"]
    unused = g.lines(oid)  # never iterated: no thread, no temporary file
    del unused
    assert not _cache(g).exists() or not any(_cache(g).iterdir())
    one, two = g.lines(oid), g.lines(oid)  # interleaved, as a diff of equal versions reads
    pairs = list(zip(one, two, strict=True))
    assert [a for a, _ in pairs] == [b for _, b in pairs] == data.splitlines(keepends=True)
    _wait_for_workers()
    assert [p.name for p in _cache(g).iterdir()] == [oid]
    assert (_cache(g) / oid).read_bytes() == data


def _inflaters() -> list[object]:
    found: list[object] = [pytest.param(blobread._zlib_inflater, id="zlib")]
    isal_inflater = getattr(blobread, "_isal_inflater", None)
    if isal_inflater is not None:
        found.append(pytest.param(isal_inflater, id="isal"))
    return found


@pytest.mark.parametrize("inflater", _inflaters())
def test_zlib_and_isal_give_the_same_bytes_loose_and_packed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inflater: object
) -> None:
    monkeypatch.setattr(blobread, "inflater", inflater)
    monkeypatch.setenv(blobread.CACHE_ENV, "0")  # every read inflates
    data = _payload(12, last_newline=False)
    g, ids = _repo(tmp_path / "r", {"a.jsonl": data})
    oid = ids["a.jsonl"]
    assert list(g.lines(oid)) == data.splitlines(keepends=True)  # loose
    _repack(tmp_path / "r")
    g = gitio.Git(tmp_path / "r")
    assert blobread.find_packed(Path(g.repo.path) / "objects", oid) is not None
    assert b"".join(g.chunks(oid)) == data  # packed
    assert b"".join(g.streamed_lines(oid)) == data


def test_isal_is_used_when_installed() -> None:
    pytest.importorskip("isal")
    assert blobread.inflater is getattr(blobread, "_isal_inflater", None)


@pytest.mark.parametrize("inflater", _inflaters())
def test_a_damaged_loose_object_is_a_git_error_and_leaves_no_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inflater: object
) -> None:
    monkeypatch.setattr(blobread, "inflater", inflater)
    data = _payload(13)
    g, ids = _repo(tmp_path / "r", {"a.jsonl": data})
    oid = ids["a.jsonl"]
    loose = tmp_path / "r" / ".git" / "objects" / oid[:2] / oid[2:]
    raw = bytearray(loose.read_bytes())
    for i in range(len(raw) // 2, len(raw) // 2 + 64):
        raw[i] ^= 0x55  # deflate data garbled in the middle
    loose.chmod(0o644)
    loose.write_bytes(bytes(raw))
    with pytest.raises(GitError, match="cannot read a git object"):
        for _ in gitio.Git(tmp_path / "r").lines(oid):
            pass
    _wait_for_workers()
    assert not _cache(g).exists() or not any(_cache(g).iterdir())


def test_the_entry_is_in_place_when_the_last_line_is_read(tmp_path: Path) -> None:
    # `tdm show` prints the rows and exits: the thread writing the entry must be done by then
    data = _payload(14)
    g, ids = _repo(tmp_path / "r", {"a.jsonl": data})
    oid = ids["a.jsonl"]
    assert sum(1 for _ in g.lines(oid)) == len(data.splitlines())
    assert not [t for t in threading.enumerate() if t.name == "tdm-cache"]
    assert (_cache(g) / oid).read_bytes() == data
    assert [p.name for p in _cache(g).iterdir()] == [oid]


def test_a_failing_cache_writer_costs_the_entry_never_the_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _payload(15)
    g, ids = _repo(tmp_path / "r", {"a.jsonl": data})
    oid = ids["a.jsonl"]

    def broken(self: object, block: bytes) -> None:
        raise RuntimeError("simulated failure in the writer thread")

    monkeypatch.setattr(blobread._EntryWriter, "write", broken)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.extend(g.lines(oid)), daemon=True)
    reader.start()
    reader.join(timeout=20)  # many more blocks than the writer's queue holds
    assert not reader.is_alive(), "the reader blocked on the cache writer's queue"
    assert got == data.splitlines(keepends=True)
    assert not any(_cache(g).iterdir())  # the temporary file was removed


def test_without_isal_the_standard_zlib_reads_the_same_bytes(tmp_path: Path) -> None:
    data = _payload(16)
    _, ids = _repo(tmp_path / "r", {"a.jsonl": data})
    script = (
        "import sys; sys.modules['isal'] = None  # as if no isal wheel were installed\n"
        "from pathlib import Path\n"
        "from tdm import blobread, gitio\n"
        "assert blobread.inflater is blobread._zlib_inflater\n"
        "sys.stdout.buffer.write(b''.join(gitio.Git(Path(sys.argv[1])).lines(sys.argv[2])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "r"), ids["a.jsonl"]],
        capture_output=True,
        check=True,
    )
    assert done.stdout == data
