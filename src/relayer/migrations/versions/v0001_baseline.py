"""Baseline: the schema as the relayer created it at start-up before it had migrations.

A database made that way (tables present, no `alembic_version`) is recognised by
`relayer.migrate` by comparing its tables and columns with this revision's, stamped at this
revision and upgraded from here: never re-created. Equal to that schema exactly on SQLite and
PostgreSQL (tests/relayer/test_migrations.py compares the two), so constraint and index names
are the ones `create_all` gave them: the databases' defaults for unique constraints, primary and
foreign keys, and SQLAlchemy's `ix_<table>_<column>` for indexes.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ADDRESS = sa.String(42)
HASH = sa.String(66)
UINT = sa.String(78)  # uint256 as decimal text
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chain_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", HASH, nullable=False),
        sa.Column("block_time", TIMESTAMP, nullable=False),
        sa.Column("account", ADDRESS, nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=True),
        sa.Column("amount", UINT, nullable=True),
        sa.Column("extra", UINT, nullable=True),
        sa.Column("license_id", HASH, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("block_number", "log_index"),
    )
    for column in ("account", "block_number", "license_id", "name"):
        op.create_index(f"ix_chain_events_{column}", "chain_events", [column])

    op.create_table(
        "contributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member", ADDRESS, nullable=False),
        sa.Column("data_type", sa.String(32), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("quality_ppm", sa.Integer(), nullable=False),
        sa.Column("uniqueness_ppm", sa.Integer(), nullable=False),
        sa.Column("content_hash", HASH, nullable=False),
        sa.Column("signature", sa.String(132), nullable=True),
        sa.Column("recorded_block", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("content_hash"),
    )
    op.create_index("ix_contributions_member", "contributions", ["member"])

    op.create_table(
        "epochs",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("report_hash", HASH, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("total_shares", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=False),
        sa.Column("posted_at", TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("number"),
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("request_hash", HASH, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )

    op.create_table(
        "indexer_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "licenses",
        sa.Column("id", sa.String(31), nullable=False),
        sa.Column("license_hash", HASH, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("terms_hash", HASH, nullable=False),
        sa.Column("price", UINT, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("license_hash"),
    )

    op.create_table(
        "used_signatures",
        sa.Column("digest", HASH, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=True),
        sa.Column("batch", sa.Integer(), nullable=True),
        sa.Column("to", ADDRESS, nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sender", ADDRESS, nullable=True),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("gas", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", HASH, nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["epoch"], ["epochs.number"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender", "nonce"),
    )
    op.create_index("ix_outbox_epoch", "outbox", ["epoch"])
    op.create_index("ix_outbox_status", "outbox", ["status"])

    op.create_table(
        "tx_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("tx_hash", HASH, nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("max_fee_per_gas", sa.BigInteger(), nullable=False),
        sa.Column("max_priority_fee_per_gas", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tx_hash"),
    )
    op.create_index("ix_tx_attempts_outbox_id", "tx_attempts", ["outbox_id"])


def downgrade() -> None:
    # Dependants first: tx_attempts → outbox → epochs.
    for table in (
        "tx_attempts",
        "outbox",
        "used_signatures",
        "licenses",
        "indexer_cursor",
        "idempotency_keys",
        "epochs",
        "contributions",
        "chain_events",
    ):
        op.drop_table(table)
