"""Gas of the data union side by side with the payout contracts people would otherwise use,
deployed from their own npm packages on one anvil chain in one run, against the physical floor
(a plain token transfer on the same token, measured in the same run), at 10, 1,000 and 100,000
members, and the root-mode union (bench/gas_roots.py) at those and at 1,000,000. Prints a table
and writes bench/results/gas.{md,json} and gas-claim-vs-members.png.

Run it with `make bench-gas` (installs and compiles what it needs first)."""

import argparse
import json
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chain import ROOT, Chain, addresses, anvil, anvil_version, local_key, progress
from eth_account import Account
from gas_roots import extrapolate_push_epochs, measure_roots, roots_notes
from merkle import MerkleTree, leaf, verify
from report import write_results

from relayer.eip712 import permit_document, typed_data

SIZES = (10, 1_000, 100_000, 1_000_000)
# Posting a million members one by one would take this run most of an hour: the push union's
# epoch at that size is extrapolated from its per-member figures (gas_roots), and its other
# figures do not depend on the member count.
PUSH_SIZES = (10, 1_000, 100_000)
SPLITTER_SIZES = (10, 1_000)  # payees are set at construction: see the notes for 100,000
BATCH = 500  # MAX_BATCH_SIZE of postAttribution
AMOUNT = 1_000_000  # one dollar of a six-decimal stablecoin
FLOAT = 10**15  # what the buyer and the holder keep, so no balance ever drops to zero
ALLOWANCE = 10**14  # a finite allowance that one deposit never uses up
TX_BASE = 21_000
FEE_BPS = 500
FEE_DELAY = 2 * 24 * 3600
ATTRIBUTION_DELAY = 3600  # the contract's minimum; the bench moves the clock past it
MAX_UINT = 2**256 - 1
LICENSE = b"license-001".ljust(32, b"\x00")
DEADLINE = 4_102_444_800  # 2100-01-01


@dataclass
class Row:
    design: str
    operation: str
    members: int | None
    gas: float
    floor: str | None = None  # key into the floors: F0, F1 or FT
    note: str = ""


