"""EIP-712 messages members sign: `Claim` (checked by the contract), `Contribution` (consent to
count a contribution) and `DataDeletion` (consent to delete off-chain records); and, for buyers'
clients, the pool token's EIP-2612 `Permit`.

All three share the union's own domain (name "DataUnion", version "1", the chain id and the
union's address), so a signature is bound to one deployment on one chain, and a wallet shows the
member which union asks.
"""

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.exceptions import BadSignature
from eth_utils import keccak, to_checksum_address

from relayer.errors import Forbidden

DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

TYPES: dict[str, list[dict[str, str]]] = {
    "Claim": [
        {"name": "member", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "amount", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Contribution": [
        {"name": "member", "type": "address"},
        {"name": "dataType", "type": "string"},
        {"name": "records", "type": "uint256"},
        {"name": "qualityPpm", "type": "uint32"},
        {"name": "uniquenessPpm", "type": "uint32"},
        {"name": "contentHash", "type": "bytes32"},
    ],
    "DataDeletion": [
        {"name": "member", "type": "address"},
        {"name": "deadline", "type": "uint256"},
    ],
}

#: EIP-2612 `Permit`, signed by a buyer in the pool token's own domain (not the union's).
PERMIT_FIELDS = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]

#: secp256k1 group order / 2: signatures with a larger s are malleable copies and are refused.
HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def typed_data(
    chain_id: int, union: str, primary_type: str, message: dict[str, Any]
) -> dict[str, Any]:
    """The full EIP-712 document a wallet signs with `eth_signTypedData_v4`."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, primary_type: TYPES[primary_type]},
        "primaryType": primary_type,
        "domain": {
            "name": "DataUnion",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(union),
        },
        "message": message,
    }


def permit_document(
    domain_name: str, domain_version: str, chain_id: int, token: str, message: dict[str, Any]
) -> dict[str, Any]:
    """The EIP-2612 `Permit` document for `token`, whose domain name and version the token
    declares (EIP-5267); `message` has owner, spender, value, nonce and deadline."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "Permit": PERMIT_FIELDS},
        "primaryType": "Permit",
        "domain": {
            "name": domain_name,
            "version": domain_version,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(token),
        },
        "message": message,
    }


def digest(document: dict[str, Any]) -> str:
    """keccak256 of the signable message: a stable id for one-shot signatures."""
    signable = encode_typed_data(full_message=document)
    return "0x" + keccak(b"\x19" + signable.version + signable.header + signable.body).hex()


def recover(document: dict[str, Any], signature: str) -> str:
    """The checksummed address that signed `document`; Forbidden for a malformed or malleable
    signature."""
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        raise Forbidden("signature is not hex") from None
    if len(raw) != 65:
        raise Forbidden("signature must be 65 bytes")
    if int.from_bytes(raw[32:64], "big") > HALF_N:
        raise Forbidden("signature has a high s value (malleable)")
    try:
        return str(Account.recover_message(encode_typed_data(full_message=document), signature=raw))
    except (BadSignature, ValueError):
        raise Forbidden("signature does not recover to an address") from None


def require_signer(document: dict[str, Any], signature: str, expected: str) -> None:
    """Forbidden unless `signature` over `document` comes from `expected`."""
    if recover(document, signature) != to_checksum_address(expected):
        raise Forbidden(f"signature is not from {to_checksum_address(expected)}")
