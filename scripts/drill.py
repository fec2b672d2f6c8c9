"""The stolen-key drill, end to end on a throw-away anvil chain:

1. an honest epoch: the relayer posts it, the watcher checks it, it waits out its delay and the
   relayer finishes it; a buyer pays;
2. a thief with the relayer's attester key posts epoch 2 giving itself 99% of the shares and
   tries to finish it at once: refused with the contract's named error;
3. buyers keep paying: the revenue is held, split by nobody's table yet;
4. the watcher — started with only the RPC URL, the union's address and the relayer's report
   route, and the guardian's key — finds the mismatch within one poll and vetoes;
5. the admin rotates the attester (scheduled, executed after the delay); the relayer restarts
   on its new key, and its next epoch re-posts the table (the thief's shares set to 0);
6. after its delay the relayer finishes it, a buyer pays again, and every member's earnings are
   the honest pro-rata split of every payment (within the contract's rounding); the thief can
   claim 0.

    python -m scripts.drill [--port 0] [--output drill-output]      # or: make drill

Exits 0 only if every check holds; writes drill-output/summary.json and the logs.
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError

from relayer import migrate
from relayer.chain import UnionChain
from relayer.context import Context
from relayer.service import Service
from relayer.settings import Settings
from scripts.demo_services import Anvil, free_ports
from scripts.helpers import ROOT

TOKEN = 10**6  # the mock stablecoin's 6 decimals
FEE_BPS, FEE_DELAY, DELAY = 500, 2 * 24 * 3600, 3600
ATTESTER_ROLE = Web3.keccak(text="ATTESTER_ROLE")
GUARDIAN_ROLE = Web3.keccak(text="GUARDIAN_ROLE")
POLL_SECONDS = 1.0
WAIT_SECONDS = 30.0
MEMBERS = {"amara": ("health", 300), "bruno": ("financial", 120), "chen": ("location", 500)}
RELAYER = Path(sys.executable).with_name("relayer")


class DrillError(RuntimeError):
    pass


def key(label: str) -> LocalAccount:
    """A throw-away key for one of the drill's actors, made for this run only."""
    account: LocalAccount = Account.from_key(keccak(text=f"drill {label} {secrets.token_hex(8)}"))
    return account


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DrillError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Drill:
    def __init__(self, anvil: Anvil, output: Path) -> None:
        self.anvil = anvil
        self.output = output
        self.w3 = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))
        self.people = {
            name: key(name)
            for name in ("admin", "guardian", "treasury", "relayer", "relayer-2", "thief", "buyer")
        }
        self.people.update({name: key(name) for name in MEMBERS})
        for account in self.people.values():
            anvil.rpc("anvil_setBalance", account.address, hex(10**20))
        self.checks: list[dict[str, Any]] = []
        self.facts: dict[str, Any] = {}
        self.deposits: list[tuple[int, dict[str, int]]] = []  # (net, table that splits it)
        self.token_symbol = "mUSD"
        self.operator_token = secrets.token_hex(24)
        self.service: Service | None = None
        self.watcher: subprocess.Popen[bytes] | None = None

    # ---------------------------------------------------------------------------------------------
    # Plumbing
    # ---------------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(text, flush=True)

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        self.checks.append({"check": what, "ok": bool(ok), "detail": detail})
        self.say(f"   {'✓' if ok else '✗'} {what}{f' ({detail})' if detail else ''}")

    def send(self, who: str, call: Any) -> Any:
        account = self.people[who]
        tx = call.build_transaction(
            {
                "from": account.address,
                "nonce": self.w3.eth.get_transaction_count(account.address, "pending"),
                "gasPrice": 0,
                "chainId": self.w3.eth.chain_id,
            }
        )
        signed = account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=WAIT_SECONDS)
        if receipt["status"] != 1:
            raise DrillError(f"{who}'s {call.fn_name} reverted")
        return receipt

    def refusal(self, who: str, call: Any) -> str | None:
        """The custom error the union answers `call` from `who` with, or None if it would pass."""
        try:
            call.call({"from": self.people[who].address})
        except (ContractCustomError, ContractLogicError) as exc:
            decoded = self.chain.decode_error(exc.data if isinstance(exc.data, str) else None)
            return str(decoded) if decoded else str(exc)
        return None

    def travel(self, seconds: int) -> None:
        """Move anvil's clock instead of waiting."""
        self.anvil.rpc("evm_increaseTime", seconds)
        self.anvil.rpc("evm_mine")

    def deploy(self, name: str, *args: Any) -> Contract:
        artifact = json.loads((ROOT / "build" / "contracts" / f"{name}.json").read_text())
        bytecode = artifact["bytecode"]
        bytecode = bytecode if bytecode.startswith("0x") else "0x" + bytecode
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=bytecode)
        receipt = self.send("admin", factory.constructor(*args))
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self.service is not None
        headers = {"Authorization": f"Bearer {self.operator_token}"}
        response = httpx.request(
            method, self.service.url + path, headers=headers, timeout=60, **kwargs
        )
        if response.status_code >= 400:
            raise DrillError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def start_relayer(self, key_name: str, port: int) -> None:
        database_url = f"sqlite:///{self.output / 'relayer.db'}"
        migrate.upgrade(database_url)  # `relayer db upgrade`: nothing to do the second time
        settings = Settings(
            rpc_url=self.anvil.url,
            chain_id=self.w3.eth.chain_id,
            contract_address=self.union.address,
            database_url=database_url,
            private_key="0x" + bytes(self.people[key_name].key).hex(),
            operator_token=self.operator_token,
            confirmations=0,
            poll_interval=0.2,
            tx_timeout=10,
            read_cache_seconds=0,
        )  # type: ignore[call-arg]
        self.service = Service(Context.from_settings(settings), port=port)
        self.service.start()

    def stop_relayer(self) -> None:
        if self.service is not None:
            self.service.shutdown()
            self.service.context.close()
            self.service = None

    def start_watcher(self, relayer_url: str) -> None:
        """`relayer watch` in a process of its own: only the RPC URL, the union, the report
        source and (in its environment) the guardian's key."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYER_")}
        env["RELAYER_WATCH_GUARDIAN_KEY"] = "0x" + bytes(self.people["guardian"].key).hex()
        command = [
            str(RELAYER),
            "watch",
            *("--rpc-url", self.anvil.url, "--union", self.union.address),
            *("--reports", relayer_url, "--poll-interval", str(POLL_SECONDS)),
            *("--status-file", str(self.status_file)),
        ]
        log = (self.output / "watcher.log").open("wb")
        self.watcher = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop_watcher(self) -> None:
        if self.watcher is not None:
            self.watcher.terminate()
            try:
                self.watcher.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.watcher.kill()
                self.watcher.wait(timeout=10)

    @property
    def status_file(self) -> Path:
        return self.output / "watch-status.json"

    def watched(self, epoch: int) -> dict[str, Any] | None:
        try:
            status = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return None
        return next((e for e in status.get("epochs", []) if e["epoch"] == epoch), None)

    def state(self) -> tuple[int, int, int]:
        epoch, state, due_at = self.union.functions.attributionState().call()
        return int(epoch), int(state), int(due_at)

    def epoch_status(self, number: int) -> str:
        return str(self.api("GET", f"/v1/epochs/{number}")["status"])

    def table(self) -> dict[str, int]:
        names = [*MEMBERS, "thief"]
        return {n: int(self.union.functions.sharesOf(self.people[n].address).call()) for n in names}

    def pay(self, amount: int) -> None:
        buyer = self.people["buyer"].address
        self.send("buyer", self.token.functions.mint(buyer, amount))
        self.send("buyer", self.token.functions.approve(self.union.address, amount))
        self.send("buyer", self.union.functions.deposit(amount, b"drill".ljust(32, b"\0")))

    # ---------------------------------------------------------------------------------------------
    # The story
    # ---------------------------------------------------------------------------------------------

    def run(self) -> None:
        (relayer_port,) = free_ports(1)
        p = self.people
        self.say("1. Deploy: attribution delay 1 hour, a guardian of its own.")
        self.token = self.deploy("MockStablecoin")
        self.union = self.deploy(
            "DataUnion",
            self.token.address,
            p["admin"].address,
            p["relayer"].address,
            p["admin"].address,
            p["guardian"].address,
            p["treasury"].address,
            FEE_BPS,
            FEE_DELAY,
            DELAY,
        )
        self.chain = UnionChain(self.w3, self.union.address)
        self.start_relayer("relayer", relayer_port)
        relayer_url = f"http://127.0.0.1:{relayer_port}"
        self.start_watcher(relayer_url)
        self.say(
            f"   union {self.union.address}; watcher on {self.anvil.url}, reports {relayer_url}"
        )

        self.say("2. An honest epoch: posted, checked by the watcher, waits, takes effect.")
        contributions = [
            {
                "member": p[name].address,
                "data_type": data_type,
                "records": records,
                "quality": 1,
                "uniqueness": 0,
                "content_hash": "0x" + keccak(text=f"drill {name}").hex(),
            }
            for name, (data_type, records) in MEMBERS.items()
        ]
        self.api("POST", "/v1/contributions", json={"contributions": contributions})
        self.api("POST", "/v1/epochs/close")
        wait_for("epoch 1 pending", lambda: self.epoch_status(1) == "pending")
        first = wait_for("the watcher's check of epoch 1", lambda: self.watched(1))
        self.check("the watcher finds epoch 1 honest", first["result"] == "ok")
        self.travel(DELAY)
        wait_for("the relayer to finish epoch 1", lambda: self.epoch_status(1) == "finished")
        honest = self.table()
        self.check("epoch 1 is in effect", self.state()[1] == 0 and self.state()[0] == 1)
        self.pay(1_000 * TOKEN)
        self.deposits.append((950 * TOKEN, honest))

        self.say("3. The attester key is stolen: the thief posts itself 99% of the shares.")
        total = sum(honest.values())
        theft = self.union.functions.postAttribution(
            2, keccak(text="nothing to see"), [p["thief"].address], [99 * total]
        )
        stolen_at = time.monotonic()
        self.send("relayer", theft)  # the stolen key is the relayer's own
        refused = self.refusal("thief", self.union.functions.finishAttribution(2))
        self.facts["early_finish_refused_with"] = refused
        self.check(
            "finishing the theft at once is refused",
            bool(refused) and refused.startswith("DataUnionAttributionNotDue(2,"),
            refused or "it was not refused",
        )
        self.say("4. Buyers keep paying: held, not split by the thief's table.")
        before = {n: self.claimable(n) for n in (*MEMBERS, "thief")}
        self.pay(500 * TOKEN)
        after = {n: self.claimable(n) for n in (*MEMBERS, "thief")}
        self.check("the payment made while pending is held", before == after)

        self.say("5. The watcher finds the mismatch and vetoes.")
        vetoed = wait_for("the veto", lambda: self.state()[1] == 2, timeout=10 * POLL_SECONDS)
        self.facts["veto_seconds_after_theft"] = round(time.monotonic() - stolen_at, 2)
        verdict = wait_for("the watcher's verdict on epoch 2", lambda: self.watched(2))
        self.check("epoch 2 is vetoed", bool(vetoed))
        self.check(
            "within one poll of the theft",
            self.facts["veto_seconds_after_theft"] <= 2 * POLL_SECONDS + 1,
            f"{self.facts['veto_seconds_after_theft']} s, polling every {POLL_SECONDS} s",
        )
        self.check(
            "the watcher names why", bool(verdict["problems"]), "; ".join(verdict["problems"])
        )
        self.travel(DELAY)
        refused = self.refusal("thief", self.union.functions.finishAttribution(2))
        self.check("the vetoed epoch can never take effect", refused == "DataUnionEpochVetoed(2)")

        self.say("6. The admin rotates the attester: scheduled, executed after the delay.")
        for account, grant in ((p["relayer-2"].address, True), (p["relayer"].address, False)):
            self.send(
                "admin", self.union.functions.scheduleRoleChange(ATTESTER_ROLE, account, grant)
            )
        self.travel(DELAY)
        for account, grant in ((p["relayer-2"].address, True), (p["relayer"].address, False)):
            self.send(
                "admin", self.union.functions.executeRoleChange(ATTESTER_ROLE, account, grant)
            )
        has_role = self.union.functions.hasRole
        self.check(
            "the stolen key is no attester, the new one is",
            not has_role(ATTESTER_ROLE, p["relayer"].address).call()
            and has_role(ATTESTER_ROLE, p["relayer-2"].address).call(),
        )

        self.say("7. The relayer restarts on its new key; its next epoch re-posts the table.")
        self.stop_relayer()
        self.start_relayer("relayer-2", relayer_port)  # same database, same address
        closed = self.api("POST", "/v1/epochs/close")
        self.check("the next epoch is epoch 3", closed["number"] == 3)
        wait_for("epoch 3 pending", lambda: self.epoch_status(3) == "pending")
        third = wait_for("the watcher's check of epoch 3", lambda: self.watched(3))
        self.check("the watcher finds epoch 3 honest", third["result"] == "ok")
        self.check("the thief's shares are gone from the table", self.table()["thief"] == 0)
        self.travel(DELAY)
        wait_for("the relayer to finish epoch 3", lambda: self.epoch_status(3) == "finished")
        restored = self.table()
        self.check("epoch 3's table is the honest one", restored == honest)
        self.deposits.append((475 * TOKEN, restored))  # the held payment, split by epoch 3
        self.pay(200 * TOKEN)
        self.deposits.append((190 * TOKEN, restored))

        self.say("8. Every member is paid the honest split; the thief can claim nothing.")
        for name in MEMBERS:
            exact = sum(
                Fraction(net * table[name], sum(table.values())) for net, table in self.deposits
            )
            earned = self.claimable(name)
            self.check(
                f"{name} earned the honest pro-rata split",
                0 <= exact - earned < len(self.deposits),
                f"{earned} units, exact {float(exact):.2f}",
            )
            self.send(name, self.union.functions.claim(p[name].address, 2**256 - 1))
        refused = self.refusal("thief", self.union.functions.claim(p["thief"].address, 2**256 - 1))
        self.check(
            "the thief can claim 0",
            self.claimable("thief") == 0 and refused is not None and "NothingToClaim" in refused,
            refused or "",
        )

    def claimable(self, name: str) -> int:
        return int(self.union.functions.claimable(self.people[name].address).call())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="anvil's port (0: a free one)")
    parser.add_argument("--output", type=Path, default=ROOT / "drill-output")
    args = parser.parse_args(argv)
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    for stale in ("relayer.db", "relayer.db-wal", "relayer.db-shm", "watch-status.json"):
        (output / stale).unlink(missing_ok=True)
    port = args.port or free_ports(1)[0]
    anvil = Anvil(port, output / "anvil.log")
    drill = Drill(anvil, output)
    failure = None
    try:
        drill.run()
    except DrillError as exc:
        failure = str(exc)
        drill.say(f"drill failed: {exc}")
    finally:
        drill.stop_watcher()
        drill.stop_relayer()
        anvil.stop()
    ok = failure is None and all(c["ok"] for c in drill.checks)
    summary = {"ok": ok, "failure": failure, "checks": drill.checks, "facts": drill.facts}
    (output / "summary.json").write_text(json.dumps(summary, indent=2))
    drill.say("every check holds" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
