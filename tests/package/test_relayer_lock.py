"""requirements.relayer.lock is the relayer's whole environment: every dependency pyproject.toml
declares, at the version declared, no test tool, and the versions the test suite runs on."""

import re
import tomllib

from tools.packaging.relayer_lock import LOCK, ROOT, TEST_LOCK, UNCONSTRAINED


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path):
    found = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            found[normalized(name)] = version.strip()
    return found


def declared():
    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    found = {}
    for requirement in project["dependencies"]:
        name, version = requirement.split("==")
        found[normalized(name.split("[")[0])] = version
    return found


def test_every_declared_dependency_is_locked_at_its_declared_version():
    locked = pins(LOCK)
    assert {name: locked.get(name) for name in declared()} == declared()


def test_relayer_lock_holds_no_brownie_and_no_test_tool():
    locked = pins(LOCK)
    with (ROOT / "pyproject.toml").open("rb") as file:
        dev = tomllib.load(file)["project"]["optional-dependencies"]["dev"]
    test_only = {normalized(r.split("==")[0]) for r in dev} | {"vyper", "playwright"}
    assert not test_only & set(locked)


def test_relayer_runs_on_the_versions_the_tests_run_on():
    locked, tested = pins(LOCK), pins(TEST_LOCK)
    differing = {
        name: (locked[name], tested[name])
        for name in set(locked) & set(tested)
        if locked[name] != tested[name]
    }
    assert set(differing) <= set(UNCONSTRAINED), differing
