"""The chain side of sending from the relayer's key: gas, fees (EIP-1559, or legacy `gasPrice` on
chains without a base fee), signing, broadcasting, receipts. No database and no nonce
bookkeeping: `relayer.outbox` owns those."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from relayer.chain import UnionChain
from relayer.errors import ChainError
from relayer.settings import Settings

log = logging.getLogger(__name__)

#: Added to every gas estimate: state can move between the estimate and the block.
GAS_MARGIN_PERCENT = 20

#: Node answers to a broadcast that leave nothing to do now: the transaction is in the pool
#: already; its nonce is used (by an attempt of the same row or by another transaction: the
#: receipts tell which); or the pool holds a same-nonce transaction paying at least as much.
BENIGN_REFUSALS = (
    "already known",
    "already imported",
    "known transaction",
    "alreadyknown",
    "nonce too low",
    "oldnonce",
    "underpriced",
)

#: Refusals that mean the signed fee is below what the chain now asks (the base fee rose past the
#: transaction's cap): only these are answered with a higher fee. Every other refusal (an
#: underfunded key, a full pool) is waited out at the same fee.
STALE_FEE_REFUSALS = (
    "less than block base fee",
    "less than base fee",
    "fee cap less than",
    "feecap",
    "max fee per gas less than",
)


class Refused(ChainError):
    """The node refused a broadcast for a reason that is not benign (see BENIGN_REFUSALS)."""

    code = "transaction_refused"
    status = 503

    @property
    def stale_fee(self) -> bool:
        return any(known in str(self).lower() for known in STALE_FEE_REFUSALS)


class Fees(NamedTuple):
    """EIP-1559 caps; a legacy transaction's `gasPrice` is carried as both."""

    max_fee: int
    priority_fee: int


@dataclass(frozen=True)
class SignedTx:
    tx_hash: str
    raw: str
    fees: Fees


def capped(fees: Fees, cap: int) -> Fees:
    max_fee = min(fees.max_fee, cap)
    return Fees(max_fee, min(fees.priority_fee, max_fee))


def raised_fees(current: Fees, market: Fees, percent: int, cap: int) -> Fees | None:
    """The fees of a replacement: both caps raised by `percent` (by at least 1 wei, so zero fees
    rise too: nodes take a replacement only if it pays strictly more), never below the market,
    cut at `cap`. None when the cap leaves no room to raise."""

    def up(value: int) -> int:
        return max(value + 1, -(-value * (100 + percent) // 100))

    fees = capped(
        Fees(
            max(up(current.max_fee), market.max_fee),
            max(up(current.priority_fee), market.priority_fee),
        ),
        cap,
    )
    if fees.max_fee <= current.max_fee or fees.priority_fee <= current.priority_fee:
        return None
    return fees


def node_message(exc: Web3RPCError) -> str:
    """The node's own error text, without web3's wrapping."""
    error = exc.rpc_response.get("error") if exc.rpc_response else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return str(exc.message)


class Sender:
    """Transactions from `signer` to the union. Keeps the key to itself: nothing here logs or
    raises with it."""

    def __init__(self, chain: UnionChain, signer: LocalAccount, settings: Settings) -> None:
        self.chain = chain
        self.w3: Web3 = chain.w3
        self.settings = settings
        self._signer = signer
        self._legacy: bool | None = {"legacy": True, "eip1559": False}.get(settings.tx_type)

    @property
    def address(self) -> ChecksumAddress:
        return self._signer.address

    @property
    def fee_cap(self) -> int:
        return int(Web3.to_wei(self.settings.max_fee_gwei, "gwei"))

    def gas(self, data: HexStr) -> int:
        """The gas limit for a call, margin included; Reverted if the contract refuses it."""
        return self.chain.estimate_gas(self.address, data) * (100 + GAS_MARGIN_PERCENT) // 100

    @property
    def legacy(self) -> bool:
        """Whether to send type-0 transactions: set, or (auto) read once from the latest block,
        which has no `baseFeePerGas` on a chain without EIP-1559."""
        if self._legacy is None:
            self._legacy = self.w3.eth.get_block("latest").get("baseFeePerGas") is None
            if self._legacy:
                log.info("the chain's blocks have no base fee: sending legacy transactions")
        return self._legacy

    def market_fees(self) -> Fees:
        """What the node suggests now: the gas price for a legacy transaction, else the usual
        twice the base fee plus the tip as cap."""
        if self.legacy:
            price = int(self.w3.eth.gas_price)
            return Fees(price, price)
        priority = int(self.w3.eth.max_priority_fee)
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        return Fees(2 * base + priority, priority)

    def initial_fees(self) -> Fees:
        return capped(self.market_fees(), self.fee_cap)

    def replacement_fees(self, current: Fees) -> Fees | None:
        return raised_fees(
            current, self.market_fees(), self.settings.fee_bump_percent, self.fee_cap
        )

    def sign(self, to: str, data: HexStr, nonce: int, gas: int, fees: Fees) -> SignedTx:
        tx: dict[str, Any] = {
            "chainId": self.settings.chain_id,
            "nonce": nonce,
            "to": to_checksum_address(to),
            "data": data,
            "value": 0,
            "gas": gas,
        }
        if self.legacy:
            # EIP-155 (chain id in the signature), one price for base fee and tip together.
            tx["gasPrice"] = fees.max_fee
            fees = Fees(fees.max_fee, fees.max_fee)
        else:
            tx.update(type=2, maxFeePerGas=fees.max_fee, maxPriorityFeePerGas=fees.priority_fee)
        signed = self._signer.sign_transaction(tx)
        return SignedTx(Web3.to_hex(signed.hash), Web3.to_hex(signed.raw_transaction), fees)

    def balance(self) -> int:
        return int(self.w3.eth.get_balance(self.address))

    def broadcast(self, raw: str) -> None:
        """Send a signed transaction; the node's benign refusals are logged, others raise."""
        try:
            self.w3.eth.send_raw_transaction(HexStr(raw))
        except Web3RPCError as exc:
            message = node_message(exc)
            if any(known in message.lower() for known in BENIGN_REFUSALS):
                log.info("broadcast: the node says %r; the receipts will tell", message)
                return
            raise Refused(f"the node refused the transaction: {message}") from None

    def nonce(self, block: str) -> int:
        """The sender's transaction count at `block` ("latest" or "pending")."""
        return int(self.w3.eth.get_transaction_count(self.address, block))  # type: ignore[arg-type]

    def receipt(self, tx_hashes: Iterable[str]) -> TxReceipt | None:
        """The receipt of whichever of `tx_hashes` is mined, if one is."""
        for tx_hash in tx_hashes:
            try:
                return self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except TransactionNotFound:
                continue
        return None

    def buried(self, receipt: TxReceipt) -> bool:
        confirmations = self.settings.confirmations
        return confirmations == 0 or (
            self.w3.eth.block_number >= receipt["blockNumber"] + confirmations
        )

    def revert_reason(self, to: str, data: str, gas: int | None, receipt: TxReceipt) -> str:
        """Why a mined transaction reverted, by replaying its call at its block."""
        call: Any = {"from": self.address, "to": to_checksum_address(to), "data": data, "gas": gas}
        try:
            self.w3.eth.call(call, block_identifier=receipt["blockNumber"])
        except ContractLogicError as exc:
            return str(self.chain.revert_error(exc))
        except Web3RPCError as exc:
            return f"reverted on-chain; replaying it failed: {node_message(exc)}"
        if gas is not None and receipt["gasUsed"] >= gas:
            return f"reverted on-chain: out of gas (limit {gas})"
        return "reverted on-chain; replaying the call at its block did not revert"
