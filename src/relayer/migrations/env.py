"""Alembic's entry point for the relayer's migrations: runs them on the connection that
`relayer.migrate` opened (already in its transaction and holding the upgrade lock), so the whole
upgrade, the version stamp included, commits or rolls back as one. There is no offline (SQL
script) mode: the data migrations read the rows they move."""

from alembic import context

from relayer.db import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the relayer's migrations with `relayer db upgrade` (relayer.migrate)")

context.configure(
    connection=connection,
    # For comparing the models with a migrated database (autogenerate, the schema test); the
    # revisions themselves never read it.
    target_metadata=Base.metadata,
    # SQLite alters a table by copying it: revisions use op.batch_alter_table, which does that
    # on SQLite and plain ALTER TABLE on PostgreSQL.
    render_as_batch=True,
    compare_type=True,
    on_version_apply=config.attributes.get("on_version_apply"),
)
with context.begin_transaction():
    context.run_migrations()
