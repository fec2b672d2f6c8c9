"""The demo's short run of a root-mode union (DataUnionRoots), after the push union's story:
the same operator script deploys it, a second relayer serves it, and six members go through one
root per epoch — a root whose cost does not depend on the member count, revenue claimable the
moment it arrives (also while the next root waits out its delay), claims with the proof the
relayer serves, a later claim without any proof, a member leaving, and a claim with the relayer
stopped, its proof rebuilt from the published report alone. Every figure is reconciled to the
exact pro-rata split; `run` returns the checks for the demo's summary.
"""

import json
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from web3.logs import DISCARD

from relayer.merkle import Leaf, Tree
from relayer.root_tree import leaves_of
from scripts.demo import MAX_UINT, Demo
from scripts.demo_people import MEMBERS, UNIT
from scripts.demo_services import DemoError
from scripts.helpers import say

#: The members of the short run, and who does what in it.
ROOT_MEMBERS = 6
GASLESS = "Bilal"
LEAVER = "Chen"
OFFLINE = "Dara"
EMPTY_LEAF: tuple[tuple[int, int, int], list[bytes]] = ((0, 0, 0), [])


class RootsDemo(Demo):
    """`Demo` on a DataUnionRoots: its wallets, contributions, payments and gasless claims are
    the push demo's; epochs, shares and claims go through roots and proofs."""

    KIND = "roots"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        names = [profile.name for profile in MEMBERS[:ROOT_MEMBERS]]
        self.members = {name: self.members[name] for name in names}
        self.ideal = {name: Fraction(0) for name in names}
        self.trees: dict[int, Tree] = {}
        self.left: set[str] = set()
        self.root_gas: list[int] = []

    # -- roots ---------------------------------------------------------------------------------

    def active_tree(self) -> Tree:
        epoch = int(self.union.functions.activeRoot().call()[0])
        return self.trees[epoch]

    def shares_in_force(self) -> dict[str, int]:
        tree = self.active_tree()
        shares = {}
        for name, member in self.members.items():
            leaf = tree.leaf_of(member.address)
            shares[name] = 0 if leaf is None or name in self.left else leaf.shares
        return shares

    def leaf_args(self, name: str) -> tuple[tuple[int, int, int], list[bytes]]:
        """The member's leaf and proof, as the relayer serves them (GET .../proof)."""
        member = self.members[name]
        if name in self.left:
            return EMPTY_LEAF
        served = self.relayer.call("GET", f"/v1/members/{member.address}/proof", 200)
        leaf = served["leaf"]
        values = (int(leaf["offset"]), int(leaf["previousShares"]), int(leaf["shares"]))
        return values, [bytes.fromhex(p[2:]) for p in served["proof"]]

    def local_leaf_args(self, name: str) -> tuple[tuple[int, int, int], list[bytes]]:
        """The member's leaf and proof from the trees the published reports hold."""
        tree = self.active_tree()
        index = tree.index_of(self.members[name].address)
        if name in self.left or index is None:
            return EMPTY_LEAF
        return tree.leaves[index].as_tuple(), tree.proof(index)

    def claimable(self, name: str) -> int:
        member = self.members[name]
        return int(self.union.functions.claimable(member.address, *self.leaf_args(name)).call())

    def claim_direct(self, name: str, amount: int | None = None, proven: bool = True) -> None:
        member = self.members[name]
        leaf, proof = self.leaf_args(name)
        asked = MAX_UINT if amount is None else amount
        call = self.union.functions.claim(member.address, asked, leaf, proof if proven else [])
        receipt = member.send(call, "claim")
        (claimed,) = self.union.events.Claimed().process_receipt(receipt, errors=DISCARD)
        how = f"with a proof of {len(proof)}" if proven else "without a proof (leaf remembered)"
        say(
            f"   {name:<6} claimed {self.amount(int(claimed.args.amount)):>17} {how}, "
            f"{receipt.gasUsed:,} gas"
        )

    def close_epoch(self) -> None:
        closed = self.relayer.call("POST", "/v1/epochs/close", 202, headers=self.auth())
        number = closed["number"]
        epoch = self.wait_for(number, ("closed", "posting"))
        if epoch["status"] != "pending":
            raise DemoError(f"epoch {number} is {epoch['status']}: {epoch['error']}")
        report = self.relayer.call("GET", f"/v1/epochs/{number}/report", 200, raw=True)
        (self.output / f"epoch-{number}-report.json").write_bytes(report)
        tree = Tree(number, leaves_of(json.loads(report)["tree"]))
        root, total = self.union.functions.pendingRoot().call()
        if bytes(root) != tree.root:
            raise DemoError(f"epoch {number}'s root on-chain is not the report's tree")
        if int(total) != sum(leaf.shares for leaf in tree.leaves):
            raise DemoError(f"epoch {number}'s total on-chain is not the sum of its leaves")
        self.trees[number] = tree
        say(
            f"   epoch {number}: one postRoot for {len(tree.leaves)} leaves; the root rebuilt "
            "from the report alone matches the chain, and so does the total"
        )
        if number > 1:
            self.pay("Shopwise", None, "approve", 900 * UNIT)
            say("   (paid while the root waits: split by the root in force, claimable at once)")
        delay = int(self.union.functions.ATTRIBUTION_DELAY().call())
        self.anvil.rpc("evm_increaseTime", delay)
        self.anvil.rpc("evm_mine")
        epoch = self.wait_for(number, ("pending",))
        if epoch["status"] != "finished":
            raise DemoError(f"epoch {number} is {epoch['status']}: {epoch['error']}")
        gas = {
            purpose: sum(
                int(tx["gas_used"] or 0) for tx in epoch["transactions"] if tx["purpose"] == purpose
            )
            for purpose in ("attribution", "finish")
        }
        self.root_gas.append(gas["attribution"] + gas["finish"])
        say(
            f"   {delay // 3600} h later the relayer finished it (postRoot {gas['attribution']:,} "
            f"+ finish {gas['finish']:,} gas, whatever the member count)"
        )
        self.epochs.append({"number": number})

    def wait_for(self, number: int, passing: tuple[str, ...]) -> dict[str, Any]:
        """Epoch `number` once its status is none of `passing` (at most 120 s)."""
        deadline = time.monotonic() + 120
        epoch = self.relayer.call("GET", f"/v1/epochs/{number}", 200)
        while epoch["status"] in passing:
            if time.monotonic() > deadline:
                raise DemoError(f"epoch {number} still {epoch['status']} after 120 s")
            time.sleep(0.1)
            epoch = self.relayer.call("GET", f"/v1/epochs/{number}", 200)
        return epoch

    def leave(self, name: str) -> None:
        member = self.members[name]
        leaf, proof = self.leaf_args(name)
        member.send(self.union.functions.leave(leaf, proof, (0, 0, 0), []), "leave")
        self.left.add(name)
        say(f"   {name:<6} left with one proof: their earnings stop growing, stay claimable")

    def claim_offline(self, name: str) -> None:
        """With the relayer stopped: the member's proof from the report file alone."""
        member = self.members[name]
        epoch = int(self.union.functions.activeRoot().call()[0])
        path = self.output / f"epoch-{epoch}-report.json"
        tree = Tree(epoch, leaves_of(json.loads(path.read_bytes())["tree"]))
        if tree.root != bytes(self.union.functions.activeRoot().call()[1]):
            raise DemoError(f"{path.name} does not hold the root in force")
        index = tree.index_of(member.address)
        if index is None:
            raise DemoError(f"{name} has no leaf in {path.name}")
        leaf: Leaf = tree.leaves[index]
        call = self.union.functions.claim(
            member.address, MAX_UINT, leaf.as_tuple(), tree.proof(index)
        )
        receipt = member.send(call, "claim")
        (claimed,) = self.union.events.Claimed().process_receipt(receipt, errors=DISCARD)
        say(
            f"   {name:<6} claimed {self.amount(int(claimed.args.amount)):>17} with the relayer "
            f"stopped: proof rebuilt from {path.name}"
        )

    # -- the run -------------------------------------------------------------------------------

    def run_roots(self) -> dict[str, Any]:
        self.chapter(f"Root mode: {len(self.members)} members contribute to a DataUnionRoots")
        for profile in MEMBERS[:ROOT_MEMBERS]:
            self.contribute(profile.name, profile.records, "roots epoch 1")
        self.chapter("Epoch 1 of the root-mode union: one root, whatever the member count")
        self.close_epoch()
        self.chapter("A buyer pays; members claim with the proof the relayer serves")
        self.pay("Helix Labs", None, "approve", 3_000 * UNIT)
        first = next(iter(self.members))
        self.claim_direct(first)
        self.claim_gasless(GASLESS)
        self.pay("Cartograph", None, "approve", 1_500 * UNIT)
        self.claim_direct(first, proven=False)
        self.leave(LEAVER)
        self.chapter("Epoch 2: the leaver is gone from the tree, the others' earnings carry over")
        self.contribute(MEMBERS[4].name, 2_000, "roots epoch 2")
        self.close_epoch()
        self.pay("Helix Labs", None, "approve", 1_200 * UNIT)
        self.relayer.stop()
        self.chapter("The relayer stops; a member claims from the published report alone")
        self.claim_offline(OFFLINE)
        return self.reconcile()

    def reconcile(self) -> dict[str, Any]:
        rows, ok = [], True
        claimed_events = self.union.events.Claimed().get_logs(from_block=0)
        claimed: dict[str, int] = {}
        for event in claimed_events:
            claimed[str(event.args.member)] = claimed.get(str(event.args.member), 0) + int(
                event.args.amount
            )
        owed = 0
        for name, member in self.members.items():
            args = self.local_leaf_args(name)
            due = int(self.union.functions.claimable(member.address, *args).call())
            paid = claimed.get(member.address, 0)
            owed += due
            ideal = self.ideal[name]
            within = abs(Fraction(paid + due) - ideal) <= 1
            ok &= within
            rows.append({"member": name, "claimed": paid, "claimable": due, "ideal": str(ideal)})
        balance = int(self.token.functions.balanceOf(self.union.address).call())
        fees = int(self.union.functions.feesOwed(self.treasury.address).call())
        held = int(self.union.functions.undistributed().call())
        solvent = balance - owed - fees - held
        ok &= 0 <= solvent <= len(self.members)
        say()
        say("Root mode reconciled (exact pro-rata split of every deposit, to the unit):")
        for row in rows:
            say(
                f"   {row['member']:<6} claimed {self.amount(row['claimed']):>17}  claimable "
                f"{self.amount(row['claimable']):>17}  exact share "
                f"{self.amount(int(Fraction(row['ideal']))):>17}"
            )
        say(f"   pool {balance:,} = claimable {owed:,} + fees {fees:,} + held {held:,} + {solvent}")
        say(f"   root postings cost {', '.join(f'{g:,}' for g in self.root_gas)} gas")
        say(f"   {'every figure reconciles' if ok else 'A FIGURE DOES NOT RECONCILE'}")
        return {"ok": ok, "members": rows, "root_gas": self.root_gas, "solvent_by": solvent}


def run(parent: Demo, relayer_port: int) -> dict[str, Any]:
    """The short root-mode run on `parent`'s chain, its files under `parent.output / "roots"`."""
    output: Path = parent.output / "roots"
    output.mkdir()
    demo = RootsDemo(parent.w3, parent.anvil, output)
    demo.setup()
    demo.deploy()
    relayer = demo.start_relayer(relayer_port)
    try:
        results = demo.run_roots()
    finally:
        relayer.stop()
    (output / "roots.json").write_text(json.dumps(results, indent=2) + "\n")
    return results
