"""The stat-keyed cache of dataset hashes (tdm.hashcache, ``.git/tdm/hashes.json``) that
`tdm status` and an up-to-date `tdm generate` read instead of hashing every dataset.

A cached hash must never make an edited file look up to date: the entries are keyed by
size, mtime, ctime, inode and device, and one is trusted only when the file was written
before the hash began (racy git).  Some tests plant an entry whose stat data match the
file but whose hash is not the file's: the only way to tell whether tdm trusted it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import SMOKE_DATASETS, dataset, read_lock, sha256_file, tdm

from tdm import hashcache
from tdm.hashcache import FileHashes

HOUR_NS = 3600 * 10**9
OTHER_SHA = "0" * 64  # a well-formed hash that no dataset has


def _cache_file(root: Path) -> Path:
    return root / ".git" / "tdm" / hashcache.FILE


def _entries(root: Path) -> dict[str, list[Any]]:
    data: dict[str, list[Any]] = json.loads(_cache_file(root).read_bytes())["entries"]
    return data


def _states(root: Path) -> dict[str, str]:
    result = tdm("status", "--json", "--repo", root)
    assert result.exit_code == 0, result.output
    return {d["dataset"]: d["state"] for d in json.loads(result.stdout)["datasets"]}


def _age(path: Path, ns: int = HOUR_NS) -> None:
    """Set the file's mtime an hour back: written well before any hash taken now."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - ns))


def _wait_past(path: Path) -> None:
    """Wait until the file system's clock has moved past the file's last change, so a
    hash taken now is trusted (touching a file next to it shows the clock)."""
    last = max(path.stat().st_mtime_ns, path.stat().st_ctime_ns)
    probe = path.with_name(".clock-probe")
    for _ in range(10_000):
        probe.touch()
        if probe.stat().st_mtime_ns > last:
            break
        time.sleep(0.001)
    probe.unlink()


def _same_size_edit(path: Path) -> None:
    """Change one byte of the file, keep its size and put its mtime back."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    at = next(i for i, byte in enumerate(data) if chr(byte).isdigit())  # still valid JSON
    data[at] = ord("9") if data[at] != ord("9") else ord("8")
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    assert path.stat().st_mtime_ns == st.st_mtime_ns


def _plant(root: Path, path: Path, sha: str, *, clock: int) -> None:
    """Store an entry with the file's current stat data, the given hash and clock reading."""
    entries = _entries(root) if _cache_file(root).exists() else {}
    st = path.stat()
    key = os.path.abspath(path)
    entries[key] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, clock, sha]
    _cache_file(root).parent.mkdir(exist_ok=True)
    _cache_file(root).write_text(json.dumps({"version": 1, "entries": entries}))


# ------------------------------------------------------------------ through the CLI


def test_status_writes_the_cache_and_still_sees_every_state(smoke_repo: Path) -> None:
    for name in SMOKE_DATASETS:
        _age(dataset(smoke_repo, "smoke", name))
    assert not _cache_file(smoke_repo).exists()

    first = _states(smoke_repo)

    entries = _entries(smoke_repo)
    lock = read_lock(smoke_repo)["datasets"]
    for name in SMOKE_DATASETS:
        path = dataset(smoke_repo, "smoke", name)
        assert first[f"smoke/{name}"] == "up to date"
        assert entries[os.path.abspath(path)][6] == lock[f"smoke/{name}"]["sha256"]
    assert _states(smoke_repo) == first  # the second run reads the cache


def test_an_edit_of_the_same_size_with_its_mtime_put_back_is_modified(smoke_repo: Path) -> None:
    path = dataset(smoke_repo, "smoke", "customers")
    _age(path)
    _wait_past(path)
    assert _states(smoke_repo)["smoke/customers"] == "up to date"
    *_, clock, _sha = _entries(smoke_repo)[os.path.abspath(path)]
    assert clock > max(path.stat().st_mtime_ns, path.stat().st_ctime_ns)  # trusted from now on

    _same_size_edit(path)  # only the ctime tells

    assert _states(smoke_repo)["smoke/customers"] == "modified"


