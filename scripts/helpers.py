"""What every operator script shares: which network this is, who signs, where the deployment
record lives, checked parameters, and "show the plan, ask, simulate, then send".

Environment (every variable is optional on a local chain):
- `UNION_ACCOUNT`: the brownie account alias that signs (`brownie accounts new <alias>` or
  `brownie accounts import <alias> <keystore.json>`); brownie asks for its password, or reads
  `UNION_ACCOUNT_PASSWORD` (for automation: the keystore and its password together are the key,
  so keep that variable out of shells and logs). On a local chain it may also be the address of
  a node account, and the default is the node's first unlocked account.
  Private keys are never read from a file or a variable here.
- `UNION_DEPLOYMENT`: the deployment record (default `deployments/<network>.json`).
- `UNION_YES=1`: answer yes to the confirmation that live networks ask for (automation).
"""

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_utils import is_hex_address

from relayer.attribution import checksummed

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = ROOT / "deployments"
#: brownie's compiled artifacts; the relayer package carries only the ABIs it calls.
BUILD_CONTRACTS = ROOT / "build" / "contracts"

#: Chain ids that only development nodes use (anvil, hardhat, ganache).
ANVIL_CHAIN_ID = 31337
LOCAL_CHAIN_IDS = frozenset({ANVIL_CHAIN_ID, 1337})

ZERO_ADDRESS = "0x" + "00" * 20

#: Mirrors of the contract's immutable bounds, to refuse a bad parameter before anything is sent.
MAX_FEE_BPS = 2_000
MIN_FEE_DELAY = 3_600
MAX_FEE_DELAY = 30 * 24 * 3_600
MIN_ATTRIBUTION_DELAY = 3_600
MAX_ATTRIBUTION_DELAY = 30 * 24 * 3_600

#: The roles a script may grant or revoke, by the name an operator types.
ROLES = {
    "admin": "DEFAULT_ADMIN_ROLE",
    "attester": "ATTESTER_ROLE",
    "pauser": "PAUSER_ROLE",
    "guardian": "GUARDIAN_ROLE",
}
#: Roles that change only after the attribution delay (schedule, wait, execute; cancellable).
DELAYED_ROLES = ("attester", "guardian")
#: What an operator types for a delayed change, and the contract's `grant` flag.
CHANGES = {"grant": True, "revoke": False}
#: `attributionState()`'s state, by value.
ATTRIBUTION_STATES = ("finished", "pending", "vetoed")
#: Blocks per eth_getLogs request: public nodes cap the range one request may cover.
LOG_CHUNK = 5_000


