"""The watcher's verdict on a root-mode tree, on figures alone (relayer.tree_check is pure): every
problem kind is made by tampering with an honest report, and named with its severity; a total
below the leaves' sum is the most serious of all."""

import os
import random

import pytest

from fixtures.root_reports import restate, roots_report
from relayer.attribution import checksummed
from relayer.merkle import Leaf, Tree
from relayer.tree_check import LISTED, OnchainRoot, Severity, TreeProblemKind, check_tree
from relayer.tree_leaves import Leaves, eip55_address, rebuilt_root

UNION = "0x" + "ab" * 20
CHAIN = 31337
ALICE, BOB, CAROL, DAVE = (checksummed("0x" + c * 20) for c in ("a1", "b2", "c3", "d4"))
START = 7 * (1 << 64) + 12345  # the accumulator when epoch 1's root took effect


def first():
    return roots_report(
        chain_id=CHAIN, union=UNION, epoch=1, records={ALICE: 300, BOB: 100, CAROL: 50}
    )


def second():
    """Epoch 2 on epoch 1: Alice's share grows, Bob drops to none, Carol left on-chain, Dave
    is new."""
    return roots_report(
        chain_id=CHAIN,
        union=UNION,
        epoch=2,
        records={ALICE: 500, DAVE: 70},
        previous=first(),
        previous_start=START,
        departed={CAROL.lower()},
        zeroed=[BOB],
    )


def onchain_for_second(**overrides):
    values = {
        "epoch": 2,
        "previous_epoch": 1,
        "previous_epoch_start": START,
        "previous_root": bytes.fromhex(first()["tree"]["root"][2:]),
    }
    values.update(overrides)
    return OnchainRoot(**values)


def check_second(report, **overrides):
    return check_tree(report, first(), {CAROL.lower()}, onchain_for_second(**overrides))


def kinds(problems):
    return [p.kind for p in problems]


def leaf_row(report, member):
    return next(row for row in report["tree"]["leaves"] if row[0] == member)


def test_an_honest_first_root_agrees():
    report = first()
    assert check_tree(report, None, set(), OnchainRoot(1, 0, 0)) == []


def test_an_honest_root_built_on_the_root_in_force_agrees():
    report = second()
    carried = leaf_row(report, BOB)
    assert int(carried[1]) != 0  # Bob's earnings are carried over
    assert carried[3] == "0"  # with no shares now
    assert CAROL not in [row[0] for row in report["tree"]["leaves"]]
    assert check_second(report) == []


def test_a_total_below_the_leaves_sum_is_the_most_serious_problem():
    report = second()
    report["tree"]["totalShares"] = str(int(report["tree"]["totalShares"]) - 1)
    report["tree"]["root"] = "0x" + "00" * 32  # a second, lesser problem
    problems = check_second(report)
    assert problems[0].kind == TreeProblemKind.TOTAL_BELOW_SUM
    assert problems[0].severity == Severity.CRITICAL
    assert [p.severity for p in problems[1:]] == [Severity.SERIOUS]


def test_a_total_above_the_leaves_sum_strands_revenue_and_is_serious():
    report = second()
    report["tree"]["totalShares"] = str(int(report["tree"]["totalShares"]) + 5)
    problems = check_second(report)
    assert kinds(problems) == [TreeProblemKind.TOTAL_ABOVE_SUM]
    assert problems[0].severity == Severity.SERIOUS
    assert "5 shares' part" in problems[0].detail


def test_a_stated_root_other_than_the_leaves_one_is_a_root_mismatch():
    report = second()
    report["tree"]["root"] = first()["tree"]["root"]
    assert kinds(check_second(report)) == [TreeProblemKind.ROOT_MISMATCH]


def test_leaf_shares_other_than_the_reports_are_named():
    report = second()
    leaf_row(report, ALICE)[3] = str(int(leaf_row(report, ALICE)[3]) * 2)
    problems = check_second(restate(report))
    assert kinds(problems) == [TreeProblemKind.LEAF_SHARES]
    assert ALICE in problems[0].detail


def test_shares_for_an_address_the_report_gives_none_are_a_mismatch():
    report = second()
    leaf_row(report, BOB)[3] = "1000"
    assert kinds(check_second(restate(report))) == [TreeProblemKind.LEAF_SHARES]


@pytest.mark.parametrize("column", [1, 2], ids=["offset", "previous shares"])
def test_an_offset_or_previous_shares_not_carried_by_the_rule_is_a_carry_mismatch(column):
    report = second()
    row = leaf_row(report, ALICE)
    row[column] = str(int(row[column]) + 1)
    problems = check_second(restate(report))
    assert kinds(problems) == [TreeProblemKind.CARRY_MISMATCH]
    assert ALICE in problems[0].detail


