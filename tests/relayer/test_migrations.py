"""The database's schema is the migrations': `relayer db upgrade` creates it, recognises and
upgrades a database made before migrations existed with every row kept, refuses what it does not
know; the relayer refuses to run on a database that is behind; and the models never drift from
the head revision. On SQLite and PostgreSQL."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Column, Integer, MetaData, create_engine, text
from sqlalchemy.exc import IntegrityError

from fixtures.cli import RELAYER, relayer_env, run_together
from fixtures.databases import (
    MAX_UINT256,
    MEMBER,
    RECIPIENT,
    REPORT_HASH,
    WHEN,
    dump,
    legacy_rows,
    make_legacy_database,
    schema,
    tx_hash,
)
from fixtures.relayer import relayer_settings
from relayer import migrate
from relayer.cli import main
from relayer.context import Context
from relayer.db import Base, Database, StoredEnum
from relayer.states import TxStatus

ATTRIBUTIONS = ("AttributionPosted", "AttributionFinished")
#: The revision before the chain-event columns.
BEFORE_0003 = "0002_relayed_claims"
#: The chain-event columns revision 0003 adds.
NAMED_COLUMNS = ("fee", "recipient", "shares", "total_shares", "report_hash", "members")


def moved_by_0003(row):
    """A chain_events row of the baseline as revision 0003 must leave it: each value of the
    overloaded `amount`/`extra` in the column of its name (spelled out here independently of
    the revision)."""
    moved = dict(row)
    extra = moved.pop("extra")
    moved.update(dict.fromkeys(NAMED_COLUMNS))
    if row["name"] == "RevenueDeposited":
        moved["fee"] = extra
    elif row["name"] == "SharesSet":
        moved["shares"], moved["amount"] = row["amount"], None
    elif row["name"] in ATTRIBUTIONS:
        moved["total_shares"], moved["report_hash"], moved["amount"] = row["amount"], extra, None
    elif row["name"] == "Claimed":
        moved["recipient"] = extra
    return moved


def events_by_name(tables):
    return {row["name"]: row for row in tables["chain_events"]}


@pytest.fixture
def another_empty_database(backend, request, tmp_path):
    """`make()`: the URL of one more empty database on the test's backend."""
    numbers = iter(range(1_000))
    if backend == "postgresql":
        return request.getfixturevalue("postgres_database_factory")

    def make():
        path = tmp_path / f"another-{next(numbers)}.db"
        path.touch()
        return f"sqlite:///{path}"

    return make


def upgraded(rows):
    """`dump` of a baseline database as the later revisions leave it: 0004_epoch_lifecycle turns
    a posted epoch into a finished one (finished when posted), with no due time."""
    epochs = []
    for row in rows["epochs"]:
        row = dict(row)
        if row["status"] == "posted":
            row.update(status="finished", finished_at=row["posted_at"])
        row.setdefault("due_at", None)
        row.setdefault("finished_at", None)
        epochs.append(row)
    return {**rows, "epochs": epochs}


def revision_of(url):
    return migrate.current(url).revision


def db_command(url, *args):
    """`relayer db …` in-process, configured by RELAYER_DATABASE_URL alone."""
    return CliRunner().invoke(main, ["db", *args], env={"RELAYER_DATABASE_URL": url})


# -------------------------------------------------------------------------------------------------
# The baseline and the head
# -------------------------------------------------------------------------------------------------


@pytest.mark.both_databases
def test_the_baseline_is_the_schema_made_before_migrations_exactly(
    empty_database_url, another_empty_database
):
    legacy_url = another_empty_database()
    make_legacy_database(legacy_url)

    migrate.upgrade(empty_database_url, migrate.BASELINE)

    assert schema(empty_database_url) == schema(legacy_url)


@pytest.mark.both_databases
def test_the_models_equal_the_head_revision(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


@pytest.mark.both_databases
def test_the_model_comparison_notices_a_column_no_revision_adds(database_url):
    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["epochs"].append_column(Column("unmigrated", Integer))
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, drifted)
    finally:
        engine.dispose()
    assert [(d[0], d[2], d[3].name) for d in differences] == [
        ("add_column", "epochs", "unmigrated")
    ]


