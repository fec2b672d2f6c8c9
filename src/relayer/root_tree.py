"""Root mode's trees in the relayer: each epoch's report carries its tree (the `tree` section:
every leaf, the root, the total), built at close from the report of the root in force and the
chain's figures, so the report alone lets anyone rebuild every proof. `Trees` keeps the trees of
the roots in force and pending in memory for proofs (a million members: ~10 s to build once,
then each proof is a lookup).
"""

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from relayer import published_tree
from relayer.chain import ActiveRoot, UnionChain
from relayer.db import Database, Epoch
from relayer.errors import Conflict
from relayer.merkle import Leaf, Tree
from relayer.roots import next_leaves
from relayer.states import EpochStatus


def leaves_of(section: dict[str, Any]) -> list[Leaf]:
    """The leaves a report's `tree` section lists."""
    return [
        Leaf(member, int(offset), int(previous), int(shares))
        for member, offset, previous, shares in section["leaves"]
    ]


def report_tree(report_text: str) -> dict[str, Any]:
    tree: dict[str, Any] | None = json.loads(report_text).get("tree")
    if tree is None:
        raise Conflict("this epoch's report has no tree: it belongs to a push union")
    return tree


def previous_leaves(session: Session, active: ActiveRoot) -> list[Leaf]:
    """The leaves of the root in force, from its report here; none before the first root.
    Conflict when this relayer does not hold that report (or holds another root's)."""
    if active.epoch == 0:
        return []
    row = session.get(Epoch, active.epoch)
    root = "0x" + active.root.hex()
    if row is None or row.status != EpochStatus.FINISHED:
        raise Conflict(
            f"the root in force is epoch {active.epoch}'s, whose report this relayer does not "
            "hold as finished: the next tree is built from it"
        )
    tree = report_tree(row.report)
    if tree["root"] != root:
        raise Conflict(
            f"epoch {active.epoch}'s report here has root {tree['root']}, the chain {root}"
        )
    return leaves_of(tree)


def attach_tree(
    session: Session,
    chain: UnionChain,
    report: dict[str, Any],
    departed: set[str],
    head: int,
) -> Tree:
    """Build the epoch's tree from its report's shares and add the `tree` section to `report`."""
    active = chain.active_root(head)
    shares = {m["address"]: int(m["shares"]) for m in report["members"]}
    leaves = next_leaves(previous_leaves(session, active), active.epoch_start, shares, departed)
    if not leaves:
        raise Conflict("there is nothing to attribute: no member has shares or earnings")
    tree = Tree(int(report["epoch"]), leaves)
    report["tree"] = published_tree.section(tree, active.epoch, active.epoch_start)
    return tree


@dataclass(frozen=True)
class MemberProof:
    """A member's leaf of one epoch's tree, with its proof."""

    epoch: int
    root: str
    leaf: Leaf
    proof: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "root": self.root,
            "leaf": {
                "offset": str(self.leaf.offset),
                "previousShares": str(self.leaf.previous_shares),
                "shares": str(self.leaf.shares),
            },
            "proof": self.proof,
        }

    def call_args(self) -> tuple[tuple[int, int, int], list[bytes]]:
        """The (leaf, proof) arguments of `claim`, `claimWithSig` and `claimable`."""
        return self.leaf.as_tuple(), [bytes.fromhex(p[2:]) for p in self.proof]


