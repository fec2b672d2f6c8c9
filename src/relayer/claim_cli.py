"""`relayer claim`: a member of a root-mode union (DataUnionRoots) claims with the relayer gone.
Everything it needs is given here: the published report of the epoch in force, the union's
address, an RPC URL (better from the environment than the command line) and the member's key
in a file (hex, or an encrypted keystore with its password in the environment). No relayer
settings, no database.

It rebuilds the tree from the report (relayer.published_tree, relayer.merkle), checks its root
and epoch against the chain's `activeRoot()`, reads what the member's leaf can claim, and sends
`claim(to, amount, leaf, proof)` from the member's key, saying what it does at each step. The
key and the RPC URL are registered with relayer.redact before anything is logged, and only the
URL's `scheme://host:port` is ever shown.
"""

import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import click
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3Exception
from web3.logs import DISCARD

from relayer import published_tree, redact
from relayer.artifacts import load_abi
from relayer.attribution import is_checksummed
from relayer.errors import RelayerError

PASSWORD_ENV = "RELAYER_CLAIM_KEY_PASSWORD"
EVERYTHING = 2**256 - 1
#: Seconds between receipt polls.
POLL_S = 0.5


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {redact.redact(message)}", err=True)
    sys.exit(2)


def _say(message: str) -> None:
    click.echo(message, err=True)


def load_member_key(key_file: Path) -> LocalAccount:
    """The member's key from a file: a hex private key, or an encrypted keystore whose password
    is in RELAYER_CLAIM_KEY_PASSWORD. Registered for redaction at once."""
    text = key_file.read_text().strip()
    if text.startswith("{"):
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            _fail(f"{key_file} is a keystore: set {PASSWORD_ENV}")
        redact.register([password])
        try:
            secret: Any = Account.decrypt(json.loads(text), password)
        except ValueError:
            _fail(f"{key_file}: wrong password or not a keystore")
    else:
        secret = text
    try:
        account: LocalAccount = Account.from_key(secret)
    except (ValueError, TypeError):
        _fail(f"{key_file} does not hold a valid private key")  # never echo the value
    redact.protect_key(account.key)
    return account


def _tokens(units: int, decimals: int, symbol: str) -> str:
    return f"{Decimal(units).scaleb(-decimals):f} {symbol} ({units} units)"


def _decode_revert(abi: list[dict[str, Any]], data: Any) -> str:
    """A custom error's name and arguments from revert data, else a plain 'reverted'."""
    if not isinstance(data, str) or len(data) < 10:
        return "the contract reverted"
    for entry in abi:
        if entry.get("type") != "error":
            continue
        types = [i["type"] for i in entry["inputs"]]
        signature = f"{entry['name']}({','.join(types)})"
        if function_signature_to_4byte_selector(signature).hex() == data[2:10].lower():
            args = Web3().codec.decode(types, bytes.fromhex(data[10:]))
            return f"{entry['name']}({', '.join(map(str, args))})"
    return "the contract reverted"


def _check_report(report: published_tree.PublishedTree, union: str, chain_id: int) -> None:
    if report.union is not None and report.union.lower() != union.lower():
        _fail(f"the report is of union {report.union}, not of {union}")
    if report.chain_id is not None and report.chain_id != chain_id:
        _fail(f"the report is of chain {report.chain_id}; the node serves chain {chain_id}")


