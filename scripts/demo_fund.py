"""Fund another buyer (or anyone) on the demo's local chain, for example while `make serve` runs:
ether for gas with anvil's `anvil_setBalance`, and the mock stablecoin through its open `mint`,
sent from the address itself by anvil's impersonation (so no key is needed, and none is asked).

    .venv/bin/python -m scripts.demo_fund 0xTheirAddress [--eth 10] [--tokens 1000]
        [--rpc http://127.0.0.1:8545] [--deployment demo-output/deployment.json]

Local chains only: it refuses a node whose chain id is not a development chain's (31337, 1337).
"""

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path

from web3 import Web3

from relayer.attribution import normalized_address
from relayer.errors import InvalidInput
from scripts.helpers import LOCAL_CHAIN_IDS, ROOT

RECEIPT_TIMEOUT = 30
#: What is called of the demo's mock stablecoin (contracts/test/MockStablecoin.sol).
TOKEN_ABI = [
    {
        "type": "function",
        "name": "mint",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [],
    },
    *(
        {
            "type": "function",
            "name": name,
            "stateMutability": "view",
            "inputs": inputs,
            "outputs": [{"name": "", "type": kind}],
        }
        for name, inputs, kind in (
            ("decimals", [], "uint8"),
            ("balanceOf", [{"name": "account", "type": "address"}], "uint256"),
        )
    ),
]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("address", help="the buyer's 0x address (any letter case)")
    parser.add_argument("--eth", type=Decimal, default=Decimal(10), help="ether for gas (10)")
    parser.add_argument(
        "--tokens", type=Decimal, default=Decimal(1000), help="whole stablecoin units (1000)"
    )
    parser.add_argument("--rpc", default="http://127.0.0.1:8545", help="the demo chain's RPC")
    parser.add_argument(
        "--deployment",
        type=Path,
        default=ROOT / "demo-output" / "deployment.json",
        help="the demo's deployment record (for the token's address and decimals)",
    )
    return parser.parse_args(argv)


def rpc(w3: Web3, method: str, *params: object) -> object:
    answer = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in answer:
        raise SystemExit(f"error: {method}: {answer['error']}")
    return answer.get("result")


def fund(
    w3: Web3, deployment: dict[str, object], address: str, eth: Decimal, tokens: Decimal
) -> int:
    """Set `address`'s ether balance and mint it `tokens`; returns its token balance."""
    token = w3.eth.contract(
        address=Web3.to_checksum_address(str(deployment["token"])), abi=TOKEN_ABI
    )
    decimals = int(token.functions.decimals().call())
    rpc(w3, "anvil_setBalance", address, hex(int(eth * 10**18)))
    rpc(w3, "anvil_impersonateAccount", address)
    try:
        units = int(tokens * 10**decimals)
        tx = token.functions.mint(address, units).transact({"from": address})
        receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=RECEIPT_TIMEOUT)
        if receipt["status"] != 1:
            raise SystemExit("error: the mock token's mint reverted")
    finally:
        rpc(w3, "anvil_stopImpersonatingAccount", address)
    rpc(w3, "anvil_setBalance", address, hex(int(eth * 10**18)))  # the mint's gas given back
    return int(token.functions.balanceOf(address).call())


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        address = normalized_address(args.address)
    except InvalidInput as exc:
        raise SystemExit(f"error: {args.address!r}: {exc}") from None
    w3 = Web3(Web3.HTTPProvider(args.rpc, request_kwargs={"timeout": 10}))
    chain_id = w3.eth.chain_id
    if chain_id not in LOCAL_CHAIN_IDS:
        raise SystemExit(
            f"error: chain {chain_id} is not a local chain; this funds demo chains only"
        )
    try:
        deployment = json.loads(args.deployment.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"error: cannot read {args.deployment}: {exc}") from None
    balance = fund(w3, deployment, address, args.eth, args.tokens)
    symbol = deployment.get("tokenSymbol", "tokens")
    print(
        f"{address}: {args.eth} ETH for gas and a token balance of {balance} base units ({symbol})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