def test_an_address_with_two_leaves_is_a_duplicate():
    report = second()
    leaves = report["tree"]["leaves"]
    leaves.insert(1, list(leaves[0]))
    found = kinds(check_second(report))
    assert TreeProblemKind.DUPLICATE_LEAF in found
    assert TreeProblemKind.ROOT_MISMATCH in found  # not rebuilt: which leaf would count?


def test_leaves_out_of_address_order_are_named_even_when_the_root_is_theirs():
    report = second()
    report["tree"]["leaves"].reverse()
    assert kinds(check_second(report)) == [TreeProblemKind.LEAF_ORDER]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (0, ALICE.lower()),  # no checksum
        (0, "0x" + "zz" * 20),
        (0, ALICE[:-2]),
        (3, "-1"),
        (3, str(1 << 64)),
        (2, str(1 << 64)),
        (1, str(1 << 255)),
        (1, str(-(1 << 255) - 1)),
        (3, "007"),
        (3, 7),
        (1, " 1"),
    ],
)
def test_a_malformed_leaf_is_named(column, value):
    assert ALICE.lower() != ALICE
    report = second()
    leaf_row(report, ALICE)[column] = value
    assert TreeProblemKind.LEAF_MALFORMED in kinds(check_second(report))


def test_a_leaf_of_the_wrong_shape_is_malformed():
    report = second()
    report["tree"]["leaves"][0] = report["tree"]["leaves"][0][:3]
    assert TreeProblemKind.LEAF_MALFORMED in kinds(check_second(report))


def test_a_member_who_left_on_chain_must_not_have_a_leaf():
    honest = second()
    report = roots_report(
        chain_id=CHAIN,
        union=UNION,
        epoch=2,
        records={ALICE: 500, DAVE: 70},
        previous=first(),
        previous_start=START,
        zeroed=[BOB],
    )  # built as if Carol had not left
    assert len(report["tree"]["leaves"]) == len(honest["tree"]["leaves"]) + 1
    problems = check_second(report)
    assert kinds(problems) == [TreeProblemKind.DEPARTED_MEMBER]
    assert CAROL.lower() in problems[0].detail


def test_a_member_the_rule_keeps_without_a_leaf_is_missing():
    report = second()
    report["tree"]["leaves"] = [r for r in report["tree"]["leaves"] if r[0] != BOB]
    problems = check_second(restate(report))
    assert kinds(problems) == [TreeProblemKind.MISSING_LEAF]
    assert BOB in problems[0].detail


def test_a_leaf_the_rule_does_not_make_is_unexpected():
    report = second()
    stranger = checksummed("0x" + "9" * 40)
    report["tree"]["leaves"].append([stranger, str(10 << 64), "0", "0"])
    problems = check_second(restate(report))
    assert kinds(problems) == [TreeProblemKind.UNEXPECTED_LEAF]
    assert stranger.lower() in problems[0].detail


def test_a_tree_built_on_another_epoch_start_is_named_and_its_offsets_are_wrong():
    report = roots_report(
        chain_id=CHAIN,
        union=UNION,
        epoch=2,
        records={ALICE: 500, DAVE: 70},
        previous=first(),
        previous_start=START - 1,
        departed={CAROL.lower()},
        zeroed=[BOB],
    )
    found = kinds(check_second(report))
    assert found == [TreeProblemKind.PREVIOUS_EPOCH, TreeProblemKind.CARRY_MISMATCH]


def test_without_the_previous_report_the_offsets_cannot_be_checked():
    problems = check_tree(second(), None, {CAROL.lower()}, onchain_for_second())
    assert kinds(problems) == [TreeProblemKind.PREVIOUS_UNAVAILABLE]


def test_a_previous_report_whose_leaves_do_not_give_the_root_in_force_is_not_used():
    previous = first()
    leaf_row(previous, ALICE)[3] = "1"
    problems = check_tree(second(), previous, {CAROL.lower()}, onchain_for_second())
    assert kinds(problems) == [TreeProblemKind.PREVIOUS_INVALID]


def test_a_report_without_a_tree_is_not_a_root_mode_report():
    report = second()
    del report["tree"]
    assert kinds(check_second(report)) == [TreeProblemKind.TREE_MISSING]


@pytest.mark.parametrize(
    ("key", "value"),
    [("contract", "DataUnion"), ("epoch", 3), ("leafEncoding", "keccak256(leaf)"), ("layout", "")],
)
def test_a_header_that_does_not_describe_this_contracts_tree_is_named(key, value):
    report = second()
    report["tree"][key] = value
    assert TreeProblemKind.TREE_HEADER in kinds(check_second(report))


def test_a_posted_root_other_than_the_reports_is_named_and_its_total_not_held_against_it():
    report = second()
    problems = check_second(report, pending_root=b"\x01" * 32, pending_total=1)
    assert kinds(problems) == [TreeProblemKind.POSTED_ROOT]


