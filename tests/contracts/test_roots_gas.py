"""Gas ceilings of the root-mode union, measured as test_gas.py measures the push union: what a
transaction really cost on anvil in a representative state, printed, and asserted below a ceiling
(the figure measured plus a few percent).

The union in use has a tree of about a million leaves: the members' leaves of an epoch are built
by the relayer's rule (relayer.roots.next_leaves) and each claimant's leaf hash is folded with 20
random siblings (relayer.merkle.hash_pair) into the root posted, so every proof is 20 siblings
long, as in a tree of 2^20 leaves. Roots of later epochs, not the first, are measured: the first
posting and the first finish write fresh slots that no later epoch pays for again."""

import random

import pytest
from test_gas import figure, show

from fixtures.accounts import local_account
from fixtures.roots import EMPTY_LEAF
from fixtures.union import (
    LICENSE,
    MAX_UINT,
    deploy_union,
    pay,
    post,
    report_hash_for,
    sign_claim,
    wait_until,
)
from relayer.merkle import hash_pair, leaf_hash
from relayer.roots import next_leaves

AMOUNT = 1_000_000
FLOAT = 100 * AMOUNT
DEPTH = 20  # siblings in a proof of a tree of ~1,000,000 leaves
DEADLINE = 4_102_444_800

# Ceilings: the figure measured on anvil (solc 0.8.28, 10,000 optimizer runs) plus ~3-5%.
POST_ROOT_CEILING = 54_200  # measured 52,103, a later epoch, whatever the member count
FINISH_CEILING = 56_000  # measured 53,928, a later epoch
DEPOSIT_CEILING = 62_900  # measured 61,027 (the push union's in the same state: 60,842)
FIRST_CLAIM_CEILING = 94_500  # measured 91,378 (x1.78 F0), fresh wallet, proof of 20
FIRST_CLAIM_EVER_CEILING = 112_000  # measured 108,466, the member's first claim ever (fresh word)
LATER_CLAIM_CEILING = 59_000  # measured 57,117 (x1.66 F1), empty proof, to a holder
SIGNED_CLAIM_CEILING = 102_000  # measured 98,823, first under the root, proof of 20
LEAVE_CEILING = 64_000  # measured 61,767, with unclaimed earnings, proof of 20
LEAVE_PENDING_CEILING = 107_500  # measured 104,331, two proofs of 20 while a root is pending
DEPOSIT_TOLERANCE = 0.02  # a deposit costs what it costs in the push union, within 2%


class WideBook:
    """Roots of a million-leaf union, in which only the members under test are real: each of their
    leaves is folded with DEPTH random siblings, so the posted root proves all of them (the rest
    of the tree is random hashes)."""

    def __init__(self, union, attester, seed):
        self.union, self.attester = union, attester
        self.rng = random.Random(seed)
        self.leaves = []
        self.proofs = {}
        self.pending_leaves, self.pending_proofs = [], {}

    def post(self, shares_by_member, *, finish=True):
        epoch = self.union.currentEpoch() + 1
        _, _, start = self.union.activeRoot()
        shares = {str(m): s for m, s in shares_by_member.items()}
        leaves = next_leaves(self.leaves, start, shares)
        root, proofs = self._root(epoch, leaves)
        total = sum(leaf.shares for leaf in leaves)
        tx = self.union.postRoot(
            epoch, root, report_hash_for(epoch), total, 2**20, {"from": self.attester}
        )
        self.pending_leaves, self.pending_proofs = leaves, proofs
        if finish:
            self.finish()
        return tx

    def finish(self):
        epoch, _, due_at = self.union.attributionState()
        wait_until(due_at)
        tx = self.union.finishAttribution(epoch, {"from": self.attester})
        self.leaves, self.proofs = self.pending_leaves, self.pending_proofs
        return tx

    def args(self, member, pending=False):
        leaves, proofs = (
            (self.pending_leaves, self.pending_proofs) if pending else (self.leaves, self.proofs)
        )
        for leaf in leaves:
            if leaf.member.lower() == str(member).lower():
                return leaf.as_tuple(), proofs[leaf.member.lower()]
        return EMPTY_LEAF, []

    def leave_args(self, member, pending=False):
        return (*self.args(member), *(self.args(member, True) if pending else (EMPTY_LEAF, [])))

    def _root(self, epoch, leaves):
        """One root over every leaf: the leaves' hashes are paired with each other at the bottom
        (a real subtree), then the subtree's root is folded with random siblings up to DEPTH
        levels."""
        hashes = [leaf_hash(epoch, leaf) for leaf in leaves]
        # Random leaves of other members fill the bottom up to a power of two, so that no real
        # leaf is carried up without a partner and every proof is DEPTH siblings long.
        width = 1 << max(1, (len(hashes) - 1).bit_length())
        hashes += [self.rng.randbytes(32) for _ in range(width - len(hashes))]
        levels = [hashes]
        while len(levels[-1]) > 1:
            level = levels[-1]
            up = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                up.append(level[-1])
            levels.append(up)
        node = levels[-1][0]
        top = []
        for _ in range(DEPTH - (len(levels) - 1)):
            sibling = self.rng.randbytes(32)
            top.append(sibling)
            node = hash_pair(node, sibling)
        proofs = {}
        for index, leaf in enumerate(leaves):
            proof, i = [], index
            for level in levels[:-1]:
                if i ^ 1 < len(level):
                    proof.append("0x" + level[i ^ 1].hex())
                i //= 2
            proofs[leaf.member.lower()] = proof + ["0x" + s.hex() for s in top]
        return node, proofs


