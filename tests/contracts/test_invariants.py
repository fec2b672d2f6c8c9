"""Stateful property test: random sequences of everything anyone can do to a union, over every kind
of pool token, with the five invariants of the design checked after every step.

A Python model keeps what the contract cannot be trusted to say about itself: the tokens that
arrived, each member's exact (rational) entitlement, claims, shares, fees and the pause state.
Rules assert their own outcome too: success where a call must work (claims and leave while paused
included) and the named custom error where it must not. Expected reverts are checked with
eth_call, so they cannot change state by construction; the invariants then confirm nothing moved.
Snapshots and time travel go straight to anvil's RPC (brownie's chain wrappers inspect the whole
call stack on every use, which made them most of the run time), then tell brownie to forget the
reverted transactions.

The attribution timelock is part of the model: epochs advance by one, each batch makes its epoch
due ATTRIBUTION_DELAY later, finishing early or a vetoed epoch is refused, the guardian vetoes,
time travels both short of and past the delay, and the attester and guardian roles change only
through scheduled, cancellable changes. Like the relayer, the attester's first batch after a veto
re-posts every member the vetoed epoch set. The invariant added for it: no revenue is ever split
by a table that was vetoed or had not waited out its delay - while an epoch is pending or vetoed
every unit of member revenue is in `undistributed` (nothing split), an epoch is finished only
when a block at least ATTRIBUTION_DELAY after its last batch says so, and each member's earnings
match the model, which splits revenue by finished tables only.

FUZZ_STEPS sets the number of steps per token kind (2,000 in `make test`, 25,000 in `make fuzz`).
"""

import math
import os
import time
from collections import Counter, namedtuple
from fractions import Fraction
from typing import ClassVar

import brownie
from brownie import UnionLens, web3
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from fixtures.accounts import local_account
from fixtures.reverts import reverts_with
from fixtures.tokens import deploy_token
from fixtures.union import (
    ATTRIBUTION_DELAY,
    FEE_BPS,
    FEE_DELAY,
    MAX_UINT,
    deploy_union,
    sign_claim,
)

N_MEMBERS = 5
STEPS_PER_RUN = 50
MIN_EXAMPLES_PER_CALL = 25
MAX_FEE_BPS = 2_000
LICENSE = b"\x01" * 32
MEMBER = st.integers(0, N_MEMBERS - 1)
AMOUNT = st.integers(1, 10**12)
PERCENT = st.integers(1, 100)  # of what is claimable; 100 claims with type(uint256).max
FINISHED, PENDING, VETOED = 0, 1, 2
ATTESTER, GUARDIAN = "ATTESTER_ROLE", "GUARDIAN_ROLE"
# Time steps: mostly short of the attribution delay, sometimes past it, sometimes past the fee's.
SECONDS = st.one_of(
    st.integers(0, ATTRIBUTION_DELAY - 60),
    st.integers(ATTRIBUTION_DELAY, 2 * ATTRIBUTION_DELAY),
    st.integers(0, 3 * FEE_DELAY),
)

State = namedtuple(
    "State",
    "balance total_deposited total_claimed total_fees_withdrawn undistributed total_shares "
    "fee_bps fee_recipient paused posting claimable shares fees_owed",
)


