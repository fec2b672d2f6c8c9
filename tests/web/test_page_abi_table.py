"""The page encodes its few contract calls by hand from src/relayer/web/js/abi.json: every
selector, topic and error there must be the keccak of a signature the compiled contracts have
(`functions`: the push union's and its token's; `rootsFunctions`: DataUnionRoots')."""

import json

from eth_utils import keccak

from relayer.api.page import WEB_DIR
from relayer.artifacts import load_abi
from scripts.helpers import BUILD_CONTRACTS

TABLE = json.loads((WEB_DIR / "js" / "abi.json").read_text())


def canonical(parameter):
    """A parameter's type as a signature spells it: a struct as the tuple of its fields."""
    kind = parameter["type"]
    if kind.startswith("tuple"):
        return f"({','.join(map(canonical, parameter['components']))}){kind[len('tuple') :]}"
    return kind


def signatures(kind, *contracts):
    return {
        f"{entry['name']}({','.join(map(canonical, entry['inputs']))})"
        for contract in contracts
        for entry in load_abi(contract, BUILD_CONTRACTS)
        if entry.get("type") == kind
    }


def test_every_function_selector_is_a_function_of_the_union_or_its_token():
    known = signatures("function", "DataUnion", "MockStablecoin")
    for name, entry in TABLE["functions"].items():
        assert entry["signature"].startswith(name + "("), name
        assert entry["signature"] in known, entry["signature"]
        assert entry["selector"] == "0x" + keccak(text=entry["signature"])[:4].hex(), name


def test_every_roots_function_selector_is_a_function_of_the_roots_union():
    known = signatures("function", "DataUnionRoots")
    assert {"activeRoot", "claim", "claimable", "leave"} <= TABLE["rootsFunctions"].keys()
    for name, entry in TABLE["rootsFunctions"].items():
        assert entry["signature"].startswith(name + "("), name
        assert entry["signature"] in known, entry["signature"]
        assert entry["selector"] == "0x" + keccak(text=entry["signature"])[:4].hex(), name


def test_the_deposit_event_topic_is_the_union_event():
    entry = TABLE["events"]["RevenueDeposited"]
    assert entry["signature"] in signatures("event", "DataUnion")
    assert entry["topic"] == "0x" + keccak(text=entry["signature"]).hex()


def test_every_known_error_is_an_error_of_a_union_or_its_token():
    known = signatures("error", "DataUnion", "DataUnionRoots", "MockStablecoin")
    assert TABLE["errors"]
    for selector, entry in TABLE["errors"].items():
        assert entry["signature"] in known, entry["signature"]
        assert selector == "0x" + keccak(text=entry["signature"])[:4].hex(), entry["signature"]
        assert entry["message"].endswith("."), entry["signature"]