def test_make_revision_drafts_the_next_revision_from_the_models_in_plain_column_types(
    tmp_path, monkeypatch
):
    copy = tmp_path / "migrations"
    shutil.copytree(Path(migrate.scripts().dir), copy)
    monkeypatch.setattr(migrate, "SCRIPT_LOCATION", str(copy))
    migrate.scripts.cache_clear()
    migrate.revisions.cache_clear()
    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["epochs"].append_column(Column("phase", StoredEnum(TxStatus, 16)))
    head = migrate.head()
    number = f"{migrate.revision_number(head) + 1:04d}"
    try:
        path = migrate.new_revision("epochs get a phase", metadata=drifted)
        assert migrate.head() == number
    finally:
        migrate.scripts.cache_clear()
        migrate.revisions.cache_clear()

    assert path.parent == copy / "versions"
    assert path.name == f"v{number}_epochs_get_a_phase.py"
    draft = path.read_text()
    assert f"down_revision = '{head}'" in draft
    assert "batch_op.add_column(sa.Column('phase', sa.String(length=16), nullable=True))" in draft
    assert "relayer" not in draft


def test_the_revisions_form_one_line_to_a_single_head():
    scripts = migrate.scripts()
    assert scripts.get_heads() == [migrate.head()]
    assert scripts.get_bases() == [migrate.BASELINE]
    for script in scripts.walk_revisions():
        assert not script.is_merge_point, script.revision
        assert not script.is_branch_point, script.revision


# -------------------------------------------------------------------------------------------------
# relayer db upgrade
# -------------------------------------------------------------------------------------------------


@pytest.mark.both_databases
def test_upgrade_creates_the_schema_in_an_empty_database_printing_each_revision(
    empty_database_url,
):
    done = db_command(empty_database_url, "upgrade")

    assert done.exit_code == 0, done.output
    applied = [line for line in done.output.splitlines() if line.startswith("applied ")]
    assert [line.split(":")[0] for line in applied] == [
        f"applied {s.revision}" for s in reversed(list(migrate.scripts().walk_revisions()))
    ]
    assert revision_of(empty_database_url) == migrate.head()
    assert set(dump(empty_database_url)) == set(Base.metadata.tables)


@pytest.mark.both_databases
def test_upgrade_of_a_database_at_the_head_applies_nothing(database_url):
    before = schema(database_url)

    done = db_command(database_url, "upgrade")

    assert done.exit_code == 0, done.output
    assert "nothing to apply" in done.output
    assert schema(database_url) == before


@pytest.mark.both_databases
def test_a_database_made_before_migrations_is_recognised_and_upgraded_with_every_row_intact(
    empty_database_url,
):
    make_legacy_database(empty_database_url, legacy_rows())
    before = dump(empty_database_url)

    done = db_command(empty_database_url, "upgrade")

    assert done.exit_code == 0, done.output
    assert f"stamped {migrate.BASELINE}" in done.output
    assert revision_of(empty_database_url) == migrate.head()
    after = dump(empty_database_url)
    assert all(before.values()), "a table without rows"
    assert {t: after[t] for t in before if t != "chain_events"} == {
        t: rows for t, rows in upgraded(before).items() if t != "chain_events"
    }
    # Tables that revisions after the baseline add start empty.
    assert set(after) == set(Base.metadata.tables)
    assert all(after[table] == [] for table in set(after) - set(before))
    assert after["chain_events"] == [moved_by_0003(row) for row in before["chain_events"]]
    events = events_by_name(after)
    assert (events["RevenueDeposited"]["amount"], events["RevenueDeposited"]["fee"]) == (
        str(MAX_UINT256),
        str(MAX_UINT256 - 1),
    )
    assert events["Claimed"]["recipient"] == RECIPIENT
    assert events["SharesSet"]["shares"] == "700"
    assert events["AttributionPosted"]["report_hash"] == REPORT_HASH


@pytest.mark.both_databases
def test_revision_0003_moves_each_chain_event_value_to_its_named_column(empty_database_url):
    migrate.upgrade(empty_database_url, BEFORE_0003)
    make_legacy_database(empty_database_url, legacy_rows())  # chain_events as the baseline has it
    before = dump(empty_database_url)

    result = migrate.upgrade(empty_database_url, "0003")

    assert [step.revision for step in result.applied] == ["0003"]
    after = dump(empty_database_url)
    assert after["chain_events"] == [moved_by_0003(row) for row in before["chain_events"]]
    assert {row["amount"] for row in after["chain_events"] if row["name"] == "SharesSet"} == {None}
    assert all(row["members"] is None for row in after["chain_events"])  # never stored before
    assert {t: after[t] for t in before if t != "chain_events"} == {
        t: rows for t, rows in before.items() if t != "chain_events"
    }


