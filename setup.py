"""Build step: the wheel carries the sample repository as ``tdm/_sample``.

``sample_repo/`` at the top of the checkout is the one copy of the e-commerce
example (tests, docs and ``make demo`` use it there).  ``build_py`` copies it
into the built package, so a wheel, whether built from the checkout or from
an sdist (MANIFEST.in puts ``sample_repo/`` into the sdist), installs it as
package data.  An editable install builds nothing: ``tdm.scaffold.sample_dir``
finds ``sample_repo/`` next to the ``tdm/`` source folder instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SAMPLE_SOURCE = Path(__file__).resolve().parent / "sample_repo"
SAMPLE_TARGET = ("tdm", "_sample")  # tdm.scaffold.sample_dir looks there first


class BuildPyWithSample(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        if not (SAMPLE_SOURCE / "tdm.yaml").is_file():
            raise SystemExit(
                f"cannot build tdm: {SAMPLE_SOURCE} (the sample repository) is missing"
            )
        target = Path(self.build_lib, *SAMPLE_TARGET)
        shutil.rmtree(target, ignore_errors=True)  # no stale files from an earlier build
        shutil.copytree(SAMPLE_SOURCE, target)


setup(cmdclass={"build_py": BuildPyWithSample})
