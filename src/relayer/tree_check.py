"""Does a root-mode epoch's tree (`DataUnionRoots`) follow from its report, the root in force and
the chain? Pure: no I/O, so the watcher, the tests and anyone holding the report files can run
it on figures they read themselves.

A tree agrees when, all at once:

1. its header names this contract, the report's epoch, and the root in force's epoch and
   `epochStart` exactly as the chain holds them (`activeRoot()`);
2. every leaf is well formed: an EIP-55 address, decimal integers with `shares` and
   `previousShares` below 2^64 and `offset` within int256;
3. the leaves are in strictly ascending address order (so no address has two);
4. the stated root is the one rebuilt from the leaves (`relayer.merkle`'s layout);
5. the stated total is the sum of the leaves' shares: a total *below* the sum lets the members'
   claims add up to more than ever arrives, the most serious fault a tree can have; one above it
   leaves revenue that nobody can claim;
6. every leaf is exactly what `relayer.roots.next_leaves` makes of the previous tree's leaves,
   its `epochStart` and the report's attribution shares: each member's shares are theirs in the
   report (0 for an address the report does not name), their offset and previous shares carry
   their earnings over, no member who left on-chain is in it, and nobody the rule keeps is
   missing;
7. and, when the caller read them, the chain's pending root is the stated root and its pending
   total, with the shares of members who left since the posting added back, is the sum again
   (below it: critical, as in 5; a different root means the posted tree is not the published
   one, and its total is not held against leaves that are not its own).

The previous tree is trusted only as far as the caller says: given the root in force, its leaves
are rebuilt and must give that root.

At a million members the work is hashing (two keccak256 per leaf and one per inner node, for
this tree and the previous one) and one pass per check, in flat loops (`relayer.tree_leaves`):
about 30 s of CPU on the project's 2-core machine, the previous tree rebuilt included
(`bench/watch_roots.py`, `bench/results/watch_roots.md`).
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from relayer.merkle import Leaf
from relayer.published_tree import CONTRACT, LAYOUT, LEAF_ENCODING
from relayer.roots import next_leaves
from relayer.tree_leaves import Leaves, decimal, parse_leaves, rebuilt_root, root_of

#: Individual mismatches listed in a problem's text, at most; the rest are counted.
LISTED = 5


class Severity(IntEnum):
    """How bad a problem is; every one is reason to veto. Ordered, so `max` is the worst."""

    #: The tree pays someone what is not theirs, strands revenue, or cannot be checked.
    SERIOUS = 1
    #: The members' claims can add up to more than the union ever receives.
    CRITICAL = 2

    def __str__(self) -> str:
        return self.name.lower()


class TreeProblemKind(StrEnum):
    TREE_MISSING = "tree_missing"
    TREE_HEADER = "tree_header"
    PREVIOUS_EPOCH = "previous_epoch_mismatch"
    LEAF_MALFORMED = "leaf_malformed"
    LEAF_ORDER = "leaf_order"
    DUPLICATE_LEAF = "duplicate_leaf"
    ROOT_MISMATCH = "root_mismatch"
    TOTAL_BELOW_SUM = "total_below_sum"
    TOTAL_ABOVE_SUM = "total_above_sum"
    LEAF_SHARES = "leaf_shares_mismatch"
    CARRY_MISMATCH = "carry_mismatch"
    MISSING_LEAF = "missing_leaf"
    UNEXPECTED_LEAF = "unexpected_leaf"
    DEPARTED_MEMBER = "departed_member"
    PREVIOUS_UNAVAILABLE = "previous_unavailable"
    PREVIOUS_INVALID = "previous_invalid"
    POSTED_ROOT = "posted_root_mismatch"
    POSTED_TOTAL_BELOW_SUM = "posted_total_below_sum"
    POSTED_TOTAL_ABOVE_SUM = "posted_total_above_sum"


@dataclass(frozen=True)
class TreeProblem:
    kind: TreeProblemKind
    severity: Severity
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} [{self.severity}]: {self.detail}"


@dataclass(frozen=True)
class OnchainRoot:
    """What the chain says about a root-mode epoch, read at one block."""

    #: The epoch whose root is checked.
    epoch: int
    #: `activeRoot()` at the block: the root in force when this one was posted (0: none).
    previous_epoch: int
    previous_epoch_start: int
    #: Its root; given, the previous report's leaves must rebuild to it.
    previous_root: bytes | None = None
    #: `pendingRoot()` while the epoch is pending; None when not read.
    pending_root: bytes | None = None
    pending_total: int | None = None
    #: Members (lower case) who left after the root was posted: `leave` took their pending
    #: leaf's shares off the pending total.
    left_while_pending: Collection[str] = field(default_factory=frozenset)


def _limited(items: Sequence[str], what: str) -> str:
    more = f"; and {len(items) - LISTED} more" if len(items) > LISTED else ""
    return f"{len(items)} {what}: " + "; ".join(items[:LISTED]) + more


def _order_problems(keys: list[str]) -> tuple[list[TreeProblem], bool]:
    """Strictly ascending, else the problems; and whether an address appears twice."""
    out_of_order: list[str] = []
    for i in range(1, len(keys)):
        if keys[i - 1] >= keys[i]:
            out_of_order.append(f"{keys[i - 1]} before {keys[i]}")
    if not out_of_order:
        return [], False
    problems = []
    twice = len(set(keys)) != len(keys)
    if twice:
        counts: dict[str, int] = {}
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
        doubled = [f"{k} ({n} leaves)" for k, n in counts.items() if n > 1]
        problems.append(
            TreeProblem(
                TreeProblemKind.DUPLICATE_LEAF,
                Severity.SERIOUS,
                _limited(doubled, "address(es) with more than one leaf"),
            )
        )
    problems.append(
        TreeProblem(
            TreeProblemKind.LEAF_ORDER,
            Severity.SERIOUS,
            _limited(out_of_order, "pair(s) not in ascending address order"),
        )
    )
    return problems, twice


def _header_problems(
    report: Mapping[str, Any], tree: Mapping[str, Any], onchain: OnchainRoot
) -> list[TreeProblem]:
    problems = []
    wrong = []
    if tree.get("contract") != CONTRACT:
        wrong.append(f"contract {tree.get('contract')!r}, not {CONTRACT!r}")
    if tree.get("epoch") != onchain.epoch or report.get("epoch") != onchain.epoch:
        wrong.append(
            f"epoch {tree.get('epoch')!r} (report {report.get('epoch')!r}), "
            f"the chain's is {onchain.epoch}"
        )
    if tree.get("leafEncoding") != LEAF_ENCODING:
        wrong.append("leafEncoding is not the contract's leaf hash")
    if tree.get("layout") != LAYOUT:
        wrong.append("layout is not the contract's tree layout")
    if wrong:
        problems.append(
            TreeProblem(TreeProblemKind.TREE_HEADER, Severity.SERIOUS, "; ".join(wrong))
        )
    stated = (tree.get("previousEpoch"), tree.get("previousEpochStart"))
    onchain_previous = (onchain.previous_epoch, str(onchain.previous_epoch_start))
    if stated != onchain_previous:
        problems.append(
            TreeProblem(
                TreeProblemKind.PREVIOUS_EPOCH,
                Severity.SERIOUS,
                f"the tree was built on epoch {stated[0]!r} starting at {stated[1]!r}; the root "
                f"in force is epoch {onchain_previous[0]} starting at {onchain_previous[1]}",
            )
        )
    return problems


def _previous_leaves(
    previous: Mapping[str, Any] | None, onchain: OnchainRoot
) -> tuple[list[Leaf] | None, list[TreeProblem]]:
    """The leaves of the root in force, or the reason they cannot be used."""
    if onchain.previous_epoch == 0:
        return [], []
    if previous is None:
        return None, [
            TreeProblem(
                TreeProblemKind.PREVIOUS_UNAVAILABLE,
                Severity.SERIOUS,
                f"no report of epoch {onchain.previous_epoch}, the root in force: the offsets "
                "cannot be checked",
            )
        ]
    tree = previous.get("tree")
    why = None
    if not isinstance(tree, Mapping) or tree.get("epoch") != onchain.previous_epoch:
        why = f"it has no tree of epoch {onchain.previous_epoch}"
    else:
        parsed = parse_leaves(tree.get("leaves"), checksums=False)
        ordered = all(parsed.keys[i - 1] < parsed.keys[i] for i in range(1, len(parsed.keys)))
        if parsed.malformed or not parsed.keys or not ordered:
            why = "its leaves are not well formed, or not in ascending order"
        elif onchain.previous_root is not None:
            rebuilt = rebuilt_root(onchain.previous_epoch, parsed)
            if rebuilt != onchain.previous_root:
                why = (
                    f"its leaves give root 0x{rebuilt.hex()}, the root in force is "
                    f"0x{onchain.previous_root.hex()}"
                )
    if why is not None:
        return None, [
            TreeProblem(
                TreeProblemKind.PREVIOUS_INVALID,
                Severity.SERIOUS,
                f"the report of epoch {onchain.previous_epoch} cannot be used: {why}",
            )
        ]
    return [
        Leaf(m, o, p, s)
        for m, o, p, s in zip(
            parsed.members, parsed.offsets, parsed.previous, parsed.shares, strict=True
        )
    ], []


def _rule_problems(
    leaves: Leaves,
    expected: list[Leaf],
    report_shares: Mapping[str, int],
    departed: Collection[str],
) -> list[TreeProblem]:
    """Every leaf against the one the rule makes, by address."""
    stated = {
        key: (offset, previous, shares)
        for key, offset, previous, shares in zip(
            leaves.keys, leaves.offsets, leaves.previous, leaves.shares, strict=True
        )
    }
    shares_wrong, carry_wrong, missing = [], [], []
    for leaf in expected:
        key = leaf.member.lower()
        found = stated.pop(key, None)
        if found is None:
            missing.append(f"{leaf.member} ({leaf.offset}, {leaf.previous_shares}, {leaf.shares})")
            continue
        offset, previous, shares = found
        if shares != leaf.shares:
            shares_wrong.append(
                f"{leaf.member} has {shares} shares, the report gives {leaf.shares}"
            )
        if (offset, previous) != (leaf.offset, leaf.previous_shares):
            carry_wrong.append(
                f"{leaf.member} has offset {offset} and previous shares {previous}, the rule "
                f"gives {leaf.offset} and {leaf.previous_shares}"
            )
    gone = [key for key in stated if key in departed]
    named = {member.lower(): shares for member, shares in report_shares.items()}
    extra = [
        f"{key} ({stated[key][2]} shares, the report gives {named.get(key, 0)})"
        for key in stated
        if key not in departed
    ]
    found_problems = []
    for kind, items, what in (
        (TreeProblemKind.LEAF_SHARES, shares_wrong, "leaf(s) whose shares are not the report's"),
        (TreeProblemKind.CARRY_MISMATCH, carry_wrong, "leaf(s) not carried over by the rule"),
        (TreeProblemKind.MISSING_LEAF, missing, "member(s) the rule keeps without a leaf"),
        (TreeProblemKind.DEPARTED_MEMBER, gone, "member(s) who left on-chain with a leaf"),
        (TreeProblemKind.UNEXPECTED_LEAF, extra, "leaf(s) the rule does not make"),
    ):
        if items:
            found_problems.append(TreeProblem(kind, Severity.SERIOUS, _limited(items, what)))
    return found_problems


def _total_problems(stated_total: int, leaf_sum: int, posted: bool) -> list[TreeProblem]:
    where = (
        "the posted total (pendingRoot, plus what members who left took off)"
        if posted
        else ("the tree's totalShares")
    )
    if stated_total < leaf_sum:
        kind = TreeProblemKind.POSTED_TOTAL_BELOW_SUM if posted else TreeProblemKind.TOTAL_BELOW_SUM
        return [
            TreeProblem(
                kind,
                Severity.CRITICAL,
                f"{where} is {stated_total}, below the leaves' {leaf_sum} shares: the members "
                f"could claim {leaf_sum}/{stated_total} of every deposit",
            )
        ]
    if stated_total > leaf_sum:
        kind = TreeProblemKind.POSTED_TOTAL_ABOVE_SUM if posted else TreeProblemKind.TOTAL_ABOVE_SUM
        return [
            TreeProblem(
                kind,
                Severity.SERIOUS,
                f"{where} is {stated_total}, above the leaves' {leaf_sum} shares: "
                f"{stated_total - leaf_sum} shares' part of every deposit could never be claimed",
            )
        ]
    return []


def _posted_problems(
    leaves: Leaves, stated_root: bytes | None, leaf_sum: int, onchain: OnchainRoot
) -> list[TreeProblem]:
    if onchain.pending_root is not None and onchain.pending_root != stated_root:
        shown = "none" if stated_root is None else f"0x{stated_root.hex()}"
        # The posted tree is then not these leaves: its total cannot be held against them.
        return [
            TreeProblem(
                TreeProblemKind.POSTED_ROOT,
                Severity.SERIOUS,
                f"the chain's pending root is 0x{onchain.pending_root.hex()}, the report's "
                f"{shown}: the posted tree is not the published one",
            )
        ]
    if onchain.pending_total is None:
        return []
    left = {k.lower() for k in onchain.left_while_pending}
    taken_off = sum(s for k, s in zip(leaves.keys, leaves.shares, strict=True) if k in left)
    return _total_problems(onchain.pending_total + taken_off, leaf_sum, posted=True)


def check_tree(
    report: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    departed: Collection[str],
    onchain: OnchainRoot,
) -> list[TreeProblem]:
    """Every way a root-mode report's tree disagrees with its report, the previous tree and the
    chain, most serious first; [] when it agrees completely. `report` and `previous` are parsed
    reports (`previous` of the root in force; None before the first root or when it could not
    be had); `departed` the lower-case addresses that left on-chain before the root was posted.
    """
    tree = report.get("tree")
    if not isinstance(tree, Mapping):
        return [
            TreeProblem(
                TreeProblemKind.TREE_MISSING,
                Severity.SERIOUS,
                "the report has no tree: it is not a root-mode report",
            )
        ]
    problems = _header_problems(report, tree, onchain)
    leaves = parse_leaves(tree.get("leaves"))
    if leaves.malformed:
        problems.append(
            TreeProblem(
                TreeProblemKind.LEAF_MALFORMED,
                Severity.SERIOUS,
                _limited(leaves.malformed, "malformed leaf/leaves") + " (left out of the checks)",
            )
        )
    order, twice = _order_problems(leaves.keys)
    problems += order
    stated_root = root_of(tree.get("root"))
    if stated_root is None or not leaves.keys or leaves.malformed or twice:
        problems.append(
            TreeProblem(
                TreeProblemKind.ROOT_MISMATCH,
                Severity.SERIOUS,
                f"the root cannot be rebuilt, or {tree.get('root')!r} is not a 32-byte root",
            )
        )
    else:
        if order:  # the layout is by address: rebuild it so, then compare
            ranked = sorted(range(len(leaves.keys)), key=leaves.keys.__getitem__)
            for name in ("keys", "members", "raw", "offsets", "previous", "shares"):
                column = getattr(leaves, name)
                setattr(leaves, name, [column[i] for i in ranked])
        rebuilt = rebuilt_root(onchain.epoch, leaves)
        if rebuilt != stated_root:
            problems.append(
                TreeProblem(
                    TreeProblemKind.ROOT_MISMATCH,
                    Severity.SERIOUS,
                    f"the leaves give root 0x{rebuilt.hex()}, the tree states "
                    f"0x{stated_root.hex()}",
                )
            )
    leaf_sum = sum(leaves.shares)
    stated_total = decimal(tree.get("totalShares"))
    if stated_total is None:
        problems.append(
            TreeProblem(
                TreeProblemKind.TREE_HEADER,
                Severity.SERIOUS,
                f"totalShares {tree.get('totalShares')!r} is not a decimal integer",
            )
        )
    else:
        problems += _total_problems(stated_total, leaf_sum, posted=False)
    problems += _posted_problems(leaves, stated_root, leaf_sum, onchain)

    report_shares: dict[str, int] = {}
    for member in report.get("members") or ():
        try:
            report_shares[str(member["address"])] = int(member["shares"])
        except (KeyError, TypeError, ValueError):
            continue  # the report's own check (attribution.verify_report) names it
    previous_leaves, unusable = _previous_leaves(previous, onchain)
    problems += unusable
    lowered = {d.lower() for d in departed}
    if previous_leaves is not None:
        expected = next_leaves(
            previous_leaves, onchain.previous_epoch_start, report_shares, lowered
        )
        problems += _rule_problems(leaves, expected, report_shares, lowered)
    else:  # the rule cannot be followed; what needs no previous tree still can
        present = [k for k in leaves.keys if k in lowered]
        if present:
            problems.append(
                TreeProblem(
                    TreeProblemKind.DEPARTED_MEMBER,
                    Severity.SERIOUS,
                    _limited(present, "member(s) who left on-chain with a leaf"),
                )
            )
    return sorted(problems, key=lambda p: -p.severity)
