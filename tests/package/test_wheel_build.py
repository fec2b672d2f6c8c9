"""The wheel build writes the ABIs from the compiled contracts itself, and refuses to build a
wheel that would lack them or the member page bundle (one that would install and then fail)."""

import json
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from tools.packaging import abis

ROOT = abis.ROOT
BUILD_TIMEOUT = 300
BUNDLE = ("src/relayer/web/dist/app.js", "src/relayer/web/dist/app.css")


def tracked_tree(target):
    """A copy of the files git tracks: a clean checkout, without anything generated."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, timeout=30
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def build_wheel(tree, dist):
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--wheel-dir", str(dist), str(tree)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT,
    )  # fmt: skip


@pytest.fixture
def tree(tmp_path):
    return tracked_tree(tmp_path / "tree")


def test_wheel_build_writes_the_abis_from_the_compiled_contracts(tree, tmp_path):
    shutil.copytree(abis.BUILD_DIR, tree / "build" / "contracts")
    for name in BUNDLE:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    assert not (tree / "src" / "relayer" / "abi").exists()
    built = build_wheel(tree, tmp_path / "dist")
    assert built.returncode == 0, built.stderr
    for contract in abis.CONTRACTS:
        written = json.loads((tree / "src" / "relayer" / "abi" / f"{contract}.json").read_text())
        assert written == json.loads((abis.BUILD_DIR / f"{contract}.json").read_text())["abi"]
    (wheel,) = (tmp_path / "dist").glob("data_union-*.whl")
    listing = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(wheel)],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    for contract in abis.CONTRACTS:
        assert f"relayer/abi/{contract}.json" in listing


def test_wheel_build_refuses_a_tree_without_the_member_page_bundle(tree, tmp_path):
    shutil.copytree(abis.BUILD_DIR, tree / "build" / "contracts")
    built = build_wheel(tree, tmp_path / "dist")
    assert built.returncode != 0
    assert "src/relayer/web/dist/app.js (make web)" in built.stderr + built.stdout
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").glob("*.whl"))


def test_wheel_build_refuses_a_tree_without_compiled_contracts_or_abis(tree, tmp_path):
    built = build_wheel(tree, tmp_path / "dist")
    assert built.returncode != 0
    assert "src/relayer/abi/DataUnion.json (make compile)" in built.stderr + built.stdout


def test_source_distribution_builds_a_wheel_with_the_abis(tree, tmp_path):
    """`python -m build` makes the sdist first and the wheel from it, where build/ is absent."""
    shutil.copytree(abis.BUILD_DIR, tree / "build" / "contracts")
    for name in BUNDLE:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    sdists = tmp_path / "sdist"
    subprocess.run(
        [sys.executable, "-c",
         "import sys; sys.path.insert(0, 'tools/packaging'); import backend; "
         f"backend.build_sdist({str(sdists)!r})"],
        cwd=tree, check=True, capture_output=True, timeout=BUILD_TIMEOUT,
    )  # fmt: skip
    (sdist,) = sdists.glob("data[-_]union-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    assert not (unpacked / "build").exists()
    built = build_wheel(unpacked, tmp_path / "dist")
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("data_union-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for contract in abis.CONTRACTS:
            packaged = json.loads(archive.read(f"relayer/abi/{contract}.json"))
            assert packaged == json.loads((abis.BUILD_DIR / f"{contract}.json").read_text())["abi"]
