"""Datasets: the list at a commit, and their records, paged or streamed as JSON Lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from tdm.project import DATASET_DIR, LOCK_FILE
from tdm.server.errors import BadRequest, NotFound
from tdm.server.models import DatasetItem, DatasetList
from tdm.server.services.repository import BlobCache, View, checked_name
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


def _path(view: View, template: str, dataset: str) -> tuple[str, str]:
    checked_name(template, "template")
    checked_name(dataset, "dataset")
    rel = f"{DATASET_DIR}/{template}/{dataset}.jsonl"
    blob_id = view.blob_id(rel)
    if blob_id is None:
        raise NotFound(f"dataset '{template}/{dataset}' does not exist at {view.label}")
    return rel, blob_id


def _bytes(view: View, cache: BlobCache, template: str, dataset: str) -> tuple[str, bytes]:
    rel, blob_id = _path(view, template, dataset)
    return blob_id, cache.get(blob_id, lambda: view.read(rel) or b"")


def page(
    view: View, cache: BlobCache, template: str, dataset: str, offset: int, limit: int
) -> bytes:
    """A page of records as the JSON body of :class:`tdm.server.models.RecordPage`; the
    records are the dataset's own bytes (checked to parse), not re-encoded."""
    blob_id, data = _bytes(view, cache, template, dataset)
    starts = cache.line_starts(blob_id, data)
    total = len(starts)
    first = min(offset, total)
    last = min(offset + limit, total)
    start = int(starts[first]) if first < total else len(data)
    end = int(starts[last]) if last < total else len(data)
    chunk = data[start:end].rstrip(b"\n").replace(b"\n", b",")
    records = b"[" + chunk + b"]"
    try:
        parsed = orjson.loads(records)
    except orjson.JSONDecodeError:
        parsed = None
    if parsed is None or not all(isinstance(r, dict) for r in parsed):
        _bad_line(data[start:end], first, f"{template}/{dataset}@{view.label}")
    head = {
        "dataset": f"{template}/{dataset}",
        "revision": view.label,
        "commit": view.commit_id,
        "offset": offset,
        "limit": limit,
        "total": total,
        "next_offset": last if last < total else None,
    }
    return orjson.dumps(head)[:-1] + b',"records":' + records + b"}"


def _bad_line(data: bytes, first: int, display: str) -> None:
    """Names the first line of ``data`` that is not a JSON object (``tdm validate`` would)."""
    for n, line in enumerate(data.splitlines(), start=first + 1):
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"{display}: line {n} is not valid JSON ({exc})") from None
        if not isinstance(row, dict):
            raise BadRequest(f"{display}: line {n} is not a JSON object")
    raise BadRequest(f"{display} is not valid JSON Lines")


def stream(
    view: View, cache: BlobCache, template: str, dataset: str, offset: int, limit: int | None
) -> Iterator[bytes]:
    """The dataset's lines ``offset`` to ``offset + limit`` as they are stored, in blocks."""
    blob_id, data = _bytes(view, cache, template, dataset)
    if offset == 0 and limit is None:
        start, end = 0, len(data)
    else:
        starts = cache.line_starts(blob_id, data)
        total = len(starts)
        first = min(offset, total)
        last = total if limit is None else min(offset + limit, total)
        start = int(starts[first]) if first < total else len(data)
        end = int(starts[last]) if last < total else len(data)
    view_bytes = memoryview(data)
    for pos in range(start, end, STREAM_BLOCK):
        yield bytes(view_bytes[pos : min(pos + STREAM_BLOCK, end)])
    if end > start and data[end - 1 : end] != b"\n":
        yield b"\n"
