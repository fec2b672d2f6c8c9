"""A contract's refusal reaches the API as data an integrator can act on: the custom error's name
and its arguments by their ABI names, in `details`, with integers as decimal strings, bytes as
0x hex and addresses checksummed."""

from brownie import chain
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from fixtures.api import assert_error, index
from fixtures.union import CLAIM_FIELDS, pay, post, sign_typed

REVENUE = 1_000_000


def test_a_contract_revert_answers_with_the_decoded_custom_error_in_details(
    api, context, union, stablecoin, attester, buyer, alice
):
    post(union, attester, 1, {alice: 100})
    pay(stablecoin, union, buyer, REVENUE)
    index(context)
    available = union.claimable(alice)
    too_much = available + 1
    message = {
        "member": alice.address,
        "to": alice.address,
        "amount": too_much,
        "nonce": union.nonces(alice),
        "deadline": chain.time() + 3600,
    }
    domain = ("DataUnion", "1", chain.id, union.address)
    signature = sign_typed(alice.private_key, domain, "Claim", CLAIM_FIELDS, message).signature
    claim = {k: v for k, v in message.items() if k != "nonce"}

    response = api.post("/v1/claims", json={**claim, "signature": "0x" + bytes(signature).hex()})

    error = assert_error(response, 422, "contract_reverted")
    assert error["details"] == {
        "error": "DataUnionInsufficientEarnings",
        "args": {"requested": str(too_much), "available": str(available)},
    }
    assert "DataUnionInsufficientEarnings" in error["message"]


def test_custom_error_arguments_are_json_safe_by_their_abi_types(context, alice):
    def data(signature, types, values):
        return (
            "0x" + (function_signature_to_4byte_selector(signature) + encode(types, values)).hex()
        )

    expected, given = b"\x01" * 32, b"\x02" * 32
    mismatch = context.chain.decode_error(
        data(
            "DataUnionReportHashMismatch(uint64,bytes32,bytes32)",
            ["uint64", "bytes32", "bytes32"],
            [7, expected, given],
        )
    )
    assert mismatch.as_details() == {
        "error": "DataUnionReportHashMismatch",
        "args": {"epoch": "7", "expected": "0x" + "01" * 32, "given": "0x" + "02" * 32},
    }
    too_large = context.chain.decode_error(
        data(
            "DataUnionSharesTooLarge(address,uint256,uint256)",
            ["address", "uint256", "uint256"],
            [alice.address, 2**60, 2**60 - 1],
        )
    )
    assert too_large.as_details()["args"] == {
        "member": alice.address,
        "shares": str(2**60),
        "maxShares": str(2**60 - 1),
    }
