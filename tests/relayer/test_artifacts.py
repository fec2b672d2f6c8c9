"""The relayer reads contract ABIs from the build artifacts, and says clearly when it cannot."""

import json

import pytest

from relayer.artifacts import function_names, load_abi
from relayer.errors import ArtifactError

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
