"""Deploy a data union of either kind and write the deployment record the relayer reads.

    brownie run scripts/deploy.py --network <name>

Parameters come from a JSON file named by `UNION_CONFIG` (keys below, lower case), and each can
be overridden by its environment variable:

    UNION_KIND           `push` (the default): a `DataUnion`, whose epochs post every member's
                         shares in batches (gas grows with the members an epoch touches);
                         `roots`: a `DataUnionRoots`, whose epochs post one Merkle root (the
                         same gas for ten members or ten million)
    UNION_TOKEN          the pool token (a stablecoin); on a local chain, when unset, a 6-decimal
                         mock stablecoin with EIP-2612 permit is deployed
    UNION_ADMIN          DEFAULT_ADMIN_ROLE: grants roles, proposes fee changes
    UNION_ATTESTER       ATTESTER_ROLE: the relayer's address
    UNION_PAUSER         PAUSER_ROLE: who can stop deposits (never claims)
    UNION_GUARDIAN       GUARDIAN_ROLE: who can veto a pending epoch and cancel a scheduled
                         attester or guardian change (a watcher bot or a members' council)
    UNION_FEE_RECIPIENT  where the operator fee accrues
    UNION_FEE_BPS        the operator fee in basis points (at most 2,000 = 20%)
    UNION_FEE_DELAY      seconds a fee change waits before it applies (1 hour to 30 days)
    UNION_ATTRIBUTION_DELAY  seconds an epoch's shares, and an attester or guardian change, wait
                         before they take effect: the guardian's window (1 hour to 30 days)

On a local chain every role defaults to the signing account, the fee to 500, the fee delay to
2 days and the attribution delay to its minimum, 1 hour (the demo moves the chain's clock on
rather than wait); on any other network all of them must be given. The script prints the plan,
asks before sending on a live network (`UNION_YES=1` for automation), and refuses to overwrite
the record of a live deployment.
"""

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_utils import keccak

from scripts.helpers import (
    MAX_ATTRIBUTION_DELAY,
    MAX_FEE_DELAY,
    MIN_ATTRIBUTION_DELAY,
    MIN_FEE_DELAY,
    ROOT,
    ScriptError,
    address,
    check_chain,
    confirm,
    deployment_path,
    erc20,
    fee_bps,
    integer,
    is_local,
    network_name,
    say,
    signer,
    write_deployment,
)

#: The parameters, by config-file key; the environment variable is UNION_<KEY upper-cased>.
KEYS = (
    "kind",
    "token",
    "admin",
    "attester",
    "pauser",
    "guardian",
    "fee_recipient",
    "fee_bps",
    "fee_delay",
    "attribution_delay",
)
ROLE_KEYS = ("admin", "attester", "pauser", "guardian", "fee_recipient")
LOCAL_DEFAULTS = {
    "fee_bps": 500,
    "fee_delay": 2 * 24 * 3600,
    "attribution_delay": MIN_ATTRIBUTION_DELAY,
}
#: The contract each kind deploys; both take the same constructor parameters.
CONTRACTS = {"push": "DataUnion", "roots": "DataUnionRoots"}
DEFAULT_KIND = "push"


KIND_NOTES = {
    "push": "epochs post every member's shares, in batches",
    "roots": "epochs post one Merkle root, whatever the member count",
}


def artifact(kind: str) -> str:
    """The build artifact whose ABI the record names, relative to the checkout."""
    return f"build/contracts/{CONTRACTS[kind]}.json"


def read_config() -> dict[str, Any]:
    """The raw parameters: the config file, then the environment on top."""
    config: dict[str, Any] = {}
    path = os.environ.get("UNION_CONFIG")
    if path:
        try:
            config = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ScriptError(f"cannot read UNION_CONFIG {path}: {exc}") from None
        if not isinstance(config, dict) or set(config) - set(KEYS):
            unknown = sorted(set(config) - set(KEYS)) if isinstance(config, dict) else config
            raise ScriptError(f"UNION_CONFIG {path}: unknown keys {unknown}; known: {KEYS}")
    for key in KEYS:
        value = os.environ.get(f"UNION_{key.upper()}")
        if value:
            config[key] = value
    return config


def plan(config: dict[str, Any], deployer: Any) -> dict[str, Any]:
    """Checked parameters; refuses anything missing or bad. On a local chain the defaults are
    filled in, every role with `deployer`'s address (needed there only)."""
    local = is_local()
    if local:
        config = {**LOCAL_DEFAULTS, **{k: deployer.address for k in ROLE_KEYS}, **config}
    optional = {"token"} if local else set()
    optional.add("kind")  # the push union, as before the root mode existed
    missing = [f"UNION_{k.upper()}" for k in KEYS if k not in config and k not in optional]
    if missing:
        raise ScriptError(f"set {', '.join(missing)} (or put them in UNION_CONFIG)")
    kind = str(config.get("kind", DEFAULT_KIND)).strip().lower()
    if kind not in CONTRACTS:
        raise ScriptError(f"kind must be one of {', '.join(CONTRACTS)}, not {config['kind']!r}")
    checked: dict[str, Any] = {"kind": kind}
    checked.update({key: address(config[key], key) for key in ROLE_KEYS})
    checked["fee_bps"] = fee_bps(config["fee_bps"])
    checked["fee_delay"] = integer(config["fee_delay"], "fee_delay", MIN_FEE_DELAY, MAX_FEE_DELAY)
    checked["attribution_delay"] = integer(
        config["attribution_delay"],
        "attribution_delay",
        MIN_ATTRIBUTION_DELAY,
        MAX_ATTRIBUTION_DELAY,
    )
    checked["token"] = address(config["token"], "token") if "token" in config else None
    return checked