@pytest.fixture
def holder(stablecoin, rando):
    stablecoin.mint(rando, FLOAT, {"from": rando})
    return rando


@pytest.fixture
def wide(roots_union, stablecoin, attester, buyer, alice, bob, carol, holder):
    """A union in steady state: three members (13 shares, so splits leave rounding dust) in a
    tree of 2^20 leaves, two roots finished, revenue under both, carol's claim made under the
    first (so her word is not fresh), and a buyer with a balance to spare."""
    stablecoin.mint(buyer, FLOAT, {"from": buyer})
    book = WideBook(roots_union, attester, seed=15)
    book.post({alice: 3, bob: 4, carol: 6})
    pay(stablecoin, roots_union, buyer, AMOUNT)
    roots_union.claim(carol, MAX_UINT, *book.args(carol), {"from": carol})
    book.post({alice: 3, bob: 4, carol: 6})
    pay(stablecoin, roots_union, buyer, AMOUNT)
    assert len(book.args(carol)[1]) == DEPTH
    return book


def test_post_root_and_finish_of_a_later_epoch_stay_below_ceilings(
    roots_union, wide, alice, bob, carol, capsys
):
    posted = wide.post({alice: 4, bob: 4, carol: 5}, finish=False)
    finished = wide.finish()

    show(
        capsys,
        figure("roots: postRoot, a later epoch", posted.gas_used, POST_ROOT_CEILING),
        figure("roots: finishAttribution, a later epoch", finished.gas_used, FINISH_CEILING),
        figure("roots: one epoch in all", posted.gas_used + finished.gas_used),
    )
    assert posted.gas_used <= POST_ROOT_CEILING
    assert finished.gas_used <= FINISH_CEILING


def test_deposit_gas_stays_below_ceiling(
    roots_union, wide, stablecoin, buyer, carol, holder, capsys
):
    stablecoin.approve(roots_union, AMOUNT, {"from": buyer})
    tx = roots_union.deposit(AMOUNT, LICENSE, {"from": buyer})
    stablecoin.approve(holder, AMOUNT, {"from": buyer})
    floor = stablecoin.transferFrom(buyer, carol, AMOUNT, {"from": holder})

    assert tx.return_value == AMOUNT
    show(
        capsys,
        figure("roots: deposit (steady state)", tx.gas_used, DEPOSIT_CEILING, floor.gas_used),
    )
    assert tx.gas_used <= DEPOSIT_CEILING


