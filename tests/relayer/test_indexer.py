"""The indexer stores every followed event exactly once, with its block time, only once it is
buried under the confirmation depth, and picks up where it stopped after a restart or a crash."""

import threading
import time
from datetime import UTC, datetime

import pytest
from brownie import chain
from sqlalchemy import select

from fixtures.api import make_indexer
from fixtures.union import LICENSE, MAX_UINT, pay, post, report_hash_for
from relayer import indexer as indexer_module
from relayer.db import ChainEvent, Database

AMOUNT = 1_000_000
FEE = 50_000  # 5%


def stored(context):
    with context.db.session() as session:
        return list(
            session.scalars(
                select(ChainEvent).order_by(ChainEvent.block_number, ChainEvent.log_index)
            )
        )


#: The columns that hold an event's values; each event fills its own and leaves the rest NULL.
VALUE_COLUMNS = (
    "account",
    "epoch",
    "amount",
    "fee",
    "recipient",
    "shares",
    "total_shares",
    "report_hash",
    "members",
    "license_id",
)


def values(row):
    """The row's value columns that are set."""
    return {c: getattr(row, c) for c in VALUE_COLUMNS if getattr(row, c) is not None}


def block_time(tx):
    return datetime.fromtimestamp(tx.timestamp, UTC)


#: What `post` (one batch, finished) and `pay` leave in the index, in chain order.
POSTED_AND_PAID = ["SharesSet", "AttributionPosted", "AttributionFinished", "RevenueDeposited"]


def test_each_followed_event_is_stored_once_with_its_columns(
    context, union, stablecoin, attester, buyer, alice, bob, rando
):
    posted = post(union, attester, 1, {alice: 300, bob: 100})
    deposit = pay(stablecoin, union, buyer, AMOUNT)
    claim = union.claim(rando, MAX_UINT, {"from": alice})  # paid to another address
    leave = union.leave({"from": bob})

    count = make_indexer(context).run_once()

    rows = stored(context)
    assert count == len(rows)
    assert [r.name for r in rows] == [
        "SharesSet",
        "SharesSet",
        "AttributionPosted",
        "AttributionFinished",
        "RevenueDeposited",
        "Claimed",
        "SharesSet",
        "MemberLeft",
    ]
    by_tx = {}
    for row in rows:
        by_tx.setdefault(row.tx_hash, []).append(row)

    shares_alice, shares_bob, attribution = by_tx[posted.txid]
    assert values(shares_alice) == {"account": alice.address, "epoch": 1, "shares": "300"}
    assert values(shares_bob) == {"account": bob.address, "epoch": 1, "shares": "100"}
    assert values(attribution) == {
        "epoch": 1,
        "report_hash": "0x" + report_hash_for(1).hex(),
        "members": 2,
        "total_shares": "400",
    }
    assert attribution.block_time == block_time(posted)

    [deposited] = by_tx[deposit.txid]
    assert values(deposited) == {
        "account": buyer.address,
        "amount": str(AMOUNT),
        "fee": str(FEE),
        "license_id": "0x" + LICENSE.hex(),
    }
    assert (deposited.block_number, deposited.log_index) == (
        deposit.block_number,
        deposit.events["RevenueDeposited"].pos[0],
    )
    assert deposited.block_time == block_time(deposit)

    [claimed] = by_tx[claim.txid]
    assert values(claimed) == {
        "account": alice.address,
        "amount": str(claim.return_value),
        "recipient": rando.address,
    }

    zeroed, left = by_tx[leave.txid]
    assert zeroed.name == "SharesSet"
    assert values(zeroed) == {"account": bob.address, "epoch": 1, "shares": "0"}
    assert left.name == "MemberLeft"
    assert values(left) == {"account": bob.address}


def test_running_again_stores_nothing_new(context, union, stablecoin, attester, buyer, alice):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    indexer = make_indexer(context)
    first = indexer.run_once()

    assert first > 0
    assert indexer.run_once() == 0
    assert len(stored(context)) == first
    assert indexer.cursor() == chain.height


@pytest.mark.both_databases
def test_a_restart_resumes_from_the_cursor_without_duplicates(
    context, union, stablecoin, attester, buyer, alice
):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    before = make_indexer(context).run_once()
    second = pay(stablecoin, union, buyer, 2 * AMOUNT)

    reopened = Database(context.settings.database_url)  # a new process on the same database
    try:
        after = make_indexer(context, db=reopened).run_once()
    finally:
        reopened.dispose()

    rows = stored(context)
    assert after == 1
    assert len(rows) == before + 1
    assert rows[-1].tx_hash == second.txid
    assert len({(r.block_number, r.log_index) for r in rows}) == len(rows)