def describe_token(token_address: str) -> tuple[str, int]:
    """The pool token's symbol and decimals; refuses an address with no contract."""
    from brownie import web3

    if not web3.eth.get_code(token_address):
        raise ScriptError(f"token {token_address} has no contract code on this network")
    token = erc20(token_address)
    return str(token.symbol()), int(token.decimals())


def print_plan(
    params: dict[str, Any], token: tuple[str, int] | None, deployer: Any, path: Path
) -> None:
    """`token` is the given pool token's (symbol, decimals), None for the mock to be deployed."""
    from brownie import chain

    contract = CONTRACTS[params["kind"]]
    say(f"Deploying a {contract} on '{network_name()}' (chain {chain.id}) from {deployer.address}")
    say(f"  kind            {params['kind']}: {KIND_NOTES[params['kind']]}")
    if token is None:
        say("  pool token      a new 6-decimal mock stablecoin (local chains only)")
    else:
        say(f"  pool token      {params['token']} ({token[0]}, {token[1]} decimals)")
    for key in ROLE_KEYS:
        say(f"  {key.replace('_', ' '):<15} {params[key]}")
    say(f"  fee             {params['fee_bps']} bps ({params['fee_bps'] / 100:g}%)")
    say(f"  fee delay       {params['fee_delay']:,} s ({params['fee_delay'] / 3600:g} h)")
    delay = params["attribution_delay"]
    say(f"  epoch delay     {delay:,} s ({delay / 3600:g} h): the guardian's window to veto")
    say(f"  record          {path}")


def deploy(params: dict[str, Any], deployer: Any, path: Path) -> dict[str, Any]:
    """Deploy with checked `params` and write the record to `path`; returns the record."""
    import brownie
    from brownie import MockStablecoin, chain

    check_chain()
    kind = params["kind"]
    contract = getattr(brownie, CONTRACTS[kind])
    if not is_local() and path.exists():
        raise ScriptError(f"{path} already records a deployment; move it away first")
    token_address = params["token"]
    token = describe_token(token_address) if token_address else None
    print_plan(params, token, deployer, path)
    confirm("Deploy?")
    if token_address is None:
        token_address = MockStablecoin.deploy({"from": deployer, "required_confs": 1}).address
        say(f"  mock stablecoin deployed at {token_address}")
        token = describe_token(token_address)
    symbol, decimals = token
    union = contract.deploy(
        token_address,
        params["admin"],
        params["attester"],
        params["pauser"],
        params["guardian"],
        params["fee_recipient"],
        params["fee_bps"],
        params["fee_delay"],
        params["attribution_delay"],
        {"from": deployer, "required_confs": 1},
    )
    receipt = union.tx
    # Nothing but local work between the receipt and the record: a live union is never left
    # unrecorded by a flaky node or a Ctrl-C.
    record = {
        "network": network_name(),
        "chainId": chain.id,
        "kind": kind,
        "contract": CONTRACTS[kind],
        "union": union.address,
        "token": token_address,
        "tokenSymbol": symbol,
        "tokenDecimals": decimals,
        "block": receipt.block_number,
        "transaction": receipt.txid,
        "deployer": deployer.address,
        "roles": {key: params[key] for key in ROLE_KEYS if key != "fee_recipient"},
        "feeRecipient": params["fee_recipient"],
        "feeBps": params["fee_bps"],
        "feeDelay": params["fee_delay"],
        "attributionDelay": params["attribution_delay"],
        # The ABI is the build artifact's; its hash tells whether a later build still matches.
        "abi": artifact(kind),
        "abiKeccak": "0x" + keccak(text=json.dumps(contract.abi, sort_keys=True)).hex(),
        "deployedAt": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_deployment(record, path)
    say(f"{CONTRACTS[kind]} deployed at {union.address} in block {receipt.block_number}")
    say(f"Deployment record written to {_relative(path)}")
    return record


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main() -> dict[str, Any]:
    config = read_config()
    if is_local():  # the signer is the node's own account: nothing to unlock
        deployer = signer()
        params = plan(config, deployer)
    else:  # every parameter is checked before the keystore is unlocked
        params = plan(config, None)
        deployer = signer()
    return deploy(params, deployer, deployment_path())
