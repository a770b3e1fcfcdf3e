"""How often `tdm diff` agrees with a schema registry's verdict on labelled examples.

    .venv/bin/python scripts/registry_agreement.py diff-schema-examples.json ... [--cli]

Each file is a JSON list of labelled cases in the form of the schema registry's own test
resources (json-schema-provider/src/test/resources/diff-*-examples*.json in
confluentinc/schema-registry; they are not shipped with tdm, whose licence differs):
``{"description", "original_schema", "update_schema", "compatible"}``.  Each case is
wrapped as one property (``value``) of a keyed record (its ``$schema`` and definitions
move to the record's root) and checked BACKWARD with the strict rules: in process with
``tdm.schemadiff.compare``, or with ``--cli`` as ``tdm diff A B --fail-on breaking`` on
two commits of a scratch git repository (exit 0 = compatible, 1 = breaking, anything
else is an error exit).  Cases that need the registry's subject metadata (reserved
properties) are skipped and counted.  Prints the agreement and every disagreement.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tdm.schemadiff import compare

ROOT = Path(__file__).resolve().parent.parent


def wrap(schema: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": "object",
        "required": ["id"],
        "x-tdm": {"primary_key": "id"},
        "properties": {"id": {"type": "integer"}},
    }
    value = copy.deepcopy(schema)
    if isinstance(value, dict):
        for word in ("$schema", "definitions", "$defs"):
            if word in value:
                record[word] = value.pop(word)
    record["properties"]["value"] = value
    return record


def in_process(old: Any, new: Any) -> bool:
    return not any(c.breaking() for c in compare(wrap(old), wrap(new)))


class Cli:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tdm-agreement-")) / "repo"
        self.tdm = str(Path(sys.executable).parent / "tdm")
        subprocess.run([self.tdm, "init", str(self.root)], check=True, capture_output=True)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "init")

    def git(self, *args: str) -> str:
        env_id = ["-c", "user.name=agreement", "-c", "user.email=agreement@example.com"]
        done = subprocess.run(
            ["git", "-C", str(self.root), *env_id, *args],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def verdict(self, old: Any, new: Any) -> bool | str:
        path = self.root / "schemas" / "value.json"
        path.write_text(json.dumps(wrap(old)))
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", "old")
        base = self.git("rev-parse", "HEAD")
        path.write_text(json.dumps(wrap(new)))
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", "new")
        done = subprocess.run(
            [self.tdm, "diff", base, "HEAD", "--fail-on", "breaking", "--repo", str(self.root)],
            capture_output=True,
            text=True,
        )
        if done.returncode not in (0, 1):
            return f"exit {done.returncode}: {done.stderr.strip()[:200]}"
        return done.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="+", type=Path, help="labelled example files (JSON lists)")
    parser.add_argument("--cli", action="store_true", help="run the real `tdm diff` per case")
    args = parser.parse_args(argv)
    cli = Cli() if args.cli else None
    total = agree = skipped = errors = 0
    for file in args.files:
        for case in json.loads(file.read_text(encoding="utf-8")):
            if "original_metadata" in case or "update_metadata" in case:
                skipped += 1
                continue
            total += 1
            old, new, label = case["original_schema"], case["update_schema"], case["compatible"]
            got = cli.verdict(old, new) if cli else in_process(old, new)
            if isinstance(got, str):
                errors += 1
                print(f"  ERROR {file.name}: {case['description']}: {got}")
            elif got == label:
                agree += 1
            else:
                print(f"  DIFFERS {file.name}: {case['description']}: registry {label}, tdm {got}")
    share = agree / total if total else 0.0
    print(
        f"{agree}/{total} cases agree ({share:.1%}), {errors} error exit(s), "
        f"{skipped} skipped (need registry metadata)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
