"""The relayer's database: SQLAlchemy 2 models and the engine/session factory.

The models describe the newest schema; every change to them ships an Alembic revision in
`relayer/migrations/versions/` (tests/relayer/test_migrations.py fails while the two differ).

SQLite is the embedded default; PostgreSQL works by URL (`postgresql+psycopg://…`). Token amounts
and other uint256 values are stored as decimal strings: SQLite has no exact 256-bit integer, and
the relayer never sums them in SQL.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)

from relayer.states import EpochStatus, TxPurpose, TxStatus


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, written and read back as an aware datetime in UTC on every backend.

    Plain `DateTime(timezone=True)` does not: SQLite keeps no offset (SQLAlchemy stores the
    wall-clock time of whatever zone it is given and reads it back naive), and PostgreSQL answers
    in the connection's `TimeZone`, which is the server's unless set. Naive values are refused
    rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: give the time zone (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: written in UTC by process_bind_param
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class StoredEnum(TypeDecorator[E]):
    """A `StrEnum` stored as its plain text value (a VARCHAR, no database enum type), read back
    as the enum member. A value outside the enum is refused on the way in, so a typo cannot
    reach the table, and adding a member needs no schema change."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(self.enum(value).value)

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


ADDRESS = String(42)
HASH = String(66)
UINT = String(78)
TIMESTAMP = UTCDateTime()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Contribution(Base):
    """A batch of a member's data, described, never stored: counts, scores and a salted hash."""

    __tablename__ = "contributions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member: Mapped[str] = mapped_column(ADDRESS, index=True)
    data_type: Mapped[str] = mapped_column(String(32))
    records: Mapped[int] = mapped_column(BigInteger)
    quality_ppm: Mapped[int] = mapped_column(Integer)
    uniqueness_ppm: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(HASH, unique=True)
    #: The member's EIP-712 consent, when the member signed it (operator submissions may omit it).
    signature: Mapped[str | None] = mapped_column(String(132))
    #: The chain's latest block when it was recorded: orders it against the member's `leave()`
    #: exactly, where the database's clock and block timestamps (whole seconds) cannot.
    recorded_block: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP, default=utcnow)