@click.command()
@click.option(
    "--report",
    "report_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The published report (JSON) of the epoch in force, with its tree section.",
)
@click.option("--union", required=True, help="The DataUnionRoots' address (EIP-55).")
@click.option(
    "--rpc-url",
    envvar="RELAYER_CLAIM_RPC_URL",
    required=True,
    help="JSON-RPC URL (or RELAYER_CLAIM_RPC_URL, which keeps a provider's key off the command "
    "line).",
)
@click.option(
    "--key-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"The member's key: a hex private key or a keystore (password in ${PASSWORD_ENV}).",
)
@click.option("--to", "recipient", default=None, help="Pay to this address (default: the member).")
@click.option(
    "--amount",
    type=click.IntRange(min=1),
    default=None,
    help="Token base units to claim (default: everything claimable).",
)
@click.option("--chain-id", type=int, default=None, help="Refuse a node serving another chain.")
@click.option(
    "--dry-run", is_flag=True, help="Check the report and show what would be claimed; send nothing."
)
@click.option("--tx-timeout", type=click.FloatRange(min=1), default=120.0, show_default=True)
@click.option("--rpc-timeout", type=click.FloatRange(min=1), default=30.0, show_default=True)
def claim(
    report_path: Path,
    union: str,
    rpc_url: str,
    key_file: Path,
    recipient: str | None,
    amount: int | None,
    chain_id: int | None,
    dry_run: bool,
    tx_timeout: float,
    rpc_timeout: float,
) -> None:
    """Claim from a root-mode union with its published report, without the relayer."""
    redact.register(redact.url_secrets(rpc_url))
    shown_rpc = redact.redact_url(rpc_url)
    if not is_checksummed(union):
        _fail("--union must be a checksummed 0x address (EIP-55)")
    if recipient is not None and not is_checksummed(recipient):
        _fail("--to must be a checksummed 0x address (EIP-55)")
    member = load_member_key(key_file)
    try:
        report = published_tree.read(json.loads(report_path.read_bytes()))
    except json.JSONDecodeError:
        _fail(f"{report_path} is not JSON")
    except RelayerError as exc:
        _fail(f"{report_path}: {exc}")
    _say(
        f"report {report_path.name}: epoch {report.epoch}, {len(report.tree.leaves)} leaves, "
        f"root 0x{report.root.hex()} (rebuilt from its leaves)"
    )
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": rpc_timeout}))
    abi = load_abi("DataUnionRoots")
    try:
        actual = int(w3.eth.chain_id)
        if chain_id is not None and actual != chain_id:
            _fail(f"the node at {shown_rpc} serves chain {actual}, not {chain_id}")
        _check_report(report, union, actual)
        contract = w3.eth.contract(address=Web3.to_checksum_address(union), abi=abi)
        epoch, root, _start = contract.functions.activeRoot().call()
        token_address = contract.functions.token().call()
        token = w3.eth.contract(address=token_address, abi=load_abi("IERC20Metadata"))
        decimals, symbol = token.functions.decimals().call(), token.functions.symbol().call()
        left = contract.functions.hasLeft(member.address).call()
    except (ContractLogicError, ContractCustomError):
        _fail(f"{union} on chain {actual} is not a root-mode union (no activeRoot)")
    except (Web3Exception, OSError) as exc:
        # A node's or HTTP library's text can carry the URL: only the kind of failure is shown.
        _fail(f"cannot read the union at {shown_rpc}: {type(exc).__name__}")
    _say(
        f"union {union} on chain {actual} ({shown_rpc}): root in force epoch {epoch} 0x{root.hex()}"
    )
    if epoch == 0:
        _fail("no root is in force yet: there is nothing to claim")
    if report.epoch != epoch or report.root != bytes(root):
        _fail(
            f"the report is epoch {report.epoch}'s (root 0x{report.root.hex()}), but the root in "
            f"force is epoch {epoch}'s (0x{root.hex()}): use epoch {epoch}'s published report"
        )
    leaf: tuple[int, int, int]
    proof: list[bytes]
    if left:
        leaf, proof = (0, 0, 0), []
        _say(f"member {member.address} left the union: their earnings are frozen, no leaf needed")
    else:
        found = report.claim_args(member.address)
        if found is None:
            _fail(f"epoch {epoch}'s tree has no leaf for {member.address}: nothing to claim")
        leaf, proof = found
        _say(
            f"member {member.address}: leaf (offset {leaf[0]}, previousShares {leaf[1]}, shares "
            f"{leaf[2]}), proof of {len(proof)} siblings"
        )
    to = recipient or member.address
    call = contract.functions
    try:
        available = int(call.claimable(member.address, leaf, proof).call())
    except (ContractLogicError, ContractCustomError) as exc:
        _fail(f"claimable refused the leaf: {_decode_revert(abi, exc.data)}")
    except (Web3Exception, OSError) as exc:
        _fail(f"cannot read the claimable amount at {shown_rpc}: {type(exc).__name__}")
    _say(f"claimable: {_tokens(available, decimals, symbol)}")
    if available == 0:
        _fail("nothing to claim")
    if amount is not None and amount > available:
        _fail(f"--amount {amount} is more than the {available} units claimable")
    wanted = EVERYTHING if amount is None else amount
    summary: dict[str, Any] = {
        "union": union,
        "epoch": epoch,
        "member": member.address,
        "to": to,
        "claimable": str(available),
        "amount": "everything" if amount is None else str(amount),
    }
    if dry_run:
        _say("dry run: nothing sent")
        click.echo(json.dumps(summary, indent=2))
        return
    summary.update(_send(w3, contract, abi, member, to, wanted, leaf, proof, tx_timeout, shown_rpc))
    _say(
        f"claimed {_tokens(int(summary['claimed']), decimals, symbol)} to {to} in transaction "
        f"{summary['transaction']} (block {summary['block']})"
    )
    click.echo(json.dumps(summary, indent=2))


def _send(
    w3: Web3,
    contract: Any,
    abi: list[dict[str, Any]],
    member: LocalAccount,
    to: str,
    amount: int,
    leaf: tuple[int, int, int],
    proof: list[bytes],
    tx_timeout: float,
    shown_rpc: str,
) -> dict[str, Any]:
    """Sign and send the claim, wait for its receipt (at most `tx_timeout` s); the Claimed
    event's amount, the transaction and its block."""
    try:
        tx = contract.functions.claim(to, amount, leaf, proof).build_transaction(
            {
                "from": member.address,
                "nonce": w3.eth.get_transaction_count(member.address, "pending"),
                "chainId": int(w3.eth.chain_id),
            }
        )
        tx_hash = w3.eth.send_raw_transaction(member.sign_transaction(tx).raw_transaction)
    except (ContractLogicError, ContractCustomError) as exc:
        _fail(f"the claim would revert, nothing sent: {_decode_revert(abi, exc.data)}")
    except (Web3Exception, OSError) as exc:
        _fail(f"the claim could not be sent through {shown_rpc}: {type(exc).__name__}")
    _say(f"sent claim transaction 0x{tx_hash.hex()}; waiting for its receipt")
    deadline = time.monotonic() + tx_timeout
    receipt = None
    while receipt is None:
        try:
            receipt = w3.eth.get_transaction_receipt(tx_hash)
        except Web3Exception:
            if time.monotonic() > deadline:
                _fail(f"no receipt for 0x{tx_hash.hex()} after {tx_timeout:.0f} s: check it later")
            time.sleep(POLL_S)
    if receipt["status"] != 1:
        _fail(f"the claim transaction 0x{tx_hash.hex()} reverted")
    [event] = contract.events.Claimed().process_receipt(receipt, errors=DISCARD)
    return {
        "claimed": str(event["args"]["amount"]),
        "transaction": "0x" + tx_hash.hex(),
        "block": receipt["blockNumber"],
    }
