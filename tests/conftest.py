"""Shared test setup: a real anvil chain (brownie's development network), one concern per fixture
module, and a fresh chain state for every test."""

import os

import brownie
import pytest

pytest_plugins = [
    "fixtures.accounts",
    "fixtures.tokens",
    "fixtures.union",
    "fixtures.roots",
    "fixtures.relayer",
    "fixtures.postgres",
    "fixtures.browser",
    "fixtures.replicas",
    "fixtures.faults",
]

# A 500-member attribution batch needs more than brownie's default 12M block gas limit.
# (Reached through the package: brownie hashes the source of what conftest imports by module.)
_anvil = brownie._CONFIG.networks["development"]["cmd_settings"]
_anvil["gas_limit"] = 30_000_000
# Two suites on one machine need two chains.
_anvil["port"] = int(os.environ.get("ANVIL_PORT", "8545"))


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Every test starts from the state the module-scoped deploy fixtures left."""
