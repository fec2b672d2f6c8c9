"""Stateful property test of the root-mode union: random sequences of everything anyone can do to
a DataUnionRoots, over every kind of pool token, with its invariants checked after every step.

Roots are built by the relayer's rule (relayer.roots.next_leaves) from random shares: members
join, drop to 0, leave on-chain, come back in no tree; each root is finished, left pending while
revenue and claims go on, or vetoed. Sometimes the attester lists member 0 twice (a second,
"twin" leaf carried root to root by the same rule, its shares in the posted total), the bad root
a watcher should veto, to show that even then nobody is over-paid. The exact replay
(fixtures.roots_model) splits every deposit by the shares in force in fractions of a unit.

Invariants, after every step: solvency (the balance covers every member's claimable, the fees and
the revenue held), conservation (what came in was claimed, withdrawn as fees or is still held),
claimed <= earned (for member 0, <= the larger of the two leaves: claims are cumulative), each
holder's earnings never decrease and stay within one unit of floor(exact share), the fee capped
and changed only by its timelock, the root and its total shares as the model says. Rules assert
their own outcome: claims and leave succeed while paused, a leaf that is not the caller's (or an
old one) is refused with DataUnionInvalidProof, and every refusal is checked by eth_call so it
cannot change state.

ROOTS_FUZZ_STEPS sets the number of steps per token kind (400 in `make test`: about 30 s per
token; 25,000 in `make fuzz`).
"""

import functools
import math
import os
import time
from collections import Counter, namedtuple
from typing import ClassVar

import brownie
from brownie import RootsLens, web3
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    run_state_machine_as_test,
)
from hypothesis.stateful import rule as hypothesis_rule

from fixtures.accounts import local_account
from fixtures.reverts import reverts_with
from fixtures.roots import EMPTY_LEAF, deploy_roots_union, free_tree
from fixtures.roots_model import Replay
from fixtures.tokens import deploy_token
from fixtures.union import ATTRIBUTION_DELAY, FEE_BPS, FEE_DELAY, MAX_UINT, sign_claim
from relayer.merkle import Leaf
from relayer.roots import next_leaves

N_MEMBERS = 5
TWIN = "twin"  # the holder key of member 0's second leaf
STEPS_PER_RUN = 40
MIN_EXAMPLES_PER_CALL = 10
MAX_FEE_BPS = 2_000
LICENSE = b"\x01" * 32
MEMBER = st.integers(0, N_MEMBERS - 1)
AMOUNT = st.integers(1, 10**12)
PERCENT = st.integers(1, 100)  # of what is claimable; 100 claims with type(uint256).max
SHARES = st.lists(
    st.one_of(st.just(0), st.integers(1, 10**6)), min_size=N_MEMBERS, max_size=N_MEMBERS
)
FINISHED, PENDING, VETOED = 0, 1, 2
REFUSED = 2**256 - 1  # what the lens reads for a leaf the union refuses
LensState = namedtuple(
    "LensState",
    "balance totalDeposited totalClaimed totalFeesWithdrawn undistributed totalShares feeBps "
    "feeRecipient paused pendingTotal claimable claimed left feesOwed",
)


def rule(**strategies):
    """A rule that does nothing once the campaign reached its step target."""

    def decorate(action):
        @functools.wraps(action)
        def guarded(self, *args, **kwargs):
            if not self.done:
                action(self, *args, **kwargs)

        return hypothesis_rule(**strategies)(guarded)

    return decorate


SECONDS = st.one_of(st.integers(0, ATTRIBUTION_DELAY - 60), st.integers(0, 3 * FEE_DELAY))