class ScriptError(SystemExit):
    """Stops a script with a message and exit status 1, before anything more is sent."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


def say(message: str = "") -> None:
    print(message, flush=True)


def network_name() -> str:
    from brownie import network

    return str(network.show_active())


def is_local() -> bool:
    """A development network (brownie's own kind) on a development chain id: both, so that a
    node that merely reports 31337 behind a live network's name is still treated as live."""
    from brownie import chain
    from brownie._config import CONFIG

    return CONFIG.network_type == "development" and chain.id in LOCAL_CHAIN_IDS


def check_chain() -> None:
    """Refuse a live network whose node serves another chain than the one it was added with."""
    from brownie import chain
    from brownie._config import CONFIG

    expected = CONFIG.active_network.get("chainid")
    if CONFIG.network_type == "live" and expected is not None and int(expected) != chain.id:
        raise ScriptError(
            f"network '{network_name()}' was added with chain id {expected}, "
            f"but its node serves chain {chain.id}"
        )


def address(value: Any, name: str) -> str:
    """`value` as an EIP-55 address; refuses malformed, unchecksummed and zero addresses."""
    text = str(getattr(value, "address", value)).strip()
    if not is_hex_address(text):
        raise ScriptError(f"{name} is not an address: {text!r}")
    if checksummed(text) != text:
        raise ScriptError(
            f"{name} {text} fails its EIP-55 checksum; copy the address from its source "
            f"(the checksummed form would be {checksummed(text)})"
        )
    if text == ZERO_ADDRESS:
        raise ScriptError(f"{name} is the zero address")
    return text


def integer(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = int(str(value).replace("_", ""))
    except ValueError:
        raise ScriptError(f"{name} is not an integer: {value!r}") from None
    if not low <= number <= high:
        raise ScriptError(f"{name} must be between {low} and {high}, got {number}")
    return number


def fee_bps(value: Any) -> int:
    return integer(value, "fee", 0, MAX_FEE_BPS)


def role_name(value: str) -> str:
    if value not in ROLES:
        raise ScriptError(f"unknown role {value!r}; one of: {', '.join(ROLES)}")
    return value


def delayed_role_name(value: str) -> str:
    if role_name(value) not in DELAYED_ROLES:
        raise ScriptError(
            f"the {value} role changes at once (grant/revoke); only {' and '.join(DELAYED_ROLES)}"
            " changes are scheduled"
        )
    return value


def change_flag(value: str) -> bool:
    """`grant` or `revoke`, as the contract's `grant` flag."""
    if value not in CHANGES:
        raise ScriptError(f"say grant or revoke, not {value!r}")
    return CHANGES[value]


def until(eta: int, ready: str) -> str:
    """'<time> (N s to go)', or '<time> (<ready>)' once the chain's clock has passed it."""
    from brownie import chain

    now = chain.time()
    return f"{timestamp(eta)} ({ready if now >= eta else f'{eta - now:,} s to go'})"


def events(union: Any, name: str, first_block: int) -> list[Any]:
    """Every `name` event of the union since `first_block`, read in chunks of LOG_CHUNK blocks."""
    from brownie import chain, web3

    contract = web3.eth.contract(address=union.address, abi=union.abi)
    found: list[Any] = []
    head = chain.height
    for start in range(first_block, head + 1, LOG_CHUNK):
        end = min(start + LOG_CHUNK - 1, head)
        found += getattr(contract.events, name)().get_logs(from_block=start, to_block=end)
    return found


def pending_role_changes(union: Any, record: dict[str, Any]) -> list[tuple[str, str, bool, int]]:
    """Scheduled attester and guardian changes not yet executed or cancelled, as
    (role name, account, grant, eta), soonest first: the events say what was ever scheduled,
    `roleChangeEta` whether it still is."""
    names = {bytes(role_id(union, name)): name for name in DELAYED_ROLES}
    found = set()
    for event in events(union, "RoleChangeScheduled", record.get("block", 0)):
        role = bytes(event.args.role)
        if role in names:
            found.add((names[role], str(event.args.account), bool(event.args.grant)))
    pending = []
    for name, account, grant in found:
        eta = int(union.roleChangeEta(role_id(union, name), account, grant))
        if eta:
            pending.append((name, account, grant, eta))
    return sorted(pending, key=lambda change: (change[3], change[0], change[1]))


def signer() -> Any:
    """The account that signs: `UNION_ACCOUNT`'s keystore, or the local node's first account."""
    from brownie import accounts

    alias = os.environ.get("UNION_ACCOUNT")
    if alias and is_hex_address(alias):
        if not is_local():
            raise ScriptError(
                "UNION_ACCOUNT names an address; on a live network it must name a brownie "
                "account alias (`brownie accounts new <alias>` or `brownie accounts import`)"
            )
        return accounts.at(address(alias, "UNION_ACCOUNT"), force=True)
    if alias:
        return accounts.load(alias, password=os.environ.get("UNION_ACCOUNT_PASSWORD"))
    if not is_local():
        raise ScriptError(
            "set UNION_ACCOUNT to the brownie account alias that signs on this network"
        )
    if not accounts:
        raise ScriptError("the local node has no unlocked account; set UNION_ACCOUNT")
    return accounts[0]


def deployment_path() -> Path:
    override = os.environ.get("UNION_DEPLOYMENT")
    return Path(override) if override else DEPLOYMENTS / f"{network_name()}.json"


def write_deployment(record: dict[str, Any], path: Path) -> None:
    """Write the record in one step (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    partial.replace(path)


def load_union() -> tuple[Any, dict[str, Any]]:
    """The deployed union named by the deployment record, checked against the connected chain.

    Contracts are attached with `persist=False`: brownie 1.22 crashes saving an attached contract
    on a live network (a TypeError in its deployment database), and the record is ours anyway.
    """
    import brownie
    from brownie import chain

    path = deployment_path()
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise ScriptError(f"no deployment record at {path}; run scripts/deploy.py first") from None
    except json.JSONDecodeError as exc:
        raise ScriptError(f"deployment record {path} is not JSON: {exc}") from None
    if record.get("chainId") != chain.id:
        raise ScriptError(f"{path} is for chain {record.get('chainId')}, not {chain.id}")
    # Either kind: scripts/deploy.py records which contract it deployed.
    contract = getattr(brownie, str(record.get("contract", "DataUnion")))
    union = contract.at(address(record.get("union"), "union"), persist=False)
    return union, record


def erc20(token_address: str) -> Any:
    """The pool token, for its ERC-20 views (read through the mock's ABI, a superset of them)."""
    from brownie import MockStablecoin

    return MockStablecoin.at(token_address, persist=False)


def confirm(question: str) -> None:
    """Live networks ask before sending; `UNION_YES=1` answers for automation."""
    if is_local() or os.environ.get("UNION_YES") == "1":
        return
    if not sys.stdin.isatty():
        raise ScriptError(f"{question} needs a yes: run interactively, or set UNION_YES=1")
    if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise ScriptError("cancelled; nothing was sent")


def role_id(union: Any, role: str) -> Any:
    return getattr(union, ROLES[role_name(role)])()


def require_role(union: Any, role: str, account: Any) -> None:
    if not union.hasRole(role_id(union, role), account):
        raise ScriptError(f"{account} does not hold the {role} role on {union.address}")


def acting_as(role: str) -> tuple[Any, Any]:
    """The union and the signer, refused unless the signer holds `role`."""
    union, _ = load_union()
    sender = signer()
    require_role(union, role, sender)
    return union, sender


def transact(description: str, function: Callable[..., Any], *args: Any, sender: Any) -> Any:
    """Dry-run `function(*args)` from `sender` (a revert stops here, named, with nothing sent),
    ask on live networks, then send and wait for the receipt."""
    from brownie import chain
    from brownie.exceptions import VirtualMachineError

    say(f"-> {description}")
    try:
        function.call(*args, {"from": sender})
    except VirtualMachineError as exc:
        raise ScriptError(f"{description} would revert: {exc.revert_msg}") from None
    confirm(f"Send '{description}' from {sender} on {network_name()} (chain {chain.id})?")
    tx = function(*args, {"from": sender, "required_confs": 1})
    say(f"   tx {tx.txid} in block {tx.block_number}, gas used {tx.gas_used:,}")
    return tx


def units(amount: int, decimals: int) -> str:
    """A token amount in whole units, exactly (no float)."""
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(int(amount)), 10**decimals)
    return f"{sign}{whole:,}.{fraction:0{decimals}d}" if decimals else f"{sign}{whole:,}"


def timestamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