@pytest.mark.both_databases
def test_revision_0003_downgrades_back_to_the_rows_it_found(empty_database_url):
    migrate.upgrade(empty_database_url, BEFORE_0003)
    make_legacy_database(empty_database_url, legacy_rows())
    before = dump(empty_database_url)
    migrate.upgrade(empty_database_url)

    reached = migrate.downgrade(empty_database_url, BEFORE_0003)

    assert reached == BEFORE_0003
    assert dump(empty_database_url) == before


@pytest.mark.both_databases
def test_upgrade_refuses_an_unversioned_database_with_tables_of_something_else(
    empty_database_url,
):
    engine = create_engine(empty_database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()

    done = db_command(empty_database_url, "upgrade")

    assert done.exit_code == 2
    assert "not the relayer's baseline schema" in done.output
    assert "tables the relayer does not have ['invoices']" in done.output
    assert set(dump(empty_database_url)) == {"invoices"}  # untouched: no alembic_version either
    assert revision_of(empty_database_url) is None


@pytest.mark.both_databases
def test_upgrade_refuses_a_database_made_before_migrations_that_lacks_a_column(
    empty_database_url,
):
    make_legacy_database(empty_database_url)
    engine = create_engine(empty_database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE used_signatures"))
        connection.execute(
            text("CREATE TABLE used_signatures (digest VARCHAR(66) PRIMARY KEY, purpose TEXT)")
        )
    engine.dispose()

    done = db_command(empty_database_url, "upgrade")

    assert done.exit_code == 2
    assert "used_signatures lacks columns ['created_at']" in done.output
    assert revision_of(empty_database_url) is None


@pytest.mark.both_databases
def test_upgrade_refuses_a_revision_it_does_not_know(database_url):
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    engine.dispose()

    done = db_command(database_url, "upgrade")

    assert done.exit_code == 2
    assert "revision f00d, which this relayer does not know" in done.output
    assert revision_of(database_url) == "f00d"


@pytest.mark.both_databases
def test_db_current_shows_the_revision_and_checks_it(database_url, empty_database_url):
    at_head = db_command(database_url, "current", "--check")
    empty = db_command(empty_database_url, "current", "--check")

    assert (at_head.exit_code, at_head.output.strip()) == (0, f"{migrate.head()} (head)")
    assert empty.exit_code == 1
    assert "empty" in empty.output
    assert "relayer db upgrade" in empty.output


# -------------------------------------------------------------------------------------------------
# The relayer refuses a database that is behind
# -------------------------------------------------------------------------------------------------


@pytest.mark.both_databases
def test_serve_and_the_database_commands_refuse_a_database_that_is_behind(
    union, relayer_account, operator_token, empty_database_url, another_empty_database
):
    legacy_url = another_empty_database()

    def database_at_baseline():
        url = another_empty_database()
        migrate.upgrade(url, migrate.BASELINE)
        make_legacy_database(url, legacy_rows()[:1])  # a contribution
        return url

    make_legacy_database(legacy_url, legacy_rows())
    behind_url = database_at_baseline()
    empty_env, legacy_env, behind_env = (
        relayer_env(union, relayer_account, url, operator_token)
        for url in (empty_database_url, legacy_url, behind_url)
    )
    before = {url: dump(url) for url in (legacy_url, behind_url)}

    results = run_together(
        (empty_env, ("serve", "--port", "0")),
        (legacy_env, ("serve", "--port", "0")),
        (behind_env, ("serve", "--port", "0")),
        (behind_env, ("epoch", "close")),
        (behind_env, ("index", "--once")),
    )

    for done in results:
        assert done.returncode == 2, (done.args, done.stdout, done.stderr)
        assert "`relayer db upgrade`" in done.stderr, done.stderr
    assert "the database is empty" in results[0].stderr
    assert "no schema revision" in results[1].stderr
    assert f"at revision 0001 and this relayer needs {migrate.head()}" in results[2].stderr
    assert dump(empty_database_url) == {}
    assert {url: dump(url) for url in before} == before
    assert revision_of(behind_url) == "0001"


@pytest.mark.both_databases
def test_the_epoch_lifecycle_revision_turns_a_posted_epoch_finished_with_no_due_time(
    empty_database_url,
):
    make_legacy_database(empty_database_url, legacy_rows())
    assert db_command(empty_database_url, "upgrade").exit_code == 0

    (epoch,) = dump(empty_database_url)["epochs"]

    assert (epoch["status"], epoch["due_at"]) == ("finished", None)
    assert epoch["finished_at"] == epoch["posted_at"] is not None


@pytest.mark.both_databases
def test_relayed_claims_revision_upgrades_a_database_holding_rows_to_one_claim_per_nonce(
    empty_database_url,
):
    make_legacy_database(empty_database_url, legacy_rows())
    before = dump(empty_database_url)
    assert "relayed_claims" not in before

    done = db_command(empty_database_url, "upgrade")

    assert done.exit_code == 0, done.output
    assert "applied 0002_relayed_claims" in done.output
    after = dump(empty_database_url)
    assert {t: after[t] for t in before if t != "chain_events"} == {
        t: rows for t, rows in upgraded(before).items() if t != "chain_events"
    }
    engine = create_engine(empty_database_url)
    claim = {
        "member": MEMBER,
        "digest": tx_hash(30),
        "to": RECIPIENT,
        "amount": str(MAX_UINT256),
        "deadline": "1800000000",
        "max_cost": "90000000000000",
        "created_at": WHEN,
    }
    insert = text(
        'INSERT INTO relayed_claims (member, nonce, digest, "to", amount, deadline, max_cost, '
        "outbox_id, created_at) VALUES (:member, :nonce, :digest, :to, :amount, :deadline, "
        ":max_cost, :outbox_id, :created_at)"
    )
    try:
        with engine.begin() as connection:
            connection.execute(insert, {**claim, "nonce": "0", "outbox_id": 2})
        with pytest.raises(IntegrityError), engine.begin() as connection:
            # The same member's nonce again, even for another transaction: refused.
            connection.execute(insert, {**claim, "nonce": "0", "outbox_id": None})
        with pytest.raises(IntegrityError), engine.begin() as connection:
            # One transaction for two claims: refused.
            connection.execute(insert, {**claim, "nonce": "1", "outbox_id": 2})
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT member, nonce, outbox_id FROM relayed_claims"))
            assert [tuple(row) for row in rows] == [(MEMBER, "0", 2)]
    finally:
        engine.dispose()


def test_the_relayer_refuses_a_sqlite_path_with_no_database_and_creates_no_file(
    union, relayer_account, operator_token, tmp_path
):
    path = tmp_path / "mistyped.db"
    settings = relayer_settings(union, relayer_account, f"sqlite:///{path}", operator_token)

    with pytest.raises(migrate.SchemaBehind, match=r"no database file at .*`relayer db upgrade`"):
        Context.from_settings(settings)
    assert db_command(f"sqlite:///{path}", "current").output.startswith("empty")
    assert not path.exists()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(database_url):
    # The migrations use an engine of their own; the relayer's keeps SQLite's settings.
    opened = Database(database_url)
    try:
        with opened.session() as session:
            pragma = session.connection().exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 30_000
    finally:
        opened.dispose()


def test_upgrades_started_together_on_postgresql_take_turns(postgres_server, postgres_database_url):
    # Two deploys upgrading one database at once: each waits for the upgrade lock, so the
    # second finds the schema made and applies nothing (without it, both create the tables).
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYER_")}
    env["RELAYER_DATABASE_URL"] = postgres_database_url
    name = postgres_database_url.rsplit("/", 1)[1]
    with postgres_server.connect(name) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (migrate.UPGRADE_LOCK,))
        upgraders = [
            subprocess.Popen(
                [str(RELAYER), "db", "upgrade"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            deadline = time.monotonic() + 60
            while waiting_for_lock(holder) < 2:
                assert time.monotonic() < deadline, "the upgrades never queued on the lock"
                assert all(u.poll() is None for u in upgraders), "an upgrade did not wait"
                time.sleep(0.1)
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (migrate.UPGRADE_LOCK,))
        outputs = [u.communicate(timeout=60) for u in upgraders]

    assert [u.returncode for u in upgraders] == [0, 0], outputs
    applied = sorted(
        line.split(":")[0]
        for stdout, _ in outputs
        for line in stdout.splitlines()
        if line.startswith("applied ")
    )
    assert applied == sorted(f"applied {revision}" for revision in migrate.revisions())
    assert revision_of(postgres_database_url) == migrate.head()


def waiting_for_lock(connection):
    return connection.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    ).fetchone()[0]
