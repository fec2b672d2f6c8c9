"""The watcher's check of a root-mode epoch (`DataUnionRoots`): the chain's side of
`relayer.tree_check`. For a posted root it reads, at one block, the root in force
(`activeRoot()`) and the pending root and total (`pendingRoot()`), fetches the report of the
root in force from the same source as the epoch's own (its leaves are where the offsets come
from; they must rebuild the root in force, so a source cannot slip in others), and splits the
departures it has seen into those before the posting (no leaf allowed) and those after it
(`leave` took their pending shares off the pending total).
"""

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from relayer.chain import UnionChain
from relayer.epoch_check import Problem, check_report
from relayer.tree_check import OnchainRoot, Severity, TreeProblem, TreeProblemKind, check_tree
from relayer.watch_io import ReportSource

log = logging.getLogger(__name__)

#: A position in the chain's history: (block, log index).
Position = tuple[int, int]


@dataclass(frozen=True)
class RootVerdict:
    problems: list[Problem | TreeProblem]
    severity: Severity | None


class RootChecks:
    """Checks root-mode epochs, keeping the tree of the last report it trusted so that the
    next epoch's check need not fetch and parse it again (a million leaves: tens of seconds)."""

    def __init__(self, chain: UnionChain, reports: ReportSource) -> None:
        self.chain = chain
        self.reports = reports
        #: (epoch, root) → that epoch's report, reduced to what the next check needs.
        self._trusted: dict[tuple[int, bytes], dict[str, Any]] = {}

    def check(
        self,
        raw: bytes,
        *,
        chain_id: int,
        epoch: int,
        report_hash: str,
        block: int,
        posted_at: Position,
        left: Mapping[str, Position],
    ) -> RootVerdict:
        """Every problem of epoch `epoch`'s posted root against its report `raw`, read at
        `block`; ReportUnavailable when the report of the root in force cannot be had now."""
        problems: list[Problem | TreeProblem] = []
        shared, verified, report = check_report(
            raw, chain_id, self.chain.address, epoch, report_hash
        )
        problems += shared
        if report is None or verified is None:
            return RootVerdict(problems, Severity.SERIOUS if problems else None)
        active = self.chain.active_root(block)
        state = self.chain.attribution_state(block)
        pending_root = pending_total = None
        if state.pending and state.epoch == epoch:
            pending_root, pending_total = self.chain.pending_root(block)
        onchain = OnchainRoot(
            epoch=epoch,
            previous_epoch=active.epoch,
            previous_epoch_start=active.epoch_start,
            previous_root=active.root,
            pending_root=pending_root,
            pending_total=pending_total,
            left_while_pending={m for m, at in left.items() if posted_at < at and at[0] <= block},
        )
        departed = {m for m, at in left.items() if at < posted_at}
        previous, trusted = self._previous(active.epoch, active.root)
        if trusted:  # its leaves gave this root when it was checked: no need to rebuild it
            onchain = replace(onchain, previous_root=None)
        tree_problems = check_tree(report, previous, departed, onchain)
        problems += tree_problems
        if not problems and isinstance(report.get("tree"), Mapping):
            root = bytes.fromhex(report["tree"]["root"][2:])
            self._keep(epoch, root, report)
        elif (
            previous is not None
            and not trusted
            and not any(p.kind == TreeProblemKind.PREVIOUS_INVALID for p in tree_problems)
        ):
            self._keep(active.epoch, active.root, previous)
        # The report's own problems (hash, shares) are serious; a critical one goes first.
        problems.sort(key=lambda p: -getattr(p, "severity", Severity.SERIOUS))
        worst = max((getattr(p, "severity", Severity.SERIOUS) for p in problems), default=None)
        return RootVerdict(problems, worst)

    def _previous(self, epoch: int, root: bytes) -> tuple[dict[str, Any] | None, bool]:
        """The report of the root in force (None before the first root), and whether it is one
        this checker already found to give that root."""
        if epoch == 0:
            return None, True
        kept = self._trusted.get((epoch, root))
        if kept is not None:
            return kept, True
        raw = self.reports.fetch(epoch)  # ReportUnavailable: the caller waits or alarms
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        # Not a report: check_tree names it (it has no tree of that epoch).
        return (parsed if isinstance(parsed, dict) else {}), False

    def _keep(self, epoch: int, root: bytes, report: Mapping[str, Any]) -> None:
        self._trusted = {(epoch, root): {"epoch": epoch, "tree": report.get("tree")}}
