"""The sender as a careful wallet: a refused send is waited out at the same fee with an alarm
(never re-priced), every wait has a deadline, legacy transactions on chains without EIP-1559,
and a posting started through the API that outlives node failures, or shows why it stopped.
Against the real chain, with a loopback JSON-RPC fault proxy in front of it where a fault is
needed."""

import signal
import subprocess
import threading
import time
from pathlib import Path

import brownie
import pytest
from web3 import Web3

from fixtures.accounts import local_account
from fixtures.evm import CHAIN_ID, KEYS, Wallet
from fixtures.outbox import assert_shares, chain_nonce, outbox_rows, plan_epoch, three_batches
from fixtures.postgres import free_loopback_port
from fixtures.relayer import ATTESTER_ROLE, relayer_settings
from fixtures.union import grant_delayed_role
from relayer import alarms, epochs
from relayer.context import Context
from relayer.outbox import NotConfirmed
from relayer.settings import Settings

ANVIL = str(Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "anvil")


def context_for(union, account, database_url, operator_token, **overrides):
    return Context.from_settings(
        relayer_settings(union, account, database_url, operator_token, **overrides)
    )


def mined(tx_hash):
    return brownie.web3.eth.get_transaction(tx_hash)


def test_refused_send_is_never_repriced_raises_an_alarm_and_goes_out_at_its_fee_once_funded(
    union, admin, database_url, operator_token, caplog
):
    poor = local_account("unfunded attester")
    grant_delayed_role(union, ATTESTER_ROLE, poor, admin)
    context = context_for(
        union,
        poor,
        database_url,
        operator_token,
        tx_timeout=0.3,
        send_backoff_max=0.4,
    )
    batch = three_batches()[0]
    plan_epoch(context, 1, [batch], finish=False)
    finished = []
    worker = threading.Thread(target=lambda: finished.extend(context.outbox.process()))
    worker.start()
    try:
        time.sleep(4)  # ten re-price timeouts: the old sender had raised its fee ~10 times
        [row] = outbox_rows(context)
        refused_attempts = len(row.attempts)
        alarm = context.outbox.alarm
        status = alarms.status(context).keys
        admin.transfer(poor, "1 ether")
    finally:
        worker.join(15)
    assert not worker.is_alive()
    [row] = outbox_rows(context)
    context.close()

    assert refused_attempts == 1
    assert alarm is not None
    assert "insufficient funds" in alarm.message.lower()
    assert status[0].send_refused == alarm.message
    assert any(
        r.levelname == "ERROR" and "ALARM attester" in r.getMessage() for r in caplog.records
    )
    assert row.status == "confirmed"
    assert [a.tx_hash for a in row.attempts] == [row.tx_hash]
    assert mined(row.tx_hash)["maxFeePerGas"] == row.attempts[0].max_fee_per_gas
    assert context.outbox.alarm is None  # cleared when the node took it
    assert_shares(union, [batch])


def test_waiting_for_confirmations_on_a_chain_that_mines_only_on_transactions_has_a_deadline(
    union, relayer_account, database_url, operator_token
):
    context = context_for(
        union, relayer_account, database_url, operator_token, confirmations=2, confirm_timeout=1
    )
    plan_epoch(context, 1, three_batches()[:1], finish=False)

    started = time.monotonic()
    with pytest.raises(NotConfirmed, match="not mined and buried under 2 block"):
        context.outbox.process()
    waited = time.monotonic() - started

    [row] = outbox_rows(context)
    assert waited < 5
    assert row.status == "sent"  # in flight, not given up
    brownie.web3.provider.make_request("evm_mine", [])
    brownie.web3.provider.make_request("evm_mine", [])
    [done] = context.outbox.process()
    context.close()
    assert done.status == "confirmed"


def test_legacy_setting_sends_type_0_transactions_with_a_gas_price(
    union, relayer_account, database_url, operator_token
):
    context = context_for(union, relayer_account, database_url, operator_token, tx_type="legacy")
    batch = three_batches()[0]
    plan_epoch(context, 1, [batch], finish=False)

    [done] = context.outbox.process()

    [row] = outbox_rows(context)
    context.close()
    tx = mined(done.tx_hash)
    assert done.status == "confirmed"
    assert tx["type"] == 0
    assert tx["gasPrice"] == row.attempts[0].max_fee_per_gas
    assert "maxFeePerGas" not in tx
    assert_shares(union, [batch])


