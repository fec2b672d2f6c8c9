"""The member page's tree and call encoding, run under node from the page's own modules
(js/merkle.js, js/abi.js, bundled by the project's esbuild), against the relayer's Python
(relayer.merkle) and eth_abi: the browser must rebuild exactly the tree and proofs the relayer
publishes, and encode a leaf and a proof exactly as the contract decodes them."""

import json
import random
import subprocess
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from relayer.merkle import Leaf, Tree, leaf_hash

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).with_name("js") / "harness.js"
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
LEAF = "(int256,uint64,uint64)"
INT255 = 1 << 255
UINT64 = 1 << 64


@pytest.fixture(scope="module")
def page_modules(tmp_path_factory):
    """Ask the page's modules: `page_modules(request) -> answer` (see tests/web/js/harness.js)."""
    bundle = tmp_path_factory.mktemp("page-modules") / "harness.cjs"
    subprocess.run(
        [str(ESBUILD), str(HARNESS), "--bundle", "--platform=node", f"--outfile={bundle}"],
        check=True,
        capture_output=True,
        timeout=60,
    )

    def ask(request):
        done = subprocess.run(
            ["node", str(bundle)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return json.loads(done.stdout)

    return ask


def random_leaves(rng, count):
    leaves = []
    for _ in range(count):
        member = to_checksum_address(rng.randbytes(20))
        offset = rng.choice([0, rng.randrange(-INT255, INT255), -rng.randrange(1 << 80)])
        leaves.append(
            Leaf(member, offset, rng.randrange(UINT64), rng.choice([0, rng.randrange(UINT64)]))
        )
    return leaves


def as_js(leaves):
    return [
        {
            "member": leaf.member,
            "offset": str(leaf.offset),
            "previousShares": str(leaf.previous_shares),
            "shares": str(leaf.shares),
        }
        for leaf in leaves
    ]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 8, 33])
def test_the_page_rebuilds_the_relayers_tree_and_every_proof(page_modules, count):
    rng = random.Random(count)
    epoch = rng.randrange(1, 1 << 64)
    leaves = random_leaves(rng, count)
    tree = Tree(epoch, leaves)
    [built] = page_modules({"trees": [{"epoch": str(epoch), "leaves": as_js(leaves)}]})["trees"]
    assert built["root"] == "0x" + tree.root.hex()
    assert built["order"] == [leaf.member for leaf in tree.leaves]
    assert built["leafHashes"] == ["0x" + leaf_hash(epoch, leaf).hex() for leaf in tree.leaves]
    assert built["proofs"] == [["0x" + p.hex() for p in tree.proof(i)] for i in range(count)]


def test_the_page_refuses_a_tree_with_a_member_twice(page_modules):
    leaves = random_leaves(random.Random(5), 3)
    twice = [*leaves, Leaf(leaves[0].member.lower(), 1, 2, 3)]
    with pytest.raises(subprocess.CalledProcessError) as failed:
        page_modules({"trees": [{"epoch": "1", "leaves": as_js(twice)}]})
    assert "has two leaves" in failed.value.stderr


def selector(signature):
    return keccak(text=signature)[:4]


def test_the_page_encodes_claim_claimable_and_leave_as_the_abi_does(page_modules):
    rng = random.Random(7)
    member = to_checksum_address(rng.randbytes(20))
    leaf = (-(1 << 70) - 12345, 17, 2**64 - 1)
    pending = (1 << 200, 0, 5)
    proof = ["0x" + rng.randbytes(32).hex() for _ in range(3)]
    js_leaf = [str(v) for v in leaf]
    calls = [
        {"name": "claim", "args": [member, str(2**256 - 1), js_leaf, proof]},
        {"name": "claimable", "args": [member, js_leaf, []]},
        {"name": "leave", "args": [js_leaf, proof, [str(v) for v in pending], proof[:1]]},
        {"name": "hasLeft", "args": [member]},
    ]
    encoded = page_modules({"calls": calls})["calls"]
    proof_bytes = [bytes.fromhex(p[2:]) for p in proof]
    expected = [
        selector(f"claim(address,uint256,{LEAF},bytes32[])")
        + encode(
            ["address", "uint256", LEAF, "bytes32[]"], [member, 2**256 - 1, leaf, proof_bytes]
        ),
        selector(f"claimable(address,{LEAF},bytes32[])")
        + encode(["address", LEAF, "bytes32[]"], [member, leaf, []]),
        selector(f"leave({LEAF},bytes32[],{LEAF},bytes32[])")
        + encode(
            [LEAF, "bytes32[]", LEAF, "bytes32[]"], [leaf, proof_bytes, pending, proof_bytes[:1]]
        ),
        selector("hasLeft(address)") + encode(["address"], [member]),
    ]
    assert encoded == ["0x" + e.hex() for e in expected]


def test_the_page_refuses_a_leaf_value_out_of_its_type(page_modules):
    member = "0x" + "11" * 20
    with pytest.raises(subprocess.CalledProcessError) as failed:
        page_modules(
            {"calls": [{"name": "claimable", "args": [member, ["0", str(UINT64), "0"], []]}]}
        )
    assert "does not fit in a uint64" in failed.value.stderr
