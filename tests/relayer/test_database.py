"""The database behaves the same on SQLite and PostgreSQL: exact uint256 text, unique
constraints, UTC timestamps, enum statuses, and sessions that write all or nothing. (The schema
itself is the migrations': tests/relayer/test_migrations.py.)"""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.exc import IntegrityError, StatementError

from relayer.db import Base, ChainEvent, Contribution, Database, License, OutboxTx
from relayer.states import TxPurpose, TxStatus

pytestmark = pytest.mark.both_databases

MAX_UINT256 = 2**256 - 1
ZERO = timedelta(0)


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


def contribution(content_hash, member="0x" + "aa" * 20, **overrides):
    values = {
        "member": member,
        "data_type": "steps",
        "records": 1_000,
        "quality_ppm": 900_000,
        "uniqueness_ppm": 500_000,
        "content_hash": content_hash,
    }
    values.update(overrides)
    return Contribution(**values)


RELAYER_KEY = "0x" + "cc" * 20


def outbox_tx(nonce, sender=RELAYER_KEY):
    return OutboxTx(
        purpose="attribution", to="0x" + "bb" * 20, data="0x", nonce=nonce, sender=sender
    )


def add_in_one_session(db, *rows):
    with db.session() as session:
        session.add_all(rows)


def count(db, model):
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_opening_a_database_creates_no_tables(empty_database_url):
    # The schema is the migrations' alone (relayer db upgrade), never created behind their back.
    opened = Database(empty_database_url)
    try:
        with opened.session() as session:
            assert inspect(session.connection()).get_table_names() == []
    finally:
        opened.dispose()


def test_the_test_database_holds_every_table_of_the_models(database_url):
    probe = create_engine(database_url)
    try:
        assert set(inspect(probe).get_table_names()) == {*Base.metadata.tables, "alembic_version"}
    finally:
        probe.dispose()


def test_opening_an_existing_database_keeps_its_rows(db, database_url):
    add_in_one_session(db, contribution("0x01"))
    reopened = Database(database_url)
    try:
        assert count(reopened, Contribution) == 1
    finally:
        reopened.dispose()


def test_uint256_decimal_text_round_trips_exactly(db):
    with db.session() as session:
        session.add(
            ChainEvent(
                name="Deposited",
                block_number=1,
                log_index=0,
                tx_hash="0x" + "11" * 32,
                block_time=datetime.now(UTC),
                amount=str(MAX_UINT256),
                extra=str(MAX_UINT256 - 1),
            )
        )
        session.add(
            License(
                id="license-001",
                license_hash="0x" + "22" * 32,
                title="Steps, 2026",
                terms_hash="0x" + "33" * 32,
                price=str(MAX_UINT256),
            )
        )
    with db.session() as session:
        event = session.scalars(select(ChainEvent)).one()
        price = session.scalars(select(License.price)).one()
    assert int(event.amount) == MAX_UINT256
    assert int(event.extra) == MAX_UINT256 - 1
    assert int(price) == MAX_UINT256


def test_duplicate_content_hash_is_rejected_and_the_session_writes_nothing(db):
    add_in_one_session(db, contribution("0x01"))
    with pytest.raises(IntegrityError):
        add_in_one_session(db, contribution("0x02"), contribution("0x01", member="0x" + "cc" * 20))
    with db.session() as session:
        assert session.scalars(select(Contribution.content_hash)).all() == ["0x01"]


def test_duplicate_outbox_nonce_is_rejected_and_the_session_writes_nothing(db):
    add_in_one_session(db, outbox_tx(nonce=7))
    with pytest.raises(IntegrityError):
        add_in_one_session(db, outbox_tx(nonce=8), outbox_tx(nonce=7))
    with db.session() as session:
        assert session.scalars(select(OutboxTx.nonce)).all() == [7]


def test_a_rotated_key_counts_its_nonces_afresh(db):
    add_in_one_session(db, outbox_tx(nonce=0), outbox_tx(nonce=0, sender="0x" + "dd" * 20))
    with db.session() as session:
        assert session.scalars(select(OutboxTx.nonce)).all() == [0, 0]


def test_outbox_rows_without_a_nonce_do_not_collide(db):
    # Every transaction waits in the outbox with no nonce until its first attempt is signed.
    add_in_one_session(db, outbox_tx(nonce=None), outbox_tx(nonce=None))
    assert count(db, OutboxTx) == 2


def test_default_timestamps_come_back_timezone_aware_utc(db):
    before = datetime.now(UTC)
    with db.session() as session:
        session.add(contribution("0x01"))
    with db.session() as session:
        created_at = session.scalars(select(Contribution.created_at)).one()
    assert created_at.utcoffset() == ZERO
    assert before <= created_at <= datetime.now(UTC)


def test_timestamps_in_another_zone_are_stored_as_the_same_instant_in_utc(db):
    kolkata_noon = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5.5)))
    with db.session() as session:
        session.add(contribution("0x01", created_at=kolkata_noon))
    with db.session() as session:
        created_at = session.scalars(select(Contribution.created_at)).one()
        # SQL comparisons see the instant too: 06:30 UTC, not a wall-clock 12:00.
        around_0630_utc = Contribution.created_at.between(
            datetime(2026, 3, 1, 6, 29, tzinfo=UTC), datetime(2026, 3, 1, 6, 31, tzinfo=UTC)
        )
        matched = session.scalar(select(func.count()).where(around_0630_utc))
    assert created_at.utcoffset() == ZERO
    assert created_at == kolkata_noon
    assert matched == 1


def test_a_failed_session_leaves_the_database_unchanged(db):
    add_in_one_session(db, contribution("0x01", records=10))

    def update_add_and_fail():
        with db.session() as session:
            session.scalars(select(Contribution)).one().records = 20
            session.add(contribution("0x02"))
            session.flush()  # the changes reach the database before the error
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        update_add_and_fail()
    with db.session() as session:
        rows = session.execute(select(Contribution.content_hash, Contribution.records)).all()
    assert [tuple(row) for row in rows] == [("0x01", 10)]


def test_naive_timestamps_are_refused(db):
    with pytest.raises(StatementError, match="naive datetime"):
        add_in_one_session(db, contribution("0x01", created_at=datetime(2026, 3, 1, 12, 0)))
    assert count(db, Contribution) == 0


def test_statuses_read_back_as_their_enum_members(db):
    add_in_one_session(db, outbox_tx(nonce=1))
    with db.session() as session:
        row = session.scalars(select(OutboxTx)).one()
    assert row.status is TxStatus.PENDING
    assert row.purpose is TxPurpose.ATTRIBUTION


def test_a_status_outside_its_enum_is_refused_and_nothing_is_written(db):
    mistyped = outbox_tx(nonce=2)
    mistyped.status = "posted"  # an epoch's status, not a transaction's
    with pytest.raises(StatementError, match="'posted' is not a valid TxStatus"):
        add_in_one_session(db, outbox_tx(nonce=1), mistyped)
    assert count(db, OutboxTx) == 0
