"""Property test: for random histories of deposits, roots (random shares, members joining,
dropping to 0, leaving; roots finished, left pending across deposits, or vetoed) and claims,
every member's on-chain `claimable` equals an exact off-chain pro-rata replay after every step.

The replay (fixtures.roots_model.Replay) splits each deposit's member part by the shares in force
at that moment in `fractions.Fraction`, with no rounding; a member's claimable is then
floor(exact share) - claimed. The bound asserted, the one IDataUnionRoots documents: on-chain
and replay differ by at most 1 unit, for each member, at every step (the accumulator rounds in
2^-64 units, so the two floors can differ only where an exact share is within a hair of a whole
unit). A member who left is held to exactly what the union froze for them.

ROOTS_PROPERTY_EXAMPLES sets the number of histories (40 by default, 1,000 in `make fuzz`).
"""

import os

import brownie
from brownie import web3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.accounts import local_account
from fixtures.roots import EMPTY_LEAF, RootBook
from fixtures.roots_model import Replay
from fixtures.union import FEE_BPS, MAX_UINT, pay

N_MEMBERS = 4
BOUND = 1  # units, per member, per step
EXAMPLES = int(os.environ.get("ROOTS_PROPERTY_EXAMPLES", "40"))

SHARES = st.lists(
    st.one_of(st.just(0), st.integers(1, 1_000), st.integers(1, 10**15)),
    min_size=N_MEMBERS,
    max_size=N_MEMBERS,
)
ACTION = st.one_of(
    st.tuples(st.just("deposit"), st.integers(1, 10**13)),
    st.tuples(st.just("root"), SHARES, st.sampled_from(["finish", "finish", "pending", "veto"])),
    st.tuples(st.just("claim"), st.integers(0, N_MEMBERS - 1), st.integers(1, 100)),
    st.tuples(st.just("leave"), st.integers(0, N_MEMBERS - 1)),
)
HISTORY = st.lists(ACTION, min_size=1, max_size=14)

MEMBERS = [local_account(f"pro-rata member {i}") for i in range(N_MEMBERS)]
_snapshots = {}


def test_claimable_equals_the_exact_pro_rata_replay_within_one_unit(
    roots_union, stablecoin, attester, guardian, buyer, capsys
):
    stablecoin.mint(buyer, 2**120, {"from": buyer})
    stablecoin.approve(roots_union, 2**120, {"from": buyer})
    _snapshots["start"] = _rpc("evm_snapshot")
    deviations = {0: 0, 1: 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(history=HISTORY)
    def replay_matches(history):
        _rpc("evm_revert", _snapshots["start"])
        _snapshots["start"] = _rpc("evm_snapshot")
        brownie.history._revert(web3.eth.block_number)  # brownie forgets reverted transactions
        History(roots_union, stablecoin, attester, guardian, buyer, deviations).run(history)

    replay_matches()
    with capsys.disabled():
        print(
            f"\n  roots pro-rata: {EXAMPLES} histories; member-steps off by 0 unit: "
            f"{deviations[0]}, by 1 unit: {deviations[1]} (bound {BOUND})"
        )


class History:
    def __init__(self, union, token, attester, guardian, buyer, deviations):
        self.union, self.token, self.guardian, self.buyer = union, token, guardian, buyer
        self.book = RootBook(union, attester)
        self.model = Replay()
        self.claimed = [0] * N_MEMBERS
        self.left = set()
        self.deviations = deviations
        self.index = {str(m).lower(): i for i, m in enumerate(MEMBERS)}

    def run(self, history):
        for action in history:
            getattr(self, action[0])(*action[1:])
            self.check()

    def deposit(self, amount):
        pay(self.token, self.union, self.buyer, amount)
        self.model.revenue(amount - amount * FEE_BPS // 10_000)

    def root(self, shares, outcome):
        if self.book.pending is not None:
            self.finish()
        wanted = {MEMBERS[i]: s for i, s in enumerate(shares) if i not in self.left}
        try:
            self.book.post(wanted, finish=False)
        except ValueError:  # nobody would have a leaf: the tree is refused before posting
            return
        self.model.post(
            {self.index[leaf.member.lower()]: leaf.shares for leaf in self.book.pending.leaves}
        )
        if outcome == "finish":
            self.finish()
        elif outcome == "veto":
            self.book.veto(self.guardian)
            self.model.veto()

    def finish(self):
        old = (
            {self.index[leaf.member.lower()] for leaf in self.book.active.leaves}
            if self.book.active
            else set()
        )
        self.book.finish()
        new = {self.index[leaf.member.lower()] for leaf in self.book.active.leaves}
        self.model.finish()
        for i in old - new - self.left:
            self.model.forget(i)  # dropped by the leaf rule with less than a unit

    def _holder(self, leaf):
        return self.index[leaf.member.lower()]

    def claim(self, who, percent):
        member = MEMBERS[who]
        if who in self.left:
            leaf, proof = EMPTY_LEAF, []
        elif self.book.active is None or self.book.active.index_of(str(member)) is None:
            return
        else:
            leaf, proof = self.book.claim_args(member)
        available = self.union.claimable(member, leaf, proof)
        if available == 0:
            return
        amount = MAX_UINT if percent == 100 else max(1, available * percent // 100)
        tx = self.union.claim(member, amount, leaf, proof, {"from": member, "silent": True})
        self.claimed[who] += tx.events["Claimed"]["amount"]

    def leave(self, who):
        member = MEMBERS[who]
        if who in self.left or self.book.active is None:
            return
        if self.book.active.index_of(str(member)) is None:
            return
        pending = self.book.pending
        if pending is not None and pending.index_of(str(member)) is None:
            return
        self.union.leave(*self.book.leave_args(member), {"from": member, "silent": True})
        units = self.union.claimable(member, EMPTY_LEAF, []) + self.claimed[who]
        self.model.leave(who, units, who if pending is not None else None)
        self.left.add(who)

    def check(self):
        for i, member in enumerate(MEMBERS):
            if i in self.left:
                onchain = self.union.claimable(member, EMPTY_LEAF, [])
                assert onchain == self.model.frozen[i] - self.claimed[i]
                continue
            tree = self.book.active
            if tree is None or tree.index_of(str(member)) is None:
                assert self.model.whole(i) <= self.claimed[i], (i, self.model.earned(i))
                continue
            onchain = self.book.claimable(member)
            exact = max(0, self.model.whole(i) - self.claimed[i])
            off = abs(onchain - exact)
            assert off <= BOUND, (i, onchain, self.model.earned(i), self.claimed[i])
            self.deviations[off] += 1
        assert self.union.undistributed() == self.model.waiting
        assert self.union.totalShares() == self.model.total()


def _rpc(method, *params):
    return web3.provider.make_request(method, list(params))["result"]
