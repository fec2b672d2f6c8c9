"""The outbox sends the relayer's transactions in order with gapless nonces, holds back an epoch
after a revert, survives being killed at any stage without double-posting or skipping a batch,
re-prices stuck transactions, and relays gasless claims. Against the real chain and contract."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import brownie
import pytest

from fixtures.outbox import (
    assert_shares,
    attempt_nonce,
    chain_nonce,
    is_mined,
    mined_from,
    outbox_rows,
    plan_epoch,
    three_batches,
)
from fixtures.relayer import relayer_settings
from fixtures.union import pay, post, sign_claim
from relayer.context import Context
from relayer.errors import ChainError
from relayer.sender import Fees, raised_fees

CRASH_SCRIPT = Path(__file__).with_name("outbox_crash.py")
KILLED = 137


def run_poster(settings, crash_at, pause_mining_at=None):
    """Run the outbox in a subprocess configured like the relayer, killed at `crash_at`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("RELAYER_")}
    env.update(
        RELAYER_RPC_URL=settings.rpc_url,
        RELAYER_CHAIN_ID=str(settings.chain_id),
        RELAYER_CONTRACT_ADDRESS=settings.contract_address,
        RELAYER_DATABASE_URL=settings.database_url,
        RELAYER_PRIVATE_KEY=settings.private_key.get_secret_value(),
        RELAYER_OPERATOR_TOKEN=settings.operator_token.get_secret_value(),
        RELAYER_CONFIRMATIONS=str(settings.confirmations),
        RELAYER_POLL_INTERVAL=str(settings.poll_interval),
        RELAYER_TX_TIMEOUT=str(settings.tx_timeout),
        CRASH_AT=crash_at,
    )
    if pause_mining_at is not None:
        env["PAUSE_MINING_AT"] = pause_mining_at
    return subprocess.run(
        [sys.executable, str(CRASH_SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


def signed_claim(context, union, member_account, amount, signer=None):
    signature, deadline = sign_claim(union, signer or member_account, member_account, amount)
    return context.chain.calldata(
        "claimWithSig", member_account.address, member_account.address, amount, deadline, signature
    )


@pytest.mark.both_databases
def test_batches_of_an_epoch_are_posted_in_order_then_finished(context, union, relayer_account):
    batches = three_batches()
    plan_epoch(context, 1, batches)
    first_nonce = chain_nonce(relayer_account)
    progressed = []

    finished = context.outbox.process(progress=progressed.append)

    rows = outbox_rows(context)
    assert [row.id for row in finished] == [row.id for row in progressed] == [r.id for r in rows]
    assert [row.status for row in rows] == ["confirmed"] * 4
    assert [row.nonce for row in rows] == list(range(first_nonce, first_nonce + 4))
    assert chain_nonce(relayer_account) == first_nonce + 4
    assert_shares(union, batches)
    assert union.currentEpoch() == 1
    assert not union.attributionInProgress()
    for row in rows:
        receipt = brownie.web3.eth.get_transaction_receipt(row.tx_hash)
        assert (row.block_number, row.gas_used) == (receipt["blockNumber"], receipt["gasUsed"])
        assert 0 < row.gas_used <= row.gas
        assert [attempt.tx_hash for attempt in row.attempts] == [row.tx_hash]
    assert [row.block_number for row in rows] == sorted({row.block_number for row in rows})


def test_reverting_batch_fails_with_its_custom_error_and_holds_back_its_epoch(
    context, union, attester, relayer_account, alice
):
    post(union, attester, 5, {alice: 1})  # the union is past epoch 3 already
    plan_epoch(context, 3, three_batches()[:2])
    nonce_before = chain_nonce(relayer_account, "pending")

    finished = context.outbox.process()

    failed, second, finish = outbox_rows(context)
    assert [row.id for row in finished] == [failed.id]
    assert failed.status == "failed"
    assert "DataUnionStaleEpoch(3, 5)" in failed.error
    assert (failed.nonce, failed.attempts) == (None, [])
    for held in (second, finish):
        assert (held.status, held.nonce, held.tx_hash, held.attempts) == ("pending", None, None, [])
    assert chain_nonce(relayer_account, "pending") == nonce_before
    assert context.outbox.process() == []  # and on every later run


def test_failed_epoch_does_not_hold_back_rows_of_another_epoch(
    context, union, attester, relayer_account, alice
):
    post(union, attester, 5, {alice: 1})
    stale, current = three_batches()[:1], three_batches()[1:2]
    plan_epoch(context, 3, stale)
    plan_epoch(context, 6, current)

    finished = context.outbox.process()

    assert [(row.epoch, row.status) for row in finished] == [
        (3, "failed"),
        (6, "confirmed"),
        (6, "confirmed"),
    ]
    assert_shares(union, current)
    assert union.currentEpoch() == 6


@pytest.mark.parametrize("stage", ["signed", "sent"])
def test_poster_killed_mid_epoch_resumes_without_double_posting_or_gaps(
    stage, context, settings, union, relayer_account, mining
):
    batches = three_batches()
    plan_epoch(context, 1, batches)
    first_block = brownie.web3.eth.block_number + 1
    first_nonce = chain_nonce(relayer_account)

    killed = run_poster(
        settings, f"{stage}:2", pause_mining_at="signed" if stage == "sent" else None
    )

    assert killed.returncode == KILLED, killed.stderr
    rows = outbox_rows(context)
    assert [row.status for row in rows] == ["confirmed", stage, "pending", "pending"]
    crashed = rows[1]
    assert crashed.nonce == first_nonce + 1
    assert [attempt.tx_hash for attempt in crashed.attempts] == [crashed.tx_hash]
    assert not is_mined(crashed.tx_hash)
    if stage == "signed":  # recorded, never broadcast
        assert chain_nonce(relayer_account, "pending") == first_nonce + 1
    else:  # broadcast, waiting in the pool when the poster died
        assert chain_nonce(relayer_account, "pending") == first_nonce + 2
        brownie.web3.provider.make_request("evm_mine", [])
        mining(True)

    context.outbox.process()

    rows = outbox_rows(context)
    assert [row.status for row in rows] == ["confirmed"] * 4
    assert [row.nonce for row in rows] == list(range(first_nonce, first_nonce + 4))
    assert chain_nonce(relayer_account) == first_nonce + 4
    assert all(len(row.attempts) == 1 for row in rows)
    assert mined_from(relayer_account, first_block) == [(row.nonce, row.data) for row in rows]
    assert_shares(union, batches)
    assert not union.attributionInProgress()


class Interrupted(Exception):
    """Raised from a stage hook: the row stays as a crash would leave it, without a subprocess."""


def test_row_whose_nonce_another_transaction_used_fails_and_holds_back_its_epoch(
    context, union, relayer_account, admin
):
    plan_epoch(context, 1, three_batches())

    def interrupt(stage, row):
        if (stage, row.batch) == ("signed", 2):
            raise Interrupted

    with pytest.raises(Interrupted):
        context.outbox.process(on_stage=interrupt)
    orphaned_nonce = outbox_rows(context)[1].nonce
    relayer_account.transfer(admin, 0)  # the same key, used elsewhere, takes that nonce

    finished = context.outbox.process()

    rows = outbox_rows(context)
    assert [row.status for row in rows] == ["confirmed", "failed", "pending", "pending"]
    assert [row.id for row in finished] == [rows[1].id]
    assert f"nonce {orphaned_nonce} was used by another transaction" in rows[1].error
    assert not is_mined(rows[1].tx_hash)
    assert chain_nonce(relayer_account, "pending") == orphaned_nonce + 1


def test_stuck_transaction_is_repriced_with_its_nonce_only_while_blocks_come_and_lands_once(
    union, relayer_account, database_url, operator_token, mining
):
    settings = relayer_settings(
        union, relayer_account, database_url, operator_token, tx_timeout=0.3
    )
    context = Context.from_settings(settings)
    batch = three_batches()[0]
    plan_epoch(context, 1, [batch], finish=False)
    sent, repriced = threading.Event(), threading.Event()
    finished = []

    def on_stage(stage, _row):
        {"sent": sent, "repriced": repriced}.get(stage, threading.Event()).set()

    mining(False)
    worker = threading.Thread(
        target=lambda: finished.extend(context.outbox.process(on_stage=on_stage))
    )
    worker.start()
    try:
        assert sent.wait(10)
        # No block for five timeouts: a dearer attempt would not be mined either.
        assert not repriced.wait(1.5), "re-priced on a chain that made no block"
        [row] = outbox_rows(context)
        assert len(row.attempts) == 1
        # The pool loses it and the chain moves on: now the timeout re-prices.
        brownie.web3.provider.make_request("anvil_dropTransaction", [row.tx_hash])
        brownie.web3.provider.make_request("evm_mine", [])
        assert repriced.wait(10), "no re-priced attempt"
        brownie.web3.provider.make_request("evm_mine", [])
    finally:
        worker.join(10)
    assert not worker.is_alive()
    [row] = outbox_rows(context)
    context.close()

    assert [done.id for done in finished] == [row.id]
    assert row.status == "confirmed"
    assert len(row.attempts) >= 2
    assert {attempt_nonce(attempt) for attempt in row.attempts} == {row.nonce}
    for before, after in zip(row.attempts, row.attempts[1:], strict=False):
        assert after.max_fee_per_gas >= before.max_fee_per_gas * 120 // 100
        assert after.max_priority_fee_per_gas >= before.max_priority_fee_per_gas * 120 // 100
    landed = [attempt.tx_hash for attempt in row.attempts if is_mined(attempt.tx_hash)]
    assert landed == [row.tx_hash]
    assert_shares(union, [batch])


def test_replacement_fees_rise_by_the_bump_never_below_market_and_stop_at_the_cap():
    none = Fees(0, 0)
    assert raised_fees(Fees(100, 10), none, 20, 1000) == Fees(120, 12)
    assert raised_fees(Fees(0, 0), none, 20, 1000) == Fees(1, 1)
    assert raised_fees(Fees(100, 10), Fees(500, 50), 20, 1000) == Fees(500, 50)
    assert raised_fees(Fees(900, 10), none, 20, 1000) == Fees(1000, 12)
    assert raised_fees(Fees(1000, 10), none, 20, 1000) is None


def test_submit_relays_a_signed_claim_that_confirms(
    context, union, stablecoin, attester, buyer, alice
):
    post(union, attester, 1, {alice: 100})
    pay(stablecoin, union, buyer, 1_000_000)
    amount = union.claimable(alice)

    tx_hash = context.outbox.submit("claim", signed_claim(context, union, alice, amount))

    [row] = outbox_rows(context)
    assert (row.status, row.tx_hash) == ("sent", tx_hash)
    [done] = context.outbox.confirm_pending()
    assert (done.status, done.tx_hash) == ("confirmed", tx_hash)
    assert stablecoin.balanceOf(alice) == amount


def test_submit_of_a_bad_signature_raises_and_records_nothing(
    context, union, stablecoin, attester, buyer, relayer_account, alice, bob
):
    post(union, attester, 1, {alice: 100})
    pay(stablecoin, union, buyer, 1_000_000)
    forged = signed_claim(context, union, alice, union.claimable(alice), signer=bob)
    nonce_before = chain_nonce(relayer_account, "pending")

    with pytest.raises(ChainError, match="DataUnionInvalidSignature"):
        context.outbox.submit("claim", forged)

    assert outbox_rows(context) == []
    assert chain_nonce(relayer_account, "pending") == nonce_before


@pytest.mark.both_databases
def test_concurrent_submits_take_distinct_consecutive_nonces(
    context, union, stablecoin, attester, buyer, relayer_account, alice, bob, carol
):
    claimants = [alice, bob, carol]
    post(union, attester, 1, dict.fromkeys(claimants, 100))
    pay(stablecoin, union, buyer, 3_000_000)
    claims = [signed_claim(context, union, c, union.claimable(c)) for c in claimants]
    first_nonce = chain_nonce(relayer_account, "pending")
    errors = []

    def submit(data):
        try:
            context.outbox.submit("claim", data)
        except Exception as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(data,)) for data in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert sorted(row.nonce for row in outbox_rows(context)) == [
        first_nonce,
        first_nonce + 1,
        first_nonce + 2,
    ]
    assert [row.status for row in context.outbox.confirm_pending()] == ["confirmed"] * 3
    assert all(union.claimable(c) == 0 for c in claimants)


def test_claim_reverting_on_chain_fails_with_the_replayed_reason(
    context, union, stablecoin, attester, buyer, alice, mining
):
    post(union, attester, 1, {alice: 100})
    pay(stablecoin, union, buyer, 1_000_000)
    data = signed_claim(context, union, alice, union.claimable(alice))
    mining(False)
    first = context.outbox.submit("claim", data)
    second = context.outbox.submit("claim", data)  # same signature: its nonce is used by then
    brownie.web3.provider.make_request("evm_mine", [])

    done = context.outbox.confirm_pending()

    assert [(row.tx_hash, row.status) for row in done] == [
        (first, "confirmed"),
        (second, "failed"),
    ]
    assert "DataUnionInvalidSignature" in done[1].error
    assert done[1].block_number is not None


def test_background_loop_confirms_claims_and_stops_even_with_one_in_flight(
    context, union, stablecoin, attester, buyer, alice, mining
):
    post(union, attester, 1, {alice: 100})
    pay(stablecoin, union, buyer, 1_000_000)
    mining(False)
    context.outbox.submit("claim", signed_claim(context, union, alice, union.claimable(alice)))

    stop = threading.Event()
    loop = threading.Thread(target=context.outbox.run, args=(stop,))
    loop.start()
    time.sleep(0.2)
    stop.set()
    loop.join(2)
    assert not loop.is_alive()
    assert [row.status for row in outbox_rows(context)] == ["sent"]

    brownie.web3.provider.make_request("evm_mine", [])
    stop = threading.Event()
    loop = threading.Thread(target=context.outbox.run, args=(stop,))
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while outbox_rows(context)[0].status == "sent" and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        loop.join(2)
    assert [row.status for row in outbox_rows(context)] == ["confirmed"]
    assert union.claimable(alice) == 0
