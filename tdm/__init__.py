"""tdm: test data as code, versioned in git."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tdm._version import __version__
from tdm.errors import CheckFailed, TdmError, UserError

if TYPE_CHECKING:
    from tdm.api import Repository, open

__all__ = ["CheckFailed", "Repository", "TdmError", "UserError", "__version__", "open"]


def __getattr__(name: str) -> Any:
    # `tdm.open` and `tdm.Repository` load the API (pydantic models, the repository reader)
    # on first use, so that `import tdm.cli` (every `tdm` command, `tdm --version`) stays light
    if name in ("Repository", "open"):
        from tdm import api

        return getattr(api, name)
    raise AttributeError(f"module 'tdm' has no attribute {name!r}")
