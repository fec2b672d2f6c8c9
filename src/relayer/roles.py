"""Roles among replicas: which relayer process sends the transactions of a signing key (the
*sender*) and which follows the chain into the database (the *indexer*). Every replica serves
the API; each role is held by at most one process at a time, chosen through the database.

**PostgreSQL.** A role is a session-level advisory lock (`pg_try_advisory_lock`) on a key
derived from the role's name and what it is for (the signing address for the sender, the union's
address for the indexer), held on a connection of its own that does nothing else. Replicas that
do not hold a role try to take it every poll interval. A process that dies, even by SIGKILL,
loses its connection and with it the lock, so another replica takes over at its next try. A
holder checks before every transaction it broadcasts that its lock is still held on a live
connection (`holds`); if the connection was lost (a network cut, the server restarted or ended
the session) it gives the role up at once and sends nothing more. TCP keepalives on both ends
bound how long a holder cut off from the database can keep a lock the server still sees.

**SQLite.** One process only: the first relayer process to use the file takes an exclusive lock
beside it (`relayer.locks.hold_sqlite`) and holds every role; a second one is refused.

Whatever a stale holder might still do, the outbox's compare-and-set on each row and the unique
(sender, nonce) column keep one row from being signed twice and one nonce from serving two rows.
"""

import logging
import os
import socket
import threading
from contextlib import suppress
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from relayer.db import Database
from relayer.errors import DatabaseInUse
from relayer.locks import hold_sqlite, lock_key, release_sqlite, sqlite_path

log = logging.getLogger(__name__)

#: Seconds of silence before either end of the lock connection probes the other, between
#: probes, and unanswered probes before it gives up: a peer that vanished is noticed in ~15 s.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 5, 2, 5
#: Longest a connection attempt or an unacknowledged write on the lock connection may take.
CONNECT_TIMEOUT_S, TCP_USER_TIMEOUT_MS = 5, 15_000


class Role(StrEnum):
    SENDER = "sender"
    INDEXER = "indexer"
    #: The sender of a separate claim key (`RELAYER_CLAIM_*`), when one is set.
    CLAIM_SENDER = "claim-sender"


def replica_name() -> str:
    """How this process names itself in logs, in `GET /v1/health` and to PostgreSQL."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Roles:
    """The roles this process holds. Thread-safe."""

    backend = "none"

    def __init__(self, subjects: dict[Role, str]) -> None:
        #: What each role is for, for log lines (addresses and the chain id: nothing secret).
        self.subjects = subjects
        self.replica = replica_name()
        self._held: set[Role] = set()
        self._guard = threading.Lock()

    def open(self) -> None:
        """Claim the database for this process where the backend requires (SQLite); raises
        DatabaseInUse if another process has it."""

    def try_acquire(self, role: Role) -> bool:
        """Take `role` if it is free; True if this process holds it now (checked, if it held it
        already). Never blocks on another holder."""
        raise NotImplementedError

    def holds(self, role: Role) -> bool:
        """Whether this process still holds `role`, checked with the database now."""
        raise NotImplementedError

    def held(self, role: Role) -> bool:
        """Whether this process held `role` when last checked (no I/O)."""
        return role in self._held

    def holders(self) -> dict[Role, str | None]:
        """The replica holding each role, as far as this process can see."""
        return {role: self.replica if role in self._held else None for role in Role}

    def close(self) -> None:
        """Give up every role."""

    def _gained(self, role: Role) -> None:
        self._held.add(role)
        log.info("replica %s took the %s role (%s)", self.replica, role, self.subjects[role])

    def _lost(self, role: Role, why: str) -> None:
        self._held.discard(role)
        log.warning(
            "replica %s lost the %s role (%s): %s; it stops acting as %s",
            self.replica,
            role,
            self.subjects[role],
            why,
            role,
        )


class ProcessRoles(Roles):
    """SQLite: this process holds every role once it holds the database file's lock."""

    backend = "sqlite"

    def __init__(self, database: Path | None, subjects: dict[Role, str]) -> None:
        super().__init__(subjects)
        self.database = database
        self._holds_file = False

    def _hold_file(self) -> None:
        if not self._holds_file and self.database is not None:
            hold_sqlite(self.database)
        self._holds_file = True

    def open(self) -> None:
        with self._guard:
            self._hold_file()

    def try_acquire(self, role: Role) -> bool:
        with self._guard:
            if role in self._held:
                return True
            try:
                self._hold_file()
            except DatabaseInUse:
                return False
            self._gained(role)
            return True

    def holds(self, role: Role) -> bool:
        return role in self._held  # a file lock cannot be taken away from a live process

    def close(self) -> None:
        with self._guard:
            if self._holds_file and self.database is not None:
                release_sqlite(self.database)
            self._holds_file = False
            self._held.clear()