class RootsMachine(RuleBasedStateMachine):
    steps = 0
    runs = 0
    target = 0
    seen: ClassVar[Counter[str]] = Counter()

    @classmethod
    def bind(cls, union, token, lens, roles, members, mallory, sinks, blocked_sink):
        cls.union, cls.token, cls.lens = union, token, lens
        cls.admin, cls.attester, cls.pauser, cls.guardian, cls.fee_to0, cls.buyer = roles
        cls.members, cls.mallory, cls.sinks = members, mallory, sinks
        cls.blocked_sink = blocked_sink

    def __init__(self):
        super().__init__()
        # Hypothesis runs more examples than it is asked for; past the target every rule is a
        # no-op, so the campaign takes the time its steps take.
        self.done = type(self).steps >= type(self).target
        if self.done:
            return
        _rpc("evm_revert", type(self).snapshot)
        type(self).snapshot = _rpc("evm_snapshot")
        brownie.history._revert(web3.eth.block_number)
        type(self).runs += 1
        self.model = Replay()
        self.epoch, self.attribution, self.due_at = 0, FINISHED, 0
        self.active_epoch, self.start = 0, 0
        self.active = {}  # holder -> (Leaf, proof) of the root in force
        self.pending = {}  # holder -> (Leaf, proof) of the pending root
        self.active_size = 0
        self.left = set()  # member indexes that left
        self.proven = {}  # member index -> holder whose leaf their word remembers
        self.claimed = [0] * N_MEMBERS
        self.last_earned = {}
        self.inflow = 0
        self.fee_bps, self.fee_to = FEE_BPS, self.fee_to0
        self.fees_owed = {}
        self.pending_fee = None
        self.paused = False
        self.state = self._read()

    # -- revenue --------------------------------------------------------------------------------

    @rule(amount=AMOUNT)
    def deposit(self, amount):
        if self.paused:
            with reverts_with("DataUnionEnforcedPause"):
                self.union.deposit.call(amount, LICENSE, self._by(self.buyer))
            return self._step()
        tx = self.union.deposit(amount, LICENSE, self._by(self.buyer))
        received = sum(e["value"] for e in tx.events["Transfer"] if e["to"] == self.union)
        self.inflow += received
        self._revenue(received, tx)
        self._step()

    @rule(amount=AMOUNT)
    def transfer_and_sync(self, amount):
        tx = self.token.transfer(self.union, amount, self._by(self.buyer))
        received = sum(e["value"] for e in tx.events["Transfer"] if e["to"] == self.union)
        self.inflow += received
        if self.paused:  # the tokens wait for the next sync
            with reverts_with("DataUnionEnforcedPause"):
                self.union.sync.call(self._by(self.buyer))
            return self._step()
        tx = self.union.sync(self._by(self.buyer))
        self._revenue(tx.return_value, tx)
        self._step()

    # -- roots ----------------------------------------------------------------------------------

    @rule(
        shares=SHARES,
        twin=st.one_of(st.none(), st.none(), st.integers(0, 10**6)),
        step=st.sampled_from([1, 1, 1, 1, 0, 2]),
        outcome=st.sampled_from(["finish", "finish", "pending", "veto"]),
    )
    def post_root(self, shares, twin, step, outcome):
        epoch = self.epoch + step
        if self.paused or self.attribution == PENDING or step != 1:
            if self.paused:
                error = ("DataUnionEnforcedPause",)
            elif self.attribution == PENDING:
                error = (
                    ("DataUnionStaleEpoch", epoch, self.epoch)
                    if epoch < self.epoch
                    else ("DataUnionEpochPending", self.epoch, self.due_at)
                )
            elif step == 0:
                error = ("DataUnionStaleEpoch", epoch, self.epoch)
            else:
                error = ("DataUnionEpochSkipped", epoch, self.epoch + 1)
            with reverts_with(*error):
                self.union.postRoot.call(
                    epoch, b"\x11" * 32, b"\x22" * 32, 1, 1, self._by(self.attester)
                )
            return self._step()
        leaves, holders = self._next_leaves(shares, twin)
        if not leaves:  # nobody left to list: the attester has nothing to post
            return self._step()
        root, proofs = free_tree(epoch, leaves)
        total = sum(leaf.shares for leaf in leaves)
        report = (epoch + 1).to_bytes(32, "big")
        tx = self.union.postRoot(epoch, root, report, total, len(leaves), self._by(self.attester))
        self.epoch, self.attribution = epoch, PENDING
        self.due_at = tx.timestamp + ATTRIBUTION_DELAY
        self.pending = {h: (leaf, p) for h, leaf, p in zip(holders, leaves, proofs, strict=True)}
        self.pending_size = len(leaves)
        self.model.post({h: leaf.shares for h, (leaf, _) in self.pending.items()})
        self.seen["root posted" + (" with a twin" if TWIN in self.pending else "")] += 1
        self._step()
        if outcome == "finish":
            self.finish()
        elif outcome == "veto":
            self.veto()

    @rule()
    def finish(self):
        caller = self._by(self.buyer)
        if self.attribution == PENDING and _now() < self.due_at + 5:
            early = _now() < self.due_at - 5
            if early and not self.paused:
                with reverts_with("DataUnionAttributionNotDue", self.epoch, self.due_at):
                    self.union.finishAttribution.call(self.epoch, caller)
            _rpc("evm_increaseTime", self.due_at + 5 - _now())
            _rpc("evm_mine")
        if self.paused:
            with reverts_with("DataUnionEnforcedPause"):
                self.union.finishAttribution.call(self.epoch, caller)
            return self._step()
        if self.attribution != PENDING:
            error = (
                ("DataUnionEpochVetoed", self.epoch)
                if self.attribution == VETOED
                else ("DataUnionNotPending", self.epoch, self.epoch)
            )
            with reverts_with(*error):
                self.union.finishAttribution.call(self.epoch, caller)
            return self._step()
        tx = self.union.finishAttribution(self.epoch, caller)
        self.start = tx.events["RootActivated"]["epochStart"]
        for holder in set(self.active) - set(self.pending):
            if self._member_of(holder) not in self.left:
                self.model.forget(holder)  # dropped by the leaf rule: less than a unit
                self.last_earned.pop(holder, None)
        self.active, self.pending = self.pending, {}
        self.active_size, self.active_epoch = self.pending_size, self.epoch
        self.attribution = FINISHED
        self.proven = {}  # tags of the old root's leaves match none of the new one's
        self.model.finish()
        self.seen["root finished"] += 1
        self._step()

    @rule()
    def veto(self):
        if self.attribution != PENDING:
            with reverts_with("DataUnionNotPending", self.epoch, self.epoch):
                self.union.vetoAttribution.call(self.epoch, self._by(self.guardian))
            return self._step()
        self.union.vetoAttribution(self.epoch, self._by(self.guardian))  # paused or not
        self.attribution, self.pending = VETOED, {}
        self.model.veto()
        self.seen["root vetoed"] += 1
        self._step()

    # -- members --------------------------------------------------------------------------------

    @rule(
        who=MEMBER,
        percent=PERCENT,
        twin=st.booleans(),
        remembered=st.sampled_from([False, False, True]),
        to_sink=st.booleans(),
    )
    def claim(self, who, percent, twin, remembered, to_sink):
        member = self.members[who]
        to = self.sinks[who] if to_sink else member
        holder, leaf, proof = self._claim_leaf(who, twin)
        if remembered and who not in self.left and leaf != EMPTY_LEAF:
            if self.proven.get(who) != holder and self.active_size > 1:
                with reverts_with("DataUnionInvalidProof", member, self.active_epoch):
                    self.union.claim.call(to, MAX_UINT, leaf, [], self._by(member))
                self.seen["forgotten leaf refused"] += 1
                return self._step()
            proof = []
        args = (leaf, proof)
        if who not in self.left and self.active_epoch and holder not in self.active:
            with reverts_with("DataUnionInvalidProof", member, self.active_epoch):
                self.union.claim.call(to, MAX_UINT, *args, self._by(member))
            return self._step()
        available = self._claimable(holder)
        if available == 0:
            with reverts_with("DataUnionNothingToClaim", member):
                self.union.claim.call(to, MAX_UINT, *args, self._by(member))
            return self._step()
        amount = MAX_UINT if percent == 100 else max(1, available * percent // 100)
        if to == self.blocked_sink:
            with brownie.reverts():
                self.union.claim.call(to, amount, *args, self._by(member))
            return self._step()
        tx = self.union.claim(to, amount, *args, self._by(member))  # paused or not
        self._paid(tx, who, holder, available, amount)
        self.seen["claim" + (" remembered" if not proof else "")] += 1
        self._step()

    @rule(who=MEMBER, percent=PERCENT, twin=st.booleans())
    def claim_with_sig(self, who, percent, twin):
        member, to = self.members[who], self.sinks[who]
        holder, leaf, proof = self._claim_leaf(who, twin)
        available = self._claimable(holder) if holder in self.active or who in self.left else 0
        if available == 0 or to == self.blocked_sink:
            return self._step()
        amount = MAX_UINT if percent == 100 else max(1, available * percent // 100)
        signature, deadline = sign_claim(self.union, member, to, amount, deadline=_now() + 3600)
        args = (member, to, amount, deadline, leaf, proof, signature)
        tx = self.union.claimWithSig(*args, self._by(self.buyer))  # paused or not
        self._paid(tx, who, holder, available, amount)
        with reverts_with("DataUnionInvalidSignature", member):
            self.union.claimWithSig.call(*args, self._by(self.buyer))
        self.seen["signed claim"] += 1
        self._step()

    @rule(who=MEMBER, twin=st.booleans())
    def leave(self, who, twin):
        member = self.members[who]
        holder, leaf, proof = self._claim_leaf(who, twin)
        # The pending leaf of the same kind (member 0 may have a twin), else any of the member's.
        candidates = [holder, who, TWIN] if who == 0 else [who]
        pending_holder = next((h for h in candidates if h in self.pending), None)
        pending_leaf, pending_proof = self.pending.get(pending_holder, (EMPTY_LEAF, []))
        if isinstance(pending_leaf, Leaf):
            pending_leaf = pending_leaf.as_tuple()
        args = (leaf, proof, pending_leaf, pending_proof, self._by(member))
        if who in self.left:
            error = ("DataUnionAlreadyLeft", member)
        elif self.active_epoch == 0:
            error = ("DataUnionNotMember", member)
        elif holder not in self.active:
            error = ("DataUnionInvalidProof", member, self.active_epoch)
        elif self.attribution == PENDING and pending_holder is None:
            error = ("DataUnionInvalidProof", member, self.epoch)
        else:
            error = None
        if error:
            with reverts_with(*error):
                self.union.leave.call(*args)
            return self._step()
        self.union.leave(*args)  # paused or not
        units = self.union.claimable(member, EMPTY_LEAF, []) + self.claimed[who]
        assert abs(units - self.model.whole(holder)) <= 1
        self.model.leave(holder, units, pending_holder if self.attribution == PENDING else None)
        self.left.add(who)
        self.seen["left" + (" while pending" if self.attribution == PENDING else "")] += 1
        self._step()

    @rule(victim=MEMBER, thief=st.integers(0, N_MEMBERS), act=st.sampled_from(["claim", "leave"]))
    def steal(self, victim, thief, act):
        """A member, or mallory (thief N), proves another member's leaf: always refused."""
        if thief == victim or (thief < N_MEMBERS and thief in self.left):
            return self._step()
        account = self.members[thief] if thief < N_MEMBERS else self.mallory
        leaf, proof = self._leaf_of(victim)
        own = [self.active[h][0].as_tuple() for h in (thief, TWIN) if h in self.active]
        if thief < N_MEMBERS and leaf in own:
            return self._step()  # the same values are the thief's own leaf too: theirs to use
        if act == "claim":
            call = self.union.claim.call
            args = (account, MAX_UINT, leaf, proof, self._by(account))
            error = ("DataUnionInvalidProof", account, self.active_epoch)
            if self.active_epoch == 0:
                error = ("DataUnionNothingToClaim", account)
        else:
            call = self.union.leave.call
            args = (leaf, proof, EMPTY_LEAF, [], self._by(account))
            error = ("DataUnionInvalidProof", account, self.active_epoch)
            if self.active_epoch == 0:
                error = ("DataUnionNotMember", account)
        with reverts_with(*error):
            call(*args)
        self.seen["stolen leaf refused"] += 1
        self._step()

    @rule(act=st.integers(0, 3))
    def mallory_acts(self, act):
        union, by = self.union, self._by(self.mallory)
        with brownie.reverts():
            if act == 0:
                union.postRoot.call(self.epoch + 1, b"\x66" * 32, b"\x66" * 32, 1, 1, by)
            elif act == 1:
                union.pause.call(by)
            elif act == 2:
                union.vetoAttribution.call(self.epoch, by)
            else:
                union.proposeFee.call(MAX_FEE_BPS, self.mallory, by)
        self._step()

    # -- pause, fee, time -----------------------------------------------------------------------

    @rule(pause=st.sampled_from([True, False, False, False]))
    def pause_or_unpause(self, pause):
        if pause == self.paused:
            return self._step()
        (self.union.pause if pause else self.union.unpause)(self._by(self.pauser))
        self.paused = pause
        self._step()

    @rule(fee_bps=st.integers(0, MAX_FEE_BPS + 500), to_mallory=st.booleans())
    def propose_fee(self, fee_bps, to_mallory):
        recipient = self.mallory if to_mallory else self.fee_to0
        if fee_bps > MAX_FEE_BPS:
            with reverts_with("DataUnionFeeTooHigh", fee_bps, MAX_FEE_BPS):
                self.union.proposeFee.call(fee_bps, recipient, self._by(self.admin))
            return self._step()
        tx = self.union.proposeFee(fee_bps, recipient, self._by(self.admin))
        self.pending_fee = (fee_bps, recipient, tx.timestamp + FEE_DELAY)
        self._step()

    @rule()
    def apply_fee(self):
        if self.pending_fee is None:
            with reverts_with("DataUnionNoPendingFee"):
                self.union.applyFee.call(self._by(self.buyer))
            return self._step()
        fee_bps, recipient, eta = self.pending_fee
        now = _now()
        if now < eta - 5:
            with reverts_with("DataUnionFeeChangeNotReady", eta):
                self.union.applyFee.call(self._by(self.buyer))
        elif now >= eta + 5:
            self.union.applyFee(self._by(self.buyer))  # what accrued stays the old recipient's
            self.fee_bps, self.fee_to, self.pending_fee = fee_bps, recipient, None
            self.seen["fee changed"] += 1
        self._step()

    @rule(mallory=st.booleans())
    def withdraw_fees(self, mallory):
        recipient = self.mallory if mallory else self.fee_to0
        if self.fees_owed.get(recipient, 0) == 0:
            with reverts_with("DataUnionNothingToWithdraw", recipient):
                self.union.withdrawFees.call(recipient, self._by(recipient))
            return self._step()
        self.union.withdrawFees(recipient, self._by(recipient))
        self.fees_owed[recipient] = 0
        self._step()

    @rule(seconds=SECONDS)
    def time_passes(self, seconds):
        _rpc("evm_increaseTime", seconds)
        _rpc("evm_mine")
        self._step()

    # -- the invariants -------------------------------------------------------------------------

    @initialize(shares=SHARES, amount=AMOUNT)
    def first_root_and_revenue(self, shares, amount):
        """Most runs start with a root in force and revenue to claim."""
        if self.done:
            return
        self.post_root(shares, None, 1, "finish")
        self.deposit(amount)

    @invariant()
    def invariants_hold(self):
        if self.done:
            return
        self.state = state = self._read()
        owed = {}
        for holder, claimable in self._slots(state):
            who = self._member_of(holder)
            if claimable == REFUSED:
                continue
            owed[who] = max(owed.get(who, 0), claimable)
            claimed = self.claimed[who]
            whole = self.model.whole(holder)
            if who in self.left:
                assert claimable + claimed == self.model.frozen[self._left_holder(who)]
            elif claimable:
                earned = claimed + claimable
                assert abs(earned - whole) <= 1, (holder, earned, self.model.earned(holder))
                assert earned >= self.last_earned.get(holder, 0)
                self.last_earned[holder] = earned
            else:
                assert whole <= claimed + 1
        # Solvency: everything anyone may take is there.
        assert state.balance >= sum(owed.values()) + sum(state.feesOwed) + state.undistributed
        # Conservation.
        assert self.inflow == state.totalClaimed + state.totalFeesWithdrawn + state.balance
        assert list(state.claimed) == [*self.claimed, self.claimed[0], 0]
        assert state.claimable[-1] in (0, REFUSED)  # mallory, in no tree
        assert sum(self.claimed) == state.totalClaimed
        # Claimed <= earned, for a member with two leaves the larger (claims are cumulative).
        for who in range(N_MEMBERS):
            holders = [h for h in (who, TWIN) if self._member_of(h) == who]
            if who in self.left:
                assert self.claimed[who] <= self.model.frozen[self._left_holder(who)]
            else:
                assert self.claimed[who] <= max(self.model.whole(h) for h in holders) + 1
        assert list(state.left) == [i in self.left for i in range(N_MEMBERS)] + [
            0 in self.left,
            False,
        ]
        # The fee: capped, changed only through its timelock, accrued exactly.
        assert state.feeBps == self.fee_bps <= MAX_FEE_BPS
        assert state.feeRecipient == self.fee_to
        assert list(state.feesOwed) == [self.fees_owed.get(r, 0) for r in self._fee_recipients()]
        assert state.paused == self.paused
        # The roots: in force and pending, as the model says; revenue held only without shares.
        assert tuple(self.union.attributionState()) == (self.epoch, self.attribution, self.due_at)
        assert state.totalShares == self.model.total()
        pending = sum(self.model.pending.values()) if self.model.pending is not None else 0
        assert state.pendingTotal == (pending if self.attribution == PENDING else 0)
        assert state.undistributed == self.model.waiting

    # -- helpers --------------------------------------------------------------------------------

    def _next_leaves(self, shares, twin):
        departed = {str(self.members[i]).lower() for i in self.left}
        previous = [leaf for h, (leaf, _) in self.active.items() if h != TWIN]
        wanted = {str(self.members[i]): s for i, s in enumerate(shares) if i not in self.left}
        leaves = next_leaves(previous, self.start, wanted, departed)
        index = {str(m).lower(): i for i, m in enumerate(self.members)}
        holders = [index[leaf.member.lower()] for leaf in leaves]
        old_twin = self.active.get(TWIN, (None,))[0]
        if 0 not in self.left and (twin is not None or old_twin is not None):
            if old_twin is None:
                twin_leaf = Leaf(str(self.members[0]), 0, 0, twin)
            else:
                offset = old_twin.offset + (old_twin.previous_shares - old_twin.shares) * self.start
                new = old_twin.shares if twin is None else twin
                twin_leaf = Leaf(old_twin.member, offset, old_twin.shares, new)
            leaves.append(twin_leaf)
            holders.append(TWIN)
        return leaves, holders

    def _claim_leaf(self, who, twin):
        """The holder whose leaf `who` proves, with the leaf and proof (a member who left passes
        an empty leaf: it is ignored)."""
        holder = TWIN if who == 0 and twin and TWIN in self.active else who
        if who in self.left:
            return holder, EMPTY_LEAF, []
        leaf, proof = self.active.get(holder, (None, []))
        return holder, (leaf.as_tuple() if leaf else EMPTY_LEAF), proof

    def _leaf_of(self, who):
        leaf, proof = self.active.get(who, (None, []))
        return (leaf.as_tuple() if leaf else (0, 0, 1)), proof

    def _claimable(self, holder):
        for slot, claimable in self._slots(self.state):
            if slot == holder:
                return 0 if claimable == REFUSED else claimable
        return 0

    def _paid(self, tx, who, holder, available, amount):
        paid = available if amount == MAX_UINT else amount
        assert tx.events["Claimed"]["amount"] == paid
        self.claimed[who] += paid
        if who not in self.left:
            self.proven[who] = holder

    def _revenue(self, received, tx):
        if not received:
            return
        fee = received * self.fee_bps // 10_000
        event = tx.events["RevenueDeposited"]
        assert (event["amount"], event["fee"]) == (received, fee)
        self.fees_owed[self.fee_to] = self.fees_owed.get(self.fee_to, 0) + fee
        self.model.revenue(received - fee)

    def _holders(self):
        return [*range(N_MEMBERS), TWIN]

    def _member_of(self, holder):
        return 0 if holder == TWIN else holder

    def _left_holder(self, who):
        return next(h for h in self.model.frozen if self._member_of(h) == who)

    def _slots(self, state):
        return list(zip(self._holders(), state.claimable[: N_MEMBERS + 1], strict=True))

    def _read(self):
        accounts, leaves, proofs = [], [], []
        for holder in self._holders():
            who = self._member_of(holder)
            accounts.append(self.members[who])
            leaf, proof = self.active.get(holder, (None, []))
            if who in self.left:
                leaf, proof = None, []
            leaves.append(leaf.as_tuple() if leaf else EMPTY_LEAF)
            # No leaf in the root in force: an empty proof of an empty leaf is refused (REFUSED).
            proofs.append(proof)
        accounts.append(self.mallory)
        leaves.append(EMPTY_LEAF)
        proofs.append([])
        raw = self.lens.read(self.union, accounts, leaves, proofs, self._fee_recipients())
        return LensState(*(list(value) if isinstance(value, tuple) else value for value in raw))

    def _fee_recipients(self):
        return [self.fee_to0, self.mallory]

    def _step(self):
        type(self).steps += 1

    def _by(self, account):
        return {"from": account, "silent": True}


def _rpc(method, *params):
    return web3.provider.make_request(method, list(params))["result"]


def _now():
    return web3.eth.get_block("latest")["timestamp"]


def test_roots_invariants_hold_under_random_operations(
    token_kind, admin, attester, pauser, guardian, fee_recipient, buyer, capsys
):
    target = int(os.environ.get("ROOTS_FUZZ_STEPS", "400"))
    token = deploy_token(token_kind, admin)
    union = deploy_roots_union(token, admin, attester, pauser, guardian, fee_recipient)
    lens = RootsLens.deploy({"from": admin})
    token.mint(buyer, 2**128, {"from": buyer})
    token.approve(union, 2**128, {"from": buyer})
    members = [local_account(f"roots member {i}") for i in range(N_MEMBERS)]
    mallory = local_account("roots mallory")
    sinks = [local_account(f"roots sink {i}") for i in range(N_MEMBERS)]
    blocked_sink = None
    if token_kind == "blocklist":
        blocked_sink = sinks[0]
        token.setBlocklisted(blocked_sink, True, {"from": admin})
    roles = (admin, attester, pauser, guardian, fee_recipient, buyer)
    RootsMachine.bind(union, token, lens, roles, members, mallory, sinks, blocked_sink)
    RootsMachine.snapshot = _rpc("evm_snapshot")

    RootsMachine.steps = RootsMachine.runs = 0
    RootsMachine.target = target
    RootsMachine.seen = Counter()
    requested = 0
    started = time.monotonic()
    while RootsMachine.steps < target:
        # As in test_invariants.py: ask for as many examples as the missing steps need.
        per_example = RootsMachine.steps / requested if requested else STEPS_PER_RUN
        missing = target - RootsMachine.steps
        examples = max(MIN_EXAMPLES_PER_CALL, math.ceil(missing / max(per_example, 1)))
        requested += examples
        run_state_machine_as_test(
            RootsMachine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=STEPS_PER_RUN,
                deadline=None,
                database=None,
            ),
        )
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\n  roots invariants [{token_kind}]: {RootsMachine.steps} steps in "
            f"{RootsMachine.runs} runs, 0 violations, {elapsed:.0f} s "
            f"({RootsMachine.steps / elapsed:.1f} steps/s)"
        )
        print("  " + ", ".join(f"{what}: {n}" for what, n in sorted(RootsMachine.seen.items())))
    assert RootsMachine.steps >= target