def test_a_racily_clean_entry_is_hashed_again(smoke_repo: Path) -> None:
    """An edit in the same timestamp tick as the hashed version leaves every stat field
    as it was.  The entry then matches the file, but the file's mtime is not older than
    the clock reading taken before the hash: tdm must read the file again."""
    path = dataset(smoke_repo, "smoke", "orders")
    recorded = read_lock(smoke_repo)["datasets"]["smoke/orders"]["sha256"]
    _same_size_edit(path)
    changed = path.stat().st_ctime_ns  # the edit's time (its mtime was put back)

    _plant(smoke_repo, path, recorded, clock=changed)  # read in the tick of the edit
    assert _states(smoke_repo)["smoke/orders"] == "modified"

    # the same entry with a reading taken after the edit is trusted: the rule above is
    # what told the two apart
    _plant(smoke_repo, path, recorded, clock=changed + 1)
    assert _states(smoke_repo)["smoke/orders"] == "up to date"


def test_a_dataset_replaced_by_a_file_of_the_same_size_and_mtime_is_modified(
    smoke_repo: Path,
) -> None:
    path = dataset(smoke_repo, "smoke", "products")
    _age(path)
    assert _states(smoke_repo)["smoke/products"] == "up to date"
    st = path.stat()
    other = path.with_name("replacement")
    shutil.copyfile(path, other)
    _same_size_edit(other)
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)

    assert _states(smoke_repo)["smoke/products"] == "modified"


def _entry_of(path: Path, *, sha: object = OTHER_SHA, **changes: object) -> list[object]:
    """A trusted-looking entry for ``path`` (its stat data, a clock reading an hour after
    its last change) with a hash it does not have, and fields replaced by ``changes``."""
    st = path.stat()
    fields: dict[str, object] = {
        "size": st.st_size,
        "mtime": st.st_mtime_ns,
        "ctime": st.st_ctime_ns,
        "ino": st.st_ino,
        "dev": st.st_dev,
        "clock": max(st.st_mtime_ns, st.st_ctime_ns) + HOUR_NS,
        **changes,
    }
    return [*fields.values(), sha]


def _doc(path: Path, entry: object, version: object = 1) -> bytes:
    return json.dumps({"version": version, "entries": {os.path.abspath(path): entry}}).encode()