def test_deposit_costs_what_it_costs_in_a_push_union(
    roots_union,
    wide,
    stablecoin,
    admin,
    attester,
    pauser,
    guardian,
    fee_recipient,
    buyer,
    alice,
    bob,
    carol,
    capsys,
):
    push = deploy_union(stablecoin, admin, attester, pauser, fee_recipient, guardian=guardian)
    post(push, attester, 1, {alice: 3, bob: 4, carol: 6})
    pay(stablecoin, push, buyer, AMOUNT)
    push.claim(carol, MAX_UINT, {"from": carol})
    pay(stablecoin, push, buyer, AMOUNT)
    for union in (push, roots_union):
        stablecoin.approve(union, AMOUNT, {"from": buyer})
    in_push = push.deposit(AMOUNT, LICENSE, {"from": buyer})
    in_roots = roots_union.deposit(AMOUNT, LICENSE, {"from": buyer})

    show(
        capsys,
        figure("deposit, push union (same state)", in_push.gas_used),
        figure("deposit, roots union (same state)", in_roots.gas_used),
    )
    assert abs(in_roots.gas_used - in_push.gas_used) <= DEPOSIT_TOLERANCE * in_push.gas_used


def test_claim_gas_stays_below_ceilings(
    roots_union, wide, stablecoin, buyer, bob, carol, holder, capsys
):
    wallet = local_account("roots claim wallet")
    assert stablecoin.balanceOf(wallet) == 0
    first = roots_union.claim(wallet, MAX_UINT, *wide.args(carol), {"from": carol})
    pay(stablecoin, roots_union, buyer, AMOUNT)  # new revenue since carol's first claim
    later = roots_union.claim(holder, MAX_UINT, wide.args(carol)[0], [], {"from": carol})
    ever = roots_union.claim(
        local_account("roots claim wallet 2"), MAX_UINT, *wide.args(bob), {"from": bob}
    )
    f0 = stablecoin.transfer(
        local_account("roots transfer wallet"), first.return_value, {"from": holder}
    )
    f1 = stablecoin.transfer(wallet, later.return_value, {"from": holder})

    assert first.return_value > 0
    assert later.return_value > 0
    assert ever.return_value > 0
    show(
        capsys,
        figure(
            "roots: claim, first under a root, fresh wallet",
            first.gas_used,
            FIRST_CLAIM_CEILING,
            f0.gas_used,
        ),
        figure(
            "roots: claim, member's first ever, fresh wallet",
            ever.gas_used,
            FIRST_CLAIM_EVER_CEILING,
            f0.gas_used,
        ),
        figure(
            "roots: claim, later, empty proof, to a holder",
            later.gas_used,
            LATER_CLAIM_CEILING,
            f1.gas_used,
        ),
        figure("floor F0: transfer to a fresh address", f0.gas_used),
        figure("floor F1: transfer to a holder", f1.gas_used),
    )
    assert first.gas_used <= FIRST_CLAIM_CEILING
    assert ever.gas_used <= FIRST_CLAIM_EVER_CEILING
    assert later.gas_used <= LATER_CLAIM_CEILING


def test_signed_claim_gas_stays_below_ceiling(roots_union, wide, carol, rando, capsys):
    wallet = local_account("roots signed claim wallet")
    signature, _ = sign_claim(roots_union, carol, wallet, MAX_UINT, deadline=DEADLINE)

    tx = roots_union.claimWithSig(
        carol, wallet, MAX_UINT, DEADLINE, *wide.args(carol), signature, {"from": rando}
    )

    assert tx.return_value > 0
    show(
        capsys, figure("roots: claimWithSig, first under a root", tx.gas_used, SIGNED_CLAIM_CEILING)
    )
    assert tx.gas_used <= SIGNED_CLAIM_CEILING


def test_leave_gas_stays_below_ceilings(roots_union, wide, alice, bob, carol, capsys):
    plain = roots_union.leave(*wide.leave_args(carol), {"from": carol})
    wide.post({alice: 3, bob: 4}, finish=False)
    pending = roots_union.leave(*wide.leave_args(alice, pending=True), {"from": alice})

    assert roots_union.hasLeft(carol)
    assert roots_union.hasLeft(alice)
    show(
        capsys,
        figure("roots: leave, with unclaimed earnings", plain.gas_used, LEAVE_CEILING),
        figure(
            "roots: leave while a root is pending (2 proofs)",
            pending.gas_used,
            LEAVE_PENDING_CEILING,
        ),
    )
    assert plain.gas_used <= LEAVE_CEILING
    assert pending.gas_used <= LEAVE_PENDING_CEILING
