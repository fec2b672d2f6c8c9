"""`relayer watch`: checks every epoch the union posts against its published report, and vetoes
one that disagrees before it takes effect. It needs an RPC URL, the union's address and a place
to fetch reports from — never the relayer's database, settings or key — so a member, an auditor
or a guardian who does not trust the operator can run it.

Each poll it follows the union's `AttributionPending`, `AttributionVetoed`,
`AttributionFinished` and `MemberLeft` events, and for each epoch it has seen:

- fetches the report and checks it against the chain's table (`relayer.epoch_check`: hash,
  every share recomputed from the report alone, every member's shares, nothing outside it);
- on any disagreement raises the alarm (an error-level log line, the status board, a non-zero
  exit for `--once`) and, given the guardian's key and while the epoch is still pending, vetoes;
- a report the source says it does not have (HTTP 404, no such file) is a disagreement once the
  epoch's last batch is `missing_grace` seconds old (0 by default: the relayer stores a report
  before it posts a batch, so an epoch on-chain without one is not the relayer's); a source that
  does not answer is retried each poll, and is a disagreement once the epoch is within `margin`
  seconds of its due time (a veto must land before someone finishes it);
- with `finish`, calls `finishAttribution` on a checked epoch once it is due (anyone may).

The chain's table is read at the head while the epoch is pending (a new batch moves the due time
and is checked again), and at the epoch's last batch once it is over.

On a root-mode union (`DataUnionRoots`, one root per epoch) the table is the report's tree, and
the check is `relayer.watch_roots`: the report as above, then every leaf against the report and
the root in force (`relayer.tree_check`), and the chain's pending root and total against the
tree's. Its problems carry a severity; a total below the leaves' sum (the members could claim
more than ever arrives) is critical and comes first. Departures matter for good there (an address
that left is never paid again), so the watcher reads every `MemberLeft` since the union was
deployed, once, before following the events.
"""

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TimeExhausted, Web3Exception

from relayer.chain import UnionChain
from relayer.epoch_check import OnchainEpoch, Problem, ProblemKind, check, report_members
from relayer.errors import ChainError, RelayerError, Reverted
from relayer.watch_io import ReportMissing, ReportSource, ReportUnavailable, StatusBoard
from relayer.watch_roots import Position, RootChecks

log = logging.getLogger(__name__)

FOLLOWED = ("AttributionPending", "AttributionVetoed", "AttributionFinished", "MemberLeft")
CHUNK_BLOCKS = 2_000
GAS_MARGIN_PERCENT = 20


class ChainState(IntEnum):
    """`attributionState()`'s state."""

    NONE = 0
    PENDING = 1
    VETOED = 2