@pytest.mark.both_databases
def test_a_crash_while_storing_a_chunk_stores_none_of_it(
    context, union, stablecoin, attester, buyer, alice, monkeypatch
):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    real_row = indexer_module._row
    calls = []

    def crash_on_third(event, moment):
        calls.append(event)
        if len(calls) == 3:
            raise RuntimeError("killed mid-chunk")
        return real_row(event, moment)

    monkeypatch.setattr(indexer_module, "_row", crash_on_third)
    indexer = make_indexer(context)
    with pytest.raises(RuntimeError, match="killed mid-chunk"):
        indexer.run_once()
    assert stored(context) == []
    assert indexer.cursor() is None

    monkeypatch.setattr(indexer_module, "_row", real_row)
    assert indexer.run_once() == len(POSTED_AND_PAID)
    assert [r.name for r in stored(context)] == POSTED_AND_PAID


@pytest.mark.both_databases
def test_two_indexers_racing_store_each_event_once(
    context, union, stablecoin, attester, buyer, alice, monkeypatch
):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    slow, fast = make_indexer(context), make_indexer(context)
    real_events = context.chain.events

    def overtaken(start, end):
        events = real_events(start, end)
        monkeypatch.setattr(context.chain, "events", real_events)
        fast.run_once()  # stores the same blocks while `slow` holds them in memory
        return events

    monkeypatch.setattr(context.chain, "events", overtaken)

    assert slow.run_once() == 0
    assert [r.name for r in stored(context)] == POSTED_AND_PAID
    assert slow.cursor() == chain.height


def test_events_within_the_confirmation_depth_wait(
    context, union, stablecoin, attester, buyer, alice
):
    post(union, attester, 1, {alice: 1})
    deposit = pay(stablecoin, union, buyer, AMOUNT)
    indexer = make_indexer(context, confirmations=2)

    indexer.run_once()
    assert indexer.cursor() == deposit.block_number - 2
    assert "RevenueDeposited" not in [r.name for r in stored(context)]

    chain.mine(1)
    assert indexer.run_once() == 0
    assert indexer.cursor() == deposit.block_number - 1

    chain.mine(1)
    assert indexer.run_once() == 1
    assert stored(context)[-1].tx_hash == deposit.txid
    assert indexer.cursor() == deposit.block_number


def test_logs_are_read_in_chunks_that_cover_every_block_once(
    context, union, stablecoin, attester, buyer, alice, monkeypatch
):
    post(union, attester, 1, {alice: 1})
    pay(stablecoin, union, buyer, AMOUNT)
    pay(stablecoin, union, buyer, AMOUNT)
    ranges = []
    real_events = context.chain.events

    def spy(start, end):
        ranges.append((start, end))
        return real_events(start, end)

    monkeypatch.setattr(context.chain, "events", spy)
    chunked = make_indexer(context, chunk_blocks=3).run_once()

    assert all(end - start + 1 <= 3 for start, end in ranges)
    assert [start for start, _ in ranges] == [0] + [end + 1 for _, end in ranges[:-1]]
    assert ranges[-1][1] == chain.height
    assert [r.name for r in stored(context)] == [*POSTED_AND_PAID, "RevenueDeposited"]
    assert chunked == len(POSTED_AND_PAID) + 1


def test_blocks_before_the_first_block_are_skipped(
    context, union, stablecoin, attester, buyer, alice
):
    post(union, attester, 1, {alice: 1})
    deposit = pay(stablecoin, union, buyer, AMOUNT)

    make_indexer(context, first_block=deposit.block_number).run_once()

    assert [r.tx_hash for r in stored(context)] == [deposit.txid]


def test_run_follows_the_chain_until_stopped(context, union, stablecoin, attester, buyer, alice):
    post(union, attester, 1, {alice: 1})
    indexer = make_indexer(context)
    stop = threading.Event()
    worker = threading.Thread(target=indexer.run, args=(stop,))
    worker.start()
    try:
        deposit = pay(stablecoin, union, buyer, AMOUNT)
        deadline = time.monotonic() + 10
        while indexer.cursor() != deposit.block_number and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        worker.join(timeout=5)

    assert not worker.is_alive()
    assert stored(context)[-1].tx_hash == deposit.txid