def test_chain_whose_blocks_have_no_base_fee_gets_legacy_transactions_by_itself(
    union, relayer_account, database_url, operator_token, fault_proxy
):
    fault_proxy.strip_base_fee = True
    context = context_for(
        union, relayer_account, database_url, operator_token, rpc_url=fault_proxy.url
    )
    plan_epoch(context, 1, three_batches()[:1], finish=False)

    [done] = context.outbox.process()
    context.close()

    assert done.status == "confirmed"
    assert mined(done.tx_hash)["type"] == 0


def test_replacement_of_a_legacy_transaction_raises_its_gas_price(
    union, relayer_account, database_url, operator_token, mining
):
    context = context_for(
        union, relayer_account, database_url, operator_token, tx_type="legacy", tx_timeout=0.2
    )
    plan_epoch(context, 1, three_batches()[:1], finish=False)
    sent, repriced = threading.Event(), threading.Event()
    mining(False)

    def on_stage(stage, _row):
        {"sent": sent, "repriced": repriced}.get(stage, threading.Event()).set()

    worker = threading.Thread(target=lambda: context.outbox.process(on_stage=on_stage))
    worker.start()
    try:
        assert sent.wait(10)
        time.sleep(0.1)
        [row] = outbox_rows(context)
        brownie.web3.provider.make_request("anvil_dropTransaction", [row.tx_hash])
        brownie.web3.provider.make_request("evm_mine", [])
        assert repriced.wait(10)
        brownie.web3.provider.make_request("evm_mine", [])
    finally:
        worker.join(10)
    [row] = outbox_rows(context)
    context.close()

    assert row.status == "confirmed"
    first, second = row.attempts[:2]
    assert second.max_fee_per_gas >= first.max_fee_per_gas * 120 // 100
    assert mined(row.tx_hash)["type"] == 0


def _after_first_send(proxy, fault, seconds, also=None):
    """Switch the proxy to `fault` once the first transaction went through, for `seconds`."""

    def flip():
        deadline = time.monotonic() + 30
        while "eth_sendRawTransaction" not in proxy.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        proxy.mode = fault
        if also is not None:
            also()
        time.sleep(seconds)
        proxy.mode = "pass"

    thread = threading.Thread(target=flip)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("fault", "what"),
    [("503", "the node answers 503 for 10 s"), ("drop", "the node is gone 5 s and loses its pool")],
)
def test_background_posting_outlives_node_failures_and_completes_by_itself(
    fault, what, union, relayer_account, database_url, operator_token, fault_proxy, mining
):
    context = context_for(
        union, relayer_account, database_url, operator_token, rpc_url=fault_proxy.url
    )
    batches = three_batches()
    plan_epoch(context, 1, batches, finish=False)
    first_nonce = chain_nonce(relayer_account)
    lost_pool = None
    if fault == "drop":
        mining(False)

        def lost_pool():
            # What a restarted anvil loses: its pool. The chain carries on making blocks.
            brownie.web3.provider.make_request("anvil_dropAllTransactions", [])
            brownie.web3.provider.make_request("evm_setAutomine", [True])

    flipper = _after_first_send(fault_proxy, fault, 10 if fault == "503" else 5, lost_pool)
    started = time.monotonic()
    epochs.post_in_background(
        context.db, context.outbox, 1, retry_seconds=context.settings.post_retry_seconds
    )
    took = time.monotonic() - started
    flipper.join(30)

    with context.db.session() as session:
        described = epochs.describe(session, 1)
    context.close()
    assert fault_proxy.faults > 0, what
    assert described.status == "pending", (what, described.error)  # every batch in
    assert described.error is None
    assert [tx.nonce for tx in described.transactions] == list(range(first_nonce, first_nonce + 3))
    assert chain_nonce(relayer_account) == first_nonce + 3
    assert_shares(union, batches)
    assert took < 60