class IdempotencyKey(Base):
    """The stored answer to a POST carrying an `Idempotency-Key` header."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    route: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(HASH)
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP, default=utcnow)


class UsedSignature(Base):
    """Digests of one-shot signed requests (data deletion), so a signature works once."""

    __tablename__ = "used_signatures"

    digest: Mapped[str] = mapped_column(HASH, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP, default=utcnow)


class Epoch(Base):
    """An attribution epoch: closed (report frozen) → posting → posted, or failed."""

    __tablename__ = "epochs"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[EpochStatus] = mapped_column(StoredEnum(EpochStatus, 16))
    report: Mapped[str] = mapped_column(Text)
    report_hash: Mapped[str] = mapped_column(HASH)
    members: Mapped[int] = mapped_column(Integer)
    total_shares: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[datetime] = mapped_column(TIMESTAMP, default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    error: Mapped[str | None] = mapped_column(Text)

    transactions: Mapped[list["OutboxTx"]] = relationship(
        back_populates="epoch_row", order_by="OutboxTx.id"
    )


class OutboxTx(Base):
    """A transaction the relayer owes the chain, recorded before it is signed.

    `nonce` is assigned once, when the first attempt is signed, and never reused for another
    transaction; every attempt (re-priced re-send) of it is an `TxAttempt` row.
    """

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("sender", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[TxPurpose] = mapped_column(StoredEnum(TxPurpose, 16))
    epoch: Mapped[int | None] = mapped_column(ForeignKey("epochs.number"), index=True)
    batch: Mapped[int | None] = mapped_column(Integer)
    to: Mapped[str] = mapped_column(ADDRESS)
    data: Mapped[str] = mapped_column(Text)
    status: Mapped[TxStatus] = mapped_column(
        StoredEnum(TxStatus, 16), default=TxStatus.PENDING, index=True
    )
    #: The key that signed it; nonces are unique per key, so a rotated key starts afresh.
    sender: Mapped[str | None] = mapped_column(ADDRESS)
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    gas: Mapped[int | None] = mapped_column(BigInteger)
    tx_hash: Mapped[str | None] = mapped_column(HASH)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP, default=utcnow)

    epoch_row: Mapped[Epoch | None] = relationship(back_populates="transactions")
    attempts: Mapped[list["TxAttempt"]] = relationship(
        back_populates="outbox", order_by="TxAttempt.id"
    )


class TxAttempt(Base):
    """One signed version of an outbox transaction, stored before it is broadcast."""

    __tablename__ = "tx_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    tx_hash: Mapped[str] = mapped_column(HASH, unique=True)
    raw: Mapped[str] = mapped_column(Text)
    max_fee_per_gas: Mapped[int] = mapped_column(BigInteger)
    max_priority_fee_per_gas: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP, default=utcnow)

    outbox: Mapped[OutboxTx] = relationship(back_populates="attempts")


class RelayedClaim(Base):
    """A member's signed `Claim` the relayer took on to relay, reserved before anything is signed.

    The unique (member, nonce) pair is what keeps a signed claim to one transaction however often
    and however concurrently it arrives: the contract accepts one claim per member nonce, so a
    second row for the pair could only ever be a transaction that reverts at the relayer's cost.
    `outbox_id` links the transaction; it is set in the same database transaction that stores the
    signed transaction, so a claim with a transaction on the chain always has it on record.
    """

    __tablename__ = "relayed_claims"
    __table_args__ = (UniqueConstraint("member", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member: Mapped[str] = mapped_column(ADDRESS, index=True)
    nonce: Mapped[str] = mapped_column(UINT)
    #: The EIP-712 digest the member signed: an identical re-send has the same one.
    digest: Mapped[str] = mapped_column(HASH)
    to: Mapped[str] = mapped_column(ADDRESS)
    amount: Mapped[str] = mapped_column(UINT)
    deadline: Mapped[str] = mapped_column(UINT)
    #: The most the relayer can pay for it (gas limit times max fee per gas, in wei), counted
    #: against the daily gas budget from the moment it is reserved.
    max_cost: Mapped[str] = mapped_column(UINT, default="0")
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP, default=utcnow, index=True)

    outbox: Mapped["OutboxTx | None"] = relationship()


class ChainEvent(Base):
    """A confirmed contract event, as the indexer read it."""

    __tablename__ = "chain_events"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), index=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_time: Mapped[datetime] = mapped_column(TIMESTAMP)
    #: The member the event is about (SharesSet, Claimed, MemberLeft) or the payer (deposits).
    account: Mapped[str | None] = mapped_column(ADDRESS, index=True)
    epoch: Mapped[int | None] = mapped_column(BigInteger)
    #: The event's main amount (deposit, claim) or shares (SharesSet, totals), as decimal text.
    amount: Mapped[str | None] = mapped_column(UINT)
    #: Secondary amount: the fee of a deposit, the recipient of a claim, the total of a post.
    extra: Mapped[str | None] = mapped_column(UINT)
    license_id: Mapped[str | None] = mapped_column(HASH, index=True)


#: The id of `IndexerCursor`'s single row.
CURSOR_ID = 1


class IndexerCursor(Base):
    """The last block the indexer has fully stored."""

    __tablename__ = "indexer_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)


class License(Base):
    """A license offer buyers pay against: its id is the bytes32 `licenseId` of deposits."""

    __tablename__ = "licenses"

    id: Mapped[str] = mapped_column(String(31), primary_key=True)
    license_hash: Mapped[str] = mapped_column(HASH, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    terms_hash: Mapped[str] = mapped_column(HASH)
    price: Mapped[str] = mapped_column(UINT)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP, default=utcnow)


#: SQLite: a busy timeout (seconds), so the API, the workers and an upgrade wait for each other's
#: write lock instead of failing; and one connection may serve several threads.
SQLITE_CONNECT_ARGS = {"check_same_thread": False, "timeout": 30}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    """An engine for `url`. It creates no tables: the schema is the migrations' (`relayer db
    upgrade`, relayer.migrate), and `relayer.context` refuses a database that is behind. SQLite
    gets WAL, foreign keys and a busy timeout so the API and the background workers can share
    one file."""
    if is_sqlite(url):
        engine = create_engine(url, connect_args=SQLITE_CONNECT_ARGS)

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # type: ignore[no-untyped-def]
            cursor = conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


class Database:
    """Sessions over one engine; `session()` commits on success and rolls back on error."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._factory.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
