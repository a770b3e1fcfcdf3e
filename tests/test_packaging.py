"""The built package: a wheel installed into a fresh virtualenv carries the sample.

The wheel and the sdist are built without network (no build isolation: the
development environment has the setuptools that [build-system] asks for), from
a copy of the sources so that no build/ or egg-info folder lands in the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers import REPO_ROOT, SAMPLE_DIR, SMOKE_DATASETS

BUILD_FILES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
BUILD_DIRS = ("tdm", "sample_repo")


def _sample_files() -> list[str]:
    return sorted(
        p.relative_to(SAMPLE_DIR).as_posix() for p in SAMPLE_DIR.rglob("*") if p.is_file()
    )


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _source_copy(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in BUILD_FILES:
        shutil.copy2(REPO_ROOT / name, src / name)
    for name in BUILD_DIRS:
        shutil.copytree(
            REPO_ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "_sample")
        )
    return src


def _pip_wheel(source: Path, out: Path) -> Path:
    _run(
        sys.executable,
        *("-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation", "--no-index"),
        *("-w", out),
        cwd=out.parent,
    )
    (wheel,) = out.glob("tdm-*.whl")
    return wheel


def _sample_in_wheel(wheel: Path) -> list[str]:
    prefix = "tdm/_sample/"
    with zipfile.ZipFile(wheel) as zf:
        return sorted(n[len(prefix) :] for n in zf.namelist() if n.startswith(prefix))


@pytest.mark.slow
def test_wheel_in_a_fresh_virtualenv_inits_the_sample_and_generates(tmp_path: Path) -> None:
    wheel = _pip_wheel(_source_copy(tmp_path), tmp_path / "dist")
    assert _sample_in_wheel(wheel) == _sample_files()

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(
        sys.executable,
        *("-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel),
        cwd=tmp_path,
    )
    # the dependencies come from this environment, tdm itself only from the wheel
    # (written after the install, so that pip does not see the development copy)
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
        ).strip()
    )
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "tdm-test-deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    work = tmp_path / "work"
    work.mkdir()

    where = _run(python, "-c", "import tdm; print(tdm.__file__)", cwd=work, env=env)
    assert Path(where.strip()).is_relative_to(venv)

    tdm = str(venv / "bin" / "tdm")
    _run(tdm, "init", "shop", "--sample", cwd=work, env=env)
    shop = work / "shop"
    assert (shop / "tdm.yaml").read_bytes() == (SAMPLE_DIR / "tdm.yaml").read_bytes()
    assert (shop / ".gitignore").is_file()
    assert (shop / ".git").is_dir()
    for name in SMOKE_DATASETS:
        (shop / "datasets" / "smoke" / f"{name}.jsonl").unlink()

    out = _run(tdm, "generate", cwd=shop, env=env)
    assert "smoke/customers" in out
    for name in SMOKE_DATASETS:  # the same bytes as the committed sample data
        rel = Path("datasets", "smoke", f"{name}.jsonl")
        assert (shop / rel).read_bytes() == (SAMPLE_DIR / rel).read_bytes(), rel
    _run(tdm, "validate", cwd=shop, env=env)


@pytest.mark.slow
def test_sdist_carries_the_sample_and_builds_the_same_wheel(tmp_path: Path) -> None:
    src = _source_copy(tmp_path)
    dist = tmp_path / "dist"
    dist.mkdir()
    name = _run(
        sys.executable,
        "-c",
        f"from setuptools import build_meta; print(build_meta.build_sdist({str(dist)!r}))",
        cwd=src,
    ).splitlines()[-1]
    sdist = dist / name
    with tarfile.open(sdist) as tf:
        top = tf.getnames()[0].split("/")[0]
        members = {n.removeprefix(f"{top}/") for n in tf.getnames()}
    assert {f"sample_repo/{f}" for f in _sample_files()} <= members
    assert "setup.py" in members

    unpacked = tmp_path / "unpacked"
    with tarfile.open(sdist) as tf:
        tf.extractall(unpacked, filter="data")
    wheel = _pip_wheel(unpacked / top, tmp_path / "wheel")
    assert _sample_in_wheel(wheel) == _sample_files()
