"""tools/solc/solc.js must behave like a native solc 0.8.28 binary towards py-solc-x and brownie.

Every test installs the shim the way the Makefile does, as `$SOLCX_BINARY_PATH/solc-v0.8.28`, a
symlink, and runs from a working directory outside the repository.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest
import solcx
from packaging.version import Version
from solcx.exceptions import SolcError
from solcx.wrapper import VERSION_REGEX

REPO_ROOT = Path(__file__).parents[2]
SHIM = REPO_ROOT / "tools" / "solc" / "solc.js"
OPENZEPPELIN = REPO_ROOT / "node_modules" / "@openzeppelin"

# ERC20 with permit and votes: it pulls in enough of OpenZeppelin for a multi-megabyte output.
TOKEN_SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

contract Token is ERC20, ERC20Permit, ERC20Votes {
    constructor() ERC20("Token", "TKN") ERC20Permit("Token") {}

    function _update(address from, address to, uint256 value)
        internal
        override(ERC20, ERC20Votes)
    {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
"""

COUNTER_SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

contract Counter {
    uint256 public count;

    function increment() external {
        count += 1;
    }
}
"""

# An external library call leaves a placeholder in Successor's bytecode for the linker to fill.
LIBRARY_USER_SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

library Adder {
    function addOne(uint256 a) external pure returns (uint256) {
        return a + 1;
    }
}

contract Successor {
    function next(uint256 a) external pure returns (uint256) {
        return Adder.addOne(a);
    }
}
"""


@pytest.fixture
def isolation():
    """Overrides the repository-wide autouse fixture: these tests need no brownie chain."""


@pytest.fixture
def solc_binary(tmp_path, monkeypatch):
    """The shim installed as py-solc-x's active solc 0.8.28, for this test only."""
    binary_dir = tmp_path / "solcx"
    binary_dir.mkdir()
    binary = binary_dir / "solc-v0.8.28"
    binary.symlink_to(SHIM)
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(binary_dir))
    monkeypatch.setattr(solcx.install, "_default_solc_binary", None)
    solcx.set_solc_version("0.8.28", silent=True)
    return binary


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working directory outside the repository: the shim must not rely on the caller's."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def token_input(output_selection):
    return {
        "language": "Solidity",
        "sources": {"contracts/Token.sol": {"content": TOKEN_SOURCE}},
        "settings": {
            "remappings": [f"@openzeppelin/={OPENZEPPELIN}/"],
            "outputSelection": output_selection,
        },
    }


def test_version_banner_matches_py_solc_x_regex(solc_binary, workdir):
    result = subprocess.run([solc_binary, "--version"], capture_output=True, text=True, check=True)

    assert result.stdout.startswith("solc, the solidity compiler commandline interface\n")
    assert re.search(VERSION_REGEX, result.stdout)


def test_py_solc_x_reads_the_version(solc_binary, workdir):
    assert solcx.get_solc_version() == Version("0.8.28")


def test_compile_standard_resolves_remapped_openzeppelin_import(solc_binary, workdir):
    output = solcx.compile_standard(
        token_input({"*": {"*": ["abi", "evm.bytecode.object"]}}), allow_paths=OPENZEPPELIN
    )

    token = output["contracts"]["contracts/Token.sol"]["Token"]
    assert token["evm"]["bytecode"]["object"]
    assert "transfer" in {item.get("name") for item in token["abi"]}


def test_multi_megabyte_standard_json_output_arrives_whole(solc_binary, workdir):
    selection = {
        "*": {
            "*": ["evm.bytecode", "evm.deployedBytecode", "evm.methodIdentifiers"],
            "": ["ast"],
        }
    }

    result = subprocess.run(
        [solc_binary, "--standard-json", "--allow-paths", OPENZEPPELIN],
        input=json.dumps(token_input(selection)).encode(),
        capture_output=True,
        check=True,
    )

    assert len(result.stdout) > 1_000_000
    output = json.loads(result.stdout)
    assert "ast" in output["sources"]["contracts/Token.sol"]


def test_compile_source_returns_abi_and_bin(solc_binary, workdir):
    # Without output_values py-solc-x parses the --combined-json choices out of `solc --help`.
    contracts = solcx.compile_source(COUNTER_SOURCE)

    counter = contracts["<stdin>:Counter"]
    assert counter["bin"]
    assert "increment" in {item["name"] for item in counter["abi"]}


def test_compile_files_returns_abi_and_bin(solc_binary, workdir):
    (workdir / "Counter.sol").write_text(COUNTER_SOURCE)

    contracts = solcx.compile_files(["Counter.sol"], output_values=["abi", "bin"])

    counter = contracts["Counter.sol:Counter"]
    assert counter["bin"]
    assert "increment" in {item["name"] for item in counter["abi"]}


def test_compile_files_with_output_dir_writes_combined_json(solc_binary, workdir):
    (workdir / "Counter.sol").write_text(COUNTER_SOURCE)

    contracts = solcx.compile_files(["Counter.sol"], output_values=["abi"], output_dir="out")

    assert "Counter.sol:Counter" in contracts
    assert json.loads((workdir / "out" / "combined.json").read_text())["contracts"]


def test_link_code_fills_in_library_address(solc_binary, workdir):
    compiled = solcx.compile_source(LIBRARY_USER_SOURCE, output_values=["bin"])
    unlinked = compiled["<stdin>:Successor"]["bin"]
    address = "0x" + "ab" * 20

    linked = solcx.link_code(unlinked, {"<stdin>:Adder": address})

    assert "__" not in linked
    assert address[2:] in linked


def test_import_outside_allowed_directories_is_refused(solc_binary, tmp_path, monkeypatch):
    outside = tmp_path / "outside" / "Secret.sol"
    outside.parent.mkdir()
    outside.write_text("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.28;\ncontract S {}\n")
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    source = f'// SPDX-License-Identifier: MIT\npragma solidity ^0.8.28;\nimport "{outside}";\n'
    input_json = {
        "language": "Solidity",
        "sources": {"Main.sol": {"content": source}},
        "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
    }

    with pytest.raises(SolcError, match="File outside of allowed directories"):
        solcx.compile_standard(input_json)


def test_syntax_error_fails_with_the_compiler_message(solc_binary, workdir):
    with pytest.raises(SolcError, match="ParserError") as excinfo:
        solcx.compile_source("contract Broken { function f( }")

    assert excinfo.value.return_code != 0


def test_unknown_flag_exits_non_zero(solc_binary, workdir):
    result = subprocess.run(
        [solc_binary, "--no-such-flag"], capture_output=True, text=True, check=False
    )

    assert result.returncode != 0
    assert "unrecognised option '--no-such-flag'" in result.stderr