class Result(StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"
    WAITING = "waiting"  # the report could not be fetched yet; the due time is not near


@dataclass
class Seen:
    """An epoch as the events tell it."""

    epoch: int
    report_hash: str
    first_block: int
    last_block: int
    due_at: int
    outcome: str = "pending"  # pending | vetoed | finished
    posted_at: Position = (0, 0)  # the last AttributionPending's (block, log index)


@dataclass
class Verdict:
    epoch: int
    state: str
    due_at: int
    report_hash: str
    result: Result
    checked_block: int
    problems: list[str] = field(default_factory=list)
    veto_tx: str | None = None
    finish_tx: str | None = None
    #: The worst problem's severity on a root-mode union ("critical" or "serious").
    severity: str | None = None

    @property
    def alarm(self) -> bool:
        return self.result == Result.MISMATCH


class Watcher:
    def __init__(
        self,
        chain: UnionChain,
        reports: ReportSource,
        *,
        guardian: LocalAccount | None = None,
        finish: bool = False,
        margin: int = 600,
        missing_grace: int = 0,
        from_block: int | None = None,
        tx_timeout: float = 120.0,
        status: StatusBoard | None = None,
    ) -> None:
        self.chain = chain
        self.w3: Web3 = chain.w3
        self.reports = reports
        self._guardian = guardian
        self.finish = finish and guardian is not None
        self.margin = margin
        self.missing_grace = missing_grace
        self.tx_timeout = tx_timeout
        self.status = status or StatusBoard()
        self.chain_id = int(self.w3.eth.chain_id)
        self.delay = int(chain.view("ATTRIBUTION_DELAY"))
        self.cursor = (self._auto_start() if from_block is None else from_block) - 1
        self.seen: dict[int, Seen] = {}
        #: member (lower case) → (block, log index) of their last leave()
        self.left: dict[str, Position] = {}
        self.roots = RootChecks(chain, reports) if chain.roots else None
        self._history_read = self.roots is None
        self.verdicts: dict[int, Verdict] = {}
        self._alarmed: set[tuple[int, int]] = set()

    # ---------------------------------------------------------------------------------------------
    # One poll
    # ---------------------------------------------------------------------------------------------

    def poll(self) -> list[Verdict]:
        """Follow new events, check every epoch not settled yet, publish the status."""
        head = int(self.w3.eth.block_number)
        if not self._history_read:
            self._read_departures()
        self._follow(head)
        current, state, due_at = self.chain.view("attributionState", block=head)
        now = int(self.w3.eth.get_block(head)["timestamp"])
        for seen in sorted(self.seen.values(), key=lambda s: s.epoch):
            is_pending = int(current) == seen.epoch and ChainState(state) == ChainState.PENDING
            if is_pending:
                seen.due_at = int(due_at)
            verdict = self.verdicts.get(seen.epoch)
            if verdict is None or verdict.checked_block < seen.last_block:
                block = head if is_pending else seen.last_block
                verdict = self._check(seen, block, now, is_pending)
                self.verdicts[seen.epoch] = verdict
                if verdict.alarm:
                    self._raise_alarm(verdict, seen)
            verdict.state, verdict.due_at = seen.outcome, seen.due_at
            if not is_pending:
                continue
            if verdict.alarm and verdict.veto_tx is None:
                self._veto(verdict)
            elif verdict.result == Result.OK:
                self._finish(verdict, now)
        self._publish(head, now)
        return [self.verdicts[e] for e in sorted(self.verdicts)]

    def _check(self, seen: Seen, block: int, now: int, is_pending: bool) -> Verdict:
        verdict = Verdict(
            seen.epoch, seen.outcome, seen.due_at, seen.report_hash, Result.OK, seen.last_block
        )
        try:
            raw = self.reports.fetch(seen.epoch)
            if self.roots is not None:
                return self._check_root(verdict, seen, raw, block)
        except ReportUnavailable as exc:
            return self._unavailable(verdict, seen, exc, now, is_pending)
        members = report_members(raw)
        onchain = OnchainEpoch(
            chain_id=self.chain_id,
            union=self.chain.address,
            epoch=seen.epoch,
            report_hash=seen.report_hash,
            total_shares=int(self.chain.view("totalShares", block=block)),
            shares=self.chain.shares_of(members, block) if members else {},
            departed={m for m, (b, _) in self.left.items() if seen.first_block <= b <= block},
        )
        problems = check(raw, onchain)
        if problems:
            verdict.result, verdict.problems = Result.MISMATCH, [str(p) for p in problems]
        else:
            log.info(
                "epoch %d: the report agrees with the chain (%d members, block %d)",
                seen.epoch,
                len(members),
                block,
            )
        return verdict

    def _check_root(self, verdict: Verdict, seen: Seen, raw: bytes, block: int) -> Verdict:
        assert self.roots is not None
        checked = self.roots.check(
            raw,
            chain_id=self.chain_id,
            epoch=seen.epoch,
            report_hash=seen.report_hash,
            block=block,
            posted_at=seen.posted_at,
            left=self.left,
        )
        if checked.problems:
            verdict.result, verdict.problems = Result.MISMATCH, [str(p) for p in checked.problems]
            verdict.severity = None if checked.severity is None else str(checked.severity)
        else:
            log.info("epoch %d: the root agrees with its report and the chain", seen.epoch)
        return verdict

    def _unavailable(
        self, verdict: Verdict, seen: Seen, exc: ReportUnavailable, now: int, is_pending: bool
    ) -> Verdict:
        posted_for = now - (seen.due_at - self.delay)  # seconds since its last batch
        missing = isinstance(exc, ReportMissing) and posted_for >= self.missing_grace
        near = now >= seen.due_at - self.margin
        if is_pending and not (near or missing):
            log.warning(
                "epoch %d: report not available yet (%s); due at %d, retrying",
                seen.epoch,
                exc,
                seen.due_at,
            )
            verdict.result, verdict.checked_block = Result.WAITING, -1
            verdict.problems = [f"{ProblemKind.REPORT_UNAVAILABLE}: {exc}"]
            return verdict
        problem = Problem(
            ProblemKind.REPORT_UNAVAILABLE, f"{exc}; the epoch is due at {seen.due_at}"
        )
        verdict.result, verdict.problems = Result.MISMATCH, [str(problem)]
        if seen.outcome == "vetoed":  # it can never take effect: a note, not an alarm
            verdict.result = Result.WAITING
        return verdict

    def _raise_alarm(self, verdict: Verdict, seen: Seen) -> None:
        key = (verdict.epoch, seen.last_block)
        if key in self._alarmed:
            return
        self._alarmed.add(key)
        # A root that can pay out more than arrives is logged CRITICAL, so alerting that keys
        # on the level can page for it before anything else.
        level = logging.CRITICAL if verdict.severity == "critical" else logging.ERROR
        for problem in verdict.problems:
            log.log(level, "ALARM epoch %d (%s): %s", verdict.epoch, verdict.state, problem)

    # ---------------------------------------------------------------------------------------------
    # Transactions (the guardian's key)
    # ---------------------------------------------------------------------------------------------

    def _veto(self, verdict: Verdict) -> None:
        if self._guardian is None:
            log.error("ALARM epoch %d: no guardian key given; veto it by hand", verdict.epoch)
            return
        try:
            verdict.veto_tx = self._send("vetoAttribution", verdict.epoch)
        except Reverted as exc:
            log.error("epoch %d: the veto was refused: %s", verdict.epoch, exc)
            return
        except (ChainError, TimeExhausted, Web3Exception) as exc:
            log.error(
                "epoch %d: the veto failed (%s); retrying next poll",
                verdict.epoch,
                type(exc).__name__,
            )
            return
        verdict.state = "vetoed"
        if verdict.epoch in self.seen:
            self.seen[verdict.epoch].outcome = "vetoed"
        log.error("epoch %d vetoed in %s", verdict.epoch, verdict.veto_tx)

    def _finish(self, verdict: Verdict, now: int) -> None:
        if not self.finish or now < verdict.due_at or verdict.finish_tx is not None:
            return
        try:
            verdict.finish_tx = self._send("finishAttribution", verdict.epoch)
        except (ChainError, TimeExhausted, Web3Exception) as exc:
            # Someone else finishing first is the usual reason, and a success.
            log.info("epoch %d: not finished by the watcher: %s", verdict.epoch, exc)
            return
        log.info("epoch %d finished in %s", verdict.epoch, verdict.finish_tx)

    def _send(self, function: str, *args: Any) -> str:
        """Sign, send and wait (with a deadline) for one call from the guardian's key."""
        assert self._guardian is not None
        account = self._guardian
        data = self.chain.calldata(function, *args)
        gas = self.chain.estimate_gas(account.address, data) * (100 + GAS_MARGIN_PERCENT) // 100
        priority = int(self.w3.eth.max_priority_fee)
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        signed = account.sign_transaction(
            {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": self.w3.eth.get_transaction_count(account.address, "pending"),
                "to": self.chain.address,
                "data": data,
                "value": 0,
                "gas": gas,
                "maxFeePerGas": 2 * base + priority,
                "maxPriorityFeePerGas": priority,
            }
        )
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            tx_hash, timeout=self.tx_timeout, poll_latency=0.2
        )
        if receipt["status"] != 1:
            raise ChainError(f"{function} reverted on-chain in {Web3.to_hex(tx_hash)}")
        return Web3.to_hex(tx_hash)

    # ---------------------------------------------------------------------------------------------
    # Events
    # ---------------------------------------------------------------------------------------------

    def _follow(self, head: int) -> None:
        self.cursor = self._read_events(FOLLOWED, self.cursor + 1, head)

    def _read_events(self, names: tuple[str, ...], first: int, last: int) -> int:
        """Apply the events `names` of blocks [first, last], in chunks; returns `last`."""
        events = {name: getattr(self.chain.contract.events, name)() for name in names}
        topics = {HexBytes(e.topic): e for e in events.values()}
        for start in range(first, last + 1, CHUNK_BLOCKS):
            end = min(start + CHUNK_BLOCKS - 1, last)
            logs = self.w3.eth.get_logs(
                {
                    "address": self.chain.address,
                    "fromBlock": start,
                    "toBlock": end,
                    "topics": [[HexStr(Web3.to_hex(t)) for t in topics]],
                }
            )
            for entry in logs:
                event = topics[HexBytes(entry["topics"][0])].process_log(entry)
                at = (int(entry["blockNumber"]), int(entry["logIndex"]))
                self._apply(event["event"], event["args"], at)
        return max(last, first - 1)

    def _read_departures(self) -> None:
        """Every `leave()` before the first block followed, from the union's deployment on."""
        self._read_events(("MemberLeft",), self._deployment_block(), self.cursor)
        self._history_read = True

    def _deployment_block(self) -> int:
        """The first block with the union's code (a bisection); 0 on a node without history."""
        low, high = 0, max(self.cursor, 0)
        try:
            while low < high:
                middle = (low + high) // 2
                if self.w3.eth.get_code(self.chain.address, block_identifier=middle):
                    high = middle
                else:
                    low = middle + 1
        except (Web3Exception, ValueError):
            return 0
        return low

    def _apply(self, name: str, args: Any, at: Position) -> None:
        block = at[0]
        if name == "MemberLeft":
            self.left[str(args["member"]).lower()] = at
            return
        epoch = int(args["epoch"])
        if name == "AttributionPending":
            digest = "0x" + bytes(args["reportHash"]).hex()
            seen = self.seen.get(epoch)
            if seen is None:
                self.seen[epoch] = Seen(
                    epoch, digest, block, block, int(args["dueAt"]), posted_at=at
                )
            else:
                seen.report_hash, seen.last_block, seen.due_at = digest, block, int(args["dueAt"])
                seen.posted_at = at
        elif epoch in self.seen:
            self.seen[epoch].outcome = "vetoed" if name == "AttributionVetoed" else "finished"

    def _auto_start(self) -> int:
        """Where to start reading events when not told: the last batch of the epoch now pending
        or vetoed (found by its time, `dueAt - delay`), else the head."""
        head = int(self.w3.eth.block_number)
        _, state, due_at = self.chain.view("attributionState")
        if ChainState(state) == ChainState.NONE:
            return head
        target = int(due_at) - self.delay
        low, high = 0, head
        while low < high:  # the first block at or after the last batch's timestamp
            middle = (low + high) // 2
            if int(self.w3.eth.get_block(middle)["timestamp"]) < target:
                low = middle + 1
            else:
                high = middle
        return low

    # ---------------------------------------------------------------------------------------------
    # Status
    # ---------------------------------------------------------------------------------------------

    def _publish(self, head: int, now: int) -> None:
        verdicts = [self.verdicts[e] for e in sorted(self.verdicts)]
        alarm = any(v.alarm for v in verdicts)
        self.status.publish(
            {
                "state": "alarm" if alarm else "ok",
                "alarm": alarm,
                "chainId": self.chain_id,
                "union": self.chain.address,
                "kind": self.chain.kind,
                "reports": str(self.reports),
                "head": head,
                "chainTime": now,
                "checkedAt": datetime.now(UTC).isoformat(timespec="seconds"),
                "guardian": None if self._guardian is None else self._guardian.address,
                "epochs": [{**asdict(v), "alarm": v.alarm} for v in verdicts],
            }
        )

    def run(self, stop: threading.Event, poll_interval: float) -> None:
        """Poll until `stop` is set; a failing node is logged and retried, never fatal."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.poll()
            except (Web3Exception, RelayerError, OSError) as exc:
                log.warning("watch: %s; retrying", type(exc).__name__)
            stop.wait(max(0.0, poll_interval - (time.monotonic() - started)))
