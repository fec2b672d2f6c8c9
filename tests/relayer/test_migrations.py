"""The database's schema is the migrations': `relayer db upgrade` creates it, recognises and
upgrades a database made before migrations existed with every row kept, refuses what it does not
know; the relayer refuses to run on a database that is behind; and the models never drift from
the head revision. On SQLite and PostgreSQL."""

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Column, Integer, MetaData, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fixtures import legacy_db
from fixtures.cli import relayer_env, run_together
from relayer import migrate
from relayer.cli import main
from relayer.db import Base

MAX_UINT256 = 2**256 - 1
PAYER = "0x" + "a1" * 20
MEMBER = "0x" + "b2" * 20
RECIPIENT = "0x" + "c3" * 20
UNION = "0x" + "d4" * 20
RELAYER_KEY = "0x" + "e5" * 20
REPORT_HASH = "0x" + "ab" * 32
LICENSE_HASH = "0x" + "6c" * 16 + "00" * 16
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def tx_hash(n):
    return "0x" + f"{n:064x}"


def legacy_rows():
    """At least one row for every table of the schema before migrations, every kind of chain
    event among them, with the largest uint256 where one fits."""
    m = legacy_db
    event = {"block_time": WHEN}
    return [
        m.Contribution(
            member=MEMBER,
            data_type="health",
            records=1_000,
            quality_ppm=900_000,
            uniqueness_ppm=250_000,
            content_hash=tx_hash(1),
            signature="0x" + "5a" * 65,
            recorded_block=41,
            created_at=WHEN,
        ),
        m.IdempotencyKey(
            key="retry-1",
            route="contributions",
            request_hash=tx_hash(2),
            status_code=201,
            body='{"accepted": 1, "ids": [1]}',
            created_at=WHEN,
        ),
        m.UsedSignature(digest=tx_hash(3), purpose="data_deletion", created_at=WHEN),
        m.Epoch(
            number=1,
            status="posted",
            report='{"epoch": 1}',
            report_hash=REPORT_HASH,
            members=1,
            total_shares=700,
            closed_at=WHEN,
            posted_at=WHEN,
        ),
        m.OutboxTx(
            id=1,
            purpose="attribution",
            epoch=1,
            batch=0,
            to=UNION,
            data="0xfeed",
            status="confirmed",
            sender=RELAYER_KEY,
            nonce=0,
            gas=90_000,
            tx_hash=tx_hash(4),
            block_number=42,
            gas_used=80_000,
            created_at=WHEN,
        ),
        m.OutboxTx(id=2, purpose="claim", to=UNION, data="0xbeef", status="superseded"),
        m.TxAttempt(
            outbox_id=1,
            tx_hash=tx_hash(4),
            raw="0x02f8",
            max_fee_per_gas=2_000_000_000,
            max_priority_fee_per_gas=1_000_000_000,
            created_at=WHEN,
        ),
        m.ChainEvent(
            name="RevenueDeposited",
            block_number=40,
            log_index=0,
            tx_hash=tx_hash(5),
            account=PAYER,
            amount=str(MAX_UINT256),
            extra=str(MAX_UINT256 - 1),
            license_id=LICENSE_HASH,
            **event,
        ),
        m.ChainEvent(
            name="SharesSet",
            block_number=42,
            log_index=0,
            tx_hash=tx_hash(4),
            account=MEMBER,
            epoch=1,
            amount="700",
            **event,
        ),
        m.ChainEvent(
            name="AttributionPosted",
            block_number=42,
            log_index=1,
            tx_hash=tx_hash(4),
            epoch=1,
            amount="700",
            extra=REPORT_HASH,
            **event,
        ),
        m.ChainEvent(
            name="AttributionFinished",
            block_number=43,
            log_index=0,
            tx_hash=tx_hash(6),
            epoch=1,
            amount="700",
            extra=REPORT_HASH,
            **event,
        ),
        m.ChainEvent(
            name="Claimed",
            block_number=44,
            log_index=0,
            tx_hash=tx_hash(7),
            account=MEMBER,
            amount="500",
            extra=RECIPIENT,
            **event,
        ),
        m.ChainEvent(
            name="MemberLeft",
            block_number=45,
            log_index=1,
            tx_hash=tx_hash(8),
            account=MEMBER,
            **event,
        ),
        m.IndexerCursor(id=1, block_number=45),
        m.License(
            id="steps-2026",
            license_hash=LICENSE_HASH,
            title="Steps, 2026",
            terms_hash=tx_hash(9),
            price=str(MAX_UINT256),
            created_at=WHEN,
        ),
    ]


def make_legacy_database(url, rows=()):
    """A database as the relayer made it before migrations (create_all at start-up), holding
    `rows`."""
    engine = legacy_db.make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            session.add_all(rows)
    finally:
        engine.dispose()


def dump(url):
    """Every row of every table (but alembic's), as the database returns it, in key order."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            tables = {}
            for table in inspector.get_table_names():
                if table == migrate.VERSION_TABLE:
                    continue
                key = inspector.get_pk_constraint(table)["constrained_columns"]
                order = ", ".join(f'"{column}"' for column in key)
                result = connection.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}'))
                tables[table] = [dict(row._mapping) for row in result]
            return tables
    finally:
        engine.dispose()


def schema(url):
    """Everything the database says about its tables: columns, keys, constraints, indexes."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            described = {}
            for table in inspector.get_table_names():
                if table == migrate.VERSION_TABLE:
                    continue
                described[table] = {
                    "columns": [
                        (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                        for c in inspector.get_columns(table)
                    ],
                    "primary_key": inspector.get_pk_constraint(table),
                    "foreign_keys": sorted(
                        inspector.get_foreign_keys(table), key=lambda fk: fk["constrained_columns"]
                    ),
                    "unique": sorted(
                        inspector.get_unique_constraints(table), key=lambda u: u["column_names"]
                    ),
                    "indexes": sorted(inspector.get_indexes(table), key=lambda i: i["name"]),
                }
            return described
    finally:
        engine.dispose()


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
    empty_database_url, postgres_database_factory, backend, tmp_path
):
    legacy_url = (
        postgres_database_factory()
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'legacy.db'}"
    )
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
    assert {table: after[table] for table in before} == before
    assert all(after[table] for table in before), "a table without rows"
    # Tables that revisions after the baseline add start empty.
    assert set(after) - set(before) == set(Base.metadata.tables) - set(before)
    assert all(after[table] == [] for table in set(after) - set(before))


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
    union,
    relayer_account,
    operator_token,
    empty_database_url,
    postgres_database_factory,
    backend,
    tmp_path,
):
    legacy_url = (
        postgres_database_factory()
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'legacy.db'}"
    )
    make_legacy_database(legacy_url, legacy_rows())
    empty_env = relayer_env(union, relayer_account, empty_database_url, operator_token)
    legacy_env = relayer_env(union, relayer_account, legacy_url, operator_token)
    before = dump(legacy_url)

    results = run_together(
        (empty_env, ("serve", "--port", "0")),
        (legacy_env, ("serve", "--port", "0")),
        (legacy_env, ("epoch", "close")),
        (legacy_env, ("index", "--once")),
    )

    for done in results:
        assert done.returncode == 2, (done.args, done.stdout, done.stderr)
        assert "`relayer db upgrade`" in done.stderr, done.stderr
    assert "the database is empty" in results[0].stderr
    assert "no schema revision" in results[1].stderr
    assert dump(empty_database_url) == {}
    assert dump(legacy_url) == before


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
    assert {table: after[table] for table in before} == before
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