class Bench:
    def __init__(self, chain: Chain, anchors: dict[str, Any]) -> None:
        self.chain = chain
        self.anchors = anchors
        self.rows: list[Row] = []
        self.floors: dict[str, int] = {}
        self.notes: list[str] = []
        accounts = chain.accounts
        self.admin, self.attester, self.pauser, self.fee_recipient = accounts[:4]
        self.holder, self.spender, self.relayer, self.guardian = accounts[4:8]
        self.buyer = local_key("buyer")  # signs permits
        self.deadline, self.allowance = DEADLINE, ALLOWANCE
        self.token_abi, token_code = chain.artifact("MockStablecoin")
        self.token, _ = chain.deploy(self.token_abi, token_code)
        for who in (self.holder, self.buyer.address):
            self.send(self.token.functions.mint(who, FLOAT), who)
        # A buyer who has signed a permit before: the token's first nonce write is not ours.
        self.send(
            self.token.functions.permit(
                self.buyer.address, self.spender, 0, DEADLINE, *self.sign_permit(self.spender, 0)
            ),
            self.spender,
        )

    def constructor_roles(self) -> tuple[Any, ...]:
        """What both unions' constructors take after the token: roles, fee and delays."""
        return (
            self.admin,
            self.attester,
            self.pauser,
            self.guardian,
            self.fee_recipient,
            FEE_BPS,
            FEE_DELAY,
            ATTRIBUTION_DELAY,
        )

    def send(self, call: Any, sender: str, gas: int | None = None) -> Any:
        return self.chain.send(call, sender, gas) if gas else self.chain.send(call, sender)

    def add(self, design: str, operation: str, members: int | None, gas: float, **kw: Any) -> None:
        self.rows.append(Row(design, operation, members, gas, **kw))

    # -- the floor --------------------------------------------------------------------------------

    def measure_floors(self) -> None:
        """A plain transfer of the same token: to a fresh address (F0), to a holder (F1), and a
        transferFrom under a finite allowance that stays above zero, to a holder (FT)."""
        token, holder = self.token, self.holder
        fresh = addresses(1, "floor fresh")[0]
        self.floors["F0"] = self.send(token.functions.transfer(fresh, AMOUNT), holder).gasUsed
        self.floors["F1"] = self.send(token.functions.transfer(fresh, AMOUNT), holder).gasUsed
        self.send(token.functions.approve(self.spender, ALLOWANCE), holder)
        pull = token.functions.transferFrom(holder, fresh, AMOUNT)
        self.floors["FT"] = self.send(pull, self.spender).gasUsed

    # -- ours -------------------------------------------------------------------------------------

    def post(
        self, union: Any, epoch: int, members: list[str], shares: list[int], label: str
    ) -> None:
        """Posts an epoch in batches of 500 and finishes it, showing progress on large ones."""
        report = epoch.to_bytes(32, "big")
        started = time.monotonic()
        for start in range(0, len(members), BATCH):
            call = union.functions.postAttribution(
                epoch, report, members[start : start + BATCH], shares[start : start + BATCH]
            )
            self.send(call, self.attester)
            done = min(start + BATCH, len(members))
            if len(members) > 10 * BATCH and (done % (20 * BATCH) == 0 or done == len(members)):
                rate = done / (time.monotonic() - started)
                progress(f"    {label}: {done:,}/{len(members):,} members posted ({rate:,.0f}/s)")
        self.finish(union, epoch)

    def finish(self, union: Any, epoch: int) -> Any:
        """Waits out the attribution delay and finishes the epoch (anyone may: the relayer here)."""
        self.chain.advance(ATTRIBUTION_DELAY)
        return self.send(union.functions.finishAttribution(epoch), self.relayer)

    def deposit(self, union: Any) -> Any:
        return self.send(union.functions.deposit(AMOUNT, LICENSE), self.buyer.address)

    def measure_ours(self, size: int) -> None:
        progress(f"  DataUnion with {size:,} members")
        union_abi, union_code = self.chain.artifact("DataUnion")
        union, _ = self.chain.deploy(
            union_abi, union_code, self.token.address, *self.constructor_roles()
        )
        alice, bob, carol, dave = (
            local_key(f"{name} {size}") for name in ("alice", "bob", "carol", "dave")
        )
        named = [alice.address, bob.address, carol.address, dave.address]
        others = addresses(size - len(named), f"member {size}")
        # Shares that never divide a deposit evenly, so every deposit moves the rounding dust.
        shares = [3, 4, 6, 5] + [1 + i % 9 for i in range(len(others))]
        self.post(union, 1, named + others, shares, "epoch 1")

        # Steady state: revenue, fees and a claim already on the books.
        self.send(self.token.functions.approve(union.address, ALLOWANCE), self.buyer.address)
        self.deposit(union)
        self.send(union.functions.claim(carol.address, MAX_UINT), carol.address)

        self.add("DataUnion", "deposit", size, self.deposit(union).gasUsed, floor="FT")
        permit = self.sign_permit(union.address, AMOUNT)
        with_permit = union.functions.depositWithPermit(AMOUNT, LICENSE, DEADLINE, *permit)
        gas = self.send(with_permit, self.buyer.address).gasUsed
        self.add("DataUnion", "depositWithPermit", size, gas, floor="FT", note="permit included")
        self.send(self.token.functions.approve(union.address, ALLOWANCE), self.buyer.address)
        self.send(self.token.functions.transfer(union.address, AMOUNT), self.holder)
        self.add(
            "DataUnion",
            "sync (after a plain transfer)",
            size,
            self.send(union.functions.sync(), self.relayer).gasUsed,
        )

        wallet = addresses(1, f"alice wallet {size}")[0]
        first = self.send(union.functions.claim(wallet, MAX_UINT), alice.address).gasUsed
        self.add("DataUnion", "claim, first, to a fresh wallet", size, first, floor="F0")
        self.deposit(union)
        later = self.send(union.functions.claim(wallet, MAX_UINT), alice.address).gasUsed
        self.add("DataUnion", "claim, later, to a holder", size, later, floor="F1")

        signed_to = addresses(1, f"bob wallet {size}")[0]
        signature = self.sign_claim(union, bob, signed_to)
        call = union.functions.claimWithSig(bob.address, signed_to, MAX_UINT, DEADLINE, signature)
        signed = self.send(call, self.relayer).gasUsed
        self.add(
            "DataUnion",
            "claimWithSig, first, to a fresh wallet",
            size,
            signed,
            floor="F0",
        )
        self.add("DataUnion", "  claimWithSig minus the first claim", size, signed - first)

        self.add(
            "DataUnion",
            "leave (with unclaimed earnings)",
            size,
            self.send(union.functions.leave(), dave.address).gasUsed,
        )

        for count in (100, 500):
            fresh = addresses(count, f"new {count} {size}")
            call = union.functions.postAttribution(
                2, (2).to_bytes(32, "big"), fresh, [7 + i % 5 for i in range(count)]
            )
            gas = (self.send(call, self.attester).gasUsed - TX_BASE) / count
            self.add(
                "DataUnion",
                f"postAttribution, new member, batch of {count}",
                size,
                gas,
                note="per member",
            )
        self.deposit(union)  # held while epoch 2 is pending: finishing it distributes it
        finish = self.finish(union, 2).gasUsed
        self.add("DataUnion", "finishAttribution (distributes held revenue)", size, finish)
        self.deposit(union)  # earnings every changed member must have settled
        changed = addresses(500, f"new 500 {size}")
        call = union.functions.postAttribution(
            3, (3).to_bytes(32, "big"), changed, [8 + i % 5 for i in range(500)]
        )
        gas = (self.send(call, self.attester).gasUsed - TX_BASE) / 500
        self.add(
            "DataUnion",
            "postAttribution, changed member, batch of 500",
            size,
            gas,
            note="per member",
        )
        veto = self.send(union.functions.vetoAttribution(3), self.guardian).gasUsed
        self.add("DataUnion", "vetoAttribution", size, veto)

    def sign_permit(self, spender: str, value: int) -> tuple[int, bytes, bytes]:
        message = {
            "owner": self.buyer.address,
            "spender": spender,
            "value": value,
            "nonce": self.token.functions.nonces(self.buyer.address).call(),
            "deadline": DEADLINE,
        }
        document = permit_document(
            "Mock USD", "1", self.chain.w3.eth.chain_id, self.token.address, message
        )
        signed = Account.sign_typed_data(self.buyer.key, full_message=document)
        return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")

    def sign_claim(self, union: Any, member: Any, to: str) -> bytes:
        """The member's EIP-712 Claim, built as the relayer builds it."""
        message = {
            "member": member.address,
            "to": to,
            "amount": MAX_UINT,
            "nonce": union.functions.nonces(member.address).call(),
            "deadline": DEADLINE,
        }
        document = typed_data(self.chain.w3.eth.chain_id, union.address, "Claim", message)
        return bytes(Account.sign_typed_data(member.key, full_message=document).signature)

    # -- Uniswap MerkleDistributor ----------------------------------------------------------------

    def measure_merkle(self, size: int) -> None:
        progress(f"  MerkleDistributor with {size:,} leaves")
        accounts = addresses(size, f"merkle {size}")
        amounts = [AMOUNT + i for i in range(size)]
        leaves = [leaf(i, a, amounts[i]) for i, a in enumerate(accounts)]
        tree = MerkleTree(leaves)
        anchor = self.anchors["MerkleDistributor"]
        distributor, receipt = self.chain.deploy(
            anchor["abi"], anchor["bytecode"], self.token.address, tree.root
        )
        self.add("MerkleDistributor", "deploy", size, receipt.gasUsed)
        self.send(self.token.functions.mint(distributor.address, sum(amounts)), self.holder)
        # Index 0 claims first in its 256-claim bitmap word; index 1 finds that word written.
        for index, operation in (
            (0, "claim, first in its bitmap word, to a fresh wallet"),
            (1, "claim, bitmap word already written, to a fresh wallet"),
        ):
            proof = tree.proof(leaves[index])
            assert verify(proof, tree.root, leaves[index])
            call = distributor.functions.claim(index, accounts[index], amounts[index], proof)
            gas = self.send(call, accounts[index]).gasUsed
            self.add(
                "MerkleDistributor",
                operation,
                size,
                gas,
                floor="F0",
                note=f"proof of {len(proof)}",
            )

    # -- OpenZeppelin PaymentSplitter -------------------------------------------------------------

    def measure_splitter(self, size: int) -> None:
        progress(f"  PaymentSplitter with {size:,} payees")
        payees = [local_key(f"payee {size} {i}").address for i in range(3)] + addresses(
            size - 3, f"payee {size}"
        )
        shares = [3, 4, 6] + [1 + i % 9 for i in range(size - 3)]
        anchor = self.anchors["PaymentSplitter"]
        splitter, receipt = self.chain.deploy(
            anchor["abi"], anchor["bytecode"], payees, shares, gas=190_000_000
        )
        self.add("PaymentSplitter", "deploy (= any change of payees)", size, receipt.gasUsed)
        release = splitter.functions.release(self.token.address, payees[0])
        self.send(self.token.functions.transfer(splitter.address, 100 * AMOUNT), self.holder)
        gas = self.send(
            splitter.functions.release(self.token.address, payees[2]), payees[2]
        ).gasUsed
        self.add(
            "PaymentSplitter",
            "release, the splitter's very first",
            size,
            gas,
            floor="F0",
            note="to a fresh wallet",
        )
        gas = self.send(release, payees[0]).gasUsed
        self.add("PaymentSplitter", "release, first, to a fresh wallet", size, gas, floor="F0")
        self.send(self.token.functions.transfer(splitter.address, 100 * AMOUNT), self.holder)
        gas = self.send(release, payees[0]).gasUsed
        self.add("PaymentSplitter", "release, later, to a holder", size, gas, floor="F1")

    def extrapolate_splitter(self) -> None:
        small, large = (
            self.gas("PaymentSplitter", "deploy (= any change of payees)", n)
            for n in SPLITTER_SIZES
        )
        per_payee = (large - small) / (SPLITTER_SIZES[1] - SPLITTER_SIZES[0])
        largest = PUSH_SIZES[-1]
        at_100k = small + per_payee * (largest - SPLITTER_SIZES[0])
        self.add(
            "PaymentSplitter",
            "deploy (= any change of payees)",
            largest,
            round(at_100k),
            note=f"{largest:,}: extrapolated at {per_payee:,.0f} per payee, not deployable",
        )
        self.notes.append(
            f"PaymentSplitter fixes its payees in the constructor, at {per_payee:,.0f} gas per "
            f"payee: {large:,} for 1,000 payees, already above a 30,000,000-gas block, the "
            f"16,777,216-gas transaction cap of EIP-7825 and EIP-3860's initcode size (this run "
            f"lifts anvil's limits to measure it). 100,000 payees would need about "
            f"{at_100k / 1e9:.1f} billion gas in one transaction: it cannot be deployed at that "
            f"size at all. Its release is measured at 10 and 1,000 payees (it does not depend "
            f"on the payee count)."
        )

    def gas(self, design: str, operation: str, members: int) -> Any:
        return next(
            r.gas
            for r in self.rows
            if (r.design, r.operation, r.members) == (design, operation, members)
        )


