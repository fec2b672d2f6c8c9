"""Replicas on one database: every replica serves the API, one holds the sender role and one the
indexer role (PostgreSQL advisory locks), a SIGKILLed holder is replaced within seconds, a holder
cut off from the database stops sending at once, `GET /v1/health` says who does what without a
secret, and SQLite refuses a second relayer process with a message that names PostgreSQL."""

import subprocess
import time
from functools import partial

import httpx
import pytest
from brownie import web3

from fixtures.epochs import finish_when_due
from fixtures.replicas import (
    RELAYER,
    add_members,
    attributions_posted,
    migrated_postgres_url,
    sent_by,
    shares_set,
    wait_for_epoch,
)
from relayer import epochs
from relayer.context import Context
from relayer.roles import Role
from relayer.states import EpochStatus

#: How fast a replica must take over a SIGKILLed holder's role (poll interval 0.1 s here).
TAKEOVER_LIMIT_S = 5.0


postgres = migrated_postgres_url


def roles_of(replica):
    return set(replica.health()["roles"])


def test_replicas_share_the_roles_and_a_sigkilled_sender_is_replaced_within_seconds(
    request, replica_processes, operator_token, relayer_account
):
    database_url = postgres(request)
    group = replica_processes(database_url, 3)

    deadline = time.monotonic() + 10
    while sum("sender" in roles_of(r) for r in group) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    healths = [replica.health() for replica in group]
    assert [h["roles"].count("sender") for h in healths].count(1) == 1
    assert [h["roles"].count("indexer") for h in healths].count(1) == 1
    sender = next(r for r, h in zip(group, healths, strict=True) if "sender" in h["roles"])
    for health in healths:
        assert (health["status"], health["database"]) == ("ok", "postgresql")
        assert health["holders"]["sender"] == sender.health()["replica"]
        assert abs(health["chain"]["head"] - web3.eth.block_number) <= 1
        text = str(health)
        for secret in (operator_token, relayer_account.private_key[2:], database_url):
            assert secret not in text

    sender.kill()
    killed_at = time.monotonic()
    survivors = [r for r in group if r is not sender]
    while not any("sender" in roles_of(r) for r in survivors):
        assert time.monotonic() - killed_at < TAKEOVER_LIMIT_S, "no replica took over"
        time.sleep(0.02)
    took = time.monotonic() - killed_at
    print(f"\nsender role taken over {took:.2f} s after SIGKILL")
    successor = next(r for r in survivors if "sender" in roles_of(r))
    assert "took the sender role" in successor.log()
    assert all(r.health()["holders"]["sender"] == successor.health()["replica"] for r in survivors)


def test_holder_cut_off_from_the_database_stops_sending_and_another_takes_over(
    request, settings, postgres_server, relayer_account, union
):
    database_url = postgres(request)
    members = add_members(database_url, 6, "cut off")
    first, second = (
        Context.from_settings(settings.model_copy(update={"database_url": database_url}))
        for _ in range(2)
    )
    try:
        with first.db.session() as session:
            planned = settings.model_copy(update={"batch_size": 2})
            epochs.close(session, first.chain, first.outbox, planned, post=True)
        assert first.roles.try_acquire(Role.SENDER)
        assert not second.roles.try_acquire(Role.SENDER)
        first_block = web3.eth.block_number + 1
        key = first.roles.keys[Role.SENDER]
        unsigned = key & (2**64 - 1)

        def cut_after_the_first_batch(_row):
            # As a network cut or a server restart would: the server ends the lock's session.
            with postgres_server.connect(database_url.rsplit("/", 1)[1]) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid::bigint = %s AND objid::bigint = %s",
                    (unsigned >> 32, unsigned & 0xFFFFFFFF),
                )

        epochs.send(
            first.db,
            first.outbox,
            progress=cut_after_the_first_batch,
            fence=partial(first.roles.holds, Role.SENDER),
        )

        assert len(sent_by(relayer_account, first_block)) == 1
        assert not first.roles.held(Role.SENDER)
        assert second.roles.try_acquire(Role.SENDER)
        epochs.send(second.db, second.outbox, fence=partial(second.roles.holds, Role.SENDER))
        with second.db.session() as session:
            posted = epochs.describe(session, 1)
        assert posted.status == EpochStatus.PENDING
        assert sorted(m for m, _, _ in shares_set(union, first_block)) == sorted(members)
        assert attributions_posted(union, first_block) == [1, 1, 1]
        # The new holder also finishes it once due: three batches and the finish, nonces gapless.
        finish_when_due(second, 1)
        nonces = [nonce for nonce, _, _ in sent_by(relayer_account, first_block)]
        assert nonces == list(range(nonces[0], nonces[0] + 4))
    finally:
        first.close()
        second.close()


def test_epoch_closed_on_a_replica_without_the_sender_role_is_sent_by_the_one_with_it(
    request, replicas, operator_headers, union
):
    database_url = postgres(request)
    add_members(database_url, 30, "handed over")
    group = replicas(2, database_url=database_url)
    deadline = time.monotonic() + 10
    while not any(s.context.roles.held(Role.SENDER) for s in group):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    other = next(s for s in group if not s.context.roles.held(Role.SENDER))

    closed = httpx.post(f"{other.url}/v1/epochs/close", headers=operator_headers, timeout=60)

    assert closed.status_code == 202, closed.text
    assert closed.json()["status"] == "posting"
    wait_for_epoch(other.url, 1)
    assert not other.context.roles.held(Role.SENDER)
    assert union.currentEpoch() == 1


@pytest.mark.both_databases
def test_health_says_the_backend_the_head_and_the_roles_held(api, context, database_url):
    before = api.get("/v1/health")
    assert before.status_code == 200, before.text
    assert before.json()["roles"] == []
    assert before.json()["database"] == database_url.split(":")[0].split("+")[0]

    assert context.roles.try_acquire(Role.SENDER)
    health = api.get("/v1/health").json()

    assert health["roles"] == ["sender"]
    assert health["holders"]["sender"] == health["replica"]
    assert health["chain"] == {"chain_id": web3.eth.chain_id, "head": web3.eth.block_number}
    assert health["status"] == "ok"


def test_sqlite_refuses_a_second_relayer_process_and_names_postgresql(replica_processes, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'relayer.db'}"
    (first,) = replica_processes(database_url, 1)
    assert first.health()["database"] == "sqlite"
    assert set(first.health()["roles"]) == {"sender", "indexer"}

    for command in (["serve", "--port", "0"], ["epoch", "close"], ["index", "--once"]):
        second = subprocess.run(
            [str(RELAYER), *command],
            env=first.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 2, second.stderr
        assert f"is in use by another relayer process (pid {first.process.pid})" in second.stderr
        assert "use PostgreSQL" in second.stderr

    first.kill()  # the kernel drops a dead process's lock
    (replacement,) = replica_processes(database_url, 1)
    assert set(replacement.health()["roles"]) == {"sender", "indexer"}


def test_cli_close_follows_the_replica_that_holds_the_sender_role(
    request, replica_processes, operator_token, union
):
    database_url = postgres(request)
    add_members(database_url, 40, "cli follows")
    (serving,) = replica_processes(database_url, 1)
    deadline = time.monotonic() + 10
    while "sender" not in roles_of(serving):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    done = subprocess.run(
        [str(RELAYER), "epoch", "close"],
        env=serving.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "another replica holds the sender role" in done.stderr
    assert '"status": "pending"' in done.stdout
    assert union.currentEpoch() == 1
