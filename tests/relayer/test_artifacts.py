"""The relayer reads contract ABIs from its own package, written from the build artifacts so they
cannot drift from the compiled contracts, and says clearly when it cannot."""

import json
from importlib.resources import files
from pathlib import Path

import pytest

from relayer.artifacts import PACKAGE_ABI_DIR, function_names, load_abi
from relayer.errors import ArtifactError
from tools.packaging import abis

PACKAGED = Path(str(files("relayer").joinpath(PACKAGE_ABI_DIR)))

# The public face of the union that wallets, scripts and the relayer call (see IDataUnion.sol).
PUBLIC_FUNCTIONS = {
    "deposit",
    "depositWithPermit",
    "sync",
    "postAttribution",
    "claimable",
    "claim",
    "claimWithSig",
    "leave",
    "proposeFee",
    "applyFee",
    "cancelFee",
    "withdrawFees",
    "pause",
    "unpause",
    "token",
    "sharesOf",
    "totalShares",
    "currentEpoch",
    "totalDeposited",
    "totalClaimed",
    "feeBps",
    "feeRecipient",
    "nonces",
    "eip712Domain",
}


def test_data_union_abi_has_the_whole_public_face():
    assert function_names(load_abi("DataUnion")) >= PUBLIC_FUNCTIONS


def test_missing_artifact_names_the_fix(tmp_path):
    with pytest.raises(ArtifactError, match="make compile"):
        load_abi("Nope", tmp_path)


def test_artifact_without_abi_is_rejected(tmp_path):
    (tmp_path / "Broken.json").write_text(json.dumps({"bytecode": "0x"}))
    with pytest.raises(ArtifactError, match="no ABI"):
        load_abi("Broken", tmp_path)


def test_artifact_that_is_not_json_is_rejected(tmp_path):
    (tmp_path / "Garbled.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_abi("Garbled", tmp_path)


def test_artifacts_folder_may_hold_bare_abis(tmp_path):
    (tmp_path / "Bare.json").write_text(json.dumps([{"type": "function", "name": "ping"}]))
    assert function_names(load_abi("Bare", tmp_path)) == {"ping"}


@pytest.mark.parametrize("contract", abis.CONTRACTS)
def test_packaged_abi_equals_the_compiled_contract(contract):
    built = json.loads((abis.BUILD_DIR / f"{contract}.json").read_text())["abi"]
    assert load_abi(contract) == built, (
        f"the packaged ABI of {contract} is not the compiled one: run `make compile`"
    )


def test_package_holds_exactly_the_listed_abis():
    assert sorted(p.name for p in PACKAGED.glob("*.json")) == sorted(
        f"{name}.json" for name in abis.CONTRACTS
    )


def test_relayer_reads_the_package_not_the_build_folder():
    # The demo's mock token is compiled into build/contracts but never packaged.
    assert load_abi("MockStablecoin", abis.BUILD_DIR)
    with pytest.raises(ArtifactError, match=r"no ABI for MockStablecoin in the relayer package"):
        load_abi("MockStablecoin")


def test_extraction_writes_the_abi_alone_and_drops_stale_files(tmp_path):
    out = tmp_path / "abi"
    out.mkdir()
    (out / "Removed.json").write_text("[]")
    written = abis.extract(abis.BUILD_DIR, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
    for path in written:
        built = json.loads((abis.BUILD_DIR / path.name).read_text())["abi"]
        assert json.loads(path.read_text()) == built


def test_extraction_with_an_artifact_missing_writes_nothing(tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    (build / "DataUnion.json").write_text((abis.BUILD_DIR / "DataUnion.json").read_text())
    out = tmp_path / "abi"
    with pytest.raises(abis.AbiExtractionError, match="make compile"):
        abis.extract(build, out)
    assert not out.exists()
