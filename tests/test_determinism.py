"""The product promise: same recipe, same bytes; edits change only what they touch."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    SMOKE_DATASETS,
    dataset,
    generate_in_process,
    init_repo,
    make_project,
    one_dataset_project,
    read_lock,
    read_rows,
    sha256_file,
    strip_generated,
    tdm,
    tdm_subprocess,
    write_file,
)

from tdm import engine

PEOPLE: dict[str, Any] = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "email", "first_name", "score", "joined", "token", "status", "code"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "email": {"type": "string", "format": "email", "x-tdm": {"unique": True}},
        "first_name": {"type": "string"},
        "score": {"type": "number", "minimum": 0, "maximum": 100},
        "joined": {"type": "string", "format": "date"},
        "token": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": ["new", "active", "gone"]},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
        "nick": {"type": ["string", "null"], "maxLength": 12},
    },
}


def _people(root: Path, count: int, *, seed: int = 11, **spec: Any) -> Path:
    return one_dataset_project(root, PEOPLE, count, seed=seed, **spec)


def test_same_files_and_seed_give_identical_bytes_in_two_repositories(tmp_path: Path) -> None:
    a = _people(tmp_path / "a", 3000)
    b = _people(tmp_path / "b", 3000)

    assert tdm("generate", "--repo", a).exit_code == 0
    assert tdm("generate", "--repo", b).exit_code == 0

    assert dataset(a, "t", "s").read_bytes() == dataset(b, "t", "s").read_bytes()
    assert (a / "tdm.lock").read_bytes() == (b / "tdm.lock").read_bytes()


@pytest.mark.slow
def test_jobs_do_not_change_the_bytes(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "x-tdm": {"primary_key": "id"},
        "required": ["id", "n", "token", "email"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "n": {"type": "integer", "minimum": 0, "maximum": 1000},
            "token": {"type": "string", "format": "uuid"},
            "email": {"type": "string", "format": "email", "x-tdm": {"unique": True}},
            "opt": {"type": "boolean"},
        },
    }
    # several chunks, the last one partial; enough rows for workers without --jobs
    count = max(engine.CHUNK_ROWS * 2, engine.AUTO_JOBS_ROWS) + engine.CHUNK_ROWS // 2
    one = one_dataset_project(tmp_path / "one", schema, count)
    two = one_dataset_project(tmp_path / "two", schema, count)

    assert tdm("generate", "--jobs", "1", "--repo", one).exit_code == 0
    result = tdm("generate", "--jobs", "2", "--repo", two)
    assert result.exit_code == 0, result.output

    data = dataset(two, "t", "s").read_bytes()
    assert data == dataset(one, "t", "s").read_bytes()
    assert data.count(b"\n") == count
    assert read_lock(one)["datasets"] == read_lock(two)["datasets"]
    # without --jobs a run this large uses a worker per CPU (and smaller chunks): same bytes
    assert count >= engine.AUTO_JOBS_ROWS
    result = tdm("generate", "--force", "--repo", two)
    assert result.exit_code == 0, result.output
    assert dataset(two, "t", "s").read_bytes() == data
    result = tdm("generate", "--force", "--jobs", "3", "--repo", two)
    assert result.exit_code == 0, result.output
    assert dataset(two, "t", "s").read_bytes() == data


@pytest.mark.parametrize("count", [1, 4_999, 5_000, 20_001, 1_000_003])
def test_chunks_cover_every_row_once_in_order(count: int) -> None:
    spans = engine._chunks(count)
    assert spans[0][0] == 0 and spans[-1][1] == count
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert all(0 < stop - start <= engine.CHUNK_ROWS for start, stop in spans)


def test_auto_jobs_starts_workers_only_for_large_runs() -> None:
    assert engine.auto_jobs(engine.AUTO_JOBS_ROWS - 1) == 1
    assert 1 <= engine.auto_jobs(engine.AUTO_JOBS_ROWS) <= engine.AUTO_JOBS_MAX


def test_jobs_give_identical_bytes_on_the_sample(bare_sample: Path, smoke_repo: Path) -> None:
    result = tdm("generate", "smoke", "--jobs", "2", "--repo", bare_sample)

    assert result.exit_code == 0, result.output
    for name in SMOKE_DATASETS:
        assert (
            dataset(bare_sample, "smoke", name).read_bytes()
            == dataset(smoke_repo, "smoke", name).read_bytes()
        ), name


def test_raising_the_count_only_appends_rows(tmp_path: Path) -> None:
    root = _people(tmp_path / "p", 1000)
    assert tdm("generate", "--repo", root).exit_code == 0
    before = dataset(root, "t", "s").read_bytes().splitlines(keepends=True)

    write_file(
        root / "templates" / "t.yaml",
        {"seed": 11, "datasets": {"s": {"schema": "s", "count": 1200}}},
    )
    assert tdm("generate", "--repo", root).exit_code == 0
    after = dataset(root, "t", "s").read_bytes().splitlines(keepends=True)

    assert len(before) == 1000
    assert len(after) == 1200
    assert after[:1000] == before
    assert len(set(after[1000:]) - set(before)) == 200


def test_lowering_the_count_keeps_a_prefix(tmp_path: Path) -> None:
    root = _people(tmp_path / "p", 500)
    assert tdm("generate", "--repo", root).exit_code == 0
    before = dataset(root, "t", "s").read_bytes().splitlines(keepends=True)

    write_file(
        root / "templates" / "t.yaml",
        {"seed": 11, "datasets": {"s": {"schema": "s", "count": 123}}},
    )
    assert tdm("generate", "--repo", root).exit_code == 0

    assert dataset(root, "t", "s").read_bytes().splitlines(keepends=True) == before[:123]


def _changed_fields(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, int]:
    """For each field, in how many rows its value (or presence) differs."""
    assert len(old) == len(new)
    counts: dict[str, int] = {}
    for a, b in zip(old, new, strict=True):
        for key in set(a) | set(b):
            if a.get(key, "<absent>") != b.get(key, "<absent>"):
                counts[key] = counts.get(key, 0) + 1
    return counts


def test_template_override_changes_only_that_field(tmp_path: Path) -> None:
    root = _people(tmp_path / "p", 800)
    assert tdm("generate", "--repo", root).exit_code == 0
    old = read_rows(dataset(root, "t", "s"))

    write_file(
        root / "templates" / "t.yaml",
        {
            "seed": 11,
            "datasets": {
                "s": {
                    "schema": "s",
                    "count": 800,
                    "overrides": {"status": {"generator": "choice", "values": ["active", "gone"]}},
                }
            },
        },
    )
    assert tdm("generate", "--repo", root).exit_code == 0
    new = read_rows(dataset(root, "t", "s"))

    changed = _changed_fields(old, new)
    assert set(changed) == {"status"}
    assert changed["status"] > 300
    assert {row["status"] for row in new} == {"active", "gone"}
    # key order of the rows is unchanged too
    assert [list(r) for r in old] == [list(r) for r in new]


def test_schema_hint_edit_changes_only_that_field(tmp_path: Path) -> None:
    root = _people(tmp_path / "p", 800)
    assert tdm("generate", "--repo", root).exit_code == 0
    old = read_rows(dataset(root, "t", "s"))

    edited = copy.deepcopy(PEOPLE)
    edited["properties"]["score"] = {
        "type": "number",
        "minimum": 0,
        "maximum": 100,
        "x-tdm": {"min": 50},
    }
    write_file(root / "schemas" / "s.yaml", edited)
    assert tdm("generate", "--repo", root).exit_code == 0
    new = read_rows(dataset(root, "t", "s"))

    changed = _changed_fields(old, new)
    assert set(changed) == {"score"}
    assert changed["score"] > 700
    assert all(row["score"] >= 50 for row in new)


def test_adding_a_property_leaves_existing_fields_alone(tmp_path: Path) -> None:
    root = _people(tmp_path / "p", 500)
    assert tdm("generate", "--repo", root).exit_code == 0
    old = read_rows(dataset(root, "t", "s"))

    edited = copy.deepcopy(PEOPLE)
    edited["properties"]["city"] = {"type": "string"}
    edited["required"].append("city")
    write_file(root / "schemas" / "s.yaml", edited)
    assert tdm("generate", "--repo", root).exit_code == 0
    new = read_rows(dataset(root, "t", "s"))

    assert set(_changed_fields(old, new)) == {"city"}
    assert all("city" in row for row in new)


def test_changing_the_seed_changes_the_data(tmp_path: Path) -> None:
    root = _people(tmp_path / "p", 300)
    assert tdm("generate", "--repo", root).exit_code == 0
    old = read_rows(dataset(root, "t", "s"))

    write_file(
        root / "templates" / "t.yaml",
        {"seed": 12, "datasets": {"s": {"schema": "s", "count": 300}}},
    )
    assert tdm("generate", "--repo", root).exit_code == 0
    new = read_rows(dataset(root, "t", "s"))

    changed = _changed_fields(old, new)
    for field in ("email", "first_name", "score", "token", "code"):
        assert changed.get(field, 0) > 250, field
    assert read_lock(root)["datasets"]["t/s"]["seed"] == 12


def test_project_seed_is_used_when_the_template_has_none(tmp_path: Path) -> None:
    roots = []
    for name, seed in (("a", 1), ("b", 2)):
        root = make_project(
            tmp_path / name,
            {"s": PEOPLE},
            {"t": {"datasets": {"s": {"schema": "s", "count": 50}}}},
        )
        write_file(root / "tdm.yaml", {"name": "p", "seed": seed, "locale": "en_US"})
        assert tdm("generate", "--repo", root).exit_code == 0
        roots.append(root)

    a, b = (read_rows(dataset(r, "t", "s")) for r in roots)
    assert [r["token"] for r in a] != [r["token"] for r in b]
    assert read_lock(roots[1])["datasets"]["t/s"]["seed"] == 2


def test_smoke_sample_is_reproducible(bare_sample: Path, smoke_repo: Path) -> None:
    generate_in_process(bare_sample, ["smoke"])

    for name in SMOKE_DATASETS:
        assert sha256_file(dataset(bare_sample, "smoke", name)) == sha256_file(
            dataset(smoke_repo, "smoke", name)
        ), name
    assert (bare_sample / "tdm.lock").read_bytes() == (smoke_repo / "tdm.lock").read_bytes()


def test_shipped_sample_data_matches_its_recipe(sample_repo: Path) -> None:
    # the sample ships generated smoke data: regenerating it must give the same bytes
    result = tdm("generate", "smoke", "--check", "--repo", sample_repo)

    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_another_process_with_another_hash_seed_gives_the_same_bytes(
    tmp_path: Path, smoke_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "again"
    init_repo(root, sample=True)
    strip_generated(root)
    monkeypatch.setenv("PYTHONHASHSEED", "12345")

    proc = tdm_subprocess("generate", "smoke", "--repo", root)

    assert proc.returncode == 0, proc.stderr
    for name in SMOKE_DATASETS:
        assert (
            dataset(root, "smoke", name).read_bytes()
            == dataset(smoke_repo, "smoke", name).read_bytes()
        ), name


GOLDEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "n", "token", "day", "pick", "ratio"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "n": {"type": "integer", "minimum": 0, "maximum": 999},
        "token": {"type": "string", "format": "uuid"},
        "day": {"type": "string", "format": "date"},
        "pick": {"type": "string", "enum": ["a", "b", "c"]},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
    },
}


def test_generated_bytes_are_pinned_for_a_faker_free_schema(tmp_path: Path) -> None:
    """A regression guard: these bytes may only change together with ENGINE_VERSION."""
    from tdm._version import ENGINE_VERSION

    root = one_dataset_project(tmp_path / "p", GOLDEN_SCHEMA, 1000, seed=2024)
    assert tdm("generate", "--repo", root).exit_code == 0

    first = dataset(root, "t", "s").read_bytes().splitlines()[0]
    digest = sha256_file(dataset(root, "t", "s"))
    assert ENGINE_VERSION in GOLDEN, "ENGINE_VERSION was bumped: pin the new bytes here"
    assert (first, digest) == GOLDEN[ENGINE_VERSION]


#: ENGINE_VERSION -> (first line, sha256 of the file) of GOLDEN_SCHEMA, 1,000 rows, seed 2024
_GOLDEN_V1 = (
    b'{"id":1,"n":430,"token":"528adb2e-0a48-475c-acc0-18c94c607cc7",'
    b'"day":"2016-09-18","pick":"c","ratio":0.61}',
    "4dcfad71b0748fbf8bd4275648a68cfe20b52a94dd185e49271d4b55dd77014b",
)
GOLDEN = {
    "1": _GOLDEN_V1,
    "2": _GOLDEN_V1,  # v2 changed multipleOf numbers, text, regex and IPv6 only
    "3": _GOLDEN_V1,  # v3: huge or narrow ranges, length-bounded formats, uniqueItems draws
    "4": _GOLDEN_V1,  # v4: first and last name pools drawn from the locale word lists
    "5": _GOLDEN_V1,  # v5: x-tdm.ref draws (consistent hashing; self-references look back)
}


def test_consume_writes_and_hashes_in_order_and_raises_a_write_error() -> None:
    import hashlib
    import io

    chunks = [(i + 1, bytes([65 + i]) * (100_000 + i)) for i in range(12)]
    out = io.BytesIO()
    digest = hashlib.sha256()
    rows = engine._consume(iter(chunks), digest, out, "t/s", 78, None)
    whole = b"".join(data for _, data in chunks)
    assert rows == 78 and out.getvalue() == whole
    assert digest.hexdigest() == hashlib.sha256(whole).hexdigest()

    class Full(io.BytesIO):
        def write(self, data: Any) -> int:
            if self.tell() > 250_000:
                raise OSError(28, "No space left on device")
            return super().write(data)

    taken: list[int] = []

    def produce() -> Any:
        for n, data in chunks:
            taken.append(n)
            yield n, data

    with pytest.raises(OSError, match="No space left"):
        engine._consume(produce(), hashlib.sha256(), Full(), "t/s", 78, None)
    assert len(taken) < len(chunks)  # the producer stopped soon after the failure
