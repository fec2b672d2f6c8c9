"""Wallets for the demo's people: a fresh key each, signing transactions and EIP-712 messages
locally with eth-account, as a browser or hardware wallet would. Nothing here uses brownie."""

from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from relayer.artifacts import load_abi
from relayer.eip712 import permit_document
from scripts.demo_services import DemoError
from scripts.helpers import BUILD_CONTRACTS


@dataclass
class Wallet:
    """One person's key on one chain. `name` and `label` (a role, or a member's data type) are
    for the story only."""

    name: str
    label: str
    w3: Web3
    account: LocalAccount = field(default_factory=Account.create)
    gas_used: int = 0

    @property
    def address(self) -> str:
        return str(self.account.address)

    def send(self, call: Any, what: str) -> Any:
        """Sign and send a contract call; returns the receipt, or stops the demo on a revert."""
        transaction = call.build_transaction(
            {
                "from": self.address,
                "nonce": self.w3.eth.get_transaction_count(self.address, "pending"),
                "chainId": self.w3.eth.chain_id,
            }
        )
        signed = self.account.sign_transaction(transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            self.w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30
        )
        if receipt.status != 1:
            raise DemoError(f"{self.name}: {what} reverted in {receipt.transactionHash.hex()}")
        self.gas_used += receipt.gasUsed
        return receipt

    def sign_typed(self, document: dict[str, Any]) -> str:
        return "0x" + self.account.sign_typed_data(full_message=document).signature.hex()

    def permit(self, token: Contract, spender: str, value: int, deadline: int) -> tuple[Any, ...]:
        """An EIP-2612 permit for `spender`, as (v, r, s)."""
        message = {
            "owner": self.address,
            "spender": spender,
            "value": value,
            "nonce": token.functions.nonces(self.address).call(),
            "deadline": deadline,
        }
        document = permit_document(
            token.functions.name().call(), "1", self.w3.eth.chain_id, token.address, message
        )
        signed = self.account.sign_typed_data(full_message=document)
        return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def contracts(w3: Web3, record: dict[str, Any]) -> tuple[Contract, Contract]:
    """The union and its pool token, from the deployment record and the build's ABIs."""
    union = w3.eth.contract(
        address=record["union"], abi=load_abi(record.get("contract", "DataUnion"))
    )
    # The mock token is the demo's, not the relayer's: its ABI is read from the build.
    mock_abi = load_abi("MockStablecoin", BUILD_CONTRACTS)
    token = w3.eth.contract(address=record["token"], abi=mock_abi)
    return union, token