class UnionMachine(RuleBasedStateMachine):
    """Rules are what the actors do; the invariant runs after every rule."""

    steps = 0
    runs = 0
    # How often each timelock outcome came up: shows that the campaign reached them.
    seen: ClassVar[Counter[str]] = Counter()

    @classmethod
    def bind(cls, union, token, lens, roles, candidates, members, mallory, sinks, blocked_sink):
        """The contracts and actors every run uses (deployed once, reverted to between runs).
        `candidates` are, per delayed role, the accounts it may move between (the first holds it
        at deployment)."""
        cls.union, cls.token, cls.lens = union, token, lens
        cls.admin, cls.attester, cls.pauser, cls.operator_fees, cls.buyer, cls.relayer = roles
        cls.candidates = candidates
        cls.role_ids = {name: getattr(union, name)() for name in candidates}
        cls.members, cls.mallory, cls.sinks = members, mallory, sinks
        cls.blocked_sink = blocked_sink

    def __init__(self):
        super().__init__()
        _rpc("evm_revert", type(self).snapshot)
        type(self).snapshot = _rpc("evm_snapshot")
        brownie.history._revert(web3.eth.block_number)  # brownie forgets reverted transactions
        type(self).runs += 1
        self.shares = [0] * N_MEMBERS
        self.finished_shares = [0] * N_MEMBERS  # the table of the last epoch that took effect
        self.batch_members = set()  # indexes the pending epoch's batches set
        self.claimed = [0] * (N_MEMBERS + 1)  # the last slot is mallory's, who never earns
        self.ideal = [Fraction(0)] * (N_MEMBERS + 1)  # exact rational entitlement
        self.zeroings = [0] * (N_MEMBERS + 1)  # times a member's shares went to 0
        self.last_earned = [0] * (N_MEMBERS + 1)
        self.expected_claimable = {}
        self.waiting = Fraction(0)  # revenue held: no shareholders, or an epoch being posted
        self.inflow = 0  # every pool token that ever reached the union
        self.fee_bps, self.fee_to = FEE_BPS, self.operator_fees
        self.fees_owed, self.fees_charged = {}, {}
        self.pending_fee = None
        self.paused = False
        self.epoch = 0
        self.attribution = FINISHED  # or PENDING / VETOED: revenue is held
        self.due_at = 0
        self.last_batch_at = 0
        self.vetoed_members = set()  # indexes the vetoed epoch set, to re-post in the next one
        self.holders = {name: {accounts[0]} for name, accounts in self.candidates.items()}
        self.scheduled = {}  # (role name, account, grant) -> eta
        self.state = self._read()

    # -- what the actors do ---------------------------------------------------------------------

    @rule(amount=AMOUNT)
    def deposit(self, amount):
        if self.paused:
            with reverts_with("DataUnionEnforcedPause"):
                self.union.deposit.call(amount, LICENSE, self._by(self.buyer))
            return self._step()
        tx = self.union.deposit(amount, LICENSE, self._by(self.buyer))
        received = self._arrived(tx)
        self.inflow += received
        self._record_revenue(received, tx)
        self._step()

    @rule(amount=AMOUNT)
    def plain_transfer(self, amount):
        tx = self.token.transfer(self.union, amount, self._by(self.buyer))
        self.inflow += self._arrived(tx)
        self._step()

    @rule()
    def sync(self):
        if self.paused:
            with reverts_with("DataUnionEnforcedPause"):
                self.union.sync.call(self._by(self.relayer))
            return self._step()
        state = self.state
        unsynced = state.balance - (
            state.total_deposited - state.total_claimed - state.total_fees_withdrawn
        )
        tx = self.union.sync(self._by(self.relayer))
        if unsynced:
            self._record_revenue(unsynced, tx)
        else:
            assert "RevenueDeposited" not in tx.events
        self._step()

    @rule(
        picks=st.lists(MEMBER, min_size=1, max_size=N_MEMBERS),
        shares=st.lists(st.integers(0, 10**6), min_size=N_MEMBERS, max_size=N_MEMBERS),
        step=st.sampled_from([0, 1, 1, 1, 2]),  # same epoch, the next one, or one too far
    )
    def attribute(self, picks, shares, step):
        # Picks may repeat a member: the last entry of a batch wins, on-chain as in the model.
        new_shares = shares[: len(picks)]
        epoch = self.epoch + step
        if step == 1 and self.attribution == VETOED:
            # The relayer's rule after a veto: re-post every address the vetoed epoch set.
            restore = sorted(self.vetoed_members - set(picks))
            picks = restore + picks
            new_shares = [self.finished_shares[i] for i in restore] + new_shares
        report = (epoch + 1).to_bytes(32, "big")  # never zero, one per epoch
        args = (epoch, report, [self.members[i] for i in picks], new_shares)
        sender = self._holder(ATTESTER)
        if sender is None:
            role = self.role_ids[ATTESTER]
            with reverts_with("AccessControlUnauthorizedAccount", self.attester, role):
                self.union.postAttribution.call(*args, self._by(self.attester))
            return self._step()
        if self.paused:
            with reverts_with("DataUnionEnforcedPause"):
                self.union.postAttribution.call(*args, self._by(sender))
            return self._step()
        refusal = self._post_refusal(epoch)
        if refusal:
            with reverts_with(*refusal):
                self.union.postAttribution.call(*args, self._by(sender))
            return self._step()
        tx = self.union.postAttribution(*args, self._by(sender))
        self.seen["batch"] += 1
        self.due_at = tx.timestamp + ATTRIBUTION_DELAY
        assert tx.events["AttributionPending"]["dueAt"] == self.due_at
        self.last_batch_at = tx.timestamp
        if self.attribution != PENDING:  # a new epoch
            self.epoch, self.attribution = epoch, PENDING
            self.vetoed_members, self.batch_members = set(), set()
        self.batch_members.update(picks)
        for index, new in zip(picks, new_shares, strict=True):
            self._set_model_shares(index, new)
        self._step()

    @rule(by_member=MEMBER, wait=st.sampled_from([True, True, False]))
    def finish_attribution(self, by_member, wait):
        """Finish the epoch, after travelling past its due time when `wait` (else as it is)."""
        caller = self._by(self.members[by_member])  # anyone may finish a due epoch
        if wait and self.attribution == PENDING and _now() < self.due_at + 5:
            _rpc("evm_increaseTime", self.due_at + 5 - _now())
            _rpc("evm_mine")
        if self.paused:
            with reverts_with("DataUnionEnforcedPause"):
                self.union.finishAttribution.call(self.epoch, caller)
            return self._step()
        if self.attribution == FINISHED:
            with reverts_with("DataUnionNotPending", self.epoch, self.epoch):
                self.union.finishAttribution.call(self.epoch, caller)
            return self._step()
        if self.attribution == VETOED:
            with reverts_with("DataUnionEpochVetoed", self.epoch):
                self.union.finishAttribution.call(self.epoch, caller)
            self.seen["vetoed finish refused"] += 1
            return self._step()
        now = _now()
        if now < self.due_at - 5:  # clearly early (the next block's time may move a little)
            with reverts_with("DataUnionAttributionNotDue", self.epoch, self.due_at):
                self.union.finishAttribution.call(self.epoch, caller)
            self.seen["early finish refused"] += 1
            return self._step()
        if now < self.due_at + 5:
            return self._step()
        tx = self.union.finishAttribution(self.epoch, caller)
        # The table takes effect only after its delay: the block says so, not the model.
        assert tx.timestamp >= self.last_batch_at + ATTRIBUTION_DELAY
        self.seen["finished"] += 1
        self.attribution = FINISHED
        self.finished_shares = list(self.shares)
        if self.waiting and sum(self.shares):
            self._distribute(Fraction(0))
        self._step()

    @rule(
        picks=st.lists(MEMBER, min_size=1, max_size=N_MEMBERS),
        shares=st.lists(st.integers(0, 10**6), min_size=N_MEMBERS, max_size=N_MEMBERS),
        by_member=MEMBER,
        veto=st.booleans(),
    )
    def epoch_cycle(self, picks, shares, by_member, veto):
        """The relayer's whole round: the next epoch's batch, a finish tried at once (refused: not
        due), then its veto or, once due, its finish. Its parts are rules of their own too; this
        one makes whole rounds frequent."""
        self.attribute(picks, shares, 1)
        self.finish_attribution(by_member, False)
        if veto:
            self.veto()
        self.finish_attribution(by_member, True)

    @rule()
    def veto(self):
        guardian = self._holder(GUARDIAN)
        if guardian is None:
            return self._step()
        if self.attribution != PENDING:
            with reverts_with("DataUnionNotPending", self.epoch, self.epoch):
                self.union.vetoAttribution.call(self.epoch, self._by(guardian))
            return self._step()
        self.union.vetoAttribution(self.epoch, self._by(guardian))  # paused or not
        self.seen["vetoed"] += 1
        self.attribution = VETOED
        self.vetoed_members, self.batch_members = self.batch_members, set()
        self._step()

    @rule(role=st.sampled_from([ATTESTER, GUARDIAN]), pick=st.integers(0, 1), grant=st.booleans())
    def schedule_role_change(self, role, pick, grant):
        account = self.candidates[role][pick]
        key = (role, account, grant)
        args = (self.role_ids[role], account, grant, self._by(self.admin))
        if key in self.scheduled:
            expected = (self.role_ids[role], account, grant, self.scheduled[key])
            with reverts_with("DataUnionRoleChangeAlreadyScheduled", *expected):
                self.union.scheduleRoleChange.call(*args)
            return self._step()
        tx = self.union.scheduleRoleChange(*args)
        self.scheduled[key] = tx.timestamp + ATTRIBUTION_DELAY
        assert tx.return_value == self.scheduled[key]
        self._step()

    @rule(role=st.sampled_from([ATTESTER, GUARDIAN]), pick=st.integers(0, 1), grant=st.booleans())
    def execute_role_change(self, role, pick, grant):
        account = self.candidates[role][pick]
        key = (role, account, grant)
        args = (self.role_ids[role], account, grant, self._by(self.relayer))
        if key not in self.scheduled:
            with reverts_with("DataUnionRoleChangeNotScheduled", *args[:3]):
                self.union.executeRoleChange.call(*args)
            return self._step()
        eta, now = self.scheduled[key], _now()
        if now < eta - 5:
            with reverts_with("DataUnionRoleChangeNotReady", eta):
                self.union.executeRoleChange.call(*args)
        elif now >= eta + 5:
            self.union.executeRoleChange(*args)
            self.seen["role changed"] += 1
            del self.scheduled[key]
            (self.holders[role].add if grant else self.holders[role].discard)(account)
        self._step()

    @rule(
        role=st.sampled_from([ATTESTER, GUARDIAN]),
        pick=st.integers(0, 1),
        grant=st.booleans(),
        by_guardian=st.booleans(),
    )
    def cancel_role_change(self, role, pick, grant, by_guardian):
        account = self.candidates[role][pick]
        key = (role, account, grant)
        canceller = self._holder(GUARDIAN) if by_guardian else self.admin
        if canceller is None:
            return self._step()
        args = (self.role_ids[role], account, grant, self._by(canceller))
        if key not in self.scheduled:
            with reverts_with("DataUnionRoleChangeNotScheduled", *args[:3]):
                self.union.cancelRoleChange.call(*args)
            return self._step()
        self.union.cancelRoleChange(*args)
        self.seen["role change cancelled"] += 1
        del self.scheduled[key]
        self._step()

    @rule(who=MEMBER, percent=PERCENT, to_sink=st.booleans())
    def claim(self, who, percent, to_sink):
        member = self.members[who]
        available = self.state.claimable[who]
        to = self.sinks[who] if to_sink else member
        if available == 0:
            with reverts_with("DataUnionNothingToClaim", member):
                self.union.claim.call(to, MAX_UINT, self._by(member))
            return self._step()
        amount = self._amount(available, percent)
        if to == self.blocked_sink:  # the token refuses this recipient; the earnings stay
            with brownie.reverts():
                self.union.claim.call(to, amount, self._by(member))
            return self._step()
        tx = self.union.claim(to, amount, self._by(member))  # paused or not
        self._record_claim(tx, who, available, amount)
        self._step()

    @rule(who=MEMBER, percent=PERCENT)
    def claim_with_sig(self, who, percent):
        member = self.members[who]
        available = self.state.claimable[who]
        if available == 0 or self.sinks[who] == self.blocked_sink:
            return self._step()
        amount = self._amount(available, percent)
        signature, deadline = sign_claim(
            self.union, member, self.sinks[who], amount, deadline=_now() + 3600
        )
        args = (member, self.sinks[who], amount, deadline, signature)
        tx = self.union.claimWithSig(*args, self._by(self.relayer))  # paused or not
        self._record_claim(tx, who, available, amount)
        with reverts_with("DataUnionInvalidSignature", member):  # the same signature again
            self.union.claimWithSig.call(*args, self._by(self.relayer))
        self._step()

    @rule(who=MEMBER)
    def leave(self, who):
        member = self.members[who]
        if self.shares[who] == 0:
            with reverts_with("DataUnionNotMember", member):
                self.union.leave.call(self._by(member))
            return self._step()
        self.union.leave(self._by(member))  # paused or not
        self._set_model_shares(who, 0)
        self.finished_shares[who] = 0  # in force at once, whatever the epoch's state
        self._step()

    # Unpausing is asked for three times as often as pausing, so that runs spend most of their
    # steps unpaused, where attributions and their delay can be exercised.
    @rule(pause=st.sampled_from([True, False, False, False]))
    def pause_or_unpause(self, pause):
        by_pauser = self._by(self.pauser)
        if pause == self.paused:
            error = "DataUnionEnforcedPause" if pause else "DataUnionExpectedPause"
            with reverts_with(error):
                (self.union.pause if pause else self.union.unpause).call(by_pauser)
            return self._step()
        (self.union.pause if pause else self.union.unpause)(by_pauser)
        self.paused = pause
        self._step()

    @rule(fee_bps=st.integers(0, MAX_FEE_BPS + 500), to_mallory=st.booleans())
    def propose_fee(self, fee_bps, to_mallory):
        recipient = self.mallory if to_mallory else self.operator_fees
        if fee_bps > MAX_FEE_BPS:
            with reverts_with("DataUnionFeeTooHigh", fee_bps, MAX_FEE_BPS):
                self.union.proposeFee.call(fee_bps, recipient, self._by(self.admin))
            return self._step()
        tx = self.union.proposeFee(fee_bps, recipient, self._by(self.admin))
        self.pending_fee = (fee_bps, recipient, tx.timestamp + FEE_DELAY)
        self._step()

    @rule(cancel=st.booleans())
    def apply_or_cancel_fee(self, cancel):
        if self.pending_fee is None:
            with reverts_with("DataUnionNoPendingFee"):
                self.union.applyFee.call(self._by(self.relayer))
            return self._step()
        if cancel:
            self.union.cancelFee(self._by(self.admin))
            self.pending_fee = None
            return self._step()
        fee_bps, recipient, eta = self.pending_fee
        now = _now()
        if now < eta - 5:  # clearly early (the next block's time may move a little)
            with reverts_with("DataUnionFeeChangeNotReady", eta):
                self.union.applyFee.call(self._by(self.relayer))
        elif now >= eta + 5:
            self.union.applyFee(self._by(self.relayer))
            self.fee_bps, self.fee_to, self.pending_fee = fee_bps, recipient, None
        self._step()

    @rule(mallory_withdraws=st.booleans())
    def withdraw_fees(self, mallory_withdraws):
        recipient = self.mallory if mallory_withdraws else self.operator_fees
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

    @rule(attack=st.integers(0, 11), victim=MEMBER)
    def mallory_attacks(self, attack, victim):
        """The malicious actor pulls every lever it has no right to; each must revert."""
        target, union, by_mallory = self.members[victim], self.union, self._by(self.mallory)
        with brownie.reverts():
            if attack == 0:
                union.postAttribution.call(
                    self.epoch + 1, b"\x66" * 32, [self.mallory], [10**6], by_mallory
                )
            elif attack == 1:
                union.pause.call(by_mallory)
            elif attack == 2:
                union.proposeFee.call(MAX_FEE_BPS, self.mallory, by_mallory)
            elif attack == 3:  # the victim's earnings, claimed with mallory's own signature
                key = self.mallory.private_key
                forged = type("Forged", (), {"address": target, "private_key": key})
                signature, deadline = sign_claim(
                    union, forged, self.mallory, MAX_UINT, deadline=_now() + 3600
                )
                union.claimWithSig.call(
                    target, self.mallory, MAX_UINT, deadline, signature, by_mallory
                )
            elif attack == 4:
                union.grantRole.call(union.ATTESTER_ROLE(), self.mallory, by_mallory)
            elif attack == 5:
                union.cancelFee.call(by_mallory)
            elif attack == 6:
                union.withdrawFees.call(self.mallory, self._by(self.sinks[victim]))
            elif attack == 7:
                union.vetoAttribution.call(self.epoch, by_mallory)
            elif attack == 9:
                union.scheduleRoleChange.call(union.ATTESTER_ROLE(), self.mallory, True, by_mallory)
            elif attack == 10:
                union.cancelRoleChange.call(
                    union.GUARDIAN_ROLE(), self.candidates[GUARDIAN][0], False, by_mallory
                )
            elif attack == 11:  # not even the admin removes a guardian at once
                union.revokeRole.call(
                    union.GUARDIAN_ROLE(), self.candidates[GUARDIAN][0], self._by(self.admin)
                )
            else:
                union.claim.call(self.mallory, MAX_UINT, by_mallory)
        self._step()

    # -- the invariants ---------------------------------------------------------------------------

    @invariant()
    def invariants_hold(self):
        self.state = state = self._read()
        earned_unclaimed = sum(state.claimable)
        # 1. Solvency: every unit anyone may claim or withdraw is there.
        assert state.balance >= earned_unclaimed + sum(state.fees_owed) + state.undistributed
        # 2. Conservation: what came in was claimed, withdrawn as fees, or is still held.
        assert self.inflow == state.total_claimed + state.total_fees_withdrawn + state.balance
        assert sum(self.claimed) == state.total_claimed

        # 3. Per member: earned never decreases, stays within rounding of the exact share, and
        # shares change only by attestation or leave.
        dust_bound = 1 + sum(self.zeroings)
        for i, claimable in enumerate(state.claimable):
            earned = self.claimed[i] + claimable
            assert earned >= self.last_earned[i]
            assert self.ideal[i] - 1 - self.zeroings[i] <= earned <= self.ideal[i] + dust_bound
            self.last_earned[i] = earned
        for i, expected in self.expected_claimable.items():
            assert state.claimable[i] == expected
        self.expected_claimable = {}
        assert state.shares == [*self.shares, 0]
        assert state.total_shares == sum(self.shares)
        # Rounding leaves less than a unit per member unassigned, and never assigns too much.
        member_revenue = state.total_deposited - sum(self.fees_charged.values())
        unassigned = member_revenue - state.undistributed - sum(self.last_earned)
        assert 0 <= unassigned <= N_MEMBERS + dust_bound

        # 4. The fee never exceeds the cap, changes only through the timelock, and accrues exactly.
        assert state.fee_bps == self.fee_bps <= MAX_FEE_BPS
        assert state.fee_recipient == self.fee_to
        assert state.fees_owed == [self.fees_owed.get(r, 0) for r in self._fee_recipients()]
        # 5. Only the pauser pauses; claims and leave above ran whatever this flag said.
        assert state.paused == self.paused
        # 6. No revenue is split by a table that was vetoed or has not waited out its delay:
        # while the epoch is pending or vetoed, all member revenue since is held, none split.
        held = self.attribution != FINISHED
        assert state.posting == held
        assert tuple(self.union.attributionState()) == (self.epoch, self.attribution, self.due_at)
        if held or state.total_shares == 0:
            assert state.undistributed == self.waiting
        else:
            assert state.undistributed == 0
            assert state.shares[:N_MEMBERS] == self.finished_shares
        for name, accounts in self.candidates.items():
            role = self.role_ids[name]
            assert {a for a in accounts if self.union.hasRole(role, a)} == self.holders[name]

    # -- the model --------------------------------------------------------------------------------

    def _read(self):
        accounts = [*self.members, self.mallory]
        raw = self.lens.read(self.union, accounts, self._fee_recipients())
        return State(*(list(value) if isinstance(value, tuple) else value for value in raw))

    def _step(self):
        type(self).steps += 1

    def _by(self, account):
        return {"from": account, "silent": True}

    def _amount(self, available, percent):
        return MAX_UINT if percent == 100 else max(1, available * percent // 100)

    def _arrived(self, tx):
        """Tokens the union received in `tx` (fee-on-transfer tokens deliver less than sent)."""
        return sum(e["value"] for e in tx.events["Transfer"] if e["to"] == self.union)

    def _record_revenue(self, received, tx):
        fee = received * self.fee_bps // 10_000
        event = tx.events["RevenueDeposited"]
        assert (event["amount"], event["fee"]) == (received, fee)
        for ledger in (self.fees_owed, self.fees_charged):
            ledger[self.fee_to] = ledger.get(self.fee_to, 0) + fee
        self._distribute(Fraction(received - fee))

    def _distribute(self, amount):
        pool = amount + self.waiting
        total = sum(self.shares)
        if total == 0 or self.attribution != FINISHED:
            self.waiting = pool
            return
        self.waiting = Fraction(0)
        for i, held in enumerate(self.shares):
            self.ideal[i] += pool * held / total

    def _set_model_shares(self, index, new):
        if new == 0 and self.shares[index]:
            self.zeroings[index] += 1
        self.shares[index] = new

    def _holder(self, role):
        """The first candidate holding `role` now, or None."""
        return next((a for a in self.candidates[role] if a in self.holders[role]), None)

    def _post_refusal(self, epoch):
        """The error a batch for `epoch` must revert with now, or None if it must succeed."""
        current = self.epoch
        if self.attribution == PENDING:
            if epoch < current:
                return ("DataUnionStaleEpoch", epoch, current)
            if epoch != current:
                return ("DataUnionEpochPending", current, self.due_at)
            return None
        if epoch <= current:
            return ("DataUnionStaleEpoch", epoch, current)
        if epoch != current + 1:
            return ("DataUnionEpochSkipped", epoch, current + 1)
        return None

    def _record_claim(self, tx, who, available, amount):
        paid = available if amount == MAX_UINT else amount
        assert tx.events["Claimed"]["amount"] == paid
        self.claimed[who] += paid
        self.expected_claimable[who] = available - paid

    def _fee_recipients(self):
        return [self.operator_fees, self.mallory]


def _rpc(method, *params):
    return web3.provider.make_request(method, list(params))["result"]


def _now():
    return web3.eth.get_block("latest")["timestamp"]


def test_invariants_hold_under_random_operations(
    token_kind, admin, attester, pauser, guardian, fee_recipient, buyer, rando, capsys
):
    target = int(os.environ.get("FUZZ_STEPS", "2000"))
    token = deploy_token(token_kind, admin)
    union = deploy_union(token, admin, attester, pauser, fee_recipient, guardian=guardian)
    lens = UnionLens.deploy({"from": admin})
    token.mint(buyer, 2**128, {"from": buyer})
    token.approve(union, 2**128, {"from": buyer})
    members = [local_account(f"member {i}") for i in range(N_MEMBERS)]
    mallory = local_account("mallory")
    sinks = [local_account(f"sink {i}") for i in range(N_MEMBERS)]
    blocked_sink = None
    if token_kind == "blocklist":
        blocked_sink = sinks[0]
        token.setBlocklisted(blocked_sink, True, {"from": admin})
    roles = (admin, attester, pauser, fee_recipient, buyer, rando)
    candidates = {
        ATTESTER: (attester, local_account("second attester")),
        GUARDIAN: (guardian, local_account("second guardian")),
    }
    UnionMachine.bind(union, token, lens, roles, candidates, members, mallory, sinks, blocked_sink)
    UnionMachine.snapshot = _rpc("evm_snapshot")  # every run starts from this fresh union

    UnionMachine.steps = UnionMachine.runs = 0
    UnionMachine.seen = Counter()
    requested = 0
    started = time.monotonic()
    while UnionMachine.steps < target:
        # Hypothesis decides how long each run is, and runs more examples than max_examples asks
        # for (about 1.7 times as many here). So ask for as many as the steps still missing need
        # at the steps per requested example seen so far, the first time as if every run took
        # STEPS_PER_RUN steps: the campaign then ends close to its target instead of far past it.
        # Each call starts again from Hypothesis's simplest examples, so no call asks for few.
        per_example = UnionMachine.steps / requested if requested else STEPS_PER_RUN
        missing = target - UnionMachine.steps
        examples = max(MIN_EXAMPLES_PER_CALL, math.ceil(missing / max(per_example, 1)))
        requested += examples
        run_state_machine_as_test(
            UnionMachine,
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
            f"\n  invariants [{token_kind}]: {UnionMachine.steps} steps in {UnionMachine.runs} "
            f"runs, 0 violations, {elapsed:.0f} s ({UnionMachine.steps / elapsed:.1f} steps/s)"
        )
        print("  " + ", ".join(f"{what}: {n}" for what, n in sorted(UnionMachine.seen.items())))
    assert UnionMachine.steps >= target
