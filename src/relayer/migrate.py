"""The relayer database's schema version: upgrading it (`relayer db upgrade`) and refusing to run
on one that is behind (`relayer serve` and every command that uses the database).

The revisions live in the package (`relayer/migrations/`, Alembic), so an installed relayer
needs nothing from the source tree; Alembic is driven through its API with that location, never
an `alembic.ini`.

What `upgrade` does with the database it finds:

- **at a known revision**: applies the newer revisions, if any;
- **empty**: creates the schema by applying every revision;
- **made by a relayer from before migrations** (the relayer's tables, no `alembic_version`):
  recognised when its tables and columns are exactly the baseline's, stamped at the baseline
  and upgraded from there; its rows are kept, nothing is re-created;
- **anything else** (other tables, a revision this relayer does not know, several revisions):
  refused with the reason, changing nothing.

The whole upgrade is one transaction holding a lock (PostgreSQL: an advisory lock; SQLite:
`BEGIN IMMEDIATE`), so two deploys upgrading at once take turns and a failed revision leaves
the database at the revision it had.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.pool import StaticPool

from relayer.db import SQLITE_CONNECT_ARGS, is_sqlite
from relayer.errors import RelayerError

log = logging.getLogger(__name__)

SCRIPT_LOCATION = "relayer:migrations"
#: The revision equal to the schema the relayer created at start-up before it had migrations.
BASELINE = "0001"
VERSION_TABLE = "alembic_version"
UPGRADE_COMMAND = "relayer db upgrade"
#: The PostgreSQL advisory lock an upgrade holds ("relayer" in ASCII): one upgrade at a time.
UPGRADE_LOCK = 0x72656C61796572


class SchemaError(RelayerError):
    """The database's schema is not the one this relayer runs on."""

    code = "database_schema"
    status = 503


class SchemaBehind(SchemaError):
    """The database is behind (or empty): `relayer db upgrade` brings it to this relayer's
    revision."""


class SchemaUnknown(SchemaError):
    """The database is not one this relayer can upgrade: it holds tables of something else, or
    a revision this relayer does not know (written by a newer version)."""


@dataclass(frozen=True)
class SchemaState:
    """What a database holds: its stamped revision (None: none) and its other tables."""

    revision: str | None
    head: str
    tables: frozenset[str]

    @property
    def current(self) -> bool:
        return self.revision == self.head

    @property
    def empty(self) -> bool:
        return self.revision is None and not self.tables

    @property
    def unversioned(self) -> bool:
        """Tables but no revision: made before migrations existed, or not the relayer's."""
        return self.revision is None and bool(self.tables)

    def describe(self) -> str:
        if self.current:
            return f"{self.revision} (head)"
        if self.empty:
            return f"empty (head is {self.head}): run `{UPGRADE_COMMAND}`"
        if self.unversioned:
            return f"no revision stamped (head is {self.head}): run `{UPGRADE_COMMAND}`"
        if self.revision not in revisions():
            return f"{self.revision}, unknown to this relayer (head is {self.head})"
        return f"{self.revision}, behind head {self.head}: run `{UPGRADE_COMMAND}`"


@dataclass(frozen=True)
class Applied:
    revision: str
    title: str


@dataclass(frozen=True)
class UpgradeResult:
    #: The database was made before migrations existed, recognised and stamped at the baseline.
    stamped_baseline: bool
    applied: tuple[Applied, ...]
    revision: str


