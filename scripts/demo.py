"""The data union end to end on a local chain: `make demo` (or `python -m scripts.demo`).

Starts anvil, deploys the union with the operator script and freshly generated keys, starts the
relayer on SQLite and talks to it over HTTP like any client: twenty members contribute (signed),
the relayer posts epoch 1, three buyers pay (permit, approve + deposit, plain transfer + sync),
members claim (from their wallets, partially, gaslessly through the relayer, after leaving), one
member has her data deleted and epoch 2 changes the shares, one more license is paid. Then every
figure is reconciled against the chain to the unit, and the story, a table, a JSON file and a
chart land in demo-output/. A short run of a root-mode union follows (scripts/demo_roots.py,
skipped with `--no-roots`). Exits 0 only if everything reconciles.

`--serve` keeps the chain and the relayer running afterwards (`make serve`).
"""

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from typing import Any

from eth_utils import keccak
from tqdm import tqdm
from web3 import Web3

from relayer.attribution import verify_report
from relayer.claims import claim_document
from relayer.contributions import consent_document, deletion_document
from relayer.schemas import ClaimIn, ContributionIn
from scripts import demo_people as cast
from scripts import demo_report
from scripts.demo_services import (
    Anvil,
    DemoError,
    Relayer,
    attach_brownie,
    free_ports,
    port_is_free,
    upgrade_database,
)
from scripts.demo_wallets import Wallet, contracts
from scripts.helpers import ROOT, say, units

MAX_UINT = 2**256 - 1
FEE_BPS = 500
MARKER = ".demo-output"


