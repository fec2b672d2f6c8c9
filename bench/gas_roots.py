"""The root-mode union (`DataUnionRoots`) in the gas benchmark: an epoch's cost (one root,
whatever the member count), claims with a proof of the tree's depth, a later claim under the
same root without one, deposit, claimWithSig, leave and veto, at the same member counts as
DataUnion, on the same chain and token (bench/gas.py calls `measure_roots`).

Up to 100,000 members the trees are real: every member's leaf, built by the relayer's own rule
(relayer.roots.next_leaves) and tree (relayer.merkle.Tree). A real tree of 1,000,000 members is
the relayer benchmark's business (bench/relayer_bench.py); here gas depends only on the proof's
length, so from `FOLD_FROM` members on the named members' leaves form a small real tree whose
root is folded with pseudo-random siblings up to the depth a tree of that many leaves has,
ceil(log2(n)): the contract checks exactly the proof a member of such a tree would send."""

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chain import addresses, local_key, progress
from eth_account import Account
from eth_utils import keccak

from relayer.eip712 import typed_data
from relayer.merkle import Leaf, Tree, hash_pair, leaf_hash, verify
from relayer.roots import next_leaves

if TYPE_CHECKING:
    from gas import Bench

DESIGN = "DataUnionRoots"
FOLD_FROM = 1_000_000  # member counts from which the tree is folded rather than built
REAL_SUBTREE = 8  # leaves of the real part of a folded tree: a power of two
NO_LEAF = (0, 0, 0)
MAX_UINT = 2**256 - 1


class BenchTree:
    """An epoch's tree as the benchmark needs it: the root, and a leaf and proof per named
    member. `size` is the member count the tree stands for; with `fold`, only `leaves` are real
    and the rest of the tree is pseudo-random siblings above them (see the module's note)."""

    def __init__(self, epoch: int, leaves: Sequence[Leaf], size: int, fold: bool) -> None:
        self.epoch, self.size = epoch, size
        self.tree = Tree(epoch, leaves)
        self.leaves = self.tree.leaves
        self.siblings: list[bytes] = []
        if fold:
            depth = math.ceil(math.log2(size))
            real = len(self.tree.levels) - 1
            self.siblings = [
                keccak(text=f"roots bench sibling {epoch} {size} {i}") for i in range(depth - real)
            ]
        root = self.tree.root
        for sibling in self.siblings:
            root = hash_pair(root, sibling)
        self.root = root

    def leaf(self, member: str) -> tuple[int, int, int]:
        leaf = self.tree.leaf_of(member)
        return NO_LEAF if leaf is None else leaf.as_tuple()

    def proof(self, member: str) -> list[bytes]:
        index = self.tree.index_of(member)
        if index is None:
            return []
        proof = self.tree.proof(index) + self.siblings
        assert verify(proof, self.root, leaf_hash(self.epoch, self.tree.leaves[index]))
        return proof


def _shares(count: int, offset: int) -> list[int]:
    """Shares that never divide a deposit evenly, so every deposit moves the rounding dust."""
    return [1 + (i + offset) % 9 for i in range(count)]