def build_anchors() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "anchors.json"
        subprocess.run(["node", str(ROOT / "bench" / "anchors.js"), str(out)], check=True)
        return dict(json.loads(out.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="member counts, comma-separated"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="results directory")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    started = time.monotonic()
    progress("==> anchors from their npm packages")
    anchors = build_anchors()
    with anvil() as w3:
        bench = Bench(Chain(w3), anchors)
        bench.measure_floors()
        for size in sizes:
            if size in PUSH_SIZES:
                bench.measure_ours(size)
                bench.measure_merkle(size)
            if size in SPLITTER_SIZES:
                bench.measure_splitter(size)
            measure_roots(bench, size)
        if all(size in sizes for size in SPLITTER_SIZES) and PUSH_SIZES[-1] in sizes:
            bench.extrapolate_splitter()
        extrapolate_push_epochs(bench, sizes)
        roots_notes(bench, sizes)
        chain_id = w3.eth.chain_id
    environment = {
        "anvil": anvil_version(),
        "chain_id": chain_id,
        "token": "MockStablecoin: OpenZeppelin 5.4 ERC20 + ERC20Permit, 6 decimals",
        "DataUnion": "contracts/DataUnion.sol, solc 0.8.28 (cancun, 10,000 runs), brownie build",
        "DataUnionRoots": "contracts/DataUnionRoots.sol, the same compiler, settings and build",
        "PaymentSplitter": anchors["PaymentSplitter"]["origin"],
        "MerkleDistributor": anchors["MerkleDistributor"]["origin"],
        "seconds": round(time.monotonic() - started),
    }
    table = write_results(
        Path(args.out),
        environment,
        bench.floors,
        [asdict(r) for r in bench.rows],
        bench.notes,
        sizes,
    )
    print(table)


if __name__ == "__main__":
    main()