class Demo:
    #: The kind of union scripts/deploy.py deploys for this story.
    KIND = "push"

    def __init__(self, w3: Web3, anvil: Anvil, output: Path) -> None:
        self.w3 = w3
        self.anvil = anvil
        self.output = output
        self.operator = Wallet("Operator", "admin and pauser", w3)
        self.relayer_key = Wallet("Relayer", "attester", w3)
        self.treasury = Wallet("Treasury", "fee recipient", w3)
        self.members = {p.name: Wallet(p.name, p.data_type, w3) for p in cast.MEMBERS}
        self.buyers = {name: Wallet(name, "buyer", w3) for name in cast.BUYERS}
        self.profiles = {p.name: p for p in cast.MEMBERS}
        self.deposits: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self.ideal = {name: Fraction(0) for name in self.members}
        self.step = 0

    # -- the story ---------------------------------------------------------------------------------

    def chapter(self, title: str) -> None:
        self.step += 1
        say()
        say(f"{self.step}. {title}")

    def setup(self) -> None:
        self.chapter("Fresh keys for everyone, each funded with 10 ETH for gas on the local chain")
        for wallet in self.everyone():
            self.anvil.rpc("anvil_setBalance", wallet.address, hex(cast.FUNDING))
        say(f"   operator {self.operator.address}, relayer {self.relayer_key.address},")
        say(f"   treasury {self.treasury.address}, {len(self.members)} members, 3 buyers")

    def everyone(self) -> list[Wallet]:
        fixed = [self.operator, self.relayer_key, self.treasury]
        return [*fixed, *self.members.values(), *self.buyers.values()]

    def deploy(self) -> None:
        from brownie import accounts

        from scripts import deploy

        self.chapter("The operator deploys the union with scripts/deploy.py")
        deployer = accounts.add(self.operator.account.key.hex())
        config = {
            "admin": self.operator.address,
            "attester": self.relayer_key.address,
            "pauser": self.operator.address,
            "fee_recipient": self.treasury.address,
            "fee_bps": FEE_BPS,
            "fee_delay": 2 * 24 * 3600,
            "kind": self.KIND,
        }
        path = self.output / "deployment.json"
        self.record = deploy.deploy(deploy.plan(config, deployer), deployer, path)
        self.union, self.token = contracts(self.w3, self.record)
        self.deployment_path = path

    def start_relayer(self, port: int) -> Relayer:
        self.chapter("The relayer starts (SQLite)")
        self.operator_token = secrets.token_urlsafe(32)
        environment = {
            "RELAYER_RPC_URL": self.anvil.url,
            "RELAYER_CHAIN_ID": str(self.record["chainId"]),
            "RELAYER_DEPLOYMENT_FILE": str(self.deployment_path),
            "RELAYER_DATABASE_URL": f"sqlite:///{self.output / 'relayer.db'}",
            "RELAYER_PRIVATE_KEY": self.relayer_key.account.key.hex(),
            "RELAYER_OPERATOR_TOKEN": self.operator_token,
            # A local chain mines one block per transaction and then stands still: nothing would
            # ever bury a receipt. Real networks keep the default depth.
            "RELAYER_CONFIRMATIONS": "0",
            "RELAYER_BATCH_SIZE": "5",
            "RELAYER_POLL_INTERVAL": "0.1",
            # Offered by the member page to a wallet that does not know the local chain yet.
            "RELAYER_PUBLIC_RPC_URL": self.anvil.url,
            "RELAYER_CHAIN_NAME": "Data union demo (local anvil)",
        }
        for line in upgrade_database(environment):
            say(f"   relayer db upgrade: {line}")
        self.relayer = Relayer(port, environment, self.output / "relayer.log")
        say(f"   relayer at {self.relayer.url} (API docs at {self.relayer.url}/docs)")
        return self.relayer

    def publish_licenses(self) -> None:
        self.chapter("The operator publishes three license offers through the relayer's API")
        for offer in cast.LICENSES:
            body = {
                "id": offer.slug,
                "title": offer.title,
                "terms_hash": "0x" + keccak(text=f"terms of {offer.slug}").hex(),
                "price": offer.price,
            }
            self.relayer.call("POST", "/v1/licenses", 201, json=body, headers=self.auth())
            say(f"   license {offer.slug:<20} {self.amount(offer.price):>17}")

    def amount(self, base_units: int) -> str:
        """An amount of the pool token, in whole tokens with its symbol."""
        return f"{units(base_units, self.record['tokenDecimals'])} {self.record['tokenSymbol']}"

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.operator_token}"}

    def contribute(self, name: str, records: int, label: str) -> None:
        """One contribution, signed by the member (EIP-712 consent), posted by the member."""
        member, profile = self.members[name], self.profiles[name]
        item = ContributionIn(
            member=member.address,
            data_type=profile.data_type,
            records=records,
            quality=profile.quality,  # type: ignore[arg-type]  # pydantic parses the decimal
            uniqueness=profile.uniqueness,  # type: ignore[arg-type]
            content_hash="0x" + keccak(text=f"{name} {label} {secrets.token_hex(16)}").hex(),
        )
        document = consent_document(self.record["chainId"], self.union.address, item)
        body = item.model_dump(mode="json", exclude={"signature"})
        body["signature"] = member.sign_typed(document)
        self.relayer.call("POST", "/v1/contributions", 201, json={"contributions": [body]})

    def first_contributions(self) -> None:
        self.chapter("Twenty members describe their data to the relayer, each signing consent")
        for profile in tqdm(cast.MEMBERS, desc="   contributions", unit="member", file=sys.stdout):
            self.contribute(profile.name, profile.records, "epoch 1")
        say("   (the data itself never leaves the member: only type, volume, quality, a hash)")

    def close_epoch(self) -> None:
        closed = self.relayer.call("POST", "/v1/epochs/close", 202, headers=self.auth())
        number = closed["number"]
        say(f"   epoch {number} closed: report {closed['report_hash'][:18]}…, posting")
        with tqdm(total=closed["batches"], desc="   batches", unit="tx", file=sys.stdout) as bar:
            epoch = closed
            deadline = time.monotonic() + 120
            while epoch["status"] not in ("pending", "failed"):
                if time.monotonic() > deadline:
                    raise DemoError(f"epoch {number} still {epoch['status']} after 120 s")
                time.sleep(0.1)
                epoch = self.relayer.call("GET", f"/v1/epochs/{number}", 200)
                bar.update(epoch["batches_confirmed"] - bar.n)
        if epoch["status"] != "pending":
            raise DemoError(f"epoch {number} failed: {epoch['error']}")
        report = self.relayer.call("GET", f"/v1/epochs/{number}/report", 200, raw=True)
        verified = verify_report(report)
        on_chain = "0x" + self.union.functions.currentReportHash().call().hex()
        mismatched = [
            address
            for address, shares in verified.shares.items()
            if self.union.functions.sharesOf(address).call() != shares
        ]
        say(
            f"   posted in {epoch['batches']} transaction(s); report verified from its bytes "
            f"alone; hash on-chain {'matches' if on_chain == verified.report_hash else 'DIFFERS'}"
        )
        say(
            f"   pending until {epoch['due_at']}: revenue arriving meanwhile is held, and the "
            "guardian can veto the epoch"
        )
        watched = self.watch()
        say(f"   the watcher (only the RPC URL, the union's address, the report route): {watched}")
        delay = int(self.union.functions.ATTRIBUTION_DELAY().call())
        self.anvil.rpc("evm_increaseTime", delay)
        self.anvil.rpc("evm_mine")
        say(f"   anvil's clock moves {delay // 3600} h ahead (evm_increaseTime) instead of waiting")
        deadline = time.monotonic() + 60
        while epoch["status"] == "pending":
            if time.monotonic() > deadline:
                raise DemoError(f"epoch {number} was not finished 60 s after its due time")
            time.sleep(0.1)
            epoch = self.relayer.call("GET", f"/v1/epochs/{number}", 200)
        if epoch["status"] != "finished":
            raise DemoError(f"epoch {number} is {epoch['status']}: {epoch['error']}")
        say(f"   the relayer finished it once due: epoch {number}'s shares are in effect")
        self.epochs.append(
            {
                "number": number,
                "report_hash": verified.report_hash,
                "hash_on_chain": on_chain,
                "members": len(verified.shares),
                "total_shares": sum(verified.shares.values()),
                "shares_differ_on_chain": mismatched,
                "batches": epoch["batches"],
                "watcher": watched,
                "report": report.decode(),
            }
        )

    def watch(self) -> str:
        """`relayer watch --once`, as an outsider runs it: the chain, the union, the reports."""
        command = [
            str(Path(sys.executable).with_name("relayer")),
            "watch",
            "--once",
            *("--rpc-url", self.anvil.url, "--union", self.union.address),
            *("--reports", self.relayer.url, "--status-file", str(self.output / "watch.json")),
        ]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("RELAYER_")}
        done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            return f"ALARM (exit {done.returncode}): {done.stderr.strip()[-400:]}"
        return "the report and the chain agree"

    def pay(self, buyer_name: str, offer: cast.Offer | None, how: str, amount: int) -> None:
        """A buyer pays; the ideal split is computed here from the shares at that moment."""
        buyer = self.buyers[buyer_name]
        self.token_send(buyer, "mint", buyer.address, amount)
        license_id = self.license_id(offer.slug) if offer else b"\x00" * 32
        before = self.token.functions.balanceOf(buyer.address).call()
        shares = self.shares_in_force()
        total = self.union.functions.totalShares().call()
        if how == "permit":
            deadline = self.w3.eth.get_block("latest").timestamp + 3600
            v, r, s = buyer.permit(self.token, self.union.address, amount, deadline)
            call = self.union.functions.depositWithPermit(amount, license_id, deadline, v, r, s)
            buyer.send(call, "depositWithPermit")
        elif how == "approve":
            self.token_send(buyer, "approve", self.union.address, amount)
            buyer.send(self.union.functions.deposit(amount, license_id), "deposit")
        else:
            self.token_send(buyer, "transfer", self.union.address, amount)
            self.operator.send(self.union.functions.sync(), "sync")
        paid = before - self.token.functions.balanceOf(buyer.address).call()
        fee = amount * FEE_BPS // 10_000
        for name, member_shares in shares.items():
            self.ideal[name] += Fraction((amount - fee) * member_shares, total)
        what = f"license {offer.slug}" if offer else "a plain transfer, counted by sync()"
        if offer is None and how != "transfer":
            what = "a license bought outside the catalogue"
        say(f"   {buyer_name:<11} paid {self.amount(paid):>17} for {what} ({how})")
        self.deposits.append(
            {
                "buyer": buyer_name,
                "license": offer.slug if offer else None,
                "method": how,
                "amount": amount,
                "paid": paid,
                "expected_fee": fee,
                "epoch": self.epochs[-1]["number"],
            }
        )

    def shares_in_force(self) -> dict[str, int]:
        return {
            name: self.union.functions.sharesOf(m.address).call()
            for name, m in self.members.items()
        }

    def token_send(self, wallet: Wallet, function: str, *args: Any) -> None:
        wallet.send(getattr(self.token.functions, function)(*args), function)

    def license_id(self, slug: str) -> bytes:
        detail = self.relayer.call("GET", f"/v1/licenses/{slug}", 200)
        return bytes.fromhex(detail["license_id"].removeprefix("0x"))

    def claimable(self, name: str) -> int:
        return int(self.union.functions.claimable(self.members[name].address).call())

    def claim_direct(self, name: str, amount: int | None = None) -> None:
        """A claim sent from the member's own wallet; tells what its Claimed event says."""
        member = self.members[name]
        asked = MAX_UINT if amount is None else amount
        receipt = member.send(self.union.functions.claim(member.address, asked), "claim")
        (claimed,) = self.union.events.Claimed().process_receipt(receipt)
        got = int(claimed.args.amount)
        say(f"   {name:<6} claimed {self.amount(got):>17} from their own wallet")

    def claim_gasless(self, name: str) -> None:
        member = self.members[name]
        amount = self.claimable(name)
        deadline = self.w3.eth.get_block("latest").timestamp + 3600
        nonce = self.union.functions.nonces(member.address).call()
        claim = ClaimIn(
            member=member.address,
            to=member.address,
            amount=amount,
            deadline=deadline,
            signature="0x" + "00" * 65,
        )
        document = claim_document(self.record["chainId"], self.union.address, claim, nonce)
        body = {**claim.model_dump(), "signature": member.sign_typed(document)}
        tx_hash = self.relayer.call("POST", "/v1/claims", 202, json=body)["tx_hash"]
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        if receipt.status != 1:
            raise DemoError(f"the relayed claim {tx_hash} reverted")
        self.gasless_sender = receipt["from"]
        say(
            f"   {name:<6} signed a claim for {self.amount(amount)}; the relayer "
            f"sent it ({tx_hash[:12]}…) and paid the gas"
        )

    def run(self) -> None:
        self.publish_licenses()
        self.first_contributions()
        self.chapter("The operator closes epoch 1: the relayer attributes value and posts shares")
        self.close_epoch()

        self.chapter("Three buyers pay, three ways")
        offers = {offer.slug: offer for offer in cast.LICENSES}
        self.pay("Helix Labs", offers["clinical-notes-2026"], "permit", 12_000 * cast.UNIT)
        self.pay("Shopwise", offers["retail-baskets"], "approve", 7_500 * cast.UNIT)
        self.pay("Cartograph", None, "transfer", cast.PLAIN_TRANSFER)

        self.chapter("Members claim: instantly, any amount, no minimum")
        for name in cast.DIRECT_CLAIMERS:
            self.claim_direct(name)
        self.claim_direct(cast.PARTIAL_CLAIMER, self.claimable(cast.PARTIAL_CLAIMER) // 2)
        self.claim_gasless(cast.GASLESS_CLAIMER)
        leaver = self.members[cast.LEAVER]
        leaver.send(self.union.functions.leave(), "leave")
        say(f"   {cast.LEAVER:<6} left the union: shares 0, earnings stay his")
        self.claim_direct(cast.LEAVER)

        self.chapter(f"{cast.DELETER} asks for deletion of his off-chain data; others add more")
        deleter = self.members[cast.DELETER]
        deadline = int(time.time()) + 600
        document = deletion_document(
            self.record["chainId"], self.union.address, deleter.address, deadline
        )
        body = {"deadline": deadline, "signature": deleter.sign_typed(document)}
        deleted = self.relayer.call("DELETE", f"/v1/members/{deleter.address}/data", 200, json=body)
        say(f"   {deleted['deleted']} contribution record(s) deleted: {deleted['note']}")
        for name, records in cast.SECOND_EPOCH_CONTRIBUTIONS:
            self.contribute(name, records, "epoch 2")
            say(
                f"   {name:<6} contributed {records:,} more {self.profiles[name].data_type} records"
            )

        self.chapter("Epoch 2: shares change (deleted data and the leaver count for nothing)")
        self.close_epoch()
        self.pay("Cartograph", offers["mobility-heatmaps"], "approve", 4_000 * cast.UNIT)
        self.claim_direct(cast.DELETER)
        self.wait_for_index()

    def wait_for_index(self) -> None:
        head = self.w3.eth.block_number
        probe = f"/v1/members/{self.members[cast.DELETER].address}"
        deadline = time.monotonic() + 60
        while (self.relayer.call("GET", probe, 200)["indexed_block"] or 0) < head:
            if time.monotonic() > deadline:
                raise DemoError("the relayer's indexer did not reach the chain head in 60 s")
            time.sleep(0.1)


def buyer_help(demo: Demo) -> None:
    """The buyers' throw-away keys, so a wallet can pay a license as one of them on the page,
    and how to fund another buyer on this chain."""
    say()
    say("Buyer keys for a wallet (local chain only, throw-away), to pay a license on the page:")
    for name, wallet in demo.buyers.items():
        say(f"    {name:<11} {wallet.address} {wallet.account.key.hex()}")
    say("  To fund another buyer on this chain (10 ETH for gas by anvil_setBalance, 1,000")
    say("  mock stablecoins from the mock token's open mint), while it runs (`make serve`):")
    say(
        f"    .venv/bin/python -m scripts.demo_fund 0xTheirAddress --rpc {demo.anvil.url} "
        f"--deployment {demo.deployment_path}"
    )


def serve(demo: Demo) -> None:
    say()
    say("Serving: the chain and the relayer keep running until Ctrl-C.")
    say(f"  chain     {demo.anvil.url} (chain id {demo.w3.eth.chain_id})")
    say(f"  page      {demo.relayer.url}/  (the member page; API docs at {demo.relayer.url}/docs)")
    say(f"  union     {demo.union.address}, token {demo.token.address}")
    say("  member keys for a wallet (local chain only, throw-away):")
    for name, wallet in demo.members.items():
        say(f"    {name:<6} {wallet.address} {wallet.account.key.hex()}")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        if demo.relayer.process.poll() is not None or demo.anvil.process.poll() is not None:
            say("the chain or the relayer stopped")
            break
    say("stopping the chain and the relayer")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "demo-output")
    parser.add_argument(
        "--port", type=int, default=8545, help="anvil's port; 0 = any free port (default 8545)"
    )
    parser.add_argument("--relayer-port", type=int, default=8000, help="0 = any free port")
    parser.add_argument("--serve", action="store_true", help="keep chain and relayer running")
    parser.add_argument(
        "--no-roots", action="store_true", help="skip the short run of a root-mode union"
    )
    return parser.parse_args(argv)