class RootsRun:
    """One DataUnionRoots with `size` members, driven through the operations measured."""

    def __init__(self, bench: "Bench", size: int) -> None:
        self.bench, self.size = bench, size
        self.fold = size >= FOLD_FROM
        abi, code = bench.chain.artifact(DESIGN)
        self.union, _ = bench.chain.deploy(
            abi, code, bench.token.address, *bench.constructor_roles()
        )
        self.people = {
            name: local_key(f"roots {name} {size}")
            for name in ("alice", "bob", "carol", "dave", "erin")
        }
        named = [key.address for key in self.people.values()]
        # The rest of the members: real leaves up to FOLD_FROM; beyond, enough real ones for a
        # full subtree of REAL_SUBTREE (so every named member's path is as long as the folded
        # tree is deep), and of the others only their count and their shares' sum, which is
        # what postRoot carries.
        real = REAL_SUBTREE if self.fold else size
        self.others = addresses(real - len(named), f"roots member {size}")
        self.others_total = sum(_shares(size - real, 0)) if self.fold else 0
        self.named = named
        self.active: BenchTree | None = None
        self.pending: BenchTree | None = None

    def next_tree(self, shares: dict[str, int]) -> BenchTree:
        epoch = self.union.functions.currentEpoch().call() + 1
        start = self.union.functions.activeRoot().call()[2]
        previous = self.active.leaves if self.active else []
        departed = {
            leaf.member.lower()
            for leaf in previous
            if leaf.member in self.named and self.union.functions.hasLeft(leaf.member).call()
        }
        leaves = next_leaves(previous, start, shares, departed)
        return BenchTree(epoch, leaves, self.size, self.fold)

    def post(self, shares: dict[str, int]) -> tuple[Any, BenchTree]:
        tree = self.next_tree(shares)
        total = sum(leaf.shares for leaf in tree.leaves) + self.others_total
        call = self.union.functions.postRoot(
            tree.epoch, tree.root, keccak(text=f"report {tree.epoch}"), total, self.size
        )
        receipt = self.bench.send(call, self.bench.attester)
        self.pending = tree
        return receipt, tree

    def finish(self) -> Any:
        assert self.pending is not None
        receipt = self.bench.finish(self.union, self.pending.epoch)
        self.active, self.pending = self.pending, None
        return receipt

    def epoch_shares(self, epoch: int) -> dict[str, int]:
        """The named members hold more than most, so that at a million members one deposit
        still pays each of them whole units."""
        shares = dict(zip(self.others, _shares(len(self.others), epoch), strict=True))
        shares.update({m: 1_000 + 7 * i + epoch for i, m in enumerate(self.named)})
        return shares

    def claim(self, who: str, to: str, proof: bool = True) -> Any:
        assert self.active is not None
        member = self.people[who]
        call = self.union.functions.claim(
            to,
            MAX_UINT,
            self.active.leaf(member.address),
            self.active.proof(member.address) if proof else [],
        )
        return self.bench.send(call, member.address)

    def sign_claim(self, who: str, to: str) -> bytes:
        member = self.people[who]
        message = {
            "member": member.address,
            "to": to,
            "amount": MAX_UINT,
            "nonce": self.union.functions.nonces(member.address).call(),
            "deadline": self.bench.deadline,
        }
        document = typed_data(
            self.bench.chain.w3.eth.chain_id, self.union.address, "Claim", message
        )
        return bytes(Account.sign_typed_data(member.key, full_message=document).signature)

    def leave(self, who: str) -> Any:
        assert self.active is not None
        address = self.people[who].address
        pending = self.pending
        call = self.union.functions.leave(
            self.active.leaf(address),
            self.active.proof(address),
            pending.leaf(address) if pending else NO_LEAF,
            pending.proof(address) if pending else [],
        )
        return self.bench.send(call, address)


def measure_roots(bench: "Bench", size: int) -> None:
    progress(f"  {DESIGN} with {size:,} members" + (" (folded tree)" if size >= FOLD_FROM else ""))
    run = RootsRun(bench, size)
    union, add = run.union, bench.add
    posted, tree = run.post(run.epoch_shares(1))
    finished = run.finish()
    depth = f"proof of {len(tree.proof(run.people['alice'].address))}"
    note = f"{len(tree.leaves):,} leaves" + (", folded" if run.fold else "")
    add(DESIGN, "postRoot, the first epoch", size, posted.gasUsed, note=note)
    add(DESIGN, "finishAttribution, the first epoch", size, finished.gasUsed)
    add(
        DESIGN,
        "an epoch, the first: postRoot + finishAttribution",
        size,
        posted.gasUsed + finished.gasUsed,
    )

    # Steady state: revenue, fees and earlier claims on the books.
    bench.send(bench.token.functions.approve(union.address, bench.allowance), bench.buyer.address)
    bench.deposit(union)
    run.claim("carol", run.people["carol"].address)
    run.claim("bob", run.people["bob"].address)
    bench.deposit(union)
    wallet = addresses(1, f"roots alice wallet {size}")[0]
    first_ever = run.claim("alice", wallet).gasUsed
    add(
        DESIGN,
        "claim, member's first ever, to a fresh wallet",
        size,
        first_ever,
        floor="F0",
        note=depth,
    )

    # A later epoch: posted while the first root splits revenue, finished with a deposit held
    # by nobody (the root in force kept splitting it).
    bench.deposit(union)
    posted, tree = run.post(run.epoch_shares(2))
    bench.deposit(union)
    finished = run.finish()
    add(DESIGN, "postRoot, a later epoch", size, posted.gasUsed)
    add(DESIGN, "finishAttribution, a later epoch", size, finished.gasUsed)
    add(
        DESIGN,
        "an epoch, a later one: postRoot + finishAttribution",
        size,
        posted.gasUsed + finished.gasUsed,
    )

    add(DESIGN, "deposit", size, bench.deposit(union).gasUsed, floor="FT")
    wallet = addresses(1, f"roots alice wallet 2 {size}")[0]
    first = run.claim("alice", wallet).gasUsed
    add(
        DESIGN,
        "claim, first under a root, to a fresh wallet",
        size,
        first,
        floor="F0",
        note=depth,
    )
    bench.deposit(union)
    later = run.claim("alice", wallet, proof=False).gasUsed
    add(
        DESIGN,
        "claim, later under the same root (no proof), to a holder",
        size,
        later,
        floor="F1",
        note="empty proof: the leaf's tag is in the member's word",
    )

    signed_to = addresses(1, f"roots bob wallet {size}")[0]
    member = run.people["bob"]
    call = union.functions.claimWithSig(
        member.address,
        signed_to,
        MAX_UINT,
        bench.deadline,
        run.active.leaf(member.address) if run.active else NO_LEAF,
        run.active.proof(member.address) if run.active else [],
        run.sign_claim("bob", signed_to),
    )
    signed = bench.send(call, bench.relayer).gasUsed
    add(
        DESIGN,
        "claimWithSig, first under a root, to a fresh wallet",
        size,
        signed,
        floor="F0",
        note=depth,
    )
    add(DESIGN, "  claimWithSig minus the first claim under a root", size, signed - first)

    add(
        DESIGN,
        "leave (with unclaimed earnings), no root pending",
        size,
        run.leave("dave").gasUsed,
        note=depth,
    )
    bench.deposit(union)
    run.post(run.epoch_shares(3))
    add(
        DESIGN,
        "leave (with unclaimed earnings), a root pending",
        size,
        run.leave("erin").gasUsed,
        note="two proofs: the root in force's and the pending one's",
    )
    veto = bench.send(union.functions.vetoAttribution(3), bench.guardian).gasUsed
    add(DESIGN, "vetoAttribution", size, veto)