class Trees:
    """The trees members prove against, built once from the stored reports and checked against
    the roots on the chain, and the chain's roots themselves, re-read at most every `max_age`
    seconds (a proof read is then a lookup in memory: no chain call, no database query)."""

    KEPT = 3

    def __init__(self, db: Database, max_age: float = 0.25) -> None:
        self._db = db
        self.max_age = max_age
        self._trees: dict[int, Tree] = {}
        self._lock = threading.Lock()
        self._roots_lock = threading.Lock()
        self._roots: tuple[float, ActiveRoot, tuple[int, bytes] | None] | None = None

    def stored(self, number: int) -> Tree | None:
        """Epoch `number`'s tree as its stored report has it (None without a report)."""
        with self._db.session() as session:
            row = session.get(Epoch, number)
            if row is None:
                return None
            text = row.report
        section = report_tree(text)
        return Tree(int(section["epoch"]), leaves_of(section))

    def matching(self, number: int, root: bytes) -> Tree | None:
        """Epoch `number`'s tree if it is the one with `root` on the chain."""
        cached = self._trees.get(number)
        if cached is not None and cached.root == root:
            return cached
        with self._lock:  # one build per tree, however many requests wait for it
            cached = self._trees.get(number)
            if cached is None or cached.root != root:
                cached = self.stored(number)
                if cached is None or cached.root != root:
                    return None
                self._trees[number] = cached
                for old in sorted(self._trees)[: -self.KEPT]:
                    del self._trees[old]
            return cached

    def roots(self, chain: UnionChain) -> tuple[ActiveRoot, tuple[int, bytes] | None]:
        """The root in force, and the pending epoch and root if one is pending, as last read (at
        most `max_age` seconds ago)."""
        fresh = self._fresh_roots()
        if fresh is not None:
            return fresh
        # When the roots go stale under load, one reader asks the chain and the others wait and
        # reuse its answer, instead of every request in flight asking the node at once.
        with self._roots_lock:
            fresh = self._fresh_roots()
            if fresh is not None:
                return fresh
            now = time.monotonic()
            active = chain.active_root()
            state = chain.attribution_state()
            pending = (state.epoch, chain.pending_root()[0]) if state.pending else None
            self._roots = (now, active, pending)
            return active, pending

    def _fresh_roots(self) -> tuple[ActiveRoot, tuple[int, bytes] | None] | None:
        known = self._roots
        if known is not None and time.monotonic() - known[0] <= self.max_age:
            return known[1], known[2]
        return None

    def peek_proofs(self, member: str) -> tuple[MemberProof | None, MemberProof | None] | None:
        """`member_proofs` from memory alone, or None when that would need the chain or the
        database (roots older than `max_age`, or a tree not built yet): never blocks."""
        fresh = self._fresh_roots()
        if fresh is None:
            return None
        active, pending = fresh
        wanted = [(active.epoch, active.root)] if active.epoch else []
        if pending is not None:
            wanted.append(pending)
        built: dict[int, Tree] = {}
        for number, root in wanted:
            tree = self._trees.get(number)
            if tree is None or tree.root != root:
                return None
            built[number] = tree
        current = _proof_in(built[active.epoch], member) if active.epoch else None
        return current, None if pending is None else _proof_in(built[pending[0]], member)

    def shares(self, number: int, member: str) -> int:
        """`member`'s shares in epoch `number`'s tree (0 without a leaf or a stored report)."""
        tree = self._trees.get(number) or self.stored(number)
        leaf = None if tree is None else tree.leaf_of(member)
        return 0 if leaf is None else leaf.shares


def _proof_in(tree: Tree | None, member: str) -> MemberProof | None:
    index = None if tree is None else tree.index_of(member)
    if tree is None or index is None:
        return None
    return MemberProof(
        tree.epoch,
        "0x" + tree.root.hex(),
        tree.leaves[index],
        ["0x" + p.hex() for p in tree.proof(index)],
    )


def current_proof(
    trees: Trees, chain: UnionChain, member: str, block: int | None = None
) -> MemberProof | None:
    """The member's leaf and proof in the root in force (None when they have none there, or
    this relayer does not hold that root's report): at `block`, or as the roots were last read.
    At a block only the root in force is read: member figures and claims need nothing more."""
    active = trees.roots(chain)[0] if block is None else chain.active_root(block)
    return _in_force(trees, active, member)


def _in_force(trees: Trees, active: ActiveRoot, member: str) -> MemberProof | None:
    if not active.epoch:
        return None
    return _proof_in(trees.matching(active.epoch, active.root), member)


def member_proofs(
    trees: Trees, chain: UnionChain, member: str
) -> tuple[MemberProof | None, MemberProof | None]:
    """The member's leaf and proof in the root in force and in the pending root (each None when
    the member has none there, or this relayer does not hold that root's report), as the roots
    were last read."""
    active, pending = trees.roots(chain)
    current = _in_force(trees, active, member)
    if pending is None:
        return current, None
    return current, _proof_in(trees.matching(*pending), member)