def prepare(output: Path) -> None:
    """Empty `output` for this run, but only if a demo made it: never delete anything else."""
    if output.exists() and any(output.iterdir()) and not (output / MARKER).exists():
        raise SystemExit(f"error: {output} is not empty and is not a demo's output; choose another")
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    (output / MARKER).write_text("made by `make demo`; the next run empties this folder\n")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    # A stop request unwinds like an error: the chain and the relayer are stopped either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    spare = iter(free_ports(3))
    ports = []
    for port in (args.port, args.relayer_port):
        if port and not port_is_free(port):
            raise SystemExit(f"error: port {port} is in use; pass another one (or 0 for any)")
        ports.append(port or next(spare))
    prepare(args.output)
    with ExitStack() as running:
        try:
            anvil = Anvil(ports[0], args.output / "anvil.log")
            running.callback(anvil.stop)
            say(f"Local chain (anvil) at {anvil.url}")
            attach_brownie(anvil)
            demo = Demo(Web3(Web3.HTTPProvider(anvil.url)), anvil, args.output)
            demo.setup()
            demo.deploy()
            running.callback(demo.start_relayer(ports[1]).stop)
            demo.run()
        except DemoError as exc:
            say(f"\nThe demo stopped: {exc}")
            return 1
        results = demo_report.reconcile(demo)
        demo_report.publish(demo, results, args.output, time.monotonic() - started)
        if not args.no_roots:
            from scripts import demo_roots  # it builds on Demo: imported once Demo exists

            try:
                roots = demo_roots.run(demo, next(spare))
            except DemoError as exc:
                say(f"\nThe root-mode run stopped: {exc}")
                return 1
            results["ok"] = results["ok"] and roots["ok"]
        buyer_help(demo)
        if args.serve and not results["ok"]:
            say("Not serving: a figure did not reconcile (see the checks above).")
        elif args.serve:
            serve(demo)
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