def test_a_posted_total_below_the_sum_is_critical_and_one_that_agrees_is_not_a_problem():
    report = second()
    root = bytes.fromhex(report["tree"]["root"][2:])
    total = int(report["tree"]["totalShares"])
    assert check_second(report, pending_root=root, pending_total=total) == []
    problems = check_second(report, pending_root=root, pending_total=total - 1)
    assert kinds(problems) == [TreeProblemKind.POSTED_TOTAL_BELOW_SUM]
    assert problems[0].severity == Severity.CRITICAL
    above = check_second(report, pending_root=root, pending_total=total + 1)
    assert kinds(above) == [TreeProblemKind.POSTED_TOTAL_ABOVE_SUM]


def test_a_member_who_left_while_the_root_waits_took_their_shares_off_the_posted_total():
    report = second()
    root = bytes.fromhex(report["tree"]["root"][2:])
    alice = int(leaf_row(report, ALICE)[3])
    reduced = int(report["tree"]["totalShares"]) - alice
    assert kinds(check_second(report, pending_root=root, pending_total=reduced)) == [
        TreeProblemKind.POSTED_TOTAL_BELOW_SUM
    ]
    assert (
        check_second(
            report, pending_root=root, pending_total=reduced, left_while_pending={ALICE.lower()}
        )
        == []
    )


def test_many_mismatches_are_listed_up_to_a_bound_and_counted():
    report = second()
    for i in range(LISTED + 3):
        stranger = checksummed(f"0x{i + 0xA0:02x}" + "0" * 38)
        report["tree"]["leaves"].append([stranger, "0", "0", "0"])
    problems = check_second(restate(report))
    assert kinds(problems) == [TreeProblemKind.UNEXPECTED_LEAF]
    assert problems[0].detail.startswith(f"{LISTED + 3} leaf(s)")
    assert problems[0].detail.endswith("; and 3 more")


def test_the_flat_root_is_merkle_trees_root_at_every_size():
    rng = random.Random(15)
    for size in [*range(1, 18), 100, 257]:
        leaves = sorted(
            (
                Leaf(
                    "0x" + rng.randbytes(20).hex(),
                    rng.randrange(-(1 << 200), 1 << 200),
                    rng.randrange(1 << 64),
                    rng.randrange(1 << 64),
                )
                for _ in range(size)
            ),
            key=lambda leaf: int(leaf.member, 16),
        )
        flat = Leaves(
            raw=[bytes.fromhex(leaf.member[2:]) for leaf in leaves],
            offsets=[leaf.offset for leaf in leaves],
            previous=[leaf.previous_shares for leaf in leaves],
            shares=[leaf.shares for leaf in leaves],
        )
        assert rebuilt_root(9, flat) == Tree(9, leaves).root


def test_the_fast_checksum_accepts_eip55_and_only_eip55():
    rng = random.Random(55)
    for _ in range(500):
        address = checksummed("0x" + rng.randbytes(20).hex())
        assert eip55_address(address) == bytes.fromhex(address[2:])
        swapped = address[:2] + address[2:].swapcase()
        if swapped != address:
            assert eip55_address(swapped) is None


MILLION = int(os.environ.get("TREE_CHECK_MEMBERS", "0"))


@pytest.mark.skipif(not MILLION, reason="set TREE_CHECK_MEMBERS (e.g. 1000000) to time it")
def test_a_large_tree_is_checked_within_the_watchers_time(capsys):
    import time

    rng = random.Random(1)
    members = [checksummed("0x" + rng.randbytes(20).hex()) for _ in range(MILLION)]
    shares = {m: rng.randrange(1, 1 << 40) for m in members}
    start = rng.randrange(1 << 100)
    previous_leaves = [
        Leaf(m, rng.randrange(-(1 << 120), 1 << 120), rng.randrange(1 << 40), s)
        for m, s in shares.items()
    ]
    from fixtures.root_reports import tree_section
    from relayer.roots import next_leaves

    previous = {"epoch": 1, "tree": tree_section(1, previous_leaves, 0, 0)}
    now = {m: s + rng.randrange(3) for m, s in shares.items()}
    leaves = next_leaves(previous_leaves, start, now)
    report = {
        "epoch": 2,
        "members": [{"address": m, "shares": str(s)} for m, s in now.items()],
        "tree": tree_section(2, leaves, 1, start),
    }
    onchain = OnchainRoot(2, 1, start, bytes.fromhex(previous["tree"]["root"][2:]))
    began = time.perf_counter()
    problems = check_tree(report, previous, set(), onchain)
    took = time.perf_counter() - began
    with capsys.disabled():
        print(f"\ntree_check of {MILLION} members (and the previous tree): {took:.1f} s")
    assert problems == []
    assert took < 120
