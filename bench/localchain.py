"""A throw-away anvil chain with the union deployed from the build artifacts, for benchmarks.

Uses web3.py only (like the relayer) so a benchmark measures the relayer, not brownie.
"""

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "contracts"
ATTESTER_ROLE = Web3.keccak(text="ATTESTER_ROLE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalUnion:
    w3: Web3
    rpc_url: str
    admin: LocalAccount
    relayer: LocalAccount
    union: Any
    token: Any

    def send(self, account: LocalAccount, call: Any) -> Any:
        tx = call.build_transaction(
            {"from": account.address, "nonce": self.w3.eth.get_transaction_count(account.address)}
        )
        signed = account.sign_transaction(tx)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            self.w3.eth.send_raw_transaction(signed.raw_transaction)
        )
        assert receipt["status"] == 1, receipt
        return receipt


def _artifact(name: str) -> dict[str, Any]:
    artifact: dict[str, Any] = json.loads((BUILD / f"{name}.json").read_text())
    return artifact


def _deploy(w3: Web3, account: LocalAccount, name: str, *args: Any) -> Any:
    artifact = _artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(*args).build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)}
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    )
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


@contextmanager
def local_union(fee_bps: int = 500, fee_delay: int = 2 * 24 * 3600) -> Iterator[LocalUnion]:
    """Start anvil on a free port, deploy a 6-decimal stablecoin and the union with fresh keys
    (the relayer key holds the attester role), and stop anvil afterwards."""
    anvil = shutil.which("anvil") or str(ROOT / "node_modules" / ".bin" / "anvil")
    port = free_port()
    process = subprocess.Popen(
        [
            anvil,
            "--port",
            str(port),
            "--gas-limit",
            "30000000",
            "--block-base-fee-per-gas",
            "0",
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        rpc_url = f"http://127.0.0.1:{port}"
        w3 = Web3(Web3.HTTPProvider(rpc_url))
        for _ in range(100):
            if w3.is_connected():
                break
            time.sleep(0.05)
        funder = w3.eth.accounts[0]
        admin, relayer = Account.create(), Account.create()
        for account in (admin, relayer):
            w3.eth.send_transaction({"from": funder, "to": account.address, "value": 10**20})
        token = _deploy(w3, admin, "MockStablecoin")
        union = _deploy(
            w3,
            admin,
            "DataUnion",
            token.address,
            admin.address,
            relayer.address,
            admin.address,
            admin.address,
            fee_bps,
            fee_delay,
        )
        yield LocalUnion(w3, rpc_url, admin, relayer, union, token)
    finally:
        process.terminate()
        process.wait(timeout=10)
