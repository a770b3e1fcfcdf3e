"""What `tdm status` and an up-to-date `tdm generate` load: no more than they use.

Module lists of a fresh interpreter, never timings (the figures are in bench/README.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# runs the console entry point, then writes the names of the loaded modules to a file
PROBE = """
import atexit, json, sys
out, args = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["tdm", *args]
from tdm.cli import main
main()
"""


def _modules(tmp_path: Path, *args: str | Path) -> set[str]:
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *[str(a) for a in args]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(out.read_text()))


@pytest.mark.slow  # two child interpreters
def test_status_loads_the_merge_code_only_when_a_merge_left_conflicts(
    smoke_repo: Path, tmp_path: Path
) -> None:
    plain = _modules(tmp_path, "status", "--repo", smoke_repo)
    assert "tdm.status" in plain and "tdm.hashcache" in plain  # the probe sees the command
    assert not {"tdm.merge", "tdm.snapshot", "tdm.datadiff"} & plain

    (smoke_repo / ".git" / "tdm" / "conflicts").mkdir(parents=True)
    assert "tdm.merge" in _modules(tmp_path, "status", "--repo", smoke_repo)


@pytest.mark.parametrize("setting", [None, "some_plugin"])
def test_loading_the_models_leaves_the_pydantic_plugin_setting_as_it_was(
    setting: str | None,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if setting is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = setting
    code = (
        "import os, tdm.models as m; "
        "m.Lock.model_validate({'datasets': {}}); "
        "print(repr(os.environ.get('PYDANTIC_DISABLE_PLUGINS')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == repr(setting)
