"""The project's build backend: setuptools, with a wheel that cannot ship without its data.

Before setuptools builds a wheel or a source distribution, this writes the relayer's ABIs from
the compiled build artifacts (tools/packaging/abis.py) and checks that every generated file the
relayer needs at run time is in the tree: the ABIs and the member page bundle (`make web`). A
wheel missing them would install cleanly and then fail on its first request; this fails the build
instead, saying what to run.
Every other hook is setuptools' own. Declared in pyproject.toml (`backend-path`).
"""

import shutil
from typing import Any

import abis
from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 - every hook not overridden here

#: What the relayer reads at run time and git does not hold, with the command that makes it.
GENERATED = {abis.PACKAGE_ABI_DIR / f"{name}.json": "make compile" for name in abis.CONTRACTS} | {
    abis.ROOT / "src" / "relayer" / "web" / "dist" / "app.js": "make web",
    abis.ROOT / "src" / "relayer" / "web" / "dist" / "app.css": "make web",
}
#: setuptools' staging folder (pyproject.toml, [tool.distutils.build]); emptied before each
#: wheel so a module deleted from the source cannot reach the next wheel from a stale copy.
STAGING = abis.ROOT / ".wheel-build"


class MissingPackageData(RuntimeError):
    """A generated file the wheel must carry is not in the tree."""


def _prepare_package_data() -> None:
    # A checkout with compiled contracts regenerates the ABIs, so the wheel has the contract as
    # built now; a tree without build/ (an unpacked source distribution) keeps the ones it has.
    if abis.BUILD_DIR.is_dir():
        abis.extract()
    missing = [
        f"{path.relative_to(abis.ROOT)} ({fix})"
        for path, fix in GENERATED.items()
        if not path.is_file()
    ]
    if missing:
        raise MissingPackageData("the wheel would lack " + ", ".join(missing))
    shutil.rmtree(STAGING, ignore_errors=True)


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    _prepare_package_data()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    # The source distribution has no build/ to write the ABIs from: they go in ready-made.
    _prepare_package_data()
    return _setuptools.build_sdist(sdist_directory, config_settings)