class PostgresRoles(Roles):
    """PostgreSQL: one session-level advisory lock per role, on a dedicated connection."""

    backend = "postgresql"

    def __init__(self, db: Database, keys: dict[Role, int], subjects: dict[Role, str]) -> None:
        super().__init__(subjects)
        self.db = db
        self.keys = keys
        server_keepalives = " ".join(
            f"-c {name}={value}"
            for name, value in (
                ("tcp_keepalives_idle", KEEPALIVE_IDLE),
                ("tcp_keepalives_interval", KEEPALIVE_INTERVAL),
                ("tcp_keepalives_count", KEEPALIVE_COUNT),
            )
        )
        connect_args: dict[str, Any] = {
            "application_name": self.replica[:63],
            "connect_timeout": CONNECT_TIMEOUT_S,
            "keepalives": 1,
            "keepalives_idle": KEEPALIVE_IDLE,
            "keepalives_interval": KEEPALIVE_INTERVAL,
            "keepalives_count": KEEPALIVE_COUNT,
            "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
            "options": server_keepalives,
        }
        # Its own engine without a pool: the lock connection must never be handed to anything
        # else, and autocommit keeps it from sitting idle in a transaction.
        self._engine = create_engine(
            db.engine.url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args=connect_args,
        )
        self._connection: Connection | None = None
        self._unreachable = False

    def _connect(self) -> Connection | None:
        if self._connection is None:
            try:
                self._connection = self._engine.connect()
            except DBAPIError as exc:
                if not self._unreachable:
                    log.warning(
                        "replica %s cannot reach the database for its roles: %s",
                        self.replica,
                        type(exc.orig).__name__,
                    )
                self._unreachable = True
                return None
            if self._unreachable:
                log.info("replica %s reaches the database again", self.replica)
            self._unreachable = False
        return self._connection

    def _drop(self, exc: DBAPIError) -> None:
        """The lock connection failed: every lock on it is gone (or soon will be)."""
        why = f"its database connection failed ({type(exc.orig).__name__})"
        for role in list(self._held):
            self._lost(role, why)
        if self._connection is not None:
            with suppress(DBAPIError):
                self._connection.invalidate()
                self._connection.close()
            self._connection = None

    def try_acquire(self, role: Role) -> bool:
        with self._guard:
            if role in self._held:
                return self._check(role)
            connection = self._connect()
            if connection is None:
                return False
            try:
                taken = connection.execute(
                    select(func.pg_try_advisory_lock(self.keys[role]))
                ).scalar_one()
            except DBAPIError as exc:
                self._drop(exc)
                return False
            if taken:
                self._gained(role)
            return bool(taken)

    def holds(self, role: Role) -> bool:
        with self._guard:
            return role in self._held and self._check(role)

    def _check(self, role: Role) -> bool:
        connection = self._connection
        if connection is None:
            self._lost(role, "its database connection is closed")
            return False
        high, low = _halves(self.keys[role])
        try:
            present = connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND objsubid = 1 "
                    "AND classid::bigint = :high AND objid::bigint = :low"
                ),
                {"high": high, "low": low},
            ).scalar_one()
        except DBAPIError as exc:
            self._drop(exc)
            return False
        if not present:
            self._lost(role, "its advisory lock is no longer held")
            return False
        return True

    def holders(self) -> dict[Role, str | None]:
        """Read from `pg_locks` and the holders' `application_name`, so any replica can tell
        which one holds each role."""
        wanted = {_halves(key): role for role, key in self.keys.items()}
        found: dict[Role, str | None] = dict.fromkeys(Role)
        with self.db.session() as session:
            rows = session.execute(
                text(
                    "SELECT l.classid::bigint, l.objid::bigint, a.application_name "
                    "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                )
            )
            for high, low, name in rows:
                role = wanted.get((int(high), int(low)))
                if role is not None:
                    found[role] = name or "another replica"
        return found

    def close(self) -> None:
        with self._guard:
            if self._connection is not None:
                with suppress(DBAPIError):  # closing ends the session, and its locks with it
                    self._connection.close()
                self._connection = None
            if self._held:
                log.info("replica %s gave up its roles: %s", self.replica, ", ".join(self._held))
            self._held.clear()
            self._engine.dispose()


def _halves(key: int) -> tuple[int, int]:
    """How `pg_locks` shows a bigint advisory key: its high and low 32 bits as unsigned oids."""
    unsigned = key & (2**64 - 1)
    return unsigned >> 32, unsigned & 0xFFFFFFFF


def roles_for(
    db: Database, chain_id: int, signer: str, union: str, claim_signer: str | None = None
) -> Roles:
    """The roles of a relayer signing as `signer` (and `claim_signer` for gasless claims, if a
    separate key) for `union`, on `db`'s backend."""
    subjects = {
        Role.SENDER: f"key {signer} on chain {chain_id}",
        Role.INDEXER: f"union {union} on chain {chain_id}",
    }
    if claim_signer is not None:
        subjects[Role.CLAIM_SENDER] = f"claim key {claim_signer} on chain {chain_id}"
    if db.engine.dialect.name == "postgresql":
        keys = {
            Role.SENDER: lock_key("relayer-role", Role.SENDER, chain_id, signer),
            Role.INDEXER: lock_key("relayer-role", Role.INDEXER, chain_id, union),
        }
        if claim_signer is not None:
            # The same name as a sender's: a key is sent from by one process, whatever it signs.
            keys[Role.CLAIM_SENDER] = lock_key("relayer-role", Role.SENDER, chain_id, claim_signer)
        return PostgresRoles(db, keys, subjects)
    return ProcessRoles(sqlite_path(db.engine.url), subjects)
