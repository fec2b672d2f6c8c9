"""Locks that hold across processes, taken in the database itself (no other service).

Replicas of the relayer are separate processes, so an in-process lock serializes nothing. Two
kinds of lock live here:

- **Transaction locks** (`serialize`): held until the caller's database transaction ends, for
  read-check-write steps that two requests must not interleave (closing an epoch, re-planning
  one, answering an idempotency key). On PostgreSQL a transaction-level advisory lock
  (`pg_advisory_xact_lock`) on a key derived from the lock's name, waited for at most
  `LOCK_TIMEOUT_MS`; on SQLite the database's own write lock, taken by a write that changes
  nothing, so that every later read of the transaction sees the last committed state.
- **The SQLite process lock** (`hold_sqlite`): an exclusive `fcntl` lock on a file beside the
  database, held while the process uses it. SQLite is the embedded default for one relayer
  process; a second one is refused with a message pointing at PostgreSQL.

Session-level advisory locks that elect the sender and the indexer among replicas are in
`relayer.roles`; they use `lock_key` too.
"""

import fcntl
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import false, func, select, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from relayer.db import Epoch
from relayer.errors import Conflict, DatabaseInUse

#: Longest a request waits for another request's transaction lock before it is told to retry.
LOCK_TIMEOUT_MS = 15_000
#: PostgreSQL's SQLSTATE for "lock_timeout expired".
LOCK_NOT_AVAILABLE = "55P03"


def lock_key(*parts: object) -> int:
    """The signed 64-bit key PostgreSQL's advisory locks take, from the lock's name parts
    (e.g. role, chain id, address). Hashed, so unrelated names do not collide by accident."""
    digest = hashlib.sha256(":".join(str(part).lower() for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def serialize(session: Session, *name: object) -> None:
    """Hold the lock `name` until `session`'s transaction commits or rolls back.

    Call it before the reads that the transaction's decision rests on. A wait longer than
    `LOCK_TIMEOUT_MS` raises Conflict (another request holds the lock for that long; retry).
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
        try:
            session.execute(select(func.pg_advisory_xact_lock(lock_key(*name))))
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise Conflict(
                    f"another request is changing the same state ({name[0]}); retry"
                ) from None
            raise
    else:
        # SQLite has one lock for the whole database. Python's sqlite3 opens the transaction
        # (BEGIN) before the first write, and this write takes the database's write lock,
        # waiting up to the busy timeout: every read after it sees the last committed state.
        session.execute(update(Epoch).where(false()).values(number=Epoch.number))


# -------------------------------------------------------------------------------------------------
# The SQLite process lock
# -------------------------------------------------------------------------------------------------


@dataclass
class _Held:
    fd: int
    holders: int


_held: dict[Path, _Held] = {}
_held_guard = threading.Lock()

SQLITE_REPLICAS_HINT = (
    "SQLite serves one relayer process. Stop the other process or use its API; to run several "
    "replicas, use PostgreSQL (RELAYER_DATABASE_URL=postgresql+psycopg://…)"
)


def sqlite_path(url: str | URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database or another
    backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).resolve()


def lock_file(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


def hold_sqlite(database: Path) -> None:
    """Take this process's exclusive lock on `database` (counted: every `hold_sqlite` needs a
    `release_sqlite`). Raises DatabaseInUse if another process holds it.

    One descriptor per file and process: POSIX releases a process's `fcntl` locks on a file
    when *any* of its descriptors of that file is closed, so the file is opened once here and
    never elsewhere. The kernel drops the lock when the process dies, even by SIGKILL.
    """
    path = lock_file(database)
    with _held_guard:
        held = _held.get(path)
        if held is not None:
            held.holders += 1
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DatabaseInUse(
                f"the SQLite database {database} is in use by another relayer process"
                f"{_holder_pid(path)}. {SQLITE_REPLICAS_HINT}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _held[path] = _Held(fd, 1)


def release_sqlite(database: Path) -> None:
    path = lock_file(database)
    with _held_guard:
        held = _held.get(path)
        if held is None:
            return
        held.holders -= 1
        if held.holders == 0:
            del _held[path]
            os.close(held.fd)  # releases the lock


def _holder_pid(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