def _config(connection: Connection | None = None, **attributes: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes.update(connection=connection, **attributes)
    return config


@cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


@cache
def revisions() -> frozenset[str]:
    return frozenset(script.revision for script in scripts().walk_revisions())


def head() -> str:
    """The newest revision; the revisions must form one line (one head), checked here."""
    heads = scripts().get_heads()
    if len(heads) != 1:
        raise SchemaError(f"the relayer's migrations have {len(heads)} heads: {sorted(heads)}")
    return heads[0]


def state(connection: Connection) -> SchemaState:
    stamped = MigrationContext.configure(connection).get_current_heads()
    if len(stamped) > 1:
        raise SchemaUnknown(f"the database is stamped with several revisions: {sorted(stamped)}")
    tables = frozenset(inspect(connection).get_table_names()) - {VERSION_TABLE}
    return SchemaState(stamped[0] if stamped else None, head(), tables)


def require_current(engine: Engine) -> None:
    """Refuse (SchemaError, naming the command to run) unless the database is at the head
    revision: a relayer never runs on a schema it was not written for, nor creates one itself
    (an empty database is as likely a wrong URL as a new union)."""
    with engine.connect() as connection:
        found = state(connection)
    if found.current:
        return
    if found.empty:
        raise SchemaBehind(
            f"the database is empty: create the relayer's schema with `{UPGRADE_COMMAND}` "
            "(check RELAYER_DATABASE_URL if it should hold a union's data)"
        )
    if found.unversioned:
        raise SchemaBehind(
            "the database has no schema revision (made by a relayer from before migrations?): "
            f"run `{UPGRADE_COMMAND}`, which recognises such a database and keeps its rows"
        )
    if found.revision not in revisions():
        raise SchemaUnknown(
            f"the database is at revision {found.revision}, which this relayer does not know "
            f"(its newest is {found.head}): it was upgraded by a newer relayer"
        )
    raise SchemaBehind(
        f"the database is at revision {found.revision} and this relayer needs {found.head}: "
        f"run `{UPGRADE_COMMAND}`"
    )


def current(url: str) -> SchemaState:
    engine = _migration_engine(url)
    try:
        with engine.connect() as connection:
            return state(connection)
    finally:
        engine.dispose()


def upgrade(url: str, target: str = "head") -> UpgradeResult:
    """Bring the database at `url` to the head revision (see the module docstring), or to
    `target`, an older one (for tests of a revision's data migration)."""
    applied: list[Applied] = []

    def record(*, step: MigrationInfo, **_: Any) -> None:
        if step.is_upgrade and step.up_revision_id is not None:
            script = scripts().get_revision(step.up_revision_id)
            title = "" if script is None else script.doc.strip().split("\n")[0]
            applied.append(Applied(step.up_revision_id, title))

    engine = _migration_engine(url)
    try:
        with _locked(engine) as connection:
            found = state(connection)
            if found.revision is not None and found.revision not in revisions():
                raise SchemaUnknown(
                    f"the database is at revision {found.revision}, which this relayer does not "
                    f"know (its newest is {found.head}): upgrade with a newer relayer"
                )
            stamped = False
            if found.unversioned:
                _require_baseline(connection)
                command.stamp(_config(connection), BASELINE)
                stamped = True
                log.info("recognised a database made before migrations; stamped %s", BASELINE)
            command.upgrade(_config(connection, on_version_apply=[record]), target)
            if is_sqlite(url):
                _check_foreign_keys(connection)
            reached = state(connection).revision
        return UpgradeResult(stamped, tuple(applied), reached or "")
    finally:
        engine.dispose()


@cache
def baseline_columns() -> dict[str, frozenset[str]]:
    """Table → column names of the baseline revision, read from the revision itself (applied to
    a throw-away in-memory database), so the recognition cannot drift from it."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        with engine.begin() as connection:
            command.upgrade(_config(connection), BASELINE)
            return _columns(connection)
    finally:
        engine.dispose()


def _columns(connection: Connection) -> dict[str, frozenset[str]]:
    inspector = inspect(connection)
    return {
        table: frozenset(column["name"] for column in inspector.get_columns(table))
        for table in inspector.get_table_names()
        if table != VERSION_TABLE
    }


def _require_baseline(connection: Connection) -> None:
    """SchemaUnknown, naming every difference, unless the tables and their columns are exactly
    the baseline's."""
    expected, found = baseline_columns(), _columns(connection)
    problems = []
    if missing := sorted(expected.keys() - found.keys()):
        problems.append(f"missing tables {missing}")
    if unexpected := sorted(found.keys() - expected.keys()):
        problems.append(f"tables the relayer does not have {unexpected}")
    for table in sorted(expected.keys() & found.keys()):
        if lacking := sorted(expected[table] - found[table]):
            problems.append(f"{table} lacks columns {lacking}")
        if extra := sorted(found[table] - expected[table]):
            problems.append(f"{table} has unknown columns {extra}")
    if problems:
        raise SchemaUnknown(
            "the database has tables but no schema revision, and they are not the relayer's "
            f"baseline schema ({'; '.join(problems)}): refusing to touch it; point "
            "RELAYER_DATABASE_URL at the relayer's own database"
        )


def _migration_engine(url: str) -> Engine:
    """An engine for migrating. On SQLite, unlike the relayer's own engine: transactions begin
    with `BEGIN IMMEDIATE` (pysqlite would otherwise run DDL outside any transaction, and the
    write lock is taken at once, so concurrent upgrades queue on the busy timeout), and foreign
    keys are not enforced while tables are rebuilt; `_check_foreign_keys` checks them at the
    end instead."""
    if not is_sqlite(url):
        return create_engine(url)
    engine = create_engine(url, connect_args=SQLITE_CONNECT_ARGS)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # no implicit BEGIN/COMMIT: ours below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
        yield connection


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise SchemaError(f"the upgrade would break {len(broken)} foreign keys; rolled back")