def extrapolate_push_epochs(bench: "Bench", sizes: Sequence[int]) -> None:
    """DataUnion's epoch of n members, all new or all changed, from its per-member figures in
    batches of 500 (measured at each size up to 100,000, taken from the largest measured beyond):
    n x per member + one transaction base per batch + finishAttribution."""
    push = [r for r in bench.rows if r.design == "DataUnion"]
    measured = sorted({r.members for r in push if r.members is not None})
    if not measured:
        return
    for size in sizes:
        source = size if size in measured else measured[-1]
        finish = bench.gas("DataUnion", "finishAttribution (distributes held revenue)", source)
        for kind in ("new", "changed"):
            per_member = bench.gas(
                "DataUnion", f"postAttribution, {kind} member, batch of 500", source
            )
            gas = per_member * size + 21_000 * math.ceil(size / 500) + finish
            bench.add(
                "DataUnion",
                f"an epoch, every member {kind}: postAttribution batches + finishAttribution",
                size,
                round(gas),
                note="extrapolated: see the notes",
            )


def roots_notes(bench: "Bench", sizes: Sequence[int]) -> None:
    """What the root mode's figures mean, in numbers of this run."""
    measured = [n for n in sizes if any(r.design == DESIGN and r.members == n for r in bench.rows)]
    if not measured:
        return
    folded = [n for n in measured if n >= FOLD_FROM]
    real = [n for n in measured if n < FOLD_FROM]
    if folded:
        depth = math.ceil(math.log2(folded[0]))
        bench.notes.append(
            f"DataUnionRoots at {folded[0]:,} members: the tree is folded. {REAL_SUBTREE} real "
            f"leaves (the measured members among them) form a subtree whose root is hashed with "
            f"{depth - int(math.log2(REAL_SUBTREE))} pseudo-random siblings up to the depth of a "
            f"tree of {folded[0]:,} leaves, so each proof has {depth} nodes, what a member of "
            f"a real tree of that size sends; postRoot carries the full member count and total "
            f"shares. The relayer benchmark (results/relayer.md) builds the real tree."
            + (f" Up to {max(real):,} members the trees are real." if real else "")
        )
    n = measured[-1]
    first = bench.gas(DESIGN, "an epoch, the first: postRoot + finishAttribution", n)
    later = bench.gas(DESIGN, "an epoch, a later one: postRoot + finishAttribution", n)
    bench.notes.append(
        f"DataUnionRoots' first epoch ({first:,} gas at {n:,} members) writes the root mode's "
        f"storage for the first time: the pending root and its total, the root in force, its "
        f"epoch start, the total shares in force (fresh slots, 20,000 gas each instead of 2,900 "
        f"for a rewrite). Every later epoch rewrites them: {later:,}, the steady cost of an "
        f"epoch, the same at every member count."
    )
    ever = bench.gas(DESIGN, "claim, member's first ever, to a fresh wallet", n)
    under = bench.gas(DESIGN, "claim, first under a root, to a fresh wallet", n)
    bench.notes.append(
        f"A root-mode member's word exists only once they claim (or leave): their first claim "
        f"ever writes it fresh ({ever:,} gas at {n:,} members), {ever - under:,} more than a "
        f"first claim under a later root ({under:,}), which rewrites it. A push union writes "
        f"every member's slot when posting them (about 25,000 gas each, paid by the operator), "
        f"so its members' first claims find it written; MerkleDistributor's first claim in a "
        f"bitmap word writes that word fresh too. The leave rows are of members who never "
        f"claimed (their word is written fresh as well)."
    )
    if any(r.operation.startswith("an epoch, every member") for r in bench.rows):
        bench.notes.append(
            "DataUnion's epoch rows are extrapolated, not measured: n members x the per-member "
            "postAttribution figure in batches of 500 (new or changed members, measured in this "
            "run at the same member count; at 1,000,000 members the 100,000-member figure) + "
            "21,000 per batch transaction + finishAttribution. DataUnionRoots' epoch rows are "
            "measured at every count."
        )
