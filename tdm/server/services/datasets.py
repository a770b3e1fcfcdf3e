"""Datasets: the list at a commit, and their records, paged or streamed as JSON Lines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from tdm.project import DATASET_DIR, LOCK_FILE
from tdm.server.errors import NotFound
from tdm.server.models import DatasetItem, DatasetList
from tdm.server.services.repository import BlobCache, Repository, View, checked_name
from tdm.versions import list_datasets

STREAM_BLOCK = 1 << 20


def _lock(view: View) -> dict[str, Any]:
    raw = view.read(LOCK_FILE)
    if raw is None:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    found = data.get("datasets") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def listing(view: View, project: Any) -> DatasetList:
    """Every datasets/<template>/<dataset>.jsonl of the commit, with what tdm.lock says."""
    lock = _lock(view)
    items = []
    for key in list_datasets(project, view.commit_id):
        template, _, name = key.partition("/")
        found = lock.get(key)
        entry: dict[str, Any] = found if isinstance(found, dict) else {}
        items.append(
            DatasetItem(
                dataset=key,
                template=template,
                name=name,
                schema=entry.get("schema") if isinstance(entry.get("schema"), str) else None,
                rows=entry.get("rows") if isinstance(entry.get("rows"), int) else None,
                sha256=entry.get("sha256") if isinstance(entry.get("sha256"), str) else None,
            )
        )
    return DatasetList(revision=view.label, commit=view.commit_id, datasets=items)


async def records(
    repo: Repository, view: View, cache: BlobCache, template: str, dataset: str
) -> tuple[bytes, Any]:
    """The dataset's bytes and line starts; read (off the event loop) on first use."""
    checked_name(template, "template")
    checked_name(dataset, "dataset")
    rel = f"{DATASET_DIR}/{template}/{dataset}.jsonl"
    blob_id = view.blob_id(rel)
    if blob_id is None:
        raise NotFound(f"dataset '{template}/{dataset}' does not exist at {view.label}")
    hit = cache.get(blob_id)
    if hit is not None:
        return hit

    def read() -> bytes:
        return repo.git().read_blob(blob_id)

    return await run_in_threadpool(cache.load, blob_id, read, f"{rel}@{view.label}")


def _span(data: bytes, starts: Any, offset: int, limit: int | None) -> tuple[int, int, int, int]:
    """(first line, line after the last, start byte, end byte) of a page."""
    total = len(starts)
    first = min(offset, total)
    last = total if limit is None else min(offset + limit, total)
    start = int(starts[first]) if first < total else len(data)
    end = int(starts[last]) if last < total else len(data)
    return first, last, start, end


def page(
    view: View, data: bytes, starts: Any, template: str, dataset: str, offset: int, limit: int
) -> bytes:
    """A page as the JSON body of :class:`tdm.server.models.RecordPage`: the records are
    the dataset's own bytes (every line was checked to be a JSON object), not re-encoded."""
    total = len(starts)
    _, last, start, end = _span(data, starts, offset, limit)
    if end > start and data[end - 1] == 10:  # b"\n"
        end -= 1
    records = data[start:end].replace(b"\n", b",")
    head = {
        "dataset": f"{template}/{dataset}",
        "revision": view.label,
        "commit": view.commit_id,
        "offset": offset,
        "limit": limit,
        "total": total,
        "next_offset": last if last < total else None,
    }
    return b"".join((orjson.dumps(head)[:-1], b',"records":[', records, b"]}"))


async def stream(data: bytes, starts: Any, offset: int, limit: int | None) -> AsyncIterator[bytes]:
    """Lines ``offset`` to ``offset + limit`` as they are stored, in blocks."""
    if offset == 0 and limit is None:
        start, end = 0, len(data)
    else:
        _, _, start, end = _span(data, starts, offset, limit)
    block = memoryview(data)
    for pos in range(start, end, STREAM_BLOCK):
        yield block[pos : min(pos + STREAM_BLOCK, end)].tobytes()
    if end > start and data[end - 1 : end] != b"\n":
        yield b"\n"