CORRUPT: dict[str, Callable[[Path], bytes]] = {
    "zeros": lambda p: b"\x00" * 64,  # what a power cut can leave
    "not JSON": lambda p: b"not json {",
    "not UTF-8": lambda p: b'{"version": 1, "entries": {"\xff": 1}}',
    "a list": lambda p: b"[1, 2, 3]",
    "another version": lambda p: _doc(p, _entry_of(p), version=2),
    "entries a list": lambda p: b'{"version": 1, "entries": [1]}',
    "an entry a mapping": lambda p: _doc(p, {"sha256": OTHER_SHA}),
    "a short entry": lambda p: _doc(p, _entry_of(p)[2:]),
    "a hash not hex": lambda p: _doc(p, _entry_of(p, sha="z" * 64)),
    "a hash a number": lambda p: _doc(p, _entry_of(p, sha=7)),
    "a size a string": lambda p: _doc(p, _entry_of(p, size=str(p.stat().st_size))),
    "a device true": lambda p: _doc(p, _entry_of(p, dev=True)),
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_a_corrupt_cache_is_ignored_and_rebuilt(smoke_repo: Path, kind: str) -> None:
    """Each corrupt file names the unchanged dataset with a hash it does not have: read,
    it would make that dataset look modified."""
    edited = dataset(smoke_repo, "smoke", "payments")
    _same_size_edit(edited)
    unchanged = dataset(smoke_repo, "smoke", "orders")
    _age(unchanged)
    _cache_file(smoke_repo).parent.mkdir(exist_ok=True)
    _cache_file(smoke_repo).write_bytes(CORRUPT[kind](unchanged))

    states = _states(smoke_repo)

    assert states["smoke/payments"] == "modified"
    assert states["smoke/orders"] == "up to date"
    entries = _entries(smoke_repo)
    assert entries[os.path.abspath(unchanged)][6] == sha256_file(unchanged)
    assert entries[os.path.abspath(edited)][6] == sha256_file(edited)


def test_the_planted_entry_of_the_corrupt_cases_is_read_when_well_formed(
    smoke_repo: Path,
) -> None:
    """The counterpart of the test above: the same entry, well formed, is trusted."""
    unchanged = dataset(smoke_repo, "smoke", "orders")
    _age(unchanged)
    _cache_file(smoke_repo).parent.mkdir(exist_ok=True)
    _cache_file(smoke_repo).write_bytes(_doc(unchanged, _entry_of(unchanged)))

    assert _states(smoke_repo)["smoke/orders"] == "modified"


def test_a_cache_that_cannot_be_read_or_written_only_costs_time(smoke_repo: Path) -> None:
    _cache_file(smoke_repo).mkdir(parents=True)  # a folder where the file belongs
    path = dataset(smoke_repo, "smoke", "addresses")
    _same_size_edit(path)

    states = _states(smoke_repo)

    assert states["smoke/addresses"] == "modified"
    assert states["smoke/customers"] == "up to date"
    assert _cache_file(smoke_repo).is_dir()


def test_deleting_git_tdm_rebuilds_the_cache(smoke_repo: Path) -> None:
    for name in SMOKE_DATASETS:
        _age(dataset(smoke_repo, "smoke", name))
    before = _states(smoke_repo)
    shutil.rmtree(smoke_repo / ".git" / "tdm")
    path = dataset(smoke_repo, "smoke", "order_items")
    _same_size_edit(path)

    after = _states(smoke_repo)

    assert after == {**before, "smoke/order_items": "modified"}
    assert _entries(smoke_repo)[os.path.abspath(path)][6] == sha256_file(path)


def test_up_to_date_generate_uses_the_cache_and_regenerates_an_edit(smoke_repo: Path) -> None:
    path = dataset(smoke_repo, "smoke", "customers")
    for name in SMOKE_DATASETS:
        _age(dataset(smoke_repo, "smoke", name))
    result = tdm("generate", "smoke", "--json", "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    assert {d["status"] for d in json.loads(result.stdout)["datasets"]} == {"unchanged"}
    assert os.path.abspath(path) in _entries(smoke_repo)

    good = path.read_bytes()
    _same_size_edit(path)
    result = tdm("generate", "smoke", "--json", "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    written = {
        d["dataset"] for d in json.loads(result.stdout)["datasets"] if d["status"] == "written"
    }
    assert written == {"smoke/customers"}
    assert path.read_bytes() == good


# ------------------------------------------------------------------ the class itself


def test_a_trusted_entry_is_read_and_an_untrusted_one_hashed(tmp_path: Path) -> None:
    """The file is read only when its entry cannot be trusted (a planted wrong hash shows
    which): here, a file whose mtime is at or after the clock reading."""
    folder = tmp_path / "state"
    folder.mkdir()
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    old.write_bytes(b'{"a":1}\n')
    new.write_bytes(b'{"a":2}\n')
    _age(old)
    _wait_past(old)
    future = time.time_ns() + HOUR_NS  # a clock set wrong, or a file from a later tick
    os.utime(new, ns=(future, future))
    hashes = FileHashes(folder)
    assert hashes.sha256(old) == sha256_file(old)
    assert hashes.sha256(new) == sha256_file(new)
    hashes.save()

    data = json.loads((folder / hashcache.FILE).read_bytes())
    for path in (old, new):
        data["entries"][os.path.abspath(path)][6] = OTHER_SHA
    (folder / hashcache.FILE).write_text(json.dumps(data))
    again = FileHashes(folder)

    assert again.sha256(old) == OTHER_SHA  # trusted: what the cache said
    assert again.sha256(new) == sha256_file(new)  # mtime after the reading: read again


def test_missing_files_directories_and_no_folder(tmp_path: Path) -> None:
    from tdm.errors import UserError

    hashes = FileHashes(None)  # outside git: nothing kept, every file hashed
    path = tmp_path / "a.jsonl"
    assert hashes.sha256(path) is None
    path.write_bytes(b"x\n")
    assert hashes.sha256(path) == sha256_file(path)
    hashes.save()
    assert list(tmp_path.iterdir()) == [path]
    with pytest.raises(UserError, match="is a directory"):
        hashes.sha256(tmp_path)


def test_the_cache_keeps_the_most_recently_hashed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashcache, "MAX_ENTRIES", 3)
    folder = tmp_path / "state"
    folder.mkdir()
    paths = [tmp_path / f"{i}.jsonl" for i in range(5)]
    hashes = FileHashes(folder)
    for i, path in enumerate(paths):
        path.write_bytes(b"%d\n" % i)
        _age(path)
        hashes.sha256(path)
    hashes.save()

    kept = json.loads((folder / hashcache.FILE).read_bytes())["entries"]
    assert list(kept) == [os.path.abspath(p) for p in paths[2:]]
    assert [e[6] for e in kept.values()] == [sha256_file(p) for p in paths[2:]]
