"""Soak: three `relayer serve` replicas on one PostgreSQL and one anvil close and post epochs of
2,000 members (batches of 200) while the replica holding the sender role is SIGKILLed at random
points and replaced. Each epoch, once pending, is finished by the sender replica after anvil's
clock is moved past the attribution delay, before the next is closed. After each trial: every
epoch posted and finished, no batch posted twice (one SharesSet per member and epoch, one
AttributionPosted per planned batch), every member's on-chain shares equal to the report, the
signing key's nonces gapless (each nonce from the first to the last used by exactly one mined
transaction, one outbox row, nothing left pending), and no replica ever answered 5xx (all of
them polled throughout).

`make test` runs SOAK_TRIALS=2 trials (two epochs each); `make soak` runs 20. SOAK_SEED replays
a run's kill points (the seed is printed)."""

import os
import random
import threading
import time
from collections import Counter
from functools import partial

import httpx
import pytest
from brownie import web3
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fixtures.replicas import (
    add_members,
    at_once,
    attributions_posted,
    migrated_postgres_url,
    pass_attribution_delay,
    sent_by,
    shares_set,
    wait_for_epoch,
)
from relayer.attribution import verify_report
from relayer.chain import UnionChain, connect
from relayer.db import Database, OutboxTx
from relayer.states import TxPurpose, TxStatus

TRIALS = int(os.environ.get("SOAK_TRIALS", "2"))
MEMBERS = int(os.environ.get("SOAK_MEMBERS", "2000"))
SEED = int(os.environ.get("SOAK_SEED", str(random.randrange(2**32))))
BATCH = 200
REPLICAS = 3
#: Longest a live replica may take to hold the role of a SIGKILLed sender.
TAKEOVER_LIMIT_S = 10.0
POST_TIMEOUT_S = 240


class Watcher:
    """Polls every replica (health, epochs, a member) until stopped, counting answers by
    status; a replica that is down answers nothing, which is not a 5xx."""

    def __init__(self, group, members):
        self.group = group
        self.members = members
        self.codes = Counter()
        self.server_errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        rng = random.Random(0)
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                for replica in list(self.group):
                    for path in (
                        "/v1/health",
                        "/v1/epochs",
                        f"/v1/members/{rng.choice(self.members)}",
                    ):
                        try:
                            response = client.get(replica.url + path)
                        except httpx.TransportError:
                            continue
                        self.codes[response.status_code] += 1
                        if response.status_code >= 500:
                            self.server_errors.append((path, response.status_code, response.text))
                self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


def close_or_none(url, headers):
    """POST /v1/epochs/close, or None from a replica still starting (not listening yet)."""
    try:
        return httpx.post(f"{url}/v1/epochs/close", headers=headers, timeout=120)
    except httpx.TransportError:
        return None


def live(group):
    return [replica for replica in group if replica.alive()]


def current_sender(group, timeout=TAKEOVER_LIMIT_S):
    """The live replica that holds the sender role, waiting for a take-over if need be."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for replica in live(group):
            try:
                if "sender" in replica.health()["roles"]:
                    return replica
            except httpx.TransportError:
                continue
        time.sleep(0.02)
    raise AssertionError(f"no live replica holds the sender role after {timeout} s")


def check_trial(database_url, union, relayer_account, members, epochs, first_block, first_nonce):
    """The chain and the database after a trial's epochs (see the module docstring)."""
    url = epochs["url"]
    numbers = epochs["numbers"]
    setting = shares_set(union, first_block)
    db = Database(database_url)
    try:
        with db.session() as session:
            rows = list(
                session.scalars(
                    select(OutboxTx)
                    .where(OutboxTx.epoch.in_(numbers))
                    .options(selectinload(OutboxTx.attempts))
                    .order_by(OutboxTx.id)
                )
            )
            holding_nonces = list(
                session.scalars(select(OutboxTx).where(OutboxTx.nonce >= first_nonce))
            )
    finally:
        db.dispose()
    for number in numbers:
        epoch = httpx.get(f"{url}/v1/epochs/{number}", timeout=30).json()
        assert epoch["status"] == "finished", epoch
        per_member = Counter(member for member, e, _ in setting if e == number)
        assert set(per_member.values()) == {1}, f"epoch {number}: a member was set twice"
        batches = [
            r
            for r in rows
            if r.epoch == number
            and r.purpose == TxPurpose.ATTRIBUTION
            and r.status != TxStatus.SUPERSEDED
        ]
        assert attributions_posted(union, first_block).count(number) == len(batches)
    report = httpx.get(f"{url}/v1/epochs/{numbers[-1]}/report", timeout=30).content
    expected = verify_report(report).shares
    chain = UnionChain(connect(web3.provider.endpoint_uri, web3.eth.chain_id), union.address)
    onchain = chain.shares_of(members, web3.eth.block_number)
    assert onchain == {member: expected[member] for member in members}

    mined = sent_by(relayer_account, first_block)
    nonces = [nonce for nonce, _, _ in mined]
    assert nonces == list(range(first_nonce, first_nonce + len(mined))), "nonce gap or repeat"
    assert web3.eth.get_transaction_count(relayer_account.address, "pending") == (
        first_nonce + len(mined)
    )
    by_nonce = {row.nonce: row for row in holding_nonces}
    assert sorted(by_nonce) == nonces, "a nonce without exactly one outbox row"
    assert len(holding_nonces) == len(mined)
    for nonce, tx_hash, _ in mined:
        row = by_nonce[nonce]
        assert row.status == TxStatus.CONFIRMED
        assert tx_hash == row.tx_hash


