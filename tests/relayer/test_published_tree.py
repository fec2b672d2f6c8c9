"""A root-mode report's tree section, written and read back without the relayer
(relayer.published_tree): the round trip gives the same tree and proofs, and a section that is
missing, malformed or does not rebuild to the root it states is refused with the reason."""

import copy
import random

import pytest
from eth_utils import to_checksum_address

from relayer.merkle import Leaf, Tree, leaf_hash, verify
from relayer.published_tree import ReportTreeError, eip55, read, section

UNION = to_checksum_address("0x" + "ab" * 20)


def report_of(tree, previous_epoch=0, previous_start=0):
    return {
        "union": {"chainId": 31337, "address": UNION},
        "epoch": tree.epoch,
        "tree": section(tree, previous_epoch, previous_start),
    }


@pytest.fixture
def tree():
    rng = random.Random(3)
    leaves = [
        Leaf(to_checksum_address(rng.randbytes(20)), rng.randrange(-(1 << 90), 1 << 90), p, s)
        for p, s in [(0, 5), (7, 0), (3, 3), (0, 1), (9, 2)]
    ]
    return Tree(4, leaves)


def test_a_published_tree_reads_back_with_every_proof(tree):
    published = read(report_of(tree, 3, 12345))
    assert (published.epoch, published.previous_epoch, published.previous_epoch_start) == (
        4,
        3,
        12345,
    )
    assert (published.union, published.chain_id) == (UNION, 31337)
    assert published.root == tree.root
    assert published.total_shares == sum(leaf.shares for leaf in tree.leaves)
    for leaf in tree.leaves:
        found = published.claim_args(leaf.member.lower())
        assert found is not None
        as_tuple, proof = found
        assert as_tuple == leaf.as_tuple()
        assert verify(proof, tree.root, leaf_hash(4, leaf))


def test_a_member_without_a_leaf_has_no_claim_arguments(tree):
    assert read(report_of(tree)).claim_args("0x" + "00" * 20) is None


def test_the_section_lists_leaves_in_ascending_address_order(tree):
    members = [row[0] for row in section(tree, 0, 0)["leaves"]]
    assert members == sorted(members, key=lambda a: int(a, 16))


def test_a_report_without_a_tree_is_not_a_root_mode_report():
    with pytest.raises(ReportTreeError, match="not a root-mode report"):
        read({"epoch": 1, "members": []})


def tampered(tree, change):
    report = copy.deepcopy(report_of(tree))
    change(report["tree"])
    return report


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: t.update(contract="DataUnion"), "not for DataUnionRoots"),
        (lambda t: t.update(leaves=[]), "no leaves"),
        (lambda t: t["leaves"][0].__setitem__(3, str(1 << 64)), "shares is out of range"),
        (lambda t: t["leaves"][0].__setitem__(1, "1.5"), "offset is not a decimal integer"),
        (lambda t: t["leaves"][0].__setitem__(0, t["leaves"][0][0].lower()), "not a checksummed"),
        (lambda t: t["leaves"][1].__setitem__(3, "999"), "the file is damaged or was altered"),
        (lambda t: t["leaves"].append(list(t["leaves"][0])), "has two leaves"),
        (lambda t: t["leaves"][2].pop(), "is not [address, offset, previousShares, shares]"),
        (lambda t: t.update(epoch=0), "the tree's epoch is out of range"),
    ],
)
def test_a_malformed_or_altered_tree_is_refused_with_the_reason(tree, change, reason):
    with pytest.raises(ReportTreeError, match=reason.replace("[", r"\[")):
        read(tampered(tree, change))


def test_eip55_agrees_with_eth_utils_for_any_case_of_any_address():
    rng = random.Random(11)
    for _ in range(2_000):
        raw = "0x" + rng.randbytes(20).hex()
        expected = to_checksum_address(raw)
        assert eip55(raw) == eip55(raw.upper().replace("0X", "0x")) == expected


def test_eip55_refuses_what_is_not_an_address():
    for bad in ("0x" + "g" * 40, "0x" + "1" * 39, "1" * 42):
        with pytest.raises(ValueError, match="not a 0x address"):
            eip55(bad)
