"""The benchmark's own chain: an anvil it starts and stops, and a thin web3 layer that sends a
transaction, waits for it and returns its receipt (gas used, refunds applied)."""

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract

ROOT = Path(__file__).resolve().parent.parent
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
# Room for the 1,000-payee PaymentSplitter constructor, far above what any real chain allows in
# one block; every other transaction of the benchmark fits a 30M-gas block and the size limits.
BLOCK_GAS_LIMIT = 200_000_000
TX_GAS = 60_000_000


def progress(message: str) -> None:
    """A progress line on stderr, so the tables on stdout stay clean."""
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def anvil() -> Iterator[Web3]:
    """A fresh anvil on a free local port, with gas price 0 and any sender allowed (so members
    whose keys the benchmark derives can send without being funded)."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(ANVIL),
            "--port",
            str(port),
            "--quiet",
            "--accounts",
            "10",
            "--gas-limit",
            str(BLOCK_GAS_LIMIT),
            "--block-base-fee-per-gas",
            "0",
            "--auto-impersonate",
            # Only the 1,000-payee PaymentSplitter needs it: its initcode (constructor arguments
            # included) is above EIP-3860's 49,152 bytes.
            "--disable-code-size-limit",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 120}))
        deadline = time.monotonic() + 20
        while not w3.is_connected():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("anvil did not start")
            time.sleep(0.05)
        yield w3
    finally:
        process.terminate()
        process.wait(timeout=10)


def anvil_version() -> str:
    out = subprocess.run([str(ANVIL), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0].removeprefix("anvil Version: ").strip()


def local_key(label: str) -> Any:
    """A reproducible key (and address) for the benchmark's own actors; never a real account."""
    return Account.from_key(keccak(text=f"data-union gas bench {label}"))


def addresses(count: int, salt: str) -> list[str]:
    """`count` distinct addresses that look like real ones, so calldata costs what it will."""
    return [to_checksum_address(keccak(f"{salt}:{i}".encode())[12:]) for i in range(count)]


class Chain:
    """Sends transactions and deploys contracts on one anvil."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.accounts = w3.eth.accounts

    def send(self, call: Any, sender: str, gas: int = TX_GAS) -> Any:
        """Sends a contract function call; returns its receipt, raising if it reverted."""
        tx_hash = call.transact({"from": sender, "gas": gas, "gasPrice": 0})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction reverted: {call.fn_name} from {sender}")
        return receipt

    def advance(self, seconds: int) -> None:
        """Moves anvil's clock on by `seconds` and mines a block at the new time."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def deploy(
        self, abi: Any, bytecode: str, *args: Any, gas: int = TX_GAS
    ) -> tuple[Contract, Any]:
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        receipt = self.send(factory.constructor(*args), self.accounts[0], gas)
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=abi), receipt

    def artifact(self, name: str) -> tuple[Any, str]:
        """ABI and bytecode of one of this project's contracts, as `brownie compile` built it."""
        data = json.loads((ROOT / "build" / "contracts" / f"{name}.json").read_text())
        bytecode = data["bytecode"]
        return data["abi"], bytecode if bytecode.startswith("0x") else f"0x{bytecode}"
