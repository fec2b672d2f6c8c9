"""Does an epoch's report agree with the chain's share table? Pure: no I/O, so the watcher, the
tests and anyone else can run it on figures they read themselves.

An epoch agrees with its report when, all at once:

1. the keccak256 of the report's exact bytes is the on-chain `reportHash`;
2. the report verifies on its own: canonical bytes, every member's shares recomputed from its
   parameters and weights (`attribution.verify_report`), the totals adding up;
3. the report is for this chain, this union and this epoch;
4. every member in the report holds exactly the report's shares on-chain;
5. the on-chain `totalShares` equals what the report's members hold on-chain. With shares never
   negative, (4) and (5) together prove that no address outside the report holds a single share
   (and so that the chain's total is the report's).

A member who `leave()`s while the epoch waits has 0 shares on-chain whatever the report says; the
caller names such members in `departed` and they count at 0 (in the total too).
"""

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from relayer.attribution import (
    ReportMismatch,
    VerifiedReport,
    checksummed,
    report_hash,
    verify_report,
)
from relayer.errors import InvalidInput


class ProblemKind(StrEnum):
    HASH_MISMATCH = "hash_mismatch"
    REPORT_INVALID = "report_invalid"
    WRONG_UNION = "wrong_union"
    SHARES_MISMATCH = "shares_mismatch"
    SHARES_OUTSIDE_REPORT = "shares_outside_report"
    REPORT_UNAVAILABLE = "report_unavailable"


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True)
class OnchainEpoch:
    """What the chain says about one epoch, read at one block."""

    chain_id: int
    union: str
    epoch: int
    report_hash: str
    total_shares: int
    #: sharesOf(member) for every address the report names (any letter case).
    shares: Mapping[str, int]
    #: Members who left the union after the epoch's shares were set.
    departed: Collection[str] = field(default_factory=frozenset)


#: Mismatching members listed in full in a problem's text, at most.
LISTED = 5


def report_members(report_bytes: bytes) -> list[str]:
    """The checksummed addresses a report names (for reading their shares); [] if unreadable."""
    try:
        report = json.loads(report_bytes)
        return [checksummed(str(m["address"])) for m in report["members"]]
    except (ValueError, KeyError, TypeError, InvalidInput):
        return []


def check_report(
    report_bytes: bytes, chain_id: int, union: str, epoch: int, onchain_hash: str
) -> tuple[list[Problem], VerifiedReport | None, dict[str, Any] | None]:
    """(1) to (3), which every kind of union shares: the problems, and the verified report with
    its parsed JSON (None when it does not verify)."""
    problems = []
    digest = report_hash(report_bytes)
    if digest.lower() != onchain_hash.lower():
        problems.append(
            Problem(
                ProblemKind.HASH_MISMATCH,
                f"the report hashes to {digest}, the chain holds {onchain_hash}",
            )
        )
    try:
        report = json.loads(report_bytes)
        verified = verify_report(report_bytes, report)
        stated_union = report["union"]
        stated = (int(stated_union["chainId"]), checksummed(str(stated_union["address"])))
    except (ReportMismatch, InvalidInput, ValueError, KeyError, TypeError) as exc:
        problems.append(Problem(ProblemKind.REPORT_INVALID, f"the report does not verify: {exc}"))
        return problems, None, None
    expected = (chain_id, checksummed(union), epoch)
    if (*stated, verified.epoch) != expected:
        problems.append(
            Problem(
                ProblemKind.WRONG_UNION,
                f"the report is for chain {stated[0]}, union {stated[1]}, epoch "
                f"{verified.epoch}; the chain is {expected[0]}, union {expected[1]}, epoch "
                f"{expected[2]}",
            )
        )
    return problems, verified, report


def check(report_bytes: bytes, onchain: OnchainEpoch) -> list[Problem]:
    """Every way the report and the chain disagree; [] when they agree completely."""
    problems, verified, _ = check_report(
        report_bytes, onchain.chain_id, onchain.union, onchain.epoch, onchain.report_hash
    )
    if verified is None:
        return problems
    departed = {a.lower() for a in onchain.departed}
    onchain_shares = {a.lower(): s for a, s in onchain.shares.items()}
    wrong = []
    held_by_members = 0
    for member, shares in verified.shares.items():
        held = onchain_shares.get(member.lower())
        held_by_members += held or 0
        if held != shares and not (held == 0 and member.lower() in departed):
            wrong.append(f"{member} holds {held} on-chain, the report gives {shares}")
    if wrong:
        more = f"; and {len(wrong) - LISTED} more" if len(wrong) > LISTED else ""
        listed = "; ".join(wrong[:LISTED]) + more
        problems.append(Problem(ProblemKind.SHARES_MISMATCH, f"{len(wrong)} member(s): {listed}"))
    outside = onchain.total_shares - held_by_members
    if outside != 0:
        problems.append(
            Problem(
                ProblemKind.SHARES_OUTSIDE_REPORT,
                f"the chain's total is {onchain.total_shares} shares, the report's members hold "
                f"{held_by_members}: {outside} shares are held by addresses outside the report",
            )
        )
    return problems