def test_background_posting_that_gives_up_shows_the_error_on_the_epoch(
    union, relayer_account, database_url, operator_token, fault_proxy, operator_headers
):
    from fastapi.testclient import TestClient

    from relayer.api.app import create_app

    context = context_for(
        union,
        relayer_account,
        database_url,
        operator_token,
        rpc_url=fault_proxy.url,
        post_retry_seconds=2,
    )
    plan_epoch(context, 1, three_batches()[:1], finish=False)
    with TestClient(create_app(context)) as api:
        fault_proxy.mode = "503"
        # TestClient runs the background task before it returns the answer.
        assert api.post("/v1/epochs/1/post", headers=operator_headers).status_code == 202
        described = api.get("/v1/epochs/1").json()
        fault_proxy.mode = "pass"
        assert api.post("/v1/epochs/1/post", headers=operator_headers).status_code == 202
        resumed = api.get("/v1/epochs/1").json()
    context.close()

    assert described["status"] == "posting"
    assert described["error"].startswith("posting stopped after")
    assert "post the epoch again" in described["error"]
    assert fault_proxy.url not in described["error"]
    assert (resumed["status"], resumed["error"]) == ("pending", None)


def test_low_key_balance_raises_an_alarm_in_the_log_and_the_status_route(
    union, relayer_account, database_url, operator_token, caplog
):
    from fastapi.testclient import TestClient

    from relayer.api.app import create_app

    context = context_for(
        union, relayer_account, database_url, operator_token, attester_alarm_balance="1000000"
    )
    with TestClient(create_app(context)) as api:
        status = api.get("/v1/status").json()
    context.close()

    balance = brownie.web3.eth.get_balance(relayer_account.address)
    assert status["ok"] is False
    [key] = status["keys"]
    assert key == {
        "role": "attester+claims",
        "address": relayer_account.address,
        "balance": str(balance),
        "alarm_below": str(Web3.to_wei(1_000_000, "ether")),
        "low_balance": True,
        "send_refused": None,
    }
    assert any(
        r.levelname == "ERROR"
        and f"ALARM attester+claims key {relayer_account.address}" in r.getMessage()
        for r in caplog.records
    )


def test_funded_keys_raise_no_alarm(api):
    status = api.get("/v1/status").json()

    assert (status["ok"], status["alarms"]) == (True, [])
    assert status["keys"][0]["low_balance"] is False


class OwnAnvil:
    """An anvil of the test's own on a free port, keeping its chain in `state` across restarts
    (`--state`: loaded at start, written when it stops)."""

    def __init__(self, state):
        self.state = state
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [ANVIL, "--quiet", "--port", str(self.port), "--state", str(self.state)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 5}))
        deadline = time.monotonic() + 20
        while not w3.is_connected():
            assert time.monotonic() < deadline, "anvil did not start"
            time.sleep(0.05)
        return w3

    def stop(self):
        self.process.send_signal(signal.SIGINT)  # a clean stop writes the state file
        self.process.wait(20)


def test_background_posting_outlives_a_node_restarted_from_its_saved_state(
    tmp_path, database_url, operator_token
):
    node = OwnAnvil(tmp_path / "anvil-state.json")
    w3 = node.start()
    try:
        admin, relayer = Wallet(w3, KEYS[0]), Wallet(w3, KEYS[1])
        token = admin.deploy("MockStablecoin")
        union = admin.deploy_union(token, relayer)
        context = Context.from_settings(
            Settings(
                rpc_url=node.url,
                chain_id=CHAIN_ID,
                contract_address=union.address,
                database_url=database_url,
                private_key=KEYS[1],
                operator_token=operator_token,
                confirmations=0,
                poll_interval=0.05,
                tx_timeout=5,
                read_cache_seconds=0,
            )
        )
        batches = three_batches()
        plan_epoch(context, 1, batches, finish=False)
        restarted = []

        def restart_after_the_first_batch():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                rows = outbox_rows(context)
                if rows and rows[0].status == "confirmed":
                    break
                time.sleep(0.01)
            node.stop()
            time.sleep(2)
            node.start()
            restarted.append([row.status for row in outbox_rows(context)])

        restarter = threading.Thread(target=restart_after_the_first_batch)
        restarter.start()
        epochs.post_in_background(context.db, context.outbox, 1, retry_seconds=60)
        restarter.join(30)
        with context.db.session() as session:
            described = epochs.describe(session, 1)
        context.close()

        # The node went away with the first batch mined and the rest still to come.
        [statuses] = restarted
        assert statuses[0] == "confirmed"
        assert statuses != ["confirmed"] * 3
        assert described.status == "pending", described.error
        assert [tx.nonce for tx in described.transactions] == [0, 1, 2]
        assert w3.eth.get_transaction_count(relayer.address) == 3
        for batch in batches:
            for member_address, shares in batch.items():
                assert union.functions.sharesOf(member_address).call() == shares
    finally:
        node.stop()
