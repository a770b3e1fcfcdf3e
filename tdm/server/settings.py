"""What one ``tdm serve`` process serves, and its limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_BODY_BYTES = 10 << 20
MAX_RECORD_COUNT = 1_000_000
MAX_PAGE = 10_000
MAX_PREVIEW_RECORDS = 100


@dataclass(frozen=True)
class Settings:
    """The repository served, the token file and the limits; fixed for a server's life."""

    root: Path  # the tdm repository (the folder holding tdm.yaml)
    tokens_file: Path
    cors_origins: tuple[str, ...] = ()  # none: browsers on other origins get no access
    default_environment: str | None = None  # where a request naming none reads and writes
    max_body_bytes: int = MAX_BODY_BYTES
    max_record_count: int = MAX_RECORD_COUNT
    max_page: int = MAX_PAGE
    max_preview_records: int = MAX_PREVIEW_RECORDS
    fast_path: bool = True  # pages of records without FastAPI's routing (see fastpath.py)
