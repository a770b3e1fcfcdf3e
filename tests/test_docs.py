"""Every command is documented: --help with an example, and a mention in the README."""

from __future__ import annotations

import re

import pytest
import typer.main
from helpers import REPO_ROOT, tdm, tdm_subprocess

from tdm._version import __version__
from tdm.cli import app

COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_there_are_commands() -> None:
    assert {"init", "generate", "validate", "status"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_with_an_example(name: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    assert command.help and command.help.strip(), f"{name} has no docstring"

    result = tdm(name, "--help")

    assert result.exit_code == 0, result.output
    assert f"tdm {name}" in result.output
    assert "Example" in result.output, f"`tdm {name} --help` shows no example"


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_in_the_readme(name: str) -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")

    assert re.search(rf"\btdm {re.escape(name)}\b", readme), f"`tdm {name}` not in README.md"


def test_top_level_help_lists_every_command() -> None:
    result = tdm("--help")

    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_version_in_process() -> None:
    result = tdm("--version")

    assert result.exit_code == 0
    assert result.output.strip() == f"tdm {__version__}"


def test_python_dash_m_tdm_version() -> None:
    proc = tdm_subprocess("--version")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"tdm {__version__}"


def test_python_dash_m_tdm_help() -> None:
    proc = tdm_subprocess("--help")

    assert proc.returncode == 0, proc.stderr
    assert "generate" in proc.stdout
    assert "Usage:" in proc.stdout