@pytest.mark.soak
def test_replicas_post_every_epoch_once_while_the_sender_is_sigkilled(
    request, replica_processes, operator_headers, union, relayer_account
):
    print(f"\nsoak: {TRIALS} trials of 2 epochs, {MEMBERS} members, SOAK_SEED={SEED}")
    rng = random.Random(SEED)
    database_url = migrated_postgres_url(request)
    members = add_members(database_url, MEMBERS, "soak 0")
    group = replica_processes(database_url, REPLICAS, batch_size=BATCH)
    takeovers, kills = [], 0
    with Watcher(group, members) as watcher:
        for trial in range(TRIALS):
            first_block = web3.eth.block_number + 1
            first_nonce = web3.eth.get_transaction_count(relayer_account.address)
            numbers = []
            for step in range(2):
                if trial or step:  # new data for every member, then for every other one
                    changed = members if step == 0 else members[::2]
                    add_members(
                        database_url,
                        len(changed),
                        f"soak {trial} {step}",
                        records=lambda i, t=trial: 1 + (i * 7 + t) % 90,
                        members=changed,
                    )
                # Closed by every replica at once: one wins, the others are refused.
                answers = at_once(
                    [partial(close_or_none, r.url, operator_headers) for r in live(group)]
                )
                codes = sorted(a.status_code for a in answers if a is not None)
                assert codes.count(202) == 1, [a.text for a in answers if a is not None]
                assert set(codes) <= {202, 409}, codes
                number = next(a for a in answers if a and a.status_code == 202).json()["number"]
                numbers.append(number)
                for _ in range(rng.randint(1, 2)):
                    time.sleep(rng.uniform(0, 2.5))
                    sender = current_sender(group)
                    sender.kill()
                    kills += 1
                    killed_at = time.monotonic()
                    group.extend(replica_processes(database_url, 1, wait=False, batch_size=BATCH))
                    successor = current_sender(group)
                    takeovers.append(time.monotonic() - killed_at)
                    assert successor is not sender
                wait_for_epoch(current_sender(group).url, number, timeout=POST_TIMEOUT_S)
                # Pending: the sender replica finishes it once the chain's clock is past due,
                # which the next close needs.
                pass_attribution_delay(union)
                wait_for_epoch(
                    current_sender(group).url, number, statuses=("finished",), timeout=60
                )
            check_trial(
                database_url,
                union,
                relayer_account,
                members,
                {"url": current_sender(group).url, "numbers": numbers},
                first_block,
                first_nonce,
            )
            print(
                f"trial {trial + 1}/{TRIALS}: epochs {numbers} posted once and finished,"
                " nonces gapless"
            )
    assert not watcher.server_errors, watcher.server_errors[:5]
    assert watcher.codes[200] > 0
    print(
        f"soak: {kills} SIGKILLs of the sender, take-over "
        f"{min(takeovers):.2f}-{max(takeovers):.2f} s (mean {sum(takeovers) / len(takeovers):.2f}),"
        f" {sum(watcher.codes.values())} polled answers {dict(watcher.codes)}, no 5xx"
    )
