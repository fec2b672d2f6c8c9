"""Gasless claims: check a member's EIP-712 `Claim` locally, then relay it with `claimWithSig`.

The local check turns the common mistakes (wrong signer, stale nonce, past deadline) into a clear
4xx before any gas is spent; the contract checks everything again. A member whose address is a
contract (an ERC-1271 wallet) cannot be checked locally and is left to the contract's check.
"""

from eth_utils import to_checksum_address

from relayer import eip712
from relayer.chain import UnionChain
from relayer.errors import Forbidden, InvalidInput
from relayer.outbox import Outbox
from relayer.schemas import ClaimIn
from relayer.states import TxPurpose


def claim_document(chain_id: int, union: str, claim: ClaimIn, nonce: int) -> dict[str, object]:
    return eip712.typed_data(
        chain_id,
        union,
        "Claim",
        {
            "member": claim.member,
            "to": claim.to,
            "amount": claim.amount,
            "nonce": nonce,
            "deadline": claim.deadline,
        },
    )


def relay(chain: UnionChain, outbox: Outbox, claim: ClaimIn, *, chain_id: int) -> str:
    """Submit the member's signed claim through `outbox`; returns the transaction hash."""
    # The contract compares the deadline with the block's time, so the check here does too.
    if claim.deadline < int(chain.w3.eth.get_block("latest")["timestamp"]):
        raise InvalidInput("the claim's deadline has passed")
    if to_checksum_address(claim.to) == chain.address:
        raise InvalidInput("the union itself cannot receive a claim")
    nonce = int(chain.view("nonces", claim.member))
    document = claim_document(chain_id, chain.address, claim, nonce)
    if not chain.w3.eth.get_code(to_checksum_address(claim.member)):
        signer = eip712.recover(document, claim.signature)
        if signer != claim.member:
            raise Forbidden(
                f"signature is from {signer}, not {claim.member} (or signed for another nonce "
                f"than the current {nonce})"
            )
    data = chain.calldata(
        "claimWithSig",
        claim.member,
        claim.to,
        claim.amount,
        claim.deadline,
        bytes.fromhex(claim.signature[2:]),
    )
    return outbox.submit(TxPurpose.CLAIM, data)
