"""tdm: test data as code, versioned in git."""

from tdm._version import __version__
from tdm.api import Repository, open
from tdm.errors import CheckFailed, TdmError, UserError

__all__ = ["CheckFailed", "Repository", "TdmError", "UserError", "__version__", "open"]
